//! The built-in server: meant to face real traffic alone, without nginx or
//! uWSGI in front.
//!
//! - HTTP/1.1 with keep-alive and HTTP/2 on the same port (prior-knowledge
//!   h2c is detected from the connection preface; over TLS, ALPN decides);
//! - TCP, Unix socket, or an inherited socket ([`Bind`]);
//! - a header read timeout (a client trickling its headers is dropped), the
//!   request body limit and request timeout (in [`crate::middleware`]), and a
//!   cap on concurrent connections — further ones wait in the kernel's
//!   listen queue instead of being served slowly or refused;
//! - graceful shutdown on SIGTERM or SIGINT: stop accepting, let in-flight
//!   requests finish within the drain timeout, exit 0. A second signal stops
//!   at once.
//!
//! Projects reach it through `manage serve --bind ADDR` and
//! `manage runserver`; `serve` is the function underneath.

mod listener;
#[cfg(feature = "tls")]
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;

pub use listener::Bind;
pub(crate) use listener::inherited_sockets;
use listener::{Connection, Listener};

use crate::middleware::SiteService;
use crate::request::ConnectionInfo;
use crate::settings::ServerSettings;

/// Numbers the server keeps about itself.
#[derive(Debug, Default)]
pub struct ServerStats {
    open_connections: AtomicUsize,
}

impl ServerStats {
    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.open_connections.load(Ordering::Relaxed)
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

/// Serves `app` on `bind` until `shutdown` resolves, then drains.
pub(crate) async fn serve(
    app: SiteService,
    settings: &ServerSettings,
    bind: &Bind,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    raise_open_files_limit(settings.max_connections);
    let listener = Listener::bind(bind, settings.reuse_port)
        .await
        .map_err(|source| ServerError::Bind {
            bind: bind.to_string(),
            source,
        })?;
    let acceptor = Acceptor::new(settings)?;

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    if !settings.http2 {
        builder = builder.http1_only();
    }
    let builder = Arc::new(builder);

    let scheme = acceptor.scheme();
    tracing::info!(
        target: "manouche::server",
        "listening on {scheme}://{} (max {} connections)",
        listener.describe(),
        settings.max_connections
    );

    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let connection = match accepted {
            Ok(connection) => connection,
            Err(err) => {
                on_accept_error(&err).await;
                continue;
            }
        };
        let app = app.clone();
        let watcher = graceful.watcher();
        let builder = Arc::clone(&builder);
        let stats = Arc::clone(&stats);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            stats.open_connections.fetch_add(1, Ordering::Relaxed);
            acceptor.serve(connection, app, &builder, watcher).await;
            stats.open_connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }

    drop(listener);
    let open = graceful.count();
    tracing::info!(
        target: "manouche::server",
        "shutting down: no longer accepting; waiting for {open} open connection(s) (up to {:?})",
        settings.drain_timeout
    );
    tokio::select! {
        () = graceful.shutdown() => {
            tracing::info!(target: "manouche::server", "all connections closed; bye");
        }
        () = tokio::time::sleep(settings.drain_timeout) => {
            tracing::warn!(
                target: "manouche::server",
                "drain timeout ({:?}) reached with {} connection(s) still open; closing them",
                settings.drain_timeout,
                stats.open_connections()
            );
        }
    }
    Ok(())
}

/// How accepted connections start: plain, or with a TLS handshake.
#[derive(Clone)]
enum Acceptor {
    Plain,
    #[cfg(feature = "tls")]
    Tls {
        acceptor: tokio_rustls::TlsAcceptor,
        handshake_timeout: Duration,
    },
}

impl Acceptor {
    fn new(settings: &ServerSettings) -> Result<Self, ServerError> {
        match (&settings.tls_cert, &settings.tls_key) {
            #[cfg(feature = "tls")]
            (Some(cert), Some(key)) => Ok(Self::Tls {
                acceptor: tls::acceptor(cert, key, settings.http2).map_err(ServerError::Tls)?,
                // A handshake is part of "sending the headers": the same
                // deadline stops slow or stalled ones.
                handshake_timeout: settings.header_read_timeout,
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

    async fn serve(
        &self,
        connection: Connection,
        app: SiteService,
        builder: &auto::Builder<TokioExecutor>,
        watcher: Watcher,
    ) {
        match (self, connection) {
            (_, Connection::Unix(stream)) => serve_connection(builder, watcher, stream, app).await,
            (Self::Plain, Connection::Tcp(stream, peer)) => {
                let app = app.for_connection(ConnectionInfo::new(Some(peer), false));
                serve_connection(builder, watcher, stream, app).await;
            }
            #[cfg(feature = "tls")]
            (
                Self::Tls {
                    acceptor,
                    handshake_timeout,
                },
                Connection::Tcp(stream, peer),
            ) => match tokio::time::timeout(*handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let app = app.for_connection(ConnectionInfo::new(Some(peer), true));
                    serve_connection(builder, watcher, stream, app).await;
                }
                Ok(Err(err)) => {
                    tracing::debug!(target: "manouche::server", %peer, "TLS handshake failed: {err}");
                }
                Err(_) => {
                    tracing::debug!(target: "manouche::server", %peer, "TLS handshake timed out");
                }
            },
        }
    }
}

async fn serve_connection<I>(
    builder: &auto::Builder<TokioExecutor>,
    watcher: Watcher,
    io: I,
    app: SiteService,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), app);
    if let Err(err) = watcher.watch(connection.into_owned()).await {
        // Clients that go away mid-request are routine; not an error.
        tracing::debug!(target: "manouche::server", "connection ended: {err}");
    }
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
