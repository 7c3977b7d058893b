//! Stop signals through the real binary: Ctrl-C (SIGINT), SIGTERM (what
//! `timeout`, CI cancels, `docker stop` and `kubectl delete` send) and SIGHUP
//! all stop the run, drain, and still write every report, marked
//! interrupted, with exit code 3. A second signal cancels in-flight work and
//! the reports are still written.

use crate::common;
use common::TempDir;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Stopped {
    code: Option<i32>,
    summary: serde_json::Value,
    out: PathBuf,
    stderr: String,
    _dir: TempDir,
}

/// Starts a 60-second run, waits until it is under way, sends `signals` (in
/// order, 100 ms apart; journeys take
/// 400 ms or more, so a second signal finds work in flight) and waits for the process to end.
fn run_and_signal(tag: &str, signals: &[&str]) -> Stopped {
    run_and_signal_on(tag, signals, None)
}

/// As [`run_and_signal`], the process pinned to `cores` (`taskset -c`).
fn run_and_signal_on(tag: &str, signals: &[&str], cores: Option<&str>) -> Stopped {
    let dir = TempDir::new(tag);
    let scenario = dir.path().join("long.toml");
    common::scenario()
        .compare(&["compliant", "naive"])
        .open("60s", 50)
        .drain("5s")
        .table("[sim.capacity]\nservice_time = \"200ms\"")
        .write(&scenario);
    let out = dir.path().join("run");
    let mut cmd = match cores {
        Some(c) => common::bin::stampede_via("taskset", &["-c", c]),
        None => common::stampede(),
    };
    let mut child = cmd.spawn_run(&scenario, &out, &[], Stdio::piped());
    // Wait until the run is really under way (a second of load streamed),
    // then signal.
    common::wait_for("a streamed second of load", Duration::from_secs(60), || {
        common::streamed_seconds_with_attempts(&out) >= 1
    });
    for (i, sig) in signals.iter().enumerate() {
        if i > 0 {
            // The behaviour under test: a second signal shortly after the
            // first, while the first one's drain is under way.
            std::thread::sleep(Duration::from_millis(100));
        }
        let kill = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success(), "kill -{sig}");
    }
    let status = common::wait_exit(&mut child, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("stampede did not stop after {signals:?}"));
    let stderr = {
        use std::io::Read;
        let mut s = String::new();
        child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let text = std::fs::read(out.join("summary.json"))
        .unwrap_or_else(|e| panic!("summary.json after {signals:?}: {e}\n{stderr}"));
    let summary: serde_json::Value = serde_json::from_slice(&text)
        .unwrap_or_else(|e| panic!("summary.json is not valid JSON after {signals:?}: {e}"));
    Stopped {
        code: status.code(),
        summary,
        out,
        stderr,
        _dir: dir,
    }
}

/// What every stop signal must leave behind.
fn assert_interrupted_and_kept(s: &Stopped, signal: &str) {
    assert_eq!(
        s.code,
        Some(3),
        "{signal}: interrupted runs exit 3\n{}",
        s.stderr
    );
    assert_eq!(s.summary["status"], "interrupted", "{signal}");
    assert!(
        s.summary["stop_reason"].as_str().unwrap().contains("round"),
        "{signal}: {}",
        s.summary["stop_reason"]
    );
    let results = s.summary["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{signal}: the naive round never started");
    assert!(
        results[0]["attempts"].as_u64().unwrap() > 0,
        "{signal}: what was measured is kept"
    );
    assert!(
        results[0]["operations"].as_u64().unwrap() > 0,
        "{signal}: what was measured is kept"
    );
    for f in ["report.html", "junit.xml", "timeseries.csv", "summary.csv"] {
        assert!(s.out.join(f).is_file(), "{signal}: {f} missing");
    }
    let junit = std::fs::read_to_string(s.out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<failure"),
        "{signal}: an interrupted run is a failed test case in CI"
    );
    assert!(
        s.stderr.contains(signal),
        "{signal}: stderr says which signal stopped the run:\n{}",
        s.stderr
    );
}

#[test]
fn sigint_stops_the_run_and_the_reports_are_still_written() {
    let s = run_and_signal("sigint", &["INT"]);
    assert_interrupted_and_kept(&s, "SIGINT");
}

#[test]
fn sigterm_stops_the_run_like_ctrl_c() {
    let s = run_and_signal("sigterm", &["TERM"]);
    assert_interrupted_and_kept(&s, "SIGTERM");
    assert!(s.stderr.contains("draining"), "{}", s.stderr);
}

/// On one core the runtime is the current-thread scheduler
/// (`stampede::app::runtime`): the signal, the drain and the reports run
/// on the same thread as every user and the simulator.
#[test]
fn sigterm_on_one_core_stops_the_run_and_keeps_its_reports() {
    let s = run_and_signal_on("sigterm1core", &["TERM"], Some("0"));
    assert_interrupted_and_kept(&s, "SIGTERM");
    assert!(s.stderr.contains("draining"), "{}", s.stderr);
}

#[test]
fn sighup_stops_the_run_like_ctrl_c() {
    let s = run_and_signal("sighup", &["HUP"]);
    assert_interrupted_and_kept(&s, "SIGHUP");
}

#[test]
fn a_second_sigterm_cancels_and_the_reports_are_still_written() {
    let s = run_and_signal("sigterm2", &["TERM", "TERM"]);
    assert_interrupted_and_kept(&s, "SIGTERM");
    assert!(
        s.stderr.contains("cancelling in-flight work"),
        "the second signal cancels:\n{}",
        s.stderr
    );
}

#[test]
fn mixed_signals_count_together() {
    let s = run_and_signal("mixed", &["HUP", "INT"]);
    assert_interrupted_and_kept(&s, "SIGHUP");
    assert!(s.stderr.contains("SIGINT: cancelling"), "{}", s.stderr);
}
