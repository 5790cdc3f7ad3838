//! The statements `migrate` sends besides the schema editor's DDL:
//!
//! - the recorder table, [`RECORDER_TABLE`]: creating it, checking that it
//!   exists, reading the applied migrations, recording one and forgetting
//!   one;
//! - PostgreSQL's advisory lock that keeps two `migrate` runs apart;
//! - SQLite's switch of foreign-key enforcement around a migration's
//!   transaction, and the check before it commits;
//! - the rows a table change moves: copying them into a rebuilt SQLite
//!   table, filling `NULL`s before PostgreSQL's `SET NOT NULL`;
//! - counting the rows that would block a column change (too long for a
//!   new `max_length`, out of a narrower integer type's range, `NULL` in a
//!   column becoming `NOT NULL`).
//!
//! The last two are part of a migration's SQL, which `sqlmigrate` prints
//! and `migrate` runs as text: they return text, and their values are SQL
//! literals the schema editor renders, as for its `DEFAULT` clauses.
//!
//! ```text
//! record("blog", "0001_initial")
//!   INSERT INTO "manouche_migrations" ("app", "name") VALUES (?, ?)
//! copy_rows("new__blog_note", "blog_note", [("id", Column("id")), ("stars", Literal("0"))])
//!   INSERT INTO "new__blog_note" ("id", "stars") SELECT "id", 0 FROM "blog_note"
//! ```

use sea_query::{Alias, ColumnDef, Expr, Func, Query, Table};

use crate::db::executor::{Backend, Statement};
use crate::db::fields::SqlType;
use crate::db::{Error, Result};

/// The table that records applied migrations.
pub(crate) const RECORDER_TABLE: &str = "manouche_migrations";

/// The advisory lock key `migrate` takes on PostgreSQL ("manouche" in hex).
const LOCK_KEY: i64 = 0x6d61_6e6f_7563_6865;

/// `CREATE TABLE IF NOT EXISTS manouche_migrations (id, app, name,
/// applied)`.
pub(crate) fn create_recorder(backend: Backend) -> Statement {
    let dialect = backend.dialect();
    let mut id = ColumnDef::new(Alias::new("id"));
    id.custom(Alias::new(dialect.auto_column_type(SqlType::BigInt)))
        .primary_key();
    if backend == Backend::Sqlite {
        // Never reuse the id of a migration unapplied last.
        id.auto_increment();
    }
    let text = || Alias::new(dialect.column_type(SqlType::String, Some(255), None));
    let stmt = Table::create()
        .table(Alias::new(RECORDER_TABLE))
        .if_not_exists()
        .col(&mut id)
        .col(ColumnDef::new(Alias::new("app")).custom(text()).not_null())
        .col(ColumnDef::new(Alias::new("name")).custom(text()).not_null())
        .col(
            ColumnDef::new(Alias::new("applied"))
                .custom(Alias::new(dialect.column_type(
                    SqlType::DateTime,
                    None,
                    None,
                )))
                .not_null()
                .default(Expr::current_timestamp()),
        )
        .to_owned();
    Statement::raw(backend.build_schema(&stmt))
}

/// One row when the recorder table exists in the current schema, none
/// otherwise.
pub(crate) fn recorder_exists(backend: Backend) -> Statement {
    let mut stmt = Query::select();
    stmt.expr(Expr::cust("1"));
    match backend {
        Backend::Postgres => stmt
            .from((Alias::new("information_schema"), Alias::new("tables")))
            .and_where(Expr::col(Alias::new("table_name")).eq(RECORDER_TABLE))
            .and_where(
                Expr::col(Alias::new("table_schema")).eq(Func::cust(Alias::new("current_schema"))),
            ),
        _ => stmt
            .from(Alias::new("sqlite_master"))
            .and_where(Expr::col(Alias::new("type")).eq("table"))
            .and_where(Expr::col(Alias::new("name")).eq(RECORDER_TABLE)),
    };
    backend.build(&stmt)
}

/// `SELECT app, name FROM manouche_migrations`.
pub(crate) fn applied(backend: Backend) -> Statement {
    let stmt = Query::select()
        .columns([Alias::new("app"), Alias::new("name")])
        .from(Alias::new(RECORDER_TABLE))
        .to_owned();
    backend.build(&stmt)
}

/// Records `app.name` as applied.
///
/// # Errors
///
/// [`Error::Definition`] if sea-query refuses the row (it cannot: it has
/// a value per column).
pub(crate) fn record(app: &str, name: &str, backend: Backend) -> Result<Statement> {
    let stmt = Query::insert()
        .into_table(Alias::new(RECORDER_TABLE))
        .columns([Alias::new("app"), Alias::new("name")])
        .values([app.into(), name.into()])
        .map_err(|e| Error::Definition(e.to_string()))?
        .to_owned();
    Ok(backend.build(&stmt))
}

/// Forgets that `app.name` was applied.
pub(crate) fn unrecord(app: &str, name: &str, backend: Backend) -> Statement {
    let stmt = Query::delete()
        .from_table(Alias::new(RECORDER_TABLE))
        .and_where(Expr::col(Alias::new("app")).eq(app))
        .and_where(Expr::col(Alias::new("name")).eq(name))
        .to_owned();
    backend.build(&stmt)
}

/// `SELECT pg_advisory_xact_lock(key)`: waits until no other transaction
/// holds `migrate`'s lock, and holds it until the end of this one
/// (PostgreSQL).
pub(crate) fn lock(backend: Backend) -> Statement {
    let stmt = Query::select()
        .expr(Func::cust(Alias::new("pg_advisory_xact_lock")).arg(LOCK_KEY))
        .to_owned();
    backend.build(&stmt)
}

/// SQLite: ends the pool's (empty) transaction, turns foreign-key
/// enforcement off (possible only outside a transaction) and opens the
/// migration's transaction with the write lock.
pub(crate) const SQLITE_FOREIGN_KEYS_OFF: [&str; 3] =
    ["COMMIT", "PRAGMA foreign_keys = OFF", "BEGIN IMMEDIATE"];

/// SQLite: ends the migration's transaction with `end` (`COMMIT` or
/// `ROLLBACK`), turns foreign-key enforcement back on and leaves an empty
/// transaction for the pool's own `COMMIT` / `ROLLBACK`.
pub(crate) fn sqlite_foreign_keys_on(end: SqliteEnd) -> [&'static str; 3] {
    let end = match end {
        SqliteEnd::Commit => "COMMIT",
        SqliteEnd::Rollback => "ROLLBACK",
    };
    [end, "PRAGMA foreign_keys = ON", "BEGIN"]
}

/// How a migration's SQLite transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqliteEnd {
    Commit,
    Rollback,
}

/// SQLite: one row per foreign key that the migration left dangling.
pub(crate) const SQLITE_FOREIGN_KEY_CHECK: &str = "PRAGMA foreign_key_check";

/// What fills one column of a copied row.
#[derive(Debug, Clone)]
pub(crate) enum Source<'a> {
    /// The old row's column.
    Column(&'a str),
    /// A SQL literal.
    Literal(String),
    /// The old row's column, or the SQL literal where it is `NULL`.
    ColumnOr(&'a str, String),
}

/// `INSERT INTO into (targets) SELECT sources FROM from`, one source per
/// target column.
pub(crate) fn copy_rows(
    backend: Backend,
    into: &str,
    from: &str,
    columns: Vec<(&str, Source<'_>)>,
) -> String {
    let mut select = Query::select();
    let mut targets = Vec::with_capacity(columns.len());
    for (target, source) in columns {
        targets.push(Alias::new(target));
        select.expr(match source {
            Source::Column(column) => Expr::col(Alias::new(column)).into(),
            Source::Literal(literal) => Expr::cust(literal),
            Source::ColumnOr(column, literal) => {
                Func::coalesce([Expr::col(Alias::new(column)).into(), Expr::cust(literal)]).into()
            }
        });
    }
    select.from(Alias::new(from));
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(into))
        .columns(targets)
        .select_from(select)
        .expect("one source per target column");
    text(backend, &insert)
}

/// `UPDATE table SET column = literal WHERE column IS NULL`.
pub(crate) fn fill_nulls(backend: Backend, table: &str, column: &str, literal: &str) -> String {
    let stmt = Query::update()
        .table(Alias::new(table))
        .value(Alias::new(column), Expr::cust(literal))
        .and_where(Expr::col(Alias::new(column)).is_null())
        .to_owned();
    text(backend, &stmt)
}

/// Which rows [`count_rows`] counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowFilter<'a> {
    /// Rows whose column, as text, is longer than this many characters.
    LongerThan(&'a str, u32),
    /// Rows whose column is below the first bound or above the second.
    Outside(&'a str, i64, i64),
    /// Rows whose column is `NULL`.
    Null(&'a str),
    /// Rows for which this SQL condition is false.
    Failing(&'a str),
    /// Every row.
    All,
}

/// `SELECT COUNT(*) FROM table [WHERE filter]`.
pub(crate) fn count_rows(backend: Backend, table: &str, filter: RowFilter<'_>) -> String {
    let mut stmt = Query::select();
    stmt.expr(Expr::cust("COUNT(*)")).from(Alias::new(table));
    match filter {
        RowFilter::LongerThan(column, n) => {
            // `LENGTH` counts characters on both backends, as `VARCHAR(n)`
            // does; the cast covers a column that is not text yet.
            let length = Func::cust(Alias::new("LENGTH")).arg(Func::cast_as(
                Expr::col(Alias::new(column)),
                Alias::new("TEXT"),
            ));
            stmt.and_where(Expr::expr(length).gt(Expr::cust(n.to_string())));
        }
        RowFilter::Outside(column, min, max) => {
            let column = || Expr::col(Alias::new(column));
            stmt.and_where(
                column()
                    .lt(Expr::cust(min.to_string()))
                    .or(column().gt(Expr::cust(max.to_string()))),
            );
        }
        RowFilter::Null(column) => {
            stmt.and_where(Expr::col(Alias::new(column)).is_null());
        }
        RowFilter::Failing(condition) => {
            stmt.and_where(Expr::cust(format!("NOT ({condition})")));
        }
        RowFilter::All => {}
    }
    text(backend, &stmt)
}

/// The SQL of a statement without bound values.
fn text<S: sea_query::QueryStatementBuilder>(backend: Backend, stmt: &S) -> String {
    let built = backend.build(stmt);
    debug_assert!(built.values.0.is_empty(), "{} binds values", built.sql);
    built.sql.to_string()
}
#[cfg(test)]
mod tests {
    use super::{Source, copy_rows, fill_nulls, record};
    use crate::db::executor::Backend;

    #[test]
    fn the_data_statements_of_a_table_change_are_text() {
        let columns = vec![
            ("id", Source::Column("id")),
            ("stars", Source::ColumnOr("stars", "0".to_owned())),
            ("title", Source::Literal("'it''s'".to_owned())),
        ];
        assert_eq!(
            copy_rows(Backend::Sqlite, "new__blog_note", "blog_note", columns),
            r#"INSERT INTO "new__blog_note" ("id", "stars", "title") SELECT "id", COALESCE("stars", 0), 'it''s' FROM "blog_note""#
        );
        assert_eq!(
            fill_nulls(Backend::Postgres, "blog_note", "stars", "0"),
            r#"UPDATE "blog_note" SET "stars" = 0 WHERE "stars" IS NULL"#
        );
    }

    #[test]
    fn the_recorder_binds_its_values() {
        let stmt = record("blog", "0001_initial", Backend::Postgres).expect("a statement");
        assert_eq!(
            &*stmt.sql,
            r#"INSERT INTO "manouche_migrations" ("app", "name") VALUES ($1, $2)"#
        );
        assert_eq!(stmt.values.0, ["blog".into(), "0001_initial".into()]);
    }
}
