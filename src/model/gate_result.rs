//! A gate result's vocabulary and the text every renderer builds from its
//! fields (JUnit, the console lines, the evaluator's own `message`).

use super::GateResult;
use serde::{Deserialize, Serialize};

/// Why a gate passed or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateReason {
    /// Measured, and the bound holds.
    Passed,
    /// Measured, and the bound does not hold.
    Failed,
    /// A latency family without samples.
    NoSamples,
    /// A rate or ratio of operations, with no operations.
    NoOperations,
    /// A journey rate with no journeys that could succeed.
    NoJourneys,
    /// The measurement was not a number.
    NotANumber,
    /// The fleet is not in the report (e.g. its round never ran).
    UnknownFleet,
    /// The fleet has no results for the step.
    UnknownStep,
    /// A metric that is not measured per step, on a step (only a gate built
    /// by hand: the parser refuses it).
    NotPerStep,
    /// A ledger metric, and the target has no ledger (not the embedded simulator).
    LedgerUnavailable,
    /// `recovery_s`, and the run had no trigger window.
    NoTrigger,
    /// A gate relative to a baseline, without a baseline run (or one whose
    /// value is not a finite number).
    NoBaseline,
    /// Read from a summary.json written before reasons were recorded.
    #[default]
    Unrecorded,
    /// A latency or rate gate on a fleet none of whose operations succeeded
    /// (a dead target, every answer a 403): nothing to measure it on.
    NoSuccessfulOperations,
    /// A windowed gate, and the report has no windows of that width (a
    /// merged report, or one rebuilt from a killed run's stream).
    NoWindows,
}

/// Every reason with the label `summary.json` uses (serde's snake_case).
pub const GATE_REASONS: [(GateReason, &str); 15] = [
    (GateReason::Passed, "passed"),
    (GateReason::Failed, "failed"),
    (GateReason::NoSamples, "no_samples"),
    (GateReason::NoOperations, "no_operations"),
    (GateReason::NoJourneys, "no_journeys"),
    (GateReason::NotANumber, "not_a_number"),
    (GateReason::UnknownFleet, "unknown_fleet"),
    (GateReason::UnknownStep, "unknown_step"),
    (GateReason::NotPerStep, "not_per_step"),
    (GateReason::LedgerUnavailable, "ledger_unavailable"),
    (GateReason::NoTrigger, "no_trigger"),
    (GateReason::NoBaseline, "no_baseline"),
    (GateReason::Unrecorded, "unrecorded"),
    (
        GateReason::NoSuccessfulOperations,
        "no_successful_operations",
    ),
    (GateReason::NoWindows, "no_windows"),
];

impl GateReason {
    /// The label `summary.json` uses.
    pub fn label(self) -> &'static str {
        GATE_REASONS
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("unrecorded", |(_, l)| l)
    }
}

impl GateResult {
    /// The bound with its unit (`800ms`). A result read from an older
    /// summary.json, without the written forms, falls back to the number.
    pub fn bound_text(&self) -> String {
        if self.bound_written.is_empty() {
            format!("{}{}", self.bound, self.unit)
        } else {
            self.bound_written.clone()
        }
    }

    /// The measured value with its unit (`812.4ms`, `never`), if any.
    pub fn measured_text(&self) -> Option<String> {
        self.measured_written
            .clone()
            .or_else(|| self.measured.map(|m| format!("{m}{}", self.unit)))
    }

    /// `measured 812.4ms, bound 800ms`, or `<why nothing was measured>,
    /// bound 800ms`, from the fields.
    pub fn values(&self) -> String {
        let bound = self.bound_text();
        if let (Some(w), Some(m)) = (&self.window, self.measured_text()) {
            let share = |v: f64| {
                let s = format!("{:.1}", v * 100.0);
                format!("{}%", s.strip_suffix(".0").unwrap_or(&s))
            };
            let held = if w.measured == 0 {
                0.0
            } else {
                w.held as f64 / w.measured as f64
            };
            let at = w.worst_t_s.map_or(String::new(), |t| format!(" at {t}s"));
            return format!(
                "held in {} of {} {}s windows ({}, {} required), worst {m}{at}, bound {bound}",
                w.held,
                w.measured,
                w.width_s,
                share(held),
                share(w.required)
            );
        }
        match (self.measured_text(), &self.detail) {
            (Some(m), _) => format!("measured {m}, bound {bound}"),
            (None, Some(why)) => format!("{why}, bound {bound}"),
            (None, None) => format!("not measured ({}), bound {bound}", self.reason.label()),
        }
    }

    /// `<expr>: <values> — passed|FAILED`, from the fields.
    pub fn line(&self) -> String {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        format!("{}: {} — {verdict}", self.expr, self.values())
    }
}
