//! Seeded randomness. Every shipment draws from its own ChaCha streams (one per purpose), so
//! a shipment's plan, physics and faults depend only on the seed and its own number: adding
//! shipments or switching a fault kind on leaves the others exactly as they were. ChaCha is
//! specified bit for bit, so a seed means the same fleet on every machine and release.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::faults::FaultKind;

/// What a random stream is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Plan,
    Fault(FaultKind),
    /// Weather and sensor noise.
    Physics,
    /// Network latency, duplicates, corruption.
    Network,
}

impl Stream {
    fn id(self) -> u64 {
        match self {
            Stream::Plan => 1,
            Stream::Physics => 2,
            Stream::Network => 3,
            Stream::Fault(kind) => 16 + kind as u64,
        }
    }
}

pub fn rng_for(seed: u64, shipment: usize, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((shipment as u64) << 8) | stream.id());
    rng
}
