use super::*;

fn key_of(r: Result<Budget, PolicyError>) -> &'static str {
    match r {
        Err(PolicyError::Invalid { key, .. }) => key,
        other => panic!("{other:?}"),
    }
}

fn table(src: &str) -> BudgetTable {
    toml::from_str(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn each_kind_with_its_published_defaults() {
    let b = Budget::build(&table(r#"kind = "finagle""#), None).unwrap();
    assert_eq!(b.kind, FINAGLE);
    assert_eq!(b.scope, Scope::Fleet);
    let b = Budget::build(&table(r#"kind = "retry-quota""#), None).unwrap();
    assert_eq!(b.kind, BudgetKind::RetryQuota(QuotaCosts::STANDARD));
    // A token bucket has no defaults.
    assert_eq!(
        key_of(Budget::build(&table("max_tokens = 10.0"), None)),
        "budget"
    );
    let b = Budget::build(&table("max_tokens = 10.0\ntoken_ratio = 0.1"), None).unwrap();
    assert_eq!(
        b.kind,
        BudgetKind::TokenBucket {
            max_tokens: 10.0,
            token_ratio: 0.1
        }
    );
}

#[test]
fn unset_keys_keep_the_presets_budget_of_the_same_kind() {
    let base = Budget {
        scope: Scope::Fleet,
        kind: BudgetKind::RetryQuota(QuotaCosts::LEGACY),
    };
    let b = Budget::build(&table(r#"scope = "user""#), Some(base)).unwrap();
    assert_eq!(b.scope, Scope::User);
    assert_eq!(b.kind, base.kind);
    let b = Budget::build(&table("cost = 7"), Some(base)).unwrap();
    assert_eq!(
        b.kind,
        BudgetKind::RetryQuota(QuotaCosts {
            cost: 7,
            ..QuotaCosts::LEGACY
        })
    );
    // Another kind starts from its own defaults, keeping the scope.
    let b = Budget::build(&table(r#"kind = "finagle""#), Some(base)).unwrap();
    assert_eq!(b.kind, FINAGLE);
}

#[test]
fn a_key_of_another_kind_or_a_bad_value_names_the_key() {
    let cases = [
        (
            r#"kind = "finagle"
max_tokens = 1.0"#,
            "budget.max_tokens",
        ),
        (
            "percent = 0.2\nmax_tokens = 1.0\ntoken_ratio = 0.1",
            "budget.percent",
        ),
        (
            r#"kind = "token-bucket"
quota = 5"#,
            "budget.quota",
        ),
        (
            r#"kind = "finagle"
percent = -0.1"#,
            "budget.percent",
        ),
        (
            r#"kind = "finagle"
ttl = "61s""#,
            "budget.ttl",
        ),
        (
            r#"kind = "finagle"
ttl = "500ms""#,
            "budget.ttl",
        ),
        (
            r#"kind = "retry-quota"
quota = 0"#,
            "budget.quota",
        ),
        (
            r#"kind = "retry-quota"
cost = 0"#,
            "budget.cost",
        ),
        (
            r#"kind = "retry-quota"
timeout_cost = 20000"#,
            "budget.timeout_cost",
        ),
        ("max_tokens = 0.0\ntoken_ratio = 0.1", "budget.max_tokens"),
        ("max_tokens = 1.0\ntoken_ratio = 2.0", "budget.token_ratio"),
    ];
    for (src, key) in cases {
        assert_eq!(key_of(Budget::build(&table(src), None)), key, "{src}");
    }
    // Unknown keys and values are refused by the parser, naming them.
    let e = toml::from_str::<BudgetTable>(r#"kind = "leaky""#).unwrap_err();
    assert!(e.to_string().contains("leaky"), "{e}");
    assert!(toml::from_str::<BudgetTable>("percentage = 0.2").is_err());
    let e = toml::from_str::<BudgetTable>(r#"scope = "cluster""#).unwrap_err();
    assert!(e.to_string().contains("cluster"), "{e}");
}

#[test]
fn serialized_and_read_back_unchanged_and_old_reports_still_read() {
    for kind in [
        BudgetKind::TokenBucket {
            max_tokens: 10.0,
            token_ratio: 0.1,
        },
        FINAGLE,
        BudgetKind::RetryQuota(QuotaCosts::LEGACY),
    ] {
        let b = Budget {
            scope: Scope::User,
            kind,
        };
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Budget>(&json).unwrap(), b, "{json}");
    }
    // A report written before kinds and scopes existed.
    let old: Budget = serde_json::from_str(r#"{"max_tokens":10.0,"token_ratio":0.1}"#).unwrap();
    assert_eq!(old.scope, Scope::Fleet);
}

#[test]
fn a_fleet_split_over_shards_keeps_its_share_of_the_capacity() {
    let quota = Budget {
        scope: Scope::Fleet,
        kind: BudgetKind::RetryQuota(QuotaCosts::STANDARD),
    };
    let s = BudgetState::new(&quota, Scope::Fleet.share(4));
    // 125 of 500: 8 retries at 14 (112), not a 9th.
    let paid = (0..100)
        .take_while(|_| s.try_retry(Class::ServerError, Duration::ZERO).is_some())
        .count();
    assert_eq!(paid, 8);
    let tokens = BudgetState::new(
        &Budget {
            scope: Scope::Fleet,
            kind: BudgetKind::TokenBucket {
                max_tokens: 10.0,
                token_ratio: 0.1,
            },
        },
        0.5,
    );
    match &tokens {
        BudgetState::Tokens(t) => assert_eq!(t.tokens(), 5.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn answers_move_each_kind_as_published() {
    let f = BudgetState::new(
        &Budget {
            scope: Scope::User,
            kind: FINAGLE,
        },
        1.0,
    );
    // Finagle counts requests, not answers: answers leave it alone.
    f.answered(Answered::Failure);
    f.answered(Answered::Success { charged: 0 });
    for _ in 0..100 {
        assert_eq!(f.try_retry(Class::ServerError, Duration::ZERO), Some(0));
    }
    assert_eq!(f.try_retry(Class::ServerError, Duration::ZERO), None);
    for _ in 0..5 {
        f.request(Duration::ZERO);
    }
    assert_eq!(f.try_retry(Class::ServerError, Duration::ZERO), Some(0));
}
