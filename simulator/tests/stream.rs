//! The simulator's output, checked without a broker: determinism, physics and each fault.

use chrono::{DateTime, TimeZone, Utc};
use coldchain_domain::ProductPreset;
use coldchain_sim::catalog::{DESTINATIONS, LongHaul, ORIGINS};
use coldchain_sim::faults::{FaultConfig, FaultKind};
use coldchain_sim::fleet::{
    FleetOptions, HOUR, LegKind, MINUTE, ShipmentPlan, ShipmentSpec, plan_fleet, plan_shipment,
};
use coldchain_sim::telemetry::{FleetStream, Message, MessageKind, SentReading, StreamOptions};
use serde_json::Value;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

fn options() -> StreamOptions {
    StreamOptions {
        tenant: "acme".into(),
        start: start(),
        qos: 1,
        gateway_batch: None,
    }
}

fn stream(plans: &[ShipmentPlan], seed: u64) -> Vec<Message> {
    FleetStream::new(plans, options(), seed).collect()
}

fn with_faults(kinds: &[FaultKind]) -> FleetOptions {
    FleetOptions {
        faults: FaultConfig {
            enabled: kinds.iter().copied().collect(),
            per_shipment: 1.0,
            ..FaultConfig::none()
        },
        ..FleetOptions::default()
    }
}

/// A sea shipment of cherries from Melbourne to Shanghai in the Australian summer.
fn cherries_by_sea(options: &FleetOptions) -> ShipmentPlan {
    cherries_by_sea_number(0, options)
}

fn cherries_by_sea_number(index: usize, options: &FleetOptions) -> ShipmentPlan {
    let spec = ShipmentSpec {
        product: ProductPreset::find("temperate-produce"),
        origin: Some(&ORIGINS[0]),
        destination: Some(&DESTINATIONS[0]),
        mode: Some(LongHaul::Sea),
        loggers: Some(1),
        depart_after: Some(0),
        ..ShipmentSpec::default()
    };
    plan_shipment(index, &spec, options)
}

/// Every well-formed reading sent, by device and event time.
fn samples(messages: &[Message]) -> Vec<SentReading> {
    let mut out: Vec<SentReading> = messages.iter().flat_map(Message::readings).collect();
    out.sort_by(|a, b| (&a.device_id, a.ts).cmp(&(&b.device_id, b.ts)));
    out
}

fn during(samples: &[SentReading], from: i64, to: i64) -> Vec<&SentReading> {
    let (from, to) = (
        start() + chrono::Duration::seconds(from),
        start() + chrono::Duration::seconds(to),
    );
    samples
        .iter()
        .filter(|s| s.ts >= from && s.ts < to)
        .collect()
}

#[test]
fn the_same_seed_gives_byte_identical_payload_streams() {
    let options = FleetOptions {
        faults: FaultConfig {
            per_shipment: 0.5,
            ..FaultConfig::all()
        },
        ..FleetOptions::default()
    };
    let plans = plan_fleet(6, &options);
    let bytes = |messages: Vec<Message>| -> Vec<(DateTime<Utc>, String, Vec<u8>)> {
        messages
            .into_iter()
            .map(|m| (m.publish_at, m.topic, m.payload))
            .collect()
    };
    let first = bytes(stream(&plans, options.seed));
    let again = bytes(stream(&plan_fleet(6, &options), options.seed));
    assert!(first.len() > 10_000);
    assert!(first == again, "same seed, same bytes");

    let other = FleetOptions {
        seed: 99,
        ..options.clone()
    };
    let different = bytes(stream(&plan_fleet(6, &other), other.seed));
    assert!(first != different);
    assert!(
        first.windows(2).all(|w| w[0].0 <= w[1].0),
        "in publish order"
    );
}

#[test]
fn a_healthy_reefer_stays_inside_its_band() {
    let options = FleetOptions::default();
    let plans = plan_fleet(30, &options);
    let messages = stream(&plans, options.seed);
    let all = samples(&messages);
    assert!(all.len() > 50_000);
    for plan in &plans {
        let band = plan.product;
        let ids: Vec<&str> = plan.loggers.iter().map(|l| l.device_id.as_str()).collect();
        let long_haul = plan.legs.iter().find(|l| l.kind.long_haul()).unwrap();
        for s in during(&all, long_haul.start, long_haul.end)
            .into_iter()
            .filter(|s| ids.contains(&s.device_id.as_str()))
        {
            assert!(
                band.contains(s.temp_c),
                "{} ({}) read {} °C on the {} leg",
                plan.reference,
                band.id,
                s.temp_c,
                long_haul.kind.code()
            );
        }
    }
    // Over whole trips only handovers (doors open at docks) may leave the band, briefly.
    let inside = all
        .iter()
        .filter(|s| {
            let plan = plans
                .iter()
                .find(|p| p.loggers.iter().any(|l| l.device_id == s.device_id))
                .unwrap();
            plan.product.contains(s.temp_c)
        })
        .count();
    assert!(
        inside as f64 / all.len() as f64 > 0.995,
        "{inside} of {}",
        all.len()
    );
}

#[test]
fn a_refrigeration_failure_warms_towards_ambient_at_degrees_per_hour() {
    let options = with_faults(&[FaultKind::RefrigerationFailure]);
    let plan = cherries_by_sea(&options);
    let fault = plan.faults[0].clone();
    assert_eq!(fault.kind, FaultKind::RefrigerationFailure);
    let all = samples(&stream(std::slice::from_ref(&plan), options.seed));
    let failing = during(&all, fault.start, fault.start + fault.duration);
    let (first, last) = (failing.first().unwrap(), failing.last().unwrap());
    let hours = (last.ts - first.ts).num_seconds() as f64 / 3600.0;
    let per_hour = (last.temp_c - first.temp_c) / hours;
    assert!(
        (0.5..5.0).contains(&per_hour),
        "warmed {per_hour:.2} °C/h over {hours:.1} h"
    );
    let biggest_jump = failing
        .windows(2)
        .map(|w| (w[1].temp_c - w[0].temp_c).abs())
        .fold(0.0, f64::max);
    assert!(
        biggest_jump < 0.6,
        "moved {biggest_jump} °C between readings"
    );
    // Back under control afterwards.
    let after = during(
        &all,
        fault.start + fault.duration + 3 * HOUR,
        fault.start + fault.duration + 6 * HOUR,
    );
    assert!(after.iter().all(|s| plan.product.contains(s.temp_c)));
}

#[test]
fn a_door_opening_is_a_bounded_spike_that_recovers() {
    let options = with_faults(&[FaultKind::DoorLeftOpen]);
    // One left open in the origin cold store (a Melbourne summer), hours before departure.
    let plan = (0..)
        .map(|i| cherries_by_sea_number(i, &options))
        .find(|p| {
            p.leg_at(p.faults[0].start).unwrap().kind == LegKind::OriginColdStore
                && p.leg_at(p.faults[0].start).unwrap().end
                    > p.faults[0].start + p.faults[0].duration + 4 * HOUR
        })
        .unwrap();
    let fault = plan.faults[0].clone();
    let all = samples(&stream(std::slice::from_ref(&plan), options.seed));
    let open = during(&all, fault.start, fault.start + fault.duration);
    assert!(open.iter().all(|s| s.door_open));
    let before = during(&all, fault.start - HOUR, fault.start - 15 * MINUTE);
    assert!(
        before.iter().all(|s| !s.door_open),
        "{fault:?} {:?}",
        before
            .iter()
            .filter(|s| s.door_open)
            .map(|s| s.ts)
            .collect::<Vec<_>>()
    );
    let base = before.last().unwrap().temp_c;
    let peak = open.iter().map(|s| s.temp_c).fold(f64::MIN, f64::max);
    assert!(peak > base + 1.0, "a spike: {base} -> {peak}");
    assert!(peak < 30.0, "bounded by the outside air: {peak}");
    let later = during(
        &all,
        fault.start + fault.duration + 2 * HOUR,
        fault.start + fault.duration + 4 * HOUR,
    );
    assert!(
        later
            .iter()
            .all(|s| plan.product.contains(s.temp_c) && !s.door_open),
        "{fault:?} {:?}",
        later
            .iter()
            .map(|s| (s.temp_c, s.door_open))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_silent_sensor_uploads_its_buffer_late_in_bursts() {
    let options = with_faults(&[FaultKind::SensorSilent]);
    let plan = cherries_by_sea(&options);
    let fault = plan.faults[0].clone();
    assert!(fault.duration >= 4 * HOUR);
    let messages = stream(std::slice::from_ref(&plan), options.seed);
    let gap = during(
        &samples(&messages),
        fault.start,
        fault.start + fault.duration,
    )
    .len();
    assert!(
        gap as i64 >= fault.duration / (5 * MINUTE) - 1,
        "the gap is recorded"
    );

    let bursts: Vec<&Message> = messages
        .iter()
        .filter(|m| matches!(m.kind, MessageKind::Telemetry { readings, .. } if readings > 1))
        .collect();
    assert_eq!(bursts.len(), gap.div_ceil(60));
    let first_burst = bursts[0].publish_at;
    let resumed = start() + chrono::Duration::seconds(fault.start + fault.duration);
    assert!(first_burst >= resumed && first_burst < resumed + chrono::Duration::minutes(5));
    let late = samples(&messages)
        .into_iter()
        .filter(|s| (s.published_at - s.ts).num_hours() >= 1)
        .count();
    assert_eq!(
        late,
        gap - gap.min(12),
        "all but the last hour arrive hours late"
    );
    // Newest first: the first burst holds the latest readings.
    let first: Vec<Value> = serde_json::from_slice(&bursts[0].payload).unwrap();
    let last: Vec<Value> = serde_json::from_slice(&bursts[bursts.len() - 1].payload).unwrap();
    assert!(first[0]["ts"].as_str().unwrap() > last[0]["ts"].as_str().unwrap());
}

#[test]
fn duplicates_are_byte_identical_copies_and_malformed_payloads_do_not_parse() {
    let mut options = with_faults(&[FaultKind::DuplicatePublishes, FaultKind::MalformedPayloads]);
    options.faults.duplicate_rate = 0.1;
    options.faults.malformed_rate = 0.05;
    let plans = plan_fleet(3, &options);
    let messages = stream(&plans, options.seed);
    let mut duplicates = 0;
    let mut malformed = 0;
    for m in &messages {
        match m.kind {
            MessageKind::Telemetry {
                duplicate: true, ..
            } => {
                duplicates += 1;
                assert!(messages.iter().any(|o| o.topic == m.topic
                    && o.payload == m.payload
                    && o.publish_at <= m.publish_at
                    && matches!(
                        o.kind,
                        MessageKind::Telemetry {
                            duplicate: false,
                            ..
                        }
                    )));
            }
            MessageKind::Telemetry {
                malformed: true, ..
            } => {
                malformed += 1;
                let parsed: Result<Value, _> = serde_json::from_slice(&m.payload);
                assert!(parsed.is_err() || parsed.unwrap()["temp_c"].is_string());
            }
            _ => {}
        }
    }
    let telemetry = messages
        .iter()
        .filter(|m| matches!(m.kind, MessageKind::Telemetry { .. }))
        .count() as f64;
    assert!((0.07..0.13).contains(&(duplicates as f64 / telemetry)));
    assert!((0.03..0.07).contains(&(malformed as f64 / telemetry)));
}

#[test]
fn a_skewed_clock_shifts_event_times() {
    let options = with_faults(&[FaultKind::ClockSkew]);
    let plan = cherries_by_sea(&options);
    let skew = plan.faults[0].clone();
    assert_eq!(skew.kind, FaultKind::ClockSkew);
    assert!(skew.amount != 0.0);
    let all = samples(&stream(std::slice::from_ref(&plan), options.seed));
    let skewed = &plan.loggers[skew.logger.unwrap()].device_id;
    let readings: Vec<_> = all.iter().filter(|s| &s.device_id == skewed).collect();
    assert!(readings.len() > 1000);
    for s in readings {
        let lag = (s.published_at - s.ts).num_seconds() as f64;
        // Published 1 to 15 s after sampling, stamped by a clock off by `amount`.
        assert!(
            (1.0..=15.0).contains(&(lag + skew.amount)),
            "lag {lag} s with a skew of {} s",
            skew.amount
        );
    }
}

#[test]
fn a_drained_battery_runs_down_and_the_logger_goes_quiet() {
    let options = with_faults(&[FaultKind::BatteryDrain]);
    // A shipment whose logger's battery cannot last the rest of the trip.
    let plan = (0..)
        .map(|i| cherries_by_sea_number(i, &options))
        .find(|p| {
            let f = &p.faults[0];
            let logger = &p.loggers[f.logger.unwrap()];
            f.duration as f64 / 86_400.0 > logger.battery_start_pct / f.amount + 2.0
        })
        .unwrap();
    let drain = plan.faults[0].clone();
    let device = plan.loggers[drain.logger.unwrap()].device_id.clone();
    let messages = stream(std::slice::from_ref(&plan), options.seed);
    let batteries: Vec<f64> = messages
        .iter()
        .filter(|m| m.topic.contains(&device) && m.topic.ends_with("/telemetry"))
        .map(|m| {
            serde_json::from_slice::<Value>(&m.payload).unwrap()["battery_pct"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert!(
        batteries.windows(2).all(|w| w[1] <= w[0]),
        "only ever goes down"
    );
    assert!(*batteries.last().unwrap() < 1.0);
    let all = samples(&messages);
    let last = all.iter().rfind(|s| s.device_id == device).unwrap();
    let delivered = start() + chrono::Duration::seconds(plan.delivery());
    assert!(
        delivered - last.ts > chrono::Duration::days(1),
        "quiet well before delivery"
    );
}

fn events(messages: &[Message]) -> Vec<(DateTime<Utc>, String)> {
    messages
        .iter()
        .filter(|m| m.kind == MessageKind::Event)
        .map(|m| {
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            (
                v["ts"].as_str().unwrap().parse().unwrap(),
                v["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_power_loss_at_the_terminal_warms_the_container_and_is_reported_as_events() {
    let options = with_faults(&[FaultKind::PowerLoss]);
    let plan = cherries_by_sea(&options);
    let fault = plan.faults[0].clone();
    assert!(plan.leg_at(fault.start).unwrap().kind.at_terminal());
    let messages = stream(std::slice::from_ref(&plan), options.seed);
    let at = |s: i64| start() + chrono::Duration::seconds(s);
    let power: Vec<_> = events(&messages)
        .into_iter()
        .filter(|(_, e)| e.starts_with("power"))
        .collect();
    assert_eq!(
        power,
        vec![
            (at(fault.start), "power_off".to_owned()),
            (at(fault.start + fault.duration), "power_on".to_owned())
        ]
    );
    let all = samples(&messages);
    let off = during(&all, fault.start, fault.start + fault.duration);
    let rise = off.last().unwrap().temp_c - off.first().unwrap().temp_c;
    let hours = fault.duration as f64 / 3600.0;
    assert!(
        rise > 0.3 * hours,
        "warmed {rise:.2} °C in {hours:.1} h unplugged"
    );
}

#[test]
fn door_and_defrost_events_bracket_what_the_readings_show() {
    let options = FleetOptions::default();
    let plan = cherries_by_sea(&options);
    let messages = stream(std::slice::from_ref(&plan), options.seed);
    let events = events(&messages);
    let count = |name: &str| events.iter().filter(|(_, e)| e == name).count();
    assert!(
        count("door_open") >= 3,
        "handovers open the doors: {events:?}"
    );
    assert_eq!(count("door_open"), count("door_close"));
    assert!(count("defrost_start") > 20);
    assert!(count("defrost_start") - count("defrost_end") <= 1);
    // Readings taken while a door is open say so.
    let open = samples(&messages).iter().filter(|s| s.door_open).count();
    assert!(open >= count("door_open"));
}

#[test]
fn a_gateway_announces_itself_and_can_batch_its_uploads() {
    let options = FleetOptions::default();
    let plan = cherries_by_sea(&options);
    let batched = StreamOptions {
        gateway_batch: Some(15 * MINUTE),
        ..self::options()
    };
    let messages: Vec<Message> =
        FleetStream::new(std::slice::from_ref(&plan), batched, options.seed).collect();
    let statuses: Vec<&Message> = messages
        .iter()
        .filter(|m| m.kind == MessageKind::Status)
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|m| m.retain
        && m.topic == format!("coldchain/v1/acme/{}/status", plan.gateway_id)));
    assert!(String::from_utf8_lossy(&statuses[0].payload).contains("\"online\""));
    assert!(String::from_utf8_lossy(&statuses[1].payload).contains("\"offline\""));

    // Every 15 minutes, one array per logger with the three readings taken since.
    let telemetry: Vec<&Message> = messages
        .iter()
        .filter(|m| matches!(m.kind, MessageKind::Telemetry { .. }))
        .collect();
    let sizes: Vec<u32> = telemetry
        .iter()
        .map(|m| match m.kind {
            MessageKind::Telemetry { readings, .. } => readings,
            _ => unreachable!(),
        })
        .collect();
    assert!(sizes.iter().all(|n| *n <= 3));
    assert!(sizes.iter().filter(|n| **n == 3).count() as f64 > 0.95 * sizes.len() as f64);
    let unbatched = samples(&stream(std::slice::from_ref(&plan), options.seed));
    assert_eq!(
        samples(&messages).len(),
        unbatched.len(),
        "the same readings either way"
    );
}
