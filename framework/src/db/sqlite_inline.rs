//! SQLite reads run on the calling thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own: a
//! statement is a message to that thread, and each row comes back as a
//! message with every value copied (`sqlite3_value_dup`, one allocation
//! each, freed later on another thread). For a page that reads a session,
//! a user and fifty rows, those hand-offs and copies cost more than SQLite
//! itself: thread switches, cross-thread frees, a memory barrier per
//! copied value.
//!
//! An embedded database needs no thread between the query and the data.
//! Here a read that is small and simple runs directly where it is asked
//! for, on a connection of this module's own (rusqlite, on the same
//! bundled SQLite library as sqlx), and its rows are decoded as SQLite
//! steps them. Everything else goes to sqlx's pool as before, and so does
//! any read this path cannot finish exactly as sqlx would have:
//!
//! - **Only reads outside a transaction, into a sink that decodes each row
//!   at once** ([`RowSink::keeps_rows`] is false: the ORM's querysets and
//!   `fetch_map`). A row read here ([`Row::SqliteLocal`]) decodes the
//!   common types itself (integers, `bool`, `f64`, text, bytes, UUIDs,
//!   dates and date-times in the forms sqlx writes them); a value
//!   it cannot decode exactly as sqlx would is an error, and the read runs
//!   again on sqlx's pool with a fresh sink. No such row outlives the
//!   sink's `push`, so none reaches code that would decode it later.
//! - **Only values bound exactly as sqlx binds them** (sea-query's integer,
//!   float, text, byte, UUID and chrono values, text in sqlx's formats);
//!   others go to sqlx, and so does any statement that is not read-only
//!   or does not take as many values as it is given.
//! - **Any error is sqlx's to report.** A read that fails here for any
//!   reason (a value it does not decode, a table only a sqlx connection
//!   sees, a locked database, SQLite's own error) is run again on sqlx's
//!   pool, which gives the answer or the error the caller would have had
//!   without this path. Reads change nothing, so running one again is
//!   safe.
//! - **A read never blocks the runtime for long.** A progress handler stops
//!   a statement after [`MOST_STEPS`] virtual-machine instructions (a few
//!   milliseconds); it is then run on sqlx's pool, off the runtime's
//!   threads, and its text is sent there directly from then on (for up to
//!   [`MOST_SENT_AWAY`] texts). The connections here never wait for a lock
//!   (`busy_timeout` 0): a busy database sends the read to sqlx, whose
//!   worker waits.
//! - Connections are opened on the database file (never an in-memory
//!   database, which only sqlx's connection holds) with `query_only` on.
//!   Each statement runs in autocommit and is reset at its end, so every
//!   read sees every commit made before it began, as on sqlx's pool.
//!
//! `[database] sqlite_inline_reads = false` sends every read to sqlx.

use std::any::Any;
use std::collections::HashSet;
use std::hash::BuildHasher as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sea_query::{Value, Values};

use super::executor::{NewSink, Row, RowSink};

/// How many virtual-machine instructions run between two calls of the
/// progress handler.
const STEPS_PER_CHECK: i32 = 1_000;

/// The most virtual-machine instructions a statement runs here (in units
/// of [`STEPS_PER_CHECK`]): about a million, a few milliseconds.
pub(crate) const MOST_STEPS: u32 = 1_000;

/// The most texts remembered as sent to sqlx's pool (a statement too long
/// or a value not decoded here); the set starts again when full.
pub(crate) const MOST_SENT_AWAY: usize = 512;

/// The most connections opened here: reads run on the runtime's threads,
/// so no more run at once than there are threads.
const MOST_CONNECTIONS: usize = 16;

/// Prepared statements each connection keeps.
const STATEMENTS_KEPT: usize = 128;

/// The read connections of one SQLite database file.
pub(crate) struct Inline {
    path: PathBuf,
    /// Connections not in use; `None` once closed.
    idle: Mutex<Option<Vec<Reader>>>,
    /// How many connections exist (idle or in use).
    opened: AtomicU32,
    /// Hashes of texts that run on sqlx's pool.
    sent_away: Mutex<HashSet<u64>>,
}

impl std::fmt::Debug for Inline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inline")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

struct Reader {
    conn: Connection,
    /// Progress-handler calls since the current statement started.
    checks: Arc<AtomicU32>,
}

/// Locks `m`, whose critical sections (here and in `sqlite_pool`) only
/// push, pop and look up: a panic cannot leave them half done.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inline {
    /// Reads of the database file `path` (`None` for an in-memory
    /// database).
    pub(crate) fn new(path: &Path, in_memory: bool) -> Option<Self> {
        let name = path.to_str()?;
        if in_memory || name.is_empty() || name == ":memory:" || name.starts_with("file:") {
            return None;
        }
        Some(Self {
            path: path.to_owned(),
            idle: Mutex::new(Some(Vec::new())),
            opened: AtomicU32::new(0),
            sent_away: Mutex::new(HashSet::new()),
        })
    }

    /// Runs `sql` here, its rows into a sink made by `sink`; `None` when it
    /// must run on sqlx's pool instead (see the module doc).
    pub(crate) fn read(
        &self,
        sql: &str,
        values: &Values,
        sink: &NewSink,
    ) -> Option<Box<dyn RowSink>> {
        let mut out = sink();
        if out.keeps_rows() {
            return None;
        }
        let key = rustc_hash::FxBuildHasher.hash_one(sql);
        if lock(&self.sent_away).contains(&key) {
            return None;
        }
        let reader = self.take()?;
        let done = run(&reader, sql, values, out.as_mut());
        self.put(reader, !matches!(done, Err(Failed::Broken)));
        match done {
            Ok(()) => Some(out),
            Err(Failed::Declined | Failed::Broken) => None,
            Err(Failed::Elsewhere) => {
                let mut away = lock(&self.sent_away);
                if away.len() >= MOST_SENT_AWAY {
                    away.clear();
                }
                away.insert(key);
                None
            }
        }
    }

    /// Closes the idle connections; no read runs here afterwards.
    pub(crate) fn close(&self) {
        drop(lock(&self.idle).take());
    }

    fn take(&self) -> Option<Reader> {
        {
            let mut idle = lock(&self.idle);
            let idle = idle.as_mut()?;
            if let Some(reader) = idle.pop() {
                return Some(reader);
            }
        }
        let opened = self.opened.fetch_add(1, Ordering::AcqRel);
        if usize::try_from(opened).unwrap_or(usize::MAX) >= MOST_CONNECTIONS {
            self.opened.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let reader = open(&self.path);
        if reader.is_none() {
            self.opened.fetch_sub(1, Ordering::AcqRel);
        }
        reader
    }

    fn put(&self, reader: Reader, reusable: bool) {
        if reusable && let Some(idle) = lock(&self.idle).as_mut() {
            idle.push(reader);
            return;
        }
        drop(reader);
        self.opened.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a read did not finish here.
enum Failed {
    /// It was not done here this time (a value not bound here, a lock
    /// held by another connection): the next read of its text may run
    /// here.
    Declined,
    /// It failed or was stopped: its text goes to sqlx's pool from now on.
    Elsewhere,
    /// The connection failed: it is closed.
    Broken,
}

fn open(path: &Path) -> Option<Reader> {
    // Not `SQLITE_OPEN_CREATE`: sqlx's pool made the file. Read-write, so
    // that the connection can open the write-ahead log's shared memory;
    // `query_only` refuses any change.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).ok()?;
    conn.pragma_update(None, "query_only", true).ok()?;
    conn.busy_timeout(std::time::Duration::ZERO).ok()?;
    conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
    let checks = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&checks);
    conn.progress_handler(
        STEPS_PER_CHECK,
        Some(move || counter.fetch_add(1, Ordering::Relaxed) >= MOST_STEPS),
    );
    Some(Reader { conn, checks })
}

fn run(reader: &Reader, sql: &str, values: &Values, sink: &mut dyn RowSink) -> Result<(), Failed> {
    let mut stmt = reader.conn.prepare_cached(sql).map_err(|e| failed(&e))?;
    if !stmt.readonly() || stmt.parameter_count() != values.0.len() {
        return Err(Failed::Elsewhere);
    }
    for (i, value) in values.0.iter().enumerate() {
        bind(&mut stmt, i + 1, value)?;
    }
    reader.checks.store(0, Ordering::Relaxed);
    let columns = stmt.column_count();
    let mut rows = stmt.raw_query();
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                let copied = copy(row, columns).ok_or(Failed::Elsewhere)?;
                sink.push(Row::SqliteLocal(copied))
                    .map_err(|_| Failed::Elsewhere)?;
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(failed(&e)),
        }
    }
}

/// What SQLite's error, preparing or stepping a read, means for it.
fn failed(error: &rusqlite::Error) -> Failed {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::CannotOpen | ErrorCode::NotADatabase) => Failed::Broken,
        // Another connection holds a lock for a moment (this connection
        // does not wait): sqlx's worker waits for it, and the text may
        // run here again next time.
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Failed::Declined,
        _ => Failed::Elsewhere,
    }
}

/// Binds `value` as sea-query's sqlx binder would (see the module doc).
fn bind(stmt: &mut rusqlite::Statement<'_>, at: usize, value: &Value) -> Result<(), Failed> {
    use rusqlite::types::Null;
    let bound = match value {
        Value::Bool(v) => stmt.raw_bind_parameter(at, v.map(i64::from)),
        Value::TinyInt(v) => stmt.raw_bind_parameter(at, v.map(i64::from)),
        Value::SmallInt(v) => stmt.raw_bind_parameter(at, v.map(i64::from)),
        Value::Int(v) => stmt.raw_bind_parameter(at, v.map(i64::from)),
        Value::BigInt(v) => stmt.raw_bind_parameter(at, *v),
        Value::TinyUnsigned(v) => stmt.raw_bind_parameter(at, v.map(i64::from)),
        Value::SmallUnsigned(v) => stmt.raw_bind_parameter(at, v.map(i64::from)),
        Value::Unsigned(v) => stmt.raw_bind_parameter(at, v.map(i64::from)),
        Value::BigUnsigned(Some(v)) => match i64::try_from(*v) {
            Ok(v) => stmt.raw_bind_parameter(at, v),
            Err(_) => return Err(Failed::Declined),
        },
        Value::BigUnsigned(None) => stmt.raw_bind_parameter(at, Null),
        Value::Float(v) => stmt.raw_bind_parameter(at, v.map(f64::from)),
        Value::Double(v) => stmt.raw_bind_parameter(at, *v),
        Value::String(v) => stmt.raw_bind_parameter(at, v.as_deref().map(String::as_str)),
        Value::Char(v) => stmt.raw_bind_parameter(at, v.map(String::from)),
        Value::Bytes(v) => stmt.raw_bind_parameter(at, v.as_deref().map(Vec::as_slice)),
        Value::Uuid(v) => {
            stmt.raw_bind_parameter(at, v.as_deref().map(|u| u.as_bytes().as_slice()))
        }
        Value::ChronoDate(v) => {
            stmt.raw_bind_parameter(at, v.as_deref().map(|d| d.format("%F").to_string()))
        }
        Value::ChronoTime(v) => {
            stmt.raw_bind_parameter(at, v.as_deref().map(|t| t.format("%T%.f").to_string()))
        }
        Value::ChronoDateTime(v) => {
            stmt.raw_bind_parameter(at, v.as_deref().map(|t| t.format("%F %T%.f").to_string()))
        }
        Value::ChronoDateTimeUtc(v) => stmt.raw_bind_parameter(
            at,
            v.as_deref()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)),
        ),
        _ => return Err(Failed::Declined),
    };
    bound.map_err(|_| Failed::Declined)
}

/// One value of a [`LocalRow`].
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    /// A range of the row's bytes.
    Text(Range<usize>),
    Blob(Range<usize>),
}

/// A row read on the calling thread (see the module doc): its values, the
/// text and bytes of all of them in one buffer.
#[derive(Debug)]
pub struct LocalRow {
    cells: Vec<Cell>,
    bytes: Vec<u8>,
}

fn copy(row: &rusqlite::Row<'_>, columns: usize) -> Option<LocalRow> {
    let mut cells = Vec::with_capacity(columns);
    let mut bytes = Vec::new();
    for i in 0..columns {
        let mut keep = |b: &[u8]| {
            let start = bytes.len();
            bytes.extend_from_slice(b);
            start..bytes.len()
        };
        cells.push(match row.get_ref(i).ok()? {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(v) => Cell::Integer(v),
            ValueRef::Real(v) => Cell::Real(v),
            ValueRef::Text(b) => Cell::Text(keep(b)),
            ValueRef::Blob(b) => Cell::Blob(keep(b)),
        });
    }
    Some(LocalRow { cells, bytes })
}

impl LocalRow {
    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    pub(crate) fn is_null(&self, idx: usize) -> bool {
        matches!(self.cells.get(idx), None | Some(Cell::Null))
    }

    fn text(&self, idx: usize) -> Option<&str> {
        match self.cells.get(idx)? {
            Cell::Text(r) => std::str::from_utf8(self.bytes.get(r.clone())?).ok(),
            _ => None,
        }
    }

    fn integer(&self, idx: usize) -> Option<i64> {
        match self.cells.get(idx)? {
            Cell::Integer(v) => Some(*v),
            _ => None,
        }
    }

    /// Column `idx` as a `T`, when it holds one of the values this row
    /// decodes exactly as sqlx would; `None` otherwise (the read then runs
    /// on sqlx's pool).
    pub(crate) fn get<T: 'static>(&self, idx: usize) -> Option<T> {
        let mut out: Option<T> = None;
        let slot: &mut dyn Any = &mut out;
        if let Some(s) = slot.downcast_mut::<Option<i64>>() {
            *s = self.integer(idx);
        } else if let Some(s) = slot.downcast_mut::<Option<String>>() {
            *s = self.text(idx).map(str::to_owned);
        } else if let Some(s) = slot.downcast_mut::<Option<bool>>() {
            *s = self.integer(idx).map(|v| v != 0);
        } else if let Some(s) = slot.downcast_mut::<Option<i32>>() {
            *s = self.integer(idx).and_then(|v| i32::try_from(v).ok());
        } else if let Some(s) = slot.downcast_mut::<Option<i16>>() {
            *s = self.integer(idx).and_then(|v| i16::try_from(v).ok());
        } else if let Some(s) = slot.downcast_mut::<Option<f64>>() {
            *s = match self.cells.get(idx) {
                Some(Cell::Real(v)) => Some(*v),
                _ => None,
            };
        } else if let Some(s) = slot.downcast_mut::<Option<Vec<u8>>>() {
            *s = match self.cells.get(idx) {
                Some(Cell::Blob(r) | Cell::Text(r)) => {
                    self.bytes.get(r.clone()).map(<[u8]>::to_vec)
                }
                _ => None,
            };
        } else if let Some(s) = slot.downcast_mut::<Option<uuid::Uuid>>() {
            *s = match self.cells.get(idx) {
                Some(Cell::Blob(r)) => self
                    .bytes
                    .get(r.clone())
                    .and_then(|b| uuid::Uuid::from_slice(b).ok()),
                _ => None,
            };
        } else if let Some(s) = slot.downcast_mut::<Option<chrono::DateTime<chrono::Utc>>>() {
            // sqlx tries RFC 3339 first, the form it writes.
            *s = self
                .text(idx)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc));
        } else if let Some(s) = slot.downcast_mut::<Option<chrono::NaiveDate>>() {
            *s = self
                .text(idx)
                .and_then(|t| chrono::NaiveDate::parse_from_str(t, "%F").ok());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{Failed, failed};
    use rusqlite::ffi;

    fn error(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn a_lock_held_elsewhere_declines_only_this_read() {
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_BUSY_RECOVERY,
        ] {
            assert!(matches!(failed(&error(code)), Failed::Declined), "{code}");
        }
        for code in [ffi::SQLITE_CANTOPEN, ffi::SQLITE_NOTADB] {
            assert!(matches!(failed(&error(code)), Failed::Broken), "{code}");
        }
        // Stopped by the progress handler, or any other error: the text
        // goes to sqlx from now on.
        for code in [
            ffi::SQLITE_INTERRUPT,
            ffi::SQLITE_ERROR,
            ffi::SQLITE_CONSTRAINT,
        ] {
            assert!(matches!(failed(&error(code)), Failed::Elsewhere), "{code}");
        }
        let misuse = rusqlite::Error::InvalidParameterCount(1, 2);
        assert!(matches!(failed(&misuse), Failed::Elsewhere));
    }
}
