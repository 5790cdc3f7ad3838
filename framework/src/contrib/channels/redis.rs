//! The Redis layer: several server processes share groups and channels
//! through one Redis (Channels' `RedisPubSubChannelLayer`, written anew on
//! fred, the Redis client the session store already uses).
//!
//! **How it works.** Each process subscribes, on one connection, to its
//! own topic (`<prefix>:process:<id>`, for events sent to one of its
//! channels) and to the topic of every group that has a member in it
//! (`<prefix>:group:<name>`). A group send is one `PUBLISH` to the
//! group's topic; every process subscribed hands the event to its local
//! members, exactly as the in-memory layer does (bounded queues, drop and
//! count when full, expiry). Membership is kept by the process that owns
//! the channel, which subscribes to a group's topic when its first local
//! member joins and unsubscribes when the last one leaves or expires.
//!
//! Why pub/sub rather than Redis lists (Channels' `RedisChannelLayer`):
//! a group send costs one command instead of one per member, nothing is
//! left in Redis when a process dies, and delivery is at most once and
//! in order per sender, which is what the in-memory layer promises too.
//! An event's age, for `expiry`, counts from the sending process's clock:
//! keep the servers' clocks in sync (NTP), as for any shared expiry.
//!
//! The price: an event published while a process is disconnected from
//! Redis is lost for it (fred reconnects and subscribes again to every
//! topic by itself), and a process can add to a group only its own
//! channels (which is what consumers do).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::clients::SubscriberClient;
use fred::prelude::{
    Builder, Client, ClientLike, Config, EventInterface, PubsubInterface, ReconnectPolicy,
};
use serde::{Deserialize, Serialize};

use super::layer::{
    ChannelLayer, ChannelReceiver, Event, Hub, LayerError, LayerLimits, LayerStats, Membership,
    check_channel_name, check_group_name, process_id, spawn_sweeper,
};

/// The Redis channel layer (`[channels] layer = "redis"`, the `redis`
/// cargo feature).
#[derive(Debug, Clone)]
pub struct RedisChannelLayer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    hub: Arc<Hub>,
    publisher: Client,
    subscriber: SubscriberClient,
    prefix: String,
    process: String,
    /// Subscribed to this process's topic (done before the first channel
    /// is handed out).
    ready: tokio::sync::OnceCell<()>,
    /// Membership changes and the subscriptions they imply, one at a time,
    /// so that a leave and a join of one group cannot reorder their
    /// UNSUBSCRIBE and SUBSCRIBE.
    membership: tokio::sync::Mutex<()>,
    /// Probes waiting to come back (see [`Inner::subscribe`]).
    probes: std::sync::Mutex<std::collections::HashMap<u64, tokio::sync::oneshot::Sender<()>>>,
    next_probe: std::sync::atomic::AtomicU64,
}

/// What travels through Redis.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// The local channel, for a process topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    /// When it was sent: milliseconds since the Unix epoch.
    sent: u64,
    /// The event; none in a probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<Event>,
    /// A subscription probe: `<process>-<n>`, for that process only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probe: Option<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn redis_error(e: &fred::error::Error) -> LayerError {
    LayerError::Redis(e.to_string())
}

impl RedisChannelLayer {
    /// A layer on the Redis server at `url` (`redis://host:6379/0`), its
    /// topics named `<prefix>:...`. It connects in the background (and
    /// reconnects, subscribing again, whenever the connection drops);
    /// sends wait for the connection up to 5 seconds.
    ///
    /// # Errors
    /// The URL cannot be used, or this is called outside a tokio runtime.
    pub fn new(url: &str, prefix: &str, limits: LayerLimits) -> Result<Self, LayerError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LayerError::Redis(
                "the Redis channel layer connects from inside the tokio runtime".to_owned(),
            ));
        }
        check_group_name(prefix).map_err(|_| {
            LayerError::InvalidName(format!(
                "[channels] prefix = {prefix:?}: use ASCII letters, digits, '-', '_' or '.'"
            ))
        })?;
        let config = Config::from_url(url)
            .map_err(|e| LayerError::Redis(format!("redis_url {url:?} cannot be used: {e}")))?;
        let mut builder = Builder::from_config(config);
        builder
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 30_000, 2))
            .with_performance_config(|p| {
                // The dispatcher reads every published event from this
                // buffer: past it, events are lost (and counted).
                p.broadcast_channel_capacity = 65_536;
                p.default_command_timeout = Duration::from_secs(5);
            });
        let publisher = builder.build().map_err(|e| redis_error(&e))?;
        let subscriber = builder
            .build_subscriber_client()
            .map_err(|e| redis_error(&e))?;
        for (client, role) in [
            (publisher.connect(), "publisher"),
            (subscriber.connect(), "subscriber"),
        ] {
            let url = url.to_owned();
            tokio::spawn(async move {
                if let Ok(Err(e)) = client.await {
                    tracing::error!(target: "manouche::channels", "the Redis channel layer's {role} connection to {url} stopped: {e}");
                }
            });
        }
        // Subscribes again to every topic after a reconnect. (Not fred's
        // `manage_subscriptions`: on the first connect it sends a
        // SUBSCRIBE without channels, which Redis refuses.)
        let mut reconnects = subscriber.reconnect_rx();
        let resubscriber = subscriber.clone();
        tokio::spawn(async move {
            while reconnects.recv().await.is_ok() {
                let topics: Vec<fred::types::Key> = resubscriber
                    .tracked_channels()
                    .into_iter()
                    .map(Into::into)
                    .collect();
                if !topics.is_empty()
                    && let Err(e) = resubscriber.subscribe(topics).await
                {
                    tracing::error!(target: "manouche::channels", "subscribing again after a Redis reconnect failed: {e}");
                }
            }
        });
        let process = process_id();
        let hub = Hub::new(limits, &process);
        let inner = Arc::new(Inner {
            hub,
            publisher,
            subscriber,
            prefix: prefix.to_owned(),
            process,
            ready: tokio::sync::OnceCell::new(),
            membership: tokio::sync::Mutex::new(()),
            probes: std::sync::Mutex::new(std::collections::HashMap::new()),
            next_probe: std::sync::atomic::AtomicU64::new(0),
        });
        spawn_dispatcher(&inner);
        let weak = Arc::downgrade(&inner);
        spawn_sweeper(
            &inner.hub,
            limits
                .group_expiry
                .clamp(Duration::from_secs(1), Duration::from_secs(60)),
            move |emptied| {
                let Some(inner) = weak.upgrade() else { return };
                tokio::spawn(async move {
                    for group in emptied {
                        let _guard = inner.membership.lock().await;
                        if !inner.hub.local_groups().contains(&group) {
                            let _ = inner
                                .subscriber
                                .unsubscribe(inner.group_topic(&group))
                                .await;
                        }
                    }
                });
            },
        );
        Ok(Self { inner })
    }

    /// This process's id in channel names (`specific.<id>!<n>`).
    #[must_use]
    pub fn process_id(&self) -> &str {
        &self.inner.process
    }

    /// Waits until connected to Redis and subscribed to this process's
    /// topic (the first [`new_channel`](ChannelLayer::new_channel) does
    /// this too).
    ///
    /// # Errors
    /// Redis cannot be reached within the command timeout.
    pub async fn ready(&self) -> Result<(), LayerError> {
        self.inner.ready().await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The connections would outlive the layer otherwise (fred's
        // clients run on their own tasks).
        let (publisher, subscriber) = (self.publisher.clone(), self.subscriber.clone());
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(async move {
                let _ = subscriber.quit().await;
                let _ = publisher.quit().await;
            });
        }
    }
}

impl Inner {
    fn process_topic(&self, process: &str) -> String {
        format!("{}:process:{process}", self.prefix)
    }

    fn group_topic(&self, group: &str) -> String {
        format!("{}:group:{group}", self.prefix)
    }

    async fn ready(&self) -> Result<(), LayerError> {
        self.ready
            .get_or_try_init(|| async {
                tokio::time::timeout(Duration::from_secs(5), self.subscriber.wait_for_connect())
                    .await
                    .map_err(|_| {
                        LayerError::Redis("cannot connect to Redis within 5 seconds".to_owned())
                    })?
                    .map_err(|e| redis_error(&e))?;
                self.subscribe(self.process_topic(&self.process)).await
            })
            .await
            .copied()
    }

    /// Subscribes to `topic` and returns once Redis delivers its messages
    /// here. fred answers a SUBSCRIBE as soon as it is queued on the
    /// connection, before Redis has seen it, so a message published right
    /// after could be missed: a probe published on the topic (again every
    /// 50 ms) proves the subscription live when it comes back.
    async fn subscribe(&self, topic: String) -> Result<(), LayerError> {
        use std::sync::atomic::Ordering;
        self.subscriber
            .subscribe(topic.clone())
            .await
            .map_err(|e| redis_error(&e))?;
        let n = self.next_probe.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.probes
            .lock()
            .expect("the probe map is never poisoned")
            .insert(n, tx);
        let probe = Wire {
            to: None,
            sent: now_ms(),
            event: None,
            probe: Some(format!("{}-{n}", self.process)),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let confirmed = loop {
            if let Err(e) = self.publish(topic.clone(), &probe).await {
                break Err(e);
            }
            tokio::select! {
                _ = &mut rx => break Ok(()),
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            if tokio::time::Instant::now() > deadline {
                break Err(LayerError::Redis(format!(
                    "the subscription to {topic} was not confirmed within 5 seconds"
                )));
            }
        };
        self.probes
            .lock()
            .expect("the probe map is never poisoned")
            .remove(&n);
        confirmed
    }

    async fn publish(&self, topic: String, wire: &Wire) -> Result<(), LayerError> {
        let text = serde_json::to_string(wire).expect("an event always serializes");
        let _receivers: i64 = self
            .publisher
            .publish(topic, text)
            .await
            .map_err(|e| redis_error(&e))?;
        Ok(())
    }

    /// Hands one published message to the local channels.
    fn dispatch(&self, topic: &str, payload: &[u8]) {
        let wire: Wire = match serde_json::from_slice(payload) {
            Ok(wire) => wire,
            Err(e) => {
                tracing::warn!(target: "manouche::channels", "ignored a malformed message on {topic}: {e}");
                return;
            }
        };
        if let Some(probe) = wire.probe {
            if let Some(n) = probe
                .strip_prefix(self.process.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|n| n.parse::<u64>().ok())
                && let Some(tx) = self
                    .probes
                    .lock()
                    .expect("the probe map is never poisoned")
                    .remove(&n)
            {
                let _ = tx.send(());
            }
            return;
        }
        let Some(event) = wire.event else { return };
        let age = Duration::from_millis(now_ms().saturating_sub(wire.sent));
        let expires = self.hub.expires(age);
        if let Some(group) = topic
            .strip_prefix(&self.prefix)
            .and_then(|t| t.strip_prefix(":group:"))
        {
            self.hub.group_deliver(group, &event, expires);
        } else if let Some(to) = wire.to {
            self.hub.deliver(&to, event, expires);
        }
    }
}

fn spawn_dispatcher(inner: &Arc<Inner>) {
    let mut messages = inner.subscriber.message_rx();
    let weak = Arc::downgrade(inner);
    tokio::spawn(async move {
        loop {
            match messages.recv().await {
                Ok(message) => {
                    let Some(inner) = weak.upgrade() else { return };
                    if let Some(payload) = message.value.as_bytes() {
                        inner.dispatch(&message.channel, payload);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    metrics::counter!("manouche_channel_layer_dropped_total", "reason" => "lagged")
                        .increment(n);
                    tracing::warn!(target: "manouche::channels", "the Redis channel layer fell behind and lost {n} event(s)");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

#[async_trait::async_trait]
impl ChannelLayer for RedisChannelLayer {
    async fn new_channel(&self) -> Result<ChannelReceiver, LayerError> {
        self.inner.ready().await?;
        Ok(self.inner.hub.new_channel())
    }

    async fn send(&self, channel: &str, event: Event) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        let inner = &self.inner;
        if inner.hub.is_local(channel) {
            inner
                .hub
                .deliver(channel, event, inner.hub.expires(Duration::ZERO));
            return Ok(());
        }
        let process = channel
            .strip_prefix("specific.")
            .and_then(|rest| rest.split_once('!'))
            .map(|(process, _)| process)
            .ok_or_else(|| {
                LayerError::InvalidName(format!(
                    "{channel:?} is not a channel of a Redis layer (specific.<process>!<n>)"
                ))
            })?;
        let wire = Wire {
            to: Some(channel.to_owned()),
            sent: now_ms(),
            event: Some(event),
            probe: None,
        };
        inner.publish(inner.process_topic(process), &wire).await
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        let inner = &self.inner;
        if !inner.hub.is_local(channel) {
            return Err(LayerError::NotLocal(format!(
                "{channel:?} belongs to another process: with the Redis layer, a channel joins groups from the process that made it (its consumer)"
            )));
        }
        let _guard = inner.membership.lock().await;
        if inner.hub.group_add(group, channel)? == Membership::First
            && let Err(e) = inner.subscribe(inner.group_topic(group)).await
        {
            inner.hub.group_discard(group, channel);
            return Err(e);
        }
        Ok(())
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        let inner = &self.inner;
        let _guard = inner.membership.lock().await;
        if inner.hub.group_discard(group, channel) == Membership::Emptied {
            inner
                .subscriber
                .unsubscribe(inner.group_topic(group))
                .await
                .map_err(|e| redis_error(&e))?;
        }
        Ok(())
    }

    async fn group_send(&self, group: &str, event: Event) -> Result<(), LayerError> {
        check_group_name(group)?;
        let wire = Wire {
            to: None,
            sent: now_ms(),
            event: Some(event),
            probe: None,
        };
        self.inner
            .publish(self.inner.group_topic(group), &wire)
            .await
    }

    fn stats(&self) -> LayerStats {
        self.inner.hub.stats()
    }
}
