//! `/v1/shipments`: create and list shipments, assign devices to them, record their journey,
//! read their readings and figures.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use coldchain_domain::figures::{Assessment, ShipmentFigures, assess};
use coldchain_domain::journey::{CustodySpan, Journey, JourneyEvent, JourneyEventKind, Leg};
use coldchain_domain::{DeviceId, ShipmentStatus, TenantId, TransportMode};
use coldchain_store::alerts::{Alert, AlertFilter};
use coldchain_store::journey::{NewJourneyEvent, StoredJourneyEvent};
use coldchain_store::readings::{ReadingQuery, StoredReading};
use coldchain_store::shipments::{Assignment, NewShipment, Shipment};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiContext;
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::extract::{Json, Path, Query, Tenant};
use crate::page::{self, Page};
use crate::routes::devices::field;

pub fn router() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(assign))
        .routes(routes!(readings))
        .routes(routes!(events, record_event))
        .routes(routes!(figures))
        .routes(routes!(readings_csv))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateShipment {
    reference: String,
    #[serde(default)]
    seller: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    destination: String,
    mode: Option<String>,
    profile_id: Option<String>,
    planned_departure: Option<DateTime<Utc>>,
    planned_arrival: Option<DateTime<Utc>>,
}

const MAX_TEXT: usize = 200;

fn validate(body: &CreateShipment) -> Result<TransportMode, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    if body.reference.trim().is_empty() {
        errors.push(field("reference", "must not be empty"));
    }
    for (name, value) in [
        ("reference", &body.reference),
        ("seller", &body.seller),
        ("origin", &body.origin),
        ("destination", &body.destination),
    ] {
        if value.chars().count() > MAX_TEXT {
            errors.push(field(
                name,
                format!("must be at most {MAX_TEXT} characters"),
            ));
        }
    }
    let mode = match body
        .mode
        .as_deref()
        .unwrap_or("sea")
        .parse::<TransportMode>()
    {
        Ok(mode) => mode,
        Err(e) => {
            errors.push(field("mode", e.to_string()));
            TransportMode::Sea
        }
    };
    if let (Some(dep), Some(arr)) = (body.planned_departure, body.planned_arrival)
        && arr < dep
    {
        errors.push(field(
            "planned_arrival",
            "must not be before planned_departure",
        ));
    }
    if errors.is_empty() {
        Ok(mode)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Creates a shipment (status planned).
#[utoipa::path(post, path = "/v1/shipments", tag = "shipments", request_body = CreateShipment, responses(
    (status = 201, description = "Created", body = Shipment),
    (status = 404, description = "No such product profile", body = ErrorBody),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn create(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Json(body): Json<CreateShipment>,
) -> Result<(StatusCode, axum::Json<Shipment>), ApiError> {
    let mode = validate(&body)?;
    let shipment = ctx
        .store
        .create_shipment(
            &tenant,
            &NewShipment {
                reference: body.reference.trim().to_owned(),
                seller: body.seller,
                origin: body.origin,
                destination: body.destination,
                mode,
                profile_id: body.profile_id,
                planned_departure: body.planned_departure,
                planned_arrival: body.planned_arrival,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(shipment)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListShipments {
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn bad_cursor() -> ApiError {
    ApiError::field("cursor", "cursor is not one this API returned")
}

/// Shipments, newest first.
#[utoipa::path(get, path = "/v1/shipments", tag = "shipments", params(ListShipments), responses(
    (status = 200, description = "A page of shipments", body = Page<Shipment>),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn list(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Query(q): Query<ListShipments>,
) -> Result<axum::Json<Page<Shipment>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let status = q
        .status
        .as_deref()
        .map(|s| s.parse::<ShipmentStatus>())
        .transpose()
        .map_err(|e| ApiError::field("status", e.to_string()))?;
    let after = q.cursor.as_deref().map(page::decode_time_id).transpose()?;
    let rows = ctx
        .store
        .shipments(&tenant, status, after, limit + 1)
        .await?;
    Ok(axum::Json(page::page(rows, limit, |s| {
        page::time_id(s.created_at, s.id)
    })))
}

/// A shipment as its seller and its operators read it: where it is in its journey, what
/// each logger last said, what is wrong, and whether the goods stayed cold.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ShipmentDetail {
    #[serde(flatten)]
    shipment: Shipment,
    devices: Vec<Assignment>,
    journey: JourneyView,
    latest_readings: Vec<StoredReading>,
    open_alerts: Vec<Alert>,
    /// Absent when the shipment has no product profile to judge against.
    assessment: Option<Assessment>,
}

/// The journey so far.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct JourneyView {
    current_leg: Option<Leg>,
    custodian: Option<String>,
    held_by_customs_since: Option<DateTime<Utc>>,
    legs: Vec<Leg>,
    custody: Vec<CustodySpan>,
}

impl From<&Journey> for JourneyView {
    fn from(j: &Journey) -> Self {
        Self {
            current_leg: j.current_leg().cloned(),
            custodian: j.custodian().map(str::to_owned),
            held_by_customs_since: j.held_since,
            legs: j.legs.clone(),
            custody: j.custody.clone(),
        }
    }
}

/// The shipment's alerts (retracted ones left out), most recently started first.
pub(crate) async fn shipment_alerts(
    ctx: &ApiContext,
    tenant: &TenantId,
    id: Uuid,
) -> Result<Vec<Alert>, ApiError> {
    let filter = AlertFilter {
        shipment: Some(id),
        ..AlertFilter::default()
    };
    Ok(ctx
        .store
        .alerts(tenant, &filter, None, MAX_SHIPMENT_ALERTS)
        .await?)
}

/// Alerts not yet resolved by an operator (open or acknowledged), newest first.
async fn open_alerts(
    ctx: &ApiContext,
    tenant: &TenantId,
    id: Uuid,
) -> Result<Vec<Alert>, ApiError> {
    let mut alerts = shipment_alerts(ctx, tenant, id).await?;
    alerts.retain(|a| a.status != "resolved");
    Ok(alerts)
}

/// At most this many of a shipment's alerts are listed.
const MAX_SHIPMENT_ALERTS: i64 = 1000;

#[utoipa::path(get, path = "/v1/shipments/{id}", tag = "shipments", params(("id" = Uuid, Path, description = "The shipment id")), responses(
    (status = 200, description = "The shipment, its journey, latest readings, open alerts and verdict", body = ShipmentDetail),
    (status = 404, description = "No such shipment", body = ErrorBody)))]
async fn show(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<ShipmentDetail>, ApiError> {
    let record = ctx.store.shipment_record(&tenant, id).await?;
    let devices = ctx.store.assignments(&tenant, id).await?;
    let latest_readings = ctx.store.latest_readings(&tenant, id).await?;
    let open_alerts = open_alerts(&ctx, &tenant, id).await?;
    let assessment = record
        .overall_figures()
        .zip(record.profile.as_ref())
        .map(|(f, p)| assess(&f, p.excursion_budget, open_alerts.len()));
    Ok(axum::Json(ShipmentDetail {
        journey: JourneyView::from(&record.journey()),
        shipment: record.shipment,
        devices,
        latest_readings,
        open_alerts,
        assessment,
    }))
}

/// A journey event as a client records it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RecordEvent {
    kind: String,
    /// When it happened (event time); now when absent.
    ts: Option<DateTime<Utc>>,
    #[serde(default)]
    location: String,
    from_custodian: Option<String>,
    to_custodian: Option<String>,
    /// The goods' temperature at that moment; read from the loggers when absent.
    temp_c: Option<f64>,
    dock_minutes: Option<i64>,
    #[serde(default)]
    note: String,
    #[serde(default)]
    recorded_by: String,
}

const MAX_NOTE: usize = 2000;

fn validate_event(body: RecordEvent) -> Result<NewJourneyEvent, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let kind = body
        .kind
        .parse::<JourneyEventKind>()
        .map_err(|e| errors.push(field("kind", e.to_string())))
        .ok();
    let now = Utc::now();
    let ts = body.ts.unwrap_or(now);
    if ts > now + Duration::minutes(5) {
        errors.push(field("ts", "must not be in the future"));
    }
    for (name, value) in [
        ("location", Some(&body.location)),
        ("from_custodian", body.from_custodian.as_ref()),
        ("to_custodian", body.to_custodian.as_ref()),
        ("recorded_by", Some(&body.recorded_by)),
    ] {
        if value.is_some_and(|v| v.chars().count() > MAX_TEXT) {
            errors.push(field(
                name,
                format!("must be at most {MAX_TEXT} characters"),
            ));
        }
    }
    if body.note.chars().count() > MAX_NOTE {
        errors.push(field(
            "note",
            format!("must be at most {MAX_NOTE} characters"),
        ));
    }
    if let Some(t) = body.temp_c
        && !(-100.0..=100.0).contains(&t)
    {
        errors.push(field("temp_c", "must be between -100 and 100 °C"));
    }
    if let Some(m) = body.dock_minutes
        && !(0..=1440).contains(&m)
    {
        errors.push(field("dock_minutes", "must be between 0 and 1440"));
    }
    match kind {
        Some(kind) if errors.is_empty() => Ok(NewJourneyEvent {
            event: JourneyEvent {
                ts,
                kind,
                location: body.location.trim().to_owned(),
                from_custodian: body.from_custodian.map(|c| c.trim().to_owned()),
                to_custodian: body.to_custodian.map(|c| c.trim().to_owned()),
                temp_c: body.temp_c,
                dock_minutes: body.dock_minutes,
            },
            note: body.note,
            recorded_by: body.recorded_by,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// A recorded event and where it left the shipment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RecordedEvent {
    event: StoredJourneyEvent,
    status: ShipmentStatus,
    journey: JourneyView,
}

/// Records a journey event; the status follows.
#[utoipa::path(post, path = "/v1/shipments/{id}/events", tag = "shipments", params(("id" = Uuid, Path, description = "The shipment id")),
    request_body = RecordEvent, responses(
    (status = 201, description = "Recorded; where it left the shipment", body = RecordedEvent),
    (status = 404, description = "No such shipment", body = ErrorBody),
    (status = 409, description = "Not possible now (the reason says why)", body = ErrorBody),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn record_event(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Json(body): Json<RecordEvent>,
) -> Result<(StatusCode, axum::Json<RecordedEvent>), ApiError> {
    let new = validate_event(body)?;
    let (event, journey) = ctx.store.record_journey_event(&tenant, id, &new).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RecordedEvent {
            event,
            status: journey.status,
            journey: JourneyView::from(&journey),
        }),
    ))
}

/// The journey events, in event-time order.
#[utoipa::path(get, path = "/v1/shipments/{id}/events", tag = "shipments", params(("id" = Uuid, Path, description = "The shipment id")), responses(
    (status = 200, description = "Every recorded event", body = Vec<StoredJourneyEvent>),
    (status = 404, description = "No such shipment", body = ErrorBody)))]
async fn events(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<StoredJourneyEvent>>, ApiError> {
    ctx.store.shipment(&tenant, id).await?;
    Ok(axum::Json(ctx.store.journey_events(&tenant, id).await?))
}

/// The shipment's figures with the band they were judged against.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct FiguresView {
    profile_id: String,
    min_c: f64,
    max_c: f64,
    #[serde(flatten)]
    figures: ShipmentFigures,
}

/// The figures overall, per logger, per leg and per custodian.
#[utoipa::path(get, path = "/v1/shipments/{id}/figures", tag = "reports", params(("id" = Uuid, Path, description = "The shipment id")), responses(
    (status = 200, description = "The figures and the band they were judged against", body = FiguresView),
    (status = 404, description = "No such shipment", body = ErrorBody),
    (status = 409, description = "The shipment has no product profile", body = ErrorBody)))]
async fn figures(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<FiguresView>, ApiError> {
    let record = ctx.store.shipment_record(&tenant, id).await?;
    let (Some(profile), Some(figures)) = (record.profile.as_ref(), record.figures()) else {
        return Err(ApiError::Conflict(
            "the shipment has no product profile, so there is no band to judge it against; \
             create it with a profile_id"
                .into(),
        ));
    };
    Ok(axum::Json(FiguresView {
        profile_id: profile.id.clone(),
        min_c: profile.min_c,
        max_c: profile.max_c,
        figures,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignDevice {
    device_id: String,
    /// Start of the window (event time); now when absent.
    from: Option<DateTime<Utc>>,
    /// End of the window, exclusive; open-ended when absent.
    to: Option<DateTime<Utc>>,
}

/// A logger rides with the shipment from `from` (until `to`).
#[utoipa::path(post, path = "/v1/shipments/{id}/devices", tag = "shipments", params(("id" = Uuid, Path, description = "The shipment id")),
    request_body = AssignDevice, responses(
    (status = 201, description = "Assigned", body = Assignment),
    (status = 404, description = "No such shipment or device", body = ErrorBody),
    (status = 409, description = "The device is assigned elsewhere over that window", body = ErrorBody),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn assign(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Json(body): Json<AssignDevice>,
) -> Result<(StatusCode, axum::Json<Assignment>), ApiError> {
    let device =
        DeviceId::parse(body.device_id).map_err(|e| ApiError::field("device_id", e.to_string()))?;
    let from = body.from.unwrap_or_else(Utc::now);
    if let Some(to) = body.to
        && to <= from
    {
        return Err(ApiError::field("to", "must be after from"));
    }
    let assignment = ctx
        .store
        .assign_device(&tenant, id, &device, from, body.to)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(assignment)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListReadings {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The readings of the shipment's loggers inside their windows, in event-time order.
#[utoipa::path(get, path = "/v1/shipments/{id}/readings", tag = "shipments", params(("id" = Uuid, Path, description = "The shipment id"), ListReadings), responses(
    (status = 200, description = "A page of readings", body = Page<StoredReading>),
    (status = 404, description = "No such shipment", body = ErrorBody),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn readings(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Query(q): Query<ListReadings>,
) -> Result<axum::Json<Page<StoredReading>>, ApiError> {
    let limit = page::limit(q.limit)?;
    if let (Some(from), Some(to)) = (q.from, q.to)
        && to < from
    {
        return Err(ApiError::field("to", "must not be before from"));
    }
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => {
            let parts = page::decode(c, 2)?;
            let ts = DateTime::parse_from_rfc3339(&parts[0]).map_err(|_| bad_cursor())?;
            Some((ts.with_timezone(&Utc), parts[1].clone()))
        }
    };
    // 404 for a shipment that is not this tenant's, rather than an empty page.
    ctx.store.shipment(&tenant, id).await?;
    let rows = ctx
        .store
        .shipment_readings(
            &tenant,
            id,
            &ReadingQuery {
                from: q.from,
                to: q.to,
                after,
                limit: limit + 1,
            },
        )
        .await?;
    Ok(axum::Json(page::page(rows, limit, |r| {
        format!(
            "{}|{}",
            r.ts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            r.device_id
        )
    })))
}

/// The header row of the readings export.
pub(crate) const CSV_HEADER: &str =
    "ts,device_id,temp_c,humidity_pct,door_open,battery_pct,lat,lon,seq,received_at\n";

/// One reading as a CSV row: ISO 8601 UTC times, empty cells for absent values. Device ids
/// are restricted to characters that need no quoting.
pub(crate) fn csv_row(r: &StoredReading) -> String {
    fn cell<T: std::fmt::Display>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    format!(
        "{},{},{},{},{},{},{},{},{},{}\n",
        time(r.ts),
        r.device_id,
        r.temp_c,
        cell(r.humidity_pct),
        cell(r.door_open),
        cell(r.battery_pct),
        cell(r.lat),
        cell(r.lon),
        cell(r.seq),
        time(r.received_at),
    )
}

/// A file name made of the reference's safe characters.
pub(crate) fn file_name(reference: &str, suffix: &str) -> String {
    let safe: String = reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{suffix}")
}

/// Rows sent to the client per write.
const CSV_ROWS_PER_CHUNK: usize = 500;

/// Every reading as CSV, streamed.
#[utoipa::path(get, path = "/v1/shipments/{id}/readings.csv", tag = "reports", params(("id" = Uuid, Path, description = "The shipment id")), responses(
    (status = 200, description = "`ts,device_id,temp_c,humidity_pct,door_open,battery_pct,lat,lon,seq,received_at`, UTC ISO 8601, event-time order", content_type = "text/csv", body = String),
    (status = 404, description = "No such shipment", body = ErrorBody)))]
async fn readings_csv(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
) -> Result<axum::response::Response, ApiError> {
    use futures_util::StreamExt;
    let shipment = ctx.store.shipment(&tenant, id).await?;
    let rows = ctx
        .store
        .stream_shipment_readings(&tenant, id)
        .ready_chunks(CSV_ROWS_PER_CHUNK)
        .map(|chunk| {
            let mut out = String::new();
            for row in chunk {
                match row {
                    Ok(r) => out.push_str(&csv_row(&r)),
                    Err(e) => {
                        // Mid-stream the status is sent: cut the body so the client sees an
                        // incomplete download rather than a complete-looking file.
                        tracing::error!(error = %e, "readings export failed");
                        return Err(std::io::Error::other("readings export failed"));
                    }
                }
            }
            Ok(out)
        });
    let body = futures_util::stream::once(async { Ok(CSV_HEADER.to_owned()) }).chain(rows);
    axum::response::Response::builder()
        .header("content-type", "text/csv; charset=utf-8")
        .header(
            "content-disposition",
            format!(
                "attachment; filename=\"{}\"",
                file_name(&shipment.reference, "readings.csv")
            ),
        )
        .body(axum::body::Body::from_stream(body))
        .map_err(|e| ApiError::Internal(e.to_string()))
}
