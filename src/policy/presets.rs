use super::{
    BackoffKind, BreakerConfig, Jitter, KeyReuse, PolicyError, RetryLimits, RetryPolicy, RetryScope,
};
use std::time::Duration;

/// Names of every preset, in the order reports list them.
pub const PRESETS: &[&str] = &[
    "compliant",
    "naive",
    "no-jitter",
    "no-backoff",
    "ignore-retry-after",
    "fresh-key",
    "no-retry",
    "impatient-user",
    "aws-standard",
    "aws-legacy",
    "aws-adaptive",
    "grpc",
    "sre-throttling",
    "hedged",
    "rate-limit-aware",
];

/// A preset by name (its `name` field is the preset name).
///
/// The presets are the module-level table; each guideline preset starts
/// from `compliant` and changes only what its name says, so a difference
/// between two runs can be pinned on that one change. The overload-control
/// family (`aws-*`, `grpc`, `sre-throttling`) are other clients, each with
/// its published parameters (`overload.rs`).
pub fn preset(name: &str) -> Result<RetryPolicy, PolicyError> {
    let mut p = compliant();
    let sin = match name {
        "compliant" => "",
        "naive" => {
            p.retry = RetryScope::Everything;
            p.limits = RetryLimits {
                too_many_requests: 10,
                internal_error: 10,
                service_unavailable: 10,
                network: 10,
                other: 10,
            };
            p.backoff = BackoffKind::Immediate;
            p.jitter = Jitter::None;
            p.honor_retry_after = false;
            p.key_reuse = KeyReuse::Fresh;
            p.breaker = None;
            p.precheck = false;
            "retries everything 10 times at once with a new key, no breaker, no precheck"
        }
        "no-jitter" => {
            p.jitter = Jitter::None;
            "no jitter: clients that failed together retry together"
        }
        "no-backoff" => {
            p.backoff = BackoffKind::Immediate;
            "retries immediately instead of backing off"
        }
        "ignore-retry-after" => {
            p.honor_retry_after = false;
            "ignores Retry-After and uses its own backoff"
        }
        "fresh-key" => {
            p.key_reuse = KeyReuse::Fresh;
            "new idempotency key on every retry, so the server cannot deduplicate"
        }
        "no-retry" => {
            p.retry = RetryScope::Nothing;
            p.limits = RetryLimits {
                too_many_requests: 0,
                internal_error: 0,
                service_unavailable: 0,
                network: 0,
                other: 0,
            };
            "never retries, even what the guidelines say to retry"
        }
        "impatient-user" => {
            p.precheck = false;
            p.abandon_after = Some(Duration::from_secs(3));
            p.max_resubmits = 3;
            "the person gives up after 3 s and resubmits as a new booking, up to 3 times"
        }
        "aws-standard" | "aws-legacy" | "aws-adaptive" | "grpc" | "sre-throttling" => {
            super::overload::apply(&mut p, name)
        }
        "hedged" => {
            p.hedge = Some(super::hedge::P95);
            "a second copy of a slow attempt after the step's p95, first answer wins"
        }
        "rate-limit-aware" => {
            p.rate_limit_pacing = Some(super::RateLimitPacing::USER);
            "sends nothing while the last answer's rate-limit headers said 0 left, until the reset"
        }
        _ => {
            return Err(PolicyError::UnknownPreset(
                name.to_string(),
                PRESETS.join(", "),
            ));
        }
    };
    p.name = name.to_string();
    p.sin = sin.to_string();
    Ok(p)
}

/// The guidelines, every number taken from them: RETRY_LIMITS, the backoff
/// defaults (1 s base, 30 s cap), the CircuitBreaker defaults (5, 30 s) and
/// the 10 s AbortController timeout. `max_retry_after` is not in the
/// guidelines; 60 s keeps a misbehaving server from parking a client forever.
pub(super) fn compliant() -> RetryPolicy {
    RetryPolicy {
        name: "compliant".to_string(),
        sin: String::new(),
        retry: RetryScope::Guideline,
        limits: RetryLimits {
            too_many_requests: 5,
            internal_error: 3,
            service_unavailable: 3,
            network: 3,
            other: 0,
        },
        backoff: BackoffKind::Exponential,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        throttled_base_delay: None,
        backoff_multiplier: 2.0,
        jitter: Jitter::Guideline,
        honor_retry_after: true,
        max_retry_after: Duration::from_secs(60),
        retry_after_clamp: None,
        pushback: false,
        key_reuse: KeyReuse::Same,
        request_timeout: Duration::from_secs(10),
        breaker: Some(BreakerConfig {
            threshold: 5,
            open_for: Duration::from_secs(30),
            counts: crate::policy::BreakerCounts::COMPLIANT,
        }),
        budget: None,
        throttle: None,
        precheck: true,
        abandon_after: None,
        max_resubmits: 0,
        retry_codes: Vec::new(),
        final_codes: Vec::new(),
        // Where the guidelines are silent: the real API's idempotency layer
        // answers a same-key retry that overtakes the first request with
        // 409 REQUEST_IN_PROGRESS, and the same key later returns the
        // booking, so the guidelines' "timeout: retry with the same key"
        // carries on through it.
        ambiguous_codes: vec!["REQUEST_IN_PROGRESS".to_string()],
        throttling_codes: Vec::new(),
        attempt_header: None,
        hedge: None,
        rate_limit_pacing: None,
    }
}

/// Where a preset's numbers come from, for `stampede policies` (the
/// guideline presets follow the client retry guidelines).
pub fn source(name: &str) -> Option<&'static str> {
    Some(match name {
        "aws-standard" | "aws-legacy" => {
            "AWS SDKs and Tools Reference Guide, \"Retry behavior\"; botocore"
        }
        "aws-adaptive" => "botocore retries/adaptive.py (ClientRateLimiter, CubicCalculator)",
        "grpc" => "gRFC A6, \"gRPC Retry Design\"",
        "sre-throttling" => {
            "Site Reliability Engineering (2016), ch. 21, \"Client-Side Throttling\""
        }
        "hedged" => "Dean & Barroso, \"The Tail at Scale\", CACM 2013 (hedged requests)",
        "rate-limit-aware" => {
            "IETF httpapi RateLimit header fields draft; GitHub's X-RateLimit-Remaining/Reset"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> RetryPolicy {
        preset(name).unwrap()
    }

    #[test]
    fn every_listed_preset_exists_validates_and_is_named() {
        for name in PRESETS {
            let pol = p(name);
            assert_eq!(pol.name, *name);
            pol.validate().unwrap();
            assert_eq!(pol.sin.is_empty(), *name == "compliant", "{name}");
            assert!(pol.sin.len() <= 100, "{name}: one line");
        }
    }

    #[test]
    fn unknown_preset() {
        let err = preset("yolo").unwrap_err();
        match &err {
            PolicyError::UnknownPreset(n, known) => {
                assert_eq!(n, "yolo");
                assert!(known.contains("compliant") && known.contains("impatient-user"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn compliant_follows_the_guidelines() {
        let c = p("compliant");
        assert_eq!(c.retry, RetryScope::Guideline);
        assert_eq!(
            c.limits,
            RetryLimits {
                too_many_requests: 5,
                internal_error: 3,
                service_unavailable: 3,
                network: 3,
                other: 0
            }
        );
        assert_eq!(c.backoff, BackoffKind::Exponential);
        assert_eq!(c.base_delay, Duration::from_secs(1));
        assert_eq!(c.max_delay, Duration::from_secs(30));
        assert_eq!(c.jitter, Jitter::Guideline);
        assert!(c.honor_retry_after);
        assert_eq!(c.max_retry_after, Duration::from_secs(60));
        assert_eq!(c.key_reuse, KeyReuse::Same);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(
            c.breaker,
            Some(BreakerConfig {
                threshold: 5,
                open_for: Duration::from_secs(30),
                counts: crate::policy::BreakerCounts::COMPLIANT,
            })
        );
        assert_eq!(c.budget, None);
        assert!(c.precheck);
        assert_eq!(c.abandon_after, None);
        assert_eq!(c.max_resubmits, 0);
    }

    #[test]
    fn naive_breaks_everything() {
        let n = p("naive");
        assert_eq!(n.retry, RetryScope::Everything);
        let l = n.limits;
        assert_eq!(
            [
                l.too_many_requests,
                l.internal_error,
                l.service_unavailable,
                l.network,
                l.other
            ],
            [10; 5]
        );
        assert_eq!(n.backoff, BackoffKind::Immediate);
        assert_eq!(n.jitter, Jitter::None);
        assert!(!n.honor_retry_after);
        assert_eq!(n.key_reuse, KeyReuse::Fresh);
        assert_eq!(n.breaker, None);
        assert!(!n.precheck);
        assert_eq!(n.request_timeout, Duration::from_secs(10));
    }

    /// Each single-sin preset equals compliant once its one change is undone.
    #[test]
    fn single_sin_presets_differ_in_exactly_one_thing() {
        let base = p("compliant");
        let undo = |name: &str, f: &dyn Fn(&mut RetryPolicy)| {
            let mut x = p(name);
            assert_ne!(x.sin, "");
            f(&mut x);
            x.name = base.name.clone();
            x.sin = String::new();
            assert_eq!(x, base, "{name}");
        };
        undo("no-jitter", &|x| {
            assert_eq!(x.jitter, Jitter::None);
            x.jitter = Jitter::Guideline;
        });
        undo("no-backoff", &|x| {
            assert_eq!(x.backoff, BackoffKind::Immediate);
            x.backoff = BackoffKind::Exponential;
        });
        undo("ignore-retry-after", &|x| {
            assert!(!x.honor_retry_after);
            x.honor_retry_after = true;
        });
        undo("fresh-key", &|x| {
            assert_eq!(x.key_reuse, KeyReuse::Fresh);
            x.key_reuse = KeyReuse::Same;
        });
        undo("no-retry", &|x| {
            assert_eq!(x.retry, RetryScope::Nothing);
            assert_eq!(x.limits.too_many_requests + x.limits.network, 0);
            x.retry = RetryScope::Guideline;
            x.limits = base.limits;
        });
        undo("hedged", &|x| {
            assert_eq!(x.hedge, Some(super::super::hedge::P95));
            x.hedge = None;
        });
        undo("rate-limit-aware", &|x| {
            assert_eq!(
                x.rate_limit_pacing,
                Some(super::super::RateLimitPacing::USER)
            );
            x.rate_limit_pacing = None;
        });
        undo("impatient-user", &|x| {
            assert_eq!(x.abandon_after, Some(Duration::from_secs(3)));
            assert_eq!(x.max_resubmits, 3);
            assert!(!x.precheck);
            x.abandon_after = None;
            x.max_resubmits = 0;
            x.precheck = true;
        });
    }
}
