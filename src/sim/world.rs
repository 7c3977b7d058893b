//! One generation of simulator state. `reset()` swaps in a fresh world, so
//! work still in flight finishes against the old one and cannot leak into
//! the next run's numbers.

use super::config::SimConfig;
use super::faults::Faults;
use super::idempotency::IdempotencyCache;
use super::ledger::{Ledger, LedgerState};
use super::limiter::Limiters;
use super::overload::Overload;
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
}

impl World {
    pub fn new(cfg: &SimConfig) -> Self {
        Self {
            store: Store::new(cfg),
            idem: Arc::new(IdempotencyCache::default()),
            limiters: Limiters::new(&cfg.rate_limit),
            overload: Arc::new(Overload::new(&cfg.capacity)),
            faults: Faults::new(&cfg.faults, cfg.seed, Instant::now()),
            ledger: LedgerState::new(),
        }
    }

    pub fn snapshot(&self) -> Ledger {
        let mut l = self.ledger.snapshot();
        l.zones = self.store.zones_snapshot();
        l
    }
}
