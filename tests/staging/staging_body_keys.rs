//! `${idempotency_key}` in a body, through the binary: on every attempt the
//! key in the body is the `X-Idempotency-Key` the request carried, the same
//! on every retry under the `same` key policy (compliant) and a new one on
//! every attempt under `fresh` (fresh-key, naive). A loopback server logs
//! bodies and headers and fails each user's first two attempts with a 500.

use crate::common;
use crate::common::bin::{n0, run_scenario};

use common::TempDir;
use common::logserver::{LogServer, Seen};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

const USERS: usize = 4;
/// 500s each user gets before its booking is made.
const FAILURES: u32 = 2;

fn body_json(s: &Seen) -> serde_json::Value {
    serde_json::from_str(&s.body).unwrap_or_default()
}

/// Each user's first `FAILURES` bookings answer 500 `INTERNAL_ERROR`.
async fn flaky_bookings() -> LogServer {
    let tries: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    LogServer::start(move |s: &Seen| {
        let user = body_json(s)["user"].as_str().unwrap_or("").to_string();
        let mut tries = tries.lock().unwrap();
        let t = tries.entry(user).or_default();
        *t += 1;
        let ct = ("content-type", "application/json".to_string());
        if *t <= FAILURES {
            let flat = r#"{"error":"boom","code":"INTERNAL_ERROR"}"#;
            (500, vec![ct], flat.into())
        } else {
            (201, vec![ct], r#"{"booking_id":"B"}"#.into())
        }
    })
    .await
}

fn scenario(url: &str, preset: &str) -> String {
    common::scenario()
        .compare(&["fleet"])
        .target(url)
        .target_key("idempotency_header", "\"X-Idempotency-Key\"")
        .ticket_drop(USERS as u32, "100ms")
        .drain("20s")
        .table(&format!(
            "[policies.fleet]\npreset = \"{preset}\"\nbase_delay = \"20ms\"\nmax_delay = \"50ms\""
        ))
        .table(
            r#"[[journey.steps]]
name = "book"
method = "POST"
path = "/book"
idempotent = true
body = '{"user":"${user}","idempotency_key":"${idempotency_key}"}'
expect_status = [201]"#,
        )
        .toml()
}

/// One run of `preset` against a fresh server: each user's keys in the
/// order its attempts arrived, after checking body key == header key.
async fn keys_per_user(preset: &str) -> BTreeMap<String, Vec<String>> {
    let server = flaky_bookings().await;
    let dir = TempDir::new("body-keys");
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario(&server.url(), preset)).unwrap();
    let run = run_scenario(&file, &dir.path().join("out"), &["--quiet"]).await;
    run.ok();
    assert_eq!(
        run.journeys(0, "succeeded"),
        USERS as u64,
        "{preset}: {}",
        run.summary
    );
    let book = run.step(0, "book");
    let per_user = u64::from(FAILURES + 1);
    assert_eq!(
        n0(&book["attempts"]),
        USERS as u64 * per_user,
        "{preset}: {book}"
    );
    assert_eq!(
        n0(&book["retries"]),
        USERS as u64 * u64::from(FAILURES),
        "{preset}"
    );
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in server.seen() {
        let body = body_json(&s);
        let in_body = body["idempotency_key"].as_str().unwrap_or("").to_string();
        let header = s.header("x-idempotency-key").unwrap_or("").to_string();
        assert!(!header.is_empty(), "{preset}: no key header: {s:?}");
        assert_eq!(in_body, header, "{preset}: body key vs header");
        let user = body["user"].as_str().unwrap_or("").to_string();
        keys.entry(user).or_default().push(header);
    }
    assert_eq!(keys.len(), USERS, "{preset}: {keys:?}");
    for (user, k) in &keys {
        assert_eq!(k.len() as u64, per_user, "{preset}: {user}: {k:?}");
    }
    // No two users ever share a key.
    let all: BTreeSet<&String> = keys.values().flatten().collect();
    let distinct_users: usize = keys
        .values()
        .map(|k| k.iter().collect::<BTreeSet<_>>().len())
        .sum();
    assert_eq!(all.len(), distinct_users, "{preset}: a key crossed users");
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_key_is_the_header_key_same_on_retries_for_compliant() {
    for (user, k) in keys_per_user("compliant").await {
        let distinct: BTreeSet<&String> = k.iter().collect();
        assert_eq!(
            distinct.len(),
            1,
            "{user}: one key for the operation: {k:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_key_is_the_header_key_new_on_every_attempt_for_fresh_and_naive() {
    for preset in ["fresh-key", "naive"] {
        for (user, k) in keys_per_user(preset).await {
            let distinct: BTreeSet<&String> = k.iter().collect();
            assert_eq!(distinct.len(), k.len(), "{preset}: {user}: {k:?}");
        }
    }
}
