//! What the framework knows about the request being served: its id, the
//! connection it came on, and the project's URLs — available to handlers as
//! extractors, and to code called from them (templates, `reverse`) without
//! passing anything around.
//!
//! ```
//! use manouche::prelude::*;
//! use manouche::request::ConnectionInfo;
//!
//! async fn whoami(id: RequestId, conn: ConnectionInfo) -> String {
//!     format!("request {id} from {:?} (TLS: {})", conn.peer, conn.tls)
//! }
//! ```
//!
//! The context lives in a task-local set by the framework's pipeline for the
//! duration of the handler, rather than in the request's extensions: that
//! costs no allocation per request. Work spawned onto another task does not
//! see it; take what you need (e.g. the [`RequestId`]) before spawning.

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::FromRequestParts;
use http::HeaderValue;
use http::request::Parts;

use std::sync::Arc;

use crate::db::Database;
use crate::services::Services;
use crate::urls::UrlConf;

/// The connection a request arrived on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The client's address (`None` over a Unix socket and in the test
    /// client).
    pub peer: Option<SocketAddr>,
    /// Whether the connection is TLS.
    pub tls: bool,
}

impl ConnectionInfo {
    pub(crate) fn new(peer: Option<SocketAddr>, tls: bool) -> Self {
        Self { peer, tls }
    }
}

/// The client of the request: the connection's peer and scheme, or, on a
/// connection from a trusted proxy (`server.trusted_proxies`), the address
/// and scheme the proxy reports (see [`crate::proxies`]). Use it for
/// anything about the client (throttling by address, building `https`
/// links); [`ConnectionInfo`] stays the socket's own view.
///
/// ```
/// use manouche::request::ClientInfo;
///
/// async fn whoami(client: ClientInfo) -> String {
///     format!("{:?} (HTTPS: {})", client.addr, client.secure)
/// }
/// # let _ = whoami;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The client's address (`None`: a Unix socket with no trusted proxy
    /// header, the test client, or a proxy that hides the address).
    pub addr: Option<IpAddr>,
    /// Whether the client spoke HTTPS, to this server or to the trusted
    /// proxy that received its connection (Django's `request.is_secure()`).
    pub secure: bool,
}

impl ClientInfo {
    /// The client of a connection with no proxy in front.
    pub(crate) fn direct(connection: &ConnectionInfo) -> Self {
        Self {
            addr: connection.peer.map(|p| p.ip().to_canonical()),
            secure: connection.tls,
        }
    }
}

/// The id of the current request: the incoming `X-Request-Id` when a proxy
/// set a sane one, else one made here. Also sent back in `X-Request-Id` and
/// written in the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Id);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Id {
    /// A random per-process prefix and a counter; formatted only when shown.
    Generated { prefix: u32, counter: u64 },
    /// From the request's header, already validated.
    Incoming(HeaderValue),
}

impl RequestId {
    pub(crate) fn generated(prefix: u32, counter: u64) -> Self {
        Self(Id::Generated { prefix, counter })
    }

    pub(crate) fn incoming(value: HeaderValue) -> Self {
        Self(Id::Incoming(value))
    }

    /// The same id in an allocation of its own: an id read from the
    /// request's header is a slice of the connection's read buffer, which
    /// work that outlives the request (a websocket) would keep alive.
    fn detached(&self) -> Self {
        match &self.0 {
            Id::Incoming(value) => Self(Id::Incoming(owned_header_value(value))),
            Id::Generated { .. } => self.clone(),
        }
    }

    /// The id as a header value.
    pub fn to_header_value(&self) -> HeaderValue {
        match &self.0 {
            Id::Incoming(value) => value.clone(),
            Id::Generated { prefix, counter } => {
                let bytes = carve(&hex_id(*prefix, *counter));
                HeaderValue::from_maybe_shared(bytes).expect("hex digits are a valid header value")
            }
        }
    }
}

/// `value` in an allocation of its own. hyper's header values are slices of
/// the connection's read buffer (16 KiB), which a clone keeps alive: what
/// outlives the request (a websocket's scope, a detached context) copies.
pub(crate) fn owned_header_value(value: &HeaderValue) -> HeaderValue {
    let mut owned = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
    owned.set_sensitive(value.is_sensitive());
    owned
}

/// `prefix` and the low 32 bits of `counter` as 16 lowercase hex digits,
/// without going through `fmt` (this runs on every response).
/// `id` copied into a per-thread buffer that many ids share: one
/// allocation per 256 ids instead of one per response (the buffer is
/// freed when the last header value cut from it is dropped).
fn carve(id: &[u8; 16]) -> bytes::Bytes {
    thread_local! {
        static ARENA: std::cell::RefCell<bytes::BytesMut> = std::cell::RefCell::new(bytes::BytesMut::new());
    }
    ARENA.with(|arena| {
        let mut arena = arena.borrow_mut();
        if arena.capacity() < id.len() {
            *arena = bytes::BytesMut::with_capacity(id.len() * 256);
        }
        arena.extend_from_slice(id);
        arena.split().freeze()
    })
}

fn hex_id(prefix: u32, counter: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let value = (u64::from(prefix) << 32) | (counter & 0xffff_ffff);
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = DIGITS[((value >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Id::Generated { prefix, counter } => {
                let digits = hex_id(*prefix, *counter);
                f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
            }
            // Only sane (visible ASCII) ids are kept.
            Id::Incoming(value) => f.write_str(value.to_str().unwrap_or("-")),
        }
    }
}

/// What every request of a built site shares (one reference count per
/// request): its URLs, its database, its services, and the rate limits of
/// the warnings its clients cause.
#[derive(Debug)]
pub(crate) struct SiteState {
    pub(crate) urls: UrlConf,
    pub(crate) database: Option<Database>,
    pub(crate) services: Services,
    pub(crate) warnings: crate::logging::Throttle,
}

/// Everything the pipeline sets for one request.
#[derive(Debug, Clone)]
pub(crate) struct RequestContext {
    pub(crate) site: Arc<SiteState>,
    pub(crate) request_id: RequestId,
    pub(crate) connection: ConnectionInfo,
    /// The client, after the trusted proxies' headers.
    pub(crate) client: ClientInfo,
    /// The server's bookkeeping of the connection, for
    /// [`ConnectionHold`](crate::server::ConnectionHold).
    pub(crate) slot: Option<Arc<crate::server::Slot>>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The future type of [`scope`].
pub(crate) type Scoped<F> = tokio::task::futures::TaskLocalFuture<RequestContext, F>;

/// Runs `fut` with `context` as the current request's.
pub(crate) fn scope<F: Future>(context: RequestContext, fut: F) -> Scoped<F> {
    CONTEXT.scope(context, fut)
}

/// Runs `f` with `context` as the current request's (for code that runs
/// outside the handler's future, such as error pages).
pub(crate) fn sync_scope<R>(context: RequestContext, f: impl FnOnce() -> R) -> R {
    CONTEXT.sync_scope(context, f)
}

/// Calls `f` with the current request's context, if there is one.
pub(crate) fn with_context<T>(f: impl FnOnce(&RequestContext) -> T) -> Option<T> {
    CONTEXT.try_with(f).ok()
}

/// The current request's context, carried into work that goes on after
/// the response (a websocket after its upgrade), so that
/// [`current_service`], `reverse` and the template helpers still work
/// there. Take it inside the request with [`Detached::current`], then run
/// the later work with [`Detached::scope`].
///
/// ```
/// use manouche::request::Detached;
///
/// // Outside a request there is nothing to carry.
/// assert!(Detached::current().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Detached(RequestContext);

impl Detached {
    /// The context of the request being served, if any.
    #[must_use]
    pub fn current() -> Option<Self> {
        with_context(|c| {
            Self(RequestContext {
                // The hold on the connection is taken explicitly
                // (`ConnectionHold`), not by carrying the context.
                slot: None,
                request_id: c.request_id.detached(),
                ..c.clone()
            })
        })
    }

    /// Runs `fut` with this context as the current request's.
    pub fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        CONTEXT.scope(self.0, fut)
    }

    /// The request id of the request this was taken from.
    #[must_use]
    pub fn request_id(&self) -> &RequestId {
        &self.0.request_id
    }

    /// The connection of the request this was taken from.
    #[must_use]
    pub fn connection(&self) -> ConnectionInfo {
        self.0.connection
    }

    /// The client of the request this was taken from.
    #[must_use]
    pub fn client(&self) -> ClientInfo {
        self.0.client
    }
}

/// The project service of type `T` of the project serving the current
/// request (see [`crate::services`]), for code running inside a request: a
/// handler, a template helper, a middleware hook.
#[must_use]
pub fn current_service<T: Send + Sync + 'static>() -> Option<Arc<T>> {
    with_context(|c| c.site.services.get::<T>()).flatten()
}

fn missing(what: &str) -> crate::Error {
    crate::Error::improperly_configured(format!(
        "no {what} here: this extractor works in handlers served through a `Project` (server or test client), not in spawned tasks"
    ))
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = crate::Error;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        with_context(|c| c.request_id.clone()).ok_or_else(|| missing("request id"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ConnectionInfo {
    type Rejection = Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(with_context(|c| c.connection).unwrap_or_default())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(with_context(|c| c.client).unwrap_or_default())
    }
}

/// The request's host, as the site's host check accepted it (Django's
/// `request.get_host()`), and absolute URLs on it (Django's
/// `build_absolute_uri`), for links that leave the page: password-reset
/// mails, feeds.
///
/// The host is the request target's authority when it has one (HTTP/2's
/// `:authority`, an absolute-form target), else its `Host` header; the
/// pipeline has already refused a request whose host is not in
/// `allowed_hosts`, whose `Host` contradicts its authority, or that has
/// two `Host` headers. The scheme is the target's, or `https` when the
/// client spoke HTTPS ([`ClientInfo::secure`]: a TLS connection, or a
/// trusted proxy's `X-Forwarded-Proto` / `Forwarded`), else `http`.
///
/// ```
/// use manouche::request::Host;
///
/// async fn reset_link(host: Host) -> String {
///     host.absolute_url("/accounts/reset/abc/")
/// }
/// # let _ = reset_link;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    host: String,
    scheme: &'static str,
}

impl Host {
    /// `host` or `host:port`, lower-cased.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.host
    }

    /// `http` or `https`.
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// `scheme://host` and `path` (a path on this site, as `reverse`
    /// gives it; a missing leading `/` is added).
    #[must_use]
    pub fn absolute_url(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        format!("{}://{}/{path}", self.scheme, self.host)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Host {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let host = crate::middleware::hosts::named_host(&parts.uri, &parts.headers)
            .map_err(crate::Error::bad_request)?
            .to_ascii_lowercase();
        let scheme = match parts.uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => "https",
            Some(_) => "http",
            None if with_context(|c| c.client.secure).unwrap_or(false) => "https",
            None => "http",
        };
        Ok(Self { host, scheme })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for UrlConf {
    type Rejection = crate::Error;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        with_context(|c| c.site.urls.clone()).ok_or_else(|| missing("URL configuration"))
    }
}

/// Runs `write` (which logs one warning the client of the request being
/// served caused) unless the site's [`Throttle`](crate::logging::Throttle) drops it. Outside a
/// request it always runs.
pub(crate) fn throttled_warning(kind: &'static str, write: impl FnOnce(&str)) {
    let mut write = Some(write);
    with_context(|c| {
        if let Some(write) = write.take() {
            crate::logging::throttled(&c.site.warnings, c.client.addr, kind, write);
        }
    });
    if let Some(write) = write {
        write("-");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_format_as_16_hex_digits() {
        let id = RequestId::generated(0xdead_beef, 0x1_0000_002a);
        assert_eq!(id.to_string(), "deadbeef0000002a");
        assert_eq!(id.to_header_value(), "deadbeef0000002a");
    }

    #[test]
    fn a_detached_incoming_id_owns_its_bytes() {
        // A header value cut from a bigger buffer, as hyper's are.
        let buffer = bytes::Bytes::from_static(b"GET / HTTP/1.1\r\nX-Request-Id: abc-123\r\n");
        let value = HeaderValue::from_maybe_shared(buffer.slice(30..37)).expect("a header value");
        let id = RequestId::incoming(value);
        let detached = id.detached();
        assert_eq!(detached, id);
        assert_eq!(detached.to_header_value(), "abc-123");
        let (Id::Incoming(a), Id::Incoming(b)) = (&id.0, &detached.0) else {
            panic!("both incoming");
        };
        assert_ne!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
    }
}
