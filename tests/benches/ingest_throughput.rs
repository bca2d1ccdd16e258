//! Ingest throughput with and without alert evaluation, in the same run: a simulated fleet
//! published as fast as the broker takes it, timed until every reading is stored. The
//! baseline is the same fleet for a tenant whose shipments have no product profile (readings
//! stored, nothing judged).
//!
//! ```sh
//! cargo run --release -p coldchain-e2e --bin ingest-throughput -- 20
//! ```

use std::time::{Duration, Instant};

use coldchain_e2e::*;
use coldchain_ingest::IngestConfig;
use coldchain_sim::faults::FaultConfig;
use coldchain_sim::fleet::{FleetOptions, plan_fleet};
use coldchain_sim::register::ApiClient;
use coldchain_store::Store;

async fn run(
    store: &Store,
    api: &str,
    broker: &Broker,
    tenant: &str,
    shipments: usize,
    judged: bool,
) -> (u64, Duration) {
    let options = FleetOptions {
        seed: 4,
        faults: FaultConfig::all(),
        ..FleetOptions::default()
    };
    let plans = plan_fleet(shipments, &options);
    let stream = stream_ending_now(tenant, &plans);
    ApiClient::new(api, tenant)
        .register_fleet(&plans, stream.start)
        .await
        .unwrap();
    if !judged {
        // The baseline: shipments without a profile; readings stored, nothing judged.
        sqlx::query("UPDATE shipments SET profile_id = NULL WHERE tenant_id = $1")
            .bind(tenant)
            .execute(store.pool())
            .await
            .unwrap();
    }
    // Timed from here for both (the registration below finds everything there already).
    let began = Instant::now();
    let (_, summary) = play_fleet(api, broker, plans, stream, options.seed).await;
    wait_for_readings(
        store,
        tenant,
        summary.published.readings,
        Duration::from_secs(600),
    )
    .await;
    (summary.published.readings, began.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let shipments: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the number of shipments"))
        .unwrap_or(20);
    let (db, broker) = (TestDb::create().await, Broker::start().await);
    let store = db.store().await;
    let api = serve_api(store.clone()).await;
    let ingest = start_ingest(
        IngestConfig::new(broker.url(), "bench-ingest"),
        store.clone(),
    );
    ingest.wait_connected().await;

    let (n, plain) = run(&store, &api, &broker, "plain", shipments, false).await;
    let (m, judged) = run(&store, &api, &broker, "judged", shipments, true).await;
    let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "stored without alert evaluation: {n} readings in {:.1} s = {:.0}/s",
        plain.as_secs_f64(),
        rate(n, plain)
    );
    println!(
        "stored with alert evaluation:    {m} readings in {:.1} s = {:.0}/s",
        judged.as_secs_f64(),
        rate(m, judged)
    );
    println!(
        "ratio: {:.2}x the baseline's rate",
        rate(m, judged) / rate(n, plain)
    );
    ingest.stop().await;
}
