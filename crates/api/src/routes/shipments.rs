//! `/v1/shipments`: create and list shipments, assign devices to them, read their readings.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use coldchain_domain::{DeviceId, ShipmentStatus, TransportMode};
use coldchain_store::readings::{ReadingQuery, StoredReading};
use coldchain_store::shipments::{Assignment, NewShipment, Shipment};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ApiContext;
use crate::error::{ApiError, FieldError};
use crate::extract::{Json, Path, Query, Tenant};
use crate::page::{self, Page};
use crate::routes::devices::field;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/shipments", get(list).post(create))
        .route("/v1/shipments/{id}", get(show))
        .route("/v1/shipments/{id}/devices", post(assign))
        .route("/v1/shipments/{id}/readings", get(readings))
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListShipments {
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn bad_cursor() -> ApiError {
    ApiError::field("cursor", "cursor is not one this API returned")
}

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

/// A shipment with the devices riding with it.
#[derive(Debug, Serialize)]
struct ShipmentDetail {
    #[serde(flatten)]
    shipment: Shipment,
    devices: Vec<Assignment>,
}

async fn show(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<ShipmentDetail>, ApiError> {
    let shipment = ctx.store.shipment(&tenant, id).await?;
    let devices = ctx.store.assignments(&tenant, id).await?;
    Ok(axum::Json(ShipmentDetail { shipment, devices }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignDevice {
    device_id: String,
    /// Start of the window (event time); now when absent.
    from: Option<DateTime<Utc>>,
    /// End of the window, exclusive; open-ended when absent.
    to: Option<DateTime<Utc>>,
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListReadings {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

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
