//! Before an attempt leaves: the policy's throttle (every attempt, first
//! attempts included) and the budget's count of requests.

use super::User;
use crate::metrics::{AttemptLog, OpLog, StatusClass};
use crate::outcome::OpOutcome;
use crate::policy::{AttemptFlags, Verdict};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;
use tokio::time::Instant;

/// What the throttle let the next attempt do.
pub(super) enum Admission {
    Send,
    /// Send at this instant (a token is reserved for it).
    WaitUntil(Instant),
    /// Failed here, never sent: logged, and the operation is over.
    Rejected,
}

impl User<'_> {
    /// Ask the policy's throttle about the next attempt of `op` (`retries`
    /// made so far). A rejected attempt is logged as one that never left
    /// the generator ([`StatusClass::RejectedLocally`], counted in
    /// `not_sent`, out of amplification) and ends the operation as
    /// `REJECTED_LOCALLY`.
    pub(super) fn admit(&mut self, op: &mut OpLog, retries: u32) -> Admission {
        let Some(throttle) = super::super::ctx::limits(self.own.as_deref(), self.fleet).throttle
        else {
            return Admission::Send;
        };
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.ctx.start);
        // Seeded per decision, as the retry decisions are.
        let draw = SmallRng::seed_from_u64(
            self.ctx.seed
                ^ 0xA5A5_5A5A_0F0F_F0F0
                ^ self.arrival.index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (u64::from(self.op_seq) << 40)
                ^ (u64::from(retries) << 20),
        )
        .random::<f64>();
        let verdict = throttle.admit(elapsed, draw);
        match verdict {
            Verdict::Send => Admission::Send,
            Verdict::Wait(d) => Admission::WaitUntil(now + d),
            Verdict::Reject => {
                let retry = retries > 0;
                let step = op.step as usize;
                self.fleet.live.sent(step, retry);
                let mut log = AttemptLog::sent(elapsed, retry, AttemptFlags::default());
                log.answered(StatusClass::RejectedLocally, Duration::ZERO);
                op.attempts.push(log);
                self.fleet
                    .live
                    .answered(step, StatusClass::RejectedLocally, Duration::ZERO);
                op.outcome = OpOutcome::RejectedLocally;
                // A half-open breaker's probe that never went.
                self.guard.no_answer();
                Admission::Rejected
            }
        }
    }

    /// An attempt is about to be written at `at`: a first attempt is a
    /// request for the budget (Finagle's deposit).
    pub(super) fn requested(&self, retries: u32, at: Instant) {
        if retries > 0 {
            return;
        }
        if let Some(b) = super::super::ctx::limits(self.own.as_deref(), self.fleet).budget {
            b.request(at.saturating_duration_since(self.ctx.start));
        }
    }
}
