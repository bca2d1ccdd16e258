//! The simulator against the real thing: a private Mosquitto, the real ingest and API, a
//! fresh database. What the simulator says it sent is what the database holds.

use std::time::Duration;

use coldchain_e2e::*;
use coldchain_sim::faults::FaultConfig;
use coldchain_sim::fleet::{DAY, FleetOptions, MINUTE, plan_fleet};
use coldchain_store::Store;

async fn rejected(store: &Store, tenant: &str) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT reason, count(*) FROM rejected_payloads WHERE tenant_id = $1 GROUP BY reason \
         ORDER BY reason",
    )
    .bind(tenant)
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fifty_shipment_run_ends_with_exactly_the_readings_the_simulator_sent() {
    init_tracing();
    let (db, broker) = (TestDb::create().await, Broker::start().await);
    let store = db.store().await;
    let api = serve_api(store.clone()).await;
    let ingest = start_ingest(ingest_config(&broker, "ingest-sim"), store.clone());
    ingest.wait_connected().await;

    let tenant = format!("sim{}", rand::random::<u32>());
    let options = FleetOptions {
        seed: 42,
        interval: 15 * MINUTE,
        stagger: DAY,
        faults: FaultConfig {
            per_shipment: 0.3,
            ..FaultConfig::all()
        },
        ..FleetOptions::default()
    };
    let plans = plan_fleet(50, &options);
    let stream = stream_ending_now(&tenant, &plans);
    let (registration, summary) = play_fleet(&api, &broker, plans, stream, options.seed).await;
    assert_eq!(registration.shipments_created, 50);
    let sent = &summary.published;
    assert!(sent.readings > 100_000, "{sent:?}");
    assert!(
        sent.malformed_messages > 0 && sent.duplicate_messages > 0,
        "{sent:?}"
    );
    for fault in [
        "refrigeration_failure",
        "sensor_silent",
        "clock_skew",
        "power_loss",
    ] {
        assert!(summary.faults.contains_key(fault), "{:?}", summary.faults);
    }

    wait_for_readings(&store, &tenant, sent.readings, Duration::from_secs(120)).await;
    let tenant_id = coldchain_domain::TenantId::parse(tenant.clone()).unwrap();
    eventually(
        "every malformed message quarantined",
        Duration::from_secs(30),
        || async {
            let r = rejected(&store, &tenant).await;
            (r == vec![("malformed".to_owned(), sent.malformed_messages as i64)]).then_some(())
        },
    )
    .await;
    // Nothing more trickles in: the counts were final.
    ingest.stop().await;
    assert_eq!(
        store.count_readings(&tenant_id).await.unwrap(),
        sent.readings as i64
    );
}

/// The simulator records each shipment's journey as a carrier's systems would: every
/// shipment ends delivered, and its figures split the whole trip between its legs and
/// between the custodians who held it, in the plan's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recorded_journeys_split_every_trip_between_legs_and_custodians() {
    init_tracing();
    let (db, broker) = (TestDb::create().await, Broker::start().await);
    let store = db.store().await;
    let api = serve_api(store.clone()).await;
    let ingest = start_ingest(ingest_config(&broker, "ingest-journeys"), store.clone());
    ingest.wait_connected().await;

    let tenant = format!("sim{}", rand::random::<u32>());
    let options = FleetOptions {
        seed: 7,
        interval: 15 * MINUTE,
        faults: FaultConfig::none(),
        ..FleetOptions::default()
    };
    let plans = plan_fleet(6, &options);
    let stream = stream_ending_now(&tenant, &plans);
    let start = stream.start;
    let (_, summary) = play_fleet(&api, &broker, plans.clone(), stream, options.seed).await;
    let client = coldchain_sim::register::ApiClient::new(&api, &tenant);
    let recorded = client
        .record_journeys(&plans, start, coldchain_sim::run::Speed::Max)
        .await
        .unwrap();
    let steps: usize = plans
        .iter()
        .map(|p| coldchain_sim::journey::journey(p).len())
        .sum();
    assert_eq!((recorded.recorded, recorded.already_recorded), (steps, 0));
    wait_for_readings(
        &store,
        &tenant,
        summary.published.readings,
        Duration::from_secs(60),
    )
    .await;

    let (_, list) = call(
        "GET",
        format!("{api}/v1/shipments?limit=100"),
        &tenant,
        None,
    )
    .await;
    for plan in &plans {
        let shipment = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["reference"] == plan.reference.as_str())
            .unwrap();
        assert_eq!(shipment["status"], "delivered", "{}", plan.reference);
        let id = shipment["id"].as_str().unwrap();
        let (s, figures) = call(
            "GET",
            format!("{api}/v1/shipments/{id}/figures"),
            &tenant,
            None,
        )
        .await;
        assert_eq!(s, 200, "{figures}");
        let total = figures["overall"]["readings"].as_u64().unwrap();
        assert!(total > 0);
        let sum = |part: &str| -> u64 {
            figures[part]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["figures"]["readings"].as_u64().unwrap())
                .sum()
        };
        assert_eq!(
            (sum("legs"), sum("custodians")),
            (total, total),
            "{}",
            plan.reference
        );
        let mut expected: Vec<&str> = plan.legs.iter().map(|l| l.custodian.as_str()).collect();
        expected.dedup();
        let held: Vec<&str> = figures["custodians"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["custodian"].as_str().unwrap())
            .collect();
        assert_eq!(held, expected, "{}", plan.reference);
    }

    // A second run of the same fleet finds the journeys recorded.
    let again = client
        .record_journeys(&plans, start, coldchain_sim::run::Speed::Max)
        .await
        .unwrap();
    assert_eq!((again.recorded, again.already_recorded), (0, steps));
    ingest.stop().await;
}
