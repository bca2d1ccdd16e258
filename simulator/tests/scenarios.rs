//! The scenario files shipped in `simulator/scenarios/` load, play, and put into the data
//! what their expected alerts say a backend will find there, and nothing else.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use coldchain_domain::AlertKind;
use coldchain_sim::scenario::{ExpectedAlert, Scenario};
use coldchain_sim::telemetry::{FleetStream, Message, SentReading, StreamOptions};

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

struct Played {
    scenario: Scenario,
    expected: Vec<ExpectedAlert>,
    /// Per shipment reference, its readings in event-time order per device.
    readings: Vec<(String, Vec<SentReading>)>,
}

fn play(path: &Path) -> Played {
    let scenario = Scenario::load(path).unwrap();
    let start = scenario.start.expect("shipped scenarios pin their start");
    let expected = scenario.expected_alerts(start);
    let messages: Vec<Message> = FleetStream::new(
        &scenario.plans,
        StreamOptions {
            tenant: "scenario".into(),
            start,
            qos: 1,
            gateway_batch: None,
        },
        scenario.seed,
    )
    .collect();
    let readings = scenario
        .plans
        .iter()
        .map(|plan| {
            let mut r: Vec<SentReading> = messages
                .iter()
                .filter(|m| m.shipment == plan.index)
                .flat_map(Message::readings)
                .collect();
            r.sort_by(|a, b| (&a.device_id, a.ts).cmp(&(&b.device_id, b.ts)));
            (plan.reference.clone(), r)
        })
        .collect();
    Played {
        scenario,
        expected,
        readings,
    }
}

/// Stretches of consecutive readings (per device) for which `out` holds: (first, last).
fn stretches(
    readings: &[SentReading],
    out: impl Fn(&SentReading) -> bool,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut found = Vec::new();
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>, &str)> = None;
    for r in readings {
        match (&mut current, out(r)) {
            (Some((_, last, device)), true) if *device == r.device_id => *last = r.ts,
            (_, true) => {
                if let Some((a, b, _)) = current.take() {
                    found.push((a, b));
                }
                current = Some((r.ts, r.ts, &r.device_id));
            }
            (_, false) => {
                if let Some((a, b, _)) = current.take() {
                    found.push((a, b));
                }
            }
        }
    }
    found.extend(current.map(|(a, b, _)| (a, b)));
    found
}

fn inside(t: DateTime<Utc>, e: &ExpectedAlert, slack: Duration) -> bool {
    e.starts_after.is_none_or(|a| t >= a) && e.starts_before.is_none_or(|b| t <= b + slack)
}

#[test]
fn every_shipped_scenario_loads_and_its_data_shows_what_it_expects() {
    let files = scenario_files();
    assert!(files.len() >= 3, "{files:?}");
    for path in &files {
        let played = play(path);
        let name = &played.scenario.name;
        for (reference, readings) in &played.readings {
            assert!(!readings.is_empty(), "{name}: {reference} sent readings");
            let plan = played
                .scenario
                .plans
                .iter()
                .find(|p| &p.reference == reference)
                .unwrap();
            let band = plan.product;
            let expected: Vec<&ExpectedAlert> = played
                .expected
                .iter()
                .filter(|e| &e.shipment == reference)
                .collect();
            let interval = Duration::seconds(plan.loggers[0].interval);

            // Every stretch out of band long enough to alert (15 minutes) is expected, and
            // every expected temperature alert has its stretch.
            let hot = stretches(readings, |r| r.temp_c > band.max_c);
            let cold = stretches(readings, |r| r.temp_c < band.min_c);
            for (kind, found) in [
                (AlertKind::TemperatureHigh, &hot),
                (AlertKind::TemperatureLow, &cold),
            ] {
                let alerting: Vec<_> = found
                    .iter()
                    .filter(|(a, b)| *b - *a + interval >= Duration::minutes(15))
                    .collect();
                let wanted: Vec<_> = expected.iter().filter(|e| e.kind == kind).collect();
                for (a, _) in &alerting {
                    assert!(
                        wanted.iter().any(|e| inside(*a, e, Duration::zero())),
                        "{name}: an unexpected {kind} excursion from {a}"
                    );
                }
                for e in wanted {
                    assert_eq!(
                        alerting
                            .iter()
                            .filter(|(a, _)| inside(*a, e, Duration::zero()))
                            .count(),
                        e.count,
                        "{name}: {kind} excursions in {e:?}"
                    );
                }
            }

            for e in &expected {
                match e.kind {
                    AlertKind::SensorOffline => {
                        let gap = readings
                            .windows(2)
                            .filter(|w| w[0].device_id == w[1].device_id)
                            .filter(|w| inside(w[0].ts, e, Duration::zero()))
                            .map(|w| w[1].ts - w[0].ts)
                            .max()
                            .unwrap_or_default();
                        // The gap is only in arrival: the buffer fills it in later.
                        assert!(gap <= interval, "{name}: event times have no hole");
                        let late = readings
                            .iter()
                            .filter(|r| inside(r.ts, e, Duration::zero()))
                            .filter(|r| r.published_at - r.ts >= Duration::hours(1))
                            .count();
                        assert!(late >= 24, "{name}: hours of readings arrive late ({late})");
                    }
                    AlertKind::DoorOpenTooLong => {
                        let open = stretches(readings, |r| r.door_open);
                        assert!(
                            open.iter().any(|(a, b)| inside(*a, e, Duration::zero())
                                && *b - *a >= Duration::minutes(30)),
                            "{name}: a door open for half an hour in {e:?}"
                        );
                    }
                    AlertKind::TemperatureHigh | AlertKind::TemperatureLow => {}
                    other => panic!("{name}: no check for an expected {other} yet"),
                }
            }
        }
    }
}

#[test]
fn a_scenario_naming_what_does_not_exist_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("product = \"ice-cream\"", "unknown product"),
        ("legs = { cruise = \"3d\" }", "unknown leg"),
        ("mode = \"rail\"", "unknown variant"),
    ];
    for (line, reason) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(
            &path,
            format!("name = \"bad\"\n[[shipment]]\nreference = \"X\"\n{line}\n"),
        )
        .unwrap();
        let error = format!("{:#}", Scenario::load(&path).unwrap_err());
        assert!(error.contains(reason), "{line}: {error}");
    }
    let path = dir.path().join("fault.toml");
    std::fs::write(
        &path,
        "name = \"bad\"\n[[shipment]]\nreference = \"X\"\n[[fault]]\nshipment = \"Y\"\nkind = \"refrigeration_failure\"\n",
    )
    .unwrap();
    let error = format!("{:#}", Scenario::load(&path).unwrap_err());
    assert!(error.contains("no shipment \"Y\""), "{error}");
}
