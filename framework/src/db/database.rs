//! The [`Database`] handle: a connection pool over SQLite or PostgreSQL.
//!
//! ```
//! use manouche::db::{Database, DatabaseOptions};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &DatabaseOptions::default()).await?;
//! assert_eq!(db.backend(), manouche::db::Backend::Sqlite);
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

use super::backends::{postgres, sqlite};
use super::driver::{
    Execute, FetchInto, FetchOptional, Run, Unprepared, postgres_fresh_plan, postgres_rows,
};
use super::executor::{Backend, Executor, NewSink, Row, RowSink, Statement};
use super::sqlite_pool::SqlitePool;
use super::{Error, Result, Transaction};

/// Pool and connection settings for [`Database::connect`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DatabaseOptions {
    /// The most connections the pool opens (ignored for in-memory SQLite, which
    /// always uses one connection so that every query sees the same data).
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a query waits for a free connection before failing with
    /// [`Error::Unavailable`].
    pub acquire_timeout: Duration,
    /// Idle connections are closed after this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// How long SQLite waits on a locked database before giving up.
    pub sqlite_busy_timeout: Duration,
    /// PostgreSQL: check with a round trip that a connection still works
    /// before a query uses it (Django's `CONN_HEALTH_CHECKS`), so that a
    /// connection the server or a proxy closed while idle is replaced
    /// instead of failing a request. Costs one round trip per query. SQLite
    /// connections live in the process and are never checked.
    pub health_checks: bool,
    /// PostgreSQL: the server cancels a statement running longer than this
    /// (the connection's `statement_timeout`), with
    /// [`Error::StatementTimeout`](crate::db::Error::StatementTimeout).
    /// SQLite has no such limit. `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// SQLite: small reads of a database file run on the calling thread
    /// rather than through sqlx's worker thread (see
    /// [`Row::SqliteLocal`](crate::db::Row::SqliteLocal)); on by default.
    pub sqlite_inline_reads: bool,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(600)),
            sqlite_busy_timeout: Duration::from_secs(5),
            health_checks: true,
            statement_timeout: None,
            sqlite_inline_reads: true,
        }
    }
}

#[derive(Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(sqlx::PgPool),
}

#[derive(Debug, Default)]
struct QueryLog {
    count: AtomicU64,
    capturing: std::sync::atomic::AtomicBool,
    captured: std::sync::Mutex<Option<Vec<String>>>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    log: QueryLog,
    /// [`Database::estimated_rows`]' answers, per table, with when each was
    /// read.
    estimates: std::sync::Mutex<std::collections::HashMap<String, (Instant, Option<u64>)>>,
}

/// How long an estimate of a table's rows is kept before it is read again.
/// The statistics it comes from change only with `ANALYZE` or (on
/// PostgreSQL) autovacuum, so a few seconds' reuse changes nothing a list
/// shows, and spares a list page one or two queries. `ANALYZE` run through
/// the same [`Database`] forgets the kept ones at once.
const ESTIMATE_KEPT: Duration = Duration::from_secs(10);
/// The most tables whose estimates are kept (a bound on the map, which
/// the tables of a project stay well under).
const MOST_ESTIMATES: usize = 1024;

/// A handle on the database: a pool of connections to SQLite or PostgreSQL.
///
/// Cheap to clone (it is reference counted). A project connects to
/// `DATABASE_URL` by itself, so handlers just take `db: Db` (see [`Db`]).
///
/// On SQLite, statements run outside a transaction are gathered under
/// load, with the same answers as when run alone:
/// - data changes (`INSERT`, `UPDATE`, `DELETE`) arriving while another
///   is written are committed together: one transaction, one disk sync,
///   each statement answered only once the commit is durable; when one of
///   them fails, the others are run again one by one, so that each takes
///   effect exactly once (group commit);
/// - queued `SELECT`s of the same text run as one command on a
///   connection's worker thread instead of one hand-off each.
///
/// A transaction's statements are never gathered.
#[derive(Debug, Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

impl Database {
    /// Connects to the database named by `url`, choosing the backend from it:
    /// `sqlite://path.db` (created if missing), `sqlite::memory:`, or
    /// `postgres://user:password@host:port/dbname`.
    ///
    /// SQLite connections use WAL mode, a busy timeout and enforce foreign keys.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedUrl`] for another scheme, [`Error::Connect`] when the
    /// database cannot be reached.
    pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<Self> {
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(sqlite::pool(
                sqlite::connect(url, options).await?,
                url,
                options,
            ))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(postgres::connect(url, options).await?)
        } else {
            return Err(Error::UnsupportedUrl {
                url: crate::settings::redact_url(url),
            });
        };
        Ok(Self::from_pool(pool))
    }

    /// Like [`connect`](Self::connect), but opens connections only when a
    /// query needs one, so that a server starts (and answers 503 for pages
    /// that need the database) while the database is down. Must be called
    /// inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedUrl`] for another scheme, [`Error::Connect`] for a
    /// malformed URL.
    pub fn connect_lazy(url: &str, options: &DatabaseOptions) -> Result<Self> {
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(sqlite::pool(
                sqlite::connect_lazy(url, options)?,
                url,
                options,
            ))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(postgres::connect_lazy(url, options)?)
        } else {
            return Err(Error::UnsupportedUrl {
                url: crate::settings::redact_url(url),
            });
        };
        Ok(Self::from_pool(pool))
    }

    fn from_pool(pool: Pool) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                log: QueryLog::default(),
                estimates: std::sync::Mutex::default(),
            }),
        }
    }

    /// Connections in the pool, and how many of them are idle.
    #[must_use]
    pub fn pool_status(&self) -> (u32, usize) {
        match &self.inner.pool {
            Pool::Sqlite(pool) => pool.status(),
            Pool::Postgres(pool) => (pool.size(), pool.num_idle()),
        }
    }

    /// Whether a connection is checked before each query (see
    /// [`DatabaseOptions::health_checks`]; always `false` on SQLite).
    #[must_use]
    pub fn health_checks(&self) -> bool {
        match &self.inner.pool {
            Pool::Sqlite(pool) => pool.sqlx().options().get_test_before_acquire(),
            Pool::Postgres(pool) => pool.options().get_test_before_acquire(),
        }
    }

    /// The number of rows of `table` as the database's statistics put
    /// it, read without touching the table: PostgreSQL's `reltuples`
    /// (kept by autovacuum and `ANALYZE`), SQLite's `sqlite_stat1` (kept
    /// by `ANALYZE`). `None` when there is no such statistic yet: count
    /// the rows instead. Lists of big tables use it to say "about
    /// 1,000,000 rows" where `COUNT(*)` would read them all.
    ///
    /// An answer is kept for ten seconds per table (the statistics move
    /// only with `ANALYZE` or autovacuum); an `ANALYZE` run through this
    /// handle forgets the kept answers at once.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn estimated_rows(&self, table: &str) -> Result<Option<u64>> {
        if let Ok(kept) = self.inner.estimates.lock()
            && let Some(&(at, estimate)) = kept.get(table)
            && at.elapsed() < ESTIMATE_KEPT
        {
            return Ok(estimate);
        }
        let read = Instant::now();
        let estimate = self.read_estimate(table).await?;
        if let Ok(mut kept) = self.inner.estimates.lock() {
            if kept.len() >= MOST_ESTIMATES {
                kept.clear();
            }
            kept.insert(table.to_owned(), (read, estimate));
        }
        Ok(estimate)
    }

    /// [`estimated_rows`](Self::estimated_rows), read from the database.
    async fn read_estimate(&self, table: &str) -> Result<Option<u64>> {
        let rows: Vec<(i64,)> = match self.backend() {
            Backend::Postgres => {
                super::raw(
                    "SELECT CAST(c.reltuples AS BIGINT) FROM pg_class c \
                     WHERE c.oid = to_regclass($1) AND c.reltuples >= 0",
                )
                // Quoted, as `to_regclass` reads it: its case is kept.
                .bind(super::schema::quote_ident(table))
                .fetch_all(self)
                .await?
            }
            Backend::Sqlite => {
                let stats: Vec<(i64,)> = super::raw(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'",
                )
                .fetch_all(self)
                .await?;
                if stats.first().is_none_or(|(n,)| *n == 0) {
                    return Ok(None);
                }
                let stat: Vec<(String,)> = super::raw(
                    "SELECT stat FROM sqlite_stat1 WHERE tbl = ? ORDER BY idx IS NOT NULL LIMIT 1",
                )
                .bind(table.to_owned())
                .fetch_all(self)
                .await?;
                stat.first()
                    .and_then(|(s,)| s.split(' ').next()?.parse::<i64>().ok())
                    .map(|n| (n,))
                    .into_iter()
                    .collect()
            }
        };
        Ok(rows.first().and_then(|(n,)| u64::try_from(*n).ok()))
    }

    /// The backend this database runs on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.inner.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// How many statements have run through this database (and its
    /// transactions) since it was connected. Tests use it to check that
    /// `select_related` / `prefetch_related` avoid N+1 queries.
    #[must_use]
    pub fn query_count(&self) -> u64 {
        self.inner.log.count.load(Ordering::SeqCst)
    }

    /// Starts recording the SQL text of every statement (for tests and
    /// debugging); [`Database::captured_queries`] returns them.
    pub fn capture_queries(&self) {
        if let Ok(mut captured) = self.inner.log.captured.lock() {
            *captured = Some(Vec::new());
            self.inner.log.capturing.store(true, Ordering::SeqCst);
        }
    }

    /// The SQL recorded since [`Database::capture_queries`] (empty when not
    /// capturing).
    #[must_use]
    pub fn captured_queries(&self) -> Vec<String> {
        self.inner
            .log
            .captured
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .unwrap_or_default()
    }

    /// Checks that the database answers (`SELECT 1`), for readiness probes.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] while the database cannot be reached.
    pub async fn ping(&self) -> Result<()> {
        Executor::fetch_all(self, Statement::raw("SELECT 1"))
            .await
            .map(|_| ())
    }

    /// Closes every connection of the pool; later queries fail.
    pub async fn close(&self) {
        match &self.inner.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Runs a SQL statement given as text, with no bound values (DDL, pragmas).
    ///
    /// Never build `sql` from user input; use query sets or
    /// [`raw()`](super::raw()) with bound values instead.
    ///
    /// # Errors
    ///
    /// The database's error, classified (see [`Error`]).
    pub async fn execute_unprepared(&self, sql: &str) -> Result<()> {
        self.run(Statement::raw(sql), Unprepared).await
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Counts (and captures) a statement about to run; returns when it
    /// started, for [`finished`].
    pub(crate) fn note(&self, sql: &str) -> Instant {
        self.inner.log.count.fetch_add(1, Ordering::SeqCst);
        let head = sql.trim_start().as_bytes();
        if head.len() >= 7
            && head[..7].eq_ignore_ascii_case(b"ANALYZE")
            && let Ok(mut kept) = self.inner.estimates.lock()
        {
            kept.clear();
        }
        // The flag keeps the lock off the hot path when not capturing.
        if self.inner.log.capturing.load(Ordering::Relaxed)
            && let Ok(mut captured) = self.inner.log.captured.lock()
            && let Some(list) = captured.as_mut()
        {
            list.push(sql.to_owned());
        }
        Instant::now()
    }
}

/// Statements slower than this are logged as warnings.
const SLOW_QUERY: Duration = Duration::from_secs(1);

/// Logs a statement that ran (debug level; warning when slow).
pub(crate) fn finished(sql: &str, started: Instant) {
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    if elapsed >= SLOW_QUERY {
        tracing::warn!(target: "manouche::db", sql, elapsed_ms, "slow query");
    } else {
        tracing::debug!(target: "manouche::db", sql, elapsed_ms);
    }
}

/// Turns a driver error into a typed [`Error`].
pub(crate) fn classify(backend: Backend, err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::Database(db_err) => backend.dialect().classify(db_err),
        e @ (sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed) => Error::Unavailable { source: e },
        e @ (sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::Decode(_)) => Error::Decode {
            column: String::from("?"),
            source: e,
        },
        e => Error::Query { source: e },
    }
}

impl Database {
    /// Runs `stmt` on a connection from the pool: counted, timed, logged and
    /// its error classified.
    async fn run<R: Run>(&self, stmt: Statement, run: R) -> Result<R::Output> {
        let started = self.note(&stmt.sql);
        let res = match &self.inner.pool {
            Pool::Sqlite(p) => p.run(Arc::clone(&stmt.sql), stmt.values, run).await,
            Pool::Postgres(p) => match p.acquire().await {
                Ok(mut conn) => postgres_fresh_plan(run, &mut conn, &stmt.sql, stmt.values).await,
                Err(e) => Err(e),
            },
        };
        finished(&stmt.sql, started);
        res.map_err(|e| classify(self.backend(), e))
    }
}

impl Executor for Database {
    fn backend(&self) -> Backend {
        Database::backend(self)
    }

    fn database(&self) -> &Database {
        self
    }

    fn fetch_into<'a>(
        &'a self,
        stmt: Statement,
        sink: NewSink,
    ) -> BoxFuture<'a, Result<Box<dyn RowSink>>> {
        Box::pin(async move { self.run(stmt, FetchInto(sink)).await? })
    }

    fn fetch_stream<'a>(&'a self, stmt: Statement) -> BoxStream<'a, Result<Row>> {
        let backend = self.backend();
        let fail = move |e| classify(backend, e);
        Box::pin(async_stream::try_stream! {
            let started = self.note(&stmt.sql);
            match &self.inner.pool {
                Pool::Sqlite(p) => {
                    // A connection of its own, never a combined read: the
                    // statement steps as the rows are taken.
                    let mut conn = p.acquire().await.map_err(fail)?;
                    let mut rows = conn.rows(&stmt.sql, stmt.values);
                    while let Some(row) = rows.try_next().await.map_err(fail)? {
                        yield row;
                    }
                    drop(rows);
                    // Dropped before its end, the stream stops the
                    // statement and drops `conn`, which goes back through
                    // sqlx's checked path.
                    p.release(conn, &Ok(()));
                }
                Pool::Postgres(p) => {
                    let mut conn = p.acquire().await.map_err(fail)?;
                    let mut rows = postgres_rows(&mut conn, &stmt.sql, stmt.values, true);
                    while let Some(row) = rows.try_next().await.map_err(fail)? {
                        yield row;
                    }
                }
            }
            finished(&stmt.sql, started);
        })
    }

    fn fetch_optional<'a>(&'a self, stmt: Statement) -> BoxFuture<'a, Result<Option<Row>>> {
        Box::pin(self.run(stmt, FetchOptional))
    }

    fn execute<'a>(&'a self, stmt: Statement) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.run(stmt, Execute))
    }

    fn begin<'a>(&'a self) -> BoxFuture<'a, Result<Transaction>> {
        Box::pin(Transaction::begin_on(self))
    }

    fn single_connection(&self) -> bool {
        let most = match &self.inner.pool {
            Pool::Sqlite(p) => p.sqlx().options().get_max_connections(),
            Pool::Postgres(p) => p.options().get_max_connections(),
        };
        most <= 1
    }
}

/// The database handle, under the name handlers take it by: `db: Db`.
///
/// The extractor itself lives with the rest of the HTTP side, in
/// [`crate::web`]; it answers a 500 ([`MissingDatabase`](crate::web::MissingDatabase))
/// when the project has no database configured.
pub type Db = Database;
