//! A sliding window of counts over time slices, with the clock passed in:
//! the Finagle budget's deposits and withdrawals (10 slices of its TTL, as
//! Finagle's `WindowedAdder`) and the SRE throttle's requests and accepts
//! (a two-minute window).

use std::time::Duration;

/// Sums of `T` over the last `slots` slices of `slice` each, the current
/// slice included: a value added at time `t` counts until the slice that
/// holds `t + slots * slice` begins.
#[derive(Debug, Clone)]
pub struct Window<T> {
    slice: Duration,
    /// (slice number, sum in that slice), at `number % len`.
    slots: Vec<(u64, T)>,
}

impl<T: Copy + Default + std::ops::AddAssign> Window<T> {
    /// `span` split into `slots` slices (at least one, each at least 1 ms).
    pub fn new(span: Duration, slots: u32) -> Self {
        let slots = slots.max(1);
        let slice = (span / slots).max(Duration::from_millis(1));
        Self {
            slice,
            slots: vec![(u64::MAX, T::default()); slots as usize],
        }
    }

    fn number(&self, now: Duration) -> u64 {
        (now.as_nanos() / self.slice.as_nanos()) as u64
    }

    /// Add `v` at time `now`.
    pub fn add(&mut self, now: Duration, v: T) {
        let n = self.number(now);
        let len = self.slots.len() as u64;
        let slot = &mut self.slots[(n % len) as usize];
        if slot.0 != n {
            *slot = (n, T::default());
        }
        slot.1 += v;
    }

    /// The sum of the slices still in the window at `now`.
    pub fn sum(&self, now: Duration) -> T {
        let n = self.number(now);
        let len = self.slots.len() as u64;
        let mut total = T::default();
        for (at, v) in &self.slots {
            if *at <= n && n - *at < len {
                total += *v;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn values_leave_the_window_slice_by_slice() {
        // 10 s in 10 slices of 1 s.
        let mut w: Window<i64> = Window::new(Duration::from_secs(10), 10);
        w.add(ms(0), 5);
        w.add(ms(999), 1);
        w.add(ms(4_500), 10);
        assert_eq!(w.sum(ms(4_500)), 16);
        // Slice 0 counts through slice 9, not in slice 10.
        assert_eq!(w.sum(ms(9_999)), 16);
        assert_eq!(w.sum(ms(10_000)), 10);
        assert_eq!(w.sum(ms(13_999)), 10);
        assert_eq!(w.sum(ms(14_000)), 0);
        // A slot reused by a later slice starts from zero.
        w.add(ms(20_000), -3);
        assert_eq!(w.sum(ms(20_000)), -3);
    }

    #[test]
    fn pairs_sum_member_by_member() {
        #[derive(Debug, Clone, Copy, Default, PartialEq)]
        struct P(u64, u64);
        impl std::ops::AddAssign for P {
            fn add_assign(&mut self, o: P) {
                self.0 += o.0;
                self.1 += o.1;
            }
        }
        let mut w: Window<P> = Window::new(Duration::from_secs(120), 120);
        w.add(ms(0), P(1, 0));
        w.add(ms(60_000), P(1, 1));
        assert_eq!(w.sum(ms(60_000)), P(2, 1));
        assert_eq!(w.sum(ms(120_000)), P(1, 1));
        // A time before a slice (never asked by a running clock) adds nothing.
        assert_eq!(w.sum(ms(0)), P(1, 0));
    }
}
