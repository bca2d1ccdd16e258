//! Product profiles per tenant. Every tenant starts with the presets (chilled meat, frozen,
//! seafood, temperate produce, dairy, pharma, chilling-sensitive produce) under their preset
//! ids, and may add its own.

use chrono::Duration;
use coldchain_domain::{ProductProfile, TenantId};

use crate::{Store, StoreError};

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: String,
    name: String,
    min_c: f64,
    max_c: f64,
    alert_delay_s: i32,
    clear_margin_c: f64,
    clear_delay_s: i32,
    excursion_budget_s: i32,
    mkt_limit_c: Option<f64>,
    mkt_delta_h_kj_per_mol: f64,
    offline_after_s: i32,
    door_open_limit_s: i32,
    battery_low_pct: f64,
    max_gap_s: Option<i32>,
    mute_handovers: bool,
    mute_defrost: bool,
}

impl From<ProfileRow> for ProductProfile {
    fn from(r: ProfileRow) -> Self {
        let s = |v: i32| Duration::seconds(i64::from(v));
        ProductProfile {
            id: r.id,
            name: r.name,
            min_c: r.min_c,
            max_c: r.max_c,
            alert_delay: s(r.alert_delay_s),
            clear_margin_c: r.clear_margin_c,
            clear_delay: s(r.clear_delay_s),
            excursion_budget: s(r.excursion_budget_s),
            mkt_limit_c: r.mkt_limit_c,
            mkt_delta_h_kj_per_mol: r.mkt_delta_h_kj_per_mol,
            offline_after: s(r.offline_after_s),
            door_open_limit: s(r.door_open_limit_s),
            battery_low_pct: r.battery_low_pct,
            max_gap: r.max_gap_s.map(s),
            mute_handovers: r.mute_handovers,
            mute_defrost: r.mute_defrost,
        }
    }
}

macro_rules! profile_columns {
    () => {
        " id, name, min_c, max_c, alert_delay_s, clear_margin_c, clear_delay_s, \
         excursion_budget_s, mkt_limit_c, mkt_delta_h_kj_per_mol, offline_after_s, \
         door_open_limit_s, battery_low_pct, max_gap_s, mute_handovers, mute_defrost "
    };
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.num_seconds()).unwrap_or(i32::MAX)
}

macro_rules! insert_profile {
    () => {
        concat!(
            "INSERT INTO product_profiles (tenant_id,",
            profile_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        )
    };
}

/// What to do when the tenant already has a profile with that id.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IfExists {
    Keep,
    Fail,
}

async fn insert(
    executor: impl sqlx::PgExecutor<'_>,
    tenant: &TenantId,
    p: &ProductProfile,
    if_exists: IfExists,
) -> Result<(), sqlx::Error> {
    let sql = match if_exists {
        IfExists::Keep => concat!(insert_profile!(), " ON CONFLICT DO NOTHING"),
        IfExists::Fail => insert_profile!(),
    };
    sqlx::query(sql)
        .bind(tenant.as_str())
        .bind(&p.id)
        .bind(&p.name)
        .bind(p.min_c)
        .bind(p.max_c)
        .bind(secs(p.alert_delay))
        .bind(p.clear_margin_c)
        .bind(secs(p.clear_delay))
        .bind(secs(p.excursion_budget))
        .bind(p.mkt_limit_c)
        .bind(p.mkt_delta_h_kj_per_mol)
        .bind(secs(p.offline_after))
        .bind(secs(p.door_open_limit))
        .bind(p.battery_low_pct)
        .bind(p.max_gap.map(secs))
        .bind(p.mute_handovers)
        .bind(p.mute_defrost)
        .execute(executor)
        .await?;
    Ok(())
}

impl Store {
    /// Gives a tenant the preset profiles it does not have yet.
    pub(crate) async fn ensure_presets(
        tx: &mut sqlx::PgConnection,
        tenant: &TenantId,
    ) -> Result<(), StoreError> {
        for preset in ProductProfile::presets() {
            insert(&mut *tx, tenant, &preset, IfExists::Keep).await?;
        }
        Ok(())
    }

    pub async fn create_profile(
        &self,
        tenant: &TenantId,
        profile: &ProductProfile,
    ) -> Result<ProductProfile, StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_tenant(&mut tx, tenant).await?;
        insert(&mut *tx, tenant, profile, IfExists::Fail)
            .await
            .map_err(StoreError::from_constraint)?;
        tx.commit().await?;
        self.profile(tenant, &profile.id).await
    }

    pub async fn profile(&self, tenant: &TenantId, id: &str) -> Result<ProductProfile, StoreError> {
        profile_in(&self.pool, tenant, id)
            .await?
            .ok_or(StoreError::NotFound("product profile"))
    }

    /// The tenant's profiles (the presets included), by id.
    pub async fn profiles(&self, tenant: &TenantId) -> Result<Vec<ProductProfile>, StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_tenant(&mut tx, tenant).await?;
        let rows: Vec<ProfileRow> = sqlx::query_as(concat!(
            "SELECT",
            profile_columns!(),
            "FROM product_profiles WHERE tenant_id = $1 ORDER BY id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// One profile, read through any executor (the batch writer reads it in its transaction).
pub(crate) async fn profile_in(
    executor: impl sqlx::PgExecutor<'_>,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<ProductProfile>, StoreError> {
    let row: Option<ProfileRow> = sqlx::query_as(concat!(
        "SELECT",
        profile_columns!(),
        "FROM product_profiles WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(Into::into))
}
