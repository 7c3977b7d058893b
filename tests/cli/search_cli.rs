//! `stampede search` through the binary: the largest drop a fleet survives
//! before anyone is sold out is the inventory, found by doubling then
//! bisection, with each run's report folder, search.json and search.html.

use crate::common::TempDir;
use serde_json::Value;
use std::process::Command;

const SCENARIO: &str = r#"name = "tiny-drop"
seed = 4
compare = ["compliant"]
[load]
model = "ticket-drop"
users = 10
over = "200ms"
drain = "10s"
[journey]
quantity = 1
[sim]
seed = 4
[[sim.events]]
id = "E1"
zones = [{ id = "A", seats = 30 }]
"#;

#[test]
fn the_largest_drop_without_a_sold_out_journey_is_the_inventory() {
    let dir = TempDir::new("search");
    let file = dir.path().join("tiny-drop.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("search")
        .arg(&file)
        .args(["--vary", "load.users", "--until", "journeys.sold_out > 0"])
        .args(["--precision", "0", "--max-runs", "10", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("survives load.users = 30; fails at 31"),
        "{stdout}"
    );
    let j: Value =
        serde_json::from_slice(&std::fs::read(out.join("search.json")).unwrap()).unwrap();
    let f = &j["fleets"][0];
    assert_eq!(
        (
            f["largest_surviving"].as_f64(),
            f["smallest_failing"].as_f64()
        ),
        (Some(30.0), Some(31.0))
    );
    let tried: Vec<f64> = f["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(tried, [10.0, 20.0, 40.0, 30.0, 35.0, 32.0, 31.0]);
    // Each load is a complete run folder whose own numbers agree.
    let at31 = out.join("compliant-load.users-31");
    let s: Value =
        serde_json::from_slice(&std::fs::read(at31.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["results"][0]["journeys"]["started"], 31);
    assert_eq!(s["results"][0]["journeys"]["sold_out"], 1);
    assert!(at31.join("report.html").is_file());
    let html = std::fs::read_to_string(out.join("search.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("survives load.users = 30"));
}

#[test]
fn bad_search_input_is_an_error_naming_what_is_wrong() {
    let dir = TempDir::new("search-bad");
    let file = dir.path().join("tiny-drop.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    for (args, says) in [
        (
            ["--vary", "load.nope", "--until", "journeys.sold_out > 0"],
            "has no `load.nope`",
        ),
        (
            ["--vary", "load.model", "--until", "journeys.sold_out > 0"],
            "not a number",
        ),
        (
            ["--vary", "load.users", "--until", "sold_out > 0"],
            "`--until sold_out > 0`",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_stampede"))
            .arg("search")
            .arg(&file)
            .args(args)
            .arg("--out")
            .arg(dir.path().join("never"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{says}: {err}");
        assert!(!dir.path().join("never").exists(), "nothing written");
    }
}
