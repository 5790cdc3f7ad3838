//! The framework's request pipeline, around every request: `ALLOWED_HOSTS`
//! check, request id, body-size limit, request timeout, panic → 500,
//! error-page rendering, security headers and the access log.
//!
//! They are one service with a named (unboxed) future rather than a stack of
//! layers, because each layer would box its future and keep its own copy of
//! the request state; and the per-request state lives in a task-local
//! ([`crate::request`]) rather than in request extensions, which would cost
//! allocations. The pieces live in the submodules, one concept each.
//!
//! The order, from the outside in:
//!
//! 1. request id (the incoming `X-Request-Id` when sane, else a new one);
//! 2. host check → 400;
//! 3. `Content-Length` over the limit → 413 (bodies without a length are
//!    cut off at the limit while read, also 413);
//! 4. the handler, under the request timeout (→ 503) and a panic guard
//!    (→ 500; the server keeps serving);
//! 5. error pages rendered from templates, security headers, `X-Request-Id`,
//!    one access-log line.

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
use crate::request::{ConnectionInfo, ProjectState, RequestContext, RequestId, Scoped};
use crate::settings::{Settings, SettingsError};
use crate::static_files::{StaticResponse, StaticStore};
use hosts::AllowedHosts;
use request_id::RequestIds;
use security::SecurityHeaders;

/// A constant, so that neither lookups nor inserts parse the name again.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

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
    project: Arc<ProjectState>,
    statics: Option<StaticStore>,
    metrics: bool,
}

impl Pipeline {
    pub(crate) fn new(
        settings: &Settings,
        error_pages: ErrorPages,
        project: Arc<ProjectState>,
        statics: Option<StaticStore>,
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
            project,
            statics,
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

/// The pipeline wrapped around the routes, for one connection.
#[derive(Clone, Debug)]
pub(crate) struct Framework {
    routes: Routes,
    pipeline: Arc<Pipeline>,
    connection: ConnectionInfo,
}

impl Framework {
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
        };

        if let Err(detail) = pipeline.hosts.check(&req) {
            tracing::warn!(target: "manouche::security", request_id = %seen.request_id, "{detail}");
            let response = ErrorReport::new(StatusCode::BAD_REQUEST, detail).into_response();
            return PipelineFuture::ready(finish(&pipeline, response, &seen));
        }
        // Static files skip the router, the timeout and the panic guard:
        // the code that serves them is ours and answers at once.
        if let Some(statics) = &pipeline.statics
            && let Some(rest) = req.uri().path().strip_prefix(statics.prefix())
        {
            return match statics.respond(&req, rest) {
                StaticResponse::Ready(response) => {
                    PipelineFuture::ready(finish(&pipeline, response, &seen))
                }
                StaticResponse::Pending(fut) => PipelineFuture::Reading {
                    fut,
                    seen: Some(seen),
                    pipeline,
                },
            };
        }
        let mut router = if req.body().is_end_stream() {
            self.routes.without_body.clone()
        } else {
            if let Some(response) = limit_body(&mut req, pipeline.body_limit) {
                return PipelineFuture::ready(finish(&pipeline, response, &seen));
            }
            self.routes.with_body.clone()
        };
        let context = RequestContext {
            project: Arc::clone(&pipeline.project),
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

impl Service<Request<Body>> for Framework {
    type Response = Response;
    type Error = Infallible;
    type Future = PipelineFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        self.dispatch(req)
    }
}

impl hyper::service::Service<Request<Incoming>> for Framework {
    type Response = Response;
    type Error = Infallible;
    type Future = PipelineFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.dispatch(req.map(Body::new))
    }
}

/// What the access log and error pages need once the request is gone.
struct Seen {
    start: Option<Instant>,
    method: http::Method,
    uri: http::Uri,
    request_id: RequestId,
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
            } => {
                let response = std::task::ready!(fut.as_mut().poll(cx));
                let seen = seen.take().expect("PipelineFuture polled after completion");
                Poll::Ready(Ok(finish(pipeline, response, &seen)))
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
                Poll::Ready(Ok(finish(pipeline, response, &seen)))
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

/// Error pages, security headers, request id header and the access log.
fn finish(pipeline: &Pipeline, mut response: Response, seen: &Seen) -> Response {
    if let Some(report) = response.extensions_mut().remove::<ErrorReport>() {
        let summary = RequestSummary {
            method: seen.method.to_string(),
            path: seen.uri.path().to_owned(),
            request_id: seen.request_id.to_string(),
        };
        let page =
            pipeline
                .error_pages
                .render(&report, &summary, pipeline.debug, &pipeline.project.urls);
        let (mut parts, _) = response.into_parts();
        let (page_parts, body) = page.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.extend(page_parts.headers);
        response = Response::from_parts(parts, body);
    }
    let headers = response.headers_mut();
    pipeline.security.apply(headers);
    headers.insert(X_REQUEST_ID, seen.request_id.to_header_value());
    if pipeline.metrics
        && let Some(start) = seen.start
    {
        let path = seen.uri.path();
        let static_prefix = pipeline.statics.as_ref().map(StaticStore::prefix);
        let (route, static_bytes) = match static_prefix {
            Some(prefix) if path.starts_with(prefix) => (
                metrics::SharedString::const_str("static"),
                response.body().size_hint().exact(),
            ),
            _ => (pipeline.project.urls.route_label(path), None),
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
