use super::*;
use crate::policy::RetryPolicy;
use crate::report::{
    ClientHarm, FleetCounts, FleetLatency, JourneyCounts, RetryBehaviour, SCHEMA_VERSION,
};
use crate::sim::Ledger;
use std::collections::BTreeMap;

pub(crate) fn pct(count: u64, p99: f64) -> Percentiles {
    Percentiles {
        count,
        mean: p99 / 4.0,
        p50: p99 / 5.0,
        p90: p99 / 2.0,
        p95: p99 / 1.5,
        p99,
        p999: p99 * 1.5,
        max: p99 * 2.0,
    }
}

fn policy() -> RetryPolicy {
    crate::policy::preset("compliant").expect("compliant preset")
}

pub(crate) fn fleet(name: &str, ledger: Option<Ledger>) -> FleetResult {
    FleetResult {
        name: name.into(),
        policy: name.into(),
        policy_detail: policy(),
        round: 0,
        share: 1.0,
        counts: FleetCounts {
            operations: 1000,
            attempts: 1250,
            not_sent: 0,
            hedges: 0,
            hedge_wins: 0,
            retries: 250,
            amplification: 1.25,
            amplification_steps: vec!["reserve".into()],
            amplification_overall: 1.25,
            success_rate: 0.975,
            goodput: 42.5,
            achieved_rps: 125.0,
            round_duration_s: 10.0,
            journeys: JourneyCounts {
                started: 400,
                succeeded: 300,
                sold_out: 50,
                failed: 40,
                cancelled: 10,
            },
            outcomes: BTreeMap::from([
                ("OK".into(), 975),
                ("GAVE_UP/HTTP_503".into(), 20),
                ("GAVE_UP/TIMEOUT".into(), 5),
            ]),
            relogins: 0,
            funnel: Vec::new(),
        },
        latency: FleetLatency {
            operation_latency_ms: pct(1000, 812.4),
            ok_operation_latency_ms: pct(1000, 812.4),
            attempt_latency_ms: pct(1250, 400.0),
            backoff_wait_ms: pct(250, 1000.0),
            schedule_lag_ms: pct(1000, 2.0),
            queue_wait_ms: Percentiles::default(),
            journey_duration_ms: pct(400, 2500.0),
            latency_step: None,
            operation_spectrum: Vec::new(),
            attempt_spectrum: Vec::new(),
            latency_interval_ms: 1000,
            latency_series: Vec::new(),
            latency_per_second: Vec::new(),
        },
        retry: RetryBehaviour {
            retry_after_honoured: 7,
            breaker_opens: 2,
            breaker_open_s: 3.5,
        },
        harm: ClientHarm {
            early_retries: 0,
            key_changed_after_ambiguous: 0,
            sent_while_told_to_wait: 0,
        },
        attempts_per_operation: BTreeMap::new(),
        steps: vec![StepResult {
            name: "reserve".into(),
            operations: 500,
            attempts: 700,
            not_sent: 0,
            hedges: 0,
            hedge_wins: 0,
            amplification: 1.4,
            success_rate: 0.9,
            outcomes: BTreeMap::from([("HTTP_503".into(), 3)]),
            operation_latency_ms: pct(500, 1500.0),
            ok_operation_latency_ms: pct(500, 1500.0),
            attempt_latency_ms: pct(700, 1900.0),
            attempt_latency_by_class_ms: BTreeMap::new(),
            latency_series: Vec::new(),
            kind: Default::default(),
            retries: 200,
            journeys_passed: 450,
            wait: None,
            windows: Vec::new(),
        }],
        timeseries: Vec::new(),
        ledger,
        truth: None,
        recovery_s: None,
        round_started_unix_ms: None,
        windows: Vec::new(),
    }
}

pub(crate) fn report() -> Report {
    let ledger = Ledger {
        duplicates: 3,
        early_retries: 12,
        bookings_created: 300,
        ..Ledger::default()
    };
    let mut idle = fleet("idle", None);
    idle.counts.operations = 0;
    idle.counts.success_rate = f64::NAN;
    idle.latency.operation_latency_ms = Percentiles::default();
    idle.latency.ok_operation_latency_ms = Percentiles::default();
    idle.counts.goodput = f64::NAN;
    Report {
        schema_version: SCHEMA_VERSION,
        stampede_version: "0.1.0".into(),
        scenario: "ticket-drop".into(),
        description: String::new(),
        source: "scenarios/ticket-drop.toml".into(),
        started_at: "2025-01-01T00:00:00Z".into(),
        duration_s: 12.5,
        target: "embedded simulator".into(),
        load: "ticket drop".into(),
        status: crate::report::RunStatus::Completed,
        stop_reason: None,
        notes: Vec::new(),
        results: vec![
            fleet("compliant", Some(Ledger::default())),
            fleet("no-jitter", Some(ledger)),
            fleet("remote", None),
            idle,
        ],
        gates: Vec::new(),
        trigger: None,
        origin: Default::default(),
        meta: Default::default(),
    }
}

/// Parse `exprs` against the report's own fleet and step names, as the
/// plan would against the scenario's.
fn gates(exprs: &[&str], report: &Report) -> Vec<Gate> {
    let fleets: Vec<String> = report.results.iter().map(|c| c.name.clone()).collect();
    let mut steps: Vec<String> = Vec::new();
    for s in report.results.iter().flat_map(|c| &c.steps) {
        if !steps.contains(&s.name) {
            steps.push(s.name.clone());
        }
    }
    exprs
        .iter()
        .map(|e| parse(e, &fleets, &steps).unwrap_or_else(|err| panic!("{e}: {err}")))
        .collect()
}

fn eval_on(exprs: &[&str], report: &Report) -> Vec<GateResult> {
    let r = evaluate_all(&gates(exprs, report), report);
    assert_eq!(r.len(), exprs.len());
    r
}

fn eval(expr: &str) -> GateResult {
    eval_on(&[expr], &report()).remove(0)
}

fn passes(expr: &str) -> GateResult {
    let g = eval(expr);
    assert!(g.passed, "expected pass: {}", g.message);
    assert_eq!(g.reason, GateReason::Passed, "{}", g.message);
    assert!(g.message.ends_with("— passed"), "{}", g.message);
    g
}

fn fails(expr: &str) -> GateResult {
    let g = eval(expr);
    assert!(!g.passed, "expected fail: {}", g.message);
    assert_ne!(g.reason, GateReason::Passed, "{}", g.message);
    assert!(g.message.ends_with("— FAILED"), "{}", g.message);
    g
}

/// A failure because nothing could be measured: no number, a reason and a detail.
fn unmeasured(expr: &str, reason: GateReason, detail_has: &str) -> GateResult {
    let g = fails(expr);
    assert_eq!(g.reason, reason, "{}", g.message);
    assert_eq!((g.measured, &g.measured_written), (None, &None), "{g:?}");
    let detail = g.detail.as_deref().expect("a detail");
    assert!(detail.contains(detail_has), "{detail}");
    assert!(g.message.contains(detail), "{}", g.message);
    g
}

#[test]
fn recovery_needs_a_trigger_and_never_is_longer_than_any_bound() {
    unmeasured(
        "compliant.recovery_s < 5",
        GateReason::NoTrigger,
        "trigger window",
    );
    let mut r = report();
    r.trigger = Some(crate::report::Trigger {
        from_s: 6.0,
        to_s: 10.0,
    });
    r.results[0].recovery_s = Some(2.0);
    let all = eval_on(
        &[
            "compliant.recovery_s <= 2",
            "compliant.recovery_s < 2",
            "no-jitter.recovery_s > 30",
            "no-jitter.recovery_s < 30",
        ],
        &r,
    );
    let passed: Vec<bool> = all.iter().map(|g| g.passed).collect();
    assert_eq!(passed, [true, false, true, false], "{all:?}");
    assert_eq!(all[2].measured, None);
    assert_eq!(all[2].measured_written.as_deref(), Some("never"));
    assert_eq!(all[3].reason, GateReason::Failed);
    assert!(
        all[2].message.contains("measured never"),
        "{}",
        all[2].message
    );
}

#[test]
fn message_matches_the_documented_shape() {
    let g = fails("compliant.operation_latency.p99 < 800ms");
    assert_eq!(
        g.message,
        "compliant.operation_latency.p99 < 800ms: measured 812.4ms, bound 800ms — FAILED"
    );
    assert_eq!((g.measured, g.bound), (Some(812.4), 800.0));
    assert_eq!(g.reason, GateReason::Failed);
    assert_eq!(g.values(), "measured 812.4ms, bound 800ms");
}

#[test]
fn results_carry_metric_op_unit_and_written_values() {
    let g = passes("compliant.reserve.attempt_latency.p99 < 2s");
    assert_eq!(g.metric, "compliant.reserve.attempt_latency.p99");
    assert_eq!((g.op.as_str(), g.unit.as_str()), ("<", "s"));
    assert_eq!(g.bound_written, "2s");
    assert_eq!(g.measured_written.as_deref(), Some("1.9s"));
    assert_eq!((g.measured, g.bound), (Some(1.9), 2.0));
    assert_eq!(g.detail, None);
    // a latency without a unit is in ms
    let g = passes("compliant.attempt_latency.p99 == 400");
    assert_eq!((g.unit.as_str(), g.bound_written.as_str()), ("ms", "400ms"));
    // plain numbers have no unit
    let g = passes("no-jitter.duplicates >= 3");
    assert_eq!(g.metric, "no-jitter.duplicates");
    assert_eq!((g.op.as_str(), g.unit.as_str()), (">=", ""));
    assert_eq!(
        (g.bound_written.as_str(), g.measured_written.as_deref()),
        ("3", Some("3"))
    );
    let g = fails("compliant.success_rate != 97.5%");
    assert_eq!((g.op.as_str(), g.unit.as_str()), ("!=", "%"));
    assert_eq!(g.metric, "compliant.success_rate");
    assert_eq!(g.reason, GateReason::Failed);
}

#[test]
fn the_message_is_the_line_built_from_the_fields() {
    for e in [
        "compliant.operation_latency.p99 < 1s",
        "compliant.success_rate >= 98%",
        "remote.oversold == 0",
        "idle.goodput >= 0",
    ] {
        let g = eval(e);
        assert_eq!(g.message, g.line(), "{e}");
    }
}

#[test]
fn passing_gate_sets_passed() {
    let g = eval("compliant.operation_latency.p99 < 1s");
    assert!(g.passed);
    // measured and bound in the expression's unit
    assert!((g.measured.unwrap() - 0.8124).abs() < 1e-12);
    assert_eq!(g.bound, 1.0);
    assert_eq!(g.values(), "measured 0.812s, bound 1s");
    passes("compliant.operation_latency.p99 <= 812.4");
    passes("compliant.operation_latency.p99 == 812400us");
}

#[test]
fn every_operator_against_the_report() {
    passes("compliant.amplification < 1.3");
    fails("compliant.amplification < 1.25");
    passes("compliant.amplification <= 1.25");
    passes("compliant.amplification > 1.2");
    fails("compliant.amplification > 1.25");
    passes("compliant.amplification >= 1.25");
    passes("compliant.amplification == 1.25");
    fails("compliant.amplification != 1.25");
    passes("compliant.amplification != 1.3");
}

#[test]
fn fleet_metrics() {
    passes("compliant.operations == 1000");
    passes("compliant.attempts == 1250");
    passes("compliant.retries == 250");
    passes("compliant.goodput > 42");
    passes("compliant.achieved_rps >= 125");
    passes("compliant.breaker_opens == 2");
    passes("compliant.breaker_open_s < 4");
    passes("compliant.retry_after_honoured == 7");
    passes("compliant.journeys.succeeded >= 300");
    passes("compliant.journeys.started == 400");
    passes("compliant.journeys.sold_out == 50");
    passes("compliant.journeys.failed == 40");
    passes("compliant.journeys.cancelled == 10");
    passes("compliant.attempt_latency.p99 == 400");
    passes("compliant.backoff_wait.max == 2s");
    passes("compliant.schedule_lag.p99 < 5ms");
    passes("compliant.operation_latency.p50 < 200ms");
    passes("compliant.operation_latency.p90 < 500ms");
    passes("compliant.operation_latency.p999 > 1s");
    passes("compliant.operation_latency.mean < 250");
}

#[test]
fn rates_and_percentages() {
    let g = fails("compliant.success_rate >= 98%");
    assert_eq!(g.measured, Some(97.5));
    assert!(
        g.message.contains("measured 97.5%, bound 98%"),
        "{}",
        g.message
    );
    assert_eq!(g.values(), "measured 97.5%, bound 98%");
    passes("compliant.success_rate >= 97.5%");
    passes("compliant.success_rate >= 0.97");
    fails("compliant.success_rate >= 0.98");
}

#[test]
fn journey_success_rate_leaves_out_sold_out_and_cancelled_journeys() {
    // 300 succeeded of 400 started, 50 sold out, 10 cancelled: 300 / 340.
    let g = passes("compliant.journey_success_rate >= 88%");
    let want = 300.0 / 340.0 * 100.0;
    assert!((g.measured.unwrap() - want).abs() < 1e-9, "{g:?}");
    assert_eq!(g.measured_written.as_deref(), Some("88.235%"));
    fails("compliant.journey_success_rate >= 0.89");
    // Sold-out journeys no longer count against it: only failures do.
    let mut r = report();
    r.results[0].counts.journeys = JourneyCounts {
        started: 300,
        succeeded: 200,
        sold_out: 100,
        failed: 0,
        cancelled: 0,
    };
    r.results[0].counts.success_rate = 800.0 / 900.0;
    let g = eval_on(
        &[
            "compliant.journey_success_rate == 100%",
            "compliant.success_rate >= 95%",
        ],
        &r,
    );
    assert!(g[0].passed, "{}", g[0].message);
    assert!(!g[1].passed, "{}", g[1].message);
    r.results[0].counts.journeys.failed = 1;
    r.results[0].counts.journeys.started = 301;
    let g = eval_on(&["compliant.journey_success_rate == 100%"], &r);
    assert!(
        !g[0].passed,
        "one failed journey fails it: {}",
        g[0].message
    );
    // Nothing that could succeed: not measured, never a pass.
    r.results[0].counts.journeys = JourneyCounts {
        started: 5,
        succeeded: 0,
        sold_out: 3,
        failed: 0,
        cancelled: 2,
    };
    let g = eval_on(&["compliant.journey_success_rate >= 0"], &r).remove(0);
    assert_eq!(g.reason, GateReason::NoJourneys, "{}", g.message);
    assert!(!g.passed);
    assert!(
        g.detail
            .unwrap()
            .contains("started 5, sold out 3, cancelled 2"),
        "{}",
        g.message
    );
}

#[test]
fn outcomes_missing_code_is_zero() {
    // A family label counts every cause it splits into.
    passes("compliant.outcomes.GAVE_UP == 25");
    passes("compliant.outcomes.GAVE_UP/TIMEOUT == 5");
    fails("compliant.outcomes.GAVE_UP == 0");
    passes("compliant.outcomes.BREAKER_OPEN == 0");
}

#[test]
fn step_metrics() {
    passes("compliant.reserve.attempt_latency.p99 < 2s");
    fails("compliant.reserve.operation_latency.p99 < 1s");
    passes("compliant.reserve.operations == 500");
    passes("compliant.reserve.attempts == 700");
    passes("compliant.reserve.success_rate >= 90%");
    passes("compliant.reserve.outcomes.HTTP_503 == 3");
    passes("compliant.reserve.outcomes.TIMEOUT == 0");
}

#[test]
fn ledger_metrics() {
    passes("no-jitter.duplicates > 0");
    passes("no-jitter.early_retries == 12");
    passes("no-jitter.bookings_created == 300");
    passes("no-jitter.wasted_work == 0");
    passes("compliant.oversold == 0");
    passes("compliant.duplicates == 0");
}

#[test]
fn ledger_metric_without_ledger_fails() {
    for e in ["remote.oversold == 0", "remote.duplicates < 1000000"] {
        unmeasured(e, GateReason::LedgerUnavailable, "simulator's ledger");
    }
}

#[test]
fn truth_keys_measure_ledger_metrics_and_their_own() {
    let mut r = report();
    let remote = r.results.iter_mut().find(|c| c.name == "remote").unwrap();
    remote.truth = Some(crate::report::Truth {
        source: "command redis-cli".into(),
        counts: BTreeMap::from([
            ("bookings_created".into(), 120.0),
            ("duplicates".into(), 2.0),
        ]),
        levels: BTreeMap::from([("seats_left".into(), 0.0)]),
    });
    let got = eval_on(
        &[
            "remote.bookings_created == 120",
            "remote.duplicates == 0",
            "remote.truth.seats_left == 0",
            "remote.truth.held <= 5",
            "remote.oversold == 0",
        ],
        &r,
    );
    let passed: Vec<bool> = got.iter().map(|g| g.passed).collect();
    assert_eq!(passed, [true, false, true, false, false]);
    assert_eq!(got[1].measured, Some(2.0));
    assert_eq!(got[3].reason, GateReason::LedgerUnavailable);
    assert!(
        got[3].message.contains("has no key `held`"),
        "{}",
        got[3].message
    );
    assert!(
        got[4].message.contains("[truth] key `oversold`"),
        "{}",
        got[4].message
    );
    // Without a reading, a truth gate fails unmeasured.
    unmeasured(
        "remote.truth.seats_left == 0",
        GateReason::LedgerUnavailable,
        "no [truth] reading",
    );
}

#[test]
fn nothing_measured_fails() {
    // no operations: rates are undefined, not 0 or NaN that slips through
    unmeasured(
        "idle.success_rate >= 0",
        GateReason::NoOperations,
        "no operations",
    );
    unmeasured(
        "idle.amplification >= 0",
        GateReason::NoOperations,
        "no operations",
    );
    // latency without samples
    unmeasured(
        "idle.operation_latency.p99 < 1000s",
        GateReason::NoSamples,
        "no operation_latency samples",
    );
    // NaN
    let g = unmeasured("idle.goodput >= 0", GateReason::NotANumber, "NaN");
    assert_eq!(
        g.message,
        "idle.goodput >= 0: measured NaN, bound 0 — FAILED"
    );
}

#[test]
fn gate_for_a_fleet_or_step_not_in_the_report_fails() {
    let fleets = vec!["compliant".to_string(), "gone".to_string()];
    let steps = vec!["reserve".to_string(), "confirm".to_string()];
    let g = parse("gone.retries >= 0", &fleets, &steps).unwrap();
    let r = evaluate(&g, &report());
    assert!(!r.passed);
    assert_eq!(r.reason, GateReason::UnknownFleet);
    assert!(r.message.contains("not in this report"), "{}", r.message);
    let g = parse("compliant.confirm.attempts >= 0", &fleets, &steps).unwrap();
    let r = evaluate(&g, &report());
    assert!(!r.passed);
    assert_eq!(r.reason, GateReason::UnknownStep);
    assert!(r.message.contains("no results"), "{}", r.message);
    assert_eq!(r.metric, "compliant.confirm.attempts");
}

#[test]
fn results_survive_summary_json() {
    let mut r = report();
    r.results.truncate(3);
    r.results.push(fleet("idle", None));
    r.results[3].counts.goodput = f64::NAN;
    r.gates = eval_on(
        &[
            "compliant.success_rate >= 98%",
            "remote.oversold == 0",
            "idle.goodput >= 0",
            "compliant.reserve.attempt_latency.p99 < 2s",
        ],
        &r,
    );
    let json = serde_json::to_string(&r.gates).unwrap();
    assert!(json.contains(r#""reason":"ledger_unavailable""#), "{json}");
    assert!(json.contains(r#""reason":"not_a_number""#), "{json}");
    let back: Vec<GateResult> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r.gates);
}

#[test]
fn reason_labels_are_what_summary_json_says() {
    use crate::report::GATE_REASONS;
    for (reason, label) in GATE_REASONS {
        assert_eq!(reason.label(), label);
        let json = serde_json::to_string(&reason).unwrap();
        assert_eq!(json, format!("\"{label}\""));
        let back: GateReason = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reason);
    }
    // every variant is listed once (a new one must be added to the table)
    let mut labels: Vec<&str> = GATE_REASONS.iter().map(|(_, l)| *l).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), GATE_REASONS.len());
}

#[test]
fn the_schema_lists_every_reason() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/summary.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let listed = &schema["$defs"]["GateResult"]["properties"]["reason"]["enum"];
    let want: Vec<&str> = crate::report::GATE_REASONS
        .iter()
        .map(|(_, l)| *l)
        .collect();
    assert_eq!(listed, &serde_json::json!(want));
}

#[test]
fn p95_is_a_latency_stat_like_p90_and_p99() {
    let r = report();
    let want = r.results[0].latency.operation_latency_ms.p95;
    assert!(want > r.results[0].latency.operation_latency_ms.p90);
    assert!(want < r.results[0].latency.operation_latency_ms.p99);
    let g = eval(&format!("compliant.operation_latency.p95 <= {want}ms"));
    assert!(g.passed, "{}", g.message);
    assert_eq!(g.measured, Some(want));
    let g = eval(&format!("compliant.operation_latency.p95 < {want}ms"));
    assert!(!g.passed, "{}", g.message);
}

#[test]
fn latency_gates_read_successful_operations_and_all_is_explicit() {
    let mut r = report();
    for c in &mut r.results {
        // Fast failures: the successful operations were slower.
        c.latency.ok_operation_latency_ms = pct(900, 950.0);
        c.steps[0].ok_operation_latency_ms = pct(400, 1700.0);
    }
    let ok = |e: &str| eval_on(&[e], &r).remove(0).passed;
    assert!(!ok("compliant.operation_latency.p99 < 900ms"));
    assert!(ok("compliant.operation_latency_all.p99 < 900ms"));
    assert!(!ok("compliant.reserve.operation_latency.p99 < 1600ms"));
    assert!(ok("compliant.reserve.operation_latency_all.p99 < 1600ms"));
    assert!(ok("compliant.journey_duration.p99 < 3s"));
    assert!(!ok("compliant.journey_duration.p99 < 2s"));
}

#[test]
fn a_fleet_with_no_successful_operation_fails_latency_and_load_gates() {
    let mut r = report();
    for c in &mut r.results {
        c.latency.ok_operation_latency_ms = Percentiles::default();
        c.counts.success_rate = 0.0;
        for s in &mut c.steps {
            s.ok_operation_latency_ms = Percentiles::default();
        }
    }
    for expr in [
        "compliant.operation_latency.p99 < 500ms",
        "compliant.reserve.operation_latency.p99 < 250ms",
        "compliant.achieved_rps > 0",
        "compliant.goodput < 1000",
        "compliant.operation_latency_all.p99 < 900ms",
        "compliant.attempt_latency.p99 < 900ms",
        "compliant.journey_duration.p99 < 3s",
        "compliant.reserve.attempt_latency.p99 < 900ms",
        "compliant.reserve.operation_latency_all.p99 < 1600ms",
    ] {
        let g = eval_on(&[expr], &r).remove(0);
        assert!(!g.passed, "{expr}: {}", g.message);
        assert_eq!(g.reason, GateReason::NoSuccessfulOperations, "{expr}");
        assert!(g.measured.is_none(), "{expr}");
    }
    // What the failures cost the target is still there for who asks.
    assert!(eval_on(&["compliant.amplification <= 1.3"], &r)[0].passed);
    // No HTTP answer at all: nothing passes, whatever it asks.
    crate::sample::no_http_answer(&mut r);
    for expr in [
        "compliant.amplification <= 1.3",
        "compliant.operation_latency_all.p99 < 900ms",
        "compliant.outcomes.CONNECT_REFUSED == 0",
    ] {
        let g = eval_on(&[expr], &r).remove(0);
        assert!(!g.passed, "{expr}");
        assert_eq!(g.reason, GateReason::NoSuccessfulOperations, "{expr}");
    }
}
