//! Shipments: the goods travelling from a packer to a buyer, and the states they pass through.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a shipment is in its life. Stored as its `code()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Planned,
    InTransit,
    AtHub,
    Delivered,
    Cancelled,
}

impl ShipmentStatus {
    pub const ALL: [ShipmentStatus; 5] = [
        ShipmentStatus::Planned,
        ShipmentStatus::InTransit,
        ShipmentStatus::AtHub,
        ShipmentStatus::Delivered,
        ShipmentStatus::Cancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ShipmentStatus::Planned => "planned",
            ShipmentStatus::InTransit => "in_transit",
            ShipmentStatus::AtHub => "at_hub",
            ShipmentStatus::Delivered => "delivered",
            ShipmentStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An unknown status or mode code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of {expected}")]
pub struct UnknownCode {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

impl FromStr for ShipmentStatus {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.code() == s)
            .ok_or_else(|| UnknownCode {
                kind: "status",
                value: s.to_owned(),
                expected: Self::ALL.map(|v| v.code()).join(", "),
            })
    }
}

/// How the main leg travels; it decides typical durations and what "offline" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportMode {
    Sea,
    Air,
    Road,
}

impl TransportMode {
    pub const ALL: [TransportMode; 3] =
        [TransportMode::Sea, TransportMode::Air, TransportMode::Road];

    pub fn code(self) -> &'static str {
        match self {
            TransportMode::Sea => "sea",
            TransportMode::Air => "air",
            TransportMode::Road => "road",
        }
    }
}

impl FromStr for TransportMode {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.code() == s)
            .ok_or_else(|| UnknownCode {
                kind: "transport mode",
                value: s.to_owned(),
                expected: Self::ALL.map(|v| v.code()).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip_and_unknown_ones_explain_themselves() {
        for s in ShipmentStatus::ALL {
            assert_eq!(s.code().parse::<ShipmentStatus>(), Ok(s));
        }
        let err = "lost".parse::<ShipmentStatus>().unwrap_err();
        assert!(err.to_string().contains("in_transit"), "{err}");
    }
}
