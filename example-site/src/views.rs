//! The site's own pages: the home page and the custom 404 and 403 pages,
//! plus (in debug builds only) routes that misbehave on purpose for the
//! end-to-end tests.

use manouche::error_pages::ErrorContext;
use manouche::prelude::*;

use crate::nav::Nav;

#[derive(Template, TemplateResponse)]
#[template(path = "home.html")]
struct Home {
    nav: Nav,
}

#[derive(Template)]
#[template(path = "404.html")]
struct NotFound<'a> {
    nav: Nav,
    path: &'a str,
    detail: &'a Option<String>,
}

#[derive(Template)]
#[template(path = "403.html")]
struct Forbidden<'a> {
    nav: Nav,
    path: &'a str,
    detail: &'a Option<String>,
}

async fn home(nav: Nav) -> Home {
    Home { nav }
}

/// The project's 404 page (Django's `handler404`).
pub(crate) fn not_found(ctx: &ErrorContext) -> Result<String, askama::Error> {
    NotFound {
        nav: Nav::without_user(&ctx.path),
        path: &ctx.path,
        detail: &ctx.detail,
    }
    .render()
}

/// The project's 403 page (Django's `handler403`): a permission the user
/// lacks, or a form that failed its CSRF check.
pub(crate) fn forbidden(ctx: &ErrorContext) -> Result<String, askama::Error> {
    Forbidden {
        nav: Nav::without_user(&ctx.path),
        path: &ctx.path,
        detail: &ctx.detail,
    }
    .render()
}

/// The root URL list.
pub(crate) fn urls() -> Urls {
    let urls = Urls::new().path("", get(home), "home");
    #[cfg(debug_assertions)]
    let urls = urls.include("debug/", debug_urls());
    urls
}

/// Routes that fail on purpose, to show (and test) that the server survives
/// them. Compiled into debug builds only.
#[cfg(debug_assertions)]
fn debug_urls() -> Urls {
    async fn panic() -> &'static str {
        panic!("this route panics on purpose")
    }
    async fn slow(Path(ms): Path<u64>) -> String {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        format!("slept {ms} ms")
    }
    async fn echo(body: Bytes) -> String {
        format!("{} bytes", body.len())
    }
    async fn bytes(Path(n): Path<usize>) -> Vec<u8> {
        vec![b'x'; n.min(64 << 20)]
    }
    Urls::namespaced("debug")
        .path("panic/", get(panic), "panic")
        .path("slow/<int:ms>/", get(slow), "slow")
        .path("echo/", post(echo), "echo")
        .path("bytes/<int:n>/", get(bytes), "bytes")
}
