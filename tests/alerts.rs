//! Alerts end to end, driven by the simulator's scenario files: the scripted faults produce
//! exactly the expected alerts, and the same readings shuffled and delivered late produce the
//! same alerts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use coldchain_e2e::*;
use coldchain_sim::register::ApiClient;
use coldchain_sim::run::Summary;
use coldchain_sim::scenario::Scenario;
use coldchain_sim::telemetry::{FleetStream, MessageKind, StreamOptions};
use coldchain_store::Store;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::Value;

struct Stack {
    _db: TestDb,
    broker: Broker,
    store: Store,
    api: String,
    _ingest: RunningIngest,
}

async fn stack(name: &str) -> Stack {
    init_tracing();
    let (db, broker) = (TestDb::create().await, Broker::start().await);
    let store = db.store().await;
    let api = serve_api(store.clone()).await;
    let ingest = start_ingest(ingest_config(&broker, name), store.clone());
    ingest.wait_connected().await;
    Stack {
        _db: db,
        broker,
        store,
        api,
        _ingest: ingest,
    }
}

fn scenario(file: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../simulator/scenarios")
        .join(file);
    Scenario::load(&path).unwrap()
}

fn stream_options(tenant: &str, scenario: &Scenario) -> StreamOptions {
    StreamOptions {
        tenant: tenant.to_owned(),
        start: scenario.start.expect("shipped scenarios pin their start"),
        qos: 1,
        gateway_batch: None,
    }
}

async fn wait_stored(store: &Store, tenant: &str, readings: u64) {
    wait_for_readings(store, tenant, readings, Duration::from_secs(120)).await;
}

/// The tenant's current alerts (retracted ones left out), in a comparable form.
async fn alerts(api: &str, tenant: &str) -> Vec<Value> {
    let page: Value = reqwest::Client::new()
        .get(format!("{api}/v1/alerts?limit=1000"))
        .header("X-Tenant", tenant)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut items: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            serde_json::json!({
                "kind": a["kind"], "device_id": a["device_id"], "status": a["status"],
                "started_at": a["started_at"], "ended_at": a["ended_at"],
                "peak_c": a["peak_c"], "out_of_band_s": a["out_of_band_s"],
            })
        })
        .collect();
    items.sort_by_key(|a| a.to_string());
    items
}

async fn play_in_order(stack: &Stack, tenant: &str, scenario: &Scenario) -> Summary {
    let stream = stream_options(tenant, scenario);
    let (_, summary) = play_fleet(
        &stack.api,
        &stack.broker,
        scenario.plans.clone(),
        stream,
        scenario.seed,
    )
    .await;
    wait_stored(&stack.store, tenant, summary.published.readings).await;
    summary
}

/// Checks the alerts against the scenario's expectations: each expected kind as many times
/// as expected, starting in its window, and nothing else.
fn check_expected(scenario: &Scenario, found: &[Value]) {
    let expected = scenario.expected_alerts(scenario.start.unwrap());
    let mut by_kind: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for a in found {
        by_kind
            .entry(a["kind"].as_str().unwrap().to_owned())
            .or_default()
            .push(a);
    }
    for e in &expected {
        let of_kind = by_kind.remove(e.kind.code()).unwrap_or_default();
        assert_eq!(
            of_kind.len(),
            e.count,
            "{}: {} alerts {of_kind:?}",
            scenario.name,
            e.kind
        );
        for a in of_kind {
            let started: chrono::DateTime<chrono::Utc> =
                a["started_at"].as_str().unwrap().parse().unwrap();
            assert!(
                e.starts_after.is_none_or(|t| started >= t)
                    && e.starts_before.is_none_or(|t| started <= t),
                "{}: {} started at {started}, expected within {:?}..{:?}",
                scenario.name,
                e.kind,
                e.starts_after,
                e.starts_before
            );
        }
    }
    assert!(
        by_kind.is_empty(),
        "{}: unexpected alerts {by_kind:?}",
        scenario.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scripted_faults_raise_exactly_the_expected_alerts() {
    let stack = stack("ingest-alerts").await;
    for file in [
        "reefer-failure-mid-sea.toml",
        "power-loss-at-port.toml",
        "door-left-open-at-cold-store.toml",
        "sensor-offline-buffered-excursion.toml",
        "healthy-air-freight.toml",
    ] {
        let scenario = scenario(file);
        let tenant = format!("t{}", rand::random::<u32>());
        play_in_order(&stack, &tenant, &scenario).await;
        // Alerts are written with the readings: once the readings are in, so are they.
        check_expected(&scenario, &alerts(&stack.api, &tenant).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readings_shuffled_and_delivered_late_give_the_same_alerts() {
    let stack = stack("ingest-shuffle").await;
    let scenario = scenario("reefer-failure-mid-sea.toml");
    let in_order = format!("t{}", rand::random::<u32>());
    play_in_order(&stack, &in_order, &scenario).await;
    let expected = alerts(&stack.api, &in_order).await;
    check_expected(&scenario, &expected);

    // The same readings and events for another tenant, all at once, in a random order, over
    // four concurrent connections, with every tenth message sent twice.
    let shuffled = format!("t{}", rand::random::<u32>());
    let options = stream_options(&shuffled, &scenario);
    ApiClient::new(&stack.api, &shuffled)
        .register_fleet(&scenario.plans, options.start)
        .await
        .unwrap();
    let mut messages: Vec<(String, Vec<u8>)> =
        FleetStream::new(&scenario.plans, options, scenario.seed)
            .filter(|m| m.kind != MessageKind::Status)
            .map(|m| (m.topic, m.payload))
            .collect();
    let readings: u64 = messages
        .iter()
        .filter(|(topic, _)| topic.ends_with("/telemetry"))
        .map(|(_, p)| match serde_json::from_slice::<Value>(p).unwrap() {
            Value::Array(a) => a.len() as u64,
            _ => 1,
        })
        .sum();
    let again: Vec<_> = messages.iter().step_by(10).cloned().collect();
    messages.extend(again);
    messages.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    let chunk = messages.len().div_ceil(4);
    let publishers: Vec<_> = messages
        .chunks(chunk)
        .map(|c| tokio::spawn(publish_to(stack.broker.port, c.to_vec())))
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    wait_stored(&stack.store, &shuffled, readings).await;
    // sensor_offline is about arrival ("nothing received for offline_after"), so readings
    // delivered shuffled may raise it; every alert about the readings themselves is the same.
    let about_readings = |alerts: Vec<Value>| -> Vec<Value> {
        alerts
            .into_iter()
            .filter(|a| a["kind"] != "sensor_offline")
            .collect()
    };
    assert_eq!(
        about_readings(alerts(&stack.api, &shuffled).await),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operators_acknowledge_and_resolve_and_the_history_cannot_be_rewritten() {
    init_tracing();
    let db = TestDb::create().await;
    let store = db.store().await;
    let api = serve_api(store.clone()).await;
    let t = "acme";

    // A logger of cherries (band -0.5..2.0) that has been at 6 °C for half an hour.
    let (s, profiles) = call("GET", format!("{api}/v1/profiles"), t, None).await;
    assert_eq!(s, 200);
    assert_eq!(profiles.as_array().unwrap().len(), 7, "every preset");
    let start = whole_seconds_ago(2);
    cherries(&api, t, start).await;
    let batch = readings_batch(
        t,
        "logger-1",
        start,
        5,
        &[1.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0],
    );
    let outcome = store.write_batch(&batch).await.unwrap();
    assert_eq!(outcome.alert_changes, 1);

    let (_, list) = call("GET", format!("{api}/v1/alerts?status=open"), t, None).await;
    let alert = &list["items"][0];
    assert_eq!(alert["kind"], "temperature_high");
    let started: chrono::DateTime<chrono::Utc> =
        alert["started_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        started,
        start + chrono::Duration::minutes(5),
        "from the first reading out"
    );
    let alert_id = alert["id"].as_str().unwrap();
    let url = |action: &str| format!("{api}/v1/alerts/{alert_id}/{action}");

    let (s, body) = call(
        "POST",
        url("resolve"),
        t,
        Some(serde_json::json!({"by": "mei"})),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let (s, body) = call(
        "POST",
        url("acknowledge"),
        t,
        Some(serde_json::json!({"by": "mei", "note": "calling the carrier"})),
    )
    .await;
    assert_eq!((s, body["status"].as_str()), (200, Some("acknowledged")));
    let (s, _) = call(
        "POST",
        url("acknowledge"),
        t,
        Some(serde_json::json!({"by": "mei"})),
    )
    .await;
    assert_eq!(s, 409, "already acknowledged");
    let (s, body) = call(
        "POST",
        url("resolve"),
        t,
        Some(serde_json::json!({"by": "jack", "note": "fruit inspected, within tolerance"})),
    )
    .await;
    assert_eq!((s, body["status"].as_str()), (200, Some("resolved")));
    let history: Vec<(String, String)> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_owned(),
                h["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("opened", "engine"),
            ("acknowledged", "operator:mei"),
            ("resolved", "operator:jack")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(body["history"][2]["snapshot"]["status"], "resolved");

    // Another tenant sees nothing of it; unknown ids are 404.
    let (s, _) = call("GET", format!("{api}/v1/alerts/{alert_id}"), "other", None).await;
    assert_eq!(s, 404);
    let (s, body) = call("GET", format!("{api}/v1/alerts?kind=too_warm"), t, None).await;
    assert_eq!(
        (s, body["error"]["details"][0]["field"].as_str()),
        (422, Some("kind"))
    );

    for sql in [
        "UPDATE alert_history SET note = 'nothing happened'",
        "DELETE FROM alert_history",
    ] {
        let error = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(error.to_string().contains("append-only"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_live_stream_resumes_after_an_api_restart_without_losing_changes() {
    init_tracing();
    let db = TestDb::create().await;
    // The batch writer stands for the ingest: another process than the API.
    let ingest_side = db.store().await;
    let t = "acme";
    let api = ApiProcess::start(db.url(), 0);
    let start = whole_seconds_ago(3);
    cherries(&api.base, t, start).await;

    let mut stream = SseReader::open(&format!("{}/v1/alerts/stream", api.base), t, None).await;
    ingest_side
        .write_batch(&readings_batch(
            t,
            "logger-1",
            start,
            5,
            &[1.0, 6.0, 6.0, 6.0, 6.0, 6.0],
        ))
        .await
        .unwrap();
    let opened = stream
        .next(Duration::from_secs(10))
        .await
        .expect("an event");
    assert_eq!(opened.event.as_deref(), Some("alert"));
    let data: Value = serde_json::from_str(&opened.data).unwrap();
    assert_eq!(
        (data["action"].as_str(), data["snapshot"]["kind"].as_str()),
        (Some("opened"), Some("temperature_high"))
    );
    let seen = opened.id.clone().unwrap();

    // The API dies; meanwhile the excursion ends, and another tenant's alert opens.
    api.kill();
    assert_eq!(
        stream.next(Duration::from_secs(10)).await,
        None,
        "the stream ends with the process"
    );
    let later = start + chrono::Duration::minutes(30);
    ingest_side
        .write_batch(&readings_batch(
            t,
            "logger-1",
            later,
            5,
            &[1.0, 1.0, 1.0, 1.0],
        ))
        .await
        .unwrap();
    let other_api = ApiProcess::start(db.url(), 0);
    cherries(&other_api.base, "other", start).await;
    ingest_side
        .write_batch(&readings_batch("other", "logger-1", start, 5, &[6.0; 6]))
        .await
        .unwrap();

    // A new API process; the client resumes from the last event it saw.
    let mut stream = SseReader::open(
        &format!("{}/v1/alerts/stream", other_api.base),
        t,
        Some(&seen),
    )
    .await;
    let ended = stream
        .next(Duration::from_secs(10))
        .await
        .expect("the missed event");
    let data: Value = serde_json::from_str(&ended.data).unwrap();
    assert_eq!(data["action"], "ended");
    assert!(ended.id.unwrap().parse::<i64>().unwrap() > seen.parse::<i64>().unwrap());

    // And live again: a new excursion.
    let again = start + chrono::Duration::minutes(60);
    ingest_side
        .write_batch(&readings_batch(t, "logger-1", again, 5, &[6.0; 5]))
        .await
        .unwrap();
    let live = stream
        .next(Duration::from_secs(10))
        .await
        .expect("a live event");
    let data: Value = serde_json::from_str(&live.data).unwrap();
    assert_eq!(data["action"], "opened");
    assert_ne!(data["alert_id"], serde_json::json!(null));
}

/// A webhook receiver on its own runtime and thread, so it can be killed and restarted on
/// the same port. It records every delivery whose signature checks out.
struct Receiver {
    port: u16,
    got: std::sync::Arc<std::sync::Mutex<Vec<(i64, Value)>>>,
    process: Option<(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    )>,
}

const SECRET: &str = "s3cret-shared-with-the-receiver";

impl Receiver {
    fn start(port: u16, got: std::sync::Arc<std::sync::Mutex<Vec<(i64, Value)>>>) -> Receiver {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = got.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().route(
                    "/hook",
                    axum::routing::post(
                        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                            let sink = sink.clone();
                            async move {
                                let signed = headers["x-coldchain-signature"].to_str().unwrap();
                                if signed != coldchain_api::webhooks::signature(SECRET, &body) {
                                    return axum::http::StatusCode::UNAUTHORIZED;
                                }
                                let id: i64 = headers["x-coldchain-event-id"]
                                    .to_str()
                                    .unwrap()
                                    .parse()
                                    .unwrap();
                                sink.lock()
                                    .unwrap()
                                    .push((id, serde_json::from_slice(&body).unwrap()));
                                axum::http::StatusCode::NO_CONTENT
                            }
                        },
                    ),
                );
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .unwrap();
                ready_tx.send(()).unwrap();
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_background();
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Receiver {
            port,
            got,
            process: Some((stop_tx, thread)),
        }
    }

    fn kill(&mut self) {
        if let Some((stop, thread)) = self.process.take() {
            let _ = stop.send(());
            thread.join().unwrap();
        }
    }

    async fn wait_for(&self, n: usize) -> Vec<(i64, Value)> {
        let got = self.got.clone();
        eventually(&format!("{n} deliveries"), Duration::from_secs(60), || {
            let got = got.clone();
            async move {
                let seen = got.lock().unwrap().clone();
                (seen.len() >= n).then_some(seen)
            }
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_get_every_change_in_order_across_restarts_of_the_api_and_the_receiver() {
    init_tracing();
    let db = TestDb::create().await;
    let ingest_side = db.store().await;
    let t = "acme";
    let api = ApiProcess::start(db.url(), 0);
    let start = whole_seconds_ago(4);
    cherries(&api.base, t, start).await;

    let (s, body) = call(
        "POST",
        format!("{}/v1/webhooks", api.base),
        t,
        Some(serde_json::json!({"url": "ftp://x", "secret": "short", "events": ["exploded"]})),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(
        body["error"]["details"].as_array().unwrap().len(),
        3,
        "{body}"
    );

    let mut receiver = Receiver::start(free_port(), Default::default());
    let (s, webhook) = call(
        "POST",
        format!("{}/v1/webhooks", api.base),
        t,
        Some(serde_json::json!({
            "url": format!("http://127.0.0.1:{}/hook", receiver.port),
            "secret": SECRET,
        })),
    )
    .await;
    assert_eq!(s, 201);
    assert!(
        webhook.get("secret").is_none(),
        "the secret is never returned"
    );
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();

    // One excursion: opened.
    ingest_side
        .write_batch(&readings_batch(
            t,
            "logger-1",
            start,
            5,
            &[1.0, 6.0, 6.0, 6.0, 6.0, 6.0],
        ))
        .await
        .unwrap();
    let first = receiver.wait_for(1).await;
    assert_eq!(first[0].1["action"], "opened");

    // The receiver goes away; the excursion ends and another opens; the API restarts.
    receiver.kill();
    ingest_side
        .write_batch(&readings_batch(
            t,
            "logger-1",
            start + chrono::Duration::minutes(30),
            5,
            &[1.0; 4],
        ))
        .await
        .unwrap();
    ingest_side
        .write_batch(&readings_batch(
            t,
            "logger-1",
            start + chrono::Duration::minutes(60),
            5,
            &[6.0; 5],
        ))
        .await
        .unwrap();
    // The receiver is down: wait until the dispatcher has tried and logged the failure.
    eventually(
        "a failed delivery logged",
        Duration::from_secs(30),
        || async {
            let (_, history) = call(
                "GET",
                format!("{}/v1/webhooks/{webhook_id}/deliveries?limit=100", api.base),
                t,
                None,
            )
            .await;
            history["items"]
                .as_array()?
                .iter()
                .any(|d| d["succeeded"] == false)
                .then_some(())
        },
    )
    .await;
    api.kill();
    let api = ApiProcess::start(db.url(), 0);
    let receiver = Receiver::start(receiver.port, receiver.got.clone());

    let all = receiver.wait_for(3).await;
    let actions: Vec<&str> = all
        .iter()
        .map(|(_, e)| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["opened", "ended", "opened"]);
    let seqs: Vec<i64> = all.iter().map(|(id, _)| *id).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    let (_, history) = call(
        "GET",
        format!("{}/v1/webhooks/{webhook_id}/deliveries?limit=100", api.base),
        t,
        None,
    )
    .await;
    let log = history["items"].as_array().unwrap();
    assert!(
        log.iter()
            .any(|d| d["succeeded"] == false && d["error"].is_string()),
        "{log:?}"
    );
    assert_eq!(log.iter().filter(|d| d["succeeded"] == true).count(), 3);

    // Removed: nothing more is delivered.
    let (s, _) = reqwest::Client::new()
        .delete(format!("{}/v1/webhooks/{webhook_id}", api.base))
        .header("X-Tenant", t)
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(s, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_door_left_open_and_a_flat_battery_raise_their_alerts() {
    let Cherries {
        db: _db,
        store,
        api,
        start,
    } = cherries_in_a_fresh_database(5).await;
    let t = "acme";
    // Every 5 minutes: the door open from 10 to 25 (15 minutes, the preset limit) and the
    // battery sliding under 20 % at 25 (19.5 %), then a fresh battery at 50.
    let mut batch = readings_batch(t, "logger-1", start, 5, &[1.0; 12]);
    for (i, r) in batch.readings[0].readings.iter_mut().enumerate() {
        r.door_open = Some((2..5).contains(&i));
        r.battery_pct = Some(match i {
            0..=6 => 22.0 - i as f64 * 0.5,
            7..=9 => 19.0,
            _ => 95.0,
        });
    }
    // Delivered newest first, in three batches, as a buffered upload might be.
    let all = batch.readings[0].readings.clone();
    for part in all.rchunks(4).map(<[_]>::to_vec) {
        let mut b = batch.clone();
        b.readings[0].readings = part;
        store.write_batch(&b).await.unwrap();
    }
    let (_, list) = call("GET", format!("{api}/v1/alerts"), t, None).await;
    let mut found: Vec<(String, String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["started_at"].as_str().unwrap().to_owned(),
                a["ended_at"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    found.sort();
    let at = |m: i64| {
        (start + chrono::Duration::minutes(m)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    assert_eq!(
        found,
        vec![
            ("battery_low".to_owned(), at(25), at(50)),
            ("door_open_too_long".to_owned(), at(10), at(25)),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logger_silent_by_the_wall_clock_is_reported_offline_until_data_flows_again() {
    let Cherries {
        db: _db,
        store,
        api,
        start,
    } = cherries_in_a_fresh_database(3).await;
    let t = "acme";
    // Readings up to two hours ago, received then; the cherries profile allows an hour.
    let mut batch = readings_batch(t, "logger-1", start, 5, &[1.0; 13]);
    batch.readings[0].received_at = start + chrono::Duration::minutes(60);
    store.write_batch(&batch).await.unwrap();

    let now = chrono::Utc::now();
    assert_eq!(store.sweep_offline(now).await.unwrap(), 1);
    assert_eq!(store.sweep_offline(now).await.unwrap(), 0, "reported once");
    let (_, list) = call(
        "GET",
        format!("{api}/v1/alerts?kind=sensor_offline"),
        t,
        None,
    )
    .await;
    let alert = &list["items"][0];
    assert_eq!(alert["status"], "open");
    let started: chrono::DateTime<chrono::Utc> =
        alert["started_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        started,
        start + chrono::Duration::minutes(60),
        "from the last reading"
    );

    // The logger comes back with its buffer: the alert ends where readings resume.
    let back = start + chrono::Duration::minutes(65);
    store
        .write_batch(&readings_batch(t, "logger-1", back, 5, &[1.0; 20]))
        .await
        .unwrap();
    let (_, list) = call(
        "GET",
        format!("{api}/v1/alerts?kind=sensor_offline"),
        t,
        None,
    )
    .await;
    let alert = &list["items"][0];
    assert_eq!(alert["status"], "resolved");
    let ended: chrono::DateTime<chrono::Utc> = alert["ended_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(ended, back);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_defrost_the_logger_reports_mutes_the_excursion_even_when_the_event_comes_late() {
    let stack = stack("ingest-defrost").await;
    let t = "acme";
    let start = whole_seconds_ago(3);
    cherries(&stack.api, t, start).await;
    let topic = |channel: &str| format!("coldchain/v1/{t}/logger-1/{channel}");
    let at = |m: i64| (start + chrono::Duration::minutes(m)).to_rfc3339();

    // A defrost spike: 3.5 °C for 25 minutes, then back at 1 °C.
    let temps = [1.0, 3.5, 3.5, 3.5, 3.5, 3.5, 1.0, 1.0, 1.0, 1.0];
    let readings: Vec<(String, Vec<u8>)> = temps
        .iter()
        .enumerate()
        .map(|(i, temp)| {
            let body = serde_json::json!({"ts": at(5 * i as i64), "temp_c": temp});
            (topic("telemetry"), body.to_string().into_bytes())
        })
        .collect();
    publish_all(&stack.broker, readings).await;
    wait_stored(&stack.store, t, temps.len() as u64).await;
    let kinds = |alerts: Vec<Value>| -> Vec<String> {
        alerts
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kinds(alerts(&stack.api, t).await),
        ["temperature_high"],
        "before the events"
    );

    // The logger's defrost events arrive afterwards (its event queue was behind).
    let events = serde_json::json!([
        {"ts": at(4), "event": "defrost_start"},
        {"ts": at(32), "event": "defrost_end"},
    ]);
    publish_all(
        &stack.broker,
        vec![(topic("events"), events.to_string().into_bytes())],
    )
    .await;
    eventually("the alert withdrawn", Duration::from_secs(30), || async {
        alerts(&stack.api, t).await.is_empty().then_some(())
    })
    .await;
    let (_, retracted) = call(
        "GET",
        format!("{}/v1/alerts?include_retracted=true", stack.api),
        t,
        None,
    )
    .await;
    let alert = &retracted["items"][0];
    assert_eq!(alert["retracted"], true);
    let (_, detail) = call(
        "GET",
        format!("{}/v1/alerts/{}", stack.api, alert["id"].as_str().unwrap()),
        t,
        None,
    )
    .await;
    let actions: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["opened", "ended", "retracted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readings_are_stored_even_if_judging_their_alerts_fails() {
    let Cherries {
        db: _db,
        store,
        start,
        ..
    } = cherries_in_a_fresh_database(2).await;
    let t = "acme";
    // Stand in for a bug in the rules: any alert write fails.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END; $$;
         CREATE TRIGGER refuse BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let outcome = store
        .write_batch(&readings_batch(t, "logger-1", start, 5, &[6.0; 6]))
        .await
        .unwrap();
    assert_eq!(outcome.inserted, 6);
    assert!(outcome.alert_error.unwrap().contains("refused by the test"));
    let tenant = coldchain_domain::TenantId::parse(t.to_owned()).unwrap();
    assert_eq!(store.count_readings(&tenant).await.unwrap(), 6);
}
