//! `/v1/profiles`: product profiles, the presets included, and the tenant's own.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Duration;
use coldchain_domain::ProductProfile;
use coldchain_domain::profile::DEFAULT_DELTA_H_KJ_PER_MOL;
use serde::Deserialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Tenant};
use crate::routes::devices::field;

pub fn router() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
}

/// A new profile; what is left out takes the defaults of the preset profiles.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateProfile {
    id: String,
    name: String,
    min_c: f64,
    max_c: f64,
    alert_delay_s: Option<i64>,
    clear_margin_c: Option<f64>,
    clear_delay_s: Option<i64>,
    excursion_budget_s: Option<i64>,
    mkt_limit_c: Option<f64>,
    mkt_delta_h_kj_per_mol: Option<f64>,
    offline_after_s: Option<i64>,
    door_open_limit_s: Option<i64>,
    battery_low_pct: Option<f64>,
    max_gap_s: Option<i64>,
    mute_handovers: Option<bool>,
    mute_defrost: Option<bool>,
}

const WEEK_S: i64 = 7 * 86_400;

#[utoipa::path(post, path = "/v1/profiles", tag = "profiles", request_body = CreateProfile, responses(
    (status = 201, description = "Created", body = ProductProfile),
    (status = 409, description = "A profile with this id exists", body = ErrorBody),
    (status = 422, description = "Invalid fields", body = ErrorBody)))]
/// Creates a profile; what is left out takes the presets' defaults.
async fn create(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Json(b): Json<CreateProfile>,
) -> Result<(StatusCode, axum::Json<ProductProfile>), ApiError> {
    let mut errors = Vec::new();
    let valid_id = !b.id.is_empty()
        && b.id.len() <= 63
        && b.id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_id {
        errors.push(field("id", "1-63 characters of A-Z a-z 0-9 - _"));
    }
    if b.name.is_empty() || b.name.chars().count() > 200 {
        errors.push(field("name", "1-200 characters"));
    }
    let temperature = -100.0..=100.0;
    for (name, v) in [("min_c", b.min_c), ("max_c", b.max_c)] {
        if !temperature.contains(&v) {
            errors.push(field(name, "must be between -100 and 100 °C"));
        }
    }
    if b.min_c >= b.max_c {
        errors.push(field("max_c", "must be above min_c"));
    }
    let mut seconds = |name: &str, v: Option<i64>, default: Duration, min: i64| {
        let v = v.unwrap_or(default.num_seconds());
        if !(min..=WEEK_S).contains(&v) {
            errors.push(field(
                name,
                format!("must be between {min} and {WEEK_S} seconds"),
            ));
        }
        Duration::seconds(v)
    };
    // The presets share their delays and limits; a new profile starts from them.
    let base = ProductProfile::preset(&coldchain_domain::PRODUCT_PRESETS[0]);
    let alert_delay = seconds("alert_delay_s", b.alert_delay_s, base.alert_delay, 0);
    let clear_delay = seconds("clear_delay_s", b.clear_delay_s, base.clear_delay, 0);
    let excursion_budget = seconds(
        "excursion_budget_s",
        b.excursion_budget_s,
        Duration::hours(4),
        0,
    );
    let offline_after = seconds("offline_after_s", b.offline_after_s, base.offline_after, 60);
    let door_open_limit = seconds(
        "door_open_limit_s",
        b.door_open_limit_s,
        base.door_open_limit,
        60,
    );
    let max_gap = b
        .max_gap_s
        .map(|v| seconds("max_gap_s", Some(v), Duration::zero(), 60));
    let clear_margin_c = b.clear_margin_c.unwrap_or(0.5);
    if !(0.0..=(b.max_c - b.min_c).abs()).contains(&clear_margin_c) {
        errors.push(field(
            "clear_margin_c",
            "must be between 0 and the band's width",
        ));
    }
    let delta_h = b
        .mkt_delta_h_kj_per_mol
        .unwrap_or(DEFAULT_DELTA_H_KJ_PER_MOL);
    if !(1.0..=1000.0).contains(&delta_h) {
        errors.push(field(
            "mkt_delta_h_kj_per_mol",
            "must be between 1 and 1000 kJ/mol",
        ));
    }
    if b.mkt_limit_c.is_some_and(|l| !temperature.contains(&l)) {
        errors.push(field("mkt_limit_c", "must be between -100 and 100 °C"));
    }
    let battery_low_pct = b.battery_low_pct.unwrap_or(base.battery_low_pct);
    if !(0.0..=100.0).contains(&battery_low_pct) {
        errors.push(field("battery_low_pct", "must be between 0 and 100"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let profile = ProductProfile {
        id: b.id,
        name: b.name,
        min_c: b.min_c,
        max_c: b.max_c,
        alert_delay,
        clear_margin_c,
        clear_delay,
        excursion_budget,
        mkt_limit_c: b.mkt_limit_c,
        mkt_delta_h_kj_per_mol: delta_h,
        offline_after,
        door_open_limit,
        battery_low_pct,
        max_gap,
        mute_handovers: b.mute_handovers.unwrap_or(true),
        mute_defrost: b.mute_defrost.unwrap_or(true),
    };
    let created = ctx.store.create_profile(&tenant, &profile).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// The tenant's profiles, the presets included.
#[utoipa::path(get, path = "/v1/profiles", tag = "profiles", responses(
    (status = 200, description = "Every profile", body = Vec<ProductProfile>)))]
async fn list(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
) -> Result<axum::Json<Vec<ProductProfile>>, ApiError> {
    Ok(axum::Json(ctx.store.profiles(&tenant).await?))
}

/// One profile.
#[utoipa::path(get, path = "/v1/profiles/{id}", tag = "profiles",
    params(("id" = String, Path, description = "The profile id, e.g. chilled-meat")), responses(
    (status = 200, description = "The profile", body = ProductProfile),
    (status = 404, description = "No such profile", body = ErrorBody)))]
async fn show(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<axum::Json<ProductProfile>, ApiError> {
    // Presets exist for every tenant from its first write; reading first creates them too.
    ctx.store.profiles(&tenant).await?;
    Ok(axum::Json(ctx.store.profile(&tenant, &id).await?))
}
