//! One collector's view of one fleet.

use super::log::{AttemptLog, JourneyEnd, JourneyLog, OpLog, StatusClass};
use super::seconds::SecondHistograms;
use crate::model::{JourneyCounts, SecondRow};
use crate::outcome::OpOutcome;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::ops::AddAssign;
use std::time::Duration;

/// 1 µs to 1 hour at 3 significant digits: enough resolution for a 200 µs
/// loopback attempt and range for a 30 s backoff chain.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Distinct outcomes kept per step: whatever codes a target invents, memory
/// and report size stay bounded. Later newcomers are counted as
/// [`OpOutcome::Other`] (and [`StepRec::folded`] says how many: the
/// count under `Other`, which nothing else produces).
pub const MAX_OUTCOMES: usize = 256;

#[derive(Debug, Clone)]
pub struct StepRec {
    pub ops: u64,
    pub ok: u64,
    pub attempts: u64,
    /// Attempts that never left the generator ([`StatusClass::NotSent`]).
    pub not_sent: u64,
    /// Hedges sent (in `attempts`).
    pub hedges: u64,
    /// Operations settled by a hedge's answer.
    pub hedge_wins: u64,
    pub outcomes: BTreeMap<OpOutcome, u64>,
    pub op_latency: Histogram<u64>,
    /// Operation latency of the operations that succeeded (what latency
    /// gates and headlines default to: a fast failure is no good latency).
    pub ok_latency: Histogram<u64>,
    pub attempt_latency: Histogram<u64>,
    pub by_class: BTreeMap<StatusClass, Histogram<u64>>,
    /// Operation latency per interval (1 s or 100 ms) in which the
    /// operation ended (sparse; exact per second whatever the interval).
    pub op_seconds: SecondHistograms,
    /// Attempt latency per interval in which the attempt ended (sparse).
    pub attempt_seconds: SecondHistograms,
    /// Latency of the operations that ended OK, per interval in which they
    /// ended (sparse): windowed gates on good latency and success.
    pub ok_seconds: SecondHistograms,
    /// Journeys in which an operation of this step succeeded (the funnel).
    pub passed: u64,
    /// Operations by the polls they sent (attempts that are not retries; a
    /// plain step sends one, a wait step one per look, an SSE wait one per
    /// connection).
    pub polls: BTreeMap<u32, u64>,
    /// Polls sent sooner than the Retry-After of the answer before.
    pub early_polls: u64,
    /// SSE waits: from the intended start to the first event.
    pub first_event: Histogram<u64>,
}

impl StepRec {
    fn new(interval_ms: u32) -> Self {
        Self {
            ops: 0,
            ok: 0,
            attempts: 0,
            not_sent: 0,
            hedges: 0,
            hedge_wins: 0,
            outcomes: BTreeMap::new(),
            op_latency: new_histogram(),
            ok_latency: new_histogram(),
            attempt_latency: new_histogram(),
            by_class: BTreeMap::new(),
            op_seconds: SecondHistograms::with_interval(interval_ms),
            attempt_seconds: SecondHistograms::with_interval(interval_ms),
            ok_seconds: SecondHistograms::with_interval(interval_ms),
            passed: 0,
            polls: BTreeMap::new(),
            early_polls: 0,
            first_event: new_histogram(),
        }
    }

    /// Count `n` operations that ended with `outcome`, within the bound.
    /// `Other` always has its place (it is where the rest go), so an
    /// operation is counted once whichever recorder it is merged into.
    fn count(&mut self, outcome: &OpOutcome, n: u64) {
        if let Some(v) = self.outcomes.get_mut(outcome) {
            *v += n;
        } else if self.outcomes.len() < MAX_OUTCOMES || *outcome == OpOutcome::Other {
            self.outcomes.insert(outcome.clone(), n);
        } else {
            *self.outcomes.entry(OpOutcome::Other).or_default() += n;
        }
    }

    /// One finished operation of this step: its counts, outcome, latencies
    /// and its attempts' latencies by class.
    fn absorb(&mut self, op: &OpLog) {
        self.ops += 1;
        self.ok += u64::from(op.ok());
        *self.polls.entry(op.polls()).or_default() += 1;
        self.early_polls += u64::from(op.early_polls());
        if let Some(t) = op.first_event() {
            self.first_event.saturating_record(us(t));
        }
        self.attempts += op.attempts.len() as u64;
        self.not_sent += op.attempts.iter().filter(|a| a.class.not_sent()).count() as u64;
        self.hedges += u64::from(op.hedges());
        self.hedge_wins += u64::from(op.hedge_won);
        self.count(&op.outcome, 1);
        let v = us(op.latency);
        let ended = op.intended_at().saturating_add(op.latency);
        self.op_latency.saturating_record(v);
        if op.ok() {
            self.ok_latency.saturating_record(v);
            self.ok_seconds.record_at(ended, v);
        }
        self.op_seconds.record_at(ended, v);
        for a in &op.attempts {
            let v = us(a.latency());
            // A local rejection has no latency to dilute the others with;
            // it is counted under its own class only.
            if a.class != StatusClass::RejectedLocally {
                self.attempt_latency.saturating_record(v);
                self.attempt_seconds.record_at(a.ended_at(), v);
            }
            self.by_class
                .entry(a.class)
                .or_insert_with(new_histogram)
                .saturating_record(v);
        }
    }

    /// Operations counted under `Other` because the vocabulary was full:
    /// the count under `Other` itself (a separate counter, added on merge
    /// beside the counts it was folded into, counted them twice).
    pub fn folded(&self) -> u64 {
        self.outcomes.get(&OpOutcome::Other).copied().unwrap_or(0)
    }
}

/// Histogram addition cannot fail here: every histogram of a recorder has
/// the same bounds ([`new_histogram`]) and auto-resize is off only above them.
fn add(a: &mut Histogram<u64>, b: &Histogram<u64>) {
    let _ = a.add(b);
}

impl AddAssign<&StepRec> for StepRec {
    fn add_assign(&mut self, o: &StepRec) {
        self.ops += o.ops;
        self.ok += o.ok;
        self.attempts += o.attempts;
        self.not_sent += o.not_sent;
        self.hedges += o.hedges;
        self.hedge_wins += o.hedge_wins;
        for (k, v) in &o.outcomes {
            self.count(k, *v);
        }
        add(&mut self.op_latency, &o.op_latency);
        add(&mut self.ok_latency, &o.ok_latency);
        add(&mut self.attempt_latency, &o.attempt_latency);
        for (k, h) in &o.by_class {
            add(self.by_class.entry(*k).or_insert_with(new_histogram), h);
        }
        self.op_seconds += &o.op_seconds;
        self.attempt_seconds += &o.attempt_seconds;
        self.ok_seconds += &o.ok_seconds;
        self.passed += o.passed;
        for (k, v) in &o.polls {
            *self.polls.entry(*k).or_default() += v;
        }
        self.early_polls += o.early_polls;
        add(&mut self.first_event, &o.first_event);
    }
}

#[derive(Debug, Clone)]
pub struct Recorder {
    pub steps: Vec<StepRec>,
    pub backoff_wait: Histogram<u64>,
    pub schedule_lag: Histogram<u64>,
    /// Per attempt, from its start until its request could be written
    /// (kept out of attempt latency): one value for every attempt.
    pub queue_wait: Histogram<u64>,
    pub attempts_per_op: BTreeMap<u32, u64>,
    pub journeys: JourneyCounts,
    pub series: Vec<SecondRow>,
    pub retry_after_honoured: u64,
    pub early_retries: u64,
    pub key_changed_after_ambiguous: u64,
    pub sent_while_told_to_wait: u64,
    pub breaker_opens: u64,
    pub breaker_open_time: Duration,
    /// From each journey's intended start to its end (k6's `iteration_duration`).
    pub journey_duration: Histogram<u64>,
    /// Times a login step ran again on an expired session.
    pub relogins: u64,
}

impl Recorder {
    /// Per-second latency intervals (see [`Recorder::with_interval`]).
    pub fn new(steps: usize) -> Self {
        Self::with_interval(steps, 1000)
    }

    /// Latency histograms per interval of `interval_ms` (100 or 1000; see
    /// [`crate::metrics::interval_ms_for`]); every other series is per second.
    pub fn with_interval(steps: usize, interval_ms: u32) -> Self {
        Self {
            steps: (0..steps).map(|_| StepRec::new(interval_ms)).collect(),
            backoff_wait: new_histogram(),
            schedule_lag: new_histogram(),
            queue_wait: new_histogram(),
            attempts_per_op: BTreeMap::new(),
            journeys: JourneyCounts::default(),
            series: Vec::new(),
            retry_after_honoured: 0,
            early_retries: 0,
            key_changed_after_ambiguous: 0,
            sent_while_told_to_wait: 0,
            breaker_opens: 0,
            breaker_open_time: Duration::ZERO,
            journey_duration: new_histogram(),
            relogins: 0,
        }
    }

    /// Operation latency over every step (each operation is recorded once,
    /// in its step; the fleet's histogram is their sum).
    pub fn op_latency(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for s in &self.steps {
            add(&mut h, &s.op_latency);
        }
        h
    }

    /// Attempt latency over every step.
    pub fn attempt_latency(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for s in &self.steps {
            add(&mut h, &s.attempt_latency);
        }
        h
    }

    /// Operations counted under `OTHER` because a step's vocabulary was full.
    pub fn folded(&self) -> u64 {
        self.steps.iter().map(StepRec::folded).sum()
    }

    /// Extend the per-second series with empty rows up to `len` seconds.
    fn grow_series(&mut self, len: usize) {
        let start = self.series.len();
        self.series.extend((start..len).map(|i| SecondRow {
            t: i as u32,
            ..SecondRow::default()
        }));
    }

    fn second(&mut self, at: Duration) -> &mut SecondRow {
        let t = at.as_secs() as usize;
        self.grow_series(t + 1);
        &mut self.series[t]
    }

    pub fn absorb(&mut self, j: &JourneyLog) {
        self.journeys.started += 1;
        match j.end {
            JourneyEnd::Succeeded => self.journeys.succeeded += 1,
            JourneyEnd::SoldOut => self.journeys.sold_out += 1,
            JourneyEnd::Failed => self.journeys.failed += 1,
            JourneyEnd::Cancelled => self.journeys.cancelled += 1,
        }
        self.second(j.intended_at()).arrivals += 1;
        self.schedule_lag.saturating_record(us(j.schedule_lag()));
        self.journey_duration.saturating_record(us(j.duration()));
        self.relogins += u64::from(j.relogins);
        // Steps are at most `bounds::MAX_STEPS` (100): one bit each.
        let mut passed: u128 = 0;
        self.breaker_opens += u64::from(j.breaker_opens);
        self.breaker_open_time += j.breaker_open_time();
        if j.breaker_opens > 0 {
            // Attribute opens to the second the journey started: close enough
            // for a per-second picture, exact in the totals.
            self.second(j.intended_at()).breaker_opens += u64::from(j.breaker_opens);
        }
        for op in &j.ops {
            self.second(op.intended_at()).operations_started += 1;
            if !op.attempts.is_empty() {
                *self
                    .attempts_per_op
                    .entry(op.attempts.len() as u32)
                    .or_default() += 1;
            }
            if op.backoff() > Duration::ZERO {
                self.backoff_wait.saturating_record(us(op.backoff()));
            }
            for a in &op.attempts {
                self.absorb_attempt(a);
            }
            let Some(step) = self.steps.get_mut(op.step as usize) else {
                continue;
            };
            if op.ok() && op.step < 128 {
                passed |= 1u128 << op.step;
            }
            step.absorb(op);
        }
        for (i, step) in self.steps.iter_mut().enumerate().take(128) {
            step.passed += u64::from(passed >> i & 1 == 1);
        }
    }

    /// One attempt's part of its second's row and of the run's counters.
    fn absorb_attempt(&mut self, a: &AttemptLog) {
        self.retry_after_honoured += u64::from(a.honoured);
        self.early_retries += u64::from(a.early && a.retry);
        self.key_changed_after_ambiguous += u64::from(a.key_changed_after_ambiguous);
        self.sent_while_told_to_wait += u64::from(a.while_told_to_wait);
        self.queue_wait.saturating_record(us(a.queue_wait()));
        let row = self.second(a.sent_at());
        row.attempts += 1;
        row.retries += u64::from(a.retry);
        match a.class {
            StatusClass::S2xx => row.successes += 1,
            StatusClass::S429 => row.status_429 += 1,
            StatusClass::S5xx => row.status_5xx += 1,
            StatusClass::Timeout => row.timeouts += 1,
            StatusClass::Network | StatusClass::InvalidResponse => row.network_errors += 1,
            StatusClass::NotSent | StatusClass::RejectedLocally => row.not_sent += 1,
            StatusClass::S3xx
            | StatusClass::S4xx
            | StatusClass::Cancelled
            | StatusClass::Abandoned
            | StatusClass::Superseded => {}
        }
    }

    pub fn merge(&mut self, o: &Recorder) {
        *self += o;
    }
}

impl AddAssign<&Recorder> for Recorder {
    fn add_assign(&mut self, o: &Recorder) {
        for (a, b) in self.steps.iter_mut().zip(&o.steps) {
            *a += b;
        }
        add(&mut self.backoff_wait, &o.backoff_wait);
        add(&mut self.schedule_lag, &o.schedule_lag);
        add(&mut self.queue_wait, &o.queue_wait);
        for (k, v) in &o.attempts_per_op {
            *self.attempts_per_op.entry(*k).or_default() += v;
        }
        self.journeys += o.journeys;
        self.grow_series(o.series.len());
        for (a, b) in self.series.iter_mut().zip(&o.series) {
            *a += *b;
        }
        self.retry_after_honoured += o.retry_after_honoured;
        self.early_retries += o.early_retries;
        self.key_changed_after_ambiguous += o.key_changed_after_ambiguous;
        self.sent_while_told_to_wait += o.sent_while_told_to_wait;
        self.breaker_opens += o.breaker_opens;
        self.breaker_open_time += o.breaker_open_time;
        add(&mut self.journey_duration, &o.journey_duration);
        self.relogins += o.relogins;
    }
}

#[cfg(test)]
mod tests {
    use super::super::log::*;
    use super::*;
    use crate::outcome::{Cause, Code};
    use crate::policy::AttemptFlags;

    fn gave_up() -> OpOutcome {
        OpOutcome::GaveUp(Cause::Status(503))
    }

    fn op(step: usize, ok: bool, classes: &[StatusClass], ms: u64) -> OpLog {
        let mut op = OpLog::new(step, Duration::from_millis(500));
        op.latency = Duration::from_millis(ms);
        op.outcome = if ok { OpOutcome::Ok } else { gave_up() };
        op.attempts = classes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                AttemptLog::new(
                    Duration::from_millis(500 + 1000 * i as u64),
                    Duration::from_millis(2 + i as u64),
                    *c,
                    i > 0,
                )
            })
            .collect();
        op.add_backoff(Duration::from_millis(ms.saturating_sub(2)));
        op
    }

    fn journey(ops: Vec<OpLog>, end: JourneyEnd) -> JourneyLog {
        let mut j = JourneyLog::default();
        j.ops = ops;
        j.end = end;
        j
    }

    /// The wait before a request could be written is recorded once per
    /// attempt, apart from its latency, and moves when the attempt ended.
    #[test]
    fn queue_wait_is_one_value_per_attempt_beside_its_latency() {
        use StatusClass::*;
        let mut waited = op(0, true, &[S5xx, S2xx], 900);
        waited.attempts[0].set_queue_wait(Duration::from_millis(700));
        let mut r = Recorder::new(1);
        r.absorb(&journey(
            vec![waited, op(0, true, &[S2xx], 3)],
            JourneyEnd::Succeeded,
        ));
        assert_eq!(r.queue_wait.len(), 3);
        assert_eq!(r.queue_wait.len(), r.attempt_latency().len());
        assert!(r.queue_wait.equivalent(r.queue_wait.max(), 700_000));
        // (recorded at the histograms' floor, 1 µs)
        assert_eq!(r.queue_wait.count_at(1), 2, "two attempts did not wait");
        // Its latency stays 2 ms; sent at 0.5 s, it ended at 1.202 s.
        assert!(
            r.attempt_latency()
                .equivalent(r.attempt_latency().min(), 2_000)
        );
        let ended: Vec<u32> = r.steps[0].attempt_seconds.seconds_with_samples().collect();
        assert_eq!(ended, vec![0, 1]);
        assert_eq!(r.steps[0].attempt_seconds.histogram(1).len(), 2);
    }

    #[test]
    fn absorb_counts_ops_attempts_and_series() {
        use StatusClass::*;
        let mut r = Recorder::new(2);
        r.absorb(&journey(
            vec![
                op(0, true, &[S2xx], 3),
                op(1, false, &[S5xx, S429, Timeout], 4000),
            ],
            JourneyEnd::Failed,
        ));
        assert_eq!(r.steps[0].ops, 1);
        assert_eq!(r.steps[1].attempts, 3);
        assert_eq!(r.steps[1].outcomes.get(&gave_up()), Some(&1));
        assert_eq!(r.attempts_per_op.get(&3), Some(&1));
        assert_eq!(r.series.len(), 3);
        assert_eq!(r.series[0].attempts, 2);
        assert_eq!(r.series[1].status_429, 1);
        assert_eq!(r.series[2].timeouts, 1);
        assert_eq!(r.series[1].retries, 1);
        assert_eq!(r.journeys.failed, 1);
        assert_eq!(r.op_latency().len(), 2);
        assert_eq!(r.attempt_latency().len(), 4);
        // Per second, by when each ended: the 4 s operation intended at
        // 0.5 s ended in second 4; its attempts at 0.5 s, 1.5 s, 2.5 s.
        assert!(
            r.steps[1].op_seconds.histogram(4) == {
                let mut h = new_histogram();
                h.record(4_000_000).unwrap();
                h
            }
        );
        let secs: Vec<u32> = r.steps[1]
            .attempt_seconds
            .seconds()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(secs, [0, 1, 2]);
        assert!(r.steps[1].attempt_seconds.total() == r.steps[1].attempt_latency);
    }

    #[test]
    fn retry_counters_come_from_the_attempts_that_were_sent() {
        let mut o = op(0, true, &[StatusClass::S429], 10);
        let mut retry = AttemptLog::sent(
            Duration::from_millis(1500),
            true,
            AttemptFlags {
                honoured: true,
                early: true,
            },
        );
        assert!(retry.in_flight());
        retry.answered(StatusClass::S2xx, Duration::from_millis(4));
        o.attempts.push(retry);
        o.attempts.push(AttemptLog::sent(
            Duration::from_millis(2500),
            true,
            AttemptFlags {
                honoured: true,
                early: false,
            },
        ));
        let mut r = Recorder::new(1);
        r.absorb(&journey(vec![o], JourneyEnd::Cancelled));
        assert_eq!(r.retry_after_honoured, 2);
        assert_eq!(r.early_retries, 1);
        assert_eq!(r.steps[0].attempts, 3);
        assert_eq!(
            r.series[2].attempts, 1,
            "the attempt cut off in flight was sent"
        );
        assert!(r.steps[0].by_class.contains_key(&StatusClass::Cancelled));
    }

    #[test]
    fn vocabulary_is_bounded() {
        let mut r = Recorder::new(1);
        let n = MAX_OUTCOMES + 50;
        for i in 0..n {
            let mut o = op(0, false, &[StatusClass::S4xx], 1);
            o.outcome = OpOutcome::Failed(Cause::Code {
                status: 400,
                code: Code::new(&format!("CODE_{i}")).unwrap(),
            });
            r.absorb(&journey(vec![o], JourneyEnd::Failed));
        }
        let s = &r.steps[0];
        assert_eq!(s.outcomes.len(), MAX_OUTCOMES + 1);
        assert_eq!(s.outcomes.get(&OpOutcome::Other), Some(&50));
        assert_eq!(s.folded(), 50);
        assert_eq!(s.outcomes.values().sum::<u64>(), n as u64);
    }

    /// A recorder of one step whose operations ended with target codes
    /// `CODE_<i>` for `i` in `codes`.
    fn coded(codes: std::ops::Range<usize>) -> Recorder {
        let mut r = Recorder::new(1);
        for i in codes {
            let mut o = op(0, false, &[StatusClass::S4xx], 1);
            o.outcome = OpOutcome::Failed(Cause::Code {
                status: 409,
                code: Code::new(&format!("CODE_{i}")).unwrap(),
            });
            r.absorb(&journey(vec![o], JourneyEnd::Failed));
        }
        r
    }

    #[test]
    fn operations_folded_into_other_are_counted_once_however_recorders_are_merged() {
        // One collector's full vocabulary (300 codes, 44 folded) merged
        // into an empty total, as a streamed second's delta is.
        let full = coded(0..300);
        assert_eq!(full.folded(), 44);
        let mut total = Recorder::new(1);
        total += &full;
        assert_eq!((total.steps[0].ops, total.folded()), (300, 44));
        // A second collector with 200 codes of its own: 256 kept in all,
        // the other 500 - 256 operations under OTHER.
        total += &coded(1000..1200);
        assert_eq!((total.steps[0].ops, total.folded()), (500, 244));
        // Deltas of 60 operations each, merged one by one (a stream).
        let mut streamed = Recorder::new(1);
        for s in 0..10 {
            streamed += &coded(s * 60..s * 60 + 60);
        }
        assert_eq!((streamed.steps[0].ops, streamed.folded()), (600, 344));
        let s = &streamed.steps[0];
        assert_eq!(s.outcomes.values().sum::<u64>(), s.ops);
        assert!(streamed.folded() <= s.ops);
    }

    /// Every journey of a small varied run, as in a real round.
    fn journeys() -> Vec<JourneyLog> {
        use StatusClass::*;
        let mut out = Vec::new();
        for i in 0..40u64 {
            let classes: &[StatusClass] = match i % 4 {
                0 => &[S2xx],
                1 => &[S5xx, S2xx],
                2 => &[S429, Timeout, Network],
                _ => &[S4xx],
            };
            let mut o = op((i % 2) as usize, i % 4 < 2, classes, 3 + i * 37);
            if i % 4 == 3 {
                o.outcome = OpOutcome::Failed(Cause::Code {
                    status: 409,
                    code: Code::new("INSUFFICIENT_SEATS").unwrap(),
                });
            }
            if let Some(a) = o.attempts.get_mut(1) {
                a.honoured = i % 3 == 0;
                a.early = i % 5 == 0;
            }
            let mut j = JourneyLog::new(
                0,
                Duration::from_millis(i * 250),
                Duration::from_micros(100 + i * 13),
                1,
            );
            j.ops.push(o);
            j.end = [
                JourneyEnd::Succeeded,
                JourneyEnd::SoldOut,
                JourneyEnd::Failed,
                JourneyEnd::Cancelled,
            ][(i % 4) as usize];
            j.breaker_opens = (i % 7 == 0) as u16;
            j.set_breaker_open_time(Duration::from_millis(i));
            out.push(j);
        }
        out
    }

    fn assert_same(a: &Recorder, b: &Recorder) {
        assert_eq!(a.steps.len(), b.steps.len());
        for (x, y) in a.steps.iter().zip(&b.steps) {
            assert_eq!(
                (x.ops, x.ok, x.attempts, x.folded()),
                (y.ops, y.ok, y.attempts, y.folded())
            );
            assert_eq!(x.outcomes, y.outcomes);
            assert!(x.op_latency == y.op_latency);
            assert!(x.ok_latency == y.ok_latency);
            assert!(x.attempt_latency == y.attempt_latency);
            assert_eq!(x.op_seconds, y.op_seconds);
            assert_eq!(x.attempt_seconds, y.attempt_seconds);
            assert_eq!(x.ok_seconds, y.ok_seconds);
            assert_eq!(
                (x.passed, &x.polls, x.early_polls),
                (y.passed, &y.polls, y.early_polls)
            );
            assert!(x.first_event == y.first_event);
            assert!(x.op_seconds.total() == x.op_latency);
            assert!(x.ok_seconds.total() == x.ok_latency);
            assert_eq!(x.by_class.len(), y.by_class.len());
            for (k, h) in &x.by_class {
                assert!(y.by_class.get(k).is_some_and(|g| g == h), "{k:?}");
            }
        }
        assert!(a.backoff_wait == b.backoff_wait);
        assert!(a.queue_wait == b.queue_wait);
        assert!(a.schedule_lag == b.schedule_lag);
        assert_eq!(a.attempts_per_op, b.attempts_per_op);
        assert_eq!(a.journeys, b.journeys);
        assert_eq!(a.series, b.series);
        assert_eq!(a.retry_after_honoured, b.retry_after_honoured);
        assert_eq!(a.early_retries, b.early_retries);
        assert_eq!(a.breaker_opens, b.breaker_opens);
        assert_eq!(a.breaker_open_time, b.breaker_open_time);
        assert!(a.journey_duration == b.journey_duration);
        assert_eq!(a.relogins, b.relogins);
    }

    #[test]
    fn merging_equals_absorbing_everything_into_one() {
        let all = journeys();
        let mut one = Recorder::new(2);
        for j in &all {
            one.absorb(j);
        }
        // Spread over three collectors, unevenly, then merged.
        let mut parts: Vec<Recorder> = (0..3).map(|_| Recorder::new(2)).collect();
        for (i, j) in all.iter().enumerate() {
            parts[(i * 7 / 3) % 3].absorb(j);
        }
        let mut merged = Recorder::new(2);
        for p in &parts {
            merged += p;
        }
        assert_same(&merged, &one);
        assert!(one.journeys.started == 40 && one.early_retries > 0 && one.breaker_opens > 0);
    }
}
