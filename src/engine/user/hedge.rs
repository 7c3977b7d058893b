//! A hedging policy's attempt (`hedge`): the request, then a copy of it
//! each time the hedge delay passes with no answer, up to `hedge.max`
//! copies. The first answer settles the operation; the attempts still in
//! flight are dropped then, as the hedging client of "The Tail at Scale"
//! cancels its outstanding requests. A dropped attempt whose request had
//! been written stays an attempt the target saw (class `superseded`); one
//! still waiting for a connection never left (class `not_sent`).

use super::{User, micros_since};
use crate::client::{Failure, QueueWait, Response};
use crate::metrics::{AttemptLog, OpLog, StatusClass};
use crate::policy::{AttemptFlags, Hedge};
use crate::scenario::Step;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;

/// How a race ended.
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per race, straight into `after_attempt`: boxing it would allocate per attempt"
)]
pub(super) enum Raced {
    /// The first request's header could not be rendered: nothing left.
    Invalid,
    /// The deadline (the person's patience, a wait's max_wait) came first.
    Abandoned,
    /// The first answer, of the attempt at `at` in the operation's log.
    Answer {
        res: Result<Response, Failure>,
        written: Instant,
        at: usize,
    },
}

type Exchange<'f> =
    Pin<Box<dyn Future<Output = (Option<Result<Response, Failure>>, Duration)> + Send + 'f>>;

/// One attempt of the race in flight.
struct Flight<'f> {
    /// Its index in the operation's attempts.
    at: usize,
    sent: Instant,
    queued: Arc<QueueWait>,
    exchange: Exchange<'f>,
}

/// What the next attempt of a race carries.
#[derive(Clone, Copy)]
pub(super) struct Launch {
    pub seq: u32,
    pub key_seq: u32,
    pub retries: u32,
    pub flags: AttemptFlags,
    pub key_changed_after_ambiguous: bool,
}

impl<'a> User<'a> {
    /// The policy's hedging, on a step that uses the retry policy and is
    /// not a wait (a poll is not hedged).
    pub(super) fn hedging(&self, step: &Step) -> Option<Hedge> {
        self.fleet
            .policy
            .hedge
            .filter(|_| step.retry && step.wait.is_none())
    }

    /// Render and send one attempt; `None` when a templated header is not
    /// a header value. A hedge carries what the attempt it copies carries
    /// (its key and attempt number) and counts as one of its operation's
    /// retries; it makes no budget deposit and carries no retry flags.
    fn launch(
        &mut self,
        step: &Step,
        op: &mut OpLog,
        l: Launch,
        hedge: bool,
        deadline: Option<Instant>,
    ) -> Option<Flight<'a>> {
        let ctx: &'a crate::engine::ctx::RoundCtx = self.ctx;
        let (path, body, headers) = self.request(step, l.seq, l.key_seq, l.retries + 1)?;
        let sent = Instant::now();
        if !hedge {
            self.requested(l.retries, sent);
        }
        let retry = l.retries > 0 || hedge;
        self.fleet.live.sent(op.step as usize, retry);
        let flags = if hedge {
            AttemptFlags::default()
        } else {
            l.flags
        };
        let mut log = AttemptLog::sent(sent.saturating_duration_since(ctx.start), retry, flags);
        log.key_changed_after_ambiguous = l.key_changed_after_ambiguous && !hedge;
        log.while_told_to_wait = micros_since(ctx, sent) < self.told_to_wait_until_us;
        log.hedge = hedge;
        op.attempts.push(log);
        let queued = Arc::new(QueueWait::default());
        let q = queued.clone();
        let method = step.method.clone();
        let timeout = self.timeout(step);
        let exchange = Box::pin(async move {
            let send = ctx
                .client
                .send_queued(&method, &path, headers, body, timeout, &q);
            let res = match deadline {
                Some(d) => tokio::time::timeout_at(d, send).await.ok(),
                None => Some(send.await),
            };
            (res, q.since(sent, Instant::now()))
        });
        Some(Flight {
            at: op.attempts.len() - 1,
            sent,
            queued,
            exchange,
        })
    }

    /// One attempt of `op` and its hedges, until the first answer.
    pub(super) async fn race(
        &mut self,
        hedge: Hedge,
        step: &Step,
        op: &mut OpLog,
        deadline: Option<Instant>,
        launch: Launch,
    ) -> Raced {
        let Some(first) = self.launch(step, op, launch, false, deadline) else {
            return Raced::Invalid;
        };
        let fleet = self.fleet;
        let estimate = fleet.hedge_latency.get(op.step as usize);
        let mut flights = vec![first];
        let mut left = hedge.max;
        loop {
            let mut next = (left > 0).then(|| {
                let seen = hedge
                    .percentile()
                    .and_then(|p| estimate.and_then(|e| e.at(p)));
                let last = flights.last().map_or_else(Instant::now, |f| f.sent);
                Box::pin(tokio::time::sleep_until(last + hedge.delay(seen)))
            });
            let ready = std::future::poll_fn(|cx| {
                for (i, f) in flights.iter_mut().enumerate() {
                    if let Poll::Ready(out) = f.exchange.as_mut().poll(cx) {
                        return Poll::Ready(Some((i, out)));
                    }
                }
                match next.as_mut().map(|s| s.as_mut().poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(None),
                    _ => Poll::Pending,
                }
            })
            .await;
            let Some((i, (res, queued))) = ready else {
                left -= 1;
                // A hedge is a request like any other: not while paced.
                if self.paced().is_some() {
                    left = 0;
                } else if let Some(f) = self.launch(step, op, launch, true, deadline) {
                    flights.push(f);
                }
                continue;
            };
            let won = flights.swap_remove(i);
            let now = Instant::now();
            let Some(res) = res else {
                // The deadline: every attempt still out is dropped with it.
                for f in std::iter::once(&won).chain(&flights) {
                    end(op, f, StatusClass::Abandoned, now, fleet);
                }
                return Raced::Abandoned;
            };
            for f in &flights {
                let class = if f.queued.written() {
                    StatusClass::Superseded
                } else {
                    StatusClass::NotSent
                };
                // What it had waited is a floor of its latency: kept in
                // the estimate, or the slow attempts hedging drops would
                // leave it and the percentile would fall.
                if let Some(e) = estimate.filter(|_| class == StatusClass::Superseded) {
                    e.record(now.saturating_duration_since(f.sent));
                }
                end(op, f, class, now, fleet);
            }
            let written = won.sent + queued;
            if let Some(e) = estimate {
                e.record(now.saturating_duration_since(written));
            }
            if let Some(a) = op.attempts.get_mut(won.at) {
                a.set_queue_wait(queued);
                op.hedge_won = a.hedge;
            }
            return Raced::Answer {
                res,
                written,
                at: won.at,
            };
        }
    }
}

/// Close the log of an attempt that got no answer.
fn end(
    op: &mut OpLog,
    f: &Flight<'_>,
    class: StatusClass,
    now: Instant,
    fleet: &crate::engine::ctx::FleetCtx,
) {
    let queued = f.queued.since(f.sent, now);
    let latency = now.saturating_duration_since(f.sent + queued);
    if let Some(a) = op.attempts.get_mut(f.at) {
        a.set_queue_wait(queued);
        a.answered(class, latency);
    }
    fleet.live.answered(op.step as usize, class, latency);
}
