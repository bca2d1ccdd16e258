//! `coldchain-sim`: a fleet of refrigerated shipments from Australia to China, publishing
//! its loggers' readings over MQTT the way real gateways do.
//!
//! ```text
//! catalog (lanes, ports, climates, custodians) -> fleet (seeded plans: legs, loggers)
//!   + faults (seeded, switchable) -> physics (reefer model) -> telemetry (message stream)
//!   -> register (coldchain API) + publish (MQTT, paced by the simulated clock)
//! ```
//!
//! Everything up to the message stream is pure: the same seed gives the same bytes.

pub mod catalog;
pub mod faults;
pub mod fleet;
pub mod journey;
pub mod load;
pub mod physics;
pub mod publish;
pub mod register;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod telemetry;
