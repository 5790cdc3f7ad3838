//! The built-in server: meant to face real traffic alone, without nginx or
//! uWSGI in front.
//!
//! - HTTP/1.1 with keep-alive and HTTP/2 on the same port (prior-knowledge
//!   h2c is detected from the connection preface; over TLS, ALPN decides);
//! - TCP, Unix socket, or an inherited socket ([`Bind`]);
//! - a header read timeout (a client trickling its headers is dropped), a
//!   keep-alive limit (`server.keep_alive_timeout`; HTTP/2 gets `GOAWAY`),
//!   the request body limit and request timeout (in [`crate::middleware`]),
//!   and a cap on concurrent connections — further ones wait in the
//!   kernel's listen queue instead of being served slowly or refused. The
//!   connection limits run on one coarse clock (`clock`), not a timer per
//!   request or connection;
//! - idle HTTP/1 connections are parked: after a quiet second they hold
//!   only their socket, not hyper's buffers (`connection`), about 2.6 KB
//!   each instead of 23 KB;
//! - connection lifetime limits: a connection must complete its first
//!   request head within `server.first_request_timeout` of being accepted
//!   (the TLS handshake and the protocol detection count, so sockets that
//!   never speak, or send one byte, cannot hold the connection cap), and a
//!   client that stops reading is cut after `server.send_timeout` without
//!   progress (the `guarded` socket); past `server.max_requests_in_flight`
//!   requests get 503 with `Retry-After` (in [`crate::middleware`]), and
//!   `server.max_connections_per_client` caps one address's connections;
//! - `server.http2 = false` refuses HTTP/2, prior knowledge included;
//! - bounded request heads: the HTTP/1 read buffer stops at
//!   `server.max_request_line + server.max_header_size` (a longer head is
//!   answered 431 and the connection closed while it still arrives), and
//!   HTTP/2 announces the same total as its header list size (h2 answers
//!   431 past it); the line-by-line limits are checked in
//!   [`crate::middleware`];
//! - half-closed connections are served: a client that sends its request
//!   and then shuts down its sending side (`printf ... | nc -N`, some load
//!   balancers' health checks) still gets the whole response. The price:
//!   a client that goes away mid-request without a reset is only noticed
//!   when the response is written, so its handler runs to the end (the
//!   request timeout still bounds it);
//! - connections that break the protocol (a head over the limits, a
//!   malformed request, HTTP/2 rapid reset and other abuse) are counted in
//!   the metrics (`manouche_client_errors_total`); HTTP/1 ones are also
//!   logged, rate-limited per client address, HTTP/2 ones are not;
//! - a drain that loses no request, on SIGTERM or SIGINT: the listener is
//!   closed at once; every HTTP/1 response sent from then on carries
//!   `Connection: close`; an idle keep-alive connection stays open for
//!   `server.drain_grace`, so a request its client was already sending is
//!   answered, and is closed only then; HTTP/2 connections get `GOAWAY`
//!   and their streams in flight finish (see `clock`). The whole drain is
//!   bounded by `server.drain_timeout`; then the process exits 0. A second
//!   signal stops at once (exit 1). [`ServerStats::is_draining`] tells the
//!   readiness probe ([`crate::health`]);
//! - binary upgrade on `SIGHUP` (`reload`): the binary now on disk is
//!   started on the same listening sockets, and this process drains once
//!   the new one says it is ready; if it fails, this one serves on;
//! - upgraded connections (websockets) keep their place under the
//!   connection cap and in the open-connections count, and the drain tells
//!   them to close (a websocket with 1001) and waits for them
//!   ([`ConnectionHold`]).
//!
//! Starting is two steps, `listen` then `serve`, so that what must
//! happen once the socket is ready and before requests are served (the
//! pidfile, `pidfile`) has its place between them.
//!
//! Projects reach it through `manage serve --bind ADDR` and
//! `manage runserver`; `serve` is the function underneath.

mod clock;
mod connection;
mod guarded;
mod hold;
mod listener;
mod notify;
mod pidfile;
mod reload;
#[cfg(feature = "tls")]
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use clock::Clock;
use connection::Protocols;
use guarded::Guarded;
use hold::Clients;
pub use hold::ConnectionHold;
pub(crate) use hold::{RequestGuard, Slot};
pub use listener::Bind;
pub(crate) use listener::inherited_sockets;
use listener::{Connection, Listener};
pub(crate) use notify::notify;
pub(crate) use pidfile::PidFile;
pub(crate) use reload::{
    Hangups, ReloadSockets, Reloader, Takeover, report_path as reload_report_path,
};

use crate::logging::Throttle;
use crate::middleware::SiteService;
use crate::request::ConnectionInfo;
use crate::settings::ServerSettings;

/// Numbers the server keeps about itself.
#[derive(Debug, Default)]
pub struct ServerStats {
    open_connections: AtomicUsize,
    parked_connections: AtomicUsize,
    draining: AtomicBool,
}

impl ServerStats {
    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.open_connections.load(Ordering::Relaxed)
    }

    /// Idle HTTP/1 connections currently parked: holding only their socket
    /// until the client speaks again (they count as open too).
    pub fn parked_connections(&self) -> usize {
        self.parked_connections.load(Ordering::Relaxed)
    }

    /// Whether the server has stopped accepting and is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The address could not be bound or adopted.
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        /// The address.
        bind: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The TLS files are unusable.
    #[error("{0}")]
    Tls(String),
}

/// A bound (or adopted) listening socket, with its TLS setup: the server
/// before it serves.
pub(crate) struct Listening {
    listener: Listener,
    acceptor: Acceptor,
    /// Copies of the sockets kept for reloads, closed with the listener.
    reload_sockets: Option<Arc<ReloadSockets>>,
}

/// Binds `bind` (or adopts the inherited socket) and loads the TLS files.
///
/// # Errors
/// When the address cannot be bound or the TLS files are unusable.
pub(crate) async fn listen(
    settings: &ServerSettings,
    bind: &Bind,
) -> Result<Listening, ServerError> {
    raise_open_files_limit(settings.max_connections);
    let listener = Listener::bind(bind, settings.reuse_port)
        .await
        .map_err(|source| ServerError::Bind {
            bind: bind.to_string(),
            source,
        })?;
    let acceptor = Acceptor::new(settings)?;
    Ok(Listening {
        listener,
        acceptor,
        reload_sockets: None,
    })
}

impl Listening {
    /// The listening socket's descriptor, to duplicate for a reload.
    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Closes `sockets` (the copies kept for reloads) when the drain
    /// starts, before the listener.
    pub(crate) fn close_on_drain(&mut self, sockets: Arc<ReloadSockets>) {
        self.reload_sockets = Some(sockets);
    }

    /// The Unix socket file this server created, if any.
    pub(crate) fn socket_file(&self) -> Option<&std::path::PathBuf> {
        self.listener.socket_file()
    }

    /// Takes over the removal of the socket file that the old process of
    /// a reload created.
    ///
    /// # Errors
    /// When the inherited socket is not bound to `path`.
    pub(crate) fn own_socket_file(&mut self, path: std::path::PathBuf) -> std::io::Result<()> {
        self.listener.own_socket_file(path)
    }
}

/// Why [`serve`] stops accepting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGTERM or SIGINT.
    Signal,
    /// A reload's new process (this pid) serves the sockets now.
    HandedOver(u32),
}

/// How a [`serve`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Every connection closed within `server.drain_timeout`.
    Clean,
    /// `server.drain_timeout` passed with connections still open.
    TimedOut,
    /// `stop_now` resolved during the drain (a second signal).
    Stopped,
}

/// Serves `app` on `listening` until `shutdown` resolves, then drains
/// (see the module doc); `stop_now` cuts the drain short.
pub(crate) async fn serve(
    listening: Listening,
    app: SiteService,
    settings: &ServerSettings,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = Stop>,
    stop_now: impl Future<Output = ()>,
) -> Drained {
    let Listening {
        mut listener,
        acceptor,
        reload_sockets,
    } = listening;
    let protocols = Arc::new(Protocols::new(settings));
    let clock = Clock::new(settings);
    tokio::spawn(Arc::clone(&clock).run());

    let scheme = acceptor.scheme();
    tracing::info!(
        target: "manouche::server",
        "listening on {scheme}://{} (max {} connections)",
        listener.describe(),
        settings.max_connections
    );

    let warnings = Arc::new(Throttle::default());
    let clients = Arc::new(Clients::default());
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let mut holds = hold::Holds::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let stop = loop {
        let permit = tokio::select! {
            biased;
            stop = &mut shutdown => break stop,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break Stop::Signal,
            },
        };
        let accepted = tokio::select! {
            biased;
            stop = &mut shutdown => break stop,
            accepted = listener.accept() => accepted,
        };
        let connection = match accepted {
            Ok(connection) => connection,
            Err(err) => {
                on_accept_error(&err).await;
                continue;
            }
        };
        let first_request_by = Instant::now() + settings.first_request_timeout;
        let client = match (&connection, settings.max_connections_per_client) {
            (Connection::Tcp(_, peer), most) if most > 0 => match clients.admit(peer.ip(), most) {
                Some(ticket) => Some(ticket),
                None => {
                    refuse_crowded(&warnings, peer.ip(), most);
                    continue;
                }
            },
            _ => None,
        };
        // The slot holds the permit and the counts; an upgraded connection
        // keeps it after hyper lets go of the connection.
        let slot = holds.slot(&stats, permit, client, &clock);
        let app = app.with_slot(Arc::clone(&slot));
        let protocols = Arc::clone(&protocols);
        let acceptor = acceptor.clone();
        let warnings = Arc::clone(&warnings);
        tokio::spawn(async move {
            let served = Served {
                protocols: &protocols,
                warnings: &warnings,
                first_request_by,
                slot: &slot,
            };
            acceptor.serve(connection, app, served).await;
            drop(slot);
        });
    };

    if let Stop::HandedOver(pid) = stop {
        // The new process serves the socket file now.
        listener.keep_socket_file();
        tracing::info!(target: "manouche::server", "pid {pid} took over the sockets");
    }
    // Stop accepting first: a connection told to close must not be able
    // to come back to this process. The copies kept for reloads go first,
    // or the socket would stay open, queueing connections nobody accepts.
    if let Some(sockets) = reload_sockets {
        sockets.close();
    }
    drop(listener);
    stats.start_draining();
    holds.start_drain();
    clock.drain();
    let open = stats.open_connections();
    tracing::info!(
        target: "manouche::server",
        "shutting down: no longer accepting; waiting for {open} open connection(s) (idle ones get {:?}, all of them up to {:?})",
        settings.drain_grace.min(settings.drain_timeout),
        settings.drain_timeout
    );
    tokio::select! {
        () = holds.all_released() => {
            tracing::info!(target: "manouche::server", "all connections closed; bye");
            Drained::Clean
        }
        () = tokio::time::sleep(settings.drain_timeout) => {
            tracing::warn!(
                target: "manouche::server",
                "drain timeout ({:?}) reached with {} connection(s) still open; closing them",
                settings.drain_timeout,
                stats.open_connections()
            );
            Drained::TimedOut
        }
        () = stop_now => {
            tracing::warn!(
                target: "manouche::server",
                "second signal: stopping without draining ({} connection(s) still open)",
                stats.open_connections()
            );
            Drained::Stopped
        }
    }
}

/// How accepted connections start: plain, or with a TLS handshake.
#[derive(Clone)]
enum Acceptor {
    Plain,
    #[cfg(feature = "tls")]
    Tls {
        acceptor: tokio_rustls::TlsAcceptor,
    },
}

impl Acceptor {
    fn new(settings: &ServerSettings) -> Result<Self, ServerError> {
        match (&settings.tls_cert, &settings.tls_key) {
            #[cfg(feature = "tls")]
            (Some(cert), Some(key)) => Ok(Self::Tls {
                acceptor: tls::acceptor(cert, key, settings.http2).map_err(ServerError::Tls)?,
            }),
            #[cfg(not(feature = "tls"))]
            (Some(_), _) => Err(ServerError::Tls(
                "server.tls_cert is set but manouche was built without its `tls` feature".into(),
            )),
            _ => Ok(Self::Plain),
        }
    }

    fn scheme(&self) -> &'static str {
        match self {
            Self::Plain => "http",
            #[cfg(feature = "tls")]
            Self::Tls { .. } => "https",
        }
    }

    async fn serve(&self, connection: Connection, app: SiteService, served: Served<'_>) {
        match (self, connection) {
            (_, Connection::Unix(stream)) => served.run(stream, app, None).await,
            (Self::Plain, Connection::Tcp(stream, peer)) => {
                let app = app.for_connection(ConnectionInfo::new(Some(peer), false));
                served.run(stream, app, Some(peer)).await;
            }
            #[cfg(feature = "tls")]
            // The handshake is part of the first request's time. Boxed: a
            // TLS session's state is large, and a plain connection's task
            // would otherwise be as big.
            (Self::Tls { acceptor }, Connection::Tcp(stream, peer)) => {
                Box::pin(async move {
                    match tokio::time::timeout_at(served.first_request_by, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            let app = app.for_connection(ConnectionInfo::new(Some(peer), true));
                            served.run(stream, app, Some(peer)).await;
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(target: "manouche::server", %peer, "TLS handshake failed: {err}");
                        }
                        Err(_) => {
                            crate::metrics::record_client_error(FIRST_REQUEST_TIMEOUT);
                            tracing::debug!(target: "manouche::server", %peer, "TLS handshake timed out");
                        }
                    }
                })
                .await;
            }
        }
    }
}

/// The metric label of a connection closed by
/// `server.first_request_timeout`.
const FIRST_REQUEST_TIMEOUT: &str = "first_request_timeout";

/// What serving one connection needs from the accept loop.
struct Served<'a> {
    protocols: &'a Protocols,
    warnings: &'a Throttle,
    /// When the TLS handshake must be over.
    first_request_by: Instant,
    slot: &'a Arc<Slot>,
}

impl Served<'_> {
    async fn run<I>(self, io: I, app: SiteService, peer: Option<std::net::SocketAddr>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = Guarded::new(io, Some(Arc::clone(self.slot)), self.protocols.http2());
        let result = connection::serve(io, app, self.protocols, self.slot).await;
        let Err(err) = result else {
            return;
        };
        let Some(abuse) = ClientError::of(err.as_ref()) else {
            // Clients that go away mid-request are routine; not an error.
            tracing::debug!(target: "manouche::server", "connection ended: {err}");
            return;
        };
        crate::metrics::record_client_error(abuse.kind());
        let ip = peer.map(|p| p.ip());
        if abuse.counted_only() {
            tracing::debug!(target: "manouche::server", ?peer, "connection ended: {err}");
            return;
        }
        crate::logging::throttled(self.warnings, ip, abuse.kind(), |source| {
            tracing::warn!(
                target: "manouche::security",
                client = %source,
                "{}",
                abuse.message()
            );
        });
    }
}

/// Why a client's connection was cut, when the client broke the protocol
/// or a limit (and not merely went away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientError {
    /// An HTTP/1 head over `max_request_line + max_header_size`; hyper
    /// answered 431.
    HeadTooLarge,
    /// A malformed HTTP/1 head; hyper answered 400.
    Malformed,
    /// HTTP/2 streams reset faster than served (rapid reset), or too many
    /// streams the server had to reset: h2 sent `GOAWAY
    /// ENHANCE_YOUR_CALM`.
    Http2TooManyResets,
    /// Any other HTTP/2 protocol error.
    Http2Protocol,
    /// The client read nothing for `server.send_timeout`.
    SendTimeout,
    /// No request head was complete by `server.first_request_timeout`.
    FirstRequestTimeout,
    /// A request head took longer than `server.header_read_timeout`.
    HeaderReadTimeout,
    /// HTTP/2 while `server.http2 = false`.
    Http2Off,
}

impl ClientError {
    /// Walks the error's sources for hyper's or h2's reason.
    fn of(err: &(dyn std::error::Error + 'static)) -> Option<Self> {
        let mut next = Some(err);
        while let Some(err) = next {
            if err.is::<guarded::SendTimedOut>() {
                return Some(Self::SendTimeout);
            }
            if err.is::<guarded::FirstRequestTimedOut>() {
                return Some(Self::FirstRequestTimeout);
            }
            if err.is::<guarded::HeaderReadTimedOut>() {
                return Some(Self::HeaderReadTimeout);
            }
            if err.is::<guarded::Http2Off>() {
                return Some(Self::Http2Off);
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && let Some(inner) = io.get_ref()
            {
                next = Some(inner);
                continue;
            }
            if let Some(h2) = err.downcast_ref::<h2::Error>() {
                return match h2.reason() {
                    Some(h2::Reason::ENHANCE_YOUR_CALM) => Some(Self::Http2TooManyResets),
                    Some(h2::Reason::NO_ERROR | h2::Reason::CANCEL) | None => None,
                    Some(_) => Some(Self::Http2Protocol),
                };
            }
            if let Some(hyper) = err.downcast_ref::<hyper::Error>() {
                if hyper.is_parse_too_large() {
                    return Some(Self::HeadTooLarge);
                }
                if hyper.is_parse() {
                    return Some(Self::Malformed);
                }
            }
            next = err.source();
        }
        None
    }

    /// The metric label, also the rate limiter's kind.
    fn kind(self) -> &'static str {
        match self {
            Self::HeadTooLarge => "head_too_large",
            Self::Malformed => "malformed",
            Self::Http2TooManyResets => "http2_too_many_resets",
            Self::Http2Protocol => "http2_protocol",
            Self::SendTimeout => "send_timeout",
            Self::FirstRequestTimeout => FIRST_REQUEST_TIMEOUT,
            Self::HeaderReadTimeout => "header_read_timeout",
            Self::Http2Off => "http2_off",
        }
    }

    /// Counted only, not logged: HTTP/2 abuse (a client resetting streams
    /// in a loop opens thousands of connections a second) and sockets that
    /// never speak (scanners, and browsers' speculative connections).
    fn counted_only(self) -> bool {
        matches!(
            self,
            Self::Http2TooManyResets
                | Self::Http2Protocol
                | Self::FirstRequestTimeout
                | Self::HeaderReadTimeout
        )
    }

    fn message(self) -> &'static str {
        match self {
            Self::HeadTooLarge => {
                "request head over server.max_request_line + server.max_header_size: answered 431, connection closed"
            }
            Self::Malformed => "malformed HTTP/1 request: answered 400, connection closed",
            Self::Http2TooManyResets | Self::Http2Protocol => "HTTP/2 protocol error",
            Self::SendTimeout => {
                "the client read nothing for server.send_timeout: connection closed"
            }
            Self::FirstRequestTimeout => {
                "no request within server.first_request_timeout: connection closed"
            }
            Self::HeaderReadTimeout => {
                "a request head took longer than server.header_read_timeout: connection closed"
            }
            Self::Http2Off => "HTTP/2 while server.http2 = false: connection closed",
        }
    }
}

/// A connection over `server.max_connections_per_client`: counted, and
/// logged at most now and then per address.
fn refuse_crowded(warnings: &Throttle, ip: std::net::IpAddr, most: usize) {
    const KIND: &str = "connections_per_client";
    crate::metrics::record_client_error(KIND);
    crate::logging::throttled(warnings, Some(ip), KIND, |source| {
        tracing::warn!(
            target: "manouche::security",
            client = %source,
            "more than server.max_connections_per_client ({most}) connections: closed"
        );
    });
}

/// Out of file descriptors, the accept loop must not spin: back off a little.
async fn on_accept_error(err: &std::io::Error) {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted => {}
        _ => {
            tracing::error!(target: "manouche::server", "accept failed: {err}; retrying in 100ms");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Each connection is a file descriptor: raise the soft limit to the hard
/// one so that `max_connections` can actually be reached.
fn raise_open_files_limit(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < max_connections as u64 + 64 => tracing::warn!(
            target: "manouche::server",
            "the open-files limit is {limit}, below server.max_connections ({max_connections}); raise it (ulimit -n, LimitNOFILE=)"
        ),
        Ok(_) => {}
        Err(err) => {
            tracing::warn!(target: "manouche::server", "cannot raise the open-files limit: {err}")
        }
    }
}

/// The stop signals (SIGTERM, SIGINT), counted, for a server that drains
/// on the first and stops on the second.
#[derive(Debug, Clone)]
pub(crate) struct Signals {
    received: tokio::sync::watch::Receiver<u8>,
}

impl Signals {
    /// Starts listening for the signals.
    pub(crate) fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let (count, received) = tokio::sync::watch::channel(0u8);
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::spawn(async move {
                    let mut n = 0u8;
                    loop {
                        let name = tokio::select! {
                            _ = term.recv() => "SIGTERM",
                            _ = int.recv() => "SIGINT",
                        };
                        n = n.saturating_add(1);
                        count.send_replace(n);
                        if n == 1 {
                            tracing::info!(target: "manouche::server", "{name} received: finishing in-flight requests (send it again to stop now)");
                        }
                    }
                });
            }
            _ => {
                tracing::error!(target: "manouche::server", "cannot install signal handlers; stop the server with SIGKILL")
            }
        }
        Self { received }
    }

    /// Resolves once `n` signals have arrived (never, when the handlers
    /// could not be installed).
    pub(crate) async fn count(mut self, n: u8) {
        if self.received.wait_for(|got| *got >= n).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). After the first one, a second
/// signal ends the process at once.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!(target: "manouche::server", "cannot install signal handlers; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(target: "manouche::server", "{name} received: finishing in-flight requests (send it again to stop now)");
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::warn!(target: "manouche::server", "second signal: stopping without draining");
        std::process::exit(1);
    });
}
