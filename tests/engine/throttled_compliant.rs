//! Every answer a 429 with `Retry-After: 1`: the compliant policy uses its
//! whole 429 limit (5 retries, 6 attempts) and each operation ends
//! `GAVE_UP/TOO_MANY_REQUESTS`; no user ends `BREAKER_OPEN`, because a 429
//! does not count toward the breaker by default. The same policy with
//! `breaker.counts` including `"429"` opens the breaker at the fifth 429
//! instead. Every attempt stampede counts is a request the server logged.

use crate::common;
use common::TempDir;
use common::logserver::{LogServer, envelope};

const USERS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_429_uses_the_whole_limit_and_never_opens_the_breaker() {
    let server = LogServer::start(|_| {
        (
            429,
            vec![
                ("content-type", "application/json".into()),
                ("retry-after", "1".into()),
            ],
            envelope("TOO_MANY_REQUESTS"),
        )
    })
    .await;
    let dir = TempDir::new("throttled");
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["compliant", "strict-breaker"])
        .target(&server.url())
        .ticket_drop(USERS as u32, "200ms")
        .drain("30s")
        .table(
            "[[journey.steps]]\nname = \"reserve\"\nmethod = \"POST\"\npath = \"/reserve\"\nidempotent = true",
        )
        .table(
            "[policies.strict-breaker]\npreset = \"compliant\"\nbreaker = { counts = [\"5xx\", \"network\", \"timeout\", \"429\"] }",
        )
        .write(&file);
    let out = dir.path().join("out");
    let run = common::bin::run_scenario(&file, &out, &["--quiet"]).await;
    run.ok();
    let outcomes = |i: usize| run.fleet(i)["outcomes"].clone();
    let attempts = |i: usize| run.fleet(i)["attempts"].as_u64().unwrap();

    let compliant = run.fleet(0);
    assert_eq!(compliant["name"], "compliant");
    assert_eq!(
        outcomes(0),
        serde_json::json!({ "GAVE_UP/TOO_MANY_REQUESTS": USERS }),
        "{compliant}"
    );
    assert_eq!(attempts(0), USERS * 6, "{compliant}");
    assert_eq!(compliant["breaker_opens"].as_u64(), Some(0), "{compliant}");
    assert_eq!(compliant["early_retries"].as_u64(), Some(0), "{compliant}");

    let strict = run.fleet(1);
    assert_eq!(strict["name"], "strict-breaker");
    assert_eq!(
        outcomes(1),
        serde_json::json!({ "BREAKER_OPEN": USERS }),
        "{strict}"
    );
    assert_eq!(attempts(1), USERS * 5, "{strict}");

    // The server saw exactly the attempts both fleets counted.
    let seen = server.seen();
    assert!(seen.iter().all(|r| r.path == "/reserve"));
    assert_eq!(seen.len() as u64, attempts(0) + attempts(1));
}
