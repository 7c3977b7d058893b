//! The comparison as a console table and as compare.html, which is drawn
//! by report.html's templates (the same document, stylesheet and table
//! rows, `report::html::render_page`).

use super::{Comparison, FleetComparison, Row, Verdict};
use crate::report::html::{classed, labelled, list, obj, render_page, section};
use minijinja::value::Value;

/// A value as the tables show it (`12.3ms`, `99.50%`, `4.1/s`).
pub(super) fn value(unit: &str, v: f64) -> String {
    num(v, unit)
}

fn num(v: f64, unit: &str) -> String {
    match unit {
        "%" => format!("{:.2}%", v * 100.0),
        "ms" => format!("{v:.1}ms"),
        "/s" => format!("{v:.1}/s"),
        _ if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        _ => format!("{v:.3}"),
    }
}

fn cell(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "-".into(), |v| num(v, unit))
}

/// `+12.3ms (+10.4%)`.
fn change(r: &Row) -> String {
    let Some(d) = r.change else {
        return "-".into();
    };
    let abs = match r.unit.as_str() {
        "%" => format!("{:+.2}pp", d * 100.0),
        u => {
            let s = num(d, u);
            if d >= 0.0 { format!("+{s}") } else { s }
        }
    };
    match r.change_rel {
        Some(rel) if d != 0.0 => format!("{abs} ({:+.1}%)", rel * 100.0),
        _ => abs,
    }
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "better",
        Verdict::Same => "",
        Verdict::Worse => "WORSE",
        Verdict::NotComparable => "n/a",
    }
}

/// The verdict, with "within noise" when the spreads say so.
fn judged(r: &Row) -> String {
    match (r.verdict, r.intervals) {
        (Verdict::Same, Some(_)) if r.better != super::Better::Neither => "within noise".into(),
        (v, _) => mark(v).into(),
    }
}

/// How many rows got worse, and by which rule.
fn summary(c: &Comparison) -> String {
    match c.repeats {
        Some((b, n)) => format!(
            "medians of {b} and {n} runs; {} metric(s) worse beyond the run-to-run spread (intervals that do not overlap and a change beyond the noise threshold), the rest within noise",
            c.worse
        ),
        None => format!(
            "{} metric(s) worse beyond the noise threshold (single runs: `stampede run --repeat N` on both sides tells a change from noise)",
            c.worse
        ),
    }
}

fn line(out: &mut String, indent: &str, width: usize, r: &Row) {
    let text = format!(
        "{indent}{:<width$} {:>14} {:>14} {:>22}  {}",
        r.metric,
        cell(r.base, &r.unit),
        cell(r.new, &r.unit),
        change(r),
        judged(r)
    );
    out.push_str(text.trim_end());
    out.push('\n');
}

/// A plain-text table per fleet (its headline rows, then each journey
/// step's rows under `step NAME`), warnings first.
pub fn console(c: &Comparison) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "compare {}: base {} ({}) vs new {} ({})\n",
        c.scenario, c.base_dir, c.base_started_at, c.new_dir, c.new_started_at
    ));
    for w in &c.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    for f in &c.fleets {
        out.push_str(&format!(
            "\n{:<26} {:>14} {:>14} {:>22}\n",
            f.fleet, "base", "new", "change"
        ));
        for r in &f.rows {
            line(&mut out, "  ", 24, r);
        }
        for s in &f.steps {
            out.push_str(&format!("  step {}\n", s.step));
            for r in &s.rows {
                line(&mut out, "    ", 22, r);
            }
        }
    }
    out.push_str(&format!("\n{}\n", summary(c)));
    out
}

fn html_row(r: &Row) -> Value {
    let (row_class, class) = match r.verdict {
        Verdict::Worse => ("worse", "bad"),
        Verdict::Better => ("better", "good"),
        _ => ("", ""),
    };
    labelled(
        &r.metric,
        row_class,
        vec![
            classed(cell(r.base, &r.unit), ""),
            classed(cell(r.new, &r.unit), ""),
            classed(change(r), class),
            classed(judged(r), class),
        ],
    )
}

/// A fleet's sections: its headline rows, then one per journey step.
fn html_fleet(f: &FleetComparison) -> Value {
    let mut sections = vec![section("Headline", f.rows.iter().map(html_row).collect())];
    for s in &f.steps {
        sections.push(section(
            &format!("step {}", s.step),
            s.rows.iter().map(html_row).collect(),
        ));
    }
    obj([
        ("name", Value::from(f.fleet.as_str())),
        ("sections", list(sections)),
    ])
}

/// compare.html: report.html's document and stylesheet, one table per
/// fleet with a section per journey step.
pub fn html(c: &Comparison) -> Result<String, crate::report::ReportError> {
    let ctx = obj([
        ("scenario", Value::from(c.scenario.as_str())),
        ("base_dir", Value::from(c.base_dir.as_str())),
        ("base_started", Value::from(c.base_started_at.as_str())),
        ("new_dir", Value::from(c.new_dir.as_str())),
        ("new_started", Value::from(c.new_started_at.as_str())),
        (
            "warnings",
            list(c.warnings.iter().map(|w| Value::from(w.as_str())).collect()),
        ),
        ("summary", Value::from(summary(c))),
        ("fleets", list(c.fleets.iter().map(html_fleet).collect())),
    ]);
    render_page("compare.html", ctx)
}
