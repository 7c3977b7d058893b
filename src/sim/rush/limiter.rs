//! The gateway's rate limiter: a token bucket per client IP and endpoint
//! class, in sharded maps (one short lock per request, never a global one).

use super::config::{RushBucket, RushRateLimit};
use crate::sim::sharded::ShardedMap;
use tokio::time::Instant;

/// The gateway's endpoint classes, each with its own bucket per IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Default = 0,
    /// `POST /api/v1/auth/*`.
    Auth = 1,
    /// `POST /api/v1/bookings/{id}/confirm`.
    Confirm = 2,
}

/// What the limiter says about one request, and its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// `X-RateLimit-Limit`: per second.
    pub limit: u32,
    /// `X-RateLimit-Remaining`: whole tokens left.
    pub remaining: u64,
    /// `X-RateLimit-Burst`.
    pub burst: u32,
    /// `Retry-After` when refused: whole seconds, at least 1.
    pub retry_after: u64,
}

#[derive(Clone, Copy)]
struct State {
    tokens: f64,
    at: Instant,
}

type Buckets = [Option<State>; 3];

const SHARDS: usize = 32;

pub struct IpLimiter {
    cfg: RushRateLimit,
    buckets: ShardedMap<String, Buckets>,
}

impl IpLimiter {
    pub fn new(cfg: &RushRateLimit) -> Self {
        Self {
            cfg: cfg.clone(),
            buckets: ShardedMap::new(SHARDS),
        }
    }

    fn bucket(&self, class: Class) -> RushBucket {
        match class {
            Class::Default => self.cfg.default,
            Class::Auth => self.cfg.auth,
            Class::Confirm => self.cfg.confirm,
        }
    }

    /// Takes a token from `ip`'s bucket of `class`; None when that class is
    /// not limited (no headers either).
    pub fn check(&self, ip: &str, class: Class, now: Instant) -> Option<Verdict> {
        let b = self.bucket(class);
        if !self.cfg.enabled || b.per_second == 0 {
            return None;
        }
        let rate = f64::from(b.per_second);
        let burst = f64::from(b.burst);
        let tokens = {
            let mut map = self.buckets.lock(ip);
            let slot = match map.get_mut(ip) {
                Some(s) => s,
                None => map.entry(ip.to_owned()).or_default(),
            };
            let st = slot[class as usize].get_or_insert(State {
                tokens: burst,
                at: now,
            });
            let elapsed = now.saturating_duration_since(st.at).as_secs_f64();
            st.tokens = (st.tokens + elapsed * rate).min(burst);
            st.at = now;
            let allowed = st.tokens >= 1.0;
            if allowed {
                st.tokens -= 1.0;
            }
            (allowed, st.tokens)
        };
        let (allowed, left) = tokens;
        let retry_after = if allowed {
            0
        } else {
            (((1.0 - left) / rate).ceil() as u64).max(1)
        };
        Some(Verdict {
            allowed,
            limit: b.per_second,
            remaining: left.max(0.0) as u64,
            burst: b.burst,
            retry_after,
        })
    }

    /// Forgets buckets that have refilled (a full bucket is a new one).
    pub fn purge(&self, now: Instant) {
        let full_after = |class: usize| {
            let b = [self.cfg.default, self.cfg.auth, self.cfg.confirm][class];
            std::time::Duration::from_secs_f64(f64::from(b.burst) / f64::from(b.per_second.max(1)))
        };
        self.buckets.retain(|_, buckets| {
            buckets.iter().enumerate().any(|(c, s)| {
                s.is_some_and(|s| now.saturating_duration_since(s.at) < full_after(c))
            })
        });
    }

    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter() -> IpLimiter {
        IpLimiter::new(&RushRateLimit {
            auth: RushBucket {
                per_second: 1,
                burst: 2,
            },
            ..RushRateLimit::default()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn per_ip_and_class_buckets_refill() {
        let l = limiter();
        let now = Instant::now();
        let a = l.check("10.0.0.1", Class::Auth, now).expect("limited");
        assert_eq!((a.allowed, a.remaining, a.limit, a.burst), (true, 1, 1, 2));
        assert!(l.check("10.0.0.1", Class::Auth, now).unwrap().allowed);
        let no = l.check("10.0.0.1", Class::Auth, now).unwrap();
        assert_eq!((no.allowed, no.remaining, no.retry_after), (false, 0, 1));
        // Other IPs and other classes have their own buckets.
        assert!(l.check("10.0.0.2", Class::Auth, now).unwrap().allowed);
        let d = l.check("10.0.0.1", Class::Default, now).unwrap();
        assert_eq!((d.allowed, d.limit, d.burst), (true, 1000, 100));
        // Retry-After is honest.
        tokio::time::advance(Duration::from_secs(no.retry_after)).await;
        assert!(
            l.check("10.0.0.1", Class::Auth, Instant::now())
                .unwrap()
                .allowed
        );
        // Refilled buckets are forgotten.
        tokio::time::advance(Duration::from_secs(10)).await;
        l.purge(Instant::now());
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn off_means_no_verdict() {
        let l = IpLimiter::new(&RushRateLimit {
            enabled: false,
            ..RushRateLimit::default()
        });
        assert_eq!(l.check("x", Class::Default, Instant::now()), None);
        let l = IpLimiter::new(&RushRateLimit {
            confirm: RushBucket {
                per_second: 0,
                burst: 0,
            },
            ..RushRateLimit::default()
        });
        assert_eq!(l.check("x", Class::Confirm, Instant::now()), None);
        assert!(l.check("x", Class::Default, Instant::now()).is_some());
    }
}
