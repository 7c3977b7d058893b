//! Pacing on the target's rate-limit headers (`rate_limit_pacing`): after
//! an answer that said none is left, every request of the pacing scope
//! waits for the reset (see [`crate::policy::parse_rate_limit`]).

use super::{User, micros_since, wall_now};
use crate::policy::{RateLimitFields, Scope, paced_until, parse_rate_limit};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::time::Instant;

impl User<'_> {
    /// When the next request may go, if it must wait for a reset.
    pub(super) fn paced(&self) -> Option<Instant> {
        let pacing = self.fleet.policy.rate_limit_pacing?;
        let until_us = match pacing.scope {
            Scope::User => self.paced_until_us,
            Scope::Fleet | Scope::Process => self.fleet.paced_until.as_ref()?.load(Relaxed),
        };
        let at = self.ctx.start + Duration::from_micros(until_us);
        (until_us > 0 && at > Instant::now()).then_some(at)
    }

    /// An answer's rate-limit headers arrived.
    pub(super) fn saw_rate_limit(&mut self, fields: &RateLimitFields) {
        let Some(pacing) = self.fleet.policy.rate_limit_pacing else {
            return;
        };
        if fields.is_empty() {
            return;
        }
        let max = self.fleet.policy.max_retry_after;
        let seen = parse_rate_limit(fields, wall_now(self.ctx), max);
        let now = micros_since(self.ctx, Instant::now());
        match pacing.scope {
            Scope::User => self.paced_until_us = paced_until(self.paced_until_us, seen, now),
            Scope::Fleet | Scope::Process => {
                if let Some(slot) = &self.fleet.paced_until {
                    let _ =
                        slot.fetch_update(Relaxed, Relaxed, |p| Some(paced_until(p, seen, now)));
                }
            }
        }
    }
}
