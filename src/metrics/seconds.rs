//! Per-second latency histograms, kept sparse.
//!
//! A dense [`Histogram`] of the recorder's range (1 µs to 1 h at three
//! significant digits) is ~190 KB whether it holds one sample or a million;
//! one per second per step per kind would be gigabytes for a long run. A
//! [`SecondHistograms`] keeps, for each second that had samples only, the
//! counts of the buckets that were hit, keyed by the bucket's lowest
//! equivalent value. [`SecondHistograms::histogram`] rebuilds the dense
//! histogram of one second exactly: recording a bucket's lowest equivalent
//! value lands in the same bucket as every value it stands for, so the
//! rebuilt histogram equals one recorded directly, count for count.
//!
//! These feed the `.hlog` interval logs ([`crate::report::hlog`]), the
//! streamed partial files and, later, latency-over-time charts: iterate
//! [`SecondHistograms::seconds`] for `(second, histogram)` pairs.

use super::recorder::new_histogram;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::ops::AddAssign;
use std::sync::OnceLock;

/// One second's samples: bucket (lowest equivalent value, µs) -> count.
pub type SparseCounts = BTreeMap<u64, u64>;

/// Sparse per-second histograms of one quantity (e.g. a step's operation
/// latency), keyed by the second since the round start in which each sample
/// completed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecondHistograms {
    by_second: BTreeMap<u32, SparseCounts>,
}

/// An empty histogram of the recorder's settings, to map values to buckets.
fn template() -> &'static Histogram<u64> {
    static T: OnceLock<Histogram<u64>> = OnceLock::new();
    T.get_or_init(new_histogram)
}

impl SecondHistograms {
    /// Record `value_us` in second `second`. Values outside the histogram's
    /// range are clamped to it, as `saturating_record` does.
    pub fn record(&mut self, second: u32, value_us: u64) {
        self.record_n(second, value_us, 1);
    }

    pub fn record_n(&mut self, second: u32, value_us: u64, n: u64) {
        let t = template();
        let v = value_us.clamp(t.low(), t.high());
        let key = t.lowest_equivalent(v);
        *self
            .by_second
            .entry(second)
            .or_default()
            .entry(key)
            .or_default() += n;
    }

    /// Add every bucket of a dense histogram into `second`.
    pub fn add_histogram(&mut self, second: u32, h: &Histogram<u64>) {
        for v in h.iter_recorded() {
            self.record_n(second, v.value_iterated_to(), v.count_at_value());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_second.is_empty()
    }

    /// Seconds that have samples, in order.
    pub fn seconds(&self) -> impl Iterator<Item = (u32, Histogram<u64>)> + '_ {
        self.by_second.iter().map(|(s, c)| (*s, dense(c)))
    }

    /// Seconds that have samples, in order (no histogram built).
    pub fn seconds_with_samples(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_second.keys().copied()
    }

    /// The dense histogram of one second (empty when it had no samples).
    pub fn histogram(&self, second: u32) -> Histogram<u64> {
        self.by_second
            .get(&second)
            .map_or_else(new_histogram, dense)
    }

    /// Every second summed into one histogram.
    pub fn total(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for c in self.by_second.values() {
            for (v, n) in c {
                h.saturating_record_n(*v, *n);
            }
        }
        h
    }

    /// Samples over every second.
    pub fn count(&self) -> u64 {
        self.by_second.values().flat_map(|c| c.values()).sum()
    }
}

fn dense(c: &SparseCounts) -> Histogram<u64> {
    let mut h = new_histogram();
    for (v, n) in c {
        h.saturating_record_n(*v, *n);
    }
    h
}

impl SecondHistograms {
    /// Add `o` with its seconds moved `shift` later (aligning shards that
    /// started in different wall-clock seconds).
    pub fn add_shifted(&mut self, o: &SecondHistograms, shift: u32) {
        for (s, c) in &o.by_second {
            let mine = self.by_second.entry(s.saturating_add(shift)).or_default();
            for (v, n) in c {
                *mine.entry(*v).or_default() += n;
            }
        }
    }
}

impl AddAssign<&SecondHistograms> for SecondHistograms {
    fn add_assign(&mut self, o: &SecondHistograms) {
        for (s, c) in &o.by_second {
            let mine = self.by_second.entry(*s).or_default();
            for (v, n) in c {
                *mine.entry(*v).or_default() += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilt_second_equals_a_directly_recorded_histogram() {
        let mut s = SecondHistograms::default();
        let mut direct = new_histogram();
        for i in 0..5000u64 {
            let v = 1 + i * i * 37 % 9_000_000;
            s.record(3, v);
            direct.saturating_record(v);
        }
        let h = s.histogram(3);
        assert!(h == direct);
        assert_eq!(h.value_at_quantile(0.99), direct.value_at_quantile(0.99));
        assert_eq!(s.count(), 5000);
        assert_eq!(s.histogram(4).len(), 0);
        assert_eq!(s.seconds().count(), 1);
    }

    #[test]
    fn adding_is_bucketwise() {
        let mut a = SecondHistograms::default();
        let mut b = SecondHistograms::default();
        a.record(0, 100);
        b.record(0, 100);
        b.record(2, 7_000);
        a += &b;
        assert_eq!(a.histogram(0).count_at(100), 2);
        assert_eq!(a.total().len(), 3);
        assert_eq!(a.seconds().map(|(s, _)| s).collect::<Vec<_>>(), [0, 2]);
    }
}
