//! Reading queries: a shipment's readings are those of its devices inside their assignment
//! windows, in event-time order.

use chrono::{DateTime, Utc};
use coldchain_domain::TenantId;
use serde::Serialize;
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow, PartialEq)]
pub struct StoredReading {
    pub device_id: String,
    pub ts: DateTime<Utc>,
    pub seq: Option<i64>,
    pub temp_c: f64,
    pub humidity_pct: Option<f64>,
    pub door_open: Option<bool>,
    pub battery_pct: Option<f64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub received_at: DateTime<Utc>,
}

/// Rows read ahead of a slow consumer of a reading stream.
const STREAM_BUFFER: usize = 1024;

/// Where a readings page resumes: after this (event time, device).
pub type ReadingCursor = (DateTime<Utc>, String);

/// Which readings of a shipment to return.
#[derive(Debug, Clone, Default)]
pub struct ReadingQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<ReadingCursor>,
    pub limit: i64,
}

/// The readings of shipment `$2` of tenant `$1`: each riding logger's inside its assignment
/// windows (`r` the reading, `a` the assignment).
macro_rules! shipment_readings_from {
    () => {
        "FROM shipment_devices a
         JOIN readings r
           ON r.tenant_id = a.tenant_id AND r.device_id = a.device_id
          AND r.ts >= a.assigned_from
          AND (a.assigned_to IS NULL OR r.ts < a.assigned_to)
         WHERE a.tenant_id = $1 AND a.shipment_id = $2"
    };
}

impl Store {
    /// Readings of the shipment's devices within their assignment windows and `from..to`
    /// (event time, `to` exclusive), ordered by (event time, device).
    pub async fn shipment_readings(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
        q: &ReadingQuery,
    ) -> Result<Vec<StoredReading>, StoreError> {
        let (after_ts, after_device) = q.after.clone().unzip();
        Ok(sqlx::query_as(concat!(
            "SELECT r.device_id, r.ts, r.seq, r.temp_c, r.humidity_pct, r.door_open,
                    r.battery_pct, r.lat, r.lon, r.received_at ",
            shipment_readings_from!(),
            " AND ($3::timestamptz IS NULL OR r.ts >= $3)
               AND ($4::timestamptz IS NULL OR r.ts < $4)
               AND ($5::timestamptz IS NULL OR (r.ts, r.device_id) > ($5, $6))
             ORDER BY r.ts, r.device_id
             LIMIT $7"
        ))
        .bind(tenant.as_str())
        .bind(shipment)
        .bind(q.from)
        .bind(q.to)
        .bind(after_ts)
        .bind(after_device)
        .bind(q.limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every reading of the shipment in event-time order, as a stream: rows are read from
    /// the database as the consumer takes them (a bounded queue between the two), so a
    /// three-week one-minute series is never held in memory whole.
    pub fn stream_shipment_readings(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
    ) -> impl futures_util::Stream<Item = Result<StoredReading, StoreError>> + Send + 'static {
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
        let (pool, tenant) = (self.pool.clone(), tenant.as_str().to_owned());
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut rows = sqlx::query_as(concat!(
                "SELECT r.device_id, r.ts, r.seq, r.temp_c, r.humidity_pct, r.door_open,
                        r.battery_pct, r.lat, r.lon, r.received_at ",
                shipment_readings_from!(),
                " ORDER BY r.ts, r.device_id"
            ))
            .bind(tenant)
            .bind(shipment)
            .fetch(&pool);
            while let Some(row) = rows.next().await {
                let failed = row.is_err();
                // The consumer went away (the client hung up): stop reading.
                if tx.send(row.map_err(StoreError::from)).await.is_err() || failed {
                    break;
                }
            }
        });
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    }

    /// Each riding logger's latest reading inside its assignment window: where the goods
    /// are and how cold, as far as each logger knows.
    pub async fn latest_readings(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
    ) -> Result<Vec<StoredReading>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT r.device_id, r.ts, r.seq, r.temp_c, r.humidity_pct, r.door_open,
                    r.battery_pct, r.lat, r.lon, r.received_at
             FROM (SELECT device_id, min(assigned_from) AS assigned_from,
                          CASE WHEN bool_or(assigned_to IS NULL) THEN NULL
                               ELSE max(assigned_to) END AS assigned_to
                   FROM shipment_devices WHERE tenant_id = $1 AND shipment_id = $2
                   GROUP BY device_id) a
             CROSS JOIN LATERAL (
                 SELECT * FROM readings r
                 WHERE r.tenant_id = $1 AND r.device_id = a.device_id
                   AND r.ts >= a.assigned_from
                   AND (a.assigned_to IS NULL OR r.ts < a.assigned_to)
                 ORDER BY r.ts DESC LIMIT 1) r
             ORDER BY r.device_id",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many readings a device has stored (used by operators' checks and the tests).
    pub async fn count_readings(&self, tenant: &TenantId) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM readings WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
