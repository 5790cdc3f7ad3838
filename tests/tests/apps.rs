//! A reusable app installed with one line, against the real binary: the
//! `pollsite` project (tests/apps/pollsite) installs the `polls` library
//! app (tests/apps/polls), which brings models with embedded migrations,
//! URLs, templates, a static file, a middleware, a command, a check and a
//! settings section. Each test runs in a copy of the project folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use manouche_e2e::{Server, free_port, pollsite, run_binary, workspace_root};

fn source() -> PathBuf {
    workspace_root().join("tests/apps/pollsite")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

/// A fresh copy of the project's run-time files (settings, migrations,
/// static files) in the temporary folder.
fn project_copy() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "manouche-pollsite-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp folder");
    std::fs::copy(source().join("settings.toml"), dir.join("settings.toml")).expect("settings");
    copy_dir(&source().join("migrations"), &dir.join("migrations"));
    copy_dir(&source().join("static"), &dir.join("static"));
    dir
}

/// Runs the binary in `dir`; (exit code, stdout + stderr).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut all = vec![("MANOUCHE_LOG", "warn")];
    all.extend(env.iter().copied());
    run_binary(pollsite(), dir, args, &all)
}

/// Every file under `dir` with its contents, for before/after comparisons.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn migrate_creates_the_library_tables_although_the_project_has_its_own_folder() {
    let dir = project_copy();
    assert!(
        dir.join("migrations/pages").is_dir(),
        "the project's own folder"
    );
    let (code, out) = run(&dir, &["migrate"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Applying polls.0001_initial... OK"), "{out}");
    assert!(out.contains("Applying pages.0001_initial... OK"), "{out}");
    // The sample poll migration depends on both apps and ran after them.
    let polls = out.find("polls.0001_initial").expect("polls");
    let sample = out.find("pages.0002_sample_poll").expect("sample");
    assert!(polls < sample, "{out}");
    let (code, out) = run(&dir, &["showmigrations"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[X] 0001_initial"), "{out}");
    let (code, out) = run(&dir, &["pollstats"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 question(s), 2 choice(s), 3 vote(s)"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn makemigrations_on_the_project_writes_nothing_into_the_app() {
    let dir = project_copy();
    let library = workspace_root().join("tests/apps/polls");
    let before = snapshot(&library);
    let (code, out) = run(&dir, &["makemigrations"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes detected"), "{out}");
    assert!(
        !dir.join("migrations/polls").exists(),
        "nothing for the library in the project"
    );
    let (code, out) = run(&dir, &["makemigrations", "polls"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("library app"), "{out}");
    let (code, out) = run(&dir, &["makemigrations", "--check"], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        before,
        snapshot(&library),
        "the library's files are untouched"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn help_lists_the_apps_commands_by_app() {
    let dir = project_copy();
    let (code, out) = run(&dir, &["help"], &[]);
    assert_eq!(code, 0, "{out}");
    let polls = out.find("[polls]").expect("a [polls] group");
    let stats = out.find("pollstats").expect("pollstats listed");
    assert!(stats > polls, "{out}");
    assert!(out.contains("[staticfiles]"), "{out}");
    assert!(out.contains("collectstatic"), "{out}");
    assert!(
        out.contains("[manouche]") && out.contains("migrate"),
        "{out}"
    );
    let (code, out) = run(&dir, &["help", "pollstats"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Count the questions"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_typo_in_the_apps_settings_section_stops_startup_naming_the_key() {
    let dir = project_copy();
    std::fs::write(
        dir.join("settings.toml"),
        "debug = true\n[polls]\ntitel = \"Community polls\"\n",
    )
    .expect("settings");
    for args in [&["check"][..], &["runserver", "127.0.0.1:1"][..]] {
        let (code, out) = run(&dir, args, &[]);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(out.contains("titel"), "{out}");
        assert!(out.contains("[polls]"), "{out}");
        assert!(out.contains("settings.toml"), "{out}");
    }
    // A value the app's validation refuses, from the environment.
    std::fs::write(dir.join("settings.toml"), "debug = true\n").expect("settings");
    let (code, out) = run(&dir, &["check"], &[("MANOUCHE_POLLS_PER_PAGE", "0")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("per_page = 0 is out of range"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_apps_pages_render_with_the_projects_reskin_and_replaced_template() {
    let dir = project_copy();
    let (code, out) = run(&dir, &["migrate"], &[]);
    assert_eq!(code, 0, "{out}");
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let server = Server::spawn_binary(
        pollsite(),
        &dir,
        &["runserver", &bind],
        &[("MANOUCHE_LOG", "warn".to_owned())],
        bind.parse().expect("address"),
    );
    server.wait_until_listening();
    let get = |path: &str, headers: &[(&str, &str)]| fetch(&server.url(path), headers);
    let (status, headers, body) = get("/polls/", &[("x-visitor", "ana")]);
    assert_eq!(status, 200, "{body}\n{}", server.output());
    // The project's re-skin through [polls] in settings.toml.
    assert!(body.contains("<title>Community polls</title>"), "{body}");
    assert!(body.contains("href=\"/static/site/polls.css\""), "{body}");
    assert!(body.contains("href=\"/static/polls/style.css\""), "{body}");
    // The app's middleware attached the visitor for the view.
    assert!(body.contains("Hello, ana."), "{body}");
    assert!(
        headers.iter().any(|(k, v)| k == "x-polls" && v == "1"),
        "{headers:?}"
    );
    assert!(body.contains("Tea or coffee?"), "{body}");
    // The project replaced the detail page with its own template.
    let (status, _, body) = get("/polls/1/", &[]);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("class=\"pollsite-question\">Tea or coffee?"),
        "{body}"
    );
    assert!(body.contains("Coffee (2)"), "{body}");
    // The app's static file and the project's one.
    let (status, _, body) = get("/static/polls/style.css", &[]);
    assert_eq!(status, 200);
    assert!(body.contains("body.polls"), "{body}");
    let (status, _, _) = get("/static/site/polls.css", &[]);
    assert_eq!(status, 200);
    // The project's own app reverses the library's URL.
    let (status, _, body) = get("/", &[]);
    assert_eq!(status, 200);
    assert_eq!(body, "0 page(s); polls at /polls/");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// A GET with reqwest on a small runtime; (status, headers, body).
fn fetch(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut builder = reqwest::Client::new().get(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = builder.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = response.text().await.expect("body");
        (status, headers, body)
    })
}
