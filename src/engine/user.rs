//! One simulated user: a journey of steps, each step one logical operation
//! retried exactly as the fleet's policy decides.
//!
//! Everything the user measures goes into its own [`JourneyLog`], written as
//! it happens so that a journey cut short by the end of the run still hands
//! over every attempt it made.

use super::ctx::{FleetCtx, OwnLimits, RoundCtx};
use super::step_io::{Inspected, inspect};
use crate::client::{CookieJar, QueueWait};
use crate::metrics::{AttemptLog, JourneyEnd, JourneyLog, OpLog, StatusClass};
use crate::outcome::OpOutcome;
use crate::policy::{AttemptFlags, CircuitBreaker, OpState, UserGuard};
use crate::scenario::{BUILTIN_VARS, Step};
use http::Method;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Identifies one journey for op ids, RNG seeds and user selection.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub index: u64,
    pub fleet: usize,
}

mod admit;
mod answer;

pub use answer::envelope_code;
mod cancel;
mod flow;
mod hedge;
mod pace;
mod request;
mod stream;

use flow::StepEnd;

struct User<'a> {
    ctx: &'a RoundCtx,
    fleet: &'a FleetCtx,
    /// The task's own, borrowed (every byte is held by every waiting user).
    arrival: &'a Arrival,
    /// Index into the journey's zones of the zone being tried.
    zone: u32,
    iteration: u64,
    /// Captured values, indexed by variable id minus the built-ins.
    captures: Vec<String>,
    /// The user's circuit breaker and what the report needs of it.
    guard: UserGuard,
    /// The user's own budget and throttle (scope `user`), if the policy
    /// keeps them per user.
    own: Option<Box<OwnLimits>>,
    op_seq: u32,
    /// What the target's `Set-Cookie`s gave this user.
    cookies: CookieJar,
    /// Until when the target last told this user to wait (Retry-After on a
    /// 429 or 5xx), for `sent_while_told_to_wait`: microseconds since the
    /// round began, 0 when never told (8 bytes where an `Option<Instant>`
    /// took 16, for the task cell).
    told_to_wait_until_us: u64,
    /// Until when this user's rate-limit pacing holds its requests (scope
    /// `user`), in µs since the round began; 0: it does not.
    paced_until_us: u64,
    /// The last settled operation's cause as sent, judged before scrubbing.
    raw: flow::RawVerdict,
}

/// What the engine hands one user's task: moved in once, used in place.
/// `keep` is held until the task ends (the engine's in-flight permit and
/// panic guard) and dropped with it, on a panic too.
pub struct Task<K> {
    pub ctx: std::sync::Arc<RoundCtx>,
    pub arrival: Arrival,
    /// When its first journey was due; then each later journey's start.
    pub intended: Instant,
    /// Where every journey's log goes.
    pub sink: std::sync::Arc<super::stream::Collectors>,
    pub keep: K,
}

/// Run `ctx.iterations` journeys for one user, handing each log to its
/// sink. Stops early (logging what was in flight as cancelled) when the
/// round's hard deadline fires.
///
/// Written as a plain function returning one `async move` block, with the
/// operation's loop inside the journey's and the retry loop in
/// [`User::attempts`]: an `async fn` moves each argument into a second slot
/// of its future, and every nesting level adds its own copies of `self`,
/// the log and the step, all held by a user waiting in backoff (1,000,000
/// of them in `scenarios/bench-memory.toml`). The size is pinned by
/// `engine::tests::a_waiting_user_task_fits_a_768_byte_cell`.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would hold its arguments twice in every waiting user"
)]
pub fn run_user<K: Send>(mut task: Task<K>) -> impl Future<Output = ()> + Send {
    async move {
        let ctx: &RoundCtx = &task.ctx;
        let fleet = &ctx.fleets[task.arrival.fleet];
        let mut user = User {
            ctx,
            fleet,
            arrival: &task.arrival,
            zone: 0,
            iteration: 0,
            captures: vec![
                String::new();
                ctx.journey.vars.len() - BUILTIN_VARS.len() - ctx.journey.user_vars
            ],
            guard: UserGuard::new(fleet.policy.breaker.map(CircuitBreaker::new)),
            own: OwnLimits::for_user(
                &fleet.policy,
                Instant::now().saturating_duration_since(ctx.start),
            ),
            op_seq: 0,
            cookies: CookieJar::default(),
            told_to_wait_until_us: 0,
            paced_until_us: 0,
            raw: flow::RawVerdict::default(),
        };
        // `user.iteration` is the loop's counter, `task.intended` the
        // journey's due time, `ctx` and `fleet` are read through
        // `user`: nothing here is held twice.
        while user.iteration < user.ctx.iterations {
            if user.iteration > 0 {
                let pause = user.pause(&user.ctx.think_time, u32::MAX, 0);
                if user.ctx.stopping() || !think(user.ctx, pause).await {
                    break;
                }
                task.intended = Instant::now();
            }

            let ctx = user.ctx;
            let mut log = JourneyLog::new(
                task.arrival.fleet,
                task.intended.saturating_duration_since(ctx.start),
                if user.iteration == 0 {
                    Instant::now().saturating_duration_since(task.intended)
                } else {
                    Duration::ZERO
                },
                ctx.journey.steps.len(),
            );
            // One arrival per journey, as the report counts them: a
            // closed-model user's every iteration is one.
            user.fleet.live.arrivals.fetch_add(1, Relaxed);
            user.fleet.live.in_flight.fetch_add(1, Relaxed);
            let journey = user.journey(task.intended, &mut log);
            let cancelled = cancel::OrCancel::new(task.ctx.cancel.cancelled(), journey)
                .await
                .is_none();
            user.fleet.live.in_flight.fetch_sub(1, Relaxed);
            if cancelled {
                cut_short(user.ctx, &mut log);
            }
            log.set_duration(Instant::now().saturating_duration_since(task.intended));
            user.close_breaker_window(&mut log);
            task.sink.absorb(task.arrival.index, &log);
            if cancelled {
                break;
            }
            user.iteration += 1;
        }
        drop(task.keep);
    }
}

/// A journey the round's hard deadline cut off: the operation that was going
/// on stays CANCELLED; an attempt it had in flight was sent, so it is
/// counted (the target saw it).
fn cut_short(ctx: &RoundCtx, log: &mut JourneyLog) {
    log.end = JourneyEnd::Cancelled;
    if let Some(op) = log
        .ops
        .last_mut()
        .filter(|op| op.outcome == OpOutcome::Cancelled)
    {
        let now = Instant::now();
        op.latency = now.saturating_duration_since(ctx.start + op.intended_at());
        if let Some(a) = op.attempts.last_mut().filter(|a| a.in_flight()) {
            let latency = now.saturating_duration_since(ctx.start + a.sent_at());
            a.answered(StatusClass::Cancelled, latency);
        }
    }
}

/// Wait between a closed-model user's journeys; false when the run is cancelled.
///
/// A zero think time goes straight on: `sleep(0)` still waits for tokio's
/// timer, which rounds up to the next millisecond and capped a 64-user
/// closed model at a third of what the target could serve. The coop budget
/// still makes a user that never awaits (an open breaker answers at once)
/// yield now and then, so it cannot hog its worker thread.
async fn think(ctx: &RoundCtx, think_time: Duration) -> bool {
    if think_time.is_zero() {
        tokio::task::coop::consume_budget().await;
        return !ctx.cancel.is_cancelled();
    }
    tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => false,
        _ = tokio::time::sleep(think_time) => true,
    }
}

impl<'a> User<'a> {
    /// The journey: steps in order, each one logical operation (resubmitted
    /// as new operations by an impatient user), moving to the next zone when
    /// one is sold out. See [`run_user`] for why it is one block.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would hold its arguments twice in every waiting user"
    )]
    fn journey<'s>(
        &'s mut self,
        mut intended: Instant,
        log: &'s mut JourneyLog,
    ) -> impl Future<Output = ()> + Send + 's {
        async move {
            // Zones from the arrival's own, in order; indices, not iterators,
            // so a waiting user holds two small counters. Journey steps
            // (before `zone_start`) run on the first pass only.
            // `intended` is the next operation's due time.
            let mut z = 0u32;
            'zones: while (z as usize) < self.ctx.journey.zones.len() {
                let zones = self.ctx.journey.zones.len() as u64;
                self.zone = ((self.arrival.index + u64::from(z)) % zones) as u32;
                let mut i = if z == 0 {
                    0
                } else {
                    self.ctx.journey.zone_start as u32
                };
                z += 1;
                while let Some(step) = self.ctx.journey.steps.get(i as usize) {
                    i += 1;
                    if !self.runs(step) {
                        continue;
                    }
                    let pause = self.pause(&step.think_time, i, z);
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                        intended = Instant::now();
                    }
                    // The operation, resubmitted after the person gave up on
                    // it, or repeated once after the session's login ran again.
                    // Small on purpose: every waiting user holds these
                    // (resubmits are at most 100, a journey's operations
                    // at most 100 steps x (101 resubmits + a re-login each)).
                    let mut resubmits = 0u8;
                    // 1 + the attempts the operation had made when its session
                    // last expired (0: never): the login runs again only when
                    // an attempt after the previous re-login went through, so
                    // a login that does not help cannot loop.
                    let mut relogin_mark = 0u16;
                    self.op_seq += 1;
                    self.raw = flow::RawVerdict::default();
                    log.ops.push(OpLog::new(
                        i as usize - 1,
                        intended.saturating_duration_since(self.ctx.start),
                    ));
                    let mut at = u16::try_from(log.ops.len() - 1).unwrap_or(u16::MAX);
                    let short = loop {
                        // The person gives up on the whole operation, retries
                        // and waits included; a wait step ends at its max_wait.
                        let deadline = match &step.wait {
                            Some(w) => Some(intended + w.max_wait),
                            None => self
                                .fleet
                                .policy
                                .abandon_after
                                .filter(|_| step.retry)
                                .map(|limit| intended + limit),
                        };
                        let Some(op) = log.ops.get_mut(at as usize) else {
                            break false;
                        };
                        let result = if step.wait.as_ref().is_some_and(|w| w.sse.is_some()) {
                            Box::pin(self.stream(step, op, deadline, self.op_seq, intended)).await
                        } else {
                            self.attempts(step, op, deadline, self.op_seq).await
                        };
                        op.latency = Instant::now().saturating_duration_since(intended);
                        let live = &self.fleet.live;
                        match result {
                            Some(short) => {
                                if op.attempts.len() > usize::from(relogin_mark)
                                    && self.login_expired(step, op)
                                {
                                    // The session expired: log in again, then
                                    // repeat the attempt (same operation, same key).
                                    relogin_mark =
                                        u16::try_from(op.attempts.len() + 1).unwrap_or(u16::MAX);
                                    // Boxed: only a user whose session expired carries it.
                                    if Box::pin(self.relogin(log)).await {
                                        log.relogins = log.relogins.saturating_add(1);
                                        continue;
                                    }
                                    break false;
                                }
                                live.op_latency.record(op.latency);
                                if op.ok() { &live.ok } else { &live.failures }
                                    .fetch_add(1, Relaxed);
                                break short;
                            }
                            None if step.wait.is_some() => {
                                live.op_latency.record(op.latency);
                                op.outcome = OpOutcome::WaitTimedOut(
                                    step.wait.as_ref().map_or("", |w| &w.timeout_outcome).into(),
                                );
                                live.failures.fetch_add(1, Relaxed);
                                break false;
                            }
                            None => {
                                live.op_latency.record(op.latency);
                                op.outcome = OpOutcome::Abandoned;
                                live.failures.fetch_add(1, Relaxed);
                                if u32::from(resubmits) >= self.fleet.policy.max_resubmits {
                                    break false;
                                }
                                resubmits += 1;
                                intended = Instant::now();
                                self.op_seq += 1;
                                self.raw = flow::RawVerdict::default();
                                log.ops.push(OpLog::new(
                                    i as usize - 1,
                                    intended.saturating_duration_since(self.ctx.start),
                                ));
                                at = u16::try_from(log.ops.len() - 1).unwrap_or(u16::MAX);
                            }
                        }
                    };
                    intended = Instant::now();
                    match self.after_step(short, log, i as usize - 1) {
                        StepEnd::Next => {
                            let pause = self.pause(&step.think_time_after, i | 1 << 16, z);
                            if !pause.is_zero() {
                                tokio::time::sleep(pause).await;
                                intended = Instant::now();
                            }
                        }
                        StepEnd::NextZone => continue 'zones,
                        StepEnd::Failed => {
                            log.end = JourneyEnd::Failed;
                            return;
                        }
                    }
                }
                log.end = JourneyEnd::Succeeded;
                return;
            }
            log.end = JourneyEnd::SoldOut;
        }
    }

    /// Operation ids are derived, not stored: `<run>-<fleet>-<arrival>-<seq>`.
    fn op_id(&self, seq: u32) -> String {
        format!(
            "{}-{}-{}-{}",
            self.ctx.run_tag, self.arrival.fleet, self.arrival.index, seq
        )
    }

    /// The retry loop of one operation; fills `op` as it goes. `None` when
    /// the user abandoned it at `deadline` (mid-request or mid-wait: the
    /// request is dropped, as a browser drops it on F5).
    ///
    /// Kept deliberately small across its awaits: a user waiting in backoff
    /// holds only counters and the sleep, nothing of the last answer (the
    /// request future itself is boxed and gone by then).
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would hold its arguments twice in every waiting user"
    )]
    fn attempts<'s>(
        &'s mut self,
        step: &'s Step,
        op: &'s mut OpLog,
        deadline: Option<Instant>,
        seq: u32,
    ) -> impl Future<Output = Option<bool>> + Send + 's {
        async move {
            let mut state = OpState::default();
            let mut key_seq = 0u32;
            // Counters the next attempt carries, counted only once it is sent.
            let mut flags = AttemptFlags::default();
            let mut key_changed_after_ambiguous = false;
            loop {
                // Rate-limit pacing: nothing leaves while the last answer
                // said none is left (boxed, as the throttle's wait is).
                if let Some(at) = self.paced() {
                    let until = deadline.map_or(at, |d| d.min(at));
                    Box::pin(tokio::time::sleep_until(until)).await;
                    if until < at {
                        return None;
                    }
                }
                if !self.guard.allow(Instant::now()) {
                    op.outcome = OpOutcome::BreakerOpen;
                    return Some(false);
                }
                // The throttle: send, wait for a token, or fail it here.
                match self.admit(op, state.retries) {
                    admit::Admission::Send => {}
                    admit::Admission::Rejected => return Some(false),
                    admit::Admission::WaitUntil(at) => {
                        // Boxed: only a user waiting on the throttle holds
                        // the sleep, and the task cell stays at 768 bytes.
                        let until = deadline.map_or(at, |d| d.min(at));
                        let cut = until < at;
                        Box::pin(tokio::time::sleep_until(until)).await;
                        if cut {
                            self.guard.no_answer();
                            return None;
                        }
                    }
                }
                // Paced first, then rendered afresh for every attempt, so a user
                // waiting in backoff or on the attempts/s cap holds nothing but
                // counters. A header that cannot be sent ends the operation
                // before anything leaves.
                self.ctx.client.pace().await;
                // Every value below lives in its own block: a local that was
                // moved away still takes room in the user's future until its
                // scope ends, so path, body, headers, the boxed exchange and the
                // answer are scoped to end before the user sleeps in backoff
                // (1,000,000 waiting users; measured in `scripts/bench.sh`).
                let hedge = self.hedging(step);
                let next = if let Some(hedge) = hedge {
                    let launch = hedge::Launch {
                        seq,
                        key_seq,
                        retries: state.retries,
                        flags,
                        key_changed_after_ambiguous,
                    };
                    match Box::pin(self.race(hedge, step, op, deadline, launch)).await {
                        hedge::Raced::Invalid => {
                            self.guard.no_answer();
                            op.outcome = OpOutcome::InvalidHeader;
                            return Some(false);
                        }
                        hedge::Raced::Abandoned => {
                            self.guard.no_answer();
                            return None;
                        }
                        hedge::Raced::Answer { res, written, at } => {
                            self.after_attempt(step, op, &state, written, res, at)
                        }
                    }
                } else {
                    let (sent, send) = {
                        let attempt = state.retries + 1;
                        let Some((path, body, headers)) = self.request(step, seq, key_seq, attempt)
                        else {
                            self.guard.no_answer();
                            op.outcome = OpOutcome::InvalidHeader;
                            return Some(false);
                        };
                        let sent = Instant::now();
                        self.requested(state.retries, sent);
                        self.fleet.live.sent(op.step as usize, state.retries > 0);
                        // Logged as it leaves: if the run cuts it off, it still counts.
                        let mut log = AttemptLog::sent(
                            sent.saturating_duration_since(self.ctx.start),
                            state.retries > 0,
                            flags,
                        );
                        log.key_changed_after_ambiguous = key_changed_after_ambiguous;
                        log.while_told_to_wait =
                            micros_since(self.ctx, sent) < self.told_to_wait_until_us;
                        op.attempts.push(log);
                        let method: Method = step.method.clone();
                        let client = &self.ctx.client;
                        // Boxed: a request in flight is large, and a user waiting in
                        // backoff must not carry its space.
                        let timeout = self.timeout(step);
                        // The wait for a connection or an HTTP/2 stream comes
                        // back beside the answer: it is not the target's time.
                        let send = Box::pin(async move {
                            let queued = QueueWait::default();
                            let send =
                                client.send_queued(&method, &path, headers, body, timeout, &queued);
                            let res = match deadline {
                                Some(d) => tokio::time::timeout_at(d, send).await.ok(),
                                None => Some(send.await),
                            };
                            (res, queued.since(sent, Instant::now()))
                        });
                        (sent, send)
                    };
                    {
                        let (res, queued) = send.await;
                        // Attempt latency runs from when the request could be written.
                        let written = sent + queued;
                        if let Some(a) = op.attempts.last_mut() {
                            a.set_queue_wait(queued);
                        }
                        let Some(res) = res else {
                            // Abandoned mid-request (the person gave up, or a wait
                            // reached max_wait): the attempt still went out, and
                            // no timeout fired: its own class, never a timeout.
                            if let Some(a) = op.attempts.last_mut() {
                                a.answered(StatusClass::Abandoned, written.elapsed());
                            }
                            self.guard.no_answer();
                            return None;
                        };
                        let at = op.attempts.len().saturating_sub(1);
                        self.after_attempt(step, op, &state, written, res, at)
                    }
                };
                // Worked out before the sleep, inside the match, so the
                // sleeping user holds the wait it will log and whether the
                // person's patience ends it, nothing more (a local that was
                // ever borrowed stays in the future while its scope lasts).
                let (until, slept, abandoned) = match next {
                    Next::Done(short) => return Some(short),
                    Next::Poll { delay, early } => {
                        // Not ready yet: the next poll is a new request, not
                        // a retry (fresh retry counters, its own key).
                        state = OpState::default();
                        key_seq += 1;
                        key_changed_after_ambiguous = false;
                        flags = AttemptFlags {
                            honoured: false,
                            early,
                        };
                        let now = Instant::now();
                        let wake = now + delay;
                        let until = deadline.map_or(wake, |d| d.min(wake));
                        // Time between polls is waiting in the queue, not backoff.
                        (until, 0, until < wake)
                    }
                    Next::Wait {
                        delay,
                        fresh_key,
                        flags: next_flags,
                        ambiguous,
                        next,
                    } => {
                        key_changed_after_ambiguous = fresh_key && ambiguous && step.idempotent;
                        key_seq += u32::from(fresh_key);
                        state = next;
                        flags = next_flags;
                        if delay.is_zero() {
                            continue;
                        }
                        let now = Instant::now();
                        let wake = now + delay;
                        let until = deadline.map_or(wake, |d| d.min(wake));
                        // What it will sleep, in the ms the log keeps.
                        let slept = delay.min(until.saturating_duration_since(now));
                        (
                            until,
                            u32::try_from(slept.as_millis()).unwrap_or(u32::MAX),
                            until < wake,
                        )
                    }
                };
                tokio::time::sleep_until(until).await;
                op.add_backoff(Duration::from_millis(u64::from(slept)));
                if abandoned {
                    return None;
                }
            }
        }
    }

    fn close_breaker_window(&mut self, log: &mut JourneyLog) {
        log.breaker_opens =
            u16::try_from(std::mem::take(&mut self.guard.opens)).unwrap_or(u16::MAX);
        // Counted where the recorder counts them: when the journey's log closes.
        (self.fleet.live.breaker_opens).fetch_add(u64::from(log.breaker_opens), Relaxed);
        if let (Some(at), Some(cfg)) = (self.guard.opened_at.take(), self.fleet.policy.breaker) {
            log.set_breaker_open_time(
                Instant::now()
                    .saturating_duration_since(at)
                    .min(cfg.open_for * u32::from(log.breaker_opens.max(1))),
            );
        }
    }
}

enum Next {
    /// The operation is over; true when its pre-check found too few seats.
    Done(bool),
    /// A wait step's answer said "not yet": poll again after `delay`
    /// (`early`: sooner than the answer's Retry-After).
    Poll { delay: Duration, early: bool },
    Wait {
        delay: Duration,
        fresh_key: bool,
        flags: AttemptFlags,
        /// The attempt's fate is unknown to the client (timeout, reset, 5xx).
        ambiguous: bool,
        /// The operation's state for the retry.
        next: OpState,
    },
}

/// Microseconds from the round's start to `at` (saturating).
fn micros_since(ctx: &RoundCtx, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(ctx.start).as_micros()).unwrap_or(u64::MAX)
}

/// Wall-clock now for HTTP-date Retry-After, derived from the monotonic
/// clock so paused-time tests stay consistent.
fn wall_now(ctx: &RoundCtx) -> SystemTime {
    ctx.wall_start + Instant::now().saturating_duration_since(ctx.start)
}
