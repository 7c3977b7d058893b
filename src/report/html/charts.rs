//! The charts of report.html: SVG strings built by [`crate::report::svg`]
//! (which escapes its own text), wrapped as template values.

use super::tables::{obj, outcome_codes};
use crate::model::{FleetResult, IntervalLatency, LatencyRow, SecondRow, Trigger};
use crate::report::format::{count, decimal, ms};
use crate::report::recovery::{RECOVERY_FRACTION, RECOVERY_HOLD_S};
use crate::report::svg::{self, BarChart, LineChart, Series, XAxis};
use crate::report::verdict::trigger_window;
use minijinja::value::Value;
use std::collections::BTreeSet;

pub(super) fn chart(title: &str, note: &str, svg: String) -> Value {
    obj([
        ("title", Value::from(title)),
        ("note", Value::from(note)),
        ("svg", Value::from_safe_string(svg)),
    ])
}

/// One line per fleet, in the fleet's colour.
fn fleet_series(
    cs: &[FleetResult],
    points: impl Fn(&FleetResult) -> Vec<(f64, f64)>,
) -> Vec<Series> {
    cs.iter()
        .enumerate()
        .map(|(i, c)| Series {
            name: c.name.clone(),
            color: svg::color(i),
            points: points(c),
        })
        .collect()
}

pub(super) fn spectrum_chart(cs: &[FleetResult], title: &str, attempt: bool) -> String {
    let series = fleet_series(cs, |c| {
        let spectrum = if attempt {
            &c.latency.attempt_spectrum
        } else {
            &c.latency.operation_spectrum
        };
        spectrum
            .iter()
            .map(|p| (p.percentile, p.value_ms))
            .collect()
    });
    svg::line_chart(&LineChart {
        title,
        y_label: "latency",
        x: XAxis::Percentile,
        series: &series,
        fmt_y: ms,
    })
}

pub(super) type Metric = (&'static str, &'static str, fn(&SecondRow) -> u64);

pub(super) const METRICS: &[Metric] = &[
    ("Attempts per second", "attempts/s", |r| r.attempts),
    ("Successes (2xx) per second", "2xx/s", |r| r.successes),
    ("429 responses per second", "429/s", |r| r.status_429),
    ("5xx responses per second", "5xx/s", |r| r.status_5xx),
    ("Operations in flight (incl. backoff)", "in flight", |r| {
        r.in_flight
    }),
];

/// The per-second charts; `trigger` (the fault window) is shaded on each.
pub(super) fn timeseries_charts(cs: &[FleetResult], trigger: Option<&Trigger>) -> Vec<Value> {
    let band = trigger.map(|t| svg::Band {
        from: t.from_s,
        to: t.to_s,
        label: "trigger",
    });
    let note = trigger.map_or_else(String::new, |t| {
        format!(
            "Shaded: the trigger (fault window {}; every round starts at 0). Recovered = \
             successes/s back to {}% of the pre-trigger median for {} s in a row.",
            trigger_window(t),
            (RECOVERY_FRACTION * 100.0).round(),
            RECOVERY_HOLD_S
        )
    });
    METRICS
        .iter()
        .map(|(title, unit, get)| {
            let series = fleet_series(cs, |c| {
                c.timeseries
                    .iter()
                    .map(|r| (f64::from(r.t), get(r) as f64))
                    .collect()
            });
            let svg = svg::line_chart_with_band(
                &LineChart {
                    title,
                    y_label: unit,
                    x: XAxis::Linear("seconds since the round started"),
                    series: &series,
                    fmt_y: |v| decimal(v, 1),
                },
                band,
            );
            // The recovery definition goes under the chart it is read from.
            let note = if title.starts_with("Successes") {
                note.as_str()
            } else {
                ""
            };
            chart(title, note, svg)
        })
        .collect()
}

/// A named statistic of one interval.
type Stat = (&'static str, fn(&IntervalLatency) -> f64);
/// Operation or attempt latency of a row.
type Kind = (&'static str, fn(&LatencyRow) -> &IntervalLatency);

/// The percentile lines of a latency-over-time chart, each in its colour.
const LATENCY_LINES: &[Stat] = &[
    ("p50", |l| l.p50),
    ("p90", |l| l.p90),
    ("p99", |l| l.p99),
    ("max", |l| l.max),
];

/// Charts per fleet with a latency series (operation and attempt).
pub(super) const LATENCY_CHARTS_PER_FLEET: usize = 2;

/// The (seconds, ms) points of one statistic over the intervals where
/// something ended, with a gap (a NaN point) wherever an interval had
/// nothing: the line is broken there rather than drawn across.
fn gapped(
    c: &FleetResult,
    get: fn(&LatencyRow) -> &IntervalLatency,
    stat: fn(&IntervalLatency) -> f64,
) -> Vec<(f64, f64)> {
    let step = u64::from(c.latency.latency_interval_ms.max(1));
    let mut out = Vec::new();
    let mut last: Option<u64> = None;
    for r in c.latency.latency_series.iter().filter(|r| get(r).count > 0) {
        if last.is_some_and(|t| r.t_ms > t + step) {
            out.push(((r.t_ms - step) as f64 / 1000.0, f64::NAN));
        }
        out.push((r.t_ms as f64 / 1000.0, stat(get(r))));
        last = Some(r.t_ms);
    }
    out
}

/// Per fleet, operation and attempt latency per interval (p50, p90, p99,
/// max lines over the intervals where something ended); the trigger shaded.
pub(super) fn latency_charts(cs: &[FleetResult], trigger: Option<&Trigger>) -> Vec<Value> {
    let band = trigger.map(|t| svg::Band {
        from: t.from_s,
        to: t.to_s,
        label: "trigger",
    });
    let kinds: [Kind; 2] = [
        ("Operation", |r| &r.operation_latency_ms),
        ("Attempt", |r| &r.attempt_latency_ms),
    ];
    let mut out = Vec::new();
    for c in cs.iter().filter(|c| !c.latency.latency_series.is_empty()) {
        let every = if c.latency.latency_interval_ms >= 1000 {
            "second".to_string()
        } else {
            format!("{} ms", c.latency.latency_interval_ms)
        };
        for (kind, get) in kinds {
            let series: Vec<Series> = LATENCY_LINES
                .iter()
                .enumerate()
                .map(|(i, (name, stat))| Series {
                    name: (*name).to_string(),
                    color: svg::color(i),
                    points: gapped(c, get, *stat),
                })
                .collect();
            let title = format!("{kind} latency per {every}: {}", c.name);
            let svg = svg::line_chart_with_band(
                &LineChart {
                    title: &title,
                    y_label: "latency",
                    x: XAxis::Linear("seconds since the round started"),
                    series: &series,
                    fmt_y: ms,
                },
                band,
            );
            let note = format!(
                "{kind}s that ended in each {every}, percentiles of that interval's own histogram."
            );
            out.push(chart(&title, &note, svg));
        }
    }
    out
}

pub(super) fn share_of_ops(c: &FleetResult, n: u64) -> f64 {
    if c.counts.operations == 0 {
        0.0
    } else {
        n as f64 / c.counts.operations as f64 * 100.0
    }
}

pub(super) fn distribution_charts(cs: &[FleetResult]) -> Vec<Value> {
    let attempts: Vec<u32> = cs
        .iter()
        .flat_map(|c| c.attempts_per_operation.keys().copied())
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    let cats: Vec<String> = attempts.iter().map(u32::to_string).collect();
    let title = "Attempts per operation (share of operations)";
    let apo = share_bars(cs, title, &cats, |c, i| {
        c.attempts_per_operation
            .get(&attempts[i])
            .copied()
            .unwrap_or(0)
    });
    let codes = outcome_codes(cs);
    let title2 = "Final outcome of operations";
    let out = share_bars(cs, title2, &codes, |c, i| {
        c.counts.outcomes.get(&codes[i]).copied().unwrap_or(0)
    });
    vec![
        chart(
            title,
            "One bar per fleet; 1 means no retry was needed.",
            apo,
        ),
        chart(title2, "", out),
    ]
}

/// Bars of each category's share of a fleet's operations, one bar per
/// fleet, with the raw counts in the tooltips.
fn share_bars(
    cs: &[FleetResult],
    title: &str,
    categories: &[String],
    ops_in: impl Fn(&FleetResult, usize) -> u64,
) -> String {
    let series: Vec<(String, &'static str, Vec<f64>)> = cs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let vals = (0..categories.len())
                .map(|k| share_of_ops(c, ops_in(c, k)))
                .collect();
            (c.name.clone(), svg::color(i), vals)
        })
        .collect();
    let notes: Vec<Vec<String>> = cs
        .iter()
        .map(|c| {
            (0..categories.len())
                .map(|k| format!("{} operations", count(ops_in(c, k))))
                .collect()
        })
        .collect();
    svg::bar_chart(&BarChart {
        title,
        y_label: "% of operations",
        categories,
        series: &series,
        fmt_y: |v| format!("{}%", decimal(v, 1)),
        notes: Some(&notes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lines_break_where_an_interval_had_nothing() {
        let mut c = crate::sample::sample_report().results.remove(0);
        c.latency.latency_interval_ms = 100;
        let row = |t_ms: u64, n: u64| LatencyRow {
            t_ms,
            operation_latency_ms: IntervalLatency {
                count: n,
                p99: t_ms as f64,
                ..IntervalLatency::default()
            },
            ..LatencyRow::default()
        };
        c.latency.latency_series = vec![
            row(0, 1),
            row(100, 2),
            row(500, 1),
            row(600, 0),
            row(700, 3),
        ];
        let pts = gapped(&c, |r| &r.operation_latency_ms, |l| l.p99);
        let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
        assert_eq!(xs, [0.0, 0.1, 0.4, 0.5, 0.6, 0.7]);
        assert!(pts[2].1.is_nan() && pts[4].1.is_nan());
        assert_eq!(pts[5].1, 700.0);
        let svg = latency_charts(std::slice::from_ref(&c), None)[0]
            .get_attr("svg")
            .unwrap()
            .to_string();
        // p50, p90, p99, max: three runs each.
        assert_eq!(svg.matches("<polyline").count(), 4 * 3, "{svg}");
    }
}
