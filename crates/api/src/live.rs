//! Live alert changes for the operators' board. Every API process listens on PostgreSQL's
//! `coldchain_alerts` channel (the ingest notifies it in the transaction that changes an
//! alert, so this works whichever process runs the ingest) and wakes its streams; each stream
//! then reads the event log after its own cursor. A notification is only a nudge: the log is
//! the truth, so a missed one costs at most the safety poll's delay, never an event.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use coldchain_domain::TenantId;
use coldchain_store::Store;
use coldchain_store::alerts::{ALERTS_CHANNEL, HistoryEntry};
use futures_util::Stream;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tracing::{debug, warn};

/// How long a stream waits for a notification before looking at the log anyway.
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// Events read per query.
const BATCH: i64 = 500;

/// Wakes live streams when alerts change.
#[derive(Clone)]
pub struct AlertFeed {
    wake: watch::Sender<u64>,
}

impl AlertFeed {
    /// Starts listening; the task lives as long as the runtime.
    pub fn listen(store: &Store) -> Self {
        let (wake, _) = watch::channel(0_u64);
        let feed = AlertFeed { wake };
        let pool = store.pool().clone();
        let sender = feed.wake.clone();
        tokio::spawn(async move {
            loop {
                let Err(error) = listen_once(&pool, &sender).await;
                warn!(%error, "alert notifications lost; reconnecting");
                // Streams re-read the log in case something slipped by meanwhile.
                sender.send_modify(|n| *n += 1);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        feed
    }

    /// A receiver woken on every change (the webhook dispatcher waits on it).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }
}

/// Listens until the connection fails.
async fn listen_once(
    pool: &sqlx::PgPool,
    wake: &watch::Sender<u64>,
) -> Result<std::convert::Infallible, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(ALERTS_CHANNEL).await?;
    debug!("listening for alert changes");
    loop {
        listener.recv().await?;
        wake.send_modify(|n| *n += 1);
    }
}

/// The server-sent event for one alert change: its id is the change's seq, which a client
/// sends back as `Last-Event-ID` to resume.
fn event(entry: &HistoryEntry) -> Event {
    Event::default()
        .id(entry.seq.to_string())
        .event("alert")
        .json_data(entry)
        .unwrap_or_else(|_| Event::default().comment("unserialisable event"))
}

/// Every alert change of `tenant` after `after`, as it happens.
pub fn stream(
    store: Store,
    feed: &AlertFeed,
    tenant: TenantId,
    after: i64,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let wake = feed.wake.subscribe();
    let state = (store, tenant, after, wake, Vec::<HistoryEntry>::new());
    let events = futures_util::stream::unfold(
        state,
        |(store, tenant, mut cursor, mut wake, mut pending)| async move {
            loop {
                if let Some(entry) = pending.pop() {
                    cursor = entry.seq;
                    return Some((Ok(event(&entry)), (store, tenant, cursor, wake, pending)));
                }
                // Mark what we are about to read as seen before reading, so a change committed
                // while we read wakes us again.
                wake.borrow_and_update();
                match store.alert_events_after(&tenant, cursor, BATCH).await {
                    Ok(mut found) if !found.is_empty() => {
                        found.reverse();
                        pending = found;
                        continue;
                    }
                    Ok(_) => {}
                    Err(error) => warn!(%error, "reading alert changes for a live stream"),
                }
                if let Ok(Err(_)) = tokio::time::timeout(SAFETY_POLL, wake.changed()).await {
                    // No notifier any more: poll.
                    tokio::time::sleep(SAFETY_POLL).await;
                }
            }
        },
    );
    Sse::new(events).keep_alive(KeepAlive::default())
}
