//! `manage startapp NAME [--directory DIR]`: the files of a new app
//! (Django's `startapp`), in the project whose root (`Cargo.toml`, `src/`)
//! is `DIR`, the current folder by default:
//!
//! ```text
//! src/NAME.rs                the app: `app()` with its label and URLs
//! src/NAME/models.rs         its models (an example, commented out)
//! src/NAME/views.rs          an index view returning a template, `urls()`
//! templates/NAME/index.html  that template
//! migrations/NAME/.gitkeep   the folder `makemigrations NAME` writes to
//! ```
//!
//! The templates folder is the first of askama's `[general] dirs` when the
//! project has an `askama.toml`; the migrations folder is
//! [`migrations_dir`] under `DIR`.
//!
//! A name that cannot be the app's module (not a lowercase identifier, a
//! Rust keyword, a crate the project uses) or a file that already exists is
//! an error, and then nothing is written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::migrations::migrations_dir;

/// Create a new app: its module, models, views, template and migrations folder.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The app's name: its module, label, URL prefix and table prefix
    /// (lowercase letters, digits and `_`, e.g. `blog`).
    name: String,
    /// The project's root folder (where `Cargo.toml` and `src/` are).
    #[arg(long, value_name = "DIR", default_value = ".")]
    directory: PathBuf,
}

pub(crate) fn run(args: Args) -> Result<super::ExitCode, crate::StartupError> {
    let created = start_app(&args.directory, &args.name)?;
    print!("{}", created.report(&args.name));
    Ok(0)
}

/// Why `startapp` wrote nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum StartAppError {
    /// The name cannot be an app's module and label.
    #[error("{name:?} cannot be an app's name: {reason}")]
    InvalidName { name: String, reason: String },
    /// The folder is not a Cargo project's root.
    #[error(
        "{} is not a project's root folder (no Cargo.toml and src/ there); run `startapp` \
         there or pass `--directory DIR`",
        .0.display()
    )]
    NotAProject(PathBuf),
    /// The project's `Cargo.toml` or `askama.toml` cannot be read.
    #[error("cannot read {}: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
    /// Some of the app's files exist already.
    #[error(
        "the app's files would replace existing ones: {}; nothing was written",
        list(.0)
    )]
    Exists(Vec<PathBuf>),
    /// Writing failed (what was written before is removed again).
    #[error("cannot write {}: {source}; nothing was left behind", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<StartAppError> for crate::StartupError {
    fn from(err: StartAppError) -> Self {
        Self::improperly_configured(err.to_string())
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Strict and reserved keywords of Rust 2024 (`r#` names make poor modules).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Crates every project can name: `mod std;` would shadow them.
const CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "manouche",
    "manouche_macros",
    "askama",
];

/// Names Cargo gives a meaning to under `src/`: `src/main.rs`,
/// `src/lib.rs`, and `src/bin/` (whose files become binaries).
const CARGO_NAMES: &[&str] = &["main", "lib", "bin", "build"];

/// Checks that `name` can be the app's module, label and table prefix, and
/// names no crate in `crates` (the project's dependencies).
fn validate_name(name: &str, crates: &[String]) -> Result<(), StartAppError> {
    let invalid = |reason: String| StartAppError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    let lowercase_identifier = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !lowercase_identifier {
        let mut reason = "use lowercase ASCII letters, digits and `_`, starting with a letter \
                          (`blog`, `shop_orders`): it is the app's module, label and table prefix"
            .to_owned();
        let lower = name.to_ascii_lowercase().replace('-', "_");
        if lower != name && validate_name(&lower, crates).is_ok() {
            let _ = write!(reason, "; `{lower}` would do");
        }
        return Err(invalid(reason));
    }
    // Tables are `<app>_<model>`, and identifiers stop at 63 characters.
    if name.len() > 40 {
        return Err(invalid(
            "at most 40 characters, so that `<app>_<model>` table names fit in 63".to_owned(),
        ));
    }
    if KEYWORDS.contains(&name) {
        return Err(invalid(format!("`{name}` is a Rust keyword")));
    }
    if CRATES.contains(&name) || crates.iter().any(|c| c == name) {
        return Err(invalid(format!(
            "`{name}` is a crate's name, which `mod {name};` would make ambiguous"
        )));
    }
    if CARGO_NAMES.contains(&name) {
        return Err(invalid(format!(
            "Cargo gives `src/{name}` a meaning of its own"
        )));
    }
    Ok(())
}

/// What the project's `Cargo.toml` says: the crate names its code can use
/// (its own and its dependencies', `-` read as `_`), and whether it depends
/// on askama.
struct Manifest {
    crates: Vec<String>,
    has_askama: bool,
}

fn read_toml(path: &Path) -> Result<toml::Table, StartAppError> {
    let manifest_error = |reason: String| StartAppError::Manifest {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| manifest_error(e.to_string()))?;
    text.parse::<toml::Table>()
        .map_err(|e| manifest_error(e.message().to_owned()))
}

fn read_manifest(root: &Path) -> Result<Manifest, StartAppError> {
    let manifest = read_toml(&root.join("Cargo.toml"))?;
    let crate_name = |name: &str| name.replace('-', "_");
    let mut crates = Vec::new();
    if let Some(name) = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
    {
        crates.push(crate_name(name));
    }
    let mut tables: Vec<&toml::Value> = Vec::new();
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        tables.extend(manifest.get(key));
        if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
            tables.extend(targets.values().filter_map(|t| t.get(key)));
        }
    }
    for table in tables.iter().filter_map(|t| t.as_table()) {
        crates.extend(table.keys().map(|k| crate_name(k)));
    }
    let has_askama = manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .is_some_and(|deps| deps.contains_key("askama"));
    Ok(Manifest { crates, has_askama })
}

/// askama's templates folder: the first of `[general] dirs` in the
/// project's `askama.toml`, else `templates`.
fn templates_dir(root: &Path) -> Result<PathBuf, StartAppError> {
    let config = root.join("askama.toml");
    if !config.exists() {
        return Ok(PathBuf::from("templates"));
    }
    let table = read_toml(&config)?;
    let first = table
        .get("general")
        .and_then(|g| g.get("dirs"))
        .and_then(toml::Value::as_array)
        .and_then(|dirs| dirs.first())
        .and_then(toml::Value::as_str);
    Ok(PathBuf::from(first.unwrap_or("templates")))
}

/// The app's files, relative to the project's root, with their contents.
fn files(name: &str, templates: &Path, migrations: &Path) -> Vec<(PathBuf, String)> {
    let fill = |template: &str| template.replace("{{name}}", name);
    vec![
        (Path::new("src").join(format!("{name}.rs")), fill(APP_RS)),
        (
            Path::new("src").join(name).join("models.rs"),
            fill(MODELS_RS),
        ),
        (Path::new("src").join(name).join("views.rs"), fill(VIEWS_RS)),
        (templates.join(name).join("index.html"), fill(INDEX_HTML)),
        (migrations.join(name).join(".gitkeep"), String::new()),
    ]
}

/// What `startapp` did.
#[derive(Debug)]
struct Created {
    /// The files written, relative to the project's root.
    files: Vec<PathBuf>,
    /// The project does not depend on askama yet.
    needs_askama: bool,
}

/// Writes the app `name` into the project at `root`: every check first,
/// then the files. On an error nothing is left written.
fn start_app(root: &Path, name: &str) -> Result<Created, StartAppError> {
    if !root.join("Cargo.toml").is_file() || !root.join("src").is_dir() {
        return Err(StartAppError::NotAProject(root.to_owned()));
    }
    let manifest = read_manifest(root)?;
    validate_name(name, &manifest.crates)?;
    let files = files(name, &templates_dir(root)?, &migrations_dir());
    let existing: Vec<PathBuf> = files
        .iter()
        .map(|(path, _)| path)
        .filter(|path| root.join(path).symlink_metadata().is_ok())
        .cloned()
        .collect();
    if !existing.is_empty() {
        return Err(StartAppError::Exists(existing));
    }
    let mut written = Written::default();
    for (path, contents) in &files {
        if let Err(source) = written.write(&root.join(path), contents) {
            written.undo();
            return Err(StartAppError::Io {
                path: path.clone(),
                source,
            });
        }
    }
    Ok(Created {
        files: files.into_iter().map(|(path, _)| path).collect(),
        needs_askama: !manifest.has_askama,
    })
}

/// The files and folders written so far, to remove them again if a later
/// write fails.
#[derive(Default)]
struct Written {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Written {
    fn write(&mut self, path: &Path, contents: &str) -> std::io::Result<()> {
        use std::io::Write as _;

        if let Some(parent) = path.parent() {
            let missing: Vec<&Path> = parent.ancestors().take_while(|d| !d.exists()).collect();
            std::fs::create_dir_all(parent)?;
            self.dirs
                .extend(missing.into_iter().rev().map(Path::to_owned));
        }
        // `create_new`: never replace a file, even one made since the check.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        self.files.push(path.to_owned());
        file.write_all(contents.as_bytes())
    }

    fn undo(self) {
        for file in self.files.iter().rev() {
            let _ = std::fs::remove_file(file);
        }
        // Deepest first; a folder that is not empty stays.
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Created {
    /// What was made and what to do next.
    fn report(&self, name: &str) -> String {
        let mut out = format!("Created the app `{name}`:\n");
        for path in &self.files {
            let _ = writeln!(out, "  {}", path.display());
        }
        let _ = write!(
            out,
            "
Next:
  1. Add the app to the project: in src/main.rs,
         mod {name};
     and on the project,
         .app({name}::app())
     Its pages are then under /{name}/.
  2. Write its models in src/{name}/models.rs, then run
         manage makemigrations {name}
         manage migrate
"
        );
        if self.needs_askama {
            out.push_str(
                "
The views use askama templates, and the project does not depend on askama:
    cargo add askama@0.14
",
            );
        }
        out
    }
}

const APP_RS: &str = r#"//! The `{{name}}` app: its models, views and URLs.

pub(crate) mod models;
mod views;

use manouche::prelude::*;

/// The app, added to the project with `.app({{name}}::app())`: its pages
/// are under `{{name}}/`.
pub(crate) fn app() -> App {
    App::new("{{name}}").urls("{{name}}/", views::urls())
}
"#;

const MODELS_RS: &str = r#"//! The `{{name}}` app's models. After adding or changing one, run
//! `manage makemigrations {{name}}`, then `manage migrate`.
//!
//! The field types and options are described in `manouche::db`.

// An example to start from:
//
// use manouche::db::{Auto, DateTime, Model};
//
// /// An entry of the app.
// #[derive(Debug, Clone, Model)]
// #[model(app = "{{name}}", ordering = "-created")]
// pub(crate) struct Entry {
//     pub(crate) id: Auto<i64>,
//     #[model(max_length = 200)]
//     pub(crate) title: String,
//     #[model(default = false)]
//     pub(crate) published: bool,
//     #[model(auto_now_add)]
//     pub(crate) created: DateTime,
// }
"#;

const VIEWS_RS: &str = r#"//! The `{{name}}` app's views and URLs.

use manouche::prelude::*;

/// The app's front page.
#[derive(Template, TemplateResponse)]
#[template(path = "{{name}}/index.html")]
struct Index {
    app: &'static str,
}

async fn index() -> Result<Index> {
    Ok(Index { app: "{{name}}" })
}

/// The app's URLs, mounted under `{{name}}/` by `app()`.
pub(crate) fn urls() -> Urls {
    Urls::new().path("", get(index), "index")
}
"#;

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ app }}</title>
</head>
<body>
  <h1>{{ app }}</h1>
  <p>This page is <code>templates/{{name}}/index.html</code>, rendered by the
    <code>index</code> view in <code>src/{{name}}/views.rs</code>.</p>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty folder under the system's temporary one.
    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("manouche-startapp-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary folder");
        dir
    }

    /// A project folder: a `Cargo.toml` with these dependencies, `src/`.
    fn project(test: &str, dependencies: &str) -> PathBuf {
        let dir = scratch(test);
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[package]\nname = \"my-site\"\n\n[dependencies]\n{dependencies}"),
        )
        .expect("Cargo.toml");
        std::fs::create_dir(dir.join("src")).expect("src");
        std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").expect("main.rs");
        dir
    }

    /// Every file under `dir`, relative to it, sorted.
    fn tree(dir: &Path) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("readable").flatten() {
                let path = entry.path();
                let rel = path
                    .strip_prefix(root)
                    .expect("inside")
                    .display()
                    .to_string();
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

    fn reason(name: &str, crates: &[&str]) -> String {
        let crates: Vec<String> = crates.iter().map(|&c| c.to_owned()).collect();
        match validate_name(name, &crates) {
            Err(StartAppError::InvalidName { reason, .. }) => reason,
            other => panic!("{name:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn app_names_are_lowercase_identifiers_that_shadow_nothing() {
        for name in ["blog", "shop_orders", "v2", "a", "union", "raw"] {
            assert!(validate_name(name, &[]).is_ok(), "{name}");
        }
        for name in [
            "", "2fa", "_blog", "my-blog", "blog.rs", "../x", "héllo", "a b",
        ] {
            assert!(
                reason(name, &[]).contains("lowercase ASCII letters"),
                "{name}"
            );
        }
        assert!(reason("Blog", &[]).contains("`blog` would do"));
        assert!(reason("my-blog", &[]).contains("`my_blog` would do"));
        assert!(
            !reason("Self", &[]).contains("would do"),
            "`self` is a keyword"
        );
        for name in ["mod", "type", "async", "gen", "try", "self", "crate"] {
            assert!(reason(name, &[]).contains("Rust keyword"), "{name}");
        }
        for name in ["std", "core", "alloc", "test", "manouche", "askama"] {
            assert!(reason(name, &[]).contains("crate's name"), "{name}");
        }
        assert!(reason("serde", &["serde", "tokio"]).contains("crate's name"));
        for name in ["main", "lib", "bin"] {
            assert!(reason(name, &[]).contains("Cargo"), "{name}");
        }
        assert!(reason(&"a".repeat(41), &[]).contains("at most 40"));
    }

    #[test]
    fn the_projects_own_crates_are_read_from_its_manifest() {
        let dir = project(
            "manifest",
            "serde = \"1\"\nmy-utils = { path = \"../utils\" }\n\n\
             [target.'cfg(unix)'.dependencies]\nnix = \"0.29\"\n\n\
             [dev-dependencies]\nreqwest = \"0.12\"\n",
        );
        let manifest = read_manifest(&dir).expect("readable");
        for name in ["my_site", "serde", "my_utils", "nix", "reqwest"] {
            assert!(manifest.crates.iter().any(|c| c == name), "{name}");
        }
        assert!(!manifest.has_askama);
        let err = start_app(&dir, "my_utils").expect_err("a dependency's name");
        assert!(err.to_string().contains("crate's name"), "{err}");
        assert_eq!(tree(&dir), ["Cargo.toml", "src/", "src/main.rs"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn startapp_writes_the_apps_files() {
        let dir = project("writes", "askama = \"0.14\"\n");
        let created = start_app(&dir, "shop").expect("written");
        assert_eq!(
            tree(&dir),
            [
                "Cargo.toml",
                "migrations/",
                "migrations/shop/",
                "migrations/shop/.gitkeep",
                "src/",
                "src/main.rs",
                "src/shop.rs",
                "src/shop/",
                "src/shop/models.rs",
                "src/shop/views.rs",
                "templates/",
                "templates/shop/",
                "templates/shop/index.html",
            ]
        );
        let read = |path: &str| std::fs::read_to_string(dir.join(path)).expect(path);
        let app = read("src/shop.rs");
        assert!(
            app.contains("pub(crate) mod models;\nmod views;\n"),
            "{app}"
        );
        assert!(
            app.contains("App::new(\"shop\").urls(\"shop/\", views::urls())"),
            "{app}"
        );
        assert!(read("src/shop/models.rs").contains("#[model(app = \"shop\""));
        let views = read("src/shop/views.rs");
        assert!(
            views.contains("#[derive(Template, TemplateResponse)]"),
            "{views}"
        );
        assert!(
            views.contains("#[template(path = \"shop/index.html\")]"),
            "{views}"
        );
        assert!(read("templates/shop/index.html").contains("<h1>{{ app }}</h1>"));
        assert!(!read("src/shop/views.rs").contains("{{name}}"));

        assert!(!created.needs_askama);
        let text = created.report("shop");
        assert!(text.contains("  src/shop/views.rs\n"), "{text}");
        assert!(text.contains("mod shop;"), "{text}");
        assert!(text.contains(".app(shop::app())"), "{text}");
        assert!(text.contains("manage makemigrations shop"), "{text}");
        assert!(!text.contains("cargo add askama"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nothing_is_written_when_one_file_exists() {
        let dir = project("exists", "");
        std::fs::create_dir_all(dir.join("templates/shop")).expect("folder");
        std::fs::write(dir.join("templates/shop/index.html"), "mine").expect("file");
        let before = tree(&dir);
        let err = start_app(&dir, "shop").expect_err("a file exists");
        assert!(
            matches!(&err, StartAppError::Exists(paths)
                if paths == &[Path::new("templates/shop/index.html")]),
            "{err:?}"
        );
        assert!(err.to_string().contains("nothing was written"), "{err}");
        assert_eq!(tree(&dir), before);
        assert_eq!(
            std::fs::read_to_string(dir.join("templates/shop/index.html")).expect("kept"),
            "mine"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_removes_what_was_written() {
        let dir = project("undo", "");
        // `templates` is a file, so the template cannot be written, after
        // the two source files were.
        std::fs::write(dir.join("templates"), "not a folder").expect("file");
        let err = start_app(&dir, "shop").expect_err("cannot write");
        assert!(
            matches!(&err, StartAppError::Io { path, .. }
                if path == Path::new("templates/shop/index.html")),
            "{err:?}"
        );
        assert_eq!(
            tree(&dir),
            ["Cargo.toml", "src/", "src/main.rs", "templates"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn askamas_configured_folder_is_used_and_a_missing_dependency_is_named() {
        let dir = project("askama", "");
        std::fs::write(
            dir.join("askama.toml"),
            "[general]\ndirs = [\"pages\", \"shared\"]\n",
        )
        .expect("askama.toml");
        let created = start_app(&dir, "shop").expect("written");
        assert!(dir.join("pages/shop/index.html").is_file());
        assert!(!dir.join("templates").exists());
        assert!(created.needs_askama);
        assert!(created.report("shop").contains("cargo add askama@0.14"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_folder_without_a_project_is_refused() {
        let dir = scratch("not-a-project");
        let err = start_app(&dir, "shop").expect_err("no Cargo.toml");
        assert!(matches!(err, StartAppError::NotAProject(_)), "{err:?}");
        assert!(tree(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
