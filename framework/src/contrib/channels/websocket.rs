//! Websocket routes: the handshake (origin check, scope, `connect`) and
//! the connection (a reader that runs the consumer, a writer that drains
//! its bounded send buffer, keep-alive pings, size limit, shutdown).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{FutureExt, SinkExt, StreamExt};
use http::request::Parts;
use tokio::sync::{mpsc, oneshot};

use super::consumer::{
    Connect, Consumer, ConsumerError, Outgoing, Received, Scope, Socket, close_code,
};
use super::{Channels, ChannelsSettings};
use crate::contrib::auth::{Auth, CurrentUser};
use crate::contrib::sessions::Session;
use crate::request::{ClientInfo, ConnectionInfo, Detached};
use crate::server::ConnectionHold;
use crate::urls::Urls;

impl Urls {
    /// A named websocket route (Channels' `websocket_urlpatterns`, next to
    /// the HTTP ones): `pattern` as in [`Urls::path`], and `consumer`
    /// makes one [`Consumer`] per connection. The name reverses like any
    /// route's (`reverse!("chat-ws", room = "lobby")` →
    /// `/ws/chat/lobby/`). Needs the [channels app](super::app).
    ///
    /// ```
    /// use manouche::contrib::channels::{Consumer, ConsumerError, Received, Socket};
    /// use manouche::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Echo;
    ///
    /// #[manouche::async_trait]
    /// impl Consumer for Echo {
    ///     async fn receive(&mut self, socket: &Socket, message: Received) -> Result<(), ConsumerError> {
    ///         socket.send_text(message.text().unwrap_or_default()).await
    ///     }
    /// }
    ///
    /// let conf = Urls::new()
    ///     .websocket("ws/echo/<room>/", Echo::default, "echo")
    ///     .compile()
    ///     .unwrap()
    ///     .conf;
    /// assert_eq!(conf.reverse("echo", &[&"lobby"]).unwrap(), "/ws/echo/lobby/");
    /// ```
    pub fn websocket<C, F>(self, pattern: &str, consumer: F, name: &str) -> Self
    where
        C: Consumer,
        F: Fn() -> C + Send + Sync + 'static,
    {
        let factory = Arc::new(consumer);
        self.path(
            pattern,
            get(move |request: Request| {
                let factory = Arc::clone(&factory);
                async move { handshake(request, || factory()).await }
            }),
            name,
        )
    }
}

/// A refusal of the handshake, logged (rate-limited per client).
fn refuse(status: http::StatusCode, reason: &str) -> Response {
    crate::request::throttled_warning("websocket", |source| {
        tracing::warn!(target: "manouche::security", client = %source, "websocket handshake refused ({status}): {reason}");
    });
    crate::Error::new(status, reason.to_owned()).into_response()
}

async fn handshake<C: Consumer>(request: Request, make: impl FnOnce() -> C) -> Response {
    let Some(channels) = crate::request::current_service::<Channels>() else {
        return crate::Error::improperly_configured(
            "this websocket route needs the channels app: add .app(manouche::contrib::channels::app()) to the project",
        )
        .into_response();
    };
    let (mut parts, _body) = request.into_parts();
    let connection = ConnectionInfo::from_request_parts(&mut parts, &())
        .await
        .unwrap_or_default();
    let client = ClientInfo::from_request_parts(&mut parts, &())
        .await
        .unwrap_or_default();
    let settings = Arc::clone(&channels.settings);
    if settings.check_origin
        && let Err(reason) = check_origin(&channels, &parts, client.secure)
    {
        return refuse(http::StatusCode::FORBIDDEN, &reason);
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let scope = match scope(&mut parts, connection, &upgrade).await {
        Ok(scope) => scope,
        Err(e) => return e.into_response(),
    };
    let receiver = match channels.layer.new_channel().await {
        Ok(receiver) => receiver,
        Err(e) => {
            tracing::error!(target: "manouche::channels", "no channel for a websocket: {e}");
            return crate::Error::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "the channel layer is unavailable",
            )
            .into_response();
        }
    };
    let (outbox, outgoing) = mpsc::channel(settings.send_buffer.max(1));
    let socket = Socket::new(
        scope,
        receiver.name().to_owned(),
        Arc::clone(&channels.layer),
        outbox,
    );
    let mut consumer = make();
    let decided = AssertUnwindSafe(consumer.connect(&socket))
        .catch_unwind()
        .await;
    let (subprotocol, close_at_once) = match decided {
        Ok(Ok(Connect::Accept { subprotocol })) => (subprotocol, None),
        Ok(Ok(Connect::Close { code, reason })) => (None, Some((code, reason))),
        Ok(Ok(Connect::Reject)) => {
            socket.leave_groups().await;
            return refuse(
                http::StatusCode::FORBIDDEN,
                "the consumer refused the connection",
            );
        }
        Ok(Err(e)) => {
            socket.leave_groups().await;
            tracing::error!(target: "manouche::channels", path = %socket.scope().path, "the consumer's connect failed: {e}");
            return crate::Error::internal(e).into_response();
        }
        Err(_) => {
            socket.leave_groups().await;
            tracing::error!(target: "manouche::channels", path = %socket.scope().path, "the consumer's connect panicked");
            return crate::Error::internal("the consumer's connect panicked").into_response();
        }
    };
    let mut upgrade = upgrade;
    if let Some(protocol) = &subprotocol {
        if !socket.scope().subprotocols.iter().any(|p| p == protocol) {
            socket.leave_groups().await;
            tracing::error!(target: "manouche::channels", "the consumer chose the subprotocol {protocol:?}, which the client did not offer");
            return crate::Error::internal(
                "the consumer chose a subprotocol the client did not offer",
            )
            .into_response();
        }
        upgrade = upgrade.protocols([protocol.clone()]);
    }
    if let Some((code, reason)) = close_at_once {
        // Queued now, sent as soon as the socket opens.
        let _ = socket.close(code, &reason).await;
    }
    let hold = ConnectionHold::current();
    let context = Detached::current();
    let limit = settings.max_message_size;
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(settings.read_buffer_size)
        .on_failed_upgrade(|e| {
            tracing::debug!(target: "manouche::channels", "websocket upgrade failed: {e}");
        })
        .on_upgrade(move |ws| {
            // Boxed, and run as a boxed future: the upgrade task holds two
            // pointers while the socket is open instead of copies of the
            // connection's state, which an async block keeps even after
            // moving them (every idle socket pays for that task).
            let connection = Box::new(Connection {
                consumer,
                socket,
                receiver,
                outgoing,
                settings,
                hold,
            });
            let run = Box::pin(connection.run(ws));
            async move {
                match context {
                    Some(context) => context.scope(run).await,
                    None => run.await,
                }
            }
        })
}

fn check_origin(channels: &Channels, parts: &Parts, secure: bool) -> Result<(), String> {
    let Some(origin) = parts.headers.get(http::header::ORIGIN) else {
        return if channels.settings.require_origin {
            Err("no Origin header, and [channels] require_origin is on".to_owned())
        } else {
            // Browsers always send one; a client without it is no browser,
            // and cannot carry a visitor's cookies into a cross-site
            // socket.
            Ok(())
        };
    };
    let origin = origin
        .to_str()
        .map_err(|_| "the Origin header is not ASCII".to_owned())?;
    let host = match parts.uri.authority() {
        Some(authority) => Some(authority.as_str()),
        None => parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok()),
    };
    channels.origin.check(origin, host, secure)
}

async fn scope(
    parts: &mut Parts,
    connection: ConnectionInfo,
    upgrade: &WebSocketUpgrade,
) -> Result<Scope, crate::Error> {
    let params: HashMap<String, String> = match RawPathParams::from_request_parts(parts, &()).await
    {
        Ok(raw) => raw
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        Err(_) => HashMap::new(),
    };
    let subprotocols = upgrade
        .requested_protocols()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let session = Session::from_extensions(&parts.extensions);
    let user = if session.is_some() && crate::request::current_service::<Auth>().is_some() {
        CurrentUser::from_request_parts(parts, &()).await?.0
    } else {
        None
    };
    Ok(Scope {
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        params,
        headers: own_headers(&parts.headers),
        subprotocols,
        connection,
        session,
        user,
    })
}

/// The headers of the handshake that a consumer can use, copied out of
/// hyper's read buffer ([`owned_header_value`](crate::request::owned_header_value)),
/// which a clone would keep alive as long as the socket is open: with
/// 10,000 idle sockets, 160 MB of it.
/// The handshake's own mechanics (`Connection`, `Upgrade`,
/// `Sec-WebSocket-Key`, `-Version`, `-Extensions`) are left out: they
/// mean nothing once the socket is open, and every open socket would keep
/// them.
fn own_headers(headers: &http::HeaderMap) -> http::HeaderMap {
    use http::header::{
        CONNECTION, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
    };
    let handshake = [
        CONNECTION,
        UPGRADE,
        SEC_WEBSOCKET_KEY,
        SEC_WEBSOCKET_VERSION,
        SEC_WEBSOCKET_EXTENSIONS,
    ];
    let kept = || headers.iter().filter(|(name, _)| !handshake.contains(name));
    let mut owned = http::HeaderMap::with_capacity(kept().count());
    for (name, value) in kept() {
        owned.append(name.clone(), crate::request::owned_header_value(value));
    }
    owned
}

/// One open websocket.
struct Connection<C> {
    consumer: C,
    socket: Socket,
    receiver: super::ChannelReceiver,
    outgoing: mpsc::Receiver<Box<Outgoing>>,
    settings: Arc<ChannelsSettings>,
    hold: Option<ConnectionHold>,
}

/// What the reader tells the writer, ahead of the queued frames.
enum Control {
    /// Send this close frame now (shutdown, an error, a dead consumer).
    Close(u16, String),
    /// The peer closed: flush tungstenite's reply and stop.
    Finish,
}

/// Counts open websockets in the metrics, also when a consumer panics.
struct OpenGauge;

impl OpenGauge {
    fn new() -> Self {
        metrics::gauge!("manouche_websockets_open").increment(1.0);
        metrics::counter!("manouche_websockets_total").increment(1);
        Self
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        metrics::gauge!("manouche_websockets_open").decrement(1.0);
    }
}

/// Whether `code` may be sent in a close frame (RFC 6455 7.4: not 1004 to
/// 1006 nor 1015, which mean things no endpoint sends, and within the
/// defined or registrable ranges).
fn sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn close_frame(code: u16, reason: &str) -> Message {
    let code = if sendable(code) {
        code
    } else {
        tracing::error!(target: "manouche::channels", "close code {code} cannot be sent (use 1000-1003, 1007-1014 or 3000-4999): closing with 1011");
        close_code::INTERNAL
    };
    // A close frame's payload is at most 125 bytes: the code and 123 of
    // reason, cut on a character boundary.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

/// The close code for an error reading from the client.
fn read_error_code(error: axum::Error) -> u16 {
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(e) => match *e {
            tungstenite::Error::Capacity(_) => close_code::TOO_BIG,
            tungstenite::Error::Protocol(_) => close_code::PROTOCOL,
            tungstenite::Error::Utf8(_) => close_code::INVALID_DATA,
            _ => close_code::ABNORMAL,
        },
        Err(_) => close_code::ABNORMAL,
    }
}

impl<C: Consumer> Connection<C> {
    /// Serves the socket until it closes. The consumer's handlers run
    /// boxed: their futures live only while an event or a message is
    /// handled, so an idle socket's task holds none of their state (an
    /// inlined handler future would size every idle connection to the
    /// largest of them).
    async fn run(self: Box<Self>, ws: WebSocket) {
        let _gauge = OpenGauge::new();
        let Self {
            mut consumer,
            socket,
            mut receiver,
            outgoing,
            settings,
            hold,
        } = *self;
        let (sink, mut stream) = ws.split();
        // One control message ends the writer, so a oneshot carries it
        // (an mpsc channel would preallocate a block of 32 per socket).
        let (control_tx, control_rx) = oneshot::channel::<Control>();
        let mut control = Some(control_tx);
        let mut tell = move |ctl: Control| {
            if let Some(tx) = control.take() {
                let _ = tx.send(ctl);
            }
        };

        let writer = tokio::spawn(write_frames(
            sink,
            outgoing,
            control_rx,
            settings.ping_timeout.max(Duration::from_secs(1)),
            settings.write_delay,
        ));

        let mut ping = tokio::time::interval(settings.ping_interval.max(Duration::from_millis(10)));
        ping.tick().await;
        let mut last_seen = Instant::now();
        // Set once this side has sent its close frame: then wait for the
        // peer's, up to the close timeout.
        let mut closing: Option<(u16, Instant)> = None;
        let draining = async {
            match &hold {
                Some(hold) => hold.draining().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(draining);
        let mut drained = false;

        let code = loop {
            let deadline = closing.map(|(_, at)| at + settings.close_timeout);
            tokio::select! {
                biased;
                () = &mut draining, if !drained => {
                    drained = true;
                    if closing.is_none() {
                        tell(Control::Close(close_code::GOING_AWAY, "server shutting down".to_owned()));
                        closing = Some((close_code::GOING_AWAY, Instant::now()));
                    }
                }
                () = async { match deadline { Some(d) => tokio::time::sleep_until(d.into()).await, None => std::future::pending().await } } => {
                    break closing.map_or(close_code::ABNORMAL, |(code, _)| code);
                }
                // Events before the client's frames: a client that sends
                // fast must not starve its own deliveries (its channel
                // would overflow); its frames wait in the socket instead.
                event = receiver.recv(), if closing.is_none() => {
                    let Some(event) = event else { continue };
                    let handled = AssertUnwindSafe(Box::pin(consumer.event(&socket, event))).catch_unwind().await;
                    if let Some(code) = failed(handled, &socket, "event") {
                        tell(Control::Close(code, "consumer error".to_owned()));
                        closing = Some((code, Instant::now()));
                    }
                }
                frame = stream.next() => match frame {
                    None => break closing.map_or(close_code::ABNORMAL, |(code, _)| code),
                    Some(Err(e)) => {
                        let code = read_error_code(e);
                        if code != close_code::ABNORMAL && closing.is_none() {
                            let reason = if code == close_code::TOO_BIG {
                                format!("message over {} bytes", settings.max_message_size)
                            } else {
                                "protocol error".to_owned()
                            };
                            tell(Control::Close(code, reason));
                        }
                        break code;
                    }
                    Some(Ok(message)) => {
                        last_seen = Instant::now();
                        let received = match message {
                            Message::Text(text) => Received::Text(text.as_str().to_owned()),
                            Message::Binary(bytes) => Received::Binary(bytes),
                            Message::Ping(_) | Message::Pong(_) => continue,
                            Message::Close(frame) => {
                                tell(Control::Finish);
                                break match closing {
                                    Some((code, _)) => code,
                                    None => frame.map_or(1005, |f| f.code),
                                };
                            }
                        };
                        if closing.is_some() {
                            continue;
                        }
                        let handled = AssertUnwindSafe(Box::pin(consumer.receive(&socket, received))).catch_unwind().await;
                        if let Some(code) = failed(handled, &socket, "receive") {
                            tell(Control::Close(code, "consumer error".to_owned()));
                            closing = Some((code, Instant::now()));
                        }
                    }
                },
                _ = ping.tick() => {
                    if last_seen.elapsed() > settings.ping_interval + settings.ping_timeout {
                        tracing::debug!(target: "manouche::channels", path = %socket.scope().path, "no answer to pings: dropping the connection");
                        break close_code::ABNORMAL;
                    }
                    // Browsers do not ping, so the server does, through
                    // the writer: a full buffer skips this ping, and the
                    // deadline above decides.
                    socket.try_ping();
                }
            }
        };

        let disconnected = AssertUnwindSafe(Box::pin(consumer.disconnect(&socket, code)))
            .catch_unwind()
            .await;
        if disconnected.is_err() {
            tracing::error!(target: "manouche::channels", path = %socket.scope().path, "the consumer's disconnect panicked");
        }
        socket.leave_groups().await;
        drop(receiver);
        drop(tell);
        drop(socket);
        let mut writer = writer;
        if tokio::time::timeout(settings.close_timeout, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        // `hold` (borrowed by `draining`) is released when this returns,
        // once the writer is done: then the connection leaves the cap and
        // the drain.
    }
}

/// What the writer does with the next thing it is given.
enum Next {
    /// Queue this frame.
    Frame(Message),
    /// The consumer closed: write what is queued, then this close frame.
    Close(Message),
    /// The reader's order to close: write what is queued and what the
    /// consumer queued before it, then this close frame (or the
    /// consumer's own, queued first).
    Order(Message),
    /// Write what is queued and stop (the peer closed, or the connection
    /// is gone).
    Stop,
}

impl Next {
    fn outgoing(out: Option<Box<Outgoing>>) -> Self {
        match out.map(|out| *out) {
            Some(Outgoing::Text(text)) => Self::Frame(Message::Text(text.into())),
            Some(Outgoing::Binary(bytes)) => Self::Frame(Message::Binary(bytes)),
            Some(Outgoing::Ping) => Self::Frame(Message::Ping(bytes::Bytes::new())),
            Some(Outgoing::Close(code, reason)) => Self::Close(close_frame(code, &reason)),
            None => Self::Stop,
        }
    }

    fn control(control: Result<Control, oneshot::error::RecvError>) -> Self {
        match control {
            Ok(Control::Close(code, reason)) => Self::Order(close_frame(code, &reason)),
            Ok(Control::Finish) | Err(_) => Self::Stop,
        }
    }
}

/// The connection's writer: the consumer's frames from the send buffer,
/// and the reader's order to close (`control`).
///
/// Frames go out in batches: the first frame of a batch is queued in the
/// websocket library's write buffer, then every frame that arrives within
/// `write_delay` after it, then every frame already waiting in the send
/// buffer, and the batch is written at once (the library writes early
/// past its 128 KiB buffer). With `write_delay` zero (the default) no
/// frame waits: a batch is what the consumer queued while the last write
/// ran. A delay (`[channels] write_delay`, e.g. "1ms") trades that much
/// latency for fewer writes when a socket gets many messages a second:
/// a room fanning out 50 messages to 100 sockets makes about 100 writes
/// instead of 5,000, and its clients read the burst in one go (see
/// BENCHMARKS.md, "Write batching"). Each write, and each step of a
/// batch, must finish within `write_timeout` (`ping_timeout`): a peer
/// that reads nothing for that long is dropped. A close, the consumer's
/// or the reader's (an error, the shutdown), ends the batch at once:
/// the frames queued before it go out, then the close frame.
async fn write_frames(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<Box<Outgoing>>,
    mut control: oneshot::Receiver<Control>,
    write_timeout: Duration,
    write_delay: Duration,
) {
    'batches: loop {
        let mut next = tokio::select! {
            biased;
            ctl = &mut control => Next::control(ctl),
            out = outgoing.recv() => Next::outgoing(out),
        };
        // The batch: frames until the first thing that is not one, or
        // until nothing more comes (within the delay, or at once). An
        // order to close stops the wait and takes the frames queued
        // before it first.
        let mut gather =
            (!write_delay.is_zero()).then(|| Box::pin(tokio::time::sleep(write_delay)));
        let mut ordered = None;
        let close = loop {
            match next {
                Next::Frame(frame) => {
                    if !within(write_timeout, sink.feed(frame)).await {
                        return;
                    }
                }
                Next::Order(frame) => {
                    ordered = Some(frame);
                    gather = None;
                }
                Next::Close(frame) => break Some(frame),
                Next::Stop => break None,
            }
            next = loop {
                if let Some(until) = gather.as_mut() {
                    tokio::select! {
                        biased;
                        ctl = &mut control => break Next::control(ctl),
                        () = until.as_mut() => gather = None,
                        out = outgoing.recv() => break Next::outgoing(out),
                    }
                } else {
                    match outgoing.try_recv() {
                        Ok(out) => break Next::outgoing(Some(out)),
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            break ordered.take().map_or(Next::Stop, Next::Close);
                        }
                        Err(mpsc::error::TryRecvError::Empty) => {
                            if let Some(frame) = ordered.take() {
                                break Next::Close(frame);
                            }
                            if !within(write_timeout, sink.flush()).await {
                                return;
                            }
                            continue 'batches;
                        }
                    }
                }
            };
        };
        if let Some(frame) = close {
            // Sending flushes the batch before it.
            let _ = within(write_timeout, sink.send(frame)).await;
        }
        break;
    }
    let _ = within(write_timeout, sink.close()).await;
}

/// Whether a write finished, without an error, within `limit`.
async fn within<E>(
    limit: Duration,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> bool {
    matches!(tokio::time::timeout(limit, write).await, Ok(Ok(())))
}

/// The close code for a consumer method that failed or panicked.
fn failed(
    handled: Result<Result<(), ConsumerError>, Box<dyn std::any::Any + Send>>,
    socket: &Socket,
    method: &str,
) -> Option<u16> {
    match handled {
        Ok(Ok(())) => None,
        Ok(Err(ConsumerError::Closed)) => None,
        Ok(Err(e)) => {
            let code = e.close_code();
            if code == close_code::INVALID_DATA {
                tracing::debug!(target: "manouche::channels", path = %socket.scope().path, "closing with {code}: {e}");
            } else {
                tracing::error!(target: "manouche::channels", path = %socket.scope().path, "the consumer's {method} failed: {e}");
            }
            Some(code)
        }
        Err(_) => {
            tracing::error!(target: "manouche::channels", path = %socket.scope().path, "the consumer's {method} panicked");
            Some(close_code::INTERNAL)
        }
    }
}
