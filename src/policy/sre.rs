//! Client-side adaptive throttling from Google's *Site Reliability
//! Engineering* book, chapter 21 ("Handling Overload"): each client keeps,
//! for the last two minutes, the requests it attempted and the requests the
//! backend accepted, and rejects a new request locally with probability
//! `max(0, (requests - K * accepts) / (requests + 1))`.
//!
//! Readings where the book is brief: the probability is computed from the
//! counts before the request being admitted; a request rejected locally
//! still counts as a request (the book counts what the application
//! attempted), which is what lets the probability climb towards 1 while
//! the backend keeps failing; "accepted" is any answer the backend gave
//! that is not an overload or failure signal: a 2xx, a permanent answer (a
//! sold-out 409 was processed) or an ambiguous one. 429, 5xx, timeouts and
//! network errors are not accepts.

use super::window::Window;
use super::{Class, Verdict};
use std::time::Duration;

/// Requests and accepts of one slice.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    requests: u64,
    accepts: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.requests += o.requests;
        self.accepts += o.accepts;
    }
}

/// The throttle's state: a sliding window of one-second slices.
#[derive(Debug, Clone)]
pub struct SreThrottle {
    k: f64,
    window: Window<Counts>,
}

impl SreThrottle {
    /// `k`: the accepts multiplier (the book's K, 2); `window`: how far
    /// back counts go (two minutes), in one-second slices.
    pub fn new(k: f64, window: Duration) -> Self {
        let slices = u32::try_from(window.as_secs()).unwrap_or(u32::MAX).max(1);
        Self {
            k,
            window: Window::new(window, slices),
        }
    }

    /// The probability of rejecting the next request at `now`.
    pub fn reject_probability(&self, now: Duration) -> f64 {
        let c = self.window.sum(now);
        let requests = c.requests as f64;
        ((requests - self.k * c.accepts as f64) / (requests + 1.0)).max(0.0)
    }

    /// A request is about to go out: rejected locally when `draw` (uniform
    /// in [0, 1)) falls below the probability; counted either way.
    pub fn admit(&mut self, now: Duration, draw: f64) -> Verdict {
        let p = self.reject_probability(now);
        self.window.add(
            now,
            Counts {
                requests: 1,
                accepts: 0,
            },
        );
        if draw < p {
            Verdict::Reject
        } else {
            Verdict::Send
        }
    }

    /// An answer of `class` came back.
    pub fn record(&mut self, class: Class, now: Duration) {
        if accepted(class) {
            self.window.add(
                now,
                Counts {
                    requests: 0,
                    accepts: 1,
                },
            );
        }
    }
}

/// Did the backend accept the request?
pub fn accepted(class: Class) -> bool {
    matches!(class, Class::Success | Class::Permanent | Class::Ambiguous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn book() -> SreThrottle {
        SreThrottle::new(2.0, s(120))
    }

    /// Every probability computed by hand from the book's formula, K = 2.
    #[test]
    fn the_rejection_probability_by_hand() {
        let mut t = book();
        assert_eq!(t.reject_probability(s(0)), 0.0, "(0 - 0) / 1");
        // 10 requests, all accepted: (10 - 20) / 11 < 0, so 0.
        for _ in 0..10 {
            assert_eq!(t.admit(s(0), 0.0), Verdict::Send);
            t.record(Class::Success, s(0));
        }
        assert_eq!(t.reject_probability(s(0)), 0.0);
        // 10 more, all failing (503): (20 - 20) / 21 = 0.
        for _ in 0..10 {
            t.admit(s(1), 0.99);
            t.record(Class::Unavailable, s(1));
        }
        assert_eq!(t.reject_probability(s(1)), 0.0);
        // 10 more failures: (30 - 20) / 31.
        for _ in 0..10 {
            t.admit(s(2), 0.99);
            t.record(Class::Timeout, s(2));
        }
        let p = t.reject_probability(s(2));
        assert!((p - 10.0 / 31.0).abs() < 1e-12, "{p}");
        // A draw below p is rejected, and counted as a request: 31 requests,
        // (31 - 20) / 32.
        assert_eq!(t.admit(s(2), 0.3), Verdict::Reject);
        assert!((t.reject_probability(s(2)) - 11.0 / 32.0).abs() < 1e-12);
        assert_eq!(t.admit(s(2), 11.0 / 32.0), Verdict::Send, "not below p");
        // A sold-out answer is an accept: 32 requests, 11 accepts.
        t.record(Class::Permanent, s(2));
        assert!((t.reject_probability(s(2)) - 10.0 / 33.0).abs() < 1e-12);
    }

    /// Counts older than two minutes leave the window.
    #[test]
    fn the_window_forgets_after_two_minutes() {
        let mut t = book();
        for _ in 0..10 {
            t.admit(s(0), 0.99);
            t.record(Class::Success, s(0));
        }
        for _ in 0..30 {
            t.admit(s(60), 0.99);
            t.record(Class::ServerError, s(60));
        }
        // 40 requests, 10 accepts: (40 - 20) / 41.
        assert!((t.reject_probability(s(119)) - 20.0 / 41.0).abs() < 1e-12);
        // At 120 s the first second's successes are gone: 30 / 31.
        assert!((t.reject_probability(s(120)) - 30.0 / 31.0).abs() < 1e-12);
        // And at 180 s everything is: 0.
        assert_eq!(t.reject_probability(s(180)), 0.0);
    }

    /// Sustained failure drives the probability towards 1 (never to it):
    /// rejected requests count, accepts stay at 0.
    #[test]
    fn sustained_failure_rejects_almost_everything() {
        let mut t = book();
        for _ in 0..999 {
            t.admit(s(0), 0.999_999);
            t.record(Class::Network, s(0));
        }
        let p = t.reject_probability(s(0));
        assert!((p - 999.0 / 1000.0).abs() < 1e-12, "{p}");
        assert!(accepted(Class::Ambiguous) && !accepted(Class::RateLimited));
    }
}
