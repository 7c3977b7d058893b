//! Ctrl-C through the real binary: the run stops, drains, and still writes
//! every report, marked interrupted, with exit code 3.

mod common;
use common::TempDir;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigint_stops_the_run_and_the_reports_are_still_written() {
    let dir = TempDir::new("sigint");
    let scenario = dir.path().join("long.toml");
    std::fs::write(
        &scenario,
        "compare = [\"compliant\", \"naive\"]\n[load]\nmodel = \"open\"\nstages = [{ duration = \"60s\", rate = 50 }]\ndrain = \"5s\"\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run is really under way (its folder exists), then press Ctrl-C.
    let start = Instant::now();
    while !out.is_dir() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "stampede did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(3), "interrupted runs exit 3");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "interrupted");
    assert!(summary["stop_reason"].as_str().unwrap().contains("round"));
    let results = summary["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "the naive round never started");
    assert!(
        results[0]["operations"].as_u64().unwrap() > 0,
        "what was measured is kept"
    );
    for f in ["report.html", "junit.xml", "timeseries.csv"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<failure"),
        "an interrupted run is a failed test case in CI"
    );
}
