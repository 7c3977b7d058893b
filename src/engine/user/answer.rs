//! What an answer (or its absence) does to the operation: the attempt's
//! log completed, the live counters, and the settlement of the policy
//! ([`policy::settle`]: no I/O and no clock of its own, it records the
//! answer in the breaker, budget and throttle and decides) turned into the
//! loop's next step.

use super::super::run_secrets;
use super::super::step_io::{Inspected, inspect};
use super::flow::RawVerdict;
use super::{Next, User, micros_since, wall_now};
use crate::client::{Failure, Response};
use crate::metrics::{OpLog, StatusClass};
use crate::outcome::Code;
use crate::policy::{self, Answer, Clock, OpState, Settlement};
use crate::scenario::{BUILTIN_VARS, Step};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::sync::atomic::Ordering::Relaxed;
use tokio::time::Instant;

/// The default places of an error answer's code: the nested envelope
/// (`{"error":{"code":…}}`) and the flat one (`{"error":"…","code":…}`).
pub const DEFAULT_ERROR_CODE: &[&str] = &["/error/code", "/code"];

/// The code of an error answer at the first of `pointers` that holds a
/// string (an HTML 502 from a proxy or an empty 503 has none). Long codes
/// are cut (see [`Code::new`]).
pub fn error_code<S: AsRef<str>>(body: &[u8], pointers: &[S]) -> Option<Code> {
    Code::new(&raw_error_code(body, pointers)?)
}

/// The default envelopes' code (see [`DEFAULT_ERROR_CODE`]).
pub fn envelope_code(body: &[u8]) -> Option<Code> {
    error_code(body, DEFAULT_ERROR_CODE)
}

/// The code exactly as sent, before it is scrubbed and cut.
pub(super) fn raw_error_code<S: AsRef<str>>(body: &[u8], pointers: &[S]) -> Option<String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    pointers.iter().find_map(|p| match v.pointer(p.as_ref()) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

impl User<'_> {
    /// The step's secret-named captures ([`run_secrets::secretish`]), or
    /// every capture of a step marked `secret = true`, are the run's
    /// secrets from now on.
    fn register_secret_captures(&self, step: &Step, first: usize) {
        let vars = &self.ctx.journey.vars;
        for (var, ptr) in &step.captures {
            let name = vars.get(*var).map_or("", String::as_str);
            if (step.secret || run_secrets::secretish(name, ptr))
                && let Some(v) = var.checked_sub(first).and_then(|i| self.captures.get(i))
            {
                self.ctx.secrets.add(v);
            }
        }
    }

    /// Complete the attempt's log and settle it (no awaits: nothing here
    /// lives on while the user waits). The decision itself is
    /// [`policy::settle`], which also records the answer in the user's
    /// breaker and the policy's budget and throttle.
    pub(super) fn after_attempt(
        &mut self,
        step: &Step,
        op: &mut OpLog,
        state: &OpState,
        sent: Instant,
        res: Result<Response, Failure>,
        at: usize,
    ) -> Next {
        let ctx = self.ctx;
        let latency = sent.elapsed();
        if let Ok(r) = &res {
            for c in &r.set_cookies {
                // A cookie is the run's secret, whoever's answer echoes it
                // (registered once per new value).
                if let Some(v) = self.cookies.set(c.as_bytes()) {
                    ctx.secrets.add(v);
                }
            }
            self.saw_rate_limit(&r.rate_limit);
            if (r.status == 429 || r.status >= 500)
                && let Some(wait) = r
                    .retry_after
                    .as_deref()
                    .and_then(|v| policy::parse_retry_after(v, wall_now(ctx)))
            {
                self.told_to_wait_until_us = micros_since(ctx, Instant::now() + wait);
            }
        }
        // Classified as sent; scrubbed of the user's credentials (and what
        // the journey captured) only where it is kept, in the outcome.
        let code = match &res {
            Ok(r) if r.status >= 400 => {
                raw_error_code(&r.body, &ctx.error_code).and_then(|c| Code::new(&c))
            }
            _ => None,
        };
        // Did the target maybe act on it? Then a new key may book twice.
        let ambiguous = match &res {
            Ok(r) => {
                r.status >= 500
                    || code.as_ref().is_some_and(|c| {
                        self.fleet
                            .policy
                            .ambiguous_codes
                            .iter()
                            .any(|a| a == c.as_str())
                    })
            }
            Err(Failure::Timeout) => true,
            Err(Failure::Net(n)) => matches!(
                n,
                crate::outcome::NetError::Reset
                    | crate::outcome::NetError::Closed
                    | crate::outcome::NetError::InvalidResponse
                    | crate::outcome::NetError::Other
            ),
        };
        let (answer, class) = match &res {
            Ok(r) => (
                Answer::Response {
                    status: r.status,
                    code: code.as_ref(),
                    retry_after: r.retry_after.as_deref(),
                    pushback: r.pushback.as_deref(),
                },
                StatusClass::of_status(r.status),
            ),
            Err(Failure::Timeout) => (Answer::Timeout, StatusClass::Timeout),
            Err(Failure::Net(n)) => (Answer::Net(*n), StatusClass::of_net(*n)),
        };
        if let Some(a) = op.attempts.get_mut(at) {
            a.answered(class, latency);
        }
        self.fleet.live.answered(op.step as usize, class, latency);
        if let Ok(r) = &res {
            self.fleet.live.status(r.status);
        }
        if matches!(
            class,
            StatusClass::S429
                | StatusClass::S5xx
                | StatusClass::Timeout
                | StatusClass::Network
                | StatusClass::InvalidResponse
                | StatusClass::NotSent
        ) {
            self.fleet.live.attempt_errors.fetch_add(1, Relaxed);
        }
        // Seeded per decision from (run seed, user, operation, retry): the
        // same scenario replays the same jitter, and no RNG state has to
        // live in every waiting user.
        let mut rng = SmallRng::seed_from_u64(
            ctx.seed
                ^ self.arrival.index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (u64::from(self.op_seq) << 40)
                ^ (u64::from(state.retries) << 20),
        );
        let now = Instant::now();
        let clock = Clock {
            now,
            wall: wall_now(ctx),
            elapsed: now.saturating_duration_since(ctx.start),
        };
        let limits = super::super::ctx::limits(self.own.as_deref(), self.fleet);
        let settlement = policy::settle(
            &self.fleet.policy,
            step.retry,
            state,
            &answer,
            &mut self.guard,
            limits,
            clock,
            &mut rng,
        );
        match settlement {
            Settlement::Done(outcome) => {
                // A 2xx is success only once the step's checks agree; the
                // outcome is rewritten here, before anything counts it.
                let mut short = false;
                let raw = match (&res, outcome.is_ok()) {
                    (Ok(r), true) => {
                        let first = BUILTIN_VARS.len() + ctx.journey.user_vars;
                        let q = ctx.journey.quantity;
                        let asked = r
                            .retry_after
                            .as_deref()
                            .and_then(|v| policy::parse_retry_after(v, wall_now(ctx)));
                        let io = (r.status, &r.body[..], asked);
                        match inspect(step, io, q, &mut self.captures, first) {
                            Inspected::Ok { short: s } => {
                                short = s;
                                self.register_secret_captures(step, first);
                                outcome
                            }
                            Inspected::Pending { delay, early } => {
                                return Next::Poll { delay, early };
                            }
                            Inspected::Failed(o) => o,
                        }
                    }
                    _ => outcome,
                };
                // What the journey does next is decided on the code as sent;
                // only what is kept is scrubbed.
                self.raw = RawVerdict::of(self, op.step, &raw);
                op.outcome = self.scrubbed(raw);
                Next::Done(short)
            }
            Settlement::Retry {
                delay,
                fresh_key,
                flags,
                next,
            } => Next::Wait {
                delay,
                fresh_key,
                flags,
                ambiguous,
                next,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_code_reads_error_code_only() {
        assert_eq!(
            envelope_code(
                br#"{"success":false,"error":{"code":"TOO_MANY_REQUESTS","message":"x"}}"#
            ),
            Code::new("TOO_MANY_REQUESTS")
        );
        // Escapes are decoded; long codes are cut, never dropped.
        assert_eq!(
            envelope_code(br#"{"error":{"code":"A\u0042"}}"#),
            Code::new("AB")
        );
        let long = format!(r#"{{"error":{{"code":"{}"}}}}"#, "X".repeat(500));
        assert_eq!(
            envelope_code(long.as_bytes()).map(|c| c.as_str().len()),
            Some(crate::outcome::MAX_CODE_LEN)
        );
        assert_eq!(envelope_code(b"<html>502 Bad Gateway</html>"), None);
        assert_eq!(envelope_code(b""), None);
        assert_eq!(envelope_code(br#"{"success":true,"data":{}}"#), None);
    }
}
