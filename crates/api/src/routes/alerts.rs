//! `/v1/alerts`: the operators' board. List with filters, one alert with its full history,
//! acknowledge and resolve with a note.

use axum::extract::State;
use chrono::{DateTime, Utc};
use coldchain_domain::AlertKind;
use coldchain_store::alerts::{Alert, AlertFilter, HistoryEntry, OperatorAction};
use serde::{Deserialize, Serialize};
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
        .routes(routes!(list))
        .routes(routes!(live))
        .routes(routes!(show))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListAlerts {
    status: Option<String>,
    kind: Option<String>,
    severity: Option<String>,
    shipment_id: Option<Uuid>,
    /// Alerts that started at or after / before these event times.
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// Also list alerts that late readings withdrew.
    #[serde(default)]
    include_retracted: bool,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Alerts, most recently started first, with filters.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", params(ListAlerts), responses(
    (status = 200, description = "A page of alerts", body = Page<Alert>),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn list(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Query(q): Query<ListAlerts>,
) -> Result<axum::Json<Page<Alert>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let one_of = |name: &str, value: &Option<String>, allowed: &[&str]| match value.as_deref() {
        Some(v) if !allowed.contains(&v) => Err(ApiError::field(
            name,
            format!(
                "unknown {name} {v:?}; expected one of {}",
                allowed.join(", ")
            ),
        )),
        _ => Ok(value.clone()),
    };
    let filter = AlertFilter {
        status: one_of("status", &q.status, &["open", "acknowledged", "resolved"])?,
        severity: one_of("severity", &q.severity, &["warning", "critical"])?,
        kind: q
            .kind
            .as_deref()
            .map(str::parse::<AlertKind>)
            .transpose()
            .map_err(|e| ApiError::field("kind", e.to_string()))?,
        shipment: q.shipment_id,
        from: q.from,
        to: q.to,
        include_retracted: q.include_retracted,
    };
    let after = q.cursor.as_deref().map(page::decode_time_id).transpose()?;
    let rows = ctx.store.alerts(&tenant, &filter, after, limit + 1).await?;
    Ok(axum::Json(page::page(rows, limit, |a| {
        page::time_id(a.started_at, a.id)
    })))
}

/// An alert and everything that happened to it, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AlertDetail {
    #[serde(flatten)]
    alert: Alert,
    history: Vec<HistoryEntry>,
}

/// One alert and its full, append-only history.
#[utoipa::path(get, path = "/v1/alerts/{id}", tag = "alerts", params(("id" = Uuid, Path, description = "The alert id")), responses(
    (status = 200, description = "The alert and its history", body = AlertDetail),
    (status = 404, description = "No such alert", body = ErrorBody)))]
async fn show(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<AlertDetail>, ApiError> {
    let (alert, history) = ctx.store.alert(&tenant, id).await?;
    Ok(axum::Json(AlertDetail { alert, history }))
}

/// Who acts, and why. Until API keys exist the operator names themself.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Act {
    by: String,
    #[serde(default)]
    note: String,
}

async fn act(
    ctx: ApiContext,
    tenant: coldchain_domain::TenantId,
    id: Uuid,
    body: Act,
    action: OperatorAction,
) -> Result<axum::Json<AlertDetail>, ApiError> {
    let mut errors = Vec::new();
    let by = body.by.trim();
    if by.is_empty() || by.chars().count() > 100 {
        errors.push(field("by", "who acts: 1-100 characters"));
    }
    if body.note.chars().count() > 2000 {
        errors.push(field("note", "at most 2000 characters"));
    }
    if action == OperatorAction::Resolve && body.note.trim().is_empty() {
        errors.push(field("note", "say why the alert is resolved"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (alert, history) = ctx
        .store
        .act_on_alert(&tenant, id, action, by, body.note.trim())
        .await?;
    Ok(axum::Json(AlertDetail { alert, history }))
}

/// An operator takes the alert on.
#[utoipa::path(post, path = "/v1/alerts/{id}/acknowledge", tag = "alerts", params(("id" = Uuid, Path, description = "The alert id")),
    request_body = Act, responses(
    (status = 200, description = "Acknowledged; the alert and its history", body = AlertDetail),
    (status = 404, description = "No such alert", body = ErrorBody),
    (status = 409, description = "Not open", body = ErrorBody),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn acknowledge(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Json(body): Json<Act>,
) -> Result<axum::Json<AlertDetail>, ApiError> {
    act(ctx, tenant, id, body, OperatorAction::Acknowledge).await
}

/// An operator closes the alert, saying why.
#[utoipa::path(post, path = "/v1/alerts/{id}/resolve", tag = "alerts", params(("id" = Uuid, Path, description = "The alert id")),
    request_body = Act, responses(
    (status = 200, description = "Resolved; the alert and its history", body = AlertDetail),
    (status = 404, description = "No such alert", body = ErrorBody),
    (status = 409, description = "Already resolved", body = ErrorBody),
    (status = 422, description = "Invalid fields (a resolution needs a note)", body = ErrorBody)))]
async fn resolve(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Json(body): Json<Act>,
) -> Result<axum::Json<AlertDetail>, ApiError> {
    act(ctx, tenant, id, body, OperatorAction::Resolve).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LiveQuery {
    /// Resume after this event id, for clients that cannot send `Last-Event-ID`.
    after: Option<i64>,
}

/// Server-sent events of every alert change of the tenant. Resumes after the event id in
/// `Last-Event-ID` (browsers send it when they reconnect) or `?after=`; without either,
/// starts with the next change.
#[utoipa::path(get, path = "/v1/alerts/stream", tag = "alerts",
    params(LiveQuery, ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id")),
    responses(
    (status = 200, description = "Server-sent events: `event: alert`, `id:` the change's sequence number, `data:` the history entry with the alert (JSON)", content_type = "text/event-stream", body = String),
    (status = 422, description = "Invalid Last-Event-ID or after", body = ErrorBody)))]
async fn live(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    headers: axum::http::HeaderMap,
    Query(q): Query<LiveQuery>,
) -> Result<axum::response::Response, ApiError> {
    let header = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::field("Last-Event-ID", "must be an event id this stream sent")
                })
        })
        .transpose()?;
    if q.after.is_some_and(|n| n < 0) {
        return Err(ApiError::field(
            "after",
            "must be an event id this stream sent",
        ));
    }
    let after = match header.or(q.after) {
        Some(n) => n,
        None => ctx.store.latest_alert_event().await?,
    };
    use axum::response::IntoResponse;
    Ok(crate::live::stream(ctx.store.clone(), &ctx.alert_feed, tenant, after).into_response())
}
