//! `/v1/webhooks`: register a URL to receive alert changes, list and remove registrations,
//! read a webhook's delivery log.

use axum::extract::State;
use axum::http::StatusCode;
use coldchain_store::webhooks::{Delivery, Webhook};
use serde::Deserialize;
use uuid::Uuid;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query, Tenant};
use crate::page::{self, Page};
use crate::routes::devices::field;

pub fn router() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, remove))
        .routes(routes!(deliveries))
}

/// The history actions a webhook can ask for.
pub const ACTIONS: [&str; 7] = [
    "opened",
    "updated",
    "ended",
    "reopened",
    "retracted",
    "acknowledged",
    "resolved",
];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    url: String,
    /// Signs every body; 16 to 200 characters. Not returned by the API.
    secret: String,
    /// Which alert changes to deliver; all when absent or empty.
    #[serde(default)]
    events: Vec<String>,
}

/// Registers a URL to receive alert changes, signed with the secret.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook, responses(
    (status = 201, description = "Registered", body = Webhook),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn create(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Json(b): Json<CreateWebhook>,
) -> Result<(StatusCode, axum::Json<Webhook>), ApiError> {
    let mut errors = Vec::new();
    match reqwest::Url::parse(&b.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => errors.push(field("url", "an absolute http:// or https:// URL")),
    }
    if b.url.len() > 2000 {
        errors.push(field("url", "at most 2000 characters"));
    }
    if !(16..=200).contains(&b.secret.chars().count()) {
        errors.push(field("secret", "16 to 200 characters"));
    }
    for e in &b.events {
        if !ACTIONS.contains(&e.as_str()) {
            errors.push(field(
                "events",
                format!(
                    "unknown event {e:?}; expected any of {}",
                    ACTIONS.join(", ")
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let webhook = ctx
        .store
        .create_webhook(&tenant, &b.url, &b.secret, &b.events)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(webhook)))
}

/// The tenant's webhooks.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", responses(
    (status = 200, description = "Every webhook", body = Vec<Webhook>)))]
async fn list(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
) -> Result<axum::Json<Vec<Webhook>>, ApiError> {
    Ok(axum::Json(ctx.store.webhooks(&tenant).await?))
}

/// One webhook.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path, description = "The webhook id")), responses(
    (status = 200, description = "The webhook", body = Webhook),
    (status = 404, description = "No such webhook", body = ErrorBody)))]
async fn show(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Webhook>, ApiError> {
    Ok(axum::Json(ctx.store.webhook(&tenant, id).await?))
}

/// Stops deliveries and removes the webhook; its delivery log is kept.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path, description = "The webhook id")), responses(
    (status = 204, description = "Removed"),
    (status = 404, description = "No such webhook", body = ErrorBody)))]
async fn remove(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    ctx.store.delete_webhook(&tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListDeliveries {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Every attempt, newest first: when, which event, the receiver's status or the error.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook id"), ListDeliveries), responses(
    (status = 200, description = "A page of delivery attempts, newest first", body = Page<Delivery>),
    (status = 404, description = "No such webhook", body = ErrorBody),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn deliveries(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Query(q): Query<ListDeliveries>,
) -> Result<axum::Json<Page<Delivery>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            page::decode(c, 1)?[0]
                .parse::<i64>()
                .map_err(|_| ApiError::field("cursor", "cursor is not one this API returned"))?,
        ),
    };
    let rows = ctx
        .store
        .webhook_deliveries(&tenant, id, before, limit + 1)
        .await?;
    Ok(axum::Json(page::page(rows, limit, |d| d.id.to_string())))
}
