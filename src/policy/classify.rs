use super::{Class, Outcome, RetryPolicy};

/// Envelope codes the guidelines list under "Never Retry", plus NOT_FOUND which
/// their status table marks "No". Kept explicit (rather than "anything that is
/// not retryable") so the test table documents the guidelines verbatim.
const NEVER_RETRY: &[&str] = &[
    "INVALID_REQUEST",
    "INVALID_QUANTITY",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "NOT_FOUND",
    "INSUFFICIENT_SEATS",
    "MAX_TICKETS_EXCEEDED",
    "ALREADY_CONFIRMED",
    "ALREADY_RELEASED",
    "EXPIRED",
];

/// [`classify`], after the policy's own code lists (`final_codes`,
/// `ambiguous_codes`, `throttling_codes`, `retry_codes`), which win over
/// the built-in table.
pub fn classify_for(policy: &RetryPolicy, outcome: &Outcome<'_>) -> Class {
    if let Outcome::Response {
        status,
        code: Some(code),
        ..
    } = *outcome
        && !(200..300).contains(&status)
    {
        let has = |list: &[String]| list.iter().any(|c| c == code);
        if has(&policy.final_codes) {
            return Class::Permanent;
        }
        if has(&policy.ambiguous_codes) {
            return Class::Ambiguous;
        }
        if has(&policy.throttling_codes) {
            return Class::RateLimited;
        }
        if has(&policy.retry_codes) {
            return Class::ServerError;
        }
    }
    classify(outcome)
}

/// Sort an attempt's result into the class that picks its retry limit.
///
/// The envelope code is trusted over the status because the API uses 409 for
/// both sold-out and already-confirmed, and a proxy may rewrite statuses but
/// not bodies. Without an envelope (a proxy's HTML 502, a bare 504) the status
/// decides. See the module docs for why 408 is permanent.
pub fn classify(outcome: &Outcome<'_>) -> Class {
    let (status, code) = match *outcome {
        Outcome::Timeout => return Class::Timeout,
        Outcome::Network => return Class::Network,
        Outcome::Response { status, code, .. } => (status, code),
    };
    if (200..300).contains(&status) {
        return Class::Success;
    }
    if let Some(code) = code {
        match code {
            "TOO_MANY_REQUESTS" => return Class::RateLimited,
            "INTERNAL_ERROR" => return Class::ServerError,
            "SERVICE_UNAVAILABLE" => return Class::Unavailable,
            c if NEVER_RETRY.contains(&c) => return Class::Permanent,
            // An unknown code says nothing the status does not: every 4xx
            // but 429 is permanent below anyway, and a 429 is rate limiting
            // whatever the body calls it (the guidelines' isRetryable).
            _ => {}
        }
    }
    match status {
        429 => Class::RateLimited,
        503 => Class::Unavailable,
        500..=599 => Class::ServerError,
        _ => Class::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, code: Option<&str>) -> Class {
        classify(&Outcome::Response {
            status,
            code,
            retry_after: None,
        })
    }

    #[test]
    fn success_statuses() {
        for s in [200, 201, 204, 299] {
            assert_eq!(resp(s, None), Class::Success, "{s}");
        }
        // A 2xx wins even over an error-looking envelope.
        assert_eq!(resp(201, Some("INTERNAL_ERROR")), Class::Success);
    }

    #[test]
    fn every_guideline_code() {
        let table: &[(u16, &str, Class)] = &[
            (400, "INVALID_REQUEST", Class::Permanent),
            (400, "INVALID_QUANTITY", Class::Permanent),
            (401, "UNAUTHORIZED", Class::Permanent),
            (403, "FORBIDDEN", Class::Permanent),
            (404, "NOT_FOUND", Class::Permanent),
            (409, "INSUFFICIENT_SEATS", Class::Permanent),
            (409, "MAX_TICKETS_EXCEEDED", Class::Permanent),
            (409, "ALREADY_CONFIRMED", Class::Permanent),
            (409, "ALREADY_RELEASED", Class::Permanent),
            (410, "EXPIRED", Class::Permanent),
            (429, "TOO_MANY_REQUESTS", Class::RateLimited),
            (500, "INTERNAL_ERROR", Class::ServerError),
            (503, "SERVICE_UNAVAILABLE", Class::Unavailable),
        ];
        for &(status, code, want) in table {
            assert_eq!(resp(status, Some(code)), want, "{status} {code}");
        }
    }

    #[test]
    fn envelope_code_wins_over_status() {
        assert_eq!(resp(503, Some("INSUFFICIENT_SEATS")), Class::Permanent);
        assert_eq!(resp(400, Some("INTERNAL_ERROR")), Class::ServerError);
        assert_eq!(resp(500, Some("SERVICE_UNAVAILABLE")), Class::Unavailable);
        assert_eq!(resp(503, Some("TOO_MANY_REQUESTS")), Class::RateLimited);
    }

    #[test]
    fn unknown_codes() {
        assert_eq!(resp(422, Some("SOMETHING_NEW")), Class::Permanent);
        assert_eq!(resp(409, Some("SOMETHING_NEW")), Class::Permanent);
        assert_eq!(resp(429, Some("SOMETHING_NEW")), Class::RateLimited);
        // Unknown code on a 5xx: the status decides.
        assert_eq!(resp(502, Some("BAD_GATEWAY")), Class::ServerError);
        assert_eq!(resp(503, Some("")), Class::Unavailable);
    }

    #[test]
    fn bare_statuses() {
        assert_eq!(resp(429, None), Class::RateLimited);
        assert_eq!(resp(500, None), Class::ServerError);
        assert_eq!(resp(502, None), Class::ServerError);
        assert_eq!(resp(503, None), Class::Unavailable);
        assert_eq!(resp(504, None), Class::ServerError);
        assert_eq!(resp(599, None), Class::ServerError);
        assert_eq!(resp(409, None), Class::Permanent);
        assert_eq!(resp(408, None), Class::Permanent);
        assert_eq!(resp(400, None), Class::Permanent);
        assert_eq!(resp(404, None), Class::Permanent);
        assert_eq!(resp(100, None), Class::Permanent);
        assert_eq!(resp(302, None), Class::Permanent);
        assert_eq!(resp(0, None), Class::Permanent);
        assert_eq!(resp(600, None), Class::Permanent);
    }

    #[test]
    fn a_policys_code_lists_win_over_the_table() {
        let mut p = crate::policy::preset("compliant").unwrap();
        let at = |p: &crate::policy::RetryPolicy, status, code| {
            classify_for(
                p,
                &Outcome::Response {
                    status,
                    code: Some(code),
                    retry_after: None,
                },
            )
        };
        // Every preset: REQUEST_IN_PROGRESS says the server is still at it.
        assert_eq!(at(&p, 409, "REQUEST_IN_PROGRESS"), Class::Ambiguous);
        assert_eq!(at(&p, 409, "ALREADY_IN_QUEUE"), Class::Permanent);
        p.final_codes = vec!["INTERNAL_ERROR".into()];
        p.retry_codes = vec!["QUEUE_BUSY".into()];
        p.ambiguous_codes.clear();
        assert_eq!(at(&p, 500, "INTERNAL_ERROR"), Class::Permanent);
        assert_eq!(at(&p, 409, "QUEUE_BUSY"), Class::ServerError);
        assert_eq!(at(&p, 409, "REQUEST_IN_PROGRESS"), Class::Permanent);
        // A 2xx stays success whatever its body says.
        assert_eq!(at(&p, 201, "INTERNAL_ERROR"), Class::Success);
        // The AWS SDKs' throttling codes are rate limiting on any status: a
        // 503 SlowDown is a throttling answer as a 429 is.
        let aws = crate::policy::preset("aws-standard").unwrap();
        assert_eq!(at(&aws, 503, "SlowDown"), Class::RateLimited);
        assert_eq!(at(&aws, 400, "ThrottlingException"), Class::RateLimited);
        assert_eq!(at(&aws, 503, "SERVICE_UNAVAILABLE"), Class::Unavailable);
    }

    #[test]
    fn transport_outcomes() {
        assert_eq!(classify(&Outcome::Timeout), Class::Timeout);
        assert_eq!(classify(&Outcome::Network), Class::Network);
    }
}
