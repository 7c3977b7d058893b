//! Client-side throttles: rules that hold back *every* request, first
//! attempts included, once the target shows overload (a retry budget only
//! holds back retries).
//!
//! * `sre`: the SRE book's adaptive throttling, [`SreThrottle`]: a request
//!   is rejected locally with a probability that grows with the share of
//!   requests the backend did not accept;
//! * `adaptive`: the AWS SDKs' adaptive retry mode's rate limiter,
//!   [`RateLimiter`]: once throttled, a request waits for a token from a
//!   bucket whose rate follows CUBIC.
//!
//! Written `throttle = { kind = "sre", k = 2.0, window = "2m", scope =
//! "fleet" }` ([`ThrottleTable`]).

use super::{Class, PolicyError, RateLimiter, Scope, SreThrottle};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

/// A validated throttle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(into = "ThrottleTable", try_from = "ThrottleTable")]
pub struct Throttle {
    pub scope: Scope,
    pub kind: ThrottleKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThrottleKind {
    /// Reject with probability `max(0, (requests - k * accepts) / (requests + 1))`
    /// over the last `window`.
    Sre { k: f64, window: Duration },
    /// The SDK's CUBIC rate limiter, its constants fixed as the SDK fixes them.
    Adaptive,
}

/// The SRE book's numbers: K = 2 over two minutes.
pub const SRE: ThrottleKind = ThrottleKind::Sre {
    k: 2.0,
    window: Duration::from_secs(120),
};

/// The longest SRE window: one-second slices, kept per holder.
const MAX_WINDOW: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThrottleName {
    Sre,
    Adaptive,
}

/// A throttle as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ThrottleName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<f64>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub window: Option<Duration>,
}

fn invalid(key: &'static str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        key,
        reason: reason.into(),
    }
}

impl Throttle {
    /// `t` over the preset's throttle `base` (kept where `t` is silent and
    /// the kind is the same).
    pub fn build(t: &ThrottleTable, base: Option<Throttle>) -> Result<Throttle, PolicyError> {
        let base_name = base.map(|b| match b.kind {
            ThrottleKind::Sre { .. } => ThrottleName::Sre,
            ThrottleKind::Adaptive => ThrottleName::Adaptive,
        });
        let Some(name) = t.kind.or(base_name) else {
            return Err(invalid(
                "throttle.kind",
                "is needed: \"sre\" (the SRE book's adaptive throttling) or \"adaptive\" (the AWS SDKs' rate limiter)",
            ));
        };
        let scope = t.scope.or(base.map(|b| b.scope)).unwrap_or_default();
        let kind = match name {
            ThrottleName::Adaptive => {
                if t.k.is_some() || t.window.is_some() {
                    return Err(invalid(
                        "throttle",
                        "`k` and `window` belong to kind \"sre\"; the adaptive limiter's constants are the SDK's",
                    ));
                }
                ThrottleKind::Adaptive
            }
            ThrottleName::Sre => {
                let (k0, w0) = match base.map(|b| b.kind) {
                    Some(ThrottleKind::Sre { k, window }) => (k, window),
                    _ => (2.0, Duration::from_secs(120)),
                };
                ThrottleKind::Sre {
                    k: t.k.unwrap_or(k0),
                    window: t.window.unwrap_or(w0),
                }
            }
        };
        let th = Throttle { scope, kind };
        th.validate()?;
        Ok(th)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        if let ThrottleKind::Sre { k, window } = self.kind {
            if !(k.is_finite() && k > 0.0 && k <= 1000.0) {
                return Err(invalid("throttle.k", format!("{k} must be in (0, 1000]")));
            }
            if !(Duration::from_secs(1)..=MAX_WINDOW).contains(&window) {
                return Err(invalid(
                    "throttle.window",
                    format!(
                        "{} must be between 1s and 10m",
                        humantime::format_duration(window)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl From<Throttle> for ThrottleTable {
    fn from(t: Throttle) -> Self {
        match t.kind {
            ThrottleKind::Sre { k, window } => ThrottleTable {
                kind: Some(ThrottleName::Sre),
                scope: Some(t.scope),
                k: Some(k),
                window: Some(window),
            },
            ThrottleKind::Adaptive => ThrottleTable {
                kind: Some(ThrottleName::Adaptive),
                scope: Some(t.scope),
                k: None,
                window: None,
            },
        }
    }
}

impl TryFrom<ThrottleTable> for Throttle {
    type Error = PolicyError;
    fn try_from(t: ThrottleTable) -> Result<Self, PolicyError> {
        Throttle::build(&t, None)
    }
}

/// What a throttle says about a request about to go out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Send,
    /// Send after this wait (the token is already reserved).
    Wait(Duration),
    /// Do not send: the client fails the request itself.
    Reject,
}

/// A throttle's running state. A mutex each: both keep several numbers
/// that change together; it is only taken by policies that have a
/// throttle, once before and once after each attempt.
#[derive(Debug)]
pub enum ThrottleState {
    Sre(Mutex<SreThrottle>),
    Adaptive(Mutex<RateLimiter>),
}

impl ThrottleState {
    /// A fresh throttle at `now` (time since the round began).
    pub fn new(t: &Throttle, now: Duration) -> Self {
        match t.kind {
            ThrottleKind::Sre { k, window } => {
                ThrottleState::Sre(Mutex::new(SreThrottle::new(k, window)))
            }
            ThrottleKind::Adaptive => {
                ThrottleState::Adaptive(Mutex::new(RateLimiter::new(now.as_secs_f64())))
            }
        }
    }

    /// A request (first attempt or retry) is about to go out at `now`;
    /// `draw` is uniform in [0, 1).
    pub fn admit(&self, now: Duration, draw: f64) -> Verdict {
        match self {
            ThrottleState::Sre(m) => m.lock().map_or(Verdict::Send, |mut t| t.admit(now, draw)),
            ThrottleState::Adaptive(m) => {
                let wait = m.lock().map_or(0.0, |mut l| l.acquire(now.as_secs_f64()));
                match Duration::try_from_secs_f64(wait) {
                    Ok(d) if !d.is_zero() => Verdict::Wait(d),
                    _ => Verdict::Send,
                }
            }
        }
    }

    /// An answer of `class` came back at `now`.
    pub fn record(&self, class: Class, now: Duration) {
        match self {
            ThrottleState::Sre(m) => {
                if let Ok(mut t) = m.lock() {
                    t.record(class, now);
                }
            }
            ThrottleState::Adaptive(m) => {
                if let Ok(mut l) = m.lock() {
                    l.on_response(now.as_secs_f64(), class == Class::RateLimited);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_build_with_the_books_defaults_and_name_what_is_wrong() {
        let sre = ThrottleTable {
            kind: Some(ThrottleName::Sre),
            ..ThrottleTable::default()
        };
        let t = Throttle::build(&sre, None).unwrap();
        assert_eq!(t.kind, SRE);
        assert_eq!(t.scope, Scope::Fleet);
        // Unset keys keep the preset's.
        let user = ThrottleTable {
            scope: Some(Scope::User),
            ..ThrottleTable::default()
        };
        let base = Throttle {
            scope: Scope::Process,
            kind: ThrottleKind::Sre {
                k: 1.5,
                window: Duration::from_secs(60),
            },
        };
        let t = Throttle::build(&user, Some(base)).unwrap();
        assert_eq!(t.scope, Scope::User);
        assert_eq!(t.kind, base.kind);
        let key = |t: &ThrottleTable| match Throttle::build(t, None) {
            Err(PolicyError::Invalid { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        assert_eq!(key(&ThrottleTable::default()), "throttle.kind");
        let bad_k = ThrottleTable {
            k: Some(0.0),
            ..sre
        };
        assert_eq!(key(&bad_k), "throttle.k");
        let long = ThrottleTable {
            window: Some(Duration::from_secs(3600)),
            ..sre
        };
        assert_eq!(key(&long), "throttle.window");
        let adaptive_k = ThrottleTable {
            kind: Some(ThrottleName::Adaptive),
            k: Some(2.0),
            ..ThrottleTable::default()
        };
        assert_eq!(key(&adaptive_k), "throttle");
    }

    #[test]
    fn serialized_and_read_back_unchanged() {
        for t in [
            Throttle {
                scope: Scope::User,
                kind: SRE,
            },
            Throttle {
                scope: Scope::Fleet,
                kind: ThrottleKind::Adaptive,
            },
        ] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(
                serde_json::from_str::<Throttle>(&json).unwrap(),
                t,
                "{json}"
            );
        }
    }

    #[test]
    fn the_adaptive_state_waits_only_once_throttled() {
        let t = ThrottleState::new(
            &Throttle {
                scope: Scope::Fleet,
                kind: ThrottleKind::Adaptive,
            },
            Duration::ZERO,
        );
        let ms = Duration::from_millis;
        assert_eq!(t.admit(ms(100), 0.5), Verdict::Send);
        t.record(Class::RateLimited, ms(600));
        // Throttled at 0.6 s with a measured rate of 1.6/s: 1.12/s from
        // then on; the bucket held 0.6 tokens, so the first request waits
        // (1 - 0.6) / 1.12 s.
        match t.admit(ms(600), 0.5) {
            Verdict::Wait(d) => assert!((d.as_secs_f64() - 0.4 / 1.12).abs() < 1e-6, "{d:?}"),
            v => panic!("{v:?}"),
        }
    }
}
