//! Merged recorder -> the report model's [`FleetResult`].

use super::latency::LatencySeries;
use super::recorder::{Recorder, StepRec};
use super::seconds::SecondHistograms;
use super::windows::Ended;
use crate::metrics::hgrm;
use crate::model::Ledger;
use crate::model::{
    ClientHarm, FleetCounts, FleetLatency, FleetResult, FunnelStage, LatencyRow, Percentiles,
    RetryBehaviour, StepKind, StepResult, WaitStats, WindowSeries, amplification,
};
use crate::policy::RetryPolicy;
use std::collections::BTreeMap;
use std::time::Duration;

/// What the summary needs beyond the recorder.
pub struct FleetMeta<'a> {
    pub name: &'a str,
    pub policy: &'a RetryPolicy,
    pub round: usize,
    pub share: f64,
    pub step_names: &'a [String],
    /// What each step is (`[]`: every step a request).
    pub step_kinds: &'a [StepKind],
    /// Indices of the steps that mark the funnel's stages.
    pub funnel: &'a [usize],
    /// The step whose latency the headlines show.
    pub latency_step: usize,
    /// Indices of the steps the headline amplification is over (the
    /// retried work); empty means every step.
    pub amplification_steps: &'a [usize],
    pub round_duration: Duration,
    /// In-flight journeys sampled at the end of each second.
    pub in_flight: &'a [u64],
    pub ledger: Option<Ledger>,
    /// Window widths (seconds) the scenario's windowed gates ask for.
    pub window_widths: &'a [u32],
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub fn summarize(rec: &Recorder, meta: FleetMeta<'_>) -> FleetResult {
    let mut latency = super::latency::latency_series(
        rec.steps
            .iter()
            .map(|s| (&s.op_seconds, &s.attempt_seconds)),
    );
    let mut step_series = std::mem::take(&mut latency.steps).into_iter();
    let mut totals = Totals::default();
    let steps = rec
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let series = step_series.next().unwrap_or_default();
            step_result(i, s, &meta, series, &mut totals)
        })
        .collect();
    fleet_result(rec, meta, totals, steps, latency)
}

/// Counts summed over a fleet's steps; `head_*` over the steps the
/// headline amplification is measured on.
#[derive(Default)]
struct Totals {
    outcomes: BTreeMap<String, u64>,
    operations: u64,
    ok: u64,
    attempts: u64,
    not_sent: u64,
    retries: u64,
    head_ops: u64,
    head_attempts: u64,
    head_not_sent: u64,
}

/// Step `i`'s result (its latency over time is `series`), added to `totals`.
fn step_result(
    i: usize,
    s: &StepRec,
    meta: &FleetMeta<'_>,
    series: Vec<LatencyRow>,
    totals: &mut Totals,
) -> StepResult {
    totals.operations += s.ops;
    totals.ok += s.ok;
    totals.attempts += s.attempts;
    totals.not_sent += s.not_sent;
    // Polls are requests of their own, not retries: a plain step sends
    // one per operation, a wait step one per look.
    let polls: u64 = s.polls.iter().map(|(k, n)| u64::from(*k) * n).sum();
    let step_retries = s.attempts.saturating_sub(polls);
    totals.retries += step_retries;
    if meta.amplification_steps.is_empty() || meta.amplification_steps.contains(&i) {
        totals.head_ops += s.ops;
        totals.head_attempts += s.ops + step_retries;
        totals.head_not_sent += s.not_sent;
    }
    let kind = meta.step_kinds.get(i).copied().unwrap_or_default();
    // Labels are made here, at the report edge, and only here.
    let labelled: BTreeMap<String, u64> = s
        .outcomes
        .iter()
        .map(|(o, n)| (o.label().into_owned(), *n))
        .collect();
    for (k, v) in &labelled {
        *totals.outcomes.entry(k.clone()).or_default() += v;
    }
    StepResult {
        name: meta.step_names.get(i).cloned().unwrap_or_default(),
        operations: s.ops,
        attempts: s.attempts,
        not_sent: s.not_sent,
        // Retries per operation plus one, less what never left: a wait
        // step's polls are not amplification.
        amplification: amplification(s.ops, step_retries, s.not_sent),
        kind,
        retries: step_retries,
        hedges: s.hedges,
        hedge_wins: s.hedge_wins,
        journeys_passed: s.passed,
        wait: (kind != StepKind::Request).then(|| WaitStats {
            polls,
            polls_per_wait: s.polls.clone(),
            early_polls: s.early_polls,
            reconnects: if kind == StepKind::Sse {
                polls.saturating_sub(s.ops)
            } else {
                0
            },
            time_to_first_event_ms: (kind == StepKind::Sse).then(|| percentiles(&s.first_event)),
        }),
        success_rate: ratio(s.ok, s.ops),
        outcomes: labelled,
        operation_latency_ms: percentiles(&s.op_latency),
        ok_operation_latency_ms: percentiles(&s.ok_latency),
        attempt_latency_ms: percentiles(&s.attempt_latency),
        attempt_latency_by_class_ms: s
            .by_class
            .iter()
            .map(|(c, h)| (c.label().to_string(), percentiles(h)))
            .collect(),
        latency_series: series,
        windows: windows(
            meta.window_widths,
            meta.round_duration,
            Ended {
                op: &s.op_seconds,
                ok: &s.ok_seconds,
                attempt: &s.attempt_seconds,
            },
        ),
    }
}

/// The fleet's result from its recorder, its steps' results and totals,
/// and its latency over time.
fn fleet_result(
    rec: &Recorder,
    meta: FleetMeta<'_>,
    totals: Totals,
    steps: Vec<StepResult>,
    series: LatencySeries,
) -> FleetResult {
    let windows = fleet_windows(rec, &meta);
    let mut timeseries = rec.series.clone();
    for (row, v) in timeseries.iter_mut().zip(meta.in_flight) {
        row.in_flight = *v;
    }
    FleetResult {
        name: meta.name.to_string(),
        policy: meta.policy.name.clone(),
        policy_detail: meta.policy.clone(),
        round: meta.round,
        share: meta.share,
        counts: fleet_counts(rec, &meta, totals),
        latency: fleet_latency(rec, &meta, series),
        retry: RetryBehaviour {
            retry_after_honoured: rec.retry_after_honoured,
            breaker_opens: rec.breaker_opens,
            breaker_open_s: rec.breaker_open_time.as_secs_f64(),
        },
        harm: ClientHarm {
            early_retries: rec.early_retries,
            key_changed_after_ambiguous: rec.key_changed_after_ambiguous,
            sent_while_told_to_wait: rec.sent_while_told_to_wait,
        },
        attempts_per_operation: rec.attempts_per_op.clone(),
        steps,
        timeseries,
        ledger: meta.ledger,
        truth: None,
        // Needs the report's trigger; filled in by `run/report.rs`.
        recovery_s: None,
        // The round's wall-clock start; filled in by `run/rounds.rs`.
        round_started_unix_ms: None,
        windows,
    }
}

/// A fleet's counts: its steps' totals, journeys, the funnel and the rates
/// over the round's time.
fn fleet_counts(rec: &Recorder, meta: &FleetMeta<'_>, totals: Totals) -> FleetCounts {
    let Totals {
        outcomes,
        operations,
        ok,
        attempts,
        not_sent,
        retries,
        head_ops,
        head_attempts,
        head_not_sent,
    } = totals;
    let secs = meta.round_duration.as_secs_f64().max(1e-9);
    FleetCounts {
        operations,
        attempts,
        not_sent,
        retries,
        hedges: rec.steps.iter().map(|s| s.hedges).sum(),
        hedge_wins: rec.steps.iter().map(|s| s.hedge_wins).sum(),
        amplification: amplification(head_ops, head_attempts - head_ops, head_not_sent),
        amplification_steps: if meta.amplification_steps.is_empty() {
            meta.step_names.to_vec()
        } else {
            meta.amplification_steps
                .iter()
                .filter_map(|i| meta.step_names.get(*i).cloned())
                .collect()
        },
        amplification_overall: amplification(operations, retries, not_sent),
        success_rate: ratio(ok, operations),
        goodput: rec.journeys.succeeded as f64 / secs,
        // What the target was sent: attempts that never left do not count.
        achieved_rps: attempts.saturating_sub(not_sent) as f64 / secs,
        round_duration_s: meta.round_duration.as_secs_f64(),
        journeys: rec.journeys,
        outcomes,
        relogins: rec.relogins,
        funnel: meta
            .funnel
            .iter()
            .map(|&i| FunnelStage {
                step: meta.step_names.get(i).cloned().unwrap_or_default(),
                journeys: rec.steps.get(i).map_or(0, |s| s.passed),
            })
            .collect(),
    }
}

/// A fleet's latencies: every operation, the OK ones, every attempt, the
/// waits around them, their spectra and series.
fn fleet_latency(rec: &Recorder, meta: &FleetMeta<'_>, series: LatencySeries) -> FleetLatency {
    let op_latency = rec.op_latency();
    let attempt_latency = rec.attempt_latency();
    let mut ok = super::new_histogram();
    for s in &rec.steps {
        let _ = ok.add(&s.ok_latency);
    }
    FleetLatency {
        operation_latency_ms: percentiles(&op_latency),
        ok_operation_latency_ms: percentiles(&ok),
        attempt_latency_ms: percentiles(&attempt_latency),
        backoff_wait_ms: percentiles(&rec.backoff_wait),
        schedule_lag_ms: percentiles(&rec.schedule_lag),
        queue_wait_ms: percentiles(&rec.queue_wait),
        journey_duration_ms: percentiles(&rec.journey_duration),
        latency_step: meta.step_names.get(meta.latency_step).cloned(),
        operation_spectrum: hgrm::spectrum(&op_latency, US_PER_MS),
        attempt_spectrum: hgrm::spectrum(&attempt_latency, US_PER_MS),
        latency_interval_ms: series.interval_ms,
        latency_series: series.fleet,
        latency_per_second: series.per_second,
    }
}

fn windows(widths: &[u32], round: Duration, ended: Ended<'_>) -> Vec<WindowSeries> {
    widths
        .iter()
        .map(|w| super::windows::series(*w, round, ended))
        .collect()
}

/// The fleet's windows: every step's intervals summed.
fn fleet_windows(rec: &Recorder, meta: &FleetMeta<'_>) -> Vec<WindowSeries> {
    if meta.window_widths.is_empty() {
        return Vec::new();
    }
    let mut sum = [(); 3].map(|_| SecondHistograms::default());
    for s in &rec.steps {
        sum[0] += &s.op_seconds;
        sum[1] += &s.ok_seconds;
        sum[2] += &s.attempt_seconds;
    }
    let [op, ok, attempt] = &sum;
    windows(
        meta.window_widths,
        meta.round_duration,
        Ended { op, ok, attempt },
    )
}

/// Histograms are recorded in microseconds; the report speaks milliseconds.
pub const US_PER_MS: f64 = 1000.0;

fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Percentiles {
    hgrm::percentiles(h, US_PER_MS)
}
