//! `compare` of two `--repeat 5` folders calls a change significant only
//! when the run-to-run intervals do not overlap **and** the medians moved
//! by more than the metric's fixed noise threshold. On virtual time the five
//! runs of `scenarios/ci-smoke.toml` are identical, so their intervals have
//! no width: latencies 3% higher (inside the 10% threshold) must still be
//! "within noise", while a target made slower by the simulator's
//! `service_time` is worse and fails the job.

use crate::common;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repeat(file: &Path, out: &Path) {
    let o = common::stampede()
        .arg("run")
        .arg(file)
        .args(["--virtual-time", "--repeat", "5", "--quiet", "--out"])
        .arg(out)
        .run();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("repeat.json").is_file());
}

/// `stampede compare base new`: exit code, stdout, and compare.json.
fn compare(base: &Path, new: &Path, out: &Path) -> (Option<i32>, String, Value) {
    let o = common::bin::compare(base, new, out).run();
    let json = std::fs::read_to_string(out.join("compare.json")).expect("compare.json");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        serde_json::from_str(&json).unwrap(),
    )
}

/// Every row of every fleet, its steps' rows included.
fn all_rows(c: &Value) -> Vec<Value> {
    let mut rows = Vec::new();
    for f in c["fleets"].as_array().unwrap() {
        rows.extend(f["rows"].as_array().unwrap().iter().cloned());
        for s in f["steps"].as_array().unwrap() {
            rows.extend(s["rows"].as_array().unwrap().iter().cloned());
        }
    }
    rows
}

fn scale(stat: &mut Value, k: f64) {
    for key in ["median", "min", "max"] {
        stat[key] = Value::from(stat[key].as_f64().unwrap() * k);
    }
    for key in ["values", "ci95"] {
        if let Some(a) = stat[key].as_array_mut() {
            for v in a {
                *v = Value::from(v.as_f64().unwrap() * k);
            }
        }
    }
}

/// `dir`'s repeat.json with every latency statistic (headline and per
/// step) multiplied by `k`.
fn slow_latencies(dir: &Path, k: f64) {
    let path = dir.join("repeat.json");
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let latency = |name: &str| name.contains("latency") || name.contains("duration");
    for f in s["fleets"].as_array_mut().unwrap() {
        for (name, stat) in f["metrics"].as_object_mut().unwrap() {
            if latency(name) {
                scale(stat, k);
            }
        }
        if let Some(steps) = f["steps"].as_object_mut() {
            for step in steps.values_mut() {
                for (name, stat) in step.as_object_mut().unwrap() {
                    if latency(name) {
                        scale(stat, k);
                    }
                }
            }
        }
    }
    std::fs::write(&path, serde_json::to_string(&s).unwrap()).unwrap();
}

/// ci-smoke as shipped, with its simulator's service time set.
fn ci_smoke_with_service_time(dir: &Path, service_time: &str) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let text = std::fs::read_to_string(shipped).unwrap();
    let path = dir.join(format!("ci-smoke-{service_time}.toml"));
    std::fs::write(
        &path,
        format!(
            "{text}\n[sim.capacity]\nservice_time = \"{service_time}\"\navailability_service_time = \"{service_time}\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn unchanged_repeats_are_within_noise_and_a_slower_target_is_worse() {
    let root = crate::common::TempDir::new("repeat-noise");
    let root = root.path();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let (base, same) = (root.join("base"), root.join("same"));
    repeat(&shipped, &base);
    repeat(&shipped, &same);

    // Unchanged: exit 0, and no row worse, the steps' rows included.
    let (code, text, c) = compare(&base, &same, &root.join("cmp-same"));
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(c["worse"], 0, "{text}");
    assert!(!text.contains("WORSE"), "{text}");
    let rows = all_rows(&c);
    assert!(rows.iter().any(|r| r["metric"] == "attempt_latency.p99"));
    assert!(rows.iter().all(|r| r["verdict"] != "worse"), "{text}");

    // 3% slower on every latency: the intervals (of no width) no longer
    // overlap, but the change is inside the fixed threshold.
    let nudged = root.join("nudged");
    common::folders::copy_run(&same, &nudged);
    slow_latencies(&nudged, 1.03);
    let (code, text, c) = compare(&base, &nudged, &root.join("cmp-nudged"));
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(c["worse"], 0, "{text}");
    assert!(text.contains("within noise"), "{text}");

    // Six times the service time: worse beyond the spread, exit 1.
    let slow = root.join("slow");
    repeat(&ci_smoke_with_service_time(root, "60ms"), &slow);
    let (code, text, c) = compare(&base, &slow, &root.join("cmp-slow"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("WORSE"), "{text}");
    let worse: Vec<&Value> = rows_named(&c, "operation_latency.p50");
    assert!(worse.iter().any(|r| r["verdict"] == "worse"), "{text}");
}

fn rows_named<'a>(c: &'a Value, metric: &str) -> Vec<&'a Value> {
    c["fleets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["rows"].as_array().unwrap())
        .filter(|r| r["metric"] == metric)
        .collect()
}
