//! Error pages (Django's `handler404`, `handler500`, ...).
//!
//! Errors raised anywhere — a handler returning [`crate::Error`], no route
//! matching, a panic, a timeout, a bad `Host` — become an [`ErrorReport`]: a
//! response that only carries the status and what went wrong. The framework
//! middleware then renders the page once, through the project's template
//! for that status or the built-in one, and shows the details only when
//! `debug` is on.
//!
//! A project replaces a page with its own askama template:
//!
//! ```
//! use askama::Template;
//! use manouche::prelude::*;
//! use manouche::error_pages::ErrorContext;
//!
//! #[derive(Template)]
//! #[template(source = "<h1>Nothing at {{ path }}</h1>", ext = "html")]
//! struct NotFound<'a> { path: &'a str }
//!
//! let project = Project::new(Settings::default())
//!     .error_page(StatusCode::NOT_FOUND, |ctx: &ErrorContext| {
//!         NotFound { path: &ctx.path }.render()
//!     });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use askama::Template;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::urls::{RouteInfo, UrlConf};

/// What went wrong, attached to an error response until the middleware
/// renders the page.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    status: StatusCode,
    detail: String,
    list_routes: bool,
}

impl ErrorReport {
    /// A report with a status and a detail for the developer.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            list_routes: false,
        }
    }

    /// In debug, the page lists the URL patterns (as Django's technical 404).
    #[must_use]
    pub(crate) fn with_tried_patterns(mut self) -> Self {
        self.list_routes = true;
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The detail (shown only in debug).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl IntoResponse for ErrorReport {
    fn into_response(self) -> Response {
        // A plain body in case nothing renders the page (a bare router in a
        // unit test); the middleware replaces it.
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let mut response =
            Response::new(Body::from(format!("{} {reason}\n", self.status.as_u16())));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response.extensions_mut().insert(self);
        response
    }
}

/// Everything an error page template can show.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The status code.
    pub status: StatusCode,
    /// The request method.
    pub method: String,
    /// The request path.
    pub path: String,
    /// The request id (also in the `X-Request-Id` header and the access log).
    pub request_id: String,
    /// Whether the project runs with `debug` on.
    pub debug: bool,
    /// What went wrong; `None` unless `debug` is on.
    pub detail: Option<String>,
    /// In debug 404 pages, the routes that were tried.
    pub routes: Vec<RouteInfo>,
}

/// A function that renders one status's page.
pub type RenderFn = dyn Fn(&ErrorContext) -> Result<String, askama::Error> + Send + Sync;

/// The project's error pages, by status.
#[derive(Clone, Default)]
pub struct ErrorPages {
    custom: HashMap<StatusCode, Arc<RenderFn>>,
}

impl fmt::Debug for ErrorPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorPages")
            .field("custom", &self.custom.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct DefaultPage<'a> {
    status: u16,
    reason: &'a str,
    summary: &'a str,
    debug: bool,
    method: &'a str,
    path: &'a str,
    request_id: &'a str,
    detail: &'a Option<String>,
    routes: &'a [RouteInfo],
}

impl ErrorPages {
    /// Uses `render` for responses with `status`.
    pub fn set<F>(&mut self, status: StatusCode, render: F)
    where
        F: Fn(&ErrorContext) -> Result<String, askama::Error> + Send + Sync + 'static,
    {
        self.custom.insert(status, Arc::new(render));
    }

    /// Renders the page for `report` into a complete HTML response.
    pub(crate) fn render(
        &self,
        report: &ErrorReport,
        request: &RequestSummary,
        debug: bool,
        urls: &UrlConf,
    ) -> Response {
        let ctx = ErrorContext {
            status: report.status,
            method: request.method.clone(),
            path: request.path.clone(),
            request_id: request.request_id.clone(),
            debug,
            detail: debug.then(|| report.detail.clone()),
            routes: if debug && report.list_routes {
                urls.routes()
            } else {
                Vec::new()
            },
        };
        // A custom page that fails, or panics, gives way to the built-in
        // one: the error page is the last thing that may fail a request,
        // and a panic here would end the connection unanswered.
        let custom = self
            .custom
            .get(&report.status)
            .map(|render| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| render(&ctx))));
        let html = match custom {
            Some(Ok(Ok(html))) => html,
            Some(Ok(Err(err))) => {
                tracing::error!(status = report.status.as_u16(), error = %err, "custom error page failed to render; using the built-in one");
                default_page(&ctx)
            }
            Some(Err(_)) => {
                tracing::error!(
                    status = report.status.as_u16(),
                    "custom error page panicked; using the built-in one"
                );
                default_page(&ctx)
            }
            None => default_page(&ctx),
        };
        let mut response = Response::new(Body::from(html));
        *response.status_mut() = report.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    }
}

/// The parts of the request an error page needs, kept by the middleware.
#[derive(Debug, Clone)]
pub(crate) struct RequestSummary {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) request_id: String,
}

fn summary(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "The request could not be understood.",
        StatusCode::FORBIDDEN => "You do not have permission to see this page.",
        StatusCode::NOT_FOUND => "The page you asked for does not exist.",
        StatusCode::METHOD_NOT_ALLOWED => "This page does not accept that method.",
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is larger than this site accepts.",
        StatusCode::SERVICE_UNAVAILABLE => "The server could not answer in time. Please try again.",
        s if s.is_server_error() => "Something went wrong on our side. It has been logged.",
        _ => "The request failed.",
    }
}

fn default_page(ctx: &ErrorContext) -> String {
    let page = DefaultPage {
        status: ctx.status.as_u16(),
        reason: ctx.status.canonical_reason().unwrap_or("Error"),
        summary: summary(ctx.status),
        debug: ctx.debug,
        method: &ctx.method,
        path: &ctx.path,
        request_id: &ctx.request_id,
        detail: &ctx.detail,
        routes: &ctx.routes,
    };
    // The built-in template only formats strings; should it ever fail, a
    // bare page is better than none.
    page.render()
        .unwrap_or_else(|_| format!("<!DOCTYPE html><title>{0}</title><h1>{0}</h1>", ctx.status))
}
