//! The calls into sqlx, on one connection, shared by pooled queries
//! ([`Database`](super::Database)) and transactions.
//!
//! A pooled query acquires a connection and runs on it directly rather than
//! through sqlx's `Executor for &Pool`: that implementation wraps every
//! `fetch_all` in a channel-backed stream, work on every query that a
//! connection's own stream does not need.
//!
//! Each call is a plain function returning a boxed future: inside the
//! `async` blocks of the executors, rustc cannot prove the higher-ranked
//! `Send` / `Executor` bounds of sqlx's connection reborrows.
//!
//! PostgreSQL connections keep their prepared statements. When another
//! connection changes the type of a column one of them returns (a
//! `migrate` while the site serves), PostgreSQL refuses to run it again
//! ("cached plan must not change result type"). [`postgres_fresh_plan`]
//! then clears that connection's statements and runs the statement once
//! more, so a running instance survives a deploy's migration;
//! [`postgres_in_transaction`] does the same for the first statement of a
//! transaction.

use std::sync::Arc;

use futures_util::TryStreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sea_query::Values;
use sea_query_binder::SqlxValues;

use super::Result;
use super::backends::postgres::is_stale_plan;
use super::executor::{NewSink, Row, RowSink, sink_as};

pub(crate) type SqlxResult<T> = std::result::Result<T, sqlx::Error>;

/// What to do with a statement: every row into a sink, at most one row, or
/// the number of affected rows.
///
/// A kind is cloned for each run of its statement (a statement may run
/// again, see [`NewSink`]); the kinds are unit structs or an `Arc`.
pub(crate) trait Run: Clone + Send + 'static {
    /// What the statement returns.
    type Output: Send;

    /// Whether a data change run this way may join SQLite's group commit
    /// (not text that may hold several statements of its own).
    const MAY_GROUP: bool = true;

    /// For a kind that reads rows, which SQLite runs several to one
    /// command: where the rows go ([`from_sink`](Run::from_sink) gives the
    /// output from it).
    fn sink(&self) -> Option<NewSink> {
        None
    }

    /// The output from the sink that took every row of the statement.
    fn from_sink(_sink: Result<Box<dyn RowSink>>) -> SqlxResult<Self::Output> {
        Err(sqlx::Error::WorkerCrashed)
    }

    /// Runs on a SQLite connection.
    fn sqlite<'c>(
        self,
        conn: &'c mut sqlx::SqliteConnection,
        sql: &'c str,
        values: SqlxValues,
    ) -> BoxFuture<'c, SqlxResult<Self::Output>>;

    /// Runs on a PostgreSQL connection.
    fn postgres<'c>(
        self,
        conn: &'c mut sqlx::PgConnection,
        sql: &'c str,
        values: SqlxValues,
    ) -> BoxFuture<'c, SqlxResult<Self::Output>>;
}

/// Every row, handed to a fresh sink as it is read. The sink's own error
/// (a row that does not decode) stops the statement and is the output.
#[derive(Clone)]
pub(crate) struct FetchInto(pub(crate) NewSink);

/// The first row, if any; the driver stops after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchOptional;

/// The number of affected rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Execute;

/// Text run as it is, without preparing it and without values: DDL,
/// pragmas, savepoints, several statements separated by `;`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unprepared;

/// Logs and counts (`manouche_db_statements_prepared_again_total`) a
/// statement run again after its connection's prepared statements were
/// cleared (see the module doc); `then` says what happens next.
fn prepared_again(sql: &str, then: &str) {
    tracing::info!(
        target: "manouche::db",
        sql,
        "a column type changed since this connection prepared the statement; {then}"
    );
    metrics::counter!("manouche_db_statements_prepared_again_total").increment(1);
}

/// Runs `run` on a pooled PostgreSQL connection; when the connection's
/// prepared copy of the statement is stale (see the module doc), clears the
/// connection's prepared statements and runs it once more.
///
/// PostgreSQL raises that error while planning, before the statement does
/// anything, so running it again cannot apply a change twice. The values
/// are kept for that second run: a clone, which allocates only for a
/// statement with values.
pub(crate) fn postgres_fresh_plan<'c, R: Run>(
    run: R,
    conn: &'c mut sqlx::PgConnection,
    sql: &'c str,
    values: Values,
) -> BoxFuture<'c, SqlxResult<R::Output>> {
    Box::pin(async move {
        match run
            .clone()
            .postgres(conn, sql, SqlxValues(values.clone()))
            .await
        {
            Err(e) if is_stale_plan(&e) => {
                prepared_again(sql, "preparing it again");
                sqlx::Connection::clear_cached_statements(&mut *conn).await?;
                run.postgres(conn, sql, SqlxValues(values)).await
            }
            other => other,
        }
    })
}

/// Runs `run` in a PostgreSQL transaction. On a stale prepared statement
/// (see the module doc) PostgreSQL has aborted the transaction, so the
/// connection's prepared statements are cleared and:
/// - when it was the transaction's `first` statement, nothing of the
///   transaction is lost: it starts again (`ROLLBACK`, `BEGIN`) and the
///   statement runs once more;
/// - otherwise the error stands, and the next transaction on the
///   connection prepares its statements afresh.
pub(crate) fn postgres_in_transaction<'c, R: Run>(
    run: R,
    conn: &'c mut sqlx::PgConnection,
    sql: &'c str,
    values: Values,
    first: bool,
) -> BoxFuture<'c, SqlxResult<R::Output>> {
    Box::pin(async move {
        let again = first.then(|| values.clone());
        match run.clone().postgres(conn, sql, SqlxValues(values)).await {
            Err(e) if is_stale_plan(&e) => {
                let cleared = sqlx::Connection::clear_cached_statements(&mut *conn).await;
                let (Some(values), Ok(())) = (again, cleared) else {
                    return Err(e);
                };
                prepared_again(sql, "restarting the transaction it began");
                sqlx::Executor::execute(&mut *conn, "ROLLBACK; BEGIN").await?;
                run.postgres(conn, sql, SqlxValues(values)).await
            }
            other => other,
        }
    })
}

/// The rows of one statement on a SQLite connection, as sqlx reads them
/// (its worker steps the statement at most 50 rows ahead).
pub(crate) fn sqlite_rows<'c>(
    conn: &'c mut sqlx::SqliteConnection,
    sql: &'c str,
    values: Values,
) -> BoxStream<'c, SqlxResult<Row>> {
    Box::pin(
        sqlx::query_with(sql, SqlxValues(values))
            .fetch(conn)
            .map_ok(Row::Sqlite),
    )
}

/// The rows of one statement on a PostgreSQL connection, read off the
/// socket as they are taken. A stale prepared statement (see the module
/// doc) fails before any row; the connection's statements are then
/// cleared, and with `again` the statement runs once more, as
/// [`postgres_fresh_plan`] does (inside a transaction, which PostgreSQL
/// has then aborted, the error stands).
pub(crate) fn postgres_rows<'c>(
    conn: &'c mut sqlx::PgConnection,
    sql: &'c str,
    values: Values,
    again: bool,
) -> BoxStream<'c, SqlxResult<Row>> {
    Box::pin(async_stream::try_stream! {
        let mut retry = again.then(|| values.clone());
        let mut next = Some(values);
        while let Some(values) = next.take() {
            let mut rows = sqlx::query_with(sql, SqlxValues(values)).fetch(&mut *conn);
            let mut read_any = false;
            let failed = loop {
                match rows.try_next().await {
                    Ok(Some(row)) => {
                        read_any = true;
                        yield Row::Postgres(row);
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            drop(rows);
            let Some(e) = failed else { break };
            let stale = !read_any && is_stale_plan(&e);
            if stale {
                let _ = sqlx::Connection::clear_cached_statements(&mut *conn).await;
            }
            match retry.take().filter(|_| stale) {
                Some(values) => {
                    prepared_again(sql, "preparing it again");
                    next = Some(values);
                }
                None => Err(e)?,
            }
        }
    })
}

/// One implementation per backend from one body, which sees the SQL text,
/// the values, the connection and the backend's [`Row`] variant.
macro_rules! run_impl {
    ($ty:ty, $output:ty, { $($extra:item)* } |$this:ident, $sql:ident, $values:ident, $conn:ident, $wrap:ident| $body:block) => {
        impl Run for $ty {
            type Output = $output;
            $($extra)*

            fn sqlite<'c>(
                self,
                conn: &'c mut sqlx::SqliteConnection,
                sql: &'c str,
                values: SqlxValues,
            ) -> BoxFuture<'c, SqlxResult<Self::Output>> {
                Box::pin(async move {
                    let ($this, $sql, $values, $conn, $wrap) = (self, sql, values, conn, Row::Sqlite);
                    $body
                })
            }

            fn postgres<'c>(
                self,
                conn: &'c mut sqlx::PgConnection,
                sql: &'c str,
                values: SqlxValues,
            ) -> BoxFuture<'c, SqlxResult<Self::Output>> {
                Box::pin(async move {
                    let ($this, $sql, $values, $conn, $wrap) = (self, sql, values, conn, Row::Postgres);
                    $body
                })
            }
        }
    };
}

run_impl!(
    FetchInto,
    Result<Box<dyn RowSink>>,
    {
        fn sink(&self) -> Option<NewSink> {
            Some(Arc::clone(&self.0))
        }
        fn from_sink(sink: Result<Box<dyn RowSink>>) -> SqlxResult<Self::Output> {
            Ok(sink)
        }
    } | this,
    sql,
    values,
    conn,
    wrap | {
        let mut sink = (this.0)();
        let mut rows = sqlx::query_with(sql, values).fetch(conn);
        while let Some(row) = rows.try_next().await? {
            if let Err(e) = sink.push(wrap(row)) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(sink))
    }
);

/// The first row kept by a combined read (see [`FetchOptional`]).
struct First(Option<Row>);

impl RowSink for First {
    fn push(&mut self, row: Row) -> Result<()> {
        if self.0.is_none() {
            self.0 = Some(row);
        }
        Ok(())
    }
}

run_impl!(
    FetchOptional,
    Option<Row>,
    {
        fn sink(&self) -> Option<NewSink> {
            Some(Arc::new(|| Box::new(First(None))))
        }
        fn from_sink(sink: Result<Box<dyn RowSink>>) -> SqlxResult<Self::Output> {
            let first = sink
                .and_then(sink_as::<First>)
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            Ok(first.0)
        }
    } | _this,
    sql,
    values,
    conn,
    wrap | {
        let row = sqlx::query_with(sql, values).fetch_optional(conn).await?;
        Ok(row.map(wrap))
    }
);

run_impl!(
    Execute,
    u64,
    {} | _this,
    sql,
    values,
    conn,
    _wrap | {
        let done = sqlx::query_with(sql, values).execute(conn).await?;
        Ok(done.rows_affected())
    }
);

run_impl!(
    Unprepared,
    (),
    {
        const MAY_GROUP: bool = false;
    } | _this,
    sql,
    _values,
    conn,
    _wrap | {
        // Text without arguments goes through the simple query protocol, which
        // accepts several statements.
        sqlx::Executor::execute(conn, sql).await.map(|_| ())
    }
);
