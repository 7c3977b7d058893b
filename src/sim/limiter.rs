//! Per-user and global token buckets (governor GCRA), counted on tokio time
//! ([`crate::clock::TokioClock`]), so they follow a virtual-time run's
//! paused clock like every other timer of the simulator.

use super::config::RateLimitConfig;
use crate::clock::TokioClock;
use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::{Duration, UNIX_EPOCH};

type Direct = RateLimiter<NotKeyed, InMemoryState, TokioClock, StateInformationMiddleware>;
type Keyed = RateLimiter<String, DashMapStateStore<String>, TokioClock, StateInformationMiddleware>;

/// What the rate-limit headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInfo {
    /// `X-RateLimit-Limit`: sustained requests per second.
    pub limit: u32,
    /// `X-RateLimit-Remaining`: burst left right now.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: unix time when the bucket is full again.
    pub reset_unix: u64,
}

/// A denied request: how long to wait, and the headers to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// `Retry-After` in whole seconds: ceil of governor's wait, min 1.
    pub retry_after_secs: u64,
    pub info: LimitInfo,
}

pub struct Limiters {
    per_user: Option<(Keyed, u32)>,
    global: Option<(Direct, u32)>,
    clock: TokioClock,
}

fn quota(rate: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(Quota::per_second(rate).allow_burst(burst))
}

fn unix_in(d: Duration) -> u64 {
    (crate::clock::wall_now() + d)
        .duration_since(UNIX_EPOCH)
        .map(|t| t.as_secs() + u64::from(t.subsec_nanos() > 0))
        .unwrap_or(0)
}

fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl Limiters {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        let clock = TokioClock::new();
        Self {
            per_user: quota(cfg.per_user_per_second, cfg.per_user_burst).map(|q| {
                (
                    RateLimiter::dashmap_with_clock(q, clock)
                        .with_middleware::<StateInformationMiddleware>(),
                    cfg.per_user_per_second,
                )
            }),
            global: quota(cfg.global_per_second, cfg.global_burst).map(|q| {
                (
                    RateLimiter::direct_with_clock(q, clock)
                        .with_middleware::<StateInformationMiddleware>(),
                    cfg.global_per_second,
                )
            }),
            clock,
        }
    }

    /// Checks the user's bucket first (so one noisy user does not drain
    /// the global bucket), then the global one. `Ok(None)` = no limiter
    /// applies; `Ok(Some)` carries headers worth sending on success.
    pub fn check(&self, user: Option<&str>) -> Result<Option<LimitInfo>, Denied> {
        let mut info = None;
        if let (Some((lim, rate)), Some(user)) = (&self.per_user, user) {
            info = Some(self.outcome(lim.check_key(&user.to_owned()), *rate)?);
        }
        if let Some((lim, rate)) = &self.global {
            let g = self.outcome(lim.check(), *rate)?;
            info.get_or_insert(g);
        }
        Ok(info)
    }

    fn outcome(
        &self,
        r: Result<
            governor::middleware::StateSnapshot,
            governor::NotUntil<<TokioClock as Clock>::Instant>,
        >,
        rate: u32,
    ) -> Result<LimitInfo, Denied> {
        match r {
            Ok(snap) => {
                let q = snap.quota();
                let remaining = snap.remaining_burst_capacity();
                let missing = q.burst_size().get().saturating_sub(remaining);
                let refill = q.replenish_interval() * missing;
                Ok(LimitInfo {
                    limit: rate,
                    remaining,
                    reset_unix: unix_in(refill),
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let q = not_until.quota();
                let full = q.replenish_interval() * q.burst_size().get();
                Err(Denied {
                    retry_after_secs: ceil_secs(wait),
                    info: LimitInfo {
                        limit: rate,
                        remaining: 0,
                        reset_unix: unix_in(full.max(wait)),
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_buckets_are_independent() {
        let l = Limiters::new(&RateLimitConfig {
            per_user_per_second: 1,
            per_user_burst: 2,
            global_per_second: 0,
            global_burst: 0,
        });
        let a = l.check(Some("a")).expect("first allowed").expect("info");
        assert_eq!((a.limit, a.remaining), (1, 1));
        assert!(l.check(Some("a")).is_ok());
        let d = l.check(Some("a")).expect_err("third denied");
        assert!(d.retry_after_secs >= 1);
        assert_eq!(d.info.remaining, 0);
        assert!(d.info.reset_unix >= unix_in(Duration::ZERO));
        assert!(l.check(Some("b")).is_ok());
        // No token: only the (absent) global limiter applies.
        assert_eq!(l.check(None), Ok(None));
    }

    #[test]
    fn global_bucket() {
        let l = Limiters::new(&RateLimitConfig {
            per_user_per_second: 0,
            per_user_burst: 0,
            global_per_second: 1,
            global_burst: 1,
        });
        assert!(l.check(Some("a")).is_ok());
        assert!(l.check(Some("b")).is_err());
    }
}
