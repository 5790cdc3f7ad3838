//! `manage startapp`: a new app's files in a project folder, through the
//! example site's binary, and those files built in a project of their own.

use std::path::{Path, PathBuf};
use std::process::Command;

use manouche_e2e::{example_site, run_manage, workspace_root};

/// A fresh project folder: `Cargo.toml` (depending on this workspace's
/// framework), `src/main.rs` with `main_rs`, and the workspace's
/// `Cargo.lock` and dev profile, so that a build reuses the dependencies
/// the example site was built with.
fn project(test: &str, main_rs: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("manouche-e2e-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let framework = workspace_root().join("framework");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "mysite"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
manouche = {{ path = {framework:?} }}
askama = "0.14"
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}

[profile.dev.package."*"]
debug = false

[workspace]
"#,
            framework = framework.display().to_string()
        ),
    )
    .unwrap();
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("src/main.rs"), main_rs).unwrap();
    dir
}

/// Every file and folder under `dir` (but `target/`), relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if rel == "target" || rel == "Cargo.lock" {
                continue;
            }
            if path.is_dir() {
                out.push(format!("{rel}/"));
                walk(&path, root, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

const MAIN_RS: &str = "fn main() {}\n";

#[test]
fn startapp_writes_an_app_and_never_overwrites_or_writes_half() {
    let dir = project("startapp", MAIN_RS);
    let dir_arg = dir.to_str().unwrap();
    let (code, out) = run_manage(&["startapp", "shop", "--directory", dir_arg], &[]);
    assert_eq!(code, 0, "{out}");
    let app_files = [
        "migrations/shop/.gitkeep",
        "src/shop.rs",
        "src/shop/models.rs",
        "src/shop/views.rs",
        "templates/shop/index.html",
    ];
    for file in app_files {
        assert!(dir.join(file).is_file(), "{file}: {out}");
        assert!(out.contains(&format!("  {file}\n")), "{file} listed: {out}");
    }
    for next in [
        "mod shop;",
        ".app(shop::app())",
        "manage makemigrations shop",
    ] {
        assert!(out.contains(next), "{next}: {out}");
    }
    assert!(
        !out.contains("cargo add askama"),
        "it depends on askama: {out}"
    );
    let views = std::fs::read_to_string(dir.join("src/shop/views.rs")).unwrap();
    assert!(
        views.contains("#[template(path = \"shop/index.html\")]"),
        "{views}"
    );

    // A second time, and with one file edited: refused, nothing touched.
    std::fs::write(dir.join("src/shop/views.rs"), "// mine\n").unwrap();
    let before = tree(&dir);
    let (code, out) = run_manage(&["startapp", "shop", "--directory", dir_arg], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error: "), "{out}");
    assert!(out.contains("src/shop/views.rs"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert_eq!(tree(&dir), before);
    assert_eq!(
        std::fs::read_to_string(dir.join("src/shop/views.rs")).unwrap(),
        "// mine\n"
    );

    // One existing file among the new app's: nothing else is written.
    std::fs::create_dir_all(dir.join("templates/blog")).unwrap();
    std::fs::write(dir.join("templates/blog/index.html"), "mine").unwrap();
    let before = tree(&dir);
    let (code, out) = run_manage(&["startapp", "blog", "--directory", dir_arg], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("templates/blog/index.html"), "{out}");
    assert_eq!(tree(&dir), before, "{out}");

    // Names that cannot be an app's module.
    for (name, reason) in [
        ("Shop", "`shop` would do"),
        ("my-app", "`my_app` would do"),
        ("fn", "Rust keyword"),
        ("std", "crate's name"),
        ("manouche", "crate's name"),
        ("tokio", "crate's name"),
        ("lib", "Cargo"),
    ] {
        let (code, out) = run_manage(&["startapp", name, "--directory", dir_arg], &[]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains("cannot be an app's name"), "{name}: {out}");
        assert!(out.contains(reason), "{name}: {out}");
        assert_eq!(tree(&dir), before, "{name}: {out}");
    }

    // Not a project's root; usage mistakes.
    let (code, out) = run_manage(
        &[
            "startapp",
            "shop",
            "--directory",
            dir.join("src").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no Cargo.toml"), "{out}");
    let (code, out) = run_manage(&["startapp"], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("<NAME>"), "{out}");
    let (code, out) = run_manage(&["startapp", "a", "b"], &[]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(tree(&dir), before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `cargo build` in `dir`, into the workspace's target folder (the
/// example site's dependencies are built there already); returns the
/// output, after asserting success.
fn cargo_build(dir: &Path) -> String {
    let target = example_site()
        .parent()
        .and_then(Path::parent)
        .expect("the binary is in <target>/debug/");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "cargo build failed:\n{text}");
    text
}

/// The generated app, added to a project as the printed instructions say,
/// builds without warnings and mounts its page; its example model, once
/// uncommented, builds too and `makemigrations` sees it.
#[test]
fn a_new_app_builds_in_a_project() {
    let dir = project(
        "startapp-build",
        "mod shop;\n\n\
         use manouche::prelude::*;\n\n\
         #[tokio::main]\n\
         async fn main() -> manouche::Result<()> {\n\
         \x20   Project::new(Settings::default())\n\
         \x20       .app(shop::app())\n\
         \x20       .manage()\n\
         \x20       .await\n\
         }\n",
    );
    let (code, out) = run_manage(
        &["startapp", "shop", "--directory", dir.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let warnings = cargo_build(&dir);
    assert!(!warnings.contains("warning"), "{warnings}");
    let target = example_site().parent().unwrap();
    let mysite = target.join(format!("mysite{}", std::env::consts::EXE_SUFFIX));
    let run = |args: &[&str]| {
        let out = Command::new(&mysite)
            .args(args)
            .current_dir(&dir)
            .env_remove("DATABASE_URL")
            .env_remove("MANOUCHE_MIGRATIONS_DIR")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "mysite {args:?}:\n{text}");
        text
    };
    let routes = run(&["routes"]);
    assert!(routes.contains("/shop/"), "{routes}");

    // Uncomment the example model.
    let models = dir.join("src/shop/models.rs");
    let text = std::fs::read_to_string(&models).unwrap();
    let (intro, example) = text
        .split_once("// An example to start from:\n")
        .expect("the example's heading");
    let example: String = example
        .lines()
        .map(|l| l.strip_prefix("// ").unwrap_or(l.trim_start_matches("//")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&models, format!("{intro}{example}")).unwrap();
    cargo_build(&dir);
    let plan = run(&["makemigrations", "shop", "--dry-run"]);
    assert!(plan.contains("Create model Entry"), "{plan}");
    let _ = std::fs::remove_dir_all(&dir);
}
