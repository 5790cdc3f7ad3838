//! The channel layer: named channels with bounded queues, groups of
//! channels, events. The [`ChannelLayer`] trait, and the delivery both
//! implementations share ([`Hub`]: this process's channels and group
//! memberships).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

/// A message sent through the layer: a JSON object whose `"type"` names
/// it (`"chat.message"`), Channels' event dictionaries. Cloning is cheap
/// (the object is shared), so one group send to many members copies
/// nothing.
///
/// ```
/// use manouche::contrib::channels::{Event, EventType};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct ChatMessage {
///     message: String,
/// }
///
/// impl EventType for ChatMessage {
///     const TYPE: &'static str = "chat.message";
/// }
///
/// let event = Event::of(&ChatMessage { message: "hi".into() }).unwrap();
/// assert_eq!(event.kind(), "chat.message");
/// assert_eq!(event.to_json(), r#"{"message":"hi","type":"chat.message"}"#);
/// assert_eq!(event.parse::<ChatMessage>().unwrap(), Some(ChatMessage { message: "hi".into() }));
/// ```
#[derive(Clone, PartialEq)]
pub struct Event {
    kind: Arc<str>,
    body: Arc<serde_json::Map<String, serde_json::Value>>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Event").field(&self.body).finish()
    }
}

/// A Rust type for one kind of event: its fields are the event's, and
/// `TYPE` its `"type"`. [`Event::of`] builds the event, [`Event::parse`]
/// reads it back.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a channel-layer event type",
    note = "derive Serialize and Deserialize, and add `impl manouche::contrib::channels::EventType for {Self} {{ const TYPE: &'static str = \"app.name\"; }}`"
)]
pub trait EventType: Serialize + DeserializeOwned {
    /// The event's `"type"`: letters, digits, `.`, `_` and `-`, such as
    /// `"chat.message"`.
    const TYPE: &'static str;
}

impl Event {
    /// An event of type `kind` with the fields of `fields` (an object, or
    /// `null` for none).
    ///
    /// # Errors
    /// [`LayerError::InvalidEvent`]: `kind` is not a type name, or
    /// `fields` is neither an object nor `null`, or has its own `"type"`.
    pub fn new(kind: &str, fields: serde_json::Value) -> Result<Self, LayerError> {
        check_type(kind)?;
        let mut body = match fields {
            serde_json::Value::Object(map) => map,
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                return Err(LayerError::InvalidEvent(format!(
                    "the fields of a {kind:?} event must be a JSON object, not {other}"
                )));
            }
        };
        if body.contains_key("type") {
            return Err(LayerError::InvalidEvent(format!(
                "the fields of a {kind:?} event have their own \"type\"; the event's type is given apart"
            )));
        }
        body.insert(
            "type".to_owned(),
            serde_json::Value::String(kind.to_owned()),
        );
        Ok(Self {
            kind: kind.into(),
            body: Arc::new(body),
        })
    }

    /// The event of a typed value.
    ///
    /// # Errors
    /// [`LayerError::InvalidEvent`]: the value is not a JSON object, or
    /// its type name is not one.
    pub fn of<T: EventType>(value: &T) -> Result<Self, LayerError> {
        let fields = serde_json::to_value(value).map_err(|e| {
            LayerError::InvalidEvent(format!("a {:?} event cannot be written: {e}", T::TYPE))
        })?;
        Self::new(T::TYPE, fields)
    }

    /// An event from its JSON text (as another process sent it).
    ///
    /// # Errors
    /// [`LayerError::InvalidEvent`]: not an object with a string `"type"`.
    pub fn from_json(text: &[u8]) -> Result<Self, LayerError> {
        let body: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(text)
            .map_err(|e| {
                LayerError::InvalidEvent(format!("an event must be a JSON object: {e}"))
            })?;
        Self::from_map(body)
    }

    fn from_map(body: serde_json::Map<String, serde_json::Value>) -> Result<Self, LayerError> {
        let kind = match body.get("type") {
            Some(serde_json::Value::String(kind)) => kind.clone(),
            _ => {
                return Err(LayerError::InvalidEvent(
                    "an event needs a string \"type\" (e.g. \"chat.message\")".to_owned(),
                ));
            }
        };
        check_type(&kind)?;
        Ok(Self {
            kind: kind.into(),
            body: Arc::new(body),
        })
    }

    /// The event's `"type"`.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Whether this is a `T`.
    #[must_use]
    pub fn is<T: EventType>(&self) -> bool {
        &*self.kind == T::TYPE
    }

    /// The event as a `T`: `Ok(None)` when it is another type.
    ///
    /// # Errors
    /// [`LayerError::InvalidEvent`]: it is a `T` by its type, but its
    /// fields do not fit.
    pub fn parse<T: EventType>(&self) -> Result<Option<T>, LayerError> {
        if !self.is::<T>() {
            return Ok(None);
        }
        T::deserialize(&*self.body).map(Some).map_err(|e| {
            LayerError::InvalidEvent(format!("a {:?} event has the wrong fields: {e}", T::TYPE))
        })
    }

    /// The event's fields, `"type"` included.
    #[must_use]
    pub fn fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.body
    }

    /// The field `name`, if present.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.body.get(name)
    }

    /// The event as JSON text.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(&*self.body).expect("a JSON map always serializes")
    }
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let body = serde_json::Map::deserialize(deserializer)?;
        Self::from_map(body).map_err(serde::de::Error::custom)
    }
}

fn check_type(kind: &str) -> Result<(), LayerError> {
    if kind.is_empty()
        || kind.len() > 100
        || !kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(LayerError::InvalidEvent(format!(
            "{kind:?} is not an event type: use 1 to 100 ASCII letters, digits, '.', '_' or '-' (e.g. \"chat.message\")"
        )));
    }
    Ok(())
}

/// Checks a group name: 1 to 99 ASCII letters, digits, `-`, `_` and `.`
/// (Channels' rule, so that names mean the same in both).
///
/// # Errors
/// [`LayerError::InvalidName`] with the rule.
pub fn check_group_name(name: &str) -> Result<(), LayerError> {
    if name.is_empty()
        || name.len() >= 100
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(LayerError::InvalidName(format!(
            "{:?} is not a group name: use 1 to 99 ASCII letters, digits, '-', '_' or '.' (a chat room's name from the URL may need cleaning, e.g. `chat_{{room}}` with a slug)",
            crate::middleware::hosts::shorten(name)
        )));
    }
    Ok(())
}

/// Checks a channel name: a group name's characters, plus one `!` between
/// the process's part and the channel's own.
///
/// # Errors
/// [`LayerError::InvalidName`] with the rule.
pub fn check_channel_name(name: &str) -> Result<(), LayerError> {
    let ok = !name.is_empty()
        && name.len() < 100
        && name.bytes().filter(|b| *b == b'!').count() <= 1
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'!'));
    if ok {
        Ok(())
    } else {
        Err(LayerError::InvalidName(format!(
            "{:?} is not a channel name: channel names come from `ChannelLayer::new_channel` (1 to 99 ASCII letters, digits, '-', '_', '.' and one '!')",
            crate::middleware::hosts::shorten(name)
        )))
    }
}

/// What went wrong in the layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// A group or channel name breaks the naming rule.
    #[error("{0}")]
    InvalidName(String),
    /// An event is not a JSON object with a `"type"`, or does not fit the
    /// type asked for.
    #[error("{0}")]
    InvalidEvent(String),
    /// The channel belongs to another process, which this layer cannot
    /// add to a group (the Redis layer adds only its own channels).
    #[error("{0}")]
    NotLocal(String),
    /// The Redis server failed or cannot be reached.
    #[error("channel layer: Redis: {0}")]
    Redis(String),
}

/// The layer's counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerStats {
    /// Events put in a channel's queue.
    pub delivered: u64,
    /// Events dropped because the channel's queue was full.
    pub dropped_full: u64,
    /// Events dropped because they waited longer than `expiry`.
    pub expired: u64,
    /// Group memberships dropped because they were older than
    /// `group_expiry`.
    pub expired_memberships: u64,
    /// Events for a channel that no longer exists.
    pub dropped_closed: u64,
}

/// The limits both layers apply (`[channels]` settings).
#[derive(Debug, Clone, Copy)]
pub struct LayerLimits {
    /// Events a channel holds before further ones are dropped.
    pub capacity: usize,
    /// How long an event may wait in a channel before it is dropped.
    pub expiry: Duration,
    /// How long a group membership lasts unless renewed by `group_add`.
    pub group_expiry: Duration,
}

impl Default for LayerLimits {
    fn default() -> Self {
        Self {
            capacity: 100,
            expiry: Duration::from_secs(60),
            group_expiry: Duration::from_secs(86_400),
        }
    }
}

/// A channel layer (Channels' `channel_layer`): sends events to named
/// channels and to groups of channels. Two are built in and chosen by
/// `[channels] layer`: [`InMemoryChannelLayer`](super::InMemoryChannelLayer)
/// and, with the `redis` feature, [`RedisChannelLayer`](super::RedisChannelLayer).
///
/// The guarantees (both layers; see the [module docs](super)): at most
/// once, in order per sender and channel, a bounded queue per channel
/// whose overflow is dropped and counted (a send never waits for a
/// receiver), events expire after `expiry`, memberships after
/// `group_expiry`.
#[async_trait::async_trait]
pub trait ChannelLayer: Send + Sync + fmt::Debug + 'static {
    /// A new channel with a unique name, and its receiving end. The
    /// channel lives as long as the receiver.
    ///
    /// # Errors
    /// The layer cannot reach its backend.
    async fn new_channel(&self) -> Result<ChannelReceiver, LayerError>;

    /// Sends `event` to the channel `channel`. A full channel drops it, a
    /// closed or unknown one too: the send itself succeeds.
    ///
    /// # Errors
    /// A bad channel name, or the backend failed.
    async fn send(&self, channel: &str, event: Event) -> Result<(), LayerError>;

    /// Adds `channel` to `group` (or renews its membership).
    ///
    /// # Errors
    /// A bad name, a channel this layer cannot add, or the backend failed.
    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError>;

    /// Removes `channel` from `group` (nothing when it is not a member).
    ///
    /// # Errors
    /// A bad name, or the backend failed.
    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError>;

    /// Sends `event` to every channel in `group`.
    ///
    /// # Errors
    /// A bad name, or the backend failed.
    async fn group_send(&self, group: &str, event: Event) -> Result<(), LayerError>;

    /// The counters.
    fn stats(&self) -> LayerStats;
}

/// One event waiting in a channel.
///
/// Channels carry it boxed: a tokio channel allocates its first block of
/// 32 slots when made, so an idle websocket's channel holds 32 slots of
/// 8 bytes instead of 32 envelopes of 40 (1 kB less per socket, measured
/// with 10,000 idle sockets).
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) event: Event,
    pub(crate) expires: Instant,
}

/// The receiving end of a channel (Channels' `receive(channel)`): events
/// in the order they were sent (per sender), those that waited past
/// `expiry` skipped. Dropping it closes the channel.
pub struct ChannelReceiver {
    name: String,
    rx: mpsc::Receiver<Box<Envelope>>,
    hub: Weak<Hub>,
}

impl fmt::Debug for ChannelReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelReceiver")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ChannelReceiver {
    /// The channel's name, for `send` and `group_add`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next event; `None` when the layer is gone.
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            let envelope = self.rx.recv().await?;
            if let Some(event) = self.unexpired(*envelope) {
                return Some(event);
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        loop {
            let envelope = self.rx.try_recv().ok()?;
            if let Some(event) = self.unexpired(*envelope) {
                return Some(event);
            }
        }
    }

    fn unexpired(&self, envelope: Envelope) -> Option<Event> {
        if Instant::now() > envelope.expires {
            if let Some(hub) = self.hub.upgrade() {
                hub.counters.expired.fetch_add(1, Ordering::Relaxed);
            }
            metrics::counter!("manouche_channel_layer_dropped_total", "reason" => "expired")
                .increment(1);
            return None;
        }
        Some(envelope.event)
    }
}

impl Drop for ChannelReceiver {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.remove_channel(&self.name);
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    dropped_full: AtomicU64,
    expired: AtomicU64,
    expired_memberships: AtomicU64,
    dropped_closed: AtomicU64,
}

/// A group member of this process.
#[derive(Debug)]
struct Member {
    tx: mpsc::Sender<Box<Envelope>>,
    added: Instant,
}

/// This process's channels and their group memberships: where events end
/// up, whichever layer carried them.
#[derive(Debug)]
pub(crate) struct Hub {
    limits: LayerLimits,
    /// The channel-name prefix (`specific.<process>!`).
    prefix: String,
    next: AtomicU64,
    channels: Mutex<HashMap<String, mpsc::Sender<Box<Envelope>>>>,
    groups: RwLock<HashMap<String, HashMap<String, Member>>>,
    counters: Counters,
}

/// What a membership change did to a group's local members.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Membership {
    /// The group had no local member before and has one now.
    First,
    /// The group has no local member left.
    Emptied,
    /// Neither.
    Unchanged,
}

impl Hub {
    pub(crate) fn new(limits: LayerLimits, process: &str) -> Arc<Self> {
        Arc::new(Self {
            limits,
            prefix: format!("specific.{process}!"),
            next: AtomicU64::new(0),
            channels: Mutex::new(HashMap::new()),
            groups: RwLock::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    pub(crate) fn limits(&self) -> LayerLimits {
        self.limits
    }

    /// Whether `channel` was made by this process.
    pub(crate) fn is_local(&self, channel: &str) -> bool {
        channel.starts_with(&self.prefix)
    }

    pub(crate) fn new_channel(self: &Arc<Self>) -> ChannelReceiver {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}{n}", self.prefix);
        let (tx, rx) = mpsc::channel(self.limits.capacity.max(1));
        self.channels
            .lock()
            .expect("the channel map is never poisoned")
            .insert(name.clone(), tx);
        ChannelReceiver {
            name,
            rx,
            hub: Arc::downgrade(self),
        }
    }

    fn remove_channel(&self, name: &str) {
        self.channels
            .lock()
            .expect("the channel map is never poisoned")
            .remove(name);
    }

    /// The deadline of an event sent `age` ago.
    pub(crate) fn expires(&self, age: Duration) -> Instant {
        Instant::now() + self.limits.expiry.saturating_sub(age)
    }

    fn offer(&self, tx: &mpsc::Sender<Box<Envelope>>, event: Event, expires: Instant) -> bool {
        match tx.try_send(Box::new(Envelope { event, expires })) {
            Ok(()) => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("manouche_channel_layer_dropped_total", "reason" => "full")
                    .increment(1);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.counters.dropped_closed.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Puts `event` in the local channel `channel` (dropped when full,
    /// closed or unknown).
    pub(crate) fn deliver(&self, channel: &str, event: Event, expires: Instant) {
        let tx = self
            .channels
            .lock()
            .expect("the channel map is never poisoned")
            .get(channel)
            .cloned();
        match tx {
            Some(tx) => {
                self.offer(&tx, event, expires);
            }
            None => {
                self.counters.dropped_closed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn group_add(&self, group: &str, channel: &str) -> Result<Membership, LayerError> {
        let tx = self
            .channels
            .lock()
            .expect("the channel map is never poisoned")
            .get(channel)
            .cloned();
        let Some(tx) = tx else {
            // A closed channel of this process: nothing will ever read
            // the group's events for it.
            return Ok(Membership::Unchanged);
        };
        let mut groups = self
            .groups
            .write()
            .expect("the group map is never poisoned");
        let members = groups.entry(group.to_owned()).or_default();
        let first = members.is_empty();
        members.insert(
            channel.to_owned(),
            Member {
                tx,
                added: Instant::now(),
            },
        );
        Ok(if first {
            Membership::First
        } else {
            Membership::Unchanged
        })
    }

    pub(crate) fn group_discard(&self, group: &str, channel: &str) -> Membership {
        let mut groups = self
            .groups
            .write()
            .expect("the group map is never poisoned");
        let Some(members) = groups.get_mut(group) else {
            return Membership::Unchanged;
        };
        if members.remove(channel).is_none() {
            return Membership::Unchanged;
        }
        if members.is_empty() {
            groups.remove(group);
            Membership::Emptied
        } else {
            Membership::Unchanged
        }
    }

    /// Offers `event` to every local member of `group`, in one pass under
    /// a read lock: `try_send` never waits, so a full member costs the
    /// others nothing. Expired and closed members are removed afterwards.
    /// Returns whether the group has local members left.
    pub(crate) fn group_deliver(&self, group: &str, event: &Event, expires: Instant) -> bool {
        let now = Instant::now();
        let stale: Vec<String> = {
            let groups = self.groups.read().expect("the group map is never poisoned");
            let Some(members) = groups.get(group) else {
                return false;
            };
            members
                .iter()
                .filter(|(_, member)| {
                    now.duration_since(member.added) > self.limits.group_expiry
                        || !self.offer(&member.tx, event.clone(), expires)
                })
                .map(|(name, _)| name.clone())
                .collect()
        };
        if stale.is_empty() {
            return true;
        }
        let mut groups = self
            .groups
            .write()
            .expect("the group map is never poisoned");
        let Some(members) = groups.get_mut(group) else {
            return false;
        };
        for name in stale {
            if let Some(member) = members.get(&name)
                && now.duration_since(member.added) > self.limits.group_expiry
            {
                self.counters
                    .expired_memberships
                    .fetch_add(1, Ordering::Relaxed);
            }
            if members.get(&name).is_some_and(|m| {
                m.tx.is_closed() || now.duration_since(m.added) > self.limits.group_expiry
            }) {
                members.remove(&name);
            }
        }
        if members.is_empty() {
            groups.remove(group);
            return false;
        }
        true
    }

    /// Drops expired memberships and those of closed channels; returns the
    /// groups left without a local member.
    pub(crate) fn sweep(&self) -> Vec<String> {
        let now = Instant::now();
        let mut groups = self
            .groups
            .write()
            .expect("the group map is never poisoned");
        let mut emptied = Vec::new();
        groups.retain(|group, members| {
            members.retain(|_, m| {
                let expired = now.duration_since(m.added) > self.limits.group_expiry;
                if expired {
                    self.counters
                        .expired_memberships
                        .fetch_add(1, Ordering::Relaxed);
                }
                !expired && !m.tx.is_closed()
            });
            if members.is_empty() {
                emptied.push(group.clone());
                false
            } else {
                true
            }
        });
        emptied
    }

    /// The groups with local members.
    pub(crate) fn local_groups(&self) -> Vec<String> {
        self.groups
            .read()
            .expect("the group map is never poisoned")
            .keys()
            .cloned()
            .collect()
    }

    pub(crate) fn stats(&self) -> LayerStats {
        let c = &self.counters;
        LayerStats {
            delivered: c.delivered.load(Ordering::Relaxed),
            dropped_full: c.dropped_full.load(Ordering::Relaxed),
            expired: c.expired.load(Ordering::Relaxed),
            expired_memberships: c.expired_memberships.load(Ordering::Relaxed),
            dropped_closed: c.dropped_closed.load(Ordering::Relaxed),
        }
    }
}

/// A random id for this process's channel names.
pub(crate) fn process_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// Spawns a task that sweeps `hub` every `period` while it lives, calling
/// `emptied` with the groups left without local members.
pub(crate) fn spawn_sweeper(
    hub: &Arc<Hub>,
    period: Duration,
    emptied: impl Fn(Vec<String>) + Send + 'static,
) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let weak = Arc::downgrade(hub);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(hub) = weak.upgrade() else { return };
            let gone = hub.sweep();
            if !gone.is_empty() {
                emptied(gone);
            }
        }
    });
}
