//! `GET /v1/shipments/{id}/timeline`: everything that happened to a shipment in event-time
//! order (journey events, alert lifecycle, gaps in the data) and each logger's temperature
//! series in at most `points` buckets, with min, max and mean per bucket so no peak is lost.

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use coldchain_domain::timeline::{Plan, gaps};
use coldchain_store::journey::StoredJourneyEvent;
use coldchain_store::timeline::{AlertMoment, DeviceSeries};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query, Tenant};

pub fn router() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::new().routes(routes!(timeline))
}

pub const DEFAULT_POINTS: u32 = 500;
pub const MAX_POINTS: u32 = 5000;
/// Longer windows are refused rather than scanned.
const MAX_WINDOW_DAYS: i64 = 400;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TimelineQuery {
    /// Start of the window; the first logger assignment when absent.
    from: Option<DateTime<Utc>>,
    /// End of the window; the end of the last assignment (now while one is open) when absent.
    to: Option<DateTime<Utc>>,
    /// At most this many buckets per logger: 1..5000, default 500.
    points: Option<u32>,
}

/// One thing that happened.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Entry {
    /// A journey event: a status change, a handover, a customs hold.
    Journey {
        at: DateTime<Utc>,
        #[serde(flatten)]
        event: StoredJourneyEvent,
    },
    Alert {
        #[serde(flatten)]
        moment: AlertMoment,
    },
    /// No reading from a logger for longer than its maximum gap.
    Gap {
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        device_id: String,
        duration_s: i64,
    },
}

impl Entry {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Entry::Journey { at, .. } | Entry::Gap { at, .. } => *at,
            Entry::Alert { moment } => moment.at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Timeline {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// The most buckets any logger's series has.
    points: u32,
    bucket_s: i64,
    devices: Vec<DeviceSeries>,
    events: Vec<Entry>,
}

/// Everything that happened, in event-time order, and each logger's series in at most
/// `points` buckets (min, max, mean per bucket: peaks are never smoothed away).
#[utoipa::path(get, path = "/v1/shipments/{id}/timeline", tag = "reports", params(("id" = Uuid, Path, description = "The shipment id"), TimelineQuery), responses(
    (status = 200, description = "The timeline", body = Timeline),
    (status = 404, description = "No such shipment", body = ErrorBody),
    (status = 422, description = "Invalid window or points", body = ErrorBody)))]
async fn timeline(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Query(q): Query<TimelineQuery>,
) -> Result<axum::Json<Timeline>, ApiError> {
    let points = q.points.unwrap_or(DEFAULT_POINTS);
    if !(1..=MAX_POINTS).contains(&points) {
        return Err(ApiError::field(
            "points",
            format!("must be between 1 and {MAX_POINTS}"),
        ));
    }
    let shipment = ctx.store.shipment(&tenant, id).await?;
    let span = match (q.from, q.to) {
        (Some(from), Some(to)) => Some((from, to)),
        _ => ctx
            .store
            .assignment_span(&tenant, id)
            .await?
            .map(|(from, to)| (q.from.unwrap_or(from), q.to.unwrap_or(to))),
    };
    let Some((from, to)) = span else {
        // No logger yet: nothing measured, only the journey.
        let now = Utc::now();
        let events = journey_entries(&ctx, &tenant, id, q.from, q.to.unwrap_or(now)).await?;
        return Ok(axum::Json(Timeline {
            from: q.from.unwrap_or(now),
            to: q.to.unwrap_or(now),
            points: 0,
            bucket_s: 0,
            devices: Vec::new(),
            events,
        }));
    };
    if to <= from {
        return Err(ApiError::field("to", "must be after from"));
    }
    if to - from > Duration::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::field(
            "from",
            format!("the window may span at most {MAX_WINDOW_DAYS} days"),
        ));
    }
    let plan = Plan::new(from, to, points);
    let devices = ctx
        .store
        .timeline_series(&tenant, id, from, to, &plan)
        .await?;
    let profile = match &shipment.profile_id {
        Some(p) => Some(ctx.store.profile(&tenant, p).await?),
        None => None,
    };
    let intervals = ctx.store.reading_intervals(&tenant, id).await?;
    let mut events = journey_entries(&ctx, &tenant, id, Some(from), to).await?;
    events.extend(
        ctx.store
            .alert_moments(&tenant, id, from, to)
            .await?
            .into_iter()
            .map(|moment| Entry::Alert { moment }),
    );
    for series in &devices {
        let interval = intervals
            .iter()
            .find(|(d, _)| *d == series.device_id)
            .map_or(Duration::minutes(5), |(_, i)| {
                Duration::seconds(i64::from(*i))
            });
        let max_gap = profile
            .as_ref()
            .map_or(interval * 2, |p| p.max_gap_for(interval));
        events.extend(
            gaps(&series.buckets, max_gap)
                .into_iter()
                .map(|(at, until)| Entry::Gap {
                    at,
                    until,
                    device_id: series.device_id.clone(),
                    duration_s: (until - at).num_seconds(),
                }),
        );
    }
    events.sort_by_key(Entry::at);
    Ok(axum::Json(Timeline {
        from,
        to,
        points: devices
            .iter()
            .map(|d| d.buckets.len() as u32)
            .max()
            .unwrap_or(0),
        bucket_s: plan.width.num_seconds(),
        devices,
        events,
    }))
}

async fn journey_entries(
    ctx: &ApiContext,
    tenant: &coldchain_domain::TenantId,
    id: Uuid,
    from: Option<DateTime<Utc>>,
    to: DateTime<Utc>,
) -> Result<Vec<Entry>, ApiError> {
    Ok(ctx
        .store
        .journey_events(tenant, id)
        .await?
        .into_iter()
        .filter(|e| from.is_none_or(|f| e.ts >= f) && e.ts < to)
        .map(|event| Entry::Journey {
            at: event.ts,
            event,
        })
        .collect())
}
