//! `coldchain-sim`: a fleet of refrigerated shipments publishing over MQTT.
//!
//! The fleet model, its physics and faults are issue 3; until then the binary says so
//! instead of pretending to simulate anything.

fn main() -> anyhow::Result<()> {
    anyhow::bail!(
        "coldchain-sim has no commands yet: the fleet simulator is tracked as issue 3. \
         Publish telemetry by hand with mosquitto_pub as shown in the README."
    )
}
