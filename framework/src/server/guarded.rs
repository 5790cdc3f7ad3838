//! A connection's socket as hyper sees it, with three limits hyper has no
//! setting for.
//!
//! - **First request.** Until the connection's first request head is
//!   complete (the site's service has seen it: [`Slot::has_spoken`]), a
//!   read fails once `server.first_request_timeout` has passed since the
//!   connection was accepted. The clock is polled with the reads, so a
//!   socket that never sends a byte is woken and cut at the deadline; it is
//!   dropped at the first read after the first request, so later requests
//!   cost no timer. hyper's own header timeout starts only once the
//!   protocol is detected (24 bytes), which a client need never send.
//! - **Send timeout.** A write that makes no progress for
//!   `server.send_timeout` fails the connection: a client that stops
//!   reading a response (a large file, a stream) gives its place back
//!   instead of holding it and its buffers forever. As nginx's
//!   `send_timeout`, the clock starts when a write first has to wait and
//!   stops at the next byte written, so a slow but moving download is
//!   never cut.
//! - **HTTP/2 off.** With `server.http2 = false`, a client whose first
//!   bytes are HTTP/2's connection preface is refused. hyper-util's
//!   protocol detection ignores `http1_only` on connections that may be
//!   upgraded (websockets), which every connection here may be; this
//!   check sits below it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::Slot;

/// What HTTP/2 clients send first (RFC 9113, section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The error a connection ends with when its client stopped reading.
#[derive(Debug, thiserror::Error)]
#[error("the client read nothing for server.send_timeout; connection closed")]
pub(crate) struct SendTimedOut;

/// The error a connection ends with when no request head was complete by
/// `server.first_request_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("no request within server.first_request_timeout; connection closed")]
pub(crate) struct FirstRequestTimedOut;

/// The error a connection ends with when it spoke HTTP/2 while it is off.
#[derive(Debug, thiserror::Error)]
#[error("HTTP/2 is off (server.http2 = false); connection closed")]
pub(crate) struct Http2Off;

pin_project_lite::pin_project! {
    /// The socket with the limits of the module doc.
    pub(crate) struct Guarded<I> {
        #[pin]
        io: I,
        // Until the first request head is complete: its deadline's clock,
        // and the slot that says when it is.
        first: Option<(Pin<Box<Sleep>>, Arc<Slot>)>,
        send_timeout: Duration,
        // The send clock, made the first time a write waits, and kept.
        clock: Option<Pin<Box<Sleep>>>,
        // Whether the clock runs (a write waits since the last progress).
        waiting: bool,
        // While HTTP/2 is off and the client's first bytes could still be
        // the preface: how many of them matched it.
        preface: Option<u8>,
    }
}

impl<I> Guarded<I> {
    /// `io` with the limits of the module doc; without `first` (a deadline
    /// and the connection's slot) the first request has no time limit.
    pub(crate) fn new(
        io: I,
        first: Option<(Instant, Arc<Slot>)>,
        send_timeout: Duration,
        http2: bool,
    ) -> Self {
        Self {
            io,
            first: first.map(|(by, slot)| (Box::pin(tokio::time::sleep_until(by)), slot)),
            send_timeout,
            clock: None,
            waiting: false,
            preface: (!http2).then_some(0),
        }
    }
}

/// A write's outcome under the send clock: progress (or an error) stops
/// the clock; a write that has to wait starts it, and fails once it ran
/// out.
fn timed<T>(
    poll: Poll<io::Result<T>>,
    clock: &mut Option<Pin<Box<Sleep>>>,
    waiting: &mut bool,
    limit: Duration,
    cx: &mut Context<'_>,
) -> Poll<io::Result<T>> {
    if poll.is_ready() {
        *waiting = false;
        return poll;
    }
    let deadline = Instant::now() + limit;
    let sleep = clock.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if !*waiting {
        sleep.as_mut().reset(deadline);
        *waiting = true;
    }
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, SendTimedOut))),
        Poll::Pending => Poll::Pending,
    }
}

impl<I: AsyncRead> AsyncRead for Guarded<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if let Some((clock, slot)) = this.first {
            if slot.has_spoken() {
                *this.first = None;
            } else if clock.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    FirstRequestTimedOut,
                )));
            }
        }
        let before = buf.filled().len();
        ready!(this.io.poll_read(cx, buf))?;
        if let Some(matched) = this.preface {
            for &byte in &buf.filled()[before..] {
                if PREFACE[usize::from(*matched)] != byte {
                    *this.preface = None;
                    break;
                }
                *matched += 1;
                if usize::from(*matched) == PREFACE.len() {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, Http2Off)));
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite> AsyncWrite for Guarded<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let poll = this.io.poll_write(cx, buf);
        timed(poll, this.clock, this.waiting, *this.send_timeout, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let poll = this.io.poll_write_vectored(cx, bufs);
        timed(poll, this.clock, this.waiting, *this.send_timeout, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let poll = this.io.poll_flush(cx);
        timed(poll, this.clock, this.waiting, *this.send_timeout, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test]
    async fn the_http2_preface_is_refused_only_when_http2_is_off() {
        for (http2, refused) in [(false, true), (true, false)] {
            let (mut client, server) = tokio::io::duplex(64);
            let mut guarded = Guarded::new(server, None, Duration::from_secs(1), http2);
            // In pieces, as a slow client would send it.
            client.write_all(&PREFACE[..10]).await.unwrap();
            client.write_all(&PREFACE[10..]).await.unwrap();
            let mut got = vec![0; 24];
            let result = guarded.read_exact(&mut got).await;
            assert_eq!(result.is_err(), refused, "http2 = {http2}");
        }
        // HTTP/1 passes, including a request that starts like the preface.
        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(server, None, Duration::from_secs(1), false);
        client.write_all(b"PRI /x HTTP/1.1\r\n").await.unwrap();
        let mut got = vec![0; 17];
        guarded.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"PRI /x HTTP/1.1\r\n");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_waits_longer_than_the_send_timeout_fails() {
        let (client, server) = tokio::io::duplex(8);
        let mut guarded = Guarded::new(server, None, Duration::from_secs(5), true);
        // The client reads nothing: the pipe fills up, then the write waits.
        let err = guarded.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.get_ref().is_some_and(|e| e.is::<SendTimedOut>()));
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_not_cut() {
        let (mut client, server) = tokio::io::duplex(8);
        let mut guarded = Guarded::new(server, None, Duration::from_secs(5), true);
        let reader = tokio::spawn(async move {
            let mut total = 0;
            let mut buf = [0; 8];
            // Eight bytes every four seconds: 32 seconds in all, each wait
            // under the five-second limit.
            while total < 64 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                total += client.read(&mut buf).await.unwrap();
            }
            total
        });
        guarded.write_all(&[0; 64]).await.unwrap();
        drop(guarded);
        assert_eq!(reader.await.unwrap(), 64);
    }
}
