//! Which clock a run follows, and the time sources that follow it.
//!
//! A run is on real time unless `stampede run --virtual-time` put it on a
//! paused tokio clock (`docs/virtual-time.md`): one thread, no sockets,
//! and time jumps to the next timer whenever every task waits. Whatever
//! waits or measures in the run path uses `tokio::time`, which follows
//! that clock; this module covers the two time sources that would not:
//!
//! - [`TokioClock`]: governor's rate limiters (the attempts/s cap, the
//!   simulator's token buckets) counted on tokio time instead of governor's
//!   own clock. On real time the two agree; on virtual time only this one
//!   moves with the run.
//! - [`wall_now`]: the calendar time the simulated world sees (an HTTP-date
//!   `Retry-After` and its reading, `X-RateLimit-Reset`, token expiry, a
//!   template's `now`): the system's, or on virtual time a fixed epoch plus
//!   the virtual time elapsed, so the same run writes the same bytes.
//!
//! The report's own timestamps (when the run started, how long it took on
//! the wall) stay real.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The clock a run followed (summary.json `meta.clock`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// The system's clock: the run took as long as it says.
    #[default]
    Real,
    /// A paused tokio clock against the embedded simulator in memory: the
    /// durations are simulated, the wall time is in `meta.wall_s`.
    Virtual,
}

impl ClockMode {
    pub fn is_virtual(self) -> bool {
        self == ClockMode::Virtual
    }

    /// As summary.json writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockMode::Real => "real",
            ClockMode::Virtual => "virtual",
        }
    }
}

/// Seconds after the Unix epoch of the calendar time a virtual run starts
/// at (2027-01-15T08:00:00Z): fixed, so two runs see the same dates.
pub const VIRTUAL_EPOCH_S: u64 = 1_800_000_000;

/// The tokio instant virtual time began at, once [`enter_virtual`] ran.
static VIRTUAL_T0: OnceLock<tokio::time::Instant> = OnceLock::new();

/// Put this process's calendar time ([`wall_now`]) on virtual time from
/// now on. Called once, inside the paused runtime, before the run starts;
/// false when it was already called.
pub fn enter_virtual() -> bool {
    VIRTUAL_T0.set(tokio::time::Instant::now()).is_ok()
}

/// Whether [`enter_virtual`] ran in this process.
pub fn mode() -> ClockMode {
    match VIRTUAL_T0.get() {
        Some(_) => ClockMode::Virtual,
        None => ClockMode::Real,
    }
}

/// The calendar time `elapsed` after a virtual run began.
pub fn virtual_wall(elapsed: Duration) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(VIRTUAL_EPOCH_S) + elapsed
}

/// The calendar time of the simulated world: the system's, or on virtual
/// time [`virtual_wall`] of the virtual time elapsed.
pub fn wall_now() -> SystemTime {
    match VIRTUAL_T0.get() {
        Some(t0) => virtual_wall(t0.elapsed()),
        None => SystemTime::now(),
    }
}

/// A governor clock on tokio time: readings are the time since the clock
/// was made, so a limiter follows a paused tokio clock like every sleep
/// of the run does.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl governor::clock::Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::Clock;

    #[test]
    fn the_virtual_calendar_starts_at_the_fixed_epoch() {
        assert_eq!(
            httpdate::fmt_http_date(virtual_wall(Duration::ZERO)),
            "Fri, 15 Jan 2027 08:00:00 GMT"
        );
        assert_eq!(
            virtual_wall(Duration::from_millis(1500))
                .duration_since(virtual_wall(Duration::ZERO))
                .ok(),
            Some(Duration::from_millis(1500))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_governor_clock_follows_paused_tokio_time() {
        let c = TokioClock::new();
        assert_eq!(c.now(), Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(c.now(), Duration::from_secs(90));
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limiter_on_tokio_time_refills_in_virtual_time() {
        use std::num::NonZeroU32;
        let q = governor::Quota::per_second(NonZeroU32::MIN);
        let lim = governor::RateLimiter::direct_with_clock(q, TokioClock::new());
        assert!(lim.check().is_ok());
        assert!(lim.check().is_err());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(lim.check().is_ok());
    }
}
