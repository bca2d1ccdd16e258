//! One module per resource, each with its own `router()`.

pub mod devices;
pub mod health;
pub mod rejected;
pub mod shipments;
