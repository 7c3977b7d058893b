use super::*;
use crate::sample::sample_report;

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
    let p99 = base.results[0].latency.ok_operation_latency_ms.p99;
    new.results[0].latency.ok_operation_latency_ms.p99 = p99 * 1.25;
    new.results[0].latency.ok_operation_latency_ms.p95 =
        base.results[0].latency.ok_operation_latency_ms.p95 * 1.05;
    new.results[0].counts.amplification = base.results[0].counts.amplification - 0.2;
    new.results[1].counts.success_rate = base.results[1].counts.success_rate - 0.005;
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
    let page = html(&c).unwrap();
    assert!(page.contains("class=\"worse\""));
    assert!(!page.contains("<b>"), "escaped");
    // The sample's hostile step name is a step section of its own, as text.
    let hostile = crate::sample::HOSTILE_STEP;
    assert!(!page.contains(hostile));
    assert!(
        page.contains("step &lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
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

#[test]
fn a_virtual_run_against_a_real_one_warns() {
    let base = sample_report();
    let mut new = sample_report();
    new.meta.clock = crate::clock::ClockMode::Real;
    new.meta.wall_s = None;
    let w = comparable(&base, &new).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("clocks differ: virtual vs real"), "{w:?}");
}

fn step_row<'a>(c: &'a Comparison, fleet: &str, step: &str, metric: &str) -> &'a Row {
    c.fleets
        .iter()
        .find(|f| f.fleet == fleet)
        .and_then(|f| f.steps.iter().find(|s| s.step == step))
        .and_then(|s| s.rows.iter().find(|r| r.metric == metric))
        .unwrap_or_else(|| panic!("no row {fleet}.{step}.{metric}"))
}

#[test]
fn every_step_gets_rows_judged_like_the_headline_and_counted() {
    let base = sample_report();
    let mut new = sample_report();
    let fleet = base.results[0].name.clone();
    let step = base.results[0].steps[0].name.clone();
    let s = &mut new.results[0].steps[0];
    s.ok_operation_latency_ms.p99 *= 2.0;
    s.ok_operation_latency_ms.p99 += 5.0;
    s.attempts += s.operations / 2 + 1;
    let c = compare(&base, &new, "a", "b").unwrap();
    for (f, b) in c.fleets.iter().zip(&base.results) {
        let names: Vec<&str> = f.steps.iter().map(|s| s.step.as_str()).collect();
        let want: Vec<&str> = b.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, want);
    }
    let r = step_row(&c, &fleet, &step, "operation_latency.p99");
    assert_eq!(r.verdict, Verdict::Worse, "{r:?}");
    assert_eq!(r.unit, "ms");
    assert_eq!(
        step_row(&c, &fleet, &step, "amplification").verdict,
        Verdict::Worse
    );
    assert_eq!(
        step_row(&c, &fleet, &step, "attempts").verdict,
        Verdict::Same,
        "a plain count has no direction"
    );
    assert_eq!(
        step_row(&c, &fleet, &step, "operation_latency.p50").verdict,
        Verdict::Same
    );
    // The headline amplification may read the same step; count what is flagged.
    let flagged = c.all_rows().filter(|r| r.verdict == Verdict::Worse).count();
    assert_eq!(c.worse, flagged);
    assert!(c.worse >= 2);
    let text = console(&c);
    assert!(text.contains(&format!("  step {step}\n")), "{text}");
    let step_line = text
        .lines()
        .skip_while(|l| *l != format!("  step {step}"))
        .find(|l| l.trim_start().starts_with("operation_latency.p99"))
        .unwrap();
    assert!(step_line.contains("WORSE"), "{step_line}");
}

#[test]
fn a_step_on_one_side_only_is_not_comparable() {
    let base = sample_report();
    let mut new = sample_report();
    let gone = new.results[0].steps.remove(0).name;
    let c = compare(&base, &new, "a", "b").unwrap();
    let f = &c.fleets[0];
    let s = f.steps.iter().find(|s| s.step == gone).unwrap();
    assert!(s.rows.iter().all(|r| r.verdict == Verdict::NotComparable));
    assert!(s.rows.iter().all(|r| r.new.is_none() && r.base.is_some()));
}

#[test]
fn step_rows_are_judged_by_their_spread_when_both_sides_repeat() {
    let base = sample_report();
    let mut slow = sample_report();
    let mut jitter = sample_report();
    let step = base.results[0].steps[0].name.clone();
    slow.results[0].steps[0].ok_operation_latency_ms.p50 *= 3.0;
    jitter.results[0].steps[0].ok_operation_latency_ms.p50 *= 1.02;
    let b = spread::spread(&[base.clone(), jitter.clone()], vec![]);
    assert!(b.fleets[0].steps[&step].contains_key("operation_latency.p50"));
    let n = spread::spread(&[slow.clone(), slow.clone()], vec![]);
    let c = compare(&base, &slow, "a", "b")
        .unwrap()
        .with_spreads(&b, &n);
    let fleet = &base.results[0].name;
    let r = step_row(&c, fleet, &step, "operation_latency.p50");
    assert_eq!(r.verdict, Verdict::Worse);
    assert!(r.intervals.is_some());
    // The base against itself plus jitter: within noise, said so.
    let same = spread::spread(&[jitter.clone(), base.clone()], vec![]);
    let c = compare(&base, &jitter, "a", "b")
        .unwrap()
        .with_spreads(&b, &same);
    let r = step_row(&c, fleet, &step, "operation_latency.p50");
    assert_eq!(r.verdict, Verdict::Same);
    assert!(console(&c).contains("within noise"));
    assert_eq!(c.worse, 0);
}

#[test]
fn compare_html_is_drawn_with_the_report_stylesheet_and_has_step_sections() {
    let base = sample_report();
    let mut new = sample_report();
    new.results[0].steps[0].ok_operation_latency_ms.p99 += 500.0;
    let c = compare(&base, &new, "a", "b").unwrap();
    let page = html(&c).unwrap();
    let report = crate::report::html::render_html(&base).unwrap();
    let style = |p: &str| {
        let a = p.find("<style>").unwrap();
        let b = p.find("</style>").unwrap();
        p[a..b].to_string()
    };
    assert_eq!(style(&page), style(&report));
    assert_eq!(
        page.matches("<table class=\"compare\"").count(),
        c.fleets.len()
    );
    let steps: usize = c.fleets.iter().map(|f| f.steps.len()).sum();
    assert_eq!(
        page.matches("<tr class=\"section\"><th colspan=\"5\">step ")
            .count(),
        steps
    );
    assert!(page.contains("<tr class=\"worse\">"), "{page}");
    assert!(page.contains("<td class=\"bad\">WORSE</td>"));
}
