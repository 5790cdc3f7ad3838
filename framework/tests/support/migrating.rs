//! What the migration tests share: running a migration set to a target on
//! a database, and raw SQL in and text out. Each test file uses what it
//! needs.
#![allow(dead_code)]

use manouche::db::{Database, Executor, Statement};
use manouche::migrations::executor::{self, Target};
use manouche::migrations::{MigrationError, MigrationSet};

/// Applies or unapplies `set` on `db` up to `target`.
pub(crate) async fn migrate(
    db: &Database,
    set: &MigrationSet,
    target: Target,
) -> Result<(), MigrationError> {
    let applied = executor::applied(db).await?;
    let plan = executor::plan(set, &applied, &target)?;
    executor::migrate(db, set, &plan, false, |_| {}).await
}

/// Runs one SQL statement.
pub(crate) async fn exec(db: &Database, sql: &str) -> Result<u64, manouche::db::Error> {
    db.execute(Statement::raw(sql)).await
}

/// The first column of every row of `sql`, as text.
pub(crate) async fn strings(db: &Database, sql: &str) -> Vec<String> {
    db.fetch_all(Statement::raw(sql))
        .await
        .expect(sql)
        .iter()
        .map(|r| r.get::<String>(0).expect("text column"))
        .collect()
}
