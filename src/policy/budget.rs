//! Retry budgets: how many retries a client may add on top of its
//! requests, whoever shares it ([`Scope`]). Three kinds, each with its
//! published parameters:
//!
//! * `token-bucket`: gRPC retry throttling (gRFC A6), [`TokenBudget`];
//! * `finagle`: Finagle's `RetryBudget` (20% of requests plus 10 retries a
//!   second over a 10 s window), [`FinagleBudget`];
//! * `retry-quota`: the AWS SDKs' retry quota (500, 14 a transient retry,
//!   5 a throttling one), [`RetryQuota`].
//!
//! In a scenario a budget is one flat table (`budget = { kind = "finagle",
//! percent = 0.1, scope = "user" }`, [`BudgetTable`]); unset keys keep the
//! preset's budget of the same kind, else the kind's defaults.

use super::{Class, FinagleBudget, PolicyError, RetryQuota, Scope, TokenBudget};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A validated budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(into = "BudgetTable", try_from = "BudgetTable")]
pub struct Budget {
    pub scope: Scope,
    pub kind: BudgetKind,
}

/// A budget's kind and parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BudgetKind {
    TokenBucket {
        max_tokens: f64,
        token_ratio: f64,
    },
    Finagle {
        percent: f64,
        min_per_second: u32,
        ttl: Duration,
    },
    RetryQuota(QuotaCosts),
}

/// The retry quota's size and prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaCosts {
    /// Initial and largest capacity.
    pub quota: u32,
    /// A retry after a transient failure (5xx, network, ambiguous).
    pub cost: u32,
    /// A retry after a throttling answer (429, or a code in `throttling_codes`).
    pub throttling_cost: u32,
    /// A retry after the client's own timeout.
    pub timeout_cost: u32,
    /// Put back by a success on a first attempt (a success after retries
    /// puts back what its last retry cost).
    pub refund: u32,
}

impl QuotaCosts {
    /// The SDKs' standard mode (retry behavior of 2026): 14, 5 when throttled.
    pub const STANDARD: QuotaCosts = QuotaCosts {
        quota: 500,
        cost: 14,
        throttling_cost: 5,
        timeout_cost: 14,
        refund: 1,
    };
    /// The older standard mode (botocore's retry quota before it): 5, 10
    /// after a timeout.
    pub const LEGACY: QuotaCosts = QuotaCosts {
        quota: 500,
        cost: 5,
        throttling_cost: 5,
        timeout_cost: 10,
        refund: 1,
    };

    /// What a retry after a failure of `class` costs.
    pub fn of(&self, class: Class) -> u32 {
        match class {
            Class::RateLimited => self.throttling_cost,
            Class::Timeout => self.timeout_cost,
            _ => self.cost,
        }
    }
}

/// Finagle's `RetryBudget()`: 20%, 10 a second, 10 s.
pub const FINAGLE: BudgetKind = BudgetKind::Finagle {
    percent: 0.2,
    min_per_second: 10,
    ttl: Duration::from_secs(10),
};

/// The names of the kinds, as written in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetName {
    #[default]
    TokenBucket,
    Finagle,
    RetryQuota,
}

impl BudgetName {
    fn label(self) -> &'static str {
        match self {
            BudgetName::TokenBucket => "token-bucket",
            BudgetName::Finagle => "finagle",
            BudgetName::RetryQuota => "retry-quota",
        }
    }
}

impl BudgetKind {
    pub fn name(&self) -> BudgetName {
        match self {
            BudgetKind::TokenBucket { .. } => BudgetName::TokenBucket,
            BudgetKind::Finagle { .. } => BudgetName::Finagle,
            BudgetKind::RetryQuota(_) => BudgetName::RetryQuota,
        }
    }
}

/// A budget as written: every key optional, checked against its kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<BudgetName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_per_second: Option<u32>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_cost: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_cost: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<u32>,
}

mod build;

impl From<Budget> for BudgetTable {
    fn from(b: Budget) -> Self {
        let mut t = BudgetTable {
            kind: Some(b.kind.name()),
            scope: Some(b.scope),
            ..BudgetTable::default()
        };
        match b.kind {
            BudgetKind::TokenBucket {
                max_tokens,
                token_ratio,
            } => {
                t.max_tokens = Some(max_tokens);
                t.token_ratio = Some(token_ratio);
            }
            BudgetKind::Finagle {
                percent,
                min_per_second,
                ttl,
            } => {
                t.percent = Some(percent);
                t.min_per_second = Some(min_per_second);
                t.ttl = Some(ttl);
            }
            BudgetKind::RetryQuota(q) => {
                t.quota = Some(q.quota);
                t.cost = Some(q.cost);
                t.throttling_cost = Some(q.throttling_cost);
                t.timeout_cost = Some(q.timeout_cost);
                t.refund = Some(q.refund);
            }
        }
        t
    }
}

impl TryFrom<BudgetTable> for Budget {
    type Error = PolicyError;
    fn try_from(t: BudgetTable) -> Result<Self, PolicyError> {
        Budget::build(&t, None)
    }
}

/// How an answer leaves the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// A 2xx; `charged`: what the operation's last retry cost (0: none).
    Success { charged: u16 },
    /// A failure the budget counts (gRPC: a retryable status, or a
    /// pushback that says not to retry).
    Failure,
    /// Anything else (a permanent answer).
    Neutral,
}

/// A budget's running state.
#[derive(Debug)]
pub enum BudgetState {
    Tokens(TokenBudget),
    Finagle(FinagleBudget),
    Quota(RetryQuota, QuotaCosts),
}

impl BudgetState {
    /// A fresh budget keeping `share` of its capacity (see [`Scope::share`]).
    pub fn new(b: &Budget, share: f64) -> Self {
        match b.kind {
            BudgetKind::TokenBucket {
                max_tokens,
                token_ratio,
            } => BudgetState::Tokens(TokenBudget::new(max_tokens * share, token_ratio)),
            BudgetKind::Finagle {
                percent,
                min_per_second,
                ttl,
            } => BudgetState::Finagle(FinagleBudget::new(percent, min_per_second, ttl, share)),
            BudgetKind::RetryQuota(q) => {
                let quota = ((f64::from(q.quota) * share).round() as u32).max(1);
                BudgetState::Quota(RetryQuota::new(quota), q)
            }
        }
    }

    /// A request (a first attempt) goes out at `now`.
    pub fn request(&self, now: Duration) {
        if let BudgetState::Finagle(f) = self {
            f.deposit(now);
        }
    }

    /// An answer came back.
    pub fn answered(&self, a: Answered) {
        match (self, a) {
            (BudgetState::Tokens(t), Answered::Success { .. }) => t.record(true),
            (BudgetState::Tokens(t), Answered::Failure) => t.record(false),
            (BudgetState::Quota(q, costs), Answered::Success { charged }) => {
                q.release(if charged == 0 {
                    costs.refund
                } else {
                    u32::from(charged)
                });
            }
            _ => {}
        }
    }

    /// May a retry after a failure of `class` go out at `now`? `Some` with
    /// what it cost (0 for budgets that charge nothing), `None` when refused.
    pub fn try_retry(&self, class: Class, now: Duration) -> Option<u16> {
        match self {
            BudgetState::Tokens(t) => t.can_retry().then_some(0),
            BudgetState::Finagle(f) => f.try_withdraw(now).then_some(0),
            BudgetState::Quota(q, costs) => {
                let cost = costs.of(class);
                q.acquire(cost)
                    .then(|| u16::try_from(cost).unwrap_or(u16::MAX))
            }
        }
    }
}

#[cfg(test)]
mod tests;
