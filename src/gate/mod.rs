//! Threshold gates: a small, per-fleet expression language in the spirit of
//! k6 thresholds, checked against a finished [`Report`].
//!
//! ```text
//! gate   := path op value [unit] [window]
//! path   := fleet ["." step] "." metric
//! op     := "<" | "<=" | ">" | ">=" | "==" | "!="
//! unit   := "ms" | "s" | "us" | "µs"   (latency metrics; none means ms)
//!         | "%"                        (rates; none means a fraction in [0, 1])
//! window := "in" ("every" width "window" | share "of" width "windows")
//! width  := N ("s" | "m" | "h")        (whole seconds, tumbling from the round start)
//! ```
//!
//! Examples: `compliant.operation_latency.p99 < 800ms`,
//! `compliant.success_rate >= 98%`, `compliant.journey_success_rate >= 99%`,
//! `naive.duplicates > 0`,
//! `compliant.reserve.attempt_latency.p99 < 2s`, `no-jitter.amplification <= 1.3`.
//!
//! Two rates: `success_rate` is over operations (every call, a sold-out
//! answer counting against it), so it moves with how fast the seats go;
//! `journey_success_rate` is succeeded / (started − sold_out − cancelled),
//! the share of journeys that could succeed and did (sold-out journeys and
//! journeys still running when the run ended are left out). A healthy client
//! against a healthy target keeps it at 100% whatever the inventory, which
//! makes it the gate for CI (`scenarios/ci-smoke.toml`).
//!
//! Gates are parsed once, when the scenario is validated: the plan holds
//! [`Gate`]s (the source text beside the parsed parts), and [`evaluate`]
//! turns each into a [`GateResult`] that carries the metric, operator, unit,
//! bound, measured value and a [`GateReason`] as data, which the JUnit and
//! console renderers read (the report never calls back into this module).
//!
//! Fleet and step names are matched against the known names (longest match
//! wins), so names may contain `-` or even `.`. Anything unknown (fleet,
//! step, metric, stat, operator, unit) is an error at `stampede validate`
//! time; a gate never passes silently because it could not be understood or
//! measured (a parse error, a missing fleet, a latency without samples, a
//! ledger metric without the embedded simulator and a NaN all fail).
//!
//! Ledger metrics (`oversold`, `duplicates`, `wasted_work`, `early_retries`,
//! `bookings_created`) are the simulator's ground truth for the fleet's
//! round, or, without a ledger, the target's own count of that name from
//! `[truth]`; `truth.<KEY>` reads any `[truth]` key. Fleets sharing one
//! round (a mixed fleet) share one ledger and one reading.

pub mod baseline;
mod eval;
mod parse;
pub mod window;

pub use baseline::Relative;
pub use eval::{evaluate, evaluate_all, evaluate_all_with, evaluate_with, no_success_notes};
pub use parse::parse;

use crate::model::{GateReason, GateResult};
use std::fmt;

/// A parsed gate, ready to be evaluated against a report. It serializes as
/// its source text (what `stampede validate` prints).
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// The expression as written (trimmed).
    pub expr: String,
    pub fleet: String,
    /// A journey step, for per-step metrics.
    pub step: Option<String>,
    pub metric: Metric,
    pub op: Op,
    /// The number as written, in `unit`.
    pub value: f64,
    /// The unit the bound was written in (a latency without a unit is `Ms`).
    pub unit: Unit,
    /// `value` normalized: milliseconds for latencies, a fraction for rates.
    pub bound: f64,
    /// A bound relative to the same metric in a baseline run
    /// (`<= baseline * 1.10`, `<= baseline + 0.05`); `None` for a fixed bound.
    pub relative: Option<Relative>,
    /// Held window by window (`in 99% of 10s windows`) instead of over the
    /// whole run.
    pub window: Option<window::GateWindow>,
}

impl Gate {
    /// The metric path: `compliant.reserve.attempt_latency.p99`.
    pub fn path(&self) -> String {
        match &self.step {
            Some(step) => format!("{}.{step}.{}", self.fleet, self.metric),
            None => format!("{}.{}", self.fleet, self.metric),
        }
    }

    /// The bound in the unit written, with the unit: `800ms`, `98%`, `1.3`.
    pub fn bound_written(&self) -> String {
        if let Some(w) = baseline::written(self) {
            return w;
        }
        format!("{}{}", fmt_num(self.value), self.unit.suffix())
    }
}

impl serde::Serialize for Gate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.expr)
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

pub(crate) const OPS: [(Op, &str); 6] = [
    (Op::Le, "<="),
    (Op::Ge, ">="),
    (Op::Eq, "=="),
    (Op::Ne, "!="),
    (Op::Lt, "<"),
    (Op::Gt, ">"),
];

impl Op {
    pub fn symbol(self) -> &'static str {
        OPS.iter()
            .find(|(o, _)| *o == self)
            .map(|(_, s)| *s)
            .unwrap_or("?")
    }

    /// Whether `measured op bound` holds. Values within a small relative
    /// epsilon count as equal, so `0.1 + 0.2 == 0.3` holds and `<`/`>` do
    /// not. NaN never holds.
    pub fn holds(self, measured: f64, bound: f64) -> bool {
        if measured.is_nan() || bound.is_nan() {
            return false;
        }
        let eq = approx_eq(measured, bound);
        match self {
            Op::Lt => measured < bound && !eq,
            Op::Le => measured < bound || eq,
            Op::Gt => measured > bound && !eq,
            Op::Ge => measured > bound || eq,
            Op::Eq => eq,
            Op::Ne => !eq,
        }
    }
}

fn approx_eq(a: f64, b: f64) -> bool {
    if a.is_infinite() || b.is_infinite() {
        return a == b; // a relative epsilon of infinity would call everything equal
    }
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Units a bound can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain number (counts, ratios, rates per second, fractions).
    Plain,
    Percent,
    Ms,
    S,
    Us,
}

impl Unit {
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Plain => "",
            Unit::Percent => "%",
            Unit::Ms => "ms",
            Unit::S => "s",
            Unit::Us => "us",
        }
    }

    /// Written value -> normalized value (ms, fraction).
    pub fn normalize(self, v: f64) -> f64 {
        match self {
            Unit::Plain | Unit::Ms => v,
            Unit::Percent => v / 100.0,
            Unit::S => v * 1000.0,
            Unit::Us => v / 1000.0,
        }
    }

    /// Normalized value -> this unit.
    pub fn denormalize(self, v: f64) -> f64 {
        match self {
            Unit::Plain | Unit::Ms => v,
            Unit::Percent => v * 100.0,
            Unit::S => v / 1000.0,
            Unit::Us => v * 1000.0,
        }
    }
}

/// An enum of the gate language's words and the table naming each variant:
/// the names are written once, beside their variants.
macro_rules! words {
    (
        $(#[$doc:meta])*
        $name:ident, $table:ident {
            $( $(#[$vdoc:meta])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        pub(crate) const $table: [($name, &str); [$($word),+].len()] =
            [$(($name::$variant, $word)),+];
    };
}

words! {
    /// Latency statistics.
    Stat, STATS {
        P50 = "p50",
        P90 = "p90",
        P95 = "p95",
        P99 = "p99",
        P999 = "p999",
        Max = "max",
        Mean = "mean",
    }
}

words! {
    /// Latency families (all in milliseconds).
    Latency, LATENCIES {
        /// Operations that ended OK (`ok_operation_latency_ms`).
        Operation = "operation_latency",
        /// Every operation, whatever its outcome (`operation_latency_ms`).
        OperationAll = "operation_latency_all",
        /// The fleet's journey duration (`journey_duration_ms`).
        Journey = "journey_duration",
        Attempt = "attempt_latency",
        BackoffWait = "backoff_wait",
        ScheduleLag = "schedule_lag",
    }
}

words! {
    /// `journeys.<field>`.
    JourneyField, JOURNEY_FIELDS {
        Started = "started",
        Succeeded = "succeeded",
        SoldOut = "sold_out",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

words! {
    /// Simulator ground truth (embedded target only).
    LedgerField, LEDGER_FIELDS {
        Oversold = "oversold",
        Duplicates = "duplicates",
        WastedWork = "wasted_work",
        EarlyRetries = "early_retries",
        BookingsCreated = "bookings_created",
    }
}

/// What a gate measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    Operations,
    Attempts,
    Retries,
    Amplification,
    SuccessRate,
    /// succeeded / (started − sold_out − cancelled).
    JourneySuccessRate,
    Goodput,
    AchievedRps,
    BreakerOpens,
    BreakerOpenS,
    RetryAfterHonoured,
    /// Client-side harm counts, measurable against any target.
    ClientEarlyRetries,
    KeyChangedAfterAmbiguous,
    SentWhileToldToWait,
    /// Seconds from the end of the simulator's trigger window until the
    /// fleet recovered; "never" measures as infinity.
    RecoveryS,
    Latency(Latency, Stat),
    /// `outcomes.<CODE>`; a code that never occurred measures 0.
    Outcome(String),
    Journeys(JourneyField),
    Ledger(LedgerField),
    /// `truth.<KEY>`: a number of the target's own, from `[truth]`.
    Truth(String),
    /// `burn_rate(99.9%)`: how fast failed operations spend the error
    /// budget of a success objective (the fraction given):
    /// (1 − success rate) / (1 − objective). 1 spends it exactly over the
    /// period; 14.4 spends a 30-day budget in 2 days.
    BurnRate(f64),
}

/// Scalar fleet metrics, by name.
pub(crate) const SCALARS: [(Metric, &str); 15] = [
    (Metric::Operations, "operations"),
    (Metric::Attempts, "attempts"),
    (Metric::Retries, "retries"),
    (Metric::Amplification, "amplification"),
    (Metric::SuccessRate, "success_rate"),
    (Metric::JourneySuccessRate, "journey_success_rate"),
    (Metric::Goodput, "goodput"),
    (Metric::AchievedRps, "achieved_rps"),
    (Metric::BreakerOpens, "breaker_opens"),
    (Metric::BreakerOpenS, "breaker_open_s"),
    (Metric::RetryAfterHonoured, "retry_after_honoured"),
    (Metric::ClientEarlyRetries, "client_early_retries"),
    (
        Metric::KeyChangedAfterAmbiguous,
        "key_changed_after_ambiguous",
    ),
    (Metric::SentWhileToldToWait, "sent_while_told_to_wait"),
    (Metric::RecoveryS, "recovery_s"),
];

/// How a metric's bound may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain numbers only.
    Plain,
    /// A fraction in [0, 1], or a percentage with `%`.
    Rate,
    /// Milliseconds; `ms`, `s` or `us`.
    Latency,
}

impl Metric {
    pub fn kind(&self) -> Kind {
        match self {
            Metric::SuccessRate | Metric::JourneySuccessRate => Kind::Rate,
            Metric::Latency(..) => Kind::Latency,
            _ => Kind::Plain,
        }
    }

    /// Whether the metric is measured window by window (`in 99% of 10s
    /// windows`): what ended in each window.
    pub fn per_window(&self) -> bool {
        matches!(
            self,
            Metric::Operations
                | Metric::Attempts
                | Metric::SuccessRate
                | Metric::BurnRate(_)
                | Metric::Latency(
                    Latency::Operation | Latency::OperationAll | Latency::Attempt,
                    _
                )
        )
    }

    /// Whether the metric exists per journey step.
    pub fn per_step(&self) -> bool {
        matches!(
            self,
            Metric::Operations
                | Metric::Attempts
                | Metric::SuccessRate
                | Metric::BurnRate(_)
                | Metric::Outcome(_)
                | Metric::Latency(
                    Latency::Operation | Latency::OperationAll | Latency::Attempt,
                    _
                )
        )
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn name<T: PartialEq>(table: &[(T, &'static str)], v: &T) -> &'static str {
            table.iter().find(|(t, _)| t == v).map_or("?", |(_, n)| n)
        }
        match self {
            Metric::Latency(l, s) => write!(f, "{}.{}", name(&LATENCIES, l), name(&STATS, s)),
            Metric::Outcome(code) => write!(f, "outcomes.{code}"),
            Metric::Journeys(j) => write!(f, "journeys.{}", name(&JOURNEY_FIELDS, j)),
            Metric::Ledger(l) => f.write_str(name(&LEDGER_FIELDS, l)),
            Metric::Truth(key) => write!(f, "truth.{key}"),
            Metric::BurnRate(objective) => {
                write!(f, "burn_rate({}%)", fmt_num(objective * 100.0))
            }
            m => f.write_str(name(&SCALARS, m)),
        }
    }
}

/// Why a gate expression was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateError {
    #[error("`{expr}`: {msg}")]
    Syntax { expr: String, msg: String },
    #[error("`{expr}`: unknown fleet `{name}`; known fleets: {known}")]
    UnknownFleet {
        expr: String,
        name: String,
        known: String,
    },
    #[error("`{expr}`: unknown step `{name}`; known steps: {known}")]
    UnknownStep {
        expr: String,
        name: String,
        known: String,
    },
    #[error("`{expr}`: unknown metric `{name}`; known metrics: {known}")]
    UnknownMetric {
        expr: String,
        name: String,
        known: String,
    },
    #[error("`{expr}`: unknown statistic `{name}` for `{metric}`; known: {known}")]
    UnknownStat {
        expr: String,
        metric: String,
        name: String,
        known: String,
    },
    #[error("`{expr}`: unknown operator `{name}`; known: < <= > >= == !=")]
    UnknownOperator { expr: String, name: String },
    #[error("`{expr}`: unknown unit `{name}`; known: ms, s, us (latencies), % (rates)")]
    UnknownUnit { expr: String, name: String },
    /// A known unit on a metric it does not apply to, or a value out of range.
    #[error("`{expr}`: {msg}")]
    BadValue { expr: String, msg: String },
}

/// One line per gate for the terminal, from the result's fields:
/// `PASS <expr>: measured 0.64s, bound 1s — passed` / `FAIL ...`.
pub fn console_lines(results: &[GateResult]) -> String {
    let mut out = String::new();
    for r in results {
        out.push_str(if r.passed { "PASS " } else { "FAIL " });
        out.push_str(&r.line());
        out.push('\n');
    }
    out
}

/// A number for humans: up to three decimals, trailing zeros trimmed.
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let s = format!("{v:.3}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    match s.as_str() {
        "0" | "-0" if v != 0.0 => format!("{v:.3e}"),
        "-0" => "0".into(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_epsilon() {
        assert!(Op::Lt.holds(1.0, 2.0));
        assert!(!Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0));
        assert!(Op::Le.holds(0.1 + 0.2, 0.3));
        assert!(!Op::Lt.holds(0.3, 0.1 + 0.2));
        assert!(Op::Gt.holds(3.0, 2.0));
        assert!(!Op::Gt.holds(0.1 + 0.2, 0.3));
        assert!(Op::Ge.holds(0.3, 0.1 + 0.2));
        assert!(Op::Eq.holds(0.1 + 0.2, 0.3));
        assert!(!Op::Eq.holds(1.0, 1.001));
        assert!(Op::Ne.holds(1.0, 1.001));
        assert!(!Op::Ne.holds(0.1 + 0.2, 0.3));
        for (op, _) in OPS {
            assert!(!op.holds(f64::NAN, 1.0), "{op} held on NaN");
        }
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(fmt_num(812.4), "812.4");
        assert_eq!(fmt_num(800.0), "800");
        assert_eq!(fmt_num(0.98), "0.98");
        assert_eq!(fmt_num(1.0 / 3.0), "0.333");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.00001), "1.000e-5");
    }

    #[test]
    fn console_lines_are_built_from_the_fields() {
        let r = |passed, measured: Option<&str>, detail: Option<&str>| GateResult {
            expr: "compliant.reserve.attempt_latency.p99 < 1s".into(),
            passed,
            measured: measured.map(|_| 0.64),
            bound: 1.0,
            message: "whatever the wording".into(),
            metric: "compliant.reserve.attempt_latency.p99".into(),
            op: "<".into(),
            unit: "s".into(),
            bound_written: "1s".into(),
            measured_written: measured.map(String::from),
            reason: if passed {
                GateReason::Passed
            } else {
                GateReason::NoSamples
            },
            detail: detail.map(String::from),
            baseline: None,
            window: None,
        };
        let s = console_lines(&[
            r(true, Some("0.64s"), None),
            r(false, None, Some("no attempt_latency samples")),
        ]);
        assert_eq!(
            s,
            "PASS compliant.reserve.attempt_latency.p99 < 1s: measured 0.64s, bound 1s — passed\n\
             FAIL compliant.reserve.attempt_latency.p99 < 1s: no attempt_latency samples, bound 1s — FAILED\n"
        );
        assert!(!s.contains("wording"));
    }

    #[test]
    fn gates_serialize_as_their_source_text() {
        let g = parse(
            "  compliant.reserve.attempt_latency.p99 < 1s ",
            &["compliant".into()],
            &["reserve".into()],
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            "\"compliant.reserve.attempt_latency.p99 < 1s\""
        );
        assert_eq!(g.path(), "compliant.reserve.attempt_latency.p99");
        assert_eq!(g.bound_written(), "1s");
    }
}
