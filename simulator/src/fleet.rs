//! The fleet: which shipments exist, what they carry, by which lane and legs, who holds them
//! on each leg, and which loggers ride with them. Planning is a pure function of the seed
//! and the options, so the same seed always gives the same fleet.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use coldchain_domain::{PRODUCT_PRESETS, ProductPreset};

use crate::catalog::{City, DESTINATIONS, LatLon, LongHaul, ORIGINS, along, sea_waypoints};
use crate::faults::{Fault, FaultConfig, FaultKind};
use crate::physics::Enclosure;
use crate::rng::{Stream, rng_for};

/// Simulated time, in whole seconds since the fleet's start.
pub type SimSeconds = i64;

pub const MINUTE: SimSeconds = 60;
pub const HOUR: SimSeconds = 3600;
pub const DAY: SimSeconds = 86_400;

/// One stage of a trip, held by one custodian in one enclosure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegKind {
    /// At the farm or packer: packed and pre-cooled.
    Packing,
    OriginColdStore,
    /// By road from the cold store to the port or airport.
    Haulage,
    /// At the origin container terminal, plugged in, waiting for the ship.
    OriginTerminal,
    /// At the origin airport: build-up, cool room, tarmac.
    OriginAirport,
    Voyage,
    Flight,
    /// Discharged at the destination terminal, awaiting customs.
    DestinationTerminal,
    /// At the destination airport: break-down, customs.
    DestinationAirport,
    DestinationColdStore,
    /// The refrigerated van to the buyer.
    LastMile,
}

impl LegKind {
    pub fn code(self) -> &'static str {
        match self {
            LegKind::Packing => "packing",
            LegKind::OriginColdStore => "origin_cold_store",
            LegKind::Haulage => "haulage",
            LegKind::OriginTerminal => "origin_terminal",
            LegKind::OriginAirport => "origin_airport",
            LegKind::Voyage => "voyage",
            LegKind::Flight => "flight",
            LegKind::DestinationTerminal => "destination_terminal",
            LegKind::DestinationAirport => "destination_airport",
            LegKind::DestinationColdStore => "destination_cold_store",
            LegKind::LastMile => "last_mile",
        }
    }

    /// Whether the goods are moving (in transit) rather than waiting at a hub.
    pub fn moving(self) -> bool {
        matches!(
            self,
            LegKind::Haulage | LegKind::Voyage | LegKind::Flight | LegKind::LastMile
        )
    }

    /// The leg of the long haul: the ship or the plane.
    pub fn long_haul(self) -> bool {
        matches!(self, LegKind::Voyage | LegKind::Flight)
    }

    pub fn at_terminal(self) -> bool {
        matches!(
            self,
            LegKind::OriginTerminal
                | LegKind::DestinationTerminal
                | LegKind::OriginAirport
                | LegKind::DestinationAirport
        )
    }
}

/// Where the air around the enclosure comes from on a leg.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Surroundings {
    /// The outside air of the origin or the destination city.
    Origin,
    Destination,
    /// A sun-baked apron: the city's air plus a few degrees.
    Tarmac {
        destination: bool,
    },
    /// The open sea between the two.
    Sea,
    /// An aircraft's cargo hold.
    Hold,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leg {
    pub kind: LegKind,
    pub custodian: String,
    pub enclosure: Enclosure,
    pub surroundings: Surroundings,
    pub start: SimSeconds,
    pub end: SimSeconds,
    /// The track over the leg, start to end.
    pub route: Vec<LatLon>,
}

impl Leg {
    pub fn position(&self, t: SimSeconds) -> LatLon {
        let span = (self.end - self.start).max(1) as f64;
        along(&self.route, (t - self.start) as f64 / span)
    }

    pub fn fraction(&self, t: SimSeconds) -> f64 {
        ((t - self.start) as f64 / (self.end - self.start).max(1) as f64).clamp(0.0, 1.0)
    }
}

/// A logger riding with a shipment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Logger {
    pub device_id: String,
    /// Seconds between readings.
    pub interval: SimSeconds,
    /// When in its interval the logger samples (so loggers do not all read at once).
    pub phase: SimSeconds,
    /// Where it sits in the load: loggers near the doors read a little warmer.
    pub bias_c: f64,
    pub battery_start_pct: f64,
}

/// Where a shipment is in its life at a given moment, as an operator would say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Planned,
    InTransit,
    AtHub,
    Delivered,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::Planned,
        Phase::InTransit,
        Phase::AtHub,
        Phase::Delivered,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Phase::Planned => "planned",
            Phase::InTransit => "in_transit",
            Phase::AtHub => "at_hub",
            Phase::Delivered => "delivered",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShipmentPlan {
    pub index: usize,
    pub reference: String,
    pub seller: String,
    pub product: &'static ProductPreset,
    pub mode: LongHaul,
    pub origin: &'static City,
    pub destination: &'static City,
    pub legs: Vec<Leg>,
    pub loggers: Vec<Logger>,
    /// The gateway publishing for this shipment's loggers (its MQTT client id and status
    /// topic).
    pub gateway_id: String,
    pub faults: Vec<Fault>,
}

impl ShipmentPlan {
    pub fn departure(&self) -> SimSeconds {
        self.legs.first().map_or(0, |l| l.start)
    }

    pub fn delivery(&self) -> SimSeconds {
        self.legs.last().map_or(0, |l| l.end)
    }

    pub fn leg_at(&self, t: SimSeconds) -> Option<&Leg> {
        self.legs.iter().find(|l| l.start <= t && t < l.end)
    }

    pub fn leg(&self, kind: LegKind) -> Option<&Leg> {
        self.legs.iter().find(|l| l.kind == kind)
    }

    pub fn phase_at(&self, t: SimSeconds) -> Phase {
        match self.leg_at(t) {
            None if t < self.departure() => Phase::Planned,
            None => Phase::Delivered,
            Some(l) if l.kind == LegKind::Packing => Phase::Planned,
            Some(l) if l.kind.moving() => Phase::InTransit,
            Some(_) => Phase::AtHub,
        }
    }

    /// Faults of one kind that are active at `t` (for a logger, when it is given).
    pub fn active(&self, kind: FaultKind, t: SimSeconds, logger: Option<usize>) -> Option<&Fault> {
        self.faults.iter().find(|f| {
            f.kind == kind
                && f.start <= t
                && t < f.start + f.duration
                && (logger.is_none() || f.logger.is_none() || f.logger == logger)
        })
    }
}

/// What one shipment should be: the parts a scenario file pins down, the rest drawn from the
/// seed.
#[derive(Debug, Clone, Default)]
pub struct ShipmentSpec {
    pub reference: Option<String>,
    pub product: Option<&'static ProductPreset>,
    pub origin: Option<&'static City>,
    pub destination: Option<&'static City>,
    pub mode: Option<LongHaul>,
    /// Seconds after the fleet's start that packing begins.
    pub depart_after: Option<SimSeconds>,
    pub loggers: Option<usize>,
    /// Fixed leg durations, overriding the drawn ones.
    pub leg_durations: Vec<(LegKind, SimSeconds)>,
}

/// Fleet-wide options.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    pub seed: u64,
    /// Seconds between a logger's readings.
    pub interval: SimSeconds,
    /// Share of shipments going by sea rather than air.
    pub sea_share: f64,
    /// Departures spread over this long from the fleet's start.
    pub stagger: SimSeconds,
    pub faults: FaultConfig,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            interval: 5 * MINUTE,
            sea_share: 0.7,
            stagger: 3 * DAY,
            faults: FaultConfig::none(),
        }
    }
}

/// Plans `count` shipments drawn from the seed.
pub fn plan_fleet(count: usize, options: &FleetOptions) -> Vec<ShipmentPlan> {
    (0..count)
        .map(|i| plan_shipment(i, &ShipmentSpec::default(), options))
        .collect()
}

/// Plans shipment number `index`: what `spec` fixes is kept, the rest drawn from the seed
/// (each shipment from its own random stream, so shipment 7 is the same whatever the count).
pub fn plan_shipment(index: usize, spec: &ShipmentSpec, options: &FleetOptions) -> ShipmentPlan {
    let mut rng = rng_for(options.seed, index, Stream::Plan);
    let mode = spec.mode.unwrap_or(if rng.random_bool(options.sea_share) {
        LongHaul::Sea
    } else {
        LongHaul::Air
    });
    let product = spec.product.unwrap_or_else(|| {
        PRODUCT_PRESETS
            .choose(&mut rng)
            .expect("there are product presets")
    });
    let origin = spec
        .origin
        .unwrap_or_else(|| ORIGINS.choose(&mut rng).expect("there are origins"));
    let destination = spec.destination.unwrap_or_else(|| {
        DESTINATIONS
            .choose(&mut rng)
            .expect("there are destinations")
    });
    let depart_after = spec
        .depart_after
        .unwrap_or_else(|| round_to_minute(rng.random_range(0..=options.stagger.max(0))));

    let legs = plan_legs(
        &mut rng,
        mode,
        origin,
        destination,
        depart_after,
        &spec.leg_durations,
    );
    let logger_count = spec.loggers.unwrap_or(match mode {
        LongHaul::Sea => rng.random_range(1..=3),
        LongHaul::Air => rng.random_range(1..=2),
    });
    let loggers = (0..logger_count)
        .map(|k| Logger {
            device_id: format!("sim{}-s{index:04}-l{k}", options.seed),
            interval: options.interval,
            phase: round_to_minute(rng.random_range(0..options.interval.max(MINUTE)))
                % options.interval.max(MINUTE),
            bias_c: rng.random_range(-0.15..0.25),
            battery_start_pct: rng.random_range(70.0..100.0),
        })
        .collect::<Vec<_>>();
    let reference = spec.reference.clone().unwrap_or_else(|| {
        format!(
            "{}-{}-{}-{}{:04}",
            origin.code,
            destination.code,
            options.seed,
            mode.code().to_uppercase(),
            index
        )
    });
    let mut plan = ShipmentPlan {
        index,
        reference,
        seller: seller_for(origin, product),
        product,
        mode,
        origin,
        destination,
        legs,
        loggers,
        gateway_id: format!("sim{}-gw{index:04}", options.seed),
        faults: Vec::new(),
    };
    plan.faults = options.faults.draw(&plan, options.seed);
    plan
}

/// A logger interval from a duration: whole minutes (the physics steps a minute at a time),
/// at least one.
pub fn reading_interval(d: std::time::Duration) -> Result<SimSeconds, String> {
    let s = d.as_secs();
    if s < 60 || !s.is_multiple_of(60) || d.subsec_nanos() != 0 {
        return Err(format!(
            "a reading interval must be whole minutes, at least 1m (got {})",
            humantime::format_duration(d)
        ));
    }
    Ok(s as SimSeconds)
}

fn round_to_minute(s: SimSeconds) -> SimSeconds {
    s - s.rem_euclid(MINUTE)
}

fn seller_for(origin: &City, product: &ProductPreset) -> String {
    let what = match product.id {
        "frozen" | "chilled-meat" => "Meats",
        "seafood" => "Seafoods",
        "dairy" => "Dairy",
        "pharma" => "Health",
        _ => "Fresh Produce",
    };
    format!("{} {what} Exports", origin.name)
}

/// Draws a duration in whole minutes between two bounds, in hours.
fn hours(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> SimSeconds {
    round_to_minute((rng.random_range(lo..hi) * HOUR as f64) as SimSeconds)
}

fn plan_legs(
    rng: &mut ChaCha8Rng,
    mode: LongHaul,
    origin: &'static City,
    destination: &'static City,
    start: SimSeconds,
    fixed: &[(LegKind, SimSeconds)],
) -> Vec<Leg> {
    use Enclosure::*;
    use LegKind::*;
    use Surroundings as S;
    let o = origin;
    let d = destination;
    // (kind, custodian, enclosure, surroundings, route, drawn duration)
    let mut stages: Vec<(
        LegKind,
        String,
        Enclosure,
        Surroundings,
        Vec<LatLon>,
        SimSeconds,
    )> = vec![
        (
            Packing,
            o.packer.to_owned(),
            ColdRoom,
            S::Origin,
            vec![o.hinterland],
            hours(rng, 12.0, 36.0),
        ),
        (
            OriginColdStore,
            o.cold_store.to_owned(),
            ColdRoom,
            S::Origin,
            vec![o.city],
            hours(rng, 12.0, 72.0),
        ),
    ];
    match mode {
        LongHaul::Sea => {
            let line = shipping_line(rng);
            stages.extend([
                (
                    Haulage,
                    o.haulier.to_owned(),
                    ReeferContainer,
                    S::Origin,
                    vec![o.city, o.seaport],
                    hours(rng, 2.0, 8.0),
                ),
                (
                    OriginTerminal,
                    o.terminal.to_owned(),
                    ReeferContainer,
                    S::Origin,
                    vec![o.seaport],
                    hours(rng, 24.0, 72.0),
                ),
                (
                    Voyage,
                    line,
                    ReeferContainer,
                    S::Sea,
                    sea_waypoints(o, d),
                    hours(rng, 10.0 * 24.0, 18.0 * 24.0),
                ),
                (
                    DestinationTerminal,
                    format!("{} / customs", d.terminal),
                    ReeferContainer,
                    S::Destination,
                    vec![d.seaport],
                    hours(rng, 24.0, 96.0),
                ),
            ]);
        }
        LongHaul::Air => {
            let airline = airline(rng);
            stages.extend([
                (
                    Haulage,
                    o.haulier.to_owned(),
                    ReeferTruck,
                    S::Origin,
                    vec![o.city, o.airport],
                    hours(rng, 1.0, 4.0),
                ),
                (
                    OriginAirport,
                    o.ground_handler.to_owned(),
                    AirContainer,
                    S::Tarmac { destination: false },
                    vec![o.airport],
                    hours(rng, 4.0, 10.0),
                ),
                (
                    Flight,
                    airline,
                    AirContainer,
                    S::Hold,
                    vec![o.airport, d.airport],
                    hours(rng, 10.0, 14.0),
                ),
                (
                    DestinationAirport,
                    format!("{} / customs", d.ground_handler),
                    AirContainer,
                    S::Tarmac { destination: true },
                    vec![d.airport],
                    hours(rng, 6.0, 24.0),
                ),
            ]);
        }
    }
    let gateway = match mode {
        LongHaul::Sea => d.seaport,
        LongHaul::Air => d.airport,
    };
    stages.extend([
        (
            DestinationColdStore,
            d.cold_store.to_owned(),
            ColdRoom,
            S::Destination,
            vec![gateway, d.hinterland],
            hours(rng, 12.0, 72.0),
        ),
        (
            LastMile,
            d.courier.to_owned(),
            Van,
            S::Destination,
            vec![d.hinterland, d.city],
            hours(rng, 2.0, 8.0),
        ),
    ]);

    let mut t = start;
    stages
        .into_iter()
        .map(|(kind, custodian, enclosure, surroundings, route, drawn)| {
            let duration = fixed
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(drawn, |(_, fixed)| *fixed);
            let leg = Leg {
                kind,
                custodian,
                enclosure,
                surroundings,
                start: t,
                end: t + duration,
                route,
            };
            t += duration;
            leg
        })
        .collect()
}

fn shipping_line(rng: &mut ChaCha8Rng) -> String {
    const LINES: &[&str] = &[
        "Pacific Reefer Line",
        "Southern Star Shipping",
        "Coral Sea Container Line",
        "Austral Asia Express",
    ];
    (*LINES.choose(rng).expect("lines")).to_owned()
}

fn airline(rng: &mut ChaCha8Rng) -> String {
    const AIRLINES: &[&str] = &[
        "Kangaroo Air Cargo",
        "Great Wall Freighters",
        "Southern Cross Air Freight",
    ];
    (*AIRLINES.choose(rng).expect("airlines")).to_owned()
}

/// Why a door is open during normal handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Goods loaded into another enclosure at a refrigerated dock.
    Dock,
    /// The van's drop at the buyer, in the open air.
    Delivery,
}

impl ShipmentPlan {
    /// Whether the doors are open for handling at `t`: the first minutes of a leg that moves
    /// the goods into another enclosure, and the last minutes of the van's run.
    pub fn handling_at(&self, t: SimSeconds) -> Option<Handling> {
        const LOADING: SimSeconds = 8 * MINUTE;
        const DROP: SimSeconds = 4 * MINUTE;
        if self
            .legs
            .last()
            .is_some_and(|van| van.kind == LegKind::LastMile && van.end - DROP <= t && t < van.end)
        {
            return Some(Handling::Delivery);
        }
        self.legs
            .windows(2)
            .any(|w| {
                w[0].enclosure != w[1].enclosure && w[1].start <= t && t < w[1].start + LOADING
            })
            .then_some(Handling::Dock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_plans_the_same_fleet_and_another_seed_another() {
        let options = FleetOptions::default();
        assert_eq!(plan_fleet(20, &options), plan_fleet(20, &options));
        let other = FleetOptions {
            seed: 2,
            ..options.clone()
        };
        assert_ne!(plan_fleet(20, &options), plan_fleet(20, &other));
    }

    #[test]
    fn legs_follow_each_other_and_last_realistically() {
        for plan in plan_fleet(60, &FleetOptions::default()) {
            assert!(plan.legs.windows(2).all(|w| w[0].end == w[1].start));
            let long_haul = plan
                .legs
                .iter()
                .find(|l| l.kind.long_haul())
                .expect("a long haul");
            let length = long_haul.end - long_haul.start;
            match plan.mode {
                LongHaul::Sea => assert!((10 * DAY..=18 * DAY).contains(&length)),
                LongHaul::Air => assert!((10 * HOUR..=14 * HOUR).contains(&length)),
            }
            assert_eq!(plan.legs.last().unwrap().kind, LegKind::LastMile);
            assert!(!plan.loggers.is_empty());
        }
    }

    #[test]
    fn the_phase_follows_the_legs() {
        let plan = plan_shipment(0, &ShipmentSpec::default(), &FleetOptions::default());
        assert_eq!(plan.phase_at(plan.departure() - 1), Phase::Planned);
        let haul = plan.leg(LegKind::Haulage).unwrap();
        assert_eq!(plan.phase_at(haul.start), Phase::InTransit);
        let store = plan.leg(LegKind::DestinationColdStore).unwrap();
        assert_eq!(plan.phase_at(store.start), Phase::AtHub);
        assert_eq!(plan.phase_at(plan.delivery()), Phase::Delivered);
    }
}
