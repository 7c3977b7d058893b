//! The overload-control keys of `[policies.NAME]` in a scenario: a bad key
//! or value is an error at `file:line:col` naming the key (or, for a value
//! the parser refuses, the value and what it may be).

use stampede::scenario::{self, Overrides};
use std::path::Path;

const OK_LOAD: &str = "[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"1s\"\n";

/// A scenario running policy `mine` with `body` as its table (the table's
/// first key is on line 8).
fn mine(body: &str) -> String {
    format!("compare = [\"mine\"]\n{OK_LOAD}\n[policies.mine]\npreset = \"aws-standard\"\n{body}\n")
}

fn err(src: &str) -> String {
    match scenario::parse(src, Path::new("bad.toml"), &Overrides::default()) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e.to_string(),
    }
}

/// Line, column and the backquoted key of a validation error.
fn at(e: &str) -> (usize, usize, &str) {
    let rest = e.strip_prefix("bad.toml:").unwrap_or_else(|| panic!("{e}"));
    let mut parts = rest.split(':');
    let line = parts.next().unwrap().parse().unwrap();
    let col = parts.next().unwrap().parse().unwrap();
    let key = e.split('`').nth(1).unwrap_or_else(|| panic!("{e}"));
    (line, col, key)
}

#[test]
fn every_new_key_builds_from_a_scenario() {
    let src = mine(
        r#"budget = { scope = "user", cost = 10 }
throttle = { kind = "sre", k = 1.5, window = "1m", scope = "process" }
throttled_base_delay = "500ms"
backoff_multiplier = 1.6
retry_after_clamp = "2s"
pushback = true
throttling_codes = ["SlowDown"]
attempt_header = "X-Retry-Attempt"
jitter = "grpc""#,
    );
    let plan = scenario::parse(&src, Path::new("ok.toml"), &Overrides::default()).unwrap();
    let p = &plan.rounds[0].fleets[0].policy;
    assert_eq!(p.budget.unwrap().scope, stampede::policy::Scope::User);
    assert_eq!(p.throttle.unwrap().scope, stampede::policy::Scope::Process);
    assert_eq!(p.backoff_multiplier, 1.6);
    assert_eq!(
        p.attempt_header.as_ref().unwrap().0.as_str(),
        "x-retry-attempt"
    );
    assert!(p.pushback);
    for name in [
        "aws-standard",
        "aws-legacy",
        "aws-adaptive",
        "grpc",
        "sre-throttling",
    ] {
        let src = format!("compare = [\"{name}\"]\n{OK_LOAD}");
        scenario::parse(&src, Path::new("ok.toml"), &Overrides::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_bad_value_is_an_error_at_its_key() {
    for (body, key, says) in [
        (
            r#"budget = { kind = "finagle", max_tokens = 1.0 }"#,
            "policies.mine.budget.max_tokens",
            "belongs to budget kind \"token-bucket\"",
        ),
        (
            "budget = { cost = 0 }",
            "policies.mine.budget.cost",
            "must be in [1, 10000]",
        ),
        (
            r#"budget = { kind = "finagle", ttl = "2m" }"#,
            "policies.mine.budget.ttl",
            "between 1s and 60s",
        ),
        (
            r#"budget = { kind = "token-bucket" }"#,
            "policies.mine.budget",
            "needs max_tokens and token_ratio",
        ),
        (
            r#"throttle = { kind = "sre", k = 0.0 }"#,
            "policies.mine.throttle.k",
            "(0, 1000]",
        ),
        (
            r#"throttle = { kind = "sre", window = "1h" }"#,
            "policies.mine.throttle.window",
            "between 1s and 10m",
        ),
        (
            r#"throttle = { scope = "user" }"#,
            "policies.mine.throttle.kind",
            "\"sre\"",
        ),
        (
            r#"throttle = { kind = "adaptive", k = 2.0 }"#,
            "policies.mine.throttle",
            "belong to kind \"sre\"",
        ),
        (
            "throttle_enabled = true",
            "policies.mine.throttle_enabled",
            "names its kind",
        ),
        (
            "backoff_multiplier = 0.0",
            "policies.mine.backoff_multiplier",
            "(0, 100]",
        ),
        (
            r#"throttled_base_delay = "30s""#,
            "policies.mine.throttled_base_delay",
            "above max_delay",
        ),
        (
            r#"attempt_header = "Content-Length""#,
            "policies.mine.attempt_header",
            "frames the request",
        ),
        (
            r#"attempt_header = "Authorization""#,
            "policies.mine.attempt_header",
            "stampede sends itself",
        ),
        (
            r#"throttling_codes = ["REQUEST_IN_PROGRESS"]"#,
            "policies.mine.throttling_codes",
            "also in `ambiguous_codes`",
        ),
        (
            r#"retry_after_clamp = "31days""#,
            "policies.mine.retry_after_clamp",
            "at most 30days",
        ),
    ] {
        let e = err(&mine(body));
        assert_eq!(at(&e), (9, 1, key), "{body}: {e}");
        assert!(e.contains(says), "{body}: {e}");
    }
}

/// A value the parser refuses is named with what the key accepts.
#[test]
fn an_unknown_value_is_named_at_its_position() {
    for (body, names) in [
        (r#"budget = { kind = "leaky" }"#, ["leaky", "retry-quota"]),
        (r#"budget = { scope = "cluster" }"#, ["cluster", "fleet"]),
        (r#"throttle = { kind = "cubic" }"#, ["cubic", "adaptive"]),
        (r#"jitter = "twenty""#, ["twenty", "grpc"]),
        (
            r#"budget = { percentage = 0.2 }"#,
            ["percentage", "percent"],
        ),
        (r#"attempt_header = "X Retry""#, ["X Retry", "header name"]),
    ] {
        let e = err(&mine(body));
        assert!(e.starts_with("bad.toml:9:"), "{body}: {e}");
        for n in names {
            assert!(e.contains(n), "{body}: {e}");
        }
    }
}

/// The hedging and pacing keys: built from a scenario, and a bad value is
/// an error at its key, never a panic.
#[test]
fn hedge_and_rate_limit_pacing_keys() {
    let src = mine(
        r#"hedge = { after = "10ms", max = 2 }
rate_limit_pacing = { scope = "fleet" }"#,
    );
    let plan = scenario::parse(&src, Path::new("ok.toml"), &Overrides::default()).unwrap();
    let p = &plan.rounds[0].fleets[0].policy;
    let h = p.hedge.expect("hedge");
    assert_eq!(h.max, 2);
    assert_eq!(h.after.to_string(), "10ms");
    assert_eq!(
        p.rate_limit_pacing.map(|r| r.scope),
        Some(stampede::policy::Scope::Fleet)
    );
    for name in ["hedged", "rate-limit-aware"] {
        let src = format!("compare = [\"{name}\"]\n{OK_LOAD}");
        scenario::parse(&src, Path::new("ok.toml"), &Overrides::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (body, key, says) in [
        (
            "hedge = { max = 0 }",
            "policies.mine.hedge.max",
            "between 1 and 5",
        ),
        (
            r#"hedge = { after = "0ms" }"#,
            "policies.mine.hedge.after",
            "more than 0",
        ),
        (
            r#"hedge = { fallback = "2m" }"#,
            "policies.mine.hedge.fallback",
            "at most 60s",
        ),
        (
            "hedge_enabled = false\nhedge = { max = 1 }",
            "policies.mine.hedge_enabled",
            "`hedge` table",
        ),
        (
            "rate_limit_pacing_enabled = false\nrate_limit_pacing = {}",
            "policies.mine.rate_limit_pacing_enabled",
            "table is given too",
        ),
    ] {
        let e = err(&mine(body));
        let (line, _, k) = at(&e);
        assert_eq!((line, k), (9, key), "{body}: {e}");
        assert!(e.contains(says), "{body}: {e}");
    }
    // Values the parser refuses: named with what the key accepts.
    for (body, names) in [
        (r#"hedge = { after = "p100" }"#, ["p100", "p50 to p99.9"]),
        (r#"hedge = { after = "soon" }"#, ["soon", "percentile"]),
        (r#"hedge = { delay = "1s" }"#, ["delay", "after"]),
        (
            r#"rate_limit_pacing = { scope = "cluster" }"#,
            ["cluster", "fleet"],
        ),
    ] {
        let e = err(&mine(body));
        assert!(e.starts_with("bad.toml:9:"), "{body}: {e}");
        for n in names {
            assert!(e.contains(n), "{body}: {e}");
        }
    }
}

/// The per-code lists (`retry_codes`, `final_codes`): a bad entry is an
/// error at the list's key, a value of the wrong type one at the value.
#[test]
fn per_code_lists_refuse_bad_entries() {
    let long = "A".repeat(65);
    for (body, key, says) in [
        (
            r#"retry_codes = [""]"#.to_string(),
            "policies.mine.retry_codes",
            "a code is 1 to 64 bytes",
        ),
        (
            r#"retry_codes = ["QUEUE_BUSY", ""]"#.to_string(),
            "policies.mine.retry_codes",
            "a code is 1 to 64 bytes",
        ),
        (
            format!(r#"final_codes = ["{long}"]"#),
            "policies.mine.final_codes",
            "a code is 1 to 64 bytes",
        ),
        (
            "retry_codes = [\"X\"]\nfinal_codes = [\"X\"]".to_string(),
            "policies.mine.retry_codes",
            "`X` is also in `final_codes`",
        ),
        (
            r#"final_codes = ["REQUEST_IN_PROGRESS"]"#.to_string(),
            "policies.mine.final_codes",
            "`REQUEST_IN_PROGRESS` is also in `ambiguous_codes`",
        ),
        (
            r#"retry_codes = ["SlowDown"]
throttling_codes = ["SlowDown"]"#
                .to_string(),
            "policies.mine.retry_codes",
            "also in `throttling_codes`",
        ),
    ] {
        let e = err(&mine(&body));
        assert_eq!(at(&e), (9, 1, key), "{body}: {e}");
        assert!(e.contains(says), "{body}: {e}");
    }
    // 64 bytes is a code.
    let src = mine(&format!(r#"final_codes = ["{}"]"#, "A".repeat(64)));
    let plan = scenario::parse(&src, Path::new("ok.toml"), &Overrides::default()).unwrap();
    assert_eq!(plan.rounds[0].fleets[0].policy.final_codes[0].len(), 64);
    // The wrong type: at the value's column, saying what was expected.
    for (body, col, says) in [
        ("retry_codes = [1]", 16, "expected a string"),
        (r#"final_codes = "X""#, 15, "expected a sequence"),
        (r#"final_codes = ["A", 2]"#, 21, "expected a string"),
    ] {
        let e = err(&mine(body));
        assert!(e.starts_with(&format!("bad.toml:9:{col}:")), "{body}: {e}");
        assert!(e.contains(says), "{body}: {e}");
    }
}
