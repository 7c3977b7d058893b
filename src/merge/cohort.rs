//! One cohort assembled from parts: counters summed, per-second rows summed
//! by second, histograms added bucket by bucket, and every derived figure
//! (rates, percentiles, spectra) computed again from those sums, exactly as
//! `metrics::summarize` computes them for a single run.

use crate::metrics::{US_PER_MS, new_histogram};
use crate::report::hgrm;
use crate::report::hlog::{self, HlogFile, TAG_ATTEMPT, TAG_BACKOFF, TAG_LAG, TAG_OP};
use crate::report::{CohortResult, SecondRow};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;

/// The histograms of one step (µs).
#[derive(Debug, Clone)]
pub struct StepHists {
    pub op: Histogram<u64>,
    pub attempt: Histogram<u64>,
    pub by_class: BTreeMap<String, Histogram<u64>>,
}

impl Default for StepHists {
    fn default() -> Self {
        StepHists {
            op: new_histogram(),
            attempt: new_histogram(),
            by_class: BTreeMap::new(),
        }
    }
}

/// The histograms of one cohort, from its `.hlog` files.
#[derive(Debug, Clone)]
pub struct CohortHists {
    pub steps: Vec<StepHists>,
    pub backoff: Histogram<u64>,
    pub lag: Histogram<u64>,
    /// Per-second op/attempt over every step, by second since BaseTime.
    pub op_seconds: BTreeMap<u32, Histogram<u64>>,
    pub attempt_seconds: BTreeMap<u32, Histogram<u64>>,
    /// BaseTime of the fleet file (the round's wall-clock start).
    pub base_time: Option<std::time::Duration>,
}

impl CohortHists {
    pub fn new(steps: usize) -> Self {
        CohortHists {
            steps: (0..steps).map(|_| StepHists::default()).collect(),
            backoff: new_histogram(),
            lag: new_histogram(),
            op_seconds: BTreeMap::new(),
            attempt_seconds: BTreeMap::new(),
            base_time: None,
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
        let read = |name: String| -> Result<HlogFile, String> {
            let path = dir.join(name);
            if !lenient {
                return HlogFile::read(&path).map_err(|e| e.to_string());
            }
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            HlogFile::parse(super::partial::complete_lines(&bytes), &path)
                .map_err(|e| e.to_string())
        };
        let fleet_name = hlog::file_name(fleet, None);
        let f = read(fleet_name.clone())?;
        let named = |e: String| format!("{}: {e}", dir.join(&fleet_name).display());
        out.backoff = f.sum(TAG_BACKOFF, &like).map_err(named)?;
        out.lag = f.sum(TAG_LAG, &like).map_err(named)?;
        out.op_seconds = f.per_second(TAG_OP);
        out.attempt_seconds = f.per_second(TAG_ATTEMPT);
        out.base_time = f.base_time;
        for (s, name) in out.steps.iter_mut().zip(step_names) {
            let file = hlog::file_name(fleet, Some(name));
            let h = read(file.clone())?;
            let named = |e: String| format!("{}: {e}", dir.join(&file).display());
            s.op = h.sum(TAG_OP, &like).map_err(named)?;
            s.attempt = h.sum(TAG_ATTEMPT, &like).map_err(named)?;
            for tag in h.tags() {
                if let Some(class) = tag.strip_prefix(&format!("{TAG_ATTEMPT}.")) {
                    s.by_class
                        .insert(class.to_string(), h.sum(tag, &like).map_err(named)?);
                }
            }
        }
        Ok(out)
    }

    /// Add `o` bucket by bucket; per-second maps shifted by `shift` seconds.
    pub fn add(&mut self, o: &CohortHists, shift: u32) -> Result<(), String> {
        let add = |a: &mut Histogram<u64>, b: &Histogram<u64>| -> Result<(), String> {
            hlog::same_settings(a, b)?;
            a.add(b).map_err(|e| format!("{e:?}"))
        };
        for (a, b) in self.steps.iter_mut().zip(&o.steps) {
            add(&mut a.op, &b.op)?;
            add(&mut a.attempt, &b.attempt)?;
            for (k, h) in &b.by_class {
                add(a.by_class.entry(k.clone()).or_insert_with(new_histogram), h)?;
            }
        }
        add(&mut self.backoff, &o.backoff)?;
        add(&mut self.lag, &o.lag)?;
        for (mine, theirs) in [
            (&mut self.op_seconds, &o.op_seconds),
            (&mut self.attempt_seconds, &o.attempt_seconds),
        ] {
            for (s, h) in theirs {
                add(mine.entry(s + shift).or_insert_with(new_histogram), h)?;
            }
        }
        Ok(())
    }
}

/// Sum `b`'s counters into `a` (same cohort, same steps). Per-second rows
/// are summed by second, `b`'s shifted by `shift` seconds.
pub fn add_counters(a: &mut CohortResult, b: &CohortResult, shift: u32) {
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
    // success_rate is ok / operations of each part: carry ok as the sum.
    let ok = |c: &CohortResult| (c.success_rate * c.operations as f64).round();
    let ok_sum = ok(a) + ok(b);
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
        s.operation_latency_ms = pct(&sh.op);
        s.attempt_latency_ms = pct(&sh.attempt);
        s.attempt_latency_by_class_ms = sh
            .by_class
            .iter()
            .map(|(k, v)| (k.clone(), pct(v)))
            .collect();
        if c.amplification_steps.is_empty() || c.amplification_steps.contains(&s.name) {
            head_ops += s.operations;
            head_attempts += s.attempts;
        }
        let _ = op.add(&sh.op);
        let _ = attempt.add(&sh.attempt);
    }
    c.retries = c.attempts.saturating_sub(c.operations);
    c.amplification = ratio(head_attempts, head_ops);
    c.amplification_overall = ratio(c.attempts, c.operations);
    let secs = c.round_duration_s.max(1e-9);
    c.goodput = c.journeys.succeeded as f64 / secs;
    c.achieved_rps = c.attempts as f64 / secs;
    c.operation_latency_ms = pct(&op);
    c.attempt_latency_ms = pct(&attempt);
    c.backoff_wait_ms = pct(&h.backoff);
    c.schedule_lag_ms = pct(&h.lag);
    c.operation_spectrum = hgrm::spectrum(&op, US_PER_MS);
    c.attempt_spectrum = hgrm::spectrum(&attempt, US_PER_MS);
}
