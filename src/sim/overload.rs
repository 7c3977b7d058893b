//! The overload model: a worker pool behind a bounded queue whose service
//! time grows with the work admitted. Time is `tokio::time::sleep`, never
//! CPU burn, so the simulator stays cheap while modelling a slow backend.
//! Workers are taken first come, first served (tokio's semaphore is fair):
//! with `latency_per_in_flight = "0s"` the model is a plain FIFO queue of
//! `queue` places in front of `workers` servers. With `discipline =
//! "processor-sharing"` every admitted job is served at once instead, the
//! workers' capacity split among them ([`super::sharing`]).

use super::config::{CapacityConfig, Discipline};
use super::service::ServiceDistribution;
use super::sharing::Sharing;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

pub struct Overload {
    workers: Semaphore,
    /// Processor sharing, when the discipline says so (then `workers`
    /// never makes anyone wait).
    sharing: Option<Sharing>,
    in_flight: AtomicU32,
    limit: u32,
    per_in_flight: Duration,
    distribution: ServiceDistribution,
    /// Service-time draws, seeded by the simulator's seed.
    rng: Mutex<StdRng>,
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
    pub fn new(cfg: &CapacityConfig, seed: u64) -> Self {
        let sharing =
            (cfg.discipline == Discipline::ProcessorSharing).then(|| Sharing::new(cfg.workers));
        let workers = if sharing.is_some() {
            Semaphore::MAX_PERMITS
        } else {
            cfg.workers.max(1) as usize
        };
        Self {
            workers: Semaphore::new(workers),
            sharing,
            in_flight: AtomicU32::new(0),
            limit: cfg.workers.saturating_add(cfg.queue),
            per_in_flight: cfg.latency_per_in_flight,
            distribution: cfg.service_distribution,
            // Apart from the faults' stream, which the same seed starts.
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5E41_1CE0_71AE_D12A)),
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
        if let Some(ps) = &self.sharing {
            // The work shares the servers; injected latency is a wait.
            ps.serve(self.service_time(base, capacity_factor)).await;
            if !extra.is_zero() {
                tokio::time::sleep(extra).await;
            }
            return Some(permit);
        }
        let t = self.service_time(base, capacity_factor) + extra;
        if !t.is_zero() {
            tokio::time::sleep(t).await;
        }
        Some(permit)
    }

    fn service_time(&self, base: Duration, capacity_factor: f64) -> Duration {
        let base = self.draw(base);
        // `admit` never lets in_flight past the limit; `admit_waiting` does.
        let t = base + self.per_in_flight * self.in_flight().min(self.limit);
        if capacity_factor > 0.0 && capacity_factor < 1.0 {
            t.div_f64(capacity_factor)
        } else {
            t
        }
    }
}

impl Overload {
    /// `base` as the distribution draws it (no draw for a fixed time).
    fn draw(&self, base: Duration) -> Duration {
        if self.distribution == ServiceDistribution::Fixed || base.is_zero() {
            return base;
        }
        let (u1, u2) = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            (rng.random::<f64>(), rng.random::<f64>())
        };
        self.distribution.draw(base, u1, u2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_is_bounded_and_released_on_drop() {
        let m = Arc::new(Overload::new(
            &CapacityConfig {
                workers: 1,
                queue: 1,
                latency_per_in_flight: Duration::from_millis(1),
                ..CapacityConfig::default()
            },
            7,
        ));
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

    #[tokio::test(start_paused = true)]
    async fn workers_are_taken_first_come_first_served() {
        let cfg = CapacityConfig {
            workers: 1,
            queue: 8,
            service_time: Duration::from_millis(10),
            latency_per_in_flight: Duration::ZERO,
            ..CapacityConfig::default()
        };
        let m = Arc::new(Overload::new(&cfg, 1));
        let done = Arc::new(Mutex::new(Vec::new()));
        let t0 = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for i in 0..4u32 {
            let (m, done) = (Arc::clone(&m), Arc::clone(&done));
            let a = m.admit().expect("room");
            tasks.push(tokio::spawn(async move {
                drop(m.serve(&a, cfg.service_time, 1.0, Duration::ZERO).await);
                done.lock().expect("lock").push((i, t0.elapsed()));
            }));
            // Each arrives 1 ms after the one before.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for t in tasks {
            t.await.expect("task");
        }
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            *done.lock().expect("lock"),
            vec![(0, ms(10)), (1, ms(20)), (2, ms(30)), (3, ms(40))],
            "one worker, a FIFO line: each waits for every one before it"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn processor_sharing_serves_every_admitted_job_at_once() {
        let cfg = CapacityConfig {
            workers: 1,
            queue: 8,
            latency_per_in_flight: Duration::ZERO,
            discipline: Discipline::ProcessorSharing,
            ..CapacityConfig::default()
        };
        let m = Arc::new(Overload::new(&cfg, 1));
        let t0 = tokio::time::Instant::now();
        let job = |work: u64| {
            let m = Arc::clone(&m);
            let a = m.admit().expect("room");
            tokio::spawn(async move {
                drop(
                    m.serve(&a, Duration::from_millis(work), 1.0, Duration::ZERO)
                        .await,
                );
                t0.elapsed()
            })
        };
        // A 100 ms and a 10 ms job together on one worker: the short one
        // is done after 20 ms at half speed, not after the long one.
        let (long, short) = (job(100), job(10));
        assert_eq!(short.await.unwrap(), Duration::from_millis(20));
        assert_eq!(long.await.unwrap(), Duration::from_millis(110));
    }

    #[test]
    fn draws_follow_the_seed() {
        let cfg = CapacityConfig {
            service_distribution: ServiceDistribution::Exponential,
            latency_per_in_flight: Duration::ZERO,
            ..CapacityConfig::default()
        };
        let times = |seed| {
            let m = Overload::new(&cfg, seed);
            (0..50)
                .map(|_| m.service_time(cfg.service_time, 1.0))
                .collect::<Vec<_>>()
        };
        assert_eq!(times(7), times(7));
        assert_ne!(times(7), times(8));
        assert!(times(7).iter().any(|t| *t != cfg.service_time));
    }
}
