//! What queries run on: a [`Database`](super::Database) pool or a
//! [`Transaction`](super::Transaction), and the rows they return.
//!
//! Every query method takes `&dyn Executor`, so the same code runs inside and
//! outside a transaction:
//!
//! ```
//! # use manouche::db::{Database, DatabaseOptions, Executor};
//! # tokio_test_block(async {
//! let db = Database::connect("sqlite::memory:", &DatabaseOptions::default()).await?;
//! let exec: &dyn Executor = &db;
//! assert_eq!(exec.backend(), manouche::db::Backend::Sqlite);
//! # Ok::<_, manouche::db::Error>(())
//! # });
//! # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use std::sync::Arc;

use futures_util::future::BoxFuture;
use sea_query::Values;
use sqlx::{Row as _, ValueRef as _};

use super::{Database, Error, Result, Transaction};

/// The database backends Manouche supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite (embedded).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// Renders a sea-query statement for this backend: SQL text plus bound values.
    pub(crate) fn build<S: sea_query::QueryStatementBuilder>(self, stmt: &S) -> Statement {
        let (sql, values) = stmt.build_any(self.dialect().query_builder());
        Statement {
            sql: sql.into(),
            values,
        }
    }

    /// Renders a schema statement (DDL) for this backend.
    pub(crate) fn build_schema<S: sea_query::SchemaStatementBuilder>(self, stmt: &S) -> String {
        stmt.build_any(self.dialect().schema_builder())
    }
}

/// One SQL statement with its bound values.
///
/// Values are always sent separately from the SQL text; identifiers in the
/// text come only from model definitions.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The SQL text, with backend-specific placeholders (shared: the ORM
    /// keeps the text of each query shape and hands out references to it).
    pub sql: Arc<str>,
    /// The values bound to the placeholders.
    pub values: Values,
}

impl Statement {
    /// A statement without bound values.
    pub fn raw(sql: impl Into<Arc<str>>) -> Self {
        Self {
            sql: sql.into(),
            values: Values(Vec::new()),
        }
    }
}

/// A row returned by a query, from either backend.
pub enum Row {
    /// A SQLite row.
    Sqlite(sqlx::sqlite::SqliteRow),
    /// A PostgreSQL row.
    Postgres(sqlx::postgres::PgRow),
}

/// A type that both backends can decode directly.
pub trait NativeDecode:
    for<'r> sqlx::Decode<'r, sqlx::Sqlite>
    + sqlx::Type<sqlx::Sqlite>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
{
}

impl<T> NativeDecode for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
{
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Row({:?}, {} columns)", self.backend(), self.len())
    }
}

impl Row {
    /// Decodes column `idx` as `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the column is missing or has another type.
    pub fn get<T: NativeDecode>(&self, idx: usize) -> Result<T> {
        let res = match self {
            Self::Sqlite(row) => row.try_get::<T, _>(idx),
            Self::Postgres(row) => row.try_get::<T, _>(idx),
        };
        res.map_err(|source| Error::Decode {
            column: format!("#{idx}"),
            source,
        })
    }

    /// Whether column `idx` is SQL `NULL` (a missing column counts as `NULL`).
    #[must_use]
    pub fn is_null(&self, idx: usize) -> bool {
        match self {
            Self::Sqlite(row) => row.try_get_raw(idx).map(|v| v.is_null()).unwrap_or(true),
            Self::Postgres(row) => row.try_get_raw(idx).map(|v| v.is_null()).unwrap_or(true),
        }
    }

    /// The number of columns.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Sqlite(row) => row.len(),
            Self::Postgres(row) => row.len(),
        }
    }

    /// Whether the row has no columns.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The backend the row came from.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Something queries can run on: a [`Database`] or a [`Transaction`].
///
/// Users do not implement this trait; they pass `&db` or `&tx` to query
/// methods.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot run queries",
    label = "expected `&Database`, `&Db` or `&Transaction`",
    note = "pass the database handle (`&db`) or a transaction (`&tx`)"
)]
pub trait Executor: Send + Sync {
    /// The backend queries run on.
    fn backend(&self) -> Backend;

    /// The database this executor belongs to (for query counting and new
    /// transactions).
    fn database(&self) -> &Database;

    /// Runs a statement and returns every row.
    fn fetch_all<'a>(&'a self, stmt: Statement) -> BoxFuture<'a, Result<Vec<Row>>>;

    /// Runs a statement and returns its first row, if any, without reading
    /// further.
    fn fetch_optional<'a>(&'a self, stmt: Statement) -> BoxFuture<'a, Result<Option<Row>>>;

    /// Runs a statement and returns the number of affected rows.
    fn execute<'a>(&'a self, stmt: Statement) -> BoxFuture<'a, Result<u64>>;

    /// Starts a transaction, or a savepoint when already inside one.
    fn begin<'a>(&'a self) -> BoxFuture<'a, Result<Transaction>>;
}
