//! A report file that cannot be written, through the real binary: the
//! summary and gate lines are already on stdout, the failing file is named
//! on stderr, every other file is written in full, and the exit code is 4.
//! `stampede report DIR` goes through the same writer.

use crate::common;
use common::TempDir;

use std::path::Path;

/// Every file but `missing` is in place and complete.
fn assert_complete_except(out: &Path, missing: &str) {
    for (name, _) in stampede::report::csv::FILES {
        if *name == missing {
            continue;
        }
        let mut rdr = csv::Reader::from_path(out.join(name)).unwrap();
        let width = rdr.headers().unwrap().len();
        let rows: Vec<csv::StringRecord> = rdr
            .records()
            .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
        // A journey without a funnel or a wait step has none of those rows.
        if !matches!(*name, "funnel.csv" | "waits.csv") {
            assert!(!rows.is_empty(), "{name} has rows");
        }
        assert!(rows.iter().all(|r| r.len() == width), "{name} complete");
    }
    if missing != "report.html" {
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.trim_end().ends_with("</html>"), "report.html complete");
    }
    if missing != "junit.xml" {
        let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
        assert!(
            junit.trim_end().ends_with("</testsuites>"),
            "junit.xml complete"
        );
    }
    if missing != "summary.json" {
        let text = std::fs::read(out.join("summary.json")).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text).expect("summary.json is valid JSON");
    }
    let hgrm = std::fs::read_to_string(out.join("compliant-operation.hgrm")).unwrap();
    assert!(hgrm.contains("#[Buckets"), "hgrm complete");
    // No temporary file is left behind.
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temporary file {name} left behind");
    }
}

#[test]
fn report_write_failure_names_the_file_keeps_the_others_and_exits_4() {
    let dir = TempDir::new("writefail");
    let scenario = dir.path().join("short.toml");
    crate::common::scenario()
        .compare(&["compliant"])
        .gates(&["compliant.amplification >= 1"])
        .open("1s", 20)
        .drain("5s")
        .write(&scenario);
    let out = dir.path().join("run");
    // A directory where summary.json should go: that one file cannot be written.
    std::fs::create_dir_all(out.join("summary.json")).unwrap();
    let run = crate::common::stampede()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        // The folder holds the blocking directory on purpose.
        .arg("--force")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(4),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("cannot write") && stderr.contains("summary.json"),
        "{stderr}"
    );
    assert!(
        stdout.contains("compliant"),
        "summary table on stdout:\n{stdout}"
    );
    assert!(
        stdout.contains("PASS compliant.amplification"),
        "gate line on stdout:\n{stdout}"
    );
    // What was written is said, after the summary.
    let table = stdout.find("PASS").unwrap();
    let files = stdout.find("reports: ").expect("files line");
    assert!(
        table < files,
        "summary and gates come before the files line"
    );
    assert!(out.join("summary.json").is_dir(), "left as it was");
    assert_complete_except(&out, "summary.json");
}

#[test]
fn report_rerender_failure_names_the_file_and_exits_4() {
    let dir = TempDir::new("rerenderfail");
    let out = dir.path().join("run");
    stampede::report::write_all(&stampede::sample::sample_report(), &out).unwrap();
    // Re-rendering over a good folder works and leaves no temporary file.
    let ok = crate::common::stampede()
        .arg("report")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    std::fs::remove_file(out.join("latency.csv")).unwrap();
    std::fs::create_dir(out.join("latency.csv")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    let r = crate::common::stampede()
        .arg("report")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("latency.csv"), "{stderr}");
    assert!(!stderr.contains("report.html"), "{stderr}");
    assert!(stdout.contains("naive"), "summary printed:\n{stdout}");
    assert!(
        out.join("report.html").is_file(),
        "the others are rewritten"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.trim_end().ends_with("</html>"));
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temporary file {name} left behind");
    }
}
