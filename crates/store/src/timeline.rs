//! The data of a shipment's timeline: each logger's series cut into the buckets of a
//! [`Plan`], from the 15-minute rollups where the plan allows and from the readings
//! elsewhere, and the alert lifecycle in event time.

use chrono::{DateTime, Utc};
use coldchain_domain::TenantId;
use coldchain_domain::timeline::{Bucket, Plan};
use serde::Serialize;
use uuid::Uuid;

use crate::{Store, StoreError};

/// The shipment's loggers clipped to the window, with each one's whole rollup buckets.
macro_rules! clipped_assignments {
    () => {
        "WITH a AS (
             SELECT device_id, GREATEST(assigned_from, $3) AS lo,
                    LEAST(COALESCE(assigned_to, 'infinity'), $4) AS hi
             FROM shipment_devices
             WHERE tenant_id = $1 AND shipment_id = $2
               AND assigned_from < $4 AND (assigned_to IS NULL OR assigned_to > $3)
         ), al AS (
             SELECT device_id, lo, hi,
                    to_timestamp(ceil(extract(epoch FROM lo) / 900) * 900) AS lo_al,
                    to_timestamp(floor(extract(epoch FROM hi) / 900) * 900) AS hi_al
             FROM a
         ) "
    };
}

/// Rows `(device_id, t, n, s, mn, mx, f, l)` in the plan's buckets: `$5` is the plan's
/// origin and `$6` its width in seconds. TimescaleDB's `time_bucket` where it is installed,
/// PostgreSQL's own `date_bin` (the same buckets) elsewhere.
macro_rules! in_buckets {
    (date_bin, $($rows:tt)+) => {
        in_buckets!(@ "date_bin(make_interval(secs => $6), u.t, $5)", $($rows)+)
    };
    (time_bucket, $($rows:tt)+) => {
        in_buckets!(@ "time_bucket(make_interval(secs => $6), u.t, origin => $5)", $($rows)+)
    };
    (@ $bucket:literal, $($rows:tt)+) => {
        concat!(
            clipped_assignments!(),
            "SELECT u.device_id, ", $bucket, " AS b, sum(u.n)::int8 AS n, sum(u.s) AS sum_c,
                    min(u.mn) AS min_c, max(u.mx) AS max_c, min(u.f) AS first_ts,
                    max(u.l) AS last_ts
             FROM (", $($rows)+, ") u GROUP BY 1, 2 ORDER BY 1, 2"
        )
    };
}

/// Whole rollups inside each clipped assignment, plus the readings of the partial buckets
/// at either edge.
macro_rules! rollup_rows {
    () => {
        "SELECT al.device_id, r.bucket AS t, r.n::int8 AS n, r.sum_c AS s, r.min_c AS mn,
                r.max_c AS mx, r.first_ts AS f, r.last_ts AS l
         FROM al JOIN reading_rollups r
           ON r.tenant_id = $1 AND r.device_id = al.device_id
          AND r.bucket >= al.lo_al AND r.bucket < al.hi_al
         UNION ALL
         SELECT al.device_id, x.ts, 1, x.temp_c, x.temp_c, x.temp_c, x.ts, x.ts
         FROM al JOIN readings x
           ON x.tenant_id = $1 AND x.device_id = al.device_id
          AND x.ts >= al.lo AND x.ts < LEAST(al.lo_al, al.hi)
         UNION ALL
         SELECT al.device_id, x.ts, 1, x.temp_c, x.temp_c, x.temp_c, x.ts, x.ts
         FROM al JOIN readings x
           ON x.tenant_id = $1 AND x.device_id = al.device_id
          AND x.ts >= GREATEST(al.hi_al, al.lo_al, al.lo) AND x.ts < al.hi"
    };
}

/// Every reading inside each clipped assignment (narrow buckets).
macro_rules! reading_rows {
    () => {
        "SELECT al.device_id, x.ts AS t, 1::int8 AS n, x.temp_c AS s, x.temp_c AS mn,
                x.temp_c AS mx, x.ts AS f, x.ts AS l
         FROM al JOIN readings x
           ON x.tenant_id = $1 AND x.device_id = al.device_id AND x.ts >= al.lo AND x.ts < al.hi"
    };
}

/// `[plain PostgreSQL, TimescaleDB]` for each source.
const FROM_ROLLUPS: [&str; 2] = [
    in_buckets!(date_bin, rollup_rows!()),
    in_buckets!(time_bucket, rollup_rows!()),
];
const FROM_READINGS: [&str; 2] = [
    in_buckets!(date_bin, reading_rows!()),
    in_buckets!(time_bucket, reading_rows!()),
];

#[derive(sqlx::FromRow)]
struct BucketRow {
    device_id: String,
    b: DateTime<Utc>,
    n: i64,
    sum_c: f64,
    min_c: f64,
    max_c: f64,
    first_ts: DateTime<Utc>,
    last_ts: DateTime<Utc>,
}

/// One logger's bucketed series.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct DeviceSeries {
    pub device_id: String,
    pub buckets: Vec<Bucket>,
}

/// A change in an alert's life, in event time where the rules set it (opened, ended) and
/// wall-clock time where a person acted (acknowledged, resolved).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AlertMoment {
    pub at: DateTime<Utc>,
    /// opened, ended, acknowledged or resolved.
    pub action: String,
    pub alert_id: Uuid,
    pub alert_kind: String,
    pub severity: String,
    pub device_id: String,
    pub started_at: DateTime<Utc>,
    pub peak_c: Option<f64>,
    pub actor: String,
    pub note: String,
}

impl Store {
    /// Each logger's series over `[from, to)` in the plan's buckets (empty buckets left out).
    pub async fn timeline_series(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        plan: &Plan,
    ) -> Result<Vec<DeviceSeries>, StoreError> {
        let sql = if plan.rollups {
            FROM_ROLLUPS
        } else {
            FROM_READINGS
        }[usize::from(self.timescaledb_enabled().await?)];
        let rows: Vec<BucketRow> = sqlx::query_as(sql)
            .bind(tenant.as_str())
            .bind(shipment)
            .bind(from)
            .bind(to)
            .bind(plan.origin)
            .bind(plan.width.num_seconds() as f64)
            .fetch_all(&self.pool)
            .await?;
        let mut series: Vec<DeviceSeries> = Vec::new();
        for row in rows {
            let bucket = Bucket {
                from: row.b,
                to: row.b + plan.width,
                first: row.first_ts,
                last: row.last_ts,
                n: row.n,
                min_c: row.min_c,
                max_c: row.max_c,
                mean_c: row.sum_c / row.n as f64,
            };
            match series.last_mut() {
                Some(s) if s.device_id == row.device_id => s.buckets.push(bucket),
                _ => series.push(DeviceSeries {
                    device_id: row.device_id,
                    buckets: vec![bucket],
                }),
            }
        }
        Ok(series)
    }

    /// The alert moments of a shipment within `[from, to)`, in time order; retracted alerts
    /// (late data showed they never met the rule) are left out.
    pub async fn alert_moments(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AlertMoment>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM (
                 SELECT al.opened_at AS at, 'opened' AS action, al.id AS alert_id,
                        al.kind AS alert_kind, al.severity, al.device_id, al.started_at,
                        al.peak_c, 'engine' AS actor, '' AS note
                 FROM alerts al
                 WHERE al.tenant_id = $1 AND al.shipment_id = $2 AND NOT al.retracted
                 UNION ALL
                 SELECT al.ended_at, 'ended', al.id, al.kind, al.severity, al.device_id,
                        al.started_at, al.peak_c, 'engine', ''
                 FROM alerts al
                 WHERE al.tenant_id = $1 AND al.shipment_id = $2 AND NOT al.retracted
                   AND al.ended_at IS NOT NULL
                 UNION ALL
                 SELECT h.at, h.action, al.id, al.kind, al.severity, al.device_id,
                        al.started_at, al.peak_c, h.actor, h.note
                 FROM alerts al
                 JOIN alert_history h ON h.tenant_id = al.tenant_id AND h.alert_id = al.id
                 WHERE al.tenant_id = $1 AND al.shipment_id = $2 AND NOT al.retracted
                   AND h.action IN ('acknowledged', 'resolved') AND h.actor <> 'engine'
             ) m
             WHERE m.at >= $3 AND m.at < $4
             ORDER BY m.at, m.alert_id, m.action",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Each riding logger's configured reading interval, in seconds.
    pub async fn reading_intervals(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
    ) -> Result<Vec<(String, i32)>, StoreError> {
        reading_intervals_in(&self.pool, tenant, shipment).await
    }

    /// The window a timeline shows by default: from the first assignment to the last one's
    /// end (now while any is open). `None` while no logger is assigned.
    pub async fn assignment_span(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, StoreError> {
        let row: (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT min(assigned_from),
                    CASE WHEN bool_or(assigned_to IS NULL) THEN now() ELSE max(assigned_to) END
             FROM shipment_devices WHERE tenant_id = $1 AND shipment_id = $2",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.0.zip(row.1))
    }
}

/// Each riding logger's configured reading interval, in seconds, by device id.
pub(crate) async fn reading_intervals_in<'c>(
    executor: impl sqlx::PgExecutor<'c>,
    tenant: &TenantId,
    shipment: Uuid,
) -> Result<Vec<(String, i32)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT sd.device_id, d.reading_interval_s
         FROM shipment_devices sd
         JOIN devices d ON d.tenant_id = sd.tenant_id AND d.id = sd.device_id
         WHERE sd.tenant_id = $1 AND sd.shipment_id = $2 ORDER BY 1",
    )
    .bind(tenant.as_str())
    .bind(shipment)
    .fetch_all(executor)
    .await?)
}
