//! Each preset of the family against numbers worked out by hand from its
//! published algorithm, through the same settlement the engine uses,
//! without a network.

use super::super::throttle::SRE;
use super::super::*;
use crate::outcome::OpOutcome;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn state_of(p: &RetryPolicy) -> BudgetState {
    BudgetState::new(p.budget.as_ref().expect("a budget"), 1.0)
}

fn response<'a>(
    status: u16,
    retry_after: Option<&'a str>,
    pushback: Option<&'a str>,
) -> Answer<'a> {
    Answer::Response {
        status,
        code: None,
        retry_after,
        pushback,
    }
}

/// Settle one answer at `state`, with `budget`, seeded.
fn at(
    p: &RetryPolicy,
    state: &OpState,
    answer: &Answer<'_>,
    budget: &BudgetState,
    seed: u64,
) -> Settlement {
    settle(
        p,
        true,
        state,
        answer,
        &mut UserGuard::default(),
        Limits {
            budget: Some(budget),
            throttle: None,
        },
        Clock {
            now: Instant::now(),
            wall: SystemTime::UNIX_EPOCH,
            elapsed: Duration::ZERO,
        },
        &mut StdRng::seed_from_u64(seed),
    )
}

fn quota_left(b: &BudgetState) -> u32 {
    match b {
        BudgetState::Quota(q, _) => q.available(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn aws_standard_has_the_sdks_numbers() {
    let p = preset("aws-standard").unwrap();
    assert_eq!(p.limits.too_many_requests, 2, "3 attempts");
    assert_eq!(p.limits.network, 2);
    assert_eq!(p.base_delay, ms(50));
    assert_eq!(p.throttled_base_delay, Some(ms(1000)));
    assert_eq!(p.max_delay, ms(20_000));
    assert_eq!(p.jitter, Jitter::Full);
    assert_eq!(p.retry_after_clamp, Some(ms(5000)));
    assert_eq!(p.breaker, None);
    assert_eq!(
        p.budget.unwrap().kind,
        BudgetKind::RetryQuota(QuotaCosts::STANDARD)
    );
    assert!(p.throttling_codes.iter().any(|c| c == "SlowDown"));
    let legacy = preset("aws-legacy").unwrap();
    assert_eq!(
        legacy.budget.unwrap().kind,
        BudgetKind::RetryQuota(QuotaCosts::LEGACY)
    );
    assert_eq!(
        (legacy.base_delay, legacy.throttled_base_delay),
        (ms(1000), None)
    );
    assert!(!legacy.honor_retry_after);
    let adaptive = preset("aws-adaptive").unwrap();
    assert_eq!(adaptive.throttle.unwrap().kind, ThrottleKind::Adaptive);
    assert_eq!(adaptive.budget, p.budget);
}

/// 500 of quota at 14 a transient retry: 35 retries are paid (490), the
/// 36th operation's retry is refused and the failure is final.
#[tokio::test(start_paused = true)]
async fn aws_standard_stops_retrying_when_the_quota_is_empty() {
    let p = preset("aws-standard").unwrap();
    let b = state_of(&p);
    for i in 0..35 {
        match at(&p, &OpState::default(), &response(500, None, None), &b, i) {
            Settlement::Retry { next, .. } => assert_eq!(next.charged, 14),
            s => panic!("{i}: {s:?}"),
        }
    }
    assert_eq!(quota_left(&b), 10);
    assert_eq!(
        at(&p, &OpState::default(), &response(503, None, None), &b, 99),
        Settlement::Done(OpOutcome::BudgetExhausted)
    );
    // A throttling retry costs 5, which the 10 left still pay twice.
    let throttled = |seed| {
        at(
            &p,
            &OpState::default(),
            &response(429, None, None),
            &b,
            seed,
        )
    };
    assert!(matches!(throttled(1), Settlement::Retry { next, .. } if next.charged == 5));
    assert!(matches!(throttled(2), Settlement::Retry { .. }));
    assert_eq!(throttled(3), Settlement::Done(OpOutcome::BudgetExhausted));
    assert_eq!(quota_left(&b), 0);
}

/// A success after retries refunds what its last retry cost; a first-try
/// success refunds 1; never above 500.
#[tokio::test(start_paused = true)]
async fn aws_refunds_by_hand() {
    let p = preset("aws-standard").unwrap();
    let b = state_of(&p);
    let first = at(&p, &OpState::default(), &response(500, None, None), &b, 1);
    let Settlement::Retry { next, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(quota_left(&b), 486);
    let second = at(&p, &next, &response(429, None, None), &b, 2);
    let Settlement::Retry { next, .. } = second else {
        panic!("{second:?}")
    };
    assert_eq!((next.retries, next.charged), (2, 5));
    assert_eq!(quota_left(&b), 481);
    // The third attempt succeeds: the last retry's 5 come back.
    assert_eq!(
        at(&p, &next, &response(200, None, None), &b, 3),
        Settlement::Done(OpOutcome::Ok)
    );
    assert_eq!(quota_left(&b), 486);
    at(&p, &OpState::default(), &response(201, None, None), &b, 4);
    assert_eq!(quota_left(&b), 487);
    // Three attempts at most: the third failure is final, nothing charged.
    let third = OpState {
        retries: 2,
        ..OpState::default()
    };
    assert!(matches!(
        at(&p, &third, &response(500, None, None), &b, 5),
        Settlement::Done(OpOutcome::GaveUp(_))
    ));
    assert_eq!(quota_left(&b), 487);
}

/// Legacy: 5 a retry, 10 after the client's own timeout: 50 timeouts
/// empty the 500.
#[tokio::test(start_paused = true)]
async fn aws_legacy_charges_timeouts_double() {
    let p = preset("aws-legacy").unwrap();
    let b = state_of(&p);
    let paid = (0..100)
        .take_while(|i| {
            matches!(
                at(&p, &OpState::default(), &Answer::Timeout, &b, *i),
                Settlement::Retry { next, .. } if next.charged == 10
            )
        })
        .count();
    assert_eq!(paid, 50);
}

/// The SDK's backoff: `U[0, 1) * min(base * 2^n, 20 s)`, base 50 ms after a
/// transient failure and 1 s after a throttling answer.
#[test]
fn aws_backoff_ranges() {
    let p = preset("aws-standard").unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    for (n, transient, throttled) in [
        (0, 50, 1000),
        (1, 100, 2000),
        (2, 200, 4000),
        (8, 12_800, 20_000),
        (9, 20_000, 20_000),
    ] {
        let s = OpState {
            retries: n,
            ..OpState::default()
        };
        for (class, cap) in [
            (Class::ServerError, transient),
            (Class::RateLimited, throttled),
        ] {
            let draws: Vec<_> = (0..2000)
                .map(|_| backoff_delay(&p, &s, class, &mut rng))
                .collect();
            assert!(draws.iter().all(|d| *d < ms(cap)), "{n} {class:?}");
            assert!(draws.iter().any(|d| *d > ms(cap) * 9 / 10), "{n} {class:?}");
            assert!(draws.iter().any(|d| *d < ms(cap) / 10), "{n} {class:?}");
        }
    }
    assert_eq!(jittered(Jitter::Full, ms(1000), 0.0), Duration::ZERO);
    assert_eq!(jittered(Jitter::Full, ms(1000), 0.5), ms(500));
}

/// A Retry-After is held within [backoff, backoff + 5 s].
#[tokio::test(start_paused = true)]
async fn aws_retry_after_is_clamped_around_the_backoff() {
    let p = preset("aws-standard").unwrap();
    let b = state_of(&p);
    let delay_of = |ra: &str, seed| match at(
        &p,
        &OpState::default(),
        &response(503, Some(ra), None),
        &b,
        seed,
    ) {
        Settlement::Retry { delay, flags, .. } => (delay, flags),
        s => panic!("{s:?}"),
    };
    // The transient backoff is under 50 ms: 3 s is within the clamp.
    let (d, f) = delay_of("3", 1);
    assert_eq!(d, ms(3000));
    assert!(f.honoured && !f.early);
    // 60 s is cut to backoff + 5 s: sent before the server asked.
    let (d, f) = delay_of("60", 1);
    assert!(d >= ms(5000) && d < ms(5050), "{d:?}");
    assert!(!f.honoured && f.early);
    // 0 is no Retry-After: the backoff alone.
    let (d, f) = delay_of("0", 1);
    assert!(d < ms(50) && !f.honoured);
}

#[test]
fn grpc_has_a6s_numbers() {
    let p = preset("grpc").unwrap();
    assert_eq!(p.limits.service_unavailable, 4, "maxAttempts 5");
    assert_eq!((p.base_delay, p.max_delay), (ms(100), ms(1000)));
    assert_eq!(p.backoff_multiplier, 2.0);
    assert_eq!(p.jitter, Jitter::Grpc);
    assert!(p.pushback && !p.honor_retry_after);
    assert_eq!(
        p.budget.unwrap().kind,
        BudgetKind::TokenBucket {
            max_tokens: 10.0,
            token_ratio: 0.1
        }
    );
    assert_eq!(p.breaker, None);
}

/// `min(100 ms * 2^n, 1 s) * U[0.8, 1.2)`.
#[test]
fn grpc_backoff_range() {
    let p = preset("grpc").unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    for (n, d) in [(0, 100), (1, 200), (2, 400), (3, 800), (4, 1000), (9, 1000)] {
        let s = OpState {
            retries: n,
            ..OpState::default()
        };
        for _ in 0..500 {
            let got = backoff_delay(&p, &s, Class::Unavailable, &mut rng);
            assert!(
                got >= ms(d) * 8 / 10 && got < ms(d) * 12 / 10,
                "{n}: {got:?}"
            );
        }
        assert_eq!(jittered(Jitter::Grpc, ms(d), 0.0), ms(d) * 8 / 10);
        assert_eq!(jittered(Jitter::Grpc, ms(d), 0.5), ms(d));
    }
    // backoffMultiplier 1.6, as gRPC's connection backoff: 100, 160, 256 ms.
    let mut slow = p.clone();
    slow.backoff_multiplier = 1.6;
    slow.jitter = Jitter::None;
    let at_n = |n| {
        backoff_delay(
            &slow,
            &OpState {
                retries: n,
                ..OpState::default()
            },
            Class::Unavailable,
            &mut StdRng::seed_from_u64(1),
        )
    };
    assert_eq!(at_n(0), ms(100));
    assert!((at_n(2).as_secs_f64() - 0.256).abs() < 1e-9);
}

fn tokens(b: &BudgetState) -> f64 {
    match b {
        BudgetState::Tokens(t) => t.tokens(),
        other => panic!("{other:?}"),
    }
}

/// 10 tokens: each retryable failure takes 1, each success adds 0.1;
/// retries only while more than 5 remain.
#[tokio::test(start_paused = true)]
async fn grpc_token_arithmetic() {
    let p = preset("grpc").unwrap();
    let b = state_of(&p);
    for i in 0..4 {
        assert!(matches!(
            at(&p, &OpState::default(), &response(503, None, None), &b, i),
            Settlement::Retry { .. }
        ));
    }
    assert_eq!(tokens(&b), 6.0);
    // The fifth failure leaves exactly 5: not more than half.
    assert_eq!(
        at(&p, &OpState::default(), &response(503, None, None), &b, 9),
        Settlement::Done(OpOutcome::BudgetExhausted)
    );
    assert_eq!(tokens(&b), 5.0);
    // A sold-out answer is no failure for the throttle (A6: only retryable
    // statuses count).
    at(&p, &OpState::default(), &response(409, None, None), &b, 10);
    assert_eq!(tokens(&b), 5.0);
    at(&p, &OpState::default(), &response(200, None, None), &b, 11);
    assert!((tokens(&b) - 5.1).abs() < 1e-12);
    assert!(matches!(
        at(&p, &OpState::default(), &response(200, None, None), &b, 12),
        Settlement::Done(OpOutcome::Ok)
    ));
}

/// A pushback: retry after exactly that; the backoff after it starts again
/// from 100 ms; a negative or unparseable one ends the operation.
#[tokio::test(start_paused = true)]
async fn grpc_pushback() {
    let p = preset("grpc").unwrap();
    let b = state_of(&p);
    let three = OpState {
        retries: 3,
        ..OpState::default()
    };
    let s = at(&p, &three, &response(503, None, Some("250")), &b, 1);
    let Settlement::Retry {
        delay, next, flags, ..
    } = s
    else {
        panic!("{s:?}")
    };
    assert_eq!(delay, ms(250));
    assert!(!flags.honoured);
    assert_eq!((next.retries, next.backoff_from), (4, 4));
    // Retry 4 is the last A6 allows: a plain 503 at retries 4 gives up.
    // Below the limit the backoff restarts at 100 ms +-20%.
    let mut lifted = p.clone();
    lifted.limits.service_unavailable = 10;
    let s = at(&lifted, &next, &response(503, None, None), &b, 2);
    let Settlement::Retry { delay, .. } = s else {
        panic!("{s:?}")
    };
    assert!(delay >= ms(80) && delay < ms(120), "{delay:?}");
    // "Do not retry": the failure is final, and counted by the throttle.
    let before = tokens(&b);
    for v in ["-1", "soon"] {
        assert!(matches!(
            at(
                &p,
                &OpState::default(),
                &response(503, None, Some(v)),
                &b,
                3
            ),
            Settlement::Done(OpOutcome::Failed(_))
        ));
    }
    assert_eq!(tokens(&b), before - 2.0);
    // The limit still holds against a pushback that says when.
    assert!(matches!(
        at(&p, &next, &response(503, None, Some("10")), &b, 4),
        Settlement::Done(OpOutcome::GaveUp(_))
    ));
    // A policy without `pushback` does not read the header.
    let compliant = preset("compliant").unwrap();
    let s = settle(
        &compliant,
        true,
        &OpState::default(),
        &response(503, None, Some("-1")),
        &mut UserGuard::default(),
        Limits::default(),
        Clock {
            now: Instant::now(),
            wall: SystemTime::UNIX_EPOCH,
            elapsed: Duration::ZERO,
        },
        &mut StdRng::seed_from_u64(1),
    );
    assert!(matches!(s, Settlement::Retry { .. }), "{s:?}");
}

#[test]
fn sre_throttling_is_compliant_with_a_throttle_instead_of_a_breaker() {
    let p = preset("sre-throttling").unwrap();
    let c = preset("compliant").unwrap();
    assert_eq!(p.throttle.unwrap().kind, SRE);
    assert_eq!(p.breaker, None);
    assert_eq!(
        (p.limits, p.base_delay, p.jitter),
        (c.limits, c.base_delay, c.jitter)
    );
    assert_eq!(p.budget, None);
}
