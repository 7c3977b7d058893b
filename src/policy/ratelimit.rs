//! Pacing on a server's rate-limit headers: when the last answer said no
//! request is left in the window, the next request waits until the window
//! resets, so no request leaves at remaining 0.
//!
//! Read, in this order (the first that gives a remaining count wins):
//!
//! * `RateLimit` of the IETF httpapi draft (draft-ietf-httpapi-ratelimit-headers):
//!   the current form is a structured list of policies, `"default";r=0;t=5`
//!   (`r` remaining, `t` seconds until the window resets); with several
//!   policies the most restrictive one counts (any at 0: the longest `t` of
//!   those). The older single-header form `limit=100, remaining=0, reset=5`
//!   is read too.
//! * The older drafts' `RateLimit-Remaining` and `RateLimit-Reset` (seconds).
//! * `X-RateLimit-Remaining` and `X-RateLimit-Reset` (GitHub and many
//!   others). A reset of at least 1,000,000,000 is a Unix time in seconds
//!   (GitHub's form, 2001 or later); a smaller one is seconds from now.
//!
//! Numbers are whole and not negative; anything else (a sign, a fraction,
//! text) is no value. A huge number saturates, and every wait is clamped to
//! the policy's `max_retry_after`. A reset in the past is no wait.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Scope;

/// A reset this large or larger is a Unix time, not a count of seconds.
pub const EPOCH_FROM: u64 = 1_000_000_000;

/// The raw rate-limit headers of one answer, as the client found them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitFields {
    /// `RateLimit` (the IETF draft's, either form).
    pub ietf: Option<Box<str>>,
    /// `RateLimit-Remaining`.
    pub remaining: Option<Box<str>>,
    /// `RateLimit-Reset`.
    pub reset: Option<Box<str>>,
    /// `X-RateLimit-Remaining`.
    pub x_remaining: Option<Box<str>>,
    /// `X-RateLimit-Reset`.
    pub x_reset: Option<Box<str>>,
}

impl RateLimitFields {
    /// Keep header `name`'s `value` when it is one of the five read here.
    pub fn offer(&mut self, name: &str, value: &[u8]) {
        let slot = if name.eq_ignore_ascii_case("ratelimit") {
            &mut self.ietf
        } else if name.eq_ignore_ascii_case("ratelimit-remaining") {
            &mut self.remaining
        } else if name.eq_ignore_ascii_case("ratelimit-reset") {
            &mut self.reset
        } else if name.eq_ignore_ascii_case("x-ratelimit-remaining") {
            &mut self.x_remaining
        } else if name.eq_ignore_ascii_case("x-ratelimit-reset") {
            &mut self.x_reset
        } else {
            return;
        };
        *slot = std::str::from_utf8(value).ok().map(Box::from);
    }

    pub fn is_empty(&self) -> bool {
        *self == RateLimitFields::default()
    }
}

/// What the headers say: requests left in the window, and when it resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSeen {
    pub remaining: u64,
    /// From the answer's arrival, clamped to the policy's maximum wait.
    pub reset: Duration,
}

/// A whole, non-negative number; saturating when huge.
fn number(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Seconds until a reset given as seconds or as a Unix time.
fn reset_in(raw: u64, now: SystemTime) -> Duration {
    if raw < EPOCH_FROM {
        return Duration::from_secs(raw);
    }
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    Duration::from_secs(raw).saturating_sub(now)
}

/// One policy of the draft's structured list: `"name";r=0;t=5`.
fn ietf_item(item: &str) -> Option<(u64, u64)> {
    let (mut r, mut t) = (None, None);
    for p in item.split(';').skip(1) {
        match p.trim().split_once('=') {
            Some(("r", v)) => r = number(v),
            Some(("t", v)) => t = number(v),
            _ => {}
        }
    }
    Some((r?, t.unwrap_or(0)))
}

/// The `RateLimit` header, current or older form: (remaining, seconds).
fn ietf(v: &str) -> Option<(u64, u64)> {
    if v.contains("remaining=") {
        let mut r = None;
        let mut t = 0;
        for part in v.split([',', ';']) {
            match part.trim().split_once('=') {
                Some(("remaining", x)) => r = number(x),
                Some(("reset", x)) => t = number(x).unwrap_or(0),
                _ => {}
            }
        }
        return Some((r?, t));
    }
    let items: Vec<(u64, u64)> = v.split(',').filter_map(ietf_item).collect();
    let empty = items.iter().filter(|(r, _)| *r == 0).map(|(_, t)| *t).max();
    match empty {
        Some(t) => Some((0, t)),
        None => items.into_iter().min_by_key(|(r, _)| *r),
    }
}

/// Read an answer's rate-limit headers (see the module docs for the forms
/// and their order); `None` when none gives a remaining count. `now` is the
/// wall clock (for a Unix-time reset), `max_wait` the clamp.
pub fn parse_rate_limit(
    f: &RateLimitFields,
    now: SystemTime,
    max_wait: Duration,
) -> Option<RateLimitSeen> {
    let seen = |remaining, reset: Duration| RateLimitSeen {
        remaining,
        reset: reset.min(max_wait),
    };
    if let Some((r, t)) = f.ietf.as_deref().and_then(ietf) {
        return Some(seen(r, Duration::from_secs(t)));
    }
    let pairs = [(&f.remaining, &f.reset), (&f.x_remaining, &f.x_reset)];
    for (remaining, reset) in pairs {
        if let Some(r) = remaining.as_deref().and_then(number) {
            let raw = reset.as_deref().and_then(number).unwrap_or(0);
            return Some(seen(r, reset_in(raw, now)));
        }
    }
    None
}

/// Until when the pacing scope waits, in microseconds since the round
/// began (0: it does not), after an answer at `now_us` said `seen`. An
/// answer without the headers leaves it as it was; one with requests left
/// lifts it; one at 0 sets it to the reset.
pub fn paced_until(prev: u64, seen: Option<RateLimitSeen>, now_us: u64) -> u64 {
    match seen {
        None => prev,
        Some(s) if s.remaining > 0 => 0,
        Some(s) => {
            let wait = u64::try_from(s.reset.as_micros()).unwrap_or(u64::MAX);
            now_us.saturating_add(wait)
        }
    }
}

/// A validated pacing rule: who shares one "last seen remaining".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitPacing {
    /// `user` (default: each simulated user its own, as a per-user limit
    /// counts), `fleet` or `process` (one for everybody, as a global limit).
    #[serde(default = "user_scope")]
    pub scope: Scope,
}

fn user_scope() -> Scope {
    Scope::User
}

impl RateLimitPacing {
    pub const USER: RateLimitPacing = RateLimitPacing { scope: Scope::User };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    const MAX: Duration = Duration::from_secs(60);

    fn fields(pairs: &[(&str, &str)]) -> RateLimitFields {
        let mut f = RateLimitFields::default();
        for (n, v) in pairs {
            f.offer(n, v.as_bytes());
        }
        f
    }

    fn read(pairs: &[(&str, &str)]) -> Option<(u64, u64)> {
        parse_rate_limit(&fields(pairs), now(), MAX).map(|s| (s.remaining, s.reset.as_secs()))
    }

    /// Headers, and the (remaining, seconds) they give.
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<(u64, u64)>);

    #[test]
    fn every_form_is_read_and_garbage_is_no_value() {
        let cases: &[Case<'_>] = &[
            (&[], None),
            // The current draft: a list of policies.
            (&[("RateLimit", "\"default\";r=0;t=5")], Some((0, 5))),
            (&[("ratelimit", "\"default\";r=7;t=2")], Some((7, 2))),
            (
                &[("RateLimit", "\"a\";r=3;t=1, \"b\";r=0;t=9")],
                Some((0, 9)),
            ),
            (
                &[("RateLimit", "\"a\";r=0;t=4, \"b\";r=0;t=9")],
                Some((0, 9)),
            ),
            (
                &[("RateLimit", "\"a\";r=3;t=1, \"b\";r=2;t=8")],
                Some((2, 8)),
            ),
            (&[("RateLimit", "\"default\";r=0")], Some((0, 0))),
            // The older single-header form.
            (
                &[("RateLimit", "limit=10, remaining=0, reset=3")],
                Some((0, 3)),
            ),
            // The older separate fields, then GitHub's.
            (
                &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "4")],
                Some((0, 4)),
            ),
            (
                &[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "2")],
                Some((0, 2)),
            ),
            (&[("x-ratelimit-remaining", "12")], Some((12, 0))),
            // A Unix time, 30 s ahead; one in the past is no wait.
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "1700000030"),
                ],
                Some((0, 30)),
            ),
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "1600000000"),
                ],
                Some((0, 0)),
            ),
            // The draft's header wins over the others.
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("RateLimit", "\"d\";r=5;t=1"),
                ],
                Some((5, 1)),
            ),
            (
                &[("X-RateLimit-Remaining", "0"), ("RateLimit-Remaining", "3")],
                Some((3, 0)),
            ),
            // Huge: clamped to the maximum wait (a huge count saturates).
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "999999999"),
                ],
                Some((0, 60)),
            ),
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "99999999999999999999999"),
                ],
                Some((0, 60)),
            ),
            (&[("RateLimit", "\"d\";r=0;t=86400")], Some((0, 60))),
            (
                &[("X-RateLimit-Remaining", "99999999999999999999")],
                Some((u64::MAX, 0)),
            ),
            // Garbage, negative, fractions: no value.
            (
                &[("X-RateLimit-Remaining", "-1"), ("X-RateLimit-Reset", "5")],
                None,
            ),
            (&[("X-RateLimit-Remaining", "zero")], None),
            (&[("X-RateLimit-Remaining", "1.5")], None),
            (&[("X-RateLimit-Remaining", "")], None),
            (&[("RateLimit", "garbage")], None),
            (&[("RateLimit", "\"d\";r=-1;t=5")], None),
            // A reset that is garbage is no wait.
            (
                &[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "-5")],
                Some((0, 0)),
            ),
            (
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "soon"),
                ],
                Some((0, 0)),
            ),
            // Other headers are not kept.
            (&[("X-RateLimit-Limit", "0")], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(read(pairs), *want, "{pairs:?}");
        }
        let mut f = RateLimitFields::default();
        f.offer("X-RateLimit-Remaining", b"\xff");
        assert!(f.is_empty(), "not UTF-8: nothing kept");
    }

    #[test]
    fn only_an_answer_at_zero_makes_the_scope_wait() {
        let zero = |s| {
            Some(RateLimitSeen {
                remaining: 0,
                reset: Duration::from_secs(s),
            })
        };
        let left = Some(RateLimitSeen {
            remaining: 3,
            reset: Duration::from_secs(9),
        });
        let cases = [
            (0, None, 1_000, 0),
            (5_000, None, 1_000, 5_000),
            (0, zero(2), 1_000, 2_001_000),
            (2_001_000, left, 1_500_000, 0),
            (0, zero(0), 1_000, 1_000),
            (0, zero(60), u64::MAX - 1, u64::MAX),
        ];
        for (prev, seen, now, want) in cases {
            assert_eq!(paced_until(prev, seen, now), want, "{prev} {seen:?} {now}");
        }
    }

    #[test]
    fn the_scope_defaults_to_the_user() {
        let p: RateLimitPacing = toml::from_str("").unwrap();
        assert_eq!(p, RateLimitPacing::USER);
        let p: RateLimitPacing = toml::from_str("scope = \"fleet\"").unwrap();
        assert_eq!(p.scope, Scope::Fleet);
        assert!(toml::from_str::<RateLimitPacing>("scop = \"fleet\"").is_err());
    }
}
