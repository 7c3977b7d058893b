//! Writing a merged report: every format a run writes (summary.json, CSV,
//! HTML, JUnit, `.hgrm`, `.hlog`), each file atomically.

use super::Merged;
use super::fleet::FleetHists;
use crate::metrics::hlog::{self, TAG_BACKOFF, TAG_JOURNEY, TAG_LAG, TAG_OP_OK, TAG_QUEUE};
use crate::metrics::interval::whole;
use crate::metrics::{US_PER_MS, new_histogram};
use crate::report::{FleetResult, ReportError, Writes};
use std::path::Path;
use std::time::{Duration, SystemTime};

fn hlog_files(c: &FleetResult, h: &FleetHists) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let base = SystemTime::UNIX_EPOCH + h.base_time.unwrap_or_default();
    let round = Duration::from_secs_f64(c.counts.round_duration_s.max(0.0));
    let mut fleet = Vec::new();
    hlog::write_header(&mut fleet, &c.name, base)?;
    for chunk in &h.seconds_log {
        fleet.extend_from_slice(chunk);
    }
    whole(&mut fleet, TAG_BACKOFF, round, &h.backoff)?;
    whole(&mut fleet, TAG_LAG, round, &h.lag)?;
    whole(&mut fleet, TAG_QUEUE, round, &h.queue)?;
    whole(&mut fleet, TAG_JOURNEY, round, &h.journey)?;
    let mut files = vec![(hlog::file_name(&c.name, None), fleet)];
    for (s, sh) in c.steps.iter().zip(&h.steps) {
        let mut out = Vec::new();
        hlog::write_header(&mut out, &format!("{}.{}", c.name, s.name), base)?;
        for chunk in &sh.seconds_log {
            out.extend_from_slice(chunk);
        }
        for (class, hc) in &sh.by_class {
            whole(&mut out, &hlog::class_tag(class), round, hc)?;
        }
        whole(&mut out, TAG_OP_OK, round, &sh.ok)?;
        files.push((hlog::file_name(&c.name, Some(&s.name)), out));
    }
    Ok(files)
}

/// Write every file of `m` into `out` (created if missing).
pub fn write_merged(m: &Merged, out: &Path) -> Result<Writes, ReportError> {
    let mut writes = crate::report::write_every(&m.report, out)?;
    for (c, h) in m.report.results.iter().zip(&m.hists) {
        let (mut op, mut attempt) = (new_histogram(), new_histogram());
        for s in &h.steps {
            let _ = op.add(&s.op);
            let _ = attempt.add(&s.attempt);
        }
        for (kind, hist) in [("operation", op), ("attempt", attempt)] {
            writes.push(crate::report::write::write_bytes_atomic(
                &out.join(crate::metrics::hgrm::file_name(&format!(
                    "{}-{kind}",
                    c.name
                ))),
                &crate::metrics::hgrm::text(&hist, US_PER_MS),
            ));
        }
        match hlog_files(c, h) {
            Ok(files) => {
                for (name, bytes) in files {
                    writes.push(crate::report::write::write_bytes_atomic(
                        &out.join(name),
                        &bytes,
                    ));
                }
            }
            Err(source) => writes.push(Err(ReportError::Write {
                path: out.join(hlog::file_name(&c.name, None)),
                source,
            })),
        }
    }
    Ok(writes)
}
