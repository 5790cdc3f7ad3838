//! A request cut by `server.request_timeout` does not leave its query
//! running. On PostgreSQL the project's connections carry a
//! `statement_timeout`, and the server cancels the statement (these run
//! when `DATABASE_URL` names a PostgreSQL database). On SQLite a statement
//! whose future is dropped is stopped on its worker thread, whichever way
//! it ran: alone, streamed, in a transaction, or among combined reads.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use manouche::db::{Database, DatabaseOptions, Db, Error, Executor, Statement, raw};
use manouche::prelude::*;
use manouche::test::Client;

fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
}

/// A project whose `/sleep/` runs a ten-second query tagged with `tag`.
fn project(url: &str, statement_timeout: Option<Duration>, tag: &'static str) -> Client {
    let sleep = move |db: Db| async move {
        let sql = format!("SELECT 1::BIGINT FROM pg_sleep(10) /* {tag} */");
        let rows: Vec<(i64,)> = raw(sql).fetch_all(&db).await?;
        Ok::<_, manouche::Error>(format!("{rows:?}"))
    };
    let mut settings = Settings::default();
    settings.database_url = url.to_owned();
    settings.server.request_timeout = Duration::from_millis(700);
    settings.database.statement_timeout = statement_timeout;
    Client::new(Project::new(settings).urls(Urls::new().path("sleep/", get(sleep), "sleep")))
        .unwrap()
}

/// Statements tagged `tag` the server is still running.
async fn running(db: &Database, tag: &str) -> i64 {
    let rows: Vec<(i64,)> = raw(format!(
        "SELECT COUNT(*)::BIGINT FROM pg_stat_activity \
         WHERE state = 'active' AND query LIKE '%/* {tag} */%' AND pid <> pg_backend_pid()"
    ))
    .fetch_all(db)
    .await
    .unwrap();
    rows[0].0
}

/// Waits up to 3 s for the count of `tag`'s statements to become `want`.
async fn settles_at(db: &Database, tag: &str, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = running(db, tag).await;
        if now == want || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_timed_out_request_cancels_its_query_on_postgres() {
    let Some(url) = postgres_url() else {
        return;
    };
    let watcher = Database::connect(&url, &DatabaseOptions::default())
        .await
        .unwrap();

    // By default the statement timeout is the request timeout.
    let tag = "manouche-timeout-default";
    let c = project(&url, None, tag);
    let start = Instant::now();
    let r = c.get("/sleep/").send().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        settles_at(&watcher, tag, 0).await,
        0,
        "the query must not outlive its request"
    );

    // Turned off, the same query goes on running after the 503: the check
    // above can fail.
    let tag = "manouche-timeout-off";
    let c = project(&url, Some(Duration::ZERO), tag);
    let r = c.get("/sleep/").send().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(running(&watcher, tag).await, 1, "left running without one");
    let _: Vec<(bool,)> = raw(format!(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE '%/* {tag} */%' AND pid <> pg_backend_pid()"
    ))
    .fetch_all(&watcher)
    .await
    .unwrap();
    assert_eq!(settles_at(&watcher, tag, 0).await, 0);
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_a_503_error() {
    let Some(url) = postgres_url() else {
        return;
    };
    let mut options = DatabaseOptions::default();
    options.statement_timeout = Some(Duration::from_millis(200));
    let db = Database::connect(&url, &options).await.unwrap();
    let err = raw("SELECT 1::BIGINT FROM pg_sleep(5)")
        .fetch_all::<(i64,)>(&db)
        .await
        .expect_err("cancelled");
    assert!(matches!(err, Error::StatementTimeout { .. }), "{err}");
    assert_eq!(
        manouche::Error::from(err).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // The connection is fine afterwards.
    let rows: Vec<(i64,)> = raw("SELECT 1::BIGINT").fetch_all(&db).await.unwrap();
    assert_eq!(rows, [(1,)]);
}

/// A statement that would run for hours: a recursive count to 10^12.
const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                       WHERE x < 1000000000000) SELECT COUNT(*) FROM c";

/// A SQLite database in a fresh file, with a pool of `connections` and a
/// three-second acquire timeout: a connection left running `ENDLESS`
/// makes a later query wait that long and fail.
async fn sqlite(connections: u32) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite3").display()
    );
    let mut options = DatabaseOptions::default();
    options.max_connections = connections;
    options.acquire_timeout = Duration::from_secs(3);
    let db = Database::connect(&url, &options).await.unwrap();
    (dir, db)
}

/// Waits up to 3 s until every open connection of the pool is idle.
async fn all_idle(db: &Database) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (open, idle) = db.pool_status();
        if usize::try_from(open).unwrap() == idle {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `SELECT 1` answers on `db` (each connection busy would time out).
async fn answers(db: &dyn Executor) {
    let rows: Vec<(i64,)> = raw("SELECT 1").fetch_all(db).await.expect("answered");
    assert_eq!(rows, [(1,)]);
}

#[tokio::test]
async fn a_timed_out_request_stops_its_query_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let endless = |db: Db| async move {
        let rows: Vec<(i64,)> = raw(ENDLESS).fetch_all(&db).await?;
        Ok::<_, manouche::Error>(format!("{rows:?}"))
    };
    let one = |db: Db| async move {
        let rows: Vec<(i64,)> = raw("SELECT 1").fetch_all(&db).await?;
        Ok::<_, manouche::Error>(format!("{rows:?}"))
    };
    let mut settings = Settings::default();
    settings.database_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite3").display()
    );
    settings.server.request_timeout = Duration::from_millis(500);
    // One connection: were the statement left running, it would hold it.
    settings.database.max_connections = 1;
    settings.database.acquire_timeout = Duration::from_secs(3);
    let c = Client::new(
        Project::new(settings).urls(Urls::new().path("endless/", get(endless), "endless").path(
            "one/",
            get(one),
            "one",
        )),
    )
    .unwrap();
    for _ in 0..3 {
        let r = c.get("/endless/").send().await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
        let r = c.get("/one/").send().await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
        assert_eq!(r.text(), "[(1,)]");
    }
}

#[tokio::test]
async fn a_dropped_statement_is_stopped_on_sqlite_however_it_ran() {
    let cut = Duration::from_millis(300);
    let (_dir, db) = sqlite(1).await;

    // Alone, twice over: the connection serves again each time.
    for _ in 0..2 {
        let run = raw(ENDLESS).fetch_all::<(i64,)>(&db);
        assert!(tokio::time::timeout(cut, run).await.is_err());
        answers(&db).await;
    }

    // Streamed.
    let mut rows = db.fetch_stream(Statement::raw(ENDLESS));
    assert!(tokio::time::timeout(cut, rows.next()).await.is_err());
    drop(rows);
    answers(&db).await;

    // In a transaction that goes on: the stop reaches the statement that
    // was dropped, never the next one.
    let tx = db.begin().await.unwrap();
    let run = raw(ENDLESS).fetch_all::<(i64,)>(&tx);
    assert!(tokio::time::timeout(cut, run).await.is_err());
    for _ in 0..3 {
        answers(&tx).await;
    }
    tx.commit().await.unwrap();
    // Dropped with the transaction.
    let tx = db.begin().await.unwrap();
    let run = raw(ENDLESS).fetch_all::<(i64,)>(&tx);
    assert!(tokio::time::timeout(cut, run).await.is_err());
    drop(tx);
    answers(&db).await;
    assert!(all_idle(&db).await);
}

#[tokio::test]
async fn reads_queued_for_a_combined_command_are_stopped_when_all_have_gone() {
    // Two connections: one reading slot, so reads beyond the first queue
    // and run in a reading task, several of one text as one command.
    let (_dir, db) = sqlite(2).await;
    let first = tokio::spawn({
        let db = db.clone();
        async move {
            let run = raw(ENDLESS).fetch_all::<(i64,)>(&db);
            tokio::time::timeout(Duration::from_millis(300), run)
                .await
                .is_err()
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Queued behind it: two of the same text (combined), then one alone.
    let queued: Vec<_> = [700, 700, 1000]
        .into_iter()
        .map(|ms| {
            let db = db.clone();
            tokio::spawn(async move {
                let run = raw(ENDLESS).fetch_all::<(i64,)>(&db);
                tokio::time::timeout(Duration::from_millis(ms), run)
                    .await
                    .is_err()
            })
        })
        .collect();
    assert!(first.await.unwrap(), "timed out");
    for read in queued {
        assert!(read.await.unwrap(), "timed out");
    }
    // Both connections free again, well within the acquire timeout.
    assert!(all_idle(&db).await, "{:?}", db.pool_status());
    let both = futures_util::future::join(answers(&db), answers(&db));
    tokio::time::timeout(Duration::from_secs(2), both)
        .await
        .expect("both connections serve");
}
