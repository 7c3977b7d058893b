//! report.html: one self-contained page (inline CSS and SVG, no external
//! URL, no JavaScript needed) comparing the fleets of a run.
//!
//! Rust computes every number and chart; the minijinja template
//! (`templates/report.html`) only lays them out. The template is registered
//! under a `.html` name so minijinja auto-escapes every value: outcome codes,
//! step names, ledger keys and scenario text may come from the target and
//! are never marked safe, and bidi controls in them are shown as `\u{XXXX}`
//! text. Only the SVG produced by [`super::svg`], which escapes its own text
//! the same way, is inserted verbatim.

mod charts;
pub(crate) mod tables;

pub(crate) use tables::{classed, labelled, list, obj, section};

use super::ReportError;
use super::svg;
use super::verdict::verdict;
use crate::model::Report;
use charts::{
    LATENCY_CHARTS_PER_FLEET, METRICS, chart, distribution_charts, latency_charts, spectrum_chart,
    timeseries_charts,
};
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};
use tables::{gates, ledger_rows, meta, policy_rows, steps, table_sections};

/// The pages and what they share: `base.html` (the document, its head and
/// the one stylesheet, `style.css`) and `tables.html` (the sectioned table
/// rows); `report.html` and `compare.html` extend and import them.
const TEMPLATES: [(&str, &str); 6] = [
    ("style.css", include_str!("templates/style.css")),
    ("base.html", include_str!("templates/base.html")),
    ("tables.html", include_str!("templates/tables.html")),
    ("report.html", include_str!("templates/report.html")),
    ("compare.html", include_str!("templates/compare.html")),
    ("search.html", include_str!("templates/search.html")),
];

/// The number of SVG charts [`render_html`] draws for a report with at least
/// one fleet and per-second series (2 spectra, 5 per-second series, 2
/// distributions), latency-over-time charts aside; without series the 5
/// per-second charts are left out.
pub const CHART_COUNT: usize = 2 + METRICS.len() + 2;

/// Every chart [`render_html`] draws for `report`: [`CHART_COUNT`] (less
/// the per-second ones without series) plus, per fleet with a latency
/// series, its operation and attempt latency-over-time charts.
pub fn chart_count(report: &Report) -> usize {
    let cs = &report.results;
    if cs.is_empty() {
        return 0;
    }
    let series = if cs.iter().any(|c| !c.timeseries.is_empty()) {
        METRICS.len()
    } else {
        0
    };
    let latency = cs
        .iter()
        .filter(|c| !c.latency.latency_series.is_empty())
        .count();
    CHART_COUNT - METRICS.len() + series + LATENCY_CHARTS_PER_FLEET * latency
}

/// minijinja's auto-escaping, after bidi controls in every (unsafe) string
/// are turned into visible `\u{XXXX}` text: a code from the target must not
/// be able to reorder what the reader sees. Safe strings are SVG from
/// [`super::svg`], whose escaper does the same.
fn show_bidi_then_escape(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(s) if !value.is_safe() && s.chars().any(svg::is_bidi_control) => {
            minijinja::escape_formatter(out, state, &Value::from(svg::show_bidi(s).as_ref()))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Renders the page `name` (`report.html`, `compare.html`) with `ctx`:
/// every template registered, undefined values an error, every string
/// escaped with its bidi controls shown.
pub(crate) fn render_page(name: &str, ctx: Value) -> Result<String, ReportError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_formatter(show_bidi_then_escape);
    for (n, t) in TEMPLATES {
        env.add_template(n, t)?;
    }
    Ok(env.get_template(name)?.render(ctx)?)
}

/// The two latency spectra: operations and attempts.
fn spectra(cs: &[crate::model::FleetResult]) -> Vec<Value> {
    vec![
        chart(
            "Operation latency by percentile",
            "End to end per operation, retries and backoff included.",
            spectrum_chart(cs, "Operation latency by percentile", false),
        ),
        chart(
            "Attempt latency by percentile",
            "Each HTTP attempt on its own.",
            spectrum_chart(cs, "Attempt latency by percentile", true),
        ),
    ]
}

/// Each fleet's name, policy, the policy's one sin and its chart color.
fn fleet_keys(cs: &[crate::model::FleetResult]) -> Vec<Value> {
    cs.iter()
        .enumerate()
        .map(|(i, c)| {
            obj([
                ("name", Value::from(c.name.as_str())),
                ("policy", Value::from(c.policy.as_str())),
                ("sin", Value::from(c.policy_detail.sin.as_str())),
                ("color", Value::from(svg::color(i))),
            ])
        })
        .collect()
}

/// Renders the complete, self-contained report.html.
pub fn render_html(report: &Report) -> Result<String, ReportError> {
    let cs = &report.results;
    let has_series = cs.iter().any(|c| !c.timeseries.is_empty());
    let ctx = obj([
        ("scenario", Value::from(report.scenario.as_str())),
        ("verdict", Value::from(verdict(report))),
        ("meta", list(meta(report))),
        (
            "completed",
            Value::from(report.status == super::RunStatus::Completed),
        ),
        ("status", Value::from(report.status.as_str())),
        (
            "stop_reason",
            Value::from(
                report
                    .stop_reason
                    .clone()
                    .unwrap_or_else(|| "no reason recorded".into()),
            ),
        ),
        (
            "notes",
            list(
                report
                    .notes
                    .iter()
                    .map(|n| Value::from(n.as_str()))
                    .collect(),
            ),
        ),
        ("fleets", list(fleet_keys(cs))),
        (
            "sections",
            list(if cs.is_empty() {
                Vec::new()
            } else {
                table_sections(cs, report.trigger.as_ref())
            }),
        ),
        ("ledger", list(ledger_rows(cs))),
        ("policies", list(policy_rows(cs))),
        (
            "spectra",
            list(if cs.is_empty() {
                Vec::new()
            } else {
                spectra(cs)
            }),
        ),
        (
            "series",
            list(if has_series {
                timeseries_charts(cs, report.trigger.as_ref())
            } else {
                Vec::new()
            }),
        ),
        ("latency", list(latency_charts(cs, report.trigger.as_ref()))),
        (
            "distributions",
            list(if cs.is_empty() {
                Vec::new()
            } else {
                distribution_charts(cs)
            }),
        ),
        ("steps", list(steps(cs))),
        ("gates", gates(report)),
    ]);
    render_page("report.html", ctx)
}
