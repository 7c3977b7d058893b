use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// gRPC retry throttling (gRFC A6, "Throttling Retry Attempts"): a token
/// bucket that starts full at `max_tokens`, loses 1 on every failure that
/// counts and gains `token_ratio` on every success; a retry goes out only
/// while more than `max_tokens / 2` remain.
///
/// Unlike the breaker it never blocks first attempts, only retries, so it
/// caps the retry *amplification* a fleet of clients adds during an outage
/// while still letting new work probe the server.
///
/// The token count is an `f64` kept in an atomic (its bits) and updated by
/// compare-and-swap: every simulated user sharing it touches it on every
/// answer, and a mutex there would serialise them.
#[derive(Debug)]
pub struct TokenBudget {
    max_tokens: f64,
    token_ratio: f64,
    tokens: AtomicU64,
}

impl TokenBudget {
    /// A full bucket of `max_tokens`.
    pub fn new(max_tokens: f64, token_ratio: f64) -> Self {
        Self {
            max_tokens,
            token_ratio,
            tokens: AtomicU64::new(max_tokens.to_bits()),
        }
    }

    /// Record a success (+token_ratio) or failure (-1), clamped to [0, max].
    pub fn record(&self, success: bool) {
        let _ = self.tokens.fetch_update(Relaxed, Relaxed, |bits| {
            let t = f64::from_bits(bits);
            let next = if success {
                t + self.token_ratio
            } else {
                t - 1.0
            };
            // max/min rather than clamp: clamp panics on a NaN or inverted range.
            Some(next.min(self.max_tokens).max(0.0).to_bits())
        });
    }

    /// Whether a retry may be sent now.
    pub fn can_retry(&self) -> bool {
        self.tokens() > self.max_tokens / 2.0
    }

    /// Tokens left, for reports.
    pub fn tokens(&self) -> f64 {
        f64::from_bits(self.tokens.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> TokenBudget {
        TokenBudget::new(10.0, 0.1)
    }

    #[test]
    fn starts_full() {
        let b = budget();
        assert_eq!(b.tokens(), 10.0);
        assert!(b.can_retry());
    }

    #[test]
    fn failures_drain_to_half_then_block() {
        let b = budget();
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
        let b = budget();
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
        let b = budget();
        for _ in 0..5 {
            b.record(false);
        }
        assert!(!b.can_retry());
        b.record(true);
        assert!((b.tokens() - 5.1).abs() < 1e-12);
        assert!(b.can_retry());
    }
}
