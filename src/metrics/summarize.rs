//! Merged recorder -> the report model's [`CohortResult`].

use super::recorder::Recorder;
use crate::policy::RetryPolicy;
use crate::report::{CohortResult, Percentiles, SpectrumPoint, StepResult};
use crate::sim::Ledger;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// What the summary needs beyond the recorder.
pub struct CohortMeta<'a> {
    pub name: &'a str,
    pub policy: &'a RetryPolicy,
    pub round: usize,
    pub share: f64,
    pub step_names: &'a [String],
    pub round_duration: Duration,
    /// In-flight journeys sampled at the end of each second.
    pub in_flight: &'a [u64],
    pub ledger: Option<Ledger>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        mean: h.mean() / 1000.0,
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// Points at 1/(1-p) steps (HdrHistogram's percentile distribution with
/// 5 ticks per half distance), enough to draw a spectrum on a log axis.
pub fn spectrum(h: &Histogram<u64>) -> Vec<SpectrumPoint> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<SpectrumPoint> = h
        .iter_quantiles(5)
        .map(|v| SpectrumPoint {
            percentile: v.quantile_iterated_to() * 100.0,
            value_ms: ms(h.highest_equivalent(v.value_iterated_to())),
        })
        .collect();
    out.dedup_by(|a, b| (a.percentile - b.percentile).abs() < 1e-12);
    out
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub fn summarize(rec: &Recorder, meta: CohortMeta<'_>) -> CohortResult {
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut operations = 0;
    let mut ok = 0;
    let mut attempts = 0;
    let mut steps = Vec::new();
    for (i, s) in rec.steps.iter().enumerate() {
        operations += s.ops;
        ok += s.ok;
        attempts += s.attempts;
        for (k, v) in &s.outcomes {
            *outcomes.entry(k.clone()).or_default() += v;
        }
        steps.push(StepResult {
            name: meta.step_names.get(i).cloned().unwrap_or_default(),
            operations: s.ops,
            attempts: s.attempts,
            success_rate: ratio(s.ok, s.ops),
            outcomes: s.outcomes.clone(),
            operation_latency_ms: percentiles(&s.op_latency),
            attempt_latency_ms: percentiles(&s.attempt_latency),
            attempt_latency_by_class_ms: s
                .by_class
                .iter()
                .map(|(c, h)| (c.label().to_string(), percentiles(h)))
                .collect(),
        });
    }
    let secs = meta.round_duration.as_secs_f64().max(1e-9);
    let mut timeseries = rec.series.clone();
    for (row, v) in timeseries.iter_mut().zip(meta.in_flight) {
        row.in_flight = *v;
    }
    CohortResult {
        name: meta.name.to_string(),
        policy: meta.policy.name.clone(),
        policy_detail: meta.policy.clone(),
        round: meta.round,
        share: meta.share,
        operations,
        attempts,
        retries: attempts.saturating_sub(operations),
        amplification: ratio(attempts, operations),
        success_rate: ratio(ok, operations),
        goodput: rec.journeys.succeeded as f64 / secs,
        achieved_rps: attempts as f64 / secs,
        round_duration_s: meta.round_duration.as_secs_f64(),
        journeys: rec.journeys,
        outcomes,
        operation_latency_ms: percentiles(&rec.op_latency),
        attempt_latency_ms: percentiles(&rec.attempt_latency),
        backoff_wait_ms: percentiles(&rec.backoff_wait),
        schedule_lag_ms: percentiles(&rec.schedule_lag),
        attempts_per_operation: rec.attempts_per_op.clone(),
        retry_after_honoured: rec.retry_after_honoured,
        breaker_opens: rec.breaker_opens,
        breaker_open_s: rec.breaker_open_time.as_secs_f64(),
        steps,
        operation_spectrum: spectrum(&rec.op_latency),
        attempt_spectrum: spectrum(&rec.attempt_latency),
        timeseries,
        ledger: meta.ledger,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;

    #[test]
    fn percentiles_in_ms() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let p = percentiles(&h);
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 500.0).abs() < 1.0, "{p:?}");
        assert!((p.p99 - 990.0).abs() < 1.5, "{p:?}");
        assert!((p.max - 1000.0).abs() < 1.0, "{p:?}");
    }

    #[test]
    fn spectrum_is_monotonic_and_reaches_100() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let s = spectrum(&h);
        assert!(s.len() > 20);
        assert!(
            s.windows(2)
                .all(|w| w[0].percentile <= w[1].percentile && w[0].value_ms <= w[1].value_ms)
        );
        assert!((s.last().unwrap().percentile - 100.0).abs() < 1e-9);
    }

    #[test]
    fn empty_histogram_gives_zeroes() {
        assert_eq!(percentiles(&new_histogram()), Percentiles::default());
        assert!(spectrum(&new_histogram()).is_empty());
    }
}
