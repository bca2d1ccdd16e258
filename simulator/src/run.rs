//! Playing a fleet: the message stream published on the simulated clock, a progress line for
//! the people watching, and the accounting a test or an operator checks the backend against.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::faults::FaultKind;
use crate::fleet::{Phase, ShipmentPlan, SimSeconds};
use crate::publish::{Counters, Gateway, Publisher};
use crate::register::Registration;
use crate::telemetry::{FleetStream, Message, MessageKind, StreamOptions};

/// How fast simulated time runs: a multiple of real time, or as fast as the broker takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Times(f64),
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Times(x)),
            _ => Err(format!(
                "speed {s:?} is neither a positive number nor \"max\""
            )),
        }
    }
}

impl Speed {
    /// Where simulated second 0 must sit so that no reading is stamped in the future: the
    /// run takes `span / speed` of real time and ends with the simulated clock at or before
    /// the real one.
    pub fn start_for(self, span: SimSeconds, now: DateTime<Utc>) -> DateTime<Utc> {
        let lead = match self {
            Speed::Times(x) => span as f64 * (1.0 - 1.0 / x).max(0.0),
            Speed::Max => span as f64,
        };
        let start = (now - chrono::Duration::seconds(lead.ceil() as i64)).timestamp();
        DateTime::from_timestamp(start - start.rem_euclid(60), 0).expect("a time near now")
    }
}

/// What was published, for checking the backend against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub messages: u64,
    pub telemetry_messages: u64,
    /// Readings in well-formed, first-copy messages: what the database should end up with.
    pub readings: u64,
    /// Messages corrupted on purpose, and the readings lost with them; the ingest keeps
    /// each such message in rejected payloads as `malformed`.
    pub malformed_messages: u64,
    pub malformed_readings: u64,
    /// Second copies of messages already sent; stored once.
    pub duplicate_messages: u64,
    pub events: u64,
    pub statuses: u64,
}

impl Tally {
    pub fn add(&mut self, message: &Message) {
        self.messages += 1;
        match message.kind {
            MessageKind::Telemetry {
                readings,
                malformed,
                duplicate,
            } => {
                self.telemetry_messages += 1;
                if malformed {
                    self.malformed_messages += 1;
                    self.malformed_readings += u64::from(readings);
                } else if duplicate {
                    self.duplicate_messages += 1;
                } else {
                    self.readings += u64::from(readings);
                }
            }
            MessageKind::Event => self.events += 1,
            MessageKind::Status => self.statuses += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub tenant: String,
    pub shipments: usize,
    pub loggers: usize,
    /// The simulated period the run covered.
    pub simulated_from: DateTime<Utc>,
    pub simulated_to: DateTime<Utc>,
    /// Shipments with each kind of fault.
    pub faults: BTreeMap<String, usize>,
    pub registration: Option<Registration>,
    pub published: Tally,
    pub elapsed_s: f64,
    pub messages_per_s: f64,
}

impl Summary {
    pub fn print(&self) {
        let t = &self.published;
        println!(
            "coldchain-sim summary (seed {}, tenant {})",
            self.seed, self.tenant
        );
        println!(
            "  fleet       {} shipments, {} loggers, simulated {} .. {}",
            self.shipments,
            self.loggers,
            self.simulated_from.format("%Y-%m-%d %H:%M"),
            self.simulated_to.format("%Y-%m-%d %H:%M")
        );
        if !self.faults.is_empty() {
            let faults: Vec<String> = self
                .faults
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            println!("  faults      {}", faults.join(", "));
        }
        println!(
            "  published   {} messages in {:.1} s ({:.0}/s): {} telemetry, {} events, {} status",
            t.messages,
            self.elapsed_s,
            self.messages_per_s,
            t.telemetry_messages,
            t.events,
            t.statuses
        );
        println!(
            "  readings    {} to be stored; {} lost in {} malformed messages; {} duplicate messages",
            t.readings, t.malformed_readings, t.malformed_messages, t.duplicate_messages
        );
    }
}

/// Counts the shipments in each phase at a simulated moment.
pub fn phases(plans: &[ShipmentPlan], t: SimSeconds) -> BTreeMap<Phase, usize> {
    let mut counts: BTreeMap<Phase, usize> = Phase::ALL.iter().map(|p| (*p, 0)).collect();
    for plan in plans {
        *counts.entry(plan.phase_at(t)).or_default() += 1;
    }
    counts
}

/// How the run is shown on the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Display {
    pub quiet: bool,
    pub every: Duration,
}

/// Publishes the fleet's stream paced by `speed` and returns what was sent.
pub async fn play(
    plans: Vec<ShipmentPlan>,
    options: StreamOptions,
    seed: u64,
    speed: Speed,
    mqtt_url: &str,
    display: Display,
) -> anyhow::Result<Summary> {
    let mut publisher = Publisher::new(mqtt_url)?;
    let start = options.start;
    let tenant = options.tenant.clone();
    let stream = FleetStream::new(&plans, options, seed);
    let plans = Arc::new(plans);
    let clock = Arc::new(AtomicI64::new(0));
    let readings = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let reporter = (!display.quiet).then(|| {
        tokio::spawn(report_progress(
            Arc::clone(&plans),
            start,
            SimClock {
                began,
                speed,
                last_published: Arc::clone(&clock),
            },
            Arc::clone(&publisher.counters),
            Arc::clone(&readings),
            display.every,
        ))
    });

    let mut tally = Tally::default();
    let wills: Vec<(String, Vec<u8>)> = plans
        .iter()
        .map(|p| {
            (
                coldchain_domain::mqtt::status_topic(&tenant, &p.gateway_id),
                br#"{"status":"offline"}"#.to_vec(),
            )
        })
        .collect();
    for message in stream {
        let due = (message.publish_at - start).num_milliseconds() as f64 / 1000.0;
        if let Speed::Times(x) = speed {
            let wait = Duration::from_secs_f64((due / x).max(0.0));
            if let Some(ahead) = wait.checked_sub(began.elapsed())
                && ahead > Duration::from_millis(1)
            {
                tokio::time::sleep(ahead).await;
            }
        }
        clock.store(due as SimSeconds, Ordering::Relaxed);
        let plan = &plans[message.shipment];
        let gateway = Gateway {
            client_id: &plan.gateway_id,
            will: Some(wills[message.shipment].clone()),
        };
        publisher
            .publish(
                &gateway,
                &message.topic,
                message.payload.clone(),
                message.qos,
                message.retain,
            )
            .await?;
        tally.add(&message);
        readings.store(tally.readings, Ordering::Relaxed);
    }
    publisher.finish(Duration::from_secs(60)).await?;
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    let elapsed_s = began.elapsed().as_secs_f64();

    let mut faults = BTreeMap::new();
    for kind in FaultKind::ALL {
        let n = plans
            .iter()
            .filter(|p| p.faults.iter().any(|f| f.kind == kind))
            .count();
        if n > 0 {
            faults.insert(kind.code().to_owned(), n);
        }
    }
    let end = plans.iter().map(|p| p.delivery()).max().unwrap_or(0);
    Ok(Summary {
        seed,
        tenant,
        shipments: plans.len(),
        loggers: plans.iter().map(|p| p.loggers.len()).sum(),
        simulated_from: start,
        simulated_to: start + chrono::Duration::seconds(end),
        faults,
        registration: None,
        messages_per_s: tally.messages as f64 / elapsed_s.max(1e-9),
        published: tally,
        elapsed_s,
    })
}

/// The simulated time now: real time scaled by the speed, or, as fast as possible, the due
/// time of the last message published.
struct SimClock {
    began: Instant,
    speed: Speed,
    last_published: Arc<AtomicI64>,
}

impl SimClock {
    fn now(&self) -> SimSeconds {
        match self.speed {
            Speed::Times(x) => (self.began.elapsed().as_secs_f64() * x) as SimSeconds,
            Speed::Max => self.last_published.load(Ordering::Relaxed),
        }
    }
}

async fn report_progress(
    plans: Arc<Vec<ShipmentPlan>>,
    start: DateTime<Utc>,
    clock: SimClock,
    counters: Arc<Counters>,
    readings: Arc<AtomicU64>,
    every: Duration,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let mut last = (Instant::now(), 0_u64);
    loop {
        ticker.tick().await;
        let t = clock.now();
        let published = counters.published.load(Ordering::Relaxed);
        let rate = (published - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), published);
        let states: Vec<String> = phases(&plans, t)
            .into_iter()
            .map(|(phase, n)| format!("{} {n}", phase.code()))
            .collect();
        eprintln!(
            "[sim {}] {} | {rate:.0} msg/s | {published} messages, {} readings",
            (start + chrono::Duration::seconds(t)).format("%Y-%m-%d %H:%M"),
            states.join(" · "),
            readings.load(Ordering::Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_simulated_clock_never_runs_ahead_of_the_real_one() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 30).unwrap()
            + chrono::Duration::milliseconds(250);
        let span = 20 * 86_400;
        for speed in [Speed::Times(1.0), Speed::Times(600.0), Speed::Max] {
            let start = speed.start_for(span, now);
            let real = match speed {
                Speed::Times(x) => span as f64 / x,
                Speed::Max => 0.0,
            };
            assert!(
                start + chrono::Duration::seconds(span)
                    <= now + chrono::Duration::seconds(real as i64 + 1)
            );
            assert_eq!(start.timestamp() % 60, 0);
            assert_eq!(start.timestamp_subsec_nanos(), 0);
        }
        assert_eq!(
            Speed::Times(1.0).start_for(span, now),
            Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
        );
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert!("0".parse::<Speed>().is_err() && "fast".parse::<Speed>().is_err());
    }
}
