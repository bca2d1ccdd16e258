//! The trouble a real fleet has, each kind switchable and drawn from its own seeded stream:
//! a refrigeration unit failing at sea, a container unplugged at the terminal, a door left
//! open at a cold store, a logger out of coverage that later uploads its buffer, duplicate
//! publishes, a logger clock running wrong, corrupted payloads, a battery running down.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::catalog::LongHaul;
use crate::fleet::{HOUR, LegKind, MINUTE, ShipmentPlan, SimSeconds};
use crate::rng::{Stream, rng_for};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The unit stops cooling; the temperature drifts towards ambient.
    RefrigerationFailure = 0,
    /// The container is unplugged at a terminal for hours (power_off / power_on events).
    PowerLoss = 1,
    /// A door stays open at a handover.
    DoorLeftOpen = 2,
    /// A logger loses its uplink for hours, buffers, then uploads the backlog in bursts.
    SensorSilent = 3,
    /// Some messages are published twice.
    DuplicatePublishes = 4,
    /// A logger's clock is off by a fixed amount.
    ClockSkew = 5,
    /// Some payloads are corrupted on the way.
    MalformedPayloads = 6,
    /// A logger's battery drains fast; it goes quiet when empty.
    BatteryDrain = 7,
}

impl FaultKind {
    pub const ALL: [FaultKind; 8] = [
        FaultKind::RefrigerationFailure,
        FaultKind::PowerLoss,
        FaultKind::DoorLeftOpen,
        FaultKind::SensorSilent,
        FaultKind::DuplicatePublishes,
        FaultKind::ClockSkew,
        FaultKind::MalformedPayloads,
        FaultKind::BatteryDrain,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FaultKind::RefrigerationFailure => "refrigeration_failure",
            FaultKind::PowerLoss => "power_loss",
            FaultKind::DoorLeftOpen => "door_left_open",
            FaultKind::SensorSilent => "sensor_silent",
            FaultKind::DuplicatePublishes => "duplicate_publishes",
            FaultKind::ClockSkew => "clock_skew",
            FaultKind::MalformedPayloads => "malformed_payloads",
            FaultKind::BatteryDrain => "battery_drain",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| {
                format!(
                    "unknown fault {s:?}; expected one of {}",
                    Self::ALL.map(|k| k.code()).join(", ")
                )
            })
    }
}

/// One fault on one shipment (or one of its loggers) over a window of simulated time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub kind: FaultKind,
    pub start: SimSeconds,
    pub duration: SimSeconds,
    /// The logger it hits; the whole shipment when absent.
    pub logger: Option<usize>,
    /// Kind-specific: clock offset in seconds, battery drain in % per day, or the share of
    /// messages duplicated or corrupted.
    pub amount: f64,
}

/// Which faults a random fleet gets, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    pub enabled: BTreeSet<FaultKind>,
    /// Chance that a shipment gets a given (enabled) fault kind.
    pub per_shipment: f64,
    /// Share of an affected shipment's messages published twice, or corrupted.
    pub duplicate_rate: f64,
    pub malformed_rate: f64,
}

impl FaultConfig {
    pub fn none() -> Self {
        Self {
            enabled: BTreeSet::new(),
            per_shipment: 0.15,
            duplicate_rate: 0.05,
            malformed_rate: 0.02,
        }
    }

    pub fn all() -> Self {
        Self {
            enabled: FaultKind::ALL.into_iter().collect(),
            ..Self::none()
        }
    }

    /// Draws the faults of one shipment. Each kind is drawn from its own stream whether or
    /// not it is enabled, so enabling a kind never moves another.
    pub fn draw(&self, plan: &ShipmentPlan, seed: u64) -> Vec<Fault> {
        FaultKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let mut rng = rng_for(seed, plan.index, Stream::Fault(kind));
                let hit = rng.random_bool(self.per_shipment.clamp(0.0, 1.0));
                let fault = place(kind, plan, &mut rng, self)?;
                (hit && self.enabled.contains(&kind)).then_some(fault)
            })
            .collect()
    }
}

fn minutes(rng: &mut impl Rng, lo: SimSeconds, hi: SimSeconds) -> SimSeconds {
    rng.random_range(lo / MINUTE..=hi.max(lo) / MINUTE) * MINUTE
}

/// A start that keeps a fault of `duration` inside `[from, to)` when it fits.
fn start_within(
    rng: &mut impl Rng,
    from: SimSeconds,
    to: SimSeconds,
    duration: SimSeconds,
) -> SimSeconds {
    minutes(rng, from, (to - duration).max(from))
}

/// Where and how long a fault of `kind` strikes `plan`.
fn place(
    kind: FaultKind,
    plan: &ShipmentPlan,
    rng: &mut impl Rng,
    config: &FaultConfig,
) -> Option<Fault> {
    let long_haul = plan.legs.iter().find(|l| l.kind.long_haul())?;
    let logger = Some(rng.random_range(0..plan.loggers.len().max(1)));
    let trip = plan.delivery() - plan.departure();
    let whole_trip = |amount: f64, logger: Option<usize>| Fault {
        kind,
        start: plan.departure(),
        duration: trip,
        logger,
        amount,
    };
    let window = |start: SimSeconds, duration: SimSeconds, logger: Option<usize>| Fault {
        kind,
        start,
        duration,
        logger,
        amount: 0.0,
    };
    let fault = match kind {
        FaultKind::RefrigerationFailure => {
            let duration = match plan.mode {
                LongHaul::Sea => minutes(rng, HOUR, 8 * HOUR),
                LongHaul::Air => minutes(rng, 30 * MINUTE, 150 * MINUTE),
            };
            let start = start_within(rng, long_haul.start, long_haul.end, duration);
            window(start, duration, None)
        }
        FaultKind::PowerLoss => {
            let terminals: Vec<_> = plan.legs.iter().filter(|l| l.kind.at_terminal()).collect();
            let leg = terminals.get(rng.random_range(0..terminals.len().max(1)))?;
            let duration = minutes(rng, HOUR, (10 * HOUR).min((leg.end - leg.start) * 4 / 5));
            let start = start_within(rng, leg.start, leg.end, duration);
            window(start, duration, None)
        }
        FaultKind::DoorLeftOpen => {
            let docks: Vec<_> = plan
                .legs
                .iter()
                .filter(|l| {
                    matches!(
                        l.kind,
                        LegKind::OriginColdStore
                            | LegKind::DestinationColdStore
                            | LegKind::LastMile
                    )
                })
                .collect();
            let leg = docks.get(rng.random_range(0..docks.len().max(1)))?;
            let duration = minutes(rng, 20 * MINUTE, 90 * MINUTE);
            window(leg.start + 10 * MINUTE, duration, None)
        }
        FaultKind::SensorSilent => {
            let duration = match plan.mode {
                LongHaul::Sea => minutes(rng, 4 * HOUR, 48 * HOUR),
                LongHaul::Air => minutes(rng, 2 * HOUR, 6 * HOUR),
            };
            let start = start_within(rng, long_haul.start, long_haul.end, duration);
            window(start, duration, logger)
        }
        FaultKind::DuplicatePublishes => whole_trip(config.duplicate_rate, None),
        FaultKind::MalformedPayloads => whole_trip(config.malformed_rate, None),
        // Loggers drift slow far more than fast, and a fast clock beyond the ingest's
        // five-minute future limit would be rejected rather than skewed.
        FaultKind::ClockSkew => {
            whole_trip(rng.random_range(-90 * MINUTE..=2 * MINUTE) as f64, logger)
        }
        FaultKind::BatteryDrain => {
            let start = plan.departure() + minutes(rng, 0, trip / 2);
            Fault {
                kind,
                start,
                duration: plan.delivery() - start,
                logger,
                // Percent per day: a healthy logger uses well under one.
                amount: rng.random_range(10.0..40.0),
            }
        }
    };
    Some(fault)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{FleetOptions, plan_fleet};

    #[test]
    fn enabling_one_kind_leaves_the_others_where_they_were() {
        let all = FleetOptions {
            faults: FaultConfig {
                per_shipment: 0.5,
                ..FaultConfig::all()
            },
            ..FleetOptions::default()
        };
        let mut only_failures = all.clone();
        only_failures.faults.enabled = [FaultKind::RefrigerationFailure].into();
        let with_all = plan_fleet(30, &all);
        let with_one = plan_fleet(30, &only_failures);
        let failures = |plans: &[ShipmentPlan]| -> Vec<Fault> {
            plans
                .iter()
                .flat_map(|p| p.faults.iter())
                .filter(|f| f.kind == FaultKind::RefrigerationFailure)
                .cloned()
                .collect()
        };
        assert!(!failures(&with_one).is_empty());
        assert_eq!(failures(&with_all), failures(&with_one));
        assert!(with_one.iter().all(|p| {
            p.faults
                .iter()
                .all(|f| f.kind == FaultKind::RefrigerationFailure)
        }));
    }

    #[test]
    fn faults_fall_where_they_belong() {
        let options = FleetOptions {
            faults: FaultConfig {
                per_shipment: 1.0,
                ..FaultConfig::all()
            },
            ..FleetOptions::default()
        };
        for plan in plan_fleet(40, &options) {
            assert_eq!(plan.faults.len(), FaultKind::ALL.len());
            for f in &plan.faults {
                assert!(f.duration > 0, "{f:?}");
                assert!(f.start >= plan.departure() && f.start + f.duration <= plan.delivery());
                let leg = plan.leg_at(f.start).unwrap();
                match f.kind {
                    FaultKind::RefrigerationFailure | FaultKind::SensorSilent => {
                        assert!(leg.kind.long_haul())
                    }
                    FaultKind::PowerLoss => assert!(leg.kind.at_terminal()),
                    _ => {}
                }
            }
        }
    }
}
