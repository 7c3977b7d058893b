//! Counters the progress display, the per-second in-flight sampler and the
//! abort rules read while the run goes on. Relaxed atomics: they are a view
//! for decisions during the run, not the record (the recorders are).

use super::StatusClass;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Buckets per doubling of the latency histogram (~19% wide each).
const PER_DOUBLING: u32 = 4;
/// How many buckets a [`LiveHistogram`] has (the last one is open-ended).
pub const BUCKETS: usize = 34 * PER_DOUBLING as usize;

/// A lock-free log-bucketed latency histogram (microseconds): coarse, but
/// enough to tell "p99 is above 5 s" while the run is going on. Bucket `b`
/// holds the values `d` with `bucket_top(b - 1) < d <= bucket_top(b)` (µs,
/// unrounded; the last one also all above), the `le` a Prometheus bucket
/// means (src/prom exports them).
pub struct LiveHistogram {
    counts: Box<[AtomicU64]>,
    /// Sum of the recorded values (ns), for a Prometheus histogram's `_sum`
    /// (stays at `u64::MAX`, 584 years, rather than wrap).
    sum_ns: AtomicU64,
}

impl Default for LiveHistogram {
    fn default() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for LiveHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveHistogram")
    }
}

/// The bucket of a value of `us` microseconds (rounded up): the first whose
/// top is at least `us`.
fn bucket_of(us: u64) -> usize {
    if us <= 4 {
        // The tops below 4 µs repeat (1 1 1 2 2 3 3 4).
        return (0..8).find(|&b| bucket_top(b) >= us).unwrap_or(7);
    }
    // From 4 µs on, bucket `b = 4 * log2 + frac` holds the integers `x` in
    // `[bucket_top(b - 1), bucket_top(b))`, so `us - 1` lands where `us`
    // is at most the top.
    let x = us - 1;
    let log = 63 - x.leading_zeros();
    let frac = (x >> (log - 2)) & 3;
    ((log * PER_DOUBLING) as usize + frac as usize).min(BUCKETS - 1)
}

/// Upper bound (µs) of a bucket.
pub fn bucket_top(b: usize) -> u64 {
    let log = b as u32 / PER_DOUBLING;
    let frac = (b as u32 % PER_DOUBLING) as u64;
    let base = 1u64 << log;
    base + base * (frac + 1) / u64::from(PER_DOUBLING)
}

impl LiveHistogram {
    pub fn record(&self, d: Duration) {
        let ns = d.as_nanos();
        let us = u64::try_from(ns.div_ceil(1000)).unwrap_or(u64::MAX);
        self.counts[bucket_of(us)].fetch_add(1, Relaxed);
        let ns = u64::try_from(ns).unwrap_or(u64::MAX);
        let _ = self
            .sum_ns
            .fetch_update(Relaxed, Relaxed, |s| Some(s.saturating_add(ns)));
    }

    /// Sum of every recorded value, in nanoseconds.
    pub fn sum_ns(&self) -> u64 {
        self.sum_ns.load(Relaxed)
    }

    pub fn snapshot(&self) -> Vec<u64> {
        self.counts.iter().map(|c| c.load(Relaxed)).collect()
    }

    /// Quantile `q` of bucket counts (as from the difference of two snapshots).
    pub fn quantile(counts: &[u64], q: f64) -> Option<Duration> {
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_micros(bucket_top(b)));
            }
        }
        None
    }
}

#[derive(Debug, Default)]
pub struct Live {
    pub arrivals: AtomicU64,
    pub in_flight: AtomicU64,
    pub attempts: AtomicU64,
    /// Attempts answered 429 or 5xx, or that timed out or failed to connect.
    pub attempt_errors: AtomicU64,
    pub ok: AtomicU64,
    pub failures: AtomicU64,
    /// Operation latency (from the intended start) of finished operations.
    pub op_latency: LiveHistogram,
    /// Retries sent (attempts after an operation's first).
    pub retries: AtomicU64,
    /// Circuit-breaker openings, counted as each journey's log closes (as the recorder does).
    pub breaker_opens: AtomicU64,
    /// Per journey step (empty for a `Live::default()`).
    pub steps: Box<[StepLive]>,
    /// Answers by HTTP status, index `status - 100` for 100..=599 (empty
    /// for a `Live::default()`): one relaxed add per answer, no lock.
    pub statuses: Box<[AtomicU64]>,
}

/// The lowest status [`Live::statuses`] counts.
pub const FIRST_STATUS: u16 = 100;
/// How many statuses [`Live::statuses`] counts (100..=599).
pub const STATUSES: usize = 500;

/// The status classes an answered attempt is counted under, in label order.
pub const CLASSES: [StatusClass; 10] = [
    StatusClass::S2xx,
    StatusClass::S3xx,
    StatusClass::S4xx,
    StatusClass::S429,
    StatusClass::S5xx,
    StatusClass::Timeout,
    StatusClass::Network,
    StatusClass::InvalidResponse,
    StatusClass::NotSent,
    StatusClass::RejectedLocally,
];

fn class_index(c: StatusClass) -> Option<usize> {
    CLASSES.iter().position(|k| *k == c)
}

/// Live counters of one journey step.
#[derive(Debug, Default)]
pub struct StepLive {
    /// Attempts sent, counted where the recorder logs them (as they leave).
    pub attempts: AtomicU64,
    /// Answered attempts by [`CLASSES`] (an attempt cut off by the end of
    /// the run is sent but never answered).
    pub answered: [AtomicU64; CLASSES.len()],
    /// Latency of answered attempts.
    pub attempt_latency: LiveHistogram,
}

impl Live {
    pub fn new(steps: usize) -> Self {
        Self {
            steps: (0..steps).map(|_| StepLive::default()).collect(),
            statuses: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
            ..Self::default()
        }
    }

    /// An answer with HTTP status `status` (outside 100..=599: not counted).
    pub fn status(&self, status: u16) {
        if let Some(n) = status
            .checked_sub(FIRST_STATUS)
            .and_then(|i| self.statuses.get(usize::from(i)))
        {
            n.fetch_add(1, Relaxed);
        }
    }

    /// Every status answered so far with its count, most frequent first
    /// (ties: lower status first).
    pub fn status_counts(&self) -> Vec<(u16, u64)> {
        let mut v: Vec<(u16, u64)> = self
            .statuses
            .iter()
            .enumerate()
            .map(|(i, n)| (FIRST_STATUS + i as u16, n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// An attempt of step `step` leaves (a retry when `retry`).
    pub fn sent(&self, step: usize, retry: bool) {
        self.attempts.fetch_add(1, Relaxed);
        if retry {
            self.retries.fetch_add(1, Relaxed);
        }
        if let Some(s) = self.steps.get(step) {
            s.attempts.fetch_add(1, Relaxed);
        }
    }

    /// An attempt of step `step` was answered (or timed out, or failed).
    pub fn answered(&self, step: usize, class: StatusClass, latency: Duration) {
        if let (Some(s), Some(i)) = (self.steps.get(step), class_index(class)) {
            s.answered[i].fetch_add(1, Relaxed);
            if class != StatusClass::RejectedLocally {
                s.attempt_latency.record(latency);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    pub arrivals: u64,
    pub in_flight: u64,
    pub attempts: u64,
    pub attempt_errors: u64,
    pub ok: u64,
    pub failures: u64,
}

impl Live {
    pub fn snapshot(&self) -> LiveSnapshot {
        LiveSnapshot {
            arrivals: self.arrivals.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            attempts: self.attempts.load(Relaxed),
            attempt_errors: self.attempt_errors.load(Relaxed),
            ok: self.ok.load(Relaxed),
            failures: self.failures.load(Relaxed),
        }
    }
}

impl std::ops::Add for LiveSnapshot {
    type Output = Self;
    fn add(self, b: Self) -> Self {
        Self {
            arrivals: self.arrivals + b.arrivals,
            in_flight: self.in_flight + b.in_flight,
            attempts: self.attempts + b.attempts,
            attempt_errors: self.attempt_errors + b.attempt_errors,
            ok: self.ok + b.ok,
            failures: self.failures + b.failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bound_their_values() {
        let mut prev = 0;
        for us in [
            1u64,
            2,
            3,
            4,
            5,
            7,
            8,
            100,
            1000,
            12_345,
            5_000_000,
            1 << 40,
        ] {
            let b = bucket_of(us);
            assert!(b >= prev, "{us}");
            prev = b;
            if b < BUCKETS - 1 {
                assert!(
                    bucket_top(b) >= us,
                    "{us} -> bucket {b} tops at {}",
                    bucket_top(b)
                );
                assert!(bucket_top(b) as f64 <= us as f64 * 1.5 + 2.0, "{us}");
            }
        }
    }

    #[test]
    fn a_value_falls_in_the_first_bucket_whose_top_is_at_least_it() {
        let big = (0..40).map(|k| 1u64 << k).flat_map(|p| [p - 1, p, p + 1]);
        for us in (0..70_000u64).chain(big) {
            let b = bucket_of(us);
            if b == BUCKETS - 1 {
                assert!(bucket_top(b - 1) < us, "{us}");
                continue;
            }
            assert!(bucket_top(b) >= us, "{us} -> {b}");
            assert!(b == 0 || bucket_top(b - 1) < us, "{us} -> {b}");
        }
        // Durations are rounded up to the µs: 2048 µs is at most 2048, a
        // nanosecond more is not.
        let h = LiveHistogram::default();
        h.record(Duration::from_micros(2048));
        h.record(Duration::from_nanos(2_048_001));
        h.record(Duration::from_nanos(2_047_001));
        let s = h.snapshot();
        let at = |us: u64| s[(0..BUCKETS).find(|&b| bucket_top(b) == us).unwrap()];
        assert_eq!((at(2048), at(2560)), (2, 1));
        assert_eq!(h.sum_ns(), 2_048_000 + 2_048_001 + 2_047_001);
        h.record(Duration::MAX);
        h.record(Duration::from_secs(1));
        assert_eq!(h.sum_ns(), u64::MAX);
        assert_eq!(h.snapshot()[BUCKETS - 1], 1);
    }

    #[test]
    fn statuses_are_counted_most_frequent_first() {
        let l = Live::new(1);
        for s in [503, 201, 201, 409, 201, 503, 99, 600, 599, 100] {
            l.status(s);
        }
        assert_eq!(
            l.status_counts(),
            [(201, 3), (503, 2), (100, 1), (409, 1), (599, 1)]
        );
        Live::default().status(200);
        assert!(Live::default().status_counts().is_empty());
    }

    #[test]
    fn quantile_finds_the_slow_tail() {
        let h = LiveHistogram::default();
        for _ in 0..98 {
            h.record(Duration::from_millis(10));
        }
        for _ in 0..2 {
            h.record(Duration::from_secs(6));
        }
        let s = h.snapshot();
        let p50 = LiveHistogram::quantile(&s, 0.5).unwrap();
        let p99 = LiveHistogram::quantile(&s, 0.99).unwrap();
        assert!(
            p50 >= Duration::from_millis(10) && p50 < Duration::from_millis(13),
            "{p50:?}"
        );
        assert!(
            p99 >= Duration::from_secs(6) && p99 < Duration::from_secs(8),
            "{p99:?}"
        );
        assert_eq!(LiveHistogram::quantile(&vec![0; BUCKETS], 0.5), None);
    }
}
