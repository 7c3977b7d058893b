//! Checking abort rules: the safety rail for shared staging. A rule such as
//! `error_rate > 50%` held over a trailing window (`for = "10s"`) stops the
//! run: no new arrivals, in-flight work cancelled, reports written and
//! marked aborted with the reason. The rules themselves are plan data
//! ([`crate::scenario::AbortRule`], parsed and bounded at validate time).
//!
//! Evaluated once a second on the live counters (not the recorders, which
//! are only merged at the end), so a rule can act while the run goes on.

use super::RoundCtx;
use crate::metrics::LiveHistogram;
use crate::scenario::{AbortMetric, AbortRule};
use std::collections::VecDeque;

/// One second of live counters (summed over fleets).
#[derive(Debug, Clone, Default)]
pub struct Second {
    pub attempts: u64,
    pub errors: u64,
    pub op_latency: Vec<u64>,
}

/// The rule's window in whole seconds, rounded up (at least 1).
fn seconds(rule: &AbortRule) -> usize {
    let w = rule.window;
    let s = w.as_secs().saturating_add(u64::from(w.subsec_nanos() > 0));
    usize::try_from(s).unwrap_or(usize::MAX).max(1)
}

/// Check `rule` against the trailing seconds (oldest first). Returns the
/// reason when it holds over its whole window.
pub fn check(rule: &AbortRule, history: &[Second]) -> Option<String> {
    let n = seconds(rule);
    if history.len() < n {
        return None;
    }
    let window = &history[history.len() - n..];
    let attempts: u64 = window.iter().map(|s| s.attempts).sum();
    let measured = match rule.metric {
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
    (measured > rule.above).then(|| {
        let shown = match rule.metric {
            AbortMetric::ErrorRate => format!("{:.1}%", measured * 100.0),
            AbortMetric::OperationP99 => format!("~{measured:.2}s"),
            AbortMetric::AttemptRate => format!("{measured:.0}/s"),
        };
        format!(
            "abort rule `{}` held for {}: measured {shown}",
            rule.text,
            humantime::format_duration(rule.window)
        )
    })
}

/// The abort rules watched over the round: the trailing seconds of live
/// counters, one pushed per tick of the round's ticker.
pub struct Watch {
    rules: Vec<AbortRule>,
    /// Seconds kept: the longest window and one more.
    longest: usize,
    /// The totals at the previous tick.
    prev: Second,
    history: VecDeque<Second>,
}

impl Watch {
    /// Start watching `rules`, from the counters as they are now.
    pub fn new(rules: Vec<AbortRule>, ctx: &RoundCtx) -> Watch {
        let longest = rules
            .iter()
            .map(|r| r.window.as_secs() as usize + 1)
            .max()
            .unwrap_or(1);
        Watch {
            rules,
            longest,
            prev: totals(ctx),
            history: VecDeque::new(),
        }
    }

    /// Add the second that just ended; the reason of the first rule that
    /// now holds over its window.
    pub fn tick(&mut self, ctx: &RoundCtx) -> Option<String> {
        let now = totals(ctx);
        self.history.push_back(Second {
            attempts: now.attempts - self.prev.attempts,
            errors: now.errors - self.prev.errors,
            op_latency: now
                .op_latency
                .iter()
                .zip(&self.prev.op_latency)
                .map(|(a, b)| a - b)
                .collect(),
        });
        self.prev = now;
        if self.history.len() > self.longest {
            self.history.pop_front();
        }
        let window = self.history.make_contiguous();
        self.rules.iter().find_map(|r| check(r, window))
    }
}

/// The live counters of every fleet, summed.
fn totals(ctx: &RoundCtx) -> Second {
    let mut s = Second::default();
    for c in &ctx.fleets {
        let l = c.live.snapshot();
        s.attempts += l.attempts;
        s.errors += l.attempt_errors;
        let h = c.live.op_latency.snapshot();
        if s.op_latency.is_empty() {
            s.op_latency = h;
        } else {
            for (a, b) in s.op_latency.iter_mut().zip(h) {
                *a += b;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sec(attempts: u64, errors: u64) -> Second {
        Second {
            attempts,
            errors,
            op_latency: vec![0; 4],
        }
    }

    #[test]
    fn holds_only_over_the_whole_window() {
        let r = AbortRule::parse("error_rate > 50%", Duration::from_secs(3)).unwrap();
        let mut h = vec![sec(100, 90), sec(100, 90)];
        assert_eq!(check(&r, &h), None, "window not full yet");
        h.push(sec(100, 90));
        let why = check(&r, &h).unwrap();
        assert!(
            why.contains("90.0%") && why.contains("error_rate > 50%"),
            "{why}"
        );
        // A healthy stretch inside the window brings the rate under the bound.
        h.push(sec(100, 0));
        h.push(sec(100, 0));
        assert_eq!(check(&r, &h), None);
    }

    #[test]
    fn a_fractional_window_rounds_up_to_whole_seconds() {
        let r = AbortRule::parse("error_rate > 50%", Duration::from_millis(1500)).unwrap();
        assert_eq!(seconds(&r), 2);
        assert_eq!(
            check(&r, &[sec(100, 90)]),
            None,
            "one second is not the window"
        );
        assert!(check(&r, &[sec(100, 90), sec(100, 90)]).is_some());
    }

    #[test]
    fn attempt_rate_and_p99() {
        let r = AbortRule::parse("attempt_rate > 150", Duration::from_secs(2)).unwrap();
        assert!(check(&r, &[sec(100, 0), sec(100, 0)]).is_none());
        assert!(check(&r, &[sec(200, 0), sec(200, 0)]).is_some());
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
        assert!(check(&r, &[s]).is_some());
    }
}
