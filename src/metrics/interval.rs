//! A fleet's recorder as `.hlog` interval logs ([`crate::metrics::hlog`]):
//!
//! - `<fleet>.<step>.hlog`: per second, `op` and `attempt` latency of that
//!   step (the second each ended in), then one whole-round interval per
//!   status class (`attempt.2xx`, `attempt.5xx`, ...);
//! - `<fleet>.hlog`: per second, `op` and `attempt` over every step (what a
//!   plotting tool wants), then whole-round `backoff` and `lag`.
//!
//! `stampede merge` reads the step files (and `backoff` / `lag` from the
//! fleet file); the fleet file's `op` / `attempt` are their per-second sums.

use super::recorder::{Recorder, StepRec};
use super::seconds::SecondHistograms;
use crate::metrics::hlog::{
    self, TAG_ATTEMPT, TAG_BACKOFF, TAG_JOURNEY, TAG_LAG, TAG_OP, TAG_OP_OK, TAG_QUEUE,
};
use hdrhistogram::Histogram;
use std::io::{self, Write};
use std::time::{Duration, SystemTime};

const SECOND: Duration = Duration::from_secs(1);

/// Append every second of `h` as `tag` intervals.
pub fn write_seconds(out: &mut impl Write, tag: &str, h: &SecondHistograms) -> io::Result<()> {
    for (s, hist) in h.seconds() {
        hlog::write_interval(out, tag, Duration::from_secs(u64::from(s)), SECOND, &hist)?;
    }
    Ok(())
}

pub fn whole(
    out: &mut impl Write,
    tag: &str,
    round: Duration,
    h: &Histogram<u64>,
) -> io::Result<()> {
    if h.is_empty() {
        return Ok(());
    }
    hlog::write_interval(out, tag, Duration::ZERO, round.max(SECOND), h)
}

/// One step's file: per-second op/attempt, whole-round per-class attempts.
pub fn step_file(
    what: &str,
    step: &StepRec,
    base: SystemTime,
    round: Duration,
) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    hlog::write_header(&mut out, what, base)?;
    write_step_seconds(&mut out, step)?;
    for (class, h) in &step.by_class {
        whole(&mut out, &hlog::class_tag(class.label()), round, h)?;
    }
    whole(&mut out, TAG_OP_OK, round, &step.ok_latency)?;
    Ok(out)
}

/// Per-second `op` and `attempt` lines of one step, second by second.
pub fn write_step_seconds(out: &mut impl Write, step: &StepRec) -> io::Result<()> {
    write_pairs(out, &step.op_seconds, &step.attempt_seconds)
}

/// `op` and `attempt` interleaved by second, so the log stays in time order.
pub fn write_pairs(
    out: &mut impl Write,
    op: &SecondHistograms,
    attempt: &SecondHistograms,
) -> io::Result<()> {
    let mut seconds: Vec<u32> = op.seconds_with_samples().collect();
    seconds.extend(attempt.seconds_with_samples());
    seconds.sort_unstable();
    seconds.dedup();
    for s in seconds {
        let at = Duration::from_secs(u64::from(s));
        for (tag, h) in [(TAG_OP, op), (TAG_ATTEMPT, attempt)] {
            let hist = h.histogram(s);
            if !hist.is_empty() {
                hlog::write_interval(out, tag, at, SECOND, &hist)?;
            }
        }
    }
    Ok(())
}

/// Per-second `op` and `attempt` over every step of a recorder.
pub fn write_fleet_seconds(out: &mut impl Write, rec: &Recorder) -> io::Result<()> {
    let (mut op, mut attempt) = (SecondHistograms::default(), SecondHistograms::default());
    for s in &rec.steps {
        op += &s.op_seconds;
        attempt += &s.attempt_seconds;
    }
    write_pairs(out, &op, &attempt)
}

/// The fleet file: per-second op/attempt over all steps, whole-round backoff and lag.
pub fn fleet_file(
    what: &str,
    rec: &Recorder,
    base: SystemTime,
    round: Duration,
) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    hlog::write_header(&mut out, what, base)?;
    write_fleet_seconds(&mut out, rec)?;
    whole(&mut out, TAG_BACKOFF, round, &rec.backoff_wait)?;
    whole(&mut out, TAG_LAG, round, &rec.schedule_lag)?;
    whole(&mut out, TAG_QUEUE, round, &rec.queue_wait)?;
    whole(&mut out, TAG_JOURNEY, round, &rec.journey_duration)?;
    Ok(out)
}

/// Every `.hlog` of one fleet: (file name, bytes), the fleet file first.
pub fn fleet_files(
    fleet: &str,
    step_names: &[String],
    rec: &Recorder,
    base: SystemTime,
    round: Duration,
) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = vec![(
        hlog::file_name(fleet, None),
        fleet_file(fleet, rec, base, round)?,
    )];
    for (step, name) in rec.steps.iter().zip(step_names) {
        let what = format!("{fleet}.{name}");
        files.push((
            hlog::file_name(fleet, Some(name)),
            step_file(&what, step, base, round)?,
        ));
    }
    Ok(files)
}
