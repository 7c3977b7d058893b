//! `[policies.NAME]` tables: a preset plus the fields a scenario changes.
//!
//! ```toml
//! [policies.slow-breaker]
//! preset = "compliant"            # default
//! jitter = "full"
//! limits = { too_many_requests = 8 }   # other limits keep the preset's
//! breaker = { open_for = "60s" }       # threshold keeps the preset's
//!
//! [policies.naive-with-breaker]
//! preset = "naive"
//! breaker_enabled = true               # the guidelines' 5 / 30 s breaker
//!
//! [policies.compliant-no-breaker]
//! breaker_enabled = false
//! budget = { max_tokens = 10.0, token_ratio = 0.1 }
//!
//! [policies.aws-per-user]
//! preset = "aws-standard"
//! budget = { scope = "user" }          # the quota's numbers keep the preset's
//! attempt_header = "X-Retry-Attempt"
//! ```

use super::{
    AttemptHeader, BackoffKind, BreakerConfig, Budget, BudgetTable, Hedge, HedgeTable, Jitter,
    KeyReuse, PolicyError, RateLimitPacing, RetryPolicy, RetryScope, Throttle, ThrottleTable,
    preset,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Above this a limit is a typo, not an experiment: 100 retries with a 30 s
/// cap already keeps one operation busy for most of an hour.
const MAX_LIMIT: u32 = 100;

/// A `[policies.NAME]` table: a preset plus any overridden field.
///
/// `breaker` may give only the fields to change; the rest come from the
/// preset's breaker, or the guidelines' 5 / 30 s when the preset has none.
/// `breaker_enabled = false` removes the breaker (and may not be combined
/// with a `breaker` table); `true` adds one. `budget` and `budget_enabled`
/// work the same way, except that a budget has no defaults to fall back on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverrides {
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryScope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffKind>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_delay: Option<Duration>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_retry_after: Option<bool>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_retry_after: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_reuse: Option<KeyReuse>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetTable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleTable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_enabled: Option<bool>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub throttled_base_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_multiplier: Option<f64>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after_clamp: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushback: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_codes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_header: Option<AttemptHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck: Option<bool>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub abandon_after: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_resubmits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_codes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_codes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguous_codes: Option<Vec<String>>,
    /// Hedged requests: `{ after, max, fallback }`; unset keys keep the
    /// preset's, or `hedged`'s (p95, 1, 100 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hedge: Option<HedgeTable>,
    /// `false` removes the preset's hedging; `true` adds `hedged`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hedge_enabled: Option<bool>,
    /// Pacing on rate-limit headers: `{ scope }` (default `"user"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_pacing: Option<RateLimitPacing>,
    /// `false` removes the preset's pacing; `true` adds it per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_pacing_enabled: Option<bool>,
}

/// Partial [`RetryLimits`](super::RetryLimits): unset classes keep the preset's limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub too_many_requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_error: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_unavailable: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<u32>,
}

/// Partial [`BreakerConfig`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub open_for: Option<Duration>,
    /// `["5xx", "network", "timeout", "429"]`: the failures it counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<crate::policy::BreakerCounts>,
}

/// The guidelines' `new CircuitBreaker()` defaults, for presets without one.
const GUIDELINE_BREAKER: BreakerConfig = BreakerConfig {
    threshold: 5,
    open_for: Duration::from_secs(30),
    counts: crate::policy::BreakerCounts::COMPLIANT,
};

impl PolicyOverrides {
    /// Apply to the preset (default "compliant" when `preset` is None) and validate.
    pub fn build(&self, name: &str) -> Result<RetryPolicy, PolicyError> {
        let mut p = preset(self.preset.as_deref().unwrap_or("compliant"))?;
        p.name = name.to_string();
        set(&mut p.sin, self.sin.clone());
        set(&mut p.retry, self.retry);
        if let Some(l) = self.limits {
            set(&mut p.limits.too_many_requests, l.too_many_requests);
            set(&mut p.limits.internal_error, l.internal_error);
            set(&mut p.limits.service_unavailable, l.service_unavailable);
            set(&mut p.limits.network, l.network);
            set(&mut p.limits.other, l.other);
        }
        set(&mut p.backoff, self.backoff);
        set(&mut p.base_delay, self.base_delay);
        set(&mut p.max_delay, self.max_delay);
        set(&mut p.jitter, self.jitter);
        set(&mut p.honor_retry_after, self.honor_retry_after);
        set(&mut p.max_retry_after, self.max_retry_after);
        set(&mut p.key_reuse, self.key_reuse);
        set(&mut p.request_timeout, self.request_timeout);
        p.breaker = match (self.breaker_enabled, self.breaker) {
            (Some(false), Some(_)) => {
                return Err(invalid(
                    "breaker_enabled",
                    "is false but a `breaker` table is given too",
                ));
            }
            (Some(false), None) => None,
            (None, None) => p.breaker,
            (Some(true), o) | (None, o) => {
                let mut b = p.breaker.unwrap_or(GUIDELINE_BREAKER);
                if let Some(o) = o {
                    set(&mut b.threshold, o.threshold);
                    set(&mut b.open_for, o.open_for);
                    set(&mut b.counts, o.counts);
                }
                Some(b)
            }
        };
        self.limits_onto(&mut p)?;
        set(&mut p.precheck, self.precheck);
        if self.abandon_after.is_some() {
            p.abandon_after = self.abandon_after;
        }
        set(&mut p.max_resubmits, self.max_resubmits);
        set(&mut p.retry_codes, self.retry_codes.clone());
        set(&mut p.final_codes, self.final_codes.clone());
        set(&mut p.ambiguous_codes, self.ambiguous_codes.clone());
        set(&mut p.throttling_codes, self.throttling_codes.clone());
        set(&mut p.backoff_multiplier, self.backoff_multiplier);
        set(&mut p.pushback, self.pushback);
        if self.throttled_base_delay.is_some() {
            p.throttled_base_delay = self.throttled_base_delay;
        }
        if self.retry_after_clamp.is_some() {
            p.retry_after_clamp = self.retry_after_clamp;
        }
        if self.attempt_header.is_some() {
            p.attempt_header = self.attempt_header.clone();
        }
        p.validate()?;
        Ok(p)
    }
}

impl PolicyOverrides {
    /// The budget and the throttle: a table over the preset's, or removed.
    fn limits_onto(&self, p: &mut RetryPolicy) -> Result<(), PolicyError> {
        p.budget = match (self.budget_enabled, &self.budget) {
            (Some(false), Some(_)) => {
                return Err(invalid(
                    "budget_enabled",
                    "is false but a `budget` table is given too",
                ));
            }
            (Some(false), None) => None,
            (Some(true), None) if p.budget.is_none() => {
                return Err(invalid(
                    "budget_enabled",
                    "is true but no `budget` table says which budget (a token bucket needs max_tokens and token_ratio)",
                ));
            }
            (_, Some(t)) => Some(Budget::build(t, p.budget)?),
            (_, None) => p.budget,
        };
        p.throttle = match (self.throttle_enabled, &self.throttle) {
            (Some(false), Some(_)) => {
                return Err(invalid(
                    "throttle_enabled",
                    "is false but a `throttle` table is given too",
                ));
            }
            (Some(false), None) => None,
            (Some(true), None) if p.throttle.is_none() => {
                return Err(invalid(
                    "throttle_enabled",
                    "is true but no `throttle` table names its kind (\"sre\" or \"adaptive\")",
                ));
            }
            (_, Some(t)) => Some(Throttle::build(t, p.throttle)?),
            (_, None) => p.throttle,
        };
        p.hedge = match (self.hedge_enabled, &self.hedge) {
            (Some(false), Some(_)) => {
                return Err(invalid(
                    "hedge_enabled",
                    "is false but a `hedge` table is given too",
                ));
            }
            (Some(false), None) => None,
            (Some(true), None) => Some(p.hedge.unwrap_or(super::hedge::P95)),
            (_, Some(t)) => Some(Hedge::build(t, p.hedge)?),
            (None, None) => p.hedge,
        };
        p.rate_limit_pacing = match (self.rate_limit_pacing_enabled, self.rate_limit_pacing) {
            (Some(false), Some(_)) => {
                return Err(invalid(
                    "rate_limit_pacing_enabled",
                    "is false but a `rate_limit_pacing` table is given too",
                ));
            }
            (Some(false), None) => None,
            (Some(true), None) => Some(p.rate_limit_pacing.unwrap_or(RateLimitPacing::USER)),
            (_, Some(t)) => Some(t),
            (None, None) => p.rate_limit_pacing,
        };
        Ok(())
    }
}

impl RetryPolicy {
    /// Reject policies that would make a run meaningless or divide by zero
    /// downstream, naming the offending key as it is spelt in TOML.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let needs_base = matches!(
            self.backoff,
            BackoffKind::Exponential | BackoffKind::Constant
        );
        if needs_base && self.base_delay.is_zero() {
            return Err(invalid(
                "base_delay",
                "must be > 0 for exponential or constant backoff (use backoff = \"immediate\")",
            ));
        }
        if self.max_delay < self.base_delay {
            return Err(invalid(
                "max_delay",
                format!(
                    "{:?} is below base_delay {:?}",
                    self.max_delay, self.base_delay
                ),
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(invalid("request_timeout", "must be > 0"));
        }
        let l = &self.limits;
        for (key, v) in [
            ("limits.too_many_requests", l.too_many_requests),
            ("limits.internal_error", l.internal_error),
            ("limits.service_unavailable", l.service_unavailable),
            ("limits.network", l.network),
            ("limits.other", l.other),
            ("max_resubmits", self.max_resubmits),
        ] {
            if v > MAX_LIMIT {
                return Err(invalid(
                    key,
                    format!("{v} is above the sanity bound {MAX_LIMIT}"),
                ));
            }
        }
        if let Some(b) = &self.breaker
            && b.threshold == 0
        {
            return Err(invalid("breaker.threshold", "must be >= 1"));
        }
        if let Some(b) = &self.budget {
            b.validate()?;
        }
        if let Some(t) = &self.throttle {
            t.validate()?;
        }
        if let Some(h) = &self.hedge {
            h.validate()?;
        }
        self.validate_backoff()?;
        if self.abandon_after.is_some_and(|d| d.is_zero()) {
            return Err(invalid("abandon_after", "must be > 0 when set"));
        }
        self.validate_code_lists()
    }

    /// Each per-code list holds codes of 1 to 64 bytes, none also in
    /// another list.
    fn validate_code_lists(&self) -> Result<(), PolicyError> {
        // The order says which of two lists an error names: the one a
        // scenario more likely wrote (the presets fill `ambiguous_codes`
        // and the AWS ones `throttling_codes`).
        let lists: [(&'static str, &[String]); 4] = [
            ("retry_codes", &self.retry_codes),
            ("final_codes", &self.final_codes),
            ("throttling_codes", &self.throttling_codes),
            ("ambiguous_codes", &self.ambiguous_codes),
        ];
        for (i, (key, list)) in lists.iter().enumerate() {
            if list
                .iter()
                .any(|c| c.is_empty() || c.len() > crate::outcome::MAX_CODE_LEN)
            {
                return Err(invalid(key, "a code is 1 to 64 bytes"));
            }
            for (other, olist) in &lists[i + 1..] {
                if let Some(c) = list.iter().find(|c| olist.contains(c)) {
                    return Err(invalid(key, format!("`{c}` is also in `{other}`")));
                }
            }
        }
        Ok(())
    }
}

impl RetryPolicy {
    /// The backoff keys added for the overload-control presets.
    fn validate_backoff(&self) -> Result<(), PolicyError> {
        let m = self.backoff_multiplier;
        if !(m.is_finite() && m > 0.0 && m <= 100.0) {
            return Err(invalid(
                "backoff_multiplier",
                format!("{m} must be in (0, 100]"),
            ));
        }
        if let Some(b) = self.throttled_base_delay {
            if b.is_zero() && self.backoff != BackoffKind::Immediate {
                return Err(invalid("throttled_base_delay", "must be > 0 when set"));
            }
            if b > self.max_delay {
                return Err(invalid(
                    "throttled_base_delay",
                    format!("{b:?} is above max_delay {:?}", self.max_delay),
                ));
            }
        }
        Ok(())
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn invalid(key: &'static str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        key,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
