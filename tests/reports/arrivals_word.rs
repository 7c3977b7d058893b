//! `arrivals` means journeys started, in every place it appears:
//! summary.json's and timeseries.csv's per-second rows, and Prometheus'
//! `stampede_arrivals_total` (which the live view reads too). The
//! operations of every step are `operations_started`, their own column.
//! Checked on multi-step journeys: a closed model whose users each run
//! several journeys against a loopback server (whose count of first-step
//! requests is the journey count), and the embedded simulator's
//! three-step journey on virtual time.

use crate::common;
use common::TempDir;
use common::logserver::LogServer;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

/// Sums of `arrivals` and `operations_started` over summary.json's rows.
fn json_sums(fleet: &serde_json::Value) -> (u64, u64) {
    let rows = fleet["timeseries"].as_array().expect("timeseries rows");
    let sum = |k: &str| rows.iter().map(|r| r[k].as_u64().unwrap()).sum();
    (sum("arrivals"), sum("operations_started"))
}

/// Sums of `arrivals` and `operations_started` over timeseries.csv.
fn csv_sums(out: &std::path::Path) -> (u64, u64) {
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).expect("timeseries.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (a, o) = (col("arrivals"), col("operations_started"));
    let (mut sa, mut so) = (0, 0);
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        sa += cells[a].parse::<u64>().unwrap();
        so += cells[o].parse::<u64>().unwrap();
    }
    (sa, so)
}

/// Operations summed over the fleet's steps.
fn step_operations(fleet: &serde_json::Value) -> u64 {
    let steps = fleet["steps"].as_array().expect("steps");
    steps
        .iter()
        .map(|s| s["operations"].as_u64().unwrap())
        .sum()
}

/// `GET /metrics` on loopback: the body.
fn scrape(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A sample's value in a scrape, by its exact series text.
fn sample(scrape: &str, series: &str) -> u64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{scrape}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_model_users_every_journey_is_one_arrival_everywhere() {
    let server = LogServer::start(|_| {
        (
            200,
            vec![("content-type", "application/json".into())],
            r#"{"ok":true}"#.into(),
        )
    })
    .await;
    let dir = TempDir::new("arrivals-closed");
    let file = dir.path().join("s.toml");
    let step = |name: &str| {
        format!("[[journey.steps]]\nname = \"{name}\"\nmethod = \"POST\"\npath = \"/{name}\"")
    };
    common::scenario()
        .compare(&["compliant"])
        .target(&server.url())
        .closed(3, 4, "30s")
        .drain("5s")
        .table(&step("login"))
        .table(&step("reserve"))
        .table(&step("confirm"))
        .write(&file);
    let out = dir.path().join("out");
    let port = common::free_port();
    let mut cmd = common::stampede();
    cmd.arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--metrics-linger", "10s", "--metrics-listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let reports = out.clone();
    let (metrics, code) = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("start stampede");
        // The reports are written when every counter is final; the
        // endpoint stays up 10 s more for this scrape.
        common::wait_for("the reports", Duration::from_secs(60), || {
            reports.join("junit.xml").is_file()
        });
        let metrics = scrape(port);
        let status = common::wait_exit(&mut child, Duration::from_secs(30)).expect("exit");
        (metrics, status.code())
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{metrics}");
    let s = common::read_summary(&out);
    let fleet = &s["results"][0];
    // 3 users x 4 iterations: 12 journeys, each login -> reserve -> confirm.
    let logins = server.seen().iter().filter(|r| r.path == "/login").count() as u64;
    assert_eq!(logins, 12);
    assert_eq!(
        fleet["journeys"]["started"].as_u64(),
        Some(logins),
        "{fleet}"
    );
    assert_eq!(step_operations(fleet), 36, "{fleet}");
    assert_eq!(json_sums(fleet), (logins, 36));
    assert_eq!(csv_sums(&out), (logins, 36));
    assert_eq!(
        sample(&metrics, "stampede_arrivals_total{fleet=\"compliant\"}"),
        logins
    );
}

#[test]
fn the_simulators_three_step_journeys_are_arrivals_their_operations_are_not() {
    let dir = TempDir::new("arrivals-sim");
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["compliant"])
        .seed(3)
        .ticket_drop(60, "1s")
        .drain("30s")
        .write(&file);
    let out = dir.path().join("out");
    let o = common::stampede()
        .arg("run")
        .arg(&file)
        .args(["--virtual-time", "--quiet", "--out"])
        .arg(&out)
        .run();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let s = common::read_summary(&out);
    let fleet = &s["results"][0];
    let names: Vec<&str> = fleet["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["availability", "reserve", "confirm"]);
    assert_eq!(fleet["journeys"]["started"].as_u64(), Some(60), "{fleet}");
    let ops = step_operations(fleet);
    // Every journey booked or was told it was sold out after at least its
    // pre-check: more operations than journeys.
    assert!(ops > 60, "{ops}");
    assert_eq!(fleet["operations"].as_u64(), Some(ops), "{fleet}");
    assert_eq!(json_sums(fleet), (60, ops));
    assert_eq!(csv_sums(&out), (60, ops));
}
