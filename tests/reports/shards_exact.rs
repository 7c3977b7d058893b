//! Sharding is exact: one scenario run once unsharded and once as 4 shard
//! processes (at once, one shared `stampede serve` target, deterministic:
//! enough seats, no faults, no rate limit), merged; operation and attempt
//! counts equal the single run's, and the shards' arrivals partition it.
//! The merged ledger is the target's own count of the shards' round.

use crate::common;
use common::TempDir;
use common::bin::Served;

use std::path::Path;
use std::process::{Child, Stdio};

/// 120 buyers over a second, four tickets each at most, against a simulator
/// with no per-user rate limit.
fn exact() -> crate::common::scenario::Scenario {
    crate::common::scenario()
        .name("exact")
        .seed(3)
        .compare(&["compliant"])
        .gates(&["compliant.amplification >= 1"])
        .ticket_drop(120, "1s")
        .drain("10s")
        .event("E1", &["A"])
        .quantity(1)
        .table("[sim]\nseed = 3\nmax_tickets_per_user = 4\n[[sim.events]]\nid = \"E1\"\nzones = [{ id = \"A\", seats = 5000 }]")
        .no_sim_rate_limit()
}

/// The shared target's ledger now (a plain GET on loopback).
fn target_ledger(url: &str) -> stampede::sim::Ledger {
    use std::io::{Read, Write};
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(authority).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "GET /__sim/ledger HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    serde_json::from_value(v.get("data").cloned().unwrap_or(v)).unwrap()
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// The load's requests by endpoint and status (not the `/__sim` reads).
fn load_requests(l: &stampede::sim::Ledger) -> Vec<(String, u16, u64)> {
    l.requests
        .iter()
        .filter(|(ep, _)| *ep != "sim")
        .flat_map(|(ep, by)| by.iter().map(|(s, n)| (ep.clone(), *s, *n)))
        .filter(|(_, _, n)| *n > 0)
        .collect()
}

/// `shard`: (I/N, the common --start-at in Unix seconds, one value for all shards).
fn run(scenario: &Path, url: &str, out: &Path, shard: Option<(&str, u64)>) -> Child {
    let mut c = crate::common::stampede();
    c.arg("run")
        .arg(scenario)
        .args(["--target", url, "--ledger", "--quiet", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some((s, at)) = shard {
        c.args(["--shard", s, "--start-at", &at.to_string()]);
    }
    c.spawn().unwrap()
}

fn ok(child: Child) {
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A temporary folder with the scenario written into it, and a `stampede
/// serve` of that scenario: (folder, scenario path, server, its URL).
fn target(name: &str) -> (TempDir, std::path::PathBuf, Served, String) {
    let dir = TempDir::new(name);
    let scenario = dir.path().join("exact.toml");
    exact().write(&scenario);
    let serve = crate::common::bin::serve(&scenario, Stdio::null());
    let url = serve.url();
    (dir, scenario, serve, url)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn four_shards_merged_equal_one_run() {
    let (dir, scenario, _serve, url) = target("shards");
    let single = dir.path().join("single");
    ok(run(&scenario, &url, &single, None));

    let before = target_ledger(&url);
    let shards: Vec<_> = (0..4)
        .map(|i| dir.path().join(format!("shard-{i}")))
        .collect();
    // One common start, as shards-local.sh and the Job give (computed once:
    // each shard computing its own could straddle a second and start a
    // second apart): every shard reads the shared ledger before any load.
    let at = unix_now() + 3;
    let children: Vec<Child> = shards
        .iter()
        .enumerate()
        .map(|(i, d)| run(&scenario, &url, d, Some((&format!("{i}/4"), at))))
        .collect();
    children.into_iter().for_each(ok);
    let after = target_ledger(&url);
    let merged = dir.path().join("merged");
    let o = crate::common::stampede()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let load = |d: &Path| stampede::report::json::load_summary(d).unwrap();
    let one = load(&single);
    let m = load(&merged);
    let (a, b) = (&one.results[0], &m.results[0]);
    assert_eq!(a.counts.journeys.started, 120);
    assert_eq!(b.counts.journeys.started, a.counts.journeys.started);
    assert_eq!(b.counts.operations, a.counts.operations);
    assert_eq!(b.counts.attempts, a.counts.attempts);
    assert_eq!(
        b.latency.operation_latency_ms.count,
        a.latency.operation_latency_ms.count
    );
    assert_eq!(
        b.latency.attempt_latency_ms.count,
        a.latency.attempt_latency_ms.count
    );
    // The shards' queue waits (their fleet files' `queue` lines) add up:
    // one per attempt.
    assert_eq!(b.latency.queue_wait_ms.count, b.counts.attempts);
    for (x, y) in a.steps.iter().zip(&b.steps) {
        assert_eq!(
            (x.operations, x.attempts),
            (y.operations, y.attempts),
            "{}",
            x.name
        );
    }
    // Every shard ran its even quarter of the schedule.
    for (i, d) in shards.iter().enumerate() {
        let r = load(d);
        assert_eq!(r.results[0].counts.journeys.started, 30, "shard {i}");
        assert_eq!(
            r.origin.shard.map(|s| (s.index, s.count)),
            Some((i as u32, 4))
        );
    }
    // The ledger: one shard's reading of the shared target, the one that
    // saw every shard's requests: what the target counted over the shards'
    // round, and one request per attempt the shards made.
    let ledger = b
        .ledger
        .as_ref()
        .expect("a merged ledger from the shared target");
    let counted: Vec<(String, u16, u64)> = load_requests(&after)
        .into_iter()
        .map(|(ep, s, n)| {
            let was = before
                .requests
                .get(&ep)
                .and_then(|by| by.get(&s))
                .copied()
                .unwrap_or(0);
            (ep, s, n - was)
        })
        .filter(|(_, _, n)| *n > 0)
        .collect();
    assert_eq!(load_requests(ledger), counted);
    let total: u64 = counted.iter().map(|(_, _, n)| n).sum();
    assert_eq!(total, b.counts.attempts, "one request per attempt");
    assert_eq!(
        ledger.bookings_created,
        after.bookings_created - before.bookings_created
    );
    assert_eq!(
        ledger.duplicates,
        after.duplicates - before.duplicates,
        "duplicates"
    );
    assert_eq!(ledger.zones, after.zones, "seats as the target has them");
    assert!(
        m.notes
            .iter()
            .any(|n| n.contains("'s reading of the shared target")),
        "{:?}",
        m.notes
    );
    // The merged report evaluated the scenario's gate again.
    assert_eq!(m.gates.len(), 1);
}

/// A shard that starts after the common start may read the shared target
/// after other shards' first requests: its round's ledger (after minus that
/// reading) would be short and would make the merge's readings disagree, so
/// it reads none and says why (the merge takes another shard's reading).
#[test]
fn a_late_shard_reads_no_ledger_and_says_how_late() {
    let (dir, scenario, _serve, url) = target("late-shard");
    let at = unix_now() - 2;
    let out = dir.path().join("shard-1");
    ok(run(&scenario, &url, &out, Some(("1/2", at))));
    let r = stampede::report::json::load_summary(&out).unwrap();
    assert_eq!(r.results[0].counts.journeys.started, 60);
    assert!(r.results[0].ledger.is_none(), "{:?}", r.notes);
    for want in [
        "s after --start-at",
        "ledger was read",
        "no ledger for the round",
    ] {
        assert!(
            r.notes.iter().any(|n| n.contains(want)),
            "{want}: {:?}",
            r.notes
        );
    }
}
