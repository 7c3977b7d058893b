//! `scenarios/booking-rush-staging.toml` through the binary against the
//! loopback double of the real API, once per fleet the file compares (each
//! on a fresh double, so the double's counts are that fleet's): the funnel
//! joined -> pass -> reserved -> confirmed, time in queue, polls per wait,
//! 409s by code and every step's requests equal the double's own counts,
//! and the funnel and wait rows carry the same values in summary.json, the
//! CSV files, report.html and the console.

use crate::common;
use crate::common::bin::{RunOutput, n0, run_scenario};

use common::TempDir;
use common::booking_rush::{BookingRush, Config, Counts};
use common::logserver::Seen;
use stampede::report::format::{decimal, ms, pct};
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
async fn shipped(policy: &str, out: &Path) -> (BookingRush, RunOutput) {
    let br = BookingRush::start(Config {
        zones: vec![("Z1".into(), 6), ("Z2".into(), 100)],
        queue_wait: Duration::from_millis(1500),
        ..Config::default()
    })
    .await;
    let file = one_fleet(policy, out.parent().expect("out has a parent"));
    let url = br.url();
    let run = run_scenario(&file, out, &["--target", &url, "--policy", policy]).await;
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

/// The funnel, every step's requests and the 409s by code equal the
/// double's.
fn check_counts(policy: &str, run: &RunOutput, c: &Counts) {
    let fleet = &run.summary["results"][0];
    // Funnel: joined -> got a pass -> reserved -> confirmed.
    let want = vec![
        ("join".to_string(), c.joins),
        ("wait".to_string(), c.passes_issued),
        ("reserve".to_string(), c.bookings),
        ("confirm".to_string(), c.confirmations),
    ];
    assert_eq!(funnel(run), want, "{policy}: funnel vs the double {c:?}");
    let all_passed = c.passes_issued == c.joins;
    assert!(all_passed, "{policy}: every joined buyer got a pass");
    // Every step's requests are the ones the double saw on its route.
    for (step, route) in ROUTES {
        let seen: u64 = c.by_route.get(route).map_or(0, |m| m.values().sum());
        assert_eq!(n0(&run.step(0, step)["attempts"]), seen, "{policy}: {step}");
    }
    assert_eq!(
        n0(&fleet["attempts"]),
        c.requests,
        "{policy}: every request"
    );
    // 409s by code: each code the double sent on a step's route is that
    // step's outcome as often (compliant: a 409 ends the operation) or at
    // most as often (naive retries its 409s, and an operation ends once).
    for (step, route) in ROUTES {
        for (code, sent) in c.conflicts.get(route).into_iter().flatten() {
            let outcomes = &run.step(0, step)["outcomes"];
            // An operation that retried its 409s until it gave up ends as
            // `GAVE_UP/<code>`.
            let reported = n0(&outcomes[code]) + n0(&outcomes[format!("GAVE_UP/{code}")]);
            let ok = match policy {
                "naive" => (1..=*sent).contains(&reported),
                _ => reported == *sent,
            };
            let why = format!("{policy}: {step} {code}: reported {reported}, sent {sent}");
            assert!(ok, "{why}: {outcomes}");
        }
    }
    let sold_out = c.conflicts[ROUTES[4].1]["INSUFFICIENT_SEATS"];
    assert!(sold_out > 0, "{policy}: Z1 sold out");
}

/// Time in queue, polls per wait and journey duration against the double.
fn check_queue(policy: &str, run: &RunOutput, c: &Counts, seen: &[Seen]) {
    let fleet = &run.summary["results"][0];
    // Time in queue: the wait step's latency is, on the double's clock,
    // from the buyer's join to its last poll (the one that handed the pass),
    // within the network's few ms.
    let wait = run.step(0, "wait");
    let q = sorted_ms(&queue_times(seen));
    assert_eq!(q.len() as u64, n0(&wait["operations"]));
    let (p50, p99) = p50_p99(&wait["operation_latency_ms"]);
    let slack = 100.0;
    let mid = q.len() / 2;
    let last = q.len() - 1;
    let p50_ok = p50 >= q[mid - 1] - slack && p50 <= q[mid] + slack;
    assert!(p50_ok, "{policy}: p50 {p50} vs {q:?}");
    let p99_ok = p99 >= q[last - 1] - slack && p99 <= q[last] + slack;
    assert!(p99_ok, "{policy}: p99 {p99} vs {q:?}");
    // Polls per wait: the double's polls per user, as a distribution.
    let mut per_wait: BTreeMap<String, u64> = BTreeMap::new();
    for polls in c.polls_by_user.values() {
        *per_wait.entry(polls.to_string()).or_default() += 1;
    }
    let reported: BTreeMap<String, u64> = wait["wait"]["polls_per_wait"]
        .as_object()
        .expect("polls_per_wait")
        .iter()
        .map(|(k, v)| (k.clone(), n0(v)))
        .collect();
    assert_eq!(reported, per_wait, "{policy}: polls per wait");
    assert_eq!(n0(&wait["wait"]["polls"]), c.polls, "{policy}: polls");
    // Journey duration: one per journey, each longer than its wait.
    let journey = &fleet["journey_duration_ms"];
    assert_eq!(n0(&journey["count"]), n0(&fleet["journeys"]["started"]));
    let longer = journey["p50"].as_f64().unwrap() >= p50;
    assert!(longer, "{policy}: {journey}");
}

/// The funnel of summary.json: (step, journeys) per stage.
fn funnel(run: &RunOutput) -> Vec<(String, u64)> {
    run.summary["results"][0]["funnel"]
        .as_array()
        .expect("funnel")
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_string(), n0(&s["journeys"])))
        .collect()
}

fn p50_p99(p: &serde_json::Value) -> (f64, f64) {
    (p["p50"].as_f64().unwrap(), p["p99"].as_f64().unwrap())
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

/// The numbers of summary.json the other formats must show.
struct Shown {
    name: String,
    funnel: Vec<(String, u64)>,
    started: u64,
    queue: (f64, f64),
    journey: (f64, f64),
    polls: u64,
    early: u64,
    waits: u64,
}

impl Shown {
    fn of(run: &RunOutput) -> Self {
        let fleet = &run.summary["results"][0];
        let wait = run.step(0, "wait");
        Shown {
            name: fleet["name"].as_str().expect("fleet name").to_string(),
            funnel: funnel(run),
            started: n0(&fleet["journeys"]["started"]),
            queue: p50_p99(&wait["operation_latency_ms"]),
            journey: p50_p99(&fleet["journey_duration_ms"]),
            polls: n0(&wait["wait"]["polls"]),
            early: n0(&wait["wait"]["early_polls"]),
            waits: n0(&wait["operations"]),
        }
    }
}

/// funnel.csv, waits.csv and latency.csv.
fn check_csv(policy: &str, v: &Shown, out: &Path) {
    let rows = csv_rows(out, "funnel.csv", &v.name);
    let csv_funnel: Vec<(String, u64)> = rows
        .iter()
        .map(|r| (r[2].clone(), r[3].parse().unwrap()))
        .collect();
    assert_eq!(csv_funnel, v.funnel, "{policy}: funnel.csv");
    let w = csv_rows(out, "waits.csv", &v.name);
    let want = [&v.name, "wait", "poll"]
        .map(str::to_string)
        .into_iter()
        .chain([v.waits, v.polls, v.early, 0].map(|x| x.to_string()))
        .collect::<Vec<_>>();
    assert_eq!(w, [want], "{policy}: waits.csv");
    let latency = csv_rows(out, "latency.csv", &v.name);
    let row = |step: &str, kind: &str| {
        latency
            .iter()
            .find(|r| r[1] == step && r[2] == kind)
            .unwrap_or_else(|| panic!("{policy}: no {step} {kind} row"))
            .clone()
    };
    // fleet, step, kind, count, mean, p50, p90, p95, p99, ...
    let q = row("wait", "operation");
    assert!(
        close(&q[5], v.queue.0) && close(&q[8], v.queue.1),
        "{policy}: {q:?}"
    );
    let j = row("all", "journey");
    assert!(
        close(&j[5], v.journey.0) && close(&j[8], v.journey.1),
        "{policy}: {j:?}"
    );
}

/// report.html: one fleet, so each row is `<td>label</td><td>value</td>`.
fn check_html(policy: &str, v: &Shown, out: &Path) {
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let has = |label: &str, value: &str| {
        let cells = format!("<td>{}</td><td>{}</td>", esc(label), esc(value));
        assert!(
            html.contains(&cells),
            "{policy}: report.html has no {cells}"
        );
    };
    for (step, journeys) in &v.funnel {
        let share = pct(*journeys as f64 / v.started as f64);
        has(
            &format!("journeys through {step}"),
            &format!("{journeys} ({share})"),
        );
    }
    let queue = format!("{} / {}", ms(v.queue.0), ms(v.queue.1));
    has("wait: time in queue p50 / p99", &queue);
    has(
        "wait: polls per wait",
        &decimal(v.polls as f64 / v.waits as f64, 2),
    );
}

/// The console summary (the run's stdout and stderr).
fn check_console(policy: &str, v: &Shown, run: &RunOutput) {
    let console = format!("{}\n{}", run.stdout, run.stderr);
    let has = |label: &str, value: &str| {
        let line = console
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{policy}: no console row {label}:\n{console}"));
        let cells: Vec<&str> = line[line.find(label).unwrap() + label.len()..]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(cells, [value], "{policy}: {line}");
    };
    for (i, (step, journeys)) in v.funnel.iter().enumerate() {
        let lead = if i == 0 { "funnel:" } else { "→" };
        has(&format!("{lead} {step}"), &journeys.to_string());
    }
    has("wait: time in queue p50", &ms(v.queue.0));
    has("wait: time in queue p99", &ms(v.queue.1));
    has("wait: polls (early)", &format!("{} ({})", v.polls, v.early));
    has("journey duration p50", &ms(v.journey.0));
    has("journey duration p99", &ms(v.journey.1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_number_of_the_shipped_scenario_equals_the_double_per_fleet() {
    for policy in ["compliant", "naive"] {
        let dir = TempDir::new("shipped-numbers");
        let out = dir.path().join("out");
        let (br, run) = shipped(policy, &out).await;
        let c = br.counts();
        check_counts(policy, &run, &c);
        check_queue(policy, &run, &c, &br.seen());
        let shown = Shown::of(&run);
        check_csv(policy, &shown, &out);
        check_html(policy, &shown, &out);
        check_console(policy, &shown, &run);
    }
}
