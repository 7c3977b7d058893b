//! `[sim.booking_rush]`: the knobs of the real Booking Rush API profile
//! (`[sim] api = "booking-rush"`). Each doc comment gives the real system's
//! value beside the default (the API reference; "not
//! in the spec" where the spec gives none). docs/simulator.md lists them all.

use crate::sim::SimError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One token bucket of the gateway's rate limiter: refill per second and
/// capacity. `per_second = 0` turns the class off (no limit, no headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RushBucket {
    pub per_second: u32,
    /// Capacity; at least 1 when the class is on.
    pub burst: u32,
}

/// The gateway's token buckets, one per client IP (the leftmost
/// `X-Forwarded-For`, else the peer address) and endpoint class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RushRateLimit {
    /// The limiter is on (real: on).
    pub enabled: bool,
    /// Every endpoint not listed below, unknown paths included (real:
    /// 1000/s, burst 100).
    pub default: RushBucket,
    /// `POST /api/v1/auth/*` (real: 20/s, burst 5).
    pub auth: RushBucket,
    /// `POST /api/v1/bookings/{id}/confirm` (real: 50/s, burst 10).
    pub confirm: RushBucket,
}

impl Default for RushRateLimit {
    fn default() -> Self {
        Self {
            enabled: true,
            default: RushBucket {
                per_second: 1000,
                burst: 100,
            },
            auth: RushBucket {
                per_second: 20,
                burst: 5,
            },
            confirm: RushBucket {
                per_second: 50,
                burst: 10,
            },
        }
    }
}

/// The Booking Rush profile's own knobs. The `[sim]` knobs that apply to
/// both profiles (`events`, `capacity`, `faults`, `connections`,
/// `max_tickets_per_user`, `reservation_ttl`, `public_availability`, ...)
/// stay in `[sim]`; docs/simulator.md says which ones this profile reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookingRushConfig {
    /// Every email logs in with this password (real: each account's own;
    /// `scenarios/booking-rush-users.csv` uses this default).
    pub password: String,
    /// Access token lifetime (real: 15 minutes).
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Refresh token lifetime (not in the spec: 7 days).
    #[serde(with = "humantime_serde")]
    pub refresh_ttl: Duration,
    /// Price of one ticket when the reserve body has no `unit_price` (real:
    /// the zone's price; not in the spec).
    pub unit_price: f64,
    /// How often the browsing read model (`available_seats`) copies the
    /// live inventory: browsing reads a number up to this old (real:
    /// updated asynchronously, lag not in the spec). 0 = the live count.
    #[serde(with = "humantime_serde")]
    pub availability_refresh: Duration,
    /// Queue passes outstanding (issued, unused, unexpired) at once (real:
    /// 500).
    pub max_passes: u32,
    /// Queue pass lifetime (real: 5 minutes).
    #[serde(with = "humantime_serde")]
    pub pass_ttl: Duration,
    /// Reserve needs a valid pass in the body and uses it up (real: one-shot
    /// when enforced). Off, a pass in the body is ignored.
    pub enforce_pass: bool,
    /// How often the release worker lets users out (not in the spec: 1 s).
    #[serde(with = "humantime_serde")]
    pub release_interval: Duration,
    /// Users let out per run of the release worker at most; 0 = as many as
    /// `max_passes` allows (not in the spec).
    pub release_batch: u32,
    /// A user is let out at the earliest this long after joining (real: no
    /// such wait; 0). Makes a short drop queue as a long one would.
    #[serde(with = "humantime_serde")]
    pub min_queue_time: Duration,
    /// A queue entry not let out within this is dropped (real: 30 minutes).
    #[serde(with = "humantime_serde")]
    pub queue_entry_ttl: Duration,
    /// Users waiting in one event's queue at most; beyond it join is 409
    /// `QUEUE_FULL` (not in the spec: 0 = unbounded).
    pub queue_capacity: u32,
    /// A position frame this often on the SSE stream (not in the spec: 1 s).
    #[serde(with = "humantime_serde")]
    pub sse_interval: Duration,
    /// `event: error` `{"event":"timeout"}` and the end of the stream after
    /// this (real: 5 minutes).
    #[serde(with = "humantime_serde")]
    pub sse_timeout: Duration,
    /// A `: keep-alive` comment after this long without a write (real: 15 s).
    #[serde(with = "humantime_serde")]
    pub sse_keepalive: Duration,
    /// A `retry:` field (milliseconds) in each stream's first frame (real:
    /// none).
    #[serde(default, with = "humantime_serde::option")]
    pub sse_retry: Option<Duration>,
    /// An idempotency key stays `processing` this long at most (real: 60 s).
    #[serde(with = "humantime_serde")]
    pub idempotency_processing: Duration,
    /// A finished answer is replayed to the same key this long (real: 5 min).
    #[serde(with = "humantime_serde")]
    pub idempotency_replay: Duration,
    /// The gateway answers 504 `GATEWAY_TIMEOUT` to a booking request whose
    /// answer takes longer (real: 30 s); the work goes on.
    #[serde(with = "humantime_serde")]
    pub gateway_timeout: Duration,
    pub rate_limit: RushRateLimit,
}

impl Default for BookingRushConfig {
    fn default() -> Self {
        Self {
            password: "correct-horse".into(),
            token_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            unit_price: 50.0,
            availability_refresh: Duration::from_secs(1),
            max_passes: 500,
            pass_ttl: Duration::from_secs(5 * 60),
            enforce_pass: true,
            release_interval: Duration::from_secs(1),
            release_batch: 0,
            min_queue_time: Duration::ZERO,
            queue_entry_ttl: Duration::from_secs(30 * 60),
            queue_capacity: 0,
            sse_interval: Duration::from_secs(1),
            sse_timeout: Duration::from_secs(5 * 60),
            sse_keepalive: Duration::from_secs(15),
            sse_retry: None,
            idempotency_processing: Duration::from_secs(60),
            idempotency_replay: Duration::from_secs(5 * 60),
            gateway_timeout: Duration::from_secs(30),
            rate_limit: RushRateLimit::default(),
        }
    }
}

fn bad(key: &str, why: &str) -> SimError {
    SimError::Config(format!("booking_rush.{key}: {why}"))
}

impl BookingRushConfig {
    /// The durations that must be more than zero, by key.
    pub fn positive_durations(&self) -> [(&'static str, Duration); 11] {
        [
            ("token_ttl", self.token_ttl),
            ("refresh_ttl", self.refresh_ttl),
            ("pass_ttl", self.pass_ttl),
            ("release_interval", self.release_interval),
            ("queue_entry_ttl", self.queue_entry_ttl),
            ("sse_interval", self.sse_interval),
            ("sse_timeout", self.sse_timeout),
            ("sse_keepalive", self.sse_keepalive),
            ("idempotency_processing", self.idempotency_processing),
            ("idempotency_replay", self.idempotency_replay),
            ("gateway_timeout", self.gateway_timeout),
        ]
    }

    pub(crate) fn validate(&self) -> Result<(), SimError> {
        if self.password.is_empty() {
            return Err(bad("password", "must not be empty"));
        }
        for (key, d) in self.positive_durations() {
            if d.is_zero() {
                return Err(bad(key, "must be > 0"));
            }
        }
        if self.max_passes == 0 {
            return Err(bad("max_passes", "must be > 0"));
        }
        if !(self.unit_price.is_finite() && self.unit_price >= 0.0) {
            return Err(bad("unit_price", "must be a finite number >= 0"));
        }
        let r = &self.rate_limit;
        for (key, b) in [
            ("rate_limit.default", r.default),
            ("rate_limit.auth", r.auth),
            ("rate_limit.confirm", r.confirm),
        ] {
            if b.per_second > 0 && b.burst == 0 {
                return Err(bad(
                    &format!("{key}.burst"),
                    "must be > 0 when per_second is",
                ));
            }
        }
        Ok(())
    }
}
