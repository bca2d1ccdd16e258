//! Rejected payloads: what gateways sent that could not be stored as readings, with why.

use chrono::{DateTime, Utc};
use coldchain_domain::{RejectReason, TenantId};
use serde::Serialize;

use crate::{Store, StoreError};

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RejectedPayload {
    pub id: i64,
    pub device_id: Option<String>,
    pub topic: String,
    /// The payload as text when it is UTF-8, otherwise lossily decoded.
    pub payload: String,
    pub reason: String,
    pub detail: String,
    pub received_at: DateTime<Utc>,
}

impl Store {
    /// The tenant's rejected payloads, newest first, optionally of one reason.
    pub async fn rejected_payloads(
        &self,
        tenant: &TenantId,
        reason: Option<RejectReason>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RejectedPayload>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, device_id, topic, convert_from(payload, 'UTF8') AS payload, reason,
                    detail, received_at
             FROM rejected_payloads
             WHERE tenant_id = $1
               AND ($2::text IS NULL OR reason = $2)
               AND ($3::int8 IS NULL OR id < $3)
             ORDER BY id DESC
             LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(reason.map(|r| r.code()))
        .bind(before_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
