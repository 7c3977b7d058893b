//! The one `Retry-After` parser: the retry decision ([`super::settle`]) and
//! the client-side harm count `sent_while_told_to_wait` (`engine/user.rs`)
//! and a wait step's `from = "retry-after"` poll interval all read the
//! header through [`parse_retry_after`], so they cannot disagree.

use std::time::{Duration, SystemTime};

/// Parse a Retry-After value as RFC 9110 §10.2.3 defines it: delay-seconds
/// (`1*DIGIT`, "120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT",
/// RFC 850 and asctime forms too; relative to `now`, saturating at zero).
/// Optional whitespace around the value is dropped.
///
/// Anything else is no Retry-After at all (`None`: the caller falls back
/// to its backoff, and nothing counts as honoured or as told to wait):
/// a sign (`+5`, `-1`), an exponent, `inf`, and a fraction. A fraction is
/// refused rather than read: `1.5` is not delay-seconds, and reading
/// `0.001` as 1 ms would count retries 1 ms apart as honouring the
/// server. Values too large for a `Duration` saturate; the caller caps
/// them at `max_retry_after` anyway.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim_matches([' ', '\t']);
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v
            .bytes()
            .try_fold(0u64, |n, d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
            .unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // Wed, 21 Oct 2015 07:28:00 GMT
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
    }

    #[test]
    fn every_reading_of_retry_after_in_one_table() {
        let s = |n: u64| Some(Duration::from_secs(n));
        let cases: &[(&str, Option<Duration>)] = &[
            // delay-seconds
            ("1", s(1)),
            ("0", s(0)),
            ("  120 \t", s(120)),
            ("007", s(7)),
            // Too large for u64 seconds: saturates (capped by the policy).
            ("99999999999999999999999999999", s(u64::MAX)),
            // HTTP-dates: future, now, past (saturating at zero).
            ("Wed, 21 Oct 2015 07:28:30 GMT", s(30)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", s(0)),
            ("Tue, 20 Oct 2015 07:28:00 GMT", s(0)),
            // RFC 850 and asctime are HTTP-dates too.
            ("Wednesday, 21-Oct-15 07:29:00 GMT", s(60)),
            ("Wed Oct 21 07:28:10 2015", s(10)),
            // Not delay-seconds: no Retry-After (the backoff applies).
            ("1.5", None),
            ("0.001", None),
            ("1.0", None),
            ("+5", None),
            ("-1", None),
            ("1e3", None),
            ("1.", None),
            (".5", None),
            ("inf", None),
            ("NaN", None),
            ("1 s", None),
            ("5,5", None),
            ("١", None), // a non-ASCII digit
            ("", None),
            ("   ", None),
            ("abc", None),
            ("Wed, 32 Oct 2015 07:28:00 GMT", None),
        ];
        for (v, want) in cases {
            assert_eq!(parse_retry_after(v, now()), *want, "{v:?}");
        }
    }
}
