//! The AWS SDKs' retry quota (standard and adaptive retry modes): a pool of
//! capacity that every retry must pay for and that successes refill.
//! Sources: the AWS SDKs and Tools reference guide, "Retry behavior", and
//! botocore's `retries/quota.py` and `retries/standard.py`
//! (`RetryQuotaChecker`).

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Capacity left, between 0 and `max`; starts full.
///
/// `acquire` pays for a retry or refuses it (the SDK then returns the
/// failure to the caller); `release` puts capacity back, never above `max`.
/// An atomic updated by compare-and-swap: every user sharing it touches it
/// on every retry and success.
#[derive(Debug)]
pub struct RetryQuota {
    max: u32,
    available: AtomicU32,
}

impl RetryQuota {
    pub fn new(max: u32) -> Self {
        Self {
            max,
            available: AtomicU32::new(max),
        }
    }

    /// Take `cost` if that much is left; false (nothing taken) otherwise.
    pub fn acquire(&self, cost: u32) -> bool {
        self.available
            .fetch_update(Relaxed, Relaxed, |a| a.checked_sub(cost))
            .is_ok()
    }

    /// Put `amount` back, capped at the maximum.
    pub fn release(&self, amount: u32) {
        let _ = self.available.fetch_update(Relaxed, Relaxed, |a| {
            Some(a.saturating_add(amount).min(self.max))
        });
    }

    pub fn available(&self) -> u32 {
        self.available.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard mode: 500 of quota, 14 per transient retry. 35 retries cost
    /// 490 and leave 10, which cannot pay for a 36th: 500 / 14 = 35.7.
    #[test]
    fn transient_retries_until_the_quota_cannot_pay() {
        let q = RetryQuota::new(500);
        let paid = (0..100).take_while(|_| q.acquire(14)).count();
        assert_eq!(paid, 35);
        assert_eq!(q.available(), 10);
        // A throttling retry (5) still fits, twice.
        assert!(q.acquire(5));
        assert!(q.acquire(5));
        assert_eq!(q.available(), 0);
        assert!(!q.acquire(5));
        assert_eq!(q.available(), 0, "a refused retry takes nothing");
    }

    /// Refunds: a success after retries puts back what its last retry cost;
    /// a first-attempt success puts back 1; never above the maximum.
    #[test]
    fn refunds_and_the_cap() {
        let q = RetryQuota::new(500);
        assert!(q.acquire(14)); // 486
        assert!(q.acquire(5)); // 481
        q.release(5); // the operation whose last retry cost 5 succeeded
        assert_eq!(q.available(), 486);
        q.release(1); // a first-attempt success
        assert_eq!(q.available(), 487);
        for _ in 0..20 {
            q.release(1);
        }
        assert_eq!(q.available(), 500, "capped at the maximum");
        // Legacy mode: 5 a retry, 10 after a timeout.
        let legacy = RetryQuota::new(500);
        let paid = (0..200).take_while(|_| legacy.acquire(10)).count();
        assert_eq!(paid, 50);
        assert!(!legacy.acquire(5));
    }
}
