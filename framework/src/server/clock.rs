//! The connection clock: one coarse timer for every connection's limits.
//!
//! A server facing the internet needs four clocks per connection: the
//! first request's deadline, the header-read timeout of each request, the
//! keep-alive limit between requests, and the send timeout of a client that
//! stopped reading. hyper's own header-read timeout arms and drops a boxed
//! timer for every request (about 1,000 instructions, 3 % of a plaintext
//! request); a timer per connection would cost an allocation and a timer
//! wheel entry for each. Like nginx's timer tree, Manouche keeps **one**
//! clock instead:
//!
//! - each connection keeps a few stamps in its [`Watch`] (inside its
//!   [`Slot`]): when its current request head started, when it went idle,
//!   when a write started waiting. Setting one is a relaxed store of the
//!   clock's current tick, read from an atomic (no system call);
//! - one sweeper task ticks every eighth of the shortest limit (at most
//!   125 ms, an eighth of the one-second park below; at least 10 ms) and
//!   walks the connections. A connection past a limit gets a verdict bit
//!   and a wake of its task, which acts on it at its next poll.
//!
//! A limit is enforced between `limit` and `limit + 2 × tick` after the
//! event: never early.
//!
//! The sweeper also **parks** HTTP/1 connections that have been quiet for
//! [`PARK_AFTER`]: their task lets go of hyper's connection (its 8 KiB read
//! and 8 KiB write buffers and its state) and keeps only the socket, until
//! the client speaks again (see `connection`).
//!
//! And it runs the **drain** ([`Clock::drain`]). HTTP/2 connections are
//! told to close at once (`GOAWAY`; their streams in flight finish). An
//! HTTP/1 connection is never closed under a request: while it serves one,
//! it is left alone (the response carries `Connection: close`, added by
//! the site's service, and hyper closes the connection after it); once
//! idle, it is closed only after `server.drain_grace` from the later of
//! the drain's start and its last response, so that a client that was
//! about to send its next request is answered rather than finding the
//! connection closed. Upgraded connections are told through their
//! [`ConnectionHold`](super::ConnectionHold), not here.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_util::task::AtomicWaker;

use super::Slot;
use crate::settings::ServerSettings;

/// How long an idle HTTP/1 connection keeps hyper's buffers before it is
/// parked. Long enough that a busy keep-alive connection (a browser
/// loading a page, a load balancer's pool) never pays for rebuilding them,
/// short enough that thousands of idle clients hold only their sockets.
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// What a connection's task is told to do. Bits of [`Watch::verdict`].
pub(crate) mod verdict {
    /// Quiet HTTP/1: give back hyper's buffers.
    pub(crate) const PARK: u8 = 1;
    /// Close when the current request is done: idle past
    /// `server.keep_alive_timeout`, or the server is draining.
    pub(crate) const CLOSE: u8 = 2;
    /// No request head by `server.first_request_timeout`.
    pub(crate) const FIRST_REQUEST: u8 = 4;
    /// A request head took longer than `server.header_read_timeout`.
    pub(crate) const HEADER_READ: u8 = 8;
    /// A write waited longer than `server.send_timeout`.
    pub(crate) const SEND: u8 = 16;
    /// Set by the connection's task (not the sweeper) while it parks.
    pub(crate) const PARKING: u8 = 32;
    /// The verdicts that end the connection at once.
    pub(crate) const KILL: u8 = FIRST_REQUEST | HEADER_READ | SEND;
}

/// What a connection speaks, for the rules that apply to it.
pub(crate) mod phase {
    /// HTTP/1 (also while the protocol is being detected).
    pub(crate) const HTTP1: u8 = 0;
    /// HTTP/2: no header-read rule (its heads arrive in frames between
    /// other streams'), no parking.
    pub(crate) const HTTP2: u8 = 1;
    /// Upgraded (a websocket): only the send timeout applies.
    pub(crate) const UPGRADED: u8 = 2;
}

/// The limits, in ticks.
#[derive(Debug, Clone, Copy)]
struct Ticks {
    first: u32,
    head: u32,
    keep_alive: u32,
    send: u32,
    park: u32,
    drain_grace: u32,
}

/// The server's clock: its tick count, the limits, and the connections it
/// watches.
#[derive(Debug)]
pub(crate) struct Clock {
    /// Ticks since the clock started, from 1 (0 means "not stamped").
    now: AtomicU32,
    tick: Duration,
    limits: Ticks,
    /// The tick the drain started at; 0 while serving.
    drain_since: AtomicU32,
    connections: Mutex<Vec<Weak<Slot>>>,
}

impl Clock {
    /// A clock for `settings`' limits. Its sweeper runs in [`Self::run`].
    pub(crate) fn new(settings: &ServerSettings) -> Arc<Self> {
        let shortest = [
            settings.first_request_timeout,
            settings.header_read_timeout,
            settings.keep_alive_timeout,
            settings.send_timeout,
        ]
        .into_iter()
        .chain((!settings.drain_grace.is_zero()).then_some(settings.drain_grace))
        .fold(PARK_AFTER, Duration::min);
        let tick = (shortest / 8).max(Duration::from_millis(10));
        let ticks = |limit: Duration| {
            // Rounded up: a limit is never shorter than asked.
            u32::try_from(limit.as_nanos().div_ceil(tick.as_nanos())).unwrap_or(u32::MAX)
        };
        Arc::new(Self {
            now: AtomicU32::new(1),
            tick,
            limits: Ticks {
                first: ticks(settings.first_request_timeout),
                head: ticks(settings.header_read_timeout),
                keep_alive: ticks(settings.keep_alive_timeout),
                send: ticks(settings.send_timeout),
                park: ticks(PARK_AFTER),
                // Bounded by the drain timeout, which ends the drain anyway.
                drain_grace: ticks(settings.drain_grace.min(settings.drain_timeout)),
            },
            drain_since: AtomicU32::new(0),
            connections: Mutex::new(Vec::new()),
        })
    }

    /// The current tick.
    pub(crate) fn now(&self) -> u32 {
        self.now.load(Ordering::Relaxed)
    }

    /// Starts watching a connection just accepted.
    pub(crate) fn watch(&self, slot: &Arc<Slot>) {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::downgrade(slot));
    }

    /// Starts the drain (see the module doc): HTTP/2 connections get
    /// `GOAWAY` now, idle HTTP/1 ones are closed after the grace period.
    pub(crate) fn drain(&self) {
        self.drain_since.store(self.now(), Ordering::Relaxed);
        self.sweep();
    }

    /// The sweeper: ticks until the clock is dropped by everyone else (the
    /// server and its connections).
    pub(crate) async fn run(self: Arc<Self>) {
        let weak = Arc::downgrade(&self);
        let tick = self.tick;
        drop(self);
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        loop {
            interval.tick().await;
            let Some(clock) = weak.upgrade() else { return };
            clock.now.fetch_add(1, Ordering::Relaxed);
            clock.sweep();
        }
    }

    /// Gives each watched connection its verdict; forgets closed ones.
    fn sweep(&self) {
        let now = self.now();
        let drain_since = self.drain_since.load(Ordering::Relaxed);
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.retain(|weak| {
            let Some(slot) = weak.upgrade() else {
                return false;
            };
            let watch = &slot.watch;
            let mut verdict = watch.judge(now, &self.limits);
            if drain_since != 0 {
                verdict |= watch.judge_drain(now, drain_since, self.limits.drain_grace);
            }
            // Woken only for something new to act on.
            if verdict != 0
                && watch.verdict.fetch_or(verdict, Ordering::Relaxed) & verdict != verdict
            {
                watch.waker.wake();
            }
            true
        });
    }
}

/// One connection's stamps and verdicts (see the module doc). The stamps
/// are ticks of the [`Clock`]; 0 means "not running".
#[derive(Debug, Default)]
pub(crate) struct Watch {
    phase: AtomicU8,
    /// Set once the first request head is complete.
    spoke: AtomicBool,
    accepted: u32,
    head_since: AtomicU32,
    idle_since: AtomicU32,
    write_since: AtomicU32,
    in_flight: AtomicU32,
    verdict: AtomicU8,
    waker: AtomicWaker,
}

impl Watch {
    /// The watch of a connection accepted at tick `now`.
    pub(crate) fn new(now: u32) -> Self {
        Self {
            accepted: now,
            idle_since: AtomicU32::new(now),
            ..Self::default()
        }
    }

    /// What the connection has earned at tick `now`.
    fn judge(&self, now: u32, limits: &Ticks) -> u8 {
        // `>`, not `>=`: a stamp is up to a tick older than the event.
        let past = |since: u32, limit: u32| since != 0 && now.saturating_sub(since) > limit;
        let mut verdict = 0;
        if past(self.write_since.load(Ordering::Relaxed), limits.send) {
            verdict |= verdict::SEND;
        }
        let phase = self.phase.load(Ordering::Relaxed);
        if phase == phase::UPGRADED {
            return verdict;
        }
        if !self.spoke.load(Ordering::Relaxed) && past(self.accepted, limits.first) {
            verdict |= verdict::FIRST_REQUEST;
        }
        let busy = self.in_flight.load(Ordering::Relaxed) != 0;
        let head = self.head_since.load(Ordering::Relaxed);
        // An HTTP/1 head is timed only while no request is served (a body's
        // bytes start no head); an HTTP/2 header block whatever the other
        // streams do.
        if past(head, limits.head) && (phase == phase::HTTP2 || !busy) {
            verdict |= verdict::HEADER_READ;
        }
        if busy || head != 0 {
            return verdict;
        }
        let idle = self.idle_since.load(Ordering::Relaxed);
        if past(idle, limits.keep_alive) {
            verdict |= verdict::CLOSE;
        } else if phase == phase::HTTP1
            && self.spoke.load(Ordering::Relaxed)
            && past(idle, limits.park)
        {
            verdict |= verdict::PARK;
        }
        verdict
    }

    /// What the connection has earned at tick `now` in a drain that
    /// started at tick `since`: [`verdict::CLOSE`] or nothing.
    fn judge_drain(&self, now: u32, since: u32, grace: u32) -> u8 {
        match self.phase.load(Ordering::Relaxed) {
            phase::HTTP2 => verdict::CLOSE,
            phase::UPGRADED => 0,
            _ => {
                // Under a request, or reading one: its response will say
                // `Connection: close`.
                if self.busy() || self.reading_head() {
                    return 0;
                }
                let idle = self.idle_since.load(Ordering::Relaxed).max(since);
                if now.saturating_sub(idle) > grace {
                    verdict::CLOSE
                } else {
                    0
                }
            }
        }
    }

    /// The verdicts given so far.
    pub(crate) fn verdict(&self) -> u8 {
        self.verdict.load(Ordering::Relaxed)
    }

    /// Gives the connection a verdict of its own ([`verdict::PARKING`]).
    pub(crate) fn mark(&self, bits: u8) {
        self.verdict.fetch_or(bits, Ordering::Relaxed);
    }

    /// Forgets a verdict the task has dealt with.
    pub(crate) fn clear(&self, bits: u8) {
        self.verdict.fetch_and(!bits, Ordering::Relaxed);
    }

    /// Where the sweeper's wake goes: the task polling the connection.
    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    pub(crate) fn set_phase(&self, phase: u8) {
        self.phase.store(phase, Ordering::Relaxed);
        if phase != phase::HTTP1 {
            self.head_since.store(0, Ordering::Relaxed);
        }
    }

    /// Bytes arrived: on an idle HTTP/1 connection, a request head starts.
    pub(crate) fn on_read(&self, now: u32) {
        if self.phase.load(Ordering::Relaxed) == phase::HTTP1
            && self.head_since.load(Ordering::Relaxed) == 0
            && self.in_flight.load(Ordering::Relaxed) == 0
        {
            self.head_since.store(now, Ordering::Relaxed);
        }
    }

    /// An HTTP/2 header block opened at tick `since` (`Some`), or closed
    /// (`None`).
    pub(crate) fn header_block(&self, since: Option<u32>) {
        if self.phase.load(Ordering::Relaxed) == phase::HTTP2 {
            self.head_since.store(since.unwrap_or(0), Ordering::Relaxed);
        }
    }

    /// Whether a request head is being read (bytes arrived since the
    /// connection went idle).
    pub(crate) fn reading_head(&self) -> bool {
        self.head_since.load(Ordering::Relaxed) != 0
    }

    /// A write started waiting (`Some(now)`), or made progress (`None`).
    pub(crate) fn on_write_wait(&self, since: Option<u32>) {
        self.write_since
            .store(since.unwrap_or(0), Ordering::Relaxed);
    }

    /// A request head is complete and goes to the site.
    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(0, Ordering::Relaxed);
        self.idle_since.store(0, Ordering::Relaxed);
        if !self.spoke.load(Ordering::Relaxed) {
            self.spoke.store(true, Ordering::Relaxed);
        }
    }

    /// A request's response is sent (or abandoned) at tick `now`.
    pub(crate) fn request_done(&self, now: u32) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.idle_since.store(now, Ordering::Relaxed);
        }
    }

    /// Whether no write is waiting for the client.
    pub(crate) fn writes_done(&self) -> bool {
        self.write_since.load(Ordering::Relaxed) == 0
    }

    /// Whether a request is being served.
    pub(crate) fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Ticks {
        Ticks {
            first: 40,
            head: 40,
            keep_alive: 300,
            send: 240,
            park: 4,
            drain_grace: 16,
        }
    }

    #[test]
    fn a_silent_connection_gets_the_first_request_verdict_only_after_its_limit() {
        let watch = Watch::new(1);
        // Not parked before it spoke: there is nothing to give back yet.
        assert_eq!(watch.judge(41, &limits()), 0);
        assert_eq!(
            watch.judge(42, &limits()) & verdict::FIRST_REQUEST,
            verdict::FIRST_REQUEST
        );
        // Once it spoke, the first-request limit is gone.
        watch.request_started();
        watch.request_done(42);
        assert_eq!(watch.judge(45, &limits()), 0);
        assert_eq!(watch.judge(47, &limits()), verdict::PARK);
    }

    #[test]
    fn a_head_that_takes_too_long_is_cut_but_a_request_being_served_is_not() {
        let watch = Watch::new(1);
        watch.request_started();
        watch.request_done(10);
        watch.on_read(20);
        assert!(watch.reading_head());
        // Reading a head: neither parked nor closed as idle.
        assert_eq!(watch.judge(60, &limits()), 0);
        assert_eq!(watch.judge(61, &limits()), verdict::HEADER_READ);
        watch.request_started();
        assert!(!watch.reading_head());
        // Bytes while a request is served (its body) start no head.
        watch.on_read(70);
        assert!(!watch.reading_head());
        assert_eq!(watch.judge(1000, &limits()), 0);
        watch.request_done(1000);
        assert_eq!(watch.judge(1301, &limits()), verdict::CLOSE);
    }

    #[test]
    fn a_write_waiting_past_the_send_timeout_is_cut_even_when_upgraded() {
        let watch = Watch::new(1);
        watch.request_started();
        watch.set_phase(phase::UPGRADED);
        watch.request_done(2);
        watch.on_write_wait(Some(10));
        assert_eq!(watch.judge(250, &limits()), 0);
        assert_eq!(watch.judge(251, &limits()), verdict::SEND);
        watch.on_write_wait(None);
        // Upgraded connections are never parked or closed as idle.
        assert_eq!(watch.judge(10_000, &limits()), 0);
    }

    #[test]
    fn http2_connections_are_closed_when_idle_but_never_parked() {
        let watch = Watch::new(1);
        watch.set_phase(phase::HTTP2);
        watch.request_started();
        watch.request_started();
        watch.request_done(5);
        assert_eq!(watch.judge(400, &limits()), 0, "one stream is still open");
        watch.request_done(6);
        watch.on_read(7);
        assert!(!watch.reading_head());
        assert_eq!(watch.judge(300, &limits()), 0);
        assert_eq!(watch.judge(307, &limits()), verdict::CLOSE);
    }

    #[test]
    fn an_http2_header_block_open_too_long_is_cut_while_other_streams_run() {
        let watch = Watch::new(1);
        watch.set_phase(phase::HTTP2);
        watch.request_started();
        watch.request_started();
        // Another stream is served; this one's headers are half-sent.
        watch.request_done(5);
        watch.header_block(Some(10));
        assert_eq!(watch.judge(50, &limits()), 0);
        assert_eq!(watch.judge(51, &limits()), verdict::HEADER_READ);
        // Finished in time, the block is forgotten.
        watch.header_block(None);
        assert_eq!(watch.judge(51, &limits()), 0);
        // HTTP/1 heads are timed by their bytes, not by blocks.
        let watch = Watch::new(1);
        watch.header_block(Some(10));
        assert!(!watch.reading_head());
    }

    #[test]
    fn a_drain_closes_http2_at_once_and_idle_http1_only_after_the_grace() {
        let grace = limits().drain_grace;
        // HTTP/2: GOAWAY now, streams in flight or not.
        let http2 = Watch::new(1);
        http2.set_phase(phase::HTTP2);
        http2.request_started();
        assert_eq!(http2.judge_drain(100, 100, grace), verdict::CLOSE);
        // Upgraded: the hold tells it, not the clock.
        let upgraded = Watch::new(1);
        upgraded.request_started();
        upgraded.set_phase(phase::UPGRADED);
        assert_eq!(upgraded.judge_drain(10_000, 100, grace), 0);
        // HTTP/1, idle since before the drain: the grace counts from the
        // drain's start.
        let idle = Watch::new(1);
        idle.request_started();
        idle.request_done(50);
        assert_eq!(idle.judge_drain(100, 100, grace), 0);
        assert_eq!(idle.judge_drain(116, 100, grace), 0);
        assert_eq!(idle.judge_drain(117, 100, grace), verdict::CLOSE);
        // HTTP/1 under a request: never closed, however long it takes.
        let busy = Watch::new(1);
        busy.request_started();
        assert_eq!(busy.judge_drain(10_000, 100, grace), 0);
        // Its response sent during the drain, a full grace from then.
        busy.request_done(500);
        assert_eq!(busy.judge_drain(516, 100, grace), 0);
        assert_eq!(busy.judge_drain(517, 100, grace), verdict::CLOSE);
        // A request head arriving: not closed under it.
        let reading = Watch::new(1);
        reading.request_started();
        reading.request_done(50);
        reading.on_read(110);
        assert_eq!(reading.judge_drain(10_000, 100, grace), 0);
        // A connection that never spoke gets the grace too.
        let silent = Watch::new(90);
        assert_eq!(silent.judge_drain(110, 100, grace), 0);
        assert_eq!(silent.judge_drain(117, 100, grace), verdict::CLOSE);
    }
}
