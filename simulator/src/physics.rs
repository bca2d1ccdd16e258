//! Heat in and out of the space the goods ride in: a one-node thermal model stepped once a
//! simulated minute. Heat leaks in from the ambient air through the insulation, a
//! refrigeration unit cycles on and off around its setpoint (and heats when the outside is
//! colder than the setpoint, as reefer units do), defrost cycles warm the air for a few
//! minutes every few hours, and an open door exchanges air with the outside much faster than
//! the walls do. Temperatures therefore move continuously, at degrees per hour.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;

use crate::catalog::Climate;

/// The kind of insulated space, which sets how fast it gains heat and how hard it can cool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enclosure {
    /// A packer's or cold store's chamber: large, well insulated, strong plant.
    ColdRoom,
    /// A 40 ft reefer container (on a truck chassis, at the terminal or on the ship).
    ReeferContainer,
    /// A reefer trailer on the road.
    ReeferTruck,
    /// An active air-freight container with its own compressor and batteries.
    AirContainer,
    /// A small refrigerated van doing the last mile.
    Van,
}

/// Thermal constants of an enclosure, loaded with product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thermal {
    /// Time constant of the heat leak through the walls, hours: with the unit off, the
    /// temperature closes 63 % of its gap to ambient in this long.
    pub leak_tau_h: f64,
    /// Rate at which the unit pulls the temperature down when running, °C per hour.
    pub cooling_c_per_h: f64,
    /// Time constant of the air exchange through an open door, minutes.
    pub door_tau_min: f64,
    /// The thermostat's band around the setpoint, °C.
    pub deadband_c: f64,
    /// Hours between defrost cycles (0: none) and how long one lasts.
    pub defrost_every_h: f64,
    pub defrost_minutes: f64,
    /// How fast a defrost warms the air around the goods, °C per hour.
    pub defrost_heat_c_per_h: f64,
}

impl Enclosure {
    pub fn thermal(self) -> Thermal {
        let base = Thermal {
            leak_tau_h: 12.0,
            cooling_c_per_h: 8.0,
            door_tau_min: 90.0,
            deadband_c: 0.6,
            defrost_every_h: 8.0,
            defrost_minutes: 15.0,
            defrost_heat_c_per_h: 1.0,
        };
        match self {
            Enclosure::ColdRoom => Thermal {
                leak_tau_h: 48.0,
                cooling_c_per_h: 10.0,
                // A wide doorway: a door left open swaps the air within the hour.
                door_tau_min: 60.0,
                deadband_c: 0.4,
                defrost_every_h: 12.0,
                defrost_heat_c_per_h: 0.5,
                ..base
            },
            Enclosure::ReeferContainer => base,
            Enclosure::ReeferTruck => Thermal {
                leak_tau_h: 8.0,
                defrost_every_h: 6.0,
                ..base
            },
            Enclosure::AirContainer => Thermal {
                leak_tau_h: 14.0,
                cooling_c_per_h: 8.0,
                door_tau_min: 60.0,
                defrost_every_h: 0.0,
                ..base
            },
            // Little insulation, but a unit sized for a small box.
            Enclosure::Van => Thermal {
                leak_tau_h: 5.0,
                cooling_c_per_h: 12.0,
                door_tau_min: 40.0,
                defrost_every_h: 0.0,
                ..base
            },
        }
    }
}

/// What the refrigeration unit is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitMode {
    Idle,
    Cooling,
    Heating,
    Defrost,
    /// No power or failed: nothing runs.
    Off,
}

/// The outside world for one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    pub ambient_c: f64,
    pub setpoint_c: f64,
    /// False while the unit has no power or has failed.
    pub unit_working: bool,
    /// The air that comes in through an open door: a refrigerated dock's at a handover,
    /// the outside's when a door is left open.
    pub door_open: Option<f64>,
}

/// The state of one enclosure's air and unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Reefer {
    pub temp_c: f64,
    pub mode: UnitMode,
    /// Running seconds until the next defrost, and seconds left in the current one.
    until_defrost_s: f64,
    defrost_left_s: f64,
}

/// What changed in a step that a logger would report as an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepEvents {
    pub defrost_started: bool,
    pub defrost_ended: bool,
}

impl Reefer {
    /// Starts at `temp_c` with the next defrost `first_defrost_h` of running time away.
    pub fn new(temp_c: f64, first_defrost_h: f64) -> Self {
        Self {
            temp_c,
            mode: UnitMode::Idle,
            until_defrost_s: first_defrost_h * 3600.0,
            defrost_left_s: 0.0,
        }
    }

    /// Advances `dt_s` seconds.
    pub fn step(&mut self, thermal: &Thermal, c: &Conditions, dt_s: f64) -> StepEvents {
        let mut events = StepEvents::default();
        let dt_h = dt_s / 3600.0;
        let half_band = thermal.deadband_c / 2.0;

        if !c.unit_working {
            if self.mode == UnitMode::Defrost {
                events.defrost_ended = true;
            }
            self.mode = UnitMode::Off;
            self.defrost_left_s = 0.0;
        } else if self.mode == UnitMode::Defrost {
            self.defrost_left_s -= dt_s;
            if self.defrost_left_s <= 0.0 {
                self.mode = UnitMode::Idle;
                events.defrost_ended = true;
                self.until_defrost_s = thermal.defrost_every_h * 3600.0;
            }
        } else {
            if thermal.defrost_every_h > 0.0 {
                self.until_defrost_s -= dt_s;
            }
            if thermal.defrost_every_h > 0.0 && self.until_defrost_s <= 0.0 {
                self.mode = UnitMode::Defrost;
                self.defrost_left_s = thermal.defrost_minutes * 60.0;
                events.defrost_started = true;
            } else {
                self.mode = match self.mode {
                    UnitMode::Cooling if self.temp_c > c.setpoint_c - half_band => {
                        UnitMode::Cooling
                    }
                    UnitMode::Heating if self.temp_c < c.setpoint_c => UnitMode::Heating,
                    _ if self.temp_c > c.setpoint_c + half_band => UnitMode::Cooling,
                    _ if self.temp_c < c.setpoint_c - 2.0 * half_band => UnitMode::Heating,
                    _ => UnitMode::Idle,
                };
            }
        }

        let mut rate = (c.ambient_c - self.temp_c) / thermal.leak_tau_h;
        rate += match self.mode {
            UnitMode::Cooling => -thermal.cooling_c_per_h,
            UnitMode::Heating => thermal.cooling_c_per_h / 2.0,
            UnitMode::Defrost => thermal.defrost_heat_c_per_h,
            UnitMode::Idle | UnitMode::Off => 0.0,
        };
        if let Some(door_air_c) = c.door_open {
            rate += (door_air_c - self.temp_c) / (thermal.door_tau_min / 60.0);
        }
        let next = self.temp_c + rate * dt_h;
        // Never overshoot the ambient by integrating a fast exchange in a coarse step.
        self.temp_c = if self.mode == UnitMode::Off || self.mode == UnitMode::Idle {
            clamp_towards(self.temp_c, next, c.ambient_c)
        } else {
            next
        };
        events
    }
}

fn clamp_towards(from: f64, next: f64, target: f64) -> f64 {
    if from <= target {
        next.min(target)
    } else {
        next.max(target)
    }
}

/// The outside air temperature of a place at a moment, from its climate normals.
pub fn ambient(climate: &Climate, longitude: f64, at: DateTime<Utc>) -> f64 {
    let day = at.ordinal0() as f64 + at.num_seconds_from_midnight() as f64 / 86_400.0;
    let seasonal = (std::f64::consts::TAU * (day - climate.warmest_day) / 365.25).cos();
    let local_hour =
        (at.num_seconds_from_midnight() as f64 / 3600.0 + longitude / 15.0).rem_euclid(24.0);
    // Warmest at 3 pm, coldest before dawn.
    let daily = (std::f64::consts::TAU * (local_hour - 15.0) / 24.0).cos();
    climate.annual_mean_c
        + climate.seasonal_amplitude_c * seasonal
        + climate.daily_amplitude_c * daily
}

/// The air around a container at sea, a fraction `f` of the way from `from` to `to`: the two
/// ends' seasonal air blending into a warm tropical ocean in between, with a small daily swing.
pub fn sea_ambient(from: &Climate, to: &Climate, f: f64, longitude: f64, at: DateTime<Utc>) -> f64 {
    const TROPICAL_SEA_C: f64 = 28.5;
    let coast = ambient(from, longitude, at) * (1.0 - f) + ambient(to, longitude, at) * f;
    let daily_damped = coast - 0.7 * (coast - ambient_mean(from, to, f, at));
    let tropics = (std::f64::consts::PI * f).sin().powf(1.5);
    daily_damped + (TROPICAL_SEA_C - daily_damped) * tropics
}

fn ambient_mean(from: &Climate, to: &Climate, f: f64, at: DateTime<Utc>) -> f64 {
    let flat = |c: &Climate| Climate {
        daily_amplitude_c: 0.0,
        ..*c
    };
    ambient(&flat(from), 0.0, at) * (1.0 - f) + ambient(&flat(to), 0.0, at) * f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{DESTINATIONS, ORIGINS};
    use chrono::TimeZone;

    fn run(reefer: &mut Reefer, enclosure: Enclosure, c: Conditions, minutes: usize) -> Vec<f64> {
        let thermal = enclosure.thermal();
        (0..minutes)
            .map(|_| {
                reefer.step(&thermal, &c, 60.0);
                reefer.temp_c
            })
            .collect()
    }

    fn working(ambient_c: f64, setpoint_c: f64) -> Conditions {
        Conditions {
            ambient_c,
            setpoint_c,
            unit_working: true,
            door_open: None,
        }
    }

    #[test]
    fn a_working_unit_holds_the_setpoint_against_a_hot_ambient_through_defrosts() {
        let mut reefer = Reefer::new(0.5, 1.0);
        let temps = run(
            &mut reefer,
            Enclosure::ReeferContainer,
            working(35.0, 0.5),
            3 * 24 * 60,
        );
        let (lo, hi) = temps
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
        assert!(lo > -0.2 && hi < 1.8, "stayed in {lo:.2}..{hi:.2}");
    }

    #[test]
    fn a_failed_unit_drifts_towards_ambient_at_degrees_per_hour() {
        let mut reefer = Reefer::new(0.0, 100.0);
        let c = Conditions {
            unit_working: false,
            ..working(30.0, 0.0)
        };
        let temps = run(&mut reefer, Enclosure::ReeferContainer, c, 6 * 60);
        let first_hour = temps[59];
        assert!(
            (1.5..3.5).contains(&first_hour),
            "{first_hour:.2} °C after an hour"
        );
        assert!(temps.windows(2).all(|w| w[1] >= w[0] && w[1] - w[0] < 0.1));
        assert!(temps[6 * 60 - 1] < 30.0);
    }

    #[test]
    fn heats_when_the_outside_is_colder_than_the_setpoint() {
        let mut reefer = Reefer::new(2.0, 100.0);
        let temps = run(
            &mut reefer,
            Enclosure::ReeferContainer,
            working(-15.0, 2.0),
            24 * 60,
        );
        assert!(temps.iter().skip(60).all(|t| (1.0..3.0).contains(t)));
    }

    #[test]
    fn the_seasons_are_opposite_in_the_two_hemispheres() {
        let january = Utc.with_ymd_and_hms(2026, 1, 20, 3, 0, 0).unwrap();
        let july = Utc.with_ymd_and_hms(2026, 7, 20, 3, 0, 0).unwrap();
        let melbourne = &ORIGINS[0];
        let shanghai = &DESTINATIONS[0];
        assert!(
            ambient(&melbourne.climate, melbourne.city.lon, january)
                > ambient(&melbourne.climate, melbourne.city.lon, july) + 5.0
        );
        assert!(
            ambient(&shanghai.climate, shanghai.city.lon, july)
                > ambient(&shanghai.climate, shanghai.city.lon, january) + 15.0
        );
        let mid_ocean = sea_ambient(&melbourne.climate, &shanghai.climate, 0.5, 135.0, january);
        assert!((26.0..30.0).contains(&mid_ocean), "{mid_ocean}");
    }
}
