//! Alerts: what coldchain tells an operator went wrong with a shipment.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::shipment::UnknownCode;

/// The kinds of trouble coldchain raises an alert for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An excursion above the band lasted longer than the profile's alert delay.
    TemperatureHigh,
    TemperatureLow,
    /// The shipment's cumulative time out of band passed its budget.
    ExcursionBudgetExhausted,
    /// Mean kinetic temperature over the profile's limit.
    MktOverLimit,
    /// No reading from a device of an in-transit shipment for the profile's offline time.
    SensorOffline,
    DoorOpenTooLong,
    BatteryLow,
}

impl AlertKind {
    pub const ALL: [AlertKind; 7] = [
        AlertKind::TemperatureHigh,
        AlertKind::TemperatureLow,
        AlertKind::ExcursionBudgetExhausted,
        AlertKind::MktOverLimit,
        AlertKind::SensorOffline,
        AlertKind::DoorOpenTooLong,
        AlertKind::BatteryLow,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AlertKind::TemperatureHigh => "temperature_high",
            AlertKind::TemperatureLow => "temperature_low",
            AlertKind::ExcursionBudgetExhausted => "excursion_budget_exhausted",
            AlertKind::MktOverLimit => "mkt_over_limit",
            AlertKind::SensorOffline => "sensor_offline",
            AlertKind::DoorOpenTooLong => "door_open_too_long",
            AlertKind::BatteryLow => "battery_low",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for AlertKind {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| UnknownCode {
                kind: "alert kind",
                value: s.to_owned(),
                expected: Self::ALL.map(|k| k.code()).join(", "),
            })
    }
}

/// For reading the code back from storage.
impl TryFrom<String> for AlertKind {
    type Error = UnknownCode;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        code.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_text_and_serde() {
        for kind in AlertKind::ALL {
            assert_eq!(kind.code().parse::<AlertKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.code()));
        }
        assert!("too_warm".parse::<AlertKind>().is_err());
    }
}
