//! End to end: MQTT (a private Mosquitto with the repo's config) into PostgreSQL (a fresh
//! database per test) through the real ingest pipeline.

use std::time::Duration;

use chrono::{DateTime, Utc};
use coldchain_domain::{DeviceId, TenantId};
use coldchain_e2e::*;
use coldchain_store::Store;
use coldchain_store::devices::NewDevice;
use serde_json::json;

async fn register(store: &Store, tenant: &TenantId, devices: &[String]) {
    for id in devices {
        store
            .create_device(
                tenant,
                &NewDevice {
                    id: DeviceId::parse(id.clone()).unwrap(),
                    name: String::new(),
                    model: "test".into(),
                    reading_interval_s: 60,
                },
            )
            .await
            .unwrap();
    }
}

fn topic(tenant: &TenantId, device: &str) -> String {
    format!("coldchain/v1/{tenant}/{device}/telemetry")
}

/// One reading per message, `n` of them per device, one minute apart, ending a minute ago.
fn readings(tenant: &TenantId, devices: &[String], n: usize) -> Vec<(String, Vec<u8>)> {
    let end: DateTime<Utc> = Utc::now() - chrono::Duration::minutes(1);
    let mut out = Vec::new();
    for device in devices {
        for i in 0..n {
            let ts = end - chrono::Duration::minutes((n - i) as i64);
            let payload =
                json!({"ts": ts.to_rfc3339(), "seq": i, "temp_c": 2.0 + (i % 7) as f64 * 0.1});
            out.push((topic(tenant, device), payload.to_string().into_bytes()));
        }
    }
    out
}

async fn count(store: &Store, tenant: &TenantId) -> i64 {
    store.count_readings(tenant).await.unwrap()
}

async fn wait_for_count(store: &Store, tenant: &TenantId, expected: i64, timeout: Duration) {
    eventually(&format!("{expected} stored readings"), timeout, || async {
        (count(store, tenant).await == expected).then_some(())
    })
    .await;
}

fn tenant() -> TenantId {
    TenantId::parse(format!("t{}", rand::random::<u32>())).unwrap()
}

fn devices(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("logger-{i:03}")).collect()
}

/// A fresh database, a private broker and a tenant with `n` registered devices.
struct Fixture {
    db: TestDb,
    broker: Broker,
    store: Store,
    tenant: TenantId,
    devices: Vec<String>,
}

async fn fixture(n: usize) -> Fixture {
    init_tracing();
    let (db, broker) = (TestDb::create().await, Broker::start().await);
    let store = db.store().await;
    let tenant = tenant();
    let devices = devices(n);
    register(&store, &tenant, &devices).await;
    Fixture {
        db,
        broker,
        store,
        tenant,
        devices,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_readings_from_concurrent_publishers_are_stored_exactly_once() {
    let f = fixture(20).await;
    let (broker, store, tenant, devices) = (&f.broker, &f.store, &f.tenant, &f.devices);
    let ingest = start_ingest(ingest_config(broker, "ingest-10k"), store.clone());
    ingest.wait_connected().await;

    // 20 devices x 500 readings, split across 4 concurrent publishers.
    let all = readings(tenant, devices, 500);
    let publishers: Vec<_> = all
        .chunks(all.len() / 4)
        .map(|chunk| tokio::spawn(publish_to(broker.port, chunk.to_vec())))
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }

    wait_for_count(store, tenant, 10_000, Duration::from_secs(120)).await;
    let distinct: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT DISTINCT device_id, ts FROM readings WHERE tenant_id = $1) d",
    )
    .bind(tenant.as_str())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(distinct, 10_000);
    ingest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_readings_published_twice_are_stored_once() {
    let f = fixture(5).await;
    let (broker, store, tenant, devices) = (&f.broker, &f.store, &f.tenant, &f.devices);
    let ingest = start_ingest(ingest_config(broker, "ingest-dup"), store.clone());
    ingest.wait_connected().await;

    let batch = readings(tenant, devices, 100);
    publish_all(broker, batch.clone()).await;
    publish_all(broker, batch).await;
    ingest.wait_acked(1000).await;
    assert_eq!(count(store, tenant).await, 500);
    ingest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_payloads_are_kept_with_their_reason_and_good_readings_still_flow() {
    let f = fixture(2).await;
    let (broker, store, tenant, devices) = (&f.broker, &f.store, &f.tenant, &f.devices);
    let ingest = start_ingest(ingest_config(broker, "ingest-bad"), store.clone());
    ingest.wait_connected().await;

    let now = Utc::now();
    let good_topic = topic(tenant, &devices[0]);
    let mut stream = readings(tenant, devices, 50);
    let bad: Vec<(String, Vec<u8>)> = vec![
        (good_topic.clone(), b"{not json".to_vec()),
        (
            good_topic.clone(),
            br#"{"ts":"2026-01-01T00:00:00Z","temp_c":"cold"}"#.to_vec(),
        ),
        (
            good_topic.clone(),
            json!({"ts": now.to_rfc3339(), "temp_c": 250.0})
                .to_string()
                .into_bytes(),
        ),
        (
            good_topic.clone(),
            json!({"ts": (now + chrono::Duration::hours(2)).to_rfc3339(), "temp_c": 3.0})
                .to_string()
                .into_bytes(),
        ),
        (
            topic(tenant, "never-registered"),
            json!({"ts": now.to_rfc3339(), "temp_c": 3.0})
                .to_string()
                .into_bytes(),
        ),
        (good_topic.clone(), vec![b'x'; 300 * 1024]),
    ];
    // Interleave the bad ones with the good stream.
    for (i, b) in bad.into_iter().enumerate() {
        stream.insert(i * 15, b);
    }
    publish_all(broker, stream).await;

    wait_for_count(store, tenant, 100, Duration::from_secs(60)).await;
    let reasons: Vec<String> = eventually("six rejections", Duration::from_secs(30), || async {
        let r: Vec<String> = sqlx::query_scalar(
            "SELECT reason FROM rejected_payloads WHERE tenant_id = $1 ORDER BY reason",
        )
        .bind(tenant.as_str())
        .fetch_all(store.pool())
        .await
        .unwrap();
        (r.len() >= 6).then_some(r)
    })
    .await;
    assert_eq!(
        reasons,
        vec![
            "future_timestamp",
            "malformed",
            "malformed",
            "out_of_range",
            "oversize",
            "unknown_device"
        ]
    );
    let quarantined: Vec<u8> = sqlx::query_scalar(
        "SELECT payload FROM rejected_payloads WHERE tenant_id = $1 AND reason = 'unknown_device'",
    )
    .bind(tenant.as_str())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&quarantined).contains("temp_c"));
    ingest.stop().await;
}

/// An ingest config whose batches never fill or linger out: only a shutdown flushes them.
fn never_flushing(broker: &Broker, client_id: &str) -> coldchain_ingest::IngestConfig {
    let mut config = ingest_config(broker, client_id);
    config.batch_size = 1_000_000;
    config.batch_linger = Duration::from_secs(3600);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_before_commit_loses_nothing_once_the_ingest_is_back() {
    let f = fixture(4).await;
    let (broker, store, tenant, devices) = (&f.broker, &f.store, &f.tenant, &f.devices);

    // Everything the first ingest takes stays uncommitted and unacknowledged until it is
    // killed.
    let mut config = never_flushing(broker, "ingest-crash");
    let first = start_ingest(config.clone(), store.clone());
    first.wait_connected().await;
    publish_all(broker, readings(tenant, devices, 500)).await;
    first.wait_received(500).await;
    first.crash().await;
    assert_eq!(
        count(store, tenant).await,
        0,
        "nothing was committed before the crash"
    );

    // Same client id, normal batching: the broker redelivers everything.
    config.batch_size = 500;
    config.batch_linger = Duration::from_millis(50);
    let second = start_ingest(config, store.clone());
    wait_for_count(store, tenant, 2000, Duration::from_secs(60)).await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_going_away_for_a_while_loses_nothing() {
    let f = fixture(4).await;
    let (broker, direct, tenant, devices) = (&f.broker, &f.store, &f.tenant, &f.devices);
    let proxy = TcpProxy::start(database_addr()).await;
    let store = f.db.store_via(Some(proxy.addr)).await;
    let ingest = start_ingest(ingest_config(broker, "ingest-dbdown"), store);
    ingest.wait_connected().await;

    let all = readings(tenant, devices, 400);
    let (before, during) = all.split_at(800);
    publish_all(broker, before.to_vec()).await;
    wait_for_count(direct, tenant, 800, Duration::from_secs(60)).await;

    proxy.cut();
    publish_all(broker, during.to_vec()).await;
    // The outage itself: the ingest holds what it took, the broker the rest.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        count(direct, tenant).await,
        800,
        "nothing written while the database is away"
    );
    proxy.restore();

    wait_for_count(direct, tenant, 1600, Duration::from_secs(60)).await;
    ingest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_commits_and_acknowledges_what_it_took() {
    let f = fixture(2).await;
    let (broker, store, tenant, devices) = (&f.broker, &f.store, &f.tenant, &f.devices);
    // Only the shutdown flush can commit these.
    let ingest = start_ingest(never_flushing(broker, "ingest-graceful"), store.clone());
    ingest.wait_connected().await;
    publish_all(broker, readings(tenant, devices, 150)).await;
    ingest.wait_received(300).await;
    let acked = ingest.state.clone();
    ingest.stop().await;
    assert_eq!(count(store, tenant).await, 300);
    assert_eq!(
        acked
            .messages_acked
            .load(std::sync::atomic::Ordering::Relaxed),
        300
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn published_readings_read_back_through_the_api_in_event_time_order() {
    let f = fixture(2).await;
    let (broker, store, tenant, devices) = (&f.broker, &f.store, &f.tenant, &f.devices);
    let ingest = start_ingest(ingest_config(broker, "ingest-api"), store.clone());
    ingest.wait_connected().await;

    let base = serve_api(store.clone()).await;
    let http = reqwest::Client::new();
    let shipment: serde_json::Value = http
        .post(format!("{base}/v1/shipments"))
        .header("X-Tenant", tenant.as_str())
        .json(&json!({"reference": "MEL-SHA-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = shipment["id"].as_str().unwrap().to_owned();

    // 60 readings per device, one a minute; the shipment holds the devices for the middle
    // 30 minutes only (device 0) and from minute 10 on (device 1).
    let all = readings(tenant, devices, 60);
    let first: serde_json::Value = serde_json::from_slice(&all[0].1).unwrap();
    let first_ts = DateTime::parse_from_rfc3339(first["ts"].as_str().unwrap())
        .map(|t| DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap())
        .unwrap();
    let at = |minute: i64| (first_ts + chrono::Duration::minutes(minute)).to_rfc3339();
    for (device, from, to) in [(&devices[0], 15, Some(45)), (&devices[1], 10, None)] {
        let status = http
            .post(format!("{base}/v1/shipments/{id}/devices"))
            .header("X-Tenant", tenant.as_str())
            .json(&json!({"device_id": device, "from": at(from), "to": to.map(at)}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, reqwest::StatusCode::CREATED);
    }
    // Deliver them newest first, as a gateway draining its buffer might.
    publish_all(broker, all.into_iter().rev().collect()).await;
    wait_for_count(store, tenant, 120, Duration::from_secs(60)).await;

    let mut seen: Vec<(String, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/shipments/{id}/readings?limit=7");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: serde_json::Value = http
            .get(url)
            .header("X-Tenant", tenant.as_str())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push((
                item["ts"].as_str().unwrap().to_owned(),
                item["device_id"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let per_device = |d: &str| seen.iter().filter(|(_, dev)| dev == d).count();
    assert_eq!(
        per_device(&devices[0]),
        30,
        "only readings inside the window"
    );
    assert_eq!(per_device(&devices[1]), 50);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| {
        let ta = DateTime::parse_from_rfc3339(&a.0).unwrap();
        let tb = DateTime::parse_from_rfc3339(&b.0).unwrap();
        ta.cmp(&tb).then(a.1.cmp(&b.1))
    });
    assert_eq!(seen, sorted, "event-time order across pages");

    let device: serde_json::Value = http
        .get(format!("{base}/v1/devices/{}", devices[1]))
        .header("X-Tenant", tenant.as_str())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last_ts = DateTime::parse_from_rfc3339(device["last_reading"]["ts"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        last_ts,
        first_ts + chrono::Duration::minutes(59),
        "newest by event time, not arrival"
    );
    ingest.stop().await;
}
