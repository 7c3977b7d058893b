//! The search as a console table, `search.json` and `search.html`.

use super::{FleetSearch, SearchReport};
use crate::gate::fmt_num;
use crate::report::html::tables::{list, obj};
use crate::report::svg::{self, LineChart, Series, XAxis};
use minijinja::Value;

fn load(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), fmt_num)
}

/// What the bracket says, in words.
fn verdict(f: &FleetSearch, key: &str) -> String {
    match (f.largest_surviving, f.smallest_failing) {
        (Some(s), Some(x)) => format!("survives {key} = {}; fails at {}", fmt_num(s), fmt_num(x)),
        (Some(s), None) => format!("survives every load tried, up to {key} = {}", fmt_num(s)),
        (None, Some(x)) => format!("fails even at {key} = {}", fmt_num(x)),
        (None, None) => "nothing was tried".into(),
    }
}

/// One line per fleet, then each fleet's loads in the order tried.
pub fn console_table(r: &SearchReport) -> String {
    let mut out = format!(
        "search {} over {} until `{}` ({} clock)\n\n{:<20} {:>18} {:>16} {:>5}\n",
        r.scenario,
        r.vary.key,
        r.until,
        r.clock,
        "fleet",
        "largest surviving",
        "smallest failing",
        "runs"
    );
    for f in &r.fleets {
        out.push_str(&format!(
            "{:<20} {:>18} {:>16} {:>5}{}\n",
            f.fleet,
            load(f.largest_surviving),
            load(f.smallest_failing),
            f.probes.len(),
            if f.out_of_runs { "  (out of runs)" } else { "" }
        ));
    }
    if r.stopped {
        out.push_str("\nstopped by a signal: the last fleet's search is unfinished\n");
    }
    for f in &r.fleets {
        out.push_str(&format!("\n{}: {}\n", f.fleet, verdict(f, &r.vary.key)));
        if let Some(why) = &f.invalid_at {
            out.push_str(&format!("  ended: the scenario is not valid at {why}\n"));
        }
        for p in &f.probes {
            out.push_str(&format!(
                "  {:>12}  {:<8}  {}{}\n",
                fmt_num(p.value),
                if p.survived { "survived" } else { "failed" },
                p.measured_written,
                if p.status == "completed" {
                    String::new()
                } else {
                    format!(" (run {})", p.status)
                }
            ));
        }
    }
    out
}

/// The metric path of a condition (`journey_success_rate < 99%` ->
/// `journey_success_rate`).
fn metric_of(until: &str) -> &str {
    until
        .split(|c: char| c.is_whitespace() || "<>=!".contains(c))
        .next()
        .unwrap_or(until)
}

/// `search.json`.
pub fn json(r: &SearchReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|_| "{}".into())
}

/// `search.html`: report.html's document and stylesheet, the table and a
/// chart of the condition's metric against the load, one line per fleet.
pub fn html(r: &SearchReport) -> Result<String, crate::report::ReportError> {
    let series: Vec<Series> = r
        .fleets
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut points: Vec<(f64, f64)> = f
                .probes
                .iter()
                .filter_map(|p| p.measured.map(|m| (p.value, m)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series {
                name: f.fleet.clone(),
                color: svg::color(i),
                points,
            }
        })
        .collect();
    let title = format!("{} by {}", metric_of(&r.until), r.vary.key);
    let chart = svg::line_chart(&LineChart {
        title: &title,
        y_label: "measured",
        x: XAxis::Linear("load"),
        series: &series,
        fmt_y: fmt_num,
    });
    let fleets: Vec<Value> = r
        .fleets
        .iter()
        .map(|f| {
            let probes = f
                .probes
                .iter()
                .map(|p| {
                    obj([
                        ("value", Value::from(fmt_num(p.value))),
                        ("survived", Value::from(p.survived)),
                        ("measured", Value::from(p.measured_written.as_str())),
                        ("status", Value::from(p.status.as_str())),
                    ])
                })
                .collect();
            obj([
                ("fleet", Value::from(f.fleet.as_str())),
                ("until", Value::from(f.until.as_str())),
                ("largest", Value::from(load(f.largest_surviving))),
                ("smallest_failing", Value::from(load(f.smallest_failing))),
                ("runs", Value::from(f.probes.len())),
                ("verdict", Value::from(verdict(f, &r.vary.key))),
                ("out_of_runs", Value::from(f.out_of_runs)),
                (
                    "invalid_at",
                    Value::from(f.invalid_at.clone().unwrap_or_default()),
                ),
                ("probes", list(probes)),
            ])
        })
        .collect();
    let ctx = obj([
        ("scenario", Value::from(r.scenario.as_str())),
        ("source", Value::from(r.source.as_str())),
        ("key", Value::from(r.vary.key.as_str())),
        ("until", Value::from(r.until.as_str())),
        ("clock", Value::from(r.clock.as_str())),
        ("started_at", Value::from(r.started_at.as_str())),
        ("precision", Value::from(fmt_num(r.precision * 100.0))),
        ("fleets", list(fleets)),
        ("stopped", Value::from(r.stopped)),
        ("chart", Value::from_safe_string(chart)),
    ]);
    crate::report::html::render_page("search.html", ctx)
}
