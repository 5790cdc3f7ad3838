//! Transactions, nested through savepoints.
//!
//! The closure form commits when the closure returns `Ok`, and rolls back when
//! it returns `Err` or panics:
//!
//! ```
//! use manouche::db::{Database, DatabaseOptions, Executor};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &DatabaseOptions::default()).await?;
//! let answer = db
//!     .transaction(|tx| async move {
//!         // run queries with `&tx`; nested `tx.transaction(..)` uses a savepoint
//!         let _ = tx.backend();
//!         Ok::<_, manouche::db::Error>(42)
//!     })
//!     .await?;
//! assert_eq!(answer, 42);
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt as _, TryStreamExt as _};
use tokio::sync::Mutex;

use super::database::{Pool, classify, finished};
use super::driver::{
    Execute, FetchInto, FetchOptional, Run, Unprepared, postgres_in_transaction, postgres_rows,
};
use super::executor::{Backend, Executor, NewSink, Row, RowSink, Statement};
use super::sqlite_pool::{Stop, watched, watched_rows};
use super::{Database, Error, Result};

enum Conn {
    /// With the connection's stop flag: a statement dropped before its end
    /// is stopped (see `sqlite_pool`).
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>, Stop),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

struct State {
    conn: Option<Conn>,
    next_savepoint: usize,
    /// No statement has run in the transaction yet.
    fresh: bool,
}

/// An open transaction (or savepoint, when nested).
///
/// Pass `&tx` wherever a query wants an [`Executor`]. Dropping a transaction
/// without [`commit`](Transaction::commit) rolls it back. Clones share the
/// same transaction; prefer [`Database::transaction`] which commits or rolls
/// back for you.
#[derive(Clone)]
pub struct Transaction {
    db: Database,
    state: Arc<Mutex<State>>,
    /// `None` for the outermost transaction, else its savepoint.
    savepoint: Option<Savepoint>,
    finished: Arc<AtomicBool>,
    /// Savepoints dropped without commit or rollback, rolled back before
    /// the next statement (a destructor cannot run SQL). Apart from the
    /// state's lock, so that a drop records its savepoint even while a
    /// statement or a stream holds that lock.
    abandoned: Arc<std::sync::Mutex<Vec<Savepoint>>>,
}

/// A savepoint, by its number in its transaction: made later, numbered
/// higher. Shown as its SQL name, `manouche_sp_N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Savepoint(usize);

impl std::fmt::Display for Savepoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "manouche_sp_{}", self.0)
    }
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("savepoint", &self.savepoint)
            .finish_non_exhaustive()
    }
}

/// Whether a transaction may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadWrite,
    ReadOnly,
}

impl Transaction {
    pub(crate) async fn begin_on(db: &Database) -> Result<Self> {
        Self::begin_with(db, Access::ReadWrite).await
    }

    pub(crate) async fn begin_with(db: &Database, access: Access) -> Result<Self> {
        db.note(match access {
            Access::ReadWrite => "BEGIN",
            Access::ReadOnly => "BEGIN READ ONLY",
        });
        let backend = db.backend();
        let conn = match db.pool() {
            Pool::Sqlite(p) => {
                // IMMEDIATE takes the write lock up front: a deferred
                // transaction that reads then writes can fail with
                // SQLITE_BUSY regardless of the busy timeout when another
                // writer got in between. A read-only one takes no lock
                // until its first read, and only a shared one then (in WAL
                // mode, none that stops writers).
                let begin = match access {
                    Access::ReadWrite => "BEGIN IMMEDIATE",
                    Access::ReadOnly => "BEGIN DEFERRED",
                };
                let (conn, stop) = p
                    .acquire()
                    .await
                    .map_err(|e| classify(backend, e))?
                    .into_parts();
                Conn::Sqlite(
                    sqlx::Transaction::begin(conn, Some(begin.into()))
                        .await
                        .map_err(|e| classify(backend, e))?,
                    stop,
                )
            }
            Pool::Postgres(p) => {
                let begin = match access {
                    Access::ReadWrite => "BEGIN",
                    // One snapshot for the whole transaction, as SQLite's
                    // (a read-only one never fails to serialize).
                    Access::ReadOnly => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                };
                let conn = p.acquire().await.map_err(|e| classify(backend, e))?;
                Conn::Postgres(
                    sqlx::Transaction::begin(conn, Some(begin.into()))
                        .await
                        .map_err(|e| classify(backend, e))?,
                )
            }
        };
        Ok(Self {
            db: db.clone(),
            state: Arc::new(Mutex::new(State {
                conn: Some(conn),
                next_savepoint: 0,
                fresh: true,
            })),
            savepoint: None,
            finished: Arc::new(AtomicBool::new(false)),
            abandoned: Arc::default(),
        })
    }

    /// Whether this is a savepoint inside an outer transaction.
    #[must_use]
    pub fn is_nested(&self) -> bool {
        self.savepoint.is_some()
    }

    /// Runs `stmt` on the transaction's connection: counted, timed, logged
    /// and its error classified.
    async fn run<R: Run>(&self, stmt: Statement, run: R) -> Result<R::Output> {
        let mut state = self.lock().await?;
        self.run_locked(&mut state, stmt, run).await
    }

    async fn run_locked<R: Run>(
        &self,
        state: &mut State,
        stmt: Statement,
        run: R,
    ) -> Result<R::Output> {
        let started = self.db.note(&stmt.sql);
        let res = match state.conn.as_mut() {
            Some(Conn::Sqlite(c, stop)) => watched(stop, c, run, &stmt.sql, stmt.values).await,
            Some(Conn::Postgres(c)) => {
                let first = std::mem::replace(&mut state.fresh, false);
                postgres_in_transaction(run, c, &stmt.sql, stmt.values, first).await
            }
            None => return Err(Error::TransactionFinished),
        };
        finished(&stmt.sql, started);
        res.map_err(|e| classify(self.db.backend(), e))
    }

    /// Runs SQL text without values (savepoints) on the locked connection.
    async fn run_raw(&self, state: &mut State, sql: String) -> Result<()> {
        self.run_locked(state, Statement::raw(sql), Unprepared)
            .await
    }

    /// Locks the connection after rolling back abandoned savepoints.
    async fn lock(&self) -> Result<tokio::sync::MutexGuard<'_, State>> {
        if self.finished.load(Ordering::SeqCst) {
            return Err(Error::TransactionFinished);
        }
        let mut state = self.state.lock().await;
        // The most recently made first (see `take_abandoned`).
        while let Some(sp) = self.take_abandoned() {
            let sql = format!("ROLLBACK TO SAVEPOINT {sp}; RELEASE SAVEPOINT {sp}");
            self.run_raw(&mut state, sql).await?;
        }
        if state.conn.is_none() {
            return Err(Error::TransactionFinished);
        }
        Ok(state)
    }

    /// The most recent abandoned savepoint: rolled back before the ones
    /// made earlier (which may enclose it), whatever order they were
    /// dropped in.
    fn take_abandoned(&self) -> Option<Savepoint> {
        let mut abandoned = self
            .abandoned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let latest = (0..abandoned.len()).max_by_key(|&i| abandoned[i])?;
        Some(abandoned.swap_remove(latest))
    }

    /// Commits the transaction (or releases the savepoint).
    ///
    /// # Errors
    ///
    /// The database's error, or [`Error::TransactionFinished`].
    pub async fn commit(self) -> Result<()> {
        let mut state = self.lock().await?;
        self.finished.store(true, Ordering::SeqCst);
        match &self.savepoint {
            Some(sp) => {
                self.run_raw(&mut state, format!("RELEASE SAVEPOINT {sp}"))
                    .await
            }
            None => {
                self.db.note("COMMIT");
                let backend = self.db.backend();
                match state.conn.take() {
                    Some(Conn::Sqlite(c, _)) => c.commit().await.map_err(|e| classify(backend, e)),
                    Some(Conn::Postgres(c)) => c.commit().await.map_err(|e| classify(backend, e)),
                    None => Err(Error::TransactionFinished),
                }
            }
        }
    }

    /// Rolls the transaction (or the savepoint) back.
    ///
    /// # Errors
    ///
    /// The database's error, or [`Error::TransactionFinished`].
    pub async fn rollback(self) -> Result<()> {
        let mut state = self.lock().await?;
        self.finished.store(true, Ordering::SeqCst);
        match &self.savepoint {
            Some(sp) => {
                let sql = format!("ROLLBACK TO SAVEPOINT {sp}; RELEASE SAVEPOINT {sp}");
                self.run_raw(&mut state, sql).await
            }
            None => {
                self.db.note("ROLLBACK");
                let backend = self.db.backend();
                match state.conn.take() {
                    Some(Conn::Sqlite(c, _)) => {
                        c.rollback().await.map_err(|e| classify(backend, e))
                    }
                    Some(Conn::Postgres(c)) => c.rollback().await.map_err(|e| classify(backend, e)),
                    None => Err(Error::TransactionFinished),
                }
            }
        }
    }

    /// Runs `f` in a nested transaction (a savepoint): see
    /// [`Database::transaction`].
    ///
    /// # Errors
    ///
    /// Whatever `f` returns, or the database's error on commit.
    pub async fn transaction<F, Fut, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let tx = Executor::begin(self).await?;
        run_in(tx, f).await
    }
}

async fn run_in<F, Fut, T, E>(tx: Transaction, f: F) -> Result<T, E>
where
    F: FnOnce(Transaction) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: From<Error>,
{
    match AssertUnwindSafe(f(tx.clone())).catch_unwind().await {
        Ok(Ok(value)) => {
            tx.commit().await?;
            Ok(value)
        }
        Ok(Err(err)) => {
            // The closure's error matters more than a failed rollback.
            let _ = tx.rollback().await;
            Err(err)
        }
        Err(panic) => {
            let _ = tx.rollback().await;
            std::panic::resume_unwind(panic)
        }
    }
}

impl Database {
    /// Starts a transaction; commit it with [`Transaction::commit`], dropping
    /// it rolls back.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when no connection can be had.
    pub async fn begin(&self) -> Result<Transaction> {
        Transaction::begin_on(self).await
    }

    /// Starts a transaction that only reads: one consistent snapshot for
    /// several queries (a page and its count) without holding up writers.
    /// On SQLite it is `BEGIN DEFERRED` (a read/write transaction takes the
    /// write lock at once, so that it cannot fail half-way; this one takes
    /// none); on PostgreSQL `REPEATABLE READ, READ ONLY`, one snapshot
    /// where a write fails. On
    /// SQLite a write inside it takes the write lock then, and may fail
    /// with a busy error: write in [`begin`](Self::begin)'s transactions.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when no connection can be had.
    pub async fn begin_read_only(&self) -> Result<Transaction> {
        Transaction::begin_with(self, Access::ReadOnly).await
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back
    /// when it returns `Err` or panics (the panic then continues).
    ///
    /// # Errors
    ///
    /// Whatever `f` returns, or the database's error on begin/commit.
    pub async fn transaction<F, Fut, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let tx = self.begin().await?;
        run_in(tx, f).await
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        // Only the last handle decides; clones share the state.
        if Arc::strong_count(&self.finished) > 1 || self.finished.load(Ordering::SeqCst) {
            return;
        }
        self.finished.store(true, Ordering::SeqCst);
        match &self.savepoint {
            Some(sp) => self
                .abandoned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(*sp),
            // Dropping sqlx's transaction queues its rollback; when a
            // statement holds the state, the last handle to the state
            // drops it, as soon as that statement is done.
            None => {
                if let Ok(mut state) = self.state.try_lock() {
                    drop(state.conn.take());
                }
            }
        }
    }
}

impl Executor for Transaction {
    fn backend(&self) -> Backend {
        self.db.backend()
    }

    fn database(&self) -> &Database {
        &self.db
    }

    fn fetch_into<'a>(
        &'a self,
        stmt: Statement,
        sink: NewSink,
    ) -> BoxFuture<'a, Result<Box<dyn RowSink>>> {
        Box::pin(async move { self.run(stmt, FetchInto(sink)).await? })
    }

    fn fetch_stream<'a>(&'a self, stmt: Statement) -> BoxStream<'a, Result<Row>> {
        let backend = self.db.backend();
        let fail = move |e| classify(backend, e);
        Box::pin(async_stream::try_stream! {
            // Holds the transaction's connection until the stream is done.
            let mut state = self.lock().await?;
            state.fresh = false;
            let started = self.db.note(&stmt.sql);
            let mut rows = match state.conn.as_mut() {
                Some(Conn::Sqlite(c, stop)) => watched_rows(stop, c, &stmt.sql, stmt.values),
                // Not run again after a stale plan: PostgreSQL has aborted
                // the transaction (see `driver`).
                Some(Conn::Postgres(c)) => postgres_rows(c, &stmt.sql, stmt.values, false),
                None => Err(Error::TransactionFinished)?,
            };
            while let Some(row) = rows.try_next().await.map_err(fail)? {
                yield row;
            }
            drop(rows);
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
        Box::pin(async move {
            let mut state = self.lock().await?;
            state.next_savepoint += 1;
            let name = Savepoint(state.next_savepoint);
            self.run_raw(&mut state, format!("SAVEPOINT {name}"))
                .await?;
            Ok(Transaction {
                db: self.db.clone(),
                state: Arc::clone(&self.state),
                savepoint: Some(name),
                finished: Arc::new(AtomicBool::new(false)),
                abandoned: Arc::clone(&self.abandoned),
            })
        })
    }

    fn single_connection(&self) -> bool {
        true
    }
}
