//! A [`BudgetTable`] checked against its kind and made a [`Budget`].

use super::{Budget, BudgetKind, BudgetName, BudgetTable, FINAGLE, QuotaCosts};
use crate::policy::PolicyError;
use std::time::Duration;

/// Above this a retry quota or a cost is a typo.
const MAX_QUOTA: u32 = 1_000_000_000;
const MAX_COST: u32 = 10_000;

fn invalid(key: &'static str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        key,
        reason: reason.into(),
    }
}

impl Budget {
    /// `t` over `base` (the preset's budget): keys `t` leaves out keep the
    /// base's value when it is of the same kind, else the kind's defaults
    /// (a token bucket has none: it needs `max_tokens` and `token_ratio`).
    pub fn build(t: &BudgetTable, base: Option<Budget>) -> Result<Budget, PolicyError> {
        let name = t.kind.or(base.map(|b| b.kind.name())).unwrap_or_default();
        t.only_keys_of(name)?;
        let same = base.filter(|b| b.kind.name() == name);
        let scope = t.scope.or(base.map(|b| b.scope)).unwrap_or_default();
        let kind = match (name, same.map(|b| b.kind)) {
            (BudgetName::TokenBucket, from) => {
                let (m, r) = match from {
                    Some(BudgetKind::TokenBucket {
                        max_tokens,
                        token_ratio,
                    }) => (Some(max_tokens), Some(token_ratio)),
                    _ => (None, None),
                };
                let (Some(max_tokens), Some(token_ratio)) =
                    (t.max_tokens.or(m), t.token_ratio.or(r))
                else {
                    return Err(invalid(
                        "budget",
                        "a token-bucket budget needs max_tokens and token_ratio",
                    ));
                };
                BudgetKind::TokenBucket {
                    max_tokens,
                    token_ratio,
                }
            }
            (BudgetName::Finagle, from) => {
                // `same` keeps a base of this kind only, so the else is
                // never taken; it is an error, not a panic, all the same.
                let BudgetKind::Finagle {
                    percent,
                    min_per_second,
                    ttl,
                } = from.unwrap_or(FINAGLE)
                else {
                    return Err(invalid(
                        "budget",
                        "a finagle budget cannot take its values from a budget of another kind",
                    ));
                };
                BudgetKind::Finagle {
                    percent: t.percent.unwrap_or(percent),
                    min_per_second: t.min_per_second.unwrap_or(min_per_second),
                    ttl: t.ttl.unwrap_or(ttl),
                }
            }
            (BudgetName::RetryQuota, from) => {
                let q = match from {
                    Some(BudgetKind::RetryQuota(q)) => q,
                    _ => QuotaCosts::STANDARD,
                };
                BudgetKind::RetryQuota(QuotaCosts {
                    quota: t.quota.unwrap_or(q.quota),
                    cost: t.cost.unwrap_or(q.cost),
                    throttling_cost: t.throttling_cost.unwrap_or(q.throttling_cost),
                    timeout_cost: t.timeout_cost.unwrap_or(q.timeout_cost),
                    refund: t.refund.unwrap_or(q.refund),
                })
            }
        };
        let b = Budget { scope, kind };
        b.validate()?;
        Ok(b)
    }

    /// Reject parameters that would make a run meaningless.
    pub fn validate(&self) -> Result<(), PolicyError> {
        match self.kind {
            BudgetKind::TokenBucket {
                max_tokens,
                token_ratio,
            } => {
                if !(max_tokens.is_finite() && max_tokens > 0.0) {
                    return Err(invalid(
                        "budget.max_tokens",
                        format!("{max_tokens} must be a finite number > 0"),
                    ));
                }
                if !(token_ratio > 0.0 && token_ratio <= max_tokens) {
                    return Err(invalid(
                        "budget.token_ratio",
                        format!("{token_ratio} must be in (0, max_tokens]"),
                    ));
                }
            }
            BudgetKind::Finagle { percent, ttl, .. } => {
                // Finagle's own bounds (RetryBudget.apply).
                if !(0.0..=1000.0).contains(&percent) {
                    return Err(invalid(
                        "budget.percent",
                        format!("{percent} must be in [0, 1000] (0.2 = 20% of requests)"),
                    ));
                }
                if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl) {
                    return Err(invalid(
                        "budget.ttl",
                        format!(
                            "{} must be between 1s and 60s",
                            humantime::format_duration(ttl)
                        ),
                    ));
                }
            }
            BudgetKind::RetryQuota(q) => {
                if q.quota == 0 || q.quota > MAX_QUOTA {
                    return Err(invalid(
                        "budget.quota",
                        format!("{} must be in [1, {MAX_QUOTA}]", q.quota),
                    ));
                }
                for (key, v) in [
                    ("budget.cost", q.cost),
                    ("budget.throttling_cost", q.throttling_cost),
                    ("budget.timeout_cost", q.timeout_cost),
                ] {
                    if v == 0 || v > MAX_COST {
                        return Err(invalid(key, format!("{v} must be in [1, {MAX_COST}]")));
                    }
                }
                if q.refund > MAX_COST {
                    return Err(invalid(
                        "budget.refund",
                        format!("{} must be at most {MAX_COST}", q.refund),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl BudgetTable {
    /// A key of another kind is an error naming both.
    fn only_keys_of(&self, name: BudgetName) -> Result<(), PolicyError> {
        let keys: [(&'static str, bool, BudgetName); 10] = [
            (
                "budget.max_tokens",
                self.max_tokens.is_some(),
                BudgetName::TokenBucket,
            ),
            (
                "budget.token_ratio",
                self.token_ratio.is_some(),
                BudgetName::TokenBucket,
            ),
            (
                "budget.percent",
                self.percent.is_some(),
                BudgetName::Finagle,
            ),
            (
                "budget.min_per_second",
                self.min_per_second.is_some(),
                BudgetName::Finagle,
            ),
            ("budget.ttl", self.ttl.is_some(), BudgetName::Finagle),
            ("budget.quota", self.quota.is_some(), BudgetName::RetryQuota),
            ("budget.cost", self.cost.is_some(), BudgetName::RetryQuota),
            (
                "budget.throttling_cost",
                self.throttling_cost.is_some(),
                BudgetName::RetryQuota,
            ),
            (
                "budget.timeout_cost",
                self.timeout_cost.is_some(),
                BudgetName::RetryQuota,
            ),
            (
                "budget.refund",
                self.refund.is_some(),
                BudgetName::RetryQuota,
            ),
        ];
        match keys.iter().find(|(_, set, of)| *set && *of != name) {
            Some((key, _, of)) => Err(invalid(
                key,
                format!(
                    "belongs to budget kind \"{}\", and this budget is \"{}\"",
                    of.label(),
                    name.label()
                ),
            )),
            None => Ok(()),
        }
    }
}
