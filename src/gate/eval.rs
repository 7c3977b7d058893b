//! Evaluating gates against a report. Whatever cannot be measured fails,
//! with a [`GateReason`] that says why.

use super::*;
use crate::model::{FleetResult, Percentiles, Report, StepResult};

/// Why a gate could not be measured: the reason as data, the detail in words.
struct Unmeasured {
    reason: GateReason,
    detail: String,
}

fn unmeasured(reason: GateReason, detail: String) -> Unmeasured {
    Unmeasured { reason, detail }
}

/// Evaluate one parsed gate (a gate relative to a baseline fails: no baseline).
pub fn evaluate(gate: &Gate, report: &Report) -> GateResult {
    evaluate_with(gate, report, None)
}

/// The bound of `gate`, normalized: fixed, or from the baseline's value of
/// the same metric (returned beside it).
fn bound_of(gate: &Gate, baseline: Option<&Report>) -> Result<(f64, Option<f64>), Unmeasured> {
    let Some(rel) = gate.relative else {
        return Ok((gate.bound, None));
    };
    let Some(base) = baseline else {
        return Err(unmeasured(
            GateReason::NoBaseline,
            "no baseline run (`stampede run --baseline DIR`)".into(),
        ));
    };
    match measure(gate, base) {
        Ok(v) if v.is_finite() => Ok((rel.apply(v), Some(v))),
        Ok(v) => Err(unmeasured(
            GateReason::NoBaseline,
            format!("the baseline measured {v}"),
        )),
        Err(u) => Err(unmeasured(u.reason, format!("baseline: {}", u.detail))),
    }
}

/// Evaluate one parsed gate, with the baseline run's report for relative gates.
pub fn evaluate_with(gate: &Gate, report: &Report, baseline: Option<&Report>) -> GateResult {
    let unit = gate.unit.suffix();
    let mut r = GateResult {
        expr: gate.expr.clone(),
        passed: false,
        measured: None,
        bound: gate.value,
        message: String::new(),
        metric: gate.path(),
        op: gate.op.symbol().into(),
        unit: unit.into(),
        bound_written: gate.bound_written(),
        measured_written: None,
        reason: GateReason::Failed,
        detail: None,
        baseline: None,
        window: None,
    };
    let bound = match bound_of(gate, baseline) {
        Ok((b, base)) => {
            if let Some(base) = base {
                let shown = |v: f64| format!("{}{unit}", fmt_num(gate.unit.denormalize(v)));
                r.bound = gate.unit.denormalize(b);
                r.baseline = Some(gate.unit.denormalize(base));
                // `1.15 (baseline 1.1 + 0.05)`
                let with_value =
                    r.bound_written
                        .replacen("baseline", &format!("baseline {}", shown(base)), 1);
                r.bound_written = format!("{} ({with_value})", shown(b));
            }
            b
        }
        Err(u) => {
            r.reason = u.reason;
            r.detail = Some(u.detail);
            r.message = r.line();
            return r;
        }
    };
    if let Some(w) = gate.window {
        window::evaluate(gate, w, report, bound, &mut r);
        r.message = r.line();
        return r;
    }
    match measure(gate, report) {
        Ok(v) if v.is_nan() => {
            r.reason = GateReason::NotANumber;
            r.detail = Some("measured NaN".into());
        }
        Ok(v) => {
            r.passed = gate.op.holds(v, bound);
            r.reason = if r.passed {
                GateReason::Passed
            } else {
                GateReason::Failed
            };
            // Only "never recovered" is infinite; JSON cannot carry it as a number.
            if v.is_infinite() {
                r.measured_written = Some("never".into());
            } else {
                let shown = gate.unit.denormalize(v);
                r.measured = Some(shown);
                r.measured_written = Some(format!("{}{unit}", fmt_num(shown)));
            }
        }
        Err(u) => {
            r.reason = u.reason;
            r.detail = Some(u.detail);
        }
    }
    r.message = r.line();
    r
}

/// Evaluate every gate of a plan against the report.
pub fn evaluate_all(gates: &[Gate], report: &Report) -> Vec<GateResult> {
    evaluate_all_with(gates, report, None)
}

/// Evaluate every gate, relative ones against `baseline`.
pub fn evaluate_all_with(
    gates: &[Gate],
    report: &Report,
    baseline: Option<&Report>,
) -> Vec<GateResult> {
    gates
        .iter()
        .map(|g| evaluate_with(g, report, baseline))
        .collect()
}

fn find_fleet<'a>(report: &'a Report, name: &str) -> Result<&'a FleetResult, Unmeasured> {
    report
        .results
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = report.results.iter().map(|c| c.name.as_str()).collect();
            unmeasured(
                GateReason::UnknownFleet,
                format!(
                    "fleet `{name}` is not in this report (fleets: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
}

fn stat(p: &Percentiles, family: Latency, s: Stat) -> Result<f64, Unmeasured> {
    if p.count == 0 {
        let name = LATENCIES
            .iter()
            .find(|(l, _)| *l == family)
            .map_or("latency", |(_, n)| n);
        return Err(unmeasured(
            GateReason::NoSamples,
            format!("no {name} samples"),
        ));
    }
    Ok(pick(p, s))
}

/// The statistic `s` of `p`.
pub(super) fn pick(p: &Percentiles, s: Stat) -> f64 {
    match s {
        Stat::P50 => p.p50,
        Stat::P90 => p.p90,
        Stat::P95 => p.p95,
        Stat::P99 => p.p99,
        Stat::P999 => p.p999,
        Stat::Max => p.max,
        Stat::Mean => p.mean,
    }
}

/// A gate that reads good latency or the load of good work cannot pass on a
/// fleet or step none of whose operations succeeded: with every answer a
/// fast 403, or no answer at all, there is nothing to measure it on.
fn no_success(operations: u64, ok: u64, whose: &str) -> Result<(), Unmeasured> {
    if operations > 0 && ok == 0 {
        return Err(unmeasured(
            GateReason::NoSuccessfulOperations,
            format!("none of `{whose}`'s {operations} operations succeeded"),
        ));
    }
    Ok(())
}

fn ratio_of(operations: u64, v: f64, what: &str) -> Result<f64, Unmeasured> {
    if operations == 0 {
        Err(unmeasured(
            GateReason::NoOperations,
            format!("no operations, so no {what}"),
        ))
    } else {
        Ok(v)
    }
}

/// succeeded / (started − sold_out − cancelled): of the journeys that could
/// succeed, the share that did.
fn journey_success_rate(j: &crate::model::JourneyCounts) -> Result<f64, Unmeasured> {
    let could = j
        .started
        .saturating_sub(j.sold_out)
        .saturating_sub(j.cancelled);
    if could == 0 {
        return Err(unmeasured(
            GateReason::NoJourneys,
            format!(
                "no journeys that could succeed (started {}, sold out {}, cancelled {})",
                j.started, j.sold_out, j.cancelled
            ),
        ));
    }
    Ok(j.succeeded as f64 / could as f64)
}

/// How fast failures spend the error budget of `objective`: the failed
/// share over the share the objective allows.
pub(super) fn burn_rate(success_rate: f64, objective: f64) -> f64 {
    (1.0 - success_rate).max(0.0) / (1.0 - objective)
}

/// The measured value, normalized (ms, fraction), or why there is none.
fn measure(gate: &Gate, report: &Report) -> Result<f64, Unmeasured> {
    // A run in which no attempt got an HTTP answer measured nothing about
    // the target: no gate can pass on it (a fast connect failure is no
    // latency, no amplification, no outcome count worth gating).
    if let Some(why) = report.unreachable() {
        return Err(unmeasured(GateReason::NoSuccessfulOperations, why));
    }
    let c = find_fleet(report, &gate.fleet)?;
    if let Some(step) = &gate.step {
        let s = c.steps.iter().find(|s| &s.name == step).ok_or_else(|| {
            unmeasured(
                GateReason::UnknownStep,
                format!("step `{step}` has no results for fleet `{}`", c.name),
            )
        })?;
        return measure_step(&gate.metric, s);
    }
    let n = |v: u64| Ok(v as f64);
    match &gate.metric {
        Metric::Operations => n(c.counts.operations),
        Metric::Attempts => n(c.counts.attempts),
        Metric::Retries => n(c.counts.retries),
        Metric::Amplification => {
            ratio_of(c.counts.operations, c.counts.amplification, "amplification")
        }
        Metric::SuccessRate => ratio_of(c.counts.operations, c.counts.success_rate, "success rate"),
        Metric::BurnRate(objective) => ratio_of(
            c.counts.operations,
            burn_rate(c.counts.success_rate, *objective),
            "burn rate",
        ),
        Metric::JourneySuccessRate => journey_success_rate(&c.counts.journeys),
        Metric::Goodput => {
            no_success(
                c.counts.operations,
                c.latency.ok_operation_latency_ms.count,
                &c.name,
            )?;
            Ok(c.counts.goodput)
        }
        Metric::AchievedRps => {
            no_success(
                c.counts.operations,
                c.latency.ok_operation_latency_ms.count,
                &c.name,
            )?;
            Ok(c.counts.achieved_rps)
        }
        Metric::BreakerOpens => n(c.retry.breaker_opens),
        Metric::BreakerOpenS => Ok(c.retry.breaker_open_s),
        Metric::RetryAfterHonoured => n(c.retry.retry_after_honoured),
        Metric::ClientEarlyRetries => n(c.harm.early_retries),
        Metric::KeyChangedAfterAmbiguous => n(c.harm.key_changed_after_ambiguous),
        Metric::SentWhileToldToWait => n(c.harm.sent_while_told_to_wait),
        Metric::RecoveryS => match (&report.trigger, c.recovery_s) {
            (None, _) => Err(unmeasured(
                GateReason::NoTrigger,
                format!(
                    "`recovery_s` needs a trigger window (`trigger = {{ from, to }}`, or the simulator's [[sim.faults.windows]]) and run `{}` had none",
                    report.scenario
                ),
            )),
            (Some(_), Some(s)) => Ok(s),
            // Never recovered before the round ended: longer than any bound.
            (Some(_), None) => Ok(f64::INFINITY),
        },
        Metric::Latency(l, s) => measure_latency(c, *l, *s),
        Metric::Outcome(code) => n(crate::outcome::count_label(&c.counts.outcomes, code)),
        Metric::Journeys(f) => n(match f {
            JourneyField::Started => c.counts.journeys.started,
            JourneyField::Succeeded => c.counts.journeys.succeeded,
            JourneyField::SoldOut => c.counts.journeys.sold_out,
            JourneyField::Failed => c.counts.journeys.failed,
            JourneyField::Cancelled => c.counts.journeys.cancelled,
        }),
        Metric::Ledger(f) => measure_ledger(gate, report, c, *f),
        Metric::Truth(key) => measure_truth(gate, c, key),
    }
}

/// A latency statistic, over fleets with at least one successful
/// operation.
fn measure_latency(c: &FleetResult, l: Latency, s: Stat) -> Result<f64, Unmeasured> {
    // Every latency family, not only the OK operations': a fast 403
    // or a journey that ended at its first failure is no latency
    // worth passing a gate on.
    no_success(
        c.counts.operations,
        c.latency.ok_operation_latency_ms.count,
        &c.name,
    )?;
    let p = match l {
        Latency::Operation => &c.latency.ok_operation_latency_ms,
        Latency::OperationAll => &c.latency.operation_latency_ms,
        Latency::Attempt => &c.latency.attempt_latency_ms,
        Latency::BackoffWait => &c.latency.backoff_wait_ms,
        Latency::ScheduleLag => &c.latency.schedule_lag_ms,
        Latency::Journey => &c.latency.journey_duration_ms,
    };
    stat(p, l, s)
}

/// A ledger count: the simulator's, else the `[truth]` reading's key.
fn measure_ledger(
    gate: &Gate,
    report: &Report,
    c: &FleetResult,
    f: LedgerField,
) -> Result<f64, Unmeasured> {
    let n = |v: u64| Ok(v as f64);
    let key = &gate.metric.to_string();
    if let Some(l) = c.ledger.as_ref() {
        return n(match f {
            LedgerField::Oversold => l.oversold,
            LedgerField::Duplicates => l.duplicates,
            LedgerField::WastedWork => l.wasted_work,
            LedgerField::EarlyRetries => l.early_retries,
            LedgerField::BookingsCreated => l.bookings_created,
        });
    }
    match c.truth.as_ref().and_then(|t| t.get(key)) {
        Some(v) => Ok(v),
        None => Err(unmeasured(
            GateReason::LedgerUnavailable,
            format!(
                "`{}` needs the simulator's ledger or a [truth] key `{key}`, and fleet `{}` has neither (target: {})",
                gate.metric, c.name, report.target
            ),
        )),
    }
}

/// A key of the fleet's `[truth]` reading.
fn measure_truth(gate: &Gate, c: &FleetResult, key: &str) -> Result<f64, Unmeasured> {
    match c.truth.as_ref() {
        Some(t) => t.get(key).ok_or_else(|| {
            unmeasured(
                GateReason::LedgerUnavailable,
                format!(
                    "fleet `{}`'s [truth] reading ({}) has no key `{key}`",
                    c.name, t.source
                ),
            )
        }),
        None => Err(unmeasured(
            GateReason::LedgerUnavailable,
            format!(
                "`{}` needs the target's counts, and fleet `{}` has no [truth] reading for its round",
                gate.metric, c.name
            ),
        )),
    }
}

fn measure_step(metric: &Metric, s: &StepResult) -> Result<f64, Unmeasured> {
    match metric {
        Metric::Operations => Ok(s.operations as f64),
        Metric::Attempts => Ok(s.attempts as f64),
        Metric::SuccessRate => ratio_of(s.operations, s.success_rate, "success rate"),
        Metric::BurnRate(objective) => ratio_of(
            s.operations,
            burn_rate(s.success_rate, *objective),
            "burn rate",
        ),
        Metric::Outcome(code) => Ok(crate::outcome::count_label(&s.outcomes, code) as f64),
        Metric::Latency(l @ Latency::Operation, st) => {
            no_success(s.operations, s.ok_operation_latency_ms.count, &s.name)?;
            stat(&s.ok_operation_latency_ms, *l, *st)
        }
        Metric::Latency(l @ Latency::OperationAll, st) => {
            no_success(s.operations, s.ok_operation_latency_ms.count, &s.name)?;
            stat(&s.operation_latency_ms, *l, *st)
        }
        Metric::Latency(l @ Latency::Attempt, st) => {
            no_success(s.operations, s.ok_operation_latency_ms.count, &s.name)?;
            stat(&s.attempt_latency_ms, *l, *st)
        }
        // The parser refuses these; a hand-built gate still fails loudly.
        m => Err(unmeasured(
            GateReason::NotPerStep,
            format!("`{m}` is not measured per step"),
        )),
    }
}

mod notes;
#[cfg(test)]
mod tests;
mod window;

pub use notes::no_success_notes;
