//! Batch stage: decodes deliveries and gathers them into batches, flushed when a batch holds
//! `max_items` readings and rejections or `linger` after its first message, whichever comes
//! first. Each batch carries the deliveries to acknowledge once it is committed.

use std::time::Duration;

use coldchain_store::Batch;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::decode::{DecodeLimits, decode_message};
use crate::source::Delivery;

#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub max_items: usize,
    pub linger: Duration,
}

/// A batch and the messages it came from.
#[derive(Debug, Default)]
pub struct WorkBatch {
    pub batch: Batch,
    pub deliveries: Vec<Delivery>,
    /// Readings plus rejections.
    pub items: usize,
}

impl WorkBatch {
    fn add(&mut self, delivery: Delivery, limits: &DecodeLimits) {
        let decoded = decode_message(
            &delivery.publish.topic,
            &delivery.publish.payload,
            delivery.received_at,
            limits,
        );
        self.items += decoded.item_count();
        if let Some(readings) = decoded.readings {
            self.batch.readings.push(readings);
        }
        if let Some(events) = decoded.events {
            self.batch.events.push(events);
        }
        self.batch.rejections.extend(decoded.rejections);
        self.deliveries.push(delivery);
    }
}

/// Runs until `deliveries` closes, flushing what it holds before returning.
pub async fn run(
    mut deliveries: mpsc::Receiver<Delivery>,
    batches: mpsc::Sender<WorkBatch>,
    batching: Batching,
    limits: DecodeLimits,
) {
    loop {
        let Some(first) = deliveries.recv().await else {
            return;
        };
        let deadline = Instant::now() + batching.linger;
        let mut work = WorkBatch::default();
        work.add(first, &limits);
        let mut closed = false;
        while work.items < batching.max_items {
            tokio::select! {
                next = deliveries.recv() => match next {
                    Some(delivery) => work.add(delivery, &limits),
                    None => { closed = true; break; }
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        if batches.send(work).await.is_err() || closed {
            return;
        }
    }
}
