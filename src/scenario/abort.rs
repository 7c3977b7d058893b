//! Abort rules as plan data: `error_rate > 50%` held for a trailing window
//! (`for = "10s"`). Parsed and bounded here, at validate time; the engine
//! checks them against live counters while the run goes on
//! (`engine/abort.rs`).

use super::bounds;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortMetric {
    /// Attempts answered 429 or 5xx, timed out or failed / attempts.
    ErrorRate,
    /// p99 of operation latency (from the intended start).
    OperationP99,
    /// Attempts per second.
    AttemptRate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbortRule {
    /// The rule as written, for messages.
    pub text: String,
    pub metric: AbortMetric,
    /// In the metric's unit: fraction, seconds, or attempts/s.
    pub above: f64,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
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
            AbortMetric::OperationP99 => {
                let d = humantime::parse_duration(v)
                    .map_err(|_| format!("`{v}`: operation_p99 takes a duration such as 5s"))?;
                bounds::duration(d).map_err(|m| format!("`{v}`: {m}"))?;
                d.as_secs_f64()
            }
            AbortMetric::AttemptRate => {
                let r = v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r >= 0.0)
                    .ok_or_else(|| format!("`{v}`: attempt_rate takes attempts per second"))?;
                bounds::rate(r).map_err(|m| format!("`{v}`: {m}"))?;
                r
            }
        };
        if window.is_zero() {
            return Err("the window (`for`) must be at least 1s".into());
        }
        bounds::duration(window).map_err(|m| format!("the window (`for`): {m}"))?;
        Ok(Self {
            text: when.trim().to_string(),
            metric,
            above,
            window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        let r = AbortRule::parse("error_rate > 50%", Duration::from_secs(10)).unwrap();
        assert_eq!(r.metric, AbortMetric::ErrorRate);
        assert_eq!(r.above, 0.5);
        let r = AbortRule::parse("operation_p99 > 5s", Duration::from_secs(3)).unwrap();
        assert_eq!(r.above, 5.0);
        let r = AbortRule::parse("attempt_rate > 1500", Duration::from_secs(3)).unwrap();
        assert_eq!(r.above, 1500.0);
        assert_eq!(r.text, "attempt_rate > 1500");
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
    fn rejects_values_beyond_the_bounds() {
        let w = Duration::from_secs(1);
        let e = AbortRule::parse("operation_p99 > 9300000000000000000s", w).unwrap_err();
        assert!(e.contains("at most 30days"), "{e}");
        let e = AbortRule::parse("attempt_rate > 1e300", w).unwrap_err();
        assert!(e.contains("at most 10000000"), "{e}");
        let e = AbortRule::parse("error_rate > 5%", Duration::from_secs(31 * 86_400)).unwrap_err();
        assert!(e.contains("window") && e.contains("30days"), "{e}");
    }
}
