//! The report's temperature chart as SVG: the band shaded, each logger's readings drawn as
//! the envelope of their minimum and maximum per pixel column (so no peak is lost, however
//! many readings), silences longer than the maximum gap left blank, and every temperature
//! alert marked over the time it lasted with its peak.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};
use coldchain_domain::excursion::Point;

use crate::words::Lang;
use coldchain_store::alerts::Alert;
use coldchain_store::record::ShipmentRecord;

use crate::FONT_FAMILY;

pub const WIDTH: f64 = 760.0;
pub const HEIGHT: f64 = 300.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;
const COLOURS: [&str; 6] = [
    "#1f5fa8", "#7a3fb0", "#0f8a8a", "#b86e00", "#55606e", "#a8326e",
];

/// One logger's readings cut where they fall silent for longer than `max_gap`.
struct Trace<'a> {
    device_id: &'a str,
    points: &'a [Point],
    max_gap: Duration,
}

pub(crate) fn svg(record: &ShipmentRecord, alerts: &[Alert], lang: Lang) -> String {
    let w = lang.words();
    let rules = record.rules();
    let traces: Vec<Trace> = record
        .loggers
        .iter()
        .enumerate()
        .map(|(i, l)| Trace {
            device_id: &l.device_id,
            points: &l.points,
            max_gap: rules
                .as_ref()
                .map_or(l.reading_interval * 2, |r| r[i].max_gap),
        })
        .collect();
    let band = record.profile.as_ref().map(|p| (p.min_c, p.max_c));
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT_FAMILY}" font-size="10">"##
    );
    out.push_str(r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let times = traces
        .iter()
        .flat_map(|t| t.points.first().zip(t.points.last()))
        .fold(
            None,
            |acc: Option<(DateTime<Utc>, DateTime<Utc>)>, (a, b)| {
                Some(acc.map_or((a.ts, b.ts), |(lo, hi)| (lo.min(a.ts), hi.max(b.ts))))
            },
        );
    let Some((t0, t1)) = times else {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#55606e">{}</text></svg>"##,
            WIDTH / 2.0,
            HEIGHT / 2.0,
            w.no_readings
        );
        return out;
    };
    let t1 = if t1 > t0 { t1 } else { t0 + Duration::hours(1) };
    let (mut lo, mut hi) = traces
        .iter()
        .flat_map(|t| t.points.iter())
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.temp_c), hi.max(p.temp_c))
        });
    if let Some((min_c, max_c)) = band {
        lo = lo.min(min_c);
        hi = hi.max(max_c);
    }
    let step = tick_step(hi - lo);
    let (lo, hi) = (
        (lo / step).floor() * step - step,
        (hi / step).ceil() * step + step,
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let span = (t1 - t0).num_milliseconds() as f64;
    let x = |t: DateTime<Utc>| LEFT + (t - t0).num_milliseconds() as f64 / span * plot_w;
    let y = |c: f64| TOP + (hi - c) / (hi - lo) * plot_h;

    // The band, then the grid and its labels.
    if let Some((min_c, max_c)) = band {
        let _ = write!(
            out,
            r##"<rect x="{LEFT}" y="{:.1}" width="{plot_w}" height="{:.1}" fill="#2e9d4a" fill-opacity="0.13"/>"##,
            y(max_c),
            y(min_c) - y(max_c)
        );
        for limit in [min_c, max_c] {
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#2e9d4a" stroke-dasharray="4 3"/>"##,
                LEFT + plot_w,
                y = y(limit)
            );
        }
    }
    let mut c = lo;
    while c <= hi + 1e-9 {
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e6ea"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#55606e">{}</text>"##,
            LEFT + plot_w,
            LEFT - 4.0,
            y(c) + 3.5,
            trim(c),
            y = y(c)
        );
        c += step;
    }
    let hours = time_step_hours((t1 - t0).num_hours());
    let mut tick =
        DateTime::from_timestamp((t0.timestamp() / (hours * 3600) + 1) * hours * 3600, 0)
            .unwrap_or(t0);
    while tick <= t1 {
        let format = if hours >= 24 { "%m-%d" } else { "%m-%d %H:%M" };
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#e3e6ea"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#55606e">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 14.0,
            tick.format(format),
            x = x(tick)
        );
        tick += Duration::hours(hours);
    }
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#55606e">UTC</text><text x="{LEFT}" y="16" fill="#55606e">°C</text>"##,
        LEFT + plot_w,
        TOP + plot_h + 28.0
    );

    // Temperature alerts over the time they lasted; labels that would overlap step down.
    let mut labels: Vec<(f64, f64)> = Vec::new();
    for alert in alerts.iter().filter(|a| {
        !a.retracted && matches!(a.kind.as_str(), "temperature_high" | "temperature_low")
    }) {
        let (a, b) = (
            x(alert.started_at.max(t0)),
            x(alert.ended_at.unwrap_or(t1).min(t1)),
        );
        let _ = write!(
            out,
            r##"<rect x="{a:.1}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="#d62728" fill-opacity="0.16"/>"##,
            (b - a).max(1.5)
        );
        if let Some(peak) = alert.peak_c {
            let mut ly = TOP + 11.0;
            while labels
                .iter()
                .any(|(lx, y)| (lx - a).abs() < 90.0 && (y - ly).abs() < 1.0)
            {
                ly += 12.0;
            }
            labels.push((a, ly));
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{ly:.1}" fill="#b01f1f">▲ {} {} °C</text>"##,
                (a + 3.0).min(WIDTH - RIGHT - 80.0),
                w.peak,
                trim(peak)
            );
        }
    }

    // Each logger: the envelope of its readings per pixel column, segment by segment.
    for (i, trace) in traces.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        for segment in segments(trace.points, trace.max_gap) {
            let columns = columns(segment, x);
            let mut d = String::new();
            for (j, (cx, _, max)) in columns.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{cx:.1},{:.1}",
                    if j == 0 { "M" } else { " L" },
                    y(*max)
                );
            }
            for (cx, min, _) in columns.iter().rev() {
                let _ = write!(d, " L{cx:.1},{:.1}", y(*min));
            }
            let _ = write!(
                out,
                r##"<path d="{d} Z" fill="{colour}" fill-opacity="0.35" stroke="{colour}" stroke-width="1" stroke-linejoin="round"/>"##
            );
        }
    }

    // Legend.
    let mut lx = LEFT + 20.0;
    for (i, trace) in traces.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let _ = write!(
            out,
            r##"<rect x="{lx:.1}" y="8" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="17">{}</text>"##,
            lx + 14.0,
            escape(trace.device_id)
        );
        lx += 24.0 + 6.5 * trace.device_id.chars().count() as f64;
    }
    if let Some((min_c, max_c)) = band {
        let _ = write!(
            out,
            r##"<rect x="{lx:.1}" y="8" width="10" height="10" fill="#2e9d4a" fill-opacity="0.3"/><text x="{:.1}" y="17">{} {}..{} °C</text>"##,
            lx + 14.0,
            w.band,
            trim(min_c),
            trim(max_c)
        );
        lx += 130.0;
    }
    let _ = write!(
        out,
        r##"<rect x="{lx:.1}" y="8" width="10" height="10" fill="#d62728" fill-opacity="0.3"/><text x="{:.1}" y="17">{}</text></svg>"##,
        lx + 14.0,
        w.excursion_alert
    );
    out
}

/// Runs of readings with no silence longer than `max_gap` inside.
fn segments(points: &[Point], max_gap: Duration) -> Vec<&[Point]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        if i == points.len() || points[i].ts - points[i - 1].ts > max_gap {
            if i > start {
                out.push(&points[start..i]);
            }
            start = i;
        }
    }
    out
}

/// `(x, min, max)` per whole pixel column, in time order.
fn columns(points: &[Point], x: impl Fn(DateTime<Utc>) -> f64) -> Vec<(f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    for p in points {
        let cx = x(p.ts).round();
        match out.last_mut() {
            Some((last, min, max)) if *last == cx => {
                *min = min.min(p.temp_c);
                *max = max.max(p.temp_c);
            }
            _ => out.push((cx, p.temp_c, p.temp_c)),
        }
    }
    out
}

/// A round step giving at most about eight ticks over `range` degrees.
fn tick_step(range: f64) -> f64 {
    [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        .into_iter()
        .find(|s| range / s <= 8.0)
        .unwrap_or(100.0)
}

/// A round step giving at most about eight ticks over `hours`.
fn time_step_hours(hours: i64) -> i64 {
    [1, 2, 3, 6, 12, 24, 48, 72, 168, 336]
        .into_iter()
        .find(|s| hours / s <= 8)
        .unwrap_or(720)
}

/// `2`, `-0.5`, `7.25`: no trailing zeros.
pub(crate) fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + m * 60, 0).unwrap()
    }

    #[test]
    fn a_silence_longer_than_the_gap_splits_the_trace() {
        let points: Vec<Point> = [0, 5, 10, 40, 45]
            .into_iter()
            .map(|m| Point {
                ts: at(m),
                temp_c: 1.0,
            })
            .collect();
        let parts = segments(&points, Duration::minutes(10));
        assert_eq!(parts.iter().map(|s| s.len()).collect::<Vec<_>>(), [3, 2]);
    }

    #[test]
    fn a_column_keeps_its_peak() {
        let points: Vec<Point> = [1.0, 9.5, 1.2, 1.1]
            .into_iter()
            .enumerate()
            .map(|(i, t)| Point {
                ts: at(i as i64),
                temp_c: t,
            })
            .collect();
        // Four readings in one pixel column.
        let cols = columns(&points, |_| 100.2);
        assert_eq!(cols, vec![(100.0, 1.0, 9.5)]);
        assert_eq!(trim(-0.5), "-0.5");
        assert_eq!(trim(2.0), "2");
        assert_eq!(tick_step(12.0), 2.0);
    }
}
