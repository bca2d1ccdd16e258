//! Scripted scenarios: given shipments, faults at given simulated times, and the alerts a
//! correct backend must end up with. A scenario is a TOML file:
//!
//! ```toml
//! name = "reefer-failure-mid-sea"
//! seed = 11
//! interval = "5m"                      # between a logger's readings
//! start = "2026-01-05T00:00:00Z"       # optional; by default the run ends now
//!
//! [[shipment]]
//! reference = "SCN-REEFER-1"
//! product = "temperate-produce"        # a product preset id
//! origin = "melbourne"
//! destination = "shanghai"
//! mode = "sea"
//! loggers = 1
//! legs = { voyage = "14d" }            # fixed leg durations; the rest drawn from the seed
//!
//! [[fault]]
//! shipment = "SCN-REEFER-1"
//! kind = "refrigeration_failure"
//! leg = "voyage"                       # times count from this leg's start (else departure)
//! after = "6d"
//! duration = "90m"
//!
//! [[expect]]
//! shipment = "SCN-REEFER-1"
//! kind = "temperature_high"
//! leg = "voyage"
//! starts_after = "6d"
//! starts_before = "6d 90m"
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use coldchain_domain::{AlertKind, ProductPreset};
use serde::{Deserialize, Serialize};

use crate::catalog::{DESTINATIONS, LongHaul, ORIGINS, city};
use crate::faults::{Fault, FaultConfig, FaultKind};
use crate::fleet::{
    FleetOptions, LegKind, ShipmentPlan, ShipmentSpec, SimSeconds, plan_shipment, reading_interval,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    pub start: Option<DateTime<Utc>>,
    #[serde(rename = "shipment")]
    pub shipments: Vec<ShipmentEntry>,
    #[serde(rename = "fault", default)]
    pub faults: Vec<FaultEntry>,
    #[serde(rename = "expect", default)]
    pub expectations: Vec<ExpectEntry>,
}

fn default_seed() -> u64 {
    1
}

fn default_interval() -> Duration {
    Duration::from_secs(300)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentEntry {
    pub reference: String,
    pub product: Option<String>,
    pub origin: Option<String>,
    pub destination: Option<String>,
    pub mode: Option<LongHaul>,
    #[serde(default, with = "humantime_serde")]
    pub depart_after: Option<Duration>,
    pub loggers: Option<usize>,
    /// Leg code -> duration.
    #[serde(default)]
    pub legs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    pub shipment: String,
    pub kind: String,
    pub leg: Option<String>,
    #[serde(default, with = "humantime_serde")]
    pub after: Option<Duration>,
    /// Until delivery when absent.
    #[serde(default, with = "humantime_serde")]
    pub duration: Option<Duration>,
    pub logger: Option<usize>,
    #[serde(default)]
    pub amount: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectEntry {
    pub shipment: String,
    pub kind: String,
    #[serde(default = "one")]
    pub count: usize,
    pub leg: Option<String>,
    #[serde(default, with = "humantime_serde")]
    pub starts_after: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub starts_before: Option<Duration>,
    #[serde(default)]
    pub note: String,
}

fn one() -> usize {
    1
}

/// An alert a correct backend raises for the scenario, with the window its start must fall
/// in (event time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedAlert {
    pub shipment: String,
    pub kind: AlertKind,
    pub count: usize,
    pub starts_after: Option<DateTime<Utc>>,
    pub starts_before: Option<DateTime<Utc>>,
    pub note: String,
}

/// A scenario resolved into plans.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub start: Option<DateTime<Utc>>,
    pub plans: Vec<ShipmentPlan>,
    /// Offsets are resolved against the start once it is known.
    expectations: Vec<(ExpectEntry, SimSeconds)>,
}

fn leg_kind(code: &str) -> anyhow::Result<LegKind> {
    const ALL: [LegKind; 11] = [
        LegKind::Packing,
        LegKind::OriginColdStore,
        LegKind::Haulage,
        LegKind::OriginTerminal,
        LegKind::OriginAirport,
        LegKind::Voyage,
        LegKind::Flight,
        LegKind::DestinationTerminal,
        LegKind::DestinationAirport,
        LegKind::DestinationColdStore,
        LegKind::LastMile,
    ];
    ALL.into_iter().find(|k| k.code() == code).with_context(|| {
        format!(
            "unknown leg {code:?}; expected one of {}",
            ALL.map(|k| k.code()).join(", ")
        )
    })
}

fn seconds(d: Duration) -> SimSeconds {
    d.as_secs() as SimSeconds
}

impl Scenario {
    pub fn load(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading scenario {}", path.display()))?;
        let file: ScenarioFile = toml::from_str(&text)
            .with_context(|| format!("parsing scenario {}", path.display()))?;
        Self::resolve(file).with_context(|| format!("in scenario {}", path.display()))
    }

    pub fn resolve(file: ScenarioFile) -> anyhow::Result<Scenario> {
        let options = FleetOptions {
            seed: file.seed,
            interval: reading_interval(file.interval).map_err(anyhow::Error::msg)?,
            faults: FaultConfig::none(),
            ..FleetOptions::default()
        };
        let mut plans = Vec::new();
        for (index, entry) in file.shipments.iter().enumerate() {
            let spec = ShipmentSpec {
                reference: Some(entry.reference.clone()),
                product: entry
                    .product
                    .as_deref()
                    .map(|id| {
                        ProductPreset::find(id).with_context(|| format!("unknown product {id:?}"))
                    })
                    .transpose()?,
                origin: entry
                    .origin
                    .as_deref()
                    .map(|id| city(ORIGINS, id).with_context(|| format!("unknown origin {id:?}")))
                    .transpose()?,
                destination: entry
                    .destination
                    .as_deref()
                    .map(|id| {
                        city(DESTINATIONS, id)
                            .with_context(|| format!("unknown destination {id:?}"))
                    })
                    .transpose()?,
                mode: entry.mode,
                depart_after: Some(entry.depart_after.map_or(0, seconds)),
                loggers: entry.loggers,
                leg_durations: entry
                    .legs
                    .iter()
                    .map(|(leg, d)| {
                        Ok((
                            leg_kind(leg)?,
                            seconds(
                                humantime::parse_duration(d).with_context(|| {
                                    format!("leg {leg}: {d:?} is not a duration")
                                })?,
                            ),
                        ))
                    })
                    .collect::<anyhow::Result<_>>()?,
            };
            plans.push(plan_shipment(index, &spec, &options));
        }
        let find = |plans: &[ShipmentPlan], reference: &str| -> anyhow::Result<usize> {
            plans
                .iter()
                .position(|p| p.reference == reference)
                .with_context(|| format!("no shipment {reference:?} in the scenario"))
        };
        // Where offsets count from: a leg's start, or the departure.
        let origin_of = |plan: &ShipmentPlan, leg: Option<&str>| -> anyhow::Result<SimSeconds> {
            match leg {
                None => Ok(plan.departure()),
                Some(code) => {
                    let kind = leg_kind(code)?;
                    Ok(plan
                        .leg(kind)
                        .with_context(|| format!("{} has no {code} leg", plan.reference))?
                        .start)
                }
            }
        };
        for entry in &file.faults {
            let i = find(&plans, &entry.shipment)?;
            let kind: FaultKind = entry.kind.parse().map_err(anyhow::Error::msg)?;
            let plan = &plans[i];
            let start = origin_of(plan, entry.leg.as_deref())? + entry.after.map_or(0, seconds);
            let duration = entry.duration.map_or(plan.delivery() - start, seconds);
            if let Some(logger) = entry.logger
                && logger >= plan.loggers.len()
            {
                bail!("{} has no logger {logger}", plan.reference);
            }
            if start + duration > plan.delivery() {
                bail!(
                    "a {kind} fault on {} runs past its delivery",
                    plan.reference
                );
            }
            plans[i].faults.push(Fault {
                kind,
                start,
                duration,
                logger: entry.logger,
                amount: entry.amount,
            });
        }
        let mut expectations = Vec::new();
        for entry in &file.expectations {
            let plan = &plans[find(&plans, &entry.shipment)?];
            entry
                .kind
                .parse::<AlertKind>()
                .map_err(anyhow::Error::msg)?;
            expectations.push((entry.clone(), origin_of(plan, entry.leg.as_deref())?));
        }
        Ok(Scenario {
            name: file.name,
            description: file.description,
            seed: file.seed,
            start: file.start,
            plans,
            expectations,
        })
    }

    /// The expected alerts, their windows placed on the wall clock.
    pub fn expected_alerts(&self, start: DateTime<Utc>) -> Vec<ExpectedAlert> {
        let at = |base: SimSeconds, d: Option<Duration>| {
            d.map(|d| start + chrono::Duration::seconds(base + seconds(d)))
        };
        self.expectations
            .iter()
            .map(|(e, base)| ExpectedAlert {
                shipment: e.shipment.clone(),
                kind: e.kind.parse().expect("checked when loaded"),
                count: e.count,
                starts_after: at(*base, e.starts_after),
                starts_before: at(*base, e.starts_before),
                note: e.note.clone(),
            })
            .collect()
    }

    /// The simulated span from the start to the last delivery.
    pub fn span(&self) -> SimSeconds {
        self.plans.iter().map(|p| p.delivery()).max().unwrap_or(0)
    }
}
