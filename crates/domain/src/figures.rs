//! The figures a seller, a buyer or an inspector reads about a shipment: minimum, maximum,
//! mean and mean kinetic temperature, time in band, above, below and unknown, the
//! excursions and how much of the excursion budget they used; for the whole shipment, per
//! logger, per leg of the journey and per custodian. One place computes them for the API,
//! the report and the alerts alike.
//!
//! Time follows the excursion engine's rules: a reading stands for the time until the next
//! one, at most `max_gap`; the rest of a longer silence is *unknown*. Above and below count
//! every out-of-band moment, as it happened; excursions and the budget count only what the
//! alert rules count (muted dock and defrost time excluded), so the budget here is the one
//! the alerts judge.
//!
//! Several loggers ride in one shipment. For the shipment (and each leg and custodian) the
//! goods count as above the band while any logger is above, below while any is below (and
//! none above), in band while every logger that reports is in band, unknown while none
//! reports: the conservative reading. The budget is judged per logger, so the shipment's
//! budget used is its worst logger's.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::excursion::{Rules, Series, mkt_of};
use crate::journey::Journey;

/// `[start, end)` of event time; an absent bound is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl Window {
    pub const ALL: Window = Window {
        start: None,
        end: None,
    };

    pub(crate) fn contains(&self, ts: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| ts >= s) && self.end.is_none_or(|e| ts < e)
    }

    /// The part of `[from, to)` inside the window.
    fn clip(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let from = self.start.map_or(from, |s| from.max(s));
        let to = self.end.map_or(to, |e| to.min(e));
        (to - from).max(Duration::zero())
    }
}

/// Disjoint windows taken together (a custodian who held the goods twice).
type Windows<'w> = &'w [Window];

fn contains(windows: Windows, ts: DateTime<Utc>) -> bool {
    windows.iter().any(|w| w.contains(ts))
}

fn clip(windows: Windows, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    windows
        .iter()
        .map(|w| w.clip(from, to))
        .fold(Duration::zero(), |a, b| a + b)
}

/// The figures of one stretch of time.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Default)]
pub struct Figures {
    /// Readings taken inside the stretch.
    pub readings: u64,
    pub min_c: Option<f64>,
    pub max_c: Option<f64>,
    /// Weighted by the time each reading stands for.
    pub mean_c: Option<f64>,
    /// Mean kinetic temperature (USP <1079.2>) with the profile's ΔH, weighted likewise.
    pub mkt_c: Option<f64>,
    pub in_band_s: i64,
    pub above_s: i64,
    pub below_s: i64,
    /// Silences longer than the maximum gap: neither in nor out of band.
    pub unknown_s: i64,
    /// Runs of out-of-band readings on one side without a gap, not muted.
    pub excursions: u32,
    pub excursion_s: i64,
    /// Out-of-band time the excursion budget counts (the worst logger's, for several).
    pub budget_used_s: i64,
}

/// What one logger's reading says about a span of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Below,
    In,
    Above,
}

/// A span a reading stands for, with what the rules make of it.
#[derive(Debug, Clone, Copy)]
struct Piece {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    temp_c: f64,
    state: State,
    muted: bool,
}

/// One logger's readings, as pieces of time and unknown stretches.
struct Logger {
    pieces: Vec<Piece>,
    unknown: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Logger {
    fn new(series: &Series, rules: &Rules) -> Self {
        let points = &series.points;
        let mut pieces = Vec::with_capacity(points.len());
        let mut unknown = Vec::new();
        for (i, (p, cover)) in points.iter().zip(&series.covers).enumerate() {
            let state = if p.temp_c > rules.max_c {
                State::Above
            } else if p.temp_c < rules.min_c {
                State::Below
            } else {
                State::In
            };
            pieces.push(Piece {
                from: p.ts,
                to: p.ts + *cover,
                temp_c: p.temp_c,
                state,
                muted: rules.is_muted(p.ts),
            });
            if let Some(next) = points.get(i + 1)
                && p.ts + *cover < next.ts
            {
                unknown.push((p.ts + *cover, next.ts));
            }
        }
        Self { pieces, unknown }
    }

    /// Everything but the time split, which the shipment level works out across loggers.
    fn figures(&self, windows: Windows, delta_h: f64) -> Figures {
        let mut f = Figures::default();
        let inside: Vec<&Piece> = self
            .pieces
            .iter()
            .filter(|p| contains(windows, p.from))
            .collect();
        f.readings = inside.len() as u64;
        f.min_c = inside.iter().map(|p| p.temp_c).reduce(f64::min);
        f.max_c = inside.iter().map(|p| p.temp_c).reduce(f64::max);
        let weighted: Vec<(f64, f64)> = self
            .pieces
            .iter()
            .map(|p| (clip(windows, p.from, p.to), p))
            .filter(|(d, _)| *d > Duration::zero())
            .map(|(d, p)| (d.num_milliseconds() as f64, p.temp_c))
            .collect();
        (f.mean_c, f.mkt_c) = mean_and_mkt(&weighted, &inside, delta_h);
        for p in &self.pieces {
            let d = clip(windows, p.from, p.to).num_seconds();
            match p.state {
                State::Above => f.above_s += d,
                State::Below => f.below_s += d,
                State::In => f.in_band_s += d,
            }
            if p.state != State::In && !p.muted {
                f.budget_used_s += d;
            }
        }
        f.unknown_s = self
            .unknown
            .iter()
            .map(|(a, b)| clip(windows, *a, *b).num_seconds())
            .sum();
        for w in windows {
            let (count, total) = self.excursions(*w);
            f.excursions += count;
            f.excursion_s += total;
        }
        f
    }

    /// Runs of out-of-band, unmuted pieces on one side, joined without a gap.
    fn excursions(&self, window: Window) -> (u32, i64) {
        let (mut count, mut total) = (0, 0);
        let mut run: Option<(State, DateTime<Utc>)> = None;
        for p in &self.pieces {
            let d = window.clip(p.from, p.to);
            let counts = p.state != State::In && !p.muted && d > Duration::zero();
            if !counts {
                run = None;
                continue;
            }
            match run {
                Some((state, end)) if state == p.state && end == p.from => {}
                _ => count += 1,
            }
            total += d.num_seconds();
            run = Some((p.state, p.to));
        }
        (count, total)
    }
}

/// Time-weighted mean and MKT; equally weighted over the readings inside when no time is
/// known yet (a single reading).
fn mean_and_mkt(
    weighted: &[(f64, f64)],
    inside: &[&Piece],
    delta_h: f64,
) -> (Option<f64>, Option<f64>) {
    let pairs: Vec<(f64, f64)> = if weighted.is_empty() {
        inside.iter().map(|p| (0.0, p.temp_c)).collect()
    } else {
        weighted.to_vec()
    };
    if pairs.is_empty() {
        return (None, None);
    }
    let total: f64 = pairs.iter().map(|(w, _)| w).sum();
    let mean = if total > 0.0 {
        pairs.iter().map(|(w, t)| w * t).sum::<f64>() / total
    } else {
        pairs.iter().map(|(_, t)| t).sum::<f64>() / pairs.len() as f64
    };
    (Some(mean), mkt_of(pairs.into_iter(), delta_h))
}

/// Figures of several loggers over one window, by the conservative rule in the module doc.
fn combined(loggers: &[Logger], windows: Windows, delta_h: f64) -> Figures {
    let each: Vec<Figures> = loggers
        .iter()
        .map(|l| l.figures(windows, delta_h))
        .collect();
    if each.len() == 1 {
        return each.into_iter().next().unwrap_or_default();
    }
    let mut f = Figures {
        readings: each.iter().map(|f| f.readings).sum(),
        min_c: each.iter().filter_map(|f| f.min_c).reduce(f64::min),
        max_c: each.iter().filter_map(|f| f.max_c).reduce(f64::max),
        budget_used_s: each.iter().map(|f| f.budget_used_s).max().unwrap_or(0),
        ..Figures::default()
    };
    let weighted: Vec<(f64, f64)> = loggers
        .iter()
        .flat_map(|l| l.pieces.iter())
        .map(|p| (clip(windows, p.from, p.to), p.temp_c))
        .filter(|(d, _)| *d > Duration::zero())
        .map(|(d, t)| (d.num_milliseconds() as f64, t))
        .collect();
    let inside: Vec<&Piece> = loggers
        .iter()
        .flat_map(|l| l.pieces.iter())
        .filter(|p| contains(windows, p.from))
        .collect();
    (f.mean_c, f.mkt_c) = mean_and_mkt(&weighted, &inside, delta_h);
    for w in windows {
        sweep(loggers, *w, &mut f);
    }
    f
}

/// Splits the window's time across loggers: every moment any logger's piece covers, judged
/// by the worst state among the loggers reporting then.
fn sweep(loggers: &[Logger], window: Window, f: &mut Figures) {
    let mut bounds: Vec<DateTime<Utc>> = Vec::new();
    // (from, to, state or unknown, muted)
    type Span = (DateTime<Utc>, DateTime<Utc>, Option<State>, bool);
    let mut spans: Vec<Span> = Vec::new();
    for l in loggers {
        for p in &l.pieces {
            if window.clip(p.from, p.to) > Duration::zero() {
                spans.push((p.from, p.to, Some(p.state), p.muted));
            }
        }
        for (a, b) in &l.unknown {
            if window.clip(*a, *b) > Duration::zero() {
                spans.push((*a, *b, None, false));
            }
        }
    }
    for (a, b, _, _) in &spans {
        bounds.push(window.start.map_or(*a, |s| (*a).max(s)));
        bounds.push(window.end.map_or(*b, |e| (*b).min(e)));
    }
    bounds.sort();
    bounds.dedup();
    spans.sort_by_key(|s| s.0);
    // Spans starting at or before the current moment that may still cover it.
    let mut active: Vec<usize> = Vec::new();
    let mut next = 0;
    let mut run: Option<(State, DateTime<Utc>)> = None;
    for pair in bounds.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        while next < spans.len() && spans[next].0 <= from {
            active.push(next);
            next += 1;
        }
        active.retain(|&i| spans[i].1 > from);
        let d = (to - from).num_seconds();
        let states = active
            .iter()
            .filter_map(|&i| spans[i].2.map(|s| (s, spans[i].3)));
        let (mut worst, mut counted) = (None::<State>, false);
        for (s, muted) in states {
            let rank = |s: State| match s {
                State::Above => 2,
                State::Below => 1,
                State::In => 0,
            };
            if worst.is_none_or(|w| rank(s) > rank(w)) {
                worst = Some(s);
            }
            counted |= s != State::In && !muted;
        }
        match worst {
            None if active.is_empty() => {}
            None => f.unknown_s += d,
            Some(State::Above) => f.above_s += d,
            Some(State::Below) => f.below_s += d,
            Some(State::In) => f.in_band_s += d,
        }
        match worst.filter(|w| *w != State::In && counted) {
            Some(state) => {
                if !matches!(run, Some((s, end)) if s == state && end == from) {
                    f.excursions += 1;
                }
                f.excursion_s += d;
                run = Some((state, to));
            }
            None => run = None,
        }
    }
}

/// Figures for a named stretch of the journey.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Attributed<K> {
    #[serde(flatten)]
    pub of: K,
    pub figures: Figures,
}

/// A custodian's share: every span they held the goods, taken together.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Custodian {
    pub custodian: String,
}

/// Everything the figures say about a shipment.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct ShipmentFigures {
    pub overall: Figures,
    pub devices: Vec<Attributed<DeviceKey>>,
    pub legs: Vec<Attributed<crate::journey::Leg>>,
    pub custodians: Vec<Attributed<Custodian>>,
}

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct DeviceKey {
    pub device_id: String,
}

/// One logger's readings and rules, as the figures take them.
pub struct LoggerInput<'a> {
    pub device_id: &'a str,
    pub series: &'a Series,
    pub rules: &'a Rules,
}

/// The shipment's figures: overall, per logger, per leg and per custodian.
/// The whole shipment's figures alone (what the verdict needs), without the breakdowns.
pub fn overall_figures(loggers: &[LoggerInput], delta_h: f64) -> Figures {
    let prepared: Vec<Logger> = loggers
        .iter()
        .map(|l| Logger::new(l.series, l.rules))
        .collect();
    combined(&prepared, &[Window::ALL], delta_h)
}

pub fn shipment_figures(
    loggers: &[LoggerInput],
    journey: &Journey,
    delta_h: f64,
) -> ShipmentFigures {
    let prepared: Vec<Logger> = loggers
        .iter()
        .map(|l| Logger::new(l.series, l.rules))
        .collect();
    let overall = combined(&prepared, &[Window::ALL], delta_h);
    let devices = loggers
        .iter()
        .zip(&prepared)
        .map(|(input, l)| Attributed {
            of: DeviceKey {
                device_id: input.device_id.to_owned(),
            },
            figures: combined(std::slice::from_ref(l), &[Window::ALL], delta_h),
        })
        .collect();
    let legs = journey
        .legs
        .iter()
        .map(|leg| Attributed {
            of: leg.clone(),
            figures: combined(
                &prepared,
                &[Window {
                    start: leg.start,
                    end: leg.end,
                }],
                delta_h,
            ),
        })
        .collect();
    let mut held: Vec<(String, Vec<Window>)> = Vec::new();
    for span in &journey.custody {
        let window = Window {
            start: span.start,
            end: span.end,
        };
        match held.iter_mut().find(|(who, _)| *who == span.custodian) {
            Some((_, windows)) => windows.push(window),
            None => held.push((span.custodian.clone(), vec![window])),
        }
    }
    let custodians = held
        .into_iter()
        .map(|(custodian, windows)| Attributed {
            figures: combined(&prepared, &windows, delta_h),
            of: Custodian { custodian },
        })
        .collect();
    ShipmentFigures {
        overall,
        devices,
        legs,
        custodians,
    }
}

/// Whether the goods stayed cold, in one word.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    WithinBand,
    /// Open alerts, or more than half the excursion budget used.
    AtRisk,
    /// The excursion budget is used up.
    Compromised,
}

/// The verdict with what led to it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    pub budget_s: i64,
    pub budget_used_s: i64,
    pub open_alerts: usize,
    /// Plain-language reasons, empty when within band.
    pub reasons: Vec<String>,
}

/// Judges a shipment from its figures, its profile's budget and its open alerts.
pub fn assess(figures: &Figures, budget: Duration, open_alerts: usize) -> Assessment {
    let (used, budget_s) = (figures.budget_used_s, budget.num_seconds());
    let mut reasons = Vec::new();
    let verdict = if used > budget_s {
        reasons.push(format!(
            "excursion budget used up: {} of {} min out of band",
            used / 60,
            budget_s / 60
        ));
        Verdict::Compromised
    } else {
        if open_alerts > 0 {
            reasons.push(format!("{open_alerts} open alert(s)"));
        }
        if used * 2 > budget_s {
            reasons.push(format!(
                "more than half the excursion budget used: {} of {} min",
                used / 60,
                budget_s / 60
            ));
        }
        if reasons.is_empty() {
            Verdict::WithinBand
        } else {
            Verdict::AtRisk
        }
    };
    Assessment {
        verdict,
        budget_s,
        budget_used_s: used,
        open_alerts,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::excursion::Point;
    use crate::excursion::tests::rules;
    use crate::journey::{JourneyEvent, JourneyEventKind, LegKind};
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap() + Duration::minutes(minute)
    }

    /// One logger's figures over `journey`, with the default ΔH.
    fn one_logger(series: &Series, rules: &Rules, journey: &Journey) -> ShipmentFigures {
        let input = LoggerInput {
            device_id: "a",
            series,
            rules,
        };
        shipment_figures(&[input], journey, 83.144)
    }

    fn series(readings: &[(i64, f64)]) -> Series {
        Series::new(
            readings.iter().map(|(m, t)| Point {
                ts: at(*m),
                temp_c: *t,
            }),
            Duration::minutes(10),
        )
    }

    fn event(minute: i64, kind: JourneyEventKind) -> JourneyEvent {
        JourneyEvent {
            ts: at(minute),
            kind,
            location: String::new(),
            from_custodian: None,
            to_custodian: None,
            temp_c: None,
            dock_minutes: Some(0),
        }
    }

    fn handover(minute: i64, from: &str, to: &str) -> JourneyEvent {
        JourneyEvent {
            from_custodian: Some(from.into()),
            to_custodian: Some(to.into()),
            ..event(minute, JourneyEventKind::Handover)
        }
    }

    /// In band, 15 minutes above, a silence of 30 minutes (10 known, 20 unknown), 5 below.
    const ONE_LOGGER: [(i64, f64); 9] = [
        (0, 2.0),
        (5, 2.0),
        (10, 5.0),
        (15, 6.0),
        (20, 5.0),
        (25, 2.0),
        (30, 2.0),
        (60, -1.0),
        (65, 2.0),
    ];

    #[test]
    fn one_logger_figures_match_a_hand_count() {
        let s = series(&ONE_LOGGER);
        let r = rules();
        let f = one_logger(&s, &r, &Journey::default());
        let o = &f.overall;
        assert_eq!(o.readings, 9);
        assert_eq!((o.min_c, o.max_c), (Some(-1.0), Some(6.0)));
        assert_eq!(
            (o.in_band_s, o.above_s, o.below_s, o.unknown_s),
            (1500, 900, 300, 1200)
        );
        assert_eq!(
            (o.excursions, o.excursion_s, o.budget_used_s),
            (2, 1200, 1200)
        );
        // (5*2 + 5*2 + 5*5 + 5*6 + 5*5 + 5*2 + 10*2 + 5*-1) / 45 minutes
        assert!((o.mean_c.unwrap() - 125.0 / 45.0).abs() < 1e-9);
        assert!(o.mkt_c.unwrap() > o.mean_c.unwrap());
        assert_eq!(f.devices[0].figures, *o);
    }

    #[test]
    fn time_is_attributed_to_the_leg_and_the_custodian_holding_the_goods() {
        let s = series(&ONE_LOGGER);
        let r = rules();
        let journey = Journey::replay(&[
            event(12, JourneyEventKind::Departed),
            handover(20, "Packer", "Carrier"),
            handover(62, "Carrier", "Packer"),
        ])
        .unwrap();
        let f = one_logger(&s, &r, &journey);
        let legs: Vec<_> = f
            .legs
            .iter()
            .map(|l| {
                let g = &l.figures;
                (
                    l.of.kind,
                    g.readings,
                    g.in_band_s,
                    g.above_s,
                    g.below_s,
                    g.unknown_s,
                )
            })
            .collect();
        assert_eq!(
            legs,
            vec![
                (LegKind::Origin, 3, 600, 120, 0, 0),
                (LegKind::Transit, 6, 900, 780, 300, 1200),
            ]
        );
        // The excursion from 10 to 25 is split at the departure: counted in both legs.
        assert_eq!(f.legs[0].figures.excursions, 1);
        assert_eq!(f.legs[1].figures.excursion_s, 780 + 300);

        let held: Vec<_> = f
            .custodians
            .iter()
            .map(|c| {
                let g = &c.figures;
                let who = c.of.custodian.as_str();
                (
                    who,
                    g.readings,
                    g.in_band_s,
                    g.above_s,
                    g.below_s,
                    g.unknown_s,
                )
            })
            .collect();
        assert_eq!(
            held,
            vec![
                // Before 20 and again from 62.
                ("Packer", 5, 600, 600, 180, 0),
                ("Carrier", 4, 900, 300, 120, 1200),
            ]
        );
        let total: i64 = f.custodians.iter().map(|c| c.figures.budget_used_s).sum();
        assert_eq!(total, f.overall.budget_used_s);
    }

    #[test]
    fn several_loggers_count_the_worst_and_budget_per_logger() {
        let (a, b) = (
            series(&[(0, 2.0), (5, 5.0), (10, 5.0), (15, 2.0)]),
            series(&[(0, 2.0), (5, 2.0), (10, -1.0), (15, 2.0)]),
        );
        let r = rules();
        let f = shipment_figures(
            &[
                LoggerInput {
                    device_id: "a",
                    series: &a,
                    rules: &r,
                },
                LoggerInput {
                    device_id: "b",
                    series: &b,
                    rules: &r,
                },
            ],
            &Journey::default(),
            83.144,
        );
        let o = &f.overall;
        assert_eq!(o.readings, 8);
        assert_eq!((o.in_band_s, o.above_s, o.below_s), (300, 600, 0));
        assert_eq!((o.excursions, o.excursion_s), (1, 600));
        assert_eq!(o.budget_used_s, 600);
        assert_eq!(f.devices[1].figures.below_s, 300);
        // Pooled mean over both loggers' 30 logger-minutes.
        let mean = (5.0 * 2.0 + 10.0 * 5.0 + 10.0 * 2.0 - 5.0) / 30.0;
        assert!((o.mean_c.unwrap() - mean).abs() < 1e-9);
    }

    #[test]
    fn muted_time_is_out_of_band_but_not_an_excursion_nor_budget() {
        let s = series(&ONE_LOGGER);
        let mut r = rules();
        r.muted = vec![(at(10), at(20))];
        let f = one_logger(&s, &r, &Journey::default());
        assert_eq!(f.overall.above_s, 900);
        assert_eq!(f.overall.budget_used_s, 1200 - 600);
        assert_eq!((f.overall.excursions, f.overall.excursion_s), (2, 600));
    }

    #[test]
    fn a_steady_temperature_is_its_own_mean_and_mkt() {
        let s = series(&[(0, 3.0), (5, 3.0), (10, 3.0)]);
        let r = rules();
        let f = one_logger(&s, &r, &Journey::default());
        assert!((f.overall.mkt_c.unwrap() - 3.0).abs() < 1e-9);
        assert!((f.overall.mean_c.unwrap() - 3.0).abs() < 1e-9);
        let empty = shipment_figures(&[], &Journey::default(), 83.144);
        assert_eq!(empty.overall, Figures::default());
    }

    #[test]
    fn the_verdict_follows_the_budget_and_the_open_alerts() {
        let used = |s| Figures {
            budget_used_s: s,
            ..Figures::default()
        };
        let budget = Duration::minutes(60);
        assert_eq!(assess(&used(1800), budget, 0).verdict, Verdict::WithinBand);
        assert_eq!(assess(&used(1801), budget, 0).verdict, Verdict::AtRisk);
        assert_eq!(assess(&used(0), budget, 1).verdict, Verdict::AtRisk);
        assert_eq!(assess(&used(3600), budget, 0).verdict, Verdict::AtRisk);
        let spent = assess(&used(3601), budget, 2);
        assert_eq!(spent.verdict, Verdict::Compromised);
        assert!(
            spent.reasons[0].contains("60 of 60 min"),
            "{:?}",
            spent.reasons
        );
    }
}
