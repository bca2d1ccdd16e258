//! MQTT out: one connection per gateway (each with its will on its status topic), opened
//! when the gateway first has something to say. Counts what it published and what the broker
//! acknowledged, and at the end waits for every QoS 1 acknowledgement before disconnecting,
//! so "sent" means the broker has it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use coldchain_domain::mqtt::BrokerAddress;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// Live counts, read by the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    pub published: AtomicU64,
    /// QoS 1 publishes handed to a connection, and those the broker acknowledged.
    pub awaiting_ack: AtomicU64,
    pub acked: AtomicU64,
}

struct Connection {
    client: AsyncClient,
    task: JoinHandle<()>,
}

/// A gateway's identity on the broker.
pub struct Gateway<'a> {
    pub client_id: &'a str,
    /// Retained offline status published by the broker if the gateway vanishes.
    pub will: Option<(String, Vec<u8>)>,
}

pub struct Publisher {
    address: BrokerAddress,
    url: String,
    connections: HashMap<String, Connection>,
    pub counters: Arc<Counters>,
    /// MQTT inflight window per connection: how many QoS 1 publishes may await their ack.
    inflight: u16,
}

fn qos(level: u8) -> QoS {
    if level == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

impl Publisher {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            address: BrokerAddress::parse(url)?,
            url: url.to_owned(),
            connections: HashMap::new(),
            counters: Arc::new(Counters::default()),
            inflight: 500,
        })
    }

    /// Opens a gateway's connection and waits for the broker to accept it.
    async fn connect(&self, gateway: &Gateway<'_>) -> anyhow::Result<Connection> {
        let mut options =
            MqttOptions::new(gateway.client_id, &self.address.host, self.address.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_inflight(self.inflight)
            .set_max_packet_size(1 << 20, 1 << 20);
        if let Some((user, password)) = &self.address.credentials {
            options.set_credentials(user, password);
        }
        if let Some((topic, payload)) = &gateway.will {
            options.set_last_will(LastWill::new(
                topic,
                payload.clone(),
                QoS::AtLeastOnce,
                true,
            ));
        }
        let (client, mut eventloop) = AsyncClient::new(options, 2 * self.inflight as usize);
        let (connected_tx, connected_rx) = oneshot::channel();
        let counters = Arc::clone(&self.counters);
        let client_id = gateway.client_id.to_owned();
        let task = tokio::spawn(async move {
            let mut connected = Some(connected_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(tx) = connected.take() {
                            let _ = tx.send(Ok(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counters.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(error) => {
                        if let Some(tx) = connected.take() {
                            let _ = tx.send(Err(error));
                            break;
                        }
                        // rumqttc reconnects on the next poll and resends unacknowledged
                        // QoS 1 publishes.
                        warn!(%error, client_id, "broker connection lost; reconnecting");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
            debug!(client_id, "gateway disconnected");
        });
        match tokio::time::timeout(Duration::from_secs(10), connected_rx).await {
            Ok(Ok(Ok(()))) => Ok(Connection { client, task }),
            Ok(Ok(Err(error))) => bail!(
                "cannot connect to the MQTT broker at {} ({error}); start one (mosquitto -c \
                 config/mosquitto.conf) or point --mqtt at it",
                self.url
            ),
            _ => bail!(
                "the MQTT broker at {} did not accept a connection in 10 s",
                self.url
            ),
        }
    }

    /// Publishes through `gateway`'s connection, opening it first if needed.
    pub async fn publish(
        &mut self,
        gateway: &Gateway<'_>,
        topic: &str,
        payload: Vec<u8>,
        qos_level: u8,
        retain: bool,
    ) -> anyhow::Result<()> {
        if !self.connections.contains_key(gateway.client_id) {
            let connection = self.connect(gateway).await?;
            self.connections
                .insert(gateway.client_id.to_owned(), connection);
        }
        let connection = &self.connections[gateway.client_id];
        connection
            .client
            .publish(topic, qos(qos_level), retain, payload)
            .await
            .with_context(|| format!("publishing on {topic}"))?;
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        if qos_level > 0 {
            self.counters.awaiting_ack.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Waits until the broker acknowledged every QoS 1 publish, then disconnects everyone.
    pub async fn finish(mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let acked = self.counters.acked.load(Ordering::Relaxed);
            let awaiting = self.counters.awaiting_ack.load(Ordering::Relaxed);
            if acked >= awaiting {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "the broker acknowledged {acked} of {awaiting} QoS 1 messages in {timeout:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for (_, connection) in self.connections.drain() {
            close(connection).await;
        }
        Ok(())
    }
}

async fn close(connection: Connection) {
    let _ = connection.client.disconnect().await;
    let mut task = connection.task;
    if tokio::time::timeout(Duration::from_secs(2), &mut task)
        .await
        .is_err()
    {
        task.abort();
    }
}
