//! The batch writer: one transaction per batch holding the readings, the device state they
//! imply and the rejections, written with UNNEST arrays (one statement per table, never one
//! INSERT per reading). Readings are keyed by (tenant, device, event time), so writing the
//! same batch twice stores nothing new: that is what makes ack-after-commit replay safe.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use coldchain_domain::{DeviceEvent, DeviceId, Reading, RejectReason, TenantId};

use crate::alerts::{Arrived, Message};
use crate::{Store, StoreError};

/// Readings decoded and validated from one MQTT message, waiting to be stored.
#[derive(Debug, Clone)]
pub struct PendingReadings {
    pub tenant: TenantId,
    pub device: DeviceId,
    pub topic: String,
    /// The original payload, kept so the message can be quarantined whole if the device turns
    /// out not to be registered.
    pub payload: Vec<u8>,
    pub readings: Vec<Reading>,
    pub received_at: DateTime<Utc>,
}

/// Events decoded from one message on a device's events topic.
#[derive(Debug, Clone)]
pub struct PendingEvents {
    pub tenant: TenantId,
    pub device: DeviceId,
    pub topic: String,
    /// Kept so the message can be quarantined whole if the device is not registered.
    pub payload: Vec<u8>,
    pub events: Vec<DeviceEvent>,
    pub received_at: DateTime<Utc>,
}

/// A payload, or one reading of it, that will not be stored as a reading.
#[derive(Debug, Clone)]
pub struct PendingRejection {
    pub tenant: Option<String>,
    pub device: Option<String>,
    pub topic: String,
    pub payload: Vec<u8>,
    pub reason: RejectReason,
    pub detail: String,
    pub received_at: DateTime<Utc>,
}

/// Everything one transaction writes.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub readings: Vec<PendingReadings>,
    pub events: Vec<PendingEvents>,
    pub rejections: Vec<PendingRejection>,
}

impl Batch {
    pub fn reading_count(&self) -> usize {
        self.readings.iter().map(|p| p.readings.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.readings.is_empty() && self.events.is_empty() && self.rejections.is_empty()
    }
}

/// What a committed batch changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Readings newly stored.
    pub inserted: u64,
    /// Readings already stored before (redeliveries and duplicate publishes).
    pub duplicates: u64,
    /// Rejections stored, by reason (including messages quarantined for unknown devices).
    pub rejected: BTreeMap<RejectReason, u64>,
    /// Alert changes (opened, ended, retracted ...) the new readings caused.
    pub alert_changes: u64,
    /// Set when judging the alerts failed on this batch's data (the readings are stored).
    pub alert_error: Option<String>,
}

/// Readings laid out as columns, the shape UNNEST wants.
#[derive(Default)]
struct ReadingColumns {
    tenant: Vec<String>,
    device: Vec<String>,
    ts: Vec<DateTime<Utc>>,
    seq: Vec<Option<i64>>,
    temp_c: Vec<f64>,
    humidity_pct: Vec<Option<f64>>,
    door_open: Vec<Option<bool>>,
    battery_pct: Vec<Option<f64>>,
    lat: Vec<Option<f64>>,
    lon: Vec<Option<f64>>,
    received_at: Vec<DateTime<Utc>>,
}

impl ReadingColumns {
    fn push(&mut self, p: &PendingReadings, r: &Reading) {
        self.tenant.push(p.tenant.as_str().to_owned());
        self.device.push(p.device.as_str().to_owned());
        self.ts.push(r.ts);
        self.seq.push(r.seq);
        self.temp_c.push(r.temp_c);
        self.humidity_pct.push(r.humidity_pct);
        self.door_open.push(r.door_open);
        self.battery_pct.push(r.battery_pct);
        self.lat.push(r.lat);
        self.lon.push(r.lon);
        self.received_at.push(p.received_at);
    }
}

/// Writes the readings, and the latest state of each device they came from, in one statement.
/// Rows are inserted in key order so two instances writing overlapping batches lock in the same
/// order and cannot deadlock each other.
const INSERT_READINGS: &str = r#"
WITH x AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[], $5::float8[],
                         $6::float8[], $7::bool[], $8::float8[], $9::float8[], $10::float8[],
                         $11::timestamptz[])
        AS x(tenant_id, device_id, ts, seq, temp_c, humidity_pct, door_open, battery_pct,
             lat, lon, received_at)
),
inserted AS (
    INSERT INTO readings (tenant_id, device_id, ts, seq, temp_c, humidity_pct, door_open,
                          battery_pct, lat, lon, received_at)
    SELECT tenant_id, device_id, ts, seq, temp_c, humidity_pct, door_open, battery_pct,
           lat, lon, received_at
    FROM x ORDER BY tenant_id, device_id, ts
    ON CONFLICT (tenant_id, device_id, ts) DO NOTHING
    RETURNING tenant_id, device_id, ts, temp_c
),
rollup AS (
    INSERT INTO reading_rollups AS r (tenant_id, device_id, bucket, n, sum_c, min_c, max_c,
                                      first_ts, last_ts)
    SELECT tenant_id, device_id, date_bin('15 minutes', ts, TIMESTAMPTZ 'epoch'),
           count(*), sum(temp_c), min(temp_c), max(temp_c), min(ts), max(ts)
    FROM inserted GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (tenant_id, device_id, bucket) DO UPDATE SET
        n = r.n + EXCLUDED.n,
        sum_c = r.sum_c + EXCLUDED.sum_c,
        min_c = LEAST(r.min_c, EXCLUDED.min_c),
        max_c = GREATEST(r.max_c, EXCLUDED.max_c),
        first_ts = LEAST(r.first_ts, EXCLUDED.first_ts),
        last_ts = GREATEST(r.last_ts, EXCLUDED.last_ts)
),
latest AS (
    SELECT DISTINCT ON (tenant_id, device_id) *
    FROM x ORDER BY tenant_id, device_id, ts DESC, received_at DESC
),
state AS (
    INSERT INTO device_state AS s (tenant_id, device_id, last_seen_at, last_reading_ts,
        last_temp_c, last_humidity_pct, last_door_open, last_battery_pct, last_lat, last_lon)
    SELECT tenant_id, device_id, received_at, ts, temp_c, humidity_pct, door_open,
           battery_pct, lat, lon
    FROM latest ORDER BY tenant_id, device_id
    ON CONFLICT (tenant_id, device_id) DO UPDATE SET
        last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
        last_reading_ts = GREATEST(s.last_reading_ts, EXCLUDED.last_reading_ts),
        last_temp_c = CASE WHEN EXCLUDED.last_reading_ts >= s.last_reading_ts
                           THEN EXCLUDED.last_temp_c ELSE s.last_temp_c END,
        last_humidity_pct = CASE WHEN EXCLUDED.last_reading_ts >= s.last_reading_ts
                           THEN EXCLUDED.last_humidity_pct ELSE s.last_humidity_pct END,
        last_door_open = CASE WHEN EXCLUDED.last_reading_ts >= s.last_reading_ts
                           THEN EXCLUDED.last_door_open ELSE s.last_door_open END,
        last_battery_pct = CASE WHEN EXCLUDED.last_reading_ts >= s.last_reading_ts
                           THEN EXCLUDED.last_battery_pct ELSE s.last_battery_pct END,
        last_lat = CASE WHEN EXCLUDED.last_reading_ts >= s.last_reading_ts
                           THEN EXCLUDED.last_lat ELSE s.last_lat END,
        last_lon = CASE WHEN EXCLUDED.last_reading_ts >= s.last_reading_ts
                           THEN EXCLUDED.last_lon ELSE s.last_lon END
)
SELECT tenant_id AS tenant, device_id AS device, count(*) AS inserted, min(ts) AS earliest,
       max(ts) AS latest
FROM inserted
GROUP BY tenant_id, device_id ORDER BY tenant_id, device_id
"#;

const INSERT_REJECTIONS: &str = r#"
INSERT INTO rejected_payloads (tenant_id, device_id, topic, payload, reason, detail, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[],
                     $7::timestamptz[])
"#;

impl Store {
    /// Commits one batch: readings of registered devices, their device state, and every
    /// rejection (including whole messages from devices not registered to their tenant,
    /// which are quarantined here rather than dropped). Either all of it is stored or none.
    pub async fn write_batch(&self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;

        let known = known_devices(
            &mut tx,
            batch
                .readings
                .iter()
                .map(|p| (p.tenant.as_str(), p.device.as_str()))
                .chain(
                    batch
                        .events
                        .iter()
                        .map(|e| (e.tenant.as_str(), e.device.as_str())),
                ),
        )
        .await?;
        let mut columns = ReadingColumns::default();
        let mut quarantined = Vec::new();
        for pending in &batch.readings {
            if known.contains(&(pending.tenant.as_str(), pending.device.as_str())) {
                for reading in &pending.readings {
                    columns.push(pending, reading);
                }
            } else {
                quarantined.push(PendingRejection {
                    tenant: Some(pending.tenant.to_string()),
                    device: Some(pending.device.to_string()),
                    topic: pending.topic.clone(),
                    payload: pending.payload.clone(),
                    reason: RejectReason::UnknownDevice,
                    detail: format!(
                        "device {:?} is not registered to tenant {:?}; register it with POST /v1/devices",
                        pending.device.as_str(),
                        pending.tenant.as_str()
                    ),
                    received_at: pending.received_at,
                });
            }
        }

        let total = columns.ts.len() as u64;
        // Each message's device and newest event time, in arrival order, and where each
        // device stood before: sensor_offline is about what arrived when.
        let messages: Vec<Message> = batch
            .readings
            .iter()
            .filter(|p| known.contains(&(p.tenant.as_str(), p.device.as_str())))
            .filter_map(|p| {
                Some(Message {
                    tenant: p.tenant.as_str().to_owned(),
                    device: p.device.as_str().to_owned(),
                    newest: p.readings.iter().map(|r| r.ts).max()?,
                })
            })
            .collect();
        let before = crate::alerts::last_readings(&mut tx, &messages).await?;
        let arrived: Vec<Arrived> = if total == 0 {
            Vec::new()
        } else {
            sqlx::query_as(INSERT_READINGS)
                .bind(&columns.tenant)
                .bind(&columns.device)
                .bind(&columns.ts)
                .bind(&columns.seq)
                .bind(&columns.temp_c)
                .bind(&columns.humidity_pct)
                .bind(&columns.door_open)
                .bind(&columns.battery_pct)
                .bind(&columns.lat)
                .bind(&columns.lon)
                .bind(&columns.received_at)
                .fetch_all(&mut *tx)
                .await?
        };
        let inserted: i64 = arrived.iter().map(|a| a.inserted).sum();
        let mut arrived = arrived;
        let (events, unknown) = batch
            .events
            .iter()
            .partition::<Vec<&PendingEvents>, _>(|e| {
                known.contains(&(e.tenant.as_str(), e.device.as_str()))
            });
        for e in unknown {
            quarantined.push(PendingRejection {
                tenant: Some(e.tenant.to_string()),
                device: Some(e.device.to_string()),
                topic: e.topic.clone(),
                payload: e.payload.clone(),
                reason: RejectReason::UnknownDevice,
                detail: format!(
                    "device {:?} is not registered to tenant {:?}; register it with POST /v1/devices",
                    e.device.as_str(),
                    e.tenant.as_str()
                ),
                received_at: e.received_at,
            });
        }
        // New events can mute or unmute readings around them: re-judge from them on. One
        // entry per device, spanning its new readings and events.
        for e in insert_events(&mut tx, &events).await? {
            match arrived
                .iter_mut()
                .find(|a| a.tenant == e.tenant && a.device == e.device)
            {
                Some(a) => {
                    a.earliest = a.earliest.min(e.earliest);
                    a.latest = a.latest.max(e.latest);
                }
                None => arrived.push(e),
            }
        }
        // Judged in a savepoint: if the rules fail on this data (a bug, not an outage), the
        // readings are still stored and the failure reported, rather than the whole pipeline
        // retrying one batch forever. An outage still fails the batch, to be retried.
        let mut judged = sqlx::Connection::begin(&mut *tx).await?;
        let (alert_changes, alert_error) = match crate::alerts::evaluate(
            &mut judged,
            &arrived,
            &messages,
            &before,
        )
        .await
        {
            Ok(n) => {
                judged.commit().await?;
                (n, None)
            }
            Err(StoreError::Database(sqlx::Error::Database(e))) => {
                judged.rollback().await?;
                tracing::error!(error = %e, "alert evaluation failed; readings stored without it");
                (0, Some(e.to_string()))
            }
            Err(other) => return Err(other),
        };

        let rejections: Vec<&PendingRejection> =
            batch.rejections.iter().chain(quarantined.iter()).collect();
        let mut rejected = BTreeMap::new();
        if !rejections.is_empty() {
            sqlx::query(INSERT_REJECTIONS)
                .bind(
                    rejections
                        .iter()
                        .map(|r| r.tenant.clone())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    rejections
                        .iter()
                        .map(|r| r.device.clone())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    rejections
                        .iter()
                        .map(|r| r.topic.clone())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    rejections
                        .iter()
                        .map(|r| r.payload.clone())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    rejections
                        .iter()
                        .map(|r| r.reason.code())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    rejections
                        .iter()
                        .map(|r| r.detail.clone())
                        .collect::<Vec<_>>(),
                )
                .bind(rejections.iter().map(|r| r.received_at).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await?;
            for r in &rejections {
                *rejected.entry(r.reason).or_insert(0) += 1;
            }
        }

        tx.commit().await?;
        let inserted = u64::try_from(inserted).unwrap_or(0);
        Ok(BatchOutcome {
            inserted,
            duplicates: total.saturating_sub(inserted),
            rejected,
            alert_changes,
            alert_error,
        })
    }
}

/// The (tenant, device) pairs of the batch that are registered devices.
async fn known_devices<'a>(
    tx: &mut sqlx::PgConnection,
    pending: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<HashSet<(&'a str, &'a str)>, StoreError> {
    let pairs: HashSet<(&str, &str)> = pending.collect();
    if pairs.is_empty() {
        return Ok(HashSet::new());
    }
    let (tenants, devices): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    let found: Vec<(String, String)> = sqlx::query_as(
        "SELECT d.tenant_id, d.id FROM devices d
         JOIN unnest($1::text[], $2::text[]) AS x(tenant_id, id)
           ON d.tenant_id = x.tenant_id AND d.id = x.id",
    )
    .bind(&tenants)
    .bind(&devices)
    .fetch_all(tx)
    .await?;
    Ok(pairs
        .into_iter()
        .filter(|(t, d)| found.iter().any(|(ft, fd)| ft == t && fd == d))
        .collect())
}

/// Writes events (a redelivered one is stored once); returns, per device, the span of the
/// new ones.
async fn insert_events(
    tx: &mut sqlx::PgConnection,
    events: &[&PendingEvents],
) -> Result<Vec<Arrived>, StoreError> {
    let (mut tenant, mut device, mut ts, mut kind, mut received) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in events {
        for e in &p.events {
            tenant.push(p.tenant.as_str());
            device.push(p.device.as_str());
            ts.push(e.ts);
            kind.push(e.kind.code());
            received.push(p.received_at);
        }
    }
    if ts.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "WITH inserted AS (
             INSERT INTO device_events (tenant_id, device_id, ts, kind, received_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[],
                                  $5::timestamptz[])
             ORDER BY 1, 2, 3, 4
             ON CONFLICT DO NOTHING
             RETURNING tenant_id, device_id, ts)
         SELECT tenant_id AS tenant, device_id AS device, 0::int8 AS inserted,
                min(ts) AS earliest, max(ts) AS latest
         FROM inserted GROUP BY tenant_id, device_id ORDER BY 1, 2",
    )
    .bind(&tenant)
    .bind(&device)
    .bind(&ts)
    .bind(&kind)
    .bind(&received)
    .fetch_all(&mut *tx)
    .await?)
}
