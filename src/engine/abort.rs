//! Abort rules: the safety rail for shared staging. A rule such as
//! `error_rate > 50%` held over a trailing window (`for = "10s"`) stops the
//! run: no new arrivals, in-flight work cancelled, reports written and
//! marked aborted with the reason.
//!
//! Evaluated once a second on the live counters (not the recorders, which
//! are only merged at the end), so a rule can act while the run goes on.

use crate::metrics::LiveHistogram;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortMetric {
    /// Attempts answered 429 or 5xx, timed out or failed / attempts.
    ErrorRate,
    /// p99 of operation latency (from the intended start).
    OperationP99,
    /// Attempts per second.
    AttemptRate,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AbortRule {
    /// The rule as written, for messages.
    pub text: String,
    pub metric: AbortMetric,
    /// In the metric's unit: fraction, seconds, or attempts/s.
    pub above: f64,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

/// One second of live counters (summed over cohorts).
#[derive(Debug, Clone, Default)]
pub struct Second {
    pub attempts: u64,
    pub errors: u64,
    pub op_latency: Vec<u64>,
}

impl AbortRule {
    /// Parse `when` (e.g. `error_rate > 50%`, `operation_p99 > 5s`,
    /// `attempt_rate > 15000`) with its window.
    pub fn parse(when: &str, window: Duration) -> Result<Self, String> {
        let (lhs, rhs) = when
            .split_once('>')
            .ok_or_else(|| format!("`{when}`: an abort rule reads `<metric> > <value>`"))?;
        let metric = match lhs.trim() {
            "error_rate" => AbortMetric::ErrorRate,
            "operation_p99" => AbortMetric::OperationP99,
            "attempt_rate" => AbortMetric::AttemptRate,
            other => {
                return Err(format!(
                    "`{other}` is not an abort metric (known: error_rate, operation_p99, attempt_rate)"
                ));
            }
        };
        let v = rhs.trim().trim_start_matches('=').trim();
        let above = match metric {
            AbortMetric::ErrorRate => match v.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
                None => v.parse::<f64>(),
            }
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| format!("`{v}`: error_rate takes a fraction or a percentage"))?,
            AbortMetric::OperationP99 => humantime::parse_duration(v)
                .map(|d| d.as_secs_f64())
                .map_err(|_| format!("`{v}`: operation_p99 takes a duration such as 5s"))?,
            AbortMetric::AttemptRate => v
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r >= 0.0)
                .ok_or_else(|| format!("`{v}`: attempt_rate takes attempts per second"))?,
        };
        if window.is_zero() {
            return Err("the window (`for`) must be at least 1s".into());
        }
        Ok(Self {
            text: when.trim().to_string(),
            metric,
            above,
            window,
        })
    }

    fn seconds(&self) -> usize {
        (self.window.as_secs_f64().ceil() as usize).max(1)
    }

    /// Check the rule against the trailing seconds (oldest first). Returns
    /// the reason when it holds over its whole window.
    pub fn check(&self, history: &[Second]) -> Option<String> {
        let n = self.seconds();
        if history.len() < n {
            return None;
        }
        let window = &history[history.len() - n..];
        let attempts: u64 = window.iter().map(|s| s.attempts).sum();
        let measured = match self.metric {
            AbortMetric::ErrorRate => {
                if attempts == 0 {
                    return None;
                }
                window.iter().map(|s| s.errors).sum::<u64>() as f64 / attempts as f64
            }
            AbortMetric::AttemptRate => attempts as f64 / n as f64,
            AbortMetric::OperationP99 => {
                let mut sum = vec![0u64; window[0].op_latency.len()];
                for s in window {
                    for (a, b) in sum.iter_mut().zip(&s.op_latency) {
                        *a += b;
                    }
                }
                LiveHistogram::quantile(&sum, 0.99)?.as_secs_f64()
            }
        };
        (measured > self.above).then(|| {
            let shown = match self.metric {
                AbortMetric::ErrorRate => format!("{:.1}%", measured * 100.0),
                AbortMetric::OperationP99 => format!("~{measured:.2}s"),
                AbortMetric::AttemptRate => format!("{measured:.0}/s"),
            };
            format!(
                "abort rule `{}` held for {}: measured {shown}",
                self.text,
                humantime::format_duration(self.window)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(attempts: u64, errors: u64) -> Second {
        Second {
            attempts,
            errors,
            op_latency: vec![0; 4],
        }
    }

    #[test]
    fn parses_rules() {
        let r = AbortRule::parse("error_rate > 50%", Duration::from_secs(10)).unwrap();
        assert_eq!(r.metric, AbortMetric::ErrorRate);
        assert_eq!(r.above, 0.5);
        let r = AbortRule::parse("operation_p99 > 5s", Duration::from_secs(3)).unwrap();
        assert_eq!(r.above, 5.0);
        let r = AbortRule::parse("attempt_rate > 1500", Duration::from_secs(3)).unwrap();
        assert_eq!(r.above, 1500.0);
    }

    #[test]
    fn rejects_bad_rules() {
        let w = Duration::from_secs(1);
        assert!(AbortRule::parse("error_rate < 5%", w).is_err());
        assert!(
            AbortRule::parse("latency > 5s", w)
                .unwrap_err()
                .contains("error_rate")
        );
        assert!(AbortRule::parse("error_rate > 150%", w).is_err());
        assert!(AbortRule::parse("operation_p99 > fast", w).is_err());
        assert!(AbortRule::parse("error_rate > 5%", Duration::ZERO).is_err());
    }

    #[test]
    fn holds_only_over_the_whole_window() {
        let r = AbortRule::parse("error_rate > 50%", Duration::from_secs(3)).unwrap();
        let mut h = vec![sec(100, 90), sec(100, 90)];
        assert_eq!(r.check(&h), None, "window not full yet");
        h.push(sec(100, 90));
        let why = r.check(&h).unwrap();
        assert!(
            why.contains("90.0%") && why.contains("error_rate > 50%"),
            "{why}"
        );
        // A healthy stretch inside the window brings the rate under the bound.
        h.push(sec(100, 0));
        h.push(sec(100, 0));
        assert_eq!(r.check(&h), None);
    }

    #[test]
    fn attempt_rate_and_p99() {
        let r = AbortRule::parse("attempt_rate > 150", Duration::from_secs(2)).unwrap();
        assert!(r.check(&[sec(100, 0), sec(100, 0)]).is_none());
        assert!(r.check(&[sec(200, 0), sec(200, 0)]).is_some());
        let h = LiveHistogram::default();
        for _ in 0..10 {
            h.record(Duration::from_secs(9));
        }
        let s = Second {
            attempts: 10,
            errors: 0,
            op_latency: h.snapshot(),
        };
        let r = AbortRule::parse("operation_p99 > 5s", Duration::from_secs(1)).unwrap();
        assert!(r.check(&[s]).is_some());
    }
}
