//! The ingest's settings, as plain values; the binary fills them from flags and environment.

pub use coldchain_domain::mqtt::{BrokerAddress, MqttUrlError};
use std::time::Duration;

use coldchain_domain::ReadingLimits;

use crate::batch::Batching;
use crate::decode::DecodeLimits;

/// Where the broker is and how to take messages from it.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// `mqtt://[user:password@]host[:port]`.
    pub mqtt_url: String,
    /// Must stay the same across restarts: the broker keeps the persistent session (and the
    /// messages queued for it while the ingest is down) under this id.
    pub client_id: String,
    /// MQTT shared-subscription group; instances with the same group split the stream.
    /// `None` subscribes without sharing (every instance gets every message).
    pub share_group: Option<String>,
    /// Flush a batch once it holds this many readings and rejections.
    pub batch_size: usize,
    /// Flush a batch this long after its first message, however small it is.
    pub batch_linger: Duration,
    /// Messages received but not yet batched. Keep it below the broker's inflight window.
    pub channel_capacity: usize,
    pub max_payload_bytes: usize,
    pub keep_alive: Duration,
    /// On shutdown, how long to keep retrying a failing commit before leaving the batch to
    /// the broker (it is not acknowledged, so it comes back at the next start).
    pub drain_timeout: Duration,
    pub limits: ReadingLimits,
}

impl IngestConfig {
    pub fn new(mqtt_url: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            mqtt_url: mqtt_url.into(),
            client_id: client_id.into(),
            share_group: Some("coldchain".into()),
            batch_size: 500,
            batch_linger: Duration::from_millis(200),
            channel_capacity: 1000,
            max_payload_bytes: 256 * 1024,
            keep_alive: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            limits: ReadingLimits::default(),
        }
    }

    /// The subscription: `$share/{group}/coldchain/v1/+/+/telemetry`, or unshared.
    /// The subscriptions: every device's telemetry and events, shared when a group is set.
    pub fn topic_filters(&self) -> Vec<String> {
        ["coldchain/v1/+/+/telemetry", "coldchain/v1/+/+/events"]
            .into_iter()
            .map(|filter| match &self.share_group {
                Some(group) => format!("$share/{group}/{filter}"),
                None => filter.to_owned(),
            })
            .collect()
    }

    pub(crate) fn batching(&self) -> Batching {
        Batching {
            max_items: self.batch_size.max(1),
            linger: self.batch_linger,
        }
    }

    pub(crate) fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            reading: self.limits.clone(),
            max_payload_bytes: self.max_payload_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subscription_is_shared_unless_told_otherwise() {
        let mut c = IngestConfig::new("mqtt://x", "id");
        assert_eq!(
            c.topic_filters(),
            [
                "$share/coldchain/coldchain/v1/+/+/telemetry",
                "$share/coldchain/coldchain/v1/+/+/events"
            ]
        );
        c.share_group = None;
        assert_eq!(c.topic_filters()[0], "coldchain/v1/+/+/telemetry");
    }
}
