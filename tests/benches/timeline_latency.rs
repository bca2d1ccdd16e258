//! How fast a shipment's timeline answers for a three-week sea leg with one-minute readings
//! from 4 loggers (120,960 readings) while the readings table holds tens of millions of rows
//! of other loggers, written in time order (as a fleet's gateways write them), so the
//! shipment's readings are scattered over the whole table.
//!
//! Timed, over HTTP through the real router: `GET /v1/shipments/{id}/timeline` at 500 points
//! (the screen's default: hour buckets from the 15-minute rollups), at 5000 points (narrow
//! buckets cut from every reading) and a one-day zoom; `GET /healthz` is the round-trip floor.
//! The store's series query is also timed with the same 500-bucket plan answered from the
//! rollups and from the readings alone, which must give the same buckets: that ratio is what
//! the rollups buy.
//!
//! ```sh
//! cargo run --release -p coldchain-e2e --bin timeline-latency -- 20000000 300
//! ```
//! (total readings in the table, timed requests per case; the load takes several minutes).
//! With `COLDCHAIN_BENCH_KEEP=1` the loaded database is kept, to look at query plans.

use std::time::{Duration, Instant};

use coldchain_domain::TenantId;
use coldchain_domain::timeline::Plan;
use coldchain_e2e::latency::report;
use coldchain_e2e::*;
use serde_json::{Value, json};

const TENANT: &str = "bench";
const DAYS: i64 = 21;
const MINUTES: i64 = DAYS * 24 * 60;
const LOGGERS: i64 = 4;

/// Every logger's readings for one day of minutes, minute by minute: the shipment's loggers
/// are every `$3`-th device; the second of them is silent for two hours on day 7.
const LOAD_DAY: &str = "
    INSERT INTO readings (tenant_id, device_id, ts, temp_c, received_at)
    SELECT 'bench',
           CASE WHEN d % $3 = 0 THEN 'ship-' || (d / $3 + 1) ELSE 'bg-' || d END,
           $1 + make_interval(mins => m),
           CASE WHEN d % $3 = 0
                THEN 1.0 + 0.6 * sin(m / 90.0) + CASE WHEN m % 4999 < 25 THEN 7.5 ELSE 0 END
                ELSE 3.0 + sin((m + d) / 60.0) END,
           $1 + make_interval(mins => m)
    FROM generate_series($4::int, $5::int) m, generate_series(0, $2 - 1) d
    WHERE NOT (d = $3 AND m BETWEEN 10080 AND 10199)
    ORDER BY m, d";

/// The 15-minute rollups of everything loaded, as migration 0007 builds them.
const BUILD_ROLLUPS: &str = "
    INSERT INTO reading_rollups
        (tenant_id, device_id, bucket, n, sum_c, min_c, max_c, first_ts, last_ts)
    SELECT tenant_id, device_id, to_timestamp(floor(extract(epoch FROM ts) / 900) * 900),
           count(*), sum(temp_c), min(temp_c), max(temp_c), min(ts), max(ts)
    FROM readings GROUP BY 1, 2, 3";

async fn time_get(http: &reqwest::Client, url: &str, warm: usize, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..warm + n {
        let sent = Instant::now();
        let response = http
            .get(url)
            .header("X-Tenant", TENANT)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await.unwrap();
        if i >= warm {
            samples.push(sent.elapsed());
        }
    }
    samples
}

/// Checks a timeline answer: every logger present, never more buckets than asked.
async fn check(url: &str, points: usize) -> Value {
    let (status, body) = call("GET", url.to_owned(), TENANT, None).await;
    assert_eq!(status, 200, "{url}: {body}");
    let devices = body["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), LOGGERS as usize, "{body}");
    for d in devices {
        let n = d["buckets"].as_array().unwrap().len();
        assert!(n <= points, "{} buckets for {points} points", n);
    }
    body
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: i64 = args
        .next()
        .map(|a| a.parse().expect("the number of readings in the table"))
        .unwrap_or(20_000_000);
    let n: usize = args
        .next()
        .map(|a| a.parse().expect("the number of timed requests per case"))
        .unwrap_or(300);
    let db = TestDb::create().await;
    let store = db.store().await;
    let api = serve_api(store.clone()).await;
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();

    // The shipment: 4 one-minute loggers riding from three weeks ago, whole minutes.
    let now = chrono::Utc::now().timestamp();
    let start = chrono::DateTime::from_timestamp((now - MINUTES * 60) / 60 * 60, 0).unwrap();
    for i in 1..=LOGGERS {
        let (s, _) = call(
            "POST",
            format!("{api}/v1/devices"),
            TENANT,
            Some(json!({"id": format!("ship-{i}"), "reading_interval_s": 60})),
        )
        .await;
        assert_eq!(s, 201);
    }
    let (s, shipment) = call(
        "POST",
        format!("{api}/v1/shipments"),
        TENANT,
        Some(json!({"reference": "MEL-SHA-SEA", "profile_id": "chilled-meat"})),
    )
    .await;
    assert_eq!(s, 201, "{shipment}");
    let id = shipment["id"].as_str().unwrap().to_owned();
    for i in 1..=LOGGERS {
        let (s, _) = call(
            "POST",
            format!("{api}/v1/shipments/{id}/devices"),
            TENANT,
            Some(json!({"device_id": format!("ship-{i}"), "from": start})),
        )
        .await;
        assert_eq!(s, 201);
    }

    // Everyone's readings, day by day in time order.
    let devices = (total / MINUTES).max(LOGGERS) / LOGGERS * LOGGERS;
    let stride = devices / LOGGERS;
    println!(
        "loading {} readings: {devices} loggers x {MINUTES} minutes, 4 of them the shipment's",
        devices * MINUTES
    );
    let load = Instant::now();
    for day in 0..DAYS {
        sqlx::query(LOAD_DAY)
            .bind(start)
            .bind(devices as i32)
            .bind(stride as i32)
            .bind((day * 1440) as i32)
            .bind((day * 1440 + 1439) as i32)
            .execute(&pool)
            .await
            .unwrap();
        eprint!(".");
    }
    eprintln!();
    sqlx::query(BUILD_ROLLUPS).execute(&pool).await.unwrap();
    sqlx::query("VACUUM ANALYZE readings")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE reading_rollups")
        .execute(&pool)
        .await
        .unwrap();
    let (rows, shipment_rows): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE device_id LIKE 'ship-%') FROM readings",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    println!(
        "loaded {rows} readings ({shipment_rows} of the shipment) in {:.0} s",
        load.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::new();
    let timeline = format!("{api}/v1/shipments/{id}/timeline");
    let body = check(&format!("{timeline}?points=500"), 500).await;
    let gaps = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "gap")
        .count();
    println!(
        "500 points: {}-second buckets, {} buckets, {gaps} gap(s) shown",
        body["bucket_s"], body["points"]
    );
    assert_eq!(gaps, 1, "the two silent hours of ship-2");
    check(&format!("{timeline}?points=5000"), 5000).await;
    let day_from = start + chrono::Duration::days(10);
    let zoom = format!(
        "{timeline}?points=500&from={}&to={}",
        urlencode(&day_from.to_rfc3339()),
        urlencode(&(day_from + chrono::Duration::days(1)).to_rfc3339())
    );
    check(&zoom, 500).await;

    // The store's series query alone, one plan, from the rollups and from the readings.
    let tenant = TenantId::parse(TENANT.to_owned()).unwrap();
    let shipment_id: uuid::Uuid = id.parse().unwrap();
    let to = chrono::Utc::now();
    let plan = Plan::new(start, to, 500);
    assert!(plan.rollups);
    let raw_plan = Plan {
        rollups: false,
        ..plan
    };
    let from_rollups = store
        .timeline_series(&tenant, shipment_id, start, to, &plan)
        .await
        .unwrap();
    let from_readings = store
        .timeline_series(&tenant, shipment_id, start, to, &raw_plan)
        .await
        .unwrap();
    for (a, b) in from_rollups.iter().zip(&from_readings) {
        assert_eq!(a.buckets.len(), b.buckets.len());
        for (x, y) in a.buckets.iter().zip(&b.buckets) {
            assert_eq!(
                (x.n, x.min_c, x.max_c, x.first, x.last),
                (y.n, y.min_c, y.max_c, y.first, y.last)
            );
            assert!((x.mean_c - y.mean_c).abs() < 1e-9);
        }
    }
    let mut store_rollups = Vec::new();
    let mut store_readings = Vec::new();
    for i in 0..20 + n {
        for (p, samples) in [
            (&plan, &mut store_rollups),
            (&raw_plan, &mut store_readings),
        ] {
            let t = Instant::now();
            store
                .timeline_series(&tenant, shipment_id, start, to, p)
                .await
                .unwrap();
            if i >= 20 {
                samples.push(t.elapsed());
            }
        }
    }

    let floor = time_get(&http, &format!("{api}/healthz"), 20, n).await;
    let t500 = time_get(&http, &format!("{timeline}?points=500"), 20, n).await;
    let t5000 = time_get(&http, &format!("{timeline}?points=5000"), 20, n).await;
    let tzoom = time_get(&http, &zoom, 20, n).await;

    println!();
    let (f50, f99) = report("GET /healthz (round-trip floor)", floor);
    let (a50, a99) = report("GET timeline, 3 weeks, 500 points", t500);
    report("GET timeline, 3 weeks, 5000 points", t5000);
    report("GET timeline, 1 day, 500 points", tzoom);
    let (r50, r99) = report("series query, 500 buckets, rollups", store_rollups);
    let (x50, x99) = report("series query, 500 buckets, readings", store_readings);
    println!();
    println!(
        "timeline at 500 points: p99 {:.2} ms (target < 30 ms), {:.1}x the /healthz p99 \
         (median {:.1}x)",
        ms(a99),
        ms(a99) / ms(f99),
        ms(a50) / ms(f50)
    );
    println!(
        "series from rollups vs from readings: median {:.1}x faster, p99 {:.1}x faster",
        ms(x50) / ms(r50),
        ms(x99) / ms(r99)
    );
    if std::env::var_os("COLDCHAIN_BENCH_KEEP").is_some() {
        // Left for EXPLAIN: drop it by hand afterwards.
        println!("kept database {} for shipment {id}", db.name);
        std::mem::forget(db);
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
