//! Windowed gates: the metric measured in each window of the report's
//! window series, the bound checked window by window, and the gate held when
//! the share of measured windows that held reaches the share asked for.
//! Windows with nothing to measure (no samples, no operations) are left out
//! and counted as `empty`; a gate none of whose windows could be measured
//! fails, as any unmeasured gate does.

use super::super::window::GateWindow;
use super::{Unmeasured, burn_rate, find_fleet, pick, unmeasured};
use crate::gate::{Gate, Latency, Metric, Op, Stat, fmt_num};
use crate::model::{
    GateReason, GateResult, Percentiles, Report, WindowRow, WindowSeries, WindowVerdict,
};

/// Fill `r` (measured, reason, window verdict) for a windowed gate.
pub(super) fn evaluate(
    gate: &Gate,
    w: GateWindow,
    report: &Report,
    bound: f64,
    r: &mut GateResult,
) {
    match held(gate, w, report, bound) {
        Ok((worst, verdict)) => {
            let shown = gate.unit.denormalize(worst);
            r.passed = verdict.measured > 0
                && verdict.held as f64 >= w.share * verdict.measured as f64 - 1e-9;
            r.reason = if r.passed {
                GateReason::Passed
            } else {
                GateReason::Failed
            };
            r.measured = Some(shown);
            r.measured_written = Some(format!("{}{}", fmt_num(shown), gate.unit.suffix()));
            r.window = Some(verdict);
        }
        Err(u) => {
            r.reason = u.reason;
            r.detail = Some(u.detail);
        }
    }
}

/// The worst window's value and the verdict over every window.
fn held(
    gate: &Gate,
    w: GateWindow,
    report: &Report,
    bound: f64,
) -> Result<(f64, WindowVerdict), Unmeasured> {
    if let Some(why) = report.unreachable() {
        return Err(unmeasured(GateReason::NoSuccessfulOperations, why));
    }
    let series = series_of(gate, w.width_s, report)?;
    let mut v = WindowVerdict {
        width_s: w.width_s,
        required: w.share,
        measured: 0,
        held: 0,
        empty: 0,
        worst_t_s: None,
    };
    let mut worst: Option<(f64, bool)> = None;
    for row in &series.rows {
        let Some(x) = value(&gate.metric, row) else {
            v.empty += 1;
            continue;
        };
        v.measured += 1;
        let ok = gate.op.holds(x, bound);
        v.held += u64::from(ok);
        if worse(gate.op, x, ok, worst) {
            worst = Some((x, ok));
            v.worst_t_s = Some(row.t_s);
        }
    }
    match worst {
        Some((x, _)) => Ok((x, v)),
        None => Err(unmeasured(
            GateReason::NoSamples,
            format!(
                "none of the {} {}s windows had {} to measure",
                series.rows.len(),
                w.width_s,
                what(&gate.metric)
            ),
        )),
    }
}

/// Whether `x` is a worse window than the worst so far: a failing window
/// before a passing one, then the value furthest on the wrong side.
fn worse(op: Op, x: f64, ok: bool, worst: Option<(f64, bool)>) -> bool {
    let Some((w, w_ok)) = worst else {
        return true;
    };
    if ok != w_ok {
        return !ok;
    }
    match op {
        Op::Lt | Op::Le => x > w,
        Op::Gt | Op::Ge => x < w,
        Op::Eq | Op::Ne => false,
    }
}

fn what(m: &Metric) -> &'static str {
    match m {
        Metric::Latency(Latency::Operation, _) => "a successful operation",
        Metric::Latency(Latency::Attempt, _) => "an attempt",
        _ => "an operation",
    }
}

fn series_of<'a>(
    gate: &Gate,
    width_s: u32,
    report: &'a Report,
) -> Result<&'a WindowSeries, Unmeasured> {
    let c = find_fleet(report, &gate.fleet)?;
    let list = match &gate.step {
        None => &c.windows,
        Some(step) => {
            &c.steps
                .iter()
                .find(|s| &s.name == step)
                .ok_or_else(|| {
                    unmeasured(
                        GateReason::UnknownStep,
                        format!("step `{step}` has no results for fleet `{}`", c.name),
                    )
                })?
                .windows
        }
    };
    list.iter().find(|s| s.width_s == width_s).ok_or_else(|| {
        unmeasured(
            GateReason::NoWindows,
            format!(
                "this report has no {width_s}s windows for `{}` (windows are cut by the run that measured; a merged report or one rebuilt from a killed run's stream has none)",
                gate.path()
            ),
        )
    })
}

/// The metric in one window, normalized; `None` when the window has
/// nothing to measure it on.
fn value(m: &Metric, row: &WindowRow) -> Option<f64> {
    let rate = |ok: u64, all: u64| (all > 0).then(|| ok as f64 / all as f64);
    match m {
        Metric::Operations => Some(row.operations as f64),
        Metric::Attempts => Some(row.attempts as f64),
        Metric::SuccessRate => rate(row.ok_operations, row.operations),
        Metric::BurnRate(objective) => {
            rate(row.ok_operations, row.operations).map(|s| burn_rate(s, *objective))
        }
        Metric::Latency(Latency::Operation, s) => stat(&row.ok_operation_latency_ms, *s),
        Metric::Latency(Latency::OperationAll, s) => stat(&row.operation_latency_ms, *s),
        Metric::Latency(Latency::Attempt, s) => stat(&row.attempt_latency_ms, *s),
        // The parser refuses the rest.
        _ => None,
    }
}

fn stat(p: &Percentiles, s: Stat) -> Option<f64> {
    (p.count > 0).then(|| pick(p, s))
}

#[cfg(test)]
mod tests;
