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
//! <form method="post">{{ manouche::csrf::input() }}…</form>
//! ```
//!
//! They reverse against the project serving the current request (see
//! [`crate::urls::reverse`]); the `?` turns a [`NoReverseMatch`] into a
//! rendering error, which the handler reports as a 500 with the reason.
//! The form field carries the current request's CSRF token (see
//! [`crate::csrf`]).
//!
//! **Replacing an app's page.** An app renders its pages with [`render`],
//! so that a project can swap one for its own askama template without
//! forking the app ([`Project::override_template`](crate::Project::override_template)):
//!
//! ```
//! use manouche::prelude::*;
//!
//! // In the app: the page's data, public, and its own template.
//! #[derive(Template)]
//! #[template(source = "<h1>{{ title }}</h1>", ext = "html")]
//! pub struct PollPage { pub title: String }
//!
//! async fn poll() -> Result<Html<String>> {
//!     let page = PollPage { title: "Tea or coffee?".into() };
//!     Ok(Html(manouche::templates::render(&page)?))
//! }
//!
//! // In the project: its own template for the same data.
//! #[derive(Template)]
//! #[template(source = "<h2 class=site>{{ page.title }}</h2>", ext = "html")]
//! struct MyPollPage<'a> { page: &'a PollPage }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let project = Project::new(Settings::default())
//!     .urls(Urls::new().path("", get(poll), "poll"))
//!     .override_template(|page: &PollPage| MyPollPage { page }.render());
//! let client = manouche::test::Client::new(project).unwrap();
//! assert_eq!(client.get("/").send().await.text(), "<h2 class=site>Tea or coffee?</h2>");
//! # });
//! ```

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;

use askama::Template;

pub use crate::contrib::staticfiles::static_url;
use crate::urls::{NoReverseMatch, reverse};

type Renderer = Arc<dyn Fn(&dyn Any) -> Option<Result<String, askama::Error>> + Send + Sync>;

/// The project's replacements for apps' pages, by page type (a project
/// service, filled by
/// [`Project::override_template`](crate::Project::override_template)).
#[derive(Clone, Default)]
pub struct TemplateOverrides {
    renderers: HashMap<TypeId, Renderer>,
}

impl std::fmt::Debug for TemplateOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateOverrides")
            .field("pages", &self.renderers.len())
            .finish()
    }
}

impl TemplateOverrides {
    /// Renders pages of type `T` with `render` instead of their own
    /// template.
    pub fn insert<T, F>(&mut self, render: F)
    where
        T: 'static,
        F: Fn(&T) -> Result<String, askama::Error> + Send + Sync + 'static,
    {
        let renderer: Renderer =
            Arc::new(move |page: &dyn Any| page.downcast_ref::<T>().map(&render));
        self.renderers.insert(TypeId::of::<T>(), renderer);
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.renderers.is_empty()
    }

    fn render<T: 'static>(&self, page: &T) -> Option<Result<String, askama::Error>> {
        self.renderers
            .get(&TypeId::of::<T>())
            .and_then(|render| render(page))
    }
}

/// Renders `page` with the template the project serving the current
/// request chose for its type (see the [module docs](self)), else its own.
///
/// # Errors
/// The template's rendering error.
pub fn render<T: Template + 'static>(page: &T) -> Result<String, askama::Error> {
    let replaced = crate::request::with_context(|c| {
        c.site
            .services
            .get_ref::<TemplateOverrides>()
            .and_then(|o| o.render(page))
    })
    .flatten();
    match replaced {
        Some(result) => result,
        None => page.render(),
    }
}

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
    respond(std::any::type_name::<T>(), content_type, || {
        template.render()
    })
}

/// [`render_response`] for a page type without lifetimes or type
/// parameters, rendered with [`render`]: the project's replacement template
/// when it set one ([`Project::override_template`](crate::Project::override_template)).
/// `#[derive(TemplateResponse)]` uses it for such types.
pub fn render_page_response<T: askama::Template + 'static>(
    page: &T,
    content_type: &'static str,
) -> axum::response::Response {
    respond(std::any::type_name::<T>(), content_type, || render(page))
}

fn respond(
    name: &str,
    content_type: &'static str,
    render: impl FnOnce() -> Result<String, askama::Error>,
) -> axum::response::Response {
    use axum::response::IntoResponse;

    // Checked, but not copied: no allocation per response.
    let checked =
        http::HeaderValue::from_maybe_shared(bytes::Bytes::from_static(content_type.as_bytes()));
    let Ok(content_type) = checked else {
        return crate::Error::improperly_configured(format!(
            "template `{name}`: {content_type:?} is not a valid Content-Type"
        ))
        .into_response();
    };
    match render() {
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
