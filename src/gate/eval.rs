//! Evaluating gates against a report. Whatever cannot be measured fails.

use super::parse::{split_expr, split_value};
use super::*;
use crate::report::{CohortResult, Percentiles, Report, StepResult};

/// Evaluate one parsed gate.
pub fn evaluate(gate: &Gate, report: &Report) -> GateResult {
    let unit = gate.unit.suffix();
    let bound = format!("{}{unit}", fmt_num(gate.value));
    match measure(gate, report) {
        Ok(v) if !v.is_nan() => {
            let passed = gate.op.holds(v, gate.bound);
            let shown = gate.unit.denormalize(v);
            // Only "never recovered" is infinite; JSON cannot carry it as a number.
            let (measured, text) = if v.is_infinite() {
                (None, "never".to_string())
            } else {
                (Some(shown), format!("{}{unit}", fmt_num(shown)))
            };
            GateResult {
                expr: gate.expr.clone(),
                passed,
                measured,
                bound: gate.value,
                message: format!(
                    "{}: measured {text}, bound {bound} — {}",
                    gate.expr,
                    verdict(passed)
                ),
            }
        }
        Ok(_) => failed(gate, "measured NaN".into()),
        Err(why) => failed(gate, why),
    }
}

fn verdict(passed: bool) -> &'static str {
    if passed { "passed" } else { "FAILED" }
}

fn failed(gate: &Gate, why: String) -> GateResult {
    GateResult {
        expr: gate.expr.clone(),
        passed: false,
        measured: None,
        bound: gate.value,
        message: format!(
            "{}: {why}, bound {}{} — FAILED",
            gate.expr,
            fmt_num(gate.value),
            gate.unit.suffix()
        ),
    }
}

/// Parse every expression against the report's cohorts and steps and
/// evaluate it; an expression that does not parse is a failed gate.
pub fn evaluate_all(exprs: &[String], report: &Report) -> Vec<GateResult> {
    let cohorts: Vec<String> = report.results.iter().map(|c| c.name.clone()).collect();
    let mut steps: Vec<String> = Vec::new();
    for s in report.results.iter().flat_map(|c| &c.steps) {
        if !steps.contains(&s.name) {
            steps.push(s.name.clone());
        }
    }
    exprs
        .iter()
        .map(|e| match parse(e, &cohorts, &steps) {
            Ok(g) => evaluate(&g, report),
            Err(err) => GateResult {
                expr: e.trim().to_string(),
                passed: false,
                measured: None,
                // NaN would not survive summary.json; 0 with measured = None.
                bound: 0.0,
                message: format!("invalid gate {err} — FAILED"),
            },
        })
        .collect()
}

/// `measured 812.4ms, bound 800ms` for a result (the JUnit failure body).
pub fn describe_values(r: &GateResult) -> String {
    let unit = display_unit(&r.expr);
    match r.measured {
        Some(m) => format!(
            "measured {}{unit}, bound {}{unit}",
            fmt_num(m),
            fmt_num(r.bound)
        ),
        None => {
            // The message says why nothing was measured.
            let why = r
                .message
                .strip_suffix(" — FAILED")
                .unwrap_or(&r.message)
                .trim();
            format!("not measured: {why}")
        }
    }
}

/// The unit a result's numbers are in, recovered from its expression.
fn display_unit(expr: &str) -> &'static str {
    let Ok((lhs, _, rhs)) = split_expr(expr.trim()) else {
        return "";
    };
    match split_value(rhs).map(|(_, u)| u) {
        Some("ms") => "ms",
        Some("s") => "s",
        Some("us" | "µs") => "us",
        Some("%") => "%",
        Some("")
            if lhs
                .split('.')
                .any(|p| LATENCIES.iter().any(|(_, n)| *n == p)) =>
        {
            "ms"
        }
        _ => "",
    }
}

fn find_cohort<'a>(report: &'a Report, name: &str) -> Result<&'a CohortResult, String> {
    report
        .results
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = report.results.iter().map(|c| c.name.as_str()).collect();
            format!(
                "cohort `{name}` is not in this report (cohorts: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )
        })
}

fn stat(p: &Percentiles, family: Latency, s: Stat) -> Result<f64, String> {
    if p.count == 0 {
        let name = LATENCIES
            .iter()
            .find(|(l, _)| *l == family)
            .map_or("latency", |(_, n)| n);
        return Err(format!("no {name} samples"));
    }
    Ok(match s {
        Stat::P50 => p.p50,
        Stat::P90 => p.p90,
        Stat::P99 => p.p99,
        Stat::P999 => p.p999,
        Stat::Max => p.max,
        Stat::Mean => p.mean,
    })
}

fn ratio_of(operations: u64, v: f64, what: &str) -> Result<f64, String> {
    if operations == 0 {
        Err(format!("no operations, so no {what}"))
    } else {
        Ok(v)
    }
}

/// The measured value, normalized (ms, fraction), or why there is none.
fn measure(gate: &Gate, report: &Report) -> Result<f64, String> {
    let c = find_cohort(report, &gate.cohort)?;
    if let Some(step) = &gate.step {
        let s = c
            .steps
            .iter()
            .find(|s| &s.name == step)
            .ok_or_else(|| format!("step `{step}` has no results for cohort `{}`", c.name))?;
        return measure_step(&gate.metric, s);
    }
    let n = |v: u64| Ok(v as f64);
    match &gate.metric {
        Metric::Operations => n(c.operations),
        Metric::Attempts => n(c.attempts),
        Metric::Retries => n(c.retries),
        Metric::Amplification => ratio_of(c.operations, c.amplification, "amplification"),
        Metric::SuccessRate => ratio_of(c.operations, c.success_rate, "success rate"),
        Metric::Goodput => Ok(c.goodput),
        Metric::AchievedRps => Ok(c.achieved_rps),
        Metric::BreakerOpens => n(c.breaker_opens),
        Metric::BreakerOpenS => Ok(c.breaker_open_s),
        Metric::RetryAfterHonoured => n(c.retry_after_honoured),
        Metric::RecoveryS => match (&report.trigger, c.recovery_s) {
            (None, _) => Err(format!(
                "`recovery_s` needs a trigger window ([[sim.faults.windows]]) and run `{}` had none",
                report.scenario
            )),
            (Some(_), Some(s)) => Ok(s),
            // Never recovered before the round ended: longer than any bound.
            (Some(_), None) => Ok(f64::INFINITY),
        },
        Metric::Latency(l, s) => {
            let p = match l {
                Latency::Operation => &c.operation_latency_ms,
                Latency::Attempt => &c.attempt_latency_ms,
                Latency::BackoffWait => &c.backoff_wait_ms,
                Latency::ScheduleLag => &c.schedule_lag_ms,
            };
            stat(p, *l, *s)
        }
        Metric::Outcome(code) => n(c.outcomes.get(code).copied().unwrap_or(0)),
        Metric::Journeys(f) => n(match f {
            JourneyField::Started => c.journeys.started,
            JourneyField::Succeeded => c.journeys.succeeded,
            JourneyField::SoldOut => c.journeys.sold_out,
            JourneyField::Failed => c.journeys.failed,
            JourneyField::Cancelled => c.journeys.cancelled,
        }),
        Metric::Ledger(f) => {
            let l = c.ledger.as_ref().ok_or_else(|| {
                format!(
                    "`{}` needs the embedded simulator's ledger, and cohort `{}` has none (target: {})",
                    gate.metric, c.name, report.target
                )
            })?;
            n(match f {
                LedgerField::Oversold => l.oversold,
                LedgerField::Duplicates => l.duplicates,
                LedgerField::WastedWork => l.wasted_work,
                LedgerField::EarlyRetries => l.early_retries,
                LedgerField::BookingsCreated => l.bookings_created,
            })
        }
    }
}

fn measure_step(metric: &Metric, s: &StepResult) -> Result<f64, String> {
    match metric {
        Metric::Operations => Ok(s.operations as f64),
        Metric::Attempts => Ok(s.attempts as f64),
        Metric::SuccessRate => ratio_of(s.operations, s.success_rate, "success rate"),
        Metric::Outcome(code) => Ok(s.outcomes.get(code).copied().unwrap_or(0) as f64),
        Metric::Latency(l @ Latency::Operation, st) => stat(&s.operation_latency_ms, *l, *st),
        Metric::Latency(l @ Latency::Attempt, st) => stat(&s.attempt_latency_ms, *l, *st),
        m => Err(format!("`{m}` is not measured per step")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::policy::RetryPolicy;
    use crate::report::{JourneyCounts, SCHEMA_VERSION};
    use crate::sim::Ledger;
    use std::collections::BTreeMap;

    fn pct(count: u64, p99: f64) -> Percentiles {
        Percentiles {
            count,
            mean: p99 / 4.0,
            p50: p99 / 5.0,
            p90: p99 / 2.0,
            p99,
            p999: p99 * 1.5,
            max: p99 * 2.0,
        }
    }

    fn policy() -> RetryPolicy {
        crate::policy::preset("compliant").expect("compliant preset")
    }

    pub(crate) fn cohort(name: &str, ledger: Option<Ledger>) -> CohortResult {
        CohortResult {
            name: name.into(),
            policy: name.into(),
            policy_detail: policy(),
            round: 0,
            share: 1.0,
            operations: 1000,
            attempts: 1250,
            retries: 250,
            amplification: 1.25,
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
            outcomes: BTreeMap::from([("OK".into(), 975), ("GAVE_UP".into(), 25)]),
            operation_latency_ms: pct(1000, 812.4),
            attempt_latency_ms: pct(1250, 400.0),
            backoff_wait_ms: pct(250, 1000.0),
            schedule_lag_ms: pct(1000, 2.0),
            attempts_per_operation: BTreeMap::new(),
            retry_after_honoured: 7,
            early_retries: 0,
            breaker_opens: 2,
            breaker_open_s: 3.5,
            steps: vec![StepResult {
                name: "reserve".into(),
                operations: 500,
                attempts: 700,
                success_rate: 0.9,
                outcomes: BTreeMap::from([("HTTP_503".into(), 3)]),
                operation_latency_ms: pct(500, 1500.0),
                attempt_latency_ms: pct(700, 1900.0),
                attempt_latency_by_class_ms: BTreeMap::new(),
            }],
            operation_spectrum: Vec::new(),
            attempt_spectrum: Vec::new(),
            timeseries: Vec::new(),
            ledger,
            recovery_s: None,
        }
    }

    pub(crate) fn report() -> Report {
        let ledger = Ledger {
            duplicates: 3,
            early_retries: 12,
            bookings_created: 300,
            ..Ledger::default()
        };
        let mut idle = cohort("idle", None);
        idle.operations = 0;
        idle.success_rate = f64::NAN;
        idle.operation_latency_ms = Percentiles::default();
        idle.goodput = f64::NAN;
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
                cohort("compliant", Some(Ledger::default())),
                cohort("no-jitter", Some(ledger)),
                cohort("remote", None),
                idle,
            ],
            gates: Vec::new(),
            trigger: None,
        }
    }

    fn eval(expr: &str) -> GateResult {
        let r = evaluate_all(&[expr.to_string()], &report());
        assert_eq!(r.len(), 1);
        r.into_iter().next().unwrap()
    }

    fn passes(expr: &str) {
        let g = eval(expr);
        assert!(g.passed, "expected pass: {}", g.message);
        assert!(g.message.ends_with("— passed"), "{}", g.message);
    }

    fn fails(expr: &str) -> GateResult {
        let g = eval(expr);
        assert!(!g.passed, "expected fail: {}", g.message);
        assert!(g.message.ends_with("— FAILED"), "{}", g.message);
        g
    }

    #[test]
    fn recovery_needs_a_trigger_and_never_is_longer_than_any_bound() {
        let g = fails("compliant.recovery_s < 5");
        assert!(g.message.contains("trigger window"), "{}", g.message);
        let mut r = report();
        r.trigger = Some(crate::report::Trigger {
            from_s: 6.0,
            to_s: 10.0,
        });
        r.results[0].recovery_s = Some(2.0);
        let all = evaluate_all(
            &[
                "compliant.recovery_s <= 2".into(),
                "compliant.recovery_s < 2".into(),
                "no-jitter.recovery_s > 30".into(),
                "no-jitter.recovery_s < 30".into(),
            ],
            &r,
        );
        let passed: Vec<bool> = all.iter().map(|g| g.passed).collect();
        assert_eq!(passed, [true, false, true, false], "{all:?}");
        assert_eq!(all[2].measured, None);
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
        assert_eq!(describe_values(&g), "measured 812.4ms, bound 800ms");
    }

    #[test]
    fn passing_gate_sets_passed() {
        let g = eval("compliant.operation_latency.p99 < 1s");
        assert!(g.passed);
        // measured and bound in the expression's unit
        assert!((g.measured.unwrap() - 0.8124).abs() < 1e-12);
        assert_eq!(g.bound, 1.0);
        assert_eq!(describe_values(&g), "measured 0.812s, bound 1s");
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
    fn cohort_metrics() {
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
        assert_eq!(describe_values(&g), "measured 97.5%, bound 98%");
        passes("compliant.success_rate >= 97.5%");
        passes("compliant.success_rate >= 0.97");
        fails("compliant.success_rate >= 0.98");
    }

    #[test]
    fn outcomes_missing_code_is_zero() {
        passes("compliant.outcomes.GAVE_UP == 25");
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
            let g = fails(e);
            assert_eq!(g.measured, None);
            assert!(g.message.contains("embedded simulator"), "{}", g.message);
        }
    }

    #[test]
    fn nothing_measured_fails() {
        // no operations: rates are undefined, not 0 or NaN that slips through
        let g = fails("idle.success_rate >= 0");
        assert!(g.message.contains("no operations"), "{}", g.message);
        fails("idle.amplification >= 0");
        // latency without samples
        let g = fails("idle.operation_latency.p99 < 1000s");
        assert!(
            g.message.contains("no operation_latency samples"),
            "{}",
            g.message
        );
        // NaN
        let g = fails("idle.goodput >= 0");
        assert!(g.message.contains("NaN"), "{}", g.message);
        assert_eq!(g.measured, None);
    }

    #[test]
    fn parse_errors_are_failures() {
        for e in [
            "compliant.latency < 5",
            "ghost.success_rate > 0",
            "compliant.operation_latency.p95 < 1s",
            "compliant.retries => 0",
            "compliant.retries < 5kb",
            "compliant.amplification < 2s",
            "compliant.reserv.attempts > 0",
            "",
        ] {
            let g = fails(e);
            assert_eq!(g.measured, None);
            assert!(g.message.starts_with("invalid gate"), "{}", g.message);
            assert!(g.bound.is_finite());
        }
    }

    #[test]
    fn gate_for_a_cohort_or_step_not_in_the_report_fails() {
        let cohorts = vec!["compliant".to_string(), "gone".to_string()];
        let steps = vec!["reserve".to_string(), "confirm".to_string()];
        let g = parse("gone.retries >= 0", &cohorts, &steps).unwrap();
        let r = evaluate(&g, &report());
        assert!(
            !r.passed && r.message.contains("not in this report"),
            "{}",
            r.message
        );
        let g = parse("compliant.confirm.attempts >= 0", &cohorts, &steps).unwrap();
        let r = evaluate(&g, &report());
        assert!(
            !r.passed && r.message.contains("no results"),
            "{}",
            r.message
        );
    }

    #[test]
    fn results_survive_summary_json() {
        let exprs: Vec<String> = [
            "compliant.success_rate >= 98%",
            "remote.oversold == 0",
            "idle.goodput >= 0",
            "nonsense",
        ]
        .map(String::from)
        .to_vec();
        let mut r = report();
        r.results.truncate(3);
        r.gates = evaluate_all(&exprs, &r);
        let json = serde_json::to_string(&r.gates).unwrap();
        let back: Vec<GateResult> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r.gates);
    }
}
