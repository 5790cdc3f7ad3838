//! The middleware stack around every request (Django's `MIDDLEWARE`), in
//! this order from the outside in:
//!
//! 1. **request id** (the incoming `X-Request-Id` when sane, else a new one);
//! 2. **head checks**: a request line over `server.max_request_line` →
//!    414, a header line over `server.max_header_line` or headers over
//!    `server.max_header_size` → 431, a `Transfer-Encoding` other than
//!    `chunked` alone → 501; then the **host check** (`allowed_hosts`) →
//!    400. Their warnings are rate-limited per client address;
//! 3. the **hooks** ([`Middleware`]) of the installed apps, in the order the
//!    apps were added, then the project's own
//!    ([`Project::middleware`](crate::Project::middleware)); the static files
//!    of [`contrib::staticfiles`](crate::contrib::staticfiles) and the
//!    sessions of [`contrib::sessions`](crate::contrib::sessions) are two.
//!    A hook's `before` may answer the request itself, or hand the
//!    pipeline a [`Finish`] step for this request ([`Before::Then`]); on
//!    the way out every hook that ran sees the response, innermost first:
//!    its step (which may wait, e.g. to save a session), then its `after`;
//! 4. **body limit**: `Content-Length` over `server.body_limit` → 413
//!    (bodies without a length are cut off at the limit while read, also 413);
//! 5. **request timeout** (→ 503) and **panic guard** (→ 500; the server
//!    keeps serving);
//! 6. the **layers** (any tower [`Layer`](tower::Layer), from
//!    [`App::layer`](crate::App::layer) and
//!    [`Project::layer`](crate::Project::layer)), the first added
//!    outermost; each wraps the routed site once ([`Views`]), not each
//!    route;
//! 7. **CSRF protection** ([`csrf`](crate::csrf)) for the view the URL
//!    resolves to: unsafe requests without a valid token → 403;
//! 8. the **view**;
//! 9. on the way out: **error pages** rendered from templates, the hooks'
//!    steps and `after`, **security headers**, `X-Request-Id`, **metrics**
//!    and one **access-log** line.
//!
//! Steps 1 to 5, 7 and 9 are one service with a named (unboxed) future,
//! not a stack of layers, because each layer would box its future and keep
//! its own copy of the request state; a request that no hook answers costs
//! one virtual call per hook, and a site without layers calls the CSRF
//! check and the router directly. Handlers extract what hooks and layers
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

mod head;
pub(crate) use head::HeadLimits;
pub(crate) mod hosts;
pub(crate) mod panic;
mod request_id;
pub(crate) mod security;

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
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
use tower::util::BoxCloneSyncService;

use crate::csrf::layer::{CsrfFuture, CsrfService};
use crate::error_pages::{ErrorPages, ErrorReport, RequestSummary};
use crate::health::{Health, Probe};
use crate::logging::{clip, clip_at};
use crate::proxies::TrustedProxies;
use crate::request::{ClientInfo, ConnectionInfo, RequestContext, RequestId, Scoped, SiteState};
use crate::settings::{Settings, SettingsError};
use head::Refused;
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
    /// Go on to the next hook and the view; then hand the response to this
    /// request's [`Finish`] (before the hook's own `after`). This is how a
    /// hook keeps state for one request, and how it waits on the way out
    /// (saving a session) without wrapping the views in a layer.
    Then(Arc<dyn Finish>),
    /// Answer with this response; the view does not run.
    Respond(Response),
    /// Answer with the response this future gives.
    Pending(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl std::fmt::Debug for Before {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Continue => "Continue",
            Self::Then(_) => "Then",
            Self::Respond(_) => "Respond",
            Self::Pending(_) => "Pending",
        })
    }
}

/// One request's finishing step, handed to the pipeline by a hook's
/// [`before`](Middleware::before) with [`Before::Then`].
///
/// It runs on the response of that request only, whoever answered it (the
/// view, an error page, a later hook), innermost hook first, and may wait.
/// A panic in it is answered with a 500 page, as a panic in a view.
pub trait Finish: Send + Sync + 'static {
    /// Changes the response, or returns the future that gives the final
    /// one.
    fn finish(self: Arc<Self>, response: Response) -> Finished;
}

/// What a [`Finish`] decided.
#[non_exhaustive]
pub enum Finished {
    /// The response, finished.
    Done(Response),
    /// The response this future gives.
    Pending(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Done(_) => "Done",
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
    head: HeadLimits,
    hosts: AllowedHosts,
    security: SecurityHeaders,
    body_limit: u64,
    request_timeout: Duration,
    request_ids: RequestIds,
    error_pages: ErrorPages,
    site: Arc<SiteState>,
    hooks: Hooks,
    metrics: bool,
    /// `server.max_requests_in_flight`.
    max_in_flight: usize,
    /// `server.trusted_proxies` and `server.proxy_headers`.
    proxies: TrustedProxies,
    /// The health probes, when `server.health = "main"` and the server
    /// serves them.
    health: Option<Arc<Health>>,
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
            head: HeadLimits::new(&settings.server),
            hosts: AllowedHosts::new(&settings.allowed_hosts, settings.debug),
            security: SecurityHeaders::new(&settings.security)?,
            body_limit: settings.server.body_limit,
            request_timeout: settings.server.request_timeout,
            request_ids: RequestIds::new(),
            error_pages,
            site,
            hooks,
            metrics: false,
            max_in_flight: settings.server.max_requests_in_flight,
            proxies: settings.server.trusted_proxies()?,
            health: None,
        })
    }

    /// Record Prometheus metrics for every request.
    pub(crate) fn enable_metrics(&mut self) {
        self.metrics = true;
    }

    /// The client of a request on `connection` with `headers`: the
    /// connection's peer unless it is a trusted proxy.
    fn client(&self, connection: &ConnectionInfo, headers: &http::HeaderMap) -> ClientInfo {
        if self.proxies.is_empty() {
            return ClientInfo::direct(connection);
        }
        self.proxies
            .client(connection.peer.map(|p| p.ip()), connection.tls, headers)
    }

    /// Answer `/healthz` and `/readyz` with `health`.
    pub(crate) fn serve_health(&mut self, health: Arc<Health>) {
        self.health = Some(health);
    }

    /// Also accept `host` (the test client's `testserver`).
    pub(crate) fn allow_host(&mut self, host: &str) {
        self.hosts.allow(host);
    }
}

/// The project's views, twice: axum's extractors cap bodies at 2 MB unless
/// a `DefaultBodyLimit` layer says otherwise, and that layer costs an
/// allocation per request; only requests that have a body go through the
/// copy with the layer (the pipeline enforces `server.body_limit` itself).
#[derive(Clone, Debug)]
pub(crate) struct Routes {
    pub(crate) without_body: Views,
    pub(crate) with_body: Views,
}

/// The views behind the CSRF check and the layers added after the one
/// being applied: the service an [`App::layer`](crate::App::layer) or
/// [`Project::layer`](crate::Project::layer) wraps.
///
/// Layers wrap the routed site as a whole, once (not each route): a layer
/// sees every request the hooks let through, 404s included, before the
/// URL is matched. Without layers the pipeline calls the CSRF check and
/// the router directly, with no boxing; each layer adds one boxed level.
#[derive(Clone)]
pub struct Views(ViewsInner);

#[derive(Clone)]
enum ViewsInner {
    Routes(CsrfService<Router>),
    Layered(BoxCloneSyncService<Request<Body>, Response, Infallible>),
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            ViewsInner::Routes(_) => "Views(routes)",
            ViewsInner::Layered(_) => "Views(layered)",
        })
    }
}

impl Views {
    /// The router behind the CSRF check.
    pub(crate) fn new(routes: CsrfService<Router>) -> Self {
        Self(ViewsInner::Routes(routes))
    }

    /// Views behind a layer, boxed (see `app::layer_fn`).
    pub(crate) fn boxed(service: BoxCloneSyncService<Request<Body>, Response, Infallible>) -> Self {
        Self(ViewsInner::Layered(service))
    }
}

impl Service<Request<Body>> for Views {
    type Response = Response;
    type Error = Infallible;
    type Future = ViewsFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match &mut self.0 {
            ViewsInner::Routes(routes) => routes.poll_ready(cx),
            ViewsInner::Layered(layered) => layered.poll_ready(cx),
        }
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = match &mut self.0 {
            ViewsInner::Routes(routes) => ViewsState::Routes {
                fut: routes.call(request),
            },
            ViewsInner::Layered(layered) => ViewsState::Layered {
                fut: layered.call(request),
            },
        };
        ViewsFuture { inner }
    }
}

type LayeredFuture =
    <BoxCloneSyncService<Request<Body>, Response, Infallible> as Service<Request<Body>>>::Future;

pin_project_lite::pin_project! {
    /// The future of [`Views`].
    pub struct ViewsFuture {
        #[pin]
        inner: ViewsState,
    }
}

pin_project_lite::pin_project! {
    #[project = ViewsProjected]
    enum ViewsState {
        Routes { #[pin] fut: CsrfFuture<Router, RouteFuture<Infallible>> },
        Layered { fut: LayeredFuture },
    }
}

impl Future for ViewsFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            ViewsProjected::Routes { fut } => fut.poll(cx),
            ViewsProjected::Layered { fut } => fut.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for ViewsFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewsFuture")
    }
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
    /// The server's bookkeeping of this connection (none in the test
    /// client), for [`ConnectionHold`](crate::server::ConnectionHold).
    slot: Option<Arc<crate::server::Slot>>,
}

impl SiteService {
    pub(crate) fn new(routes: Routes, pipeline: Arc<Pipeline>) -> Self {
        Self {
            routes,
            pipeline,
            connection: ConnectionInfo::default(),
            slot: None,
        }
    }

    /// The same service for the connection owning `slot`.
    pub(crate) fn with_slot(&self, slot: Arc<crate::server::Slot>) -> Self {
        Self {
            slot: Some(slot),
            ..self.clone()
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
        let (in_flight, serving) = InFlight::enter();
        let mut seen = Seen {
            // Only the access log and the metrics need the time.
            start: (pipeline.metrics
                || tracing::enabled!(target: "manouche::access", tracing::Level::INFO))
            .then(Instant::now),
            method: req.method().clone(),
            uri: req.uri().clone(),
            request_id: pipeline.request_ids.assign(req.headers()),
            connection: self.connection,
            client: pipeline.client(&self.connection, req.headers()),
            finishers: Finishers::default(),
            _in_flight: in_flight,
        };

        if let Some(health) = &pipeline.health
            && let Some(probe) = Probe::of(req.method(), req.uri().path())
            && pipeline.head.check(&req).is_ok()
        {
            // Before shedding (a loaded process is alive) and before the
            // host check (balancers probe by address).
            return PipelineFuture::Reading {
                fut: Box::pin(Arc::clone(health).answer(probe)),
                seen: Some(seen),
                pipeline,
                ran: Ran::None,
            };
        }
        let refused = if serving > pipeline.max_in_flight {
            // Shed at once, before any work: the server serves again as
            // soon as it is back under the cap.
            Some(Refused {
                status: StatusCode::SERVICE_UNAVAILABLE,
                detail: format!(
                    "more than server.max_requests_in_flight ({}) requests at once",
                    pipeline.max_in_flight
                ),
                close: false,
                kind: "shed",
            })
        } else {
            match pipeline.head.check(&req) {
                Ok(()) => pipeline.hosts.check(&req).err().map(|detail| Refused {
                    status: StatusCode::BAD_REQUEST,
                    detail,
                    close: false,
                    kind: "host",
                }),
                Err(refused) => Some(refused),
            }
        };
        if let Some(refused) = refused {
            warn_refused(&pipeline, &seen, &refused);
            let mut response = ErrorReport::new(refused.status, refused.detail).into_response();
            if refused.status == StatusCode::SERVICE_UNAVAILABLE {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
            }
            // HTTP/2 has no `Connection` header (hyper would drop it with a
            // warning); its streams have their own framing.
            if refused.close && req.version() < http::Version::HTTP_2 {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
            }
            return PipelineFuture::out(leave(&pipeline, seen, response, Ran::None), pipeline);
        }
        // A hook that answers skips the router, the timeout and the panic
        // guard (a panic in `before` itself is caught here).
        for (index, hook) in pipeline.hooks.0.iter().enumerate() {
            let before = std::panic::catch_unwind(AssertUnwindSafe(|| hook.before(&mut req)));
            let ran = Ran::Answered(index);
            match before {
                Ok(Before::Continue) => {}
                Ok(Before::Then(step)) => seen.finishers.push(index, step),
                Ok(Before::Respond(response)) => {
                    return PipelineFuture::out(leave(&pipeline, seen, response, ran), pipeline);
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
                    return PipelineFuture::out(leave(&pipeline, seen, response, ran), pipeline);
                }
            }
        }
        let mut views = if req.body().is_end_stream() {
            self.routes.without_body.clone()
        } else {
            if let Some(response) = limit_body(&mut req, pipeline.body_limit) {
                return PipelineFuture::out(leave(&pipeline, seen, response, Ran::All), pipeline);
            }
            self.routes.with_body.clone()
        };
        let context = RequestContext {
            site: Arc::clone(&pipeline.site),
            request_id: seen.request_id.clone(),
            connection: self.connection,
            client: seen.client,
            slot: self.slot.clone(),
        };
        let handler = crate::request::scope(context, views.call(req));
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
    type Response = http::Response<SentBody>;
    type Error = Infallible;
    type Future = ServedFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        // The connection's clock counts the request from here until hyper
        // drops its response body (sent, or abandoned).
        let request = self.slot.as_ref().map(crate::server::Slot::request_started);
        let http1 = req.version() < http::Version::HTTP_2;
        ServedFuture {
            inner: self.dispatch(req.map(Body::new)),
            request,
            http1,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`SiteService`]'s response under the built-in server:
    /// the response, with a body that tells the connection when it is
    /// sent.
    pub struct ServedFuture {
        #[pin]
        inner: PipelineFuture,
        request: Option<crate::server::RequestGuard>,
        // HTTP/1.x: a response during the drain closes the connection.
        http1: bool,
    }
}

impl Future for ServedFuture {
    type Output = Result<http::Response<SentBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        let request = this.request.take();
        if let Some(request) = &request {
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                request.upgraded();
            } else if *this.http1 && request.draining() {
                // The server is draining: this is the connection's last
                // response, and the client is told so (HTTP/2 has GOAWAY).
                response
                    .headers_mut()
                    .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
            }
        }
        Poll::Ready(Ok(response.map(|body| SentBody {
            body,
            _request: request,
        })))
    }
}

impl std::fmt::Debug for ServedFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServedFuture")
    }
}

pin_project_lite::pin_project! {
    /// A response body under the built-in server: the body, and the
    /// request's place in its connection's bookkeeping, given back when
    /// hyper drops it.
    pub struct SentBody {
        #[pin]
        body: Body,
        _request: Option<crate::server::RequestGuard>,
    }
}

impl http_body::Body for SentBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl std::fmt::Debug for SentBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentBody").finish_non_exhaustive()
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
    /// The client, after the trusted proxies' headers.
    client: ClientInfo,
    /// The finishing steps the hooks gave ([`Before::Then`]).
    finishers: Finishers,
    /// The request's place under `server.max_requests_in_flight`, given
    /// back when the request is answered or abandoned.
    _in_flight: InFlight,
}

/// Requests being served by this process, for
/// `server.max_requests_in_flight`: the load of the process, whatever
/// sites it serves.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// One request's place in [`IN_FLIGHT`].
struct InFlight;

impl InFlight {
    /// Takes a place; also returns how many requests are now being served.
    fn enter() -> (Self, usize) {
        (Self, IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The finishing steps of one request's hooks, by hook index, in the order
/// the hooks ran. The first two are kept inline: a site with sessions and
/// messages allocates nothing here.
#[derive(Default)]
struct Finishers {
    inline: [Option<(usize, Arc<dyn Finish>)>; 2],
    more: Vec<(usize, Arc<dyn Finish>)>,
}

impl Finishers {
    fn push(&mut self, index: usize, step: Arc<dyn Finish>) {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some((index, step)),
            None => self.more.push((index, step)),
        }
    }

    /// The step of the hook at `index`, if it gave one (asked for in
    /// decreasing order of index).
    fn take(&mut self, index: usize) -> Option<Arc<dyn Finish>> {
        let last = match self.more.last() {
            Some(&(at, _)) => at,
            None => self.inline.iter().rev().flatten().next()?.0,
        };
        if last != index {
            return None;
        }
        let taken = match self.more.pop() {
            Some(entry) => Some(entry),
            None => self.inline.iter_mut().rev().find_map(Option::take),
        };
        taken.map(|(_, step)| step)
    }
}

type Guarded = CatchUnwind<AssertUnwindSafe<Scoped<ViewsFuture>>>;

/// A hook's finishing step that waits, under the panic guard.
type Waiting = CatchUnwind<AssertUnwindSafe<Pin<Box<dyn Future<Output = Response> + Send>>>>;

pin_project_lite::pin_project! {
    /// The pipeline's future: the handler under the panic guard and the
    /// timeout, then the way out. The timer is only created when the
    /// handler does not finish on its first poll, so the many requests
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
        // A hook's finishing step is waiting (a session being saved); the
        // way out goes on from that hook.
        Finishing {
            fut: Waiting,
            index: usize,
            seen: Option<Seen>,
            pipeline: Arc<Pipeline>,
            ran: Ran,
        },
    }

    impl PinnedDrop for PipelineFuture {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before its answer: the client went away (an HTTP/2
            // stream reset, a connection closed mid-request).
            match this.project() {
                Projected::Reading { seen, pipeline, .. }
                | Projected::Running { seen, pipeline, .. }
                | Projected::Finishing { seen, pipeline, .. } => {
                    if let Some(seen) = seen.take() {
                        abandoned(pipeline, &seen);
                    }
                }
                Projected::Ready { .. } => {}
            }
        }
    }
}

const POLLED_AFTER_COMPLETION: &str = "PipelineFuture polled after completion";

impl PipelineFuture {
    /// The future for a way out that started at dispatch.
    fn out(outward: Outward, pipeline: Arc<Pipeline>) -> Self {
        match outward {
            Outward::Done(response) => Self::Ready {
                response: Some(response),
            },
            Outward::Waiting {
                fut,
                index,
                seen,
                ran,
            } => Self::Finishing {
                fut,
                index,
                seen: Some(seen),
                pipeline,
                ran,
            },
        }
    }
}

impl Future for PipelineFuture {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let next = match self.as_mut().project() {
            Projected::Ready { response } => {
                return Poll::Ready(Ok(response.take().expect(POLLED_AFTER_COMPLETION)));
            }
            Projected::Reading {
                fut,
                seen,
                pipeline,
                ran,
            } => {
                let response = std::task::ready!(fut.as_mut().poll(cx));
                let seen = seen.take().expect(POLLED_AFTER_COMPLETION);
                leave(pipeline, seen, response, *ran)
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
                let seen = seen.take().expect(POLLED_AFTER_COMPLETION);
                let response = match outcome {
                    Some(Ok(Ok(response))) => response,
                    Some(Ok(Err(never))) => match never {},
                    Some(Err(payload)) => on_panic(payload.as_ref(), &seen),
                    None => on_timeout(pipeline.request_timeout, &seen),
                };
                leave(pipeline, seen, response, Ran::All)
            }
            Projected::Finishing {
                fut,
                index,
                seen,
                pipeline,
                ran,
            } => {
                let outcome = std::task::ready!(Pin::new(fut).poll(cx));
                let seen = seen.take().expect(POLLED_AFTER_COMPLETION);
                let response = match outcome {
                    Ok(response) => response,
                    Err(payload) => on_panic(payload.as_ref(), &seen),
                };
                let mut response = error_page(pipeline, response, &seen);
                pipeline.hooks.0[*index].after(&mut response);
                resume(pipeline, seen, response, *ran, *index)
            }
        };
        match next {
            Outward::Done(response) => {
                self.set(Self::Ready { response: None });
                Poll::Ready(Ok(response))
            }
            Outward::Waiting {
                fut,
                index,
                seen,
                ran,
            } => {
                let pipeline = match self.as_mut().project() {
                    Projected::Reading { pipeline, .. }
                    | Projected::Running { pipeline, .. }
                    | Projected::Finishing { pipeline, .. } => Arc::clone(pipeline),
                    Projected::Ready { .. } => unreachable!("a finished request has no way out"),
                };
                self.set(Self::Finishing {
                    fut,
                    index,
                    seen: Some(seen),
                    pipeline,
                    ran,
                });
                self.poll(cx)
            }
        }
    }
}

/// Where the way out stands.
// A return value moved once into the pipeline's future, which holds the
// same `Seen` inline anyway: boxing `Waiting` would add an allocation to
// every request whose session is saved, and save nothing.
#[allow(clippy::large_enum_variant)]
enum Outward {
    /// Finished and sealed.
    Done(Response),
    /// The finishing step of the hook at `index` is waiting.
    Waiting {
        fut: Waiting,
        index: usize,
        seen: Seen,
        ran: Ran,
    },
}

/// The way out of a request that `ran` through the hooks: error pages,
/// the hooks' finishing steps and `after`s, innermost first, then
/// [`seal`].
fn leave(pipeline: &Pipeline, seen: Seen, response: Response, ran: Ran) -> Outward {
    let end = match ran {
        Ran::None => 0,
        Ran::Answered(index) => index + 1,
        Ran::All => pipeline.hooks.0.len(),
    };
    let response = error_page(pipeline, response, &seen);
    resume(pipeline, seen, response, ran, end)
}

/// The way out through the hooks before `end`.
fn resume(
    pipeline: &Pipeline,
    mut seen: Seen,
    mut response: Response,
    ran: Ran,
    mut end: usize,
) -> Outward {
    while let Some(index) = end.checked_sub(1) {
        if let Some(step) = seen.finishers.take(index) {
            match std::panic::catch_unwind(AssertUnwindSafe(|| step.finish(response))) {
                Ok(Finished::Done(done)) => response = error_page(pipeline, done, &seen),
                Ok(Finished::Pending(fut)) => {
                    return Outward::Waiting {
                        fut: AssertUnwindSafe(fut).catch_unwind(),
                        index,
                        seen,
                        ran,
                    };
                }
                Err(payload) => {
                    let page = on_panic(payload.as_ref(), &seen);
                    response = error_page(pipeline, page, &seen);
                }
            }
        }
        pipeline.hooks.0[index].after(&mut response);
        end = index;
    }
    let answered = match ran {
        Ran::Answered(index) => pipeline.hooks.0.get(index),
        Ran::None | Ran::All => None,
    };
    Outward::Done(seal(pipeline, response, &seen, answered))
}

/// The warning for a request refused before the hooks, rate-limited per
/// client address and kind (see [`crate::logging`]), with at most 200
/// bytes of its detail.
fn warn_refused(pipeline: &Pipeline, seen: &Seen, refused: &Refused) {
    crate::logging::throttled(
        &pipeline.site.warnings,
        seen.client.addr,
        refused.kind,
        |source| {
            tracing::warn!(
                target: "manouche::security",
                request_id = %seen.request_id,
                client = %source,
                status = refused.status.as_u16(),
                "{}",
                clip(&refused.detail)
            );
        },
    );
}

fn on_panic(payload: &(dyn std::any::Any + Send), seen: &Seen) -> Response {
    let report = panic::report(payload);
    tracing::error!(
        target: "manouche::panic",
        request_id = %seen.request_id,
        method = %clip(seen.method.as_str()),
        path = %clip(seen.uri.path()),
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
        method = %clip(seen.method.as_str()),
        path = %clip(seen.uri.path()),
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

/// The error page for a response that carries an [`ErrorReport`],
/// rendered from the templates.
fn error_page(pipeline: &Pipeline, mut response: Response, seen: &Seen) -> Response {
    let Some(report) = response.extensions_mut().remove::<ErrorReport>() else {
        return response;
    };
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
        client: seen.client,
        slot: None,
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
    Response::from_parts(parts, body)
}

/// nginx's status for a request whose client closed the connection
/// before the answer.
const CLIENT_CLOSED: u16 = 499;

/// The end of a request its client abandoned: the metrics (the in-flight
/// gauge comes down) and the access-log line, with status 499 as nginx
/// writes it. The handler's future is dropped with it, so its work stops
/// at its next await.
fn abandoned(pipeline: &Pipeline, seen: &Seen) {
    let Some(start) = seen.start else {
        return;
    };
    let status = StatusCode::from_u16(CLIENT_CLOSED).unwrap_or(StatusCode::BAD_REQUEST);
    if pipeline.metrics {
        let route = pipeline.site.urls.route_label(seen.uri.path());
        crate::metrics::record_request(route, status, start.elapsed(), None);
    }
    access_line(seen, status, None, start);
}

/// The last touches: security headers, the request id header, metrics
/// and the access log. `answered`: the hook that answered, if one did.
fn seal(
    pipeline: &Pipeline,
    mut response: Response,
    seen: &Seen,
    answered: Option<&Arc<dyn Middleware>>,
) -> Response {
    leave_length_to_hyper(&mut response, &seen.method);
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
    if let Some(start) = seen.start {
        access_line(
            seen,
            response.status(),
            response.body().size_hint().exact(),
            start,
        );
    }
    response
}

/// The request's line in the access log, when that log is on.
fn access_line(seen: &Seen, status: StatusCode, bytes: Option<u64>, start: Instant) {
    if !tracing::enabled!(target: "manouche::access", tracing::Level::INFO) {
        return;
    }
    let elapsed = start.elapsed();
    tracing::info!(
        target: "manouche::access",
        // A request line is at most server.max_request_line long; the log
        // keeps the first kilobyte of a longer one's target.
        client = tracing::field::display(ClientAddr(seen.client.addr)),
        method = %clip(seen.method.as_str()),
        path = %clip_at(seen.uri.path_and_query().map_or("/", |p| p.as_str()), 1024),
        status = status.as_u16(),
        bytes = tracing::field::display(BodySize(bytes)),
        ms = format_args!("{:.2}", elapsed.as_secs_f64() * 1000.0),
        request_id = %seen.request_id,
    );
}

/// Removes a `Content-Length` that only repeats the body's exact size:
/// hyper writes that header itself (HTTP/1 and HTTP/2) for a body of known
/// size, without parsing it back. A small response (a content type, the
/// four security headers and the request id) then stays within its header
/// map's first allocation (six entries) instead of growing and rehashing
/// it on every request.
fn leave_length_to_hyper(response: &mut Response, method: &http::Method) {
    if !server_writes_length(method, response.status()) {
        return;
    }
    let Some(exact) = response.body().size_hint().exact() else {
        return;
    };
    if let http::header::Entry::Occupied(declared) =
        response.headers_mut().entry(header::CONTENT_LENGTH)
        && declared
            .get()
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            == Some(exact)
    {
        declared.remove();
    }
}

/// Whether the server writes `Content-Length` from the body's exact size
/// when the response has none: not for `HEAD`, and not for the statuses
/// without a body (1xx, 204, 304). The test client adds it back by this
/// same rule, so that it shows what the wire carries.
pub(crate) fn server_writes_length(method: &http::Method, status: StatusCode) -> bool {
    *method != http::Method::HEAD
        && !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
}

/// A client address for the log, or `-` when unknown.
struct ClientAddr(Option<std::net::IpAddr>);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("-"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Step;

    impl Finish for Step {
        fn finish(self: Arc<Self>, response: Response) -> Finished {
            Finished::Done(response)
        }
    }

    #[test]
    fn finishing_steps_come_back_innermost_first_past_the_inline_slots() {
        let mut finishers = Finishers::default();
        for index in [0, 2, 3, 5] {
            finishers.push(index, Arc::new(Step));
        }
        let taken: Vec<usize> = (0..7)
            .rev()
            .filter(|&index| finishers.take(index).is_some())
            .collect();
        assert_eq!(taken, [5, 3, 2, 0]);
        assert!(finishers.take(0).is_none(), "each step is taken once");
    }
}
