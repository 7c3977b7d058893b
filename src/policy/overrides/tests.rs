use super::*;
use crate::policy::RetryLimits;

fn parse(src: &str) -> PolicyOverrides {
    toml::from_str(src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn build(src: &str) -> Result<RetryPolicy, PolicyError> {
    parse(src).build("custom")
}

fn key_of(r: Result<RetryPolicy, PolicyError>) -> &'static str {
    match r {
        Err(PolicyError::Invalid { key, .. }) => key,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn empty_table_is_compliant_renamed() {
    let p = build("").unwrap();
    let mut want = preset("compliant").unwrap();
    want.name = "custom".into();
    assert_eq!(p, want);
}

#[test]
fn preset_is_the_starting_point() {
    let p = build(r#"preset = "naive""#).unwrap();
    assert_eq!(p.name, "custom");
    assert_eq!(p.retry, RetryScope::Everything);
    assert_eq!(p.sin, preset("naive").unwrap().sin);
}

#[test]
fn unknown_preset_is_an_error() {
    assert!(matches!(
        build(r#"preset = "nope""#),
        Err(PolicyError::UnknownPreset(n, _)) if n == "nope"
    ));
}

#[test]
fn every_scalar_field_overrides() {
    let p = build(
        r#"
        sin = "custom sin"
        retry = "everything"
        backoff = "constant"
        base_delay = "250ms"
        max_delay = "2s"
        jitter = "decorrelated"
        honor_retry_after = false
        max_retry_after = "5s"
        key_reuse = "fresh"
        request_timeout = "1500ms"
        precheck = false
        abandon_after = "4s"
        max_resubmits = 2
        "#,
    )
    .unwrap();
    assert_eq!(p.sin, "custom sin");
    assert_eq!(p.retry, RetryScope::Everything);
    assert_eq!(p.backoff, BackoffKind::Constant);
    assert_eq!(p.base_delay, Duration::from_millis(250));
    assert_eq!(p.max_delay, Duration::from_secs(2));
    assert_eq!(p.jitter, Jitter::Decorrelated);
    assert!(!p.honor_retry_after);
    assert_eq!(p.max_retry_after, Duration::from_secs(5));
    assert_eq!(p.key_reuse, KeyReuse::Fresh);
    assert_eq!(p.request_timeout, Duration::from_millis(1500));
    assert!(!p.precheck);
    assert_eq!(p.abandon_after, Some(Duration::from_secs(4)));
    assert_eq!(p.max_resubmits, 2);
}

#[test]
fn partial_limits_keep_the_rest() {
    let p = build("limits = { too_many_requests = 8, other = 1 }").unwrap();
    assert_eq!(
        p.limits,
        RetryLimits {
            too_many_requests: 8,
            internal_error: 3,
            service_unavailable: 3,
            network: 3,
            other: 1,
        }
    );
}

#[test]
fn breaker_shapes() {
    let p = build(r#"breaker = { open_for = "1m" }"#).unwrap();
    assert_eq!(
        p.breaker,
        Some(BreakerConfig {
            threshold: 5,
            open_for: Duration::from_secs(60),
            counts: crate::policy::BreakerCounts::COMPLIANT,
        })
    );
    let p = build("breaker_enabled = false").unwrap();
    assert_eq!(p.breaker, None);
    // Adding a breaker to a preset without one starts from the guidelines'.
    let p = build("preset = \"naive\"\nbreaker_enabled = true").unwrap();
    assert_eq!(p.breaker, Some(GUIDELINE_BREAKER));
    let p = build("preset = \"naive\"\nbreaker = { threshold = 2 }").unwrap();
    assert_eq!(p.breaker.unwrap().threshold, 2);
    assert_eq!(
        key_of(build(
            "breaker_enabled = false\nbreaker = { threshold = 2 }"
        )),
        "breaker_enabled"
    );
    assert_eq!(
        key_of(build("breaker = { threshold = 0 }")),
        "breaker.threshold"
    );
}

#[test]
fn budget_shapes() {
    let p = build("budget = { max_tokens = 10.0, token_ratio = 0.1 }").unwrap();
    assert_eq!(
        p.budget,
        Some(crate::policy::Budget {
            scope: crate::policy::Scope::Fleet,
            kind: crate::policy::BudgetKind::TokenBucket {
                max_tokens: 10.0,
                token_ratio: 0.1
            }
        })
    );
    assert_eq!(key_of(build("budget_enabled = true")), "budget_enabled");
    assert_eq!(
        key_of(build(
            "budget_enabled = false\nbudget = { max_tokens = 1.0, token_ratio = 0.5 }"
        )),
        "budget_enabled"
    );
    assert_eq!(build("budget_enabled = false").unwrap().budget, None);
    // A token bucket needs both fields.
    assert_eq!(key_of(build("budget = { max_tokens = 1.0 }")), "budget");
}

#[test]
fn validation_errors_name_the_key() {
    let cases = [
        (r#"base_delay = "0s""#, "base_delay"),
        (
            "backoff = \"constant\"\nbase_delay = \"0s\"\nmax_delay = \"0s\"",
            "base_delay",
        ),
        (r#"max_delay = "500ms""#, "max_delay"),
        (r#"request_timeout = "0s""#, "request_timeout"),
        (
            "limits = { too_many_requests = 101 }",
            "limits.too_many_requests",
        ),
        (
            "limits = { internal_error = 1000 }",
            "limits.internal_error",
        ),
        (
            "limits = { service_unavailable = 101 }",
            "limits.service_unavailable",
        ),
        ("limits = { network = 101 }", "limits.network"),
        ("limits = { other = 101 }", "limits.other"),
        ("max_resubmits = 101", "max_resubmits"),
        (
            "budget = { max_tokens = 0.0, token_ratio = 0.1 }",
            "budget.max_tokens",
        ),
        (
            "budget = { max_tokens = -1.0, token_ratio = 0.1 }",
            "budget.max_tokens",
        ),
        (
            "budget = { max_tokens = inf, token_ratio = 0.1 }",
            "budget.max_tokens",
        ),
        (
            "budget = { max_tokens = nan, token_ratio = 0.1 }",
            "budget.max_tokens",
        ),
        (
            "budget = { max_tokens = 10.0, token_ratio = 0.0 }",
            "budget.token_ratio",
        ),
        (
            "budget = { max_tokens = 10.0, token_ratio = 11.0 }",
            "budget.token_ratio",
        ),
        (
            "budget = { max_tokens = 10.0, token_ratio = nan }",
            "budget.token_ratio",
        ),
        (r#"abandon_after = "0s""#, "abandon_after"),
    ];
    for (src, key) in cases {
        assert_eq!(key_of(build(src)), key, "{src}");
    }
}

#[test]
fn boundaries_that_are_allowed() {
    build("limits = { too_many_requests = 100 }").unwrap();
    build("budget = { max_tokens = 10.0, token_ratio = 10.0 }").unwrap();
    build(r#"max_delay = "1s""#).unwrap();
    // Immediate backoff does not need a base delay.
    build("backoff = \"immediate\"\nbase_delay = \"0s\"").unwrap();
}

#[test]
fn unknown_keys_are_rejected() {
    for src in [
        "retries = 3",
        "limits = { teapot = 1 }",
        "breaker = { threshold = 5, half_open_probes = 2 }",
        "budget = { max_tokens = 1.0, token_ratio = 0.5, x = 1 }",
    ] {
        assert!(toml::from_str::<PolicyOverrides>(src).is_err(), "{src}");
    }
}

#[test]
fn bad_values_are_rejected_by_serde() {
    for src in [
        r#"jitter = "sometimes""#,
        r#"base_delay = "soon""#,
        r#"retry = "Guideline""#,
        "max_resubmits = -1",
    ] {
        assert!(toml::from_str::<PolicyOverrides>(src).is_err(), "{src}");
    }
}

#[test]
fn round_trips_through_toml() {
    let o = parse(
        r#"
        preset = "fresh-key"
        jitter = "equal"
        base_delay = "200ms"
        limits = { network = 1 }
        breaker = { open_for = "10s" }
        "#,
    );
    let text = toml::to_string(&o).unwrap();
    assert_eq!(parse(&text), o);
    assert!(
        !text.contains("max_delay"),
        "unset fields are omitted:\n{text}"
    );
}

#[test]
fn code_lists_are_set_checked_and_disjoint() {
    let p = build("final_codes = [\"ALREADY_IN_QUEUE\"]\nretry_codes = [\"QUEUE_BUSY\"]").unwrap();
    assert_eq!(p.final_codes, vec!["ALREADY_IN_QUEUE"]);
    assert_eq!(p.retry_codes, vec!["QUEUE_BUSY"]);
    assert_eq!(
        p.ambiguous_codes,
        vec!["REQUEST_IN_PROGRESS"],
        "kept from the preset"
    );
    let p = build("ambiguous_codes = []").unwrap();
    assert!(p.ambiguous_codes.is_empty());
    assert_eq!(key_of(build("retry_codes = [\"\"]")), "retry_codes");
    assert_eq!(
        key_of(build("final_codes = [\"REQUEST_IN_PROGRESS\"]")),
        "final_codes",
        "also in ambiguous_codes"
    );
}

#[test]
fn the_breaker_counts_what_it_is_told() {
    use crate::policy::{BreakerCount, Class};
    let p = build("").unwrap();
    let counts = p.breaker.unwrap().counts;
    assert!(counts.counts(Class::ServerError) && counts.counts(Class::Timeout));
    assert!(
        !counts.counts(Class::RateLimited),
        "429 paces, it does not trip"
    );
    let p = build(r#"breaker = { counts = ["429", "5xx"] }"#).unwrap();
    let counts = p.breaker.unwrap().counts;
    assert!(counts.has(BreakerCount::S429) && counts.has(BreakerCount::S5xx));
    assert!(!counts.counts(Class::Network));
    assert_eq!(
        serde_json::to_value(counts).unwrap(),
        serde_json::json!(["5xx", "429"])
    );
    assert!(toml::from_str::<PolicyOverrides>(r#"breaker = { counts = ["4xx"] }"#).is_err());
}
