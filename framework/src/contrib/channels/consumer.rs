//! Consumers: the code behind a websocket route (Channels'
//! `AsyncWebsocketConsumer`), what they see of the connection
//! ([`Scope`]), and the handle they act through ([`Socket`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::layer::{ChannelLayer, Event, LayerError};
use crate::contrib::auth::User;
use crate::contrib::sessions::Session;
use crate::request::ConnectionInfo;

/// Close codes (RFC 6455, section 7.4.1) the framework uses.
pub mod close_code {
    /// The normal end.
    pub const NORMAL: u16 = 1000;
    /// The server is going away (shutting down).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL: u16 = 1002;
    /// A message the consumer cannot read (bad JSON, wrong fields).
    pub const INVALID_DATA: u16 = 1007;
    /// The origin or the consumer refused.
    pub const POLICY: u16 = 1008;
    /// A message over `[channels] max_message_size`.
    pub const TOO_BIG: u16 = 1009;
    /// The consumer failed.
    pub const INTERNAL: u16 = 1011;
    /// No close frame was received (the peer went away); never sent.
    pub const ABNORMAL: u16 = 1006;
}

/// The code behind a websocket route: one value per connection, made by
/// the route's factory (`ChatConsumer::new`). Every method gets the
/// [`Socket`]: the scope (route parameters, session, user), the channel
/// layer, and `send`/`close`.
///
/// A method that returns an error closes the connection: 1007 for a
/// message it could not read ([`ConsumerError::BadMessage`], which a bad
/// [`Received::json`] gives), 1011 otherwise (the error is logged).
///
/// ```
/// use manouche::contrib::channels::{Connect, Consumer, ConsumerError, Received, Socket};
///
/// /// Echoes every text message back.
/// struct Echo;
///
/// #[manouche::async_trait]
/// impl Consumer for Echo {
///     async fn receive(&mut self, socket: &Socket, message: Received) -> Result<(), ConsumerError> {
///         match message {
///             Received::Text(text) => socket.send_text(text).await,
///             Received::Binary(bytes) => socket.send_binary(bytes).await,
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a websocket consumer",
    note = "implement `manouche::contrib::channels::Consumer` for it with `#[manouche::async_trait]` (at least `receive`)"
)]
#[async_trait::async_trait]
pub trait Consumer: Send + 'static {
    /// A client asks to connect (Channels' `connect`). Runs during the
    /// HTTP handshake, so it decides whether the socket opens: accept
    /// (with a subprotocol the client offered, if any), refuse (403), or
    /// open and close at once with a code the client sees. The default
    /// accepts. Joining groups here is usual: events queue in the
    /// consumer's channel until the socket is open.
    ///
    /// # Errors
    /// An error refuses the handshake with 500 (logged).
    async fn connect(&mut self, socket: &Socket) -> Result<Connect, ConsumerError> {
        let _ = socket;
        Ok(Connect::accept())
    }

    /// A message from the client.
    ///
    /// # Errors
    /// Closes the socket (see the trait's docs).
    async fn receive(&mut self, socket: &Socket, message: Received) -> Result<(), ConsumerError>;

    /// An event from the channel layer, sent to this consumer's channel or
    /// to one of its groups (Channels' `"type": "chat.message"` →
    /// `chat_message`): match on [`Event::kind`] or use [`Event::parse`].
    /// The default refuses every event, as Channels does for a type
    /// without a handler.
    ///
    /// # Errors
    /// Closes the socket (see the trait's docs).
    async fn event(&mut self, socket: &Socket, event: Event) -> Result<(), ConsumerError> {
        let _ = socket;
        Err(ConsumerError::NoHandler(event.kind().to_owned()))
    }

    /// The socket closed, with this code (1006 when the peer vanished
    /// without one). The groups joined through [`Socket::group_add`] are
    /// left after this returns.
    async fn disconnect(&mut self, socket: &Socket, code: u16) {
        let _ = (socket, code);
    }
}

/// What [`Consumer::connect`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Connect {
    /// Open the socket, with this subprotocol (one the client offered).
    Accept {
        /// The subprotocol, sent back in `Sec-WebSocket-Protocol`.
        subprotocol: Option<String>,
    },
    /// Refuse the handshake: the client gets 403 (a browser reports close
    /// code 1006).
    Reject,
    /// Open the socket and close it at once with this code and reason,
    /// for a client that should learn why.
    Close {
        /// The close code (4000–4999 for the application's own; one that
        /// cannot be sent, such as 1005, is logged and sent as 1011).
        code: u16,
        /// The reason (at most 123 bytes are sent).
        reason: String,
    },
}

impl Connect {
    /// Open the socket.
    #[must_use]
    pub fn accept() -> Self {
        Self::Accept { subprotocol: None }
    }

    /// Open the socket with `subprotocol`, which the client must have
    /// offered ([`Scope::subprotocols`]).
    #[must_use]
    pub fn accept_subprotocol(subprotocol: impl Into<String>) -> Self {
        Self::Accept {
            subprotocol: Some(subprotocol.into()),
        }
    }

    /// Refuse the handshake (403).
    #[must_use]
    pub fn reject() -> Self {
        Self::Reject
    }

    /// Open, then close at once with `code` and `reason`.
    #[must_use]
    pub fn close(code: u16, reason: impl Into<String>) -> Self {
        Self::Close {
            code,
            reason: reason.into(),
        }
    }
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

impl Received {
    /// The text, for a text message.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Binary(_) => None,
        }
    }

    /// The message read as JSON (Channels' `JsonWebsocketConsumer`): text
    /// or binary holding UTF-8 JSON.
    ///
    /// # Errors
    /// [`ConsumerError::BadMessage`] (which closes with 1007) naming what
    /// is wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConsumerError> {
        let bytes: &[u8] = match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(bytes) => bytes,
        };
        serde_json::from_slice(bytes).map_err(|e| {
            ConsumerError::BadMessage(format!(
                "the message is not the JSON this socket expects: {e}"
            ))
        })
    }
}

/// Why a consumer stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The client sent a message the consumer cannot read: the socket
    /// closes with 1007.
    #[error("{0}")]
    BadMessage(String),
    /// An event type the consumer has no handler for.
    #[error(
        "no handler for the event type {0:?}: handle it in the consumer's `event` method (match on event.kind())"
    )]
    NoHandler(String),
    /// The channel layer failed.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The socket is closed: nothing more can be sent.
    #[error("the websocket is closed")]
    Closed,
    /// Anything else (a database error...).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl ConsumerError {
    /// Any other error.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Other(error.into())
    }

    /// The close code this error closes the socket with.
    #[must_use]
    pub fn close_code(&self) -> u16 {
        match self {
            Self::BadMessage(_) => close_code::INVALID_DATA,
            _ => close_code::INTERNAL,
        }
    }
}

impl From<crate::Error> for ConsumerError {
    fn from(error: crate::Error) -> Self {
        Self::Other(Box::new(error))
    }
}

impl From<crate::db::Error> for ConsumerError {
    fn from(error: crate::db::Error) -> Self {
        Self::Other(Box::new(error))
    }
}

/// What a consumer knows of its connection (Channels' `scope`): taken
/// from the handshake request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Scope {
    /// The request path (`/ws/chat/lobby/`).
    pub path: String,
    /// The query string, without `?` (empty when none).
    pub query: String,
    /// The route's parameters by name (`room` → `lobby`), decoded.
    pub params: HashMap<String, String>,
    /// The handshake's headers, without those of the handshake's own
    /// mechanics (`Connection`, `Upgrade`, `Sec-WebSocket-Key`,
    /// `-Version` and `-Extensions`); the subprotocols offered are in
    /// [`subprotocols`](Self::subprotocols).
    pub headers: http::HeaderMap,
    /// The subprotocols the client offered, in its order.
    pub subprotocols: Vec<String>,
    /// The client's address and whether it came over TLS.
    pub connection: ConnectionInfo,
    /// The visitor's session, when the sessions app is installed. It was
    /// read during the handshake; changes made afterwards are not saved
    /// (there is no response to carry the cookie).
    pub session: Option<Session>,
    /// The logged-in user, when the auth app is installed and the session
    /// holds one (Channels' `AuthMiddlewareStack`).
    pub user: Option<User>,
}

impl Scope {
    /// The route parameter `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// A frame for the writer.
///
/// Boxed in the send buffer, as the layer's envelopes are (see
/// `Envelope`): the buffer's first block is 32 slots of 8 bytes.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Text(String),
    Binary(Bytes),
    Ping,
    Close(u16, String),
}

/// The consumer's handle on its connection: the scope, its channel and
/// the layer, and the way to send and close. Sends wait while the
/// connection's send buffer (`[channels] send_buffer` frames) is full, so
/// a client that reads slowly slows down only its own consumer; events
/// for it then pile up in its channel, whose overflow the layer drops.
pub struct Socket {
    scope: Scope,
    channel_name: String,
    layer: Arc<dyn ChannelLayer>,
    outbox: mpsc::Sender<Box<Outgoing>>,
    groups: Mutex<Vec<String>>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("path", &self.scope.path)
            .field("channel_name", &self.channel_name)
            .finish_non_exhaustive()
    }
}

impl Socket {
    pub(crate) fn new(
        scope: Scope,
        channel_name: String,
        layer: Arc<dyn ChannelLayer>,
        outbox: mpsc::Sender<Box<Outgoing>>,
    ) -> Self {
        Self {
            scope,
            channel_name,
            layer,
            outbox,
            groups: Mutex::new(Vec::new()),
        }
    }

    /// The connection's scope.
    #[must_use]
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The logged-in user, if any (`scope().user`).
    #[must_use]
    pub fn user(&self) -> Option<&User> {
        self.scope.user.as_ref()
    }

    /// This consumer's channel (Channels' `self.channel_name`): send to
    /// it with [`ChannelLayer::send`] from anywhere.
    #[must_use]
    pub fn channel_name(&self) -> &str {
        &self.channel_name
    }

    /// The project's channel layer.
    #[must_use]
    pub fn layer(&self) -> &Arc<dyn ChannelLayer> {
        &self.layer
    }

    async fn push(&self, frame: Outgoing) -> Result<(), ConsumerError> {
        self.outbox
            .send(Box::new(frame))
            .await
            .map_err(|_| ConsumerError::Closed)
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// [`ConsumerError::Closed`]: the socket is closed.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), ConsumerError> {
        self.push(Outgoing::Text(text.into())).await
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// [`ConsumerError::Closed`]: the socket is closed.
    pub async fn send_binary(&self, bytes: impl Into<Bytes>) -> Result<(), ConsumerError> {
        self.push(Outgoing::Binary(bytes.into())).await
    }

    /// Sends `value` as a JSON text message.
    ///
    /// # Errors
    /// [`ConsumerError::Closed`]: the socket is closed; `Other`: the
    /// value cannot be written as JSON.
    pub async fn send_json(&self, value: &impl Serialize) -> Result<(), ConsumerError> {
        let text = serde_json::to_string(value).map_err(ConsumerError::other)?;
        self.send_text(text).await
    }

    /// Closes the socket with `code` and `reason` (at most 123 bytes are
    /// sent), after the messages already sent.
    ///
    /// # Errors
    /// [`ConsumerError::Closed`]: the socket is already closed.
    pub async fn close(&self, code: u16, reason: &str) -> Result<(), ConsumerError> {
        self.push(Outgoing::Close(code, reason.to_owned())).await
    }

    /// Adds this consumer's channel to `group`; it leaves the group by
    /// itself when the socket closes.
    ///
    /// # Errors
    /// A bad group name, or the layer failed.
    pub async fn group_add(&self, group: &str) -> Result<(), ConsumerError> {
        self.layer.group_add(group, &self.channel_name).await?;
        let mut groups = self
            .groups
            .lock()
            .expect("the group list is never poisoned");
        if !groups.iter().any(|g| g == group) {
            groups.push(group.to_owned());
        }
        Ok(())
    }

    /// Removes this consumer's channel from `group`.
    ///
    /// # Errors
    /// A bad group name, or the layer failed.
    pub async fn group_discard(&self, group: &str) -> Result<(), ConsumerError> {
        self.layer.group_discard(group, &self.channel_name).await?;
        self.groups
            .lock()
            .expect("the group list is never poisoned")
            .retain(|g| g != group);
        Ok(())
    }

    /// Sends `event` to every channel in `group` (this one too, when it
    /// is a member).
    ///
    /// # Errors
    /// A bad group name, or the layer failed.
    pub async fn group_send(&self, group: &str, event: Event) -> Result<(), ConsumerError> {
        Ok(self.layer.group_send(group, event).await?)
    }

    /// Queues a keep-alive ping unless the buffer is full.
    pub(crate) fn try_ping(&self) {
        let _ = self.outbox.try_send(Box::new(Outgoing::Ping));
    }

    /// Leaves every group joined through [`group_add`](Self::group_add).
    pub(crate) async fn leave_groups(&self) {
        let groups = std::mem::take(
            &mut *self
                .groups
                .lock()
                .expect("the group list is never poisoned"),
        );
        for group in groups {
            if let Err(e) = self.layer.group_discard(&group, &self.channel_name).await {
                tracing::warn!(target: "manouche::channels", "leaving group {group}: {e}");
            }
        }
    }
}
