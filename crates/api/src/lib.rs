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
}

/// Request bodies larger than this get 413. Device and shipment documents are small.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The whole API.
pub fn router(ctx: ApiContext, body_limit: usize) -> Router {
    Router::new()
        .merge(routes::health::router())
        .merge(routes::devices::router())
        .merge(routes::shipments::router())
        .merge(routes::timeline::router())
        .merge(routes::report::router())
        .merge(routes::rejected::router())
        .merge(routes::profiles::router())
        .merge(routes::alerts::router())
        .merge(routes::webhooks::router())
        .fallback(|| async { ApiError::NotFound("route".into()) })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(ctx)
}
