//! coldchain's HTTP API: one [`ApiContext`], one router per resource merged in [`router`],
//! one error type ([`error::ApiError`]) with one JSON shape.

pub mod error;
pub mod extract;
pub mod live;
pub mod page;
pub mod routes;
pub mod telemetry;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use coldchain_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::trace::TraceLayer;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;

/// Whether the broker side of this process is connected; absent in an API-only process.
pub type BrokerReadiness = Arc<dyn Fn() -> bool + Send + Sync>;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct ApiContext {
    pub store: Store,
    /// Renders `/metrics`; the recorder is process-wide.
    pub metrics: PrometheusHandle,
    /// `/readyz` also requires the broker when this process runs the ingest.
    pub broker_ready: Option<BrokerReadiness>,
    /// Wakes `/v1/alerts/stream` when alerts change, in whichever process.
    pub alert_feed: live::AlertFeed,
    /// The font the PDF reports are set in.
    pub report_font: routes::report::ReportFonts,
}

/// Request bodies larger than this get 413. Device and shipment documents are small.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The API's description; the paths come from the handlers' `#[utoipa::path]`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "coldchain",
        description = "Cold-chain tracking: devices, shipments and their journeys, readings, \
                       figures, timelines, reports, alerts and webhooks. Every /v1 request names \
                       its tenant in the X-Tenant header."
    ),
    tags(
        (name = "health", description = "Liveness, readiness, metrics and this document"),
        (name = "devices", description = "Data loggers"),
        (name = "shipments", description = "Shipments, their loggers, journey and readings"),
        (name = "reports", description = "Timeline, figures and the temperature report"),
        (name = "profiles", description = "Product profiles: bands and alert rules"),
        (name = "alerts", description = "Alerts, their lifecycle and the live stream"),
        (name = "webhooks", description = "Alert changes pushed to your URL"),
        (name = "ingest", description = "What gateways sent that could not be stored"),
    )
)]
struct ApiDoc;

/// Every route, each with its OpenAPI description: a route can only be added with its
/// description (`routes!` needs the handler's `#[utoipa::path]`).
fn documented_routes() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::router())
        .merge(routes::docs::router())
        .merge(routes::devices::router())
        .merge(routes::shipments::router())
        .merge(routes::timeline::router())
        .merge(routes::report::router())
        .merge(routes::rejected::router())
        .merge(routes::profiles::router())
        .merge(routes::alerts::router())
        .merge(routes::webhooks::router())
}

/// The OpenAPI document of every route, served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented_routes().split_for_parts().1;
    routes::docs::TenantHeader.modify(&mut doc);
    doc
}

/// The whole API.
pub fn router(ctx: ApiContext, body_limit: usize) -> Router {
    let (routes, _) = documented_routes().split_for_parts();
    routes
        .route_layer(axum::middleware::from_fn(telemetry::track))
        .fallback(|| async { ApiError::NotFound("route".into()) })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(ctx)
}
