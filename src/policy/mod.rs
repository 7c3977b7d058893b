//! Retry policies as data plus pure decisions.
//!
//! A policy never touches the network or the clock on its own: the engine
//! hands it what happened (an [`Outcome`]), how far the operation has come
//! ([`OpState`]), the wall-clock time (for HTTP-date Retry-After) and an RNG,
//! and gets a [`Decision`] back. That keeps every rule of the Booking Rush
//! client guidelines unit-testable without sockets or sleeps.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Which failures a policy retries at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryScope {
    /// The guidelines: 429, 5xx (with or without the envelope), network errors and timeouts.
    Guideline,
    /// Naive: every non-2xx answer, including permanent 4xx/409 codes.
    Everything,
    /// Never retry.
    Nothing,
}

/// How the delay between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackoffKind {
    /// `min(base * 2^retry, max)`, then jitter.
    Exponential,
    /// `base` every time, then jitter.
    Constant,
    /// No wait at all (jitter is ignored).
    Immediate,
}

/// Randomisation applied to the backoff delay `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jitter {
    /// The guidelines: `d * (0.5 + U[0,1))`.
    Guideline,
    /// `d` exactly: every client that failed together retries together.
    None,
    /// AWS "full jitter": `U[0, d)`.
    Full,
    /// AWS "equal jitter": `d/2 + U[0, d/2)`.
    Equal,
    /// AWS "decorrelated jitter": `min(max, U[base, prev*3))`.
    Decorrelated,
}

/// Whether a retry reuses the operation's idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyReuse {
    /// The guidelines: the same key on every retry of one operation.
    Same,
    /// A new key on every attempt, so the server cannot deduplicate.
    Fresh,
}

/// Retries allowed per failure class (the guidelines' RETRY_LIMITS table).
/// An operation gives up when the number of retries it already made reaches
/// the limit for the class of its latest failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryLimits {
    pub too_many_requests: u32,
    pub internal_error: u32,
    pub service_unavailable: u32,
    /// Connection errors and timeouts.
    pub network: u32,
    /// Permanent failures; only used with [`RetryScope::Everything`].
    pub other: u32,
}

/// Circuit breaker parameters (guidelines: 5 consecutive failures, open 30 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    pub threshold: u32,
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
}

/// gRPC-style retry throttling: a token bucket drained by failures and
/// refilled by successes; retries are allowed while tokens > max/2.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub max_tokens: f64,
    pub token_ratio: f64,
}

/// A complete, validated retry policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub name: String,
    /// One line saying how this policy departs from the guidelines ("" for compliant).
    pub sin: String,
    pub retry: RetryScope,
    pub limits: RetryLimits,
    pub backoff: BackoffKind,
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    pub jitter: Jitter,
    pub honor_retry_after: bool,
    /// Upper bound on a server-given Retry-After the client accepts.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    pub key_reuse: KeyReuse,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    pub breaker: Option<BreakerConfig>,
    pub budget: Option<BudgetConfig>,
    /// Check zone availability before reserving.
    pub precheck: bool,
    /// A person who gives up on an operation after this long and resubmits it
    /// as a brand-new operation (new key), like pressing F5.
    #[serde(with = "humantime_serde")]
    pub abandon_after: Option<Duration>,
    pub max_resubmits: u32,
}

/// What one attempt produced, as the engine saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    Response {
        status: u16,
        /// `error.code` of the Booking Rush envelope, when the body had one.
        code: Option<&'a str>,
        /// Raw `Retry-After` header value, when present.
        retry_after: Option<&'a str>,
    },
    Timeout,
    /// Connection refused, reset, closed early, or a malformed response.
    Network,
}

/// The failure class an outcome belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Success,
    Permanent,
    RateLimited,
    ServerError,
    Unavailable,
    Network,
    Timeout,
}

/// How far an operation has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpState {
    /// Retries already made (0 before the first retry).
    pub retries: u32,
    /// The previous backoff delay (decorrelated jitter needs it).
    pub prev_delay: Duration,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Success or a permanent failure: the operation is over.
    Stop(Class),
    /// Wait `delay`, then retry.
    Retry {
        class: Class,
        delay: Duration,
        /// The retry must carry a new idempotency key.
        fresh_key: bool,
        /// `delay` came from the server's Retry-After.
        from_retry_after: bool,
    },
    /// Retryable, but the limit for this class is reached.
    GiveUp(Class),
}

/// Errors building a policy from a preset name and overrides.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("unknown policy preset `{0}` (known: {1})")]
    UnknownPreset(String, String),
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

pub fn classify(_outcome: &Outcome<'_>) -> Class {
    todo!("policy helper")
}

pub fn decide<R: rand::Rng + ?Sized>(
    _policy: &RetryPolicy,
    _state: &OpState,
    _outcome: &Outcome<'_>,
    _now: SystemTime,
    _rng: &mut R,
) -> Decision {
    todo!("policy helper")
}

/// Parse a Retry-After value: delta-seconds ("1") or an HTTP-date
/// ("Wed, 21 Oct 2015 07:28:00 GMT", relative to `now`, saturating at zero).
pub fn parse_retry_after(_value: &str, _now: SystemTime) -> Option<Duration> {
    todo!("policy helper")
}

/// The backoff delay before retry number `state.retries + 1`, jitter included.
pub fn backoff_delay<R: rand::Rng + ?Sized>(
    _policy: &RetryPolicy,
    _state: &OpState,
    _rng: &mut R,
) -> Duration {
    todo!("policy helper")
}

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
];

/// A preset by name (its `name` field is the preset name).
pub fn preset(_name: &str) -> Result<RetryPolicy, PolicyError> {
    todo!("policy helper")
}

/// A `[policies.NAME]` table: a preset plus any overridden field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverrides {
    pub preset: Option<String>,
    // the policy helper adds one Option field per RetryPolicy field
}

impl PolicyOverrides {
    /// Apply to the preset (default "compliant" when `preset` is None) and validate.
    pub fn build(&self, _name: &str) -> Result<RetryPolicy, PolicyError> {
        todo!("policy helper")
    }
}

/// Circuit breaker from the guidelines: CLOSED until `threshold` consecutive
/// failures, then OPEN for `open_for`, then HALF-OPEN letting one probe through.
/// Time is passed in so tests can use paused tokio time.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    _cfg: BreakerConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitBreaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        Self { _cfg: cfg }
    }
    /// May a request go out now? Moves OPEN to HALF-OPEN once `open_for` has passed.
    pub fn allow(&mut self, _now: tokio::time::Instant) -> bool {
        todo!("policy helper")
    }
    /// Record an attempt's result; returns true when this call opened the breaker.
    pub fn record(&mut self, _success: bool, _now: tokio::time::Instant) -> bool {
        todo!("policy helper")
    }
    pub fn state(&self) -> BreakerState {
        todo!("policy helper")
    }
}

/// gRPC retry throttling token bucket.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    _cfg: BudgetConfig,
}

impl RetryBudget {
    pub fn new(cfg: BudgetConfig) -> Self {
        Self { _cfg: cfg }
    }
    /// Record a success (+token_ratio) or failure (-1), clamped to [0, max].
    pub fn record(&mut self, _success: bool) {
        todo!("policy helper")
    }
    /// Whether a retry may be sent now.
    pub fn can_retry(&self) -> bool {
        todo!("policy helper")
    }
}
