//! Devices (data loggers) and their latest known state.

use chrono::{DateTime, Utc};
use coldchain_domain::{DeviceId, TenantId};
use serde::Serialize;

use crate::{Store, StoreError};

/// A device to register.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: DeviceId,
    pub name: String,
    pub model: String,
    pub reading_interval_s: i32,
}

/// The newest reading a device has sent (by event time).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq)]
pub struct LastReading {
    pub ts: DateTime<Utc>,
    pub temp_c: f64,
    pub humidity_pct: Option<f64>,
    pub door_open: Option<bool>,
    pub battery_pct: Option<f64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A registered device with what is known of it.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub model: String,
    pub reading_interval_s: i32,
    pub created_at: DateTime<Utc>,
    /// When the ingest last stored a reading from it (arrival time).
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_reading: Option<LastReading>,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    name: String,
    model: String,
    reading_interval_s: i32,
    created_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
    last_reading_ts: Option<DateTime<Utc>>,
    last_temp_c: Option<f64>,
    last_humidity_pct: Option<f64>,
    last_door_open: Option<bool>,
    last_battery_pct: Option<f64>,
    last_lat: Option<f64>,
    last_lon: Option<f64>,
}

impl From<DeviceRow> for Device {
    fn from(r: DeviceRow) -> Self {
        let last_reading = match (r.last_reading_ts, r.last_temp_c) {
            (Some(ts), Some(temp_c)) => Some(LastReading {
                ts,
                temp_c,
                humidity_pct: r.last_humidity_pct,
                door_open: r.last_door_open,
                battery_pct: r.last_battery_pct,
                lat: r.last_lat,
                lon: r.last_lon,
            }),
            _ => None,
        };
        Device {
            id: r.id,
            name: r.name,
            model: r.model,
            reading_interval_s: r.reading_interval_s,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            last_reading,
        }
    }
}

/// The device columns joined with its state; a macro so queries can `concat!` onto it and
/// stay static strings.
macro_rules! select_device {
    () => {
        r#"
SELECT d.id, d.name, d.model, d.reading_interval_s, d.created_at,
       s.last_seen_at, s.last_reading_ts, s.last_temp_c, s.last_humidity_pct,
       s.last_door_open, s.last_battery_pct, s.last_lat, s.last_lon
FROM devices d
LEFT JOIN device_state s ON s.tenant_id = d.tenant_id AND s.device_id = d.id
"#
    };
}

impl Store {
    /// Registers a device; a second registration of the same id is a conflict.
    pub async fn create_device(
        &self,
        tenant: &TenantId,
        new: &NewDevice,
    ) -> Result<Device, StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_tenant(&mut tx, tenant).await?;
        sqlx::query(
            "INSERT INTO devices (tenant_id, id, name, model, reading_interval_s)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_str())
        .bind(new.id.as_str())
        .bind(&new.name)
        .bind(&new.model)
        .bind(new.reading_interval_s)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_constraint)?;
        tx.commit().await?;
        self.device(tenant, new.id.as_str()).await
    }

    /// One device of the tenant, with its last reading.
    pub async fn device(&self, tenant: &TenantId, id: &str) -> Result<Device, StoreError> {
        let row: Option<DeviceRow> = sqlx::query_as(concat!(
            select_device!(),
            " WHERE d.tenant_id = $1 AND d.id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Device::from).ok_or(StoreError::NotFound("device"))
    }

    /// The tenant's devices in id order, `limit` at a time, starting after `after`.
    pub async fn devices(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Device>, StoreError> {
        let rows: Vec<DeviceRow> = sqlx::query_as(concat!(
            select_device!(),
            " WHERE d.tenant_id = $1 AND ($2::text IS NULL OR d.id > $2) ORDER BY d.id LIMIT $3"
        ))
        .bind(tenant.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Device::from).collect())
    }
}
