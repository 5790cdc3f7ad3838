//! CSRF protection through the whole pipeline: the test client keeps the
//! `csrftoken` cookie a page sets, as a browser would; tests that need
//! another cookie set it by hand.

#[path = "support/captured_log.rs"]
mod captured_log;

use manouche::csrf::{self, ChecksOff, CsrfToken};
use manouche::prelude::*;
use manouche::test::{Client, TestResponse};
use tower::ServiceExt;

/// Django's test secret, and one masked form of it.
const SECRET: &str = "lcccccccX2kcccccccY2jcccccccssIC";
const MASKED: &str = "2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf";

#[derive(Template, TemplateResponse)]
#[template(
    source = r#"<form method="post">{{ manouche::csrf::input() }}<input name="title"></form><p id="t">{{ manouche::csrf::token() }}</p>"#,
    ext = "html"
)]
struct FormPage;

async fn form_page() -> FormPage {
    FormPage
}

/// Echoes the body it got, after the check read it.
async fn echo(body: Bytes) -> Bytes {
    body
}

/// The fields and files of a form, as the view sees them.
async fn form_fields(data: manouche::forms::FormData) -> String {
    let fields = data.iter().map(|(k, v)| format!("{k}={v}"));
    let files = data
        .iter_files()
        .map(|(k, f)| format!("{k}:{}:{}", f.name(), f.size()));
    fields.chain(files).collect::<Vec<_>>().join(",")
}

async fn titled(Form(fields): Form<Vec<(String, String)>>) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// What a login view does: a new secret.
async fn login() -> &'static str {
    csrf::rotate();
    "logged in"
}

async fn api_token(token: CsrfToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "token": token }))
}

fn hooks() -> Urls {
    Urls::namespaced("hooks")
        .path("payment/", csrf::exempt(post(echo)), "payment")
        .path("checked/", post(echo), "checked")
}

fn urls() -> Urls {
    let api = axum::Router::new().route("/items", post(|| async { "created" }));
    let checked_api = axum::Router::new().route("/items", post(|| async { "created" }));
    Urls::new()
        .path("", get(|| async { "plain page" }), "home")
        .path("form/", get(form_page).post(echo), "form")
        .path("titled/", post(titled), "titled")
        .path("fields/", post(form_fields), "fields")
        .path(
            "things/<int:id>/",
            post(echo).put(echo).delete(echo),
            "thing",
        )
        .path("login/", post(login), "login")
        .path("token/", get(api_token), "token")
        .path("webhook/", csrf::exempt(post(echo)), "webhook")
        .include("ext/", hooks())
        .mount("api/", csrf::exempt(api))
        .mount("internal/", checked_api)
}

fn project(debug: bool) -> Project {
    Project::new(Settings::default())
        .configure(|s| {
            s.debug = debug;
            s.csrf.trusted_origins = vec![
                "https://partner.example".into(),
                "https://*.friends.example".into(),
            ];
        })
        .urls(urls())
}

fn client() -> Client {
    Client::new(project(true)).unwrap().enforce_csrf_checks()
}

/// The token in a page's hidden input.
fn page_token(page: &str) -> String {
    let marker = r#"<input type="hidden" name="csrfmiddlewaretoken" value=""#;
    let start = page.find(marker).expect("the page has the hidden input") + marker.len();
    page[start..start + 64].to_owned()
}

fn assert_forbidden(response: &TestResponse, reason: &str) {
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "{}",
        response.text()
    );
    // The debug page shows the reason, HTML-escaped.
    let escaped = reason.replace('\'', "&#39;");
    assert!(
        response.text().contains(&escaped),
        "expected {reason:?} in:\n{}",
        response.text()
    );
}

#[tokio::test]
async fn a_post_without_cookie_or_token_is_refused() {
    let c = client();
    let r = c.post("/form/").form(&[("title", "x")]).send().await;
    assert_forbidden(&r, "CSRF cookie not set.");
    assert_eq!(
        r.header("set-cookie"),
        None,
        "no cookie for a refused request"
    );
    c.set_cookie("csrftoken", SECRET);
    let r = c.post("/form/").form(&[("title", "x")]).send().await;
    assert_forbidden(&r, "CSRF token missing.");
    let r = c.post("/form/").body("not a form").send().await;
    assert_forbidden(&r, "CSRF token missing.");
}

#[tokio::test]
async fn wrong_tokens_are_refused_with_djangos_reasons() {
    let c = client();
    c.set_cookie("csrftoken", SECRET);
    let other = "a".repeat(64);
    let r = c
        .post("/form/")
        .form(&[("csrfmiddlewaretoken", &other)])
        .send()
        .await;
    assert_forbidden(&r, "CSRF token from POST incorrect.");
    let r = c
        .post("/form/")
        .form(&[("csrfmiddlewaretoken", "short")])
        .send()
        .await;
    assert_forbidden(&r, "CSRF token from POST has incorrect length.");
    let r = c.post("/form/").header("x-csrftoken", &other).send().await;
    assert_forbidden(
        &r,
        "CSRF token from the 'X-CSRFToken' HTTP header incorrect.",
    );
    let stars = "*".repeat(32);
    let r = c.post("/form/").header("x-csrftoken", &stars).send().await;
    assert_forbidden(
        &r,
        "CSRF token from the 'X-CSRFToken' HTTP header has invalid characters.",
    );
}

#[tokio::test]
async fn the_pages_token_passes_in_the_form_and_the_view_gets_the_whole_body() {
    let c = client();
    let page = c.get("/form/").send().await;
    let token = page_token(&page.text());
    assert!(c.cookie("csrftoken").is_some(), "the page set the cookie");
    let r = c
        .post("/titled/")
        .form(&[
            ("title", "Hello world"),
            ("csrfmiddlewaretoken", &token),
            ("n", "2"),
        ])
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.text(),
        format!("title=Hello world,csrfmiddlewaretoken={token},n=2")
    );

    // Multipart: the check parses the body as it streams (files to
    // temporary files) and the view reads the parsed form; the raw body is
    // spent, as Django's `request.body` after `request.POST`.
    let body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{token}\r\n\
         --b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n\x00\x01binary\r\n\
         --b0undary--\r\n"
    );
    let r = c
        .post("/form/")
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(body.clone())
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    assert!(r.bytes().is_empty());
    let r = c
        .post("/fields/")
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(body.clone())
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.text(),
        format!("csrfmiddlewaretoken={token},file:a.bin:8")
    );
    // Without the token: refused, and the view never runs.
    let r = c
        .post("/fields/")
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(body.replace(&token, ""))
        .send()
        .await;
    assert_forbidden(&r, "CSRF token missing.");

    // In the header: any body, not read by the check.
    let r = c
        .post("/form/")
        .header("x-csrftoken", &token)
        .header("content-type", "application/json")
        .body(r#"{"title": "json"}"#)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    assert_eq!(r.text(), r#"{"title": "json"}"#);
}

#[tokio::test]
async fn bare_secrets_and_masked_tokens_are_both_accepted() {
    let c = client();
    c.set_cookie("csrftoken", SECRET);
    for token in [SECRET, MASKED] {
        let r = c
            .post("/form/")
            .form(&[("csrfmiddlewaretoken", token)])
            .send()
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{token}: {}", r.text());
        let r = c.post("/form/").header("x-csrftoken", token).send().await;
        assert_eq!(r.status(), StatusCode::OK, "{token}: {}", r.text());
    }
    // A cookie written by Django before 4.0 (masked) works too.
    c.set_cookie("csrftoken", MASKED);
    let r = c.post("/form/").header("x-csrftoken", SECRET).send().await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn put_and_delete_are_checked_and_pass_with_the_header() {
    let c = client();
    for method in [http::Method::PUT, http::Method::DELETE, http::Method::PATCH] {
        c.clear_cookies();
        let r = c.request(method.clone(), "/things/1/").send().await;
        // PATCH is not routed: still checked first, as in Django.
        assert_forbidden(&r, "CSRF cookie not set.");
        c.set_cookie("csrftoken", SECRET);
        let r = c
            .request(method.clone(), "/things/1/")
            .form(&[("csrfmiddlewaretoken", SECRET)])
            .send()
            .await;
        // The form field is read for POST only, as Django does.
        assert_forbidden(&r, "CSRF token missing.");
        let r = c
            .request(method.clone(), "/things/1/")
            .header("x-csrftoken", MASKED)
            .send()
            .await;
        let expected = if method == http::Method::PATCH {
            StatusCode::METHOD_NOT_ALLOWED
        } else {
            StatusCode::OK
        };
        assert_eq!(r.status(), expected, "{method}");
    }
}

#[tokio::test]
async fn safe_methods_are_never_checked() {
    let c = client();
    for method in [
        http::Method::GET,
        http::Method::HEAD,
        http::Method::OPTIONS,
        http::Method::TRACE,
    ] {
        let r = c.request(method.clone(), "/").send().await;
        assert_ne!(r.status(), StatusCode::FORBIDDEN, "{method}");
    }
}

#[tokio::test]
async fn origins_other_than_the_sites_own_and_trusted_ones_are_refused() {
    let c = client();
    c.set_cookie("csrftoken", SECRET);
    let send = |origin: &'static str| {
        c.post("/form/")
            .header("origin", origin)
            .header("x-csrftoken", MASKED)
            .send()
    };
    let r = send("https://evil.example").await;
    assert_forbidden(
        &r,
        "Origin checking failed - https://evil.example does not match any trusted origins.",
    );
    // The test client speaks plain HTTP to `testserver`.
    assert_eq!(send("http://testserver").await.status(), StatusCode::OK);
    assert_forbidden(
        &send("https://testserver").await,
        "Origin checking failed - https://testserver does not match",
    );
    assert_forbidden(
        &send("null").await,
        "Origin checking failed - null does not match",
    );
    // Trusted: exact, and any subdomain of a wildcard.
    assert_eq!(
        send("https://partner.example").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send("https://app.friends.example").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send("https://a.b.friends.example").await.status(),
        StatusCode::OK
    );
    assert_forbidden(
        &send("http://app.friends.example").await,
        "Origin checking failed",
    );
    assert_forbidden(
        &send("https://partner.example:8443").await,
        "Origin checking failed",
    );
}

#[tokio::test]
async fn pages_that_use_no_token_set_no_cookie() {
    let c = client();
    let r = c.get("/").send().await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.header("set-cookie"), None);
    assert_eq!(r.header("vary"), None);

    let first = c.get("/form/").send().await;
    let cookie = first.header("set-cookie").unwrap().to_owned();
    assert!(cookie.starts_with("csrftoken="), "{cookie}");
    assert!(cookie.contains("; Max-Age=31449600; Path=/"), "{cookie}");
    assert!(
        cookie.ends_with("; SameSite=Lax"),
        "debug: not Secure: {cookie}"
    );
    assert_eq!(first.header("vary"), Some("Cookie"));
    let secret = c.cookie("csrftoken").unwrap();
    assert_eq!(secret.len(), 32);

    // The next page: the same secret (the cookie renewed), another mask.
    let second = c.get("/form/").send().await;
    assert_ne!(page_token(&first.text()), page_token(&second.text()));
    assert_eq!(c.cookie("csrftoken").unwrap(), secret);
    // Both tokens work.
    for page in [&first, &second] {
        let r = c
            .post("/form/")
            .form(&[("csrfmiddlewaretoken", &page_token(&page.text()))])
            .send()
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.header("set-cookie"), None, "the view asked for no token");
    }
    // A deployed site marks the cookie Secure.
    let deployed = Client::new(project(false)).unwrap().enforce_csrf_checks();
    let r = deployed.get("/form/").send().await;
    assert!(r.header("set-cookie").unwrap().contains("; Secure"));
}

#[tokio::test]
async fn rotate_gives_the_visitor_a_new_secret() {
    let c = client();
    let page = c.get("/form/").send().await;
    let old_token = page_token(&page.text());
    let old_secret = c.cookie("csrftoken").unwrap();
    let r = c
        .post("/login/")
        .header("x-csrftoken", &old_token)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    let new_secret = c.cookie("csrftoken").unwrap();
    assert_eq!(new_secret.len(), 32);
    assert_ne!(new_secret, old_secret);
    // Tokens from before no longer pass; a new page's does.
    let r = c
        .post("/form/")
        .header("x-csrftoken", &old_token)
        .send()
        .await;
    assert_forbidden(
        &r,
        "CSRF token from the 'X-CSRFToken' HTTP header incorrect.",
    );
    let page = c.get("/form/").send().await;
    let r = c
        .post("/form/")
        .header("x-csrftoken", &page_token(&page.text()))
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn exempt_views_and_routers_take_posts_without_a_token() {
    let c = client();
    let r = c.post("/webhook/").body("payload").send().await;
    assert_eq!((r.status(), r.text().as_str()), (StatusCode::OK, "payload"));
    // Included under a namespace.
    let r = c.post("/ext/payment/").body("paid").send().await;
    assert_eq!((r.status(), r.text().as_str()), (StatusCode::OK, "paid"));
    // Its neighbour is checked.
    assert_forbidden(
        &c.post("/ext/checked/").send().await,
        "CSRF cookie not set.",
    );
    // A mounted router, exempt or not.
    let r = c.post("/api/items").send().await;
    assert_eq!((r.status(), r.text().as_str()), (StatusCode::OK, "created"));
    assert_forbidden(
        &c.post("/internal/items").send().await,
        "CSRF cookie not set.",
    );
    // Cross-origin too: the exemption skips every check.
    let r = c
        .post("/webhook/")
        .header("origin", "https://payments.example")
        .body("x")
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn requests_that_match_no_view_get_their_404_or_redirect() {
    let c = client();
    assert_eq!(
        c.post("/nowhere/").send().await.status(),
        StatusCode::NOT_FOUND
    );
    // A parameter that does not fit its converter: no view either.
    assert_eq!(
        c.post("/things/abc/").send().await.status(),
        StatusCode::NOT_FOUND
    );
    let r = c.post("/form").send().await;
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.header("location"), Some("/form/"));
}

#[tokio::test]
async fn the_debug_page_shows_the_reason_and_a_deployed_site_does_not() {
    let r = client().post("/form/").send().await;
    assert_forbidden(&r, "CSRF verification failed. Request aborted.");
    assert!(
        r.text()
            .contains("Reason given for failure: CSRF cookie not set.")
    );
    assert!(
        r.text().contains("manouche::csrf::input()"),
        "a hint for the developer"
    );

    let deployed = Client::new(project(false)).unwrap().enforce_csrf_checks();
    let r = deployed.post("/form/").send().await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("403"), "{}", r.text());
    assert!(!r.text().contains("CSRF"), "{}", r.text());
}

#[tokio::test]
async fn a_malformed_cookie_is_replaced() {
    let c = client();
    c.set_cookie("csrftoken", "badvalue");
    let r = c.post("/form/").header("x-csrftoken", MASKED).send().await;
    assert_forbidden(&r, "CSRF cookie has incorrect length.");
    let replaced = c.cookie("csrftoken").unwrap();
    assert_eq!(replaced.len(), 32, "a new secret comes with the 403");

    c.set_cookie("csrftoken", &"!@#".repeat(21));
    let page = c.get("/form/").send().await;
    let secret = c.cookie("csrftoken").unwrap();
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    let r = c
        .post("/form/")
        .header("x-csrftoken", &page_token(&page.text()))
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_extractor_gives_javascript_a_working_token() {
    let c = client();
    let r = c.get("/token/").send().await;
    let body: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert!(r.header("set-cookie").is_some());
    let r = c.post("/form/").header("x-csrftoken", &token).send().await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_custom_header_name_is_used() {
    let project = project(true).configure(|s| s.csrf.header_name = "X-XSRF-TOKEN".into());
    let c = Client::new(project).unwrap().enforce_csrf_checks();
    c.set_cookie("csrftoken", SECRET);
    let r = c.post("/form/").header("x-csrftoken", MASKED).send().await;
    assert_forbidden(&r, "CSRF token missing.");
    let r = c.post("/form/").header("x-xsrf-token", MASKED).send().await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn turned_off_nothing_is_checked_and_tokens_still_work() {
    let project = project(true).configure(|s| s.csrf.enabled = false);
    let c = Client::new(project).unwrap().enforce_csrf_checks();
    let r = c.post("/form/").body("x").send().await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = c.get("/form/").send().await;
    assert_eq!(page_token(&page.text()).len(), 64);
    assert!(c.cookie("csrftoken").is_some());
}

#[tokio::test]
async fn the_checks_off_extension_skips_the_check() {
    let service = project(true).build().unwrap().into_service();
    let request = || {
        http::Request::post("/form/")
            .header("host", "localhost")
            .body(axum::body::Body::from("x"))
            .unwrap()
    };
    let refused = service.clone().oneshot(request()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let mut vouched = request();
    vouched.extensions_mut().insert(ChecksOff);
    let accepted = service.oneshot(vouched).await.unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
}

/// A tower layer, outside the check, that vouches for requests with an
/// API key (what [`ChecksOff`] is for besides the test client).
#[tokio::test]
async fn an_app_layer_can_vouch_for_a_request() {
    async fn api_key(
        mut request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        if request
            .headers()
            .get("x-api-key")
            .is_some_and(|k| k == "k3y")
        {
            request.extensions_mut().insert(ChecksOff);
        }
        next.run(request).await
    }
    let c = Client::new(project(true).layer(axum::middleware::from_fn(api_key)))
        .unwrap()
        .enforce_csrf_checks();
    assert_eq!(
        c.post("/form/").send().await.status(),
        StatusCode::FORBIDDEN
    );
    let r = c.post("/form/").header("x-api-key", "k3y").send().await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_template_helpers_render_in_askama() {
    let c = client();
    let page = c.get("/form/").send().await.text();
    // Not escaped: a real input element.
    assert!(
        page.starts_with(
            r#"<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value=""#
        ),
        "{page}"
    );
    let token = page_token(&page);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    // `token()` in the same page: another masking of the same secret.
    let marker = r#"<p id="t">"#;
    let start = page.find(marker).unwrap() + marker.len();
    let second = &page[start..start + 64];
    assert_ne!(second, token);
    for t in [token.as_str(), second] {
        let r = c.post("/form/").header("x-csrftoken", t).send().await;
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[test]
fn outside_a_request_there_is_no_token() {
    assert_eq!(csrf::token(), "");
    assert_eq!(csrf::input().to_string(), "");
    csrf::rotate();
}

/// Runs the test named `name` alone, in a child process of this test
/// binary, and fails if it fails there. Tracing's per-callsite interest
/// cache is process-wide: with a subscriber set for one thread only, a test
/// on another thread can cache "nobody listens" for the call site between
/// this test's `set_default` and its request, and the warning is lost. In a
/// process of its own the test has nobody to race.
fn in_own_process(name: &str) -> bool {
    const CHILD: &str = "MANOUCHE_TEST_OWN_PROCESS";
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its own process:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[tokio::test]
async fn a_refused_request_is_logged_as_django_logs_it() {
    if in_own_process("a_refused_request_is_logged_as_django_logs_it") {
        return;
    }
    let captured = captured_log::Captured::default();
    let _guard = captured.install(tracing::Level::WARN);
    let r = client().post("/form/").send().await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let log = captured.text();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("manouche::security"), "{log}");
    assert!(
        log.contains("Forbidden (CSRF cookie not set.): /form/"),
        "{log}"
    );
}
