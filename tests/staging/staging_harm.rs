//! Harm metrics without the simulator's ledger: what the client knows about
//! its own retries, as gates against any target, checked against what a
//! logging server saw.

use crate::common;

use common::logserver::{LogServer, Seen};
use stampede::engine::Control;
use stampede::scenario::{self, Overrides};
use std::path::Path;
use std::time::Duration;

fn src(url: &str, policy: &str, gate: &str) -> String {
    // Only the fleet that runs it may define it (an unused policy is an error).
    let fast = if policy == "fast" {
        "[policies.fast]\npreset = \"compliant\"\nlimits = { service_unavailable = 1 }"
    } else {
        ""
    };
    format!(
        r#"
compare = ["{policy}"]
gates = ["{policy}.{gate}"]
[target]
url = "{url}"
[load]
model = "ticket-drop"
users = 1
over = "10ms"
drain = "30s"
{fast}
[journey]
[[journey.steps]]
name = "book"
method = "POST"
path = "/book"
body = "{{}}"
idempotent = true
"#
    )
}

/// Requests (after the first) whose Idempotency-Key differs from the one
/// before, and requests that arrived within `wait` of the one before
/// (every answer was an immediate 503 with `Retry-After: 1`).
fn server_view(seen: &[Seen], wait: Duration) -> (u64, u64) {
    let mut changed = 0;
    let mut early = 0;
    for w in seen.windows(2) {
        changed += u64::from(w[0].header("idempotency-key") != w[1].header("idempotency-key"));
        early += u64::from(w[1].at.duration_since(w[0].at) < wait);
    }
    (changed, early)
}

async fn run(src: &str) -> stampede::report::Report {
    let plan = scenario::parse(src, Path::new("tests/inline.toml"), &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}"));
    stampede::run::execute(&plan, &Control::default(), None)
        .await
        .expect("run")
        .report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_keys_after_a_503_and_retries_inside_retry_after_are_counted() {
    let busy =
        || LogServer::start(|_| (503, vec![("retry-after", "1".to_string())], String::new()));
    // Naive: immediate retries, a new key each time.
    let server = busy().await;
    let r = run(&src(
        &server.url(),
        "naive",
        "key_changed_after_ambiguous == 0",
    ))
    .await;
    let c = &r.results[0];
    let seen = server.seen();
    assert_eq!(seen.len() as u64, c.counts.attempts);
    assert!(c.counts.retries >= 2, "{c:?}");
    let (changed, early) = server_view(&seen, Duration::from_millis(900));
    assert_eq!(c.harm.key_changed_after_ambiguous, changed);
    assert_eq!(c.harm.key_changed_after_ambiguous, c.counts.retries);
    assert_eq!(c.harm.sent_while_told_to_wait, early);
    assert_eq!(c.harm.sent_while_told_to_wait, c.counts.retries);
    assert_eq!(c.harm.early_retries, c.counts.retries);
    assert!(!r.gates[0].passed, "the gate catches it without a ledger");
    assert!(r.results[0].ledger.is_none());

    // Compliant: waits the Retry-After, keeps the key.
    let server = busy().await;
    let r = run(&src(&server.url(), "fast", "sent_while_told_to_wait == 0")).await;
    let c = &r.results[0];
    let seen = server.seen();
    assert_eq!((seen.len(), c.counts.attempts), (2, 2));
    assert_eq!(server_view(&seen, Duration::from_millis(900)), (0, 0));
    assert_eq!(
        (
            c.harm.key_changed_after_ambiguous,
            c.harm.sent_while_told_to_wait,
            c.harm.early_retries
        ),
        (0, 0, 0)
    );
    assert!(r.gates[0].passed, "{:?}", r.gates[0]);
}

#[test]
fn ledger_gates_need_a_ledger_at_validate_time() {
    let src = src("http://127.0.0.1:9", "naive", "duplicates == 0")
        .replace("[target]\n", "[target]\nledger = false\n");
    let e = scenario::parse(&src, Path::new("t.toml"), &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.toml:3:1: `gates[0]`"), "{e}");
    assert!(e.contains("needs a simulator's ledger"), "{e}");
    // The client-side counts are fine against the same target.
    let ok = src.replace("duplicates == 0", "key_changed_after_ambiguous == 0");
    assert!(scenario::parse(&ok, Path::new("t.toml"), &Overrides::default()).is_ok());
}
