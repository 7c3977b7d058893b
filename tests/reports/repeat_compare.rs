//! Run-to-run confidence through the binary: `stampede run --repeat 5`
//! writes five run folders and each headline's median and spread, and
//! `stampede compare` of two such folders judges a change against that
//! spread: an unchanged scenario is within noise (exit 0), a target made
//! slower by the simulator's `service_time` is worse (exit 1).

use crate::common::stampede;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stampede-repeat-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// ci-smoke with its simulator's service time set (the shipped one is 10 ms).
fn scenario(dir: &Path, service_time: &str) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let text = std::fs::read_to_string(shipped).unwrap();
    let text = text.replacen("drain = \"15s\"", "drain = \"120s\"", 1);
    // One fleet (--policy compliant): the shipped gates name both.
    let start = text.find("gates = [").expect("ci-smoke has gates");
    let end = start + text[start..].find("\n]").expect("gates end") + 2;
    let text = format!("{}{}", &text[..start], &text[end..]);
    let text = format!(
        "{text}\n[sim.capacity]\nservice_time = \"{service_time}\"\navailability_service_time = \"{service_time}\"\n"
    );
    let path = dir.join(format!("ci-smoke-{service_time}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn repeat(file: &Path, out: &Path) -> String {
    let o = stampede()
        .args([
            "run",
            file.to_str().unwrap(),
            "--policy",
            "compliant",
            "--repeat",
            "5",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .run();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

fn rows(cmp: &Path) -> Vec<Value> {
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(cmp.join("compare.json")).unwrap()).unwrap();
    c["fleets"][0]["rows"].as_array().unwrap().clone()
}

fn verdict<'a>(rows: &'a [Value], metric: &str) -> &'a Value {
    &rows
        .iter()
        .find(|r| r["metric"] == metric)
        .unwrap_or_else(|| panic!("no row {metric}"))["verdict"]
}

#[test]
fn repeated_runs_tell_noise_from_a_slower_target() {
    let root = tmp("runs");
    let base_file = scenario(&root, "10ms");
    let base = root.join("base");
    let stdout = repeat(&base_file, &base);
    // Medians and spreads on the console, every run folder and repeat.json.
    assert!(stdout.contains("5 runs of ci-smoke"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("operation_latency.p50"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line.matches('–').count(),
        2,
        "min–max and the 95% interval: {line}"
    );
    for i in 1..=5 {
        assert!(base.join(format!("run-{i}/summary.json")).is_file());
    }
    let spread: Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("repeat.json")).unwrap()).unwrap();
    assert_eq!(spread["runs"], 5);
    let p50 = &spread["fleets"][0]["metrics"]["operation_latency.p50"];
    assert_eq!(p50["values"].as_array().unwrap().len(), 5);
    assert!(p50["ci95"].is_array(), "{p50}");

    // The same scenario again: the latency rows are within noise.
    let same = root.join("same");
    repeat(&base_file, &same);
    let cmp = root.join("cmp-same");
    let o = crate::common::bin::compare(&base, &same, &cmp).run();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("medians of 5 and 5 runs"), "{text}");
    let r = rows(&cmp);
    assert_eq!(verdict(&r, "operation_latency.p50"), "same", "{text}");
    assert!(r.iter().all(|row| !row["intervals"].is_null()), "{text}");

    // A target 6 times slower: worse, beyond the spread, and compare fails.
    let slow_file = scenario(&root, "60ms");
    let slow = root.join("slow");
    repeat(&slow_file, &slow);
    let cmp = root.join("cmp-slow");
    let o = crate::common::bin::compare(&base, &slow, &cmp).run();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let r = rows(&cmp);
    assert_eq!(verdict(&r, "operation_latency.p50"), "worse", "{text}");
    assert!(text.contains("WORSE"), "{text}");
    let _ = std::fs::remove_dir_all(&root);
}
