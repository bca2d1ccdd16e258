//! Sink stage: commits each batch in one transaction, retrying with backoff while the
//! database is away, and only then acknowledges the batch's messages to the broker.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use coldchain_store::{BatchOutcome, Store};
use rumqttc::{AsyncClient, QoS};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span, warn};

use crate::batch::WorkBatch;
use crate::source::Backoff;
use crate::{IngestState, metrics as m};

pub struct Sink {
    pub store: Store,
    pub client: AsyncClient,
    pub state: Arc<IngestState>,
    pub shutdown: CancellationToken,
    /// After shutdown, a failing commit is retried this long, then left to the broker.
    pub give_up_after_shutdown: Duration,
}

impl Sink {
    /// Runs until `batches` closes.
    pub async fn run(self, mut batches: mpsc::Receiver<WorkBatch>) {
        while let Some(work) = batches.recv().await {
            let span = info_span!(
                "batch",
                batch_len = work.items,
                messages = work.deliveries.len()
            );
            let committed = self.commit(&work).instrument(span.clone()).await;
            if committed {
                self.acknowledge(work).instrument(span).await;
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

    async fn acknowledge(&self, work: WorkBatch) {
        let current = self.state.connection_generation.load(Ordering::SeqCst);
        let mut acked = 0_u64;
        for delivery in work.deliveries {
            if delivery.publish.qos == QoS::AtMostOnce {
                continue;
            }
            // A copy from an earlier connection is being redelivered on this one; that copy
            // will be acknowledged when its own (duplicate, harmless) batch commits.
            if delivery.generation != current {
                continue;
            }
            if self.client.ack(&delivery.publish).await.is_err() {
                // The event loop is gone (shutting down); the broker will redeliver.
                break;
            }
            acked += 1;
        }
        self.state
            .messages_acked
            .fetch_add(acked, Ordering::Relaxed);
    }
}

fn record(outcome: &BatchOutcome, items: usize, elapsed: Duration) {
    metrics::counter!(m::READINGS_ACCEPTED).increment(outcome.inserted);
    metrics::counter!(m::READINGS_DUPLICATE).increment(outcome.duplicates);
    for (reason, count) in &outcome.rejected {
        metrics::counter!(m::PAYLOADS_REJECTED, "reason" => reason.code()).increment(*count);
    }
    metrics::histogram!(m::BATCH_SIZE).record(items as f64);
    metrics::histogram!(m::BATCH_COMMIT_SECONDS).record(elapsed.as_secs_f64());
}
