//! SQLite reads on the calling thread (`[database] sqlite_inline_reads`):
//! the same answers and errors as through sqlx's worker, for every kind of
//! stored value, and a read that runs long moves to sqlx's worker.
//!
//! Every other database test also runs this path: `for_each_database`'s
//! SQLite is a file, where it is on by default.

use manouche::db::{Database, DatabaseOptions, Executor, Row, Statement};

/// A database file with rows of every storage class, some in forms sqlx
/// reads and this path does not (a date-time in SQLite's own format, an
/// integer where a text is expected, bad UTF-8, a float in an integer
/// column...). Returns the file and two handles: reads here and reads
/// through sqlx only.
async fn databases() -> (tempfile::TempDir, Database, Database) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite3").display()
    );
    let here = Database::connect(&url, &DatabaseOptions::default())
        .await
        .expect("connect");
    let mut through_sqlx = DatabaseOptions::default();
    through_sqlx.sqlite_inline_reads = false;
    let away = Database::connect(&url, &through_sqlx)
        .await
        .expect("connect");
    let exec: &dyn Executor = &here;
    exec.execute(Statement::raw(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, d TEXT, n INTEGER)",
    ))
    .await
    .expect("create");
    let rows = [
        "(1, 7, 1.5, 'plain', x'00ff', '2026-12-05T21:34:43.410831+00:00', NULL)",
        "(2, -9223372036854775808, -0.0, 'é ünïcode', x'', '2026-12-05 21:34:43', 1)",
        "(3, 4294967296, 3, '42', 'text in blob', '2026-12-05', 0)",
        "(4, '12abc', 2.5e300, x'fffe', x'0123456789abcdef0123456789abcdef', 1733434483, 2)",
        "(5, 1, NULL, '', NULL, 2460650.5, -1)",
    ];
    for row in rows {
        exec.execute(Statement::raw(format!("INSERT INTO t VALUES {row}")))
            .await
            .expect("insert");
    }
    (dir, here, away)
}

/// Column `col` of every row of `t`, decoded as `T`, each an answer or an
/// error's text.
async fn column<T>(db: &Database, col: &str) -> Vec<Result<T, String>>
where
    T: manouche::db::NativeDecode + Send + 'static,
{
    let exec: &dyn Executor = db;
    let mut out = Vec::new();
    for id in 1..=5 {
        let sql = format!("SELECT {col} FROM t WHERE id = ?");
        let mut stmt = Statement::raw(sql);
        stmt.values.0.push(sea_query::Value::BigInt(Some(id)));
        let got = exec
            .fetch_map(stmt, |row: &Row| row.get::<T>(0))
            .await
            .map(|mut rows| rows.remove(0))
            .map_err(|e| e.to_string());
        out.push(got);
    }
    out
}

const COLUMNS: [&str; 6] = ["i", "f", "s", "b", "d", "n"];

macro_rules! same {
    ($here:expr, $away:expr, $($ty:ty),*) => {$(
        for col in COLUMNS {
            let a = column::<$ty>(&$here, col).await;
            let b = column::<$ty>(&$away, col).await;
            assert_eq!(a, b, "{} from column {col}", stringify!($ty));
        }
    )*};
}

#[tokio::test]
async fn every_value_decodes_as_through_sqlx() {
    let (_dir, here, away) = databases().await;
    same!(
        here,
        away,
        i64,
        i32,
        i16,
        bool,
        f64,
        String,
        Vec<u8>,
        uuid::Uuid,
        chrono::DateTime<chrono::Utc>,
        chrono::NaiveDate,
        Option<String>,
        Option<i64>
    );
}

#[tokio::test]
async fn bound_values_match_as_through_sqlx() {
    use chrono::TimeZone as _;
    use sea_query::Value;
    let (_dir, here, away) = databases().await;
    let when = chrono::Utc
        .with_ymd_and_hms(2026, 12, 5, 21, 34, 43)
        .unwrap()
        .checked_add_signed(chrono::Duration::microseconds(410_831))
        .unwrap();
    let whole = chrono::Utc
        .with_ymd_and_hms(2026, 12, 5, 21, 34, 43)
        .unwrap();
    let cases: Vec<(&str, Value, &[i64])> = vec![
        ("i = ?", Value::BigInt(Some(7)), &[1]),
        ("i = ?", Value::Int(Some(1)), &[5]),
        ("i = ?", Value::Bool(Some(true)), &[5]),
        ("n = ?", Value::Bool(Some(false)), &[3]),
        ("n IS ?", Value::Bool(None), &[1]),
        // Text in an integer column sorts after every number.
        ("i > ?", Value::BigUnsigned(Some(5)), &[1, 3, 4]),
        ("f = ?", Value::Double(Some(1.5)), &[1]),
        ("f = ?", Value::Float(Some(1.5)), &[1]),
        (
            "s = ?",
            Value::String(Some(Box::new("42".to_owned()))),
            &[3],
        ),
        ("s = ?", Value::Char(Some('x')), &[]),
        ("b = ?", Value::Bytes(Some(Box::new(vec![0, 255]))), &[1]),
        (
            "d = ?",
            Value::ChronoDateTimeUtc(Some(Box::new(when))),
            &[1],
        ),
        (
            "d = ?",
            Value::ChronoDate(Some(Box::new(when.date_naive()))),
            &[3],
        ),
        (
            "d = ?",
            Value::ChronoDateTime(Some(Box::new(whole.naive_utc()))),
            &[2],
        ),
        (
            "b = ?",
            Value::Uuid(Some(Box::new(
                uuid::Uuid::parse_str("01234567-89ab-cdef-0123-456789abcdef").unwrap(),
            ))),
            &[4],
        ),
    ];
    for (filter, value, expected) in cases {
        for db in [&here, &away] {
            let exec: &dyn Executor = db;
            let mut stmt = Statement::raw(format!("SELECT id FROM t WHERE {filter} ORDER BY id"));
            stmt.values.0.push(value.clone());
            let ids = exec
                .fetch_map(stmt, |row: &Row| row.get::<i64>(0))
                .await
                .expect("read");
            assert_eq!(ids, expected, "{filter} with {value:?}");
        }
    }
}

/// Which connection answered: this path's connections have `query_only`
/// on, sqlx's do not.
async fn answered_here(db: &Database, sql: &str) -> bool {
    let exec: &dyn Executor = db;
    let rows = exec
        .fetch_map(Statement::raw(sql.to_owned()), |row: &Row| {
            row.get::<i64>(0)
        })
        .await
        .expect("read");
    rows[0] == 1
}

#[tokio::test]
async fn a_long_read_moves_to_sqlx_and_stays_there() {
    let (_dir, here, away) = databases().await;
    let quick = "SELECT query_only FROM pragma_query_only";
    assert!(answered_here(&here, quick).await);
    assert!(!answered_here(&away, quick).await);
    // About ten million instructions: past the budget.
    let long = "SELECT (SELECT query_only FROM pragma_query_only), \
                (SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT x FROM c))";
    for _ in 0..2 {
        assert!(
            !answered_here(&here, long).await,
            "a long read runs on sqlx's worker"
        );
    }
    let exec: &dyn Executor = &here;
    let counted = exec
        .fetch_map(Statement::raw(long.to_owned()), |row: &Row| {
            row.get::<i64>(1)
        })
        .await
        .expect("read");
    assert_eq!(counted, [1_000_000]);
    assert!(
        answered_here(&here, quick).await,
        "short reads still run here"
    );
}

#[tokio::test]
async fn raw_rows_and_transactions_go_through_sqlx() {
    let (_dir, here, _away) = databases().await;
    let exec: &dyn Executor = &here;
    let quick = || Statement::raw("SELECT query_only FROM pragma_query_only");
    // `fetch_all` and `fetch_optional` hand rows to the caller, who may
    // decode any type later: those come from sqlx.
    let rows = exec.fetch_all(quick()).await.expect("read");
    assert!(matches!(rows[0], Row::Sqlite(_)));
    assert_eq!(rows[0].get::<i64>(0).unwrap(), 0);
    let row = exec
        .fetch_optional(quick())
        .await
        .expect("read")
        .expect("a row");
    assert!(matches!(row, Row::Sqlite(_)));
    let tx = here.begin().await.expect("begin");
    let tx_exec: &dyn Executor = &tx;
    let in_tx = tx_exec
        .fetch_map(quick(), |row: &Row| row.get::<i64>(0))
        .await
        .expect("read");
    assert_eq!(in_tx, [0]);
    tx.rollback().await.expect("rollback");
}

#[tokio::test]
async fn reads_see_each_commit() {
    let (_dir, here, _away) = databases().await;
    let exec: &dyn Executor = &here;
    let count = || async {
        exec.fetch_map(Statement::raw("SELECT count(*) FROM t"), |row: &Row| {
            row.get::<i64>(0)
        })
        .await
        .expect("read")[0]
    };
    assert_eq!(count().await, 5);
    for i in 0..20_i64 {
        exec.execute(Statement::raw(format!("INSERT INTO t (i) VALUES ({i})")))
            .await
            .expect("insert");
        assert_eq!(count().await, 6 + i);
    }
    let tx = here.begin().await.expect("begin");
    let tx_exec: &dyn Executor = &tx;
    tx_exec
        .execute(Statement::raw("DELETE FROM t"))
        .await
        .expect("delete");
    assert_eq!(
        count().await,
        25,
        "an open transaction's change is not seen"
    );
    tx.commit().await.expect("commit");
    assert_eq!(count().await, 0);
}
