//! Helpers for askama templates.
//!
//! Askama compiles templates to Rust and lets them call functions by path
//! (passing variables by reference and literals by value, so the
//! parameters here take anything that displays):
//!
//! ```text
//! <a href="{{ manouche::templates::url("home")? }}">Home</a>
//! <a href="{{ manouche::templates::url_for("blog:article-detail", article.id)? }}">…</a>
//! <a href="{{ manouche::templates::url_for2("blog:archive", year, month)? }}">…</a>
//! <link rel="stylesheet" href="{{ manouche::templates::static_url("site/app.css") }}">
//! ```
//!
//! They reverse against the project serving the current request (see
//! [`crate::urls::reverse`]); the `?` turns a [`NoReverseMatch`] into a
//! rendering error, which the handler reports as a 500 with the reason.

use std::fmt::Display;

pub use crate::static_files::static_url;
use crate::urls::{NoReverseMatch, reverse};

/// The URL of a route without parameters.
///
/// # Errors
/// [`NoReverseMatch`] when the name is unknown or the route has parameters.
pub fn url(name: &str) -> Result<String, NoReverseMatch> {
    reverse(name, &[])
}

/// The URL of a route with one parameter.
///
/// # Errors
/// [`NoReverseMatch`] when the name is unknown, the route takes another
/// number of parameters, or `arg` does not fit its converter.
pub fn url_for<A: Display>(name: &str, arg: A) -> Result<String, NoReverseMatch> {
    reverse(name, &[&arg])
}

/// The URL of a route with two parameters.
///
/// # Errors
/// As [`url_for`].
pub fn url_for2<A: Display, B: Display>(name: &str, a: A, b: B) -> Result<String, NoReverseMatch> {
    reverse(name, &[&a, &b])
}

/// The URL of a route with three parameters.
///
/// # Errors
/// As [`url_for`].
pub fn url_for3<A: Display, B: Display, C: Display>(
    name: &str,
    a: A,
    b: B,
    c: C,
) -> Result<String, NoReverseMatch> {
    reverse(name, &[&a, &b, &c])
}

// ---- Templates as responses ----

/// A template as a response: the body of the `IntoResponse` impl that
/// `#[derive(TemplateResponse)]` writes (see [`crate::TemplateResponse`]),
/// callable by hand for a template without the derive.
///
/// Renders `template` into a `200 OK` response with `content_type`. A
/// rendering error (a failing filter, a `?` on an error) becomes an
/// [`Error`](crate::Error) with status 500 naming the template, so the
/// project's 500 page shows the reason when `debug` is on, and the error is
/// logged; so does a `content_type` that is not a valid header value.
///
/// The derive takes the `Content-Type` from the template file's extension
/// (askama 0.14 keeps no MIME type of its own), or from `ext` for an inline
/// `source`; an extension after the format's that names the template
/// engine is skipped (`index.html.j2` is HTML):
///
/// | extension | `Content-Type` |
/// |---|---|
/// | `html`, `htm`, and askama's own `j2`, `jinja`, `jinja2`, `askama`, `rinja` | `text/html; charset=utf-8` |
/// | `txt` / `md` / `css` / `js`, `mjs` / `csv` / `ics` | `text/plain` / `text/markdown` / `text/css` / `text/javascript` / `text/csv` / `text/calendar`, each `; charset=utf-8` |
/// | `json` | `application/json` |
/// | `xml` / `rss` / `atom` / `yml`, `yaml` | `application/xml` / `application/rss+xml` / `application/atom+xml` / `application/yaml`, each `; charset=utf-8` |
/// | `svg` | `image/svg+xml; charset=utf-8` |
///
/// Another extension is a compile error asking for
/// `#[template_response(content_type = "...")]`, which also overrides the
/// table. An enum whose variants have their own templates must render one
/// format.
///
/// # Examples
///
/// ```
/// use manouche::prelude::*;
/// use manouche::test::Client;
///
/// #[derive(Template, TemplateResponse)]
/// #[template(source = "<h1>Hello, {{ name }}!</h1>", ext = "html")]
/// struct Hello {
///     name: String,
/// }
///
/// async fn hello(Path(name): Path<String>) -> Result<Hello> {
///     Ok(Hello { name })
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let project = Project::new(Settings::default())
///     .urls(Urls::new().path("hello/<slug:name>/", get(hello), "hello"));
/// let response = Client::new(project)?.get("/hello/ana/").send().await;
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"));
/// assert_eq!(response.text(), "<h1>Hello, ana!</h1>");
///
/// // By hand, with any content type:
/// let response = manouche::templates::render_response(&Hello { name: "bo".into() }, "text/plain");
/// assert_eq!(response.headers()["content-type"], "text/plain");
/// # Ok::<(), manouche::Error>(())
/// # }).unwrap();
/// ```
pub fn render_response<T: askama::Template>(
    template: &T,
    content_type: &'static str,
) -> axum::response::Response {
    use axum::response::IntoResponse;

    let name = std::any::type_name::<T>();
    // Checked, but not copied: no allocation per response.
    let checked =
        http::HeaderValue::from_maybe_shared(bytes::Bytes::from_static(content_type.as_bytes()));
    let Ok(content_type) = checked else {
        return crate::Error::improperly_configured(format!(
            "template `{name}`: {content_type:?} is not a valid Content-Type"
        ))
        .into_response();
    };
    match template.render() {
        Ok(body) => ([(http::header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(err) => crate::Error::new(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("template `{name}` failed to render"),
        )
        .with_source(err)
        .into_response(),
    }
}

/// What the code generated by `#[derive(TemplateResponse)]` names, so that
/// a project needs no direct dependency on axum. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use axum::response::{IntoResponse, Response};
}
