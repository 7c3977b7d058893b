//! report.html: one self-contained page (inline CSS and SVG, no external
//! URL, no JavaScript needed) comparing the cohorts of a run.
//!
//! Rust computes every number and chart; the minijinja template
//! (`templates/report.html`) only lays them out. The template is registered
//! under a `.html` name so minijinja auto-escapes every value: outcome codes,
//! step names, ledger keys and scenario text may come from the target and
//! are never marked safe. Only the SVG produced by [`super::svg`], which
//! escapes its own text, is inserted verbatim.

use super::ReportError;
use super::format::{NA, count, decimal, ms, pct, seconds, times};
use super::ledger;
use super::model::{CohortResult, Percentiles, Report, SecondRow};
use super::svg::{self, BarChart, LineChart, Series, XAxis};
use super::verdict::verdict;
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};
use std::collections::{BTreeMap, BTreeSet};

const TEMPLATE_NAME: &str = "report.html";
const TEMPLATE: &str = include_str!("templates/report.html");

/// Builds a template object from key/value pairs.
fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::from(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<String, Value>>(),
    )
}

fn list(items: Vec<Value>) -> Value {
    Value::from(items)
}

/// A table cell; `bad` highlights a value that signals harm.
fn cell(text: String, bad: bool) -> Value {
    obj([("text", Value::from(text)), ("bad", Value::from(bad))])
}

/// One row of the side-by-side table.
fn row(label: &str, cs: &[CohortResult], f: impl Fn(&CohortResult) -> (String, bool)) -> Value {
    let cells = cs
        .iter()
        .map(|c| {
            let (t, bad) = f(c);
            cell(t, bad)
        })
        .collect();
    obj([("label", Value::from(label)), ("cells", list(cells))])
}

fn plain(label: &str, cs: &[CohortResult], f: impl Fn(&CohortResult) -> String) -> Value {
    row(label, cs, |c| (f(c), false))
}

fn section(title: &str, rows: Vec<Value>) -> Value {
    obj([("title", Value::from(title)), ("rows", list(rows))])
}

fn per_op(n: u64, ops: u64) -> String {
    if ops == 0 {
        NA.to_string()
    } else {
        decimal(n as f64 / ops as f64, 2)
    }
}

fn latency_rows(cs: &[CohortResult], get: fn(&CohortResult) -> &Percentiles) -> Vec<Value> {
    let fields: [(&str, fn(&Percentiles) -> f64); 6] = [
        ("p50", |p| p.p50),
        ("p90", |p| p.p90),
        ("p99", |p| p.p99),
        ("p99.9", |p| p.p999),
        ("max", |p| p.max),
        ("mean", |p| p.mean),
    ];
    fields
        .iter()
        .map(|(label, f)| plain(label, cs, |c| ms(f(get(c)))))
        .collect()
}

fn outcome_share(c: &CohortResult, n: u64) -> String {
    if c.operations == 0 {
        count(n)
    } else {
        format!("{} ({})", count(n), pct(n as f64 / c.operations as f64))
    }
}

/// Outcome codes across cohorts, most frequent overall first.
fn outcome_codes(cs: &[CohortResult]) -> Vec<String> {
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for c in cs {
        for (k, v) in &c.outcomes {
            *totals.entry(k).or_default() += v;
        }
    }
    let mut v: Vec<(&str, u64)> = totals.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(k, _)| k.to_string()).collect()
}

/// Ledger keys the harm section already shows.
const SHOWN_WITH_HARM: &[&str] = &["duplicates", "oversold", "wasted_work", "early_retries"];

/// Every other ledger value (bookings created, per-endpoint counts, and any
/// field the simulator adds later), one row per flattened key.
fn ledger_rows(cs: &[CohortResult]) -> Vec<Value> {
    let per: Vec<Option<Vec<ledger::Entry>>> = cs
        .iter()
        .map(|c| c.ledger.as_ref().map(ledger::entries))
        .collect();
    let mut keys: Vec<(String, String)> = Vec::new();
    for e in per.iter().flatten().flatten() {
        if SHOWN_WITH_HARM.contains(&e.key.as_str()) {
            continue;
        }
        if !keys.iter().any(|(k, _)| *k == e.key) {
            keys.push((e.key.clone(), e.label.clone()));
        }
    }
    keys.iter()
        .map(|(key, label)| {
            let cells = per
                .iter()
                .map(|entries| match entries {
                    None => cell("no ledger".into(), false),
                    Some(es) => {
                        let v = es.iter().find(|e| e.key == *key).map(|e| e.value.clone());
                        cell(v.unwrap_or_default(), false)
                    }
                })
                .collect();
            obj([
                ("label", Value::from(label.as_str())),
                ("cells", list(cells)),
            ])
        })
        .collect()
}

fn policy_rows(cs: &[CohortResult]) -> Vec<Value> {
    let per: Vec<Vec<(String, String)>> = cs
        .iter()
        .map(|c| {
            serde_json::to_value(&c.policy_detail)
                .map(|v| ledger::flatten_json(&v))
                .unwrap_or_default()
        })
        .collect();
    let keys: BTreeSet<&String> = per.iter().flatten().map(|(k, _)| k).collect();
    keys.iter()
        .map(|k| {
            let cells = per
                .iter()
                .map(|kv| {
                    let v = kv.iter().find(|(kk, _)| kk == *k).map(|(_, v)| v.clone());
                    cell(v.unwrap_or_default(), false)
                })
                .collect();
            obj([("label", Value::from(k.as_str())), ("cells", list(cells))])
        })
        .collect()
}

fn table_sections(cs: &[CohortResult]) -> Vec<Value> {
    let harm = |c: &CohortResult, f: fn(&crate::sim::Ledger) -> u64, flag: bool| match &c.ledger {
        None => ("no ledger".to_string(), false),
        Some(l) => (count(f(l)), flag && f(l) > 0),
    };
    let mut load = vec![
        plain("operations", cs, |c| count(c.operations)),
        plain("attempts", cs, |c| count(c.attempts)),
        plain("retries per operation", cs, |c| {
            per_op(c.retries, c.operations)
        }),
        row("load amplification", cs, |c| {
            (times(c.amplification), c.amplification >= 2.0)
        }),
        row("success rate", cs, |c| {
            (pct(c.success_rate), c.success_rate < 0.5)
        }),
        plain("goodput (journeys/s)", cs, |c| decimal(c.goodput, 2)),
        plain("achieved attempts/s", cs, |c| decimal(c.achieved_rps, 1)),
        plain("journeys ok / sold out / failed / cancelled", cs, |c| {
            let j = &c.journeys;
            format!(
                "{} / {} / {} / {}",
                count(j.succeeded),
                count(j.sold_out),
                count(j.failed),
                count(j.cancelled)
            )
        }),
    ];
    load.push(plain("round · share", cs, |c| {
        format!("{} · {}", c.round, pct(c.share))
    }));
    let harm_rows = vec![
        row("duplicate bookings", cs, |c| {
            harm(c, |l| l.duplicates, true)
        }),
        row("oversold seats", cs, |c| harm(c, |l| l.oversold, true)),
        row("wasted work", cs, |c| harm(c, |l| l.wasted_work, false)),
        row("early retries (before Retry-After)", cs, |c| {
            harm(c, |l| l.early_retries, true)
        }),
        plain("breaker opens", cs, |c| count(c.breaker_opens)),
        plain("time with breaker open", cs, |c| seconds(c.breaker_open_s)),
        plain("Retry-After honoured", cs, |c| {
            count(c.retry_after_honoured)
        }),
        plain("backoff wait p50 / p99", cs, |c| {
            format!(
                "{} / {}",
                ms(c.backoff_wait_ms.p50),
                ms(c.backoff_wait_ms.p99)
            )
        }),
        row("schedule lag p99", cs, |c| {
            (ms(c.schedule_lag_ms.p99), c.schedule_lag_ms.p99 > 100.0)
        }),
    ];
    vec![
        section("Load and success", load),
        section(
            "Operation latency (from the intended start; retries and backoff included)",
            latency_rows(cs, |c| &c.operation_latency_ms),
        ),
        section(
            "Attempt latency (one HTTP request)",
            latency_rows(cs, |c| &c.attempt_latency_ms),
        ),
        section("Harm and retry behaviour", harm_rows),
    ]
}

fn outcome_rows(cs: &[CohortResult]) -> Vec<Value> {
    outcome_codes(cs)
        .iter()
        .map(|code| {
            plain(code, cs, |c| match c.outcomes.get(code) {
                Some(n) => outcome_share(c, *n),
                None => "–".into(),
            })
        })
        .collect()
}

fn chart(title: &str, note: &str, svg: String) -> Value {
    obj([
        ("title", Value::from(title)),
        ("note", Value::from(note)),
        ("svg", Value::from_safe_string(svg)),
    ])
}

fn spectrum_chart(cs: &[CohortResult], title: &str, attempt: bool) -> String {
    let series: Vec<Series> = cs
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            name: c.name.clone(),
            color: svg::color(i),
            points: if attempt {
                &c.attempt_spectrum
            } else {
                &c.operation_spectrum
            }
            .iter()
            .map(|p| (p.percentile, p.value_ms))
            .collect(),
        })
        .collect();
    svg::line_chart(&LineChart {
        title,
        y_label: "latency",
        x: XAxis::Percentile,
        series: &series,
        fmt_y: ms,
    })
}

type Metric = (&'static str, &'static str, fn(&SecondRow) -> u64);

const METRICS: &[Metric] = &[
    ("Attempts per second", "attempts/s", |r| r.attempts),
    ("Successes (2xx) per second", "2xx/s", |r| r.successes),
    ("429 responses per second", "429/s", |r| r.status_429),
    ("5xx responses per second", "5xx/s", |r| r.status_5xx),
    ("Operations in flight (incl. backoff)", "in flight", |r| {
        r.in_flight
    }),
];

fn timeseries_charts(cs: &[CohortResult]) -> Vec<Value> {
    METRICS
        .iter()
        .map(|(title, unit, get)| {
            let series: Vec<Series> = cs
                .iter()
                .enumerate()
                .map(|(i, c)| Series {
                    name: c.name.clone(),
                    color: svg::color(i),
                    points: c
                        .timeseries
                        .iter()
                        .map(|r| (f64::from(r.t), get(r) as f64))
                        .collect(),
                })
                .collect();
            let svg = svg::line_chart(&LineChart {
                title,
                y_label: unit,
                x: XAxis::Linear("seconds since the round started"),
                series: &series,
                fmt_y: |v| decimal(v, 1),
            });
            chart(title, "", svg)
        })
        .collect()
}

fn share_of_ops(c: &CohortResult, n: u64) -> f64 {
    if c.operations == 0 {
        0.0
    } else {
        n as f64 / c.operations as f64 * 100.0
    }
}

fn distribution_charts(cs: &[CohortResult]) -> Vec<Value> {
    let attempts: BTreeSet<u32> = cs
        .iter()
        .flat_map(|c| c.attempts_per_operation.keys().copied())
        .collect();
    let cats: Vec<String> = attempts.iter().map(u32::to_string).collect();
    let series: Vec<(String, &'static str, Vec<f64>)> = cs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let vals = attempts
                .iter()
                .map(|a| share_of_ops(c, c.attempts_per_operation.get(a).copied().unwrap_or(0)))
                .collect();
            (c.name.clone(), svg::color(i), vals)
        })
        .collect();
    let notes: Vec<Vec<String>> = cs
        .iter()
        .map(|c| {
            attempts
                .iter()
                .map(|a| {
                    format!(
                        "{} operations",
                        count(c.attempts_per_operation.get(a).copied().unwrap_or(0))
                    )
                })
                .collect()
        })
        .collect();
    let title = "Attempts per operation (share of operations)";
    let apo = svg::bar_chart(&BarChart {
        title,
        y_label: "% of operations",
        categories: &cats,
        series: &series,
        fmt_y: |v| format!("{}%", decimal(v, 1)),
        notes: Some(&notes),
    });
    let codes = outcome_codes(cs);
    let series: Vec<(String, &'static str, Vec<f64>)> = cs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let vals = codes
                .iter()
                .map(|k| share_of_ops(c, c.outcomes.get(k).copied().unwrap_or(0)))
                .collect();
            (c.name.clone(), svg::color(i), vals)
        })
        .collect();
    let notes: Vec<Vec<String>> = cs
        .iter()
        .map(|c| {
            codes
                .iter()
                .map(|k| {
                    format!(
                        "{} operations",
                        count(c.outcomes.get(k).copied().unwrap_or(0))
                    )
                })
                .collect()
        })
        .collect();
    let title2 = "Final outcome of operations";
    let out = svg::bar_chart(&BarChart {
        title: title2,
        y_label: "% of operations",
        categories: &codes,
        series: &series,
        fmt_y: |v| format!("{}%", decimal(v, 1)),
        notes: Some(&notes),
    });
    vec![
        chart(
            title,
            "One bar per cohort; 1 means no retry was needed.",
            apo,
        ),
        chart(title2, "", out),
    ]
}

fn steps(cs: &[CohortResult]) -> Vec<Value> {
    let mut rows = Vec::new();
    for c in cs {
        for s in &c.steps {
            let amp = if s.operations == 0 {
                NA.to_string()
            } else {
                times(s.attempts as f64 / s.operations as f64)
            };
            let mut outcomes: Vec<(&String, &u64)> = s.outcomes.iter().collect();
            outcomes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let outcomes = outcomes
                .into_iter()
                .map(|(k, v)| {
                    obj([
                        ("code", Value::from(k.as_str())),
                        ("n", Value::from(count(*v))),
                    ])
                })
                .collect();
            let classes = s
                .attempt_latency_by_class_ms
                .iter()
                .map(|(k, p)| {
                    obj([
                        ("code", Value::from(k.as_str())),
                        ("n", Value::from(ms(p.p99))),
                    ])
                })
                .collect();
            rows.push(obj([
                ("cohort", Value::from(c.name.as_str())),
                ("name", Value::from(s.name.as_str())),
                ("operations", Value::from(count(s.operations))),
                ("attempts", Value::from(count(s.attempts))),
                ("amplification", Value::from(amp)),
                ("success", Value::from(pct(s.success_rate))),
                ("op_p50", Value::from(ms(s.operation_latency_ms.p50))),
                ("op_p99", Value::from(ms(s.operation_latency_ms.p99))),
                ("at_p99", Value::from(ms(s.attempt_latency_ms.p99))),
                ("outcomes", list(outcomes)),
                ("classes", list(classes)),
            ]));
        }
    }
    rows
}

fn gates(report: &Report) -> Value {
    let rows = report
        .gates
        .iter()
        .map(|g| {
            obj([
                ("expr", Value::from(g.expr.as_str())),
                ("passed", Value::from(g.passed)),
                (
                    "measured",
                    Value::from(
                        g.measured
                            .map_or_else(|| "not measured".to_string(), |m| decimal(m, 3)),
                    ),
                ),
                ("bound", Value::from(decimal(g.bound, 3))),
                ("message", Value::from(g.message.as_str())),
            ])
        })
        .collect();
    let failed = report.gates.iter().filter(|g| !g.passed).count();
    obj([("rows", list(rows)), ("failed", Value::from(failed))])
}

fn meta(report: &Report) -> Vec<Value> {
    let pair = |k: &str, v: String| obj([("label", Value::from(k)), ("value", Value::from(v))]);
    vec![
        pair("Scenario", report.scenario.clone()),
        pair("Description", report.description.clone()),
        pair("Scenario file", report.source.clone()),
        pair("Target", report.target.clone()),
        pair("Load", report.load.clone()),
        pair("Started", report.started_at.clone()),
        pair("Duration", seconds(report.duration_s)),
        pair("Status", report.status.clone()),
        pair(
            "stampede",
            format!(
                "{} (report schema {})",
                report.stampede_version, report.schema_version
            ),
        ),
    ]
}

/// The number of SVG charts [`render_html`] draws for a report with at least
/// one cohort (2 spectra, 5 per-second series, 2 distributions).
pub const CHART_COUNT: usize = 2 + METRICS.len() + 2;

/// Renders the complete, self-contained report.html.
pub fn render_html(report: &Report) -> Result<String, ReportError> {
    let cs = &report.results;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template(TEMPLATE_NAME, TEMPLATE)?;
    let has_series = cs.iter().any(|c| !c.timeseries.is_empty());
    let spectra = vec![
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
    ];
    let cohorts: Vec<Value> = cs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            obj([
                ("name", Value::from(c.name.as_str())),
                ("policy", Value::from(c.policy.as_str())),
                ("sin", Value::from(c.policy_detail.sin.as_str())),
                ("color", Value::from(svg::color(i))),
            ])
        })
        .collect();
    let ctx = obj([
        ("scenario", Value::from(report.scenario.as_str())),
        ("verdict", Value::from(verdict(report))),
        ("meta", list(meta(report))),
        ("completed", Value::from(report.status == "completed")),
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
        ("cohorts", list(cohorts)),
        (
            "sections",
            list(if cs.is_empty() {
                Vec::new()
            } else {
                table_sections(cs)
            }),
        ),
        ("outcomes", list(outcome_rows(cs))),
        ("ledger", list(ledger_rows(cs))),
        ("policies", list(policy_rows(cs))),
        (
            "spectra",
            list(if cs.is_empty() { Vec::new() } else { spectra }),
        ),
        (
            "series",
            list(if has_series {
                timeseries_charts(cs)
            } else {
                Vec::new()
            }),
        ),
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
    Ok(env.get_template(TEMPLATE_NAME)?.render(ctx)?)
}
