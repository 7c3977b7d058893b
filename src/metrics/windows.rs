//! Gate windows: a round cut into tumbling windows of whole seconds from its
//! start, each with the operations and attempts that ended in it and their
//! latencies, for gates such as `p99 < 800ms in 99% of 10s windows`.
//!
//! A window's percentiles come from the window's own histogram (its
//! intervals' sparse counts summed bucket by bucket), read with
//! HdrHistogram's rule, as [`super::latency`] does for intervals; the test
//! below checks them against the dense histogram's `value_at_quantile`.
//! Windows are computed only for the widths some gate asks for.

use super::seconds::{SecondHistograms, SparseCounts, template};
use super::summarize::US_PER_MS;
use crate::model::{Percentiles, WindowRow, WindowSeries};
use std::collections::BTreeMap;
use std::time::Duration;

/// Each window's counts: the intervals that start in it, summed.
fn window_counts(h: &SecondHistograms, width_s: u32) -> BTreeMap<u32, SparseCounts> {
    let width_ms = u64::from(width_s.max(1)) * 1000;
    let mut out: BTreeMap<u32, SparseCounts> = BTreeMap::new();
    for (t_ms, c) in h.intervals() {
        let w = u32::try_from(t_ms / width_ms).unwrap_or(u32::MAX);
        let into = out.entry(w).or_default();
        for (v, n) in c {
            *into.entry(*v).or_default() += n;
        }
    }
    out
}

/// The full percentiles of sparse counts, in milliseconds: count, mean
/// (each bucket at its median equivalent value, as HdrHistogram's `mean`),
/// p50 to p99.9 (the smallest bucket whose cumulative count reaches
/// `ceil(q × count)`, at its highest equivalent value) and max.
pub fn sparse_percentiles(c: &SparseCounts) -> Percentiles {
    let total: u64 = c.values().sum();
    if total == 0 {
        return Percentiles::default();
    }
    let t = template();
    let ms = |v: u64| v as f64 / US_PER_MS;
    let qs = [0.50, 0.90, 0.95, 0.99, 0.999];
    let targets = qs.map(|q| ((q * total as f64).ceil() as u64).max(1));
    let mut got = [0.0; 5];
    let (mut seen, mut next, mut last, mut mean) = (0u64, 0usize, 0u64, 0.0f64);
    for (&v, &n) in c {
        seen += n;
        last = v;
        mean += t.median_equivalent(v) as f64 * n as f64 / total as f64;
        while next < targets.len() && seen >= targets[next] {
            got[next] = ms(t.highest_equivalent(v));
            next += 1;
        }
    }
    Percentiles {
        count: total,
        mean: mean / US_PER_MS,
        p50: got[0],
        p90: got[1],
        p95: got[2],
        p99: got[3],
        p999: got[4],
        max: ms(t.highest_equivalent(last)),
    }
}

/// What one step (or a whole fleet, its steps summed) ended, per interval.
#[derive(Clone, Copy)]
pub struct Ended<'a> {
    pub op: &'a SecondHistograms,
    pub ok: &'a SecondHistograms,
    pub attempt: &'a SecondHistograms,
}

/// `width_s`-second windows of `ended` over a round of `round`: every window
/// from the start to the round's end, or to the last window in which
/// something ended if that is later.
pub fn series(width_s: u32, round: Duration, ended: Ended<'_>) -> WindowSeries {
    let width_s = width_s.max(1);
    let [op, ok, attempt] = [ended.op, ended.ok, ended.attempt].map(|h| window_counts(h, width_s));
    let in_round = round.as_millis().div_ceil(u128::from(width_s) * 1000);
    let last = [&op, &ok, &attempt]
        .iter()
        .filter_map(|m| m.keys().next_back())
        .max()
        .map_or(0, |w| u128::from(*w) + 1);
    let n = u32::try_from(in_round.max(last)).unwrap_or(u32::MAX);
    let empty = SparseCounts::new();
    let rows = (0..n)
        .map(|w| {
            let get =
                |m: &BTreeMap<u32, SparseCounts>| sparse_percentiles(m.get(&w).unwrap_or(&empty));
            let (op, ok, attempt) = (get(&op), get(&ok), get(&attempt));
            WindowRow {
                t_s: w.saturating_mul(width_s),
                operations: op.count,
                ok_operations: ok.count,
                attempts: attempt.count,
                operation_latency_ms: op,
                ok_operation_latency_ms: ok,
                attempt_latency_ms: attempt,
            }
        })
        .collect();
    WindowSeries { width_s, rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::hgrm;
    use crate::metrics::new_histogram;

    fn counts(values: &[u64]) -> SparseCounts {
        let mut h = SecondHistograms::default();
        for v in values {
            h.record(0, *v);
        }
        h.intervals()
            .next()
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }

    #[test]
    fn sparse_percentiles_equal_the_dense_histograms() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in [1usize, 2, 7, 100, 1000, 20_000] {
            let mut values = Vec::new();
            let mut dense = new_histogram();
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly fast, a slow tail: 50 µs .. 5 s.
                let v = 50
                    + x % 20_000
                    + if x.is_multiple_of(97) {
                        x % 5_000_000
                    } else {
                        0
                    };
                values.push(v);
                dense.record(v).unwrap();
            }
            let got = sparse_percentiles(&counts(&values));
            let want = hgrm::percentiles(&dense, US_PER_MS);
            assert_eq!(
                (
                    got.count, got.p50, got.p90, got.p95, got.p99, got.p999, got.max
                ),
                (
                    want.count, want.p50, want.p90, want.p95, want.p99, want.p999, want.max
                ),
                "{n} values"
            );
            assert!(
                (got.mean - want.mean).abs() <= 1e-9 * want.mean.max(1.0),
                "{n}: {} vs {}",
                got.mean,
                want.mean
            );
        }
        assert_eq!(
            sparse_percentiles(&SparseCounts::new()),
            Percentiles::default()
        );
    }

    #[test]
    fn windows_hold_what_ended_in_them_and_cover_the_round() {
        let (mut op, mut ok, mut attempt) = (
            SecondHistograms::with_interval(100),
            SecondHistograms::with_interval(100),
            SecondHistograms::with_interval(100),
        );
        // 0–9 s: fast; 10–19 s: one slow window; nothing ends after 20 s.
        for ms in (0..20_000u64).step_by(50) {
            let v = if (10_000..20_000).contains(&ms) {
                900_000
            } else {
                2_000
            };
            let at = Duration::from_millis(ms);
            op.record_at(at, v);
            attempt.record_at(at, v / 2);
            if ms % 100 == 0 {
                ok.record_at(at, v);
            }
        }
        let s = series(
            10,
            Duration::from_millis(35_500),
            Ended {
                op: &op,
                ok: &ok,
                attempt: &attempt,
            },
        );
        assert_eq!(s.width_s, 10);
        // 35.5 s of round: four windows, the last two empty.
        let t: Vec<u32> = s.rows.iter().map(|r| r.t_s).collect();
        assert_eq!(t, [0, 10, 20, 30]);
        let ops: Vec<u64> = s.rows.iter().map(|r| r.operations).collect();
        assert_eq!(ops, [200, 200, 0, 0]);
        assert_eq!(s.rows[0].ok_operations, 100);
        assert_eq!(s.rows[1].attempts, 200);
        assert!(s.rows[0].ok_operation_latency_ms.p99 < 3.0);
        assert!(s.rows[1].ok_operation_latency_ms.p99 > 899.0);
        assert!(s.rows[1].attempt_latency_ms.p50 > 449.0);
        assert_eq!(s.rows[2].operation_latency_ms, Percentiles::default());
        // Every sample is in exactly one window.
        let total: u64 = s.rows.iter().map(|r| r.operations).sum();
        assert_eq!(total, op.count());
    }

    #[test]
    fn a_sample_after_the_round_still_gets_its_window() {
        let mut op = SecondHistograms::default();
        op.record(42, 1_000);
        let empty = SecondHistograms::default();
        let s = series(
            5,
            Duration::from_secs(10),
            Ended {
                op: &op,
                ok: &empty,
                attempt: &empty,
            },
        );
        assert_eq!(s.rows.len(), 9);
        assert_eq!(s.rows[8].t_s, 40);
        assert_eq!(s.rows[8].operations, 1);
    }
}
