//! Connections that outlive their HTTP exchange.
//!
//! A websocket (or any protocol reached with `Upgrade`) leaves hyper's
//! hands with the `101 Switching Protocols` response: hyper's connection
//! future ends there, and with it the accept loop's bookkeeping would end
//! too (the connection-cap permit, the open-connections count, the drain
//! on shutdown). Each accepted connection therefore has one [`Slot`] that
//! owns that bookkeeping, shared between the connection task and, through
//! [`ConnectionHold::current`], whatever serves the upgraded stream: the
//! slot is released when the last of them lets go.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};

use super::ServerStats;
use super::clock::{Clock, Watch};

/// One accepted connection's share of the server: its permit under
/// `server.max_connections`, its place in the open-connections count and
/// in its client's count, and a sender whose drop tells the drain that it
/// is gone.
#[derive(Debug)]
pub(crate) struct Slot {
    stats: Arc<ServerStats>,
    shutdown: watch::Receiver<bool>,
    /// The connection's stamps and verdicts under the server's clock.
    pub(crate) watch: Watch,
    pub(crate) clock: Arc<Clock>,
    _permit: OwnedSemaphorePermit,
    _alive: mpsc::Sender<()>,
    _client: Option<ClientTicket>,
}

impl Slot {
    pub(crate) fn new(
        stats: Arc<ServerStats>,
        permit: OwnedSemaphorePermit,
        shutdown: watch::Receiver<bool>,
        alive: mpsc::Sender<()>,
        client: Option<ClientTicket>,
        clock: Arc<Clock>,
    ) -> Self {
        stats.open_connections.fetch_add(1, Ordering::Relaxed);
        Self {
            stats,
            shutdown,
            watch: Watch::new(clock.now()),
            clock,
            _permit: permit,
            _alive: alive,
            _client: client,
        }
    }

    /// Counts the connection as parked until the returned guard drops.
    pub(crate) fn parked(&self) -> ParkedGuard<'_> {
        self.stats
            .parked_connections
            .fetch_add(1, Ordering::Relaxed);
        ParkedGuard { stats: &self.stats }
    }

    /// A request head is complete and goes to the site: the returned
    /// guard stands for the request until its response is sent or
    /// abandoned (for the clock's idle and keep-alive rules).
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.watch.request_started();
        RequestGuard {
            slot: Arc::clone(self),
        }
    }
}

/// A parked connection's place in [`ServerStats::parked_connections`].
#[derive(Debug)]
pub(crate) struct ParkedGuard<'a> {
    stats: &'a ServerStats,
}

impl Drop for ParkedGuard<'_> {
    fn drop(&mut self) {
        self.stats
            .parked_connections
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// One request on a connection, from its complete head until its response
/// is sent (the response body dropped by hyper) or abandoned.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    slot: Arc<Slot>,
}

impl RequestGuard {
    /// The response switches protocols (`101`): from now on, only the
    /// send timeout applies to the connection.
    pub(crate) fn upgraded(&self) {
        self.slot.watch.set_phase(super::clock::phase::UPGRADED);
    }

    /// Whether the server is draining (its response should close an
    /// HTTP/1 connection).
    pub(crate) fn draining(&self) -> bool {
        self.slot.stats.is_draining()
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.slot.watch.request_done(self.slot.clock.now());
    }
}

/// Open connections per client address, for
/// `server.max_connections_per_client`.
#[derive(Debug, Default)]
pub(crate) struct Clients {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl Clients {
    /// A place for one more connection from `ip`, or `None` when it has
    /// `most` open already.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, most: usize) -> Option<ClientTicket> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= most {
            return None;
        }
        *count += 1;
        Some(ClientTicket {
            clients: Arc::clone(self),
            ip,
        })
    }
}

/// One connection's place in its client's count; given back on drop.
#[derive(Debug)]
pub(crate) struct ClientTicket {
    clients: Arc<Clients>,
    ip: IpAddr,
}

impl Drop for ClientTicket {
    fn drop(&mut self) {
        let mut open = self
            .clients
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stats.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the server's accept loop keeps to drain held connections: the
/// shutdown flag it raises, and the receiver that ends when every slot is
/// gone.
#[derive(Debug)]
pub(crate) struct Holds {
    shutdown: watch::Sender<bool>,
    alive: Option<mpsc::Sender<()>>,
    gone: mpsc::Receiver<()>,
}

impl Holds {
    pub(crate) fn new() -> Self {
        let (shutdown, _) = watch::channel(false);
        let (alive, gone) = mpsc::channel(1);
        Self {
            shutdown,
            alive: Some(alive),
            gone,
        }
    }

    /// The slot of a connection just accepted.
    pub(crate) fn slot(
        &self,
        stats: &Arc<ServerStats>,
        permit: OwnedSemaphorePermit,
        client: Option<ClientTicket>,
        clock: &Arc<Clock>,
    ) -> Arc<Slot> {
        let slot = Arc::new(Slot::new(
            Arc::clone(stats),
            permit,
            self.shutdown.subscribe(),
            self.alive.clone().expect("slots are made before the drain"),
            client,
            Arc::clone(clock),
        ));
        clock.watch(&slot);
        slot
    }

    /// Tells held connections that the server is shutting down.
    pub(crate) fn start_drain(&mut self) {
        self.shutdown.send_replace(true);
        self.alive = None;
    }

    /// Resolves when every slot is released.
    pub(crate) async fn all_released(&mut self) {
        while self.gone.recv().await.is_some() {}
    }
}

/// A hold on the connection of the request being served, taken by code
/// that goes on using the connection after the response (a websocket
/// after its upgrade). While a hold lives, the connection still counts
/// against `server.max_connections` and in the open-connections metric,
/// and a graceful shutdown waits for it (up to `server.drain_timeout`),
/// after telling it through [`draining`](Self::draining).
///
/// ```
/// use manouche::server::ConnectionHold;
///
/// // In a handler that upgrades: `None` outside the built-in server (the
/// // in-process test client has no connection to hold).
/// let hold: Option<ConnectionHold> = ConnectionHold::current();
/// # assert!(hold.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionHold {
    slot: Arc<Slot>,
}

impl ConnectionHold {
    /// A hold on the current request's connection; `None` outside a
    /// request served by the built-in server.
    #[must_use]
    pub fn current() -> Option<Self> {
        crate::request::with_context(|c| c.slot.clone())
            .flatten()
            .map(|slot| Self { slot })
    }

    /// Whether the server has started shutting down.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        *self.slot.shutdown.borrow()
    }

    /// Resolves once the server starts shutting down: close the
    /// connection (a websocket with 1001, "going away") and drop the hold.
    pub async fn draining(&self) {
        let mut shutdown = self.slot.shutdown.clone();
        // An error means the server is gone: that is a shutdown too.
        let _ = shutdown.wait_for(|draining| *draining).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_at_most_its_share_and_gets_it_back() {
        let clients = Arc::new(Clients::default());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = clients.admit(a, 2).unwrap();
        let second = clients.admit(a, 2).unwrap();
        assert!(clients.admit(a, 2).is_none());
        // Another address has its own count.
        let other = clients.admit(b, 2).unwrap();
        drop(first);
        let third = clients.admit(a, 2).unwrap();
        drop((second, third, other));
        assert!(clients.open.lock().unwrap().is_empty());
    }
}
