//! One simulated user: a journey of steps, each step one logical operation
//! retried exactly as the cohort's policy decides.
//!
//! Everything the user measures goes into its own [`JourneyLog`], written as
//! it happens so that a journey cut short by the end of the run still hands
//! over every attempt it made.

use super::ctx::{CohortCtx, RoundCtx};
use crate::client::Failure;
use crate::metrics::{AttemptLog, JourneyEnd, JourneyLog, OpLog, StatusClass};
use crate::policy::{self, BreakerState, CircuitBreaker, Class, Decision, OpState, Outcome};
use crate::scenario::{Step, VAR_EVENT, VAR_ITERATION, VAR_QUANTITY, VAR_USER, VAR_ZONE};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Deserialize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Identifies one journey for op ids, RNG seeds and user selection.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub index: u64,
    pub cohort: usize,
    /// When it was due.
    pub intended: Instant,
}

/// The error envelope, as far as retry decisions need it.
#[derive(Deserialize)]
struct Envelope {
    error: Option<ErrorBody>,
}
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
}

fn envelope_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Envelope>(body)
        .ok()?
        .error?
        .code
        .filter(|c| !c.is_empty() && c.len() <= 64)
}

struct User<'a> {
    ctx: &'a RoundCtx,
    cohort: &'a CohortCtx,
    arrival: Arrival,
    vars: Vec<String>,
    auth: HeaderValue,
    rng: SmallRng,
    breaker: Option<CircuitBreaker>,
    breaker_opened_at: Option<Instant>,
    opens: u32,
    op_seq: u32,
}

/// Run `iterations` journeys for one user, handing each log to `sink`.
/// Stops early (logging what was in flight as cancelled) when the round's
/// hard deadline fires.
pub async fn run_user(
    ctx: &RoundCtx,
    arrival: Arrival,
    iterations: u64,
    think_time: Duration,
    sink: &mut (dyn FnMut(JourneyLog) + Send),
) {
    let cohort = &ctx.cohorts[arrival.cohort];
    let (user_id, auth) = ctx.identity(arrival.index);
    let mut vars = vec![String::new(); ctx.journey.vars.len()];
    vars[VAR_USER] = user_id;
    vars[VAR_EVENT] = ctx.journey.event.clone();
    vars[VAR_QUANTITY] = ctx.journey.quantity.to_string();
    let mut user = User {
        ctx,
        cohort,
        arrival,
        vars,
        auth,
        rng: SmallRng::seed_from_u64(ctx.seed ^ arrival.index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        breaker: cohort.policy.breaker.map(CircuitBreaker::new),
        breaker_opened_at: None,
        opens: 0,
        op_seq: 0,
    };
    let mut intended = arrival.intended;
    for it in 0..iterations {
        if it > 0 {
            if ctx.stopping() {
                break;
            }
            tokio::select! {
                _ = ctx.cancel.cancelled() => break,
                _ = tokio::time::sleep(think_time) => {}
            }
            intended = Instant::now();
        }
        user.vars[VAR_ITERATION] = it.to_string();
        let mut log = JourneyLog {
            cohort: arrival.cohort,
            schedule_lag: if it == 0 {
                Instant::now().saturating_duration_since(intended)
            } else {
                Duration::ZERO
            },
            intended_at: intended.saturating_duration_since(ctx.start),
            ..JourneyLog::default()
        };
        cohort.live.in_flight.fetch_add(1, Relaxed);
        let cancelled = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => true,
            _ = user.journey(intended, &mut log) => false,
        };
        cohort.live.in_flight.fetch_sub(1, Relaxed);
        if cancelled {
            log.end = JourneyEnd::Cancelled;
            if let Some(op) = log.ops.last_mut().filter(|op| op.outcome.is_empty()) {
                op.outcome = "CANCELLED".into();
                op.latency = Instant::now().saturating_duration_since(ctx.start + op.intended_at);
            }
        }
        user.close_breaker_window(&mut log);
        cohort.live.journeys_done.fetch_add(1, Relaxed);
        sink(log);
        if cancelled {
            break;
        }
    }
}

impl User<'_> {
    async fn journey(&mut self, intended: Instant, log: &mut JourneyLog) {
        let journey = &self.ctx.journey;
        let n = journey.zones.len();
        let first = (self.arrival.index as usize) % n;
        let mut op_intended = intended;
        for z in 0..n {
            self.vars[VAR_ZONE] = journey.zones[(first + z) % n].clone();
            match self.steps(&mut op_intended, log).await {
                StepsEnd::Done => {
                    log.end = JourneyEnd::Succeeded;
                    return;
                }
                StepsEnd::NextZone => continue,
                StepsEnd::Failed => {
                    log.end = JourneyEnd::Failed;
                    return;
                }
            }
        }
        log.end = JourneyEnd::SoldOut;
    }

    async fn steps(&mut self, op_intended: &mut Instant, log: &mut JourneyLog) -> StepsEnd {
        let ctx = self.ctx;
        for (i, step) in ctx.journey.steps.iter().enumerate() {
            if step.precheck.is_some() && !self.cohort.policy.precheck {
                continue;
            }
            if !step.think_time.is_zero() {
                tokio::time::sleep(step.think_time).await;
                *op_intended = Instant::now();
            }
            let body = self.operation(i, step, *op_intended, log).await;
            *op_intended = Instant::now();
            let op = log.ops.last().expect("operation logged");
            if !op.ok {
                if ctx.journey.next_zone_on.contains(&op.outcome) {
                    return StepsEnd::NextZone;
                }
                return StepsEnd::Failed;
            }
            if step.precheck.is_none() && step.captures.is_empty() {
                continue;
            }
            let Some(json) =
                body.and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            else {
                return StepsEnd::Failed;
            };
            if let Some(ptr) = &step.precheck {
                let available = json.pointer(ptr).and_then(|v| v.as_f64()).unwrap_or(0.0);
                if available < f64::from(ctx.journey.quantity) {
                    return StepsEnd::NextZone;
                }
            }
            for (var, ptr) in &step.captures {
                let v = match json.pointer(ptr) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(v) if !v.is_null() => v.to_string(),
                    _ => return StepsEnd::Failed,
                };
                self.vars[*var] = v;
            }
        }
        StepsEnd::Done
    }

    fn new_op_id(&mut self) -> String {
        self.op_seq += 1;
        format!(
            "{}-{}-{}-{}",
            self.ctx.run_tag, self.arrival.cohort, self.arrival.index, self.op_seq
        )
    }

    /// One logical operation, resubmitted as new operations by an impatient
    /// user. Returns the final 2xx body when there is one.
    async fn operation(
        &mut self,
        step_idx: usize,
        step: &Step,
        intended: Instant,
        log: &mut JourneyLog,
    ) -> Option<Bytes> {
        let policy = &self.cohort.policy;
        let mut intended = intended;
        let mut resubmits = 0;
        loop {
            log.ops.push(OpLog {
                step: step_idx,
                intended_at: intended.saturating_duration_since(self.ctx.start),
                latency: Duration::ZERO,
                outcome: String::new(),
                ok: false,
                attempts: Vec::new(),
                backoff: Duration::ZERO,
                retry_after_honoured: 0,
            });
            let result = match policy.abandon_after {
                Some(limit) if step.retry => {
                    let deadline = intended + limit;
                    let op = log.ops.last_mut().expect("just pushed");
                    tokio::time::timeout_at(deadline, self.attempts(step, op))
                        .await
                        .ok()
                }
                _ => {
                    let op = log.ops.last_mut().expect("just pushed");
                    Some(self.attempts(step, op).await)
                }
            };
            let op = log.ops.last_mut().expect("just pushed");
            op.latency = Instant::now().saturating_duration_since(intended);
            self.cohort.live.op_latency.record(op.latency);
            match result {
                Some(body) => {
                    let live = &self.cohort.live;
                    if op.ok { &live.ok } else { &live.failures }.fetch_add(1, Relaxed);
                    return body;
                }
                None => {
                    op.outcome = "ABANDONED".into();
                    self.cohort.live.failures.fetch_add(1, Relaxed);
                    if resubmits >= policy.max_resubmits {
                        return None;
                    }
                    resubmits += 1;
                    intended = Instant::now();
                }
            }
        }
    }

    /// The retry loop of one operation; fills `op` as it goes.
    async fn attempts(&mut self, step: &Step, op: &mut OpLog) -> Option<Bytes> {
        let ctx = self.ctx;
        let policy = &self.cohort.policy;
        let timeout = ctx.timeout_override.unwrap_or(policy.request_timeout);
        let method = Method::from_bytes(step.method.as_bytes()).unwrap_or(Method::GET);
        let path = step.path.render(&self.vars);
        let body = step
            .body
            .as_ref()
            .map(|t| Bytes::from(t.render(&self.vars)));
        let op_id = self.new_op_id();
        let op_header = HeaderValue::from_str(&op_id).ok();
        let mut key_seq = 0u32;
        let mut key = HeaderValue::from_str(&format!("{op_id}.k0")).ok();
        let mut state = OpState::default();
        loop {
            if let Some(b) = self.breaker.as_mut()
                && !b.allow(Instant::now())
            {
                op.outcome = "BREAKER_OPEN".into();
                return None;
            }
            let mut headers = HeaderMap::with_capacity(4);
            headers.insert(http::header::AUTHORIZATION, self.auth.clone());
            if let Some(v) = &op_header {
                headers.insert("x-stampede-op", v.clone());
            }
            if step.idempotent
                && let Some(k) = &key
            {
                headers.insert("idempotency-key", k.clone());
            }
            ctx.client.pace().await;
            let sent = Instant::now();
            self.cohort.live.attempts.fetch_add(1, Relaxed);
            let res = ctx
                .client
                .send(&method, &path, headers, body.clone(), timeout)
                .await;
            let latency = sent.elapsed();
            let code;
            let (outcome, class_label) = match &res {
                Ok(r) => {
                    code = if r.status >= 400 {
                        envelope_code(&r.body)
                    } else {
                        None
                    };
                    (
                        Outcome::Response {
                            status: r.status,
                            code: code.as_deref(),
                            retry_after: r.retry_after.as_deref(),
                        },
                        StatusClass::of_status(r.status),
                    )
                }
                Err(Failure::Timeout) => (Outcome::Timeout, StatusClass::Timeout),
                Err(Failure::Network(_)) => (Outcome::Network, StatusClass::Network),
            };
            op.attempts.push(AttemptLog {
                sent_at: sent.saturating_duration_since(ctx.start),
                latency,
                class: class_label,
                retry: state.retries > 0,
            });
            if matches!(
                class_label,
                StatusClass::S429 | StatusClass::S5xx | StatusClass::Timeout | StatusClass::Network
            ) {
                self.cohort.live.attempt_errors.fetch_add(1, Relaxed);
            }
            let class = policy::classify(&outcome);
            self.record_breaker(class);
            if let Some(budget) = &self.cohort.budget
                && let Ok(mut b) = budget.lock()
            {
                b.record(class == Class::Success);
            }
            if !step.retry {
                op.ok = class == Class::Success;
                op.outcome = outcome_code(&outcome, class);
                return if op.ok {
                    res.ok().map(|r| r.body)
                } else {
                    None
                };
            }
            let now = wall_now(ctx);
            match policy::decide(policy, &state, &outcome, now, &mut self.rng) {
                Decision::Stop(c) => {
                    op.ok = c == Class::Success;
                    op.outcome = outcome_code(&outcome, c);
                    return if op.ok {
                        res.ok().map(|r| r.body)
                    } else {
                        None
                    };
                }
                Decision::GiveUp(c) => {
                    op.outcome = if state.retries == 0 {
                        outcome_code(&outcome, c)
                    } else {
                        "GAVE_UP".into()
                    };
                    return None;
                }
                Decision::Retry {
                    delay,
                    fresh_key,
                    from_retry_after,
                    ..
                } => {
                    if let Some(budget) = &self.cohort.budget
                        && budget.lock().map(|b| !b.can_retry()).unwrap_or(false)
                    {
                        op.outcome = "BUDGET_EXHAUSTED".into();
                        return None;
                    }
                    op.retry_after_honoured += u32::from(from_retry_after);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                        op.backoff += delay;
                    }
                    if fresh_key {
                        key_seq += 1;
                        key = HeaderValue::from_str(&format!("{op_id}.k{key_seq}")).ok();
                    }
                    state.retries += 1;
                    state.prev_delay = delay;
                }
            }
        }
    }

    fn record_breaker(&mut self, class: Class) {
        let Some(b) = self.breaker.as_mut() else {
            return;
        };
        // A sold-out answer comes from a healthy server: only failures that
        // say the server is struggling count against the breaker.
        let failure = matches!(
            class,
            Class::RateLimited
                | Class::ServerError
                | Class::Unavailable
                | Class::Network
                | Class::Timeout
        );
        let now = Instant::now();
        if b.record(!failure, now) {
            self.breaker_opened_at.get_or_insert(now);
            self.opens += 1;
        } else if b.state() == BreakerState::Closed {
            self.breaker_opened_at = None;
        }
    }

    fn close_breaker_window(&mut self, log: &mut JourneyLog) {
        log.breaker_opens = std::mem::take(&mut self.opens);
        if let (Some(at), Some(cfg)) = (self.breaker_opened_at.take(), self.cohort.policy.breaker) {
            log.breaker_open_time = Instant::now()
                .saturating_duration_since(at)
                .min(cfg.open_for * log.breaker_opens.max(1));
        }
    }
}

enum StepsEnd {
    Done,
    NextZone,
    Failed,
}

/// The code an operation ended with, for outcome tables.
fn outcome_code(outcome: &Outcome<'_>, class: Class) -> String {
    if class == Class::Success {
        return "OK".into();
    }
    match outcome {
        Outcome::Response { code: Some(c), .. } => (*c).to_string(),
        Outcome::Response { status, .. } => format!("HTTP_{status}"),
        Outcome::Timeout => "TIMEOUT".into(),
        Outcome::Network => "NETWORK_ERROR".into(),
    }
}

/// Wall-clock now for HTTP-date Retry-After, derived from the monotonic
/// clock so paused-time tests stay consistent.
fn wall_now(ctx: &RoundCtx) -> SystemTime {
    ctx.wall_start + Instant::now().saturating_duration_since(ctx.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_code_reads_error_code_only() {
        assert_eq!(
            envelope_code(
                br#"{"success":false,"error":{"code":"TOO_MANY_REQUESTS","message":"x"}}"#
            )
            .as_deref(),
            Some("TOO_MANY_REQUESTS")
        );
        assert_eq!(envelope_code(b"<html>502 Bad Gateway</html>"), None);
        assert_eq!(envelope_code(b""), None);
        assert_eq!(envelope_code(br#"{"success":true,"data":{}}"#), None);
    }

    #[test]
    fn outcome_codes_fall_back_to_status() {
        let o = Outcome::Response {
            status: 502,
            code: None,
            retry_after: None,
        };
        assert_eq!(outcome_code(&o, Class::ServerError), "HTTP_502");
        let o = Outcome::Response {
            status: 409,
            code: Some("INSUFFICIENT_SEATS"),
            retry_after: None,
        };
        assert_eq!(outcome_code(&o, Class::Permanent), "INSUFFICIENT_SEATS");
        assert_eq!(outcome_code(&Outcome::Timeout, Class::Timeout), "TIMEOUT");
        let ok = Outcome::Response {
            status: 201,
            code: None,
            retry_after: None,
        };
        assert_eq!(outcome_code(&ok, Class::Success), "OK");
    }
}
