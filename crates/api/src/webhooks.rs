//! The webhook dispatcher: delivers every alert change to the webhooks that want it, from
//! the history (the outbox), in order, at least once. Each body is signed with HMAC-SHA256
//! of the webhook's secret in `X-Coldchain-Signature: sha256=<hex>`; a receiver recomputes it
//! over the raw body to check the sender. A failing receiver is retried with exponential
//! backoff (1 s doubling to 5 min) without losing its place; every attempt is logged.

use std::time::{Duration, Instant};

use coldchain_store::Store;
use coldchain_store::alerts::HistoryEntry;
use coldchain_store::webhooks::{Attempt, Claimed, claim_due, record_attempt};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tracing::{debug, warn};

use crate::live::AlertFeed;

/// How long a receiver has to answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle dispatcher looks for due retries.
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF_S: i64 = 300;

/// `sha256=<hex>` of HMAC-SHA256(secret, body).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before the next attempt after `failures` consecutive failures.
pub fn backoff(failures: i32) -> chrono::Duration {
    let exp = failures.clamp(1, 20) - 1;
    chrono::Duration::seconds((1_i64 << exp).min(MAX_BACKOFF_S))
}

/// Runs the dispatcher for as long as the runtime lives.
pub fn spawn(store: Store, feed: &AlertFeed) -> tokio::task::JoinHandle<()> {
    let mut wake = feed.subscribe();
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .expect("an HTTP client");
        loop {
            wake.borrow_and_update();
            match deliver_one(&store, &http).await {
                Ok(true) => continue,
                Ok(false) => {
                    let _ = tokio::time::timeout(IDLE_POLL, wake.changed()).await;
                }
                Err(error) => {
                    warn!(%error, "webhook dispatch failed; retrying");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    })
}

/// Delivers one due event, if there is one. True when it attempted a delivery.
async fn deliver_one(
    store: &Store,
    http: &reqwest::Client,
) -> Result<bool, coldchain_store::StoreError> {
    let mut tx = store.pool().begin().await?;
    let Some((webhook, event)) = claim_due(&mut tx).await? else {
        tx.commit().await?;
        return Ok(false);
    };
    let attempt = post(http, &webhook, &event).await;
    if attempt.succeeded {
        debug!(webhook = %webhook.id, seq = event.seq, "webhook delivered");
    } else {
        warn!(webhook = %webhook.id, seq = event.seq, status = ?attempt.status_code,
              error = ?attempt.error, "webhook delivery failed");
    }
    record_attempt(
        &mut tx,
        &webhook,
        event.seq,
        &attempt,
        backoff(webhook.failures + 1),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn post(http: &reqwest::Client, webhook: &Claimed, event: &HistoryEntry) -> Attempt {
    let body = serde_json::to_vec(event).expect("an event serialises");
    let started = Instant::now();
    let result = http
        .post(&webhook.url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "coldchain-webhooks/1")
        .header("X-Coldchain-Event-Id", event.seq.to_string())
        .header("X-Coldchain-Webhook-Id", webhook.id.to_string())
        .header("X-Coldchain-Signature", signature(&webhook.secret, &body))
        .body(body)
        .send()
        .await;
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    match result {
        Ok(response) => {
            let status = response.status();
            Attempt {
                status_code: Some(i32::from(status.as_u16())),
                error: (!status.is_success()).then(|| format!("HTTP {status}")),
                duration_ms,
                succeeded: status.is_success(),
            }
        }
        Err(error) => Attempt {
            status_code: None,
            error: Some(error.to_string()),
            duration_ms,
            succeeded: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_a_known_vector_and_backoff_doubles_to_its_cap() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let waits: Vec<i64> = (1..=11).map(|f| backoff(f).num_seconds()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
