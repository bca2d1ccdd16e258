//! Pure types and rules of cold-chain tracking: who owns what (tenants, devices), what a
//! logger measured (readings) and whether a measurement is believable, and the shipments the
//! goods travel in. No I/O and no async: everything here takes values and returns values, so
//! the rules can be tested exhaustively and reused by the ingest, the API and the simulator.

#[macro_use]
mod coded;

pub mod alert;
pub mod event;
pub mod excursion;
pub mod figures;
pub mod ids;
pub mod journey;
pub mod mqtt;
pub mod product;
pub mod profile;
pub mod reading;
pub mod shipment;
pub mod timeline;

pub use alert::AlertKind;
pub use coded::UnknownCode;
pub use event::{DeviceEvent, DeviceEventKind};
pub use ids::{DeviceId, IdError, TenantId};
pub use journey::{Journey, JourneyEvent, JourneyEventKind, TransitionError};
pub use product::{PRODUCT_PRESETS, ProductPreset};
pub use profile::ProductProfile;
pub use reading::{Reading, ReadingLimits, RejectReason, Rejection};
pub use shipment::{ShipmentStatus, TransportMode};
