//! Serving one accepted connection: the protocol, hyper's connection, the
//! clock's verdicts, and parking.
//!
//! **The protocol** is HTTP/2 when the first 24 bytes are its connection
//! preface (prior-knowledge h2c; over TLS, a client that chose `h2` by ALPN
//! sends it too), HTTP/1 otherwise. The bytes read to decide are handed to
//! hyper first. This is hyper-util's `auto` detection, done here because an
//! HTTP/1 connection must be taken apart and put back together (parking),
//! which `auto` cannot do.
//!
//! **Verdicts** of the [`Clock`](super::clock::Clock) are acted on at each
//! poll: a connection past a limit ends at once; one told to close
//! (keep-alive limit, drain) finishes its current request first (hyper's
//! graceful shutdown; HTTP/2 sends `GOAWAY`).
//!
//! **Parking.** hyper keeps two 8 KiB buffers (read and write) and its
//! state for each HTTP/1 connection for as long as it lives, idle or not:
//! 23 KB per idle keep-alive connection in all, against nginx's 0.5 KB.
//! An HTTP/1 connection quiet for [`PARK_AFTER`](super::clock::PARK_AFTER)
//! with no request in flight, no head begun and no write waiting is
//! therefore shut down gracefully in hyper (which, idle, just ends) with
//! the socket kept open (see `Guarded`), and taken apart: the task keeps
//! only the socket and the site's service, and waits for the client's next
//! bytes, which start a new hyper connection. A busy keep-alive connection
//! is never quiet that long, so it never pays for the rebuild.

use std::error::Error as StdError;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Slot;
use super::clock::{Watch, phase, verdict};
use super::guarded::{Guarded, PREFACE, cut};
use crate::middleware::{HeadLimits, SiteService};
use crate::settings::ServerSettings;

/// Why a connection ended badly.
pub(super) type BoxError = Box<dyn StdError + Send + Sync>;

/// The configured protocols.
pub(super) struct Protocols {
    http1: http1::Builder,
    /// `None` with `server.http2 = false`.
    http2: Option<http2::Builder<TokioExecutor>>,
}

impl Protocols {
    pub(super) fn new(settings: &ServerSettings) -> Self {
        let mut http1 = http1::Builder::new();
        // No timer: the header-read timeout is the clock's (hyper's arms a
        // boxed timer per request).
        http1
            .keep_alive(true)
            .half_close(true)
            .max_buf_size(HeadLimits::read_buffer(settings));
        let http2 = settings.http2.then(|| {
            let mut http2 = http2::Builder::new(TokioExecutor::new());
            http2
                .timer(TokioTimer::new())
                .max_header_list_size(
                    u32::try_from(settings.max_request_line + settings.max_header_size)
                        .unwrap_or(u32::MAX),
                )
                .max_concurrent_streams(256)
                .keep_alive_interval(Some(std::time::Duration::from_secs(30)));
            http2
        });
        Self { http1, http2 }
    }

    /// Whether HTTP/2 is served.
    pub(super) fn http2(&self) -> bool {
        self.http2.is_some()
    }
}

/// Serves the connection `io` until it ends.
pub(super) async fn serve<I>(
    mut io: Guarded<I>,
    service: SiteService,
    protocols: &Protocols,
    slot: &Slot,
) -> Result<(), BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = &slot.watch;
    if let Some(http2) = &protocols.http2 {
        let Some((ahead, is_http2)) = detect(&mut io, watch).await? else {
            return Ok(());
        };
        io.read_ahead(ahead);
        if is_http2 {
            watch.set_phase(phase::HTTP2);
            io.follow_http2_frames();
            let mut connection = Box::pin(http2.serve_connection(TokioIo::new(io), service));
            drive(connection.as_mut(), watch, false).await?;
            return Ok(());
        }
    }
    let mut service = service;
    loop {
        let connection = protocols
            .http1
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        // Boxed, so that a parked connection's task holds none of it.
        let mut connection = Box::pin(connection);
        if !drive(connection.as_mut(), watch, true).await? {
            return Ok(());
        }
        // Parked: keep the socket and the service, let go of the rest.
        let Some(parts) = Pin::into_inner(connection).into_parts() else {
            return Ok(());
        };
        io = parts.io.into_inner();
        service = parts.service;
        watch.clear(verdict::PARK | verdict::PARKING);
        // An empty read buffer still holds hyper's allocation: let it go.
        let ahead = if parts.read_buf.is_empty() {
            drop(parts.read_buf);
            let _parked = slot.parked();
            match wake_on_bytes(&mut io, watch).await? {
                Some(ahead) => ahead,
                None => return Ok(()),
            }
        } else {
            // What the client sent meanwhile, copied out of that buffer.
            Bytes::copy_from_slice(&parts.read_buf)
        };
        io.read_ahead(ahead);
    }
}

/// Reads until the first bytes tell HTTP/2's preface from anything else:
/// the bytes read and whether they are the preface; `None` if the client
/// went away first.
async fn detect<I: AsyncRead + Unpin>(
    io: &mut Guarded<I>,
    watch: &Watch,
) -> Result<Option<(Bytes, bool)>, BoxError> {
    let mut first = [0u8; PREFACE.len()];
    let mut filled = 0;
    while filled < first.len() && first[..filled] == PREFACE[..filled] {
        let n = poll_fn(|cx| poll_read_until_closed(io, watch, cx, &mut first[filled..])).await?;
        if n == 0 {
            return Ok(None);
        }
        filled += n;
    }
    let is_http2 = first[..] == PREFACE[..];
    Ok(Some((Bytes::copy_from_slice(&first[..filled]), is_http2)))
}

/// A parked connection: waits for the client's next bytes (`None`: it went
/// away, or the clock closed the connection).
async fn wake_on_bytes<I: AsyncRead + Unpin>(
    io: &mut Guarded<I>,
    watch: &Watch,
) -> Result<Option<Bytes>, BoxError> {
    let ahead = poll_fn(|cx| {
        // On the stack, inside the poll: a parked task keeps no buffer.
        let mut bytes = [0u8; 1024];
        let n = ready!(poll_read_until_closed(io, watch, cx, &mut bytes))?;
        Poll::Ready(Ok::<_, std::io::Error>(
            (n > 0).then(|| Bytes::copy_from_slice(&bytes[..n])),
        ))
    })
    .await?;
    Ok(ahead)
}

/// Reads what the client sent into `buf` while no hyper connection does:
/// the count, 0 when the client went away or the clock told the connection
/// to close. The clock's wake reaches this task.
fn poll_read_until_closed<I: AsyncRead + Unpin>(
    io: &mut Guarded<I>,
    watch: &Watch,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<std::io::Result<usize>> {
    watch.register(cx.waker());
    if watch.verdict() & verdict::CLOSE != 0 {
        return Poll::Ready(Ok(0));
    }
    let mut buf = ReadBuf::new(buf);
    ready!(Pin::new(io).poll_read(cx, &mut buf))?;
    Poll::Ready(Ok(buf.filled().len()))
}

/// hyper's connections, HTTP/1 and HTTP/2, as [`drive`] needs them.
trait Graceful: Future<Output = hyper::Result<()>> {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I> Graceful for http1::UpgradeableConnection<I, SiteService>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::UpgradeableConnection::graceful_shutdown(self);
    }
}

impl<I> Graceful for http2::Connection<I, SiteService, TokioExecutor>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http2::Connection::graceful_shutdown(self);
    }
}

/// Runs hyper's connection under the clock's verdicts; `Ok(true)` when it
/// ended because it was parked (only when `may_park`).
async fn drive<C: Graceful>(
    mut connection: Pin<&mut C>,
    watch: &Watch,
    may_park: bool,
) -> Result<bool, BoxError> {
    let mut closing = false;
    let mut parking = false;
    poll_fn(|cx: &mut Context<'_>| {
        watch.register(cx.waker());
        let given = watch.verdict();
        if given & verdict::KILL != 0 {
            return Poll::Ready(Err(cut(given).into()));
        }
        if !closing && given & verdict::CLOSE != 0 {
            closing = true;
            connection.as_mut().graceful_shutdown();
        } else if !closing && given & verdict::PARK != 0 {
            // Checked again here, where hyper's state is: the sweeper saw
            // the connection a moment ago.
            if may_park && !watch.busy() && !watch.reading_head() && watch.writes_done() {
                watch.mark(verdict::PARKING);
                closing = true;
                parking = true;
                connection.as_mut().graceful_shutdown();
            } else {
                watch.clear(verdict::PARK);
            }
        }
        match ready!(connection.as_mut().poll(cx)) {
            Ok(()) => Poll::Ready(Ok(parking)),
            Err(err) => Poll::Ready(Err(err.into())),
        }
    })
    .await
}
