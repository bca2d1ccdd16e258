//! A shipment's timeline as a screen shows it: the temperature series cut into at most
//! `points` buckets per logger (count, min, max and mean per bucket, so an excursion's peak
//! survives any zoom level), and the gaps in the data those buckets reveal.
//!
//! Buckets start at an origin and have one width. Wide buckets (15 minutes or more) are
//! whole multiples of the storage's 15-minute rollups and aligned to them, so the store can
//! answer from rollups; narrower ones are cut from the readings themselves.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// The width of the stored rollups; buckets this wide or wider are built from them.
pub const ROLLUP_SECONDS: i64 = 900;

/// How a window is cut into buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub origin: DateTime<Utc>,
    pub width: Duration,
    /// How many buckets cover the window; never more than the points asked for.
    pub buckets: i64,
    /// Whether the buckets are whole, aligned multiples of the rollups.
    pub rollups: bool,
}

impl Plan {
    /// The plan for `[from, to)` in at most `points` buckets (`from < to`, `points > 0`).
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, points: u32) -> Self {
        let points = i64::from(points.max(1));
        let span = (to - from).num_seconds().max(1);
        let raw = ceil_div(span, points).max(1);
        if raw >= ROLLUP_SECONDS {
            let origin_s = from.timestamp().div_euclid(ROLLUP_SECONDS) * ROLLUP_SECONDS;
            let origin = DateTime::from_timestamp(origin_s, 0).unwrap_or(from);
            let covered = (to - origin).num_seconds() + i64::from(to.timestamp_subsec_micros() > 0);
            let width = ceil_div(ceil_div(covered, points), ROLLUP_SECONDS) * ROLLUP_SECONDS;
            Self {
                origin,
                width: Duration::seconds(width),
                buckets: ceil_div(covered, width),
                rollups: true,
            }
        } else {
            // Whole seconds from `from`; the last bucket may end a little after `to`.
            let covered = span + i64::from((to - from).subsec_nanos() > 0);
            Self {
                origin: from,
                width: Duration::seconds(raw),
                buckets: ceil_div(covered, raw),
                rollups: false,
            }
        }
    }

    /// The start of bucket `index`.
    pub fn start(&self, index: i64) -> DateTime<Utc> {
        self.origin + Duration::seconds(self.width.num_seconds() * index)
    }
}

/// `a / b` rounded up, for positive `a` and `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// One bucket of one logger's series.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// The bucket's bounds, `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The first and last readings inside it.
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub n: i64,
    pub min_c: f64,
    pub max_c: f64,
    pub mean_c: f64,
}

/// Silences longer than `max_gap` between consecutive non-empty buckets: exact (from the
/// last reading before to the first after) wherever at least one empty bucket lies between;
/// silences inside one bucket's span are below the timeline's resolution.
pub fn gaps(series: &[Bucket], max_gap: Duration) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    series
        .windows(2)
        .map(|w| (w[0].last, w[1].first))
        .filter(|(a, b)| *b - *a > max_gap)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(s)
    }

    #[test]
    fn three_weeks_in_500_points_uses_aligned_rollups() {
        let from = at(7 * 60 + 13);
        let to = from + Duration::days(21);
        let plan = Plan::new(from, to, 500);
        assert!(plan.rollups);
        assert_eq!(plan.origin, at(0));
        assert_eq!(plan.width.num_seconds() % ROLLUP_SECONDS, 0);
        assert!(plan.buckets <= 500, "{plan:?}");
        assert!(plan.start(plan.buckets) >= to);
    }

    #[test]
    fn a_short_window_cuts_readings_directly() {
        let plan = Plan::new(at(0), at(3600), 120);
        assert!(!plan.rollups);
        assert_eq!((plan.width, plan.buckets), (Duration::seconds(30), 120));
    }

    proptest! {
        #[test]
        fn never_more_buckets_than_points_and_the_window_is_covered(
            start in 0i64..10_000_000, span in 1i64..40_000_000, micros in 0i64..1_000_000,
            points in 1u32..5000,
        ) {
            let from = at(start);
            let to = from + Duration::seconds(span) + Duration::microseconds(micros);
            let plan = Plan::new(from, to, points);
            prop_assert!(plan.buckets >= 1 && plan.buckets <= i64::from(points), "{plan:?}");
            prop_assert!(plan.origin <= from);
            prop_assert!(plan.start(plan.buckets) >= to, "{plan:?}");
        }
    }

    #[test]
    fn gaps_are_silences_longer_than_the_maximum_between_buckets() {
        let bucket = |first: i64, last: i64| Bucket {
            from: at(first),
            to: at(last),
            first: at(first),
            last: at(last),
            n: 2,
            min_c: 1.0,
            max_c: 2.0,
            mean_c: 1.5,
        };
        let series = [bucket(0, 540), bucket(600, 1140), bucket(4000, 4500)];
        assert_eq!(
            gaps(&series, Duration::seconds(120)),
            vec![(at(1140), at(4000))]
        );
    }
}
