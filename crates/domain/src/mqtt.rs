//! The MQTT side of the telemetry contract: where the broker is (an `mqtt://` URL) and the
//! topics gateways publish on. Shared by the ingest and the simulator.

/// The telemetry topic of one device: `coldchain/v1/{tenant}/{device_id}/telemetry`.
pub fn telemetry_topic(tenant: &str, device_id: &str) -> String {
    format!("coldchain/v1/{tenant}/{device_id}/telemetry")
}

/// Door, power and defrost events of one device.
pub fn events_topic(tenant: &str, device_id: &str) -> String {
    format!("coldchain/v1/{tenant}/{device_id}/events")
}

/// A gateway's retained online/offline status, also its will.
pub fn status_topic(tenant: &str, gateway_id: &str) -> String {
    format!("coldchain/v1/{tenant}/{gateway_id}/status")
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
}
