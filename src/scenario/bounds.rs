//! The largest value every duration, count, rate and size of a scenario may
//! take, checked at validate time (docs/scenarios.md lists them).
//!
//! They are far above any sensible run and far below what would overflow:
//! with every duration at most 30 days, `Instant + duration` and the sums of
//! stages cannot overflow; `max_in_flight` and `connections` stay well under
//! a tokio semaphore's limit (`usize::MAX >> 3`) and `u32` permits; rates
//! times durations stay exact in an `f64`.

use std::fmt::Display;
use std::time::Duration;

/// Every duration: stages, `over`, `drain`, timeouts, think times, policy
/// delays, abort windows, simulator TTLs and fault windows.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// Simulator service times and injected latencies (multiplied by the work in flight).
pub const MAX_SIM_LATENCY: Duration = Duration::from_secs(3600);
/// Arrivals per second (stages, `--rate`), attempts per second (`max_rps`,
/// `--max-rps`, `attempt_rate` abort rules) and simulator rate limits.
pub const MAX_RATE: f64 = 10_000_000.0;
/// `target.connections`.
pub const MAX_CONNECTIONS: usize = 100_000;
/// `load.max_in_flight`.
pub const MAX_IN_FLIGHT: usize = 10_000_000;
/// `load.users` and `users.count`.
pub const MAX_USERS: u64 = 100_000_000;
/// `load.iterations` (journeys per user in the closed model).
pub const MAX_ITERATIONS: u64 = 1_000_000;
/// `journey.quantity` (seats per reservation).
pub const MAX_QUANTITY: u32 = 10_000;
/// `load.stages` entries.
pub const MAX_STAGES: usize = 10_000;
/// `journey.steps` entries.
pub const MAX_STEPS: usize = 100;
/// Fleets in one scenario (`compare` entries or `[[fleets]]`): each is a
/// column of every table and a set of report files.
pub const MAX_FLEETS: usize = 1000;
/// Other counts: breaker thresholds, seats of one simulator zone,
/// `sim.max_tickets_per_user`, simulator workers and queue.
pub const MAX_COUNT: u32 = 100_000_000;
/// Retry budget `max_tokens`.
pub const MAX_BUDGET_TOKENS: f64 = 1_000_000_000.0;
/// Smallest simulator `capacity_factor` (the service time is divided by it).
pub const MIN_CAPACITY_FACTOR: f64 = 0.001;
/// `sim.max_body_bytes`.
pub const MAX_SIM_BODY_BYTES: usize = 64 << 20;
/// A users CSV file.
pub const MAX_USERS_CSV_BYTES: u64 = 256 << 20;
/// A scenario file, and a `target.ca_file` bundle.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

// Semaphore permits: tokio panics above `usize::MAX >> 3`, and the engine
// waits for all of `max_in_flight` at once as a u32.
const _: () = assert!(MAX_IN_FLIGHT < usize::MAX >> 3 && MAX_IN_FLIGHT <= u32::MAX as usize);
const _: () = assert!(MAX_CONNECTIONS < usize::MAX >> 3);
// Arrivals over the longest run at the highest rate count exactly in an f64.
const _: () = assert!(MAX_RATE * MAX_DURATION.as_secs_f64() < 9_007_199_254_740_992.0);

/// `d` is at most [`MAX_DURATION`].
pub fn duration(d: Duration) -> Result<(), String> {
    duration_max(d, MAX_DURATION)
}

pub fn duration_max(d: Duration, max: Duration) -> Result<(), String> {
    if d <= max {
        Ok(())
    } else {
        Err(format!(
            "{} is too long: at most {}",
            humantime::format_duration(d),
            humantime::format_duration(max)
        ))
    }
}

/// `r` (per second) is at most [`MAX_RATE`]; callers check it is finite and positive.
pub fn rate(r: f64) -> Result<(), String> {
    if r <= MAX_RATE {
        Ok(())
    } else {
        Err(format!("{r}/s is too high: at most {MAX_RATE}/s"))
    }
}

/// `v` is at most `max`.
pub fn count<T: PartialOrd + Display>(v: T, max: T) -> Result<(), String> {
    if v <= max {
        Ok(())
    } else {
        Err(format!("{v} is too many: at most {max}"))
    }
}

/// `bytes` is at most `max`.
pub fn size(bytes: u64, max: u64) -> Result<(), String> {
    if bytes <= max {
        Ok(())
    } else {
        Err(format!(
            "{bytes} bytes is too large: at most {} MiB",
            max >> 20
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_inclusive_and_messages_name_the_maximum() {
        assert!(duration(MAX_DURATION).is_ok());
        let e = duration(MAX_DURATION + Duration::from_nanos(1)).unwrap_err();
        assert!(e.ends_with("at most 30days"), "{e}");
        assert!(rate(MAX_RATE).is_ok());
        assert_eq!(
            rate(2e7).unwrap_err(),
            "20000000/s is too high: at most 10000000/s"
        );
        assert!(count(5u64, 5).is_ok());
        assert_eq!(count(6u64, 5).unwrap_err(), "6 is too many: at most 5");
        assert_eq!(
            size(MAX_USERS_CSV_BYTES + 1, MAX_USERS_CSV_BYTES).unwrap_err(),
            "268435457 bytes is too large: at most 256 MiB"
        );
    }

    #[test]
    fn maxima_cannot_overflow_what_the_engine_does_with_them() {
        // A deadline 30 days out, twice over (start + duration + drain).
        let now = std::time::Instant::now();
        assert!(now.checked_add(MAX_DURATION * 2).is_some());
        // Simulator service time: (latency x work in flight) / capacity factor.
        let worst = MAX_SIM_LATENCY
            .checked_mul(2 * MAX_COUNT)
            .map(|d| d.as_secs_f64() / MIN_CAPACITY_FACTOR);
        assert!(worst.is_some_and(|s| s < u64::MAX as f64), "{worst:?}");
    }
}
