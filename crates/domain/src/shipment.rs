//! Shipments: the goods travelling from a packer to a buyer, and the states they pass through.

pub use crate::coded::UnknownCode;

coded_enum! {
    /// Where a shipment is in its life. Stored as its `code()`.
    pub enum ShipmentStatus("status") {
        Planned => "planned",
        InTransit => "in_transit",
        AtHub => "at_hub",
        Delivered => "delivered",
        Cancelled => "cancelled",
    }
}

coded_enum! {
    /// How the main leg travels; it decides typical durations and what "offline" means.
    pub enum TransportMode("transport mode") {
        Sea => "sea",
        Air => "air",
        Road => "road",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip_and_unknown_ones_explain_themselves() {
        for &s in ShipmentStatus::ALL {
            assert_eq!(s.code().parse::<ShipmentStatus>(), Ok(s));
        }
        let err = "lost".parse::<ShipmentStatus>().unwrap_err();
        assert!(err.to_string().contains("in_transit"), "{err}");
    }
}
