//! `GET /v1/shipments/{id}/report`: the temperature report as a PDF (`?lang=zh` for
//! Simplified Chinese), and `GET /v1/shipments/{id}/report/chart.svg`, its chart.
//!
//! The report carries the SHA-256 of the readings export (`readings.csv`, header included)
//! its figures were computed from, so a reader can check it against the data.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use coldchain_domain::TenantId;
use coldchain_domain::figures::{Assessment, ShipmentFigures, assess};
pub use coldchain_report::DEFAULT_FONT_PATH;
use coldchain_report::{Lang, ReportFont, ReportInput};
use coldchain_store::alerts::Alert;
use coldchain_store::record::ShipmentRecord;
use coldchain_store::timeline::AlertMoment;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query, Tenant};
use crate::routes::shipments::{CSV_HEADER, csv_row, file_name, shipment_alerts};

pub fn router() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::new()
        .routes(routes!(report))
        .routes(routes!(chart))
}

/// The reports' font: where it is, and the font itself once the first report read it.
#[derive(Clone, Debug)]
pub struct ReportFonts {
    path: PathBuf,
    /// Read once per process; a missing font is reported on every request until the
    /// process restarts with it installed.
    font: Arc<OnceLock<Result<ReportFont, String>>>,
}

impl ReportFonts {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            font: Arc::default(),
        }
    }

    /// The font, read from disk the first time.
    pub fn get(&self) -> Result<&ReportFont, ApiError> {
        self.font
            .get_or_init(|| ReportFont::load(&self.path).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| ApiError::NotConfigured(e.clone()))
    }
}

impl Default for ReportFonts {
    /// Debian's fonts-wqy-microhei.
    fn default() -> Self {
        Self::new(DEFAULT_FONT_PATH)
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    /// `en` (default) or `zh` (Simplified Chinese).
    lang: Option<String>,
}

impl ReportQuery {
    fn lang(&self) -> Result<Lang, ApiError> {
        match &self.lang {
            None => Ok(Lang::En),
            Some(code) => {
                Lang::parse(code).ok_or_else(|| ApiError::field("lang", "must be en or zh"))
            }
        }
    }
}

/// Everything a report is drawn from.
struct Material {
    record: ShipmentRecord,
    alerts: Vec<Alert>,
    moments: Vec<AlertMoment>,
    fingerprint: String,
    readings: u64,
}

/// How often the readings are read again when some arrived between reading the figures'
/// snapshot and hashing the export.
const SNAPSHOT_ATTEMPTS: usize = 3;

async fn material(ctx: &ApiContext, tenant: &TenantId, id: Uuid) -> Result<Material, ApiError> {
    for _ in 0..SNAPSHOT_ATTEMPTS {
        let record = ctx.store.shipment_record(tenant, id).await?;
        let (fingerprint, readings) = fingerprint(ctx, tenant, id).await?;
        // Readings are only ever added, never changed or removed: the export, read after the
        // record, holds the same readings exactly when it holds as many.
        let in_record: usize = record.loggers.iter().map(|l| l.points.len()).sum();
        if in_record as u64 != readings {
            continue;
        }
        let alerts = shipment_alerts(ctx, tenant, id).await?;
        let moments = ctx
            .store
            // People act in wall-clock time: nothing is later than now.
            .alert_moments(
                tenant,
                id,
                chrono::DateTime::UNIX_EPOCH,
                Utc::now() + chrono::Duration::days(1),
            )
            .await?
            .into_iter()
            .filter(|m| matches!(m.action.as_str(), "acknowledged" | "resolved"))
            .collect();
        return Ok(Material {
            record,
            alerts,
            moments,
            fingerprint,
            readings,
        });
    }
    Err(ApiError::Conflict(
        "readings kept arriving while the report was prepared; retry in a moment".into(),
    ))
}

/// SHA-256 of the readings export, exactly as `GET .../readings.csv` serves it, and how many
/// readings it holds.
async fn fingerprint(
    ctx: &ApiContext,
    tenant: &TenantId,
    id: Uuid,
) -> Result<(String, u64), ApiError> {
    use futures_util::StreamExt;
    let mut hash = Sha256::new();
    hash.update(CSV_HEADER.as_bytes());
    let mut rows = std::pin::pin!(ctx.store.stream_shipment_readings(tenant, id));
    let mut n = 0;
    while let Some(row) = rows.next().await {
        hash.update(csv_row(&row?).as_bytes());
        n += 1;
    }
    Ok((hex::encode(hash.finalize()), n))
}

fn judged(m: &Material, open: usize) -> (Option<ShipmentFigures>, Option<Assessment>) {
    let figures = m.record.figures();
    let assessment = figures
        .as_ref()
        .zip(m.record.profile.as_ref())
        .map(|(f, p)| assess(&f.overall, p.excursion_budget, open));
    (figures, assessment)
}

/// Draws the PDF from the report's material: rendering (shaping, subsetting the font,
/// compressing) is CPU work, off the runtime.
async fn render(
    ctx: &ApiContext,
    tenant: &TenantId,
    id: Uuid,
    lang: Lang,
    font: ReportFont,
) -> Result<(String, Vec<u8>), ApiError> {
    let m = material(ctx, tenant, id).await?;
    tokio::task::spawn_blocking(move || {
        let open = m.alerts.iter().filter(|a| a.status != "resolved").count();
        let (figures, assessment) = judged(&m, open);
        let input = ReportInput {
            record: &m.record,
            figures: figures.as_ref(),
            assessment: assessment.as_ref(),
            alerts: &m.alerts,
            moments: &m.moments,
            fingerprint: &m.fingerprint,
            readings: m.readings,
            generated_at: Utc::now(),
        };
        let pdf = coldchain_report::pdf(&input, lang, &font);
        (m.record.shipment.reference.clone(), pdf)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))
    .and_then(|(reference, pdf)| {
        pdf.map(|pdf| (reference, pdf))
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
}

/// The temperature report, a PDF to hand to a buyer, an importer or an inspector.
#[utoipa::path(get, path = "/v1/shipments/{id}/report", tag = "reports", params(("id" = Uuid, Path, description = "The shipment id"), ReportQuery), responses(
    (status = 200, description = "The report", content_type = "application/pdf", body = Vec<u8>),
    (status = 404, description = "No such shipment", body = ErrorBody),
    (status = 409, description = "Readings kept arriving while it was prepared; retry", body = ErrorBody),
    (status = 422, description = "Unknown language", body = ErrorBody),
    (status = 503, description = "The report font is not installed on this server", body = ErrorBody)))]
async fn report(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let lang = q.lang()?;
    // Before the work of gathering the material.
    let font = ctx.report_font.get()?.clone();
    let (reference, pdf) = render(&ctx, &tenant, id, lang, font).await?;
    let name = file_name(
        &reference,
        &format!("temperature-report-{}.pdf", lang.code()),
    );
    Ok((
        [
            ("content-type", "application/pdf".to_owned()),
            (
                "content-disposition",
                format!("inline; filename=\"{name}\""),
            ),
        ],
        pdf,
    )
        .into_response())
}

/// The report's temperature chart.
#[utoipa::path(get, path = "/v1/shipments/{id}/report/chart.svg", tag = "reports", params(("id" = Uuid, Path, description = "The shipment id"), ReportQuery), responses(
    (status = 200, description = "The chart", content_type = "image/svg+xml", body = String),
    (status = 404, description = "No such shipment", body = ErrorBody),
    (status = 422, description = "Unknown language", body = ErrorBody)))]
async fn chart(
    State(ctx): State<ApiContext>,
    Tenant(tenant): Tenant,
    Path(id): Path<Uuid>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let lang = q.lang()?;
    // The chart needs neither the figures nor the fingerprint: the readings and the alerts.
    let record = ctx.store.shipment_record(&tenant, id).await?;
    let alerts = shipment_alerts(&ctx, &tenant, id).await?;
    let svg =
        tokio::task::spawn_blocking(move || coldchain_report::chart_svg(&record, &alerts, lang))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([("content-type", "image/svg+xml; charset=utf-8")], svg).into_response())
}
