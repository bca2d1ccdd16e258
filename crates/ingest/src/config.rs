//! The ingest's settings, as plain values; the binary fills them from flags and environment.

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
    pub fn topic_filter(&self) -> String {
        const TELEMETRY: &str = "coldchain/v1/+/+/telemetry";
        match &self.share_group {
            Some(group) => format!("$share/{group}/{TELEMETRY}"),
            None => TELEMETRY.to_owned(),
        }
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

/// A broker URL that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MqttUrlError {
    #[error("MQTT URL {0:?} is not a URL: {1}")]
    Parse(String, url::ParseError),
    #[error("MQTT URL {0:?} must use the mqtt:// or tcp:// scheme")]
    Scheme(String),
    #[error("MQTT URL {0:?} has no host")]
    NoHost(String),
}

/// The parts of an `mqtt://` URL the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, String)>,
}

impl BrokerAddress {
    pub fn parse(raw: &str) -> Result<Self, MqttUrlError> {
        let url = url::Url::parse(raw).map_err(|e| MqttUrlError::Parse(raw.to_owned(), e))?;
        if !matches!(url.scheme(), "mqtt" | "tcp") {
            return Err(MqttUrlError::Scheme(raw.to_owned()));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| MqttUrlError::NoHost(raw.to_owned()))?
            .to_owned();
        let credentials = (!url.username().is_empty()).then(|| {
            (
                url.username().to_owned(),
                url.password().unwrap_or_default().to_owned(),
            )
        });
        Ok(Self {
            host,
            port: url.port().unwrap_or(1883),
            credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_with_defaults_and_credentials() {
        assert_eq!(
            BrokerAddress::parse("mqtt://127.0.0.1").unwrap(),
            BrokerAddress {
                host: "127.0.0.1".into(),
                port: 1883,
                credentials: None
            }
        );
        let a = BrokerAddress::parse("mqtt://ingest:s3cret@broker:8883").unwrap();
        assert_eq!(a.port, 8883);
        assert_eq!(a.credentials, Some(("ingest".into(), "s3cret".into())));
        assert!(BrokerAddress::parse("http://broker").is_err());
        assert!(BrokerAddress::parse("broker:1883").is_err());
    }

    #[test]
    fn the_subscription_is_shared_unless_told_otherwise() {
        let mut c = IngestConfig::new("mqtt://x", "id");
        assert_eq!(
            c.topic_filter(),
            "$share/coldchain/coldchain/v1/+/+/telemetry"
        );
        c.share_group = None;
        assert_eq!(c.topic_filter(), "coldchain/v1/+/+/telemetry");
    }
}
