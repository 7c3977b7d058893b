//! Retry policies as data plus pure decisions.
//!
//! A policy never touches the network or the clock on its own: the engine
//! hands it what happened (an [`Outcome`]), how far the operation has come
//! ([`OpState`]), the wall-clock time (for HTTP-date Retry-After) and an RNG,
//! and gets a [`Decision`] back. That keeps every rule of the Booking Rush
//! client guidelines unit-testable without sockets or sleeps.
//!
//! # Presets
//!
//! Every guideline preset except `compliant` departs from the guidelines in
//! one behaviour (bold below; `naive` in all of them), so a run can attribute a
//! difference in server load or duplicate bookings to that one behaviour.
//!
//! | preset               | retry          | limits 429/500/503/net/other | backoff       | jitter    | Retry-After        | key       | breaker  | precheck | abandon / resubmits |
//! |----------------------|----------------|------------------------------|---------------|-----------|--------------------|-----------|----------|----------|---------------------|
//! | `compliant`          | guideline      | 5/3/3/3/0                    | exp 1 s..30 s | guideline | honoured, cap 60 s | same      | 5, 30 s  | yes      | - / 0               |
//! | `naive`              | **everything** | **10/10/10/10/10**           | **immediate** | **none**  | **ignored**        | **fresh** | **none** | **no**   | - / 0               |
//! | `no-jitter`          | guideline      | 5/3/3/3/0                    | exp 1 s..30 s | **none**  | honoured, cap 60 s | same      | 5, 30 s  | yes      | - / 0               |
//! | `no-backoff`         | guideline      | 5/3/3/3/0                    | **immediate** | guideline | honoured, cap 60 s | same      | 5, 30 s  | yes      | - / 0               |
//! | `ignore-retry-after` | guideline      | 5/3/3/3/0                    | exp 1 s..30 s | guideline | **ignored**        | same      | 5, 30 s  | yes      | - / 0               |
//! | `fresh-key`          | guideline      | 5/3/3/3/0                    | exp 1 s..30 s | guideline | honoured, cap 60 s | **fresh** | 5, 30 s  | yes      | - / 0               |
//! | `no-retry`           | **nothing**    | **0/0/0/0/0**                | exp 1 s..30 s | guideline | honoured, cap 60 s | same      | 5, 30 s  | yes      | - / 0               |
//! | `impatient-user`     | guideline      | 5/3/3/3/0                    | exp 1 s..30 s | guideline | honoured, cap 60 s | same      | 5, 30 s  | **no**   | **3 s / 3**         |
//!
//! All presets use a 10 s request timeout (guidelines, "Handle Timeout
//! Properly"); the guideline presets have no retry budget and no throttle.
//! The overload-control family (`aws-standard`, `aws-legacy`,
//! `aws-adaptive`, `grpc`, `sre-throttling`) are other clients with their
//! published parameters: see `overload.rs`, and [`Budget`], [`Throttle`]
//! and [`Scope`] for the state they keep.
//!
//! # Judgement calls
//!
//! The guidelines leave a few cases open; these are the readings chosen here:
//!
//! * A server-sent **408** is classified [`Class::Permanent`]. The guidelines'
//!   own `isRetryable` returns false for it and their summary says "4xx: stop";
//!   the "network timeout is retryable" rule is about the *client* aborting
//!   ([`Outcome::Timeout`]), where no answer arrived at all.
//! * The envelope `error.code` wins over the status when present, so a 503
//!   carrying `INSUFFICIENT_SEATS` stops, and a 400 carrying `INTERNAL_ERROR`
//!   is retried (the guidelines' JS would retry the former for its 5xx; their
//!   "Never Retry" table is taken as the stronger statement). An unknown code
//!   is ignored and the status decides: permanent on any 4xx except 429,
//!   which the guidelines' `isRetryable` always retries.
//! * Under [`RetryScope::Nothing`] a retryable failure is [`Decision::GiveUp`]
//!   (it *was* retryable, the policy just allows zero retries), so reports
//!   count it with the other exhausted operations rather than with sold-outs.
//! * A Retry-After header replaces the backoff (jitter included) on *every*
//!   retryable answer that carries one, as the guidelines' JS does, capped at
//!   `max_retry_after`. "0" or a date in the past is no positive delay and
//!   falls back to the backoff (the Go example's reading; the JS one would
//!   retry at once, which makes a fleet retry in lockstep). Only RFC 9110's
//!   forms are read: whole seconds or an HTTP-date; "1.5", "0.001" and "+5"
//!   are no Retry-After, so the backoff applies and nothing is counted as
//!   honoured ([`parse_retry_after`], the one parser).
//! * Guideline jitter is `d * (0.5 + U[0,1))` applied *after* the cap, exactly
//!   as the guidelines' Python, so a delay can reach `1.5 * max_delay` (45 s).
//!
//! [`decide`] does not consult the [`CircuitBreaker`], the budget or the
//! throttle: those outlive the operation, so the engine owns them and
//! [`settle`] records each answer in them and asks them. The engine also
//! owns [`OpState`], and should store the delay it actually slept in
//! `prev_delay` for decorrelated jitter.

use serde::{Deserialize, Serialize};
use std::time::Duration;

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
    /// gRPC (gRFC A6): `d * U[0.8, 1.2)`, plus or minus 20%.
    Grpc,
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
    /// Which failures count toward `threshold` (a success resets it).
    #[serde(default)]
    pub counts: BreakerCounts,
}

/// A kind of failure a circuit breaker may count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BreakerCount {
    /// A 5xx answer (with or without the envelope).
    #[serde(rename = "5xx")]
    S5xx,
    /// A 429: the server asked the client to slow down.
    #[serde(rename = "429")]
    S429,
    #[serde(rename = "network")]
    Network,
    #[serde(rename = "timeout")]
    Timeout,
}

/// The failures a breaker counts, as a set. The default is the compliant
/// reading: 5xx, network errors and timeouts, not 429. The guidelines
/// allow 5 retries of a 429 (`RETRY_LIMITS.TOO_MANY_REQUESTS`) beside a
/// breaker that opens after 5 consecutive failures; counting 429s would
/// open it at the fifth and that limit could never be reached, and a 429 is
/// a healthy server pacing its clients (Retry-After does that job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerCounts(u8);

impl BreakerCounts {
    /// 5xx, network, timeout (bits in [`Self::ALL`] order).
    pub const COMPLIANT: BreakerCounts = BreakerCounts(0b1101);

    pub const ALL: [BreakerCount; 4] = [
        BreakerCount::S5xx,
        BreakerCount::S429,
        BreakerCount::Network,
        BreakerCount::Timeout,
    ];

    pub fn of(kinds: &[BreakerCount]) -> Self {
        Self(kinds.iter().fold(0, |m, k| m | Self::bit(*k)))
    }

    fn bit(k: BreakerCount) -> u8 {
        1 << Self::ALL.iter().position(|x| *x == k).unwrap_or(0)
    }

    pub fn has(self, k: BreakerCount) -> bool {
        self.0 & Self::bit(k) != 0
    }

    /// Does a failure of `class` count?
    pub fn counts(self, class: Class) -> bool {
        match class {
            Class::ServerError | Class::Unavailable => self.has(BreakerCount::S5xx),
            Class::RateLimited => self.has(BreakerCount::S429),
            Class::Network => self.has(BreakerCount::Network),
            Class::Timeout => self.has(BreakerCount::Timeout),
            Class::Success | Class::Permanent | Class::Ambiguous => false,
        }
    }
}

impl Default for BreakerCounts {
    fn default() -> Self {
        Self::COMPLIANT
    }
}

impl Serialize for BreakerCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<BreakerCount> = Self::ALL.into_iter().filter(|k| self.has(*k)).collect();
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for BreakerCounts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::of(&Vec::<BreakerCount>::deserialize(d)?))
    }
}

/// The header a policy's `attempt_header` names: each attempt carries its
/// 1-based number in it. A valid header name, read once at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptHeader(pub http::HeaderName);

impl Serialize for AttemptHeader {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for AttemptHeader {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        http::HeaderName::from_bytes(name.as_bytes())
            .map(AttemptHeader)
            .map_err(|_| serde::de::Error::custom(format!("`{name}` is not a valid header name")))
    }
}

fn doubling() -> f64 {
    2.0
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
    /// The base delay after a throttling answer (429, `throttling_codes`),
    /// when it differs from `base_delay` (the AWS SDKs: 1 s against 50 ms).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub throttled_base_delay: Option<Duration>,
    /// Growth of the exponential backoff per retry (gRPC's backoffMultiplier).
    #[serde(default = "doubling")]
    pub backoff_multiplier: f64,
    pub jitter: Jitter,
    pub honor_retry_after: bool,
    /// Upper bound on a server-given Retry-After the client accepts.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// Instead of replacing the backoff, a Retry-After is clamped to
    /// [backoff, backoff + this] (the AWS SDKs: 5 s).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after_clamp: Option<Duration>,
    /// Read gRPC's `grpc-retry-pushback-ms`: wait exactly that long, or do
    /// not retry at all on a negative or unparseable value.
    #[serde(default)]
    pub pushback: bool,
    pub key_reuse: KeyReuse,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    pub breaker: Option<BreakerConfig>,
    /// Limits retries: a token bucket, Finagle's budget or the AWS retry
    /// quota, held per user, process or fleet.
    pub budget: Option<Budget>,
    /// Holds back every request, first attempts included: the SRE book's
    /// adaptive throttling or the AWS adaptive rate limiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// Check zone availability before reserving.
    pub precheck: bool,
    /// A person who gives up on an operation after this long and resubmits it
    /// as a brand-new operation (new key), like pressing F5.
    #[serde(with = "humantime_serde")]
    pub abandon_after: Option<Duration>,
    pub max_resubmits: u32,
    /// Target codes retried with backoff whatever their status (as
    /// `INTERNAL_ERROR` is), under the `internal_error` limit.
    #[serde(default)]
    pub retry_codes: Vec<String>,
    /// Target codes that end the operation at once (as `INSUFFICIENT_SEATS` does).
    #[serde(default)]
    pub final_codes: Vec<String>,
    /// Target codes that say the server may still be acting on the request
    /// (`REQUEST_IN_PROGRESS`): retried after backoff under the `network`
    /// limit, like a timeout, with the key the policy's `key_reuse` gives.
    #[serde(default)]
    pub ambiguous_codes: Vec<String>,
    /// Target codes that are throttling answers whatever their status (as a
    /// 429 is): rate limited, with its limit, costs and base delay.
    #[serde(default)]
    pub throttling_codes: Vec<String>,
    /// Each attempt carries its 1-based number in this header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_header: Option<AttemptHeader>,
    /// Send a copy of an attempt that has not answered after a delay; the
    /// first answer settles the operation (`hedge.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hedge: Option<Hedge>,
    /// Hold every request while the last answer's rate-limit headers said
    /// none is left, until their reset (`ratelimit.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_pacing: Option<RateLimitPacing>,
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
    /// The target says it may still be acting on the request (a code in the
    /// policy's `ambiguous_codes`).
    Ambiguous,
}

/// How far an operation has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpState {
    /// Retries already made (0 before the first retry).
    pub retries: u32,
    /// The previous backoff delay (decorrelated jitter needs it).
    pub prev_delay: Duration,
    /// The retry count the exponential backoff counts from: gRPC resets
    /// the backoff after a pushback (0 otherwise).
    pub backoff_from: u16,
    /// What the operation's last retry cost its retry quota (0: nothing).
    pub charged: u16,
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
        /// `delay` is the server's pushback (the backoff restarts after it).
        pushback: bool,
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

mod adaptive;
mod backoff;
mod breaker;
mod budget;
mod classify;
mod decide;
mod finagle;
mod hedge;
mod overload;
mod overrides;
mod presets;
mod pushback;
mod quota;
mod ratelimit;
mod retry_after;
mod scope;
mod settle;
mod sre;
mod throttle;
mod tokens;
mod window;

pub use adaptive::RateLimiter;
pub use backoff::{backoff_delay, jittered};
pub use breaker::{BreakerState, CircuitBreaker};
pub use budget::{Answered, Budget, BudgetKind, BudgetName, BudgetState, BudgetTable, QuotaCosts};
pub use classify::{classify, classify_for};
pub use decide::decide;
pub use finagle::FinagleBudget;
pub use hedge::{Hedge, HedgeAfter, HedgeTable, LatencyEstimate, MIN_SAMPLES};
pub use overrides::{BreakerOverride, LimitsOverride, PolicyOverrides};
pub use presets::{PRESETS, preset, source};
pub use pushback::{PUSHBACK_HEADER, Pushback, parse_pushback};
pub use quota::RetryQuota;
pub use ratelimit::{
    RateLimitFields, RateLimitPacing, RateLimitSeen, paced_until, parse_rate_limit,
};
pub use retry_after::parse_retry_after;
pub use scope::Scope;
pub use settle::{Answer, AttemptFlags, Clock, Limits, Settlement, UserGuard, settle};
pub use sre::SreThrottle;
pub use throttle::{Throttle, ThrottleKind, ThrottleName, ThrottleState, ThrottleTable, Verdict};
pub use tokens::TokenBudget;
