//! A shipment's recorded journey events, the status they lead to, and the alert
//! re-evaluation a handover's dock window calls for.

use chrono::{DateTime, Utc};
use coldchain_domain::journey::{Journey, JourneyEvent, JourneyEventKind, dock_windows};
use coldchain_domain::{DeviceId, TenantId};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::alerts::Arrived;
use crate::{Store, StoreError};

/// A journey event as stored, with who recorded it and when.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredJourneyEvent {
    pub seq: i64,
    pub ts: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub kind: JourneyEventKind,
    pub location: String,
    pub from_custodian: Option<String>,
    pub to_custodian: Option<String>,
    pub temp_c: Option<f64>,
    /// `recorded` when the recorder measured it, `loggers` when read from the devices.
    pub temp_source: Option<String>,
    pub dock_minutes: Option<i32>,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

impl StoredJourneyEvent {
    pub fn event(&self) -> JourneyEvent {
        JourneyEvent {
            ts: self.ts,
            kind: self.kind,
            location: self.location.clone(),
            from_custodian: self.from_custodian.clone(),
            to_custodian: self.to_custodian.clone(),
            temp_c: self.temp_c,
            dock_minutes: self.dock_minutes.map(i64::from),
        }
    }
}

/// An event to record, with its free-text context.
#[derive(Debug, Clone)]
pub struct NewJourneyEvent {
    pub event: JourneyEvent,
    pub note: String,
    pub recorded_by: String,
}

/// The goods' temperature at the moment `$ts` names, as the shipment's loggers saw it: the
/// mean of each riding logger's latest reading at or before it, no more than an hour old.
macro_rules! temperature_at {
    ($tenant:literal, $shipment:literal, $ts:literal) => {
        concat!(
            "SELECT avg(latest.temp_c)
             FROM shipment_devices sd
             CROSS JOIN LATERAL (
                 SELECT r.temp_c FROM readings r
                 WHERE r.tenant_id = sd.tenant_id AND r.device_id = sd.device_id
                   AND r.ts <= ",
            $ts,
            " AND r.ts > ",
            $ts,
            " - interval '1 hour'
                   AND r.ts >= sd.assigned_from
                 ORDER BY r.ts DESC LIMIT 1) latest
             WHERE sd.tenant_id = ",
            $tenant,
            " AND sd.shipment_id = ",
            $shipment,
            "
               AND sd.assigned_from <= ",
            $ts,
            "
               AND (sd.assigned_to IS NULL OR sd.assigned_to > ",
            $ts,
            ")"
        )
    };
}

/// A shipment's journey events in recorded order. An event recorded without a temperature
/// (the loggers' readings had not arrived yet: buffered at sea, say) shows the loggers'
/// temperature at its moment from the readings as they are now.
pub(crate) async fn journey_events(
    conn: &mut PgConnection,
    tenant: &str,
    shipment: Uuid,
) -> Result<Vec<StoredJourneyEvent>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT e.seq, e.ts, e.kind, e.location, e.from_custodian, e.to_custodian,
                COALESCE(e.temp_c, now_seen.temp_c) AS temp_c,
                CASE WHEN e.temp_c IS NOT NULL THEN e.temp_source
                     WHEN now_seen.temp_c IS NOT NULL THEN 'loggers' END AS temp_source,
                e.dock_minutes, e.note, e.recorded_by, e.recorded_at
         FROM shipment_events e
         LEFT JOIN LATERAL (",
        temperature_at!("e.tenant_id", "e.shipment_id", "e.ts"),
        " AND e.temp_c IS NULL) now_seen(temp_c) ON true
         WHERE e.tenant_id = $1 AND e.shipment_id = $2 ORDER BY e.seq"
    ))
    .bind(tenant)
    .bind(shipment)
    .fetch_all(&mut *conn)
    .await?)
}

/// The dock windows of the handovers of each of `shipments`, keyed like the input.
pub(crate) async fn dock_windows_of(
    conn: &mut PgConnection,
    shipments: &[(&str, Uuid)],
) -> Result<Vec<((String, Uuid), (DateTime<Utc>, DateTime<Utc>))>, StoreError> {
    let rows: Vec<(String, Uuid, DateTime<Utc>, Option<i32>)> = sqlx::query_as(
        "SELECT e.tenant_id, e.shipment_id, e.ts, e.dock_minutes
         FROM (SELECT DISTINCT t, s FROM unnest($1::text[], $2::uuid[]) AS x(t, s)) x
         JOIN shipment_events e ON e.tenant_id = x.t AND e.shipment_id = x.s
              AND e.kind = 'handover'",
    )
    .bind(shipments.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(shipments.iter().map(|(_, s)| *s).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .flat_map(|(tenant, shipment, ts, dock)| {
            let event = JourneyEvent {
                ts,
                kind: JourneyEventKind::Handover,
                location: String::new(),
                from_custodian: None,
                to_custodian: None,
                temp_c: None,
                dock_minutes: dock.map(i64::from),
            };
            dock_windows(&[event])
                .into_iter()
                .map(move |w| ((tenant.clone(), shipment), w))
        })
        .collect())
}

impl Store {
    /// The shipment's journey events in the order they were recorded.
    pub async fn journey_events(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
    ) -> Result<Vec<StoredJourneyEvent>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        journey_events(&mut conn, tenant.as_str(), shipment).await
    }

    /// Records one journey event: checked against the events before it (an impossible
    /// transition is a conflict that changes nothing), stored with the shipment's new status
    /// in one transaction. A handover also re-judges the readings in its dock window, since
    /// a profile may mute them. Returns the stored event and the journey after it.
    pub async fn record_journey_event(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
        new: &NewJourneyEvent,
    ) -> Result<(StoredJourneyEvent, Journey), StoreError> {
        let mut tx = self.pool.begin().await?;
        // The alert engine's lock first, as the batch writer takes it (a handover re-judges
        // alerts), then the row: events of one shipment are recorded one at a time.
        crate::alerts::lock_shipments(&mut tx, &[(tenant.as_str(), shipment)]).await?;
        let found: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM shipments WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(StoreError::NotFound("shipment"));
        }
        let earlier = journey_events(&mut tx, tenant.as_str(), shipment).await?;
        let journey = Journey::replay(earlier.iter().map(|e| e.event()).collect::<Vec<_>>().iter())
            .and_then(|j| j.apply(&new.event))
            .map_err(|e| StoreError::Conflict {
                constraint: "journey".into(),
                message: e.to_string(),
            })?;
        let (temp_c, temp_source) = match new.event.temp_c {
            Some(t) => (Some(t), Some("recorded")),
            None => {
                let t = temperature_at(&mut tx, tenant, shipment, new.event.ts).await?;
                (t, t.map(|_| "loggers"))
            }
        };
        let stored: StoredJourneyEvent = sqlx::query_as(
            "INSERT INTO shipment_events (tenant_id, shipment_id, ts, kind, location,
                 from_custodian, to_custodian, temp_c, temp_source, dock_minutes, note,
                 recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             RETURNING seq, ts, kind, location, from_custodian, to_custodian, temp_c,
                       temp_source, dock_minutes, note, recorded_by, recorded_at",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .bind(new.event.ts)
        .bind(new.event.kind.code())
        .bind(&new.event.location)
        .bind(&new.event.from_custodian)
        .bind(&new.event.to_custodian)
        .bind(temp_c)
        .bind(temp_source)
        .bind(new.event.dock_minutes.map(|m| m as i32))
        .bind(&new.note)
        .bind(&new.recorded_by)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE shipments SET status = $3, actual_departure = $4, actual_arrival = $5
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .bind(journey.status.code())
        .bind(journey.departed_at)
        .bind(journey.delivered_at)
        .execute(&mut *tx)
        .await?;
        if new.event.kind == JourneyEventKind::Handover {
            let windows = dock_windows(std::slice::from_ref(&new.event));
            let arrived: Vec<Arrived> = self
                .assignments_in(&mut tx, tenant, shipment)
                .await?
                .into_iter()
                .flat_map(|device| {
                    windows.iter().map(move |(from, to)| Arrived {
                        tenant: tenant.as_str().to_owned(),
                        device: device.as_str().to_owned(),
                        inserted: 0,
                        earliest: *from,
                        latest: *to,
                    })
                })
                .collect();
            crate::alerts::evaluate(&mut tx, &arrived, &[], &Default::default()).await?;
        }
        tx.commit().await?;
        Ok((stored, journey))
    }

    async fn assignments_in(
        &self,
        tx: &mut PgConnection,
        tenant: &TenantId,
        shipment: Uuid,
    ) -> Result<Vec<DeviceId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT device_id FROM shipment_devices
             WHERE tenant_id = $1 AND shipment_id = $2 ORDER BY device_id",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .fetch_all(&mut *tx)
        .await?;
        Ok(ids
            .into_iter()
            .filter_map(|d| DeviceId::parse(d).ok())
            .collect())
    }
}

/// The goods' temperature at `ts` as the shipment's loggers saw it.
async fn temperature_at(
    tx: &mut PgConnection,
    tenant: &TenantId,
    shipment: Uuid,
    ts: DateTime<Utc>,
) -> Result<Option<f64>, StoreError> {
    Ok(sqlx::query_scalar(temperature_at!("$1", "$2", "$3"))
        .bind(tenant.as_str())
        .bind(shipment)
        .bind(ts)
        .fetch_one(&mut *tx)
        .await?)
}
