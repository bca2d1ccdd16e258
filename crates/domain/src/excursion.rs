//! The excursion engine: from one logger's readings and a product profile, the temperature
//! alerts, the time spent out of band, the moment the excursion budget ran out and the mean
//! kinetic temperature. Everything is a function of the *set* of readings in event-time
//! order, so duplicates, arrival order and batch boundaries cannot change the answer.
//!
//! Rules, in event time:
//! - A reading stands for the time until the next reading of the same logger, but never more
//!   than `max_gap`; beyond that the time is unknown (a gap), counted neither in nor out of
//!   band. The last reading stands for nothing yet: its time is known once the next arrives.
//! - An *excursion* is a run of consecutive readings out of band on the same side, with no
//!   gap inside. A temperature alert opens once an excursion has lasted `alert_delay`; its
//!   start is the excursion's first reading.
//! - An open alert clears once readings have been back inside the band by `clear_margin_c`
//!   for `clear_delay` without a gap; its end is the first reading of that stretch. Readings
//!   that are in band but not by the margin, or out again, keep it open: a value hovering at
//!   the limit does not flap.
//! - Muted readings (loading at a handover, a defrost the device reported) neither start,
//!   extend nor clear anything.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::profile::ProductProfile;

/// `[from, to)` of event time.
pub type TimeSpan = (DateTime<Utc>, DateTime<Utc>);

/// One reading as the engine needs it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub ts: DateTime<Utc>,
    pub temp_c: f64,
}

/// The profile's rules for one logger.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub min_c: f64,
    pub max_c: f64,
    pub alert_delay: Duration,
    pub clear_margin_c: f64,
    pub clear_delay: Duration,
    pub max_gap: Duration,
    /// Windows of event time in which readings are muted, `[from, to)`.
    pub muted: Vec<TimeSpan>,
}

impl Rules {
    pub fn new(profile: &ProductProfile, reading_interval: Duration) -> Self {
        Self {
            min_c: profile.min_c,
            max_c: profile.max_c,
            alert_delay: profile.alert_delay,
            clear_margin_c: profile.clear_margin_c,
            clear_delay: profile.clear_delay,
            max_gap: profile.max_gap_for(reading_interval),
            muted: Vec::new(),
        }
    }

    /// The temperature rules for one logger: its profile, its reading interval, and the
    /// windows the profile mutes (the logger's defrost cycles, the shipment's dock windows).
    pub fn for_logger(
        profile: &ProductProfile,
        reading_interval: Duration,
        defrosts: &[TimeSpan],
        docks: &[TimeSpan],
    ) -> Self {
        let mut rules = Self::new(profile, reading_interval);
        if profile.mute_defrost {
            rules.muted.extend_from_slice(defrosts);
        }
        if profile.mute_handovers {
            rules.muted.extend_from_slice(docks);
        }
        rules
    }

    pub(crate) fn is_muted(&self, ts: DateTime<Utc>) -> bool {
        self.muted.iter().any(|(from, to)| *from <= ts && ts < *to)
    }

    pub(crate) fn in_band(&self, temp_c: f64) -> bool {
        (self.min_c..=self.max_c).contains(&temp_c)
    }
}

/// Which side of the band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    High,
    Low,
}

impl Side {
    fn out(self, rules: &Rules, t: f64) -> bool {
        match self {
            Side::High => t > rules.max_c,
            Side::Low => t < rules.min_c,
        }
    }

    fn cleared(self, rules: &Rules, t: f64) -> bool {
        match self {
            Side::High => t <= rules.max_c - rules.clear_margin_c,
            Side::Low => t >= rules.min_c + rules.clear_margin_c,
        }
    }

    /// How far beyond the limit, in °C.
    fn excess(self, rules: &Rules, t: f64) -> f64 {
        match self {
            Side::High => t - rules.max_c,
            Side::Low => rules.min_c - t,
        }
    }

    /// The more extreme of two temperatures on this side.
    fn worse(self, a: f64, b: f64) -> f64 {
        match self {
            Side::High => a.max(b),
            Side::Low => a.min(b),
        }
    }
}

/// A temperature alert as the readings define it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemperatureAlert {
    pub side: Side,
    /// The first reading of the excursion that opened it.
    pub start: DateTime<Utc>,
    /// When, in event time, the excursion had lasted the alert delay.
    pub opened_at: DateTime<Utc>,
    /// The first reading of the stretch that cleared it; open while absent.
    pub end: Option<DateTime<Utc>>,
    /// The reading at which that stretch had lasted the clear delay.
    pub cleared_at: Option<DateTime<Utc>>,
    /// The most extreme reading while it was open.
    pub peak_c: f64,
    /// Time out of band while it was open.
    #[serde(serialize_with = "seconds")]
    pub out_of_band: Duration,
    /// Degree-minutes beyond the limit while it was open.
    pub area_c_min: f64,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
}

/// One logger's readings in event-time order, each with the time it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub(crate) points: Vec<Point>,
    /// How long each reading stands for (see the module's rules).
    pub(crate) covers: Vec<Duration>,
    pub(crate) max_gap: Duration,
}

impl Series {
    /// Sorts by event time and keeps one reading per time (the store keeps one per
    /// (device, time); should two ever differ, the lower temperature is kept, so the choice
    /// does not depend on order).
    pub fn new(points: impl IntoIterator<Item = Point>, max_gap: Duration) -> Self {
        let mut points: Vec<Point> = points.into_iter().collect();
        points.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.temp_c.total_cmp(&b.temp_c)));
        points.dedup_by_key(|p| p.ts);
        let covers = (0..points.len())
            .map(|i| {
                points.get(i + 1).map_or(Duration::zero(), |next| {
                    (next.ts - points[i].ts).min(max_gap)
                })
            })
            .collect();
        Self {
            points,
            covers,
            max_gap,
        }
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// Whether reading `i` follows the one before it without unknown time between them.
    fn contiguous(&self, i: usize) -> bool {
        i > 0 && self.points[i].ts - self.points[i - 1].ts <= self.max_gap
    }
}

fn minutes(d: Duration) -> f64 {
    d.num_milliseconds() as f64 / 60_000.0
}

/// An excursion being watched before it is long enough to alert.
struct Run {
    start: usize,
    lasted: Duration,
    peak_c: f64,
    area_c_min: f64,
}

/// The temperature alerts of one side.
fn side_alerts(series: &Series, rules: &Rules, side: Side) -> Vec<TemperatureAlert> {
    let mut alerts = Vec::new();
    let mut run: Option<Run> = None;
    let mut open: Option<TemperatureAlert> = None;
    // (first reading of the clearing stretch, how long it has lasted)
    let mut clearing: Option<(usize, Duration)> = None;
    for (i, p) in series.points.iter().enumerate() {
        let cover = series.covers[i];
        if rules.is_muted(p.ts) {
            continue;
        }
        let contiguous = series.contiguous(i);
        let out = side.out(rules, p.temp_c);
        if let Some(alert) = open.as_mut() {
            if !contiguous {
                clearing = None;
            }
            if out {
                alert.peak_c = side.worse(alert.peak_c, p.temp_c);
                alert.out_of_band += cover;
                alert.area_c_min += side.excess(rules, p.temp_c) * minutes(cover);
                clearing = None;
            } else if side.cleared(rules, p.temp_c) {
                let (first, lasted) = clearing.get_or_insert((i, Duration::zero()));
                *lasted += cover;
                if *lasted >= rules.clear_delay {
                    let mut done = open.take().expect("an open alert");
                    done.end = Some(series.points[*first].ts);
                    done.cleared_at = Some(p.ts);
                    alerts.push(done);
                    clearing = None;
                }
            } else {
                clearing = None;
            }
            continue;
        }
        if !out {
            run = None;
            continue;
        }
        let current = match run.take() {
            Some(r) if contiguous => r,
            _ => Run {
                start: i,
                lasted: Duration::zero(),
                peak_c: p.temp_c,
                area_c_min: 0.0,
            },
        };
        let current = Run {
            lasted: current.lasted + cover,
            peak_c: side.worse(current.peak_c, p.temp_c),
            area_c_min: current.area_c_min + side.excess(rules, p.temp_c) * minutes(cover),
            ..current
        };
        if current.lasted >= rules.alert_delay {
            let start = series.points[current.start].ts;
            open = Some(TemperatureAlert {
                side,
                start,
                opened_at: start + rules.alert_delay,
                end: None,
                cleared_at: None,
                peak_c: current.peak_c,
                out_of_band: current.lasted,
                area_c_min: current.area_c_min,
            });
            clearing = None;
        } else {
            run = Some(current);
        }
    }
    alerts.extend(open);
    alerts
}

/// Every temperature alert of one logger, ordered by start.
pub fn temperature_alerts(series: &Series, rules: &Rules) -> Vec<TemperatureAlert> {
    let mut alerts = side_alerts(series, rules, Side::High);
    alerts.extend(side_alerts(series, rules, Side::Low));
    alerts.sort_by(|a, b| a.start.cmp(&b.start).then(a.side.cmp(&b.side)));
    alerts
}

/// Time spent out of band (muted readings excluded), and when it passed `budget`, if it did.
pub fn excursion_budget(
    series: &Series,
    rules: &Rules,
    budget: Duration,
) -> (Duration, Option<DateTime<Utc>>) {
    let mut used = Duration::zero();
    let mut exhausted_at = None;
    for (p, cover) in series.points.iter().zip(&series.covers) {
        if rules.is_muted(p.ts) || rules.in_band(p.temp_c) {
            continue;
        }
        if exhausted_at.is_none() && used + *cover > budget {
            exhausted_at = Some(p.ts + (budget - used));
        }
        used += *cover;
    }
    (used, exhausted_at)
}

/// The universal gas constant, kJ/(mol K).
const R_KJ: f64 = 0.008_314_462_618;
const KELVIN: f64 = 273.15;

/// Mean kinetic temperature (USP <1079.2>) of readings weighted by the time each stands for;
/// equally weighted when none stands for any time yet. `None` without readings.
pub fn mean_kinetic_temperature(series: &Series, delta_h_kj_per_mol: f64) -> Option<f64> {
    mkt_of(
        series
            .points
            .iter()
            .zip(&series.covers)
            .map(|(p, c)| (c.num_milliseconds() as f64, p.temp_c)),
        delta_h_kj_per_mol,
    )
}

/// MKT of (weight, temperature) pairs; equally weighted when no weight is positive.
pub(crate) fn mkt_of(
    weighted: impl Iterator<Item = (f64, f64)>,
    delta_h_kj_per_mol: f64,
) -> Option<f64> {
    let ratio = delta_h_kj_per_mol / R_KJ;
    let weighted: Vec<(f64, f64)> = weighted.collect();
    let total: f64 = weighted.iter().map(|(w, _)| w).sum();
    let weight_of = |w: f64| if total > 0.0 { w } else { 1.0 };
    let weight: f64 = weighted.iter().map(|(w, _)| weight_of(*w)).sum();
    if weight == 0.0 {
        return None;
    }
    let sum: f64 = weighted
        .iter()
        .map(|(w, t)| weight_of(*w) * (-ratio / (t + KELVIN)).exp())
        .sum();
    Some(ratio / -(sum / weight).ln() - KELVIN)
}

/// When the mean kinetic temperature of the readings so far went over `limit` for good: the
/// reading after which the running MKT (each reading weighted by the time it stands for)
/// stayed above the limit to the last reading. `None` while the MKT of all readings is
/// within the limit.
pub fn mkt_exceeded_at(
    series: &Series,
    delta_h_kj_per_mol: f64,
    limit_c: f64,
) -> Option<DateTime<Utc>> {
    let ratio = delta_h_kj_per_mol / R_KJ;
    let (mut sum, mut weight) = (0.0_f64, 0.0_f64);
    let mut above_since = None;
    for (p, cover) in series.points.iter().zip(&series.covers) {
        let w = cover.num_milliseconds() as f64;
        if w == 0.0 {
            continue;
        }
        sum += w * (-ratio / (p.temp_c + KELVIN)).exp();
        weight += w;
        let mkt = ratio / -(sum / weight).ln() - KELVIN;
        match (mkt > limit_c, above_since) {
            (true, None) => above_since = Some(p.ts),
            (false, _) => above_since = None,
            _ => {}
        }
    }
    above_since
}

/// Where re-evaluation may restart after readings at or after `earliest_new` arrive: the
/// latest earlier reading at which the engine is certainly idle (in band on both sides, not
/// muted, outside every alert of `alerts` from its start to the reading that cleared it).
/// Alerts starting before it are final; everything from it on is recomputed. `None` means
/// from the beginning.
pub fn restart_point(
    series: &Series,
    rules: &Rules,
    alerts: &[TemperatureAlert],
    earliest_new: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    series
        .points
        .iter()
        .rev()
        .filter(|p| p.ts < earliest_new)
        .find(|p| {
            rules.in_band(p.temp_c)
                && !rules.is_muted(p.ts)
                && alerts
                    .iter()
                    .all(|a| p.ts < a.start || a.cleared_at.is_some_and(|c| p.ts > c))
        })
        .map(|p| p.ts)
}

/// The alerts after new readings: those of `previous` starting before the restart point,
/// then those the engine finds from it on.
pub fn reevaluate(
    series: &Series,
    rules: &Rules,
    previous: &[TemperatureAlert],
    earliest_new: DateTime<Utc>,
) -> Vec<TemperatureAlert> {
    let Some(restart) = restart_point(series, rules, previous, earliest_new) else {
        return temperature_alerts(series, rules);
    };
    let tail = Series {
        points: series
            .points
            .iter()
            .copied()
            .filter(|p| p.ts >= restart)
            .collect(),
        covers: series
            .points
            .iter()
            .zip(&series.covers)
            .filter(|(p, _)| p.ts >= restart)
            .map(|(_, c)| *c)
            .collect(),
        max_gap: series.max_gap,
    };
    let mut alerts: Vec<TemperatureAlert> = previous
        .iter()
        .filter(|a| a.start < restart)
        .cloned()
        .collect();
    alerts.extend(temperature_alerts(&tail, rules));
    alerts.sort_by(|a, b| a.start.cmp(&b.start).then(a.side.cmp(&b.side)));
    alerts
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap()
    }

    /// Band 0..4 °C, 15 minutes to alert, 0.5 °C / 10 minutes to clear, 10-minute gaps.
    pub(crate) fn rules() -> Rules {
        Rules {
            min_c: 0.0,
            max_c: 4.0,
            alert_delay: Duration::minutes(15),
            clear_margin_c: 0.5,
            clear_delay: Duration::minutes(10),
            max_gap: Duration::minutes(10),
            muted: Vec::new(),
        }
    }

    /// Readings every 5 minutes from t0 with these temperatures.
    fn every_5_min(temps: &[f64]) -> Series {
        Series::new(
            temps.iter().enumerate().map(|(i, t)| Point {
                ts: t0() + Duration::minutes(5 * i as i64),
                temp_c: *t,
            }),
            rules().max_gap,
        )
    }

    fn at(minute: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minute)
    }

    #[test]
    fn the_readme_worked_example() {
        let rules = Rules {
            min_c: -0.5,
            max_c: 2.0,
            alert_delay: Duration::minutes(15),
            clear_margin_c: 0.3,
            clear_delay: Duration::minutes(10),
            max_gap: Duration::minutes(10),
            muted: Vec::new(),
        };
        let temps = [1.2, 2.4, 3.1, 2.8, 1.9, 2.1, 1.6, 1.5, 1.6, 1.4, 1.5];
        let series = |temps: &[f64]| {
            Series::new(
                temps.iter().enumerate().map(|(i, t)| Point {
                    ts: at(5 * i as i64),
                    temp_c: *t,
                }),
                rules.max_gap,
            )
        };
        let alerts = temperature_alerts(&series(&temps), &rules);
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(
            (a.start, a.end, a.cleared_at),
            (at(5), Some(at(30)), Some(at(35)))
        );
        assert_eq!((a.peak_c, a.out_of_band), (3.1, Duration::minutes(20)));
        // Only up to 10:15 known: the excursion has not yet lasted 15 minutes.
        assert!(temperature_alerts(&series(&temps[..4]), &rules).is_empty());
        assert_eq!(temperature_alerts(&series(&temps[..5]), &rules).len(), 1);
        let mut shorter = temps;
        shorter[3] = 1.8;
        assert!(temperature_alerts(&series(&shorter), &rules).is_empty());
    }

    #[test]
    fn an_excursion_one_reading_shorter_than_the_delay_raises_nothing() {
        // Out at 10 and 15, back at 20: 10 minutes out.
        let series = every_5_min(&[2.0, 2.0, 5.0, 5.0, 2.0, 2.0, 2.0]);
        assert!(temperature_alerts(&series, &rules()).is_empty());
    }

    #[test]
    fn an_excursion_one_reading_longer_raises_one_alert_from_its_first_reading() {
        // Out at 10, 15 and 20, back at 25: 15 minutes out.
        let series = every_5_min(&[2.0, 2.0, 5.0, 6.5, 5.0, 2.0, 2.0, 2.0, 2.0]);
        let alerts = temperature_alerts(&series, &rules());
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!((a.side, a.start, a.opened_at), (Side::High, at(10), at(25)));
        assert_eq!(a.peak_c, 6.5);
        assert_eq!(a.out_of_band, Duration::minutes(15));
        assert!((a.area_c_min - (1.0 + 2.5 + 1.0) * 5.0).abs() < 1e-9);
        // Cleared by the stretch starting at 25, ten minutes later.
        assert_eq!((a.end, a.cleared_at), (Some(at(25)), Some(at(30))));
    }

    #[test]
    fn the_last_reading_of_a_running_excursion_stands_for_nothing_yet() {
        let series = every_5_min(&[2.0, 5.0, 5.0, 5.0]);
        assert!(temperature_alerts(&series, &rules()).is_empty());
        let series = every_5_min(&[2.0, 5.0, 5.0, 5.0, 5.0]);
        let alerts = temperature_alerts(&series, &rules());
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].end, None, "still open");
    }

    #[test]
    fn a_value_hovering_at_the_limit_does_not_flap() {
        // Out long enough, then between 3.5 and 4.0 (in band, not by the margin), out again.
        let mut temps = vec![5.0; 4];
        temps.extend([3.8, 4.1, 3.9, 3.7, 4.2, 3.6, 3.9]);
        temps.extend([2.0; 4]);
        let alerts = temperature_alerts(&every_5_min(&temps), &rules());
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].end, Some(at(5 * 11)));
        assert_eq!(alerts[0].peak_c, 5.0);
    }

    #[test]
    fn a_gap_longer_than_the_maximum_is_not_an_excursion() {
        // Two out-of-band readings 40 minutes apart: each stands for 10 minutes at most.
        let series = Series::new(
            [(0, 2.0), (5, 5.0), (45, 5.0), (50, 2.0)].map(|(m, t)| Point {
                ts: at(m),
                temp_c: t,
            }),
            rules().max_gap,
        );
        assert!(temperature_alerts(&series, &rules()).is_empty());
        let (used, exhausted) = excursion_budget(&series, &rules(), Duration::minutes(15));
        assert_eq!((used, exhausted), (Duration::minutes(15), None));
    }

    #[test]
    fn low_excursions_alert_on_their_own_side() {
        let series = every_5_min(&[2.0, -1.0, -2.0, -1.5, -0.5, 1.0, 1.0, 1.0]);
        let alerts = temperature_alerts(&series, &rules());
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].side, alerts[0].peak_c), (Side::Low, -2.0));
        assert_eq!(alerts[0].end, Some(at(25)));
    }

    #[test]
    fn muted_readings_neither_raise_nor_clear() {
        let mut rules = rules();
        rules.muted = vec![(at(10), at(30))];
        // A defrost spike entirely inside the muted window.
        let series = every_5_min(&[2.0, 2.0, 5.0, 6.0, 6.0, 5.0, 2.0, 2.0, 2.0]);
        assert!(temperature_alerts(&series, &rules).is_empty());
    }

    #[test]
    fn the_budget_runs_out_at_the_exact_moment() {
        let series = every_5_min(&[5.0, 5.0, 5.0, 2.0, -1.0, -1.0, 2.0]);
        // 15 minutes high and 10 low; a 20-minute budget runs out 5 minutes into the low.
        let (used, exhausted) = excursion_budget(&series, &rules(), Duration::minutes(20));
        assert_eq!(used, Duration::minutes(25));
        assert_eq!(exhausted, Some(at(25)));
    }

    #[test]
    fn mean_kinetic_temperature_matches_a_worked_example() {
        // Four equal hours at 20, 25, 30 and 35 °C (the fifth reading closes the last hour),
        // ΔH = 83.144 kJ/mol. By hand: ΔH/R = 9999.92 K; the mean of e^(-ΔH/RT) over
        // 293.15, 298.15, 303.15 and 308.15 K is e^-33.0900; 9999.92 / 33.0900 = 302.204 K,
        // so MKT = 29.05 °C, well above the arithmetic mean of 27.5 °C.
        let series = Series::new(
            [20.0, 25.0, 30.0, 35.0, 35.0]
                .iter()
                .enumerate()
                .map(|(i, t)| Point {
                    ts: at(60 * i as i64),
                    temp_c: *t,
                }),
            Duration::hours(2),
        );
        let mkt = mean_kinetic_temperature(&series, 83.144).unwrap();
        assert!((mkt - 29.054).abs() < 0.001, "{mkt}");
    }

    #[test]
    fn mkt_goes_over_its_limit_for_good_at_one_reading() {
        // Hours at 5 °C, then a warm spell that pushes the running MKT over 6 °C and keeps it.
        let temps = [5.0, 5.0, 5.0, 12.0, 12.0, 12.0, 12.0, 5.0];
        let series = Series::new(
            temps.iter().enumerate().map(|(i, t)| Point {
                ts: at(60 * i as i64),
                temp_c: *t,
            }),
            Duration::hours(2),
        );
        assert_eq!(mkt_exceeded_at(&series, 83.144, 6.0), Some(at(60 * 3)));
        assert_eq!(mkt_exceeded_at(&series, 83.144, 20.0), None);
    }

    fn arbitrary_points() -> impl Strategy<Value = Vec<Point>> {
        // Up to 120 readings on a 1-minute grid over 6 hours (so gaps happen), temperatures
        // mostly in band with excursions on both sides and values at the limits.
        prop::collection::vec(
            (
                0_i64..360,
                prop_oneof![
                    4 => 0.5_f64..3.5,
                    2 => 4.0_f64..8.0,
                    2 => -3.0_f64..0.0,
                    1 => Just(4.0),
                    1 => Just(3.5),
                    1 => Just(0.0),
                ],
            ),
            0..120,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(m, t)| Point {
                    ts: at(m),
                    temp_c: t,
                })
                .collect()
        })
    }

    /// The store's procedure: readings arrive in batches; each batch re-evaluates from the
    /// restart point with the alerts found so far.
    fn incremental(batches: &[Vec<Point>], rules: &Rules) -> Vec<TemperatureAlert> {
        let mut stored: Vec<Point> = Vec::new();
        let mut alerts = Vec::new();
        for batch in batches {
            let new: Vec<Point> = batch
                .iter()
                .filter(|p| !stored.iter().any(|s| s.ts == p.ts))
                .copied()
                .collect();
            let Some(earliest) = new.iter().map(|p| p.ts).min() else {
                continue;
            };
            // First writer wins, as ON CONFLICT DO NOTHING does.
            for p in new {
                if !stored.iter().any(|s| s.ts == p.ts) {
                    stored.push(p);
                }
            }
            let series = Series::new(stored.iter().copied(), rules.max_gap);
            alerts = reevaluate(&series, rules, &alerts, earliest);
        }
        alerts
    }

    /// One temperature per time, so that which copy is stored cannot matter.
    fn one_per_time(points: Vec<Point>) -> Vec<Point> {
        let mut seen = std::collections::BTreeMap::new();
        for p in points {
            seen.entry(p.ts).or_insert(p);
        }
        seen.into_values().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn any_order_duplication_and_batching_gives_the_same_alerts(
            points in arbitrary_points(),
            seed in any::<u64>(),
            batch_sizes in prop::collection::vec(1_usize..20, 1..30),
        ) {
            let points = one_per_time(points);
            let rules = rules();
            let expected = temperature_alerts(&Series::new(points.iter().copied(), rules.max_gap), &rules);

            // Shuffle deterministically from the seed, duplicate some, cut into batches.
            let mut shuffled = points.clone();
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let dupes: Vec<Point> = shuffled.iter().step_by(3).copied().collect();
            shuffled.extend(dupes);
            let mut batches = Vec::new();
            let mut rest = shuffled.as_slice();
            for size in batch_sizes.iter().cycle() {
                if rest.is_empty() { break; }
                let (head, tail) = rest.split_at((*size).min(rest.len()));
                batches.push(head.to_vec());
                rest = tail;
            }
            prop_assert_eq!(&temperature_alerts(&Series::new(shuffled.iter().copied(), rules.max_gap), &rules), &expected);
            prop_assert_eq!(incremental(&batches, &rules), expected);
        }

        #[test]
        fn in_order_readings_one_at_a_time_give_the_same_alerts(points in arbitrary_points()) {
            let mut points = one_per_time(points);
            points.sort_by_key(|p| p.ts);
            let rules = rules();
            let expected = temperature_alerts(&Series::new(points.iter().copied(), rules.max_gap), &rules);
            let batches: Vec<Vec<Point>> = points.iter().map(|p| vec![*p]).collect();
            prop_assert_eq!(incremental(&batches, &rules), expected);
        }
    }
}
