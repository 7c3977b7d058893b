//! How long one piece of work holds a worker before contention is added
//! (`[sim.capacity] service_distribution`): the configured service time
//! itself, or a draw around it from a distribution, seeded by the
//! simulator's seed. Draws are taken in the order workers start their work,
//! so on virtual time (docs/virtual-time.md) the same run draws the same
//! times.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A draw is at most this many times the configured service time (an
/// exponential or lognormal tail is unbounded; a simulated backend is not).
pub const MAX_DRAW_FACTOR: f64 = 100.0;

/// Largest `sigma` a lognormal may have: at 3 the 99th percentile is
/// already ~1,000 times the median.
pub const MAX_SIGMA: f64 = 3.0;

/// The shape of the service time around `service_time`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "lowercase", deny_unknown_fields)]
pub enum ServiceDistribution {
    /// Every operation takes `service_time` (the default).
    #[default]
    Fixed,
    /// Exponential with mean `service_time` (a memoryless backend).
    Exponential,
    /// `service_time` usually, `slow` for a `slow_share` of operations (a
    /// cache miss, a slow replica).
    Bimodal {
        #[serde(with = "humantime_serde")]
        slow: Duration,
        slow_share: f64,
    },
    /// Lognormal with median `service_time` and shape `sigma` (the long
    /// right tail of most measured service times).
    Lognormal { sigma: f64 },
}

impl ServiceDistribution {
    /// The service time for `base` given two uniform draws in [0, 1).
    /// Fixed uses neither; every result is at most
    /// [`MAX_DRAW_FACTOR`] × `base` (a bimodal's `slow` excepted).
    pub fn draw(&self, base: Duration, u1: f64, u2: f64) -> Duration {
        let cap = |factor: f64| base.mul_f64(factor.clamp(0.0, MAX_DRAW_FACTOR));
        match *self {
            ServiceDistribution::Fixed => base,
            // Inverse CDF: -ln(1 - u) has mean 1.
            ServiceDistribution::Exponential => cap(-(1.0 - u1).ln()),
            ServiceDistribution::Bimodal { slow, slow_share } => {
                if u1 < slow_share {
                    slow
                } else {
                    base
                }
            }
            ServiceDistribution::Lognormal { sigma } => {
                // Box-Muller: a standard normal from two uniforms.
                let r = (-2.0 * (1.0 - u1).ln()).sqrt();
                let z = r * (std::f64::consts::TAU * u2).cos();
                cap((sigma * z).exp())
            }
        }
    }

    /// What is wrong with the parameters, if anything: the key (under
    /// `service_distribution`) and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        match *self {
            ServiceDistribution::Bimodal { slow_share, .. }
                if !(0.0..=1.0).contains(&slow_share) =>
            {
                Err((
                    "slow_share",
                    format!("{slow_share} is not a share between 0 and 1"),
                ))
            }
            ServiceDistribution::Lognormal { sigma } if !(sigma > 0.0 && sigma <= MAX_SIGMA) => {
                Err((
                    "sigma",
                    format!("{sigma} is not a lognormal shape: more than 0, at most {MAX_SIGMA}"),
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    const BASE: Duration = Duration::from_millis(10);

    fn draws(d: ServiceDistribution, n: usize) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(42);
        let mut v: Vec<f64> = (0..n)
            .map(|_| {
                let (u1, u2) = (rng.random::<f64>(), rng.random::<f64>());
                d.draw(BASE, u1, u2).as_secs_f64() * 1000.0
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn fixed_is_the_service_time() {
        assert_eq!(ServiceDistribution::Fixed.draw(BASE, 0.9, 0.1), BASE);
    }

    #[test]
    fn exponential_has_the_service_time_as_its_mean() {
        let v = draws(ServiceDistribution::Exponential, 20_000);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 10.0).abs() < 0.3, "mean {mean} ms");
        // Median of an exponential: mean × ln 2.
        let median = v[v.len() / 2];
        assert!((median - 6.93).abs() < 0.3, "median {median} ms");
    }

    #[test]
    fn lognormal_has_the_service_time_as_its_median_and_a_long_tail() {
        let v = draws(ServiceDistribution::Lognormal { sigma: 0.5 }, 20_000);
        let median = v[v.len() / 2];
        assert!((median - 10.0).abs() < 0.3, "median {median} ms");
        // p99 = median × e^(2.326 σ) = 31.3 ms.
        let p99 = v[v.len() * 99 / 100];
        assert!((p99 - 31.3).abs() < 2.0, "p99 {p99} ms");
    }

    #[test]
    fn bimodal_sends_its_share_to_the_slow_mode() {
        let d = ServiceDistribution::Bimodal {
            slow: Duration::from_millis(200),
            slow_share: 0.05,
        };
        let v = draws(d, 20_000);
        let slow = v.iter().filter(|&&ms| ms == 200.0).count();
        assert_eq!(v.iter().filter(|&&ms| ms == 10.0).count() + slow, v.len());
        assert!((900..1100).contains(&slow), "{slow} slow of 20,000");
    }

    #[test]
    fn a_tail_draw_is_capped() {
        let e = ServiceDistribution::Exponential.draw(BASE, 1.0 - 1e-300, 0.0);
        assert_eq!(e, BASE.mul_f64(MAX_DRAW_FACTOR));
        let l = ServiceDistribution::Lognormal { sigma: 3.0 }.draw(BASE, 1.0 - 1e-300, 0.0);
        assert_eq!(l, BASE.mul_f64(MAX_DRAW_FACTOR));
    }

    #[test]
    fn parameters_out_of_range_are_named() {
        let share = ServiceDistribution::Bimodal {
            slow: BASE,
            slow_share: 1.5,
        };
        assert_eq!(share.check().map_err(|e| e.0), Err("slow_share"));
        for sigma in [0.0, -1.0, 3.5, f64::NAN] {
            let l = ServiceDistribution::Lognormal { sigma };
            assert_eq!(l.check().map_err(|e| e.0), Err("sigma"), "{sigma}");
        }
        assert_eq!(
            ServiceDistribution::Lognormal { sigma: 0.5 }.check(),
            Ok(())
        );
    }

    #[test]
    fn the_toml_forms() {
        #[derive(Deserialize)]
        struct C {
            d: ServiceDistribution,
        }
        let parse = |s: &str| toml::from_str::<C>(s).map(|c| c.d);
        assert_eq!(
            parse(r#"d = { shape = "lognormal", sigma = 0.5 }"#).ok(),
            Some(ServiceDistribution::Lognormal { sigma: 0.5 })
        );
        assert_eq!(
            parse(r#"d = { shape = "bimodal", slow = "200ms", slow_share = 0.05 }"#).ok(),
            Some(ServiceDistribution::Bimodal {
                slow: Duration::from_millis(200),
                slow_share: 0.05
            })
        );
        assert_eq!(
            parse(r#"d = { shape = "exponential" }"#).ok(),
            Some(ServiceDistribution::Exponential)
        );
        assert!(parse(r#"d = { shape = "gamma" }"#).is_err());
        assert!(parse(r#"d = { shape = "lognormal", sigma = 0.5, mu = 1 }"#).is_err());
    }
}
