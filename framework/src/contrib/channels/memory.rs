//! The in-memory layer: one process, nothing to install (Channels'
//! `InMemoryChannelLayer`). Fine for development and for a site that runs
//! a single instance; several instances need the Redis layer.

use std::sync::Arc;
use std::time::Duration;

use super::layer::{
    ChannelLayer, ChannelReceiver, Event, Hub, LayerError, LayerLimits, LayerStats,
    check_channel_name, check_group_name, process_id, spawn_sweeper,
};

/// The in-memory channel layer (`[channels] layer = "memory"`, the
/// default).
///
/// ```
/// use manouche::contrib::channels::{ChannelLayer, Event, InMemoryChannelLayer, LayerLimits};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = InMemoryChannelLayer::new(LayerLimits::default());
/// let mut alice = layer.new_channel().await.unwrap();
/// layer.group_add("lobby", alice.name()).await.unwrap();
/// layer.group_send("lobby", Event::new("chat.message", serde_json::json!({"message": "hi"})).unwrap()).await.unwrap();
/// assert_eq!(alice.recv().await.unwrap().get("message").unwrap(), "hi");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryChannelLayer {
    hub: Arc<Hub>,
}

impl InMemoryChannelLayer {
    /// A layer with these limits. Inside a tokio runtime, a task sweeps
    /// expired group memberships once a minute (they are skipped when
    /// sending in any case).
    #[must_use]
    pub fn new(limits: LayerLimits) -> Self {
        let hub = Hub::new(limits, &process_id());
        spawn_sweeper(
            &hub,
            limits
                .group_expiry
                .clamp(Duration::from_secs(1), Duration::from_secs(60)),
            |_| {},
        );
        Self { hub }
    }
}

#[async_trait::async_trait]
impl ChannelLayer for InMemoryChannelLayer {
    async fn new_channel(&self) -> Result<ChannelReceiver, LayerError> {
        Ok(self.hub.new_channel())
    }

    async fn send(&self, channel: &str, event: Event) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        self.hub
            .deliver(channel, event, self.hub.expires(Duration::ZERO));
        Ok(())
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        if !self.hub.is_local(channel) {
            return Err(LayerError::NotLocal(format!(
                "{channel:?} is not a channel of this in-memory layer: channel names come from its new_channel()"
            )));
        }
        self.hub.group_add(group, channel)?;
        Ok(())
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        self.hub.group_discard(group, channel);
        Ok(())
    }

    async fn group_send(&self, group: &str, event: Event) -> Result<(), LayerError> {
        check_group_name(group)?;
        self.hub
            .group_deliver(group, &event, self.hub.expires(Duration::ZERO));
        Ok(())
    }

    fn stats(&self) -> LayerStats {
        self.hub.stats()
    }
}

impl InMemoryChannelLayer {
    /// The limits it applies.
    #[must_use]
    pub fn limits(&self) -> LayerLimits {
        self.hub.limits()
    }
}
