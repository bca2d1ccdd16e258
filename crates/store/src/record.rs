//! Everything the figures, the verdict and the report are computed from, read in one
//! snapshot: the shipment's profile, each riding logger's readings with what mutes them, and
//! the journey events. The computing itself is the domain's.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use coldchain_domain::excursion::{Point, Rules, Series, TimeSpan};
use coldchain_domain::figures::{
    Figures, LoggerInput, ShipmentFigures, overall_figures, shipment_figures,
};
use coldchain_domain::journey::{Journey, dock_windows};
use coldchain_domain::{DeviceEvent, ProductProfile, TenantId};
use uuid::Uuid;

use crate::journey::StoredJourneyEvent;
use crate::shipments::Shipment;
use crate::{Store, StoreError};

/// One logger's part of a shipment.
#[derive(Debug, Clone)]
pub struct LoggerRecord {
    pub device_id: String,
    pub reading_interval: Duration,
    /// Temperatures in event-time order, within the logger's assignment windows.
    pub points: Vec<Point>,
    pub defrosts: Vec<TimeSpan>,
}

/// A shipment with its profile, loggers and journey events.
#[derive(Debug, Clone)]
pub struct ShipmentRecord {
    pub shipment: Shipment,
    pub profile: Option<ProductProfile>,
    pub loggers: Vec<LoggerRecord>,
    pub events: Vec<StoredJourneyEvent>,
}

impl ShipmentRecord {
    /// The journey the recorded events describe (they were checked when recorded).
    pub fn journey(&self) -> Journey {
        let events: Vec<_> = self.events.iter().map(StoredJourneyEvent::event).collect();
        Journey::replay(&events).unwrap_or_default()
    }

    /// Each logger's temperature rules; none without a profile.
    pub fn rules(&self) -> Option<Vec<Rules>> {
        let profile = self.profile.as_ref()?;
        let events: Vec<_> = self.events.iter().map(StoredJourneyEvent::event).collect();
        let docks = dock_windows(&events);
        Some(
            self.loggers
                .iter()
                .map(|l| Rules::for_logger(profile, l.reading_interval, &l.defrosts, &docks))
                .collect(),
        )
    }

    /// The figures, judged against the profile's band; none without a profile.
    pub fn figures(&self) -> Option<ShipmentFigures> {
        let journey = self.journey();
        self.judge(|inputs, delta_h| shipment_figures(inputs, &journey, delta_h))
    }

    /// The whole shipment's figures without the breakdowns (for the verdict); none without
    /// a profile.
    pub fn overall_figures(&self) -> Option<Figures> {
        self.judge(overall_figures)
    }

    /// Runs `judge` over each logger's series and rules, with the profile's ΔH.
    fn judge<T>(&self, judge: impl FnOnce(&[LoggerInput], f64) -> T) -> Option<T> {
        let profile = self.profile.as_ref()?;
        let rules = self.rules()?;
        let series: Vec<Series> = self
            .loggers
            .iter()
            .zip(&rules)
            .map(|(l, r)| Series::new(l.points.iter().copied(), r.max_gap))
            .collect();
        let inputs: Vec<LoggerInput> = self
            .loggers
            .iter()
            .zip(&series)
            .zip(&rules)
            .map(|((l, series), rules)| LoggerInput {
                device_id: &l.device_id,
                series,
                rules,
            })
            .collect();
        Some(judge(&inputs, profile.mkt_delta_h_kj_per_mol))
    }
}

impl Store {
    /// The shipment's record, read in one repeatable-read snapshot so the readings, events and
    /// profile agree with each other.
    pub async fn shipment_record(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<ShipmentRecord, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let shipment: Shipment = sqlx::query_as(concat!(
            "SELECT",
            shipment_columns!(),
            "FROM shipments WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("shipment"))?;
        let profile = match &shipment.profile_id {
            Some(p) => crate::profiles::profile_in(&mut *tx, tenant, p).await?,
            None => None,
        };
        let intervals = crate::timeline::reading_intervals_in(&mut *tx, tenant, id).await?;
        let mut loggers: BTreeMap<String, LoggerRecord> = intervals
            .into_iter()
            .map(|(device_id, interval)| {
                let record = LoggerRecord {
                    device_id: device_id.clone(),
                    reading_interval: Duration::seconds(i64::from(interval)),
                    points: Vec::new(),
                    defrosts: Vec::new(),
                };
                (device_id, record)
            })
            .collect();
        // One row per logger with its series as two arrays: a three-week one-minute series
        // arrives in a fraction of the time 30,000 rows take.
        let series: Vec<(String, Vec<DateTime<Utc>>, Vec<f64>)> = sqlx::query_as(concat!(
            "SELECT r.device_id, array_agg(r.ts ORDER BY r.ts), array_agg(r.temp_c ORDER BY r.ts) ",
            shipment_readings_from!(),
            " GROUP BY r.device_id"
        ))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        for (device, times, temps) in series {
            if let Some(l) = loggers.get_mut(&device) {
                l.points = times
                    .into_iter()
                    .zip(temps)
                    .map(|(ts, temp_c)| Point { ts, temp_c })
                    .collect();
            }
        }
        let events: Vec<(String, DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT e.device_id, e.ts, e.kind
             FROM shipment_devices a
             JOIN device_events e
               ON e.tenant_id = a.tenant_id AND e.device_id = a.device_id
              AND e.kind IN ('defrost_start', 'defrost_end')
              AND e.ts >= a.assigned_from - interval '1 hour'
              AND (a.assigned_to IS NULL OR e.ts < a.assigned_to)
             WHERE a.tenant_id = $1 AND a.shipment_id = $2
             ORDER BY e.device_id, e.ts",
        )
        .bind(tenant.as_str())
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let mut device_events: BTreeMap<String, Vec<DeviceEvent>> = BTreeMap::new();
        for (device, ts, kind) in events {
            if let Ok(kind) = kind.parse() {
                device_events
                    .entry(device)
                    .or_default()
                    .push(DeviceEvent { ts, kind });
            }
        }
        for (device, events) in device_events {
            if let Some(l) = loggers.get_mut(&device) {
                l.defrosts = coldchain_domain::event::defrost_windows(&events);
            }
        }
        let events = crate::journey::journey_events(&mut tx, tenant.as_str(), id).await?;
        tx.commit().await?;
        Ok(ShipmentRecord {
            shipment,
            profile,
            loggers: loggers.into_values().collect(),
            events,
        })
    }
}
