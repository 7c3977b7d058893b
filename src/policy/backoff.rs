use super::{BackoffKind, Class, Jitter, OpState, RetryPolicy};
use rand::RngExt;
use std::time::Duration;

/// The backoff delay before retry number `state.retries + 1` after a
/// failure of `class`, jitter included.
///
/// The exponent is the retries made since `state.backoff_from` (0 unless a
/// gRPC pushback restarted the backoff), the guidelines' 0-indexed
/// `attempt`, so the first retry waits around `base_delay`; after a
/// throttling answer the base is `throttled_base_delay` when the policy has
/// one. Guideline jitter is applied after the cap, as in the guidelines'
/// Python, so it can return up to `1.5 * max_delay`, gRPC's up to
/// `1.2 * max_delay`; the other jitters never exceed `max_delay`. Never
/// panics, whatever the policy holds.
pub fn backoff_delay<R: rand::Rng + ?Sized>(
    policy: &RetryPolicy,
    state: &OpState,
    class: Class,
    rng: &mut R,
) -> Duration {
    let base = match (class, policy.throttled_base_delay) {
        (Class::RateLimited, Some(b)) => b,
        _ => policy.base_delay,
    };
    let max = policy.max_delay;
    let d = match policy.backoff {
        BackoffKind::Immediate => return Duration::ZERO,
        BackoffKind::Constant => base,
        BackoffKind::Exponential => exponential(
            base,
            max,
            policy.backoff_multiplier,
            state.retries.saturating_sub(u32::from(state.backoff_from)),
        ),
    };
    if policy.jitter == Jitter::Decorrelated {
        // Decorrelated jitter grows from the previous delay rather than
        // from the retry count, so Constant/Exponential only matter for
        // the first draw (prev = 0 gives exactly `base`).
        let hi = base.max(state.prev_delay.saturating_mul(3));
        let span = hi.saturating_sub(base);
        return (base + scale(span, rng.random::<f64>())).min(max);
    }
    jittered(policy.jitter, d, rng.random::<f64>())
}

/// Delay `d` under `jitter` for a uniform draw `u` in [0, 1), so the bounds
/// can be tested at the draw's ends. Decorrelated jitter needs the previous
/// delay and is drawn in [`backoff_delay`]; here it is `d`.
pub fn jittered(jitter: Jitter, d: Duration, u: f64) -> Duration {
    match jitter {
        Jitter::None | Jitter::Decorrelated => d,
        Jitter::Guideline => scale(d, 0.5 + u),
        Jitter::Full => scale(d, u),
        Jitter::Equal => d / 2 + scale(d / 2, u),
        Jitter::Grpc => scale(d, 0.8 + 0.4 * u),
    }
}

/// `min(base * multiplier^n, max)` without overflowing for any `n`.
fn exponential(base: Duration, max: Duration, multiplier: f64, n: u32) -> Duration {
    if multiplier == 2.0 {
        let grown = 2u32
            .checked_pow(n)
            .and_then(|factor| base.checked_mul(factor))
            .unwrap_or(Duration::MAX);
        return grown.min(max);
    }
    let factor = multiplier.powi(i32::try_from(n).unwrap_or(i32::MAX));
    scale(base, factor).min(max)
}

/// `d * f`, saturating instead of panicking like `Duration::mul_f64` does.
fn scale(d: Duration, f: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * f).unwrap_or(if f > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::preset;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy(backoff: BackoffKind, jitter: Jitter) -> RetryPolicy {
        let mut p = preset("compliant").unwrap();
        p.backoff = backoff;
        p.jitter = jitter;
        p
    }

    fn at(retries: u32) -> OpState {
        OpState {
            retries,
            ..OpState::default()
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn exponential_without_jitter_is_exact() {
        let p = policy(BackoffKind::Exponential, Jitter::None);
        let mut rng = StdRng::seed_from_u64(1);
        let got: Vec<_> = (0..8)
            .map(|r| backoff_delay(&p, &at(r), Class::ServerError, &mut rng))
            .collect();
        let want = [1, 2, 4, 8, 16, 30, 30, 30].map(secs);
        assert_eq!(got, want);
    }

    #[test]
    fn constant_and_immediate() {
        let mut rng = StdRng::seed_from_u64(2);
        let c = policy(BackoffKind::Constant, Jitter::None);
        assert_eq!(
            backoff_delay(&c, &at(7), Class::ServerError, &mut rng),
            secs(1)
        );
        for j in [Jitter::Guideline, Jitter::Full, Jitter::Decorrelated] {
            let i = policy(BackoffKind::Immediate, j);
            assert_eq!(
                backoff_delay(&i, &at(3), Class::ServerError, &mut rng),
                Duration::ZERO
            );
        }
    }

    #[test]
    fn no_overflow_at_huge_retry_counts() {
        let mut rng = StdRng::seed_from_u64(3);
        for r in [31, 32, 33, 63, 64, 1000, u32::MAX] {
            let p = policy(BackoffKind::Exponential, Jitter::None);
            assert_eq!(
                backoff_delay(&p, &at(r), Class::ServerError, &mut rng),
                secs(30),
                "{r}"
            );
            let g = policy(BackoffKind::Exponential, Jitter::Guideline);
            let d = backoff_delay(&g, &at(r), Class::ServerError, &mut rng);
            assert!(d >= secs(15) && d < secs(45), "{r}: {d:?}");
        }
        // Even a policy no validation would accept must not panic.
        let mut p = policy(BackoffKind::Exponential, Jitter::Guideline);
        p.base_delay = Duration::MAX;
        p.max_delay = Duration::MAX;
        assert!(backoff_delay(&p, &at(1000), Class::ServerError, &mut rng) >= Duration::MAX / 2);
        p.jitter = Jitter::Decorrelated;
        let s = OpState {
            retries: 5,
            prev_delay: Duration::MAX,
            ..OpState::default()
        };
        backoff_delay(&p, &s, Class::ServerError, &mut rng);
    }

    #[test]
    fn guideline_jitter_bounds_for_each_step() {
        let p = policy(BackoffKind::Exponential, Jitter::Guideline);
        let mut rng = StdRng::seed_from_u64(4);
        for r in 0..10 {
            let d = secs(1 << r.min(5)).min(secs(30));
            for _ in 0..200 {
                let got = backoff_delay(&p, &at(r), Class::ServerError, &mut rng);
                assert!(got >= d / 2 && got < d * 3 / 2, "{r}: {got:?}");
            }
        }
    }

    /// Mean and range of `n` samples, in units of the un-jittered delay.
    fn sample(p: &RetryPolicy, state: OpState, seed: u64) -> (f64, f64, f64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = 10_000;
        let d = p.base_delay.as_secs_f64() * 4.0; // retries = 2
        let xs: Vec<f64> = (0..n)
            .map(|_| backoff_delay(p, &state, Class::ServerError, &mut rng).as_secs_f64() / d)
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let lo = xs.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        (mean, lo, hi)
    }

    #[test]
    fn guideline_jitter_statistics() {
        let p = policy(BackoffKind::Exponential, Jitter::Guideline);
        let (mean, lo, hi) = sample(&p, at(2), 5);
        assert!(lo >= 0.5 && hi < 1.5, "[{lo}, {hi}]");
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
        // The samples actually spread over the range, not a constant.
        assert!(lo < 0.52 && hi > 1.48, "[{lo}, {hi}]");
    }

    #[test]
    fn full_jitter_statistics() {
        let p = policy(BackoffKind::Exponential, Jitter::Full);
        let (mean, lo, hi) = sample(&p, at(2), 6);
        assert!(lo >= 0.0 && hi < 1.0, "[{lo}, {hi}]");
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
        assert!(lo < 0.02 && hi > 0.98, "[{lo}, {hi}]");
    }

    #[test]
    fn equal_jitter_statistics() {
        let p = policy(BackoffKind::Exponential, Jitter::Equal);
        let (mean, lo, hi) = sample(&p, at(2), 7);
        assert!(lo >= 0.5 && hi < 1.0, "[{lo}, {hi}]");
        assert!((mean - 0.75).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn guideline_jitter_may_exceed_max_delay() {
        let p = policy(BackoffKind::Exponential, Jitter::Guideline);
        let mut rng = StdRng::seed_from_u64(8);
        let over = (0..1000)
            .map(|_| backoff_delay(&p, &at(10), Class::ServerError, &mut rng))
            .filter(|d| *d > p.max_delay)
            .count();
        assert!(over > 0, "guideline jitter is applied after the cap");
    }

    #[test]
    fn decorrelated_bounds() {
        let p = policy(BackoffKind::Exponential, Jitter::Decorrelated);
        let mut rng = StdRng::seed_from_u64(9);
        // First retry: nothing to grow from, exactly base.
        assert_eq!(
            backoff_delay(&p, &at(0), Class::ServerError, &mut rng),
            secs(1)
        );
        let prev = secs(4);
        let s = OpState {
            retries: 3,
            prev_delay: prev,
            ..OpState::default()
        };
        let draws: Vec<_> = (0..5000)
            .map(|_| backoff_delay(&p, &s, Class::ServerError, &mut rng))
            .collect();
        for d in &draws {
            assert!(*d >= secs(1) && *d < secs(12), "{d:?}");
        }
        // The range really is [base, 3 * prev), not something narrower.
        assert!(draws.iter().any(|d| *d > secs(11)));
        assert!(draws.iter().any(|d| *d < secs(2)));
        // Growth is capped at max_delay.
        let s = OpState {
            retries: 3,
            prev_delay: secs(25),
            ..OpState::default()
        };
        let capped = (0..2000)
            .map(|_| backoff_delay(&p, &s, Class::ServerError, &mut rng))
            .inspect(|d| assert!(*d >= secs(1) && *d <= secs(30), "{d:?}"))
            .filter(|d| *d == secs(30))
            .count();
        assert!(capped > 0);
    }

    #[test]
    fn seeded_rng_is_deterministic() {
        let p = policy(BackoffKind::Exponential, Jitter::Guideline);
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..5)
                .map(|r| backoff_delay(&p, &at(r), Class::ServerError, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }
}
