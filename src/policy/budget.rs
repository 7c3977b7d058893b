use super::BudgetConfig;

/// gRPC retry throttling token bucket.
///
/// Unlike the breaker it never blocks first attempts, only retries, so it
/// caps the retry *amplification* a fleet of clients adds during an outage
/// while still letting new work probe the server.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    cfg: BudgetConfig,
    tokens: f64,
}

impl RetryBudget {
    pub fn new(cfg: BudgetConfig) -> Self {
        Self {
            cfg,
            tokens: cfg.max_tokens,
        }
    }

    /// Record a success (+token_ratio) or failure (-1), clamped to [0, max].
    pub fn record(&mut self, success: bool) {
        let next = if success {
            self.tokens + self.cfg.token_ratio
        } else {
            self.tokens - 1.0
        };
        // max/min rather than clamp: clamp panics on a NaN or inverted range.
        self.tokens = next.min(self.cfg.max_tokens).max(0.0);
    }

    /// Whether a retry may be sent now.
    pub fn can_retry(&self) -> bool {
        self.tokens > self.cfg.max_tokens / 2.0
    }

    /// Tokens left, for reports.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> RetryBudget {
        RetryBudget::new(BudgetConfig {
            max_tokens: 10.0,
            token_ratio: 0.1,
        })
    }

    #[test]
    fn starts_full() {
        let b = budget();
        assert_eq!(b.tokens(), 10.0);
        assert!(b.can_retry());
    }

    #[test]
    fn failures_drain_to_half_then_block() {
        let mut b = budget();
        for _ in 0..4 {
            b.record(false);
        }
        assert_eq!(b.tokens(), 6.0);
        assert!(b.can_retry());
        b.record(false);
        assert_eq!(b.tokens(), 5.0);
        assert!(!b.can_retry(), "exactly max/2 is not enough");
    }

    #[test]
    fn clamped_at_zero_and_max() {
        let mut b = budget();
        for _ in 0..50 {
            b.record(false);
        }
        assert_eq!(b.tokens(), 0.0);
        b.record(true);
        assert!((b.tokens() - 0.1).abs() < 1e-12);
        for _ in 0..500 {
            b.record(true);
        }
        assert_eq!(b.tokens(), 10.0);
    }

    #[test]
    fn successes_refill_by_ratio() {
        let mut b = budget();
        for _ in 0..5 {
            b.record(false);
        }
        assert!(!b.can_retry());
        b.record(true);
        assert!((b.tokens() - 5.1).abs() < 1e-12);
        assert!(b.can_retry());
    }
}
