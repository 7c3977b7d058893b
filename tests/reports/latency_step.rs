//! `[journey] latency_step` picks the step whose latency the headlines
//! show, the last step by default: the console's headline rows name that
//! step and print its OK operations' latency, summary.json names it in
//! `latency_step`, and the console has one row per step besides. An
//! unknown step is an error naming the key.

use crate::common;
use common::TempDir;
use stampede::report::format::ms;

/// The scenario: the embedded simulator's three-step journey, 40 buyers
/// for 60 seats, so every step has successes.
fn scenario(latency_step: Option<&str>) -> common::scenario::Scenario {
    let s = common::scenario()
        .compare(&["compliant"])
        .seed(11)
        .ticket_drop(40, "1s")
        .drain("30s")
        .table("[[sim.events]]\nid = \"E1\"\nzones = [{ id = \"A\", seats = 60 }]");
    match latency_step {
        Some(step) => s.journey_key("latency_step", &format!("{step:?}")),
        None => s,
    }
}

/// The console's cell of the row labelled `label` (one fleet).
fn cell<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no row `{label}` in\n{stdout}"))
}

/// Runs the scenario on virtual time; checks that every headline names and
/// shows `step`.
fn headline_is(latency_step: Option<&str>, step: &str) {
    let dir = TempDir::new("latency-step");
    let file = scenario(latency_step).write(dir.path().join("s.toml"));
    let out = dir.path().join("out");
    let o = common::stampede()
        .arg("run")
        .arg(&file)
        .args(["--virtual-time", "--out"])
        .arg(&out)
        .run();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    let s = common::read_summary(&out);
    let fleet = &s["results"][0];
    assert_eq!(fleet["latency_step"], step, "{fleet}");
    let st = fleet["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == step)
        .unwrap();
    let ok = &st["ok_operation_latency_ms"];
    assert!(ok["count"].as_u64().unwrap() > 0, "{st}");
    for stat in ["p50", "p99", "max"] {
        let label = format!("{step} latency {stat} (ok)");
        assert_eq!(
            cell(&stdout, &label),
            ms(ok[stat].as_f64().unwrap()),
            "{label}"
        );
    }
    // The headline rows are that step's only: no other step's, no blend.
    let headlines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" latency p") && l.contains("(ok)"))
        .collect();
    assert_eq!(headlines.len(), 2, "{headlines:?}");
    assert!(headlines.iter().all(|l| l.trim_start().starts_with(step)));
    // One row per step, in journey order.
    let rows: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("step "))
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(rows, ["availability", "reserve", "confirm"], "{stdout}");
    // The verdict sentence quotes the same step's p99.
    let p99 = format!("{step} p99 {}", ms(ok["p99"].as_f64().unwrap()));
    assert!(stdout.contains(&p99), "no `{p99}` in\n{stdout}");
}

#[test]
fn the_headline_latency_is_the_last_step_unless_latency_step_names_one() {
    headline_is(None, "confirm");
    headline_is(Some("reserve"), "reserve");
}

#[test]
fn an_unknown_latency_step_is_an_error_naming_the_key() {
    let dir = TempDir::new("latency-step-bad");
    let file = scenario(Some("pay")).write(dir.path().join("s.toml"));
    let o = common::stampede().arg("validate").arg(&file).run();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("journey.latency_step"), "{stderr}");
    assert!(stderr.contains("no step named `pay`"), "{stderr}");
    assert!(stderr.contains(&format!("{}:", file.display())), "{stderr}");
}
