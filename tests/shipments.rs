//! A shipment's journey over HTTP against a fresh database: events drive the status, the
//! legs and the custody; impossible transitions are refused and change nothing; handovers
//! mute the dock; the figures and the verdict follow the readings.

use chrono::{DateTime, Duration, Utc};
use coldchain_e2e::*;
use serde_json::{Value, json};

const T: &str = "acme";

/// Records a journey event; returns the status code and body.
async fn record(c: &Cherries, id: &str, body: Value) -> (u16, Value) {
    call(
        "POST",
        format!("{}/v1/shipments/{id}/events", c.api),
        T,
        Some(body),
    )
    .await
}

async fn get(c: &Cherries, path: &str) -> Value {
    let (s, body) = call("GET", format!("{}{path}", c.api), T, None).await;
    assert_eq!(s, 200, "{path}: {body}");
    body
}

/// The id of the fixture's one shipment.
async fn shipment_id(c: &Cherries) -> String {
    get(c, "/v1/shipments").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Readings every 5 minutes from the fixture's start.
async fn write(c: &Cherries, temps: &[f64]) {
    c.store
        .write_batch(&readings_batch(T, "logger-1", c.start, 5, temps))
        .await
        .unwrap();
}

fn minute(c: &Cherries, m: i64) -> DateTime<Utc> {
    c.start + Duration::minutes(m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journey_drives_status_legs_and_custody_and_impossible_steps_change_nothing() {
    let c = cherries_in_a_fresh_database(10).await;
    let id = shipment_id(&c).await;
    write(&c, &[1.0; 24]).await;

    let (s, body) = record(
        &c,
        &id,
        json!({"kind": "departed", "ts": minute(&c, 30), "location": "Melbourne",
               "recorded_by": "dispatcher"}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["status"], "in_transit");
    assert_eq!(body["event"]["temp_c"], 1.0, "read from the logger");
    assert_eq!(body["event"]["temp_source"], "loggers");
    let (_, shipment) = call("GET", format!("{}/v1/shipments/{id}", c.api), T, None).await;
    assert_eq!(shipment["status"], "in_transit");
    assert_eq!(shipment["actual_departure"], json!(minute(&c, 30)));

    // Refused, each with its reason, and nothing recorded.
    let refused = [
        (
            json!({"kind": "departed", "ts": minute(&c, 35)}),
            409,
            "already moving",
        ),
        (
            json!({"kind": "arrived", "ts": minute(&c, 20)}),
            409,
            "before the latest",
        ),
        (json!({"kind": "teleported"}), 422, "expected one of"),
        (
            json!({"kind": "arrived", "ts": Utc::now() + Duration::hours(1)}),
            422,
            "future",
        ),
        (json!({"kind": "arrived", "temp_c": 500.0}), 422, "between"),
        (
            json!({"kind": "handover", "ts": minute(&c, 35)}),
            409,
            "to_custodian",
        ),
        (json!({"kind": "arrived", "bogus": 1}), 422, "bogus"),
    ];
    for (body, status, reason) in refused {
        let (s, answer) = record(&c, &id, body.clone()).await;
        assert_eq!(s, status, "{body} -> {answer}");
        assert!(answer.to_string().contains(reason), "{body} -> {answer}");
    }
    let (s, _) = record(&c, uuid_zero(), json!({"kind": "arrived"})).await;
    assert_eq!(s, 404);
    let recorded = get(&c, &format!("/v1/shipments/{id}/events")).await;
    assert_eq!(
        recorded.as_array().unwrap().len(),
        1,
        "only the departure: {recorded}"
    );

    let steps = [
        json!({"kind": "handover", "ts": minute(&c, 40), "from_custodian": "Packer",
               "to_custodian": "Carrier", "location": "Melbourne port", "temp_c": 1.2}),
        json!({"kind": "arrived", "ts": minute(&c, 90), "location": "Shanghai"}),
        json!({"kind": "customs_hold", "ts": minute(&c, 91)}),
    ];
    for body in steps {
        let (s, answer) = record(&c, &id, body).await;
        assert_eq!(s, 201, "{answer}");
    }
    let (s, held) = record(&c, &id, json!({"kind": "departed", "ts": minute(&c, 95)})).await;
    assert_eq!(s, 409);
    assert!(held.to_string().contains("customs_released"), "{held}");
    for body in [
        json!({"kind": "customs_released", "ts": minute(&c, 100)}),
        json!({"kind": "delivered", "ts": minute(&c, 110), "location": "Buyer DC"}),
    ] {
        let (s, answer) = record(&c, &id, body).await;
        assert_eq!(s, 201, "{answer}");
    }
    let (s, over) = record(&c, &id, json!({"kind": "arrived"})).await;
    assert_eq!(s, 409, "{over}");

    let detail = get(&c, &format!("/v1/shipments/{id}")).await;
    assert_eq!(detail["status"], "delivered");
    assert_eq!(detail["actual_arrival"], json!(minute(&c, 110)));
    let legs: Vec<(String, String, String)> = detail["journey"]["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let text = |k: &str| l[k].as_str().unwrap().to_owned();
            (text("kind"), text("from"), text("to"))
        })
        .collect();
    let leg = |k: &str, f: &str, t: &str| (k.to_owned(), f.to_owned(), t.to_owned());
    assert_eq!(
        legs,
        [
            leg("origin", "", ""),
            leg("transit", "Melbourne", "Shanghai"),
            leg("hub", "Shanghai", ""),
        ]
    );
    assert_eq!(detail["journey"]["current_leg"], Value::Null);
    let custody: Vec<&str> = detail["journey"]["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["custodian"].as_str().unwrap())
        .collect();
    assert_eq!(custody, ["Packer", "Carrier"]);
    assert_eq!(detail["latest_readings"][0]["temp_c"], 1.0);
    assert_eq!(
        detail["latest_readings"][0]["ts"],
        json!(minute(&c, 5 * 23))
    );
    assert_eq!(detail["open_alerts"], json!([]));
    assert_eq!(detail["assessment"]["verdict"], "within_band");

    let events = get(&c, &format!("/v1/shipments/{id}/events")).await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "departed",
            "handover",
            "arrived",
            "customs_hold",
            "customs_released",
            "delivered"
        ]
    );
    assert_eq!(events[1]["temp_source"], "recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_mutes_the_dock_and_the_figures_say_who_held_the_goods() {
    let c = cherries_in_a_fresh_database(10).await;
    let id = shipment_id(&c).await;
    // In band for an hour, 3.5 °C for 30 minutes (minutes 60 to 85), in band again.
    let temps: Vec<f64> = (0..37)
        .map(|i| if (12..18).contains(&i) { 3.5 } else { 1.0 })
        .collect();
    write(&c, &temps).await;
    let alerts = get(&c, "/v1/alerts").await;
    assert_eq!(alerts["items"][0]["kind"], "temperature_high", "{alerts}");
    assert_eq!(alerts["items"][0]["status"], "resolved", "it ended");
    let detail = get(&c, &format!("/v1/shipments/{id}")).await;
    assert_eq!(detail["assessment"]["verdict"], "within_band", "{detail}");
    assert_eq!(detail["assessment"]["budget_used_s"], 1800);

    // The excursion was the goods on the dock: handed over at minute 75, 20 minutes each side.
    let (s, body) = record(
        &c,
        &id,
        json!({"kind": "handover", "ts": minute(&c, 75), "from_custodian": "Packer",
               "to_custodian": "Carrier", "dock_minutes": 20}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(get(&c, "/v1/alerts").await["items"], json!([]), "retracted");

    let figures = get(&c, &format!("/v1/shipments/{id}/figures")).await;
    let overall = &figures["overall"];
    assert_eq!(overall["readings"], 37);
    assert_eq!(
        (overall["min_c"].clone(), overall["max_c"].clone()),
        (json!(1.0), json!(3.5))
    );
    assert_eq!(
        overall["above_s"], 1800,
        "the dock time is still above the band"
    );
    assert_eq!(overall["in_band_s"], 36 * 300 - 1800);
    assert_eq!(overall["budget_used_s"], 0, "but muted for the budget");
    assert_eq!(overall["excursions"], 0);
    let held: Vec<(&str, i64)> = figures["custodians"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["custodian"].as_str().unwrap(),
                c["figures"]["above_s"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(held, [("Packer", 900), ("Carrier", 900)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_excursion_budget_compromises_the_shipment() {
    let c = cherries_in_a_fresh_database(10).await;
    let id = shipment_id(&c).await;
    // Cherries may spend 4 hours out of band; these spend 5.
    let temps: Vec<f64> = (0..70).map(|i| if i < 60 { 4.0 } else { 1.0 }).collect();
    // Two and a half hours in, still out of band: more than half the budget, an open alert.
    write(&c, &temps[..31]).await;
    let detail = get(&c, &format!("/v1/shipments/{id}")).await;
    let assessment = &detail["assessment"];
    assert_eq!(assessment["verdict"], "at_risk", "{assessment}");
    assert_eq!(
        assessment["reasons"].as_array().unwrap().len(),
        2,
        "{assessment}"
    );

    write(&c, &temps).await;
    let detail = get(&c, &format!("/v1/shipments/{id}")).await;
    let assessment = &detail["assessment"];
    assert_eq!(assessment["verdict"], "compromised", "{assessment}");
    assert_eq!(assessment["budget_s"], 4 * 3600);
    assert_eq!(assessment["budget_used_s"], 5 * 3600);
    let kinds: Vec<&str> = detail["open_alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"excursion_budget_exhausted"), "{kinds:?}");

    // Without a profile there is no band: figures say so rather than guess.
    let (_, bare) = call(
        "POST",
        format!("{}/v1/shipments", c.api),
        T,
        Some(json!({"reference": "NO-PROFILE"})),
    )
    .await;
    let (s, body) = call(
        "GET",
        format!(
            "{}/v1/shipments/{}/figures",
            c.api,
            bare["id"].as_str().unwrap()
        ),
        T,
        None,
    )
    .await;
    assert_eq!(s, 409, "{body}");
    assert!(body.to_string().contains("profile"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readings_export_round_trips_every_reading_in_order() {
    let c = cherries_in_a_fresh_database(10).await;
    let id = shipment_id(&c).await;
    // More rows than one chunk of the stream, with awkward decimals.
    let temps: Vec<f64> = (0..1200).map(|i| -0.45 + f64::from(i) * 0.0013).collect();
    let mut batch = readings_batch(T, "logger-1", c.start, 0, &[]);
    batch.readings[0].readings = temps
        .iter()
        .enumerate()
        .map(|(i, t)| coldchain_domain::Reading {
            ts: c.start + Duration::seconds(7 * i as i64) + Duration::microseconds(250),
            seq: Some(i as i64),
            temp_c: *t,
            humidity_pct: (i % 2 == 0).then_some(88.5),
            door_open: (i % 3 == 0).then_some(false),
            battery_pct: None,
            lat: Some(-37.8136),
            lon: Some(144.9631),
        })
        .collect();
    c.store.write_batch(&batch).await.unwrap();

    let response = reqwest::Client::new()
        .get(format!("{}/v1/shipments/{id}/readings.csv", c.api))
        .header("X-Tenant", T)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("MEL-SHA-1-readings.csv")
    );
    let text = response.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("ts,device_id,temp_c,humidity_pct,door_open,battery_pct,lat,lon,seq,received_at")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), temps.len());
    for (i, row) in rows.iter().enumerate() {
        let ts: DateTime<Utc> = row[0].parse().unwrap();
        assert!(row[0].ends_with('Z'), "UTC: {}", row[0]);
        assert_eq!(
            ts,
            c.start + Duration::seconds(7 * i as i64) + Duration::microseconds(250)
        );
        assert_eq!(row[1], "logger-1");
        assert_eq!(row[2].parse::<f64>().unwrap(), temps[i], "exact decimals");
        assert_eq!(row[3], if i % 2 == 0 { "88.5" } else { "" });
        assert_eq!(row[4], if i % 3 == 0 { "false" } else { "" });
        assert_eq!(row[5], "");
        assert_eq!((row[6], row[7]), ("-37.8136", "144.9631"));
        assert_eq!(row[8], i.to_string());
    }

    let (s, _) = call(
        "GET",
        format!("{}/v1/shipments/{}/readings.csv", c.api, uuid_zero()),
        T,
        None,
    )
    .await;
    assert_eq!(s, 404);
}

fn uuid_zero() -> &'static str {
    "00000000-0000-0000-0000-000000000000"
}

/// Count of a series' readings over its buckets.
fn bucket_readings(series: &Value) -> i64 {
    series["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["n"].as_i64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_keeps_peaks_and_gaps_and_never_exceeds_the_points() {
    let c = cherries_in_a_fresh_database(72).await;
    let id = shipment_id(&c).await;
    let (s, _) = call(
        "POST",
        format!("{}/v1/devices", c.api),
        T,
        Some(json!({"id": "logger-2", "reading_interval_s": 60})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = call(
        "POST",
        format!("{}/v1/shipments/{id}/devices", c.api),
        T,
        Some(json!({"device_id": "logger-2", "from": c.start})),
    )
    .await;
    assert_eq!(s, 201);
    // Two days of one-minute readings: logger-1 has one spike to 9 °C at minute 1001 and
    // falls silent from minute 1500 to 1680; logger-2 is steady.
    let one: Vec<f64> = (0..2880)
        .map(|m| {
            if m == 1001 {
                9.0
            } else {
                1.0 + (m % 7) as f64 * 0.1
            }
        })
        .collect();
    let mut batch = readings_batch(T, "logger-1", c.start, 1, &one);
    batch.readings[0]
        .readings
        .retain(|r| !(minute(&c, 1500)..minute(&c, 1680)).contains(&r.ts));
    c.store.write_batch(&batch).await.unwrap();
    c.store
        .write_batch(&readings_batch(T, "logger-2", c.start, 1, &[0.5; 2880]))
        .await
        .unwrap();
    record(
        &c,
        &id,
        json!({"kind": "departed", "ts": minute(&c, 100), "location": "Melbourne"}),
    )
    .await;

    let url = |q: String| format!("/v1/shipments/{id}/timeline?{q}");
    let whole = get(&c, &url("points=50".into())).await;
    for series in whole["devices"].as_array().unwrap() {
        assert!(
            series["buckets"].as_array().unwrap().len() <= 50,
            "{series}"
        );
    }
    assert!(whole["points"].as_u64().unwrap() <= 50);
    let logger1 = &whole["devices"][0];
    assert_eq!(logger1["device_id"], "logger-1");
    assert_eq!(bucket_readings(logger1), 2880 - 180);
    assert_eq!(bucket_readings(&whole["devices"][1]), 2880);
    let peak = logger1["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["max_c"].as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    assert_eq!(peak, 9.0, "the spike survives 57-minute buckets");

    // Everything in time order: the departure, the spike's alert is not one (one reading is
    // shorter than the delay), the silence as an exact gap.
    let events = whole["events"].as_array().unwrap();
    let times: Vec<DateTime<Utc>> = events
        .iter()
        .map(|e| {
            let at = e["at"].as_str().or(e["ts"].as_str()).unwrap();
            at.parse().unwrap()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{events:?}");
    let gaps: Vec<&Value> = events.iter().filter(|e| e["type"] == "gap").collect();
    assert_eq!(gaps.len(), 1, "{events:?}");
    assert_eq!(gaps[0]["device_id"], "logger-1");
    assert_eq!(gaps[0]["at"], json!(minute(&c, 1499)));
    assert_eq!(gaps[0]["until"], json!(minute(&c, 1680)));
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "journey" && e["kind"] == "departed")
    );

    // An unaligned window read from rollups and edge readings, and a narrow one read from
    // readings, count exactly the readings inside them.
    for (from, to, points) in [(217, 2513, 40), (990, 1010, 7), (990, 1010, 500)] {
        let q = format!(
            "from={}&to={}&points={points}",
            minute(&c, from).to_rfc3339().replace('+', "%2B"),
            minute(&c, to).to_rfc3339().replace('+', "%2B"),
        );
        let t = get(&c, &url(q)).await;
        let logger2 = &t["devices"][1];
        assert_eq!(bucket_readings(logger2), to - from, "{from}..{to}");
        assert!(logger2["buckets"].as_array().unwrap().len() <= points as usize);
        let spike_inside = (from..to).contains(&1001);
        let max = t["devices"][0]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["max_c"].as_f64().unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(max == 9.0, spike_inside, "{from}..{to}");
    }

    for bad in [
        "points=0",
        "points=5001",
        "points=x",
        "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let (s, body) = call("GET", format!("{}{}", c.api, url(bad.into())), T, None).await;
        assert!(s == 422 || s == 400, "{bad}: {s} {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_recorded_before_the_readings_shows_their_temperature_once_they_arrive() {
    let c = cherries_in_a_fresh_database(10).await;
    let id = shipment_id(&c).await;
    let (s, body) = record(
        &c,
        &id,
        json!({"kind": "handover", "ts": minute(&c, 60), "from_custodian": "Packer",
               "to_custodian": "Carrier"}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["event"]["temp_c"], Value::Null, "no reading yet");
    let (s, _) = record(
        &c,
        &id,
        json!({"kind": "departed", "ts": minute(&c, 70), "temp_c": 0.8}),
    )
    .await;
    assert_eq!(s, 201);
    // The logger's buffer arrives later: 1.7 °C at the handover's minute.
    let temps: Vec<f64> = (0..20).map(|i| if i == 12 { 1.7 } else { 1.0 }).collect();
    write(&c, &temps).await;
    let events = get(&c, &format!("/v1/shipments/{id}/events")).await;
    assert_eq!(
        (
            events[0]["temp_c"].as_f64(),
            events[0]["temp_source"].as_str()
        ),
        (Some(1.7), Some("loggers"))
    );
    assert_eq!(
        (
            events[1]["temp_c"].as_f64(),
            events[1]["temp_source"].as_str()
        ),
        (Some(0.8), Some("recorded")),
        "a measured temperature stays as recorded"
    );
}
