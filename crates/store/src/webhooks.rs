//! Webhook registrations, their delivery cursors and their delivery log. The dispatcher
//! claims a due webhook with `FOR UPDATE SKIP LOCKED`, so several API processes share the
//! work without delivering one event twice at once.

use chrono::{DateTime, Utc};
use coldchain_domain::TenantId;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::alerts::HistoryEntry;
use crate::{Store, StoreError};

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    /// History actions delivered; empty means all.
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The last event delivered.
    pub delivered_seq: i64,
    /// Consecutive failures at the next event.
    pub failures: i32,
    pub next_attempt_at: DateTime<Utc>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub seq: i64,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub succeeded: bool,
}

/// A webhook claimed for one delivery, with its secret.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub tenant_id: String,
    pub id: Uuid,
    pub url: String,
    pub secret: String,
    pub failures: i32,
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub succeeded: bool,
}

const COLUMNS: &str = "id, url, events, created_at, delivered_seq, failures, next_attempt_at";

impl Store {
    pub async fn create_webhook(
        &self,
        tenant: &TenantId,
        url: &str,
        secret: &str,
        events: &[String],
    ) -> Result<Webhook, StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_tenant(&mut tx, tenant).await?;
        let webhook = sqlx::query_as(
            "INSERT INTO webhooks (tenant_id, url, secret, events, delivered_seq)
             VALUES ($1, $2, $3, $4, (SELECT COALESCE(max(seq), 0) FROM alert_history))
             RETURNING id, url, events, created_at, delivered_seq, failures, next_attempt_at",
        )
        .bind(tenant.as_str())
        .bind(url)
        .bind(secret)
        .bind(events)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(webhook)
    }

    pub async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND deleted_at IS NULL
             ORDER BY created_at, id"
        )))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn webhook(&self, tenant: &TenantId, id: Uuid) -> Result<Webhook, StoreError> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM webhooks
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
        )))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("webhook"))
    }

    /// Stops deliveries; the registration and its log stay for the record.
    pub async fn delete_webhook(&self, tenant: &TenantId, id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE webhooks SET deleted_at = now()
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("webhook"));
        }
        Ok(())
    }

    /// The delivery log, newest first.
    pub async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        id: Uuid,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.webhook(tenant, id).await?;
        Ok(sqlx::query_as(
            "SELECT id, seq, attempt, attempted_at, status_code, error, duration_ms, succeeded
             FROM webhook_deliveries
             WHERE tenant_id = $1 AND webhook_id = $2 AND ($3::int8 IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Claims one due webhook that has an event to deliver, and that event. The claim (a row
/// lock) lasts until the transaction ends: record the attempt in it, then commit.
pub async fn claim_due(
    tx: &mut PgConnection,
) -> Result<Option<(Claimed, HistoryEntry)>, StoreError> {
    loop {
        let claimed: Option<(Claimed, i64, Vec<String>)> = sqlx::query_as::<_, ClaimRow>(
            "SELECT tenant_id, id, url, secret, failures, delivered_seq, events FROM webhooks
             WHERE deleted_at IS NULL AND next_attempt_at <= now()
               AND EXISTS (SELECT 1 FROM alert_history h
                           WHERE h.tenant_id = webhooks.tenant_id AND h.seq > delivered_seq
                             AND (cardinality(events) = 0 OR h.action = ANY(events)))
             ORDER BY next_attempt_at
             LIMIT 1
             FOR UPDATE SKIP LOCKED",
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| {
            (
                Claimed {
                    tenant_id: r.tenant_id,
                    id: r.id,
                    url: r.url,
                    secret: r.secret,
                    failures: r.failures,
                },
                r.delivered_seq,
                r.events,
            )
        });
        let Some((claimed, after, events)) = claimed else {
            return Ok(None);
        };
        let next: Option<HistoryEntry> = sqlx::query_as(
            "SELECT seq, alert_id, at, actor, action, note, snapshot FROM alert_history
             WHERE tenant_id = $1 AND seq > $2 AND (cardinality($3::text[]) = 0 OR action = ANY($3))
             ORDER BY seq LIMIT 1",
        )
        .bind(&claimed.tenant_id)
        .bind(after)
        .bind(&events)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(entry) = next {
            return Ok(Some((claimed, entry)));
        }
    }
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    tenant_id: String,
    id: Uuid,
    url: String,
    secret: String,
    failures: i32,
    delivered_seq: i64,
    events: Vec<String>,
}

/// Records an attempt at delivering `seq`: on success the cursor moves past it, on failure
/// the next attempt waits `retry_in`.
pub async fn record_attempt(
    tx: &mut PgConnection,
    webhook: &Claimed,
    seq: i64,
    attempt: &Attempt,
    retry_in: chrono::Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (tenant_id, webhook_id, seq, attempt, status_code,
                                         error, duration_ms, succeeded)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&webhook.tenant_id)
    .bind(webhook.id)
    .bind(seq)
    .bind(webhook.failures + 1)
    .bind(attempt.status_code)
    .bind(&attempt.error)
    .bind(attempt.duration_ms)
    .bind(attempt.succeeded)
    .execute(&mut *tx)
    .await?;
    if attempt.succeeded {
        sqlx::query(
            "UPDATE webhooks SET delivered_seq = $3, failures = 0, next_attempt_at = now()
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&webhook.tenant_id)
        .bind(webhook.id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query(
            "UPDATE webhooks SET failures = failures + 1, next_attempt_at = now() + $3
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&webhook.tenant_id)
        .bind(webhook.id)
        .bind(retry_in)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
