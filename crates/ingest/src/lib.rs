//! The MQTT ingest pipeline, one module per stage:
//!
//! ```text
//! source (rumqttc, QoS 1, manual acks) -> decode (+ validate) -> batch (size or linger)
//!   -> sink (one transaction per batch) -> acker (acknowledge, through the source's
//!      event loop)
//! ```
//!
//! Messages are acknowledged only after the transaction holding them committed, so a crash
//! at any point leaves them with the broker, which redelivers them; the store's natural key
//! turns the redelivery into a no-op. Stages are joined by bounded channels: when the
//! database is slow or away, the sink stops, the batcher stops, the source stops polling and
//! the broker holds the data. The one unbounded queue, sink to acker, keeps the
//! acknowledgements from ever waiting on the pipeline they unblock (see [`sink`]).

pub mod batch;
pub mod config;
pub mod decode;
pub mod metrics;
pub mod sink;
pub mod source;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use coldchain_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::{IngestConfig, MqttUrlError};

/// Live state of one ingest, shared with the API for readiness and with the stages.
#[derive(Debug, Default)]
pub struct IngestState {
    /// True between a CONNACK and the next connection error.
    pub broker_connected: AtomicBool,
    /// True once the broker granted the subscription on the current connection; messages
    /// published before that are not routed to this ingest (or its group) at all.
    pub subscribed: AtomicBool,
    /// Bumped on every new connection. A delivery remembers the generation it came in on and
    /// is acknowledged only on that same connection: after a reconnect the broker resends
    /// unacknowledged messages, and acking the stale copy could release a packet id the broker
    /// has since given to a message not yet stored.
    pub connection_generation: AtomicU64,
    /// Messages received from the broker since start.
    pub messages_received: AtomicU64,
    /// Messages acknowledged to the broker since start.
    pub messages_acked: AtomicU64,
}

impl IngestState {
    pub fn is_connected(&self) -> bool {
        self.broker_connected.load(Ordering::Relaxed)
    }

    /// Connected and subscribed: messages flow to this ingest.
    pub fn is_ready(&self) -> bool {
        self.is_connected() && self.subscribed.load(Ordering::Relaxed)
    }
}

/// One ingest worker. Several may run against one shared subscription.
pub struct Ingest {
    config: IngestConfig,
    store: Store,
    state: Arc<IngestState>,
}

impl Ingest {
    pub fn new(config: IngestConfig, store: Store) -> Self {
        Self {
            config,
            store,
            state: Arc::new(IngestState::default()),
        }
    }

    pub fn state(&self) -> Arc<IngestState> {
        self.state.clone()
    }

    /// Runs until `shutdown` is cancelled, then stops pulling, flushes, commits, acknowledges
    /// and disconnects. Dropping the returned future instead (a crash, an aborted task) stops
    /// everything at once without acknowledging anything not yet committed.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), source::SourceError> {
        let Ingest {
            config,
            store,
            state,
        } = self;
        let (client, eventloop) = source::connect(&config)?;
        let (delivery_tx, delivery_rx) = mpsc::channel(config.channel_capacity);
        let (batch_tx, batch_rx) = mpsc::channel(1);
        let acks_done = CancellationToken::new();

        // The JoinSet owns every stage: dropping it aborts them all together.
        let mut stages = JoinSet::new();
        stages.spawn(source::run(
            source::Source {
                eventloop,
                client: client.clone(),
                topic_filters: config.topic_filters(),
                state: state.clone(),
            },
            delivery_tx,
            shutdown.clone(),
            acks_done.clone(),
        ));
        stages.spawn(batch::run(
            delivery_rx,
            batch_tx,
            config.batching(),
            config.decode_limits(),
        ));
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        stages.spawn(
            sink::Sink {
                store,
                acks: ack_tx,
                shutdown: shutdown.clone(),
                give_up_after_shutdown: config.drain_timeout,
            }
            .run(batch_rx),
        );
        {
            let acker = sink::Acker { client, state };
            let acks_done = acks_done.clone();
            stages.spawn(async move {
                acker.run(ack_rx).await;
                acks_done.cancel();
            });
        }
        while let Some(joined) = stages.join_next().await {
            if let Err(e) = joined
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        Ok(())
    }
}
