//! What decides whether and when a step runs, and what happens around it:
//! `when` and `share` conditions, pauses, the step's timeout, the session's
//! login run again on an expired token, and the outcome kept without the
//! user's secrets.

use super::User;
use crate::metrics::JourneyLog;
use crate::metrics::OpLog;
use crate::outcome::{Cause, Code, OpOutcome};
use crate::scenario::{
    BUILTIN_VARS, CheckExpect, Pause, Step, VAR_EVENT, VAR_ITERATION, VAR_QUANTITY, VAR_USER,
    VAR_ZONE,
};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::time::Instant;

/// A uniform draw in [0, 1) from a seed (SplitMix64's finaliser).
pub(super) fn unit(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// What the last settled operation's cause, read as the target sent it
/// (before scrubbing), means for the journey: stamped with the step it
/// belongs to and cleared when the next operation starts, so an outcome the
/// engine set itself (an abandoned or timed-out wait) is never judged by an
/// older answer. Four bytes: every waiting user holds one.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RawVerdict {
    /// 1 + the step index (a journey has at most 100 steps); 0: nothing
    /// settled in this operation yet.
    step: u16,
    next_zone: bool,
    refresh: bool,
}

impl RawVerdict {
    pub(super) fn of(user: &User<'_>, step: u32, raw: &OpOutcome) -> Self {
        let journey = &user.ctx.journey;
        let cause = raw.cause();
        let any = |ms: &[crate::outcome::CauseMatch]| {
            cause.is_some_and(|c| ms.iter().any(|m| c.matches(m)))
        };
        let refresh = journey
            .login
            .is_some_and(|l| any(&journey.steps[l].refresh_on));
        Self {
            step: u16::try_from(step.saturating_add(1)).unwrap_or(u16::MAX),
            next_zone: any(&journey.next_zone_on),
            refresh,
        }
    }

    /// The verdict for `op` of `step`, when it is the one last settled.
    fn for_op(self, step: usize, op: &OpLog) -> Option<Self> {
        (usize::from(self.step) == step + 1 && op.outcome.cause().is_some()).then_some(self)
    }
}

impl User<'_> {
    /// What a finished step means for the journey. The response checks,
    /// captures and pre-check verdict were read when the answer came (see
    /// `inspect`); `short`: the pre-check found too few seats.
    pub(super) fn after_step(&mut self, short: bool, log: &JourneyLog, step: usize) -> StepEnd {
        let journey = &self.ctx.journey;
        let Some(op) = log.ops.iter().rev().find(|o| o.step as usize == step) else {
            return StepEnd::Failed;
        };
        if !op.ok() {
            // A journey step (login, queue) is not about a zone: another
            // zone would not change its answer.
            if step < journey.zone_start {
                return StepEnd::Failed;
            }
            // The last cause decides, so a naive client that gave up on a
            // sold-out zone is sold out there too, and moves on.
            let sold_out = match self.raw.for_op(step, op) {
                Some(v) => v.next_zone,
                None => op
                    .outcome
                    .cause()
                    .is_some_and(|c| journey.next_zone_on.iter().any(|m| c.matches(m))),
            };
            return if sold_out {
                StepEnd::NextZone
            } else {
                StepEnd::Failed
            };
        }
        if short && step >= journey.zone_start {
            StepEnd::NextZone
        } else if short {
            StepEnd::Failed
        } else {
            StepEnd::Next
        }
    }

    fn journey_seed(&self) -> u64 {
        self.ctx.seed
            ^ self.arrival.index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ self.iteration.wrapping_mul(0xD6E8_FEB8_6659_FD93)
    }

    /// Does step `i` run in this journey? Pre-checks only for policies that
    /// pre-check; `when` on a variable's value; `share` by a draw per
    /// journey and group (the same draw for every step of one group, so
    /// their slices split the journeys).
    pub(super) fn runs(&self, step: &Step) -> bool {
        if step.precheck.is_some() && !self.fleet.policy.precheck {
            return false;
        }
        if let Some(w) = &step.when {
            let v = self.value_of(w.var);
            let ok = match &w.expect {
                // Values are text: the plan turned numbers and booleans into it.
                CheckExpect::Equals(want) => want.as_str() == Some(v.as_str()),
                CheckExpect::Exists(want) => v.is_empty() != *want,
            };
            if !ok {
                return false;
            }
        }
        if let Some(s) = &step.share {
            let u = unit(self.journey_seed() ^ s.group);
            if !(s.lo <= u && u < s.hi) {
                return false;
            }
        }
        true
    }

    /// The value of variable `id` now (for `when`).
    fn value_of(&self, id: usize) -> String {
        let ctx = self.ctx;
        let first_capture = BUILTIN_VARS.len() + ctx.journey.user_vars;
        match id {
            VAR_USER => ctx.identity(self.arrival.index).0,
            VAR_EVENT => ctx.journey.event.clone(),
            VAR_ZONE => ctx.journey.zones[self.zone as usize].clone(),
            VAR_QUANTITY => ctx.quantity.clone(),
            VAR_ITERATION => self.iteration.to_string(),
            _ if id < BUILTIN_VARS.len() => String::new(),
            _ if id < first_capture => ctx
                .user_values(self.arrival.index)
                .get(id - BUILTIN_VARS.len())
                .map_or(String::new(), |v| v.expose().to_string()),
            _ => self
                .captures
                .get(id - first_capture)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// One draw of `pause` for step `tag` on zone pass `pass`.
    pub(super) fn pause(&self, pause: &Pause, tag: u32, pass: u32) -> Duration {
        if pause.is_zero() {
            return Duration::ZERO;
        }
        if let Pause::Fixed(d) = pause {
            return *d;
        }
        let mut rng = SmallRng::seed_from_u64(
            self.journey_seed() ^ (u64::from(tag) << 32) ^ (u64::from(pass) << 52),
        );
        pause.sample(rng.random::<f64>())
    }

    /// The request timeout of one attempt of `step`: the step's, else the
    /// target's, else the policy's.
    pub(super) fn timeout(&self, step: &Step) -> Duration {
        step.timeout
            .or(self.ctx.timeout_override)
            .unwrap_or(self.fleet.policy.request_timeout)
    }

    /// Did `op` of `step` fail because the session expired (an answer the
    /// login step's `refresh_on` names), on a step after the login?
    pub(super) fn login_expired(&self, step: &Step, op: &OpLog) -> bool {
        let journey = &self.ctx.journey;
        let Some(login) = journey.login else {
            return false;
        };
        if op.step as usize <= login || op.ok() {
            return false;
        }
        if let Some(v) = self.raw.for_op(op.step as usize, op) {
            return v.refresh;
        }
        let Some(cause) = op.outcome.cause() else {
            return false;
        };
        let refresh = &journey.steps[login].refresh_on;
        let _ = step;
        refresh.iter().any(|m| cause.matches(m))
    }

    /// Run the login step again as its own operation; true when it succeeded.
    pub(super) async fn relogin(&mut self, log: &mut crate::metrics::JourneyLog) -> bool {
        let ctx = self.ctx;
        let Some(login) = ctx.journey.login else {
            return false;
        };
        let step = &ctx.journey.steps[login];
        let intended = Instant::now();
        // Its own operation id, apart from every other operation's: at most
        // one re-login per operation, so the expired one's seq with the top
        // bit set is unique.
        let seq = self.op_seq | 1 << 31;
        log.ops.push(OpLog::new(
            login,
            intended.saturating_duration_since(ctx.start),
        ));
        let Some(op) = log.ops.last_mut() else {
            return false;
        };
        let done = self.attempts(step, op, None, seq).await;
        op.latency = Instant::now().saturating_duration_since(intended);
        let live = &self.fleet.live;
        live.op_latency.record(op.latency);
        let ok = done.is_some() && op.ok();
        if ok { &live.ok } else { &live.failures }.fetch_add(1, Relaxed);
        ok
    }

    /// `outcome` as the report keeps it: a target code with the user's
    /// credentials and captured values replaced by `***` (a target that
    /// echoes a token back in an error code must not put it in a report).
    /// Classification has already read the code as sent.
    pub(super) fn scrubbed(&self, outcome: OpOutcome) -> OpOutcome {
        let fix = |c: Cause| match c {
            Cause::Code { status, code } => match Code::new(&self.scrub(code.as_str())) {
                Some(code) => Cause::Code { status, code },
                None => Cause::Status(status),
            },
            other => other,
        };
        match outcome {
            OpOutcome::Failed(c) => OpOutcome::Failed(fix(c)),
            OpOutcome::GaveUp(c) => OpOutcome::GaveUp(fix(c)),
            OpOutcome::StreamError(r) => OpOutcome::StreamError(self.scrub(&r).into()),
            other => other,
        }
    }

    /// `text` from the target without any secret this user holds: its
    /// token and users CSV row, every value the journey captured, every
    /// cookie the target set (see [`crate::engine::scrub`]).
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut secrets = Vec::new();
        self.ctx.secrets_of(self.arrival.index, &mut secrets);
        secrets.extend(self.captures.iter().cloned());
        secrets.extend(self.cookies.values().map(str::to_string));
        crate::engine::scrub::scrub(text, &secrets).into_owned()
    }
}

/// Where the journey goes after a step.
pub(super) enum StepEnd {
    Next,
    NextZone,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::unit;

    #[test]
    fn unit_draws_are_in_range_and_spread() {
        let draws: Vec<f64> = (0..10_000u64).map(unit).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let below = draws.iter().filter(|u| **u < 0.2).count();
        // 20% of 10,000 draws, within a wide band (binomial sd is 40).
        assert!((1_700..2_300).contains(&below), "{below}");
    }
}
