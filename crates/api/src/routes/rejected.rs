//! `/v1/rejected-payloads`: what gateways sent that was not stored, and why.

use axum::extract::State;
use coldchain_domain::RejectReason;
use coldchain_store::rejected::RejectedPayload;
use serde::Deserialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Query, Tenant};
use crate::page::{self, Page};

pub fn router() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListRejected {
    reason: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// What gateways sent that could not be stored, newest first.
#[utoipa::path(get, path = "/v1/rejected-payloads", tag = "ingest", params(ListRejected), responses(
    (status = 200, description = "A page of rejected payloads", body = Page<RejectedPayload>),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
async fn list(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Query(q): Query<ListRejected>,
) -> Result<axum::Json<Page<RejectedPayload>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let reason = q
        .reason
        .as_deref()
        .map(|r| {
            RejectReason::from_code(r).ok_or_else(|| {
                let known: Vec<_> = RejectReason::ALL.iter().map(|r| r.code()).collect();
                ApiError::field(
                    "reason",
                    format!("unknown reason; one of {}", known.join(", ")),
                )
            })
        })
        .transpose()?;
    let before =
        match q.cursor.as_deref() {
            None => None,
            Some(c) => {
                let parts = page::decode(c, 1)?;
                Some(parts[0].parse::<i64>().map_err(|_| {
                    ApiError::field("cursor", "cursor is not one this API returned")
                })?)
            }
        };
    let rows = ctx
        .store
        .rejected_payloads(&tenant, reason, before, limit + 1)
        .await?;
    Ok(axum::Json(page::page(rows, limit, |r| r.id.to_string())))
}
