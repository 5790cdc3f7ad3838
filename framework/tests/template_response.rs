//! `#[derive(TemplateResponse)]`: handlers that return a template, through
//! the in-process client.

use manouche::prelude::*;
use manouche::test::Client;

#[derive(Template, TemplateResponse)]
#[template(source = "<p>Hello, {{ name }}!</p>", ext = "html")]
struct Hello {
    name: String,
}

/// A plain-text template with a borrowed field and a type parameter.
#[derive(Template, TemplateResponse)]
#[template(source = "{{ greeting }} x{{ count }}", ext = "txt")]
struct Plain<'a, N: std::fmt::Display> {
    greeting: &'a str,
    count: N,
}

/// Rendering fails: the route it links to does not exist.
#[derive(Template, TemplateResponse)]
#[template(
    source = r#"<a href="{{ manouche::templates::url("no-such-route")? }}">x</a>"#,
    ext = "html"
)]
struct Broken;

/// An explicit type wins over the extension.
#[derive(Template, TemplateResponse)]
#[template(source = "BEGIN:VCALENDAR\nEND:VCALENDAR", ext = "txt")]
#[template_response(content_type = "text/calendar; charset=utf-8")]
struct Calendar;

async fn hello(Path(name): Path<String>) -> Result<Hello> {
    Ok(Hello { name })
}

async fn plain() -> Plain<'static, u8> {
    Plain {
        greeting: "hi & bye",
        count: 3,
    }
}

async fn broken() -> Result<Broken> {
    Ok(Broken)
}

fn client(debug: bool) -> Client {
    let mut settings = Settings::default();
    settings.debug = debug;
    Client::new(
        Project::new(settings).urls(
            Urls::new()
                .path("hello/<slug:name>/", get(hello), "hello")
                .path("plain/", get(plain), "plain")
                .path("broken/", get(broken), "broken")
                .path("calendar/", get(|| async { Calendar }), "calendar"),
        ),
    )
    .expect("project")
}

#[tokio::test]
async fn a_template_is_a_200_html_page_escaped() {
    let response = client(false).get("/hello/a-b/").send().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(response.text(), "<p>Hello, a-b!</p>");
}

#[tokio::test]
async fn the_content_type_follows_the_format_or_the_attribute() {
    let client = client(false);
    let response = client.get("/plain/").send().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.text(), "hi & bye x3", "text is not HTML-escaped");

    let response = client.get("/calendar/").send().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
}

#[tokio::test]
async fn a_rendering_error_is_a_500_with_the_reason_only_in_debug() {
    let response = client(true).get("/broken/").send().await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let page = response.text();
    assert!(page.contains("template_response::Broken"), "{page}");
    assert!(page.contains("failed to render"), "{page}");
    assert!(page.contains("no-such-route"), "the reason: {page}");

    let response = client(false).get("/broken/").send().await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let page = response.text();
    assert!(!page.contains("no-such-route"), "{page}");
    assert!(!page.contains("Broken"), "{page}");
}

#[test]
fn render_response_refuses_an_invalid_content_type() {
    let response = manouche::templates::render_response(
        &Hello {
            name: "x".to_owned(),
        },
        "text/html\n",
    );
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
