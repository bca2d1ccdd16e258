//! Alerts in the database: the engine's verdicts written in the same transaction as the
//! readings that caused them, the operators' acknowledgements and resolutions, and the
//! append-only history of both.
//!
//! After a batch, every (shipment, device) that received readings is re-evaluated from the
//! engine's restart point (the last reading at which nothing was in progress before the
//! earliest new one): in-order data re-reads a handful of readings, a late upload re-reads
//! the window it lands in. Work on one shipment is serialised with an advisory lock, so
//! several ingest instances may take any message.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use coldchain_domain::AlertKind;
use coldchain_domain::excursion::{
    Point, Rules, Series, Side, TemperatureAlert, TimeSpan, excursion_budget, mkt_exceeded_at,
    temperature_alerts,
};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::profiles::profile_in;
use crate::{Store, StoreError};

/// The actor the rules act as in the history.
pub const ENGINE: &str = "engine";

/// Channel notified (with the history seq) whenever an alert changes.
pub const ALERTS_CHANNEL: &str = "coldchain_alerts";

/// Serialises appends to the history so that seq order is commit order.
const EVENT_LOG_LOCK: i64 = 0x636f_6c64_6368_6e01;

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Alert {
    pub id: Uuid,
    pub shipment_id: Uuid,
    /// The logger; absent for alerts about the shipment as a whole.
    pub device_id: Option<String>,
    pub kind: String,
    pub severity: String,
    /// open, acknowledged or resolved.
    pub status: String,
    /// Event time the trouble started.
    pub started_at: DateTime<Utc>,
    /// Event time it qualified as an alert (started_at + the profile's alert delay).
    pub opened_at: DateTime<Utc>,
    /// Event time it ended (the first reading back inside the band by the margin).
    pub ended_at: Option<DateTime<Utc>>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub peak_c: Option<f64>,
    pub out_of_band_s: Option<i64>,
    pub area_c_min: Option<f64>,
    /// Late readings showed it never met the rule.
    pub retracted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! alert_columns {
    () => {
        " id, shipment_id, NULLIF(device_id, '') AS device_id, kind, severity, status, \
         started_at, opened_at, ended_at, cleared_at, peak_c, out_of_band_s, area_c_min, \
         retracted, created_at, updated_at "
    };
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HistoryEntry {
    pub seq: i64,
    pub alert_id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub note: String,
    /// The alert as it was after this change.
    pub snapshot: serde_json::Value,
}

/// Filters of the alert listing.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<String>,
    pub kind: Option<AlertKind>,
    pub severity: Option<String>,
    pub shipment: Option<Uuid>,
    /// Started at or after / before (event time).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub include_retracted: bool,
}

/// Where an alert listing resumes: after this (started_at, id).
pub type AlertCursor = (DateTime<Utc>, Uuid);

/// Readings newly stored for one device by a batch.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Arrived {
    pub tenant: String,
    pub device: String,
    pub inserted: i64,
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
}

/// An alert row as the engine compares it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Existing {
    id: Uuid,
    #[sqlx(try_from = "String")]
    kind: AlertKind,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    cleared_at: Option<DateTime<Utc>>,
    opened_at: DateTime<Utc>,
    peak_c: Option<f64>,
    out_of_band_s: Option<i64>,
    area_c_min: Option<f64>,
    retracted: bool,
}

/// What the engine found for one condition.
#[derive(Debug, Clone, PartialEq)]
struct Finding {
    kind: AlertKind,
    severity: &'static str,
    started_at: DateTime<Utc>,
    opened_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    cleared_at: Option<DateTime<Utc>>,
    peak_c: Option<f64>,
    out_of_band_s: Option<i64>,
    area_c_min: Option<f64>,
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// What a logger reports that the engine watches. The door and the battery run through the
/// same engine as the temperature: a door open is a value above a band, a low battery one
/// below it, each with its own delay and clearing rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Signal {
    Temperature,
    /// 1 while the door is open, 0 when shut.
    Door,
    Battery,
}

impl Signal {
    const ALL: [Signal; 3] = [Signal::Temperature, Signal::Door, Signal::Battery];

    fn kinds(self) -> &'static [AlertKind] {
        match self {
            Signal::Temperature => &[AlertKind::TemperatureHigh, AlertKind::TemperatureLow],
            Signal::Door => &[AlertKind::DoorOpenTooLong],
            Signal::Battery => &[AlertKind::BatteryLow],
        }
    }

    fn kind(self, side: Side) -> AlertKind {
        match (self, side) {
            (Signal::Temperature, Side::High) => AlertKind::TemperatureHigh,
            (Signal::Temperature, Side::Low) => AlertKind::TemperatureLow,
            (Signal::Door, _) => AlertKind::DoorOpenTooLong,
            (Signal::Battery, _) => AlertKind::BatteryLow,
        }
    }

    fn side(kind: AlertKind) -> Option<(Signal, Side)> {
        Some(match kind {
            AlertKind::TemperatureHigh => (Signal::Temperature, Side::High),
            AlertKind::TemperatureLow => (Signal::Temperature, Side::Low),
            AlertKind::DoorOpenTooLong => (Signal::Door, Side::High),
            AlertKind::BatteryLow => (Signal::Battery, Side::Low),
            _ => return None,
        })
    }

    /// The engine's rules for this signal, from the temperature rules and the profile.
    fn rules(self, temperature: &Rules, profile: &coldchain_domain::ProductProfile) -> Rules {
        match self {
            Signal::Temperature => temperature.clone(),
            // Open (1) is above the band; shut (0) clears at once.
            Signal::Door => Rules {
                min_c: -1.0,
                max_c: 0.5,
                alert_delay: profile.door_open_limit,
                clear_margin_c: 0.0,
                clear_delay: Duration::zero(),
                max_gap: temperature.max_gap,
                muted: Vec::new(),
            },
            // Low at once; cleared by a battery 5 points above the threshold (a new one).
            Signal::Battery => Rules {
                min_c: profile.battery_low_pct,
                max_c: f64::MAX,
                alert_delay: Duration::zero(),
                clear_margin_c: 5.0,
                clear_delay: Duration::zero(),
                max_gap: temperature.max_gap,
                muted: Vec::new(),
            },
        }
    }
}

impl Finding {
    fn of(signal: Signal, a: &TemperatureAlert) -> Self {
        let temperature = signal == Signal::Temperature;
        Finding {
            kind: signal.kind(a.side),
            severity: "warning",
            started_at: a.start,
            opened_at: a.opened_at,
            ended_at: a.end,
            cleared_at: a.cleared_at,
            peak_c: temperature.then_some(a.peak_c),
            out_of_band_s: (signal != Signal::Battery).then(|| a.out_of_band.num_seconds()),
            area_c_min: temperature.then(|| round(a.area_c_min)),
        }
    }
}

impl Existing {
    fn same_as(&self, f: &Finding) -> bool {
        !self.retracted
            && self.ended_at == f.ended_at
            && self.cleared_at == f.cleared_at
            && self.opened_at == f.opened_at
            && self.peak_c == f.peak_c
            && self.out_of_band_s == f.out_of_band_s
            && self.area_c_min == f.area_c_min
    }

    /// The engine's view of an alert of `signal` (for the restart point and for keeping
    /// those before it).
    fn as_engine_alert(&self, signal: Signal) -> Option<TemperatureAlert> {
        let (of, side) = Signal::side(self.kind)?;
        if of != signal || self.retracted {
            return None;
        }
        Some(TemperatureAlert {
            side,
            start: self.started_at,
            opened_at: self.opened_at,
            end: self.ended_at,
            cleared_at: self.cleared_at,
            peak_c: self.peak_c.unwrap_or_default(),
            out_of_band: Duration::seconds(self.out_of_band_s.unwrap_or_default()),
            area_c_min: self.area_c_min.unwrap_or_default(),
        })
    }
}

/// Each subject's defrost windows (muting), from its logger's events around the assignment.
async fn defrost_windows(
    tx: &mut PgConnection,
    subjects: &[SubjectRow],
) -> Result<HashMap<i64, Vec<(DateTime<Utc>, DateTime<Utc>)>>, StoreError> {
    let columns = SubjectColumns::of(subjects);
    let rows: Vec<(i64, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT x.i, e.ts, e.kind
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
              WITH ORDINALITY AS x(t, d, f, u, i)
         JOIN device_events e ON e.tenant_id = x.t AND e.device_id = x.d
              AND e.kind IN ('defrost_start', 'defrost_end')
              AND e.ts >= x.f - interval '1 hour' AND (x.u IS NULL OR e.ts < x.u)
         ORDER BY x.i, e.ts",
    )
    .bind(&columns.tenants)
    .bind(&columns.devices)
    .bind(&columns.from)
    .bind(&columns.to)
    .fetch_all(&mut *tx)
    .await?;
    let mut events: HashMap<i64, Vec<coldchain_domain::DeviceEvent>> = HashMap::new();
    for (i, ts, kind) in rows {
        if let Ok(kind) = kind.parse() {
            events
                .entry(i)
                .or_default()
                .push(coldchain_domain::DeviceEvent { ts, kind });
        }
    }
    Ok(events
        .into_iter()
        .map(|(i, e)| (i, coldchain_domain::event::defrost_windows(&e)))
        .collect())
}

/// One shipment is judged by one transaction at a time (across ingest instances, the
/// sweeper and journey events); keys are taken in one order so two transactions cannot
/// deadlock. Take it before any row lock on the shipment: judging inserts alerts, whose
/// foreign key share-locks the shipment's row.
pub(crate) async fn lock_shipments(
    tx: &mut PgConnection,
    shipments: &[(&str, Uuid)],
) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(k) FROM (
             SELECT DISTINCT hashtextextended(t || '/' || s::text, 0) AS k
             FROM unnest($1::text[], $2::uuid[]) AS x(t, s)) keys
         ORDER BY k",
    )
    .bind(shipments.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(shipments.iter().map(|(_, s)| *s).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One (shipment, device) that received readings, with what judging it needs.
#[derive(sqlx::FromRow)]
struct SubjectRow {
    tenant_id: String,
    device_id: String,
    shipment_id: Uuid,
    assigned_from: DateTime<Utc>,
    assigned_to: Option<DateTime<Utc>>,
    profile_id: String,
    reading_interval_s: i32,
    /// The earliest new reading inside the assignment.
    earliest: DateTime<Utc>,
}

/// Subjects laid out as the columns the UNNEST queries take.
struct SubjectColumns<'a> {
    tenants: Vec<&'a str>,
    devices: Vec<&'a str>,
    from: Vec<DateTime<Utc>>,
    to: Vec<Option<DateTime<Utc>>>,
}

impl<'a> SubjectColumns<'a> {
    fn of(subjects: &'a [SubjectRow]) -> Self {
        Self {
            tenants: subjects.iter().map(|s| s.tenant_id.as_str()).collect(),
            devices: subjects.iter().map(|s| s.device_id.as_str()).collect(),
            from: subjects.iter().map(|s| s.assigned_from).collect(),
            to: subjects.iter().map(|s| s.assigned_to).collect(),
        }
    }
}

/// One (shipment, device) to re-evaluate.
struct Subject<'a> {
    tenant: &'a str,
    shipment: Uuid,
    device: &'a str,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
}

/// One signal's rules and earlier alerts, per subject.
struct SignalWork<'p> {
    signal: Signal,
    rules: Vec<Option<(Rules, &'p coldchain_domain::ProductProfile)>>,
    previous: Vec<Vec<TemperatureAlert>>,
}

/// The readings from the earliest of a subject's restart points on, with each signal's
/// restart point (absent: none, re-read from the assignment's start).
#[derive(sqlx::FromRow)]
struct TailRow {
    i: i64,
    temperature_from: Option<DateTime<Utc>>,
    door_from: Option<DateTime<Utc>>,
    battery_from: Option<DateTime<Utc>>,
    ts: Option<DateTime<Utc>>,
    temp_c: Option<f64>,
    door_open: Option<bool>,
    battery_pct: Option<f64>,
}

/// Re-evaluates the alerts of every shipment that the newly stored readings belong to.
/// Runs inside the batch's transaction, with a fixed number of queries per batch however
/// many devices it touched (plus writes where something changed). Returns how many alert
/// changes it recorded.
pub(crate) async fn evaluate(
    tx: &mut PgConnection,
    arrived: &[Arrived],
    messages: &[Message],
    before: &LastReadings,
) -> Result<u64, StoreError> {
    if arrived.is_empty() {
        return Ok(0);
    }
    let subjects: Vec<SubjectRow> = sqlx::query_as(
        "SELECT a.tenant AS tenant_id, a.device AS device_id, sd.shipment_id, sd.assigned_from,
                sd.assigned_to, s.profile_id, d.reading_interval_s,
                GREATEST(a.earliest, sd.assigned_from) AS earliest
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
              AS a(tenant, device, earliest, latest)
         JOIN shipment_devices sd ON sd.tenant_id = a.tenant AND sd.device_id = a.device
              AND sd.assigned_from <= a.latest
              AND (sd.assigned_to IS NULL OR sd.assigned_to > a.earliest)
         JOIN shipments s ON s.tenant_id = sd.tenant_id AND s.id = sd.shipment_id
         JOIN devices d ON d.tenant_id = sd.tenant_id AND d.id = sd.device_id
         WHERE s.profile_id IS NOT NULL
         ORDER BY a.tenant, sd.shipment_id, a.device",
    )
    .bind(
        arrived
            .iter()
            .map(|a| a.tenant.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        arrived
            .iter()
            .map(|a| a.device.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(arrived.iter().map(|a| a.earliest).collect::<Vec<_>>())
    .bind(arrived.iter().map(|a| a.latest).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    if subjects.is_empty() {
        return Ok(0);
    }
    let tenants: Vec<&str> = subjects.iter().map(|s| s.tenant_id.as_str()).collect();
    let shipments: Vec<Uuid> = subjects.iter().map(|s| s.shipment_id).collect();
    let devices: Vec<&str> = subjects.iter().map(|s| s.device_id.as_str()).collect();

    let touched_now: Vec<(&str, Uuid)> = tenants
        .iter()
        .copied()
        .zip(shipments.iter().copied())
        .collect();
    lock_shipments(tx, &touched_now).await?;

    let mut profiles: HashMap<(String, String), Option<coldchain_domain::ProductProfile>> =
        HashMap::new();
    for s in &subjects {
        let key = (s.tenant_id.clone(), s.profile_id.clone());
        if let std::collections::hash_map::Entry::Vacant(slot) = profiles.entry(key) {
            let tenant = coldchain_domain::TenantId::parse(s.tenant_id.clone()).map_err(|e| {
                StoreError::Invalid {
                    field: "tenant".into(),
                    message: e.to_string(),
                }
            })?;
            slot.insert(profile_in(&mut *tx, &tenant, &s.profile_id).await?);
        }
    }

    let mut existing: Vec<Vec<Existing>> = (0..subjects.len()).map(|_| Vec::new()).collect();
    let rows: Vec<ExistingWithIndex> = sqlx::query_as(
        "SELECT x.i, al.id, al.kind, al.started_at, al.ended_at, al.cleared_at, al.opened_at,
                al.peak_c, al.out_of_band_s, al.area_c_min, al.retracted
         FROM unnest($1::text[], $2::uuid[], $3::text[]) WITH ORDINALITY AS x(t, s, d, i)
         JOIN alerts al ON al.tenant_id = x.t AND al.shipment_id = x.s AND al.device_id = x.d
         ORDER BY x.i, al.started_at, al.kind",
    )
    .bind(&tenants)
    .bind(&shipments)
    .bind(&devices)
    .fetch_all(&mut *tx)
    .await?;
    for row in rows {
        existing[(row.i - 1) as usize].push(row.alert);
    }

    let defrosts = defrost_windows(tx, &subjects).await?;
    let mut docks: HashMap<(String, Uuid), Vec<TimeSpan>> = HashMap::new();
    for (key, window) in crate::journey::dock_windows_of(tx, &touched_now).await? {
        docks.entry(key).or_default().push(window);
    }
    let rules: Vec<Option<(Rules, &coldchain_domain::ProductProfile)>> = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| {
            profiles[&(s.tenant_id.clone(), s.profile_id.clone())]
                .as_ref()
                .map(|p| {
                    let rules = Rules::for_logger(
                        p,
                        Duration::seconds(i64::from(s.reading_interval_s)),
                        defrosts.get(&(i as i64 + 1)).map_or(&[], Vec::as_slice),
                        docks
                            .get(&(s.tenant_id.clone(), s.shipment_id))
                            .map_or(&[], Vec::as_slice),
                    );
                    (rules, p)
                })
        })
        .collect();
    let mut changes = 0;
    let per_signal: Vec<SignalWork> = Signal::ALL
        .into_iter()
        .map(|signal| {
            let signal_rules = rules
                .iter()
                .map(|r| r.as_ref().map(|(r, p)| (signal.rules(r, p), *p)))
                .collect();
            let previous = existing
                .iter()
                .map(|e| e.iter().filter_map(|e| e.as_engine_alert(signal)).collect())
                .collect();
            SignalWork {
                signal,
                rules: signal_rules,
                previous,
            }
        })
        .collect();
    let tails = tails(tx, &subjects, &per_signal).await?;
    for SignalWork {
        signal,
        rules: signal_rules,
        previous,
    } in &per_signal
    {
        for (i, s) in subjects.iter().enumerate() {
            let Some((rules, profile)) = &signal_rules[i] else {
                continue;
            };
            let Some(tail) = tails.get(&(i as i64 + 1, *signal)) else {
                continue;
            };
            let subject = Subject {
                tenant: &s.tenant_id,
                shipment: s.shipment_id,
                device: &s.device_id,
                from: s.assigned_from,
                to: s.assigned_to,
            };
            changes += judge(
                tx,
                *signal,
                &subject,
                rules,
                profile,
                &existing[i],
                &previous[i],
                tail,
            )
            .await?;
        }
    }
    let touched: Vec<(&str, Uuid)> = {
        let mut t: Vec<(&str, Uuid)> = subjects
            .iter()
            .map(|s| (s.tenant_id.as_str(), s.shipment_id))
            .collect();
        t.dedup();
        t
    };
    changes += offline_in_arrival_order(tx, &touched, messages, before).await?;
    Ok(changes)
}

/// One message of a batch: its device and newest event time.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub tenant: String,
    pub device: String,
    pub newest: DateTime<Utc>,
}

/// Each device's newest event time before the batch.
pub(crate) type LastReadings = HashMap<(String, String), DateTime<Utc>>;

/// Where the batch's devices stood before it (read before its readings are written).
pub(crate) async fn last_readings(
    tx: &mut PgConnection,
    messages: &[Message],
) -> Result<LastReadings, StoreError> {
    if messages.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT ds.tenant_id, ds.device_id, ds.last_reading_ts
         FROM device_state ds
         JOIN (SELECT DISTINCT * FROM unnest($1::text[], $2::text[])) AS x(t, d)
           ON ds.tenant_id = x.t AND ds.device_id = x.d",
    )
    .bind(
        messages
            .iter()
            .map(|m| m.tenant.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        messages
            .iter()
            .map(|m| m.device.as_str())
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|(t, d, ts)| ((t, d), ts)).collect())
}

/// A logger of a touched shipment, for the offline rule.
#[derive(Debug, sqlx::FromRow)]
struct RosterRow {
    tenant_id: String,
    shipment_id: Uuid,
    device_id: String,
    assigned_from: DateTime<Utc>,
    assigned_to: Option<DateTime<Utc>>,
    offline_after_s: i32,
    last_reading_ts: Option<DateTime<Utc>>,
    open_alert: Option<Uuid>,
    open_since: Option<DateTime<Utc>>,
}

/// The offline rule replayed over the batch's messages in the order they arrived: after each
/// message, a shipment's clock is the newest event time any of its loggers has sent; a
/// logger whose newest lags that clock by `offline_after` is offline (from its last reading);
/// one that has caught up again ends its alert. Arrival order decides, batch boundaries do
/// not. (A logger whose clock runs more than `offline_after` behind the others of its
/// shipment looks the same and is reported too.)
async fn offline_in_arrival_order(
    tx: &mut PgConnection,
    shipments: &[(&str, Uuid)],
    messages: &[Message],
    before: &LastReadings,
) -> Result<u64, StoreError> {
    if shipments.is_empty() {
        return Ok(0);
    }
    let roster: Vec<RosterRow> = sqlx::query_as(
        "SELECT sd.tenant_id, sd.shipment_id, sd.device_id, sd.assigned_from, sd.assigned_to,
                p.offline_after_s, ds.last_reading_ts, a.id AS open_alert, a.started_at AS open_since
         FROM unnest($1::text[], $2::uuid[]) AS s(t, id)
         JOIN shipments sh ON sh.tenant_id = s.t AND sh.id = s.id
              AND sh.status NOT IN ('delivered', 'cancelled')
         JOIN product_profiles p ON p.tenant_id = sh.tenant_id AND p.id = sh.profile_id
         JOIN shipment_devices sd ON sd.tenant_id = s.t AND sd.shipment_id = s.id
         LEFT JOIN device_state ds ON ds.tenant_id = sd.tenant_id AND ds.device_id = sd.device_id
         LEFT JOIN alerts a ON a.tenant_id = sd.tenant_id AND a.shipment_id = sd.shipment_id
              AND a.device_id = sd.device_id AND a.kind = 'sensor_offline'
              AND a.ended_at IS NULL AND NOT a.retracted
         ORDER BY sd.tenant_id, sd.shipment_id, sd.device_id",
    )
    .bind(shipments.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(shipments.iter().map(|(_, s)| *s).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;

    // Start from where each logger stood before the batch.
    let mut last: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    for r in &roster {
        let key = (r.tenant_id.clone(), r.device_id.clone());
        let was = before.get(&key).copied().or(
            // Not in the batch: its state is unchanged by it.
            if messages
                .iter()
                .any(|m| m.tenant == r.tenant_id && m.device == r.device_id)
            {
                None
            } else {
                r.last_reading_ts
            },
        );
        if let Some(ts) = was {
            last.insert(key, ts);
        }
    }
    // Open alerts: (shipment, device) -> (id, since); opened here: (shipment, device) -> since.
    let mut open: HashMap<(Uuid, String), (Option<Uuid>, DateTime<Utc>)> = roster
        .iter()
        .filter_map(|r| {
            Some((
                (r.shipment_id, r.device_id.clone()),
                (r.open_alert, r.open_since?),
            ))
        })
        .collect();
    let mut to_open: Vec<(&RosterRow, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut to_end: Vec<(&RosterRow, Option<Uuid>, DateTime<Utc>)> = Vec::new();
    // Who rides where, looked up once rather than per message.
    let mut shipments_of: HashMap<(&str, &str), Vec<Uuid>> = HashMap::new();
    let mut members_of: HashMap<(&str, Uuid), Vec<&RosterRow>> = HashMap::new();
    for r in &roster {
        shipments_of
            .entry((&r.tenant_id, &r.device_id))
            .or_default()
            .push(r.shipment_id);
        members_of
            .entry((&r.tenant_id, r.shipment_id))
            .or_default()
            .push(r);
    }
    for m in messages {
        let key = (m.tenant.clone(), m.device.clone());
        let newest = last.get(&key).map_or(m.newest, |t| (*t).max(m.newest));
        last.insert(key, newest);
        let Some(shipments) = shipments_of.get(&(m.tenant.as_str(), m.device.as_str())) else {
            continue;
        };
        for shipment in shipments {
            let members = &members_of[&(m.tenant.as_str(), *shipment)];
            let Some(clock) = members
                .iter()
                .filter_map(|r| last.get(&(r.tenant_id.clone(), r.device_id.clone())))
                .max()
                .copied()
            else {
                continue;
            };
            for &r in members {
                if r.assigned_from > clock || r.assigned_to.is_some_and(|to| to <= clock) {
                    continue;
                }
                let Some(seen) = last.get(&(r.tenant_id.clone(), r.device_id.clone())) else {
                    continue;
                };
                let after = Duration::seconds(i64::from(r.offline_after_s));
                let lagging = clock - *seen >= after;
                let key = (r.shipment_id, r.device_id.clone());
                match (lagging, open.get(&key).copied()) {
                    (true, None) => {
                        open.insert(key, (None, *seen));
                        to_open.push((r, *seen, clock));
                    }
                    // `id` is absent when it was opened within this batch: both are recorded.
                    (false, Some((id, since))) => {
                        open.remove(&key);
                        to_end.push((r, id, since));
                    }
                    _ => {}
                }
            }
        }
    }

    let mut changes = 0;
    let mut opened_ids: HashMap<(Uuid, String, DateTime<Utc>), Uuid> = HashMap::new();
    for (r, since, clock) in to_open {
        let subject = Subject {
            tenant: &r.tenant_id,
            shipment: r.shipment_id,
            device: &r.device_id,
            from: since,
            to: None,
        };
        let after = Duration::seconds(i64::from(r.offline_after_s));
        let finding = Finding {
            kind: AlertKind::SensorOffline,
            severity: "warning",
            started_at: since,
            opened_at: since + after,
            ended_at: None,
            cleared_at: None,
            peak_c: None,
            out_of_band_s: None,
            area_c_min: None,
        };
        let id = insert_alert(tx, &subject, &finding).await?;
        let note = format!(
            "no reading since {} while the shipment's other loggers report up to {}",
            since.to_rfc3339(),
            clock.to_rfc3339()
        );
        append(tx, &r.tenant_id, id, ENGINE, "opened", &note).await?;
        opened_ids.insert((r.shipment_id, r.device_id.clone(), since), id);
        changes += 1;
    }
    for (r, id, since) in to_end {
        let Some(id) = id.or_else(|| {
            opened_ids
                .get(&(r.shipment_id, r.device_id.clone(), since))
                .copied()
        }) else {
            continue;
        };
        let resumed: DateTime<Utc> = sqlx::query_scalar(
            "SELECT COALESCE(min(ts), $3) FROM readings
             WHERE tenant_id = $1 AND device_id = $2 AND ts > $3",
        )
        .bind(&r.tenant_id)
        .bind(&r.device_id)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE alerts SET ended_at = $3, cleared_at = $3, status = 'resolved',
                    updated_at = now()
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&r.tenant_id)
        .bind(id)
        .bind(resumed)
        .execute(&mut *tx)
        .await?;
        let note = format!(
            "data flows again; readings resume at {}",
            resumed.to_rfc3339()
        );
        append(tx, &r.tenant_id, id, ENGINE, "ended", &note).await?;
        changes += 1;
    }
    Ok(changes)
}

/// A logger of a shipment under way and when anything last arrived from it.
#[derive(sqlx::FromRow)]
struct Silence {
    tenant_id: String,
    shipment_id: Uuid,
    device_id: String,
    last_reading_ts: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    offline_after_s: i32,
}

/// The wall-clock side of the offline rule, for loggers that fall silent alone: nothing has
/// arrived from them for `offline_after`. Data arriving again ends the alert (in the batch
/// that brings it).
async fn sweep(
    tx: &mut PgConnection,
    shipments: &[(&str, Uuid)],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let silent: Vec<Silence> = sqlx::query_as(
        "SELECT sd.tenant_id, sd.shipment_id, sd.device_id, ds.last_reading_ts,
                ds.last_seen_at, p.offline_after_s
         FROM unnest($1::text[], $2::uuid[]) AS s(t, id)
         JOIN shipments sh ON sh.tenant_id = s.t AND sh.id = s.id
              AND sh.status NOT IN ('delivered', 'cancelled')
         JOIN product_profiles p ON p.tenant_id = sh.tenant_id AND p.id = sh.profile_id
         JOIN shipment_devices sd ON sd.tenant_id = s.t AND sd.shipment_id = s.id
              AND sd.assigned_from <= $3 AND (sd.assigned_to IS NULL OR sd.assigned_to > $3)
         JOIN device_state ds ON ds.tenant_id = sd.tenant_id AND ds.device_id = sd.device_id
         WHERE ds.last_seen_at <= $3 - make_interval(secs => p.offline_after_s)
           AND NOT EXISTS (
               SELECT 1 FROM alerts a
               WHERE a.tenant_id = sd.tenant_id AND a.shipment_id = sd.shipment_id
                 AND a.device_id = sd.device_id AND a.kind = 'sensor_offline'
                 AND a.ended_at IS NULL AND NOT a.retracted)
         ORDER BY 1, 2, 3",
    )
    .bind(shipments.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(shipments.iter().map(|(_, s)| *s).collect::<Vec<_>>())
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut opened = 0;
    for s in silent {
        let subject = Subject {
            tenant: &s.tenant_id,
            shipment: s.shipment_id,
            device: &s.device_id,
            from: s.last_reading_ts,
            to: None,
        };
        let finding = Finding {
            kind: AlertKind::SensorOffline,
            severity: "warning",
            started_at: s.last_reading_ts,
            opened_at: s.last_reading_ts + Duration::seconds(i64::from(s.offline_after_s)),
            ended_at: None,
            cleared_at: None,
            peak_c: None,
            out_of_band_s: None,
            area_c_min: None,
        };
        // Keyed by its start: a silence already reported (and ended) is not reported again.
        let Some(id) = insert_alert_if_new(tx, &subject, &finding).await? else {
            continue;
        };
        let note = format!(
            "nothing received since {} (last reading {})",
            s.last_seen_at.to_rfc3339(),
            s.last_reading_ts.to_rfc3339()
        );
        append(tx, &s.tenant_id, id, ENGINE, "opened", &note).await?;
        opened += 1;
    }
    Ok(opened)
}

#[derive(sqlx::FromRow)]
struct ExistingWithIndex {
    i: i64,
    #[sqlx(flatten)]
    alert: Existing,
}

/// Where each subject's re-evaluation starts and the readings from there.
struct Tail {
    /// Whether a restart point was found (else the whole assignment is re-read).
    restarted: bool,
    since: DateTime<Utc>,
    points: Vec<Point>,
}

/// A `tstzmultirange` literal of `(from, to, to inclusive)` ranges (`to` absent: unbounded).
fn multirange(
    ranges: impl Iterator<Item = (DateTime<Utc>, Option<DateTime<Utc>>, bool)>,
) -> String {
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let parts: Vec<String> = ranges
        .map(|(from, to, inclusive)| match to {
            Some(to) => format!(
                "[\"{}\",\"{}\"{}",
                fmt(from),
                fmt(to),
                if inclusive { ']' } else { ')' }
            ),
            None => format!("[\"{}\",)", fmt(from)),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// The engine's restart point (see `coldchain_domain::excursion::restart_point`) of every
/// subject for every signal, found in the database in one query: for each signal, the latest
/// reading before the earliest new one whose value is in band, outside every alert of the
/// signal from its start to the reading that cleared it, and not muted; and the readings from
/// the earliest of them on, which each signal then reads from its own.
async fn tails(
    tx: &mut PgConnection,
    subjects: &[SubjectRow],
    per_signal: &[SignalWork<'_>],
) -> Result<HashMap<(i64, Signal), Tail>, StoreError> {
    let of = |signal: Signal| {
        per_signal
            .iter()
            .find(|w| w.signal == signal)
            .expect("every signal is judged")
    };
    // Per subject, as multiranges (PostgreSQL 14+): a signal's alerts from start to the
    // reading that cleared them (open-ended while open); the temperature's muted windows.
    let spans = |signal: Signal| -> Vec<String> {
        of(signal)
            .previous
            .iter()
            .map(|alerts| multirange(alerts.iter().map(|a| (a.start, a.cleared_at, true))))
            .collect()
    };
    let temperature_rules = &of(Signal::Temperature).rules;
    let battery_rules = &of(Signal::Battery).rules;
    let muted: Vec<String> = temperature_rules
        .iter()
        .map(|r| {
            multirange(
                r.as_ref()
                    .map_or(&[][..], |(r, _)| &r.muted[..])
                    .iter()
                    .map(|(from, to)| (*from, Some(*to), false)),
            )
        })
        .collect();
    let limit = |rules: &Vec<Option<(Rules, &coldchain_domain::ProductProfile)>>,
                 f: fn(&Rules) -> f64|
     -> Vec<f64> {
        rules
            .iter()
            .map(|r| r.as_ref().map_or(f64::NAN, |(r, _)| f(r)))
            .collect()
    };
    let columns = SubjectColumns::of(subjects);
    let rows: Vec<TailRow> = sqlx::query_as(
        "SELECT x.i, t.found AS temperature_from, dr.found AS door_from,
                b.found AS battery_from, r.ts, r.temp_c, r.door_open, r.battery_pct
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[],
                     $5::timestamptz[], $6::float8[], $7::float8[], $8::float8[],
                     $9::text[]::tstzmultirange[], $10::text[]::tstzmultirange[],
                     $11::text[]::tstzmultirange[], $12::text[]::tstzmultirange[])
              WITH ORDINALITY AS x(t, d, f, u, e, lo, hi, battery_low, temperature_spans,
                                   muted, door_spans, battery_spans, i)
         CROSS JOIN LATERAL (
             SELECT (SELECT rr.ts FROM readings rr
                     WHERE rr.tenant_id = x.t AND rr.device_id = x.d
                       AND rr.ts >= x.f AND rr.ts < x.e AND rr.temp_c BETWEEN x.lo AND x.hi
                       AND NOT (x.temperature_spans @> rr.ts) AND NOT (x.muted @> rr.ts)
                     ORDER BY rr.ts DESC LIMIT 1) AS found
         ) t
         CROSS JOIN LATERAL (
             SELECT (SELECT rr.ts FROM readings rr
                     WHERE rr.tenant_id = x.t AND rr.device_id = x.d
                       AND rr.ts >= x.f AND rr.ts < x.e AND rr.door_open = false
                       AND NOT (x.door_spans @> rr.ts)
                     ORDER BY rr.ts DESC LIMIT 1) AS found
         ) dr
         CROSS JOIN LATERAL (
             SELECT (SELECT rr.ts FROM readings rr
                     WHERE rr.tenant_id = x.t AND rr.device_id = x.d
                       AND rr.ts >= x.f AND rr.ts < x.e AND rr.battery_pct >= x.battery_low
                       AND NOT (x.battery_spans @> rr.ts)
                     ORDER BY rr.ts DESC LIMIT 1) AS found
         ) b
         LEFT JOIN LATERAL (
             SELECT rr.ts, rr.temp_c, rr.door_open, rr.battery_pct FROM readings rr
             WHERE rr.tenant_id = x.t AND rr.device_id = x.d
               AND rr.ts >= LEAST(COALESCE(t.found, x.f), COALESCE(dr.found, x.f),
                                  COALESCE(b.found, x.f))
               AND (x.u IS NULL OR rr.ts < x.u)
             ORDER BY rr.ts
         ) r ON true
         ORDER BY x.i, r.ts",
    )
    .bind(&columns.tenants)
    .bind(&columns.devices)
    .bind(&columns.from)
    .bind(&columns.to)
    .bind(subjects.iter().map(|s| s.earliest).collect::<Vec<_>>())
    .bind(limit(temperature_rules, |r| r.min_c))
    .bind(limit(temperature_rules, |r| r.max_c))
    .bind(limit(battery_rules, |r| r.min_c))
    .bind(spans(Signal::Temperature))
    .bind(&muted)
    .bind(spans(Signal::Door))
    .bind(spans(Signal::Battery))
    .fetch_all(&mut *tx)
    .await?;

    let mut tails: HashMap<(i64, Signal), Tail> = HashMap::new();
    for row in rows {
        let from = subjects[(row.i - 1) as usize].assigned_from;
        for (signal, found, value) in [
            (Signal::Temperature, row.temperature_from, row.temp_c),
            (
                Signal::Door,
                row.door_from,
                row.door_open.map(|open| if open { 1.0 } else { 0.0 }),
            ),
            (Signal::Battery, row.battery_from, row.battery_pct),
        ] {
            let tail = tails.entry((row.i, signal)).or_insert(Tail {
                restarted: found.is_some(),
                since: found.unwrap_or(from),
                points: Vec::new(),
            });
            if let (Some(ts), Some(value)) = (row.ts, value)
                && ts >= tail.since
            {
                tail.points.push(Point { ts, temp_c: value });
            }
        }
    }
    Ok(tails)
}

async fn points(
    tx: &mut PgConnection,
    s: &Subject<'_>,
    since: DateTime<Utc>,
) -> Result<Vec<Point>, StoreError> {
    let rows: Vec<(DateTime<Utc>, f64)> = sqlx::query_as(
        "SELECT ts, temp_c FROM readings
         WHERE tenant_id = $1 AND device_id = $2 AND ts >= $3
           AND ($4::timestamptz IS NULL OR ts < $4)
         ORDER BY ts",
    )
    .bind(s.tenant)
    .bind(s.device)
    .bind(since)
    .bind(s.to)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(ts, temp_c)| Point { ts, temp_c })
        .collect())
}

/// Judges one subject from its restart point and writes what changed.
#[allow(clippy::too_many_arguments)]
async fn judge(
    tx: &mut PgConnection,
    signal: Signal,
    s: &Subject<'_>,
    rules: &Rules,
    profile: &coldchain_domain::ProductProfile,
    existing: &[Existing],
    previous: &[TemperatureAlert],
    tail: &Tail,
) -> Result<u64, StoreError> {
    // Alerts before the restart point stand; the rest are recomputed.
    let mut findings: Vec<Finding> = previous
        .iter()
        .filter(|a| tail.restarted && a.start < tail.since)
        .map(|a| Finding::of(signal, a))
        .collect();
    let tail_series = Series::new(tail.points.iter().copied(), rules.max_gap);
    findings.extend(
        temperature_alerts(&tail_series, rules)
            .iter()
            .map(|a| Finding::of(signal, a)),
    );
    let mut changes = reconcile(tx, s, existing, &findings, signal.kinds(), tail.since).await?;
    if signal != Signal::Temperature {
        return Ok(changes);
    }

    // The budget and MKT depend on the whole trip; they can only move when the new data
    // holds out-of-band readings or lands before what they found.
    let cumulative = [AlertKind::ExcursionBudgetExhausted, AlertKind::MktOverLimit];
    let hot = tail.points.iter().any(|p| {
        !(rules.min_c..=rules.max_c).contains(&p.temp_c)
            || profile.mkt_limit_c.is_some_and(|l| p.temp_c > l)
    });
    let earlier = existing
        .iter()
        .any(|e| cumulative.contains(&e.kind) && !e.retracted && e.started_at >= tail.since);
    if hot || earlier {
        let whole = Series::new(points(tx, s, s.from).await?, rules.max_gap);
        let mut found = Vec::new();
        if let (_, Some(at)) = excursion_budget(&whole, rules, profile.excursion_budget) {
            found.push(Finding {
                kind: AlertKind::ExcursionBudgetExhausted,
                severity: "critical",
                started_at: at,
                opened_at: at,
                ended_at: None,
                cleared_at: None,
                peak_c: None,
                out_of_band_s: Some(profile.excursion_budget.num_seconds()),
                area_c_min: None,
            });
        }
        if let Some(limit) = profile.mkt_limit_c
            && let Some(at) = mkt_exceeded_at(&whole, profile.mkt_delta_h_kj_per_mol, limit)
        {
            found.push(Finding {
                kind: AlertKind::MktOverLimit,
                severity: "warning",
                started_at: at,
                opened_at: at,
                ended_at: None,
                cleared_at: None,
                peak_c: None,
                out_of_band_s: None,
                area_c_min: None,
            });
        }
        changes += reconcile(tx, s, existing, &found, &cumulative, s.from).await?;
    }
    Ok(changes)
}

/// Brings the alerts of `kinds` that start at or after `since` in line with `findings`:
/// new ones are opened, changed ones updated (ended, reopened), vanished ones retracted.
async fn reconcile(
    tx: &mut PgConnection,
    s: &Subject<'_>,
    existing: &[Existing],
    findings: &[Finding],
    kinds: &[AlertKind],
    since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut changes = 0;
    let by_key: HashMap<(AlertKind, DateTime<Utc>), &Existing> = existing
        .iter()
        .filter(|e| kinds.contains(&e.kind))
        .map(|e| ((e.kind, e.started_at), e))
        .collect();
    for f in findings {
        match by_key.get(&(f.kind, f.started_at)) {
            None => {
                let id = insert_alert(tx, s, f).await?;
                append(tx, s.tenant, id, ENGINE, "opened", &opened_note(f)).await?;
                if let Some(end) = f.ended_at {
                    append(tx, s.tenant, id, ENGINE, "ended", &ended_note(f.kind, end)).await?;
                }
                changes += 1;
            }
            Some(e) if e.same_as(f) => {}
            Some(e) => {
                update_alert(tx, s.tenant, e.id, f).await?;
                let (action, note) = match (e.retracted, e.ended_at, f.ended_at) {
                    (true, _, _) | (false, Some(_), None) => (
                        "reopened",
                        "later readings show the condition again".to_owned(),
                    ),
                    (false, None, Some(end)) => ("ended", ended_note(f.kind, end)),
                    _ => ("updated", "later readings changed its extent".to_owned()),
                };
                append(tx, s.tenant, e.id, ENGINE, action, &note).await?;
                changes += 1;
            }
        }
    }
    for e in by_key.values() {
        let still = findings
            .iter()
            .any(|f| f.kind == e.kind && f.started_at == e.started_at);
        if !still && !e.retracted && e.started_at >= since {
            sqlx::query(
                "UPDATE alerts SET retracted = true, status = 'resolved', updated_at = now()
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(s.tenant)
            .bind(e.id)
            .execute(&mut *tx)
            .await?;
            append(
                tx,
                s.tenant,
                e.id,
                ENGINE,
                "retracted",
                "late readings show the condition did not meet the rule",
            )
            .await?;
            changes += 1;
        }
    }
    Ok(changes)
}

fn opened_note(f: &Finding) -> String {
    let since = f.started_at.to_rfc3339();
    match (f.kind, f.peak_c) {
        (_, Some(peak)) => format!("out of band since {since}; peak {peak} °C"),
        (AlertKind::DoorOpenTooLong, _) => format!("door open since {since}"),
        (AlertKind::BatteryLow, _) => format!("battery low since {since}"),
        (AlertKind::ExcursionBudgetExhausted, _) => format!("budget used up at {since}"),
        _ => format!("since {since}"),
    }
}

fn ended_note(kind: AlertKind, end: DateTime<Utc>) -> String {
    let at = end.to_rfc3339();
    match kind {
        AlertKind::DoorOpenTooLong => format!("door shut at {at}"),
        AlertKind::BatteryLow => format!("battery back up at {at}"),
        _ => format!("back inside the band since {at}"),
    }
}

async fn insert_alert(
    tx: &mut PgConnection,
    s: &Subject<'_>,
    f: &Finding,
) -> Result<Uuid, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO alerts (tenant_id, shipment_id, device_id, kind, severity, status,
                             started_at, opened_at, ended_at, cleared_at, peak_c,
                             out_of_band_s, area_c_min)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $8::timestamptz IS NULL THEN 'open' ELSE 'resolved' END,
                 $6, $7, $8, $9, $10, $11, $12)
         RETURNING id",
    )
    .bind(s.tenant)
    .bind(s.shipment)
    .bind(s.device)
    .bind(f.kind.code())
    .bind(f.severity)
    .bind(f.started_at)
    .bind(f.opened_at)
    .bind(f.ended_at)
    .bind(f.cleared_at)
    .bind(f.peak_c)
    .bind(f.out_of_band_s)
    .bind(f.area_c_min)
    .fetch_one(&mut *tx)
    .await?)
}

/// [`insert_alert`], unless an alert with the same key exists: its id, or `None`.
async fn insert_alert_if_new(
    tx: &mut PgConnection,
    s: &Subject<'_>,
    f: &Finding,
) -> Result<Option<Uuid>, StoreError> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM alerts WHERE tenant_id = $1 AND shipment_id = $2
                        AND device_id = $3 AND kind = $4 AND started_at = $5)",
    )
    .bind(s.tenant)
    .bind(s.shipment)
    .bind(s.device)
    .bind(f.kind.code())
    .bind(f.started_at)
    .fetch_one(&mut *tx)
    .await?;
    if exists {
        return Ok(None);
    }
    insert_alert(tx, s, f).await.map(Some)
}

async fn update_alert(
    tx: &mut PgConnection,
    tenant: &str,
    id: Uuid,
    f: &Finding,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE alerts SET opened_at = $3, ended_at = $4, cleared_at = $5, peak_c = $6,
                out_of_band_s = $7, area_c_min = $8, retracted = false, updated_at = now(),
                status = CASE WHEN $4::timestamptz IS NOT NULL THEN 'resolved'
                              WHEN status = 'resolved' THEN 'open'
                              ELSE status END
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(f.opened_at)
    .bind(f.ended_at)
    .bind(f.cleared_at)
    .bind(f.peak_c)
    .bind(f.out_of_band_s)
    .bind(f.area_c_min)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Appends to the history (and so to the event log), with the alert as it now is, and
/// notifies live listeners at commit.
async fn append(
    tx: &mut PgConnection,
    tenant: &str,
    alert: Uuid,
    actor: &str,
    action: &str,
    note: &str,
) -> Result<i64, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENT_LOG_LOCK)
        .execute(&mut *tx)
        .await?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO alert_history (tenant_id, alert_id, actor, action, note, snapshot)
         SELECT a.tenant_id, a.id, $3, $4, $5,
                to_jsonb(a) - 'tenant_id' || jsonb_build_object('device_id', NULLIF(a.device_id, ''))
         FROM alerts a WHERE a.tenant_id = $1 AND a.id = $2
         RETURNING seq",
    )
    .bind(tenant)
    .bind(alert)
    .bind(actor)
    .bind(action)
    .bind(note)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(ALERTS_CHANNEL)
        .bind(seq.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(seq)
}

/// What an operator does to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    Acknowledge,
    Resolve,
}

impl Store {
    /// The tenant's alerts, most recently started first.
    pub async fn alerts(
        &self,
        tenant: &coldchain_domain::TenantId,
        filter: &AlertFilter,
        after: Option<AlertCursor>,
        limit: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        let (after_at, after_id) = after.unzip();
        Ok(sqlx::query_as(concat!(
            "SELECT",
            alert_columns!(),
            "FROM alerts
             WHERE tenant_id = $1
               AND ($2::text IS NULL OR status = $2)
               AND ($3::text IS NULL OR kind = $3)
               AND ($4::text IS NULL OR severity = $4)
               AND ($5::uuid IS NULL OR shipment_id = $5)
               AND ($6::timestamptz IS NULL OR started_at >= $6)
               AND ($7::timestamptz IS NULL OR started_at < $7)
               AND ($8 OR NOT retracted)
               AND ($9::timestamptz IS NULL OR (started_at, id) < ($9, $10))
             ORDER BY started_at DESC, id DESC
             LIMIT $11"
        ))
        .bind(tenant.as_str())
        .bind(&filter.status)
        .bind(filter.kind.map(|k| k.code()))
        .bind(&filter.severity)
        .bind(filter.shipment)
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.include_retracted)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn alert(
        &self,
        tenant: &coldchain_domain::TenantId,
        id: Uuid,
    ) -> Result<(Alert, Vec<HistoryEntry>), StoreError> {
        let alert: Alert = sqlx::query_as(concat!(
            "SELECT",
            alert_columns!(),
            "FROM alerts WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("alert"))?;
        let history = sqlx::query_as(
            "SELECT seq, alert_id, at, actor, action, note, snapshot FROM alert_history
             WHERE tenant_id = $1 AND alert_id = $2 ORDER BY seq",
        )
        .bind(tenant.as_str())
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok((alert, history))
    }

    /// Opens `sensor_offline` for loggers of shipments under way from which nothing has
    /// arrived for their profile's `offline_after` (by the wall clock), across all tenants.
    /// Run periodically by the ingest; returns the alerts opened.
    pub async fn sweep_offline(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let shipments: Vec<(String, Uuid)> = sqlx::query_as(
            "SELECT DISTINCT sd.tenant_id, sd.shipment_id
             FROM shipment_devices sd
             JOIN shipments sh ON sh.tenant_id = sd.tenant_id AND sh.id = sd.shipment_id
             JOIN product_profiles p ON p.tenant_id = sh.tenant_id AND p.id = sh.profile_id
             JOIN device_state ds ON ds.tenant_id = sd.tenant_id AND ds.device_id = sd.device_id
             WHERE sd.assigned_from <= $1 AND (sd.assigned_to IS NULL OR sd.assigned_to > $1)
               AND ds.last_seen_at <= $1 - make_interval(secs => p.offline_after_s)
             ORDER BY 1, 2",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "SELECT pg_advisory_xact_lock(k) FROM (
                 SELECT DISTINCT hashtextextended(t || '/' || s::text, 0) AS k
                 FROM unnest($1::text[], $2::uuid[]) AS x(t, s)) keys
             ORDER BY k",
        )
        .bind(
            shipments
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(shipments.iter().map(|(_, s)| *s).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        let refs: Vec<(&str, Uuid)> = shipments.iter().map(|(t, s)| (t.as_str(), *s)).collect();
        let opened = sweep(&mut tx, &refs, now).await?;
        tx.commit().await?;
        Ok(opened)
    }

    /// Alert changes of the tenant after `seq`, oldest first: the event log the live stream
    /// and webhooks read. Complete up to the newest committed change, because appends are
    /// serialised in seq order.
    pub async fn alert_events_after(
        &self,
        tenant: &coldchain_domain::TenantId,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, alert_id, at, actor, action, note, snapshot FROM alert_history
             WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest seq of the whole event log (0 when empty): where a new live stream starts.
    pub async fn latest_alert_event(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(max(seq), 0) FROM alert_history")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// An operator acknowledges (open -> acknowledged) or resolves (open or acknowledged ->
    /// resolved) an alert; the history records who, when and why.
    pub async fn act_on_alert(
        &self,
        tenant: &coldchain_domain::TenantId,
        id: Uuid,
        action: OperatorAction,
        by: &str,
        note: &str,
    ) -> Result<(Alert, Vec<HistoryEntry>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM alerts WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let status = status.ok_or(StoreError::NotFound("alert"))?;
        let (next, verb) = match (action, status.as_str()) {
            (OperatorAction::Acknowledge, "open") => ("acknowledged", "acknowledged"),
            (OperatorAction::Resolve, "open" | "acknowledged") => ("resolved", "resolved"),
            (_, current) => {
                return Err(StoreError::Conflict {
                    constraint: "alert_status".into(),
                    message: format!(
                        "the alert is {current}; it cannot be {} now",
                        match action {
                            OperatorAction::Acknowledge => "acknowledged",
                            OperatorAction::Resolve => "resolved",
                        }
                    ),
                });
            }
        };
        sqlx::query(
            "UPDATE alerts SET status = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(id)
        .bind(next)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            tenant.as_str(),
            id,
            &format!("operator:{by}"),
            verb,
            note,
        )
        .await?;
        tx.commit().await?;
        self.alert(tenant, id).await
    }
}
