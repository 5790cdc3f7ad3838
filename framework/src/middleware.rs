//! The middleware stack around every request (Django's `MIDDLEWARE`), in
//! this order from the outside in:
//!
//! 1. **request id** (the incoming `X-Request-Id` when sane, else a new one);
//! 2. **host check** (`allowed_hosts`) → 400;
//! 3. the **hooks** ([`Middleware`]) of the installed apps, in the order the
//!    apps were added, then the project's own
//!    ([`Project::middleware`](crate::Project::middleware)); the static files
//!    of [`contrib::staticfiles`](crate::contrib::staticfiles) are one. A
//!    hook's `before` may answer the request itself; the `after` of every
//!    hook that ran then sees the response, innermost first;
//! 4. **body limit**: `Content-Length` over `server.body_limit` → 413
//!    (bodies without a length are cut off at the limit while read, also 413);
//! 5. **request timeout** (→ 503) and **panic guard** (→ 500; the server
//!    keeps serving);
//! 6. the **layers** (any tower [`Layer`](tower::Layer), from
//!    [`App::layer`](crate::App::layer) and
//!    [`Project::layer`](crate::Project::layer)), the first added outermost;
//! 7. **CSRF protection** ([`csrf`](crate::csrf)) around each view: unsafe
//!    requests without a valid token → 403;
//! 8. the **view**;
//! 9. on the way out: **error pages** rendered from templates, the hooks'
//!    `after`, **security headers**, `X-Request-Id`, **metrics** and one
//!    **access-log** line.
//!
//! Steps 1, 2, 4, 5 and 9 are one service with a named (unboxed) future,
//! not a stack of layers, because each layer would box its future and keep
//! its own copy of the request state; a request that no hook answers costs
//! one virtual call per hook. Handlers extract what hooks and layers
//! attach to the request's extensions with axum's
//! [`Extension`](axum::Extension).
//!
//! ```
//! use manouche::middleware::{Before, Middleware};
//! use manouche::prelude::*;
//! use manouche::test::Client;
//! use axum::Extension;
//!
//! /// Attaches the visitor's preferred language for the views.
//! struct Language;
//!
//! #[derive(Clone)]
//! struct Lang(String);
//!
//! impl Middleware for Language {
//!     fn name(&self) -> &'static str { "language" }
//!
//!     fn before(&self, request: &mut http::Request<axum::body::Body>) -> Before {
//!         let lang = request.headers().get("accept-language")
//!             .and_then(|v| v.to_str().ok()).unwrap_or("en").to_owned();
//!         request.extensions_mut().insert(Lang(lang));
//!         Before::Continue
//!     }
//!
//!     fn after(&self, response: &mut Response) {
//!         response.headers_mut().insert("content-language", http::HeaderValue::from_static("en"));
//!     }
//! }
//!
//! async fn home(Extension(Lang(lang)): Extension<Lang>) -> String { lang }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let project = Project::new(Settings::default())
//!     .middleware(Language)
//!     .urls(Urls::new().path("", get(home), "home"));
//! let response = Client::new(project).unwrap().get("/").header("accept-language", "fr").send().await;
//! assert_eq!(response.text(), "fr");
//! assert_eq!(response.header("content-language"), Some("en"));
//! # });
//! ```

pub(crate) mod hosts;
pub(crate) mod panic;
mod request_id;
pub(crate) mod security;

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use futures_util::FutureExt;
use futures_util::future::CatchUnwind;
use http::{HeaderName, Request, StatusCode, header};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::time::Sleep;
use tower::Service;

use crate::error_pages::{ErrorPages, ErrorReport, RequestSummary};
use crate::request::{ConnectionInfo, RequestContext, RequestId, Scoped, SiteState};
use crate::settings::{Settings, SettingsError};
use hosts::AllowedHosts;
use request_id::RequestIds;
use security::SecurityHeaders;

/// A constant, so that neither lookups nor inserts parse the name again.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A middleware hook: code around every request, between the host check
/// and the view. See the [module docs](self) for the order and an example.
///
/// `before` is synchronous, so that a hook costs nothing measurable on the
/// requests it lets through; a hook that must wait (read a body, ask a
/// store) returns [`Before::Pending`] with its answer, or is written as a
/// tower layer ([`App::layer`](crate::App::layer)) instead.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a middleware hook",
    note = "implement `manouche::middleware::Middleware` (a `name`, and `before` and/or `after`), or add a tower layer with `.layer(...)`"
)]
pub trait Middleware: Send + Sync + 'static {
    /// A short name: `manage check` lists the stack with it, and the
    /// metrics label the requests the hook answers with it.
    fn name(&self) -> &'static str;

    /// Runs before the view: read or change the request (attach values to
    /// its extensions for the view), or answer it.
    fn before(&self, request: &mut Request<Body>) -> Before {
        let _ = request;
        Before::Continue
    }

    /// Runs on the response of every request whose `before` this hook ran,
    /// error pages included.
    fn after(&self, response: &mut Response) {
        let _ = response;
    }
}

/// What a hook's [`before`](Middleware::before) decided.
#[non_exhaustive]
pub enum Before {
    /// Go on to the next hook and the view.
    Continue,
    /// Answer with this response; the view does not run.
    Respond(Response),
    /// Answer with the response this future gives.
    Pending(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl std::fmt::Debug for Before {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Continue => "Continue",
            Self::Respond(_) => "Respond",
            Self::Pending(_) => "Pending",
        })
    }
}

/// The hooks, in order.
#[derive(Clone, Default)]
pub(crate) struct Hooks(pub(crate) Vec<Arc<dyn Middleware>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|h| h.name()))
            .finish()
    }
}

/// Everything the pipeline needs, computed once at startup.
#[derive(Debug)]
pub(crate) struct Pipeline {
    debug: bool,
    hosts: AllowedHosts,
    security: SecurityHeaders,
    body_limit: u64,
    request_timeout: Duration,
    request_ids: RequestIds,
    error_pages: ErrorPages,
    site: Arc<SiteState>,
    hooks: Hooks,
    metrics: bool,
}

impl Pipeline {
    pub(crate) fn new(
        settings: &Settings,
        error_pages: ErrorPages,
        site: Arc<SiteState>,
        hooks: Hooks,
    ) -> Result<Self, SettingsError> {
        panic::install_hook();
        Ok(Self {
            debug: settings.debug,
            hosts: AllowedHosts::new(&settings.allowed_hosts, settings.debug),
            security: SecurityHeaders::new(&settings.security)?,
            body_limit: settings.server.body_limit,
            request_timeout: settings.server.request_timeout,
            request_ids: RequestIds::new(),
            error_pages,
            site,
            hooks,
            metrics: false,
        })
    }

    /// Record Prometheus metrics for every request.
    pub(crate) fn enable_metrics(&mut self) {
        self.metrics = true;
    }

    /// Also accept `host` (the test client's `testserver`).
    pub(crate) fn allow_host(&mut self, host: &str) {
        self.hosts.allow(host);
    }
}

/// The project's routes, twice: axum's extractors cap bodies at 2 MB unless
/// a `DefaultBodyLimit` layer says otherwise, and that layer costs an
/// allocation per request; only requests that have a body go through the
/// copy with the layer (the pipeline enforces `server.body_limit` itself).
#[derive(Clone, Debug)]
pub(crate) struct Routes {
    pub(crate) without_body: Router,
    pub(crate) with_body: Router,
}

/// A built site as a tower (and hyper) service: the middleware stack
/// around the routes. Made by
/// [`Site::into_service`](crate::project::Site::into_service); cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct SiteService {
    routes: Routes,
    pipeline: Arc<Pipeline>,
    connection: ConnectionInfo,
}

impl SiteService {
    pub(crate) fn new(routes: Routes, pipeline: Arc<Pipeline>) -> Self {
        Self {
            routes,
            pipeline,
            connection: ConnectionInfo::default(),
        }
    }

    /// The same service for a connection from `peer`.
    pub(crate) fn for_connection(&self, connection: ConnectionInfo) -> Self {
        Self {
            connection,
            ..self.clone()
        }
    }

    fn dispatch(&self, mut req: Request<Body>) -> PipelineFuture {
        let pipeline = Arc::clone(&self.pipeline);
        if pipeline.metrics {
            crate::metrics::request_started();
        }
        let seen = Seen {
            // Only the access log and the metrics need the time.
            start: (pipeline.metrics
                || tracing::enabled!(target: "manouche::access", tracing::Level::INFO))
            .then(Instant::now),
            method: req.method().clone(),
            uri: req.uri().clone(),
            request_id: pipeline.request_ids.assign(req.headers()),
            connection: self.connection,
        };

        if let Err(detail) = pipeline.hosts.check(&req) {
            tracing::warn!(target: "manouche::security", request_id = %seen.request_id, "{detail}");
            let response = ErrorReport::new(StatusCode::BAD_REQUEST, detail).into_response();
            return PipelineFuture::ready(finish(&pipeline, response, &seen, Ran::None));
        }
        // A hook that answers skips the router, the timeout and the panic
        // guard (a panic in `before` itself is caught here).
        for (index, hook) in pipeline.hooks.0.iter().enumerate() {
            let before = std::panic::catch_unwind(AssertUnwindSafe(|| hook.before(&mut req)));
            let ran = Ran::Answered(index);
            match before {
                Ok(Before::Continue) => {}
                Ok(Before::Respond(response)) => {
                    return PipelineFuture::ready(finish(&pipeline, response, &seen, ran));
                }
                Ok(Before::Pending(fut)) => {
                    return PipelineFuture::Reading {
                        fut,
                        seen: Some(seen),
                        pipeline,
                        ran,
                    };
                }
                Err(payload) => {
                    let response = on_panic(payload.as_ref(), &seen);
                    return PipelineFuture::ready(finish(&pipeline, response, &seen, ran));
                }
            }
        }
        let mut router = if req.body().is_end_stream() {
            self.routes.without_body.clone()
        } else {
            if let Some(response) = limit_body(&mut req, pipeline.body_limit) {
                return PipelineFuture::ready(finish(&pipeline, response, &seen, Ran::All));
            }
            self.routes.with_body.clone()
        };
        let context = RequestContext {
            site: Arc::clone(&pipeline.site),
            request_id: seen.request_id.clone(),
            connection: self.connection,
        };
        let handler = crate::request::scope(context, router.call(req));
        PipelineFuture::Running {
            fut: AssertUnwindSafe(handler).catch_unwind(),
            timer: None,
            seen: Some(seen),
            pipeline,
        }
    }
}

impl Service<Request<Body>> for SiteService {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        ResponseFuture {
            inner: self.dispatch(req),
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for SiteService {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        ResponseFuture {
            inner: self.dispatch(req.map(Body::new)),
        }
    }
}

/// Which hooks' `after` runs on a response.
#[derive(Clone, Copy)]
enum Ran {
    /// None (the host check answered).
    None,
    /// Those before the one at this index, and that one (it answered).
    Answered(usize),
    /// All of them (the view answered).
    All,
}

pin_project_lite::pin_project! {
    /// The future of [`SiteService`]'s response.
    pub struct ResponseFuture {
        #[pin]
        inner: PipelineFuture,
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

/// What the access log and error pages need once the request is gone.
struct Seen {
    start: Option<Instant>,
    method: http::Method,
    uri: http::Uri,
    request_id: RequestId,
    connection: ConnectionInfo,
}

type Guarded = CatchUnwind<AssertUnwindSafe<Scoped<RouteFuture<Infallible>>>>;

pin_project_lite::pin_project! {
    /// The pipeline's future: the handler under the panic guard and the
    /// timeout, then the finishing touches. The timer is only created when
    /// the handler does not finish on its first poll, so the many requests
    /// that answer at once never touch the timer wheel.
    #[project = Projected]
    pub(crate) enum PipelineFuture {
        Ready { response: Option<Response> },
        Reading {
            fut: Pin<Box<dyn Future<Output = Response> + Send>>,
            seen: Option<Seen>,
            pipeline: Arc<Pipeline>,
            ran: Ran,
        },
        Running {
            #[pin]
            fut: Guarded,
            timer: Option<Pin<Box<Sleep>>>,
            seen: Option<Seen>,
            pipeline: Arc<Pipeline>,
        },
    }
}

impl PipelineFuture {
    fn ready(response: Response) -> Self {
        Self::Ready {
            response: Some(response),
        }
    }
}

impl Future for PipelineFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("PipelineFuture polled after completion"))),
            Projected::Reading {
                fut,
                seen,
                pipeline,
                ran,
            } => {
                let response = std::task::ready!(fut.as_mut().poll(cx));
                let seen = seen.take().expect("PipelineFuture polled after completion");
                Poll::Ready(Ok(finish(pipeline, response, &seen, *ran)))
            }
            Projected::Running {
                fut,
                timer,
                seen,
                pipeline,
            } => {
                let outcome = match fut.poll(cx) {
                    Poll::Ready(outcome) => Some(outcome),
                    Poll::Pending => {
                        // The deadline counts from the first poll, which
                        // follows the dispatch immediately.
                        let timer = timer.get_or_insert_with(|| {
                            Box::pin(tokio::time::sleep(pipeline.request_timeout))
                        });
                        std::task::ready!(timer.as_mut().poll(cx));
                        None
                    }
                };
                let seen = seen.take().expect("PipelineFuture polled after completion");
                let response = match outcome {
                    Some(Ok(Ok(response))) => response,
                    Some(Ok(Err(never))) => match never {},
                    Some(Err(payload)) => on_panic(payload.as_ref(), &seen),
                    None => on_timeout(pipeline.request_timeout, &seen),
                };
                Poll::Ready(Ok(finish(pipeline, response, &seen, Ran::All)))
            }
        }
    }
}

fn on_panic(payload: &(dyn std::any::Any + Send), seen: &Seen) -> Response {
    let report = panic::report(payload);
    tracing::error!(
        target: "manouche::panic",
        request_id = %seen.request_id,
        method = %seen.method,
        path = %seen.uri.path(),
        "handler panicked: {}",
        report.summary
    );
    let detail = match report.backtrace {
        Some(trace) => format!("{}\n\n{trace}", report.summary),
        None => format!(
            "{}\n\n(set RUST_BACKTRACE=1 to see the backtrace here)",
            report.summary
        ),
    };
    ErrorReport::new(StatusCode::INTERNAL_SERVER_ERROR, detail).into_response()
}

fn on_timeout(limit: Duration, seen: &Seen) -> Response {
    tracing::warn!(
        target: "manouche::timeout",
        request_id = %seen.request_id,
        method = %seen.method,
        path = %seen.uri.path(),
        "request timed out after {limit:?}; answered 503 (raise server.request_timeout if this is expected)",
    );
    ErrorReport::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the request took longer than server.request_timeout ({limit:?})"),
    )
    .into_response()
}

/// 413 for a declared length over the limit; otherwise caps the body so that
/// reading past the limit fails (axum's extractors turn that into 413).
fn limit_body(req: &mut Request<Body>, limit: u64) -> Option<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared
        && length > limit
    {
        let detail =
            format!("the request body has {length} bytes; server.body_limit allows {limit}");
        return Some(ErrorReport::new(StatusCode::PAYLOAD_TOO_LARGE, detail).into_response());
    }
    if declared.is_none() {
        let body = std::mem::take(req.body_mut());
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        *req.body_mut() = Body::new(http_body_util::Limited::new(body, limit));
    }
    None
}

/// Error pages, the hooks' `after`, security headers, request id header,
/// metrics and the access log.
fn finish(pipeline: &Pipeline, mut response: Response, seen: &Seen, ran: Ran) -> Response {
    if let Some(report) = response.extensions_mut().remove::<ErrorReport>() {
        let summary = RequestSummary {
            method: seen.method.to_string(),
            path: seen.uri.path().to_owned(),
            request_id: seen.request_id.to_string(),
        };
        // Rendered as the request's own code, so that the page's `url(...)`
        // and `static_url(...)` answer for this site.
        let context = RequestContext {
            site: Arc::clone(&pipeline.site),
            request_id: seen.request_id.clone(),
            connection: seen.connection,
        };
        let page = crate::request::sync_scope(context, || {
            pipeline
                .error_pages
                .render(&report, &summary, pipeline.debug, &pipeline.site.urls)
        });
        let (mut parts, _) = response.into_parts();
        let (page_parts, body) = page.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.extend(page_parts.headers);
        response = Response::from_parts(parts, body);
    }
    let hooks = &pipeline.hooks.0;
    let (ran_hooks, answered) = match ran {
        Ran::None => (&hooks[..0], None),
        Ran::Answered(index) => (&hooks[..=index], hooks.get(index)),
        Ran::All => (&hooks[..], None),
    };
    for hook in ran_hooks.iter().rev() {
        hook.after(&mut response);
    }
    let headers = response.headers_mut();
    pipeline.security.apply(headers);
    headers.insert(X_REQUEST_ID, seen.request_id.to_header_value());
    if pipeline.metrics
        && let Some(start) = seen.start
    {
        let (route, static_bytes) = match answered {
            Some(hook) => (
                metrics::SharedString::const_str(hook.name()),
                response.body().size_hint().exact(),
            ),
            None => (pipeline.site.urls.route_label(seen.uri.path()), None),
        };
        crate::metrics::record_request(route, response.status(), start.elapsed(), static_bytes);
    }
    if let Some(start) = seen.start
        && tracing::enabled!(target: "manouche::access", tracing::Level::INFO)
    {
        let elapsed = start.elapsed();
        let bytes = response.body().size_hint().exact();
        tracing::info!(
            target: "manouche::access",
            method = %seen.method,
            path = %seen.uri.path_and_query().map_or("/", |p| p.as_str()),
            status = response.status().as_u16(),
            bytes = tracing::field::display(BodySize(bytes)),
            ms = format_args!("{:.2}", elapsed.as_secs_f64() * 1000.0),
            request_id = %seen.request_id,
        );
    }
    response
}

/// A body size for the log: the byte count, or `-` for a stream.
struct BodySize(Option<u64>);

impl std::fmt::Display for BodySize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("-"),
        }
    }
}
