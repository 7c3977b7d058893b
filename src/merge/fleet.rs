//! One fleet assembled from parts: counters summed, per-second rows summed
//! by second, histograms added bucket by bucket, and every derived figure
//! (rates, percentiles, spectra) computed again from those sums, exactly as
//! `metrics::summarize` computes them for a single run.

pub use super::hists::{FleetHists, Source, StepHists};
use crate::metrics::hgrm;
use crate::metrics::{US_PER_MS, new_histogram};
use crate::report::{FleetResult, SecondRow, amplification};
use hdrhistogram::Histogram;

/// Sum `b`'s counters into `a` (same fleet, same steps). Per-second rows
/// are summed by second, `b`'s shifted by `shift` seconds.
pub fn add_counters(a: &mut FleetResult, b: &FleetResult, shift: u32) {
    // success_rate is ok / operations of each part: carry ok as the sum.
    let ok = |c: &FleetResult| (c.counts.success_rate * c.counts.operations as f64).round();
    let ok_sum = ok(a) + ok(b);
    a.counts.operations += b.counts.operations;
    a.counts.attempts += b.counts.attempts;
    a.counts.not_sent += b.counts.not_sent;
    a.counts.hedges += b.counts.hedges;
    a.counts.hedge_wins += b.counts.hedge_wins;
    a.counts.journeys += b.counts.journeys;
    for (k, v) in &b.counts.outcomes {
        *a.counts.outcomes.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &b.attempts_per_operation {
        *a.attempts_per_operation.entry(*k).or_default() += v;
    }
    a.retry += &b.retry;
    a.harm += &b.harm;
    a.counts.relogins += b.counts.relogins;
    for (x, y) in a.counts.funnel.iter_mut().zip(&b.counts.funnel) {
        x.journeys += y.journeys;
    }
    a.counts.round_duration_s = a
        .counts
        .round_duration_s
        .max(b.counts.round_duration_s + f64::from(shift));
    for (x, y) in a.steps.iter_mut().zip(&b.steps) {
        let sok = (x.success_rate * x.operations as f64).round()
            + (y.success_rate * y.operations as f64).round();
        x.operations += y.operations;
        x.attempts += y.attempts;
        x.not_sent += y.not_sent;
        x.retries += y.retries;
        x.hedges += y.hedges;
        x.hedge_wins += y.hedge_wins;
        x.journeys_passed += y.journeys_passed;
        x.success_rate = ratio_f(sok, x.operations);
        match (&mut x.wait, &y.wait) {
            (Some(w), Some(v)) => {
                w.polls += v.polls;
                w.early_polls += v.early_polls;
                w.reconnects += v.reconnects;
                for (k, n) in &v.polls_per_wait {
                    *w.polls_per_wait.entry(*k).or_default() += n;
                }
                // Percentiles cannot be added: no .hlog keeps this one.
                w.time_to_first_event_ms = None;
            }
            (w @ None, Some(v)) => *w = Some(v.clone()),
            _ => {}
        }
        for (k, v) in &y.outcomes {
            *x.outcomes.entry(k.clone()).or_default() += v;
        }
    }
    a.counts.success_rate = ratio_f(ok_sum, a.counts.operations);
    add_rows(&mut a.timeseries, &b.timeseries, shift);
}

/// Rows one round may hold when its report does not record its length: the
/// longest duration a scenario may ask for, plus an hour of drain.
pub const MAX_ROWS: u32 = crate::scenario::bounds::MAX_DURATION.as_secs() as u32 + 3600;

/// The last second a round described by `origin` can have a row for:
/// twice its bounded length plus a minute (a loaded machine overruns a
/// little), never more than [`MAX_ROWS`].
pub fn row_limit(origin: &crate::report::Origin) -> u32 {
    origin
        .round_s
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(MAX_ROWS, |s| ((s.ceil() * 2.0) as u32).saturating_add(60))
        .min(MAX_ROWS)
}

/// Refuse a row past `limit` (a damaged or hostile file), naming `what`.
pub fn check_rows(rows: &[SecondRow], limit: u32, what: &str) -> Result<(), String> {
    match rows.iter().find(|r| r.t > limit) {
        Some(r) => Err(format!(
            "{what}: a row for second {} of a round that cannot be longer than {limit} s: the file is damaged",
            r.t
        )),
        None => Ok(()),
    }
}

/// `rows` += `more` by second, `more` shifted by `shift`.
pub fn add_rows(rows: &mut Vec<SecondRow>, more: &[SecondRow], shift: u32) {
    for r in more {
        let t = r.t.saturating_add(shift);
        let i = t as usize;
        if rows.len() <= i {
            let start = rows.len();
            rows.extend((start..=i).map(|k| SecondRow {
                t: k as u32,
                ..SecondRow::default()
            }));
        }
        rows[i] += *r;
    }
}

fn ratio_f(a: f64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a / b as f64 }
}

fn pct(h: &Histogram<u64>) -> crate::report::Percentiles {
    hgrm::percentiles(h, US_PER_MS)
}

/// Every figure derived from the counters and histograms, computed again.
pub fn refresh(c: &mut FleetResult, h: &FleetHists) {
    let (mut head_ops, mut head_retries, mut head_not_sent) = (0, 0, 0);
    let mut op = new_histogram();
    let mut ok = new_histogram();
    let mut attempt = new_histogram();
    // Gate windows are cut by the run that measured; the histograms read
    // back here are per second and do not keep good latency per second, so
    // a merged or rebuilt report has none (its windowed gates: no_windows).
    c.windows.clear();
    for (s, sh) in c.steps.iter_mut().zip(&h.steps) {
        s.windows.clear();
        s.amplification = amplification(s.operations, s.retries, s.not_sent);
        let (sop, sat) = (&sh.op, &sh.attempt);
        s.operation_latency_ms = pct(sop);
        s.ok_operation_latency_ms = pct(&sh.ok);
        let _ = ok.add(&sh.ok);
        s.attempt_latency_ms = pct(sat);
        s.attempt_latency_by_class_ms = sh
            .by_class
            .iter()
            .map(|(k, v)| (k.clone(), pct(v)))
            .collect();
        if c.counts.amplification_steps.is_empty() || c.counts.amplification_steps.contains(&s.name)
        {
            head_ops += s.operations;
            head_retries += s.retries;
            head_not_sent += s.not_sent;
        }
        let _ = op.add(sop);
        let _ = attempt.add(sat);
    }
    c.counts.retries = c.steps.iter().map(|s| s.retries).sum();
    c.counts.not_sent = c.steps.iter().map(|s| s.not_sent).sum();
    c.counts.amplification = amplification(head_ops, head_retries, head_not_sent);
    c.counts.amplification_overall =
        amplification(c.counts.operations, c.counts.retries, c.counts.not_sent);
    c.latency.journey_duration_ms = pct(&h.journey);
    let secs = c.counts.round_duration_s.max(1e-9);
    c.counts.goodput = c.counts.journeys.succeeded as f64 / secs;
    c.counts.achieved_rps = c.counts.attempts.saturating_sub(c.counts.not_sent) as f64 / secs;
    c.latency.operation_latency_ms = pct(&op);
    c.latency.ok_operation_latency_ms = pct(&ok);
    c.latency.attempt_latency_ms = pct(&attempt);
    c.latency.backoff_wait_ms = pct(&h.backoff);
    c.latency.schedule_lag_ms = pct(&h.lag);
    c.latency.queue_wait_ms = pct(&h.queue);
    c.latency.operation_spectrum = hgrm::spectrum(&op, US_PER_MS);
    c.latency.attempt_spectrum = hgrm::spectrum(&attempt, US_PER_MS);
    // Latency over time, per second (what the .hlog files hold).
    for (s, sh) in c.steps.iter_mut().zip(&h.steps) {
        s.latency_series = sh.series.clone();
    }
    c.latency.latency_interval_ms = 1000;
    c.latency.latency_series = h.series.clone();
    c.latency.latency_per_second = h.series.clone();
}
