//! The `manage` command line of a real project binary.

use manouche_e2e::run_manage;

#[test]
fn routes_lists_every_route_with_its_name() {
    let (code, out) = run_manage(&["routes"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("/blog/articles/<int:id>/"), "{out}");
    assert!(out.contains("blog:article-detail"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("/ ") && l.ends_with("home")),
        "{out}"
    );
}

#[test]
fn check_deploy_fails_on_insecure_settings_and_passes_on_safe_ones() {
    let (code, out) = run_manage(
        &["check", "--deploy"],
        &[("MANOUCHE_SECRET_KEY", ""), ("MANOUCHE_DEBUG", "true")],
    );
    // An empty key is not even a valid setting.
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("secret_key"), "{out}");

    let (code, out) = run_manage(
        &["check", "--deploy"],
        &[
            ("MANOUCHE_SECRET_KEY", "short"),
            ("MANOUCHE_ALLOWED_HOSTS", ""),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ERROR (security.E001)"), "{out}");
    assert!(out.contains("ERROR (security.E003)"), "{out}");

    let (code, out) = run_manage(&["check", "--deploy"], &[("MANOUCHE_DEBUG", "true")]);
    assert_eq!(code, 0, "warnings alone pass: {out}");
    assert!(out.contains("WARNING (security.W002)"), "{out}");
    let (code, _) = run_manage(
        &["check", "--deploy", "--fail-level", "warning"],
        &[("MANOUCHE_DEBUG", "true")],
    );
    assert_eq!(code, 1);

    let (code, out) = run_manage(&["check"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no issues"), "{out}");
}

#[test]
fn serve_refuses_to_start_with_deploy_errors() {
    let (code, out) = run_manage(
        &["serve", "--bind", "127.0.0.1:1"],
        &[("MANOUCHE_SECRET_KEY", "short")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refusing to serve"), "{out}");
}

#[test]
fn bad_settings_and_arguments_are_reported() {
    let (code, out) = run_manage(&["check"], &[("MANOUCHE_DEBUG", "perhaps")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("MANOUCHE_DEBUG=\"perhaps\" is invalid"),
        "{out}"
    );
    let (code, out) = run_manage(&["frobnicate"], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("Usage"), "{out}");
    let (code, out) = run_manage(&["serve", "--bind", "nowhere"], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("HOST:PORT"), "{out}");
    let (code, out) = run_manage(
        &["check"],
        &[("MANOUCHE_SETTINGS", "/nonexistent/settings.toml")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("/nonexistent/settings.toml"), "{out}");
}

#[test]
fn migrate_applies_reports_and_rejects_unknown_targets() {
    let path = std::env::temp_dir().join(format!(
        "manouche-e2e-migrate-{}.sqlite3",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let env = [("DATABASE_URL", url.as_str())];

    let (code, out) = run_manage(&["showmigrations"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[ ] 0001_initial"), "{out}");
    let (code, out) = run_manage(&["migrate"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Applying blog.0001_initial... OK"), "{out}");
    // The blog's data migration, a registered Rust function.
    assert!(
        out.contains("Applying blog.0002_starter_tags... OK"),
        "{out}"
    );
    let (code, out) = run_manage(&["showmigrations", "blog"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[X] 0001_initial"), "{out}");
    assert!(out.contains("[X] 0002_starter_tags"), "{out}");
    assert!(out.contains("[X] 0003_welcome_article"), "{out}");
    let (code, out) = run_manage(&["sqlmigrate", "blog", "0002"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("-- Rust function blog.add_starter_tags (not SQL)"),
        "{out}"
    );
    let (code, out) = run_manage(&["makemigrations", "--check"], &env);
    assert_eq!(code, 0, "the shipped migrations match the models: {out}");

    let (code, out) = run_manage(&["migrate", "blog", "0042_nope"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("0042_nope"), "{out}");
    let (code, out) = run_manage(&["sqlmigrate", "blog", "0001_initial", "--backwards"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("DROP TABLE"), "{out}");
    let (code, out) = run_manage(&["migrate", "blog", "zero"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Unapplying blog.0003_welcome_article... OK"),
        "{out}"
    );
    assert!(
        out.contains("Unapplying blog.0002_starter_tags... OK"),
        "{out}"
    );
    assert!(out.contains("Unapplying blog.0001_initial"), "{out}");
    let _ = std::fs::remove_file(&path);
}

/// A `run_rust` operation naming a function the app does not register is
/// refused by `migrate --plan` and `migrate` before anything runs.
#[test]
fn migrate_refuses_an_unregistered_rust_function_before_running_anything() {
    let dir = std::env::temp_dir().join(format!("manouche-e2e-run-rust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let blog = dir.join("migrations/blog");
    std::fs::create_dir_all(&blog).unwrap();
    let shipped = manouche_e2e::workspace_root().join("migrations/blog/0001_initial.json");
    std::fs::copy(shipped, blog.join("0001_initial.json")).unwrap();
    std::fs::write(
        blog.join("0002_typo.json"),
        r#"{"app": "blog", "name": "0002_typo", "dependencies": [["blog", "0001_initial"]],
            "operations": [{"op": "run_rust", "function": "add_starter_tag"}]}"#,
    )
    .unwrap();
    let url = format!("sqlite://{}/db.sqlite3?mode=rwc", dir.display());
    let migrations = dir.join("migrations");
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("MANOUCHE_MIGRATIONS_DIR", migrations.to_str().unwrap()),
    ];
    for args in [&["migrate", "--plan"][..], &["migrate"]] {
        let (code, out) = run_manage(args, &env);
        assert_eq!(code, 1, "{out}");
        for part in [
            "blog.0002_typo",
            "\"add_starter_tag\"",
            "app \"blog\"",
            "add_starter_tags, add_welcome_article, remove_starter_tags, remove_welcome_article",
        ] {
            assert!(out.contains(part), "{part} in {out}");
        }
    }
    let (code, out) = run_manage(&["showmigrations", "blog"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[ ] 0001_initial"), "nothing applied: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A deployed binary has no source tree: the migrations compiled into it
/// are applied.
#[test]
fn a_binary_away_from_its_source_tree_migrates_from_its_embedded_files() {
    let dir = std::env::temp_dir().join(format!("manouche-e2e-deployed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = manouche_e2e::workspace_root().join("settings.toml");
    let out = std::process::Command::new(manouche_e2e::example_site())
        .arg("migrate")
        .current_dir(&dir)
        .env("MANOUCHE_SETTINGS", &settings)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/site.sqlite3?mode=rwc", dir.display()),
        )
        .env_remove("MANOUCHE_MIGRATIONS_DIR")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(!dir.join("migrations").exists());
    assert!(text.contains("Applying blog.0001_initial... OK"), "{text}");
    assert!(
        text.contains("Applying blog.0002_starter_tags... OK"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Outside a terminal (stdin is not one here) `makemigrations` cannot ask:
/// a possible rename or a missing value is an error naming the flags that
/// answer it, and nothing is written; with the flags it writes the file.
#[test]
fn makemigrations_without_a_terminal_names_the_flags_and_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("manouche-e2e-questions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let blog = dir.join("migrations/blog");
    std::fs::create_dir_all(&blog).unwrap();
    // The shipped migrations (they match the models), then one of ours.
    let shipped = manouche_e2e::workspace_root().join("migrations/blog");
    let mut leaf = String::new();
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, blog.join(path.file_name().unwrap())).unwrap();
        leaf = leaf.max(path.file_stem().unwrap().to_str().unwrap().to_owned());
    }
    let number: u32 = leaf[..4].parse().unwrap();
    let ours = format!("{:04}_tag_label", number + 1);
    let written = |name: &str| format!("{:04}_{name}.json", number + 2);
    let migrations = dir.join("migrations");
    let env = [("MANOUCHE_MIGRATIONS_DIR", migrations.to_str().unwrap())];
    let files = || std::fs::read_dir(&blog).unwrap().count();

    // The migrations say Tag.name was renamed to label; the model says name.
    let migration = |operation: &str| {
        format!(
            r#"{{"app": "blog", "name": "{ours}", "dependencies": [["blog", "{leaf}"]],
                "operations": [{operation}]}}"#
        )
    };
    std::fs::write(
        blog.join(format!("{ours}.json")),
        migration(r#"{"op": "rename_field", "model": "Tag", "old": "name", "new": "label"}"#),
    )
    .unwrap();
    let before = files();
    for args in [
        &["makemigrations"][..],
        &["makemigrations", "--noinput"],
        &["makemigrations", "--no-input", "blog"],
    ] {
        let (code, out) = run_manage(args, &env);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(out.contains("--rename blog.Tag.label=name"), "{out}");
        assert!(out.contains("--no-rename-check"), "{out}");
        assert!(!out.contains("[y/N]"), "no question: {out}");
        assert_eq!(files(), before, "nothing written: {out}");
    }
    let (code, out) = run_manage(&["makemigrations", "--rename", "blog.Tag.label=name"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Rename field label on Tag to name"), "{out}");
    assert_eq!(files(), before + 1);
    std::fs::remove_file(blog.join(written("rename_tag_name"))).unwrap();

    // The migrations have no Article.body; the model has it, non-null.
    std::fs::write(
        blog.join(format!("{ours}.json")),
        migration(r#"{"op": "remove_field", "model": "Article", "column": "body"}"#),
    )
    .unwrap();
    let (code, out) = run_manage(&["makemigrations"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--default blog.Article.body=VALUE"), "{out}");
    assert!(!out.contains("Select an option"), "no question: {out}");
    assert_eq!(files(), before, "nothing written: {out}");
    let (code, out) = run_manage(&["makemigrations", "--default", "blog.Article.body="], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Add field body to Article"), "{out}");
    assert_eq!(files(), before + 1);
    assert!(blog.join(written("article_body")).exists(), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
