//! The AWS SDKs' adaptive retry mode's client-side rate limiter, as
//! botocore implements it (`retries/adaptive.py` `ClientRateLimiter` and
//! `RateClocker`, `retries/throttling.py` `CubicCalculator`,
//! `retries/bucket.py` `TokenBucket`): a token bucket whose fill rate
//! follows CUBIC (β = 0.7, C = 0.4) around the sending rate measured when
//! the last throttling answer came, capped at twice the measured rate,
//! never below 0.5 a second. Until the first throttling answer it lets
//! everything through; after it, every request (first attempts included)
//! takes a token.
//!
//! A pure state machine: the clock (seconds since the round began) is
//! passed in. One reading differs from botocore's blocking `acquire`: a
//! request that finds no token reserves the next one and is told how long
//! to wait, so waiting requests are served in the order they asked and
//! nothing wakes to find the token taken. Under a constant fill rate the
//! two give the same times; a rate that changes meanwhile only moves
//! the requests that ask after it.

/// CUBIC's multiplicative decrease.
const BETA: f64 = 0.7;
/// CUBIC's scale constant.
const SCALE: f64 = 0.4;
/// The bucket never fills slower than this (tokens a second).
const MIN_RATE: f64 = 0.5;
/// The fill rate is at most this times the measured sending rate.
const MAX_RATE_SCALE: f64 = 2.0;
/// Weight of the newest rate in the measured rate's moving average.
const SMOOTHING: f64 = 0.8;
/// The measured rate is updated once per half-second bucket.
const TIME_BUCKET: f64 = 0.5;

/// botocore's `TokenBucket`, with reservations (capacity may go negative).
#[derive(Debug, Clone, PartialEq)]
struct Bucket {
    fill_rate: f64,
    max_capacity: f64,
    capacity: f64,
    last: f64,
}

impl Bucket {
    fn refill(&mut self, now: f64) {
        let fill = (now - self.last).max(0.0) * self.fill_rate;
        self.capacity = (self.capacity + fill).min(self.max_capacity);
        self.last = now;
    }

    /// botocore's `max_rate` setter.
    fn set_max_rate(&mut self, value: f64, now: f64) {
        self.refill(now);
        self.fill_rate = value.max(MIN_RATE);
        self.max_capacity = if value >= 1.0 { value } else { 1.0 };
        self.capacity = self.capacity.min(self.max_capacity);
    }
}

/// The limiter: CUBIC state, the measured sending rate and the bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimiter {
    enabled: bool,
    // CubicCalculator
    w_max: f64,
    k: f64,
    last_fail: f64,
    // RateClocker
    measured: f64,
    count: u64,
    last_bucket: f64,
    bucket: Bucket,
}

impl RateLimiter {
    /// botocore's `register_retry_handler`: CUBIC from a maximum of 0, a
    /// bucket of rate 1, the measured rate from the second `now` falls in.
    pub fn new(now: f64) -> Self {
        Self {
            enabled: false,
            w_max: 0.0,
            k: 0.0,
            last_fail: now,
            measured: 0.0,
            count: 0,
            last_bucket: now.floor(),
            bucket: Bucket {
                fill_rate: 1.0,
                max_capacity: 1.0,
                capacity: 0.0,
                last: now,
            },
        }
    }

    /// A request is about to go out at `now`: how long it must wait first
    /// (zero until the first throttling answer, or when a token is there).
    pub fn acquire(&mut self, now: f64) -> f64 {
        if !self.enabled {
            return 0.0;
        }
        self.bucket.refill(now);
        let wait = if self.bucket.capacity >= 1.0 {
            0.0
        } else {
            (1.0 - self.bucket.capacity) / self.bucket.fill_rate
        };
        self.bucket.capacity -= 1.0;
        wait
    }

    /// An answer came back at `now` (every answer, a transport failure
    /// included, as botocore's `needs-retry` hook sees them); `throttled`:
    /// it was a throttling answer.
    pub fn on_response(&mut self, now: f64, throttled: bool) {
        let measured = self.record_rate(now);
        let new_rate = if throttled {
            let rate = if self.enabled {
                measured.min(self.bucket.fill_rate)
            } else {
                measured
            };
            self.enabled = true;
            self.error_received(rate, now)
        } else {
            self.success_received(now)
        };
        self.bucket
            .set_max_rate(new_rate.min(MAX_RATE_SCALE * measured), now);
    }

    /// `RateClocker.record`: the smoothed rate of answers per second.
    fn record_rate(&mut self, now: f64) -> f64 {
        let bucket = (now / TIME_BUCKET).floor() * TIME_BUCKET;
        self.count += 1;
        if bucket > self.last_bucket {
            let rate = self.count as f64 / (bucket - self.last_bucket);
            self.measured = rate * SMOOTHING + self.measured * (1.0 - SMOOTHING);
            self.count = 0;
            self.last_bucket = bucket;
        }
        self.measured
    }

    fn success_received(&self, now: f64) -> f64 {
        SCALE * (now - self.last_fail - self.k).powi(3) + self.w_max
    }

    fn error_received(&mut self, rate: f64, now: f64) -> f64 {
        self.w_max = rate;
        self.k = (self.w_max * (1.0 - BETA) / SCALE).cbrt();
        self.last_fail = now;
        rate * BETA
    }

    /// The bucket's fill rate (requests a second once throttled).
    pub fn fill_rate(&self) -> f64 {
        self.bucket.fill_rate
    }

    /// The smoothed measured sending rate.
    pub fn measured_rate(&self) -> f64 {
        self.measured
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

#[cfg(test)]
mod tests;
