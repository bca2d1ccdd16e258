//! One module per resource, each with its own `router()`.

pub mod alerts;
pub mod devices;
pub mod docs;
pub mod health;
pub mod profiles;
pub mod rejected;
pub mod report;
pub mod shipments;
pub mod timeline;
pub mod webhooks;
