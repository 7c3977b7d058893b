//! Baselines on two real runs of `scenarios/ci-smoke.toml`: the second made
//! slower on purpose (`[sim.capacity] service_time` raised from 10 ms), with
//! gates relative to the first. The relative latency gate fails and the run
//! exits 1; `stampede compare` flags the slower p50. (The p50 is asserted:
//! the compliant p99 is mostly backoff waits, which a busy machine stretches
//! in both runs alike.) A relative gate without
//! `--baseline`, and runs of different scenarios, are usage errors (exit 2).

use crate::common::stampede;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stampede-baseline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

const RELATIVE: &str = "\"compliant.operation_latency.p50 <= baseline * 1.10\",\n  \"compliant.operation_latency.p99 <= baseline * 1.10\",\n  \"compliant.amplification <= baseline + 0.05\",\n";

/// ci-smoke with the relative gates, its simulator made `service_time` slow.
fn slower_scenario(dir: &Path, service_time: &str) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let text = std::fs::read_to_string(shipped).unwrap();
    let text = text.replacen("gates = [\n", &format!("gates = [\n  {RELATIVE}"), 1);
    // A target this slow needs longer than ci-smoke's drain: a run whose
    // drain expires is `drain_expired` (exit 3), not a gate failure.
    assert!(text.contains("drain = \"15s\""));
    let text = text.replacen("drain = \"15s\"", "drain = \"120s\"", 1);
    let text = format!(
        "{text}\n[sim.capacity]\nservice_time = \"{service_time}\"\navailability_service_time = \"{service_time}\"\n"
    );
    let path = dir.join("ci-smoke.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn gate<'a>(s: &'a Value, expr: &str) -> &'a Value {
    s["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["expr"] == expr)
        .unwrap_or_else(|| panic!("no gate {expr}"))
}

#[test]
fn a_slower_run_fails_its_baseline_gate_and_compare_flags_it() {
    let root = tmp("runs");
    let base = root.join("base");
    let new = root.join("new");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let out = stampede()
        .args([
            "run",
            shipped.to_str().unwrap(),
            "--out",
            base.to_str().unwrap(),
            "-q",
        ])
        .run();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "base run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = summary(&base);
    let base_p50 = b["results"][0]["ok_operation_latency_ms"]["p50"]
        .as_f64()
        .unwrap();

    let scen = slower_scenario(&root, "400ms");
    // Without --baseline the relative gates are a usage error before any load.
    let out = stampede()
        .args([
            "run",
            scen.to_str().unwrap(),
            "--out",
            root.join("x").to_str().unwrap(),
            "-q",
        ])
        .run();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--baseline") && err.contains("baseline * 1.10"),
        "{err}"
    );
    assert!(!root.join("x").join("summary.json").exists());

    let out = stampede()
        .args([
            "run",
            scen.to_str().unwrap(),
            "--out",
            new.to_str().unwrap(),
            "--baseline",
            base.to_str().unwrap(),
        ])
        .run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = summary(&new);
    let g = gate(&n, "compliant.operation_latency.p50 <= baseline * 1.10");
    assert_eq!(g["passed"], false, "{g}");
    assert_eq!(g["reason"], "failed");
    let recorded = g["baseline"].as_f64().unwrap();
    assert!(
        (recorded - base_p50).abs() < 1e-6,
        "{recorded} vs {base_p50}"
    );
    assert!(
        (g["bound"].as_f64().unwrap() - base_p50 * 1.1).abs() < 1e-6,
        "{g}"
    );
    let new_p50 = n["results"][0]["ok_operation_latency_ms"]["p50"]
        .as_f64()
        .unwrap();
    assert!(new_p50 > base_p50 * 1.1, "{new_p50} vs {base_p50}");
    assert_eq!(g["measured"].as_f64().unwrap(), new_p50);
    assert!(
        stdout.contains("FAIL compliant.operation_latency.p50 <= baseline * 1.10"),
        "{stdout}"
    );
    assert!(gate(&n, "compliant.amplification <= baseline + 0.05")["baseline"].is_number());

    let cmp = root.join("cmp");
    let out = crate::common::bin::compare(&base, &new, &cmp).run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("operation_latency.p50"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("WORSE"), "{line}");
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(cmp.join("compare.json")).unwrap()).unwrap();
    let row = c["fleets"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "operation_latency.p50")
        .unwrap();
    assert_eq!(row["verdict"], "worse");
    assert_eq!(row["base"].as_f64().unwrap(), base_p50);
    assert_eq!(row["new"].as_f64().unwrap(), new_p50);
    assert!(c["worse"].as_u64().unwrap() >= 1);
    // Every journey step of the fleet has its rows, read from each run's
    // step; the availability check (service time 10 ms -> 400 ms) is worse.
    let steps = c["fleets"][0]["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    let want: Vec<&str> = b["results"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, want);
    assert!(text.contains("  step availability\n"), "{text}");
    let avail = steps.iter().find(|s| s["step"] == "availability").unwrap();
    let p50 = avail["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "operation_latency.p50")
        .unwrap();
    let step_p50 = |s: &Value| {
        s["results"][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "availability")
            .unwrap()["ok_operation_latency_ms"]["p50"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(p50["base"].as_f64().unwrap(), step_p50(&b));
    assert_eq!(p50["new"].as_f64().unwrap(), step_p50(&n));
    assert_eq!(p50["verdict"], "worse", "{p50}");
    let page = std::fs::read_to_string(cmp.join("compare.html")).unwrap();
    assert!(page.contains("class=\"worse\""));
    assert!(page.contains("step availability"));

    // Another scenario is not comparable.
    let mut other = summary(&new);
    other["scenario"] = "retry-storm".into();
    let odir = root.join("other");
    std::fs::create_dir_all(&odir).unwrap();
    std::fs::write(odir.join("summary.json"), other.to_string()).unwrap();
    let out = stampede()
        .args(["compare", base.to_str().unwrap(), odir.to_str().unwrap()])
        .run();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not comparable"));
    let _ = std::fs::remove_dir_all(root);
}
