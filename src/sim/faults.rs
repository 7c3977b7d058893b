//! Fault injection decisions, drawn from one seeded RNG so a scenario
//! replays the same faults, and timed windows that model a trigger.

use super::config::FaultConfig;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How a booking request will be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Normal,
    InternalError,
    ResetBeforeCommit,
    ResetAfterCommit,
    Html502,
    BadGateway,
    Empty503,
    DateRetry429,
    DateRetry503,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub answer: Answer,
    pub extra_latency: Duration,
    pub capacity_factor: f64,
}

pub struct Faults {
    cfg: FaultConfig,
    rng: Mutex<StdRng>,
    start: Instant,
    /// Whether anything outside windows can fire: skip the RNG lock on
    /// the hot path of fault-free runs.
    any_static: bool,
}

impl Faults {
    pub fn new(cfg: &FaultConfig, seed: u64, start: Instant) -> Self {
        let any_static = cfg.error_rate
            + cfg.reset_before_commit
            + cfg.reset_after_commit
            + cfg.html_502
            + cfg.bad_gateway
            + cfg.empty_503
            + cfg.http_date_429
            + cfg.http_date_503
            + cfg.latency_rate
            > 0.0;
        Self {
            cfg: cfg.clone(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            start,
            any_static,
        }
    }

    pub fn http_date_retry_after(&self) -> Duration {
        self.cfg.http_date_retry_after
    }

    pub fn decide(&self, now: Instant) -> Decision {
        let mut d = Decision {
            answer: Answer::Normal,
            extra_latency: Duration::ZERO,
            capacity_factor: 1.0,
        };
        let mut error_rate = self.cfg.error_rate;
        let elapsed = now.saturating_duration_since(self.start);
        let mut windowed = false;
        for w in &self.cfg.windows {
            if w.from <= elapsed && elapsed < w.to {
                windowed = true;
                d.capacity_factor = d.capacity_factor.min(w.capacity_factor);
                error_rate += w.error_rate;
                d.extra_latency += w.extra_latency;
            }
        }
        if !(self.any_static || windowed && error_rate > 0.0) {
            return d;
        }
        let (u, lat) = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            (rng.random::<f64>(), rng.random::<f64>())
        };
        let c = &self.cfg;
        let table = [
            (error_rate, Answer::InternalError),
            (c.reset_before_commit, Answer::ResetBeforeCommit),
            (c.reset_after_commit, Answer::ResetAfterCommit),
            (c.html_502, Answer::Html502),
            (c.bad_gateway, Answer::BadGateway),
            (c.empty_503, Answer::Empty503),
            (c.http_date_429, Answer::DateRetry429),
            (c.http_date_503, Answer::DateRetry503),
        ];
        let mut acc = 0.0;
        for (p, answer) in table {
            acc += p;
            if u < acc {
                d.answer = answer;
                break;
            }
        }
        if lat < c.latency_rate {
            d.extra_latency += c.extra_latency;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::FaultWindow;

    #[test]
    fn seeded_and_proportional() {
        let cfg = FaultConfig {
            error_rate: 0.25,
            html_502: 0.25,
            ..FaultConfig::default()
        };
        let now = Instant::now();
        let a = Faults::new(&cfg, 7, now);
        let b = Faults::new(&cfg, 7, now);
        let da: Vec<_> = (0..200).map(|_| a.decide(now).answer).collect();
        let db: Vec<_> = (0..200).map(|_| b.decide(now).answer).collect();
        assert_eq!(da, db);
        let errors = da.iter().filter(|x| **x == Answer::InternalError).count();
        assert!((20..=80).contains(&errors), "{errors}");
        assert!(da.contains(&Answer::Html502));
        assert!(!da.contains(&Answer::Empty503));
    }

    #[test]
    fn bad_gateway_is_drawn_like_the_others() {
        let cfg = FaultConfig {
            bad_gateway: 0.5,
            ..FaultConfig::default()
        };
        let now = Instant::now();
        let f = Faults::new(&cfg, 3, now);
        let d: Vec<_> = (0..200).map(|_| f.decide(now).answer).collect();
        let n = d.iter().filter(|a| **a == Answer::BadGateway).count();
        assert!((60..=140).contains(&n), "{n}");
        assert!(
            d.iter()
                .all(|a| matches!(a, Answer::BadGateway | Answer::Normal))
        );
    }

    #[test]
    fn window_only_inside() {
        let cfg = FaultConfig {
            windows: vec![FaultWindow {
                from: Duration::from_secs(10),
                to: Duration::from_secs(20),
                capacity_factor: 0.5,
                error_rate: 1.0,
                extra_latency: Duration::from_millis(5),
            }],
            ..FaultConfig::default()
        };
        let t0 = Instant::now();
        let f = Faults::new(&cfg, 1, t0);
        assert_eq!(f.decide(t0).answer, Answer::Normal);
        let inside = f.decide(t0 + Duration::from_secs(15));
        assert_eq!(inside.answer, Answer::InternalError);
        assert_eq!(inside.capacity_factor, 0.5);
        assert_eq!(inside.extra_latency, Duration::from_millis(5));
        assert_eq!(
            f.decide(t0 + Duration::from_secs(20)).answer,
            Answer::Normal
        );
    }
}
