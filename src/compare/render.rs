//! The comparison as a console table and a self-contained HTML page.

use super::{Comparison, Row, Verdict};
use crate::report::svg::esc;

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

/// A plain-text table per fleet, warnings first.
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
            "\n{:<24} {:>14} {:>14} {:>22}  {}\n",
            f.fleet, "base", "new", "change", ""
        ));
        for r in &f.rows {
            out.push_str(&format!(
                "  {:<22} {:>14} {:>14} {:>22}  {}\n",
                r.metric,
                cell(r.base, &r.unit),
                cell(r.new, &r.unit),
                change(r),
                judged(r)
            ));
        }
    }
    match c.repeats {
        Some((b, n)) => out.push_str(&format!(
            "\nmedians of {b} and {n} runs; {} metric(s) worse beyond the run-to-run spread (intervals that do not overlap), the rest within noise\n",
            c.worse
        )),
        None => out.push_str(&format!(
            "\n{} metric(s) worse beyond the noise threshold (single runs: `stampede run --repeat N` on both sides tells a change from noise)\n",
            c.worse
        )),
    }
    out
}

/// The verdict, with "within noise" when the spreads say so.
fn judged(r: &Row) -> String {
    match (r.verdict, r.intervals) {
        (Verdict::Same, Some(_)) if r.better != super::Better::Neither => "within noise".into(),
        (v, _) => mark(v).into(),
    }
}

/// One self-contained page.
pub fn html(c: &Comparison) -> String {
    let mut body = String::new();
    for w in &c.warnings {
        body.push_str(&format!("<p class=\"warn\">warning: {}</p>\n", esc(w)));
    }
    for f in &c.fleets {
        body.push_str(&format!(
            "<h2>{}</h2>\n<table>\n<tr><th>metric</th><th>base</th><th>new</th><th>change</th><th></th></tr>\n",
            esc(&f.fleet)
        ));
        for r in &f.rows {
            let class = match r.verdict {
                Verdict::Worse => "worse",
                Verdict::Better => "better",
                _ => "",
            };
            body.push_str(&format!(
                "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&r.metric),
                esc(&cell(r.base, &r.unit)),
                esc(&cell(r.new, &r.unit)),
                esc(&change(r)),
                esc(&judged(r))
            ));
        }
        body.push_str("</table>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>stampede compare: {title}</title><style>\
body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}\
td,th{{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
tr.worse{{background:#fdd}}tr.better{{background:#dfd}}.warn{{color:#a60}}</style></head><body>\n\
<h1>stampede compare: {title}</h1>\n<p>base <code>{bd}</code> ({bs}) vs new <code>{nd}</code> ({ns}); \
{worse} metric(s) worse beyond the noise threshold (latency +10% and +1 ms, rates −1 point, \
amplification +0.05, goodput and attempts/s −10%, any new early retry, duplicate or oversold seat).</p>\n\
{body}</body></html>\n",
        title = esc(&c.scenario),
        bd = esc(&c.base_dir),
        bs = esc(&c.base_started_at),
        nd = esc(&c.new_dir),
        ns = esc(&c.new_started_at),
        worse = c.worse,
    )
}
