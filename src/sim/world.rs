//! One generation of simulator state. `reset()` swaps in a fresh world, so
//! work still in flight finishes against the old one and cannot leak into
//! the next run's numbers.

use super::config::{SimApi, SimConfig};
use super::contend::Contention;
use super::faults::Faults;
use super::idempotency::IdempotencyCache;
use super::ledger::{Ledger, LedgerState};
use super::limiter::Limiters;
use super::overload::Overload;
use super::rush::Rush;
use super::store::Store;
use std::sync::Arc;
use tokio::time::Instant;

pub struct World {
    pub store: Store,
    pub idem: Arc<IdempotencyCache>,
    pub limiters: Limiters,
    pub overload: Arc<Overload>,
    pub faults: Faults,
    pub ledger: LedgerState,
    /// Versions of the resources `POST /resources/{id}/write` writes.
    pub contention: Contention,
    /// The Booking Rush profile's own state (none for the guidelines one).
    pub rush: Option<Rush>,
}

impl World {
    pub fn new(cfg: &SimConfig) -> Self {
        let rush = cfg.api == SimApi::BookingRush;
        Self {
            store: Store::new(cfg),
            idem: Arc::new(IdempotencyCache::default()),
            limiters: Limiters::new(&cfg.rate_limit),
            overload: Arc::new(Overload::new(&cfg.capacity, cfg.seed)),
            faults: Faults::new(&cfg.faults, cfg.seed, Instant::now()),
            ledger: if rush {
                LedgerState::with_rush()
            } else {
                LedgerState::new()
            },
            contention: Contention::default(),
            rush: rush.then(|| Rush::new(cfg)),
        }
    }

    pub fn snapshot(&self) -> Ledger {
        let mut l = self.ledger.snapshot();
        l.zones = self.store.zones_snapshot();
        l
    }
}
