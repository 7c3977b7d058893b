use super::{Class, Decision, KeyReuse, OpState, Pushback, RetryPolicy, RetryScope, backoff_delay};
use std::time::Duration;

/// Decide what the engine does after one attempt, given the attempt's class
/// (see [`super::classify`]), the server's Retry-After, already parsed (see
/// [`super::parse_retry_after`]), and its gRPC pushback (read only by a
/// policy with `pushback`, see [`super::parse_pushback`]): all computed once
/// per attempt by [`super::settle`].
///
/// Limits count retries, not attempts: with a 429 limit of 5 an operation
/// makes at most 6 attempts, as the guidelines' `attempt <= maxRetries` loop.
/// A positive server-given Retry-After replaces the backoff (jitter
/// included) on any retryable answer, capped at `max_retry_after`; with
/// `retry_after_clamp` it is instead held within [backoff, backoff +
/// clamp] (the AWS SDKs). A Retry-After of 0 or in the past is no positive
/// delay: the policy's backoff applies, as in the guidelines' Go sample
/// (otherwise a compliant client would retry at once, again and again).
/// A pushback says when to retry exactly, or not to retry; it never lifts
/// the limit (gRFC A6). See the module docs for the other judgement calls.
pub fn decide<R: rand::Rng + ?Sized>(
    policy: &RetryPolicy,
    state: &OpState,
    class: Class,
    retry_after: Option<Duration>,
    pushback: Option<Pushback>,
    rng: &mut R,
) -> Decision {
    let limits = &policy.limits;
    let limit = match class {
        Class::Success => return Decision::Stop(class),
        Class::Permanent if policy.retry == RetryScope::Everything => limits.other,
        Class::Permanent => return Decision::Stop(class),
        _ if policy.retry == RetryScope::Nothing => return Decision::GiveUp(class),
        Class::RateLimited => limits.too_many_requests,
        Class::ServerError => limits.internal_error,
        Class::Unavailable => limits.service_unavailable,
        Class::Network | Class::Timeout | Class::Ambiguous => limits.network,
    };
    if state.retries >= limit || pushback == Some(Pushback::Stop) {
        return Decision::GiveUp(class);
    }
    let fresh_key = policy.key_reuse == KeyReuse::Fresh;
    if let Some(Pushback::After(delay)) = pushback {
        return Decision::Retry {
            class,
            delay,
            fresh_key,
            from_retry_after: false,
            pushback: true,
        };
    }
    let server_delay = retry_after.filter(|d| policy.honor_retry_after && !d.is_zero());
    let mut backoff = || backoff_delay(policy, state, class, rng);
    let (delay, from_retry_after) = match (server_delay, policy.retry_after_clamp) {
        (Some(d), None) => (d.min(policy.max_retry_after), true),
        (Some(d), Some(clamp)) => {
            let b = backoff();
            let held = d.clamp(b, b.saturating_add(clamp));
            (held, held == d)
        }
        (None, _) => (backoff(), false),
    };
    Decision::Retry {
        class,
        delay,
        fresh_key,
        from_retry_after,
        pushback: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Jitter, Outcome, classify, parse_retry_after, preset};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::time::SystemTime;

    fn now() -> SystemTime {
        // Wed, 21 Oct 2015 07:28:00 GMT
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
    }

    fn resp<'a>(status: u16, code: Option<&'a str>, retry_after: Option<&'a str>) -> Outcome<'a> {
        Outcome::Response {
            status,
            code,
            retry_after,
        }
    }

    /// `decide` as the engine calls it: classified and parsed once.
    fn decide_on<R: rand::Rng>(
        p: &RetryPolicy,
        state: &OpState,
        outcome: &Outcome<'_>,
        rng: &mut R,
    ) -> Decision {
        let ra = match outcome {
            Outcome::Response {
                retry_after: Some(v),
                ..
            } => parse_retry_after(v, now()),
            _ => None,
        };
        decide(p, state, classify(outcome), ra, None, rng)
    }

    fn run(policy: &str, retries: u32, outcome: Outcome<'_>) -> Decision {
        let p = preset(policy).unwrap();
        let state = OpState {
            retries,
            ..OpState::default()
        };
        decide_on(&p, &state, &outcome, &mut StdRng::seed_from_u64(7))
    }

    /// How many retries the policy makes when every attempt fails the same way.
    fn retries_until_give_up(policy: &str, outcome: Outcome<'_>) -> u32 {
        let mut n = 0;
        loop {
            match run(policy, n, outcome) {
                Decision::Retry { .. } => n += 1,
                Decision::GiveUp(_) => return n,
                Decision::Stop(c) => panic!("stopped with {c:?}"),
            }
            assert!(n < 1000);
        }
    }

    #[test]
    fn compliant_per_class_limits() {
        let cases = [
            (resp(429, Some("TOO_MANY_REQUESTS"), None), 5),
            (resp(429, None, None), 5),
            (resp(500, Some("INTERNAL_ERROR"), None), 3),
            (resp(502, None, None), 3),
            (resp(503, Some("SERVICE_UNAVAILABLE"), None), 3),
            (resp(503, None, None), 3),
            (Outcome::Network, 3),
            (Outcome::Timeout, 3),
        ];
        for (o, want) in cases {
            assert_eq!(retries_until_give_up("compliant", o), want, "{o:?}");
        }
    }

    #[test]
    fn ambiguous_answers_retry_under_the_network_limit_with_the_same_key() {
        let p = preset("compliant").unwrap();
        let mut n = 0;
        loop {
            let state = OpState {
                retries: n,
                ..OpState::default()
            };
            match decide(
                &p,
                &state,
                Class::Ambiguous,
                None,
                None,
                &mut StdRng::seed_from_u64(1),
            ) {
                Decision::Retry {
                    fresh_key, delay, ..
                } => {
                    assert!(!fresh_key && delay > Duration::ZERO);
                    n += 1;
                }
                Decision::GiveUp(Class::Ambiguous) => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(n, p.limits.network);
    }

    #[test]
    fn give_up_carries_the_class() {
        assert_eq!(
            run("compliant", 5, resp(429, None, None)),
            Decision::GiveUp(Class::RateLimited)
        );
        assert_eq!(
            run("compliant", 3, Outcome::Timeout),
            Decision::GiveUp(Class::Timeout)
        );
    }

    #[test]
    fn success_and_permanent_stop() {
        assert_eq!(
            run("compliant", 0, resp(201, None, None)),
            Decision::Stop(Class::Success)
        );
        for code in ["INSUFFICIENT_SEATS", "ALREADY_CONFIRMED", "EXPIRED"] {
            assert_eq!(
                run("compliant", 0, resp(409, Some(code), Some("1"))),
                Decision::Stop(Class::Permanent)
            );
        }
        assert_eq!(
            run("compliant", 0, resp(409, None, None)),
            Decision::Stop(Class::Permanent)
        );
    }

    #[test]
    fn naive_retries_permanent_failures_with_fresh_keys() {
        let sold_out = resp(409, Some("INSUFFICIENT_SEATS"), None);
        assert_eq!(retries_until_give_up("naive", sold_out), 10);
        assert_eq!(retries_until_give_up("naive", resp(429, None, None)), 10);
        match run("naive", 0, sold_out) {
            Decision::Retry {
                class,
                delay,
                fresh_key,
                from_retry_after,
                pushback,
            } => {
                assert!(!pushback);
                assert_eq!(class, Class::Permanent);
                assert_eq!(delay, Duration::ZERO);
                assert!(fresh_key);
                assert!(!from_retry_after);
            }
            d => panic!("{d:?}"),
        }
        assert_eq!(
            run("naive", 0, resp(200, None, None)),
            Decision::Stop(Class::Success)
        );
    }

    #[test]
    fn no_retry_gives_up_at_once_but_stops_on_permanent() {
        assert_eq!(
            run("no-retry", 0, resp(429, None, None)),
            Decision::GiveUp(Class::RateLimited)
        );
        assert_eq!(
            run("no-retry", 0, Outcome::Network),
            Decision::GiveUp(Class::Network)
        );
        assert_eq!(
            run("no-retry", 0, resp(404, Some("NOT_FOUND"), None)),
            Decision::Stop(Class::Permanent)
        );
        // Scope alone decides, even if an override raised the limits.
        let mut p = preset("no-retry").unwrap();
        p.limits.too_many_requests = 5;
        let d = decide_on(
            &p,
            &OpState::default(),
            &resp(429, None, None),
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(d, Decision::GiveUp(Class::RateLimited));
    }

    fn delay_of(d: Decision) -> (Duration, bool) {
        match d {
            Decision::Retry {
                delay,
                from_retry_after,
                ..
            } => (delay, from_retry_after),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn retry_after_seconds_replaces_backoff() {
        let o = resp(429, Some("TOO_MANY_REQUESTS"), Some("7"));
        assert_eq!(
            delay_of(run("compliant", 2, o)),
            (Duration::from_secs(7), true)
        );
        let o = resp(503, None, Some("2"));
        assert_eq!(
            delay_of(run("compliant", 0, o)),
            (Duration::from_secs(2), true)
        );
        // No positive delay: the backoff (jitter around 1 s), not an instant retry.
        let o = resp(429, None, Some("0"));
        let (d, from) = delay_of(run("compliant", 0, o));
        assert!(!from);
        assert!(
            d >= Duration::from_millis(500) && d < Duration::from_millis(1500),
            "{d:?}"
        );
    }

    #[test]
    fn retry_after_http_date() {
        let o = resp(503, None, Some("Wed, 21 Oct 2015 07:28:20 GMT"));
        assert_eq!(
            delay_of(run("compliant", 0, o)),
            (Duration::from_secs(20), true)
        );
        let past = resp(503, None, Some("Wed, 21 Oct 2015 07:00:00 GMT"));
        let (d, from) = delay_of(run("compliant", 0, past));
        assert!(!from, "a date in the past falls back to the backoff");
        assert!(d >= Duration::from_millis(500), "{d:?}");
    }

    #[test]
    fn retry_after_is_capped() {
        let o = resp(429, None, Some("3600"));
        assert_eq!(
            delay_of(run("compliant", 0, o)),
            (Duration::from_secs(60), true)
        );
        let o = resp(429, None, Some("Wed, 21 Oct 2015 09:28:00 GMT"));
        assert_eq!(
            delay_of(run("compliant", 0, o)),
            (Duration::from_secs(60), true)
        );
    }

    #[test]
    fn retry_after_does_not_lift_the_limit() {
        let o = resp(429, None, Some("1"));
        assert_eq!(retries_until_give_up("compliant", o), 5);
    }

    #[test]
    fn unparseable_retry_after_falls_back_to_backoff() {
        let (d, from) = delay_of(run("compliant", 0, resp(429, None, Some("soon"))));
        assert!(!from);
        assert!(d >= Duration::from_millis(500) && d < Duration::from_millis(1500));
    }

    #[test]
    fn ignore_retry_after_uses_backoff() {
        let o = resp(429, None, Some("7"));
        let (d, from) = delay_of(run("ignore-retry-after", 2, o));
        assert!(!from);
        // Guideline jitter around 4 s, never the server's 7 s.
        assert!(
            d >= Duration::from_secs(2) && d < Duration::from_secs(6),
            "{d:?}"
        );
        let (d, from) = delay_of(run("naive", 0, o));
        assert_eq!((d, from), (Duration::ZERO, false));
    }

    #[test]
    fn without_retry_after_the_delay_is_the_backoff() {
        let mut p = preset("compliant").unwrap();
        p.jitter = Jitter::None;
        let state = OpState {
            retries: 3,
            ..OpState::default()
        };
        let d = decide_on(
            &p,
            &state,
            &resp(429, None, None),
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(delay_of(d), (Duration::from_secs(8), false));
    }

    #[test]
    fn key_reuse() {
        let fresh = |policy| match run(policy, 0, Outcome::Timeout) {
            Decision::Retry { fresh_key, .. } => fresh_key,
            d => panic!("{d:?}"),
        };
        assert!(!fresh("compliant"));
        assert!(!fresh("impatient-user"));
        assert!(fresh("fresh-key"));
        assert!(fresh("naive"));
    }

    #[test]
    fn no_backoff_retries_immediately_unless_told_otherwise() {
        assert_eq!(
            delay_of(run("no-backoff", 2, resp(500, None, None))),
            (Duration::ZERO, false)
        );
        assert_eq!(
            delay_of(run("no-backoff", 2, resp(429, None, Some("3")))),
            (Duration::from_secs(3), true)
        );
    }
}
