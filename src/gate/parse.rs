//! Gate expression parser. Strict: whatever it does not know is an error.

use super::*;

/// Parse `expr` against the known fleet and step names.
pub fn parse(expr: &str, fleets: &[String], steps: &[String]) -> Result<Gate, GateError> {
    let expr = expr.trim();
    let (lhs, op_s, rhs) = split_expr(expr)?;
    let syntax = |msg: String| GateError::Syntax {
        expr: expr.into(),
        msg,
    };
    let op = OPS
        .iter()
        .find(|(_, s)| *s == op_s)
        .map(|(o, _)| *o)
        .ok_or_else(|| GateError::UnknownOperator {
            expr: expr.into(),
            name: op_s.into(),
        })?;
    let (fleet, step, metric) = parse_path(expr, lhs, fleets, steps)?;
    let (rhs, window) = super::window::split(rhs).map_err(syntax)?;
    if window.is_some() && !metric.per_window() {
        return Err(GateError::BadValue {
            expr: expr.into(),
            msg: format!(
                "`{metric}` is not measured per window; windowed metrics: operations, attempts, success_rate, burn_rate(<objective>%), operation_latency.<stat>, operation_latency_all.<stat>, attempt_latency.<stat>"
            ),
        });
    }
    if window.is_some() && super::baseline::split(rhs).is_some() {
        return Err(syntax(
            "a windowed gate takes a fixed bound, not one relative to a baseline".into(),
        ));
    }
    let (relative, rhs) = match super::baseline::split(rhs) {
        None => (None, rhs),
        Some(Err(msg)) => return Err(syntax(msg)),
        Some(Ok((super::baseline::Rhs::Times(f), _))) => {
            let unit = if metric.kind() == Kind::Latency {
                Unit::Ms
            } else {
                Unit::Plain
            };
            return Ok(Gate {
                expr: expr.into(),
                fleet,
                step,
                metric,
                op,
                value: f,
                unit,
                bound: f,
                relative: Some(Relative::Times(f)),
                window,
            });
        }
        Some(Ok((super::baseline::Rhs::Offset(sign), text))) => (Some(sign), text),
    };
    let (value, unit) = split_bound(expr, rhs)?;
    let unit = unit_for(expr, &metric, value, unit)?;
    Ok(Gate {
        expr: expr.into(),
        fleet,
        step,
        metric,
        op,
        value,
        unit,
        bound: unit.normalize(value),
        relative: relative.map(|sign| Relative::Plus(sign * unit.normalize(value))),
        window,
    })
}

/// A bound's number and its unit as written (`800ms`, `98%`, `1.3`).
fn split_bound(expr: &str, rhs: &str) -> Result<(f64, Option<Unit>), GateError> {
    let (value, unit_s) = split_value(rhs).ok_or_else(|| GateError::Syntax {
        expr: expr.into(),
        msg: format!("`{rhs}` is not a number with an optional unit (e.g. 800ms, 98%, 1.3)"),
    })?;
    let unit = match unit_s {
        "" => None,
        "ms" => Some(Unit::Ms),
        "s" => Some(Unit::S),
        "us" | "µs" => Some(Unit::Us),
        "%" => Some(Unit::Percent),
        other => {
            return Err(GateError::UnknownUnit {
                expr: expr.into(),
                name: other.into(),
            });
        }
    };
    Ok((value, unit))
}

/// The unit a bound is read in: the one written, when it fits the
/// metric's kind, else the kind's own (ms for latencies).
fn unit_for(
    expr: &str,
    metric: &Metric,
    value: f64,
    unit: Option<Unit>,
) -> Result<Unit, GateError> {
    let bad = |msg: String| GateError::BadValue {
        expr: expr.into(),
        msg,
    };
    Ok(match (metric.kind(), unit) {
        (Kind::Latency, None) => Unit::Ms,
        (Kind::Latency, Some(u @ (Unit::Ms | Unit::S | Unit::Us))) => u,
        (Kind::Latency, Some(u)) => {
            return Err(bad(format!(
                "`{metric}` is a latency: write its bound in ms, s or us, not `{}`",
                u.suffix()
            )));
        }
        (Kind::Rate, None) => {
            if !(0.0..=1.0).contains(&value) {
                return Err(bad(format!(
                    "`{metric}` is a fraction in [0, 1]; write `{}%` for a percentage",
                    fmt_num(value)
                )));
            }
            Unit::Plain
        }
        (Kind::Rate, Some(Unit::Percent)) => {
            if !(0.0..=100.0).contains(&value) {
                return Err(bad(format!(
                    "`{metric}` as a percentage must be in [0%, 100%]"
                )));
            }
            Unit::Percent
        }
        (Kind::Plain, None) => Unit::Plain,
        (_, Some(u)) => {
            let what = if u == Unit::Percent {
                "a percentage applies only to rates (success_rate, journey_success_rate)"
            } else {
                "a duration unit applies only to latency metrics"
            };
            return Err(bad(format!(
                "`{metric}` takes a plain number, not `{}`: {what}",
                u.suffix()
            )));
        }
    })
}

const OP_CHARS: &[char] = &['<', '>', '=', '!'];

/// `path op value`, the operator being the run of symbols after the path.
pub(super) fn split_expr(expr: &str) -> Result<(&str, &str, &str), GateError> {
    let syntax = |msg: String| GateError::Syntax {
        expr: expr.into(),
        msg,
    };
    if expr.is_empty() {
        return Err(syntax(
            "empty gate; expected `<fleet>[.<step>].<metric> <op> <value>`".into(),
        ));
    }
    let end = expr
        .find(|c: char| c.is_whitespace() || OP_CHARS.contains(&c))
        .unwrap_or(expr.len());
    let lhs = &expr[..end];
    if lhs.is_empty() {
        return Err(syntax(
            "missing metric path; expected `<fleet>[.<step>].<metric> <op> <value>`".into(),
        ));
    }
    let rest = expr[end..].trim_start();
    let op_end = rest
        .find(|c: char| c.is_whitespace() || c.is_alphanumeric() || "-+.".contains(c))
        .unwrap_or(rest.len());
    let op = &rest[..op_end];
    if op.is_empty() {
        return Err(syntax(if rest.is_empty() {
            format!("missing operator and value after `{lhs}`; known operators: < <= > >= == !=")
        } else {
            format!(
                "expected an operator after `{lhs}`, found `{rest}`; known operators: < <= > >= == !="
            )
        }));
    }
    let rhs = rest[op_end..].trim();
    if rhs.is_empty() {
        return Err(syntax(format!("missing value after `{op}`")));
    }
    Ok((lhs, op, rhs))
}

/// `800ms` -> (800, "ms"); `98 %` -> (98, "%"). None when there is no finite number.
pub(super) fn split_value(rhs: &str) -> Option<(f64, &str)> {
    let max = rhs
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(rhs.len());
    (1..=max).rev().find_map(|i| {
        let v: f64 = rhs[..i].parse().ok()?;
        v.is_finite().then(|| (v, rhs[i..].trim()))
    })
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// The longest known name that `s` starts with, followed by `.`.
fn longest_prefix<'a>(s: &str, names: &'a [String]) -> Option<&'a String> {
    names
        .iter()
        .filter(|n| {
            !n.is_empty()
                && s.strip_prefix(n.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        })
        .max_by_key(|n| n.len())
}

fn parse_path(
    expr: &str,
    lhs: &str,
    fleets: &[String],
    steps: &[String],
) -> Result<(String, Option<String>, Metric), GateError> {
    let Some(fleet) = longest_prefix(lhs, fleets) else {
        if fleets.iter().any(|c| c == lhs) {
            return Err(GateError::Syntax {
                expr: expr.into(),
                msg: format!("`{lhs}` needs a metric (e.g. `{lhs}.success_rate`)"),
            });
        }
        return Err(GateError::UnknownFleet {
            expr: expr.into(),
            name: lhs.split('.').next().unwrap_or(lhs).into(),
            known: list(fleets),
        });
    };
    let rest = &lhs[fleet.len() + 1..];
    if let Some(step) = longest_prefix(rest, steps) {
        let step_rest = &rest[step.len() + 1..];
        return match parse_metric(expr, step_rest, Some(step), steps) {
            Ok(m) => Ok((fleet.clone(), Some(step.clone()), m)),
            // A step named like a fleet metric (`journeys`): fall back.
            Err(e) => match parse_metric(expr, rest, None, steps) {
                Ok(m) => Ok((fleet.clone(), None, m)),
                Err(_) => Err(e),
            },
        };
    }
    if steps.iter().any(|s| s == rest) {
        return Err(GateError::Syntax {
            expr: expr.into(),
            msg: format!("step `{rest}` needs a metric (e.g. `{fleet}.{rest}.success_rate`)"),
        });
    }
    let m = parse_metric(expr, rest, None, steps)?;
    Ok((fleet.clone(), None, m))
}

/// `(99.9%)` after `burn_rate`: the success objective, a percentage in
/// (0%, 100%).
fn burn_rate(args: &str) -> Result<Metric, String> {
    let form = "`burn_rate` needs a success objective, e.g. `burn_rate(99.9%)`";
    let inner = args
        .strip_prefix('(')
        .and_then(|a| a.strip_suffix(')'))
        .ok_or_else(|| form.to_string())?;
    let v: f64 = inner
        .trim()
        .strip_suffix('%')
        .and_then(|n| n.trim().parse().ok())
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| form.to_string())?;
    if v <= 0.0 || v >= 100.0 {
        return Err(format!(
            "`burn_rate({inner})`: the objective must be above 0% and below 100% (100% leaves no budget to burn)"
        ));
    }
    Ok(Metric::BurnRate(v / 100.0))
}

fn names<T>(table: &[(T, &'static str)]) -> String {
    table.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

fn known_metrics(step: bool) -> String {
    let lat = |n: &str| format!("{n}.<stat>");
    if step {
        return format!(
            "operations, attempts, success_rate, burn_rate(<objective>%), {}, {}, outcomes.<CODE>",
            lat("operation_latency"),
            lat("attempt_latency")
        );
    }
    let mut v: Vec<String> = SCALARS.iter().map(|(_, n)| n.to_string()).collect();
    v.extend(LATENCIES.iter().map(|(_, n)| lat(n)));
    v.push("outcomes.<CODE>".into());
    v.push(format!(
        "journeys.<{}>",
        names(&JOURNEY_FIELDS).replace(", ", "|")
    ));
    v.extend(LEDGER_FIELDS.iter().map(|(_, n)| n.to_string()));
    v.push("truth.<KEY>".into());
    v.push("burn_rate(<objective>%)".into());
    v.join(", ")
}

/// `rest` is the path after `fleet.` (or after `fleet.step.` when `step` is set).
fn parse_metric(
    expr: &str,
    rest: &str,
    step: Option<&String>,
    steps: &[String],
) -> Result<Metric, GateError> {
    if let Some(args) = rest.strip_prefix("burn_rate") {
        return burn_rate(args).map_err(|msg| GateError::Syntax {
            expr: expr.into(),
            msg,
        });
    }
    let (head, tail) = match rest.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let Some(metric) = named_metric(expr, head, tail, step.is_none())? else {
        return Err(unknown_metric(expr, head, tail, step, steps));
    };
    if let Some(s) = step
        && !metric.per_step()
    {
        return Err(GateError::UnknownMetric {
            expr: expr.into(),
            name: format!("{s}.{metric}"),
            known: format!(
                "`{metric}` is not measured per step; step metrics: {}",
                known_metrics(true)
            ),
        });
    }
    Ok(metric)
}

/// The metric `head[.tail]` names, `None` when `head` is no metric's name
/// (`truth` only at fleet level).
fn named_metric(
    expr: &str,
    head: &str,
    tail: Option<&str>,
    fleet_level: bool,
) -> Result<Option<Metric>, GateError> {
    let syntax = |msg: String| GateError::Syntax {
        expr: expr.into(),
        msg,
    };
    let no_tail = |m: Metric| match tail {
        None => Ok(Some(m)),
        Some(t) => Err(syntax(format!("`{head}` has no field `{t}`"))),
    };
    let word = tail.filter(|k| !k.is_empty() && !k.contains(char::is_whitespace));
    if head == "truth" && fleet_level {
        let key = word.ok_or_else(|| {
            syntax(
                "`truth` needs a key of [truth] counts or levels, e.g. `truth.seats_left`".into(),
            )
        })?;
        return Ok(Some(Metric::Truth(key.into())));
    }
    if head == "outcomes" {
        let code =
            word.ok_or_else(|| syntax("`outcomes` needs a code, e.g. `outcomes.GAVE_UP`".into()))?;
        return Ok(Some(Metric::Outcome(code.into())));
    }
    if head == "journeys" {
        return journeys_field(expr, tail).map(Some);
    }
    if let Some((lat, _)) = LATENCIES.iter().find(|(_, n)| *n == head) {
        return latency_stat(expr, head, *lat, tail).map(Some);
    }
    if let Some((m, _)) = SCALARS.iter().find(|(_, n)| *n == head) {
        return no_tail(m.clone());
    }
    if let Some((l, _)) = LEDGER_FIELDS.iter().find(|(_, n)| *n == head) {
        return no_tail(Metric::Ledger(*l));
    }
    Ok(None)
}

/// `journeys.<field>`.
fn journeys_field(expr: &str, tail: Option<&str>) -> Result<Metric, GateError> {
    let Some(t) = tail else {
        return Err(GateError::Syntax {
            expr: expr.into(),
            msg: format!("`journeys` needs a field: {}", names(&JOURNEY_FIELDS)),
        });
    };
    let f = JOURNEY_FIELDS
        .iter()
        .find(|(_, n)| *n == t)
        .ok_or_else(|| GateError::UnknownMetric {
            expr: expr.into(),
            name: format!("journeys.{t}"),
            known: format!("journeys.<{}>", names(&JOURNEY_FIELDS).replace(", ", "|")),
        })?;
    Ok(Metric::Journeys(f.0))
}

/// `<latency>.<stat>`.
fn latency_stat(
    expr: &str,
    head: &str,
    lat: Latency,
    tail: Option<&str>,
) -> Result<Metric, GateError> {
    let Some(t) = tail else {
        return Err(GateError::Syntax {
            expr: expr.into(),
            msg: format!(
                "`{head}` needs a statistic: {head}.<{}>",
                names(&STATS).replace(", ", "|")
            ),
        });
    };
    let stat = STATS
        .iter()
        .find(|(_, n)| *n == t)
        .ok_or_else(|| GateError::UnknownStat {
            expr: expr.into(),
            metric: head.into(),
            name: t.into(),
            known: names(&STATS),
        })?;
    Ok(Metric::Latency(lat, stat.0))
}

/// The error for a path that names no metric: a misspelt step
/// (`fleet.reserv.attempt_latency.p99`) when the rest reads as a step
/// metric, else the metrics there are.
fn unknown_metric(
    expr: &str,
    head: &str,
    tail: Option<&str>,
    step: Option<&String>,
    steps: &[String],
) -> GateError {
    let looks_like_step = step.is_none()
        && tail.is_some_and(|t| {
            let h = t.split('.').next().unwrap_or(t);
            ["operations", "attempts", "success_rate", "outcomes"].contains(&h)
                || LATENCIES.iter().any(|(_, n)| *n == h)
        });
    if looks_like_step {
        return GateError::UnknownStep {
            expr: expr.into(),
            name: head.into(),
            known: list(steps),
        };
    }
    let mut known = known_metrics(step.is_some());
    if step.is_none() {
        known.push_str(&format!(
            "; or a step metric `<step>.<metric>` with steps: {}",
            list(steps)
        ));
    }
    GateError::UnknownMetric {
        expr: expr.into(),
        name: head.into(),
        known,
    }
}

#[cfg(test)]
mod tests;
