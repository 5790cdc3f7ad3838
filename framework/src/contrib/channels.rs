//! The channels app (Django Channels): websocket consumers routed next to
//! the HTTP views, and a channel layer with groups, in memory or shared
//! through Redis by several server processes.
//!
//! ```no_run
//! use manouche::contrib::channels::{self, Consumer, ConsumerError, Event, EventType, Received, Socket};
//! use manouche::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! /// The event every member of a room gets.
//! #[derive(Serialize, Deserialize)]
//! struct ChatMessage {
//!     message: String,
//! }
//!
//! impl EventType for ChatMessage {
//!     const TYPE: &'static str = "chat.message";
//! }
//!
//! #[derive(Default)]
//! struct ChatConsumer {
//!     group: String,
//! }
//!
//! #[manouche::async_trait]
//! impl Consumer for ChatConsumer {
//!     async fn connect(&mut self, socket: &Socket) -> Result<channels::Connect, ConsumerError> {
//!         self.group = format!("chat_{}", socket.scope().param("room").unwrap_or("lobby"));
//!         socket.group_add(&self.group).await?;
//!         Ok(channels::Connect::accept())
//!     }
//!
//!     async fn receive(&mut self, socket: &Socket, message: Received) -> Result<(), ConsumerError> {
//!         #[derive(Deserialize)]
//!         struct Incoming { message: String }
//!         let Incoming { message } = message.json()?;
//!         socket.group_send(&self.group, Event::of(&ChatMessage { message })?).await
//!     }
//!
//!     async fn event(&mut self, socket: &Socket, event: Event) -> Result<(), ConsumerError> {
//!         match event.parse::<ChatMessage>()? {
//!             Some(chat) => socket.send_json(&serde_json::json!({ "message": chat.message })).await,
//!             None => Err(ConsumerError::NoHandler(event.kind().to_owned())),
//!         }
//!     }
//! }
//!
//! # async fn run() -> manouche::Result<()> {
//! Project::from_settings("settings.toml")?
//!     .app(manouche::contrib::sessions::app())
//!     .app(manouche::contrib::auth::app())
//!     .app(channels::app())
//!     .urls(Urls::new().websocket("ws/chat/<slug:room>/", ChatConsumer::default, "chat-ws"))
//!     .manage()
//!     .await
//! # }
//! ```
//!
//! **Consumers** ([`Consumer`]): one value per connection, made by the
//! route's factory. `connect` runs during the handshake and accepts (with
//! a subprotocol), refuses (403) or closes at once with a code;
//! `receive` gets text or binary messages ([`Received::json`] reads
//! JSON); `event` gets the layer's events; `disconnect` the close code.
//! The [`Socket`] holds the [`Scope`] (route parameters, headers, the
//! session, and the logged-in user when the sessions and auth apps are
//! installed: Channels' `AuthMiddlewareStack` built in), the consumer's
//! channel name, the layer, and `send_text`/`send_json`/`close`. Groups
//! joined through [`Socket::group_add`] are left when the socket closes.
//!
//! **Routes**: [`Urls::websocket`](crate::urls::Urls::websocket), named
//! and reversed like any route; the handshake goes through the whole
//! middleware stack (host check, head limits, sessions), as an HTTP
//! request does.
//!
//! **The layer** ([`ChannelLayer`]; Channels' `channel_layer`), chosen by
//! `[channels] layer`: `"memory"` (the default; one process) or `"redis"`
//! (several processes sharing `[channels] redis_url` or `REDIS_URL`, with
//! the `redis` cargo feature; pub/sub through fred, see
//! [`RedisChannelLayer`]). Another one is installed with [`use_layer`].
//! Views reach it as `Service<Channels>` (`channels.layer().group_send(..)`).
//! Both layers promise the same:
//!
//! - **at most once**: an event reaches each channel once or not at all,
//!   never twice; nothing is retried;
//! - **in order per sender**: the events one sender sends to one channel
//!   (directly or through a group) arrive in the order sent;
//! - **capacity**: each channel queues at most `capacity` events; further
//!   ones are dropped and counted ([`LayerStats::dropped_full`], the
//!   `manouche_channel_layer_dropped_total{reason="full"}` metric). A send
//!   never waits for a receiver, so a slow member never blocks the others;
//! - **expiry**: an event that waited more than `expiry` in a channel is
//!   dropped (and counted) instead of being delivered late;
//! - **group expiry**: a membership lasts `group_expiry` after the last
//!   `group_add`, so a channel whose consumer died without leaving stops
//!   getting events.
//!
//! **The server side**: the `Origin` of a handshake must be the site's
//! own, a host of `allowed_hosts` or one of `csrf.trusted_origins`
//! ([`csrf::OriginCheck`](crate::csrf::OriginCheck); off with `check_origin =
//! false`), else 403; a handshake without `Origin` (no browser sends
//! none) is accepted unless `require_origin`. The server pings every
//! `ping_interval` and drops a peer silent for `ping_interval +
//! ping_timeout`; a message over `max_message_size` closes the socket with
//! 1009. Each connection has a bounded send buffer (`send_buffer`
//! frames): a client that stops reading fills its own buffer, then its
//! channel, whose overflow is dropped, while every other member keeps
//! getting events at once; a write stalled past `ping_timeout` drops the
//! connection. A connection writes the frames queued for it together;
//! `write_delay` (zero by default) makes the first frame of a batch wait
//! that long for more, fewer writes for more latency on busy sockets.
//! Websockets count against `server.max_connections` and in
//! the open-connections metric (plus `manouche_websockets_open`), and a
//! graceful shutdown closes them with 1001 within `server.drain_timeout`.
//! HTTP/2 websockets (RFC 8441) are not offered: browsers fall back to
//! HTTP/1.1.
//!
//! ```toml
//! [channels]
//! layer = "memory"          # or "redis"
//! # redis_url = "redis://127.0.0.1:6379/0"   (default: REDIS_URL)
//! capacity = 100            # events per channel
//! expiry = "60s"
//! group_expiry = "1day"
//! max_message_size = 1048576
//! send_buffer = 64          # frames per connection
//! write_delay = "0s"        # gather a socket's frames this long per write
//! read_buffer_size = 1024   # bytes read at a time, per connection
//! ping_interval = "20s"
//! ping_timeout = "20s"
//! ```

mod consumer;
mod layer;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod websocket;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub use consumer::{Connect, Consumer, ConsumerError, Received, Scope, Socket, close_code};
pub use layer::{
    ChannelLayer, ChannelReceiver, Event, EventType, LayerError, LayerLimits, LayerStats,
    check_channel_name, check_group_name,
};
pub use memory::InMemoryChannelLayer;
#[cfg(feature = "redis")]
pub use redis::RedisChannelLayer;

use crate::App;
use crate::StartupError;
use crate::app::{AppSettings, Ready};
use crate::csrf::OriginCheck;

/// The app: the `[channels]` settings and the channel layer (the
/// [`Channels`] service). Websocket routes are declared with
/// [`Urls::websocket`](crate::urls::Urls::websocket).
pub fn app() -> App {
    App::new("channels")
        .settings::<ChannelsSettings>()
        .ready(ready)
}

/// `[channels]` in `settings.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ChannelsSettings {
    /// `"memory"` or `"redis"`.
    pub layer: LayerKind,
    /// The Redis server for `layer = "redis"`; unset: `REDIS_URL`.
    pub redis_url: Option<String>,
    /// The prefix of the Redis layer's topics.
    pub prefix: String,
    /// Events a channel queues before it drops further ones.
    pub capacity: usize,
    /// How long an event may wait in a channel.
    #[serde(deserialize_with = "duration")]
    pub expiry: Duration,
    /// How long a group membership lasts without a new `group_add`.
    #[serde(deserialize_with = "duration")]
    pub group_expiry: Duration,
    /// The largest message a client may send, in bytes (larger: closed
    /// with 1009).
    pub max_message_size: usize,
    /// Frames queued per connection before the consumer's sends wait.
    pub send_buffer: usize,
    /// How long a connection gathers frames after the first of a batch
    /// before writing them together (zero, the default: no frame waits,
    /// and what was queued meanwhile goes out in the same write). A few
    /// milliseconds trade that much latency for far fewer writes on
    /// sockets that get many messages a second; at most 1 s.
    #[serde(deserialize_with = "duration")]
    pub write_delay: Duration,
    /// The bytes a connection reads from its socket at a time (its read
    /// buffer, which grows for a longer message and is kept by every open
    /// connection: the websocket library's default of 128 KiB would make
    /// 10,000 idle sockets cost 1.3 GB).
    pub read_buffer_size: usize,
    /// How often the server pings an idle client.
    #[serde(deserialize_with = "duration")]
    pub ping_interval: Duration,
    /// How long past a ping a silent client, or a stalled write, is given
    /// before the connection is dropped.
    #[serde(deserialize_with = "duration")]
    pub ping_timeout: Duration,
    /// How long to wait for the client's close frame after sending ours.
    #[serde(deserialize_with = "duration")]
    pub close_timeout: Duration,
    /// Refuse handshakes whose `Origin` is not the site's (403).
    pub check_origin: bool,
    /// Refuse handshakes without an `Origin` too.
    pub require_origin: bool,
}

impl Default for ChannelsSettings {
    fn default() -> Self {
        Self {
            layer: LayerKind::Memory,
            redis_url: None,
            prefix: "manouche".to_owned(),
            capacity: 100,
            expiry: Duration::from_secs(60),
            group_expiry: Duration::from_secs(86_400),
            max_message_size: 1024 * 1024,
            send_buffer: 64,
            write_delay: Duration::ZERO,
            read_buffer_size: 1024,
            ping_interval: Duration::from_secs(20),
            ping_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(5),
            check_origin: true,
            require_origin: false,
        }
    }
}

/// Which channel layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LayerKind {
    /// This process's memory.
    Memory,
    /// A Redis server shared by several processes.
    Redis,
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(text.trim()).map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is not a duration: write e.g. \"60s\", \"500ms\" or \"1day\""
        ))
    })
}

impl AppSettings for ChannelsSettings {
    fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("capacity", self.capacity),
            ("max_message_size", self.max_message_size),
            ("send_buffer", self.send_buffer),
            ("read_buffer_size", self.read_buffer_size),
        ] {
            if value == 0 {
                return Err(format!("{key} must be at least 1"));
            }
        }
        for (key, value) in [
            ("expiry", self.expiry),
            ("group_expiry", self.group_expiry),
            ("ping_interval", self.ping_interval),
            ("ping_timeout", self.ping_timeout),
            ("close_timeout", self.close_timeout),
        ] {
            if value.is_zero() {
                return Err(format!("{key} must be longer than zero"));
            }
        }
        if self.write_delay > Duration::from_secs(1) {
            return Err(format!(
                "write_delay = {:?} would hold every message that long: use at most \"1s\" (a few ms is typical, \"0s\" writes at once)",
                self.write_delay
            ));
        }
        check_group_name(&self.prefix).map_err(|_| {
            format!(
                "prefix = {:?}: use 1 to 99 ASCII letters, digits, '-', '_' or '.'",
                self.prefix
            )
        })?;
        Ok(())
    }
}

impl ChannelsSettings {
    /// The layer limits these settings give.
    #[must_use]
    pub fn limits(&self) -> LayerLimits {
        LayerLimits {
            capacity: self.capacity,
            expiry: self.expiry,
            group_expiry: self.group_expiry,
        }
    }
}

/// The channels app's state for the running project (a service): the
/// layer and the settings. Views use it to talk to consumers:
///
/// ```
/// use manouche::contrib::channels::{Channels, Event};
/// use manouche::services::Service;
///
/// async fn announce(channels: Service<Channels>) -> manouche::Result<&'static str> {
///     let event = Event::new("chat.message", serde_json::json!({"message": "Maintenance at noon"}))
///         .map_err(manouche::Error::internal)?;
///     channels.layer().group_send("chat_lobby", event).await.map_err(manouche::Error::internal)?;
///     Ok("sent")
/// }
/// ```
#[derive(Debug)]
pub struct Channels {
    layer: Arc<dyn ChannelLayer>,
    settings: Arc<ChannelsSettings>,
    origin: OriginCheck,
}

impl Channels {
    /// The project's channel layer.
    #[must_use]
    pub fn layer(&self) -> &Arc<dyn ChannelLayer> {
        &self.layer
    }

    /// The `[channels]` section.
    #[must_use]
    pub fn settings(&self) -> &ChannelsSettings {
        &self.settings
    }
}

/// The layer [`use_layer`] installed, waiting for the app's `ready`.
struct CustomLayer(Arc<dyn ChannelLayer>);

/// Installs another channel layer than the configured ones; call it in
/// an app's `ready` hook before the channels app's runs (from an app added
/// before it).
pub fn use_layer(ready: &mut Ready<'_>, layer: impl ChannelLayer) {
    ready.services_mut().insert(CustomLayer(Arc::new(layer)));
}

fn ready(ready: &mut Ready<'_>) -> Result<(), StartupError> {
    let settings: Arc<ChannelsSettings> = ready
        .services()
        .get()
        .expect("the channels app registers its settings section");
    let layer: Arc<dyn ChannelLayer> = match ready.services().get::<CustomLayer>() {
        Some(custom) => Arc::clone(&custom.0),
        None => match settings.layer {
            LayerKind::Memory => Arc::new(InMemoryChannelLayer::new(settings.limits())),
            LayerKind::Redis => redis_layer(&settings)?,
        },
    };
    let origin = OriginCheck::new(ready.settings());
    ready.services_mut().insert(Channels {
        layer,
        settings,
        origin,
    });
    Ok(())
}

#[cfg(feature = "redis")]
fn redis_layer(settings: &ChannelsSettings) -> Result<Arc<dyn ChannelLayer>, StartupError> {
    let url = settings
        .redis_url
        .clone()
        .or_else(|| std::env::var("REDIS_URL").ok())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            StartupError::ImproperlyConfigured(
                "[channels] layer = \"redis\" needs the server's address: set [channels] redis_url or REDIS_URL (redis://host:6379/0)"
                    .to_owned(),
            )
        })?;
    let layer = RedisChannelLayer::new(&url, &settings.prefix, settings.limits())
        .map_err(|e| StartupError::ImproperlyConfigured(format!("[channels] {e}")))?;
    Ok(Arc::new(layer))
}

#[cfg(not(feature = "redis"))]
fn redis_layer(_settings: &ChannelsSettings) -> Result<Arc<dyn ChannelLayer>, StartupError> {
    Err(StartupError::ImproperlyConfigured(
        "[channels] layer = \"redis\" needs manouche's `redis` feature (on by default): enable it in Cargo.toml"
            .to_owned(),
    ))
}
