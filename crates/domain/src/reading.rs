//! A reading is one measurement by one logger at one event time, and the rules that decide
//! whether it is believable enough to store. A reading that fails them is not dropped: the
//! caller keeps it with its [`Rejection`] so an operator can see what a gateway sent.

use std::fmt;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// One measurement from one logger. `ts` is the event time (when the logger measured), which
/// is what every rule decides on; arrival time is kept separately by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Event time: when the logger took the measurement.
    pub ts: DateTime<Utc>,
    /// The logger's own counter, when it has one; lets an operator spot gaps and resets.
    pub seq: Option<i64>,
    /// Air temperature in degrees Celsius.
    pub temp_c: f64,
    pub humidity_pct: Option<f64>,
    pub door_open: Option<bool>,
    pub battery_pct: Option<f64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// Why a payload or a reading was not stored. The `code` is stable: it is what the
/// rejected-payloads table and the `reason` label of the metrics carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not valid JSON, or not the shape of the contract.
    Malformed,
    /// Larger than the configured payload limit.
    Oversize,
    /// The topic does not follow `coldchain/v1/{tenant}/{device_id}/telemetry`.
    BadTopic,
    /// A number that is NaN or infinite.
    NonFinite,
    /// A value outside what the physical sensor can measure.
    OutOfRange,
    /// An event time further in the future than the allowed clock skew.
    FutureTimestamp,
    /// An event time before any plausible deployment (an unset logger clock reads 1970).
    ImplausibleTimestamp,
    /// The `device_id` in the payload disagrees with the topic.
    DeviceMismatch,
    /// The device is not registered to the topic's tenant; the payload is quarantined.
    UnknownDevice,
}

impl RejectReason {
    pub const ALL: [RejectReason; 9] = [
        RejectReason::Malformed,
        RejectReason::Oversize,
        RejectReason::BadTopic,
        RejectReason::NonFinite,
        RejectReason::OutOfRange,
        RejectReason::FutureTimestamp,
        RejectReason::ImplausibleTimestamp,
        RejectReason::DeviceMismatch,
        RejectReason::UnknownDevice,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::Oversize => "oversize",
            RejectReason::BadTopic => "bad_topic",
            RejectReason::NonFinite => "non_finite",
            RejectReason::OutOfRange => "out_of_range",
            RejectReason::FutureTimestamp => "future_timestamp",
            RejectReason::ImplausibleTimestamp => "implausible_timestamp",
            RejectReason::DeviceMismatch => "device_mismatch",
            RejectReason::UnknownDevice => "unknown_device",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A reason plus the human detail ("temp_c 180 is outside -100..100").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    pub reason: RejectReason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// The physical limits a reading must respect. The defaults are those of the telemetry
/// contract in the README; they are a value so a deployment or a test can tighten them.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingLimits {
    pub temp_c: (f64, f64),
    pub humidity_pct: (f64, f64),
    pub battery_pct: (f64, f64),
    /// How far ahead of the receiver's clock an event time may be (logger clock skew).
    pub max_future: Duration,
    /// Event times before this are an unset logger clock, not history.
    pub earliest: DateTime<Utc>,
}

impl Default for ReadingLimits {
    fn default() -> Self {
        Self {
            temp_c: (-100.0, 100.0),
            humidity_pct: (0.0, 100.0),
            battery_pct: (0.0, 100.0),
            max_future: Duration::minutes(5),
            // Invariant: a fixed, valid calendar date.
            earliest: Utc
                .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }
}

impl ReadingLimits {
    /// Checks a reading against the limits, `now` being the receiver's clock.
    pub fn check(&self, reading: &Reading, now: DateTime<Utc>) -> Result<(), Rejection> {
        check_value("temp_c", Some(reading.temp_c), self.temp_c)?;
        check_value("humidity_pct", reading.humidity_pct, self.humidity_pct)?;
        check_value("battery_pct", reading.battery_pct, self.battery_pct)?;
        check_value("lat", reading.lat, (-90.0, 90.0))?;
        check_value("lon", reading.lon, (-180.0, 180.0))?;
        if reading.lat.is_some() != reading.lon.is_some() {
            return Err(Rejection::new(
                RejectReason::Malformed,
                "lat and lon must be given together",
            ));
        }
        self.check_time(reading.ts, now)
    }

    /// Checks an event time (of a reading or a device event) against the receiver's clock.
    pub fn check_time(&self, ts: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Rejection> {
        if ts > now + self.max_future {
            return Err(Rejection::new(
                RejectReason::FutureTimestamp,
                format!(
                    "ts {} is more than {} s ahead of the receiver clock {}",
                    ts.to_rfc3339(),
                    self.max_future.num_seconds(),
                    now.to_rfc3339()
                ),
            ));
        }
        if ts < self.earliest {
            return Err(Rejection::new(
                RejectReason::ImplausibleTimestamp,
                format!(
                    "ts {} is before {}; is the logger clock set?",
                    ts.to_rfc3339(),
                    self.earliest.to_rfc3339()
                ),
            ));
        }
        Ok(())
    }
}

fn check_value(field: &str, value: Option<f64>, (min, max): (f64, f64)) -> Result<(), Rejection> {
    let Some(v) = value else { return Ok(()) };
    if !v.is_finite() {
        return Err(Rejection::new(
            RejectReason::NonFinite,
            format!("{field} is {v}, not a finite number"),
        ));
    }
    if v < min || v > max {
        return Err(Rejection::new(
            RejectReason::OutOfRange,
            format!("{field} {v} is outside {min}..{max}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn reading(temp_c: f64) -> Reading {
        Reading {
            ts: now() - Duration::minutes(1),
            seq: Some(1),
            temp_c,
            humidity_pct: Some(80.0),
            door_open: Some(false),
            battery_pct: Some(95.0),
            lat: Some(-37.8),
            lon: Some(144.9),
        }
    }

    fn reason(r: &Reading) -> Option<RejectReason> {
        ReadingLimits::default()
            .check(r, now())
            .err()
            .map(|e| e.reason)
    }

    #[test]
    fn a_plausible_reading_passes() {
        assert_eq!(reason(&reading(2.5)), None);
        assert_eq!(reason(&reading(-100.0)), None);
        assert_eq!(reason(&reading(100.0)), None);
    }

    #[test]
    fn temperatures_past_the_sensor_range_are_out_of_range() {
        assert_eq!(reason(&reading(100.1)), Some(RejectReason::OutOfRange));
        assert_eq!(reason(&reading(-273.0)), Some(RejectReason::OutOfRange));
    }

    #[test]
    fn non_finite_values_are_refused() {
        assert_eq!(reason(&reading(f64::NAN)), Some(RejectReason::NonFinite));
        let mut r = reading(1.0);
        r.humidity_pct = Some(f64::INFINITY);
        assert_eq!(reason(&r), Some(RejectReason::NonFinite));
    }

    #[test]
    fn humidity_battery_and_position_are_range_checked() {
        let mut r = reading(1.0);
        r.humidity_pct = Some(101.0);
        assert_eq!(reason(&r), Some(RejectReason::OutOfRange));
        let mut r = reading(1.0);
        r.battery_pct = Some(-1.0);
        assert_eq!(reason(&r), Some(RejectReason::OutOfRange));
        let mut r = reading(1.0);
        r.lat = Some(91.0);
        assert_eq!(reason(&r), Some(RejectReason::OutOfRange));
        let mut r = reading(1.0);
        r.lon = None;
        assert_eq!(reason(&r), Some(RejectReason::Malformed));
    }

    #[test]
    fn event_time_may_lead_the_clock_by_five_minutes_only() {
        let mut r = reading(1.0);
        r.ts = now() + Duration::minutes(5);
        assert_eq!(reason(&r), None);
        r.ts = now() + Duration::minutes(5) + Duration::seconds(1);
        assert_eq!(reason(&r), Some(RejectReason::FutureTimestamp));
    }

    #[test]
    fn an_unset_logger_clock_is_refused() {
        let mut r = reading(1.0);
        r.ts = DateTime::UNIX_EPOCH;
        assert_eq!(reason(&r), Some(RejectReason::ImplausibleTimestamp));
    }

    #[test]
    fn reason_codes_round_trip() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::from_code(r.code()), Some(r));
        }
    }
}
