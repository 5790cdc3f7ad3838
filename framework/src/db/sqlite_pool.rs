//! SQLite connections: sqlx's pool, with two things on top that an
//! embedded database wants and sqlx's generic pool does not do.
//!
//! **Connections come back without a round trip.** sqlx hands a connection
//! back to its pool through a spawned task that pings it first (a round
//! trip to the connection's worker thread), in case a cancelled query left
//! it mid-statement. An SQLite connection is a handle in this process with
//! no server to hang up, so a connection whose statement *finished* is put
//! straight onto a stack of ready connections, and the next query takes it
//! from there (the most recently used first: its worker thread is warm).
//! Only a connection whose query was cancelled (its future dropped), or
//! that failed below SQL (I/O, a crashed worker), goes back through sqlx's
//! checked path. Connections on the stack are not closed when idle; there
//! are at most `max_connections` of them.
//!
//! **Most reads never get here.** A read of a database file outside a
//! transaction, into a sink that decodes each row at once, runs on the
//! calling thread first (`sqlite_inline`); what follows is for the reads
//! that path sends back, and for everything else.
//!
//! **Reads of the same text share a command.** Each statement sent to an
//! SQLite connection is a hand-off to its worker thread and back, and under
//! load those thread switches, not SQLite, are most of what a simple query
//! costs. A `SELECT` run outside a transaction joins a queue; a few tasks
//! (one fewer than the pool's connections, so that writes and
//! transactions keep one) each take the oldest queued read together with
//! the others of the same text (up to 16, a power of two, so that each
//! combined text is prepared once and then found in the connection's
//! statement cache), and run them as one command, the statements one after
//! the other with their values in order: one hand-off for all of them. Each
//! read gets its own rows, read in autocommit as if alone (one that wants
//! only its first row still has the others read: a combined statement runs
//! to its end). A read that fails
//! gets its error; the reads after it in that command, which had not run,
//! run again one by one. Only statements whose every `?` is a placeholder
//! (no quoted text, no numbered parameter, no `;`) and that bring exactly
//! as many values are combined, so that no read's values can reach another's
//! statement. A read that finds nothing queued and a reading slot free runs
//! in its own task, as before; reads that arrive meanwhile queue, and the
//! slot goes to a reading task for them when it is done (or cancelled).
//!
//! **Writes are committed in groups.** SQLite lets one connection write at a
//! time, and with `synchronous = FULL` every commit waits for the disk
//! (one `fsync` in WAL mode), so concurrent autocommit writes queue for the
//! lock and then for the disk one by one. Here a data-changing statement
//! (`INSERT`, `UPDATE`, `DELETE`, `REPLACE`) run outside a transaction joins
//! a queue. The first writer to find no batch running starts one (a
//! spawned task, so that a cancelled request cannot strand the others): it
//! takes everything queued, runs it in one `BEGIN IMMEDIATE` ... `COMMIT`,
//! answers every writer once the commit is durable, and repeats until the
//! queue is empty. A lone writer runs alone, in autocommit, as before; under
//! load, one `fsync` covers every write that arrived meanwhile. This is the
//! group commit databases with a write-ahead log do themselves (PostgreSQL,
//! whose connections write concurrently, needs nothing here).
//!
//! Each statement still gets its own answer, as if it had run alone: its
//! rows, its count, or its error. When any statement of a batch fails, or
//! the commit does, the batch is rolled back and each of its statements is
//! run again on its own, in order, in autocommit; nothing was answered yet,
//! so every statement takes effect exactly once. No answer is given before
//! the commit that made the write durable.
//!
//! **A query nobody waits for is stopped.** When a request times out, its
//! future is dropped, and with it the query's; but sqlx's worker thread
//! would go on stepping the statement to its end, and the connection would
//! only be free after that (a slow aggregate: seconds, minutes). So each
//! connection gets a stop flag ([`Conn`]) and a progress handler that reads
//! it every [`STOP_CHECK_EVERY`] virtual-machine instructions, set once
//! when sqlx's pool hands the connection over. A statement run on it is
//! watched; dropped before its end, the flag is set and the statement ends
//! with `SQLITE_INTERRUPT` on the worker. The next statement on that
//! connection first waits for the stopped one to end (the worker runs
//! commands in order), then clears the flag. A read running in a combined
//! command is stopped when every read still unanswered in it has gone;
//! writes in a group commit are not (a write stands once queued, as
//! before). This is PostgreSQL's `statement_timeout` for the embedded
//! database, with the request timeout as its limit.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sea_query::Values;
use sea_query_binder::SqlxValues;
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use tokio::sync::{Notify, oneshot};

use super::driver::{FetchInto, Run, SqlxResult, Unprepared, sqlite_rows};
use super::executor::{NewSink, Row, RowSink};
use super::sqlite_inline::{Inline, lock};

/// The SQLite pool: see the module doc.
#[derive(Debug, Clone)]
pub(crate) struct SqlitePool {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    pool: sqlx::SqlitePool,
    /// Connections whose last statement finished, ready for the next;
    /// `None` once the pool is closed.
    ready: Mutex<Option<Vec<Conn>>>,
    /// Wakes a query waiting for a connection when one is put on `ready`.
    returned: Notify,
    acquire_timeout: Duration,
    writes: Mutex<Writes>,
    reads: Mutex<Reads>,
    /// How many tasks may run queued reads at once.
    most_readers: usize,
    /// Reads run on the calling thread (see `sqlite_inline`); `None` for
    /// an in-memory database or when `sqlite_inline_reads` is off.
    inline: Option<Inline>,
}

/// The most reads combined into one command.
const MOST_READS: usize = 16;

/// A connection of the pool with its stop flag, for stopping a statement
/// nobody waits for (see the module doc).
pub(crate) struct Conn {
    conn: PoolConnection<Sqlite>,
    stop: Stop,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

/// How many SQLite virtual-machine instructions run between two looks at a
/// connection's stop flag: a few microseconds of work, so a statement stops
/// at once, for one atomic load in thousands of instructions.
const STOP_CHECK_EVERY: i32 = 1000;

impl Conn {
    /// Gives a connection sqlx's pool handed over a stop flag of its own,
    /// read by a progress handler on its worker thread (one round trip to
    /// the thread, once per hand-over).
    async fn new(mut conn: PoolConnection<Sqlite>) -> SqlxResult<Self> {
        let stop = Stop::default();
        let flag = Arc::clone(&stop.0);
        conn.lock_handle()
            .await?
            .set_progress_handler(STOP_CHECK_EVERY, move || !flag.load(Ordering::Relaxed));
        Ok(Self { conn, stop })
    }

    /// The connection, for a transaction to own, and its stop flag, to
    /// watch the transaction's statements with.
    pub(crate) fn into_parts(self) -> (PoolConnection<Sqlite>, Stop) {
        (self.conn, self.stop)
    }

    /// Runs `run` on this connection, watched.
    pub(crate) async fn run<R: Run>(
        &mut self,
        sql: &str,
        values: Values,
        run: R,
    ) -> SqlxResult<R::Output> {
        watched(&self.stop, &mut self.conn, run, sql, values).await
    }

    /// The rows of `sql`, watched.
    pub(crate) fn rows<'c>(
        &'c mut self,
        sql: &'c str,
        values: Values,
    ) -> BoxStream<'c, SqlxResult<Row>> {
        watched_rows(&self.stop, &mut self.conn, sql, values)
    }
}

impl std::ops::Deref for Conn {
    type Target = sqlx::SqliteConnection;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// A connection's stop flag: set, its progress handler ends the statement
/// running with `SQLITE_INTERRUPT`.
#[derive(Debug, Default)]
pub(crate) struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A watch over the statement about to run on `conn`, whose flag this
    /// is. When a stop is pending (a statement before was dropped), a
    /// round trip to the worker thread first waits for that statement to
    /// end, since the worker runs commands in order; the flag is cleared
    /// after that, so a stop is never lost by the next statement coming
    /// too soon, and never reaches it.
    async fn watch(&self, conn: &mut sqlx::SqliteConnection) -> Watch<'_> {
        if self.0.load(Ordering::Relaxed) {
            let _ = sqlx::Connection::ping(conn).await;
            self.0.store(false, Ordering::Relaxed);
        }
        Watch {
            stop: self,
            armed: true,
        }
    }
}

/// Stops the statement running on a connection when dropped before
/// [`Watch::done`].
struct Watch<'s> {
    stop: &'s Stop,
    armed: bool,
}

impl Watch<'_> {
    /// The statement ended: nothing to stop.
    fn done(mut self) {
        self.armed = false;
    }

    /// Stops the statement now; it ends with `SQLITE_INTERRUPT` at the
    /// progress handler's next look.
    fn interrupt(&mut self) {
        if std::mem::replace(&mut self.armed, false) {
            tracing::debug!(target: "manouche::db", "stopping a query nobody waits for");
            self.stop.0.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        self.interrupt();
    }
}

/// Runs `run` on `conn` (whose flag `stop` is), stopping the statement if
/// this future is dropped before it ends.
pub(crate) async fn watched<R: Run>(
    stop: &Stop,
    conn: &mut sqlx::SqliteConnection,
    run: R,
    sql: &str,
    values: Values,
) -> SqlxResult<R::Output> {
    let watch = stop.watch(conn).await;
    let result = run.sqlite(conn, sql, SqlxValues(values)).await;
    watch.done();
    result
}

/// The rows of `sql` on `conn` (whose flag `stop` is); the statement is
/// stopped if the stream is dropped before its end.
pub(crate) fn watched_rows<'c>(
    stop: &'c Stop,
    conn: &'c mut sqlx::SqliteConnection,
    sql: &'c str,
    values: Values,
) -> BoxStream<'c, SqlxResult<Row>> {
    Box::pin(async_stream::stream! {
        let watch = stop.watch(conn).await;
        let mut rows = sqlite_rows(conn, sql, values);
        while let Some(row) = rows.next().await {
            let failed = row.is_err();
            yield row;
            if failed {
                break;
            }
        }
        drop(rows);
        watch.done();
    })
}

#[derive(Default)]
struct Reads {
    queue: VecDeque<Read>,
    /// Tasks running queued reads.
    readers: usize,
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads")
            .field("queued", &self.queue.len())
            .field("readers", &self.readers)
            .finish()
    }
}

/// A reading slot held by a read running in its own task: handed on to a
/// reading task when reads queued meanwhile, else given back.
struct Slot<'a>(&'a SqlitePool);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut reads = lock(&self.0.shared.reads);
        if reads.queue.is_empty() {
            reads.readers -= 1;
            return;
        }
        drop(reads);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(self.0.clone().run_reads())),
            // The runtime is going: nothing will wait for the answers.
            Err(_) => lock(&self.0.shared.reads).readers -= 1,
        }
    }
}

/// What a read's rows went into, or the sink's error.
type Sunk = super::Result<Box<dyn RowSink>>;

/// A queued read: its statement, where its rows go, and where the sink
/// goes once it has them all.
struct Read {
    sql: Arc<str>,
    values: Values,
    sink: NewSink,
    tx: oneshot::Sender<SqlxResult<Sunk>>,
}

#[derive(Default)]
struct Writes {
    queue: Vec<Box<dyn Job>>,
    /// A batch task is running; it takes what is queued before it stops.
    leading: bool,
}

impl std::fmt::Debug for Writes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writes")
            .field("queued", &self.queue.len())
            .field("leading", &self.leading)
            .finish()
    }
}

/// Whether `sql` changes data (and so may join a group commit): the
/// statements that take SQLite's write lock by themselves.
fn writes_data(sql: &str) -> bool {
    ["INSERT", "UPDATE", "DELETE", "REPLACE"]
        .iter()
        .any(|kw| starts_with_keyword(sql, kw))
}

/// Whether `sql` starts with the keyword `kw` (any case) and then a space.
fn starts_with_keyword(sql: &str, kw: &str) -> bool {
    let head = sql.trim_start().as_bytes();
    head.len() > kw.len()
        && head[..kw.len()].eq_ignore_ascii_case(kw.as_bytes())
        && head[kw.len()].is_ascii_whitespace()
}

/// Whether `sql`, run with `values` values, may share a command with
/// other reads of the same text: one `SELECT` whose every `?` is an
/// unnumbered placeholder (no quoted text that could hold a `?`, no `;`,
/// no `?NNN` or `$NNN`), with exactly one value per placeholder, so that
/// the combined values line up statement by statement.
fn combinable_read(sql: &str, values: usize) -> bool {
    if !starts_with_keyword(sql, "SELECT") {
        return false;
    }
    // Every read passes here: byte searches, not a loop over the text.
    let bytes = sql.as_bytes();
    if memchr::memchr3(b';', b'\'', b'$', bytes).is_some() {
        return false;
    }
    let mut placeholders = 0;
    for i in memchr::memchr_iter(b'?', bytes) {
        if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        placeholders += 1;
    }
    placeholders == values
}

impl SqlitePool {
    /// The pool over sqlx's; with `inline`, reads of a database file may
    /// run on the calling thread (see `sqlite_inline`).
    pub(crate) fn new(pool: sqlx::SqlitePool, inline: bool, in_memory: bool) -> Self {
        let acquire_timeout = pool.options().get_acquire_timeout();
        let most_readers = usize::try_from(pool.options().get_max_connections())
            .unwrap_or(1)
            .saturating_sub(1)
            .max(1);
        let inline = inline
            .then(|| Inline::new(pool.connect_options().get_filename(), in_memory))
            .flatten();
        Self {
            shared: Arc::new(Shared {
                inline,
                pool,
                ready: Mutex::new(Some(Vec::new())),
                returned: Notify::new(),
                acquire_timeout,
                writes: Mutex::new(Writes::default()),
                reads: Mutex::new(Reads::default()),
                most_readers,
            }),
        }
    }

    /// sqlx's pool underneath (options, size).
    pub(crate) fn sqlx(&self) -> &sqlx::SqlitePool {
        &self.shared.pool
    }

    /// Connections open, and how many of them are idle (on the ready stack
    /// or in sqlx's pool).
    pub(crate) fn status(&self) -> (u32, usize) {
        let ready = lock(&self.shared.ready).as_ref().map_or(0, Vec::len);
        (self.shared.pool.size(), self.shared.pool.num_idle() + ready)
    }

    /// A connection: a ready one, else one from sqlx's pool, waiting (up to
    /// the acquire timeout) for whichever comes first.
    pub(crate) async fn acquire(&self) -> SqlxResult<Conn> {
        if let Some(conn) = self.take_ready() {
            return Ok(conn);
        }
        if let Some(conn) = self.shared.pool.try_acquire() {
            return Conn::new(conn).await;
        }
        let shared = &*self.shared;
        let wait = async {
            loop {
                let returned = shared.returned.notified();
                tokio::pin!(returned);
                returned.as_mut().enable();
                // Put back before `enable`: not notified, but there.
                if let Some(conn) = self.take_ready() {
                    return Ok(conn);
                }
                tokio::select! {
                    conn = shared.pool.acquire() => return Conn::new(conn?).await,
                    () = &mut returned => {}
                }
            }
        };
        match tokio::time::timeout(shared.acquire_timeout, wait).await {
            Ok(conn) => conn,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    /// A ready connection, without waiting.
    fn take_ready(&self) -> Option<Conn> {
        lock(&self.shared.ready).as_mut().and_then(Vec::pop)
    }

    /// Puts a connection whose statement finished back on the ready stack,
    /// or through sqlx's checked path when it failed below SQL.
    pub(crate) fn release<T>(&self, conn: Conn, result: &SqlxResult<T>) {
        if !reusable(result) {
            return;
        }
        let mut ready = lock(&self.shared.ready);
        match ready.as_mut() {
            Some(ready) => ready.push(conn),
            // Closed: back to sqlx's pool, which waits for it to close it.
            None => return,
        }
        drop(ready);
        self.shared.returned.notify_one();
    }

    /// Runs one statement outside a transaction: a data change through the
    /// group commit, anything else on a connection of its own.
    pub(crate) async fn run<R: Run>(
        &self,
        sql: Arc<str>,
        values: Values,
        run: R,
    ) -> SqlxResult<R::Output> {
        if R::MAY_GROUP && writes_data(&sql) {
            return self.write(sql, values, run).await;
        }
        if let Some(sink) = run.sink() {
            if let Some(inline) = &self.shared.inline
                && starts_with_keyword(&sql, "SELECT")
                && let Some(out) = inline.read(&sql, &values, &sink)
            {
                return R::from_sink(Ok(out));
            }
            if combinable_read(&sql, values.0.len()) {
                return self.read(sql, values, sink, run).await;
            }
        }
        self.alone(&sql, values, run).await
    }

    /// Runs one statement on a connection of its own.
    async fn alone<R: Run>(&self, sql: &str, values: Values, run: R) -> SqlxResult<R::Output> {
        let mut conn = self.acquire().await?;
        // Cancelled here, the statement is interrupted and `conn` is
        // dropped with this future: it goes back through sqlx's checked
        // path.
        let result = conn.run(sql, values, run).await;
        self.release(conn, &result);
        result
    }

    /// Closes every connection (the ready ones first).
    ///
    /// A task still holding a connection (a batch that answered its
    /// statements and has yet to put its connection back) gives it to
    /// sqlx's pool instead of the ready stack from then on: the stack is
    /// emptied and shut under the same lock that `release` takes, so no
    /// connection is left on it for `close` to wait on forever.
    pub(crate) async fn close(&self) {
        if let Some(inline) = &self.shared.inline {
            inline.close();
        }
        let ready = lock(&self.shared.ready).take();
        drop(ready);
        self.shared.pool.close().await;
    }

    /// A read that may share a command with others of the same text
    /// (`sink` is where `run` puts its rows).
    async fn read<R: Run>(
        &self,
        sql: Arc<str>,
        values: Values,
        sink: NewSink,
        run: R,
    ) -> SqlxResult<R::Output> {
        enum Way {
            /// Nothing queued, a reading slot free: run it here.
            Here(Arc<str>, Values),
            /// Queued; whether to start a reading task.
            Queued(oneshot::Receiver<SqlxResult<Sunk>>, bool),
        }
        let way = {
            let mut reads = lock(&self.shared.reads);
            let free = reads.readers < self.shared.most_readers;
            reads.readers += usize::from(free);
            if free && reads.queue.is_empty() {
                Way::Here(sql, values)
            } else {
                let (tx, rx) = oneshot::channel();
                reads.queue.push_back(Read {
                    sql,
                    values,
                    sink,
                    tx,
                });
                Way::Queued(rx, free)
            }
        };
        match way {
            Way::Here(sql, values) => {
                // Holds the slot; reads queued meanwhile get it when this
                // one is done or cancelled.
                let _slot = Slot(self);
                self.alone(&sql, values, run).await
            }
            Way::Queued(rx, start) => {
                if start {
                    tokio::spawn(self.clone().run_reads());
                }
                let sunk = rx.await.unwrap_or(Err(sqlx::Error::WorkerCrashed))?;
                R::from_sink(sunk)
            }
        }
    }

    /// A reading task: runs queued reads, those of one text at a time,
    /// until none is left.
    async fn run_reads(self) {
        let next = || {
            let mut reads = lock(&self.shared.reads);
            let batch = take_reads(&mut reads.queue);
            if batch.is_empty() {
                reads.readers -= 1;
                return None;
            }
            Some(batch)
        };
        let fail = |batch: Vec<Read>, e: &sqlx::Error| {
            for read in batch {
                let _ = read.tx.send(Err(copy(e)));
            }
        };
        self.work_through(next, fail, read_together).await;
    }

    /// What a batch task does: takes batches with `next` until it gives
    /// none, runs each with `run` on one connection kept between batches
    /// (or fails it with `fail` when none can be had), and puts the
    /// connection back at the end.
    async fn work_through<B, F>(
        &self,
        mut next: impl FnMut() -> Option<B>,
        fail: impl Fn(B, &sqlx::Error),
        run: impl Fn(Conn, B) -> F,
    ) where
        F: Future<Output = Option<Conn>>,
    {
        let mut conn = None;
        while let Some(batch) = next() {
            let c = match conn.take() {
                Some(c) => c,
                None => match self.acquire().await {
                    Ok(c) => c,
                    Err(e) => {
                        fail(batch, &e);
                        continue;
                    }
                },
            };
            conn = run(c, batch).await;
        }
        if let Some(c) = conn {
            self.release(c, &Ok(()));
        }
    }

    async fn write<R: Run>(&self, sql: Arc<str>, values: Values, run: R) -> SqlxResult<R::Output> {
        let (tx, rx) = oneshot::channel();
        let job = Box::new(Pending {
            sql,
            values,
            run,
            result: None,
            tx,
        });
        let lead = {
            let mut writes = lock(&self.shared.writes);
            writes.queue.push(job);
            !std::mem::replace(&mut writes.leading, true)
        };
        if lead {
            tokio::spawn(self.clone().lead());
        }
        rx.await.unwrap_or(Err(sqlx::Error::WorkerCrashed))
    }

    /// The batch task: commits what is queued, batch after batch, until
    /// the queue is empty.
    async fn lead(self) {
        let next = || {
            let mut writes = lock(&self.shared.writes);
            if writes.queue.is_empty() {
                writes.leading = false;
                return None;
            }
            Some(std::mem::take(&mut writes.queue))
        };
        self.work_through(next, fail, commit).await;
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // sqlx hands a dropped connection back through a spawned task, which
        // needs a runtime; without one, close the ready connections here.
        if tokio::runtime::Handle::try_current().is_err()
            && let Some(ready) = lock(&self.ready).take()
        {
            for conn in ready {
                drop(conn.conn.detach());
            }
        }
    }
}

/// A queued write: its statement, and where its answer goes.
trait Job: Send {
    /// Runs the statement; `again`: keep its values, it may have to run once
    /// more. Whether it succeeded.
    fn run<'c>(
        &'c mut self,
        conn: &'c mut sqlx::SqliteConnection,
        again: bool,
    ) -> BoxFuture<'c, bool>;

    /// Fails it without running it (no connection could be had).
    fn fail(&mut self, err: sqlx::Error);

    /// Sends the answer to the writer.
    fn answer(self: Box<Self>);
}

struct Pending<R: Run> {
    sql: Arc<str>,
    values: Values,
    run: R,
    result: Option<SqlxResult<R::Output>>,
    tx: oneshot::Sender<SqlxResult<R::Output>>,
}

impl<R: Run> Job for Pending<R> {
    fn run<'c>(
        &'c mut self,
        conn: &'c mut sqlx::SqliteConnection,
        again: bool,
    ) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let values = if again {
                self.values.clone()
            } else {
                std::mem::replace(&mut self.values, Values(Vec::new()))
            };
            let sql = Arc::clone(&self.sql);
            let result = self
                .run
                .clone()
                .sqlite(conn, &sql, SqlxValues(values))
                .await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn fail(&mut self, err: sqlx::Error) {
        self.result = Some(Err(err));
    }

    fn answer(self: Box<Self>) {
        let result = self.result.unwrap_or(Err(sqlx::Error::WorkerCrashed));
        // The writer may have gone (a cancelled request): its write stands.
        let _ = self.tx.send(result);
    }
}

/// The same failure for every job of a batch.
fn fail(batch: Vec<Box<dyn Job>>, err: &sqlx::Error) {
    for mut job in batch {
        job.fail(copy(err));
        job.answer();
    }
}

/// A failure to give to each of several statements (sqlx's errors do not
/// clone): the same kind where it is one of the pool's, else its message.
fn copy(err: &sqlx::Error) -> sqlx::Error {
    match err {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        other => sqlx::Error::Io(std::io::Error::other(other.to_string())),
    }
}

/// The oldest queued read and the others of the same text, as many as
/// the largest power of two up to [`MOST_READS`] allows; the rest stay
/// queued in order.
fn take_reads(queue: &mut VecDeque<Read>) -> Vec<Read> {
    let Some(first) = queue.front() else {
        return Vec::new();
    };
    let sql = Arc::clone(&first.sql);
    let mut found: Vec<usize> = queue
        .iter()
        .enumerate()
        .filter(|(_, read)| Arc::ptr_eq(&read.sql, &sql) || read.sql == sql)
        .map(|(i, _)| i)
        .take(MOST_READS)
        .collect();
    found.truncate(1 << found.len().ilog2());
    let mut batch: Vec<Read> = found
        .iter()
        .rev()
        .filter_map(|&i| queue.remove(i))
        .collect();
    batch.reverse();
    batch
}

/// Whether a connection that gave `result` can serve again.
fn reusable<T>(result: &SqlxResult<T>) -> bool {
    matches!(
        result,
        Ok(_) | Err(sqlx::Error::Database(_) | sqlx::Error::RowNotFound)
    )
}

type Many<'c> = BoxStream<
    'c,
    SqlxResult<sqlx::Either<sqlx::sqlite::SqliteQueryResult, sqlx::sqlite::SqliteRow>>,
>;

/// Every statement of `sql`: each one's rows, then its end.
fn many<'c>(conn: &'c mut sqlx::SqliteConnection, sql: &'c str, values: Values) -> Many<'c> {
    sqlx::Executor::fetch_many(conn, sqlx::query_with(sql, SqlxValues(values)))
}

/// Whether every read in `reads` has gone (its request dropped, a timeout):
/// nobody waits for their rows. Registers `cx` to be woken when the first
/// still waiting goes.
fn all_gone(reads: &mut VecDeque<Read>, cx: &mut Context<'_>) -> bool {
    !reads.is_empty()
        && reads
            .iter_mut()
            .all(|read| read.tx.poll_closed(cx).is_ready())
}

/// Runs reads of one text as one command and answers each; gives the
/// connection back unless it broke. A statement whose reads have all gone
/// is interrupted, and reads gone before their turn are not run.
async fn read_together(mut conn: Conn, batch: Vec<Read>) -> Option<Conn> {
    let mut left: VecDeque<Read> = batch.into();
    left.retain(|read| !read.tx.is_closed());
    if left.len() > 1 {
        let one = Arc::clone(&left[0].sql);
        let mut sql = String::with_capacity((one.len() + 2) * left.len());
        let mut values = Vec::new();
        for (i, read) in left.iter().enumerate() {
            if i > 0 {
                sql.push_str("; ");
            }
            sql.push_str(&one);
            // Kept: a read after a failed one runs again with them.
            values.extend(read.values.0.iter().cloned());
        }
        // The front read's sink, made at its first row; a row that does
        // not decode leaves its error in place of the sink, and the read's
        // later rows are passed over.
        let mut sink: Option<Sunk> = None;
        let Conn { conn: c, stop } = &mut conn;
        let mut watch = stop.watch(c).await;
        let mut stream = many(c, &sql, Values(values));
        loop {
            // The next answer, unless every read still unanswered has gone.
            let next = std::future::poll_fn(|cx| match stream.poll_next_unpin(cx) {
                Poll::Ready(item) => Poll::Ready(Some(item)),
                Poll::Pending if all_gone(&mut left, cx) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            });
            let Some(item) = next.await else {
                // Stopped, the statement ends soon with an error, for
                // nobody: the connection is free once it has.
                watch.interrupt();
                left.clear();
                continue;
            };
            let Some(item) = item else { break };
            match item {
                Ok(sqlx::Either::Right(row)) => {
                    let Some(read) = left.front() else { continue };
                    let taking = sink.get_or_insert_with(|| Ok((read.sink)()));
                    if let Ok(s) = taking
                        && let Err(e) = s.push(Row::Sqlite(row))
                    {
                        *taking = Err(e);
                    }
                }
                Ok(sqlx::Either::Left(_)) => {
                    if let Some(read) = left.pop_front() {
                        let sunk = sink.take().unwrap_or_else(|| Ok((read.sink)()));
                        let _ = read.tx.send(Ok(sunk));
                    }
                }
                Err(e) => {
                    let keep = matches!(e, sqlx::Error::Database(_) | sqlx::Error::RowNotFound);
                    if let Some(read) = left.pop_front() {
                        let _ = read.tx.send(Err(e));
                    }
                    if !keep {
                        drop(stream);
                        watch.done();
                        for read in left {
                            let _ = read.tx.send(Err(sqlx::Error::WorkerCrashed));
                        }
                        return None;
                    }
                    break;
                }
            }
        }
        drop(stream);
        watch.done();
    }
    // Alone, or not reached by a command that stopped early: one by one.
    while let Some(read) = left.pop_front() {
        if read.tx.is_closed() {
            continue;
        }
        let Read {
            sql,
            values,
            sink,
            mut tx,
        } = read;
        let Conn { conn: c, stop } = &mut conn;
        let mut watch = stop.watch(c).await;
        let mut fetch = FetchInto(sink).sqlite(c, &sql, SqlxValues(values));
        let result = std::future::poll_fn(|cx| match fetch.as_mut().poll(cx) {
            Poll::Ready(result) => Poll::Ready(Some(result)),
            Poll::Pending if tx.poll_closed(cx).is_ready() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        })
        .await;
        let result = match result {
            Some(result) => result,
            None => {
                // Nobody waits: stopped, and the connection is free once
                // the statement has ended (its answer goes nowhere).
                watch.interrupt();
                fetch.await
            }
        };
        watch.done();
        let keep = reusable(&result);
        let _ = tx.send(result);
        if !keep {
            for read in left {
                let _ = read.tx.send(Err(sqlx::Error::WorkerCrashed));
            }
            return None;
        }
    }
    Some(conn)
}

/// Runs SQL text without values on the batch's connection.
fn raw<'c>(conn: &'c mut sqlx::SqliteConnection, sql: &'c str) -> BoxFuture<'c, SqlxResult<()>> {
    Unprepared.sqlite(conn, sql, SqlxValues(Values(Vec::new())))
}

/// How a batch went in one transaction.
enum Together {
    Committed,
    /// A statement or the commit failed: nothing of it was committed.
    Failed,
    /// The transaction could not start (the write lock stayed taken for the
    /// whole busy timeout): running the statements one by one would wait as
    /// long again for each.
    NotBegun(sqlx::Error),
}

/// Runs a batch and answers its jobs; gives the connection back unless it
/// broke.
async fn commit(mut conn: Conn, mut batch: Vec<Box<dyn Job>>) -> Option<Conn> {
    if let [job] = batch.as_mut_slice() {
        job.run(&mut conn, false).await;
    } else {
        tracing::debug!(target: "manouche::db", statements = batch.len(), "group commit");
        match together(&mut conn, &mut batch).await {
            Together::Committed => {}
            Together::NotBegun(e) => {
                fail(batch, &e);
                return Some(conn);
            }
            Together::Failed => {
                match raw(&mut conn, "ROLLBACK").await {
                    Ok(()) => {}
                    // A failed statement or commit may have ended it.
                    Err(sqlx::Error::Database(e))
                        if e.message().contains("no transaction is active") => {}
                    Err(e) => {
                        // Still inside a transaction that cannot be ended:
                        // nothing of the batch was committed; fail it and
                        // close the connection.
                        tracing::error!(target: "manouche::db", "a group commit could not be rolled back: {e}");
                        fail(batch, &e);
                        conn.conn.close_on_drop();
                        return None;
                    }
                }
                for job in &mut batch {
                    job.run(&mut conn, false).await;
                }
            }
        }
    }
    for job in batch {
        job.answer();
    }
    Some(conn)
}

/// The batch in one transaction.
async fn together(conn: &mut sqlx::SqliteConnection, batch: &mut [Box<dyn Job>]) -> Together {
    if let Err(e) = raw(conn, "BEGIN IMMEDIATE").await {
        return Together::NotBegun(e);
    }
    for job in batch.iter_mut() {
        if !job.run(conn, true).await {
            return Together::Failed;
        }
    }
    match raw(conn, "COMMIT").await {
        Ok(()) => Together::Committed,
        Err(_) => Together::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_whose_values_line_up_are_combined() {
        let sql = r#"SELECT "a" FROM "t" WHERE "b" = ? AND "c" > ? LIMIT ?"#;
        assert!(combinable_read(sql, 3));
        // Too few or too many values would shift into the next statement.
        assert!(!combinable_read(sql, 2));
        assert!(!combinable_read(sql, 4));
        for (sql, values) in [
            ("SELECT 'a?' FROM t WHERE b = ?", 1),
            ("SELECT a FROM t WHERE b = ?1", 1),
            ("SELECT a FROM t WHERE b = $1", 1),
            ("SELECT a FROM t; SELECT b FROM t", 0),
            ("UPDATE t SET a = ?", 1),
            ("WITH x AS (SELECT ?) SELECT * FROM x", 1),
            ("SELECTED", 0),
        ] {
            assert!(!combinable_read(sql, values), "{sql}");
        }
    }

    #[test]
    fn reads_are_taken_oldest_first_by_text_in_powers_of_two() {
        let a: Arc<str> = Arc::from("SELECT a");
        let b: Arc<str> = Arc::from("SELECT b");
        let mut queue = VecDeque::new();
        let mut receivers = Vec::new();
        for (i, sql) in [&a, &b, &a, &a, &b, &a, &a].into_iter().enumerate() {
            let (tx, rx) = oneshot::channel();
            receivers.push(rx);
            let values = Values(vec![sea_query::Value::from(i64::try_from(i).unwrap())]);
            queue.push_back(Read {
                sql: Arc::clone(sql),
                values,
                sink: Arc::new(|| Box::new(Vec::<Row>::new())),
                tx,
            });
        }
        let order = |batch: &[Read]| -> Vec<String> {
            batch
                .iter()
                .map(|r| format!("{:?}", r.values.0[0]))
                .collect()
        };
        // Five of `a`: the first four go together; the fifth waits.
        let first = take_reads(&mut queue);
        assert_eq!(first.len(), 4);
        assert!(first.iter().all(|r| Arc::ptr_eq(&r.sql, &a)));
        assert_eq!(
            order(&first),
            [
                "BigInt(Some(0))",
                "BigInt(Some(2))",
                "BigInt(Some(3))",
                "BigInt(Some(5))"
            ]
        );
        let second = take_reads(&mut queue);
        assert_eq!(order(&second), ["BigInt(Some(1))", "BigInt(Some(4))"]);
        let third = take_reads(&mut queue);
        assert_eq!(order(&third), ["BigInt(Some(6))"]);
        assert!(take_reads(&mut queue).is_empty());
    }

    #[test]
    fn data_changes_are_told_from_other_statements() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            "  update t SET a = 1",
            "DELETE\nFROM t",
            "REPLACE INTO t VALUES (1)",
        ] {
            assert!(writes_data(sql), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "INSERTX",
            "UPDATE",
            "BEGIN; UPDATE t SET a = 1; COMMIT",
            "CREATE TABLE insert_log (a)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
        ] {
            assert!(!writes_data(sql), "{sql}");
        }
    }
}
