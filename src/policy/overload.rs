//! The overload-control family: clients as their libraries ship them, each
//! with its published parameters (docs/policies.md gives the sources).
//!
//! | preset | retries (attempts) | backoff | jitter | server hint | budget | throttle |
//! |---|---|---|---|---|---|---|
//! | `aws-standard` | 2 (3) | 50 ms, 1 s throttled, x2, max 20 s | full | Retry-After held in [backoff, backoff + 5 s] | retry quota 500: 14, 5 throttled; refunds | none |
//! | `aws-legacy` | 2 (3) | 1 s, x2, max 20 s | full | none | retry quota 500: 5, 10 after a timeout; refunds | none |
//! | `aws-adaptive` | as `aws-standard` | | | | | the SDK's CUBIC rate limiter |
//! | `grpc` | 4 (5, A6's cap) | 100 ms, x2, max 1 s | ±20% | `grpc-retry-pushback-ms` | token bucket 10, 0.1 | none |
//! | `sre-throttling` | as `compliant` | | | | none | SRE adaptive throttling, K = 2, 2 min |
//!
//! None has the guidelines' circuit breaker (no library among them ships
//! one); all keep the guidelines' classification, the same idempotency key
//! on every retry, the 10 s request timeout and the pre-check.

use super::{
    BackoffKind, Budget, BudgetKind, Jitter, QuotaCosts, RetryLimits, RetryPolicy, Scope, Throttle,
    ThrottleKind, throttle::SRE,
};
use std::time::Duration;

/// The AWS SDKs' throttling error codes (botocore's
/// `ThrottledRetryableChecker`): rate limited whatever the status, so a
/// 503 `SlowDown` is a throttling answer as a 429 is.
const AWS_THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

fn every_class(n: u32) -> RetryLimits {
    RetryLimits {
        too_many_requests: n,
        internal_error: n,
        service_unavailable: n,
        network: n,
        other: 0,
    }
}

/// Turn `compliant` into the preset `name`; returns its one-line behaviour.
pub(super) fn apply(p: &mut RetryPolicy, name: &str) -> &'static str {
    p.breaker = None;
    match name {
        "aws-standard" | "aws-adaptive" => aws(p, QuotaCosts::STANDARD),
        "aws-legacy" => {
            aws(p, QuotaCosts::LEGACY);
            // botocore's standard mode before 2026: rand(0, 1) * 2^n s for
            // every error, and no retry-after header read.
            p.base_delay = Duration::from_secs(1);
            p.throttled_base_delay = None;
            p.honor_retry_after = false;
            p.retry_after_clamp = None;
        }
        "grpc" => grpc(p),
        _ => {}
    }
    match name {
        "aws-standard" => {
            "AWS SDK standard mode: 3 attempts, full jitter, retry quota 500 (14 a retry, 5 throttled)"
        }
        "aws-legacy" => {
            "AWS SDK older standard mode: 3 attempts, 1 s full jitter, quota 500 (5 a retry, 10 timeout)"
        }
        "aws-adaptive" => {
            p.throttle = Some(Throttle {
                scope: Scope::Fleet,
                kind: ThrottleKind::Adaptive,
            });
            "AWS SDK adaptive mode: standard plus a CUBIC rate limiter that delays first attempts too"
        }
        "grpc" => {
            "gRPC retry policy: 5 attempts, 100 ms to 1 s +-20%, pushback, token bucket 10 / 0.1"
        }
        _ => {
            p.throttle = Some(Throttle {
                scope: Scope::Fleet,
                kind: SRE,
            });
            "SRE book throttling: rejects locally with p = (requests - 2 accepts) / (requests + 1)"
        }
    }
}

fn aws(p: &mut RetryPolicy, costs: QuotaCosts) {
    p.limits = every_class(2);
    p.backoff = BackoffKind::Exponential;
    p.base_delay = Duration::from_millis(50);
    p.throttled_base_delay = Some(Duration::from_secs(1));
    p.max_delay = Duration::from_secs(20);
    p.backoff_multiplier = 2.0;
    p.jitter = Jitter::Full;
    p.honor_retry_after = true;
    p.retry_after_clamp = Some(Duration::from_secs(5));
    p.budget = Some(Budget {
        scope: Scope::Fleet,
        kind: BudgetKind::RetryQuota(costs),
    });
    p.throttling_codes = AWS_THROTTLING_CODES.iter().map(|c| c.to_string()).collect();
}

fn grpc(p: &mut RetryPolicy) {
    // A6's example retryPolicy (0.1 s, 1 s, x2) at its client-side cap of
    // 5 attempts; retryThrottling maxTokens 10, tokenRatio 0.1.
    p.limits = every_class(4);
    p.backoff = BackoffKind::Exponential;
    p.base_delay = Duration::from_millis(100);
    p.max_delay = Duration::from_secs(1);
    p.backoff_multiplier = 2.0;
    p.jitter = Jitter::Grpc;
    p.honor_retry_after = false;
    p.pushback = true;
    p.budget = Some(Budget {
        scope: Scope::Fleet,
        kind: BudgetKind::TokenBucket {
            max_tokens: 10.0,
            token_ratio: 0.1,
        },
    });
}

#[cfg(test)]
mod tests;
