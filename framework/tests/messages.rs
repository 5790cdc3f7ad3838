//! The messages app through the in-process client (Django's
//! `tests/messages_tests`, the HTTP side): a message shown once and then
//! gone on every storage, levels and tags, the cookie's size limit and the
//! session fallback, a tampered cookie, the session storage on SQLite and
//! PostgreSQL, `Vary`, and the startup errors.

use manouche::contrib::messages::{self, Level, Messages};
use manouche::contrib::sessions::{self, Session, SessionRow};
use manouche::crypto::{ALPHANUMERIC, random_string};
use manouche::db::Model;
use manouche::db::testing::for_each_database_with_url;
use manouche::prelude::*;
use manouche::test::{Client, TestResponse};

/// Every message of the request, as `[level|tags|text]`, marked used.
#[derive(Template, TemplateResponse)]
#[template(
    source = "{% for m in manouche::contrib::messages::get_messages() %}[{{ m.level() }}|{{ m.tags() }}|{{ m }}]{% endfor %}",
    ext = "html"
)]
struct Show;

/// Adds the form's `messages` at the form's `level` (a name), with its
/// `tags`, and redirects to the page that shows them (Django's
/// `add_message` test view).
async fn add(messages: Messages, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let level = Level::parse(field("level").unwrap_or("info")).unwrap_or(Level::INFO);
    let tags = field("tags").unwrap_or("");
    for (_, text) in fields.iter().filter(|(k, _)| k == "messages") {
        messages.add_with_tags(level, text.clone(), tags);
    }
    manouche::web::found("/show/")
}

/// Adds one message of each kind through the shortcuts, and shows the page
/// at once: they are used here, and never stored.
async fn add_and_show(messages: Messages) -> Show {
    messages.debug("debug");
    messages.info("info");
    messages.success("success");
    messages.warning("warning");
    messages.error("error");
    Show
}

/// Counts the messages without using them.
async fn count(messages: Messages) -> String {
    messages.len().to_string()
}

/// Reads them in the view rather than in a template.
async fn list(messages: Messages) -> String {
    messages
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads them, then adds one: the new one waits for the next page.
async fn read_then_add(messages: Messages) -> String {
    let seen = messages.iter().count();
    messages.info("added after reading");
    seen.to_string()
}

/// A helper that is not an extractor finds the request's messages.
async fn helper() -> &'static str {
    if let Some(messages) = Messages::current() {
        messages.warning("from a helper");
    }
    "ok"
}

/// The threshold for this request only.
async fn quiet(messages: Messages) -> String {
    messages.set_level(Some(Level::ERROR));
    messages.warning("not recorded");
    messages.error("recorded");
    messages.level().to_string()
}

fn urls() -> Urls {
    Urls::new()
        .path("add/", post(add), "add")
        .path("show/", get(|| async { Show }), "show")
        .path("add-and-show/", get(add_and_show), "add-and-show")
        .path("count/", get(count), "count")
        .path("list/", get(list), "list")
        .path("read-then-add/", get(read_then_add), "read-then-add")
        .path("helper/", get(helper), "helper")
        .path("quiet/", get(quiet), "quiet")
        .path("plain/", get(|| async { "plain" }), "plain")
        .path("session/", get(in_session), "session")
}

/// What the session holds under Django's key for messages.
async fn in_session(session: Session) -> manouche::Result<String> {
    Ok(session
        .get::<String>("_messages")
        .await?
        .unwrap_or_default())
}

/// A project with the sessions app (`sessions` section) and the messages
/// app (`messages` section).
fn project(sessions: &str, messages: &str, database_url: &str, debug: bool) -> Project {
    let (sessions, messages, url) = (
        sessions.to_owned(),
        messages.to_owned(),
        database_url.to_owned(),
    );
    Project::new(Settings::default())
        .configure(move |s| {
            s.debug = debug;
            s.database_url = url;
            s.set_section("sessions", &sessions).unwrap();
            s.set_section("messages", &messages).unwrap();
        })
        .app(sessions::app())
        .app(messages::app())
        .urls(urls())
}

const MEMORY: &str = "store = \"memory\"";

fn client(messages: &str) -> Client {
    Client::new(project(MEMORY, messages, "", true)).unwrap()
}

async fn post_messages(client: &Client, level: &str, texts: &[&str]) -> TestResponse {
    let mut fields = vec![("level", level)];
    fields.extend(texts.iter().map(|t| ("messages", *t)));
    client.post("/add/").form(&fields).send().await
}

fn set_cookie<'a>(response: &'a TestResponse, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The behaviour every storage shares: a message is shown by the next page
/// that looks, once, and pages that do not look leave it there.
async fn shown_once_and_then_gone(client: &Client) {
    let r = post_messages(client, "success", &["Article saved."]).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.header("location"), Some("/show/"));
    assert_eq!(r.header("vary"), Some("Cookie"));
    // Pages that do not iterate leave it.
    assert_eq!(client.get("/plain/").send().await.text(), "plain");
    assert_eq!(client.get("/count/").send().await.text(), "1");
    // Shown once...
    assert_eq!(
        client.get("/show/").send().await.text(),
        "[25|success|Article saved.]"
    );
    // ...then gone.
    assert_eq!(client.get("/show/").send().await.text(), "");
    assert_eq!(client.get("/count/").send().await.text(), "0");
    // Another visitor never saw it.
    let r = post_messages(client, "info", &["Only mine."]).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let other = client.new_browser();
    assert_eq!(other.get("/show/").send().await.text(), "");
    assert_eq!(
        client.get("/show/").send().await.text(),
        "[20|info|Only mine.]"
    );
    // Read, then added: the new one is for the next page.
    post_messages(client, "info", &["first"]).await;
    assert_eq!(client.get("/read-then-add/").send().await.text(), "1");
    assert_eq!(
        client.get("/list/").send().await.text(),
        "added after reading"
    );
    assert_eq!(client.get("/list/").send().await.text(), "");
    // Added and shown by the same page: never stored.
    let r = client.get("/add-and-show/").send().await;
    assert_eq!(
        r.text(),
        "[20|info|info][25|success|success][30|warning|warning][40|error|error]",
        "DEBUG is below the default threshold"
    );
    assert_eq!(client.get("/show/").send().await.text(), "");
}

#[tokio::test]
async fn a_message_is_shown_once_and_then_gone_with_the_cookie_storage() {
    let client = client("storage = \"cookie\"");
    shown_once_and_then_gone(&client).await;
    assert_eq!(client.cookie("messages"), None, "deleted once shown");
}

#[tokio::test]
async fn a_message_is_shown_once_and_then_gone_with_the_fallback_storage() {
    let client = client("");
    shown_once_and_then_gone(&client).await;
    assert_eq!(client.cookie("messages"), None);
    assert_eq!(
        client.cookie("sessionid"),
        None,
        "messages that fit in the cookie never start a session"
    );
}

#[tokio::test]
async fn a_message_is_shown_once_and_then_gone_with_the_session_storage_on_every_database() {
    for_each_database_with_url(|db, url| async move {
        let project = project("", "storage = \"session\"", &url, true);
        project.migrate(&db).await.expect("migrate");
        let client = Client::new(project).unwrap();
        shown_once_and_then_gone(&client).await;
        assert_eq!(client.cookie("messages"), None, "no cookie of its own");
        // Stored in the session's `_messages`, as Django stores them.
        post_messages(&client, "warning", &["In the session."]).await;
        let key = client.cookie("sessionid").expect("a session");
        let row = SessionRow::objects()
            .filter(SessionRow::session_key.eq(key))
            .get(&db)
            .await?;
        assert!(
            row.session_data
                .contains(r#"[[\"__json_message\",0,30,\"In the session.\",\"\"]]"#),
            "{}",
            row.session_data
        );
        assert_eq!(
            client.get("/show/").send().await.text(),
            "[30|warning|In the session.]"
        );
        assert_eq!(client.get("/session/").send().await.text(), "");
        assert_eq!(client.get("/show/").send().await.text(), "");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn every_level_goes_through_a_redirect_in_order() {
    // Django's test_full_request_response_cycle and test_multiple_posts,
    // with MESSAGE_LEVEL = DEBUG.
    for storage in ["cookie", "fallback", "session"] {
        let client = client(&format!("storage = \"{storage}\"\nlevel = \"debug\""));
        let texts: Vec<String> = (0..5).map(|i| format!("Test message {i}")).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut all = String::new();
        for (level, number) in [
            ("debug", 10),
            ("info", 20),
            ("success", 25),
            ("warning", 30),
            ("error", 40),
        ] {
            let expected: String = texts
                .iter()
                .map(|t| format!("[{number}|{level}|{t}]"))
                .collect();
            post_messages(&client, level, &texts).await;
            assert_eq!(
                client.get("/show/").send().await.text(),
                expected,
                "{storage}"
            );
            all.push_str(&expected);
        }
        // Several posts before one page: all of them, in order.
        for level in ["debug", "info", "success", "warning", "error"] {
            post_messages(&client, level, &texts).await;
        }
        assert_eq!(client.get("/show/").send().await.text(), all, "{storage}");
        assert_eq!(client.get("/show/").send().await.text(), "", "{storage}");
    }
}

#[tokio::test]
async fn the_threshold_and_the_tags_come_from_the_settings() {
    let client =
        client("level = 29\ntags = { error = \"danger\", 29 = \"custom\", warning = \"\" }");
    for (level, text) in [
        ("info", "not recorded"),
        ("29", "custom level"),
        ("warning", "a warning"),
        ("error", "an error"),
    ] {
        post_messages(&client, level, &[text]).await;
    }
    assert_eq!(
        client.get("/show/").send().await.text(),
        "[29|custom|custom level][30||a warning][40|danger|an error]"
    );
    // Extra tags come first.
    client
        .post("/add/")
        .form(&[
            ("level", "error"),
            ("tags", "urgent"),
            ("messages", "tagged"),
        ])
        .send()
        .await;
    assert_eq!(
        client.get("/show/").send().await.text(),
        "[40|urgent danger|tagged]"
    );
    // The threshold for one request.
    assert_eq!(client.get("/quiet/").send().await.text(), "40");
    assert_eq!(
        client.get("/show/").send().await.text(),
        "[40|danger|recorded]"
    );
    // Empty messages are not recorded.
    let r = post_messages(&client, "error", &[""]).await;
    assert!(set_cookie(&r, "messages").is_none());
}

#[tokio::test]
async fn messages_are_escaped_in_templates_and_keep_any_text() {
    let client = client("");
    let text = "<script>alert(\"x\")</script> café \u{1F600}; a,b \\ \"q\"";
    post_messages(&client, "info", &[text]).await;
    let value = client.cookie("messages").unwrap();
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)),
        "a cookie value needs no quoting: {value}"
    );
    let page = client.get("/show/").send().await.text();
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"),
        "{page}"
    );
    assert!(page.contains("café \u{1F600}; a,b \\"), "{page}");
    post_messages(&client, "info", &[text]).await;
    assert_eq!(client.get("/list/").send().await.text(), text);
}

/// `n` messages of Django's test size (`(2048 - 54) / 4.5 - 37`
/// characters, random letters): four fit in a 2048-byte cookie, five do
/// not.
fn large_messages(n: usize) -> Vec<String> {
    let size = (2048 - 54) * 2 / 9 - 37;
    (0..n)
        .map(|i| format!("{i}{}", random_string(size - 1, ALPHANUMERIC)))
        .collect()
}

fn bracketed(level: u8, tag: &str, texts: &[String]) -> String {
    texts
        .iter()
        .map(|t| format!("[{level}|{tag}|{t}]"))
        .collect()
}

#[tokio::test]
async fn what_does_not_fit_in_the_cookie_goes_to_the_session_on_every_database() {
    // Django's test_session_fallback and test_session_fallback_only, over
    // HTTP with the database session store.
    for_each_database_with_url(|db, url| async move {
        let project = project("", "", &url, true);
        project.migrate(&db).await.expect("migrate");
        let client = Client::new(project).unwrap();
        let texts = large_messages(5);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let r = post_messages(&client, "info", &refs).await;
        let cookie = set_cookie(&r, "messages").expect("the cookie");
        let value = cookie
            .trim_start_matches("messages=")
            .split(';')
            .next()
            .unwrap();
        assert!(value.len() <= 2048, "{}", value.len());
        // The newest went to the session.
        let key = client
            .cookie("sessionid")
            .expect("a session for the overflow");
        let row = SessionRow::objects()
            .filter(SessionRow::session_key.eq(key.clone()))
            .get(&db)
            .await?;
        assert!(row.session_data.contains(&texts[4]), "{}", row.session_data);
        assert!(!row.session_data.contains(&texts[3]));
        // All five, in order, then gone from both.
        let site_db = client.database().unwrap().clone();
        let before = site_db.query_count();
        assert_eq!(
            client.get("/show/").send().await.text(),
            bracketed(20, "info", &texts)
        );
        assert!(site_db.query_count() > before, "the session was read");
        assert_eq!(client.cookie("messages"), None);
        assert_eq!(client.get("/session/").send().await.text(), "");
        assert_eq!(client.get("/show/").send().await.text(), "");

        // One message too large for any cookie: the cookie holds only the
        // marker, the session the message.
        let huge = random_string(5000, ALPHANUMERIC);
        post_messages(&client, "warning", &[huge.as_str()]).await;
        assert!(client.cookie("messages").is_some());
        assert_eq!(
            client.get("/show/").send().await.text(),
            format!("[30|warning|{huge}]")
        );
        assert_eq!(client.cookie("messages"), None, "the marker is gone too");
        assert_eq!(client.get("/show/").send().await.text(), "");

        // Messages that fit cost no store access at all.
        post_messages(&client, "info", &["short"]).await;
        let before = site_db.query_count();
        let plain = client.new_browser();
        plain.set_cookie("messages", &client.cookie("messages").unwrap());
        assert_eq!(plain.get("/show/").send().await.text(), "[20|info|short]");
        assert_eq!(plain.get("/plain/").send().await.text(), "plain");
        assert_eq!(site_db.query_count(), before, "no session, no query");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_cookie_storage_drops_the_oldest_messages_beyond_its_limit() {
    // Django's test_max_cookie_length: four kept, the oldest dropped.
    let texts = large_messages(5);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let deployed = Client::new(project(MEMORY, "storage = \"cookie\"", "", false)).unwrap();
    let r = post_messages(&deployed, "info", &refs).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    // The client sends the Secure cookie back (it does not check schemes).
    assert_eq!(
        deployed.get("/show/").send().await.text(),
        bracketed(20, "info", &texts[1..])
    );
    // In debug, losing messages is an error page that says what to do
    // (Django raises).
    let debug = client("storage = \"cookie\"");
    let r = post_messages(&debug, "info", &refs).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        r.text()
            .contains("Not all temporary messages could be stored"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("fallback"), "{}", r.text());
    // A smaller limit from the settings.
    let small = client("storage = \"cookie\"\nmax_cookie_size = 300");
    let r = post_messages(&small, "info", &["a"; 1]).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = post_messages(&small, "info", &[texts[0].as_str()]).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_tampered_cookie_is_ignored_and_deleted() {
    // Django's test_get_bad_cookie, over HTTP.
    let source = client("storage = \"cookie\"");
    post_messages(&source, "info", &["genuine"]).await;
    let genuine = source.cookie("messages").unwrap();
    let (value, signature) = genuine.rsplit_once(':').unwrap();
    let other_key = {
        let other = Client::new(
            project(MEMORY, "storage = \"cookie\"", "", true)
                .configure(|s| s.secret_key = "another secret key, another site".into()),
        )
        .unwrap();
        post_messages(&other, "info", &["forged"]).await;
        other.cookie("messages").unwrap()
    };
    for storage in ["cookie", "fallback"] {
        let victim = client(&format!("storage = \"{storage}\""));
        for bad in [
            genuine[1..].to_owned(),
            format!("{value}x:{signature}"),
            format!("{value}:{}", "A".repeat(signature.len())),
            other_key.clone(),
            "junk".to_owned(),
            "a:b:c".to_owned(),
        ] {
            victim.set_cookie("messages", &bad);
            let r = victim.get("/show/").send().await;
            assert_eq!(r.status(), StatusCode::OK, "{storage}: {bad}");
            assert_eq!(r.text(), "", "{storage}: {bad}");
            let deleted = set_cookie(&r, "messages").expect("deleted");
            assert!(deleted.contains("Max-Age=0"), "{deleted}");
            // Also on a page that does not look at messages.
            victim.set_cookie("messages", &bad);
            let r = victim.get("/plain/").send().await;
            assert!(set_cookie(&r, "messages").is_some_and(|c| c.contains("Max-Age=0")));
        }
        // The genuine one still works on a site with the same key.
        victim.set_cookie("messages", &genuine);
        assert_eq!(
            victim.get("/show/").send().await.text(),
            "[20|info|genuine]"
        );
    }
}

#[tokio::test]
async fn responses_vary_on_cookie_only_when_messages_are_used() {
    let client = client("");
    // Untouched: the response is left as it is.
    let r = client.get("/plain/").send().await;
    assert!(r.header("vary").is_none());
    assert!(r.headers().get("set-cookie").is_none());
    // Read with nothing there: varies, sets nothing.
    let r = client.get("/show/").send().await;
    assert_eq!(r.header("vary"), Some("Cookie"));
    assert!(r.headers().get("set-cookie").is_none());
    // Added from a helper: varies, and the message waits.
    let r = client.get("/helper/").send().await;
    assert_eq!(r.header("vary"), Some("Cookie"));
    assert!(set_cookie(&r, "messages").is_some());
    // Waiting, on a page that does not look: nothing changes.
    let r = client.get("/plain/").send().await;
    assert!(r.header("vary").is_none());
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(
        client.get("/show/").send().await.text(),
        "[30|warning|from a helper]"
    );
}

#[tokio::test]
async fn the_cookie_has_the_session_cookies_attributes() {
    // Django's test_cookie_settings: domain, Secure, HttpOnly, SameSite
    // from the session settings; a browser-session cookie.
    let deployed = Client::new(project(
        "store = \"memory\"\ncookie_domain = \".example.com\"\ncookie_samesite = \"Strict\"",
        "cookie_name = \"flash\"",
        "",
        false,
    ))
    .unwrap();
    let r = post_messages(&deployed, "info", &["test"]).await;
    let cookie = set_cookie(&r, "flash").expect("the cookie");
    assert!(
        cookie.ends_with("; Domain=.example.com; Path=/; Secure; HttpOnly; SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("expires"),
        "{cookie}"
    );
    let r = deployed.get("/show/").send().await;
    assert_eq!(r.text(), "[20|info|test]");
    let deleted = set_cookie(&r, "flash").unwrap();
    assert!(
        deleted.starts_with(
            "flash=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Domain=.example.com"
        ),
        "{deleted}"
    );
    // Debug: not Secure, like the session cookie.
    let client = client("");
    let r = post_messages(&client, "info", &["test"]).await;
    assert!(!set_cookie(&r, "messages").unwrap().contains("Secure"));
}

#[tokio::test]
async fn configuration_mistakes_stop_startup_with_the_fix() {
    // The default storage needs the sessions app, installed first.
    let without_sessions = Project::new(Settings::default())
        .app(messages::app())
        .urls(urls());
    let err = Client::new(without_sessions).unwrap_err().to_string();
    assert!(err.contains("sessions app is not installed"), "{err}");
    assert!(err.contains("storage = \"cookie\""), "{err}");
    let reversed = Project::new(Settings::default())
        .configure(|s| s.set_section("sessions", MEMORY).unwrap())
        .app(messages::app())
        .app(sessions::app())
        .urls(urls());
    let err = Client::new(reversed).unwrap_err().to_string();
    assert!(err.contains("before the sessions app"), "{err}");
    // The cookie storage alone needs no sessions.
    let cookie_only = Project::new(Settings::default())
        .configure(|s| {
            s.debug = true;
            s.set_section("messages", "storage = \"cookie\"").unwrap();
        })
        .app(messages::app())
        .urls(urls());
    let client = Client::new(cookie_only).unwrap();
    post_messages(&client, "info", &["no session needed"]).await;
    assert_eq!(
        client.get("/show/").send().await.text(),
        "[20|info|no session needed]"
    );
    // Bad values name the key.
    for (section, expected) in [
        ("level = \"loud\"", "unknown message level"),
        ("storage = \"disk\"", "disk"),
        ("max_cookie_size = 10", "max_cookie_size"),
        ("cookie_name = \"my messages\"", "cookie_name"),
        ("tags = { shouting = \"x\" }", "shouting"),
        ("levle = 10", "levle"),
    ] {
        let err = Client::new(project(MEMORY, section, "", true))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{section}: {err}");
        assert!(err.contains("messages"), "{section}: {err}");
    }
}

#[tokio::test]
async fn without_the_app_views_get_a_clear_error_and_templates_nothing() {
    let project = Project::new(Settings::default())
        .configure(|s| s.debug = true)
        .urls(urls());
    let client = Client::new(project).unwrap();
    let r = client.post("/add/").form(&[("messages", "x")]).send().await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        r.text().contains("messages app is not installed"),
        "{}",
        r.text()
    );
    let r = client.get("/show/").send().await;
    assert_eq!((r.status(), r.text()), (StatusCode::OK, String::new()));
    assert_eq!(client.get("/helper/").send().await.text(), "ok");
    assert!(messages::get_messages().is_empty(), "outside a request");
    assert!(Messages::current().is_none());
}
