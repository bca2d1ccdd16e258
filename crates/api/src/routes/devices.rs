//! `/v1/devices`: register loggers and see what they last reported.

use axum::extract::State;
use axum::http::StatusCode;
use coldchain_domain::DeviceId;
use coldchain_store::devices::{Device, NewDevice};
use serde::Deserialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiContext;
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::extract::{Json, Path, Query, Tenant};
use crate::page::{self, Page};

pub fn router() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateDevice {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    model: String,
    reading_interval_s: Option<i32>,
}

const MAX_TEXT: usize = 200;

/// Registers a logger.
#[utoipa::path(post, path = "/v1/devices", tag = "devices", request_body = CreateDevice, responses(
    (status = 201, description = "Registered", body = Device),
    (status = 409, description = "A device with this id exists", body = ErrorBody),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn create(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Json(body): Json<CreateDevice>,
) -> Result<(StatusCode, axum::Json<Device>), ApiError> {
    let mut errors = Vec::new();
    let id = DeviceId::parse(body.id).map_err(|e| errors.push(field("id", e.to_string())));
    for (name, value) in [("name", &body.name), ("model", &body.model)] {
        if value.chars().count() > MAX_TEXT {
            errors.push(field(
                name,
                format!("must be at most {MAX_TEXT} characters"),
            ));
        }
    }
    let interval = body.reading_interval_s.unwrap_or(300);
    if !(1..=86_400).contains(&interval) {
        errors.push(field(
            "reading_interval_s",
            "must be between 1 and 86400 seconds",
        ));
    }
    let Ok(id) = id else {
        return Err(ApiError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let device = ctx
        .store
        .create_device(
            &tenant,
            &NewDevice {
                id,
                name: body.name,
                model: body.model,
                reading_interval_s: interval,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(device)))
}

pub(crate) fn field(name: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListDevices {
    /// 1..1000, default 100.
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The tenant's loggers, by id.
#[utoipa::path(get, path = "/v1/devices", tag = "devices", params(ListDevices), responses(
    (status = 200, description = "A page of devices", body = Page<Device>),
    (status = 422, description = "Invalid limit or cursor", body = ErrorBody)))]
async fn list(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Query(q): Query<ListDevices>,
) -> Result<axum::Json<Page<Device>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| page::decode(c, 1))
        .transpose()?
        .and_then(|mut parts| parts.pop());
    let rows = ctx
        .store
        .devices(&tenant, after.as_deref(), limit + 1)
        .await?;
    Ok(axum::Json(page::page(rows, limit, |d| d.id.clone())))
}

/// One logger, with when it was last seen and its last reading.
#[utoipa::path(get, path = "/v1/devices/{id}", tag = "devices",
    params(("id" = String, Path, description = "The device id")), responses(
    (status = 200, description = "The device", body = Device),
    (status = 404, description = "No such device", body = ErrorBody)))]
async fn show(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<axum::Json<Device>, ApiError> {
    Ok(axum::Json(ctx.store.device(&tenant, &id).await?))
}
