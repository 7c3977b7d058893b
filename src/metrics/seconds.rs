//! Per-interval latency histograms, kept sparse, with an exact per-second view.
//!
//! A dense [`Histogram`] of the recorder's range (1 µs to 1 h at three
//! significant digits) is ~190 KB whether it holds one sample or a million;
//! one per second per step per kind would be gigabytes for a long run. A
//! [`SecondHistograms`] keeps, for each interval that had samples only, the
//! counts of the buckets that were hit, keyed by the bucket's lowest
//! equivalent value. [`SecondHistograms::histogram`] rebuilds the dense
//! histogram of one second exactly: recording a bucket's lowest equivalent
//! value lands in the same bucket as every value it stands for, so the
//! rebuilt histogram equals one recorded directly, count for count.
//!
//! The interval is one second, or [`FINE_INTERVAL_MS`] (100 ms) for a round
//! whose arrivals last at most [`FINE_UNTIL`] (30 s; see [`interval_ms_for`]),
//! so a 3-second drop has 30 points, not 4. Whatever the interval, the
//! per-second view ([`SecondHistograms::seconds`], [`SecondHistograms::histogram`])
//! is the sum of the second's sub-intervals bucket by bucket, exactly what a
//! per-second recorder would hold: the `.hlog` interval logs
//! ([`crate::metrics::hlog`]), the streamed partial files and `stampede merge`
//! stay per second. Memory: only intervals with samples take space, and the
//! fine interval is used only for rounds of at most 30 s of arrivals.
//!
//! [`SecondHistograms::intervals`] yields each interval's sparse counts, from
//! which [`crate::metrics::latency`] computes the latency-over-time series.

use super::recorder::new_histogram;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::ops::AddAssign;
use std::sync::OnceLock;
use std::time::Duration;

/// One interval's samples: bucket (lowest equivalent value, µs) -> count.
pub type SparseCounts = BTreeMap<u64, u64>;

/// The sub-second interval of short rounds.
pub const FINE_INTERVAL_MS: u32 = 100;
/// Rounds whose arrivals last at most this long get [`FINE_INTERVAL_MS`].
pub const FINE_UNTIL: Duration = Duration::from_secs(30);
const SECOND_MS: u32 = 1000;

/// The latency interval of a round whose arrivals last `arrivals`: 100 ms up
/// to 30 s (a 30 s round with a 15 s drain has at most 450 intervals), else 1 s.
pub fn interval_ms_for(arrivals: Duration) -> u32 {
    if arrivals <= FINE_UNTIL {
        FINE_INTERVAL_MS
    } else {
        SECOND_MS
    }
}

/// Sparse per-interval histograms of one quantity (e.g. a step's operation
/// latency), keyed by the interval since the round start in which each
/// sample completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondHistograms {
    /// Interval length in ms; divides 1000.
    width_ms: u32,
    /// Interval index (start = index × width) -> counts.
    by_interval: BTreeMap<u32, SparseCounts>,
}

impl Default for SecondHistograms {
    fn default() -> Self {
        Self::with_interval(SECOND_MS)
    }
}

/// An empty histogram of the recorder's settings, to map values to buckets.
pub(super) fn template() -> &'static Histogram<u64> {
    static T: OnceLock<Histogram<u64>> = OnceLock::new();
    T.get_or_init(new_histogram)
}

fn add_counts(into: &mut SparseCounts, from: &SparseCounts) {
    for (v, n) in from {
        *into.entry(*v).or_default() += n;
    }
}

impl SecondHistograms {
    /// Empty, with intervals of `width_ms` (a divisor of 1000; anything else
    /// means one second).
    pub fn with_interval(width_ms: u32) -> Self {
        let width_ms = if width_ms > 0 && SECOND_MS.is_multiple_of(width_ms) {
            width_ms
        } else {
            SECOND_MS
        };
        SecondHistograms {
            width_ms,
            by_interval: BTreeMap::new(),
        }
    }

    /// The interval length in milliseconds.
    pub fn interval_ms(&self) -> u32 {
        self.width_ms
    }

    fn per_second(&self) -> u32 {
        SECOND_MS / self.width_ms
    }

    /// Record `value_us` in second `second` (its first interval). Values
    /// outside the histogram's range are clamped to it, as
    /// `saturating_record` does.
    pub fn record(&mut self, second: u32, value_us: u64) {
        self.record_n(second, value_us, 1);
    }

    pub fn record_n(&mut self, second: u32, value_us: u64, n: u64) {
        let i = second.saturating_mul(self.per_second());
        self.record_interval(i, value_us, n);
    }

    /// Record `value_us` in the interval holding `at` (since the round start).
    pub fn record_at(&mut self, at: Duration, value_us: u64) {
        let i = u32::try_from(at.as_millis() / u128::from(self.width_ms)).unwrap_or(u32::MAX);
        self.record_interval(i, value_us, 1);
    }

    fn record_interval(&mut self, i: u32, value_us: u64, n: u64) {
        let t = template();
        let v = value_us.clamp(t.low(), t.high());
        let key = t.lowest_equivalent(v);
        *self
            .by_interval
            .entry(i)
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
        self.by_interval.is_empty()
    }

    /// Intervals that have samples, in order: (start in ms since the round
    /// start, sparse counts).
    pub fn intervals(&self) -> impl Iterator<Item = (u64, &SparseCounts)> + '_ {
        let w = u64::from(self.width_ms);
        self.by_interval
            .iter()
            .map(move |(i, c)| (u64::from(*i) * w, c))
    }

    /// Each second's counts: the sum of its intervals, bucket by bucket.
    fn second_counts(&self) -> BTreeMap<u32, SparseCounts> {
        let k = self.per_second();
        let mut out: BTreeMap<u32, SparseCounts> = BTreeMap::new();
        for (i, c) in &self.by_interval {
            add_counts(out.entry(i / k).or_default(), c);
        }
        out
    }

    /// Seconds that have samples, in order, each with its dense histogram
    /// (the sum of its intervals). Lazy: one dense histogram at a time.
    pub fn seconds(&self) -> impl Iterator<Item = (u32, Histogram<u64>)> + '_ {
        self.seconds_with_samples()
            .map(move |s| (s, self.histogram(s)))
    }

    /// Seconds that have samples, in order (no histogram built).
    pub fn seconds_with_samples(&self) -> impl Iterator<Item = u32> + '_ {
        let k = self.per_second();
        let mut last = None;
        self.by_interval.keys().filter_map(move |i| {
            let s = i / k;
            (last != Some(s)).then(|| {
                last = Some(s);
                s
            })
        })
    }

    /// The dense histogram of one second (empty when it had no samples).
    pub fn histogram(&self, second: u32) -> Histogram<u64> {
        let k = self.per_second();
        let from = second.saturating_mul(k);
        let mut h = new_histogram();
        for c in self
            .by_interval
            .range(from..from.saturating_add(k))
            .map(|(_, c)| c)
        {
            for (v, n) in c {
                h.saturating_record_n(*v, *n);
            }
        }
        h
    }

    /// The same samples at one-second intervals (exact: sums of buckets).
    pub fn per_second_view(&self) -> SecondHistograms {
        if self.per_second() == 1 {
            return self.clone();
        }
        SecondHistograms {
            width_ms: SECOND_MS,
            by_interval: self.second_counts(),
        }
    }

    /// Every interval summed into one histogram.
    pub fn total(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for c in self.by_interval.values() {
            for (v, n) in c {
                h.saturating_record_n(*v, *n);
            }
        }
        h
    }

    /// Samples over every interval.
    pub fn count(&self) -> u64 {
        self.by_interval.values().flat_map(|c| c.values()).sum()
    }

    /// Add `o` with its intervals moved `shift` seconds later (aligning
    /// shards that started in different wall-clock seconds).
    pub fn add_shifted(&mut self, o: &SecondHistograms, shift: u32) {
        self.add_with(o, shift);
    }

    /// `self += o` shifted by `shift` seconds. Different intervals meet at
    /// one second (both divide it, so the sums stay exact); an empty
    /// `self` takes `o`'s interval.
    fn add_with(&mut self, o: &SecondHistograms, shift: u32) {
        if self.is_empty() {
            self.width_ms = o.width_ms;
        }
        if self.width_ms != o.width_ms {
            *self = self.per_second_view();
            let o = o.per_second_view();
            return self.add_with(&o, shift);
        }
        let offset = shift.saturating_mul(self.per_second());
        for (i, c) in &o.by_interval {
            add_counts(
                self.by_interval
                    .entry(i.saturating_add(offset))
                    .or_default(),
                c,
            );
        }
    }
}

impl AddAssign<&SecondHistograms> for SecondHistograms {
    fn add_assign(&mut self, o: &SecondHistograms) {
        self.add_with(o, 0);
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

    #[test]
    fn fine_intervals_sum_exactly_to_each_second() {
        // The same samples recorded at 100 ms and at 1 s: the per-second
        // view of the fine one equals the coarse one, bucket by bucket.
        let mut fine = SecondHistograms::with_interval(FINE_INTERVAL_MS);
        let mut coarse = SecondHistograms::default();
        for i in 0..20_000u64 {
            let at = Duration::from_micros(i * 173 % 3_400_000);
            let v = 1 + i * i * 31 % 7_000_000;
            fine.record_at(at, v);
            coarse.record_at(at, v);
        }
        assert_eq!(fine.interval_ms(), 100);
        assert_eq!(fine.intervals().count(), 34);
        assert_eq!(coarse.intervals().count(), 4);
        assert_eq!(fine.per_second_view(), coarse);
        let a: Vec<u32> = fine.seconds_with_samples().collect();
        assert_eq!(a, [0, 1, 2, 3]);
        for ((s, h), (t, g)) in fine.seconds().zip(coarse.seconds()) {
            assert_eq!(s, t);
            assert!(h == g, "second {s}");
            assert!(fine.histogram(s) == g);
        }
        assert!(fine.total() == coarse.total());
        assert_eq!(fine.count(), 20_000);
        // Adding a per-second part (from an .hlog) meets at one second.
        let mut sum = fine.clone();
        sum += &coarse;
        assert_eq!(sum.interval_ms(), 1000);
        assert_eq!(sum.histogram(2).len(), 2 * coarse.histogram(2).len());
        // An empty sum takes the interval of what is added.
        let mut empty = SecondHistograms::default();
        empty += &fine;
        assert_eq!(empty, fine);
    }

    #[test]
    fn short_rounds_get_the_fine_interval() {
        assert_eq!(interval_ms_for(Duration::from_secs(3)), 100);
        assert_eq!(interval_ms_for(FINE_UNTIL), 100);
        assert_eq!(interval_ms_for(Duration::from_secs(31)), 1000);
        assert_eq!(SecondHistograms::with_interval(300).interval_ms(), 1000);
    }
}
