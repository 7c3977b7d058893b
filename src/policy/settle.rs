//! The settlement of one attempt: everything that is decided once an answer
//! (or its absence) is in, as one function of the policy, the step, the
//! operation's state and the answer. It records the answer in the breaker,
//! budget and throttle it is handed (their state is the caller's data, the
//! clock and the random draw passed in) and returns the decision; it reads
//! no clock and does no I/O.
//!
//! The engine's async loop only sleeps, sends and records; whether the
//! operation is over, with which [`OpOutcome`], or when it goes again and
//! with which counters, is decided here and table-tested without a network.
//! Classification and Retry-After parsing happen exactly once per attempt.

use super::{
    Answered, BudgetState, CircuitBreaker, Class, Decision, OpState, Outcome, Pushback,
    RetryPolicy, RetryScope, ThrottleState, classify_for, decide, parse_pushback,
    parse_retry_after,
};
use crate::outcome::{Cause, Code, NetError, OpOutcome};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// What one attempt came back with, as the transport saw it.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    Response {
        status: u16,
        /// `error.code` of the error envelope, when the body had one.
        code: Option<&'a Code>,
        /// Raw `Retry-After` header value.
        retry_after: Option<&'a str>,
        /// Raw `grpc-retry-pushback-ms` header value.
        pushback: Option<&'a str>,
    },
    Timeout,
    Net(NetError),
}

impl Answer<'_> {
    fn outcome(&self) -> Outcome<'_> {
        match *self {
            Answer::Response {
                status,
                code,
                retry_after,
                ..
            } => Outcome::Response {
                status,
                code: code.map(Code::as_str),
                retry_after,
            },
            Answer::Timeout => Outcome::Timeout,
            Answer::Net(_) => Outcome::Network,
        }
    }

    fn cause(&self) -> Cause {
        match *self {
            Answer::Response { status, code, .. } => Cause::of_response(status, code.cloned()),
            Answer::Timeout => Cause::Timeout,
            Answer::Net(n) => Cause::Net(n),
        }
    }
}

/// Per-user state the settlement reads and updates: the guidelines' circuit
/// breaker and what the report needs of it.
#[derive(Debug, Clone, Default)]
pub struct UserGuard {
    pub breaker: Option<CircuitBreaker>,
    /// When the breaker last went from closed to open (cleared when it closes).
    pub opened_at: Option<Instant>,
    /// Times the breaker opened.
    pub opens: u32,
}

impl UserGuard {
    pub fn new(breaker: Option<CircuitBreaker>) -> Self {
        Self {
            breaker,
            ..Self::default()
        }
    }

    /// An attempt that was let out ended with no answer to record (the
    /// person abandoned it, its header could not be sent): a half-open
    /// breaker may probe again.
    pub fn no_answer(&mut self) {
        if let Some(b) = self.breaker.as_mut() {
            b.end_probe();
        }
    }

    /// May an attempt go out now (moves an open breaker to half-open once
    /// its time is up)?
    pub fn allow(&mut self, now: Instant) -> bool {
        self.breaker.as_mut().is_none_or(|b| b.allow(now))
    }

    pub(crate) fn record(&mut self, class: Class, now: Instant) {
        let Some(b) = self.breaker.as_mut() else {
            return;
        };
        // A success, or a sold-out answer from a healthy server, closes the
        // count; a failure the breaker is set to count (`breaker.counts`)
        // adds to it; any other (a 429 by default) leaves it as it is.
        let ok = match class {
            Class::Success | Class::Permanent => true,
            c if b.counts().counts(c) => false,
            _ => {
                b.end_probe();
                return;
            }
        };
        if b.record(ok, now) {
            self.opened_at.get_or_insert(now);
            self.opens += 1;
        } else if b.state() == super::BreakerState::Closed {
            self.opened_at = None;
        }
    }
}

/// Counters carried by a retry, counted when (and only if) it is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptFlags {
    /// The wait before it was the server's Retry-After.
    pub honoured: bool,
    /// It goes sooner than the Retry-After the server asked for.
    pub early: bool,
}

/// What happens after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// The operation is over.
    Done(OpOutcome),
    /// Wait `delay`, then send the next attempt with `flags` from `next`.
    Retry {
        delay: Duration,
        fresh_key: bool,
        flags: AttemptFlags,
        /// The operation's state for the next attempt.
        next: OpState,
    },
}

/// The client-side state an attempt's settlement reads and updates beyond
/// the user's breaker: the budget and the throttle, wherever their scope
/// keeps them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits<'a> {
    pub budget: Option<&'a BudgetState>,
    pub throttle: Option<&'a ThrottleState>,
}

/// The instant an answer arrived, on each clock the decisions use.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Monotonic (the breaker).
    pub now: Instant,
    /// Wall clock (HTTP-date Retry-After values).
    pub wall: SystemTime,
    /// Since the round began (budget windows, throttles).
    pub elapsed: Duration,
}

/// Settle one attempt of an operation.
///
/// `retry_step`: whether the step uses the retry policy at all (a step with
/// `retry = false` stops on its first answer). `limits` are the policy's
/// budget and throttle, `guard` the user's breaker.
///
/// Order: the answer is recorded everywhere first (breaker, budget,
/// throttle), then the policy decides; a retry it wants is then asked of
/// the breaker (would it be open when the retry is due?) and last of the
/// budget, which pays for the retry only when it will be sent.
#[allow(clippy::too_many_arguments)]
pub fn settle<R: rand::Rng + ?Sized>(
    policy: &RetryPolicy,
    retry_step: bool,
    state: &OpState,
    answer: &Answer<'_>,
    guard: &mut UserGuard,
    limits: Limits<'_>,
    clock: Clock,
    rng: &mut R,
) -> Settlement {
    let outcome = answer.outcome();
    let class = classify_for(policy, &outcome);
    guard.record(class, clock.now);
    let (asked, pushback) = hints(policy, answer, clock.wall);
    record(policy, state, class, pushback, limits, clock.elapsed);
    let decision = if retry_step {
        decide(policy, state, class, asked, pushback, rng)
    } else if matches!(class, Class::Success | Class::Permanent) {
        Decision::Stop(class)
    } else {
        Decision::GiveUp(class)
    };
    match decision {
        Decision::Stop(Class::Success) => Settlement::Done(OpOutcome::Ok),
        Decision::Stop(_) => Settlement::Done(OpOutcome::Failed(answer.cause())),
        Decision::GiveUp(_) if state.retries == 0 => {
            Settlement::Done(OpOutcome::Failed(answer.cause()))
        }
        Decision::GiveUp(_) => Settlement::Done(OpOutcome::GaveUp(answer.cause())),
        Decision::Retry {
            delay,
            fresh_key,
            from_retry_after,
            pushback,
            ..
        } => {
            // Sleeping out the delay only to find the breaker still open
            // would inflate the operation's latency by a wait for nothing.
            if let Some(b) = &guard.breaker
                && !b.would_allow(clock.now + delay)
            {
                return Settlement::Done(OpOutcome::BreakerOpen);
            }
            let charged = match limits.budget {
                Some(b) => match b.try_retry(class, clock.elapsed) {
                    Some(c) => c,
                    None => return Settlement::Done(OpOutcome::BudgetExhausted),
                },
                None => 0,
            };
            let retries = state.retries.saturating_add(1);
            Settlement::Retry {
                delay,
                fresh_key,
                flags: AttemptFlags {
                    honoured: from_retry_after,
                    early: asked.is_some_and(|a| delay < a),
                },
                next: OpState {
                    retries,
                    prev_delay: delay,
                    backoff_from: if pushback {
                        u16::try_from(retries).unwrap_or(u16::MAX)
                    } else {
                        state.backoff_from
                    },
                    charged,
                },
            }
        }
    }
}

/// What the server said about retrying, parsed once: its Retry-After, and
/// its gRPC pushback when the policy reads one.
fn hints(
    policy: &RetryPolicy,
    answer: &Answer<'_>,
    wall: SystemTime,
) -> (Option<Duration>, Option<Pushback>) {
    match *answer {
        Answer::Response {
            retry_after,
            pushback,
            ..
        } => (
            retry_after.and_then(|v| parse_retry_after(v, wall)),
            pushback.filter(|_| policy.pushback).map(parse_pushback),
        ),
        _ => (None, None),
    }
}

/// The answer, as the budget and the throttle count it. A failure the
/// budget counts is one the policy would retry (gRFC A6: a retryable
/// status, not a malformed request) or a pushback that says stop.
fn record(
    policy: &RetryPolicy,
    state: &OpState,
    class: Class,
    pushback: Option<Pushback>,
    limits: Limits<'_>,
    elapsed: Duration,
) {
    if let Some(t) = limits.throttle {
        t.record(class, elapsed);
    }
    let Some(b) = limits.budget else {
        return;
    };
    let failure = match class {
        Class::Success => {
            b.answered(Answered::Success {
                charged: state.charged,
            });
            return;
        }
        Class::Permanent => policy.retry == RetryScope::Everything,
        _ => true,
    };
    b.answered(if failure || pushback == Some(Pushback::Stop) {
        Answered::Failure
    } else {
        Answered::Neutral
    });
}

#[cfg(test)]
mod tests;
