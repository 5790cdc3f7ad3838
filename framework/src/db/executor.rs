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

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
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
#[non_exhaustive]
pub enum Row {
    /// A SQLite row read by sqlx.
    Sqlite(sqlx::sqlite::SqliteRow),
    /// A SQLite row read on the calling thread, handed to a sink that
    /// decodes it at once (see [`RowSink::keeps_rows`]).
    SqliteLocal(super::LocalRow),
    /// A PostgreSQL row.
    Postgres(sqlx::postgres::PgRow),
}

/// A type that both backends can decode directly.
pub trait NativeDecode:
    for<'r> sqlx::Decode<'r, sqlx::Sqlite>
    + sqlx::Type<sqlx::Sqlite>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
    + 'static
{
}

impl<T> NativeDecode for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + 'static
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
            Self::SqliteLocal(row) => row.get::<T>(idx).ok_or_else(|| {
                sqlx::Error::Decode(
                    format!(
                        "a {} is not read without sqlx's driver",
                        std::any::type_name::<T>()
                    )
                    .into(),
                )
            }),
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
            Self::SqliteLocal(row) => row.is_null(idx),
            Self::Postgres(row) => row.try_get_raw(idx).map(|v| v.is_null()).unwrap_or(true),
        }
    }

    /// The number of columns.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Sqlite(row) => row.len(),
            Self::SqliteLocal(row) => row.len(),
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
            Self::Sqlite(_) | Self::SqliteLocal(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Where a query's rows go as they arrive.
///
/// The driver hands each row over as soon as it has read it, and the row is
/// dropped once the sink has taken what it wants from it (usually a decoded
/// model), so a query holds its output and never a second copy of the raw
/// rows. [`Executor::fetch_into`] takes a maker of sinks; most code uses
/// [`fetch_map`](trait.Executor.html#method.fetch_map) instead.
pub trait RowSink: Any + Send {
    /// Takes one row. An error stops the query: no further rows are read.
    ///
    /// # Errors
    ///
    /// Whatever decoding the row gave.
    fn push(&mut self, row: Row) -> Result<()>;

    /// Whether the sink may keep a [`Row`] past [`push`](Self::push) (to
    /// decode it later). A sink that decodes each row during `push` and
    /// keeps none says `false`: SQLite may then read the statement on the
    /// calling thread, handing over rows that decode the common types only
    /// ([`Row::SqliteLocal`]); a row that does not decode there makes the
    /// statement run again through sqlx, into a fresh sink.
    fn keeps_rows(&self) -> bool {
        true
    }
}

/// Makes an empty [`RowSink`] for one run of a statement.
///
/// A statement can run again from its start before its rows are answered
/// (SQLite's group commit runs a batch's statements again one by one after
/// a failure; PostgreSQL prepares a stale statement again), so the
/// executor asks for a fresh sink each time.
pub type NewSink = Arc<dyn Fn() -> Box<dyn RowSink> + Send + Sync>;

/// The raw rows, kept ([`Executor::fetch_all`]).
impl RowSink for Vec<Row> {
    fn push(&mut self, row: Row) -> Result<()> {
        Vec::push(self, row);
        Ok(())
    }
}

/// Rows decoded by a function as they arrive ([`Executor::fetch_map`]).
struct Decoded<T, F> {
    decode: Arc<F>,
    out: Vec<T>,
}

impl<T, F> RowSink for Decoded<T, F>
where
    T: Send + 'static,
    F: Fn(&Row) -> Result<T> + Send + Sync + 'static,
{
    fn push(&mut self, row: Row) -> Result<()> {
        self.out.push((self.decode)(&row)?);
        Ok(())
    }

    fn keeps_rows(&self) -> bool {
        // `decode` borrows each row; `Row` is not `Clone`.
        false
    }
}

/// The sink an executor gave back, as the type that made it.
pub(crate) fn sink_as<S: RowSink>(sink: Box<dyn RowSink>) -> Result<S> {
    let any: Box<dyn Any + Send> = sink;
    any.downcast::<S>().map(|s| *s).map_err(|_| Error::Query {
        source: sqlx::Error::Protocol(String::from(
            "an executor gave back another row sink than the one it was given",
        )),
    })
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
    ///
    /// The rows stay as the driver read them, each value a separate copy:
    /// to keep decoded values, `fetch_map` (on `dyn Executor`) holds far
    /// less.
    fn fetch_all<'a>(&'a self, stmt: Statement) -> BoxFuture<'a, Result<Vec<Row>>> {
        Box::pin(async move {
            let sink = self
                .fetch_into(stmt, Arc::new(|| Box::new(Vec::<Row>::new())))
                .await?;
            sink_as::<Vec<Row>>(sink)
        })
    }

    /// Runs a statement and hands every row, as the driver reads it, to a
    /// sink made by `sink`; returns the sink. A sink's error stops the
    /// query and is returned.
    fn fetch_into<'a>(
        &'a self,
        stmt: Statement,
        sink: NewSink,
    ) -> BoxFuture<'a, Result<Box<dyn RowSink>>>;

    /// Runs a statement and yields its rows one at a time, as the database
    /// produces them, holding one connection until the stream ends or is
    /// dropped. Memory stays bounded whatever the row count: SQLite steps
    /// the statement as the rows are taken (its worker keeps at most 50
    /// rows ahead), and PostgreSQL's rows are read off the socket as they
    /// are taken, so the server waits while the consumer is slow.
    ///
    /// Inside a [`Transaction`], the stream holds the transaction's
    /// connection: other queries on it wait until the stream is done.
    fn fetch_stream<'a>(&'a self, stmt: Statement) -> BoxStream<'a, Result<Row>>;

    /// Runs a statement and returns its first row, if any, without reading
    /// further.
    fn fetch_optional<'a>(&'a self, stmt: Statement) -> BoxFuture<'a, Result<Option<Row>>>;

    /// Runs a statement and returns the number of affected rows.
    fn execute<'a>(&'a self, stmt: Statement) -> BoxFuture<'a, Result<u64>>;

    /// Starts a transaction, or a savepoint when already inside one.
    fn begin<'a>(&'a self) -> BoxFuture<'a, Result<Transaction>>;

    /// Whether every query here runs on one connection (a transaction, or
    /// an in-memory SQLite database): a [`fetch_stream`](Self::fetch_stream)
    /// then holds it, and other queries wait until the stream is done.
    fn single_connection(&self) -> bool;
}

impl dyn Executor + '_ {
    /// Runs a statement and decodes each row with `decode` as the driver
    /// reads it: the result holds the decoded values only.
    ///
    /// # Errors
    ///
    /// The database's error, or the first error `decode` gives (the query
    /// stops there).
    pub async fn fetch_map<T, F>(&self, stmt: Statement, decode: F) -> Result<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(&Row) -> Result<T> + Send + Sync + 'static,
    {
        let decode = Arc::new(decode);
        let sink: NewSink = Arc::new(move || {
            Box::new(Decoded {
                decode: Arc::clone(&decode),
                out: Vec::new(),
            })
        });
        let sink = self.fetch_into(stmt, sink).await?;
        Ok(sink_as::<Decoded<T, F>>(sink)?.out)
    }
}
