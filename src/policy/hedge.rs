//! Hedged requests (Dean & Barroso, "The Tail at Scale", CACM 2013): when
//! an attempt has not answered after a delay, a second copy of it goes out
//! without cancelling the first, and the first answer to arrive settles
//! the operation.
//!
//! The delay is fixed (`after = "10ms"`) or a percentile of the attempt
//! latency the fleet has seen so far on that step (`after = "p95"`), read
//! from a [`LatencyEstimate`]; before [`MIN_SAMPLES`] answers the
//! `fallback` delay applies. Written `hedge = { after = "p95", max = 1,
//! fallback = "100ms" }` ([`HedgeTable`]).

use super::PolicyError;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Answers a step needs before its percentile is trusted.
pub const MIN_SAMPLES: u64 = 20;

/// The most hedges one attempt may have.
pub const MAX_HEDGES: u32 = 5;

/// The delay before a hedge when the preset gives none and the step has
/// fewer than [`MIN_SAMPLES`] answers.
pub const FALLBACK: Duration = Duration::from_millis(100);

/// The longest fixed delay or fallback.
const MAX_AFTER: Duration = Duration::from_secs(60);

/// When a hedge goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeAfter {
    /// This long after the previous attempt of the race was sent.
    Fixed(Duration),
    /// The fleet's attempt latency on the step at this percentile (50 to 99.9,
    /// in tenths: 950 is p95).
    Percentile(u16),
}

impl HedgeAfter {
    /// `"p95"`, `"p99.9"` or a duration (`"10ms"`).
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_prefix('p') {
            let tenths = p
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && (50.0..=99.9).contains(v))
                .map(|v| (v * 10.0).round() as u16);
            return tenths
                .map(HedgeAfter::Percentile)
                .ok_or_else(|| format!("`{s}` is not a percentile from p50 to p99.9 (\"p95\")"));
        }
        humantime::parse_duration(s)
            .map(HedgeAfter::Fixed)
            .map_err(|_| {
                format!("`{s}` is neither a percentile (\"p95\") nor a duration (\"10ms\")")
            })
    }
}

impl std::fmt::Display for HedgeAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HedgeAfter::Fixed(d) => write!(f, "{}", humantime::format_duration(*d)),
            HedgeAfter::Percentile(t) if t % 10 == 0 => write!(f, "p{}", t / 10),
            HedgeAfter::Percentile(t) => write!(f, "p{}.{}", t / 10, t % 10),
        }
    }
}

impl Serialize for HedgeAfter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HedgeAfter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HedgeAfter::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A validated hedging rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "HedgeTable", try_from = "HedgeTable")]
pub struct Hedge {
    pub after: HedgeAfter,
    /// Hedges per attempt (1: one extra copy at most).
    pub max: u32,
    /// The delay while the step has fewer than [`MIN_SAMPLES`] answers.
    pub fallback: Duration,
}

/// The `hedged` preset's rule: one hedge after the step's p95.
pub const P95: Hedge = Hedge {
    after: HedgeAfter::Percentile(950),
    max: 1,
    fallback: FALLBACK,
};

/// A hedge as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HedgeTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<HedgeAfter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub fallback: Option<Duration>,
}

fn invalid(key: &'static str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        key,
        reason: reason.into(),
    }
}

impl Hedge {
    /// `t` over the preset's rule `base` (kept where `t` is silent), else
    /// over [`P95`].
    pub fn build(t: &HedgeTable, base: Option<Hedge>) -> Result<Hedge, PolicyError> {
        let b = base.unwrap_or(P95);
        let h = Hedge {
            after: t.after.unwrap_or(b.after),
            max: t.max.unwrap_or(b.max),
            fallback: t.fallback.unwrap_or(b.fallback),
        };
        h.validate()?;
        Ok(h)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(1..=MAX_HEDGES).contains(&self.max) {
            return Err(invalid(
                "hedge.max",
                format!("{} must be between 1 and {MAX_HEDGES}", self.max),
            ));
        }
        let span = |key, d: Duration| {
            if d.is_zero() || d > MAX_AFTER {
                Err(invalid(
                    key,
                    format!(
                        "{} must be more than 0 and at most 60s",
                        humantime::format_duration(d)
                    ),
                ))
            } else {
                Ok(())
            }
        };
        if let HedgeAfter::Fixed(d) = self.after {
            span("hedge.after", d)?;
        }
        span("hedge.fallback", self.fallback)
    }

    /// The delay before the next hedge, given the step's estimate at this
    /// rule's percentile (`None` before [`MIN_SAMPLES`] answers).
    pub fn delay(&self, estimate: Option<Duration>) -> Duration {
        match self.after {
            HedgeAfter::Fixed(d) => d,
            HedgeAfter::Percentile(_) => estimate.map_or(self.fallback, |d| d.min(MAX_AFTER)),
        }
    }

    /// The percentile the rule reads, in tenths (none for a fixed delay).
    pub fn percentile(&self) -> Option<u16> {
        match self.after {
            HedgeAfter::Percentile(t) => Some(t),
            HedgeAfter::Fixed(_) => None,
        }
    }
}

impl From<Hedge> for HedgeTable {
    fn from(h: Hedge) -> Self {
        HedgeTable {
            after: Some(h.after),
            max: Some(h.max),
            fallback: Some(h.fallback),
        }
    }
}

impl TryFrom<HedgeTable> for Hedge {
    type Error = PolicyError;
    fn try_from(t: HedgeTable) -> Result<Self, PolicyError> {
        Hedge::build(&t, None)
    }
}

/// Sub-buckets per power of two: a value is placed within 1/8 (12.5%).
const SUB: u32 = 8;
/// Buckets up to 2^40 µs (12 days): far beyond any request timeout.
const BUCKETS: usize = 40 * SUB as usize;

/// An online estimate of one step's attempt latency, shared by a fleet's
/// users without a lock: counts in log-linear buckets of microseconds (8
/// per power of two), read back as a bucket's upper edge.
pub struct LatencyEstimate {
    buckets: Box<[AtomicU32]>,
    count: AtomicU64,
}

impl Default for LatencyEstimate {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
            count: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for LatencyEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LatencyEstimate({} samples)", self.count.load(Relaxed))
    }
}

fn bucket_of(us: u64) -> usize {
    let us = us.max(1);
    let exp = 63 - us.leading_zeros();
    let sub = if exp >= 3 {
        (us >> (exp - 3)) as u32 - SUB
    } else {
        ((us << (3 - exp)) as u32).saturating_sub(SUB)
    };
    ((exp * SUB + sub) as usize).min(BUCKETS - 1)
}

/// The largest value bucket `i` holds, in microseconds.
fn upper_edge(i: usize) -> u64 {
    let (exp, sub) = (i as u32 / SUB, u64::from(i as u32 % SUB));
    if exp >= 3 {
        ((SUB as u64 + sub + 1) << (exp - 3)) - 1
    } else {
        ((SUB as u64 + sub + 1) >> (3 - exp)).max(1)
    }
}

impl LatencyEstimate {
    pub fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(us)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn samples(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// The latency at percentile `tenths` (950: p95), within 12.5% above;
    /// `None` before [`MIN_SAMPLES`] answers.
    pub fn at(&self, tenths: u16) -> Option<Duration> {
        let n: u64 = self
            .buckets
            .iter()
            .map(|b| u64::from(b.load(Relaxed)))
            .sum();
        if n < MIN_SAMPLES {
            return None;
        }
        let rank = (n * u64::from(tenths)).div_ceil(1000).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += u64::from(b.load(Relaxed));
            if seen >= rank {
                return Some(Duration::from_micros(upper_edge(i)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn after_reads_percentiles_and_durations_and_names_what_is_wrong() {
        let cases = [
            ("p95", Ok(HedgeAfter::Percentile(950))),
            ("p50", Ok(HedgeAfter::Percentile(500))),
            ("p99.9", Ok(HedgeAfter::Percentile(999))),
            ("10ms", Ok(HedgeAfter::Fixed(ms(10)))),
            ("1s", Ok(HedgeAfter::Fixed(ms(1000)))),
            ("p100", Err(())),
            ("p5", Err(())),
            ("pNaN", Err(())),
            ("p-95", Err(())),
            ("soon", Err(())),
            ("", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(HedgeAfter::parse(text).map_err(|_| ()), want, "{text}");
        }
        for a in [HedgeAfter::Percentile(950), HedgeAfter::Percentile(999)] {
            assert_eq!(HedgeAfter::parse(&a.to_string()), Ok(a));
        }
        assert_eq!(HedgeAfter::Fixed(ms(10)).to_string(), "10ms");
    }

    #[test]
    fn tables_build_over_the_preset_and_name_the_bad_key() {
        assert_eq!(Hedge::build(&HedgeTable::default(), None), Ok(P95));
        let fixed = HedgeTable {
            after: Some(HedgeAfter::Fixed(ms(10))),
            ..HedgeTable::default()
        };
        let h = Hedge::build(&fixed, None).unwrap();
        assert_eq!((h.after, h.max), (HedgeAfter::Fixed(ms(10)), 1));
        let two = HedgeTable {
            max: Some(2),
            ..HedgeTable::default()
        };
        assert_eq!(Hedge::build(&two, Some(h)).unwrap().after, h.after);
        let key = |t: HedgeTable| match Hedge::build(&t, None) {
            Err(PolicyError::Invalid { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        for max in [0, MAX_HEDGES + 1] {
            let t = HedgeTable {
                max: Some(max),
                ..HedgeTable::default()
            };
            assert_eq!(key(t), "hedge.max");
        }
        for d in [Duration::ZERO, Duration::from_secs(61)] {
            let after = HedgeTable {
                after: Some(HedgeAfter::Fixed(d)),
                ..HedgeTable::default()
            };
            assert_eq!(key(after), "hedge.after");
            let fallback = HedgeTable {
                fallback: Some(d),
                ..HedgeTable::default()
            };
            assert_eq!(key(fallback), "hedge.fallback");
        }
    }

    #[test]
    fn the_delay_is_fixed_or_the_estimate_else_the_fallback() {
        let fixed = Hedge {
            after: HedgeAfter::Fixed(ms(10)),
            ..P95
        };
        assert_eq!(fixed.delay(Some(ms(500))), ms(10));
        assert_eq!(fixed.delay(None), ms(10));
        assert_eq!(P95.delay(None), FALLBACK);
        assert_eq!(P95.delay(Some(ms(42))), ms(42));
        assert_eq!(P95.delay(Some(Duration::from_secs(3600))), MAX_AFTER);
    }

    #[test]
    fn buckets_hold_their_values_within_an_eighth() {
        for us in [
            1u64,
            2,
            3,
            7,
            8,
            9,
            15,
            16,
            17,
            100,
            1_000,
            12_345,
            999_999,
            1 << 39,
        ] {
            let i = bucket_of(us);
            assert!(upper_edge(i) >= us, "{us}: edge {}", upper_edge(i));
            assert!(
                upper_edge(i) as f64 <= us as f64 * 1.125 + 1.0,
                "{us}: edge {}",
                upper_edge(i)
            );
            // Up to 8 µs buckets overlap (a microsecond is the floor).
            if us > 8 {
                assert!(upper_edge(i - 1) < us, "{us}");
            }
        }
        assert_eq!(bucket_of(0), bucket_of(1));
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn the_estimate_waits_for_twenty_answers_then_reads_the_percentile() {
        let e = LatencyEstimate::default();
        for _ in 0..19 {
            e.record(ms(2));
        }
        assert_eq!(e.at(950), None, "19 answers are not enough");
        e.record(ms(2));
        let p = e.at(950).unwrap();
        assert!(p >= ms(2) && p <= ms(2) * 9 / 8, "{p:?}");
        // 100 answers: 94 at 2 ms, 6 at 300 ms. p95 is rank 95: slow.
        for _ in 0..74 {
            e.record(ms(2));
        }
        for _ in 0..6 {
            e.record(ms(300));
        }
        let p95 = e.at(950).unwrap();
        assert!(p95 >= ms(300) && p95 <= ms(300) * 9 / 8, "{p95:?}");
        // p90 (rank 90) is still fast.
        assert!(e.at(900).unwrap() <= ms(3));
        assert_eq!(e.samples(), 100);
    }
}
