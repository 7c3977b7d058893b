//! The overload model: a worker pool behind a bounded queue whose service
//! time grows with the work admitted. Time is `tokio::time::sleep`, never
//! CPU burn, so the simulator stays cheap while modelling a slow backend.

use super::config::CapacityConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

pub struct Overload {
    workers: Semaphore,
    in_flight: AtomicU32,
    limit: u32,
    per_in_flight: Duration,
}

/// A request counted as admitted (queued or running) until dropped.
pub struct Admitted {
    model: Arc<Overload>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.model.in_flight.fetch_sub(1, Relaxed);
    }
}

impl Overload {
    pub fn new(cfg: &CapacityConfig) -> Self {
        Self {
            workers: Semaphore::new(cfg.workers.max(1) as usize),
            in_flight: AtomicU32::new(0),
            limit: cfg.workers.saturating_add(cfg.queue),
            per_in_flight: cfg.latency_per_in_flight,
        }
    }

    /// Admits the request unless workers and queue are all taken (503).
    pub fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let prev = self
            .in_flight
            .fetch_update(Relaxed, Relaxed, |n| (n < self.limit).then_some(n + 1));
        prev.ok().map(|_| Admitted {
            model: Arc::clone(self),
        })
    }

    /// Admits the request whatever the load (the Booking Rush profile has
    /// no 503 on its booking path: work waits for a worker, and the gateway
    /// answers 504 when it waits too long). Only the first `workers +
    /// queue` units in flight slow the workers down; the rest wait in line
    /// without adding contention.
    pub fn admit_waiting(self: &Arc<Self>) -> Admitted {
        self.in_flight.fetch_add(1, Relaxed);
        Admitted {
            model: Arc::clone(self),
        }
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Relaxed)
    }

    /// Waits for a worker, then holds it for the service time:
    /// `(base + k × in_flight) / capacity_factor + extra`. The returned
    /// permit keeps the worker busy while the caller commits.
    pub async fn serve(
        &self,
        _admitted: &Admitted,
        base: Duration,
        capacity_factor: f64,
        extra: Duration,
    ) -> Option<SemaphorePermit<'_>> {
        let permit = self.workers.acquire().await.ok()?;
        let t = self.service_time(base, capacity_factor) + extra;
        if !t.is_zero() {
            tokio::time::sleep(t).await;
        }
        Some(permit)
    }

    fn service_time(&self, base: Duration, capacity_factor: f64) -> Duration {
        // `admit` never lets in_flight past the limit; `admit_waiting` does.
        let t = base + self.per_in_flight * self.in_flight().min(self.limit);
        if capacity_factor > 0.0 && capacity_factor < 1.0 {
            t.div_f64(capacity_factor)
        } else {
            t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_is_bounded_and_released_on_drop() {
        let m = Arc::new(Overload::new(&CapacityConfig {
            workers: 1,
            queue: 1,
            latency_per_in_flight: Duration::from_millis(1),
            ..CapacityConfig::default()
        }));
        let a = m.admit().expect("worker");
        let b = m.admit().expect("queue");
        assert!(m.admit().is_none(), "full");
        assert_eq!(
            m.service_time(Duration::from_millis(10), 0.5),
            Duration::from_millis(24)
        );
        drop(a);
        assert!(m.admit().is_some());
        drop(b);
        assert_eq!(m.in_flight(), 0);
        // Waiting work beyond the limit is admitted but adds no contention.
        let held: Vec<Admitted> = (0..5).map(|_| m.admit_waiting()).collect();
        assert_eq!(m.in_flight(), 5);
        assert!(m.admit().is_none());
        assert_eq!(
            m.service_time(Duration::from_millis(10), 1.0),
            Duration::from_millis(12)
        );
        drop(held);
        assert_eq!(m.in_flight(), 0);
    }
}
