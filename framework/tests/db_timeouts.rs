//! A request cut by `server.request_timeout` does not leave its query
//! running on PostgreSQL: the project's connections carry a
//! `statement_timeout`, and the server cancels the statement. Runs when
//! `DATABASE_URL` names a PostgreSQL database (SQLite has no server-side
//! statement to leave behind).

use std::time::{Duration, Instant};

use manouche::db::{Database, DatabaseOptions, Db, Error, raw};
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
