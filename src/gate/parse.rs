//! Gate expression parser. Strict: whatever it does not know is an error.

use super::*;

/// Parse `expr` against the known cohort and step names.
pub fn parse(expr: &str, cohorts: &[String], steps: &[String]) -> Result<Gate, GateError> {
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
    let (cohort, step, metric) = parse_path(expr, lhs, cohorts, steps)?;
    let (value, unit_s) = split_value(rhs).ok_or_else(|| {
        syntax(format!(
            "`{rhs}` is not a number with an optional unit (e.g. 800ms, 98%, 1.3)"
        ))
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
    let bad = |msg: String| GateError::BadValue {
        expr: expr.into(),
        msg,
    };
    let unit = match (metric.kind(), unit) {
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
    };
    Ok(Gate {
        expr: expr.into(),
        cohort,
        step,
        metric,
        op,
        value,
        unit,
        bound: unit.normalize(value),
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
            "empty gate; expected `<cohort>[.<step>].<metric> <op> <value>`".into(),
        ));
    }
    let end = expr
        .find(|c: char| c.is_whitespace() || OP_CHARS.contains(&c))
        .unwrap_or(expr.len());
    let lhs = &expr[..end];
    if lhs.is_empty() {
        return Err(syntax(
            "missing metric path; expected `<cohort>[.<step>].<metric> <op> <value>`".into(),
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
    cohorts: &[String],
    steps: &[String],
) -> Result<(String, Option<String>, Metric), GateError> {
    let Some(cohort) = longest_prefix(lhs, cohorts) else {
        if cohorts.iter().any(|c| c == lhs) {
            return Err(GateError::Syntax {
                expr: expr.into(),
                msg: format!("`{lhs}` needs a metric (e.g. `{lhs}.success_rate`)"),
            });
        }
        return Err(GateError::UnknownCohort {
            expr: expr.into(),
            name: lhs.split('.').next().unwrap_or(lhs).into(),
            known: list(cohorts),
        });
    };
    let rest = &lhs[cohort.len() + 1..];
    if let Some(step) = longest_prefix(rest, steps) {
        let step_rest = &rest[step.len() + 1..];
        return match parse_metric(expr, step_rest, Some(step), steps) {
            Ok(m) => Ok((cohort.clone(), Some(step.clone()), m)),
            // A step named like a cohort metric (`journeys`): fall back.
            Err(e) => match parse_metric(expr, rest, None, steps) {
                Ok(m) => Ok((cohort.clone(), None, m)),
                Err(_) => Err(e),
            },
        };
    }
    if steps.iter().any(|s| s == rest) {
        return Err(GateError::Syntax {
            expr: expr.into(),
            msg: format!("step `{rest}` needs a metric (e.g. `{cohort}.{rest}.success_rate`)"),
        });
    }
    let m = parse_metric(expr, rest, None, steps)?;
    Ok((cohort.clone(), None, m))
}

fn names<T>(table: &[(T, &'static str)]) -> String {
    table.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

fn known_metrics(step: bool) -> String {
    let lat = |n: &str| format!("{n}.<stat>");
    if step {
        return format!(
            "operations, attempts, success_rate, {}, {}, outcomes.<CODE>",
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
    v.join(", ")
}

/// `rest` is the path after `cohort.` (or after `cohort.step.` when `step` is set).
fn parse_metric(
    expr: &str,
    rest: &str,
    step: Option<&String>,
    steps: &[String],
) -> Result<Metric, GateError> {
    let (head, tail) = match rest.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let syntax = |msg: String| GateError::Syntax {
        expr: expr.into(),
        msg,
    };
    let no_tail = |m: Metric| match tail {
        None => Ok(m),
        Some(t) => Err(syntax(format!("`{head}` has no field `{t}`"))),
    };
    let metric = if head == "outcomes" {
        match tail {
            Some(code) if !code.is_empty() && !code.contains(char::is_whitespace) => {
                Metric::Outcome(code.into())
            }
            _ => {
                return Err(syntax(
                    "`outcomes` needs a code, e.g. `outcomes.GAVE_UP`".into(),
                ));
            }
        }
    } else if head == "journeys" {
        let Some(t) = tail else {
            return Err(syntax(format!(
                "`journeys` needs a field: {}",
                names(&JOURNEY_FIELDS)
            )));
        };
        let f = JOURNEY_FIELDS
            .iter()
            .find(|(_, n)| *n == t)
            .ok_or_else(|| GateError::UnknownMetric {
                expr: expr.into(),
                name: format!("journeys.{t}"),
                known: format!("journeys.<{}>", names(&JOURNEY_FIELDS).replace(", ", "|")),
            })?;
        Metric::Journeys(f.0)
    } else if let Some((lat, _)) = LATENCIES.iter().find(|(_, n)| *n == head) {
        let Some(t) = tail else {
            return Err(syntax(format!(
                "`{head}` needs a statistic: {head}.<{}>",
                names(&STATS).replace(", ", "|")
            )));
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
        Metric::Latency(*lat, stat.0)
    } else if let Some((m, _)) = SCALARS.iter().find(|(_, n)| *n == head) {
        no_tail(m.clone())?
    } else if let Some((l, _)) = LEDGER_FIELDS.iter().find(|(_, n)| *n == head) {
        no_tail(Metric::Ledger(*l))?
    } else {
        // `cohort.reserv.attempt_latency.p99`: a misspelt step rather than a metric.
        let looks_like_step = step.is_none()
            && tail.is_some_and(|t| {
                let h = t.split('.').next().unwrap_or(t);
                ["operations", "attempts", "success_rate", "outcomes"].contains(&h)
                    || LATENCIES.iter().any(|(_, n)| *n == h)
            });
        if looks_like_step {
            return Err(GateError::UnknownStep {
                expr: expr.into(),
                name: head.into(),
                known: list(steps),
            });
        }
        let mut known = known_metrics(step.is_some());
        if step.is_none() {
            known.push_str(&format!(
                "; or a step metric `<step>.<metric>` with steps: {}",
                list(steps)
            ));
        }
        return Err(GateError::UnknownMetric {
            expr: expr.into(),
            name: head.into(),
            known,
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cohorts() -> Vec<String> {
        ["compliant", "naive", "no-jitter", "no"]
            .map(String::from)
            .to_vec()
    }

    fn steps() -> Vec<String> {
        ["availability", "reserve", "confirm"]
            .map(String::from)
            .to_vec()
    }

    fn p(expr: &str) -> Gate {
        parse(expr, &cohorts(), &steps()).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn err(expr: &str) -> GateError {
        match parse(expr, &cohorts(), &steps()) {
            Ok(g) => panic!("{expr} parsed: {g:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn every_operator() {
        for (op, s) in OPS {
            let g = p(&format!("compliant.amplification {s} 1.3"));
            assert_eq!(g.op, op);
            assert_eq!(g.bound, 1.3);
            // and without spaces
            let g = p(&format!("compliant.amplification{s}1.3"));
            assert_eq!(g.op, op);
        }
    }

    #[test]
    fn latency_units_normalize_to_ms() {
        let g = p("compliant.operation_latency.p99 < 800ms");
        assert_eq!(g.metric, Metric::Latency(Latency::Operation, Stat::P99));
        assert_eq!((g.unit, g.value, g.bound), (Unit::Ms, 800.0, 800.0));
        let g = p("compliant.attempt_latency.max < 2s");
        assert_eq!((g.unit, g.bound), (Unit::S, 2000.0));
        let g = p("compliant.schedule_lag.p99 < 500us");
        assert_eq!((g.unit, g.bound), (Unit::Us, 0.5));
        let g = p("compliant.schedule_lag.p999 < 500µs");
        assert_eq!(g.unit, Unit::Us);
        let g = p("compliant.backoff_wait.mean <= 1.5 s");
        assert_eq!(g.bound, 1500.0);
        // no unit means ms
        let g = p("compliant.operation_latency.p50 < 250");
        assert_eq!((g.unit, g.bound), (Unit::Ms, 250.0));
        let g = p("compliant.operation_latency.p90 < 1e3ms");
        assert_eq!(g.bound, 1000.0);
    }

    #[test]
    fn every_stat() {
        for (stat, s) in STATS {
            let g = p(&format!("compliant.attempt_latency.{s} < 1s"));
            assert_eq!(g.metric, Metric::Latency(Latency::Attempt, stat));
        }
    }

    #[test]
    fn rates_take_fractions_or_percentages() {
        let g = p("compliant.success_rate >= 0.98");
        assert_eq!(
            (g.metric.clone(), g.unit, g.bound),
            (Metric::SuccessRate, Unit::Plain, 0.98)
        );
        let g = p("compliant.success_rate >= 98%");
        assert_eq!((g.unit, g.value), (Unit::Percent, 98.0));
        assert!((g.bound - 0.98).abs() < 1e-12);
        let g = p("compliant.reserve.success_rate > 99.5 %");
        assert_eq!(g.step.as_deref(), Some("reserve"));
        assert!((g.bound - 0.995).abs() < 1e-12);
        let g = p("compliant.journey_success_rate >= 99%");
        assert_eq!(
            (g.metric.clone(), g.unit, g.value),
            (Metric::JourneySuccessRate, Unit::Percent, 99.0)
        );
        assert!(matches!(
            err("compliant.journey_success_rate >= 99"),
            GateError::BadValue { .. }
        ));
        assert!(matches!(
            err("compliant.journey_success_rate < 5ms"),
            GateError::BadValue { .. }
        ));
    }

    #[test]
    fn plain_metrics() {
        for (m, n) in SCALARS.iter().filter(|(m, _)| m.kind() == Kind::Plain) {
            let g = p(&format!("naive.{n} >= 0"));
            assert_eq!(&g.metric, m);
            assert_eq!(g.unit, Unit::Plain);
        }
        for (l, n) in LEDGER_FIELDS {
            assert_eq!(p(&format!("naive.{n} > 0")).metric, Metric::Ledger(l));
        }
        for (j, n) in JOURNEY_FIELDS {
            assert_eq!(
                p(&format!("compliant.journeys.{n} >= 100")).metric,
                Metric::Journeys(j)
            );
        }
        assert_eq!(p("naive.retries > -1").bound, -1.0);
    }

    #[test]
    fn brief_examples_parse() {
        for e in [
            "compliant.operation_latency.p99 < 800ms",
            "compliant.success_rate >= 0.98",
            "compliant.amplification <= 1.3",
            "naive.duplicates > 0",
            "compliant.reserve.attempt_latency.p99 < 2s",
            "compliant.outcomes.GAVE_UP == 0",
            "naive.early_retries > 0",
            "compliant.journeys.succeeded >= 100",
            "compliant.schedule_lag.p99 < 5ms",
            "compliant.oversold == 0",
            "  compliant.oversold == 0  ",
        ] {
            p(e);
        }
    }

    #[test]
    fn hyphenated_and_prefix_cohorts_use_longest_match() {
        let g = p("no-jitter.amplification <= 1.3");
        assert_eq!(g.cohort, "no-jitter");
        let g = p("no.amplification <= 1.3");
        assert_eq!(g.cohort, "no");
        let dotted = vec!["a".to_string(), "a.b".to_string()];
        let g = parse("a.b.retries == 0", &dotted, &[]).unwrap();
        assert_eq!((g.cohort.as_str(), g.metric), ("a.b", Metric::Retries));
        let g = parse("a.retries == 0", &dotted, &[]).unwrap();
        assert_eq!(g.cohort, "a");
    }

    #[test]
    fn step_paths() {
        let g = p("compliant.reserve.attempt_latency.p99 < 2s");
        assert_eq!(g.step.as_deref(), Some("reserve"));
        assert_eq!(g.metric, Metric::Latency(Latency::Attempt, Stat::P99));
        let g = p("compliant.confirm.operation_latency.p50 < 100ms");
        assert_eq!(g.metric, Metric::Latency(Latency::Operation, Stat::P50));
        assert_eq!(p("naive.reserve.operations > 0").metric, Metric::Operations);
        assert_eq!(p("naive.reserve.attempts > 0").metric, Metric::Attempts);
        let g = p("naive.availability.outcomes.HTTP_503 == 0");
        assert_eq!(
            (g.step.as_deref(), g.metric),
            (Some("availability"), Metric::Outcome("HTTP_503".into()))
        );
        // a step named like a cohort metric still leaves cohort metrics usable
        let odd = vec!["journeys".to_string()];
        let g = parse("compliant.journeys.succeeded > 0", &cohorts(), &odd).unwrap();
        assert_eq!(
            (g.step, g.metric),
            (None, Metric::Journeys(JourneyField::Succeeded))
        );
        let g = parse("compliant.journeys.attempts > 0", &cohorts(), &odd).unwrap();
        assert_eq!(
            (g.step.as_deref(), g.metric),
            (Some("journeys"), Metric::Attempts)
        );
    }

    #[test]
    fn outcome_codes() {
        assert_eq!(
            p("compliant.outcomes.GAVE_UP == 0").metric,
            Metric::Outcome("GAVE_UP".into())
        );
        assert_eq!(
            p("compliant.outcomes.INSUFFICIENT_SEATS >= 1").metric,
            Metric::Outcome("INSUFFICIENT_SEATS".into())
        );
        assert!(matches!(
            err("compliant.outcomes == 0"),
            GateError::Syntax { .. }
        ));
        assert!(matches!(
            err("compliant.outcomes. == 0"),
            GateError::Syntax { .. }
        ));
    }

    #[test]
    fn unknown_cohort_names_it_and_lists_known() {
        let e = err("compliantt.success_rate >= 0.9");
        assert!(matches!(e, GateError::UnknownCohort { ref name, .. } if name == "compliantt"));
        let s = e.to_string();
        assert!(
            s.contains("compliantt") && s.contains("compliant, naive, no-jitter"),
            "{s}"
        );
        let e = parse("x.retries == 0", &[], &[]).unwrap_err();
        assert!(e.to_string().contains("(none)"), "{e}");
        assert!(matches!(err("compliant == 0"), GateError::Syntax { .. }));
    }

    #[test]
    fn unknown_metric_names_it_and_lists_known() {
        let e = err("compliant.latency < 5");
        let s = e.to_string();
        assert!(matches!(e, GateError::UnknownMetric { ref name, .. } if name == "latency"));
        assert!(
            s.contains("success_rate") && s.contains("operation_latency.<stat>"),
            "{s}"
        );
        assert!(s.contains("reserve"), "steps listed too: {s}");
        let e = err("compliant.journeys.won > 0");
        assert!(e.to_string().contains("journeys.won"), "{e}");
        assert!(e.to_string().contains("succeeded"), "{e}");
        // cohort-only metrics are not per step
        let e = err("compliant.reserve.retries > 0");
        assert!(matches!(e, GateError::UnknownMetric { .. }), "{e}");
        assert!(e.to_string().contains("not measured per step"), "{e}");
        assert!(matches!(
            err("compliant.reserve.backoff_wait.p99 < 5"),
            GateError::UnknownMetric { .. }
        ));
        assert!(matches!(
            err("compliant.reserve.bogus < 5"),
            GateError::UnknownMetric { .. }
        ));
        // scalars have no fields
        assert!(matches!(
            err("compliant.retries.p99 > 0"),
            GateError::Syntax { .. }
        ));
    }

    #[test]
    fn unknown_step_names_it_and_lists_known() {
        let e = err("compliant.reserv.attempt_latency.p99 < 2s");
        assert!(matches!(e, GateError::UnknownStep { ref name, .. } if name == "reserv"));
        assert!(
            e.to_string().contains("availability, reserve, confirm"),
            "{e}"
        );
        assert!(matches!(
            err("compliant.reserve == 0"),
            GateError::Syntax { .. }
        ));
    }

    #[test]
    fn unknown_or_missing_stat() {
        let e = err("compliant.operation_latency.p95 < 800ms");
        assert!(matches!(e, GateError::UnknownStat { ref name, .. } if name == "p95"));
        assert!(
            e.to_string().contains("p50, p90, p99, p999, max, mean"),
            "{e}"
        );
        let e = err("compliant.operation_latency < 800ms");
        assert!(matches!(e, GateError::Syntax { .. }));
        assert!(e.to_string().contains("needs a statistic"), "{e}");
    }

    #[test]
    fn unknown_or_missing_operator() {
        for bad in ["=", "=>", "=<", "<>", "===", "!", "~"] {
            let e = err(&format!("compliant.retries {bad} 0"));
            assert!(
                matches!(e, GateError::UnknownOperator { ref name, .. } if name == bad),
                "{bad}: {e:?}"
            );
            assert!(e.to_string().contains("< <= > >= == !="));
        }
        assert!(matches!(
            err("compliant.retries 0"),
            GateError::Syntax { .. }
        ));
        assert!(matches!(err("compliant.retries"), GateError::Syntax { .. }));
        assert!(matches!(
            err("compliant.retries <"),
            GateError::Syntax { .. }
        ));
        assert!(matches!(err("< 5"), GateError::Syntax { .. }));
        assert!(matches!(err(""), GateError::Syntax { .. }));
    }

    #[test]
    fn unknown_units_and_bad_values() {
        let e = err("compliant.operation_latency.p99 < 5min");
        assert!(
            matches!(e, GateError::UnknownUnit { ref name, .. } if name == "min"),
            "{e:?}"
        );
        assert!(e.to_string().contains("ms, s, us"));
        assert!(matches!(
            err("compliant.retries < 5kb"),
            GateError::UnknownUnit { .. }
        ));
        assert!(matches!(
            err("compliant.retries < 1e"),
            GateError::UnknownUnit { .. }
        ));
        for not_a_number in ["abc", "inf", "NaN", "ms", ".", "1e999"] {
            let e = err(&format!("compliant.retries < {not_a_number}"));
            assert!(
                matches!(e, GateError::Syntax { .. } | GateError::UnknownUnit { .. }),
                "{not_a_number}: {e:?}"
            );
        }
    }

    #[test]
    fn units_must_fit_the_metric() {
        // duration unit on a non-latency metric
        let e = err("compliant.amplification < 2s");
        assert!(matches!(e, GateError::BadValue { .. }), "{e:?}");
        assert!(e.to_string().contains("duration unit"), "{e}");
        assert!(matches!(
            err("compliant.breaker_open_s < 2s"),
            GateError::BadValue { .. }
        ));
        assert!(matches!(
            err("compliant.success_rate > 500ms"),
            GateError::BadValue { .. }
        ));
        // percentage only on rates
        assert!(matches!(
            err("compliant.retries < 5%"),
            GateError::BadValue { .. }
        ));
        assert!(matches!(
            err("compliant.operation_latency.p99 < 5%"),
            GateError::BadValue { .. }
        ));
        // rate ranges
        let e = err("compliant.success_rate >= 98");
        assert!(e.to_string().contains("98%"), "{e}");
        assert!(matches!(
            err("compliant.success_rate >= 101%"),
            GateError::BadValue { .. }
        ));
        assert!(matches!(
            err("compliant.success_rate >= -0.1"),
            GateError::BadValue { .. }
        ));
    }

    #[test]
    fn value_splitting() {
        assert_eq!(split_value("800ms"), Some((800.0, "ms")));
        assert_eq!(split_value("98 %"), Some((98.0, "%")));
        assert_eq!(split_value("-1"), Some((-1.0, "")));
        assert_eq!(split_value("1e3"), Some((1000.0, "")));
        assert_eq!(split_value("1e"), Some((1.0, "e")));
        assert_eq!(split_value("2s"), Some((2.0, "s")));
        assert_eq!(split_value("ms"), None);
        assert_eq!(split_value("inf"), None);
    }
}
