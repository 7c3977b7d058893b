use super::*;
use crate::policy::{Budget, BudgetKind, Scope, preset};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn wall() -> SystemTime {
    // Wed, 21 Oct 2015 07:28:00 GMT
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
}

/// The instant an answer arrived (paused test time).
fn clock() -> Clock {
    Clock {
        now: Instant::now(),
        wall: wall(),
        elapsed: Duration::ZERO,
    }
}

fn limits(budget: Option<&BudgetState>) -> Limits<'_> {
    Limits {
        budget,
        throttle: None,
    }
}

/// The state after a first retry that waits `delay` and costs nothing.
fn after_one(delay: Duration) -> OpState {
    OpState {
        retries: 1,
        prev_delay: delay,
        ..OpState::default()
    }
}

fn code(s: &str) -> Code {
    Code::new(s).unwrap()
}

struct Case<'a> {
    policy: &'a str,
    retry_step: bool,
    retries: u32,
    answer: Answer<'a>,
}

fn run(c: &Case<'_>, guard: &mut UserGuard, budget: Option<&BudgetState>) -> Settlement {
    let p = preset(c.policy).unwrap();
    let state = OpState {
        retries: c.retries,
        ..OpState::default()
    };
    settle(
        &p,
        c.retry_step,
        &state,
        &c.answer,
        guard,
        limits(budget),
        clock(),
        &mut StdRng::seed_from_u64(3),
    )
}

fn resp<'a>(status: u16, c: Option<&'a Code>, ra: Option<&'a str>) -> Answer<'a> {
    Answer::Response {
        status,
        code: c,
        retry_after: ra,
        pushback: None,
    }
}

/// A half-open probe answered with a 429 (which the breaker does not
/// count) lets the next attempt probe again, instead of leaving the
/// breaker waiting for a probe forever.
#[tokio::test(start_paused = true)]
async fn a_probe_answered_429_does_not_wedge_the_breaker() {
    let p = preset("compliant").unwrap();
    let mut guard = UserGuard::new(p.breaker.map(CircuitBreaker::new));
    let t0 = Instant::now();
    for _ in 0..5 {
        guard.record(Class::ServerError, t0);
    }
    assert!(!guard.allow(t0), "open");
    let later = t0 + p.breaker.unwrap().open_for + Duration::from_millis(1);
    assert!(guard.allow(later), "half-open: the probe goes");
    assert!(!guard.allow(later), "one probe at a time");
    guard.record(Class::RateLimited, later);
    assert!(guard.allow(later), "the probe ended: another may go");
    guard.no_answer();
    assert!(guard.allow(later), "an abandoned probe ends it too");
    guard.record(Class::Success, later);
    assert_eq!(
        guard.breaker.as_ref().unwrap().state(),
        crate::policy::BreakerState::Closed
    );
}

/// Every answer a 429: the compliant policy reaches its limit of 5
/// retries (the guidelines' RETRY_LIMITS) instead of its breaker, which
/// does not count 429s; told to count them, the breaker ends it first.
#[tokio::test(start_paused = true)]
async fn a_429_storm_reaches_the_retry_limit_not_the_breaker() {
    let too_many = code("TOO_MANY_REQUESTS");
    let storm = |p: &RetryPolicy| {
        let mut guard = UserGuard::new(p.breaker.map(CircuitBreaker::new));
        let mut retries = 0;
        loop {
            let state = OpState {
                retries,
                ..OpState::default()
            };
            match settle(
                p,
                true,
                &state,
                &resp(429, Some(&too_many), None),
                &mut guard,
                Limits::default(),
                clock(),
                &mut StdRng::seed_from_u64(3),
            ) {
                Settlement::Retry { .. } => retries += 1,
                Settlement::Done(o) => return (retries, o),
            }
        }
    };
    let p = preset("compliant").unwrap();
    let (retries, o) = storm(&p);
    assert_eq!(retries, p.limits.too_many_requests);
    assert!(matches!(o, OpOutcome::GaveUp(_)), "{o:?}");
    let mut counting = p.clone();
    if let Some(b) = counting.breaker.as_mut() {
        b.counts = crate::policy::BreakerCounts::of(&crate::policy::BreakerCounts::ALL);
    }
    let (retries, o) = storm(&counting);
    assert_eq!(o, OpOutcome::BreakerOpen);
    assert_eq!(retries + 1, counting.breaker.unwrap().threshold);
}

#[tokio::test(start_paused = true)]
async fn outcomes_table() {
    let sold = code("INSUFFICIENT_SEATS");
    let unavailable = code("SERVICE_UNAVAILABLE");
    let ok_code = code("OK");
    let sold_cause = Cause::Code {
        status: 409,
        code: sold.clone(),
    };
    let table: Vec<(Case<'_>, Settlement)> = vec![
        (
            Case {
                policy: "compliant",
                retry_step: true,
                retries: 0,
                answer: resp(201, None, None),
            },
            Settlement::Done(OpOutcome::Ok),
        ),
        (
            Case {
                policy: "compliant",
                retry_step: true,
                retries: 0,
                answer: resp(409, Some(&sold), None),
            },
            Settlement::Done(OpOutcome::Failed(sold_cause.clone())),
        ),
        // A naive client retries a sold-out zone until its limit, and
        // then still says what the last answer was.
        (
            Case {
                policy: "naive",
                retry_step: true,
                retries: 10,
                answer: resp(409, Some(&sold), None),
            },
            Settlement::Done(OpOutcome::GaveUp(sold_cause.clone())),
        ),
        (
            Case {
                policy: "compliant",
                retry_step: true,
                retries: 3,
                answer: resp(503, Some(&unavailable), None),
            },
            Settlement::Done(OpOutcome::GaveUp(Cause::Code {
                status: 503,
                code: unavailable.clone(),
            })),
        ),
        (
            Case {
                policy: "compliant",
                retry_step: true,
                retries: 3,
                answer: Answer::Net(NetError::ConnectRefused),
            },
            Settlement::Done(OpOutcome::GaveUp(Cause::Net(NetError::ConnectRefused))),
        ),
        // A target code named OK on a 409 is the target's, not a success.
        (
            Case {
                policy: "compliant",
                retry_step: true,
                retries: 0,
                answer: resp(409, Some(&ok_code), None),
            },
            Settlement::Done(OpOutcome::Failed(Cause::Code {
                status: 409,
                code: ok_code.clone(),
            })),
        ),
        // no-retry gives up on its first answer: the cause itself.
        (
            Case {
                policy: "no-retry",
                retry_step: true,
                retries: 0,
                answer: resp(503, None, None),
            },
            Settlement::Done(OpOutcome::Failed(Cause::Status(503))),
        ),
        // A step without the retry policy stops on its first answer.
        (
            Case {
                policy: "compliant",
                retry_step: false,
                retries: 0,
                answer: Answer::Timeout,
            },
            Settlement::Done(OpOutcome::Failed(Cause::Timeout)),
        ),
        (
            Case {
                policy: "compliant",
                retry_step: true,
                retries: 0,
                answer: resp(503, None, Some("2")),
            },
            Settlement::Retry {
                delay: Duration::from_secs(2),
                fresh_key: false,
                flags: AttemptFlags {
                    honoured: true,
                    early: false,
                },
                next: after_one(Duration::from_secs(2)),
            },
        ),
        // Ignoring the server: an immediate retry that is early.
        (
            Case {
                policy: "naive",
                retry_step: true,
                retries: 0,
                answer: resp(429, None, Some("5")),
            },
            Settlement::Retry {
                delay: Duration::ZERO,
                fresh_key: true,
                flags: AttemptFlags {
                    honoured: false,
                    early: true,
                },
                next: after_one(Duration::ZERO),
            },
        ),
        // Capped at max_retry_after (60 s) below a year: honoured, and
        // early (it goes before the server said), counted if sent.
        (
            Case {
                policy: "compliant",
                retry_step: true,
                retries: 0,
                answer: resp(429, None, Some("31536000")),
            },
            Settlement::Retry {
                delay: Duration::from_secs(60),
                fresh_key: false,
                flags: AttemptFlags {
                    honoured: true,
                    early: true,
                },
                next: after_one(Duration::from_secs(60)),
            },
        ),
    ];
    for (case, want) in table {
        let mut guard = UserGuard::default();
        assert_eq!(run(&case, &mut guard, None), want, "{:?}", case.answer);
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_zero_past_or_not_whole_seconds_falls_back_to_backoff() {
    // A fraction is not delay-seconds (RFC 9110): "0.001" read as 1 ms
    // would retry at once and count it as honoured.
    for ra in ["0", "Wed, 21 Oct 2015 07:00:00 GMT", "0.001", "1.5", "+5"] {
        let case = Case {
            policy: "compliant",
            retry_step: true,
            retries: 0,
            answer: resp(503, None, Some(ra)),
        };
        match run(&case, &mut UserGuard::default(), None) {
            Settlement::Retry { delay, flags, .. } => {
                assert!(delay >= Duration::from_millis(500), "{ra}: {delay:?}");
                assert_eq!(flags, AttemptFlags::default(), "{ra}");
            }
            s => panic!("{ra}: {s:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn breaker_open_past_the_retry_time_ends_the_operation_now() {
    let p = preset("compliant").unwrap();
    let mut guard = UserGuard::new(p.breaker.map(CircuitBreaker::new));
    let case = |retries| Case {
        policy: "compliant",
        retry_step: true,
        retries,
        answer: resp(503, None, None),
    };
    // Four failures: still closed, so the operation retries.
    for i in 0..3 {
        assert!(matches!(
            run(&case(i), &mut guard, None),
            Settlement::Retry { .. }
        ));
    }
    assert!(matches!(
        run(&case(0), &mut guard, None),
        Settlement::Retry { .. }
    ));
    assert_eq!(guard.opens, 0);
    // The fifth opens it for 30 s; a ~1 s backoff would wake into an open
    // breaker, so the operation ends at once.
    assert_eq!(
        run(&case(0), &mut guard, None),
        Settlement::Done(OpOutcome::BreakerOpen)
    );
    assert_eq!(guard.opens, 1);
    assert!(guard.opened_at.is_some());
    // A success closes it and clears the window.
    let ok = Case {
        answer: resp(200, None, None),
        ..case(0)
    };
    assert_eq!(run(&ok, &mut guard, None), Settlement::Done(OpOutcome::Ok));
    assert!(guard.opened_at.is_none());
}

#[tokio::test(start_paused = true)]
async fn breaker_closed_again_by_the_retry_time_lets_it_wait() {
    // Open for 1 s only, Retry-After 5 s: by then it is half-open.
    let mut p = preset("compliant").unwrap();
    let cfg = crate::policy::BreakerConfig {
        threshold: 1,
        open_for: Duration::from_secs(1),
        counts: crate::policy::BreakerCounts::COMPLIANT,
    };
    p.breaker = Some(cfg);
    let mut guard = UserGuard::new(Some(CircuitBreaker::new(cfg)));
    let s = settle(
        &p,
        true,
        &OpState::default(),
        &resp(503, None, Some("5")),
        &mut guard,
        Limits::default(),
        clock(),
        &mut StdRng::seed_from_u64(1),
    );
    assert!(matches!(s, Settlement::Retry { delay, .. } if delay == Duration::from_secs(5)));
    assert_eq!(guard.opens, 1);
}

#[tokio::test(start_paused = true)]
async fn budget_records_every_answer_and_refuses_retries_below_half() {
    let budget = BudgetState::new(
        &Budget {
            scope: Scope::Fleet,
            kind: BudgetKind::TokenBucket {
                max_tokens: 4.0,
                token_ratio: 0.5,
            },
        },
        1.0,
    );
    let tokens = |b: &BudgetState| match b {
        BudgetState::Tokens(t) => t.tokens(),
        other => panic!("{other:?}"),
    };
    let case = Case {
        policy: "compliant",
        retry_step: true,
        retries: 0,
        answer: resp(500, None, None),
    };
    assert!(matches!(
        run(&case, &mut UserGuard::default(), Some(&budget)),
        Settlement::Retry { .. }
    ));
    assert_eq!(tokens(&budget), 3.0);
    assert_eq!(
        run(&case, &mut UserGuard::default(), Some(&budget)),
        Settlement::Done(OpOutcome::BudgetExhausted)
    );
    assert_eq!(tokens(&budget), 2.0);
    let ok = Case {
        answer: resp(201, None, None),
        ..case
    };
    run(&ok, &mut UserGuard::default(), Some(&budget));
    assert_eq!(tokens(&budget), 2.5);
}
