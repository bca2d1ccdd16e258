//! Fixtures shared by the HTTP-level tests: a JSON call as a tenant, a batch of one logger's
//! readings as the ingest would write it, and a shipment of cherries with one logger.

use serde_json::Value;

use crate::{TestDb, init_tracing, serve_api};
use coldchain_store::Store;

/// Sends a JSON request as tenant `t`; returns the status and the body.
pub async fn call(method: &str, url: String, t: &str, body: Option<Value>) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut req = match method {
        "POST" => http.post(url),
        _ => http.get(url),
    }
    .header("X-Tenant", t);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A batch of one logger's readings, `step` minutes apart from `start`, as the ingest would
/// write it.
pub fn readings_batch(
    tenant: &str,
    device: &str,
    start: chrono::DateTime<chrono::Utc>,
    step: i64,
    temps: &[f64],
) -> coldchain_store::batch::Batch {
    coldchain_store::batch::Batch {
        readings: vec![coldchain_store::batch::PendingReadings {
            tenant: coldchain_domain::TenantId::parse(tenant.to_owned()).unwrap(),
            device: coldchain_domain::DeviceId::parse(device.to_owned()).unwrap(),
            topic: format!("coldchain/v1/{tenant}/{device}/telemetry"),
            payload: Vec::new(),
            readings: temps
                .iter()
                .enumerate()
                .map(|(i, t)| coldchain_domain::Reading {
                    ts: start + chrono::Duration::minutes(step * i as i64),
                    seq: None,
                    temp_c: *t,
                    humidity_pct: None,
                    door_open: None,
                    battery_pct: None,
                    lat: None,
                    lon: None,
                })
                .collect(),
            received_at: chrono::Utc::now(),
        }],
        events: Vec::new(),
        rejections: Vec::new(),
    }
}

/// Registers `logger-1` riding with a shipment of cherries (band -0.5..2.0) from `start`.
pub async fn cherries(api: &str, t: &str, start: chrono::DateTime<chrono::Utc>) -> String {
    let (s, _) = call(
        "POST",
        format!("{api}/v1/devices"),
        t,
        Some(serde_json::json!({"id": "logger-1", "reading_interval_s": 300})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, shipment) = call(
        "POST",
        format!("{api}/v1/shipments"),
        t,
        Some(serde_json::json!({"reference": "MEL-SHA-1", "profile_id": "temperate-produce"})),
    )
    .await;
    assert_eq!(s, 201);
    let id = shipment["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        "POST",
        format!("{api}/v1/shipments/{id}/devices"),
        t,
        Some(serde_json::json!({"device_id": "logger-1", "from": start})),
    )
    .await;
    assert_eq!(s, 201);
    id
}

/// A fresh database and API where tenant `acme`'s `logger-1` rides with a shipment of
/// cherries from `hours` ago.
pub struct Cherries {
    /// Dropped with the fixture: the database lives as long as it.
    pub db: TestDb,
    pub store: Store,
    pub api: String,
    pub start: chrono::DateTime<chrono::Utc>,
}

pub async fn cherries_in_a_fresh_database(hours: i64) -> Cherries {
    init_tracing();
    let db = TestDb::create().await;
    let store = db.store().await;
    let api = serve_api(store.clone()).await;
    let start = whole_seconds_ago(hours);
    cherries(&api, "acme", start).await;
    Cherries {
        db,
        store,
        api,
        start,
    }
}

pub fn whole_seconds_ago(hours: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - hours * 3600, 0).unwrap()
}
