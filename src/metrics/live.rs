//! Counters the progress display and the per-second in-flight sampler read
//! while the run goes on. Relaxed atomics: they are a view, not the record.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Live {
    pub arrivals: AtomicU64,
    pub journeys_done: AtomicU64,
    pub in_flight: AtomicU64,
    pub attempts: AtomicU64,
    pub ok: AtomicU64,
    pub failures: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    pub arrivals: u64,
    pub journeys_done: u64,
    pub in_flight: u64,
    pub attempts: u64,
    pub ok: u64,
    pub failures: u64,
}

impl Live {
    pub fn snapshot(&self) -> LiveSnapshot {
        LiveSnapshot {
            arrivals: self.arrivals.load(Relaxed),
            journeys_done: self.journeys_done.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            attempts: self.attempts.load(Relaxed),
            ok: self.ok.load(Relaxed),
            failures: self.failures.load(Relaxed),
        }
    }
}
