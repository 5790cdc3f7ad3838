//! SQLite specifics: connection options, column types and error messages.

use std::str::FromStr;

use sqlx::error::DatabaseError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use super::Dialect;
use crate::db::{DatabaseOptions, Error, Result, SqlType};

/// The Sqlite dialect.
pub(crate) struct Sqlite;

impl Dialect for Sqlite {
    fn query_builder(&self) -> &dyn sea_query::QueryBuilder {
        &sea_query::SqliteQueryBuilder
    }

    fn schema_builder(&self) -> &dyn sea_query::SchemaBuilder {
        &sea_query::SqliteQueryBuilder
    }

    fn column_type(
        &self,
        ty: SqlType,
        max_length: Option<u32>,
        decimal: Option<(u32, u32)>,
    ) -> String {
        match (ty, decimal) {
            (SqlType::Decimal, Some((digits, places))) => format!("DECIMAL({digits}, {places})"),
            _ => column_type(ty, max_length),
        }
    }

    fn auto_column_type(&self, _ty: SqlType) -> String {
        // `INTEGER PRIMARY KEY` is SQLite's rowid alias: auto-increment.
        "INTEGER".to_owned()
    }

    fn classify(&self, err: Box<dyn DatabaseError>) -> Error {
        classify(err)
    }
}

/// Rows sqlx's worker may read ahead (see `pool_options`): more than a
/// page of a list (Django's admin shows 100 at most by default), with its
/// end.
const ROWS_AHEAD: usize = 256;

/// The pool over sqlx's `pool`, with reads on the calling thread unless
/// `options` turn them off or the database is in memory.
pub(crate) fn pool(
    pool: sqlx::SqlitePool,
    url: &str,
    options: &DatabaseOptions,
) -> crate::db::sqlite_pool::SqlitePool {
    crate::db::sqlite_pool::SqlitePool::new(pool, options.sqlite_inline_reads, in_memory(url))
}

/// Whether `url` names an in-memory database.
fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

pub(crate) async fn connect(url: &str, options: &DatabaseOptions) -> Result<sqlx::SqlitePool> {
    let (pool, connect) = pool_options(url, options)?;
    pool.connect_with(connect)
        .await
        .map_err(|source| Error::Connect { source })
}

/// A pool that opens its first connection when first used (needs a Tokio
/// runtime).
pub(crate) fn connect_lazy(url: &str, options: &DatabaseOptions) -> Result<sqlx::SqlitePool> {
    let (pool, connect) = pool_options(url, options)?;
    Ok(pool.connect_lazy_with(connect))
}

fn pool_options(
    url: &str,
    options: &DatabaseOptions,
) -> Result<(SqlitePoolOptions, SqliteConnectOptions)> {
    let memory = in_memory(url);
    let mut connect = SqliteConnectOptions::from_str(url)
        .map_err(|source| Error::Connect { source })?
        .create_if_missing(true)
        .foreign_keys(true)
        // `LIKE` keeps SQLite's default, case-insensitive for ASCII letters,
        // as under Django: the case-insensitive lookups use it, and the
        // case-sensitive ones `GLOB` (see the query compiler's `like`).
        .busy_timeout(options.sqlite_busy_timeout)
        // How many rows sqlx's worker thread may read ahead of the query's
        // task. sqlx's 50 stopped the worker at a page's 51st message (50
        // rows and the statement's end) until the task woke and read: a
        // futex wait and a wake-up per page of 50, a tenth of a logged-in
        // admin list's CPU. A stream still holds only this many rows ahead.
        .row_buffer_size(ROWS_AHEAD);
    if !memory {
        connect = connect.journal_mode(SqliteJournalMode::Wal);
    }
    // No ping before handing out a connection: an SQLite connection is a
    // file handle in this process, with no peer that could have hung up,
    // and the ping is a round trip to the connection's worker thread on
    // every query. (PostgreSQL keeps sqlx's check: a server or a proxy may
    // have closed an idle connection.)
    let mut pool = SqlitePoolOptions::new()
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false);
    pool = if memory {
        // Every connection to `:memory:` is a separate database: keep exactly
        // one, forever.
        pool.max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        pool.max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .idle_timeout(options.idle_timeout)
    };
    Ok((pool, connect))
}

fn column_type(ty: SqlType, max_length: Option<u32>) -> String {
    match ty {
        SqlType::Bool => "BOOLEAN".into(),
        SqlType::SmallInt => "SMALLINT".into(),
        SqlType::Integer => "INTEGER".into(),
        SqlType::BigInt => "BIGINT".into(),
        SqlType::Double => "REAL".into(),
        // NUMERIC affinity, as Django does: comparisons and sums are numeric;
        // SQLite keeps about 15 significant digits.
        SqlType::Decimal => "DECIMAL".into(),
        SqlType::String => match max_length {
            Some(n) => format!("VARCHAR({n})"),
            None => "TEXT".into(),
        },
        SqlType::Date => "DATE".into(),
        SqlType::Time => "TIME".into(),
        SqlType::DateTime => "DATETIME".into(),
        SqlType::Uuid => "BLOB".into(),
        SqlType::Json => "TEXT".into(),
        SqlType::Bytes => "BLOB".into(),
    }
}

fn classify(err: Box<dyn DatabaseError>) -> Error {
    let msg = err.message().to_owned();
    if let Some(rest) = msg.strip_prefix("UNIQUE constraint failed: ") {
        // "UNIQUE constraint failed: table.a, table.b"
        let mut table = String::new();
        let fields = rest
            .split(", ")
            .map(|qualified| match qualified.split_once('.') {
                Some((t, c)) => {
                    table = t.to_owned();
                    c.to_owned()
                }
                None => qualified.to_owned(),
            })
            .collect();
        return Error::UniqueViolation { table, fields };
    }
    if let Some(rest) = msg.strip_prefix("NOT NULL constraint failed: ") {
        let (table, field) = rest.split_once('.').unwrap_or(("", rest));
        return Error::NotNullViolation {
            table: table.to_owned(),
            field: field.to_owned(),
        };
    }
    if let Some(constraint) = msg.strip_prefix("CHECK constraint failed: ") {
        return Error::CheckViolation {
            table: String::new(),
            constraint: constraint.to_owned(),
        };
    }
    if msg.starts_with("FOREIGN KEY constraint failed") {
        // SQLite does not say which key; the caller fills the table in.
        return Error::ForeignKeyViolation {
            table: String::new(),
            fields: Vec::new(),
        };
    }
    if let Some(table) = msg.strip_prefix("no such table: ") {
        return Error::MissingTable {
            table: table.to_owned(),
        };
    }
    if msg.starts_with("no such column") || msg.contains("has no column named") {
        return Error::MissingColumn { message: msg };
    }
    Error::Query {
        source: sqlx::Error::Database(err),
    }
}
