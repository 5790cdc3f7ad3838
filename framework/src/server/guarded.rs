//! A connection's socket as hyper sees it, with the limits hyper has no
//! setting for, timed by the server's [`Clock`](super::clock::Clock).
//!
//! - **Stamps.** Bytes read on an idle HTTP/1 connection start its request
//!   head's clock (`server.header_read_timeout`; before the first request,
//!   `server.first_request_timeout` too); a write that has to wait starts
//!   the send clock, and the next byte written stops it. As nginx's
//!   `send_timeout`, a slow but moving download is never cut.
//! - **Verdicts.** Once the clock has judged the connection (no first
//!   request in time, a head too slow, a client that stopped reading),
//!   reads and writes fail with the reason, so that whoever polls the
//!   socket (hyper, or a websocket after an upgrade) lets it go.
//! - **Parking.** While the connection is being parked, shutting it down
//!   is a no-op: hyper lets go of an idle connection by shutting it down,
//!   and the socket must stay open for the client's next request.
//! - **Bytes read ahead** (protocol detection, or while parked) are handed
//!   out first.
//! - **HTTP/2 off.** With `server.http2 = false`, a client whose first
//!   bytes are HTTP/2's connection preface is refused.
//! - **HTTP/2 header blocks.** On an HTTP/2 connection the frames' 9-byte
//!   headers are followed as they are read (nothing is copied or
//!   decoded): a `HEADERS` frame without `END_HEADERS` opens a header
//!   block and the `CONTINUATION` that ends it closes it. A block left
//!   open longer than `server.header_read_timeout` ends the connection,
//!   whatever its other streams do: a client cannot hold a stream's
//!   headers half-sent, which hyper has no limit for.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Slot;
use super::clock::verdict;

/// What HTTP/2 clients send first (RFC 9113, section 3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The error a connection ends with when its client stopped reading.
#[derive(Debug, thiserror::Error)]
#[error("the client read nothing for server.send_timeout; connection closed")]
pub(crate) struct SendTimedOut;

/// The error a connection ends with when no request head was complete by
/// `server.first_request_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("no request within server.first_request_timeout; connection closed")]
pub(crate) struct FirstRequestTimedOut;

/// The error a connection ends with when a request head took longer than
/// `server.header_read_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("a request head took longer than server.header_read_timeout; connection closed")]
pub(crate) struct HeaderReadTimedOut;

/// The error a connection ends with when it spoke HTTP/2 while it is off.
#[derive(Debug, thiserror::Error)]
#[error("HTTP/2 is off (server.http2 = false); connection closed")]
pub(crate) struct Http2Off;

/// The error of a connection the clock has cut, by its verdict bits.
pub(crate) fn cut(bits: u8) -> io::Error {
    if bits & verdict::SEND != 0 {
        io::Error::new(io::ErrorKind::TimedOut, SendTimedOut)
    } else if bits & verdict::FIRST_REQUEST != 0 {
        io::Error::new(io::ErrorKind::TimedOut, FirstRequestTimedOut)
    } else {
        io::Error::new(io::ErrorKind::TimedOut, HeaderReadTimedOut)
    }
}

pin_project_lite::pin_project! {
    /// The socket with the limits of the module doc.
    pub(crate) struct Guarded<I> {
        #[pin]
        io: I,
        // The connection's bookkeeping; none in unit tests (no clock).
        slot: Option<Arc<Slot>>,
        // Bytes read ahead, handed out first.
        ahead: Bytes,
        // While HTTP/2 is off and the client's first bytes could still be
        // the preface: how many of them matched it.
        preface: Option<u8>,
        // On an HTTP/2 connection: where the frames stand.
        frames: Option<Frames>,
    }
}

/// `HEADERS` (RFC 9113, 6.2) and `CONTINUATION` (6.10) frame types.
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
/// The flag that ends a header block.
const END_HEADERS: u8 = 0x4;

/// Where the client's HTTP/2 byte stream stands: in a frame's 9-byte
/// header, or in bytes to pass (the preface, a payload); and whether a
/// header block is open.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Frames {
    /// The frame header being read, and how much of it came.
    head: [u8; 9],
    have: u8,
    /// Bytes still to pass: the preface's, then each frame's payload.
    skip: u32,
    /// A header block is open (a `HEADERS` without `END_HEADERS`, until the
    /// `CONTINUATION` with it).
    open: bool,
}

impl Frames {
    fn new() -> Self {
        Self {
            skip: 24, // PREFACE's length
            ..Self::default()
        }
    }

    /// Follows `bytes`; whether a header block is open after them.
    fn feed(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.skip -= u32::try_from(n).unwrap_or(self.skip);
                bytes = &bytes[n..];
            } else {
                let at = usize::from(self.have);
                let n = (9 - at).min(bytes.len());
                self.head[at..at + n].copy_from_slice(&bytes[..n]);
                self.have += u8::try_from(n).unwrap_or(0);
                bytes = &bytes[n..];
                if self.have == 9 {
                    self.have = 0;
                    let [a, b, c, kind, flags, ..] = self.head;
                    self.skip = u32::from_be_bytes([0, a, b, c]);
                    let ends = flags & END_HEADERS != 0;
                    match kind {
                        HEADERS => self.open = !ends,
                        CONTINUATION if ends => self.open = false,
                        _ => {}
                    }
                }
            }
        }
        self.open
    }
}

impl<I> Guarded<I> {
    /// `io` under the clock of `slot`'s server (no limits without one).
    pub(crate) fn new(io: I, slot: Option<Arc<Slot>>, http2: bool) -> Self {
        Self {
            io,
            slot,
            ahead: Bytes::new(),
            preface: (!http2).then_some(0),
            frames: None,
        }
    }

    /// The connection speaks HTTP/2 from its first byte (the preface,
    /// maybe among the bytes read ahead): follow its header blocks.
    pub(crate) fn follow_http2_frames(&mut self) {
        self.frames = Some(Frames::new());
    }

    /// Bytes to hand out before reading the socket again.
    pub(crate) fn read_ahead(&mut self, bytes: Bytes) {
        debug_assert!(self.ahead.is_empty());
        self.ahead = bytes;
    }
}

/// Follows HTTP/2 `bytes` just read, telling the clock when a header
/// block opens or closes.
fn follow(frames: &mut Option<Frames>, slot: Option<&Arc<Slot>>, bytes: &[u8]) {
    let Some(frames) = frames else { return };
    let was = frames.open;
    let open = frames.feed(bytes);
    if open != was
        && let Some(slot) = slot
    {
        slot.watch.header_block(open.then(|| slot.clock.now()));
    }
}

/// A write's outcome under the send clock: progress (or an error) stops
/// it, a write that has to wait starts it.
fn timed<T>(
    poll: Poll<io::Result<T>>,
    slot: Option<&Arc<Slot>>,
    cx: &Context<'_>,
) -> Poll<io::Result<T>> {
    let Some(slot) = slot else { return poll };
    let waiting = !slot.watch.writes_done();
    if poll.is_ready() {
        if waiting {
            slot.watch.on_write_wait(None);
        }
    } else {
        if !waiting {
            slot.watch.on_write_wait(Some(slot.clock.now()));
        }
        slot.watch.register(cx.waker());
    }
    poll
}

/// The verdict that ends the connection, if the clock gave one.
fn verdict_of(slot: Option<&Arc<Slot>>) -> io::Result<()> {
    match slot.map(|slot| slot.watch.verdict() & verdict::KILL) {
        Some(bits) if bits != 0 => Err(cut(bits)),
        _ => Ok(()),
    }
}

impl<I: AsyncRead> AsyncRead for Guarded<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        verdict_of(this.slot.as_ref())?;
        if !this.ahead.is_empty() {
            let n = this.ahead.len().min(buf.remaining());
            buf.put_slice(&this.ahead[..n]);
            follow(this.frames, this.slot.as_ref(), &this.ahead[..n]);
            this.ahead.advance(n);
            if this.ahead.is_empty() {
                // Let go of the allocation too (a parked connection's task
                // keeps this socket).
                *this.ahead = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(this.io.poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if read.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if let Some(slot) = this.slot {
            slot.watch.on_read(slot.clock.now());
        }
        follow(this.frames, this.slot.as_ref(), read);
        if let Some(matched) = this.preface {
            for &byte in read {
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
        verdict_of(this.slot.as_ref())?;
        let poll = this.io.poll_write(cx, buf);
        timed(poll, this.slot.as_ref(), cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        verdict_of(this.slot.as_ref())?;
        let poll = this.io.poll_write_vectored(cx, bufs);
        timed(poll, this.slot.as_ref(), cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        verdict_of(this.slot.as_ref())?;
        let poll = this.io.poll_flush(cx);
        timed(poll, this.slot.as_ref(), cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        if this
            .slot
            .as_ref()
            .is_some_and(|slot| slot.watch.verdict() & verdict::PARKING != 0)
        {
            return Poll::Ready(Ok(()));
        }
        this.io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::sync::Semaphore;

    use super::super::ServerStats;
    use super::super::clock::Clock;
    use super::super::hold::Holds;
    use super::*;
    use crate::settings::ServerSettings;

    /// A connection's slot under a running clock with `send_timeout`, with
    /// a request being served (so only the send timeout applies).
    fn slot(send_timeout: Duration) -> (Arc<Slot>, Holds) {
        let clock = Clock::new(&ServerSettings {
            send_timeout,
            ..ServerSettings::default()
        });
        tokio::spawn(Arc::clone(&clock).run());
        let holds = Holds::new();
        let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let slot = holds.slot(&Arc::new(ServerStats::default()), permit, None, &clock);
        slot.watch.request_started();
        (slot, holds)
    }

    #[tokio::test]
    async fn the_http2_preface_is_refused_only_when_http2_is_off() {
        for (http2, refused) in [(false, true), (true, false)] {
            let (mut client, server) = tokio::io::duplex(64);
            let mut guarded = Guarded::new(server, None, http2);
            // In pieces, as a slow client would send it.
            client.write_all(&PREFACE[..10]).await.unwrap();
            client.write_all(&PREFACE[10..]).await.unwrap();
            let mut got = vec![0; 24];
            let result = guarded.read_exact(&mut got).await;
            assert_eq!(result.is_err(), refused, "http2 = {http2}");
        }
        // HTTP/1 passes, including a request that starts like the preface.
        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(server, None, false);
        client.write_all(b"PRI /x HTTP/1.1\r\n").await.unwrap();
        let mut got = vec![0; 17];
        guarded.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"PRI /x HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn bytes_read_ahead_come_first() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(server, None, true);
        guarded.read_ahead(Bytes::from_static(b"GET / "));
        client.write_all(b"HTTP/1.1\r\n").await.unwrap();
        let mut got = vec![0; 16];
        guarded.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"GET / HTTP/1.1\r\n");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_waits_longer_than_the_send_timeout_fails() {
        let (slot, _holds) = slot(Duration::from_secs(5));
        let (client, server) = tokio::io::duplex(8);
        let mut guarded = Guarded::new(server, Some(slot), true);
        // The client reads nothing: the pipe fills up, then the write waits.
        let started = tokio::time::Instant::now();
        let err = guarded.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.get_ref().is_some_and(|e| e.is::<SendTimedOut>()));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
            "cut after {waited:?}"
        );
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_not_cut() {
        let (slot, _holds) = slot(Duration::from_secs(5));
        let (mut client, server) = tokio::io::duplex(8);
        let mut guarded = Guarded::new(server, Some(slot), true);
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

    /// A frame header: `len` bytes of payload, `kind`, `flags`, stream 1.
    fn frame(len: u32, kind: u8, flags: u8) -> Vec<u8> {
        let [_, a, b, c] = len.to_be_bytes();
        vec![a, b, c, kind, flags, 0, 0, 0, 1]
    }

    /// The client's bytes: preface, SETTINGS, a HEADERS frame without
    /// END_HEADERS (block opens), DATA on another stream, a CONTINUATION
    /// without it, then one with it (block closes).
    fn stream() -> (Vec<u8>, Vec<(usize, bool)>) {
        let mut bytes = PREFACE.to_vec();
        let mut marks = Vec::new();
        bytes.extend(frame(6, 0x4, 0));
        bytes.extend([0; 6]);
        marks.push((bytes.len(), false));
        bytes.extend(frame(3, HEADERS, 0x1));
        bytes.extend([0x82, 0x86, 0x84]);
        marks.push((bytes.len(), true));
        bytes.extend(frame(2, 0x0, 0));
        bytes.extend([b'h', b'i']);
        bytes.extend(frame(1, CONTINUATION, 0));
        bytes.extend([0x41]);
        marks.push((bytes.len(), true));
        bytes.extend(frame(1, CONTINUATION, END_HEADERS));
        bytes.extend([0x01]);
        marks.push((bytes.len(), false));
        bytes.extend(frame(2, HEADERS, END_HEADERS | 0x1));
        bytes.extend([0x82, 0x84]);
        marks.push((bytes.len(), false));
        (bytes, marks)
    }

    #[test]
    fn header_blocks_are_followed_across_any_split_of_the_bytes() {
        let (bytes, marks) = stream();
        for piece in [1, 2, 5, 9, 10, 24, 33, bytes.len()] {
            let mut frames = Frames::new();
            let mut at = 0;
            let mut seen = Vec::new();
            for chunk in bytes.chunks(piece) {
                let open = frames.feed(chunk);
                at += chunk.len();
                seen.push((at, open));
            }
            // At each mark that a chunk ends on, the state is the mark's.
            for &(mark, open) in &marks {
                if let Some(&(_, got)) = seen.iter().find(|(at, _)| *at == mark) {
                    assert_eq!(got, open, "split {piece}, at byte {mark}");
                }
            }
            assert!(!frames.open, "split {piece}: closed at the end");
        }
        // Byte by byte, every mark is checked.
        let mut frames = Frames::new();
        for (i, byte) in bytes.iter().enumerate() {
            let open = frames.feed(&[*byte]);
            if let Some(&(_, want)) = marks.iter().find(|(mark, _)| *mark == i + 1) {
                assert_eq!(open, want, "at byte {}", i + 1);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_header_block_left_open_ends_the_connection() {
        let clock = Clock::new(&ServerSettings {
            header_read_timeout: Duration::from_secs(2),
            ..ServerSettings::default()
        });
        tokio::spawn(Arc::clone(&clock).run());
        let holds = Holds::new();
        let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let slot = holds.slot(&Arc::new(ServerStats::default()), permit, None, &clock);
        slot.watch.set_phase(super::super::clock::phase::HTTP2);
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = Guarded::new(server, Some(slot), true);
        guarded.follow_http2_frames();
        let (bytes, marks) = stream();
        // Up to the first open block, then nothing more.
        let upto = marks[1].0;
        client.write_all(&bytes[..upto]).await.unwrap();
        let mut got = vec![0; upto];
        guarded.read_exact(&mut got).await.unwrap();
        let started = tokio::time::Instant::now();
        // The connection's driver is woken by the clock; here, look again
        // every 100 ms.
        let err = loop {
            match tokio::time::timeout(Duration::from_millis(100), guarded.read(&mut [0; 16])).await
            {
                Ok(Err(err)) => break err,
                Ok(Ok(n)) => panic!("read {n} bytes"),
                Err(_) => assert!(started.elapsed() < Duration::from_secs(10), "never cut"),
            }
        };
        assert!(err.get_ref().is_some_and(|e| e.is::<HeaderReadTimedOut>()));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
            "cut after {waited:?}"
        );
    }
}
