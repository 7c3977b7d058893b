//! One collector's view of one cohort.

use super::log::{JourneyEnd, JourneyLog, StatusClass};
use crate::report::{JourneyCounts, SecondRow};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// 1 µs to 1 hour at 3 significant digits: enough resolution for a 200 µs
/// loopback attempt and range for a 30 s backoff chain.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[derive(Debug, Clone)]
pub struct StepRec {
    pub ops: u64,
    pub ok: u64,
    pub attempts: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub op_latency: Histogram<u64>,
    pub attempt_latency: Histogram<u64>,
    pub by_class: BTreeMap<StatusClass, Histogram<u64>>,
}

impl StepRec {
    fn new() -> Self {
        Self {
            ops: 0,
            ok: 0,
            attempts: 0,
            outcomes: BTreeMap::new(),
            op_latency: new_histogram(),
            attempt_latency: new_histogram(),
            by_class: BTreeMap::new(),
        }
    }

    fn merge(&mut self, o: &StepRec) {
        self.ops += o.ops;
        self.ok += o.ok;
        self.attempts += o.attempts;
        for (k, v) in &o.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += v;
        }
        let _ = self.op_latency.add(&o.op_latency);
        let _ = self.attempt_latency.add(&o.attempt_latency);
        for (k, h) in &o.by_class {
            let _ = self.by_class.entry(*k).or_insert_with(new_histogram).add(h);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorder {
    pub steps: Vec<StepRec>,
    pub op_latency: Histogram<u64>,
    pub attempt_latency: Histogram<u64>,
    pub backoff_wait: Histogram<u64>,
    pub schedule_lag: Histogram<u64>,
    pub attempts_per_op: BTreeMap<u32, u64>,
    pub journeys: JourneyCounts,
    pub series: Vec<SecondRow>,
    pub retry_after_honoured: u64,
    pub early_retries: u64,
    pub breaker_opens: u64,
    pub breaker_open_time: Duration,
}

impl Recorder {
    pub fn new(steps: usize) -> Self {
        Self {
            steps: (0..steps).map(|_| StepRec::new()).collect(),
            op_latency: new_histogram(),
            attempt_latency: new_histogram(),
            backoff_wait: new_histogram(),
            schedule_lag: new_histogram(),
            attempts_per_op: BTreeMap::new(),
            journeys: JourneyCounts::default(),
            series: Vec::new(),
            retry_after_honoured: 0,
            early_retries: 0,
            breaker_opens: 0,
            breaker_open_time: Duration::ZERO,
        }
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
        self.schedule_lag.saturating_record(us(j.schedule_lag));
        self.breaker_opens += u64::from(j.breaker_opens);
        self.breaker_open_time += j.breaker_open_time;
        if j.breaker_opens > 0 {
            // Attribute opens to the second the journey started: close enough
            // for a per-second picture, exact in the totals.
            self.second(j.intended_at).breaker_opens += u64::from(j.breaker_opens);
        }
        for op in &j.ops {
            self.second(op.intended_at()).arrivals += 1;
            let Some(step) = self.steps.get_mut(op.step as usize) else {
                continue;
            };
            step.ops += 1;
            step.ok += u64::from(op.ok);
            step.attempts += op.attempts.len() as u64;
            *step.outcomes.entry(op.outcome.clone()).or_default() += 1;
            step.op_latency.saturating_record(us(op.latency));
            for a in &op.attempts {
                step.attempt_latency.saturating_record(us(a.latency()));
                step.by_class
                    .entry(a.class)
                    .or_insert_with(new_histogram)
                    .saturating_record(us(a.latency()));
            }
            self.op_latency.saturating_record(us(op.latency));
            if !op.attempts.is_empty() {
                *self
                    .attempts_per_op
                    .entry(op.attempts.len() as u32)
                    .or_default() += 1;
            }
            if op.backoff() > Duration::ZERO {
                self.backoff_wait.saturating_record(us(op.backoff()));
            }
            self.retry_after_honoured += u64::from(op.retry_after_honoured);
            self.early_retries += u64::from(op.early_retries);
            for a in &op.attempts {
                self.attempt_latency.saturating_record(us(a.latency()));
                let row = self.second(a.sent_at());
                row.attempts += 1;
                row.retries += u64::from(a.retry);
                match a.class {
                    StatusClass::S2xx => row.successes += 1,
                    StatusClass::S429 => row.status_429 += 1,
                    StatusClass::S5xx => row.status_5xx += 1,
                    StatusClass::Timeout => row.timeouts += 1,
                    StatusClass::Network => row.network_errors += 1,
                    StatusClass::S3xx | StatusClass::S4xx => {}
                }
            }
        }
    }

    pub fn merge(&mut self, o: &Recorder) {
        for (a, b) in self.steps.iter_mut().zip(&o.steps) {
            a.merge(b);
        }
        let _ = self.op_latency.add(&o.op_latency);
        let _ = self.attempt_latency.add(&o.attempt_latency);
        let _ = self.backoff_wait.add(&o.backoff_wait);
        let _ = self.schedule_lag.add(&o.schedule_lag);
        for (k, v) in &o.attempts_per_op {
            *self.attempts_per_op.entry(*k).or_default() += v;
        }
        let (a, b) = (&mut self.journeys, &o.journeys);
        a.started += b.started;
        a.succeeded += b.succeeded;
        a.sold_out += b.sold_out;
        a.failed += b.failed;
        a.cancelled += b.cancelled;
        self.grow_series(o.series.len());
        for (a, b) in self.series.iter_mut().zip(&o.series) {
            a.arrivals += b.arrivals;
            a.attempts += b.attempts;
            a.retries += b.retries;
            a.successes += b.successes;
            a.status_429 += b.status_429;
            a.status_5xx += b.status_5xx;
            a.timeouts += b.timeouts;
            a.network_errors += b.network_errors;
            a.breaker_opens += b.breaker_opens;
        }
        self.retry_after_honoured += o.retry_after_honoured;
        self.early_retries += o.early_retries;
        self.breaker_opens += o.breaker_opens;
        self.breaker_open_time += o.breaker_open_time;
    }
}

#[cfg(test)]
mod tests {
    use super::super::log::*;
    use super::*;

    fn op(step: usize, ok: bool, classes: &[StatusClass], ms: u64) -> OpLog {
        let mut op = OpLog::new(step, Duration::from_millis(500));
        op.latency = Duration::from_millis(ms);
        op.outcome = if ok { "OK".into() } else { "GAVE_UP".into() };
        op.ok = ok;
        op.attempts = classes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                AttemptLog::new(
                    Duration::from_millis(500 + 1000 * i as u64),
                    Duration::from_millis(2),
                    *c,
                    i > 0,
                )
            })
            .collect();
        op.add_backoff(Duration::from_millis(ms.saturating_sub(2)));
        op
    }

    fn journey(ops: Vec<OpLog>, end: JourneyEnd) -> JourneyLog {
        JourneyLog {
            ops,
            end,
            ..JourneyLog::default()
        }
    }

    #[test]
    fn absorb_counts_ops_attempts_and_series() {
        use StatusClass::*;
        let mut r = Recorder::new(2);
        r.absorb(&journey(
            vec![
                op(0, true, &[S2xx], 3),
                op(1, false, &[S503(), S429, Timeout], 4000),
            ],
            JourneyEnd::Failed,
        ));
        assert_eq!(r.steps[0].ops, 1);
        assert_eq!(r.steps[1].attempts, 3);
        assert_eq!(r.attempts_per_op.get(&3), Some(&1));
        assert_eq!(r.series.len(), 3);
        assert_eq!(r.series[0].attempts, 2);
        assert_eq!(r.series[1].status_429, 1);
        assert_eq!(r.series[2].timeouts, 1);
        assert_eq!(r.series[1].retries, 1);
        assert_eq!(r.journeys.failed, 1);
        assert_eq!(r.op_latency.len(), 2);
    }

    #[allow(non_snake_case)]
    fn S503() -> StatusClass {
        StatusClass::of_status(503)
    }

    #[test]
    fn merge_adds_everything() {
        use StatusClass::*;
        let mut a = Recorder::new(1);
        let mut b = Recorder::new(1);
        a.absorb(&journey(
            vec![op(0, true, &[S2xx], 3)],
            JourneyEnd::Succeeded,
        ));
        b.absorb(&journey(
            vec![op(0, false, &[S5xx, S5xx], 1500)],
            JourneyEnd::Failed,
        ));
        a.merge(&b);
        assert_eq!(a.steps[0].ops, 2);
        assert_eq!(a.steps[0].attempts, 3);
        assert_eq!(a.journeys.started, 2);
        assert_eq!(a.series[1].status_5xx, 1);
        assert_eq!(a.op_latency.len(), 2);
        assert_eq!(a.steps[0].by_class.len(), 2);
    }
}
