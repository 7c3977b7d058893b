//! An SSE wait whose server closes the stream: through the binary against a
//! loopback stream that sets `retry: 1500` on its first connection only, so
//! the reconnection time must persist across connections (WHATWG), and each
//! reconnect must say where it was with `Last-Event-ID`.

use crate::common;
use crate::common::bin::{n0, run_scenario};

use common::TempDir;
use common::logserver::{LogServer, Seen};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Per user (path), connection 1: `retry: 1500`, event id 7, close;
/// connection 2: event id 8, no `retry:`, close; connection 3: the pass.
async fn cutting_stream() -> LogServer {
    let conns: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    LogServer::start(move |s: &Seen| {
        let mut conns = conns.lock().unwrap();
        let n = conns.entry(s.path.clone()).or_default();
        *n += 1;
        let body = match *n {
            1 => "retry: 1500\nid: 7\nevent: position\ndata: {\"position\":2}\n\n",
            2 => "id: 8\nevent: position\ndata: {\"position\":1}\n\n",
            _ => "id: 9\nevent: position\ndata: {\"position\":0,\"queue_pass\":\"P\"}\n\n",
        };
        let ct = ("content-type", "text/event-stream".to_string());
        (200, vec![ct], body.to_string())
    })
    .await
}

fn scenario(url: &str, users: u32) -> String {
    common::scenario()
        .compare(&["compliant"])
        .target(url)
        .ticket_drop(users, "100ms")
        .drain("30s")
        .table(
            r#"[[journey.steps]]
name = "wait"
path = "/stream/${user}"
sse = { event = "position", until = { pointer = "/queue_pass", exists = true }, reconnects = 3, base_delay = "50ms", max_delay = "100ms" }
max_wait = "20s"
timeout_outcome = "QUEUE_TIMEOUT""#,
        )
        .toml()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stream_reconnects_after_the_retry_it_set_with_last_event_id() {
    let server = cutting_stream().await;
    let dir = TempDir::new("sse-reconnect");
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario(&server.url(), 3)).unwrap();
    let run = run_scenario(&file, &dir.path().join("out"), &["--quiet"]).await;
    run.ok();
    assert_eq!(run.journeys(0, "succeeded"), 3, "{}", run.summary);
    let seen = server.seen();
    assert_eq!(seen.len(), 9, "three connections per user");
    let wait = run.step(0, "wait");
    assert_eq!(n0(&wait["wait"]["polls"]), 9, "{wait}");
    assert_eq!(n0(&wait["wait"]["reconnects"]), 6, "{wait}");
    let mut by_user: HashMap<&str, Vec<&Seen>> = HashMap::new();
    for s in &seen {
        by_user.entry(&s.path).or_default().push(s);
    }
    assert_eq!(by_user.len(), 3);
    for (user, conns) in by_user {
        let ids: Vec<Option<&str>> = conns.iter().map(|c| c.header("last-event-id")).collect();
        assert_eq!(ids, [None, Some("7"), Some("8")], "{user}");
        // Both gaps are the 1.5 s the first stream asked for: the second
        // stream did not repeat it, and the backoff (50-150 ms) never ran.
        for pair in conns.windows(2) {
            let gap = pair[1].at.duration_since(pair[0].at);
            assert!(gap >= Duration::from_millis(1500), "{user}: {gap:?}");
            assert!(gap < Duration::from_millis(3000), "{user}: {gap:?}");
        }
    }
}
