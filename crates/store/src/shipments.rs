//! Shipments and the devices assigned to them over windows of event time.

use chrono::{DateTime, Utc};
use coldchain_domain::{DeviceId, ShipmentStatus, TenantId, TransportMode};
use serde::Serialize;
use uuid::Uuid;

use crate::{Store, StoreError};

/// A shipment to create.
#[derive(Debug, Clone)]
pub struct NewShipment {
    pub reference: String,
    pub seller: String,
    pub origin: String,
    pub destination: String,
    pub mode: TransportMode,
    pub profile_id: Option<String>,
    pub planned_departure: Option<DateTime<Utc>>,
    pub planned_arrival: Option<DateTime<Utc>>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Shipment {
    pub id: Uuid,
    pub reference: String,
    pub seller: String,
    pub origin: String,
    pub destination: String,
    pub mode: String,
    pub profile_id: Option<String>,
    pub status: String,
    pub planned_departure: Option<DateTime<Utc>>,
    pub planned_arrival: Option<DateTime<Utc>>,
    pub actual_departure: Option<DateTime<Utc>>,
    pub actual_arrival: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A device riding with a shipment from `assigned_from` until `assigned_to` (open-ended when
/// absent). Readings in that window of event time belong to the shipment.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Assignment {
    pub device_id: String,
    pub assigned_from: DateTime<Utc>,
    pub assigned_to: Option<DateTime<Utc>>,
}

/// Where a shipment listing resumes: after this (created_at, id).
pub type ShipmentCursor = (DateTime<Utc>, Uuid);

/// The columns of [`Shipment`]; a macro so queries can `concat!` it and stay static strings.
macro_rules! shipment_columns {
    () => {
        " id, reference, seller, origin, destination, mode, profile_id, status, \
         planned_departure, planned_arrival, actual_departure, actual_arrival, created_at "
    };
}

impl Store {
    pub async fn create_shipment(
        &self,
        tenant: &TenantId,
        new: &NewShipment,
    ) -> Result<Shipment, StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_tenant(&mut tx, tenant).await?;
        // Tenants from before profiles existed get the presets when they first name one.
        if new
            .profile_id
            .as_deref()
            .is_some_and(|id| coldchain_domain::ProductPreset::find(id).is_some())
        {
            Self::ensure_presets(&mut tx, tenant).await?;
        }
        let shipment: Shipment = sqlx::query_as(concat!(
            "INSERT INTO shipments (tenant_id, reference, seller, origin, destination, mode,
                                    profile_id, planned_departure, planned_arrival)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING",
            shipment_columns!()
        ))
        .bind(tenant.as_str())
        .bind(&new.reference)
        .bind(&new.seller)
        .bind(&new.origin)
        .bind(&new.destination)
        .bind(new.mode.code())
        .bind(&new.profile_id)
        .bind(new.planned_departure)
        .bind(new.planned_arrival)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_constraint)?;
        tx.commit().await?;
        Ok(shipment)
    }

    pub async fn shipment(&self, tenant: &TenantId, id: Uuid) -> Result<Shipment, StoreError> {
        sqlx::query_as(concat!(
            "SELECT",
            shipment_columns!(),
            "FROM shipments WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("shipment"))
    }

    /// The tenant's shipments, newest first, optionally of one status.
    pub async fn shipments(
        &self,
        tenant: &TenantId,
        status: Option<ShipmentStatus>,
        after: Option<ShipmentCursor>,
        limit: i64,
    ) -> Result<Vec<Shipment>, StoreError> {
        let (after_at, after_id) = after.unzip();
        let rows = sqlx::query_as(concat!(
            "SELECT",
            shipment_columns!(),
            "FROM shipments
             WHERE tenant_id = $1
               AND ($2::text IS NULL OR status = $2)
               AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
             ORDER BY created_at DESC, id DESC
             LIMIT $5"
        ))
        .bind(tenant.as_str())
        .bind(status.map(|s| s.code()))
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Assigns a device to a shipment for a window of event time. A device can ride with only
    /// one shipment at a time: overlapping windows are a conflict.
    pub async fn assign_device(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
        device: &DeviceId,
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Assignment, StoreError> {
        // Resolve both ids first so a missing one is a 404/422 with a plain message rather
        // than whichever constraint the database happens to check first.
        self.shipment(tenant, shipment).await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE tenant_id = $1 AND id = $2)",
        )
        .bind(tenant.as_str())
        .bind(device.as_str())
        .fetch_one(&self.pool)
        .await?;
        if !exists {
            return Err(StoreError::Invalid {
                field: "device_id".into(),
                message: format!("no device {:?} is registered", device.as_str()),
            });
        }
        sqlx::query_as(
            "INSERT INTO shipment_devices (tenant_id, shipment_id, device_id, assigned_from, assigned_to)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING device_id, assigned_from, assigned_to",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .bind(device.as_str())
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::from_constraint)
    }

    pub async fn assignments(
        &self,
        tenant: &TenantId,
        shipment: Uuid,
    ) -> Result<Vec<Assignment>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT device_id, assigned_from, assigned_to FROM shipment_devices
             WHERE tenant_id = $1 AND shipment_id = $2
             ORDER BY assigned_from, device_id",
        )
        .bind(tenant.as_str())
        .bind(shipment)
        .fetch_all(&self.pool)
        .await?)
    }
}
