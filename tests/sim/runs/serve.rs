//! The shipped staging scenario against `stampede serve --config` of the
//! same file (`[sim] api = "booking-rush"`), both through the binary on
//! loopback: every number the report gives equals what the served
//! simulator's own ledger (`GET /__sim/ledger`) says.

use super::{n, n0, run_scenario};
use crate::common::bin::Served;
use crate::common::{self, TempDir};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// `stampede serve` of a config, and its ledger read over loopback.
struct Serve(Served);

impl Serve {
    fn start(config: &Path) -> Serve {
        Serve(common::bin::serve(config, Stdio::inherit()))
    }

    /// `GET /__sim/ledger`, as JSON.
    fn ledger(&self) -> Value {
        let mut s = TcpStream::connect(self.0.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let req = format!(
            "GET /__sim/ledger HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.0.addr
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

/// `pointer` of the served ledger, and the sum of it over the report's
/// fleets (each fleet's round ledger is the difference of two readings).
fn both(served: &Value, fleets: &[&Value], pointer: &str) -> (u64, u64) {
    let s = served.pointer(pointer).map_or(0, n0);
    let r = fleets
        .iter()
        .map(|l| l.pointer(pointer).map_or(0, n0))
        .sum();
    (s, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staging_scenario_against_serve_of_the_same_file_matches_its_ledger() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/booking-rush-staging.toml");
    let serve = Serve::start(&file);
    let url = format!("http://{}", serve.0.addr);
    let dir = TempDir::new("br-serve");
    let run = run_scenario(
        &file,
        &dir.path().join("out"),
        &["--target", &url, "--ledger"],
    )
    .await;
    run.ok();
    assert_eq!(run.summary["status"], "completed");
    let served = serve.ledger();
    let fleets = [run.ledger(0), run.ledger(1)];
    let ok = |i: usize, step: &str| n0(&run.step(i, step)["outcomes"]["OK"]);
    let both_ok = |step: &str| ok(0, step) + ok(1, step);
    // What the report counted as done, against what the server did.
    for (step, pointer) in [
        ("login", "/logins"),
        ("join", "/queue/joins"),
        ("wait", "/queue/passes_issued"),
        ("reserve", "/bookings_created"),
        ("reserve", "/queue/passes_used"),
        ("confirm", "/bookings_confirmed"),
        ("release", "/bookings_released"),
    ] {
        let (s, r) = both(&served, &fleets, pointer);
        assert_eq!(s, r, "{pointer}: served vs the report's ledgers");
        assert_eq!(both_ok(step), s, "{step} OK vs served {pointer}");
    }
    // Every attempt the report made is a request the server saw (the
    // ledger reads are not the journey's and are not counted).
    let seen: u64 = (served["requests"].as_object().expect("requests"))
        .iter()
        .filter(|(ep, _)| *ep != "sim")
        .flat_map(|(_, m)| m.as_object().expect("by status").values().map(n))
        .sum();
    let attempts = n(&run.fleet(0)["attempts"]) + n(&run.fleet(1)["attempts"]);
    assert_eq!(attempts, seen, "every request the served simulator saw");
    let polls = n(&run.step(0, "wait")["wait"]["polls"]) + n(&run.step(1, "wait")["wait"]["polls"]);
    assert_eq!(polls, n(&served["queue"]["polls"]));
    for pointer in ["/duplicates", "/oversold"] {
        assert_eq!(both(&served, &fleets, pointer), (0, 0), "{pointer}");
    }
    assert_eq!(run.journeys(0, "started") + run.journeys(1, "started"), 40);
    assert_eq!(
        both_ok("confirm") + both_ok("release"),
        40,
        "every buyer finished"
    );
}

/// `stampede serve --config` of a 20-buyer polling scenario (one zone of
/// 1000 seats, the release worker every 50 ms; `release` its extra
/// `[sim.booking_rush]` keys), and a run of that file against it: the
/// served ledger after the run, and the run.
async fn served_queue(tag: &str, release: &str) -> (Value, super::Run) {
    let dir = TempDir::new(tag);
    super::users(&dir, 20);
    let src = super::sim::scenario(
        &["compliant"],
        &format!("[policies.compliant]\n{}", super::sim::FAST),
        (20, "200ms"),
        release,
        "",
    );
    let file = super::write(&dir, "s.toml", &src);
    let serve = Serve::start(&file);
    let url = format!("http://{}", serve.0.addr);
    let out = dir.path().join("out");
    let run = run_scenario(&file, &out, &["--target", &url, "--ledger"]).await;
    run.ok();
    // Every buyer got a pass and left the queue before the run's last
    // reading: nothing waits, so nothing more accrues.
    assert_eq!(n0(&run.step(0, "reserve")["outcomes"]["OK"]), 20);
    (serve.ledger(), run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_unsold_while_buyers_waited_match_the_served_ledger() {
    // One pass per 50 ms for 20 buyers who arrive within 200 ms: seats
    // that could sell sit while buyers wait.
    let (served, run) = served_queue("br-unsold-slow", "release_batch = 1").await;
    let (s, r) = both(&served, &[run.ledger(0)], "/queue/unsold_while_waiting");
    assert_eq!(s, r, "served vs the report's ledger");
    assert!(r > 0, "{}", run.ledger(0));
    // Bounds from the server's own times in queue: while the longest
    // waiter waited (less one release interval) at least 1000 - 20 seats
    // were on sale; no more than 1000 seats for every waiter's wait plus
    // a generous interval each.
    let q = &served["queue"];
    assert_eq!(n(&q["passes_issued"]), 20);
    let tiq = &q["time_in_queue_ms"];
    let (max, sum) = (n(&tiq["max"]), n(&tiq["sum"]));
    let lower = 980 * max.saturating_sub(50) / 1000;
    let upper = 1000 * (sum + 20 * 500) / 1000;
    assert!(
        (lower.saturating_sub(1)..=upper).contains(&r),
        "{r} not in [{lower}, {upper}]: {q}"
    );
    let slow = r;
    // Everyone let out at every run (the default: as many as max_passes):
    // nobody is left waiting after a run, nothing is counted.
    let (served, run) = served_queue("br-unsold-fast", "").await;
    let (s, r) = both(&served, &[run.ledger(0)], "/queue/unsold_while_waiting");
    assert_eq!((s, r), (0, 0), "{}", run.ledger(0));
    assert!(r < slow);
    assert_eq!(n(&served["queue"]["passes_issued"]), 20);
}
