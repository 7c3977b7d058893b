//! The tables of report.html as template values: the side-by-side fleet
//! table, outcomes, the generic ledger and policy tables, journey steps,
//! gates and run metadata. Every string stays a plain string so the
//! template's auto-escaping applies to it.

use crate::model::{FleetResult, Percentiles, Report, Trigger};
use crate::report::format::{NA, count, decimal, ms, ms_of, number, pct, seconds, times};
use crate::report::ledger_view as ledger;
use crate::report::verdict::{recovery_text, trigger_window};
use minijinja::value::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::collections::{HashMap, HashSet};

/// Builds a template object from key/value pairs.
pub(crate) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::from(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<String, Value>>(),
    )
}

pub(crate) fn list(items: Vec<Value>) -> Value {
    Value::from(items)
}

/// A table cell; `bad` highlights a value that signals harm.
pub(crate) fn cell(text: String, bad: bool) -> Value {
    classed(text, if bad { "bad" } else { "" })
}

/// A table cell with a class of the shared stylesheet (`bad`, `good`) or none.
pub(crate) fn classed(text: String, class: &str) -> Value {
    obj([("text", Value::from(text)), ("class", Value::from(class))])
}

/// A labelled row of cells (the `section_rows` macro of `tables.html`),
/// with a row class (`worse`, `better`) or none.
pub(crate) fn labelled(label: &str, class: &str, cells: Vec<Value>) -> Value {
    obj([
        ("label", Value::from(label)),
        ("class", Value::from(class)),
        ("cells", list(cells)),
    ])
}

/// One row of the side-by-side table.
pub(super) fn row(
    label: &str,
    cs: &[FleetResult],
    f: impl Fn(&FleetResult) -> (String, bool),
) -> Value {
    let cells = cs
        .iter()
        .map(|c| {
            let (t, bad) = f(c);
            cell(t, bad)
        })
        .collect();
    labelled(label, "", cells)
}

pub(super) fn plain(label: &str, cs: &[FleetResult], f: impl Fn(&FleetResult) -> String) -> Value {
    row(label, cs, |c| (f(c), false))
}

pub(crate) fn section(title: &str, rows: Vec<Value>) -> Value {
    obj([("title", Value::from(title)), ("rows", list(rows))])
}

pub(super) fn per_op(n: u64, ops: u64) -> String {
    if ops == 0 {
        NA.to_string()
    } else {
        decimal(n as f64 / ops as f64, 2)
    }
}

type PercentileField = (&'static str, fn(&Percentiles) -> f64);

pub(super) fn latency_rows(
    cs: &[FleetResult],
    get: fn(&FleetResult) -> &Percentiles,
) -> Vec<Value> {
    let fields: [PercentileField; 7] = [
        ("p50", |p| p.p50),
        ("p90", |p| p.p90),
        ("p95", |p| p.p95),
        ("p99", |p| p.p99),
        ("p99.9", |p| p.p999),
        ("max", |p| p.max),
        ("mean", |p| p.mean),
    ];
    fields
        .iter()
        .map(|(label, f)| plain(label, cs, |c| ms_of(get(c), *f)))
        .collect()
}

pub(super) fn outcome_share(c: &FleetResult, n: u64) -> String {
    if c.counts.operations == 0 {
        count(n)
    } else {
        format!(
            "{} ({})",
            count(n),
            pct(n as f64 / c.counts.operations as f64)
        )
    }
}

/// Outcome codes across fleets, most frequent overall first.
pub(super) fn outcome_codes(cs: &[FleetResult]) -> Vec<String> {
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for c in cs {
        for (k, v) in &c.counts.outcomes {
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
pub(super) fn ledger_rows(cs: &[FleetResult]) -> Vec<Value> {
    // Linear in keys: one index per fleet, keys in first-seen order (a
    // simulator with 100,000 zones has some 400,000 keys).
    let lists: Vec<Option<Vec<ledger::Entry>>> = cs
        .iter()
        .map(|c| c.ledger.as_ref().map(ledger::entries))
        .collect();
    let per: Vec<Option<HashMap<&str, &ledger::Entry>>> = lists
        .iter()
        .map(|l| {
            l.as_ref()
                .map(|es| es.iter().map(|e| (e.key.as_str(), e)).collect())
        })
        .collect();
    let mut seen = HashSet::new();
    let keys: Vec<&ledger::Entry> = lists
        .iter()
        .flatten()
        .flatten()
        .filter(|e| !SHOWN_WITH_HARM.contains(&e.key.as_str()) && seen.insert(e.key.as_str()))
        .collect();
    keys.iter()
        .map(|k| {
            let cells = per
                .iter()
                .map(|entries| match entries {
                    None => cell("no ledger".into(), false),
                    Some(es) => {
                        let v = es.get(k.key.as_str()).map(|e| e.value.clone());
                        cell(v.unwrap_or_default(), false)
                    }
                })
                .collect();
            obj([
                ("label", Value::from(k.label.as_str())),
                ("cells", list(cells)),
            ])
        })
        .collect()
}

pub(super) fn policy_rows(cs: &[FleetResult]) -> Vec<Value> {
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

pub(super) fn table_sections(cs: &[FleetResult], trigger: Option<&Trigger>) -> Vec<Value> {
    let load = load_rows(cs, trigger);
    let harm_rows = harm_rows(cs);
    let mut sections = vec![
        section("Load and success", load),
        section(
            "Operation latency (from the intended start; retries and backoff included)",
            latency_rows(cs, |c| &c.latency.operation_latency_ms),
        ),
        section(
            "Journey duration (from the intended start to the journey's end)",
            latency_rows(cs, |c| &c.latency.journey_duration_ms),
        ),
        section(
            "Attempt latency (one HTTP request, from when it could be written)",
            latency_rows(cs, |c| &c.latency.attempt_latency_ms),
        ),
        section(
            "Queue wait (per attempt, before its request could be written: a connection, an HTTP/2 stream)",
            queue_wait_rows(cs),
        ),
        section("Harm and retry behaviour", harm_rows),
        section("Outcomes (operations by final code)", outcome_rows(cs)),
    ];
    let queue = queue_rows(cs);
    if !queue.is_empty() {
        sections.insert(1, section("Funnel and waiting room", queue));
    }
    if let Some(source) = cs.iter().find_map(|c| c.truth.as_ref()).map(|t| &t.source) {
        let title = format!("The target's own counts ([truth], {source}) and stampede's");
        sections.push(section(&title, truth_rows(cs)));
    }
    sections
}

/// Load and success: counts, amplification, rates, journeys, and the
/// time to recovery when the run has a trigger.
fn load_rows(cs: &[FleetResult], trigger: Option<&Trigger>) -> Vec<Value> {
    let mut load = vec![
        plain("operations", cs, |c| count(c.counts.operations)),
        plain("attempts", cs, |c| count(c.counts.attempts)),
        plain("retries per operation", cs, |c| {
            per_op(c.counts.retries, c.counts.operations)
        }),
        row(
            &format!("load {}", super::super::format::amplification_label(cs)),
            cs,
            |c| (times(c.counts.amplification), c.counts.amplification >= 2.0),
        ),
        plain("load amplification, all steps", cs, |c| {
            times(c.counts.amplification_overall)
        }),
        row("success rate", cs, |c| {
            (pct(c.counts.success_rate), c.counts.success_rate < 0.5)
        }),
        plain("goodput (journeys/s)", cs, |c| decimal(c.counts.goodput, 2)),
        plain("achieved attempts/s", cs, |c| {
            decimal(c.counts.achieved_rps, 1)
        }),
        plain("journeys ok / sold out / failed / cancelled", cs, |c| {
            let j = &c.counts.journeys;
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
    if let Some(t) = trigger {
        let label = format!("time to recovery after the trigger ({})", trigger_window(t));
        load.push(row(&label, cs, |c| {
            (recovery_text(c), c.recovery_s.is_none())
        }));
    }
    load
}

/// Harm and retry behaviour: the ledger's counts, then the fleet's own.
fn harm_rows(cs: &[FleetResult]) -> Vec<Value> {
    let harm = |c: &FleetResult, f: fn(&crate::model::Ledger) -> u64, flag: bool| match &c.ledger {
        None => ("no ledger".to_string(), false),
        Some(l) => (count(f(l)), flag && f(l) > 0),
    };
    vec![
        row("duplicate bookings", cs, |c| {
            harm(c, |l| l.duplicates, true)
        }),
        row("oversold seats", cs, |c| harm(c, |l| l.oversold, true)),
        row("wasted work", cs, |c| harm(c, |l| l.wasted_work, false)),
        row("early retries (before Retry-After)", cs, |c| {
            harm(c, |l| l.early_retries, true)
        }),
        row(
            "retries sooner than Retry-After (this fleet's own count)",
            cs,
            |c| (count(c.harm.early_retries), c.harm.early_retries > 0),
        ),
        plain("breaker opens", cs, |c| count(c.retry.breaker_opens)),
        plain("time with breaker open", cs, |c| {
            seconds(c.retry.breaker_open_s)
        }),
        plain("Retry-After honoured", cs, |c| {
            count(c.retry.retry_after_honoured)
        }),
        plain("backoff wait p50 / p99", cs, |c| {
            format!(
                "{} / {}",
                ms(c.latency.backoff_wait_ms.p50),
                ms(c.latency.backoff_wait_ms.p99)
            )
        }),
        row("schedule lag p99", cs, |c| {
            (
                ms(c.latency.schedule_lag_ms.p99),
                c.latency.schedule_lag_ms.p99 > 100.0,
            )
        }),
    ]
}

/// One row per `[truth]` key (a count is the round's difference, a level
/// the reading after it), then the journeys stampede counted as succeeded.
fn truth_rows(cs: &[FleetResult]) -> Vec<Value> {
    let keys: BTreeSet<&String> = (cs.iter().filter_map(|c| c.truth.as_ref()))
        .flat_map(|t| t.counts.keys().chain(t.levels.keys()))
        .collect();
    let mut rows: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            plain(&format!("target: {k}"), cs, |c| match &c.truth {
                None => "no reading".into(),
                Some(t) => t.get(k).map_or(NA.to_string(), number),
            })
        })
        .collect();
    rows.push(plain("succeeded journeys (stampede)", cs, |c| {
        count(c.counts.journeys.succeeded)
    }));
    rows
}

/// p50, p99 and max of each attempt's queue wait.
fn queue_wait_rows(cs: &[FleetResult]) -> Vec<Value> {
    let fields: [PercentileField; 3] = [("p50", |p| p.p50), ("p99", |p| p.p99), ("max", |p| p.max)];
    fields
        .iter()
        .map(|(label, f)| plain(label, cs, |c| ms(f(&c.latency.queue_wait_ms))))
        .collect()
}

/// The funnel's stages, then each wait step's time in queue and polls,
/// re-logins and hedges.
fn queue_rows(cs: &[FleetResult]) -> Vec<Value> {
    let mut rows = Vec::new();
    let Some(first) = cs.first() else {
        return rows;
    };
    for (i, stage) in first.counts.funnel.iter().enumerate() {
        rows.push(plain(
            &format!("journeys through {}", stage.step),
            cs,
            |c| {
                c.counts.funnel.get(i).map_or(NA.to_string(), |f| {
                    format!(
                        "{} ({})",
                        count(f.journeys),
                        pct(ratio(f.journeys, c.counts.journeys.started))
                    )
                })
            },
        ));
    }
    for step in first.steps.iter().filter(|s| s.wait.is_some()) {
        rows.extend(wait_rows(cs, step));
    }
    if cs.iter().any(|c| c.counts.relogins > 0) {
        rows.push(plain("re-logins (expired session)", cs, |c| {
            count(c.counts.relogins)
        }));
    }
    if cs.iter().any(|c| c.counts.hedges > 0) {
        rows.extend(hedge_rows(cs));
    }
    rows
}

/// A wait step's time in queue, polls, early polls and, on a stream,
/// reconnects and the first event.
fn wait_rows(cs: &[FleetResult], step: &crate::model::StepResult) -> Vec<Value> {
    let mut rows = Vec::new();
    let name = step.name.as_str();
    let find = |c: &FleetResult| c.steps.iter().find(|s| s.name == name).cloned();
    rows.push(plain(
        &format!("{name}: time in queue p50 / p99"),
        cs,
        |c| {
            find(c).map_or(NA.to_string(), |s| {
                format!(
                    "{} / {}",
                    ms(s.operation_latency_ms.p50),
                    ms(s.operation_latency_ms.p99)
                )
            })
        },
    ));
    rows.push(plain(&format!("{name}: polls per wait"), cs, |c| {
        find(c)
            .and_then(|s| s.wait.map(|w| per_op(w.polls, s.operations)))
            .unwrap_or_else(|| NA.to_string())
    }));
    rows.push(row(
        &format!("{name}: polls sooner than the server asked"),
        cs,
        |c| {
            let n = find(c)
                .and_then(|s| s.wait.map(|w| w.early_polls))
                .unwrap_or(0);
            (count(n), n > 0)
        },
    ));
    if step.kind == crate::model::StepKind::Sse {
        rows.push(plain(&format!("{name}: reconnects"), cs, |c| {
            count(
                find(c)
                    .and_then(|s| s.wait.map(|w| w.reconnects))
                    .unwrap_or(0),
            )
        }));
        rows.push(plain(&format!("{name}: first event p50"), cs, |c| {
            find(c)
                .and_then(|s| s.wait.and_then(|w| w.time_to_first_event_ms))
                .map_or(NA.to_string(), |p| ms(p.p50))
        }));
    }
    rows
}

/// Hedges sent and won, for the fleet and each hedged step.
fn hedge_rows(cs: &[FleetResult]) -> Vec<Value> {
    let mut rows = Vec::new();
    rows.push(plain("hedges sent (won)", cs, |c| {
        format!(
            "{} ({})",
            count(c.counts.hedges),
            count(c.counts.hedge_wins)
        )
    }));
    let mut hedged: Vec<&str> = Vec::new();
    for s in cs.iter().flat_map(|c| &c.steps).filter(|s| s.hedges > 0) {
        if !hedged.contains(&s.name.as_str()) {
            hedged.push(&s.name);
        }
    }
    for name in hedged {
        rows.push(plain(&format!("{name}: hedges (won)"), cs, |c| {
            c.steps
                .iter()
                .find(|s| s.name == name)
                .map_or(NA.to_string(), |s| {
                    format!("{} ({})", count(s.hedges), count(s.hedge_wins))
                })
        }));
    }
    rows
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn outcome_rows(cs: &[FleetResult]) -> Vec<Value> {
    outcome_codes(cs)
        .iter()
        .map(|code| {
            plain(code, cs, |c| match c.counts.outcomes.get(code) {
                Some(n) => outcome_share(c, *n),
                None => "–".into(),
            })
        })
        .collect()
}

pub(super) fn steps(cs: &[FleetResult]) -> Vec<Value> {
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
                ("fleet", Value::from(c.name.as_str())),
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

pub(super) fn gates(report: &Report) -> Value {
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

pub(super) fn meta(report: &Report) -> Vec<Value> {
    let pair = |k: &str, v: String| obj([("label", Value::from(k)), ("value", Value::from(v))]);
    let mut rows = vec![
        pair("Scenario", report.scenario.clone()),
        pair("Description", report.description.clone()),
        pair("Scenario file", report.source.clone()),
        pair("Target", report.target.clone()),
        pair("Load", report.load.clone()),
        pair("Started", report.started_at.clone()),
        pair("Duration", seconds(report.duration_s)),
    ];
    if report.meta.clock.is_virtual() {
        let wall = report.meta.wall_s.map_or_else(|| "?".into(), seconds);
        rows.push(pair(
            "Clock",
            format!(
                "virtual time: {} simulated in {wall} of wall time (embedded simulator in memory, no sockets)",
                seconds(report.duration_s)
            ),
        ));
    }
    rows.extend([
        pair("Status", report.status.to_string()),
        pair(
            "stampede",
            format!(
                "{} (report schema {})",
                report.stampede_version, report.schema_version
            ),
        ),
    ]);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ZoneSeats;

    fn with_zones(n: u32) -> FleetResult {
        let mut c = crate::sample::sample_report().results[0].clone();
        let mut l = c.ledger.clone().unwrap_or_default();
        for z in 0..n {
            let seats = ZoneSeats {
                capacity: z,
                sold: 1,
                reserved: 0,
                available: z.saturating_sub(1),
            };
            l.zones.insert(format!("z{z:06}"), seats);
        }
        c.ledger = Some(l);
        c
    }

    #[test]
    fn every_ledger_key_is_one_row_with_one_cell_per_fleet() {
        let a = with_zones(5_000);
        let mut b = with_zones(2);
        b.name = "other".into();
        let mut none = a.clone();
        none.ledger = None;
        let rows = ledger_rows(&[a.clone(), b, none]);
        let expected = ledger::entries(a.ledger.as_ref().unwrap())
            .iter()
            .filter(|e| !SHOWN_WITH_HARM.contains(&e.key.as_str()))
            .count();
        assert_eq!(rows.len(), expected);
        let attr = |v: &Value, k: &str| v.get_attr(k).unwrap();
        let row = rows
            .iter()
            .find(|r| attr(r, "label").as_str() == Some("zones.z004999.capacity"))
            .expect("the last zone has its row");
        let cells: Vec<String> = attr(row, "cells")
            .try_iter()
            .unwrap()
            .map(|c| attr(&c, "text").to_string())
            .collect();
        assert_eq!(
            cells,
            ["4,999", "", "no ledger"],
            "a fleet without that zone shows nothing"
        );
    }
}
