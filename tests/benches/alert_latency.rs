//! How long from a reading being published over MQTT to its alert appearing on the live
//! stream, end to end through a private Mosquitto (the repo's config), the real ingest (its
//! default batching), PostgreSQL and the API's server-sent events. The baseline, measured in
//! the same run, is the broker alone: publish to a plain subscriber.
//!
//! ```sh
//! cargo run --release -p coldchain-e2e --bin alert-latency -- 200
//! COLDCHAIN_BATCH_LINGER_MS=20 cargo run --release -p coldchain-e2e --bin alert-latency -- 200
//! ```

use std::time::{Duration, Instant};

use coldchain_e2e::latency::report;
use coldchain_e2e::*;
use coldchain_ingest::IngestConfig;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

async fn publisher(port: u16, id: &str) -> AsyncClient {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the number of alerts to time"))
        .unwrap_or(100);
    let (db, broker) = (TestDb::create().await, Broker::start().await);
    let store = db.store().await;
    let api = serve_api(store.clone()).await;
    let mut config = IngestConfig::new(broker.url(), "bench-ingest");
    // The same variable as the binary's, to time other batching settings.
    if let Ok(ms) = std::env::var("COLDCHAIN_BATCH_LINGER_MS") {
        config.batch_linger = Duration::from_millis(ms.parse().expect("milliseconds"));
    }
    println!(
        "ingest batching: {} readings or {} ms",
        config.batch_size,
        config.batch_linger.as_millis()
    );
    let ingest = start_ingest(config, store.clone());
    ingest.wait_connected().await;
    let http = reqwest::Client::new();
    let t = "bench";

    // One logger of cherries per alert to time, each riding with its own shipment.
    let start =
        chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 86_400, 0).unwrap();
    for i in 0..n {
        let post = |path: String, body: Value| {
            http.post(format!("{api}{path}"))
                .header("X-Tenant", t)
                .json(&body)
                .send()
        };
        post(
            "/v1/devices".into(),
            json!({"id": format!("l{i}"), "reading_interval_s": 300}),
        )
        .await
        .unwrap();
        let s: Value = post(
            "/v1/shipments".into(),
            json!({"reference": format!("B{i}"), "profile_id": "temperate-produce"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        post(
            format!("/v1/shipments/{}/devices", s["id"].as_str().unwrap()),
            json!({"device_id": format!("l{i}"), "from": start}),
        )
        .await
        .unwrap();
    }
    let client = publisher(broker.port, "bench-pub").await;
    let at = |m: i64| (start + chrono::Duration::minutes(m)).to_rfc3339();
    // Out of band from minute 5 on every logger, known for 10 minutes: not yet an alert
    // (the reading at 15 stands for nothing until the next one arrives).
    for i in 0..n {
        for (m, temp) in [(0, 1.0), (5, 6.0), (10, 6.0), (15, 6.0)] {
            client
                .publish(
                    format!("coldchain/v1/{t}/l{i}/telemetry"),
                    QoS::AtLeastOnce,
                    false,
                    json!({"ts": at(m), "temp_c": temp}).to_string(),
                )
                .await
                .unwrap();
        }
    }
    let tenant = coldchain_domain::TenantId::parse(t.to_owned()).unwrap();
    eventually(
        "the first readings stored",
        Duration::from_secs(60),
        || async { (store.count_readings(&tenant).await.unwrap() == 4 * n as i64).then_some(()) },
    )
    .await;

    // The reading at 20 makes each excursion 15 minutes long, one logger at a time.
    let mut stream = SseReader::open(&format!("{api}/v1/alerts/stream"), t, None).await;
    let mut end_to_end = Vec::new();
    for i in 0..n {
        let sent = Instant::now();
        client
            .publish(
                format!("coldchain/v1/{t}/l{i}/telemetry"),
                QoS::AtLeastOnce,
                false,
                json!({"ts": at(20), "temp_c": 6.0}).to_string(),
            )
            .await
            .unwrap();
        let event = stream
            .next(Duration::from_secs(30))
            .await
            .expect("an alert");
        end_to_end.push(sent.elapsed());
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["snapshot"]["device_id"], format!("l{i}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Baseline: the same broker, a publisher and a plain subscriber.
    let mut options = MqttOptions::new("bench-sub", "127.0.0.1", broker.port);
    options.set_keep_alive(Duration::from_secs(30));
    let (sub, mut sub_loop) = AsyncClient::new(options, 100);
    sub.subscribe("bench/#", QoS::AtLeastOnce).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = sub_loop.poll().await {
            if let Event::Incoming(Packet::Publish(_)) = event {
                let _ = tx.send(Instant::now());
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut broker_only = Vec::new();
    for _ in 0..n {
        let sent = Instant::now();
        client
            .publish("bench/x", QoS::AtLeastOnce, false, "{}")
            .await
            .unwrap();
        let got = rx.recv().await.unwrap();
        broker_only.push(got - sent);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    println!();
    let (p50, p99) = report("published -> alert on SSE", end_to_end);
    let (b50, b99) = report("published -> subscriber", broker_only);
    println!(
        "ratio to the broker alone: median {:.0}x, p99 {:.0}x",
        p50.as_secs_f64() / b50.as_secs_f64(),
        p99.as_secs_f64() / b99.as_secs_f64()
    );
    ingest.stop().await;
}
