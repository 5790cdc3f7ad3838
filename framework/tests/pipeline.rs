//! The request pipeline around every handler: host check, security
//! headers, request ids, body limit, timeout, panics and error pages.

use std::time::Duration;

use manouche::error_pages::ErrorContext;
use manouche::prelude::*;
use manouche::test::Client;

async fn upload(body: Bytes) -> String {
    format!("{} bytes", body.len())
}

async fn boom() -> &'static str {
    panic!("kaboom in a handler")
}

async fn missing(Path(id): Path<i64>) -> Result<String> {
    Err(Error::not_found(format!("no article {id}")))
}

fn urls() -> Urls {
    Urls::new()
        .path("", get(|| async { "home" }), "home")
        .path("upload/", post(upload), "upload")
        .path("boom/", get(boom), "boom")
        .path("missing/<int:id>/", get(missing), "missing")
        .path(
            "framed/",
            get(|| async { ([("x-frame-options", "SAMEORIGIN")], "framable") }),
            "framed",
        )
        .path(
            "slow/",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
            "slow",
        )
}

fn settings(debug: bool) -> Settings {
    let mut s = Settings::default();
    s.debug = debug;
    s.allowed_hosts = vec!["example.com".into(), ".example.org".into()];
    s.server.body_limit = 1000;
    s.server.request_timeout = Duration::from_millis(200);
    s
}

fn client(debug: bool) -> Client {
    Client::new(Project::new(settings(debug)).urls(urls())).unwrap()
}

#[tokio::test]
async fn security_headers_are_on_by_default_and_handlers_can_override_them() {
    let c = client(false);
    let r = c.get("/").send().await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(r.header("strict-transport-security"), None);
    let r = c.get("/framed/").send().await;
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    // Error responses get them too.
    let r = c.get("/nowhere/").send().await;
    assert_eq!(r.header("x-frame-options"), Some("DENY"));

    let mut s = settings(false);
    s.security.hsts_seconds = 31_536_000;
    s.security.hsts_include_subdomains = true;
    let c = Client::new(Project::new(s).urls(urls())).unwrap();
    let r = c.get("/").send().await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
}

#[tokio::test]
async fn request_ids_are_generated_or_taken_from_a_sane_header() {
    let c = client(false);
    let a = c.get("/").send().await;
    let b = c.get("/").send().await;
    let (a, b) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert_ne!(a, b);
    let r = c
        .get("/")
        .header("x-request-id", "from-the-lb-42")
        .send()
        .await;
    assert_eq!(r.header("x-request-id"), Some("from-the-lb-42"));
    let r = c
        .get("/")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await;
    assert_ne!(r.header("x-request-id"), Some("bad id with spaces"));
}

#[tokio::test]
async fn hosts_outside_allowed_hosts_get_400() {
    let c = client(false);
    for (host, status) in [
        ("example.com", StatusCode::OK),
        ("example.com:8443", StatusCode::OK),
        ("www.example.org", StatusCode::OK),
        ("example.org", StatusCode::OK),
        ("evil.com", StatusCode::BAD_REQUEST),
        ("example.com.evil.com", StatusCode::BAD_REQUEST),
        ("localhost", StatusCode::BAD_REQUEST),
        ("exa mple.com", StatusCode::BAD_REQUEST),
    ] {
        let r = c.get("/").header("host", host).send().await;
        assert_eq!(r.status(), status, "{host}");
    }
    let r = c.get("/").header("host", "evil.com").send().await;
    assert!(r.text().contains("400 Bad Request"));
    assert!(!r.text().contains("evil.com"), "no detail without debug");
    // In debug, the page says what to do.
    let r = client(true)
        .get("/")
        .header("host", "evil.com")
        .send()
        .await;
    assert!(
        r.text().contains("add &#34;evil.com&#34; to allowed_hosts"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_not() {
    let c = client(false);
    // A CSRF secret in the cookie and the header: the check passes
    // without reading the body.
    let secret = "lcccccccX2kcccccccY2jcccccccssIC";
    c.set_cookie("csrftoken", secret);
    let post = |path| c.post(path).header("x-csrftoken", secret);
    let r = post("/upload/").body(vec![b'x'; 1000]).send().await;
    assert_eq!(
        (r.status(), r.text().as_str()),
        (StatusCode::OK, "1000 bytes")
    );
    // Declared too long: refused before reading.
    let r = post("/upload/")
        .header("content-length", "1001")
        .body(vec![b'x'; 1001])
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().contains("413"));
    // No length: cut off while reading.
    let r = post("/upload/").body(vec![b'x'; 5000]).send().await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_form_body_over_the_limit_read_by_the_csrf_check_gets_413() {
    // The token may be in the form, so the check reads the body: past the
    // limit, the answer is the same 413 the view's extractor would give.
    let c = client(false);
    c.set_cookie("csrftoken", "lcccccccX2kcccccccY2jcccccccssIC");
    let r = c
        .post("/upload/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'x'; 5000])
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = c
        .post("/upload/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrfmiddlewaretoken=lcccccccX2kcccccccY2jcccccccssIC&{}",
            "x".repeat(900)
        ))
        .send()
        .await;
    assert_eq!(
        (r.status(), r.text().as_str()),
        (StatusCode::OK, "953 bytes")
    );
}

#[tokio::test]
async fn a_panicking_handler_gets_500_and_the_next_request_is_served() {
    let c = client(false);
    let r = c.get("/boom/").send().await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !r.text().contains("kaboom"),
        "no panic message without debug"
    );
    assert_eq!(c.get("/").send().await.status(), StatusCode::OK);
    let r = client(true).get("/boom/").send().await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().contains("kaboom in a handler"), "{}", r.text());
    assert!(
        r.text().contains("pipeline.rs"),
        "the location is shown in debug"
    );
}

#[tokio::test]
async fn slow_requests_get_503() {
    let r = client(false).get("/slow/").send().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().contains("503"));
}

#[tokio::test]
async fn handler_errors_render_the_projects_error_page() {
    let project = Project::new(settings(true)).urls(urls()).error_page(
        StatusCode::NOT_FOUND,
        |ctx: &ErrorContext| {
            Ok(format!(
                "custom 404 for {} ({})",
                ctx.path,
                ctx.detail.as_deref().unwrap_or("-")
            ))
        },
    );
    let c = Client::new(project).unwrap();
    let r = c.get("/missing/3/").send().await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.text(), "custom 404 for /missing/3/ (no article 3)");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = c.get("/no/such/page/").send().await;
    assert_eq!(
        r.text(),
        "custom 404 for /no/such/page/ (no route matches /no/such/page/)"
    );
    // Other statuses keep the built-in page.
    let r = c.get("/boom/").send().await;
    assert!(r.text().contains("500 Internal Server Error"));
}

#[tokio::test]
async fn a_custom_error_page_that_panics_gives_way_to_the_built_in_one() {
    let project = Project::new(settings(false)).urls(urls()).error_page(
        StatusCode::NOT_FOUND,
        |_: &ErrorContext| -> Result<String, askama::Error> { panic!("a broken 404 page") },
    );
    let c = Client::new(project).unwrap();
    for _ in 0..2 {
        let r = c.get("/missing/3/").send().await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.text().contains("404 Not Found"), "{}", r.text());
    }
    assert_eq!(c.get("/").send().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_database_outage_is_a_503_not_a_crash() {
    async fn needs_db(db: manouche::db::Db) -> Result<&'static str> {
        db.ping().await?;
        Ok("db is up")
    }
    let mut s = settings(false);
    // Nothing listens on port 1: every connection attempt fails.
    s.database_url = "postgres://postgres@127.0.0.1:1/test".into();
    s.database.acquire_timeout = Duration::from_millis(300);
    s.server.request_timeout = Duration::from_secs(10);
    let c = Client::new(
        Project::new(s).urls(urls().path("db/", get(needs_db), "needs-db").path(
            "nodb/",
            get(|| async { "fine" }),
            "no-db",
        )),
    )
    .unwrap();
    let r = c.get("/db/").send().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    // Pages that don't need the database keep working.
    let r = c.get("/nodb/").send().await;
    assert_eq!((r.status(), r.text().as_str()), (StatusCode::OK, "fine"));
}

#[tokio::test]
async fn a_handler_without_a_configured_database_says_so() {
    async fn needs_db(db: manouche::db::Db) -> &'static str {
        let _ = db;
        "unreachable"
    }
    let mut s = settings(true);
    s.database_url = String::new();
    let c =
        Client::new(Project::new(s).urls(urls().path("db/", get(needs_db), "needs-db"))).unwrap();
    let r = c.get("/db/").send().await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().contains("DATABASE_URL"), "{}", r.text());
}

/// A project whose views use the prelude's extractors.
fn extractors(debug: bool) -> Client {
    #[derive(serde::Deserialize)]
    struct Page {
        page: u32,
    }
    #[derive(serde::Deserialize, serde::Serialize)]
    struct Note {
        title: String,
    }
    let mut s = Settings::default();
    s.debug = debug;
    s.allowed_hosts = vec!["testserver".into()];
    s.csrf.enabled = false;
    let project = Project::new(s).urls(
        Urls::new()
            .path(
                "notes/",
                post(|Json(note): Json<Note>| async move { Json(note) }),
                "notes",
            )
            .path(
                "page/",
                get(|Query(p): Query<Page>| async move { format!("page {}", p.page) }),
                "page",
            )
            .path(
                "n/<str:id>/",
                get(|Path(id): Path<i64>| async move { format!("note {id}") }),
                "note",
            ),
    );
    Client::new(project).unwrap()
}

#[tokio::test]
async fn extractor_rejections_and_405_are_the_projects_error_pages() {
    let c = extractors(false);
    // What works still works, as a JSON response too.
    let r = c
        .post("/notes/")
        .header("content-type", "application/json")
        .body(r#"{"title":"hi"}"#)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text(), r#"{"title":"hi"}"#);
    assert_eq!(c.get("/page/?page=2").send().await.text(), "page 2");
    assert_eq!(c.get("/n/7/").send().await.text(), "note 7");
    // Each rejection keeps axum's status, with the error page and no
    // parser detail in production.
    for (r, status, detail) in [
        (
            c.post("/notes/")
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await,
            StatusCode::BAD_REQUEST,
            "JSON",
        ),
        (
            c.post("/notes/")
                .header("content-type", "application/json")
                .body(r#"{"titel":"hi"}"#)
                .send()
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field",
        ),
        (
            c.post("/notes/").body(r#"{"title":"hi"}"#).send().await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type",
        ),
        (
            c.get("/page/?page=abc").send().await,
            StatusCode::BAD_REQUEST,
            "page",
        ),
        (
            c.get("/n/abc/").send().await,
            StatusCode::BAD_REQUEST,
            "abc",
        ),
    ] {
        assert_eq!(r.status(), status);
        let page = r.text();
        assert!(page.contains(&format!("{}", status.as_u16())), "{page}");
        assert!(page.contains("<html"), "not the error page: {page}");
        assert!(
            !page.contains(detail),
            "{detail} shown in production: {page}"
        );
    }
    // A known path with another method: 405 with `Allow`, as a page.
    let r = c.get("/notes/").send().await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("POST"));
    assert!(r.text().contains("405"), "{}", r.text());
    // In debug the page tells what the parser said.
    let r = extractors(true)
        .post("/notes/")
        .header("content-type", "application/json")
        .body(r#"{"titel":"hi"}"#)
        .send()
        .await;
    assert!(r.text().contains("missing field"), "{}", r.text());
}

#[tokio::test]
async fn the_host_extractor_gives_the_checked_host_and_absolute_urls() {
    use manouche::request::Host;
    let mut s = Settings::default();
    s.allowed_hosts = vec!["example.com".into(), ".example.org".into()];
    let project = Project::new(s).urls(Urls::new().path(
        "link/",
        get(|host: Host| async move { host.absolute_url("/accounts/reset/abc/") }),
        "link",
    ));
    let c = Client::new(project).unwrap();
    let r = c
        .get("/link/")
        .header("host", "Example.COM:8443")
        .send()
        .await;
    assert_eq!(r.text(), "http://example.com:8443/accounts/reset/abc/");
    let r = c
        .get("/link/")
        .header("host", "www.example.org")
        .send()
        .await;
    assert_eq!(r.text(), "http://www.example.org/accounts/reset/abc/");
    // A host outside allowed_hosts never reaches the view.
    let r = c.get("/link/").header("host", "evil.example").send().await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // An absolute-form target: its authority and scheme, which Host repeats.
    let r = c
        .get("https://example.com/link/")
        .header("host", "example.com")
        .send()
        .await;
    assert_eq!(r.text(), "https://example.com/accounts/reset/abc/");
    let r = c
        .get("https://example.com/link/")
        .header("host", "evil.example")
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
