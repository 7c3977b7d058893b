//! `scenarios/booking-rush-staging.toml` through the binary against the
//! loopback double of the real API, once per fleet the file compares (each
//! on a fresh double, so the double's counts are that fleet's): the funnel
//! joined -> pass -> reserved -> confirmed, time in queue, polls per wait,
//! 409s by code and every step's requests equal the double's own counts,
//! and the funnel and wait rows carry the same values in summary.json, the
//! CSV files, report.html and the console.

use crate::common;
use crate::run_binary::{BinRun, n, stampede};

use common::TempDir;
use common::booking_rush::{BookingRush, Config, Counts};
use common::logserver::Seen;
use stampede::report::format::ms;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Each step of the shipped file and the double's route label for it.
const ROUTES: [(&str, &str); 7] = [
    ("login", "POST /api/v1/auth/login"),
    ("events", "GET /api/v1/events"),
    ("join", "POST /api/v1/queue/join"),
    ("wait", "GET /api/v1/queue/position/{id}"),
    ("reserve", "POST /api/v1/bookings/reserve"),
    ("confirm", "POST /api/v1/bookings/{id}/confirm"),
    ("release", "DELETE /api/v1/bookings/{id}"),
];

/// The shipped file (and its users CSV) copied into `dir`; for a fleet
/// other than compliant, without the gates that name compliant.
fn one_fleet(policy: &str, dir: &Path) -> std::path::PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let csv = "booking-rush-users.csv";
    std::fs::copy(shipped.join(csv), dir.join(csv)).expect("users csv");
    let mut text = std::fs::read_to_string(shipped.join("booking-rush-staging.toml")).unwrap();
    if policy != "compliant" {
        let start = text.find("\ngates = [").expect("the file has gates");
        let end = start + text[start..].find("\n]\n").expect("gates end") + 3;
        text.replace_range(start..end, "\n");
    }
    let file = dir.join("booking-rush-staging.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// The shipped file as one fleet (`policy`) against a fresh double: Z1
/// sells out (6 seats for 2 each), Z2 has room, 1.5 s in the queue.
async fn shipped(policy: &str, out: &Path) -> (BookingRush, BinRun) {
    let br = BookingRush::start(Config {
        zones: vec![("Z1".into(), 6), ("Z2".into(), 100)],
        queue_wait: Duration::from_millis(1500),
        ..Config::default()
    })
    .await;
    let file = one_fleet(policy, out.parent().expect("out has a parent"));
    let url = br.url();
    let run = stampede(&file, out, &["--target", &url, "--policy", policy]).await;
    run.ok();
    (br, run)
}

/// Per buyer (its bearer token), from its join's arrival to its last poll's.
fn queue_times(seen: &[Seen]) -> Vec<Duration> {
    let mut join: BTreeMap<&str, std::time::Instant> = BTreeMap::new();
    let mut ready: BTreeMap<&str, std::time::Instant> = BTreeMap::new();
    for s in seen {
        let Some(token) = s.header("authorization") else {
            continue;
        };
        if s.path == "/api/v1/queue/join" {
            join.insert(token, s.at);
        } else if s.path.starts_with("/api/v1/queue/position/") {
            ready.insert(token, s.at);
        }
    }
    ready
        .iter()
        .map(|(t, at)| at.duration_since(join[t]))
        .collect()
}

/// Sorted durations in ms.
fn sorted_ms(d: &[Duration]) -> Vec<f64> {
    let mut v: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The report's numbers equal the double's.
fn check_against_double(policy: &str, run: &BinRun, c: &Counts, seen: &[Seen]) {
    let fleet = &run.summary["results"][0];
    // Funnel: joined -> got a pass -> reserved -> confirmed.
    let funnel: Vec<(String, u64)> = fleet["funnel"]
        .as_array()
        .expect("funnel")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or("").to_string(),
                n(&s["journeys"]),
            )
        })
        .collect();
    let want = vec![
        ("join".to_string(), c.joins),
        ("wait".to_string(), c.passes_issued),
        ("reserve".to_string(), c.bookings),
        ("confirm".to_string(), c.confirmations),
    ];
    assert_eq!(funnel, want, "{policy}: funnel vs the double {c:?}");
    assert_eq!(
        c.passes_issued, c.joins,
        "{policy}: every joined buyer got a pass"
    );
    // Every step's requests are the ones the double saw on its route.
    for (step, route) in ROUTES {
        let seen: u64 = c.by_route.get(route).map_or(0, |m| m.values().sum());
        assert_eq!(n(&run.step(step)["attempts"]), seen, "{policy}: {step}");
    }
    assert_eq!(n(&fleet["attempts"]), c.requests, "{policy}: every request");
    // 409s by code: each code the double sent on a step's route is that
    // step's outcome as often (a 409 that ends the operation) or at most
    // as often (an operation that retried its 409s ends once).
    for (step, route) in ROUTES {
        for (code, sent) in c.conflicts.get(route).into_iter().flatten() {
            let outcomes = &run.step(step)["outcomes"];
            // An operation that retried its 409s until it gave up ends as
            // `GAVE_UP/<code>`.
            let reported = n(&outcomes[code]) + n(&outcomes[format!("GAVE_UP/{code}")]);
            let retries_409 = policy == "naive";
            let ok = if retries_409 {
                reported >= 1 && reported <= *sent
            } else {
                reported == *sent
            };
            assert!(
                ok,
                "{policy}: {step} {code}: reported {reported}, sent {sent}: {outcomes}"
            );
        }
    }
    let sold_out = c.conflicts[ROUTES[4].1]["INSUFFICIENT_SEATS"];
    assert!(sold_out > 0, "{policy}: Z1 sold out");
    // Time in queue: the wait step's latency is, on the double's clock,
    // from the buyer's join to its last poll (the one that handed the pass).
    let wait = run.step("wait");
    let q = sorted_ms(&queue_times(seen));
    assert_eq!(q.len() as u64, n(&wait["operations"]));
    let lat = &wait["operation_latency_ms"];
    let (p50, p99) = (lat["p50"].as_f64().unwrap(), lat["p99"].as_f64().unwrap());
    let slack = 100.0;
    let mid = q.len() / 2;
    assert!(
        p50 >= q[mid - 1] - slack && p50 <= q[mid] + slack,
        "{policy}: p50 {p50} vs {q:?}"
    );
    assert!(
        p99 >= q[q.len() - 2] - slack && p99 <= q[q.len() - 1] + slack,
        "{policy}: p99 {p99} vs {q:?}"
    );
    // Polls per wait: the double's polls per user, as a distribution.
    let mut per_wait: BTreeMap<String, u64> = BTreeMap::new();
    for polls in c.polls_by_user.values() {
        *per_wait.entry(polls.to_string()).or_default() += 1;
    }
    let reported: BTreeMap<String, u64> = wait["wait"]["polls_per_wait"]
        .as_object()
        .expect("polls_per_wait")
        .iter()
        .map(|(k, v)| (k.clone(), n(v)))
        .collect();
    assert_eq!(reported, per_wait, "{policy}: polls per wait");
    assert_eq!(n(&wait["wait"]["polls"]), c.polls, "{policy}: polls");
    // Journey duration: one per journey, each longer than its wait.
    let journey = &fleet["journey_duration_ms"];
    assert_eq!(n(&journey["count"]), n(&fleet["journeys"]["started"]));
    assert!(
        journey["p50"].as_f64().unwrap() >= p50,
        "{policy}: {journey}"
    );
}

/// CSV rows of `file` in `out` whose first column is `fleet`.
fn csv_rows(out: &Path, file: &str, fleet: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(out.join(file)).expect(file);
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|r| r[0] == fleet)
        .collect()
}

/// Text as report.html escapes it in a cell.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('/', "&#x2f;")
}

fn close(a: &str, b: f64) -> bool {
    a.parse::<f64>().is_ok_and(|a| (a - b).abs() < 0.01)
}

/// The funnel and wait rows of summary.json in the CSV files, report.html
/// and the console output.
fn check_formats(policy: &str, run: &BinRun, out: &Path) {
    let fleet = &run.summary["results"][0];
    let name = fleet["name"].as_str().expect("fleet name");
    let funnel = fleet["funnel"].as_array().expect("funnel");
    let started = n(&fleet["journeys"]["started"]);
    let wait = run.step("wait");
    let lat = &wait["operation_latency_ms"];
    let (p50, p99) = (lat["p50"].as_f64().unwrap(), lat["p99"].as_f64().unwrap());
    let journey = &fleet["journey_duration_ms"];
    let (j50, j99) = (
        journey["p50"].as_f64().unwrap(),
        journey["p99"].as_f64().unwrap(),
    );
    let polls = n(&wait["wait"]["polls"]);
    let waits = n(&wait["operations"]);

    // CSV: funnel.csv, waits.csv, latency.csv.
    let rows = csv_rows(out, "funnel.csv", name);
    let csv_funnel: Vec<(String, u64)> = rows
        .iter()
        .map(|r| (r[2].clone(), r[3].parse().unwrap()))
        .collect();
    let json_funnel: Vec<(String, u64)> = funnel
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_string(), n(&s["journeys"])))
        .collect();
    assert_eq!(csv_funnel, json_funnel, "{policy}: funnel.csv");
    let w = csv_rows(out, "waits.csv", name);
    assert_eq!(w.len(), 1, "{policy}: {w:?}");
    let early = n(&wait["wait"]["early_polls"]).to_string();
    let want = [
        name,
        "wait",
        "poll",
        &waits.to_string(),
        &polls.to_string(),
        &early,
        "0",
    ];
    assert_eq!(w[0], want, "{policy}: waits.csv");
    let latency = csv_rows(out, "latency.csv", name);
    let row = |step: &str, kind: &str| {
        latency
            .iter()
            .find(|r| r[1] == step && r[2] == kind)
            .unwrap_or_else(|| panic!("{policy}: no {step} {kind} row"))
            .clone()
    };
    // fleet, step, kind, count, mean, p50, p90, p95, p99, ...
    let q = row("wait", "operation");
    assert!(close(&q[5], p50) && close(&q[8], p99), "{policy}: {q:?}");
    let j = row("all", "journey");
    assert!(close(&j[5], j50) && close(&j[8], j99), "{policy}: {j:?}");

    // report.html.
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    for s in funnel {
        let label = format!("journeys through {}", s["step"].as_str().unwrap());
        assert!(html.contains(&label), "{policy}: html {label}");
        let cell = format!("{} (", n(&s["journeys"]));
        assert!(html.contains(&cell), "{policy}: html {cell}");
    }
    assert!(started > 0);
    let queue = format!("{} / {}", ms(p50), ms(p99));
    assert!(
        html.contains(&esc("wait: time in queue p50 / p99")),
        "{policy}"
    );
    assert!(html.contains(&esc(&queue)), "{policy}: html {queue}");
    assert!(html.contains("wait: polls per wait"), "{policy}");
    let per = stampede::report::format::decimal(polls as f64 / waits as f64, 2);
    assert!(html.contains(&per), "{policy}: html polls per wait {per}");

    // The console (stdout and stderr of the run).
    let console = format!("{}\n{}", run.stdout, run.stderr);
    let line = |label: &str| {
        console
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{policy}: no console row {label}:\n{console}"))
            .to_string()
    };
    for (i, s) in funnel.iter().enumerate() {
        let lead = if i == 0 { "funnel:" } else { "→" };
        let l = line(&format!("{lead} {}", s["step"].as_str().unwrap()));
        assert!(l.contains(&n(&s["journeys"]).to_string()), "{policy}: {l}");
    }
    let l = line("wait: time in queue p50");
    assert!(l.contains(&ms(p50)), "{policy}: {l}");
    let l = line("wait: time in queue p99");
    assert!(l.contains(&ms(p99)), "{policy}: {l}");
    let l = line("wait: polls (early)");
    assert!(l.contains(&format!("{polls} ({early})")), "{policy}: {l}");
    let l = line("journey duration p50");
    assert!(l.contains(&ms(j50)), "{policy}: {l}");
    let l = line("journey duration p99");
    assert!(l.contains(&ms(j99)), "{policy}: {l}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_number_of_the_shipped_scenario_equals_the_double_per_fleet() {
    for policy in ["compliant", "naive"] {
        let dir = TempDir::new("shipped-numbers");
        let out = dir.path().join("out");
        let (br, run) = shipped(policy, &out).await;
        let c = br.counts();
        check_against_double(policy, &run, &c, &br.seen());
        check_formats(policy, &run, &out);
    }
}
