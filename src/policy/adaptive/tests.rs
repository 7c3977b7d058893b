//! The limiter against numbers worked out by hand from botocore's
//! algorithm (the arithmetic is in the comments).

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Successes at 0.6 s and 1.1 s, a throttling answer at 1.6 s.
fn throttled_at_1_6() -> RateLimiter {
    let mut l = RateLimiter::new(0.0);
    // 0.6 s: half-second bucket 0.5 > 0 (the start's whole second): one
    // answer over 0.5 s = 2/s; measured = 0.8 * 2 + 0.2 * 0 = 1.6.
    // CUBIC from w_max 0, k 0: 0.4 * 0.6^3 = 0.0864; min(0.0864, 3.2) is
    // below 0.5, so the fill rate is 0.5 and the capacity 1. Not enabled.
    l.on_response(0.6, false);
    assert!(close(l.measured_rate(), 1.6));
    assert!(close(l.fill_rate(), 0.5));
    assert!(!l.enabled());
    assert_eq!(l.acquire(0.7), 0.0, "not throttled yet: no wait");
    // 1.1 s: bucket 1.0: 1 / 0.5 = 2/s; measured = 1.6 + 0.2 * 1.6 = 1.92.
    // CUBIC 0.4 * 1.1^3 = 0.5324, under 2 * 1.92: the fill rate.
    l.on_response(1.1, false);
    assert!(close(l.measured_rate(), 1.92));
    assert!(close(l.fill_rate(), 0.5324));
    // 1.6 s, throttled: measured = 1.6 + 0.2 * 1.92 = 1.984; w_max =
    // 1.984, k = cbrt(1.984 * 0.3 / 0.4) = cbrt(1.488) = 1.14165...; the
    // new rate 1.984 * 0.7 = 1.3888 (under 2 * 1.984).
    l.on_response(1.6, true);
    assert!(l.enabled());
    assert!(close(l.measured_rate(), 1.984));
    assert!(close(l.fill_rate(), 1.3888));
    assert!(close(l.k, 1.488f64.cbrt()));
    assert!(close(l.k, 1.141_653_494_676_972));
    l
}

#[test]
fn a_throttle_cuts_the_rate_to_beta_times_the_measured_rate() {
    let l = throttled_at_1_6();
    // The bucket filled 0.6 * 1 + 0.5 * 0.5 + 0.5 * 0.5324 = 1.1162 in
    // all, capped at its capacity of 1.
    assert!(close(l.bucket.capacity, 1.0));
    assert!(close(l.bucket.max_capacity, 1.3888));
}

#[test]
fn first_attempts_wait_for_tokens_once_throttled() {
    let mut l = throttled_at_1_6();
    // The one token there goes at once.
    assert_eq!(l.acquire(1.6), 0.0);
    // 0.1 s later the bucket holds 0.13888: the next waits
    // (1 - 0.13888) / 1.3888 = 0.62004... s, and the one after it a token
    // more: (1 - (0.27776 - 1)) / 1.3888 = 1.24009... s.
    assert!(close(l.acquire(1.7), 0.86112 / 1.3888));
    assert!(close(l.acquire(1.8), 1.72224 / 1.3888));
}

#[test]
fn the_rate_recovers_along_the_cubic_curve() {
    let mut l = throttled_at_1_6();
    // At last_fail + k the curve is back at w_max: 0.4 * 0^3 + 1.984. The
    // measured rate: bucket 2.5 > 1.5, one answer over 1 s = 1/s;
    // 0.8 * 1 + 0.2 * 1.984 = 1.1968, and 2 * 1.1968 > 1.984.
    let t = 1.6 + l.k;
    l.on_response(t, false);
    assert!(close(l.measured_rate(), 1.1968));
    assert!(close(l.fill_rate(), 1.984));
    // At 4.6 s (3 s after the throttle) the curve is above w_max:
    // 0.4 * (3 - 1.14165...)^3 + 1.984 = 4.55108...; but the measured rate
    // (bucket 4.5: 1 answer over 2 s = 0.5/s; 0.8 * 0.5 + 0.2 * 1.1968 =
    // 0.63936) caps it at 2 * 0.63936 = 1.27872.
    let curve = 0.4 * (3.0 - l.k).powi(3) + 1.984;
    assert!(close(curve, 4.551_083_984_358_015));
    l.on_response(4.6, false);
    assert!(close(l.measured_rate(), 0.63936));
    assert!(close(l.fill_rate(), 1.27872));
}

#[test]
fn a_second_throttle_uses_the_lower_of_measured_and_fill_rate() {
    let mut l = throttled_at_1_6();
    l.on_response(1.6 + l.k, false);
    l.on_response(4.6, false);
    // 4.7 s, throttled: same half-second bucket, measured stays 0.63936,
    // below the fill rate 1.27872: w_max = 0.63936, k = cbrt(0.47952),
    // the new rate 0.7 * 0.63936 = 0.447552, floored at 0.5.
    l.on_response(4.7, true);
    assert!(close(l.w_max, 0.63936));
    assert!(close(l.k, 0.47952f64.cbrt()));
    assert!(close(l.fill_rate(), 0.5));
    assert!(close(l.bucket.max_capacity, 1.0));
}

#[test]
fn before_the_first_throttle_nothing_waits() {
    let mut l = RateLimiter::new(10.0);
    for i in 0..1000 {
        let t = 10.0 + f64::from(i) * 0.001;
        assert_eq!(l.acquire(t), 0.0);
        l.on_response(t, false);
    }
    assert!(!l.enabled());
}
