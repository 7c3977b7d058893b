//! Gates relative to a baseline run (`stampede run --baseline DIR`):
//!
//! ```text
//! value := number [unit]
//!        | "baseline" [ "*" number | ("+" | "-") number [unit] ]
//! ```
//!
//! `compliant.operation_latency.p99 <= baseline * 1.10` holds when this
//! run's p99 is at most 10% above the baseline's; `compliant.amplification
//! <= baseline + 0.05` when the amplification rose by at most 0.05. The
//! baseline value is the same metric of the same fleet (and step) in the
//! baseline's `summary.json`. An offset takes the metric's units (`+ 50ms`,
//! `- 1%`); a factor is a plain number. A relative gate without
//! `--baseline` is an error at run start ([`require`]); a baseline without
//! the fleet, step or samples fails the gate with the reason why.

use super::{Gate, GateError, fmt_num};
use crate::model::Report;

/// How the bound follows from the baseline's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Relative {
    /// `baseline * f`.
    Times(f64),
    /// `baseline + d` (`d` normalized: ms, fraction; negative for `-`).
    Plus(f64),
}

impl Relative {
    pub fn apply(self, base: f64) -> f64 {
        match self {
            Relative::Times(f) => base * f,
            Relative::Plus(d) => base + d,
        }
    }
}

/// The right-hand side after `baseline`.
pub(super) enum Rhs {
    Times(f64),
    /// The sign of the offset; the offset's text follows.
    Offset(f64),
}

/// `None` when `rhs` does not start with `baseline`; else what follows it
/// (an offset's text still to be parsed as a value with a unit).
pub(super) fn split(rhs: &str) -> Option<Result<(Rhs, &str), String>> {
    let rest = rhs.strip_prefix("baseline")?.trim_start();
    if rest.is_empty() {
        return Some(Ok((Rhs::Times(1.0), "")));
    }
    let (sym, num) = rest.split_at(rest.chars().next().map_or(0, char::len_utf8));
    let num = num.trim();
    Some(match sym {
        "*" | "×" => match num.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok((Rhs::Times(f), "")),
            _ => Err(format!(
                "`baseline * {num}`: the factor must be a positive plain number, e.g. `baseline * 1.10`"
            )),
        },
        "+" | "-" if !num.is_empty() && !num.starts_with(['+', '-']) => {
            Ok((Rhs::Offset(if sym == "+" { 1.0 } else { -1.0 }), num))
        }
        _ => Err(format!(
            "`{rhs}`: after `baseline` write `* <factor>`, `+ <value>` or `- <value>` \
             (e.g. `baseline * 1.10`, `baseline + 0.05`, `baseline + 50ms`)"
        )),
    })
}

/// `baseline * 1.1`, `baseline + 50ms`: the bound as written.
pub fn written(gate: &Gate) -> Option<String> {
    let unit = gate.unit.suffix();
    gate.relative.map(|r| match r {
        Relative::Times(f) => format!("baseline * {}", fmt_num(f)),
        Relative::Plus(d) => {
            let shown = gate.unit.denormalize(d.abs());
            let sign = if d < 0.0 { '-' } else { '+' };
            format!("baseline {sign} {}{unit}", fmt_num(shown))
        }
    })
}

/// Whether any gate needs a baseline run.
pub fn any_relative(gates: &[Gate]) -> bool {
    gates.iter().any(|g| g.relative.is_some())
}

/// Relative gates need `--baseline`: an error naming the first one otherwise.
pub fn require(gates: &[Gate], baseline: Option<&Report>) -> Result<(), GateError> {
    match (gates.iter().find(|g| g.relative.is_some()), baseline) {
        (Some(g), None) => Err(GateError::Syntax {
            expr: g.expr.clone(),
            msg: "a gate relative to `baseline` needs `stampede run --baseline DIR` \
                  (the report folder of an earlier run of the same scenario)"
                .into(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::GateReason;
    use crate::sample::sample_report;

    fn names(r: &Report) -> (Vec<String>, Vec<String>) {
        let fleets = r.results.iter().map(|c| c.name.clone()).collect();
        let steps = r.results[0].steps.iter().map(|s| s.name.clone()).collect();
        (fleets, steps)
    }

    fn gate(expr: &str) -> Gate {
        let (c, s) = names(&sample_report());
        super::super::parse(expr, &c, &s).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    #[test]
    fn relative_bounds_parse() {
        let g = gate("compliant.operation_latency.p99 <= baseline * 1.10");
        assert_eq!(g.relative, Some(Relative::Times(1.10)));
        assert_eq!(g.bound_written(), "baseline * 1.1");
        let g = gate("compliant.amplification <= baseline + 0.05");
        assert_eq!(g.relative, Some(Relative::Plus(0.05)));
        let g = gate("compliant.operation_latency.p99 <= baseline + 0.2s");
        assert_eq!(g.relative, Some(Relative::Plus(200.0)));
        assert_eq!(g.bound_written(), "baseline + 0.2s");
        let g = gate("compliant.success_rate >= baseline - 1%");
        assert_eq!(g.relative, Some(Relative::Plus(-0.01)));
        let g = gate("compliant.attempts == baseline");
        assert_eq!(g.relative, Some(Relative::Times(1.0)));
        assert_eq!(gate("compliant.amplification <= 1.3").relative, None);
    }

    #[test]
    fn malformed_relative_bounds_are_errors() {
        let (c, s) = names(&sample_report());
        for bad in [
            "compliant.amplification <= baseline * -1",
            "compliant.amplification <= baseline * 1.1ms",
            "compliant.amplification <= baseline / 2",
            "compliant.amplification <= baseline +",
            "compliant.amplification <= baseline + 5ms",
            "compliant.operation_latency.p99 <= baseline + 5%",
        ] {
            let e = super::super::parse(bad, &c, &s).expect_err(bad);
            assert!(
                e.to_string().contains(bad.split(" <= ").next().unwrap())
                    || e.to_string().contains("baseline"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn relative_gates_measure_against_the_baseline() {
        let base = sample_report();
        let mut slower = sample_report();
        let p99 = base.results[0].latency.ok_operation_latency_ms.p99;
        slower.results[0].latency.ok_operation_latency_ms.p99 = p99 * 1.25;
        let g = gate("compliant.operation_latency.p99 <= baseline * 1.10");
        let same = super::super::evaluate_with(&g, &base, Some(&base));
        assert!(same.passed, "{}", same.message);
        assert_eq!(same.baseline, Some(p99));
        let worse = super::super::evaluate_with(&g, &slower, Some(&base));
        assert!(!worse.passed, "{}", worse.message);
        assert_eq!(worse.reason, GateReason::Failed);
        assert!((worse.bound - p99 * 1.1).abs() < 1e-9, "{}", worse.bound);
        assert!(
            worse.bound_written.contains("baseline"),
            "{}",
            worse.bound_written
        );
        let none = super::super::evaluate(&g, &base);
        assert!(!none.passed);
        assert_eq!(none.reason, GateReason::NoBaseline);
        let mut a = sample_report();
        a.results[0].counts.amplification = base.results[0].counts.amplification + 0.049;
        let g = gate("compliant.amplification <= baseline + 0.05");
        assert!(super::super::evaluate_with(&g, &a, Some(&base)).passed);
        a.results[0].counts.amplification = base.results[0].counts.amplification + 0.051;
        assert!(!super::super::evaluate_with(&g, &a, Some(&base)).passed);
    }

    #[test]
    fn a_relative_gate_needs_a_baseline() {
        let gates = vec![gate("compliant.amplification <= 1.3")];
        assert!(require(&gates, None).is_ok());
        let gates = vec![gate("compliant.amplification <= baseline + 0.05")];
        let e = require(&gates, None).unwrap_err().to_string();
        assert!(
            e.contains("--baseline") && e.contains("compliant.amplification"),
            "{e}"
        );
        assert!(require(&gates, Some(&sample_report())).is_ok());
    }
}
