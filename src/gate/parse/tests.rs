use super::*;

fn fleets() -> Vec<String> {
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
    parse(expr, &fleets(), &steps()).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn err(expr: &str) -> GateError {
    match parse(expr, &fleets(), &steps()) {
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
fn hyphenated_and_prefix_fleets_use_longest_match() {
    let g = p("no-jitter.amplification <= 1.3");
    assert_eq!(g.fleet, "no-jitter");
    let g = p("no.amplification <= 1.3");
    assert_eq!(g.fleet, "no");
    let dotted = vec!["a".to_string(), "a.b".to_string()];
    let g = parse("a.b.retries == 0", &dotted, &[]).unwrap();
    assert_eq!((g.fleet.as_str(), g.metric), ("a.b", Metric::Retries));
    let g = parse("a.retries == 0", &dotted, &[]).unwrap();
    assert_eq!(g.fleet, "a");
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
    // a step named like a fleet metric still leaves fleet metrics usable
    let odd = vec!["journeys".to_string()];
    let g = parse("compliant.journeys.succeeded > 0", &fleets(), &odd).unwrap();
    assert_eq!(
        (g.step, g.metric),
        (None, Metric::Journeys(JourneyField::Succeeded))
    );
    let g = parse("compliant.journeys.attempts > 0", &fleets(), &odd).unwrap();
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
fn unknown_fleet_names_it_and_lists_known() {
    let e = err("compliantt.success_rate >= 0.9");
    assert!(matches!(e, GateError::UnknownFleet { ref name, .. } if name == "compliantt"));
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
    // fleet-only metrics are not per step
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
    let e = err("compliant.operation_latency.p98 < 800ms");
    assert!(matches!(e, GateError::UnknownStat { ref name, .. } if name == "p98"));
    assert!(
        e.to_string()
            .contains("p50, p90, p95, p99, p999, max, mean"),
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
