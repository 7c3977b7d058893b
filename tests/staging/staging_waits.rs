//! Wait steps against a logging loopback queue: the polls the report calls
//! early are the ones the server itself saw arrive sooner than the wait its
//! previous not-ready answer asked for (here the seconds at a JSON pointer,
//! with no Retry-After at all).

use crate::common;

use common::TempDir;
use common::logserver::{LogServer, Seen};
use stampede::engine::Control;
use stampede::report::FleetResult;
use stampede::scenario::{self, Overrides};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Not-ready answers a user gets before the ready one.
const NOT_READY: u32 = 4;

/// A queue that answers every user's first `NOT_READY` polls with
/// `{"is_ready":false,"estimated_wait_seconds":ask}`, then a ready one.
async fn queue(ask: f64) -> LogServer {
    let polls: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    LogServer::start(move |s: &Seen| {
        let mut polls = polls.lock().unwrap();
        let n = polls.entry(s.path.clone()).or_default();
        *n += 1;
        let body = if *n <= NOT_READY {
            format!(r#"{{"is_ready":false,"estimated_wait_seconds":{ask}}}"#)
        } else {
            r#"{"is_ready":true,"queue_pass":"P"}"#.to_string()
        };
        (200, vec![("content-type", "application/json".into())], body)
    })
    .await
}

/// `users` journeys of one wait step polling `/q/${user}` with `interval`.
fn scenario(url: &str, users: u32, interval: &str) -> String {
    common::scenario()
        .compare(&["compliant"])
        .target(url)
        .ticket_drop(users, "100ms")
        .drain("20s")
        .steps(&format!(
            r#"[{{ name = "wait", path = "/q/${{user}}", until = {{ pointer = "/is_ready", equals = true }}, poll_interval = {interval}, max_wait = "10s", timeout_outcome = "QUEUE_TIMEOUT" }}]"#
        ))
        .toml()
}

/// Polls the server saw sooner than `asked` after the same user's previous one.
fn early_seen(seen: &[Seen], asked: Duration) -> u64 {
    let mut last: HashMap<&str, std::time::Instant> = HashMap::new();
    let mut early = 0;
    for s in seen {
        if let Some(prev) = last.insert(&s.path, s.at) {
            early += u64::from(s.at.duration_since(prev) < asked);
        }
    }
    early
}

async fn run(server: &LogServer, users: u32, interval: &str) -> FleetResult {
    let d = TempDir::new("waits");
    let src = scenario(&server.url(), users, interval);
    let plan = scenario::parse(&src, &d.path().join("s.toml"), &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}\n{src}"));
    let report = stampede::run::execute(&plan, &Control::default(), None)
        .await
        .expect("run")
        .report;
    report.results.into_iter().next().expect("one fleet")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_capped_below_the_pointer_ask_are_early_as_the_server_saw() {
    // The server asks for 400 ms; the scenario caps the wait at 100 ms.
    let server = queue(0.4).await;
    let capped = r#"{ from = "/estimated_wait_seconds", min = "50ms", max = "100ms" }"#;
    let c = run(&server, 4, capped).await;
    let seen = server.seen();
    assert_eq!(c.counts.journeys.succeeded, 4, "{:?}", c.counts.outcomes);
    let wait = c.steps.iter().find(|s| s.name == "wait").expect("wait");
    let w = wait.wait.as_ref().expect("wait stats");
    assert_eq!(w.polls, seen.len() as u64, "polls reported vs seen");
    assert_eq!(w.polls, u64::from(4 * (NOT_READY + 1)));
    let early = early_seen(&seen, Duration::from_millis(400));
    assert_eq!(
        early,
        u64::from(4 * NOT_READY),
        "every capped poll came early"
    );
    assert_eq!(w.early_polls, early, "early polls reported vs seen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_that_wait_what_the_pointer_asked_are_not_early() {
    // The server asks for 200 ms; the scenario's floor and cap allow it.
    let server = queue(0.2).await;
    let honoured = r#"{ from = "/estimated_wait_seconds", min = "50ms", max = "1s" }"#;
    let c = run(&server, 4, honoured).await;
    let seen = server.seen();
    assert_eq!(c.counts.journeys.succeeded, 4, "{:?}", c.counts.outcomes);
    let wait = c.steps.iter().find(|s| s.name == "wait").expect("wait");
    let w = wait.wait.as_ref().expect("wait stats");
    assert_eq!(w.polls, seen.len() as u64);
    assert_eq!(early_seen(&seen, Duration::from_millis(200)), 0);
    assert_eq!(w.early_polls, 0, "polls sent when asked are not early");
    // Each wait lasted the four asked-for intervals at least.
    let p50 = wait.operation_latency_ms.p50;
    assert!(p50 >= 800.0, "{p50}");
}
