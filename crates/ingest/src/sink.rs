//! Sink stage: commits each batch in one transaction, retrying with backoff while the
//! database is away, and only then hands the batch's messages to the acker.
//!
//! The sink never waits on the MQTT connection. Acknowledgements reach the broker only when
//! the source polls the event loop, and the source may itself be waiting for the pipeline to
//! take a message; if the sink waited for room in the client's request queue, the two would
//! wait on each other forever (rumqttc's event loop drains about one request per ten packets
//! read, so the queue does fill under load). The acker stage sits between them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use coldchain_store::{BatchOutcome, Store};
use rumqttc::{AsyncClient, Publish, QoS};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span, warn};

use crate::batch::WorkBatch;
use crate::source::{Backoff, Delivery};
use crate::{IngestState, metrics as m};

pub struct Sink {
    pub store: Store,
    /// Committed messages, to be acknowledged. Unbounded so that the sink never waits on the
    /// broker; it holds at most the messages taken and not yet acknowledged, a few bytes each.
    pub acks: mpsc::UnboundedSender<Vec<PendingAck>>,
    pub shutdown: CancellationToken,
    /// After shutdown, a failing commit is retried this long, then left to the broker.
    pub give_up_after_shutdown: Duration,
}

impl Sink {
    /// Runs until `batches` closes; then closes the acker's queue.
    pub async fn run(self, mut batches: mpsc::Receiver<WorkBatch>) {
        while let Some(work) = batches.recv().await {
            let span = info_span!(
                "batch",
                batch_len = work.items,
                messages = work.deliveries.len()
            );
            if self.commit(&work).instrument(span).await {
                let acks = work
                    .deliveries
                    .iter()
                    .filter_map(PendingAck::for_delivery)
                    .collect();
                // Fails only when the acker is gone, i.e. the ingest is being torn down; the
                // broker then redelivers.
                let _ = self.acks.send(acks);
            }
        }
    }

    /// Commits, retrying until it succeeds or, once shutting down, until the drain timeout.
    async fn commit(&self, work: &WorkBatch) -> bool {
        let mut backoff = Backoff::default();
        let mut give_up_at: Option<Instant> = None;
        loop {
            let started = Instant::now();
            match self.store.write_batch(&work.batch).await {
                Ok(outcome) => {
                    record(&outcome, work.items, started.elapsed());
                    return true;
                }
                Err(error) => {
                    metrics::counter!(m::BATCH_WRITE_ERRORS).increment(1);
                    if self.shutdown.is_cancelled() {
                        let deadline =
                            *give_up_at.get_or_insert(Instant::now() + self.give_up_after_shutdown);
                        if Instant::now() >= deadline {
                            warn!(%error, "shutting down with an uncommitted batch; the broker keeps it");
                            return false;
                        }
                    }
                    let delay = backoff.next_delay();
                    warn!(%error, retry_in_ms = delay.as_millis() as u64, "batch commit failed");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// What acknowledging one message needs: its packet id, QoS and connection.
#[derive(Debug, Clone, Copy)]
pub struct PendingAck {
    pkid: u16,
    qos: QoS,
    generation: u64,
}

impl PendingAck {
    /// QoS 0 messages have nothing to acknowledge.
    fn for_delivery(delivery: &Delivery) -> Option<Self> {
        (delivery.publish.qos != QoS::AtMostOnce).then_some(Self {
            pkid: delivery.publish.pkid,
            qos: delivery.publish.qos,
            generation: delivery.generation,
        })
    }
}

/// Acker stage: sends the acknowledgements of committed messages to the event loop, waiting
/// for room in the client's request queue when it is full (the sink does not).
pub struct Acker {
    pub client: AsyncClient,
    pub state: Arc<IngestState>,
}

impl Acker {
    /// Runs until the sink closes `acks` and every queued acknowledgement was handed over.
    pub async fn run(self, mut acks: mpsc::UnboundedReceiver<Vec<PendingAck>>) {
        while let Some(batch) = acks.recv().await {
            let current = self.state.connection_generation.load(Ordering::SeqCst);
            let mut acked = 0_u64;
            for ack in batch {
                // A copy from an earlier connection is being redelivered on this one; that
                // copy will be acknowledged when its own (duplicate, harmless) batch commits.
                if ack.generation != current {
                    continue;
                }
                let mut publish = Publish::new("", ack.qos, Vec::<u8>::new());
                publish.pkid = ack.pkid;
                if self.client.ack(&publish).await.is_err() {
                    // The event loop is gone (shutting down); the broker will redeliver.
                    return;
                }
                acked += 1;
            }
            self.state
                .messages_acked
                .fetch_add(acked, Ordering::Relaxed);
        }
    }
}

fn record(outcome: &BatchOutcome, items: usize, elapsed: Duration) {
    metrics::counter!(m::READINGS_ACCEPTED).increment(outcome.inserted);
    metrics::counter!(m::READINGS_DUPLICATE).increment(outcome.duplicates);
    metrics::counter!(m::ALERT_CHANGES).increment(outcome.alert_changes);
    if outcome.alert_error.is_some() {
        metrics::counter!(m::ALERT_EVALUATION_ERRORS).increment(1);
    }
    for (reason, count) in &outcome.rejected {
        metrics::counter!(m::PAYLOADS_REJECTED, "reason" => reason.code()).increment(*count);
    }
    metrics::histogram!(m::BATCH_SIZE).record(items as f64);
    metrics::histogram!(m::BATCH_COMMIT_SECONDS).record(elapsed.as_secs_f64());
}
