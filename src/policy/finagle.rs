//! Finagle's retry budget (`com.twitter.finagle.service.RetryBudget`,
//! defaults `RetryBudget()`: TTL 10 s, 10 retries a second, 20%), as the
//! token arithmetic of its `TokenRetryBudget` over a leaky bucket
//! (`TokenBucket.newLeakyBucket`: a `WindowedAdder` of 10 slices of the TTL
//! plus a constant reserve).
//!
//! Every request deposits 1000 units; a retry withdraws `1000 / percent`
//! (5000 at 20%, so five requests pay for one retry) when the balance
//! holds that much. Deposits and withdrawals leave the window after about
//! the TTL. The reserve, `min_per_second * ttl seconds * withdrawal`, lets
//! a client that just started (or sends little) retry `min_per_second`
//! times a second all the same.

use super::window::Window;
use std::sync::Mutex;
use std::time::Duration;

/// Finagle's scale: a deposit is 1000 units, so `percent` need not be a
/// whole fraction.
const SCALE: f64 = 1000.0;

/// The budget's state; the clock is passed in (time since the round began).
#[derive(Debug)]
pub struct FinagleBudget {
    deposit: i64,
    withdrawal: i64,
    reserve: i64,
    window: Mutex<Window<i64>>,
}

impl FinagleBudget {
    /// `percent` of requests may be retried (0.2 = 20%) on top of
    /// `min_per_second`, over `ttl` (whole seconds, as Finagle's
    /// `ttl.inSeconds`); `share` of the reserve is kept (a fleet split
    /// among shards, see [`super::Scope`]).
    pub fn new(percent: f64, min_per_second: u32, ttl: Duration, share: f64) -> Self {
        let (deposit, withdrawal) = if percent == 0.0 {
            (0, 1)
        } else {
            (SCALE as i64, (SCALE / percent) as i64)
        };
        let reserve = i64::from(min_per_second) * ttl.as_secs() as i64 * withdrawal;
        Self {
            deposit,
            withdrawal,
            reserve: (reserve as f64 * share) as i64,
            window: Mutex::new(Window::new(ttl, 10)),
        }
    }

    /// A request went out: deposit.
    pub fn deposit(&self, now: Duration) {
        if let Ok(mut w) = self.window.lock() {
            w.add(now, self.deposit);
        }
    }

    /// May a retry go out now? Withdraws when it may.
    pub fn try_withdraw(&self, now: Duration) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        let ok = w.sum(now) + self.reserve >= self.withdrawal;
        if ok {
            w.add(now, -self.withdrawal);
        }
        ok
    }

    /// Retries the balance allows now (Finagle's `balance`).
    pub fn balance(&self, now: Duration) -> i64 {
        self.window
            .lock()
            .map_or(0, |w| (w.sum(now) + self.reserve) / self.withdrawal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Finagle's defaults: the reserve is 10/s x 10 s = 100 retries
    /// (500,000 units of 5,000); each request adds a fifth of a retry.
    #[test]
    fn the_default_budget_by_hand() {
        let b = FinagleBudget::new(0.2, 10, s(10), 1.0);
        assert_eq!(b.balance(s(0)), 100);
        // 100 retries empty the reserve; the 101st is refused.
        let paid = (0..1000).take_while(|_| b.try_withdraw(s(0))).count();
        assert_eq!(paid, 100);
        assert_eq!(b.balance(s(0)), 0);
        // Five requests pay for one more retry.
        for _ in 0..4 {
            b.deposit(s(1));
        }
        assert!(!b.try_withdraw(s(1)), "4 deposits = 4,000 < 5,000");
        b.deposit(s(1));
        assert!(b.try_withdraw(s(1)));
        assert!(!b.try_withdraw(s(1)));
        // The withdrawals of second 0 leave the window at second 10: the
        // reserve is whole again (the five deposits and one withdrawal of
        // second 1 cancel out).
        assert_eq!(b.balance(s(9)), 0);
        assert_eq!(b.balance(s(10)), 100);
        assert_eq!(b.balance(s(11)), 100);
    }

    /// 20% of sustained traffic: 100 requests a second for 10 s deposit
    /// 1,000 requests' worth, 200 retries, on top of the 100 in reserve.
    #[test]
    fn a_fifth_of_the_requests_plus_the_reserve() {
        let b = FinagleBudget::new(0.2, 10, s(10), 1.0);
        for t in 0..10 {
            for _ in 0..100 {
                b.deposit(s(t));
            }
        }
        assert_eq!(b.balance(s(9)), 300);
        // No reserve, no percentage: nothing may be retried.
        let none = FinagleBudget::new(0.0, 0, s(10), 1.0);
        none.deposit(s(0));
        assert!(!none.try_withdraw(s(0)));
        // A fleet split over 4 shards keeps a quarter of the reserve here.
        assert_eq!(FinagleBudget::new(0.2, 10, s(10), 0.25).balance(s(0)), 25);
    }
}
