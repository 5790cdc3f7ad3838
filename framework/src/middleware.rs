//! The framework's request pipeline, around every request: `ALLOWED_HOSTS`
//! check, request id, body-size limit, request timeout, panic → 500,
//! error-page rendering, security headers and the access log.
//!
//! They are one tower service rather than a stack of layers because each
//! layer would box the future and clone the request state again; done in one
//! pass, the whole pipeline costs a few hundred nanoseconds a request. The
//! pieces live in the submodules, one concept each.
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

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{HeaderValue, Request, StatusCode, header};
use http_body::Body as _;
use tower::Service;

pub use request_id::RequestId;

use crate::error_pages::{ErrorPages, ErrorReport, RequestSummary};
use crate::settings::{Settings, SettingsError};
use crate::urls::UrlConf;
use hosts::AllowedHosts;
use request_id::RequestIds;
use security::SecurityHeaders;

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
    urls: UrlConf,
}

impl Pipeline {
    pub(crate) fn new(
        settings: &Settings,
        error_pages: ErrorPages,
        urls: UrlConf,
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
            urls,
        })
    }

    /// Also accept `host` (the test client's `testserver`).
    pub(crate) fn allow_host(&mut self, host: &str) {
        self.hosts.allow(host);
    }
}

/// The pipeline wrapped around a router.
#[derive(Clone, Debug)]
pub(crate) struct Framework<S> {
    inner: S,
    pipeline: Arc<Pipeline>,
}

impl<S> Framework<S> {
    pub(crate) fn new(inner: S, pipeline: Arc<Pipeline>) -> Self {
        Self { inner, pipeline }
    }
}

/// What the access log and error pages need once the request is gone.
struct Seen {
    start: Instant,
    method: http::Method,
    uri: http::Uri,
    request_id: String,
}

impl<S> Service<Request<Body>> for Framework<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let pipeline = Arc::clone(&self.pipeline);
        let seen = Seen {
            start: Instant::now(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            request_id: pipeline.request_ids.assign(req.headers()),
        };

        if let Err(detail) = pipeline.hosts.check(&req) {
            tracing::warn!(target: "manouche::security", request_id = %seen.request_id, "{detail}");
            let response = ErrorReport::new(StatusCode::BAD_REQUEST, detail).into_response();
            return Box::pin(std::future::ready(Ok(finish(&pipeline, response, &seen))));
        }
        if let Some(response) = limit_body(&mut req, pipeline.body_limit) {
            return Box::pin(std::future::ready(Ok(finish(&pipeline, response, &seen))));
        }
        req.extensions_mut().insert(pipeline.urls.clone());
        req.extensions_mut()
            .insert(RequestId(seen.request_id.clone()));

        // The usual tower dance: the clone that was polled ready serves.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let handler = crate::urls::scope(pipeline.urls.clone(), inner.call(req));
        Box::pin(async move {
            let guarded = AssertUnwindSafe(handler).catch_unwind();
            let response = match tokio::time::timeout(pipeline.request_timeout, guarded).await {
                Ok(Ok(Ok(response))) => response,
                Ok(Ok(Err(never))) => match never {},
                Ok(Err(payload)) => {
                    let report = panic::report(payload.as_ref());
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
                Err(_) => {
                    tracing::warn!(
                        target: "manouche::timeout",
                        request_id = %seen.request_id,
                        method = %seen.method,
                        path = %seen.uri.path(),
                        "request timed out after {:?}; answered 503 (raise server.request_timeout if this is expected)",
                        pipeline.request_timeout
                    );
                    ErrorReport::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "the request took longer than server.request_timeout ({:?})",
                            pipeline.request_timeout
                        ),
                    )
                    .into_response()
                }
            };
            Ok(finish(&pipeline, response, &seen))
        })
    }
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
    if !req.body().is_end_stream() && declared.is_none() {
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
            request_id: seen.request_id.clone(),
        };
        let page = pipeline
            .error_pages
            .render(&report, &summary, pipeline.debug, &pipeline.urls);
        let (mut parts, _) = response.into_parts();
        let (page_parts, body) = page.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.extend(page_parts.headers);
        response = Response::from_parts(parts, body);
    }
    let headers = response.headers_mut();
    pipeline.security.apply(headers);
    if let Ok(id) = HeaderValue::from_str(&seen.request_id) {
        headers.insert("x-request-id", id);
    }
    if tracing::enabled!(target: "manouche::access", tracing::Level::INFO) {
        let elapsed = seen.start.elapsed();
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
