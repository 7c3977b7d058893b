//! The plain-text table printed at the end of a run: one column per fleet,
//! short enough for an 80-column terminal with two or three fleets, then the
//! verdict sentence so the terminal and report.html say the same thing.

use super::format::{count, ms, ms_of, pct, times};
use super::verdict::{recovery_text, trigger_window, verdict};
use crate::model::{FleetResult, Report};

/// How many outcome codes to list (most frequent first).
const TOP_OUTCOMES: usize = 3;

type Row = (String, Vec<String>);

fn row(label: &str, fleets: &[FleetResult], cell: impl Fn(&FleetResult) -> String) -> Row {
    (label.to_string(), fleets.iter().map(cell).collect())
}

fn ledger_cell(c: &FleetResult, get: fn(&crate::model::Ledger) -> u64) -> String {
    c.ledger
        .as_ref()
        .map_or_else(|| "-".to_string(), |l| count(get(l)))
}

/// The target's own counts (`[truth]`), one row per key, beside the
/// journeys stampede counted as succeeded.
fn truth_rows(cs: &[FleetResult]) -> Vec<Row> {
    let mut keys: Vec<&String> = (cs.iter().filter_map(|c| c.truth.as_ref()))
        .flat_map(|t| t.counts.keys().chain(t.levels.keys()))
        .collect();
    if keys.is_empty() {
        return Vec::new();
    }
    keys.sort();
    keys.dedup();
    let mut rows: Vec<Row> = keys
        .into_iter()
        .map(|k| {
            row(&format!("target: {}", printable(k)), cs, |c| {
                match c.truth.as_ref().and_then(|t| t.get(k)) {
                    Some(v) => super::format::number(v),
                    None => "-".into(),
                }
            })
        })
        .collect();
    rows.push(row("succeeded journeys (stampede)", cs, |c| {
        count(c.counts.journeys.succeeded)
    }));
    rows
}

/// Strips control characters so a hostile outcome code cannot move the cursor
/// or recolour the terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn top_outcomes(c: &FleetResult) -> Vec<String> {
    let mut v: Vec<(&String, &u64)> = c.counts.outcomes.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.into_iter()
        .take(TOP_OUTCOMES)
        .map(|(k, n)| {
            let mut name = printable(k);
            if name.chars().count() > 22 {
                name = name.chars().take(21).collect::<String>() + "…";
            }
            format!("{name} {}", count(*n))
        })
        .collect()
}

/// "reserve latency p99 (ok)": the headline names its step.
fn headline_label(cs: &[FleetResult], stat: &str) -> String {
    let step = cs
        .first()
        .map(|c| c.headline_latency().0)
        .unwrap_or_default();
    format!("{step} latency {stat} (ok)")
}

/// One row per step: operations, amplification, OK p99, the top outcome.
fn step_rows(cs: &[FleetResult]) -> Vec<Row> {
    let Some(first) = cs.first() else {
        return Vec::new();
    };
    first
        .steps
        .iter()
        .map(|st| {
            let name = st.name.clone();
            row(&format!("step {}", printable(&name)), cs, |c| {
                c.steps
                    .iter()
                    .find(|s| s.name == name)
                    .map_or("-".into(), |s| {
                        format!(
                            "{} ops {} {}",
                            count(s.operations),
                            times(s.amplification),
                            ms_of(&s.ok_operation_latency_ms, |p| p.p99)
                        )
                    })
            })
        })
        .collect()
}

/// The compact end-of-run summary.
pub fn summary_table(report: &Report) -> String {
    let cs = &report.results;
    let mut rows = headline_rows(cs);
    rows.extend(wait_rows(cs));
    rows.extend(funnel_rows(cs));
    rows.extend(optional_rows(report));
    rows.extend(outcome_rows(cs));
    rows.extend(ledger_rows(cs));
    rows.extend(truth_rows(cs));
    rows.push(row("retries sooner than Retry-After", cs, |c| {
        super::format::count(c.harm.early_retries)
    }));
    // Per step: what each one cost and how fast its successes were
    // (ops, amplification, p99 of the OK operations).
    rows.extend(step_rows(cs));
    let names: Vec<String> = cs.iter().map(|c| printable(&c.name)).collect();
    let mut out = String::new();
    if report.status != super::RunStatus::Completed {
        out.push_str(&format!(
            "RUN {}: {}\n",
            report.status.as_str().to_uppercase(),
            printable(
                report
                    .stop_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            )
        ));
    }
    for n in &report.notes {
        out.push_str(&format!("NOTE: {}\n", printable(n)));
    }
    if !cs.is_empty() {
        out.push_str(&table_text(&names, &rows));
    }
    if let Some(line) = clock_line(report) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&printable(&verdict(report)));
    out.push('\n');
    out
}

/// Counts, amplification, success and latency: a row each, every run.
fn headline_rows(cs: &[FleetResult]) -> Vec<Row> {
    vec![
        row("operations", cs, |c| count(c.counts.operations)),
        row("attempts", cs, |c| count(c.counts.attempts)),
        row(&super::format::amplification_label(cs), cs, |c| {
            times(c.counts.amplification)
        }),
        row("amplification, all steps", cs, |c| {
            times(c.counts.amplification_overall)
        }),
        row("success rate", cs, |c| pct(c.counts.success_rate)),
        row("journeys ok/sold out/failed", cs, |c| {
            let j = &c.counts.journeys;
            format!(
                "{}/{}/{}",
                count(j.succeeded),
                count(j.sold_out),
                count(j.failed)
            )
        }),
        row(&headline_label(cs, "p50"), cs, |c| {
            ms_of(c.headline_latency().1, |p| p.p50)
        }),
        row(&headline_label(cs, "p99"), cs, |c| {
            ms_of(c.headline_latency().1, |p| p.p99)
        }),
        row(&headline_label(cs, "max"), cs, |c| {
            ms_of(c.headline_latency().1, |p| p.max)
        }),
        row("attempt latency p99", cs, |c| {
            ms_of(&c.latency.attempt_latency_ms, |p| p.p99)
        }),
        row("queue wait p99", cs, |c| ms(c.latency.queue_wait_ms.p99)),
        row("journey duration p50", cs, |c| {
            ms_of(&c.latency.journey_duration_ms, |p| p.p50)
        }),
        row("journey duration p95", cs, |c| {
            ms_of(&c.latency.journey_duration_ms, |p| p.p95)
        }),
        row("journey duration p99", cs, |c| {
            ms_of(&c.latency.journey_duration_ms, |p| p.p99)
        }),
        row("schedule lag p99", cs, |c| {
            ms(c.latency.schedule_lag_ms.p99)
        }),
    ]
}

/// Wait steps: time in queue and what the waiting cost the target.
fn wait_rows(cs: &[FleetResult]) -> Vec<Row> {
    let mut rows = Vec::new();
    let waits: Vec<&str> = cs
        .first()
        .map(|c| {
            c.steps
                .iter()
                .filter(|s| s.wait.is_some())
                .map(|s| s.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    for name in waits {
        let step = |c: &FleetResult| c.steps.iter().find(|s| s.name == name).cloned();
        rows.push(row(&format!("{name}: time in queue p50"), cs, |c| {
            step(c).map_or("-".into(), |s| ms(s.operation_latency_ms.p50))
        }));
        rows.push(row(&format!("{name}: time in queue p99"), cs, |c| {
            step(c).map_or("-".into(), |s| ms(s.operation_latency_ms.p99))
        }));
        rows.push(row(&format!("{name}: polls (early)"), cs, |c| {
            step(c).and_then(|s| s.wait).map_or("-".into(), |w| {
                format!("{} ({})", count(w.polls), count(w.early_polls))
            })
        }));
    }
    rows
}

/// The journeys that reached each stage of the funnel.
fn funnel_rows(cs: &[FleetResult]) -> Vec<Row> {
    let mut rows = Vec::new();
    let stages = cs.first().map_or(0, |c| c.counts.funnel.len());
    for i in 0..stages {
        let label = cs[0].counts.funnel[i].step.clone();
        rows.push(row(
            &format!(
                "{} {}",
                if i == 0 { "funnel:" } else { "     →" },
                printable(&label)
            ),
            cs,
            |c| {
                c.counts
                    .funnel
                    .get(i)
                    .map_or("-".into(), |f| count(f.journeys))
            },
        ));
    }
    rows
}

/// Rows only some runs have: re-logins, hedges, recovery after the trigger.
fn optional_rows(report: &Report) -> Vec<Row> {
    let cs = &report.results;
    let mut rows = Vec::new();
    if cs.iter().any(|c| c.counts.relogins > 0) {
        rows.push(row("re-logins (expired session)", cs, |c| {
            count(c.counts.relogins)
        }));
    }
    if cs.iter().any(|c| c.counts.hedges > 0) {
        rows.push(row("hedges sent (won)", cs, |c| {
            format!(
                "{} ({})",
                count(c.counts.hedges),
                count(c.counts.hedge_wins)
            )
        }));
    }
    if let Some(t) = &report.trigger {
        rows.push(row(
            &format!("recovery after trigger ({})", trigger_window(t)),
            cs,
            recovery_text,
        ));
    }
    rows
}

/// The most frequent outcomes of each fleet, one per row.
fn outcome_rows(cs: &[FleetResult]) -> Vec<Row> {
    let mut rows = Vec::new();
    let tops: Vec<Vec<String>> = cs.iter().map(top_outcomes).collect();
    for i in 0..tops.iter().map(Vec::len).max().unwrap_or(0) {
        let label = if i == 0 { "top outcomes" } else { "" };
        rows.push((
            label.to_string(),
            tops.iter()
                .map(|t| t.get(i).cloned().unwrap_or_default())
                .collect(),
        ));
    }
    rows
}

/// The ledger's counts, when a fleet has one.
fn ledger_rows(cs: &[FleetResult]) -> Vec<Row> {
    let mut rows = Vec::new();
    if cs.iter().any(|c| c.ledger.is_some()) {
        rows.push(row("duplicate bookings", cs, |c| {
            ledger_cell(c, |l| l.duplicates)
        }));
        rows.push(row("oversold seats", cs, |c| {
            ledger_cell(c, |l| l.oversold)
        }));
        rows.push(row("wasted work", cs, |c| {
            ledger_cell(c, |l| l.wasted_work)
        }));
        rows.push(row("early retries", cs, |c| {
            ledger_cell(c, |l| l.early_retries)
        }));
    }
    rows
}

/// The table: the fleets' `names` over their columns, each right-aligned
/// to its widest cell, the labels left-aligned.
fn table_text(names: &[String], rows: &[Row]) -> String {
    let label_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..names.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.1[i].chars().count())
                .chain(std::iter::once(names[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |label: &str, cells: &[String]| {
        let mut s = format!("{label:<label_w$}");
        for (cell, w) in cells.iter().zip(&widths) {
            let pad = w.saturating_sub(cell.chars().count());
            s.push_str("  ");
            s.push_str(&" ".repeat(pad));
            s.push_str(cell);
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line("", names);
    for (label, cells) in rows {
        out.push_str(&line(label, cells));
    }
    out
}

/// On virtual time: how long the run was in simulated time and on the
/// wall clock. `None` on real time.
pub fn clock_line(report: &Report) -> Option<String> {
    if !report.meta.clock.is_virtual() {
        return None;
    }
    let wall = report
        .meta
        .wall_s
        .map_or_else(|| "?".to_string(), |w| format!("{w:.1}"));
    Some(format!(
        "VIRTUAL TIME: {:.1} s simulated in {wall} s of wall time (embedded simulator in memory; see docs/virtual-time.md)",
        report.duration_s
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::sample_report;

    #[test]
    fn report_console_table_is_aligned() {
        let t = summary_table(&sample_report());
        assert!(
            t.starts_with("NOTE: the 20000/s attempt cap"),
            "notes come first: {t}"
        );
        let lines: Vec<&str> = t.lines().filter(|l| !l.starts_with("NOTE: ")).collect();
        assert!(lines[0].trim_start().starts_with("compliant"), "{t}");
        assert!(lines[0].ends_with("naive"), "{t}");
        let ops = lines.iter().find(|l| l.starts_with("operations")).unwrap();
        assert!(ops.ends_with("3,600"), "{t}");
        // Right-aligned: every table row ends at the same column as the header.
        let width = lines[0].chars().count();
        let headline: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with("reserve latency"))
            .collect();
        assert_eq!(headline.len(), 3, "the headline names its step: {t}");
        for l in headline {
            assert_eq!(l.chars().count(), width, "{t}");
        }
        // A row per step, each naming it.
        for step in ["availability", "reserve", "confirm"] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("step {step} "))),
                "{t}"
            );
        }
        assert!(t.contains("duplicate bookings"));
        let rec = lines
            .iter()
            .find(|l| l.starts_with("recovery after trigger (8 s–12 s)"))
            .expect("recovery row");
        let cells: Vec<&str> = rec.split("  ").filter(|c| !c.trim().is_empty()).collect();
        assert_eq!(
            cells.iter().map(|c| c.trim()).collect::<Vec<_>>()[1..],
            ["2 s", "did not recover"],
            "{t}"
        );
        assert!(t.contains("amplification (reserve)"), "{t}");
        assert!(
            t.trim_end()
                .lines()
                .last()
                .unwrap()
                .starts_with("Healthiest: compliant")
        );
    }

    #[test]
    fn report_console_handles_empty_and_hostile() {
        let mut r = sample_report();
        r.results[0]
            .counts
            .outcomes
            .insert("EVIL\x1b[31m".into(), u64::MAX);
        r.status = crate::report::RunStatus::Aborted;
        r.stop_reason = Some("target died".into());
        let t = summary_table(&r);
        assert!(!t.contains('\x1b'));
        assert!(t.starts_with("RUN ABORTED: target died"));
        r.results.clear();
        assert!(summary_table(&r).contains("nothing to judge"));
    }
}
