//! Applying and unapplying migrations: the recorder table
//! (`manouche_migrations`), the [`plan`] for a [`Target`], and [`migrate`],
//! which runs each migration in its own transaction.
//!
//! - **Atomic.** A migration's statements and its recorder row commit
//!   together; when a statement fails, everything of that migration is
//!   rolled back and [`MigrationError::Statement`] names the statement and
//!   the database's error.
//! - **Rust data migrations.** A `run_rust` operation calls a function from
//!   [`DataMigrations`] (built by `Project` from
//!   [`App::data_migration`](crate::App::data_migration)) in a savepoint of
//!   the migration's transaction; [`check_plan`] refuses a plan naming an
//!   unregistered function, or unapplying one without a reverse, before
//!   anything runs. See [`data`](super::data).
//! - **One runner at a time.** On PostgreSQL each migration's transaction
//!   takes `pg_advisory_xact_lock` and re-reads the recorder, so a second
//!   `migrate` running at the same time waits, then skips what the first one
//!   applied. On SQLite, `BEGIN IMMEDIATE` takes the write lock the same way.
//! - **No queue behind a lock.** On PostgreSQL a migration waits at most
//!   [`LOCK_TIMEOUT`] for each lock on a table (`SET LOCAL lock_timeout`):
//!   an `ALTER TABLE` waiting behind a long transaction would otherwise
//!   make every request touching that table queue behind it. It fails
//!   instead, rolled back, with [`db::Error::LockTimeout`](crate::db::Error::LockTimeout)
//!   naming what to do; run it again when the table is free.
//! - **No value cut or made up.** A narrower `max_length`, a column made
//!   `NOT NULL` and a non-null column added back first count the rows they
//!   would damage ([`Step::Check`]); when there are any, the migration is
//!   refused with [`MigrationError::RowsBlock`] and rolled back.
//! - **SQLite rebuilds** run with foreign key enforcement off (so dropping
//!   the old table does not cascade) and end with `PRAGMA
//!   foreign_key_check`; a violation fails the migration.
//!
//! ```
//! use manouche::migrations::{Migration, MigrationSet, Target, executor};
//! use manouche::db::Database;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! let set = MigrationSet::new(vec![Migration {
//!     app: "blog".into(),
//!     name: "0001_initial".into(),
//!     dependencies: vec![],
//!     operations: vec![],
//! }])?;
//! let applied = executor::applied(&db).await?;
//! let plan = executor::plan(&set, &applied, &Target::All)?;
//! executor::migrate(&db, &set, &plan, false, |line| println!("{line}")).await?;
//! assert!(executor::applied(&db).await?.contains(&("blog".into(), "0001_initial".into())));
//! # Ok::<_, manouche::migrations::MigrationError>(())
//! # }).unwrap();
//! ```

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt as _;

use super::data::DataMigrations;
use super::error::MigrationError;
use super::loader::{Migration, MigrationSet};
use super::operation::Operation;
use super::row_check::RowCheck;
use super::schema_editor;
use super::state::ProjectState;
use crate::db::sql::migrate as sql;
use crate::db::{Backend, Database, Executor, Statement, Transaction};

/// The table that records applied migrations.
pub const RECORDER_TABLE: &str = sql::RECORDER_TABLE;

/// What `migrate` should reach.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Every migration of every app.
    All,
    /// Every migration of one app (and what it depends on).
    App(String),
    /// Exactly up to this migration: applies it (and its dependencies), or
    /// unapplies what comes after it in its app (and what depends on that).
    Migration(String, String),
    /// Unapplies every migration of the app (and what depends on them).
    Zero(String),
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub struct PlanStep {
    /// The migration.
    pub migration: Migration,
    /// Whether it is unapplied.
    pub backwards: bool,
}

type Key = (String, String);

/// Creates the recorder table when it does not exist.
///
/// # Errors
///
/// The database's error.
pub async fn ensure_recorder(db: &Database) -> Result<(), MigrationError> {
    let backend = db.backend();
    // Under the lock: two concurrent `CREATE TABLE IF NOT EXISTS` can both
    // try to create it on PostgreSQL.
    let tx = db.begin().await?;
    if backend == Backend::Postgres {
        tx.execute(sql::lock(backend)).await?;
    }
    // Looked up first: PostgreSQL logs a notice for `IF NOT EXISTS` on an
    // existing table, which would clutter every `migrate`.
    if tx
        .fetch_all(sql::recorder_exists(backend))
        .await?
        .is_empty()
    {
        tx.execute(sql::create_recorder(backend)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The applied migrations (`(app, name)`); empty when the recorder table
/// does not exist yet.
///
/// # Errors
///
/// The database's error.
pub async fn applied(db: &dyn Executor) -> Result<BTreeSet<Key>, MigrationError> {
    let rows = match db.fetch_all(sql::applied(db.backend())).await {
        Ok(rows) => rows,
        Err(crate::db::Error::MissingTable { .. }) => return Ok(BTreeSet::new()),
        Err(e) => return Err(e.into()),
    };
    rows.iter()
        .map(|r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))
        .collect()
}

/// The steps that take the database from `applied` to `target`.
///
/// # Errors
///
/// [`MigrationError::UnknownApp`] or [`MigrationError::UnknownMigration`]
/// for a target that does not exist.
pub fn plan(
    set: &MigrationSet,
    applied: &BTreeSet<Key>,
    target: &Target,
) -> Result<Vec<PlanStep>, MigrationError> {
    let check_app = |app: &str| {
        if set.apps().contains(app) {
            Ok(())
        } else {
            Err(MigrationError::UnknownApp {
                app: app.to_owned(),
                known: set.apps().into_iter().collect::<Vec<_>>().join(", "),
            })
        }
    };
    let forwards = |wanted: &BTreeSet<Key>| -> Vec<PlanStep> {
        set.ordered()
            .iter()
            .filter(|m| wanted.contains(&m.key()) && !applied.contains(&m.key()))
            .map(|m| PlanStep {
                migration: m.clone(),
                backwards: false,
            })
            .collect()
    };
    let backwards = |unwanted: &BTreeSet<Key>| -> Vec<PlanStep> {
        set.ordered()
            .iter()
            .rev()
            .filter(|m| unwanted.contains(&m.key()) && applied.contains(&m.key()))
            .map(|m| PlanStep {
                migration: m.clone(),
                backwards: true,
            })
            .collect()
    };
    Ok(match target {
        Target::All => forwards(&set.ordered().iter().map(Migration::key).collect()),
        Target::App(app) => {
            check_app(app)?;
            let leaf = set.leaf(app).map(Migration::key).unwrap_or_default();
            forwards(&set.ancestors(&leaf))
        }
        Target::Migration(app, name) => {
            check_app(app)?;
            let key = set.find(app, name)?.key();
            if applied.contains(&key) {
                let mut unwanted = BTreeSet::new();
                for m in set
                    .ordered()
                    .iter()
                    .filter(|m| m.app == key.0 && m.name > key.1)
                {
                    unwanted.extend(set.dependents(&m.key()));
                }
                backwards(&unwanted)
            } else {
                forwards(&set.ancestors(&key))
            }
        }
        Target::Zero(app) => {
            check_app(app)?;
            let mut unwanted = BTreeSet::new();
            for m in set.ordered().iter().filter(|m| &m.app == app) {
                unwanted.extend(set.dependents(&m.key()));
            }
            backwards(&unwanted)
        }
    })
}

/// The state before `migration`, given what is applied: every applied
/// migration that comes before it.
fn state_before(
    set: &MigrationSet,
    applied: &BTreeSet<Key>,
    migration: &Migration,
) -> Result<ProjectState, MigrationError> {
    let mut state = ProjectState::default();
    for m in set.ordered() {
        if m.key() == migration.key() {
            break;
        }
        if applied.contains(&m.key()) {
            m.apply(&mut state)?;
        }
    }
    Ok(state)
}

/// One thing a migration does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// A SQL statement.
    Sql(String),
    /// A count of the rows that would block the next statements (see
    /// [`RowCheck`]); the migration goes on only when it is zero.
    Check {
        /// What is counted, where.
        check: RowCheck,
        /// The `SELECT COUNT(*)` on the migration's backend.
        sql: String,
    },
    /// A call of a data migration function the app registered.
    RunRust {
        /// The app.
        app: String,
        /// The function's registered name.
        function: String,
    },
}

impl std::fmt::Display for Step {
    /// As `sqlmigrate` prints it: the statement with its `;`, or a comment
    /// for a check or a Rust function.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sql(sql) => write!(f, "{sql};"),
            Self::Check { sql, .. } => write!(f, "-- refused unless 0: {sql}"),
            Self::RunRust { app, function } => {
                write!(f, "-- Rust function {app}.{function} (not SQL)")
            }
        }
    }
}

/// The steps of `migration` on `backend`, forwards or backwards, from the
/// state before it: SQL statements, and calls of the Rust functions of
/// `run_rust` operations (the reverse function when backwards).
///
/// # Errors
///
/// [`MigrationError::Irreversible`] or an inconsistent migration.
pub fn migration_steps(
    backend: Backend,
    migration: &Migration,
    before: &ProjectState,
    backwards: bool,
) -> Result<Vec<Step>, MigrationError> {
    let invalid = |problem| MigrationError::InvalidOperation {
        migration: migration.label(),
        problem,
    };
    let mut states = vec![before.clone()];
    for op in &migration.operations {
        let mut next = states.last().cloned().unwrap_or_default();
        op.apply(&migration.app, &mut next).map_err(invalid)?;
        states.push(next);
    }
    let rust = |function: &str| Step::RunRust {
        app: migration.app.clone(),
        function: function.to_owned(),
    };
    let mut out = Vec::new();
    if backwards {
        for (i, op) in migration.operations.iter().enumerate().rev() {
            let sql =
                schema_editor::backwards(backend, &migration.app, op, &states[i], &states[i + 1])
                    .map_err(|reason| MigrationError::Irreversible {
                    migration: migration.label(),
                    reason,
                })?;
            if let Operation::RunRust {
                reverse: Some(reverse),
                ..
            } = op
            {
                out.push(rust(reverse));
            }
            out.extend(sql);
        }
    } else {
        // PostgreSQL adds foreign keys after the tables; those of a run of
        // `CreateModel`s wait for the whole run, so that models referring to
        // each other (a cycle) can be created.
        let mut deferred = Vec::new();
        for (i, op) in migration.operations.iter().enumerate() {
            let sql =
                schema_editor::forwards(backend, &migration.app, op, &states[i], &states[i + 1])
                    .map_err(invalid)?;
            if backend == Backend::Postgres && matches!(op, Operation::CreateModel { .. }) {
                for step in sql {
                    match step {
                        Step::Sql(s)
                            if s.starts_with("ALTER TABLE") && s.contains(" FOREIGN KEY ") =>
                        {
                            deferred.push(Step::Sql(s));
                        }
                        other => out.push(other),
                    }
                }
            } else {
                out.append(&mut deferred);
                if let Operation::RunRust { function, .. } = op {
                    out.push(rust(function));
                }
                out.extend(sql);
            }
        }
        out.append(&mut deferred);
    }
    Ok(out)
}

/// The SQL of `migration` on `backend`, forwards or backwards, from the
/// state before it. A Rust function of a `run_rust` operation appears as
/// the comment `-- Rust function app.name (not SQL)`: running this SQL
/// does not call it ([`migrate`] does).
///
/// # Errors
///
/// [`MigrationError::Irreversible`] or an inconsistent migration.
pub fn migration_sql(
    backend: Backend,
    migration: &Migration,
    before: &ProjectState,
    backwards: bool,
) -> Result<Vec<String>, MigrationError> {
    Ok(texts(migration_steps(
        backend, migration, before, backwards,
    )?))
}

/// The text of each step: the SQL, or the comment for a check or a Rust
/// function.
fn texts(steps: Vec<Step>) -> Vec<String> {
    steps
        .into_iter()
        .map(|step| match step {
            Step::Sql(sql) => sql,
            other => other.to_string(),
        })
        .collect()
}

/// The steps `sqlmigrate` prints: `app.name` on `backend`, from the state
/// of every migration before it.
///
/// # Errors
///
/// See [`migration_steps`].
pub fn steps_for(
    set: &MigrationSet,
    backend: Backend,
    migration: &Migration,
    backwards: bool,
) -> Result<Vec<Step>, MigrationError> {
    let ancestors = set.ancestors(&migration.key());
    let before = state_before(set, &ancestors, migration)?;
    migration_steps(backend, migration, &before, backwards)
}

/// The SQL of `app.name` on `backend`, from the state of every migration
/// before it (see [`migration_sql`] for Rust functions).
///
/// # Errors
///
/// See [`migration_sql`].
pub fn sql_for(
    set: &MigrationSet,
    backend: Backend,
    migration: &Migration,
    backwards: bool,
) -> Result<Vec<String>, MigrationError> {
    Ok(texts(steps_for(set, backend, migration, backwards)?))
}

/// Checks `plan` before anything of it runs: every migration it unapplies
/// can be reversed on `backend` (`run_sql` has a reverse for it, `run_rust`
/// a `reverse` function), and, unless `fake`, every Rust function it calls
/// is registered in `data`.
///
/// # Errors
///
/// [`MigrationError::Irreversible`] or
/// [`MigrationError::UnknownDataMigration`].
pub fn check_plan(
    plan: &[PlanStep],
    backend: Backend,
    data: &DataMigrations,
    fake: bool,
) -> Result<(), MigrationError> {
    for step in plan {
        let m = &step.migration;
        for op in &m.operations {
            match op {
                Operation::RunSql {
                    reverse_sqlite,
                    reverse_postgres,
                    ..
                } if step.backwards => {
                    let (reverse, key) = match backend {
                        Backend::Postgres => (reverse_postgres, "reverse_postgres"),
                        _ => (reverse_sqlite, "reverse_sqlite"),
                    };
                    if reverse.is_none() {
                        return Err(MigrationError::Irreversible {
                            migration: m.label(),
                            reason: format!(
                                "its raw SQL has no reverse for {backend:?}; add `{key}` to the \
                                 file (`[]` when there is nothing to undo)"
                            ),
                        });
                    }
                }
                Operation::RunRust { function, reverse } => {
                    let called = if step.backwards {
                        let Some(reverse) = reverse else {
                            return Err(MigrationError::Irreversible {
                                migration: m.label(),
                                reason: format!(
                                    "its Rust function {function} has no reverse; add \
                                     `\"reverse\": \"<function>\"` to the `run_rust` operation \
                                     in the file and register that function with \
                                     `App::data_migration`"
                                ),
                            });
                        };
                        reverse
                    } else {
                        function
                    };
                    if !fake && data.get(&m.app, called).is_none() {
                        let known: Vec<&str> = data.names(&m.app).collect();
                        return Err(MigrationError::UnknownDataMigration {
                            app: m.app.clone(),
                            migration: m.label(),
                            function: called.clone(),
                            known: if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            },
                        });
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// [`migrate_with`] without data migration functions: for migrations
/// without `run_rust` operations (a plan with one fails before anything
/// runs).
///
/// # Errors
///
/// See [`migrate_with`].
pub async fn migrate(
    db: &Database,
    set: &MigrationSet,
    plan: &[PlanStep],
    fake: bool,
    progress: impl FnMut(&str),
) -> Result<(), MigrationError> {
    migrate_with(db, set, plan, &DataMigrations::default(), fake, progress).await
}

/// Runs `plan`: each migration in its own transaction, recording it, with
/// the Rust functions of `run_rust` operations looked up in `data`.
/// `progress` gets one line per migration with its time. With `fake`, only
/// the recorder changes.
///
/// # Errors
///
/// What [`check_plan`] finds, before anything runs; then the first
/// migration that fails ([`MigrationError::Statement`],
/// [`MigrationError::DataMigration`]): it was rolled back, the ones before
/// it stay applied.
pub async fn migrate_with(
    db: &Database,
    set: &MigrationSet,
    plan: &[PlanStep],
    data: &DataMigrations,
    fake: bool,
    mut progress: impl FnMut(&str),
) -> Result<(), MigrationError> {
    let backend = db.backend();
    // Refuse up front rather than after applying or unapplying part of the
    // plan.
    check_plan(plan, backend, data, fake)?;
    ensure_recorder(db).await?;
    for step in plan {
        let m = &step.migration;
        let verb = if step.backwards {
            "Unapplying"
        } else {
            "Applying"
        };
        let started = Instant::now();
        let tx = begin(db).await?;
        let outcome = match run_step(&tx, set, data, step, fake).await {
            Ok(ran) => finish(&tx, backend, true).await.map(|()| ran),
            Err(e) => Err(e),
        };
        let ran = match outcome {
            Ok(ran) => {
                tx.commit().await?;
                ran
            }
            Err(e) => {
                // Best effort (also when committing failed): roll back and
                // turn SQLite's foreign keys back on before the connection
                // returns to the pool. The error that matters is `e`.
                let _ = finish(&tx, backend, false).await;
                let _ = tx.rollback().await;
                progress(&format!("  {verb} {}... FAILED", m.label()));
                return Err(e);
            }
        };
        let elapsed = started.elapsed();
        let status = match (ran, fake) {
            (false, _) => "SKIPPED (another process did it)".to_owned(),
            (true, true) => "FAKED".to_owned(),
            (true, false) => format!("OK ({:.3}s)", elapsed.as_secs_f64()),
        };
        progress(&format!("  {verb} {}... {status}", m.label()));
    }
    Ok(())
}

/// Opens a migration's transaction. On SQLite foreign keys can only be
/// switched off outside a transaction, so the pool's transaction is
/// committed (it is empty), the pragma set, and a new one begun on the same
/// connection; [`finish`] restores the pragma.
async fn begin(db: &Database) -> Result<Transaction, MigrationError> {
    let tx = db.begin().await?;
    if db.backend() == Backend::Sqlite {
        for sql in sql::SQLITE_FOREIGN_KEYS_OFF {
            if let Err(e) = tx.execute(Statement::raw(sql)).await {
                let _ = restore_sqlite(&tx).await;
                return Err(e.into());
            }
        }
    } else {
        // The runners' lock first, for as long as it takes (another
        // `migrate`); then the table locks, each for at most LOCK_TIMEOUT.
        tx.execute(sql::lock(db.backend())).await?;
        let ms = LOCK_TIMEOUT.as_millis();
        tx.execute(Statement::raw(format!("SET LOCAL lock_timeout = '{ms}ms'")))
            .await?;
    }
    Ok(tx)
}

/// How long a migration waits for a lock on a table (PostgreSQL).
pub const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn restore_sqlite(tx: &Transaction) -> Result<(), crate::db::Error> {
    let [rollback, on, begin] = sql::sqlite_foreign_keys_on(sql::SqliteEnd::Rollback);
    // Leaves an empty transaction open for the pool's own COMMIT/ROLLBACK.
    let _ = tx.execute(Statement::raw(rollback)).await;
    tx.execute(Statement::raw(on)).await?;
    tx.execute(Statement::raw(begin)).await?;
    Ok(())
}

/// Commits (or rolls back) the SQLite work and turns foreign keys back on.
async fn finish(tx: &Transaction, backend: Backend, commit: bool) -> Result<(), MigrationError> {
    if backend != Backend::Sqlite {
        return Ok(());
    }
    if commit {
        for sql in sql::sqlite_foreign_keys_on(sql::SqliteEnd::Commit) {
            tx.execute(Statement::raw(sql)).await?;
        }
        Ok(())
    } else {
        restore_sqlite(tx).await.map_err(Into::into)
    }
}

/// Calls the data migration function `app.function` in a savepoint of
/// `tx`, so that it cannot end the migration's transaction itself. A panic
/// is caught and reported like an error: the caller rolls back.
async fn run_rust(
    tx: &Transaction,
    data: &DataMigrations,
    m: &Migration,
    app: &str,
    function: &str,
) -> Result<(), MigrationError> {
    let failed = |source| MigrationError::DataMigration {
        migration: m.label(),
        function: function.to_owned(),
        source,
    };
    // `check_plan` ran first; this only guards direct callers.
    let f = data
        .get(app, function)
        .ok_or_else(|| MigrationError::UnknownDataMigration {
            app: app.to_owned(),
            migration: m.label(),
            function: function.to_owned(),
            known: data.names(app).collect::<Vec<_>>().join(", "),
        })?;
    let savepoint = Executor::begin(tx).await?;
    let outcome = AssertUnwindSafe(f.call(&savepoint)).catch_unwind().await;
    match outcome {
        Ok(Ok(())) => savepoint.commit().await.map_err(|e| failed(Box::new(e))),
        Ok(Err(e)) => {
            let _ = savepoint.rollback().await;
            Err(failed(e))
        }
        Err(panic) => {
            let _ = savepoint.rollback().await;
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            Err(failed(format!("panicked: {message}").into()))
        }
    }
}

/// Counts the rows `check` is about; refuses the migration when there are
/// any (the caller rolls back).
async fn run_check(
    tx: &Transaction,
    m: &Migration,
    check: RowCheck,
    sql: String,
) -> Result<(), MigrationError> {
    let failed = |source| MigrationError::Statement {
        migration: m.label(),
        statement: sql.clone(),
        source,
    };
    let rows = tx
        .fetch_all(Statement::raw(sql.clone()))
        .await
        .map_err(failed)?;
    let count = match rows.first() {
        Some(row) => row.get::<i64>(0).map_err(failed)?,
        None => 0,
    };
    if count > 0 {
        return Err(MigrationError::RowsBlock {
            migration: m.label(),
            rows: u64::try_from(count).unwrap_or(u64::MAX),
            check,
        });
    }
    Ok(())
}

/// Runs one step inside `tx`; `false` when another process already did it.
async fn run_step(
    tx: &Transaction,
    set: &MigrationSet,
    data: &DataMigrations,
    step: &PlanStep,
    fake: bool,
) -> Result<bool, MigrationError> {
    let m = &step.migration;
    let now_applied = applied(tx).await?;
    if now_applied.contains(&m.key()) != step.backwards {
        return Ok(false);
    }
    let backend = tx.backend();
    if !fake {
        let before = state_before(set, &now_applied, m)?;
        for step in migration_steps(backend, m, &before, step.backwards)? {
            match step {
                Step::Sql(sql) => {
                    tx.execute(Statement::raw(sql.clone()))
                        .await
                        .map_err(|source| MigrationError::Statement {
                            migration: m.label(),
                            statement: sql,
                            source,
                        })?;
                }
                Step::Check { check, sql } => run_check(tx, m, check, sql).await?,
                Step::RunRust { app, function } => {
                    run_rust(tx, data, m, &app, &function).await?;
                }
            }
        }
        if backend == Backend::Sqlite {
            let sql = sql::SQLITE_FOREIGN_KEY_CHECK;
            let rows = tx.fetch_all(Statement::raw(sql)).await?;
            if let Some(row) = rows.first() {
                return Err(MigrationError::Statement {
                    migration: m.label(),
                    statement: sql.to_owned(),
                    source: crate::db::Error::ForeignKeyViolation {
                        table: row.get::<String>(0).unwrap_or_default(),
                        fields: Vec::new(),
                    },
                });
            }
        }
    }
    let stmt = if step.backwards {
        sql::unrecord(&m.app, &m.name, backend)
    } else {
        sql::record(&m.app, &m.name, backend)?
    };
    tx.execute(stmt).await?;
    Ok(true)
}
