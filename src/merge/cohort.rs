//! One cohort assembled from parts: counters summed, per-second rows summed
//! by second, histograms added bucket by bucket, and every derived figure
//! (rates, percentiles, spectra) computed again from those sums, exactly as
//! `metrics::summarize` computes them for a single run.

use crate::metrics::SecondHistograms;
use crate::metrics::{US_PER_MS, new_histogram};
use crate::report::hgrm;
use crate::report::hlog::{self, TAG_ATTEMPT, TAG_BACKOFF, TAG_LAG, TAG_OP};
use crate::report::{CohortResult, SecondRow};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The histograms of one step (µs), sparse, by second since BaseTime.
#[derive(Debug, Clone, Default)]
pub struct StepHists {
    pub op: SecondHistograms,
    pub attempt: SecondHistograms,
    /// Whole-round attempt latency per status class (at second 0).
    pub by_class: BTreeMap<String, SecondHistograms>,
}

/// The histograms of one cohort, from its `.hlog` files.
#[derive(Debug, Clone, Default)]
pub struct CohortHists {
    pub steps: Vec<StepHists>,
    /// Whole-round (at second 0).
    pub backoff: SecondHistograms,
    pub lag: SecondHistograms,
    /// BaseTime of the fleet file (the round's wall-clock start).
    pub base_time: Option<Duration>,
}

/// Where each tag of a file goes.
fn slot<'a>(
    step: Option<&'a mut StepHists>,
    fleet: (&'a mut SecondHistograms, &'a mut SecondHistograms),
    tag: &str,
) -> Option<&'a mut SecondHistograms> {
    match step {
        Some(s) => match tag {
            TAG_OP => Some(&mut s.op),
            TAG_ATTEMPT => Some(&mut s.attempt),
            t => t
                .strip_prefix(TAG_ATTEMPT)
                .and_then(|c| c.strip_prefix('.'))
                .map(|c| s.by_class.entry(c.to_string()).or_default()),
        },
        // The fleet file's op/attempt are the steps' sums: not read.
        None => match tag {
            TAG_BACKOFF => Some(fleet.0),
            TAG_LAG => Some(fleet.1),
            _ => None,
        },
    }
}

impl CohortHists {
    pub fn new(steps: usize) -> Self {
        CohortHists {
            steps: (0..steps).map(|_| StepHists::default()).collect(),
            ..CohortHists::default()
        }
    }

    /// Read `<fleet>.hlog` and `<fleet>.<step>.hlog` from `dir`; any bad
    /// line, a cut last line included, is an error naming file and line.
    pub fn read(dir: &Path, fleet: &str, step_names: &[String]) -> Result<Self, String> {
        Self::read_with(dir, fleet, step_names, false)
    }

    /// Like [`CohortHists::read`], but a last line cut short (a streamed
    /// log of a run that was killed) is dropped.
    pub fn read_lenient(dir: &Path, fleet: &str, step_names: &[String]) -> Result<Self, String> {
        Self::read_with(dir, fleet, step_names, true)
    }

    fn read_with(
        dir: &Path,
        fleet: &str,
        step_names: &[String],
        lenient: bool,
    ) -> Result<Self, String> {
        let like = new_histogram();
        let mut out = CohortHists::new(step_names.len());
        let files = std::iter::once((None, hlog::file_name(fleet, None))).chain(
            step_names
                .iter()
                .enumerate()
                .map(|(i, s)| (Some(i), hlog::file_name(fleet, Some(s)))),
        );
        for (step, name) in files {
            let path = dir.join(&name);
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let bytes = if lenient {
                super::partial::complete_lines(&bytes)
            } else {
                &bytes[..]
            };
            let CohortHists {
                steps,
                backoff,
                lag,
                ..
            } = &mut out;
            let (_, base) = hlog::scan(bytes, &path, |raw| {
                let Some(target) = slot(step.map(|i| &mut steps[i]), (backoff, lag), raw.tag)
                else {
                    return Ok(());
                };
                let h = raw.decode()?;
                hlog::same_settings(&h, &like).map_err(|e| raw.error(e))?;
                let second = u32::try_from(raw.start.as_secs()).unwrap_or(u32::MAX);
                target.add_histogram(second, &h);
                Ok(())
            })
            .map_err(|e| e.to_string())?;
            if step.is_none() {
                out.base_time = base;
            }
        }
        Ok(out)
    }

    /// Add `o` bucket by bucket, its seconds shifted by `shift`.
    pub fn add(&mut self, o: &CohortHists, shift: u32) {
        for (a, b) in self.steps.iter_mut().zip(&o.steps) {
            a.op.add_shifted(&b.op, shift);
            a.attempt.add_shifted(&b.attempt, shift);
            for (k, h) in &b.by_class {
                *a.by_class.entry(k.clone()).or_default() += h;
            }
        }
        self.backoff += &o.backoff;
        self.lag += &o.lag;
    }
}

/// Sum `b`'s counters into `a` (same cohort, same steps). Per-second rows
/// are summed by second, `b`'s shifted by `shift` seconds.
pub fn add_counters(a: &mut CohortResult, b: &CohortResult, shift: u32) {
    // success_rate is ok / operations of each part: carry ok as the sum.
    let ok = |c: &CohortResult| (c.success_rate * c.operations as f64).round();
    let ok_sum = ok(a) + ok(b);
    a.operations += b.operations;
    a.attempts += b.attempts;
    a.journeys += b.journeys;
    for (k, v) in &b.outcomes {
        *a.outcomes.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &b.attempts_per_operation {
        *a.attempts_per_operation.entry(*k).or_default() += v;
    }
    a.retry_after_honoured += b.retry_after_honoured;
    a.early_retries += b.early_retries;
    a.breaker_opens += b.breaker_opens;
    a.breaker_open_s += b.breaker_open_s;
    a.round_duration_s = a
        .round_duration_s
        .max(b.round_duration_s + f64::from(shift));
    for (x, y) in a.steps.iter_mut().zip(&b.steps) {
        let sok = (x.success_rate * x.operations as f64).round()
            + (y.success_rate * y.operations as f64).round();
        x.operations += y.operations;
        x.attempts += y.attempts;
        x.success_rate = ratio_f(sok, x.operations);
        for (k, v) in &y.outcomes {
            *x.outcomes.entry(k.clone()).or_default() += v;
        }
    }
    a.success_rate = ratio_f(ok_sum, a.operations);
    add_rows(&mut a.timeseries, &b.timeseries, shift);
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

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn ratio_f(a: f64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a / b as f64 }
}

fn pct(h: &Histogram<u64>) -> crate::report::Percentiles {
    hgrm::percentiles(h, US_PER_MS)
}

/// Every figure derived from the counters and histograms, computed again.
pub fn refresh(c: &mut CohortResult, h: &CohortHists) {
    let (mut head_ops, mut head_attempts) = (0, 0);
    let mut op = new_histogram();
    let mut attempt = new_histogram();
    for (s, sh) in c.steps.iter_mut().zip(&h.steps) {
        s.amplification = ratio(s.attempts, s.operations);
        let (sop, sat) = (sh.op.total(), sh.attempt.total());
        s.operation_latency_ms = pct(&sop);
        s.attempt_latency_ms = pct(&sat);
        s.attempt_latency_by_class_ms = sh
            .by_class
            .iter()
            .map(|(k, v)| (k.clone(), pct(&v.total())))
            .collect();
        if c.amplification_steps.is_empty() || c.amplification_steps.contains(&s.name) {
            head_ops += s.operations;
            head_attempts += s.attempts;
        }
        let _ = op.add(&sop);
        let _ = attempt.add(&sat);
    }
    c.retries = c.attempts.saturating_sub(c.operations);
    c.amplification = ratio(head_attempts, head_ops);
    c.amplification_overall = ratio(c.attempts, c.operations);
    let secs = c.round_duration_s.max(1e-9);
    c.goodput = c.journeys.succeeded as f64 / secs;
    c.achieved_rps = c.attempts as f64 / secs;
    c.operation_latency_ms = pct(&op);
    c.attempt_latency_ms = pct(&attempt);
    c.backoff_wait_ms = pct(&h.backoff.total());
    c.schedule_lag_ms = pct(&h.lag.total());
    c.operation_spectrum = hgrm::spectrum(&op, US_PER_MS);
    c.attempt_spectrum = hgrm::spectrum(&attempt, US_PER_MS);
    // Latency over time, per second (what the .hlog files hold).
    let lat = crate::metrics::latency::cohort_latency(h.steps.iter().map(|s| (&s.op, &s.attempt)));
    for (s, rows) in c.steps.iter_mut().zip(lat.steps) {
        s.latency_series = rows;
    }
    c.latency_interval_ms = lat.interval_ms;
    c.latency_series = lat.fleet;
    c.latency_per_second = lat.per_second;
}
