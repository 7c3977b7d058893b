//! A stop signal is answered in every command, within a bound, with exit
//! 3, and never leaves half a file: a run whose simulator has 100,000
//! zones (its reports take seconds to write) given SIGTERM after
//! summary.json; `stampede report DIR` on such a report given SIGTERM
//! while report.html is being rendered; `stampede merge` of two such runs
//! given SIGTERM while it reads them (the merged report has no simulator
//! ledger, so its files take milliseconds: reading is its long phase).

use crate::common;
use common::TempDir;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

const ZONES: u32 = 100_000;

/// A small ticket drop on a simulator event of [`ZONES`] zones: every
/// report carries each zone's seats, so writing them takes seconds.
fn zones_scenario(dir: &Path) -> PathBuf {
    let zones: Vec<String> = (0..ZONES)
        .map(|z| format!("{{ id = \"Z{z}\", seats = 5 }}"))
        .collect();
    common::scenario()
        .compare(&["compliant"])
        .ticket_drop(20, "1s")
        .drain("5s")
        .event("E1", &["Z0"])
        .table(&format!(
            "[[sim.events]]\nid = \"E1\"\nzones = [{}]",
            zones.join(", ")
        ))
        .write(dir.join("zones.toml"))
}

fn sigterm(child: &Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

/// Exit status within `limit` of the signal, and stderr.
fn exit_within(mut child: Child, limit: Duration, what: &str) -> (Option<i32>, String) {
    let status = common::wait_exit(&mut child, limit);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what}: SIGTERM not answered within {limit:?}");
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    (status.unwrap().code(), err)
}

/// No temporary file is left, and every report file present is whole:
/// summary.json parses, report.html ends its document, junit.xml closes.
fn every_file_whole_or_absent(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
    }
    if dir.join("summary.json").exists() {
        stampede::report::json::load_summary(dir).expect("summary.json whole");
    }
    let html = dir.join("report.html");
    if html.exists() {
        let text = std::fs::read_to_string(&html).unwrap();
        assert!(text.trim_end().ends_with("</html>"), "report.html whole");
    }
    let junit = dir.join("junit.xml");
    if junit.exists() {
        let text = std::fs::read_to_string(&junit).unwrap();
        assert!(
            text.trim_end().ends_with("</testsuites>"),
            "junit.xml whole"
        );
    }
}

#[test]
fn sigterm_while_a_run_writes_its_reports_exits_3_with_whole_files() {
    let dir = TempDir::new("sigwrite-run");
    let scenario = zones_scenario(dir.path());
    let out = dir.path().join("run");
    let child = common::stampede()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // summary.json is written first; the HTML of 100,000 zones follows.
    common::wait_for("summary.json", Duration::from_secs(120), || {
        out.join("summary.json").is_file()
    });
    sigterm(&child);
    // The reports get 10 s after a signal, then the process exits.
    let (code, err) = exit_within(child, Duration::from_secs(30), "run");
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("SIGTERM: the reports are being written"),
        "{err}"
    );
    every_file_whole_or_absent(&out);
}

#[test]
fn sigterm_during_report_dir_exits_3_at_once_without_half_a_file() {
    let dir = TempDir::new("sigwrite-report");
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    // A saved summary.json of 100,000 zones per fleet, nothing rendered.
    let mut r = stampede::sample::sample_report();
    for fleet in &mut r.results {
        if let Some(l) = fleet.ledger.as_mut() {
            for z in 0..ZONES {
                l.zones.insert(format!("E1/Z{z}"), Default::default());
            }
        }
    }
    stampede::report::json::write_summary(&r, &run).unwrap();
    let child = common::stampede()
        .arg("report")
        .arg(&run)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The CSVs are written before report.html, which takes seconds.
    common::wait_for("summary.csv", Duration::from_secs(120), || {
        run.join("summary.csv").is_file()
    });
    sigterm(&child);
    let (code, err) = exit_within(child, Duration::from_secs(5), "report");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("SIGTERM: the report stopped"), "{err}");
    assert!(
        !run.join("report.html").exists(),
        "report.html not begun: {err}"
    );
    every_file_whole_or_absent(&run);
}

#[test]
fn sigterm_during_merge_exits_3_at_once_without_half_a_file() {
    let dir = TempDir::new("sigwrite-merge");
    let scenario = zones_scenario(dir.path());
    let run = dir.path().join("run");
    let o = common::stampede()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&run)
        .arg("--quiet")
        .run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let shards: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("s{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        common::folders::copy_run(&run, s);
        common::folders::as_shard(s, i as u32, 2);
    }
    let shard_bytes = std::fs::metadata(shards[0].join("summary.json"))
        .unwrap()
        .len();
    let out = dir.path().join("merged");
    let child = common::stampede()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Signalled once it has read the first shard's summary.json, and while
    // it parses and merges the rest: nothing is written before all of it
    // is read and checked.
    common::wait_for(
        "the merge reading its shards",
        Duration::from_secs(60),
        || read_bytes(&child) >= shard_bytes,
    );
    sigterm(&child);
    let (code, err) = exit_within(child, Duration::from_secs(5), "merge");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("SIGTERM: the merge stopped"), "{err}");
    assert!(
        !out.join("summary.json").exists(),
        "the merge wrote before reading every shard: {err}"
    );
    every_file_whole_or_absent_or_missing(&out);
}

/// Bytes `child` has read so far (`rchar` of /proc/PID/io), 0 once gone.
fn read_bytes(child: &Child) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/io", child.id()))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("rchar: ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// [`every_file_whole_or_absent`], for a folder that may not exist.
fn every_file_whole_or_absent_or_missing(dir: &Path) {
    if dir.exists() {
        every_file_whole_or_absent(dir);
    }
}
