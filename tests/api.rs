//! End to end over HTTP: the real router on a real socket against a fresh database.

use coldchain_e2e::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Api {
    base: String,
    http: reqwest::Client,
    tenant: String,
    _db: TestDb,
}

impl Api {
    async fn start() -> Api {
        init_tracing();
        let db = TestDb::create().await;
        Api {
            base: serve_api(db.store().await).await,
            http: reqwest::Client::new(),
            tenant: "acme".into(),
            _db: db,
        }
    }

    fn as_tenant(&self, tenant: &str) -> Api2<'_> {
        Api2 {
            api: self,
            tenant: tenant.to_owned(),
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.as_tenant(&self.tenant).get(path).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_raw(path, body.to_string(), "application/json")
            .await
    }

    async fn post_raw(&self, path: &str, body: String, content_type: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("X-Tenant", &self.tenant)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

struct Api2<'a> {
    api: &'a Api,
    tenant: String,
}

impl Api2<'_> {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self
            .api
            .http
            .get(format!("{}{path}", self.api.base))
            .header("X-Tenant", &self.tenant)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// Every error has the one documented shape.
fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn devices_and_shipments_round_trip() {
    let api = Api::start().await;
    let (s, device) = api
        .post(
            "/v1/devices",
            json!({"id": "logger-1", "name": "Tag 1", "reading_interval_s": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{device}");
    assert_eq!(device["last_reading"], Value::Null);

    let (s, shipment) = api
        .post(
            "/v1/shipments",
            json!({"reference": "MEL-SHA-0001", "seller": "Gippsland Beef", "origin": "Melbourne",
                   "destination": "Shanghai", "mode": "sea"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{shipment}");
    assert_eq!(shipment["status"], "planned");
    let id = shipment["id"].as_str().unwrap();

    let (s, a) = api
        .post(
            &format!("/v1/shipments/{id}/devices"),
            json!({"device_id": "logger-1", "from": "2026-11-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, detail) = api.get(&format!("/v1/shipments/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(detail["devices"][0]["device_id"], "logger-1");
    assert_eq!(detail["devices"][0]["assigned_to"], Value::Null);

    // Another tenant sees none of it.
    let (s, body) = api
        .as_tenant("other")
        .get(&format!("/v1/shipments/{id}"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (_, devices) = api.as_tenant("other").get("/v1/devices").await;
    assert_eq!(devices["items"], json!([]));
}

#[tokio::test]
async fn shipment_listing_is_paginated_and_filtered() {
    let api = Api::start().await;
    for i in 0..5 {
        let (s, _) = api
            .post("/v1/shipments", json!({"reference": format!("REF-{i}")}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/shipments?limit=2".to_owned();
    loop {
        let (s, page) = api.get(&path).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|i| i["reference"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/shipments?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec!["REF-4", "REF-3", "REF-2", "REF-1", "REF-0"]);
    let (_, page) = api.get("/v1/shipments?status=in_transit").await;
    assert_eq!(page["items"], json!([]));
    let (_, page) = api.get("/v1/shipments?status=planned").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn bad_requests_get_the_documented_error_and_change_nothing() {
    let api = Api::start().await;
    let (_, _) = api.post("/v1/devices", json!({"id": "logger-1"})).await;
    let (_, shipment) = api
        .post("/v1/shipments", json!({"reference": "REF-1"}))
        .await;
    let id = shipment["id"].as_str().unwrap().to_owned();
    let (_, _) = api
        .post(
            &format!("/v1/shipments/{id}/devices"),
            json!({"device_id": "logger-1", "from": "2026-11-01T00:00:00Z"}),
        )
        .await;

    // No tenant.
    let res = api
        .http
        .get(format!("{}/v1/devices", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_error(&res.json().await.unwrap(), "invalid_tenant");
    let (s, body) = api.as_tenant("a/b").get("/v1/devices").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_tenant");

    // Malformed, mistyped, unknown fields, invalid values, wrong content type, too big.
    let (s, body) = api
        .post_raw("/v1/devices", "{\"id\":".into(), "application/json")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&body, "bad_request");
    let (s, body) = api.post("/v1/devices", json!({"id": 42})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "validation_failed");
    let (s, body) = api
        .post("/v1/devices", json!({"id": "x", "colour": "red"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "validation_failed");
    let (s, body) = api
        .post(
            "/v1/devices",
            json!({"id": "bad/id", "reading_interval_s": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["id", "reading_interval_s"]);
    let (s, body) = api.post_raw("/v1/devices", "{}".into(), "text/plain").await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&body, "unsupported_media_type");
    let huge = json!({"id": "big", "name": "x".repeat(100 * 1024)});
    let (s, body) = api.post("/v1/devices", huge).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&body, "payload_too_large");
    let (s, body) = api
        .post(
            "/v1/shipments",
            json!({"reference": "R", "mode": "teleport"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"][0]["field"], "mode");

    // Duplicates.
    let (s, body) = api.post("/v1/devices", json!({"id": "logger-1"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&body, "conflict");
    let (s, body) = api
        .post("/v1/shipments", json!({"reference": "REF-1"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&body, "conflict");
    let (s, body) = api
        .post(
            &format!("/v1/shipments/{id}/devices"),
            json!({"device_id": "logger-1", "from": "2026-11-10T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "overlapping assignment: {body}");

    // Unknown ids and hostile query parameters.
    let (s, body) = api
        .get("/v1/shipments/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (s, body) = api.get("/v1/shipments/not-a-uuid").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&body, "bad_request");
    let (s, _) = api.get("/v1/devices/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = api
        .post(
            &format!("/v1/shipments/{id}/devices"),
            json!({"device_id": "ghost"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for query in [
        "/v1/shipments?limit=0",
        "/v1/shipments?limit=100000",
        "/v1/shipments?limit=abc",
        "/v1/shipments?cursor=%27;DROP%20TABLE%20shipments;--",
        "/v1/shipments?status=lost",
        "/v1/shipments?sort=evil",
    ] {
        let (s, body) = api.get(query).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_error(&body, "validation_failed");
    }
    let (s, _) = api
        .get(&format!("/v1/shipments/{id}/readings?from=yesterday"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, body) = api.get("/v1/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");

    // Nothing changed.
    let (_, devices) = api.get("/v1/devices").await;
    assert_eq!(devices["items"].as_array().unwrap().len(), 1);
    let (_, shipments) = api.get("/v1/shipments").await;
    assert_eq!(shipments["items"].as_array().unwrap().len(), 1);
    let (_, detail) = api.get(&format!("/v1/shipments/{id}")).await;
    assert_eq!(detail["devices"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let api = Api::start().await;
    let (s, body) = api.get("/healthz").await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, body) = api.get("/readyz").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["database"], true);
    api.get("/v1/shipments/00000000-0000-0000-0000-000000000000")
        .await;
    let res = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Requests are counted per route template, not per id.
    let text = res.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("coldchain_http_requests_total")
                && l.contains(r#"route="/v1/shipments/{id}""#)
                && l.contains(r#"status="404""#)),
        "{text}"
    );
    assert!(text.contains("coldchain_http_request_duration_seconds"));
}
