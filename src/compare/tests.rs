use super::*;
use crate::report::sample_report;

#[test]
fn identical_runs_have_no_change_and_no_warning() {
    let r = sample_report();
    let c = compare(&r, &r, "a", "b").unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.worse, 0);
    assert_eq!(c.fleets.len(), r.results.len());
    for row in c.fleets.iter().flat_map(|f| &f.rows) {
        assert!(
            matches!(row.verdict, Verdict::Same | Verdict::NotComparable),
            "{row:?}"
        );
        if let Some(d) = row.change {
            assert_eq!(d, 0.0, "{row:?}");
        }
    }
}

fn row<'a>(c: &'a Comparison, fleet: &str, metric: &str) -> &'a Row {
    c.fleets
        .iter()
        .find(|f| f.fleet == fleet)
        .and_then(|f| f.rows.iter().find(|r| r.metric == metric))
        .unwrap()
}

#[test]
fn worse_beyond_the_threshold_is_flagged_and_noise_is_not() {
    let base = sample_report();
    let mut new = sample_report();
    // Latency rows read the successful operations, as the gates do.
    let p99 = base.results[0].ok_operation_latency_ms.p99;
    new.results[0].ok_operation_latency_ms.p99 = p99 * 1.25;
    new.results[0].ok_operation_latency_ms.p95 = base.results[0].ok_operation_latency_ms.p95 * 1.05;
    new.results[0].amplification = base.results[0].amplification - 0.2;
    new.results[1].success_rate = base.results[1].success_rate - 0.005;
    let c = compare(&base, &new, "a", "b").unwrap();
    let name = &base.results[0].name;
    let r = row(&c, name, "operation_latency.p99");
    assert_eq!(r.verdict, Verdict::Worse);
    assert!((r.change_rel.unwrap() - 0.25).abs() < 1e-9);
    assert_eq!(
        row(&c, name, "operation_latency.p95").verdict,
        Verdict::Same
    );
    assert_eq!(row(&c, name, "amplification").verdict, Verdict::Better);
    assert_eq!(
        row(&c, &base.results[1].name, "success_rate").verdict,
        Verdict::Same
    );
    assert_eq!(c.worse, 1);
    let text = console(&c);
    assert!(text.contains("WORSE") && text.contains("+25.0%"), "{text}");
    let page = html(&c);
    assert!(page.contains("class=\"worse\""));
    assert!(!page.contains("<b>"), "escaped");
}

#[test]
fn different_scenarios_or_fleets_are_not_comparable() {
    let base = sample_report();
    let mut other = sample_report();
    other.scenario = "retry-storm".into();
    assert!(matches!(
        comparable(&base, &other),
        Err(CompareError::Scenario { .. })
    ));
    let mut fewer = sample_report();
    fewer.results.pop();
    let e = comparable(&base, &fewer).unwrap_err();
    assert!(matches!(e, CompareError::Fleets { .. }));
    assert!(e.to_string().contains("naive"), "{e}");
}

#[test]
fn differing_seeds_overrides_and_hosts_warn() {
    let base = sample_report();
    let mut new = sample_report();
    new.meta.seed = Some(8);
    new.meta.overrides.insert("rate".into(), "900".into());
    new.meta.host.name = "laptop".into();
    let w = comparable(&base, &new).unwrap();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[0].contains("seed") && w[1].contains("overrides") && w[2].contains("laptop"),
        "{w:?}"
    );
}
