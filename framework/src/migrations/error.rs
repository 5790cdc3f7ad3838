//! Errors of the migrations framework.
//!
//! Every variant says what to do about it:
//!
//! ```
//! use manouche::migrations::MigrationError;
//!
//! let err = MigrationError::UnknownMigration { app: "blog".into(), name: "0009_x".into() };
//! assert!(err.to_string().contains("showmigrations"));
//! ```

use std::path::PathBuf;

/// An error raised while loading, planning, writing or applying migrations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// A migration file could not be read or written.
    #[error("could not access migration file {}: {source}; check that the path exists and is readable/writable", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A migration file is not valid JSON of the expected shape.
    #[error("migration file {} is malformed ({source}); fix it by hand or delete it and run `manage makemigrations` again", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A migration file's content does not match its location.
    #[error("migration file {} says app {app:?} / name {name:?}; the file must be named `migrations/<app>/<name>.json`", path.display())]
    Misplaced {
        /// The file.
        path: PathBuf,
        /// The app written inside the file.
        app: String,
        /// The name written inside the file.
        name: String,
    },
    /// The project's migrations folder has migrations for a library app,
    /// whose migrations ship in its crate.
    #[error(
        "{} holds migrations for the app {app:?}, whose migrations ship in its crate; remove that folder (makemigrations never writes into a library app)", dir.display()
    )]
    LibraryMigrationsInProject {
        /// The app.
        app: String,
        /// The folder.
        dir: PathBuf,
    },
    /// A migration depends on one that does not exist.
    #[error(
        "migration {app}.{name} depends on {dep_app}.{dep_name}, which does not exist; restore the missing file or fix the dependency"
    )]
    MissingDependency {
        /// The app of the migration with the bad dependency.
        app: String,
        /// Its name.
        name: String,
        /// The missing migration's app.
        dep_app: String,
        /// The missing migration's name.
        dep_name: String,
    },
    /// The dependencies form a cycle.
    #[error(
        "migration dependencies form a cycle through {app}.{name}; remove one of the dependencies"
    )]
    Cycle {
        /// An app on the cycle.
        app: String,
        /// A migration on the cycle.
        name: String,
    },
    /// A migration asked for by name does not exist.
    #[error("no migration {app}.{name}; run `manage showmigrations` to list the migrations")]
    UnknownMigration {
        /// The app.
        app: String,
        /// The name (or prefix) that was given.
        name: String,
    },
    /// A migration prefix matches several migrations.
    #[error("{app}.{name} matches several migrations ({}); give more of the name", candidates.join(", "))]
    AmbiguousMigration {
        /// The app.
        app: String,
        /// The prefix.
        name: String,
        /// The migrations it matches.
        candidates: Vec<String>,
    },
    /// An app has no migrations.
    #[error(
        "app {app:?} has no migrations; run `manage makemigrations {app}` first (known apps with migrations: {known})"
    )]
    UnknownApp {
        /// The app.
        app: String,
        /// The apps that have migrations, comma separated.
        known: String,
    },
    /// An operation names a model the state does not have.
    #[error(
        "migration {migration}: model {app}.{model} does not exist at this point; the migration files are inconsistent, check their order and dependencies"
    )]
    UnknownModel {
        /// The migration.
        migration: String,
        /// The app.
        app: String,
        /// The model.
        model: String,
    },
    /// An operation names a field the model does not have, or adds one it has.
    #[error(
        "migration {migration}: {problem}; the migration files are inconsistent with each other"
    )]
    InvalidOperation {
        /// The migration.
        migration: String,
        /// What is wrong.
        problem: String,
    },
    /// An operation cannot be reversed.
    #[error("migration {migration} cannot be reversed: {reason}")]
    Irreversible {
        /// The migration.
        migration: String,
        /// Why.
        reason: String,
    },
    /// A statement of a migration failed; nothing of that migration was kept.
    #[error(
        "migration {migration} failed and was rolled back (schema and migration history are unchanged)\n  statement: {statement}\n  database error: {source}"
    )]
    Statement {
        /// The migration.
        migration: String,
        /// The SQL that failed.
        statement: String,
        /// The database's error.
        source: crate::db::Error,
    },
    /// Rows hold values that a column change would cut or that it has no
    /// value for; the migration was refused before anything changed.
    #[error(
        "migration {migration} was refused and rolled back (schema, data and migration history are unchanged): {}",
        check.explain(*rows)
    )]
    RowsBlock {
        /// The migration.
        migration: String,
        /// What was counted, where.
        check: super::RowCheck,
        /// How many rows block the change.
        rows: u64,
    },
    /// A data migration function failed (returned an error or panicked);
    /// nothing of that migration was kept.
    #[error(
        "migration {migration} failed in Rust function {function} and was rolled back (schema and migration history are unchanged)\n  error: {source}"
    )]
    DataMigration {
        /// The migration.
        migration: String,
        /// The registered name of the function.
        function: String,
        /// What the function returned (or its panic message).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A `run_rust` operation names a function its app did not register.
    #[error(
        "migration {migration} runs the Rust function {function:?}, which app {app:?} does not register (it registers: {known}); add `.data_migration(\"{function}\", ...)` to `App::new(\"{app}\")`, or fix the name in the file"
    )]
    UnknownDataMigration {
        /// The app.
        app: String,
        /// The migration.
        migration: String,
        /// The name in the file.
        function: String,
        /// The names the app registers, comma separated (`none` when none).
        known: String,
    },
    /// An app registers two data migration functions under one name.
    #[error(
        "app {app:?} registers two data migration functions named {function:?}; give each its own name"
    )]
    DuplicateDataMigration {
        /// The app.
        app: String,
        /// The name registered twice.
        function: String,
    },
    /// An answer to a `makemigrations` question could not be read, or the
    /// question could not be written.
    #[error("could not talk to the terminal: {0}; pass the answers as flags with `--noinput`")]
    Prompt(std::io::Error),
    /// The database failed outside of a migration's statements.
    #[error("database error while migrating: {0}")]
    Database(#[from] crate::db::Error),
    /// A new non-null field has no value for the existing rows.
    #[error(
        "{app}.{model}.{field} is a new non-null field without a default, and the table may already have rows: give the field a `#[model(default = ...)]`, make it an `Option<_>`, or pass `--default {app}.{model}.{field}=VALUE` for the existing rows"
    )]
    NeedsDefault {
        /// The app.
        app: String,
        /// The model.
        model: String,
        /// The field's column.
        field: String,
    },
    /// A command-line hint could not be understood.
    #[error("bad {flag} value {value:?}: {reason}")]
    BadHint {
        /// The flag (`--rename`, `--default`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The autodetector saw a field removed and one of the same type added.
    #[error(
        "{app}.{model}: field {old} was removed and {new} (same type) was added; if it was renamed, pass `--rename {app}.{model}.{old}={new}`; if not, pass `--no-rename-check` to drop {old} (and its data) and add {new}"
    )]
    PossibleRename {
        /// The app.
        app: String,
        /// The model.
        model: String,
        /// The removed field.
        old: String,
        /// The added field.
        new: String,
    },
    /// The autodetector saw a model removed and another with the same
    /// fields added in the same app.
    #[error(
        "{app}: model {old} was removed and {new} was added; if it was renamed, pass `--rename {app}.{old}={new}`; if not, pass `--no-rename-check` to drop {old}'s table (and its rows) and create {new}'s"
    )]
    PossibleModelRename {
        /// The app.
        app: String,
        /// The removed model.
        old: String,
        /// The added model.
        new: String,
    },
    /// A join table was removed and another added on the same model.
    #[error(
        "{app}.{model}: join table {old} would be dropped and {new} created (a renamed many-to-many field?), and dropping {old} loses its links. A renamed model's join tables follow it (`--rename {app}.OldModel={model}`); for a renamed field, copy the links with a `run_sql` migration (`makemigrations --empty {app}`) after passing `--no-rename-check`, which drops {old} and creates {new}"
    )]
    PossibleJoinTableRename {
        /// The app.
        app: String,
        /// The model.
        model: String,
        /// The join table that goes away.
        old: String,
        /// The join table that appears.
        new: String,
    },
    /// A model refers to a model of an app that has no migrations.
    #[error(
        "app {app:?} refers to models of app {other:?}, which has no migrations: run `manage makemigrations {app} {other}` (or without app names)"
    )]
    DependencyWithoutMigrations {
        /// The app being migrated.
        app: String,
        /// The app without migrations.
        other: String,
    },
    /// A name given on the command line cannot be used in a file name.
    #[error(
        "{what} {value:?} cannot be used in a migration file name: use letters, digits and `_` only"
    )]
    BadName {
        /// What the name is for (`app`, `--name`).
        what: &'static str,
        /// The name given.
        value: String,
    },
}

impl From<MigrationError> for crate::Error {
    fn from(err: MigrationError) -> Self {
        match err {
            MigrationError::Database(e) => e.into(),
            other => Self::improperly_configured(other.to_string()),
        }
    }
}
