//! Alerts: what coldchain tells an operator went wrong with a shipment.

coded_enum! {
    /// The kinds of trouble coldchain raises an alert for.
    pub enum AlertKind("alert kind") {
        /// An excursion above the band lasted longer than the profile's alert delay.
        TemperatureHigh => "temperature_high",
        TemperatureLow => "temperature_low",
        /// The shipment's cumulative time out of band passed its budget.
        ExcursionBudgetExhausted => "excursion_budget_exhausted",
        /// Mean kinetic temperature over the profile's limit.
        MktOverLimit => "mkt_over_limit",
        /// No reading from a device of an in-transit shipment for the profile's offline time.
        SensorOffline => "sensor_offline",
        DoorOpenTooLong => "door_open_too_long",
        BatteryLow => "battery_low",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_text_and_serde() {
        for &kind in AlertKind::ALL {
            assert_eq!(kind.code().parse::<AlertKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.code()));
        }
        assert!("too_warm".parse::<AlertKind>().is_err());
    }
}
