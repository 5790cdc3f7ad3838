//! Migration files: [`Migration`], reading a folder of them into a
//! [`MigrationSet`] (the dependency graph), and writing new ones.
//!
//! Files live in `<dir>/<app>/<NNNN_name>.json`. Each migration implicitly
//! depends on the previous one of its app (by name order), plus the
//! `dependencies` it lists.
//!
//! ```
//! use manouche::migrations::{Migration, MigrationSet};
//!
//! let m: Migration = serde_json::from_str(
//!     r#"{"app": "blog", "name": "0001_initial", "dependencies": [], "operations": []}"#,
//! ).unwrap();
//! let set = MigrationSet::new(vec![m]).unwrap();
//! assert_eq!(set.leaf("blog").map(|m| m.name.as_str()), Some("0001_initial"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::MigrationError;
use super::operation::Operation;
use super::state::ProjectState;

/// One migration: a named list of operations of one app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    /// The app label.
    pub app: String,
    /// The name (`0001_initial`), also the file name without `.json`.
    pub name: String,
    /// Migrations (`[app, name]`) that must be applied first.
    #[serde(default)]
    pub dependencies: Vec<(String, String)>,
    /// What to do, in order.
    pub operations: Vec<Operation>,
}

impl Migration {
    /// `app.name`.
    #[must_use]
    pub fn key(&self) -> (String, String) {
        (self.app.clone(), self.name.clone())
    }

    /// `app.name`, for messages.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{}.{}", self.app, self.name)
    }

    /// Applies every operation to `state`.
    ///
    /// # Errors
    ///
    /// [`MigrationError::InvalidOperation`] when an operation does not fit
    /// the state.
    pub fn apply(&self, state: &mut ProjectState) -> Result<(), MigrationError> {
        for op in &self.operations {
            op.apply(&self.app, state)
                .map_err(|problem| MigrationError::InvalidOperation {
                    migration: self.label(),
                    problem,
                })?;
        }
        Ok(())
    }

    /// The file's text (pretty JSON, ending with a newline).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("a migration holds only strings, numbers and lists, which always serialize");
        text.push('\n');
        text
    }
}

/// Every migration of the project, in dependency order.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    /// Topologically sorted: every migration after its dependencies.
    ordered: Vec<Migration>,
}

/// The folder migrations are read from and written to: the
/// `MANOUCHE_MIGRATIONS_DIR` environment variable, else `migrations`
/// (relative to the working directory).
#[must_use]
pub fn migrations_dir() -> PathBuf {
    std::env::var_os("MANOUCHE_MIGRATIONS_DIR")
        .map_or_else(|| PathBuf::from("migrations"), PathBuf::from)
}

/// Migration files compiled into a binary: `(app/name.json, contents)`.
/// Made by [`embed_migrations!`](crate::embed_migrations).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddedMigrations {
    files: &'static [(&'static str, &'static str)],
}

impl EmbeddedMigrations {
    /// Wraps the file list (the macro's expansion calls this).
    #[must_use]
    pub const fn new(files: &'static [(&'static str, &'static str)]) -> Self {
        Self { files }
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Parses one file's text and checks that it sits where its app and name
/// say.
fn parse_file(path: &Path, app: &str, stem: &str, text: &str) -> Result<Migration, MigrationError> {
    let m: Migration = serde_json::from_str(text).map_err(|source| MigrationError::Malformed {
        path: path.to_owned(),
        source,
    })?;
    if m.app != app || m.name != stem {
        return Err(MigrationError::Misplaced {
            path: path.to_owned(),
            app: m.app,
            name: m.name,
        });
    }
    Ok(m)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MigrationError + '_ {
    move |source| MigrationError::Io {
        path: path.to_owned(),
        source,
    }
}

impl MigrationSet {
    /// Reads `<dir>/<app>/*.json`. A missing folder means no migrations.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, is malformed, is misplaced, or a graph
    /// problem (see [`MigrationSet::new`]).
    pub fn load(dir: &Path) -> Result<Self, MigrationError> {
        Self::new(Self::read_dir(dir)?)
    }

    /// The migrations in `<dir>/<app>/*.json`, unordered and unchecked
    /// against each other (they may depend on other apps' migrations).
    ///
    /// # Errors
    ///
    /// A file that cannot be read, is malformed or is misplaced.
    pub fn read_dir(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
        let mut all = Vec::new();
        if !dir.exists() {
            return Ok(all);
        }
        let mut apps: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        apps.sort();
        for app_dir in apps {
            let app = app_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&app_dir)
                .map_err(io(&app_dir))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            for path in files {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let m = parse_file(&path, &app, &stem, &text)?;
                all.push(m);
            }
        }
        Ok(all)
    }

    /// The migrations compiled into the binary by
    /// [`embed_migrations!`](crate::embed_migrations), checked as
    /// [`load`](Self::load) checks files.
    ///
    /// # Errors
    ///
    /// As for [`load`](Self::load).
    pub fn from_embedded(embedded: &EmbeddedMigrations) -> Result<Self, MigrationError> {
        Self::new(Self::read_embedded(embedded)?)
    }

    /// The embedded migrations, unordered and unchecked against each other.
    ///
    /// # Errors
    ///
    /// A malformed or misplaced file.
    pub fn read_embedded(embedded: &EmbeddedMigrations) -> Result<Vec<Migration>, MigrationError> {
        let mut all = Vec::new();
        for (rel, text) in embedded.files {
            let path = PathBuf::from(rel);
            let (app, file) = rel.split_once('/').unwrap_or(("", rel));
            let stem = file.strip_suffix(".json").unwrap_or(file);
            all.push(parse_file(&path, app, stem, text)?);
        }
        Ok(all)
    }

    /// Builds the graph from migrations in any order.
    ///
    /// # Errors
    ///
    /// [`MigrationError::MissingDependency`] or [`MigrationError::Cycle`].
    pub fn new(migrations: Vec<Migration>) -> Result<Self, MigrationError> {
        let mut by_key: BTreeMap<(String, String), Migration> = BTreeMap::new();
        for m in migrations {
            by_key.insert(m.key(), m);
        }
        // Dependencies, with the implicit "previous migration of the app".
        let mut deps: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
        let mut previous: Option<(String, String)> = None;
        for (key, m) in &by_key {
            let mut d = m.dependencies.clone();
            if let Some(p) = &previous
                && p.0 == key.0
            {
                d.push(p.clone());
            }
            for dep in &d {
                if !by_key.contains_key(dep) {
                    return Err(MigrationError::MissingDependency {
                        app: key.0.clone(),
                        name: key.1.clone(),
                        dep_app: dep.0.clone(),
                        dep_name: dep.1.clone(),
                    });
                }
            }
            deps.insert(key.clone(), d);
            previous = Some(key.clone());
        }
        // Depth-first, in key order, so that the order is stable.
        let mut done: BTreeSet<(String, String)> = BTreeSet::new();
        let mut ordered = Vec::new();
        fn visit(
            key: &(String, String),
            deps: &BTreeMap<(String, String), Vec<(String, String)>>,
            done: &mut BTreeSet<(String, String)>,
            visiting: &mut BTreeSet<(String, String)>,
            out: &mut Vec<(String, String)>,
        ) -> Result<(), MigrationError> {
            if done.contains(key) {
                return Ok(());
            }
            if !visiting.insert(key.clone()) {
                return Err(MigrationError::Cycle {
                    app: key.0.clone(),
                    name: key.1.clone(),
                });
            }
            for d in deps.get(key).into_iter().flatten() {
                visit(d, deps, done, visiting, out)?;
            }
            visiting.remove(key);
            done.insert(key.clone());
            out.push(key.clone());
            Ok(())
        }
        let mut keys = Vec::new();
        for key in by_key.keys() {
            visit(key, &deps, &mut done, &mut BTreeSet::new(), &mut keys)?;
        }
        for key in keys {
            if let Some(m) = by_key.remove(&key) {
                ordered.push(m);
            }
        }
        Ok(Self { ordered })
    }

    /// Every migration, dependencies first.
    #[must_use]
    pub fn ordered(&self) -> &[Migration] {
        &self.ordered
    }

    /// The migration `app.name`.
    #[must_use]
    pub fn get(&self, app: &str, name: &str) -> Option<&Migration> {
        self.ordered.iter().find(|m| m.app == app && m.name == name)
    }

    /// The migration of `app` whose name is or starts with `name`.
    ///
    /// # Errors
    ///
    /// [`MigrationError::UnknownMigration`] or
    /// [`MigrationError::AmbiguousMigration`].
    pub fn find(&self, app: &str, name: &str) -> Result<&Migration, MigrationError> {
        if let Some(m) = self.get(app, name) {
            return Ok(m);
        }
        let matches: Vec<&Migration> = self
            .ordered
            .iter()
            .filter(|m| m.app == app && m.name.starts_with(name))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(MigrationError::UnknownMigration {
                app: app.to_owned(),
                name: name.to_owned(),
            }),
            many => Err(MigrationError::AmbiguousMigration {
                app: app.to_owned(),
                name: name.to_owned(),
                candidates: many.iter().map(|m| m.name.clone()).collect(),
            }),
        }
    }

    /// The apps that have migrations.
    #[must_use]
    pub fn apps(&self) -> BTreeSet<String> {
        self.ordered.iter().map(|m| m.app.clone()).collect()
    }

    /// The last migration of `app` (by name).
    #[must_use]
    pub fn leaf(&self, app: &str) -> Option<&Migration> {
        self.ordered
            .iter()
            .filter(|m| m.app == app)
            .max_by(|a, b| a.name.cmp(&b.name))
    }

    /// The state after every migration.
    ///
    /// # Errors
    ///
    /// When an operation does not fit the state built so far.
    pub fn state(&self) -> Result<ProjectState, MigrationError> {
        let mut state = ProjectState::default();
        for m in &self.ordered {
            m.apply(&mut state)?;
        }
        Ok(state)
    }

    /// `key` and every migration that (transitively) depends on it.
    #[must_use]
    pub fn dependents(&self, key: &(String, String)) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::from([key.clone()]);
        // `ordered` is topological: one pass finds every descendant.
        for m in &self.ordered {
            let implicit = self
                .ordered
                .iter()
                .filter(|p| p.app == m.app && p.name < m.name)
                .any(|p| out.contains(&p.key()));
            if implicit || m.dependencies.iter().any(|d| out.contains(d)) {
                out.insert(m.key());
            }
        }
        out
    }

    /// `key` and every migration it (transitively) depends on.
    #[must_use]
    pub fn ancestors(&self, key: &(String, String)) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::from([key.clone()]);
        for m in self.ordered.iter().rev() {
            if !out.contains(&m.key()) {
                continue;
            }
            for d in &m.dependencies {
                out.insert(d.clone());
            }
            for p in self
                .ordered
                .iter()
                .filter(|p| p.app == m.app && p.name < m.name)
            {
                out.insert(p.key());
            }
        }
        out
    }
}

/// Writes `migration` to `<dir>/<app>/<name>.json` and returns the path.
///
/// # Errors
///
/// [`MigrationError::Io`] when the folder or file cannot be written.
pub fn write_migration(dir: &Path, migration: &Migration) -> Result<PathBuf, MigrationError> {
    let app_dir = dir.join(&migration.app);
    std::fs::create_dir_all(&app_dir).map_err(io(&app_dir))?;
    let path = app_dir.join(format!("{}.json", migration.name));
    std::fs::write(&path, migration.to_json()).map_err(io(&path))?;
    Ok(path)
}
