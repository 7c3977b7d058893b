//! Latency over time: per-interval percentiles of operations and attempts,
//! per step and per fleet, from the sparse per-interval histograms
//! ([`SecondHistograms`]).
//!
//! Each interval's percentiles are computed from that interval's own
//! histogram (the fleet's interval is the steps' intervals summed bucket by
//! bucket), never averaged from other percentiles. They are read straight
//! from the sparse counts with HdrHistogram's own rule (the smallest bucket
//! whose cumulative count reaches `ceil(q × count)`, reported as the
//! bucket's highest equivalent value), which equals `value_at_quantile` of
//! the dense histogram rebuilt from them (tested below) without building
//! one ~190 KB histogram per interval.

use super::seconds::{SecondHistograms, SparseCounts, template};
use super::summarize::US_PER_MS;
use crate::model::{IntervalLatency, LatencyRow};
use std::collections::BTreeMap;

/// Percentiles of one interval's sparse counts, in milliseconds.
pub fn interval_latency(c: &SparseCounts) -> IntervalLatency {
    sorted_latency(c.iter().map(|(v, n)| (*v, *n)))
}

/// Percentiles of `(bucket lowest equivalent value, count)` pairs given in
/// value order, in milliseconds, in one pass: HdrHistogram's rule for each
/// quantile (see the module comment).
pub fn sorted_latency(pairs: impl Iterator<Item = (u64, u64)> + Clone) -> IntervalLatency {
    let total: u64 = pairs.clone().map(|(_, n)| n).sum();
    if total == 0 {
        return IntervalLatency::default();
    }
    let t = template();
    let ms = |v: u64| v as f64 / US_PER_MS;
    let qs = [0.50, 0.90, 0.95, 0.99];
    let targets = qs.map(|q| ((q * total as f64).ceil() as u64).max(1));
    let mut got = [0.0; 4];
    let (mut seen, mut next, mut last) = (0u64, 0usize, 0u64);
    for (v, n) in pairs {
        seen += n;
        last = v;
        while next < targets.len() && seen >= targets[next] {
            got[next] = ms(t.highest_equivalent(v));
            next += 1;
        }
    }
    IntervalLatency {
        count: total,
        p50: got[0],
        p90: got[1],
        p95: got[2],
        p99: got[3],
        max: ms(t.highest_equivalent(last)),
    }
}

/// Percentiles of one interval's dense histogram, through the crate's own
/// `value_at_quantile`: the oracle the sparse readings are tested against.
#[cfg(test)]
pub fn dense_latency(h: &hdrhistogram::Histogram<u64>) -> IntervalLatency {
    if h.is_empty() {
        return IntervalLatency::default();
    }
    let p = crate::metrics::hgrm::percentiles(h, US_PER_MS);
    IntervalLatency {
        count: p.count,
        p50: p.p50,
        p90: p.p90,
        p95: p.p95,
        p99: p.p99,
        max: p.max,
    }
}

/// One row per interval in which an operation or an attempt ended.
pub fn series(op: &SecondHistograms, attempt: &SecondHistograms) -> Vec<LatencyRow> {
    let (op, attempt) = same_interval(op, attempt);
    let mut rows: BTreeMap<u64, LatencyRow> = BTreeMap::new();
    for (t_ms, c) in op.intervals() {
        rows.entry(t_ms).or_default().operation_latency_ms = interval_latency(c);
    }
    for (t_ms, c) in attempt.intervals() {
        rows.entry(t_ms).or_default().attempt_latency_ms = interval_latency(c);
    }
    rows.into_iter()
        .map(|(t_ms, r)| LatencyRow { t_ms, ..r })
        .collect()
}

fn same_interval(
    a: &SecondHistograms,
    b: &SecondHistograms,
) -> (SecondHistograms, SecondHistograms) {
    if a.interval_ms() == b.interval_ms() || a.is_empty() || b.is_empty() {
        (a.clone(), b.clone())
    } else {
        (a.per_second_view(), b.per_second_view())
    }
}

/// Every latency series of a fleet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySeries {
    pub interval_ms: u32,
    /// Over every step, per interval.
    pub fleet: Vec<LatencyRow>,
    /// Over every step, per second.
    pub per_second: Vec<LatencyRow>,
    /// Per step (in step order), per interval.
    pub steps: Vec<Vec<LatencyRow>>,
}

/// The series of a fleet from each step's (operation, attempt) histograms.
pub fn latency_series<'a>(
    steps: impl IntoIterator<Item = (&'a SecondHistograms, &'a SecondHistograms)>,
) -> LatencySeries {
    let (mut op, mut attempt) = (SecondHistograms::default(), SecondHistograms::default());
    let mut per_step = Vec::new();
    for (o, a) in steps {
        op += o;
        attempt += a;
        per_step.push(series(o, a));
    }
    let (op, attempt) = same_interval(&op, &attempt);
    let interval_ms = if op.is_empty() {
        attempt.interval_ms()
    } else {
        op.interval_ms()
    };
    LatencySeries {
        interval_ms,
        fleet: series(&op, &attempt),
        per_second: series(&op.per_second_view(), &attempt.per_second_view()),
        steps: per_step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::hgrm;
    use crate::metrics::new_histogram;
    use std::time::Duration;

    fn assert_equal(got: &IntervalLatency, h: &hdrhistogram::Histogram<u64>) {
        let want = hgrm::percentiles(h, US_PER_MS);
        assert_eq!(got.count, want.count);
        assert_eq!(
            [got.p50, got.p90, got.p95, got.p99, got.max],
            [want.p50, want.p90, want.p95, want.p99, want.max]
        );
    }

    #[test]
    fn interval_percentiles_equal_one_histogram_of_that_intervals_samples() {
        // Known samples in three 100 ms intervals, with a heavy tail in the
        // middle one; each interval is checked against a dense histogram that
        // holds exactly its samples.
        let mut s = SecondHistograms::with_interval(100);
        let mut direct = [new_histogram(), new_histogram(), new_histogram()];
        for i in 0..3000u64 {
            let k = (i % 3) as usize;
            let v = match k {
                0 => 200 + i,
                1 if i % 50 == 1 => 2_500_000 + i * 7,
                1 => 5_000 + i * 3,
                _ => 1 + i * i % 90_000,
            };
            s.record_at(Duration::from_millis(100 * k as u64 + i % 100), v);
            direct[k].record(v).unwrap();
        }
        let rows = series(&s, &SecondHistograms::default());
        assert_eq!(rows.len(), 3);
        for (row, h) in rows.iter().zip(&direct) {
            assert_equal(&row.operation_latency_ms, h);
            assert_eq!(row.attempt_latency_ms, IntervalLatency::default());
        }
        assert_eq!(
            rows.iter().map(|r| r.t_ms).collect::<Vec<_>>(),
            [0, 100, 200]
        );
        // The tail shows in its own interval only.
        assert!(rows[1].operation_latency_ms.p99 > 2_000.0);
        assert!(rows[0].operation_latency_ms.max < 4.0);
        // One sample: every percentile is that sample's bucket.
        let mut one = SecondHistograms::default();
        one.record(0, 1234);
        let r = series(&one, &one)[0];
        assert_eq!(r.operation_latency_ms.p50, r.operation_latency_ms.max);
        assert_eq!(r.attempt_latency_ms.count, 1);
    }

    #[test]
    fn fleet_interval_is_the_steps_summed_not_averaged() {
        let mut a = SecondHistograms::with_interval(100);
        let mut b = SecondHistograms::with_interval(100);
        let mut both = new_histogram();
        let mut second = new_histogram();
        for i in 1..=1000u64 {
            a.record_at(Duration::from_millis(1250), i);
            b.record_at(Duration::from_millis(1250), i * 100);
            b.record_at(Duration::from_millis(1900), 77);
            both.record(i).unwrap();
            both.record(i * 100).unwrap();
            second.record(i).unwrap();
            second.record(i * 100).unwrap();
            second.record(77).unwrap();
        }
        let c = latency_series([(&a, &a), (&b, &b)]);
        assert_eq!(c.interval_ms, 100);
        assert_eq!(c.fleet.len(), 2);
        assert_eq!(c.fleet[0].t_ms, 1200);
        assert_equal(&c.fleet[0].operation_latency_ms, &both);
        assert_equal(&c.fleet[0].attempt_latency_ms, &both);
        assert_eq!(c.per_second.len(), 1);
        assert_eq!(c.per_second[0].t_ms, 1000);
        assert_equal(&c.per_second[0].operation_latency_ms, &second);
        assert_eq!(c.steps.len(), 2);
        assert_eq!(c.steps[0].len(), 1);
        assert_eq!(c.steps[1].len(), 2);
        let counts: u64 = c.fleet.iter().map(|r| r.operation_latency_ms.count).sum();
        assert_eq!(counts, 3000);
    }
}
