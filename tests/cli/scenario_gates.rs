//! `gates = [...]` in a scenario file is parsed once, at plan time: the plan
//! holds the parsed gates beside their source text.

use stampede::gate::{Latency, Metric, Op, Stat, Unit};
use stampede::scenario::{Overrides, ScenarioError, parse};
use std::path::Path;

fn scenario(gates: &str) -> String {
    format!(
        r#"name = "gates"
compare = ["compliant", "no-jitter"]
gates = {gates}

[load]
model = "ticket-drop"
users = 10
over = "1s"

[policies.no-jitter]
jitter = "none"
"#
    )
}

fn check(gates: &str) -> Result<stampede::scenario::Plan, ScenarioError> {
    parse(
        &scenario(gates),
        Path::new("scenarios/gates.toml"),
        &Overrides::default(),
    )
}

#[test]
fn valid_gates_are_accepted_and_kept() {
    let gates = r#"[
  "compliant.operation_latency.p99 < 800ms",
  "compliant.success_rate >= 98%",
  "no-jitter.amplification <= 1.3",
  "no-jitter.duplicates == 0",
  "compliant.reserve.attempt_latency.p99 < 2s",
  "compliant.outcomes.GAVE_UP == 0",
  "compliant.journeys.succeeded >= 1",
]"#;
    let plan = check(gates).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.gates.len(), 7);
    let g = &plan.gates[2];
    assert_eq!(g.expr, "no-jitter.amplification <= 1.3");
    assert_eq!(
        (g.fleet.as_str(), &g.metric, g.op, g.bound),
        ("no-jitter", &Metric::Amplification, Op::Le, 1.3)
    );
    let g = &plan.gates[4];
    assert_eq!(
        (g.fleet.as_str(), g.step.as_deref(), &g.metric),
        (
            "compliant",
            Some("reserve"),
            &Metric::Latency(Latency::Attempt, Stat::P99)
        )
    );
    assert_eq!((g.unit, g.value, g.bound), (Unit::S, 2.0, 2000.0));
    let g = &plan.gates[1];
    assert_eq!(
        (g.metric.clone(), g.unit),
        (Metric::SuccessRate, Unit::Percent)
    );
    assert!((g.bound - 0.98).abs() < 1e-12);
}

#[test]
fn the_printed_plan_shows_gates_as_written() {
    let plan = check(r#"["  compliant.journey_success_rate >= 99%", "compliant.reserve.attempt_latency.p99 < 2s"]"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_value(&plan).expect("the plan serializes");
    assert_eq!(
        json["gates"],
        serde_json::json!([
            "compliant.journey_success_rate >= 99%",
            "compliant.reserve.attempt_latency.p99 < 2s"
        ])
    );
    assert_eq!(plan.gates[0].metric, Metric::JourneySuccessRate);
}

#[test]
fn journey_success_rate_is_a_rate_and_not_per_step() {
    let (key, msg, _) = rejected(r#"["compliant.journey_success_rate >= 99"]"#);
    assert_eq!(key, "gates[0]");
    assert!(msg.contains("99%"), "{msg}");
    let (_, msg, _) = rejected(r#"["compliant.reserve.journey_success_rate >= 99%"]"#);
    assert!(msg.contains("not measured per step"), "{msg}");
}

#[test]
fn no_gates_is_fine() {
    assert!(check("[]").unwrap().gates.is_empty());
}

fn rejected(gates: &str) -> (String, String, usize) {
    match check(gates) {
        Ok(_) => panic!("accepted {gates}"),
        Err(ScenarioError::Invalid { key, msg, line, .. }) => (key, msg, line),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn unknown_metric_is_rejected_with_the_gate_key() {
    let (key, msg, line) = rejected(r#"["compliant.latency.p99 < 800ms"]"#);
    assert_eq!(key, "gates[0]");
    assert!(msg.contains("unknown metric `latency`"), "{msg}");
    assert!(msg.contains("operation_latency.<stat>"), "{msg}");
    assert_eq!(line, 3, "points at the gates line");
}

#[test]
fn unknown_fleet_is_rejected_with_the_gate_key() {
    let (key, msg, _) = rejected(r#"["naive.duplicates > 0"]"#);
    assert_eq!(key, "gates[0]");
    assert!(msg.contains("unknown fleet `naive`"), "{msg}");
    assert!(msg.contains("compliant, no-jitter"), "{msg}");
}

#[test]
fn later_bad_gate_names_its_index() {
    let (key, msg, _) =
        rejected(r#"["compliant.success_rate >= 0.9", "compliant.reserv.attempts > 0", "x"]"#);
    assert_eq!(key, "gates[1]");
    assert!(msg.contains("unknown step `reserv`"), "{msg}");
    assert!(msg.contains("availability, reserve, confirm"), "{msg}");
}

#[test]
fn error_display_names_file_line_column_and_key() {
    let err = check(r#"["compliant.operation_latency.p99 <> 800ms"]"#).unwrap_err();
    let s = err.to_string();
    assert!(
        s.starts_with("scenarios/gates.toml:3:1: `gates[0]`:"),
        "{s}"
    );
    assert!(s.contains("unknown operator `<>`"), "{s}");
}
