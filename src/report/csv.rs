//! The CSV files of a run directory, for spreadsheets and scripts.
//!
//! Column names and order are a contract with whoever reads these files; the
//! header constants below are checked against `tests/fixtures/csv_headers/`,
//! so changing one is a deliberate, reviewed act. Floats are written in
//! Rust's shortest round-trip form; a missing value (no ledger) is an empty
//! cell, never 0, so "nothing measured" and "measured zero" stay distinct.
//! Text cells go through [`super::cells::text`], so a code from the target
//! cannot start a spreadsheet formula.
//! `recovery_s` is empty when the run had no trigger or the fleet did not
//! recover (the report's `trigger` in summary.json tells the two apart).
//! Latency cells of an interval in which nothing of that kind ended are
//! empty too (`timeseries.csv`); `latency_series.csv` has a row only where
//! something ended.

use super::ReportError;
use super::cells::text;
use crate::model::{FleetResult, IntervalLatency, LatencyRow, Percentiles, Report};
use std::path::{Path, PathBuf};

pub const SUMMARY_HEADER: &[&str] = &[
    "name",
    "policy",
    "round",
    "share",
    "operations",
    "attempts",
    "retries",
    "amplification",
    "success_rate",
    "goodput",
    "achieved_rps",
    "op_latency_p50_ms",
    "op_latency_p90_ms",
    "op_latency_p95_ms",
    "op_latency_p99_ms",
    "op_latency_p999_ms",
    "op_latency_max_ms",
    "attempt_latency_p50_ms",
    "attempt_latency_p99_ms",
    "attempt_latency_max_ms",
    "schedule_lag_p99_ms",
    "journeys_succeeded",
    "journeys_sold_out",
    "journeys_failed",
    "breaker_opens",
    "ledger_duplicates",
    "ledger_oversold",
    "ledger_wasted_work",
    "ledger_early_retries",
    "recovery_s",
    "amplification_steps",
    "amplification_overall",
    "not_sent",
    "queue_wait_p50_ms",
    "queue_wait_p99_ms",
    "queue_wait_max_ms",
    "hedges",
    "hedge_wins",
    "journey_duration_p50_ms",
    "journey_duration_p95_ms",
    "journey_duration_p99_ms",
];

pub const LATENCY_HEADER: &[&str] = &[
    "fleet", "step", "kind", "count", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms",
    "max_ms",
];

pub const OUTCOMES_HEADER: &[&str] = &["fleet", "step", "outcome", "count"];

pub const RETRIES_HEADER: &[&str] = &["fleet", "attempts", "operations"];

pub const TIMESERIES_HEADER: &[&str] = &[
    "fleet",
    "t",
    "timestamp",
    "arrivals",
    "operations_started",
    "attempts",
    "retries",
    "successes",
    "status_429",
    "status_5xx",
    "timeouts",
    "network_errors",
    "in_flight",
    "breaker_opens",
    "op_count",
    "op_p50_ms",
    "op_p90_ms",
    "op_p95_ms",
    "op_p99_ms",
    "op_max_ms",
    "attempt_count",
    "attempt_p50_ms",
    "attempt_p90_ms",
    "attempt_p95_ms",
    "attempt_p99_ms",
    "attempt_max_ms",
    "not_sent",
];

/// Latency over time: one row per fleet, step (or `all`), interval and
/// kind (`operation`, `attempt`) in which something ended.
pub const LATENCY_SERIES_HEADER: &[&str] = &[
    "fleet",
    "step",
    "t_s",
    "timestamp",
    "interval_ms",
    "kind",
    "count",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
];

/// The funnel (`[journey] funnel`): journeys through each stage's step.
pub const FUNNEL_HEADER: &[&str] = &["fleet", "stage", "step", "journeys"];

/// Wait steps: their polls (SSE: connections), early polls, reconnects.
pub const WAITS_HEADER: &[&str] = &[
    "fleet",
    "step",
    "kind",
    "waits",
    "polls",
    "early_polls",
    "reconnects",
];

/// The step name used for a fleet-wide aggregate row.
pub const ALL_STEPS: &str = "all";

/// Every CSV file name with its header, in the order they are written.
pub const FILES: &[(&str, &[&str])] = &[
    ("summary.csv", SUMMARY_HEADER),
    ("latency.csv", LATENCY_HEADER),
    ("outcomes.csv", OUTCOMES_HEADER),
    ("retries.csv", RETRIES_HEADER),
    ("timeseries.csv", TIMESERIES_HEADER),
    ("latency_series.csv", LATENCY_SERIES_HEADER),
    ("funnel.csv", FUNNEL_HEADER),
    ("waits.csv", WAITS_HEADER),
];

type Rows = Vec<Vec<String>>;

/// Writes every CSV file into `dir`, each atomically; one result per
/// file, so a file that fails does not stop the others.
pub fn write_csvs(report: &Report, dir: &Path) -> Vec<Result<PathBuf, ReportError>> {
    let builders: [fn(&Report) -> Rows; 8] = [
        summary_rows,
        latency_rows,
        outcome_rows,
        retry_rows,
        timeseries_rows,
        latency_series_rows,
        funnel_rows,
        wait_rows,
    ];
    FILES
        .iter()
        .zip(builders)
        .map(|((name, header), rows)| write_csv(&dir.join(name), header, &rows(report)))
        .collect()
}

fn write_csv(path: &Path, header: &[&str], rows: &Rows) -> Result<PathBuf, ReportError> {
    super::write::write_atomic(path, |out| {
        let mut w = ::csv::Writer::from_writer(out);
        w.write_record(header)?;
        for row in rows {
            w.write_record(row)?;
        }
        w.flush()
    })
}

fn f(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        String::new()
    }
}

fn summary_rows(report: &Report) -> Rows {
    report.results.iter().map(summary_row).collect()
}

fn summary_row(c: &FleetResult) -> Vec<String> {
    let op = &c.latency.operation_latency_ms;
    let at = &c.latency.attempt_latency_ms;
    let ledger = |get: fn(&crate::model::Ledger) -> u64| {
        c.ledger
            .as_ref()
            .map_or_else(String::new, |l| get(l).to_string())
    };
    vec![
        text(&c.name).into_owned(),
        text(&c.policy).into_owned(),
        c.round.to_string(),
        f(c.share),
        c.counts.operations.to_string(),
        c.counts.attempts.to_string(),
        c.counts.retries.to_string(),
        f(c.counts.amplification),
        f(c.counts.success_rate),
        f(c.counts.goodput),
        f(c.counts.achieved_rps),
        f(op.p50),
        f(op.p90),
        f(op.p95),
        f(op.p99),
        f(op.p999),
        f(op.max),
        f(at.p50),
        f(at.p99),
        f(at.max),
        f(c.latency.schedule_lag_ms.p99),
        c.counts.journeys.succeeded.to_string(),
        c.counts.journeys.sold_out.to_string(),
        c.counts.journeys.failed.to_string(),
        c.retry.breaker_opens.to_string(),
        ledger(|l| l.duplicates),
        ledger(|l| l.oversold),
        ledger(|l| l.wasted_work),
        ledger(|l| l.early_retries),
        c.recovery_s.map_or_else(String::new, f),
        c.counts.amplification_steps.join("+"),
        f(c.counts.amplification_overall),
        c.counts.not_sent.to_string(),
        f(c.latency.queue_wait_ms.p50),
        f(c.latency.queue_wait_ms.p99),
        f(c.latency.queue_wait_ms.max),
        c.counts.hedges.to_string(),
        c.counts.hedge_wins.to_string(),
        f(c.latency.journey_duration_ms.p50),
        f(c.latency.journey_duration_ms.p95),
        f(c.latency.journey_duration_ms.p99),
    ]
}

fn latency_row(fleet: &str, step: &str, kind: &str, p: &Percentiles) -> Vec<String> {
    vec![
        text(fleet).into_owned(),
        text(step).into_owned(),
        text(kind).into_owned(),
        p.count.to_string(),
        f(p.mean),
        f(p.p50),
        f(p.p90),
        f(p.p95),
        f(p.p99),
        f(p.p999),
        f(p.max),
    ]
}

fn latency_rows(report: &Report) -> Rows {
    let mut rows = Vec::new();
    for c in &report.results {
        rows.push(latency_row(
            &c.name,
            ALL_STEPS,
            "attempt",
            &c.latency.attempt_latency_ms,
        ));
        rows.push(latency_row(
            &c.name,
            ALL_STEPS,
            "operation",
            &c.latency.operation_latency_ms,
        ));
        rows.push(latency_row(
            &c.name,
            ALL_STEPS,
            "journey",
            &c.latency.journey_duration_ms,
        ));
        rows.push(latency_row(
            &c.name,
            ALL_STEPS,
            "queue_wait",
            &c.latency.queue_wait_ms,
        ));
        for s in &c.steps {
            if let Some(first) = s
                .wait
                .as_ref()
                .and_then(|w| w.time_to_first_event_ms.as_ref())
            {
                rows.push(latency_row(&c.name, &s.name, "first_event", first));
            }
            rows.push(latency_row(
                &c.name,
                &s.name,
                "attempt",
                &s.attempt_latency_ms,
            ));
            rows.push(latency_row(
                &c.name,
                &s.name,
                "operation",
                &s.operation_latency_ms,
            ));
        }
    }
    rows
}

fn funnel_rows(report: &Report) -> Rows {
    let mut rows = Vec::new();
    for c in &report.results {
        for (i, f) in c.counts.funnel.iter().enumerate() {
            rows.push(vec![
                text(&c.name).into_owned(),
                (i + 1).to_string(),
                text(&f.step).into_owned(),
                f.journeys.to_string(),
            ]);
        }
    }
    rows
}

fn wait_rows(report: &Report) -> Rows {
    let mut rows = Vec::new();
    for c in &report.results {
        for s in &c.steps {
            if let Some(w) = &s.wait {
                let kind = match s.kind {
                    crate::model::StepKind::Sse => "sse",
                    _ => "poll",
                };
                rows.push(vec![
                    text(&c.name).into_owned(),
                    text(&s.name).into_owned(),
                    kind.to_string(),
                    s.operations.to_string(),
                    w.polls.to_string(),
                    w.early_polls.to_string(),
                    w.reconnects.to_string(),
                ]);
            }
        }
    }
    rows
}

fn outcome_rows(report: &Report) -> Rows {
    let mut rows = Vec::new();
    for c in &report.results {
        let all = std::iter::once((ALL_STEPS, &c.counts.outcomes));
        let steps = c.steps.iter().map(|s| (s.name.as_str(), &s.outcomes));
        for (step, outcomes) in all.chain(steps) {
            for (outcome, n) in outcomes {
                rows.push(vec![
                    text(&c.name).into_owned(),
                    text(step).into_owned(),
                    text(outcome).into_owned(),
                    n.to_string(),
                ]);
            }
        }
    }
    rows
}

fn retry_rows(report: &Report) -> Rows {
    let mut rows = Vec::new();
    for c in &report.results {
        for (attempts, ops) in &c.attempts_per_operation {
            rows.push(vec![
                text(&c.name).into_owned(),
                attempts.to_string(),
                ops.to_string(),
            ]);
        }
    }
    rows
}

/// RFC 3339 (UTC, milliseconds) start of second `t` of the fleet's round;
/// empty for reports from before the round start was recorded.
fn second_start(c: &FleetResult, t: u32) -> String {
    interval_start(c, u64::from(t) * 1000)
}

/// RFC 3339 (UTC, milliseconds) of `t_ms` into the fleet's round.
fn interval_start(c: &FleetResult, t_ms: u64) -> String {
    c.round_started_unix_ms.map_or_else(String::new, |ms| {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.saturating_add(t_ms));
        crate::timefmt::rfc3339_millis(at)
    })
}

/// count, p50, p90, p95, p99, max; every cell empty when nothing ended.
fn latency_cells(l: Option<&IntervalLatency>) -> [String; 6] {
    match l {
        Some(l) if l.count > 0 => [
            l.count.to_string(),
            f(l.p50),
            f(l.p90),
            f(l.p95),
            f(l.p99),
            f(l.max),
        ],
        _ => Default::default(),
    }
}

fn timeseries_rows(report: &Report) -> Rows {
    let mut rows = Vec::new();
    for c in &report.results {
        let by_second: std::collections::BTreeMap<u64, &LatencyRow> = c
            .latency
            .latency_per_second
            .iter()
            .map(|r| (r.t_ms, r))
            .collect();
        for r in &c.timeseries {
            let lat = by_second.get(&(u64::from(r.t) * 1000));
            rows.push(
                [
                    r.arrivals,
                    r.operations_started,
                    r.attempts,
                    r.retries,
                    r.successes,
                    r.status_429,
                    r.status_5xx,
                    r.timeouts,
                    r.network_errors,
                    r.in_flight,
                    r.breaker_opens,
                ]
                .iter()
                .map(u64::to_string)
                .fold(
                    vec![
                        text(&c.name).into_owned(),
                        u64::from(r.t).to_string(),
                        second_start(c, r.t),
                    ],
                    |mut row, v| {
                        row.push(v);
                        row
                    },
                )
                .into_iter()
                .chain(latency_cells(lat.map(|l| &l.operation_latency_ms)))
                .chain(latency_cells(lat.map(|l| &l.attempt_latency_ms)))
                .chain([r.not_sent.to_string()])
                .collect(),
            );
        }
    }
    rows
}

fn latency_series_rows(report: &Report) -> Rows {
    let mut rows = Vec::new();
    for c in &report.results {
        let all = std::iter::once((ALL_STEPS, &c.latency.latency_series));
        let steps = c.steps.iter().map(|s| (s.name.as_str(), &s.latency_series));
        for (step, series) in all.chain(steps) {
            for r in series.iter() {
                for (kind, l) in [
                    ("operation", &r.operation_latency_ms),
                    ("attempt", &r.attempt_latency_ms),
                ] {
                    if l.count == 0 {
                        continue;
                    }
                    let mut row = vec![
                        text(&c.name).into_owned(),
                        text(step).into_owned(),
                        f(r.t_ms as f64 / 1000.0),
                        interval_start(c, r.t_ms),
                        c.latency.latency_interval_ms.to_string(),
                        kind.to_string(),
                    ];
                    row.extend(latency_cells(Some(l)));
                    rows.push(row);
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::sample_report;

    #[test]
    fn report_csv_rows_match_headers() {
        let r = sample_report();
        for (rows, header) in [
            (summary_rows(&r), SUMMARY_HEADER),
            (latency_rows(&r), LATENCY_HEADER),
            (outcome_rows(&r), OUTCOMES_HEADER),
            (retry_rows(&r), RETRIES_HEADER),
            (timeseries_rows(&r), TIMESERIES_HEADER),
            (latency_series_rows(&r), LATENCY_SERIES_HEADER),
        ] {
            assert!(!rows.is_empty(), "{header:?}");
            for row in rows {
                assert_eq!(row.len(), header.len(), "{header:?}: {row:?}");
            }
        }
    }

    #[test]
    fn report_csv_timestamp_is_the_wall_clock_start_of_each_second() {
        let mut r = sample_report();
        let start = r.results[1].round_started_unix_ms.unwrap();
        let rows = timeseries_rows(&r);
        let ts = TIMESERIES_HEADER
            .iter()
            .position(|h| *h == "timestamp")
            .unwrap();
        let naive: Vec<&Vec<String>> = rows.iter().filter(|row| row[0] == "naive").collect();
        for row in &naive {
            let t: u64 = row[1].parse().unwrap();
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(start + t * 1000);
            assert_eq!(row[ts], crate::timefmt::rfc3339_millis(at), "{row:?}");
        }
        assert!(naive.len() > 2);
        assert_ne!(naive[0][ts], naive[1][ts]);
        r.results[1].round_started_unix_ms = None;
        assert!(
            timeseries_rows(&r)
                .iter()
                .filter(|row| row[0] == "naive")
                .all(|row| row[ts].is_empty())
        );
    }

    #[test]
    fn report_csv_ledger_cells_empty_without_ledger() {
        let mut r = sample_report();
        r.results[0].ledger = None;
        let rows = summary_rows(&r);
        let dup = SUMMARY_HEADER
            .iter()
            .position(|h| *h == "ledger_duplicates")
            .unwrap();
        assert_eq!(rows[0][dup], "");
        assert_eq!(rows[1][dup], "37");
    }

    fn col(header: &[&str], name: &str) -> usize {
        header.iter().position(|h| *h == name).unwrap()
    }

    #[test]
    fn report_csv_latency_columns_per_second_and_per_interval() {
        let mut r = sample_report();
        let c = &mut r.results[0];
        // Second 3 had nothing end: its latency cells are empty.
        c.latency.latency_per_second.retain(|l| l.t_ms != 3000);
        let want = *c
            .latency
            .latency_per_second
            .iter()
            .find(|l| l.t_ms == 5000)
            .unwrap();
        // A 100 ms series on the fleet: 2 intervals, the second attempts only.
        c.latency.latency_interval_ms = 100;
        c.latency.latency_series = vec![
            LatencyRow {
                t_ms: 1200,
                operation_latency_ms: IntervalLatency {
                    count: 4,
                    p50: 1.5,
                    p90: 2.0,
                    p95: 2.5,
                    p99: 3.0,
                    max: 9.25,
                },
                attempt_latency_ms: IntervalLatency {
                    count: 6,
                    ..IntervalLatency::default()
                },
            },
            LatencyRow {
                t_ms: 1300,
                attempt_latency_ms: IntervalLatency {
                    count: 1,
                    ..IntervalLatency::default()
                },
                ..LatencyRow::default()
            },
        ];
        let start = c.round_started_unix_ms.unwrap();
        let rows = timeseries_rows(&r);
        let h = TIMESERIES_HEADER;
        let compliant: Vec<&Vec<String>> = rows.iter().filter(|x| x[0] == "compliant").collect();
        let row5 = compliant.iter().find(|x| x[1] == "5").unwrap();
        assert_eq!(row5[col(h, "op_p99_ms")], f(want.operation_latency_ms.p99));
        assert_eq!(row5[col(h, "op_p95_ms")], f(want.operation_latency_ms.p95));
        assert_eq!(
            row5[col(h, "attempt_max_ms")],
            f(want.attempt_latency_ms.max)
        );
        assert_eq!(
            row5[col(h, "op_count")],
            want.operation_latency_ms.count.to_string()
        );
        let row3 = compliant.iter().find(|x| x[1] == "3").unwrap();
        assert!(
            row3[col(h, "op_count")..col(h, "not_sent")]
                .iter()
                .all(String::is_empty),
            "{row3:?}"
        );

        let rows = latency_series_rows(&r);
        let h = LATENCY_SERIES_HEADER;
        let fleet: Vec<&Vec<String>> = rows
            .iter()
            .filter(|x| x[0] == "compliant" && x[1] == ALL_STEPS)
            .collect();
        assert_eq!(fleet.len(), 3, "op and attempt at 1.2 s, attempt at 1.3 s");
        assert_eq!(fleet[0][col(h, "t_s")], "1.2");
        assert_eq!(fleet[0][col(h, "kind")], "operation");
        assert_eq!(fleet[0][col(h, "max_ms")], "9.25");
        assert_eq!(fleet[0][col(h, "interval_ms")], "100");
        assert_eq!(fleet[2][col(h, "kind")], "attempt");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(start + 1300);
        assert_eq!(
            fleet[2][col(h, "timestamp")],
            crate::timefmt::rfc3339_millis(at)
        );
        // Per-step rows follow, named by step.
        assert!(
            rows.iter()
                .any(|x| x[0] == "compliant" && x[1] == "reserve")
        );
    }
}
