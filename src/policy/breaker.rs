use super::BreakerConfig;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Circuit breaker from the guidelines: CLOSED until `threshold` consecutive
/// failures, then OPEN for `open_for`, then HALF-OPEN letting one probe through.
/// Time is passed in so tests can use paused tokio time.
///
/// Mirrors the guidelines' JS class field for field, including its quirks: a
/// failure recorded while OPEN (a request that left before the breaker
/// tripped) restarts the open window, and a success recorded while OPEN
/// closes it. The one addition is that HALF-OPEN admits a single probe; the
/// JS class gets that for free from being called once per request, while a
/// load generator asks from many tasks at once.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    cfg: BreakerConfig,
    failures: u32,
    last_failure: Option<Instant>,
    state: BreakerState,
    probe_in_flight: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitBreaker {
    /// The failures this breaker counts.
    pub fn counts(&self) -> super::BreakerCounts {
        self.cfg.counts
    }

    pub fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            failures: 0,
            last_failure: None,
            state: BreakerState::Closed,
            probe_in_flight: false,
        }
    }

    /// May a request go out now? Moves OPEN to HALF-OPEN once `open_for` has passed.
    ///
    /// "Passed" is strictly more than `open_for`, as in the JS
    /// `Date.now() - this.lastFailure > this.timeout`.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => {
                let waited = self
                    .last_failure
                    .is_none_or(|t| now.saturating_duration_since(t) > self.cfg.open_for);
                if waited {
                    self.state = BreakerState::HalfOpen;
                    self.probe_in_flight = true;
                    true
                } else {
                    false
                }
            }
            BreakerState::HalfOpen => !std::mem::replace(&mut self.probe_in_flight, true),
        }
    }

    /// Would a request be let out at `at` (a time the caller intends to wait
    /// until), if nothing is recorded before then? Changes nothing; used to
    /// end an operation at once instead of sleeping out a backoff only to
    /// find the breaker still open.
    pub fn would_allow(&self, at: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => self
                .last_failure
                .is_none_or(|t| at.saturating_duration_since(t) > self.cfg.open_for),
            BreakerState::HalfOpen => !self.probe_in_flight,
        }
    }

    /// The half-open probe ended with an answer the breaker does not count
    /// (a 429 by default) or with none (abandoned, never sent): the breaker
    /// stays as it is and the next attempt may probe again. Without this a
    /// half-open breaker would wait for its probe forever.
    pub fn end_probe(&mut self) {
        self.probe_in_flight = false;
    }

    /// Record an attempt's result; returns true when this call opened the breaker.
    pub fn record(&mut self, success: bool, now: Instant) -> bool {
        self.probe_in_flight = false;
        if success {
            self.failures = 0;
            self.state = BreakerState::Closed;
            return false;
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
        if self.failures >= self.cfg.threshold {
            let opened = self.state != BreakerState::Open;
            self.state = BreakerState::Open;
            return opened;
        }
        false
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Consecutive failures so far (reset by any success).
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::advance;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            threshold: 5,
            open_for: Duration::from_secs(30),
            counts: crate::policy::BreakerCounts::COMPLIANT,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_at_threshold_consecutive_failures() {
        let mut b = breaker();
        for i in 0..4 {
            assert!(b.allow(Instant::now()));
            assert!(!b.record(false, Instant::now()), "failure {i}");
            assert_eq!(b.state(), BreakerState::Closed);
        }
        assert!(b.record(false, Instant::now()));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn success_resets_the_count() {
        let mut b = breaker();
        for _ in 0..4 {
            b.record(false, Instant::now());
        }
        b.record(true, Instant::now());
        assert_eq!(b.failures(), 0);
        for _ in 0..4 {
            assert!(!b.record(false, Instant::now()));
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn stays_open_until_strictly_after_open_for() {
        let mut b = breaker();
        for _ in 0..5 {
            b.record(false, Instant::now());
        }
        advance(Duration::from_secs(30)).await;
        assert!(!b.allow(Instant::now()), "exactly open_for is not enough");
        assert_eq!(b.state(), BreakerState::Open);
        advance(Duration::from_millis(1)).await;
        assert!(b.allow(Instant::now()));
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_one_probe() {
        let mut b = breaker();
        for _ in 0..5 {
            b.record(false, Instant::now());
        }
        advance(Duration::from_secs(31)).await;
        assert!(b.allow(Instant::now()));
        assert!(!b.allow(Instant::now()));
        assert!(!b.allow(Instant::now()));
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn successful_probe_closes() {
        let mut b = breaker();
        for _ in 0..5 {
            b.record(false, Instant::now());
        }
        advance(Duration::from_secs(31)).await;
        assert!(b.allow(Instant::now()));
        assert!(!b.record(true, Instant::now()));
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.failures(), 0);
        assert!(b.allow(Instant::now()));
        assert!(b.allow(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_probe_reopens_for_a_fresh_window() {
        let mut b = breaker();
        for _ in 0..5 {
            b.record(false, Instant::now());
        }
        advance(Duration::from_secs(31)).await;
        assert!(b.allow(Instant::now()));
        assert!(b.record(false, Instant::now()), "HALF-OPEN -> OPEN counts");
        assert_eq!(b.state(), BreakerState::Open);
        advance(Duration::from_secs(30)).await;
        assert!(!b.allow(Instant::now()));
        advance(Duration::from_secs(1)).await;
        assert!(b.allow(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn late_failures_while_open_extend_but_do_not_reopen() {
        let mut b = breaker();
        for _ in 0..5 {
            b.record(false, Instant::now());
        }
        advance(Duration::from_secs(20)).await;
        // A request sent before the trip fails now: not a new opening, but
        // lastFailure moves, as in the JS class.
        assert!(!b.record(false, Instant::now()));
        advance(Duration::from_secs(20)).await;
        assert!(!b.allow(Instant::now()));
        advance(Duration::from_secs(11)).await;
        assert!(b.allow(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn threshold_one_opens_on_first_failure() {
        let mut b = CircuitBreaker::new(BreakerConfig {
            threshold: 1,
            open_for: Duration::from_secs(1),
            counts: crate::policy::BreakerCounts::COMPLIANT,
        });
        assert!(b.record(false, Instant::now()));
        assert!(!b.allow(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn would_allow_predicts_without_changing_state() {
        let mut b = breaker();
        assert!(b.would_allow(Instant::now()));
        for _ in 0..5 {
            b.record(false, Instant::now());
        }
        let t0 = Instant::now();
        assert!(!b.would_allow(t0 + Duration::from_secs(10)));
        assert!(
            !b.would_allow(t0 + Duration::from_secs(30)),
            "exactly open_for is not past it"
        );
        assert!(b.would_allow(t0 + Duration::from_secs(31)));
        assert_eq!(b.state(), BreakerState::Open, "asking changes nothing");
        advance(Duration::from_secs(31)).await;
        assert!(b.allow(Instant::now()), "the half-open probe");
        assert!(!b.would_allow(Instant::now()), "one probe at a time");
    }
}
