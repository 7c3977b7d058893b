use super::super::tests::{pct, report};
use crate::gate::{evaluate, parse};
use crate::report::{GateReason, GateResult, Percentiles, Report, WindowRow, WindowSeries};

/// Six 10 s windows: 100 operations each, 90 OK at p99 100 ms, except the
/// window at 30 s (p99 1,500 ms, 50 OK) and an empty one at 50 s.
fn windows() -> WindowSeries {
    let rows = (0..6u32)
        .map(|w| {
            let (ops, ok, p99) = match w {
                3 => (100, 50, 1500.0),
                5 => (0, 0, 0.0),
                _ => (100, 90, 100.0),
            };
            WindowRow {
                t_s: w * 10,
                operations: ops,
                ok_operations: ok,
                attempts: ops * 2,
                operation_latency_ms: pct(ops, p99),
                ok_operation_latency_ms: pct(ok, p99),
                attempt_latency_ms: pct(ops * 2, p99 / 2.0),
            }
        })
        .collect();
    WindowSeries { width_s: 10, rows }
}

fn with_windows() -> Report {
    let mut r = report();
    let c = &mut r.results[0];
    // The whole run's p99 (500 ms) is under the bound; one window is not.
    c.latency.ok_operation_latency_ms = pct(500, 500.0);
    c.windows = vec![windows()];
    c.steps[0].windows = vec![windows()];
    r
}

fn eval(expr: &str) -> GateResult {
    let r = with_windows();
    let names: Vec<String> = r.results.iter().map(|c| c.name.clone()).collect();
    let g = parse(expr, &names, &["reserve".into()]).unwrap_or_else(|e| panic!("{e}"));
    let out = evaluate(&g, &r);
    assert_eq!(out.message, out.line());
    out
}

#[test]
fn one_breached_window_fails_a_gate_the_whole_run_passes() {
    assert!(eval("compliant.operation_latency.p99 < 800ms").passed);
    let g = eval("compliant.operation_latency.p99 < 800ms in every 10s window");
    assert!(!g.passed);
    assert_eq!(g.reason, GateReason::Failed);
    let w = g.window.expect("a window verdict");
    assert_eq!((w.width_s, w.measured, w.held, w.empty), (10, 5, 4, 1));
    assert_eq!(w.worst_t_s, Some(30));
    assert_eq!(g.measured, Some(1500.0));
    assert_eq!(
        g.line(),
        "compliant.operation_latency.p99 < 800ms in every 10s window: held in 4 of 5 10s windows (80%, 100% required), worst 1500ms at 30s, bound 800ms — FAILED"
    );
    // 4 of 5 is 80%: enough for 80%, not for 81%.
    assert!(eval("compliant.operation_latency.p99 < 800ms in 80% of 10s windows").passed);
    assert!(!eval("compliant.operation_latency.p99 < 0.8s in 81% of 10s windows").passed);
}

#[test]
fn rates_counts_and_steps_are_measured_window_by_window() {
    // Success 90%, 90%, 90%, 50%, 90%; the empty window is left out.
    let g = eval("compliant.success_rate >= 90% in every 10s window");
    assert!(!g.passed);
    assert_eq!(g.measured, Some(50.0));
    assert_eq!(g.window.unwrap().worst_t_s, Some(30));
    // Counts include empty windows: the last one had no operations.
    let g = eval("compliant.operations > 0 in every 10s window");
    assert!(!g.passed);
    assert_eq!((g.window.unwrap().measured, g.measured), (6, Some(0.0)));
    assert!(eval("compliant.attempts <= 200 in every 10s window").passed);
    // Burn rate of a 99% objective: 10% failed is 10x, 50% failed is 50x.
    let g = eval("compliant.burn_rate(99%) < 20 in every 10s window");
    assert!(!g.passed);
    assert!((g.measured.unwrap() - 50.0).abs() < 1e-9, "{g:?}");
    assert!(eval("compliant.burn_rate(99%) < 20 in 80% of 10s windows").passed);
    // A step's own windows.
    let g = eval("compliant.reserve.attempt_latency.p99 <= 750ms in every 10s window");
    assert!(g.passed, "{}", g.message);
    assert_eq!(g.measured, Some(750.0));
}

#[test]
fn a_report_without_those_windows_fails_unmeasured() {
    let g = eval("compliant.operation_latency.p99 < 800ms in every 1m window");
    assert!(!g.passed);
    assert_eq!(g.reason, GateReason::NoWindows);
    assert!(g.detail.unwrap().contains("no 60s windows"));
    assert_eq!(g.measured, None);
    // A fleet without windows at all.
    let g = eval("no-jitter.success_rate >= 90% in every 10s window");
    assert_eq!(g.reason, GateReason::NoWindows);
}

#[test]
fn windows_with_nothing_to_measure_fail_unmeasured() {
    let mut r = with_windows();
    for row in &mut r.results[0].windows[0].rows {
        row.ok_operations = 0;
        row.ok_operation_latency_ms = Percentiles::default();
    }
    let names: Vec<String> = r.results.iter().map(|c| c.name.clone()).collect();
    let g = parse(
        "compliant.operation_latency.p99 < 800ms in every 10s window",
        &names,
        &["reserve".into()],
    )
    .unwrap();
    let out = evaluate(&g, &r);
    assert!(!out.passed);
    assert_eq!(out.reason, GateReason::NoSamples);
    assert!(out.detail.unwrap().contains("none of the 6 10s windows"));
}

#[test]
fn the_whole_run_burn_rate_is_the_failed_share_over_the_budget() {
    // The fixture's fleet: 97.5% of operations succeeded, its step 90%.
    let g = eval("compliant.burn_rate(99%) <= 2.5");
    assert!(g.passed, "{}", g.message);
    assert!((g.measured.unwrap() - 2.5).abs() < 1e-9);
    assert!(!eval("compliant.burn_rate(99.9%) < 14.4").passed);
    assert!(eval("compliant.reserve.burn_rate(80%) <= 0.5").passed);
}

#[test]
fn windows_and_burn_rates_that_cannot_be_read_are_errors() {
    let names = ["compliant".to_string()];
    let steps = ["reserve".to_string()];
    for (expr, says) in [
        (
            "compliant.amplification < 2 in every 10s window",
            "not measured per window",
        ),
        (
            "compliant.operation_latency.p99 < baseline * 1.1 in every 10s window",
            "fixed bound",
        ),
        (
            "compliant.success_rate >= 99% in every 10 windows",
            "window width",
        ),
        ("compliant.success_rate >= 99% in 10s windows", "expected"),
        ("compliant.burn_rate < 2", "needs a success objective"),
        ("compliant.burn_rate(100%) < 2", "below 100%"),
        (
            "compliant.burn_rate(0.999) < 2",
            "needs a success objective",
        ),
    ] {
        let e = parse(expr, &names, &steps).expect_err(expr).to_string();
        assert!(e.contains(says), "{expr}: {e}");
    }
    let g = parse(
        "compliant.reserve.burn_rate(99.9%) < 2 in 99% of 1m windows",
        &names,
        &steps,
    )
    .unwrap();
    assert_eq!(g.path(), "compliant.reserve.burn_rate(99.9%)");
    assert_eq!(g.window.map(|w| w.width_s), Some(60));
}
