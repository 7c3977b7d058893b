//! `kill -9` during a run: the report folder still holds every second up to
//! the last one, and `stampede report DIR` renders it, marked incomplete.

use crate::common;
use common::TempDir;

use std::process::Stdio;
use std::time::Duration;

#[test]
fn killed_run_is_rebuilt_from_what_it_streamed() {
    let dir = TempDir::new("streamkill");
    let scenario = dir.path().join("long.toml");
    crate::common::scenario()
        .compare(&["compliant"])
        .open("30s", 40)
        .drain("5s")
        .write(&scenario);
    let out = dir.path().join("run");
    let mut child = common::stampede().spawn_run(&scenario, &out, &[], Stdio::null());
    // Killed once three seconds of load have been streamed.
    common::wait_for("three streamed seconds", Duration::from_secs(60), || {
        common::streamed_seconds_with_attempts(&out) >= 3
    });
    child.kill().unwrap(); // SIGKILL: nothing runs after this
    child.wait().unwrap();
    assert!(!out.join("summary.json").exists());
    assert!(out.join("stream.partial.jsonl").is_file());

    // What the streamed files say, summed by hand.
    let text = std::fs::read_to_string(out.join("stream.partial.jsonl")).unwrap();
    let complete = &text[..text.rfind('\n').map_or(0, |p| p + 1)];
    let (mut row_attempts, mut step_attempts) = (0u64, 0u64);
    for l in complete.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        for r in v["rows"].as_array().unwrap() {
            row_attempts += r["attempts"].as_u64().unwrap();
        }
        for s in v["steps"].as_array().unwrap() {
            step_attempts += s["attempts"].as_u64().unwrap();
        }
    }
    assert!(row_attempts > 0, "something was streamed");
    assert_eq!(row_attempts, step_attempts);

    // A damaged copy: a complete line whose second lies far past any round
    // is refused by name, instead of growing a 4-billion-row series.
    let damaged = dir.path().join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    for e in std::fs::read_dir(&out).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), damaged.join(e.file_name())).unwrap();
    }
    let mut bad: serde_json::Value = complete
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| !v["rows"].as_array().unwrap().is_empty())
        .unwrap();
    bad["rows"][0]["t"] = 4_000_000_000u64.into();
    let mut text = complete.to_string();
    text.push_str(&format!("{bad}\n"));
    std::fs::write(damaged.join("stream.partial.jsonl"), text).unwrap();
    let rep = crate::common::stampede()
        .arg("report")
        .arg(&damaged)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&rep.stderr);
    assert_eq!(rep.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("stream.partial.jsonl:") && stderr.contains("second 4000000000"),
        "{stderr}"
    );

    let rep = crate::common::stampede()
        .arg("report")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&rep.stdout);
    assert_eq!(
        rep.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&rep.stderr)
    );
    let r = stampede::report::json::load_summary(&out).unwrap();
    assert_eq!(r.status, stampede::report::RunStatus::Incomplete);
    assert_eq!(r.results[0].counts.attempts, row_attempts);
    let series: u64 = r.results[0].timeseries.iter().map(|s| s.attempts).sum();
    assert_eq!(series, row_attempts);
    // Latency came from the streamed .hlog files.
    assert!(r.results[0].latency.attempt_latency_ms.count > 0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("incomplete"), "the HTML says so");
}
