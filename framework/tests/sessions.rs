//! The sessions app: stores (database on SQLite and PostgreSQL, memory,
//! Redis when `REDIS_URL` is set), laziness, the cookie, expiry, flush and
//! key cycling (Django's `tests/sessions_tests` where they apply).

use manouche::contrib::sessions::{self, Session, SessionRow, Store};
use manouche::db::Model;
use manouche::db::testing::for_each_database_with_url;
use manouche::prelude::*;
use manouche::test::{Client, TestResponse};

async fn count(session: Session) -> manouche::Result<String> {
    let n = session.get::<u64>("n").await?.unwrap_or(0) + 1;
    session.insert("n", n).await?;
    Ok(n.to_string())
}

async fn peek(session: Session) -> manouche::Result<String> {
    Ok(session.get::<u64>("n").await?.unwrap_or(0).to_string())
}

async fn untouched(_session: Session) -> &'static str {
    "never looked"
}

async fn flush(session: Session) -> manouche::Result<&'static str> {
    session.flush().await?;
    Ok("flushed")
}

async fn cycle(session: Session) -> manouche::Result<String> {
    session.cycle_key().await?;
    Ok("cycled".to_owned())
}

async fn fail(session: Session) -> manouche::Result<String> {
    session.insert("n", 1000).await?;
    Err(manouche::Error::internal("boom"))
}

fn urls() -> Urls {
    Urls::new()
        .path("count/", get(count), "count")
        .path("peek/", get(peek), "peek")
        .path("untouched/", get(untouched), "untouched")
        .path("flush/", get(flush), "flush")
        .path("cycle/", get(cycle), "cycle")
        .path("fail/", get(fail), "fail")
        .path("plain/", get(|| async { "plain" }), "plain")
}

fn project(section: &str, database_url: &str, debug: bool) -> Project {
    let section = section.to_owned();
    let url = database_url.to_owned();
    Project::new(Settings::default())
        .configure(move |s| {
            s.debug = debug;
            s.database_url = url;
            s.set_section("sessions", &section).unwrap();
        })
        .app(sessions::app())
        .urls(urls())
}

fn session_cookie(response: &TestResponse) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sessionid="))
        .map(str::to_owned)
}

/// The behaviour every store shares.
async fn exercise(client: &Client) {
    // No cookie, a view that never reads: nothing set.
    let r = client.get("/plain/").send().await;
    assert_eq!(session_cookie(&r), None);
    assert!(r.header("vary").is_none());

    let r = client.get("/count/").send().await;
    assert_eq!(r.text(), "1");
    let cookie = session_cookie(&r).expect("a new session sets the cookie");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("; Max-Age=1209600"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert_eq!(r.header("vary"), Some("Cookie"));
    let key = client.cookie("sessionid").unwrap();

    assert_eq!(client.get("/count/").send().await.text(), "2");
    // Reading without changing: no new cookie, but Vary.
    let r = client.get("/peek/").send().await;
    assert_eq!(r.text(), "2");
    assert_eq!(session_cookie(&r), None);
    assert_eq!(r.header("vary"), Some("Cookie"));
    // A view that takes the session but never uses it: nothing.
    let r = client.get("/untouched/").send().await;
    assert_eq!(session_cookie(&r), None);
    assert!(r.header("vary").is_none());

    // A 5xx does not save.
    assert_eq!(client.get("/fail/").send().await.status(), 500);
    assert_eq!(client.get("/peek/").send().await.text(), "2");

    // Another visitor has a session of their own.
    let other = client.new_browser();
    assert_eq!(other.get("/count/").send().await.text(), "1");
    assert_ne!(other.cookie("sessionid").unwrap(), key);

    // A made-up or unknown key is not adopted: a new one is issued.
    let forger = client.new_browser();
    forger.set_cookie("sessionid", "AAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(forger.get("/count/").send().await.text(), "1");
    assert_ne!(
        forger.cookie("sessionid").unwrap(),
        "AAAAAAAAAAAAAAAAAAAAAA"
    );
    let junk = client.new_browser();
    junk.set_cookie("sessionid", "not a key; at all");
    assert_eq!(junk.get("/count/").send().await.text(), "1");

    // Cycling keeps the data under a new key; the old key is dead.
    let r = client.get("/cycle/").send().await;
    assert!(session_cookie(&r).is_some());
    let new_key = client.cookie("sessionid").unwrap();
    assert_ne!(new_key, key);
    assert_eq!(client.get("/peek/").send().await.text(), "2");
    let stale = client.new_browser();
    stale.set_cookie("sessionid", &key);
    assert_eq!(stale.get("/peek/").send().await.text(), "0");

    // Flushing deletes the session and the cookie.
    let r = client.get("/flush/").send().await;
    let deleted = session_cookie(&r).expect("flush deletes the cookie");
    assert!(deleted.contains("Max-Age=0"), "{deleted}");
    assert_eq!(client.cookie("sessionid"), None);
    let replay = client.new_browser();
    replay.set_cookie("sessionid", &new_key);
    assert_eq!(replay.get("/peek/").send().await.text(), "0");
}

#[tokio::test]
async fn the_memory_store() {
    let client = Client::new(project("store = \"memory\"", "", true)).unwrap();
    exercise(&client).await;
}

#[tokio::test]
async fn the_database_store_on_every_backend() {
    for_each_database_with_url(|db, url| async move {
        let project = project("", &url, true);
        project.migrate(&db).await.expect("migrate");
        let client = Client::new(project).unwrap();
        exercise(&client).await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_request_without_the_cookie_makes_no_query() {
    for_each_database_with_url(|db, url| async move {
        let project = project("", &url, true);
        project.migrate(&db).await.expect("migrate");
        let client = Client::new(project).unwrap();
        let site_db = client.database().expect("the site has a database");
        let before = site_db.query_count();
        for path in ["/plain/", "/untouched/", "/plain/"] {
            assert_eq!(client.get(path).send().await.status(), 200);
        }
        assert_eq!(
            site_db.query_count(),
            before,
            "no store access without a session"
        );
        // With a session that a view does not read: still none.
        client.get("/count/").send().await;
        let before = site_db.query_count();
        client.get("/plain/").send().await;
        client.get("/untouched/").send().await;
        assert_eq!(site_db.query_count(), before);
        // Reading costs one query; changing it one more (the save).
        client.get("/peek/").send().await;
        assert_eq!(site_db.query_count(), before + 1);
        client.get("/count/").send().await;
        assert_eq!(site_db.query_count(), before + 3);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn expired_sessions_are_never_accepted_and_clearsessions_removes_them() {
    for_each_database_with_url(|db, url| async move {
        let project = project("", &url, true);
        project.migrate(&db).await.expect("migrate");
        let client = Client::new(project).unwrap();
        assert_eq!(client.get("/count/").send().await.text(), "1");
        assert_eq!(client.get("/count/").send().await.text(), "2");
        let key = client.cookie("sessionid").unwrap();
        // Expire it in the store.
        let past = chrono::Utc::now() - chrono::Duration::seconds(5);
        let changed = SessionRow::objects()
            .filter(SessionRow::session_key.eq(key.clone()))
            .update(&db, [SessionRow::expire_date.set(past)])
            .await?;
        assert_eq!(changed, 1);
        assert_eq!(client.get("/peek/").send().await.text(), "0");
        assert_eq!(client.get("/count/").send().await.text(), "1");
        assert_ne!(client.cookie("sessionid").unwrap(), key);

        let store = Store::from_settings(&Default::default(), Some(db.clone())).unwrap();
        assert_eq!(store.clear_expired().await?, Some(1));
        assert_eq!(SessionRow::objects().count(&db).await?, 1);
        assert_eq!(store.clear_expired().await?, Some(0));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_cookie_follows_the_settings() {
    // Deployed (debug off): Secure.
    let client = Client::new(project("store = \"memory\"", "", false)).unwrap();
    let r = client.get("/count/").send().await;
    let cookie = session_cookie(&r).unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Debug: not Secure.
    let client = Client::new(project("store = \"memory\"", "", true)).unwrap();
    let cookie = session_cookie(&client.get("/count/").send().await).unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
    // Name, age, domain, path, SameSite, browser-close.
    let client = Client::new(project(
        "store = \"memory\"\ncookie_name = \"sid\"\ncookie_age = 60\ncookie_domain = \".example.com\"\ncookie_path = \"/app\"\ncookie_samesite = \"Strict\"",
        "",
        true,
    ))
    .unwrap();
    let r = client.get("/count/").send().await;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("sid="))
        .unwrap();
    for part in [
        "; Max-Age=60",
        "; Domain=.example.com",
        "; Path=/app",
        "; SameSite=Strict",
        "; HttpOnly",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert_eq!(client.get("/count/").send().await.text(), "2");
    let client = Client::new(project(
        "store = \"memory\"\nexpire_at_browser_close = true",
        "",
        true,
    ))
    .unwrap();
    let cookie = session_cookie(&client.get("/count/").send().await).unwrap();
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    assert!(!cookie.contains("expires"), "{cookie}");
}

#[tokio::test]
async fn bad_settings_stop_startup_with_the_key() {
    for (section, expected) in [
        ("store = \"disk\"", "disk"),
        ("cookie_name = \"my session\"", "cookie_name"),
        ("cookie_age = 0", "cookie_age"),
        ("cookie_samesite = \"Sometimes\"", "SameSite"),
        (
            "cookie_samesite = \"None\"\ncookie_secure = false",
            "Secure",
        ),
        ("cokie_name = \"x\"", "cokie_name"),
    ] {
        let err = Client::new(project(section, "", true))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{section}: {err}");
        assert!(err.contains("sessions"), "{section}: {err}");
    }
    // The database store without a database.
    let err = Client::new(project("", "", true)).unwrap_err().to_string();
    assert!(err.contains("needs a database"), "{err}");
    // Redis without an address.
    if std::env::var("REDIS_URL").is_err() {
        let err = Client::new(project("store = \"redis\"", "", true))
            .unwrap_err()
            .to_string();
        assert!(err.contains("REDIS_URL"), "{err}");
    }
}

#[tokio::test]
async fn a_view_without_the_app_gets_a_clear_error() {
    let project = Project::new(Settings::default())
        .configure(|s| s.debug = true)
        .urls(urls());
    let client = Client::new(project).unwrap();
    let r = client.get("/count/").send().await;
    assert_eq!(r.status(), 500);
    assert!(
        r.text().contains("sessions app is not installed"),
        "{}",
        r.text()
    );
}

/// Two sites (as two server processes would) sharing one Redis: a session
/// made through one is read through the other.
#[tokio::test]
async fn the_redis_store_is_shared_between_instances() {
    let Ok(url) = std::env::var("REDIS_URL") else {
        eprintln!("REDIS_URL is not set: skipping the Redis store");
        return;
    };
    let section = format!("store = \"redis\"\nredis_url = \"{url}\"");
    let one = Client::new(project(&section, "", true)).unwrap();
    exercise(&one).await;
    let two = Client::new(project(&section, "", true)).unwrap();
    one.clear_cookies();
    assert_eq!(one.get("/count/").send().await.text(), "1");
    assert_eq!(one.get("/count/").send().await.text(), "2");
    two.set_cookie("sessionid", &one.cookie("sessionid").unwrap());
    assert_eq!(two.get("/count/").send().await.text(), "3");
    assert_eq!(one.get("/peek/").send().await.text(), "3");
}
