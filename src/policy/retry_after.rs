use std::time::{Duration, SystemTime};

/// Parse a Retry-After value: delta-seconds ("1") or an HTTP-date
/// ("Wed, 21 Oct 2015 07:28:00 GMT", relative to `now`, saturating at zero).
///
/// RFC 9110 only allows integer seconds, but some gateways send "1.5"; the
/// fraction is kept rather than rejecting the header, because falling back to
/// the backoff would make a lenient server look like one that sent nothing.
/// Signs, exponents, "inf" and anything else that is not `digits[.digits]`
/// are rejected. Values too large for a `Duration` saturate; the caller caps
/// them at `max_retry_after` anyway.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Some(d) = parse_delta_seconds(v) {
        return Some(d);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn parse_delta_seconds(v: &str) -> Option<Duration> {
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (v, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    match frac {
        None => Some(Duration::from_secs(int.parse().unwrap_or(u64::MAX))),
        Some(_) => {
            let secs: f64 = v.parse().ok()?;
            Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // Wed, 21 Oct 2015 07:28:00 GMT
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse_retry_after("1", now()), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("  120 \t", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("1.5", now()),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn huge_values_saturate_without_panicking() {
        let big = "99999999999999999999999999999";
        assert_eq!(
            parse_retry_after(big, now()),
            Some(Duration::from_secs(u64::MAX))
        );
        let big_frac = format!("{}.5", "9".repeat(400));
        assert_eq!(parse_retry_after(&big_frac, now()), Some(Duration::MAX));
    }

    #[test]
    fn http_date_future_and_past() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
        // RFC 850 and asctime forms are legal HTTP-dates too.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now()),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:10 2015", now()),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn garbage_is_none() {
        for v in [
            "",
            "   ",
            "-1",
            "+1",
            "1e3",
            "abc",
            "1.",
            ".5",
            "1.2.3",
            "inf",
            "NaN",
            "1 s",
            "١", // non-ASCII digit
            "Wed, 32 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(v, now()), None, "{v:?}");
        }
    }
}
