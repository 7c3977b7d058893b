//! A fleet none of whose operations succeeded (every reserve answered 403
//! by a loopback server) fails every latency and rate gate with the reason
//! `no_successful_operations`, in summary.json and in JUnit, and its
//! headline latency over OK operations reads "n/a", not 0 ms; the journeys'
//! duration p95 is on the console and in summary.csv.

use crate::common;
use common::TempDir;
use common::logserver::{LogServer, envelope};

const GATES: [&str; 9] = [
    "naive.operation_latency.p99 < 5s",
    "naive.operation_latency_all.p99 < 5s",
    "naive.attempt_latency.p99 < 5s",
    "naive.journey_duration.p99 < 5s",
    "naive.journey_duration.p95 < 5s",
    "naive.reserve.operation_latency.p99 < 5s",
    "naive.reserve.attempt_latency.p99 < 5s",
    "naive.reserve.operation_latency_all.p99 < 5s",
    "naive.achieved_rps > 0",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_403_fleet_fails_every_latency_and_rate_gate() {
    let server = LogServer::start(|_| {
        (
            403,
            vec![("content-type", "application/json".into())],
            envelope("FORBIDDEN"),
        )
    })
    .await;
    let dir = TempDir::new("all-403");
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["naive"])
        .gates(&GATES)
        .target(&server.url())
        .ticket_drop(5, "200ms")
        .drain("5s")
        .steps(common::scenario::POST_RESERVE)
        .write(&file);
    let out_dir = dir.path().join("out");
    let run = common::bin::run_scenario(&file, &out_dir, &[]).await;
    let (stderr, stdout) = (&run.stderr, &run.stdout);
    assert_eq!(run.code, Some(1), "{stderr}\n{stdout}");
    // The target answered: every request it saw is an attempt stampede counted.
    let summary = &run.summary;
    let fleet = run.fleet(0);
    assert_eq!(
        fleet["attempts"].as_u64(),
        Some(server.seen().len() as u64),
        "{fleet}"
    );
    assert_eq!(fleet["journeys"]["failed"].as_u64(), Some(5), "{fleet}");
    assert_eq!(fleet["ok_operation_latency_ms"]["count"].as_u64(), Some(0));
    let gates = summary["gates"].as_array().expect("gates");
    assert_eq!(gates.len(), GATES.len());
    for g in gates {
        assert_eq!(g["passed"], false, "{g}");
        assert_eq!(g["reason"], "no_successful_operations", "{g}");
    }
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).expect("junit.xml");
    assert_eq!(
        junit.matches("no_successful_operations").count(),
        GATES.len(),
        "{junit}"
    );
    // The headline over OK operations has nothing to show, and says so.
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("reserve latency p99 (ok)"))
        .unwrap_or_else(|| panic!("no headline row:\n{stdout}"));
    assert!(line.contains("n/a") && !line.contains(" ms"), "{line}");
    // Journeys still have a duration (they ended, failed): p95 on the
    // console and in summary.csv, the same number as summary.json's.
    let p95 = fleet["journey_duration_ms"]["p95"].as_f64().unwrap();
    assert!(p95 > 0.0, "{fleet}");
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("journey duration p95") && l.contains(" ms")),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out_dir.join("summary.csv")).expect("summary.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "journey_duration_p95_ms")
        .expect("journey_duration_p95_ms column");
    let in_csv: f64 = row[col].parse().unwrap();
    assert!((in_csv - p95).abs() < 1e-3, "{in_csv} vs {p95}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).expect("report.html");
    assert!(stdout.contains("reserve p99 n/a"), "{stdout}");
    // The page escapes the slash.
    assert!(html.contains("reserve p99 n&#x2f;a"), "{html}");
}
