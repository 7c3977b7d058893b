//! `stampede search` through the binary: the largest drop a fleet survives
//! before anyone is sold out is the inventory, found by doubling then
//! bisection, with each run's report folder, search.json and search.html;
//! on virtual time by default (the same brackets and measurements twice),
//! on the wall clock with --real.

use crate::common::TempDir;
use serde_json::Value;

/// Ten buyers for 30 seats: a search over `load.users` finds the sell-out.
fn tiny_drop() -> crate::common::scenario::Scenario {
    crate::common::scenario()
        .name("tiny-drop")
        .seed(4)
        .compare(&["compliant"])
        .ticket_drop(10, "200ms")
        .drain("10s")
        .quantity(1)
        .table("[sim]\nseed = 4\n[[sim.events]]\nid = \"E1\"\nzones = [{ id = \"A\", seats = 30 }]")
}

fn search(dir: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let file = dir.join("tiny-drop.toml");
    tiny_drop().write(&file);
    crate::common::stampede()
        .arg("search")
        .arg(&file)
        .args(["--vary", "load.users", "--until", "journeys.sold_out > 0"])
        .args(["--precision", "0", "--max-runs", "10", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_largest_drop_without_a_sold_out_journey_is_the_inventory() {
    let dir = TempDir::new("search");
    let out = dir.path().join("out");
    let o = search(dir.path(), &out, &[]);
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
    assert_eq!(s["meta"]["clock"], "virtual");
    assert_eq!(j["clock"], "virtual");
    let html = std::fs::read_to_string(out.join("search.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("survives load.users = 30"));
    // Virtual time: the same search again gives the same loads and values.
    let again = dir.path().join("again");
    let o = search(dir.path(), &again, &[]);
    assert_eq!(o.status.code(), Some(0));
    let k: Value =
        serde_json::from_slice(&std::fs::read(again.join("search.json")).unwrap()).unwrap();
    assert_eq!(k["fleets"], j["fleets"]);
}

#[test]
fn the_wall_clock_search_finds_the_same_bracket() {
    let dir = TempDir::new("search-real");
    let out = dir.path().join("out");
    let o = search(dir.path(), &out, &["--real"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("survives load.users = 30; fails at 31"),
        "{stdout}"
    );
    assert!(stdout.contains("(real clock)"), "{stdout}");
}

#[test]
fn bad_search_input_is_an_error_naming_what_is_wrong() {
    let dir = TempDir::new("search-bad");
    let file = dir.path().join("tiny-drop.toml");
    tiny_drop().write(&file);
    let remote = dir.path().join("remote.toml");
    tiny_drop()
        .target("http://127.0.0.1:9")
        .event("E1", &["A"])
        .write(&remote);
    let until = ["--until", "journeys.sold_out > 0"];
    for (scenario, args, says) in [
        (&file, vec!["--vary", "load.nope"], "has no `load.nope`"),
        (&file, vec!["--vary", "load.model"], "not a number"),
        (
            &file,
            vec!["--vary", "load.users", "--until", "sold_out > 0"],
            "`--until sold_out > 0`",
        ),
        // A real target needs the wall clock.
        (&remote, vec!["--vary", "load.users"], "--real"),
        (
            &file,
            vec!["--vary", "load.users", "--target", "http://127.0.0.1:9"],
            "--real",
        ),
    ] {
        let mut args = args;
        if !args.contains(&"--until") {
            args.extend(until);
        }
        let o = crate::common::stampede()
            .arg("search")
            .arg(scenario)
            .args(&args)
            .arg("--out")
            .arg(dir.path().join("never"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{says}: {err}");
        assert!(!dir.path().join("never").exists(), "nothing written");
    }
}
