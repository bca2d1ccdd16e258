//! Source stage: the MQTT connection. Keeps a persistent session (clean session off, a stable
//! client id) so the broker holds messages while the ingest is down, subscribes at QoS 1 on
//! every connection, and passes each message on with the connection generation it came in
//! on. It never acknowledges: the sink does, after commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, Publish, QoS, SubscribeReasonCode,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::{BrokerAddress, IngestConfig, MqttUrlError};
use crate::{IngestState, metrics as m};

/// One message from the broker, not yet acknowledged.
#[derive(Debug)]
pub struct Delivery {
    pub publish: Publish,
    /// The connection it arrived on; see [`IngestState::connection_generation`].
    pub generation: u64,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Url(#[from] MqttUrlError),
}

/// The largest MQTT packet the client accepts. Larger than any payload the decode stage
/// accepts, so an oversize payload is rejected with a reason instead of tearing down the
/// connection (which would make the broker redeliver it forever).
const MAX_INCOMING_PACKET: usize = 16 * 1024 * 1024;

/// Creates the client; no connection is attempted until the event loop is polled.
pub fn connect(config: &IngestConfig) -> Result<(AsyncClient, EventLoop), SourceError> {
    let address = BrokerAddress::parse(&config.mqtt_url)?;
    let mut options = MqttOptions::new(config.client_id.clone(), address.host, address.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(config.keep_alive)
        .set_max_packet_size(MAX_INCOMING_PACKET, 64 * 1024);
    if let Some((user, password)) = address.credentials {
        options.set_credentials(user, password);
    }
    // Acks queue here. The broker's inflight window bounds how many messages are unacked at
    // once, so a capacity well above it means queuing an ack never waits on the event loop.
    let capacity = (config.channel_capacity + config.batch_size) * 4;
    Ok(AsyncClient::new(options, capacity))
}

pub struct Source {
    pub eventloop: EventLoop,
    pub client: AsyncClient,
    pub topic_filters: Vec<String>,
    pub state: Arc<IngestState>,
}

/// Polls the connection until shutdown. On shutdown it stops forwarding messages (closing
/// `deliveries` so the batcher flushes) but keeps the connection polled until the
/// acker has queued its last acknowledgements (`acks_done`), then disconnects cleanly (the
/// DISCONNECT queues behind those acknowledgements, so they reach the broker first).
pub async fn run(
    mut source: Source,
    deliveries: mpsc::Sender<Delivery>,
    shutdown: CancellationToken,
    acks_done: CancellationToken,
) {
    let mut deliveries = Some(deliveries);
    let mut backoff = Backoff::default();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled(), if deliveries.is_some() => {
                info!("ingest shutting down: no longer taking messages");
                deliveries = None;
                continue;
            }
            _ = acks_done.cancelled() => break,
            event = source.eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                let generation = source
                    .state
                    .connection_generation
                    .fetch_add(1, Ordering::SeqCst)
                    + 1;
                source.state.broker_connected.store(true, Ordering::Relaxed);
                metrics::gauge!(m::BROKER_CONNECTED).set(1.0);
                info!(
                    generation,
                    session_present = ack.session_present,
                    topics = ?source.topic_filters,
                    "connected to broker"
                );
                let filters = source
                    .topic_filters
                    .iter()
                    .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                if let Err(e) = source.client.try_subscribe_many(filters) {
                    warn!(error = %e, "could not queue the subscription");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                source
                    .state
                    .messages_received
                    .fetch_add(1, Ordering::Relaxed);
                metrics::counter!(m::MESSAGES_RECEIVED).increment(1);
                let Some(tx) = &deliveries else {
                    // Draining: not acknowledged, so the broker redelivers it next time.
                    continue;
                };
                let delivery = Delivery {
                    publish,
                    generation: source.state.connection_generation.load(Ordering::SeqCst),
                    received_at: Utc::now(),
                };
                // Blocking here is the backpressure: while the pipeline is full the
                // connection is not polled and the broker holds the rest.
                tokio::select! {
                    sent = tx.send(delivery) => {
                        if sent.is_err() {
                            deliveries = None;
                        }
                    }
                    _ = shutdown.cancelled() => deliveries = None,
                }
                if let Some(tx) = &deliveries {
                    metrics::gauge!(m::QUEUE_DEPTH).set((tx.max_capacity() - tx.capacity()) as f64);
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let granted = ack
                    .return_codes
                    .iter()
                    .all(|c| matches!(c, SubscribeReasonCode::Success(_)));
                source.state.subscribed.store(granted, Ordering::Relaxed);
                if granted {
                    debug!(?ack.return_codes, "subscribed");
                } else {
                    warn!(?ack.return_codes, topics = ?source.topic_filters, "broker refused the subscription");
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(error) => {
                source
                    .state
                    .broker_connected
                    .store(false, Ordering::Relaxed);
                metrics::gauge!(m::BROKER_CONNECTED).set(0.0);
                let delay = backoff.next_delay();
                warn!(%error, retry_in_ms = delay.as_millis() as u64, "broker connection failed");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = acks_done.cancelled() => break,
                }
            }
        }
    }
    disconnect(&mut source).await;
}

/// Sends DISCONNECT so the broker keeps the session without firing a will or waiting for
/// the keep-alive to expire; bounded, since the broker may be gone.
async fn disconnect(source: &mut Source) {
    if !source.state.is_connected() {
        return;
    }
    if source.client.try_disconnect().is_ok() {
        let flushed = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match source.eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if flushed.is_err() {
            warn!("broker did not take the DISCONNECT in time");
        }
    }
    source
        .state
        .broker_connected
        .store(false, Ordering::Relaxed);
    metrics::gauge!(m::BROKER_CONNECTED).set(0.0);
    info!("disconnected from broker");
}

/// Exponential backoff with a cap, for reconnecting to the broker and retrying commits.
#[derive(Debug, Clone)]
pub struct Backoff {
    current: Duration,
    min: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            current: min,
            min,
            max,
        }
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.current;
        self.current = (self.current * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
