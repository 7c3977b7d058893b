//! A wait step on a Server-Sent Events stream: open it, read events as they
//! come, end on the event whose data satisfies the step's `until` (its
//! captures read that data), and reconnect when the server ends the stream
//! first (its `retry:` honoured, `Last-Event-ID` sent, else a jittered
//! backoff), counting every connection as one attempt the target saw.
//!
//! An answer that is not a stream (a 429, a 404 `NOT_IN_QUEUE`, a 5xx) is
//! settled by the policy like any other attempt. `event: error` ends the
//! wait as `SSE_ERROR:<reason>`; a stream that ends with no reconnect left is
//! `SSE_CLOSED`; the step's `max_wait` is its `timeout_outcome` (decided by
//! the caller when this returns `None`).

use super::{Inspected, Next, User, inspect};
use crate::client::{Failure, Opened, QueueWait};
use crate::metrics::{AttemptLog, OpLog, StatusClass};
use crate::outcome::{Cause, MAX_CODE_LEN, OpOutcome};
use crate::policy::{AttemptFlags, OpState};
use crate::scenario::{BUILTIN_VARS, SseWait, Step};
use http::HeaderValue;
use std::time::Duration;
use tokio::time::Instant;

/// How the stream of one connection ended.
enum Ended {
    /// The awaited event came, or the operation is otherwise over.
    Done,
    /// The server ended the stream (cleanly, or with a transport error).
    Closed(Option<Failure>),
    /// `max_wait` came first.
    Expired,
}

impl User<'_> {
    /// Wait on `step`'s event stream until its event, an error event, the
    /// last reconnect, or `deadline` (then `None`). Fills `op` as it goes.
    pub(super) async fn stream(
        &mut self,
        step: &Step,
        op: &mut OpLog,
        deadline: Option<Instant>,
        seq: u32,
        intended: Instant,
    ) -> Option<bool> {
        let sse = step.wait.as_ref()?.sse.as_ref()?;
        let mut state = OpState::default();
        let mut flags = AttemptFlags::default();
        let mut reconnects = 0u32;
        let mut last_id: Option<String> = None;
        // The server's `retry:` holds across connections until a later
        // stream changes it (WHATWG: the reconnection time persists).
        let mut server_retry: Option<Duration> = None;
        loop {
            if !self.guard.allow(Instant::now()) {
                op.outcome = OpOutcome::BreakerOpen;
                return Some(false);
            }
            match self.admit(op, state.retries) {
                super::admit::Admission::Send => {}
                super::admit::Admission::Rejected => return Some(false),
                super::admit::Admission::WaitUntil(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    if !self.sleep_within(op, wait, deadline, false).await {
                        self.guard.no_answer();
                        return None;
                    }
                }
            }
            self.ctx.client.pace().await;
            let Some((path, body, mut headers)) = self.request(step, seq, 0, state.retries + 1)
            else {
                self.guard.no_answer();
                op.outcome = OpOutcome::InvalidHeader;
                return Some(false);
            };
            if let Some(id) = last_id
                .as_deref()
                .and_then(|i| HeaderValue::from_str(i).ok())
            {
                headers.insert("last-event-id", id);
            }
            let sent = Instant::now();
            self.requested(state.retries, sent);
            let retry = state.retries > 0;
            self.fleet.live.sent(op.step as usize, retry);
            op.attempts.push(AttemptLog::sent(
                sent.saturating_duration_since(self.ctx.start),
                retry,
                flags,
            ));
            let timeout = self.timeout(step);
            let queued = QueueWait::default();
            let open = self.ctx.client.open_stream_queued(
                &step.method,
                &path,
                headers,
                body,
                timeout,
                &queued,
            );
            let opened = match deadline {
                Some(d) => tokio::time::timeout_at(d, open).await.ok(),
                None => Some(open.await),
            };
            // Attempt latency runs from when the request could be written.
            let waited = queued.since(sent, Instant::now());
            let sent = sent + waited;
            if let Some(a) = op.attempts.last_mut() {
                a.set_queue_wait(waited);
            }
            let Some(opened) = opened else {
                self.guard.no_answer();
                self.end_attempt(op, StatusClass::Abandoned, sent);
                return None;
            };
            let (es, answer) = match opened {
                Ok(Opened::Stream(es)) => (Some(es), None),
                Ok(Opened::Answer(r)) => (None, Some(Ok(r))),
                Err(f) => (None, Some(Err(f))),
            };
            if let Some(res) = answer {
                if res.as_ref().is_ok_and(|r| (200..300).contains(&r.status)) {
                    // A 2xx that is not an event stream cannot end the wait.
                    self.end_attempt(op, StatusClass::S2xx, sent);
                    op.outcome = OpOutcome::CheckFailed("content-type: text/event-stream".into());
                    return Some(false);
                }
                // An error answer or no answer: the policy decides, as for
                // any attempt.
                let at = op.attempts.len().saturating_sub(1);
                match self.after_attempt(step, op, &state, sent, res, at) {
                    Next::Done(short) => return Some(short),
                    Next::Poll { .. } => return Some(false),
                    Next::Wait {
                        delay,
                        flags: f,
                        next,
                        ..
                    } => {
                        state = next;
                        flags = f;
                        if !self.sleep_within(op, delay, deadline, true).await {
                            return None;
                        }
                        continue;
                    }
                }
            }
            let Some(mut es) = es else { continue };
            // A stream that opened is a healthy answer for the breaker.
            self.guard
                .record(crate::policy::Class::Success, Instant::now());
            let status = es.status();
            let ended = loop {
                let next = match deadline {
                    Some(d) => match tokio::time::timeout_at(d, es.next_event()).await {
                        Ok(n) => n,
                        Err(_) => break Ended::Expired,
                    },
                    None => es.next_event().await,
                };
                let event = match next {
                    Ok(Some(e)) => e,
                    Ok(None) => break Ended::Closed(None),
                    Err(f) => break Ended::Closed(Some(f)),
                };
                if op.first_event().is_none() {
                    op.set_first_event(Instant::now().saturating_duration_since(intended));
                }
                if event.event == "error" {
                    op.outcome =
                        self.scrubbed(OpOutcome::StreamError(reason(sse, &event.data).into()));
                    break Ended::Done;
                }
                if sse.event.as_deref().is_some_and(|want| want != event.event) {
                    continue;
                }
                let first = BUILTIN_VARS.len() + self.ctx.journey.user_vars;
                let q = self.ctx.journey.quantity;
                let io = (status, event.data.as_bytes(), None);
                match inspect(step, io, q, &mut self.captures, first) {
                    Inspected::Ok { .. } => {
                        op.outcome = OpOutcome::Ok;
                        break Ended::Done;
                    }
                    // Not the event that ends the wait (or not JSON): read on.
                    Inspected::Pending { .. } | Inspected::Failed(OpOutcome::NotJson) => {}
                    Inspected::Failed(o) => {
                        op.outcome = o;
                        break Ended::Done;
                    }
                }
            };
            if let Some(r) = es.retry() {
                server_retry = Some(r);
            }
            if let Some(id) = es.last_event_id() {
                last_id = Some(id.to_string());
            }
            drop(es);
            match ended {
                Ended::Done => {
                    self.end_attempt(op, StatusClass::S2xx, sent);
                    return Some(false);
                }
                Ended::Expired => {
                    self.end_attempt(op, StatusClass::S2xx, sent);
                    return None;
                }
                Ended::Closed(failure) => {
                    let class = match failure {
                        None => StatusClass::S2xx,
                        Some(Failure::Timeout) => StatusClass::Timeout,
                        Some(Failure::Net(n)) => StatusClass::of_net(n),
                    };
                    self.end_attempt(op, class, sent);
                    if reconnects >= sse.reconnects {
                        op.outcome = match failure {
                            None => OpOutcome::StreamClosed,
                            Some(Failure::Timeout) => OpOutcome::Failed(Cause::Timeout),
                            Some(Failure::Net(n)) => OpOutcome::Failed(Cause::Net(n)),
                        };
                        return Some(false);
                    }
                    reconnects += 1;
                    state = OpState::default();
                    flags = AttemptFlags::default();
                    let delay = self.reconnect_delay(sse, server_retry, reconnects);
                    if !self.sleep_within(op, delay, deadline, false).await {
                        return None;
                    }
                }
            }
        }
    }

    /// The attempt in flight ended with `class`.
    fn end_attempt(&self, op: &mut OpLog, class: StatusClass, sent: Instant) {
        let latency = sent.elapsed();
        if let Some(a) = op.attempts.last_mut() {
            a.answered(class, latency);
        }
        self.fleet.live.answered(op.step as usize, class, latency);
    }

    /// The wait before the `n`th reconnect (see [`reconnect_delay`]), its
    /// jitter seeded from (run seed, user, operation, reconnect).
    fn reconnect_delay(&self, sse: &SseWait, server_retry: Option<Duration>, n: u32) -> Duration {
        let u = super::flow::unit(
            self.ctx.seed
                ^ self.arrival.index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (u64::from(self.op_seq) << 40)
                ^ u64::from(n),
        );
        reconnect_delay(sse, server_retry, n, u)
    }

    /// Sleep `delay`, or until `deadline`; false when the deadline came first.
    async fn sleep_within(
        &self,
        op: &mut OpLog,
        delay: Duration,
        deadline: Option<Instant>,
        backoff: bool,
    ) -> bool {
        let now = Instant::now();
        let wake = now + delay;
        let until = deadline.map_or(wake, |d| d.min(wake));
        tokio::time::sleep_until(until).await;
        if backoff {
            op.add_backoff(until.saturating_duration_since(now));
        }
        until >= wake
    }
}

/// The wait before the `n`th reconnect (from 1): the server's `retry:` as
/// last set on any connection of this wait, else the guidelines' backoff
/// `base * 2^(n-1)`, capped at `max_delay`, times `0.5 + u` (`u` uniform in
/// [0, 1)). A `retry:` is the server's word and is not capped: `max_wait`
/// bounds it.
fn reconnect_delay(sse: &SseWait, server_retry: Option<Duration>, n: u32, u: f64) -> Duration {
    if let Some(r) = server_retry {
        return r;
    }
    let exp = sse
        .base_delay
        .saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(sse.max_delay);
    exp.mul_f64(0.5 + u)
}

/// The reason of an `event: error` frame: the string at the step's
/// `error_pointer` in its JSON data, else the data itself, cut short.
fn reason(sse: &SseWait, data: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| {
            v.pointer(&sse.error_pointer)
                .and_then(|r| r.as_str().map(str::to_string))
        });
    let mut r = from_json.unwrap_or_else(|| data.trim().to_string());
    if r.is_empty() {
        r = "unknown".into();
    }
    let mut end = r.len().min(MAX_CODE_LEN);
    while !r.is_char_boundary(end) {
        end -= 1;
    }
    r.truncate(end);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(base_ms: u64, max_ms: u64) -> SseWait {
        SseWait {
            event: Some("position".into()),
            reconnects: 5,
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
            error_pointer: "/event".into(),
        }
    }

    #[test]
    fn reconnect_delay_honours_retry_else_backs_off_with_jitter_and_a_cap() {
        let ms = Duration::from_millis;
        let s = sse(100, 1_000);
        #[rustfmt::skip]
        let table: [(Option<Duration>, u32, f64, Duration); 9] = [
            // The server's retry: wins on every reconnect, jitter or not.
            (Some(ms(1_500)), 1, 0.0, ms(1_500)),
            (Some(ms(1_500)), 4, 0.9, ms(1_500)),
            // Not capped by max_delay: the server asked.
            (Some(ms(5_000)), 1, 0.5, ms(5_000)),
            (Some(Duration::ZERO), 2, 0.5, Duration::ZERO),
            // Backoff: base * 2^(n-1), times 0.5 + u.
            (None, 1, 0.0, ms(50)),
            (None, 1, 0.5, ms(100)),
            (None, 2, 0.5, ms(200)),
            (None, 3, 0.75, ms(500)),
            // Capped at max_delay before the jitter.
            (None, 9, 0.5, ms(1_000)),
        ];
        for (i, (retry, n, u, want)) in table.into_iter().enumerate() {
            assert_eq!(reconnect_delay(&s, retry, n, u), want, "row {i}");
        }
        // Huge reconnect counts neither overflow nor pass the cap's jitter.
        let top = reconnect_delay(&s, None, u32::MAX, 0.999_999);
        assert!(top < ms(1_500) && top >= ms(1_000), "{top:?}");
    }
}
