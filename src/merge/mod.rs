//! Reports assembled from files: `stampede merge` of shard folders
//! ([`merge`]), and the incomplete report of a run that died ([`partial`]).
//!
//! A merge is exact: counters are summed, per-second rows summed by
//! wall-clock second, histograms added bucket by bucket from the shards'
//! `.hlog` files, and every percentile computed from those sums, so the
//! merged p99 is the p99 of one histogram holding every shard's samples.
//! Everything is read and checked before anything is written.

pub mod fleet;
mod hists;
pub mod partial;
mod shared_ledger;
mod write;

pub use write::write_merged;

use crate::report::json::SUMMARY_FILE;
use crate::report::{FleetResult, Report, RunStatus, SCHEMA_VERSION, Shard};
use fleet::{FleetHists, Source, add_counters, refresh};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A merge that was refused, with the reason (files and lines named).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(pub String);

fn err(s: impl Into<String>) -> MergeError {
    MergeError(s.into())
}

/// The merged report and its histograms (for `.hgrm` and `.hlog` files).
pub struct Merged {
    pub report: Report,
    pub hists: Vec<FleetHists>,
}

/// One shard folder's summary, read and checked; its histograms are read
/// one folder at a time into the sum, so memory holds one set, not N.
struct Part {
    dir: PathBuf,
    report: Report,
}

fn read_part(dir: &Path) -> Result<Part, MergeError> {
    if !dir.is_dir() {
        return Err(err(format!("{} is not a folder", dir.display())));
    }
    let summary = dir.join(SUMMARY_FILE);
    if !summary.is_file() {
        return Err(err(format!(
            "{} is not a stampede report folder (no {SUMMARY_FILE})",
            dir.display()
        )));
    }
    let text = std::fs::read_to_string(&summary)
        .map_err(|e| err(format!("cannot read {}: {e}", summary.display())))?;
    let report =
        crate::report::json::parse_summary(&text, &summary).map_err(|e| err(e.to_string()))?;
    if report.schema_version != SCHEMA_VERSION {
        return Err(err(format!(
            "{} has report schema_version {}; this stampede merges version {SCHEMA_VERSION}",
            summary.display(),
            report.schema_version
        )));
    }
    check_names(&report).map_err(|e| err(format!("{}: {e}", summary.display())))?;
    let limit = fleet::row_limit(&report.origin);
    for c in &report.results {
        fleet::check_rows(&c.timeseries, limit, &summary.display().to_string()).map_err(err)?;
    }
    Ok(Part {
        dir: dir.to_path_buf(),
        report,
    })
}

/// Fleet and step names read from a file become file names: the same rule
/// as in a scenario ([`crate::names`]).
pub(crate) fn check_names(r: &Report) -> Result<(), String> {
    for c in &r.results {
        crate::names::check(&c.name).map_err(|e| format!("fleet name: {e}"))?;
        for s in &c.steps {
            crate::names::check(&s.name).map_err(|e| format!("step name: {e}"))?;
        }
    }
    Ok(())
}

fn shard_of(r: &Report) -> Shard {
    r.origin.shard.unwrap_or(Shard { index: 0, count: 1 })
}

/// `p` ran what `first` ran: the same scenario, seed, histogram settings,
/// fleets and steps.
fn same_run(first: &Part, p: &Part) -> Result<(), MergeError> {
    let name = |p: &Part| p.dir.display().to_string();
    let r = &p.report;
    if r.scenario != first.report.scenario {
        return Err(err(format!(
            "{} ran scenario `{}` but {} ran `{}`: not shards of one run",
            name(p),
            r.scenario,
            name(first),
            first.report.scenario
        )));
    }
    if r.origin.seed != first.report.origin.seed {
        return Err(err(format!(
            "{} used seed {:?} but {} used {:?}: not shards of one run",
            name(p),
            r.origin.seed,
            name(first),
            first.report.origin.seed
        )));
    }
    if r.origin.histogram != first.report.origin.histogram {
        return Err(err(format!(
            "{} and {} have different histogram settings ({:?} vs {:?}): their buckets cannot be added",
            name(p),
            name(first),
            r.origin.histogram,
            first.report.origin.histogram
        )));
    }
    let fleets = |r: &Report| -> Vec<(String, usize, Vec<String>)> {
        r.results
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.round,
                    c.steps.iter().map(|s| s.name.clone()).collect(),
                )
            })
            .collect()
    };
    if fleets(r) != fleets(&first.report) {
        return Err(err(format!(
            "{} and {} have different fleets or steps",
            name(p),
            name(first)
        )));
    }
    Ok(())
}

/// Refuse parts that are not the shards of one run.
fn check(parts: &[Part]) -> Result<(), MergeError> {
    let first = &parts[0];
    let name = |p: &Part| p.dir.display().to_string();
    let count = shard_of(&first.report).count;
    let mut seen: Vec<Option<&Part>> = vec![None; count as usize];
    for p in parts {
        same_run(first, p)?;
        let r = &p.report;
        let s = shard_of(r);
        if s.count != count {
            return Err(err(format!(
                "{} is shard {s} but {} is shard {}: different shard counts",
                name(p),
                name(first),
                shard_of(&first.report)
            )));
        }
        let slot = &mut seen[s.index.min(count - 1) as usize];
        if let Some(other) = slot {
            return Err(err(format!(
                "{} and {} are both shard {s}: overlapping shards",
                name(other),
                name(p)
            )));
        }
        *slot = Some(p);
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_none())
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(err(format!(
            "missing shard(s) {} of scenario `{}`",
            missing.join(", "),
            first.report.scenario
        )));
    }
    Ok(())
}

/// What shards of one run share but a command line can change: the
/// overrides as given, the load after them and the target. Each difference
/// as `<dir>: --key value` against the first shard's.
fn differences(parts: &[Part]) -> Vec<String> {
    let first = &parts[0];
    let mut out = Vec::new();
    for p in &parts[1..] {
        let (a, b) = (&first.report, &p.report);
        let keys: std::collections::BTreeSet<&String> = a
            .meta
            .overrides
            .keys()
            .chain(b.meta.overrides.keys())
            .collect();
        for k in keys {
            let (x, y) = (a.meta.overrides.get(k), b.meta.overrides.get(k));
            if x != y {
                let show = |v: Option<&String>| v.map_or("(not given)".to_string(), |v| v.clone());
                out.push(format!(
                    "--{} is {} in {} but {} in {}",
                    k.replace('_', "-"),
                    show(y),
                    p.dir.display(),
                    show(x),
                    first.dir.display()
                ));
            }
        }
        for (what, x, y) in [("load", &a.load, &b.load), ("target", &a.target, &b.target)] {
            if x != y {
                out.push(format!(
                    "the {what} is `{y}` in {} but `{x}` in {}",
                    p.dir.display(),
                    first.dir.display()
                ));
            }
        }
    }
    out
}

/// Read, check and add the shard folders `dirs`. Shards whose overrides,
/// load or target differ are refused, each difference named; with `force`
/// they are merged and each difference becomes a note.
pub fn merge(dirs: &[PathBuf], force: bool) -> Result<Merged, MergeError> {
    if dirs.is_empty() {
        return Err(err("nothing to merge: name the shards' report folders"));
    }
    let parts = dirs
        .iter()
        .map(|d| read_part(d))
        .collect::<Result<Vec<_>, _>>()?;
    check(&parts)?;
    let diffs = differences(&parts);
    if !diffs.is_empty() && !force {
        return Err(err(format!(
            "not shards of one run: {}; merge them anyway with --force",
            diffs.join("; ")
        )));
    }
    let mut parts = parts;
    parts.sort_by_key(|p| shard_of(&p.report).index);
    let mut report = parts[0].report.clone();
    let limit = fleet::row_limit(&parts[0].report.origin);
    let mut hists = Vec::new();
    for (i, c) in report.results.iter_mut().enumerate() {
        let sum = merge_fleet(&parts, i, c, limit, &mut report.notes)?;
        c.recovery_s = crate::report::recovery::recovery(&c.timeseries, report.trigger.as_ref());
        hists.push(sum);
    }
    merge_heading(&mut report, &parts, diffs);
    report.gates = evaluate_gates(&report)?;
    Ok(Merged { report, hists })
}

/// Fleet `i` of every shard (`parts`, in shard order) into `c`: counters
/// summed on a timeline aligned by wall clock (shards more than `limit`
/// seconds apart refused), histograms added (returned), the shared
/// target's ledger and truth taken once (a note in `notes` when refused).
fn merge_fleet(
    parts: &[Part],
    i: usize,
    c: &mut FleetResult,
    limit: u32,
    notes: &mut Vec<String>,
) -> Result<FleetHists, MergeError> {
    let steps: Vec<String> = c.steps.iter().map(|s| s.name.clone()).collect();
    // Wall-clock alignment: the earliest shard's round start is second 0.
    let bases = parts
        .iter()
        .map(|p| base_time(&p.dir, &c.name))
        .collect::<Result<Vec<_>, _>>()?;
    let earliest = bases.iter().flatten().min().copied().unwrap_or_default();
    let shift = |k: usize| -> u32 {
        bases[k].map_or(0, |b| {
            b.saturating_sub(earliest).as_secs_f64().round() as u32
        })
    };
    if let Some(k) = (0..parts.len()).find(|&k| shift(k) > limit) {
        return Err(err(format!(
            "{} started fleet `{}` {} s after the earliest shard, longer than a round can last ({limit} s): not shards of one run (start them together with --start-at)",
            parts[k].dir.display(),
            c.name,
            shift(k)
        )));
    }
    let mut counters = c.clone();
    counters.timeseries.clear();
    fleet::add_rows(&mut counters.timeseries, &c.timeseries, shift(0));
    counters.counts.round_duration_s += f64::from(shift(0));
    for (k, p) in parts.iter().enumerate().skip(1) {
        add_counters(&mut counters, &p.report.results[i], shift(k));
    }
    let sources: Vec<Source<'_>> = parts
        .iter()
        .enumerate()
        .map(|(k, p)| Source {
            dir: &p.dir,
            shift: shift(k),
        })
        .collect();
    let mut sum = FleetHists::read(&sources, &c.name, &steps, false).map_err(err)?;
    sum.base_time = Some(earliest);
    *c = counters;
    refresh(c, &sum);
    let reports: Vec<&Report> = parts.iter().map(|p| &p.report).collect();
    c.ledger = shared_ledger::merged(&reports, i, notes);
    c.truth = shared_ledger::merged_truth(&reports, i);
    Ok(sum)
}

/// The merged report's heading from the shards' (`parts`, in shard order;
/// the first one's is `report`'s): the longest duration, the earliest
/// start, the first status that is not completed, every stop reason, every
/// note once, the differences merged with `--force`, where it came from.
fn merge_heading(report: &mut Report, parts: &[Part], diffs: Vec<String>) {
    report.duration_s = parts
        .iter()
        .map(|p| p.report.duration_s)
        .fold(0.0, f64::max);
    report.started_at = parts
        .iter()
        .map(|p| p.report.started_at.clone())
        .min()
        .unwrap_or_default();
    report.status = parts
        .iter()
        .map(|p| p.report.status)
        .find(|s| *s != RunStatus::Completed)
        .unwrap_or(RunStatus::Completed);
    let reasons: Vec<String> = parts
        .iter()
        .filter_map(|p| {
            p.report
                .stop_reason
                .as_ref()
                .map(|r| format!("shard {}: {r}", shard_of(&p.report)))
        })
        .collect();
    report.stop_reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    for p in &parts[1..] {
        for n in &p.report.notes {
            if !report.notes.contains(n) {
                report.notes.push(n.clone());
            }
        }
    }
    report.notes.push(format!(
        "merged from {} shard(s): counters summed, histograms added bucket by bucket",
        parts.len()
    ));
    for d in diffs {
        report
            .notes
            .push(format!("merged with --force although {d}"));
    }
    report.origin.shard = None;
    report.origin.merged_from = parts.iter().map(|p| p.dir.display().to_string()).collect();
}

/// BaseTime of a fleet's `.hlog` (a header scan; no histogram decoded).
fn base_time(dir: &Path, fleet: &str) -> Result<Option<Duration>, MergeError> {
    let path = dir.join(crate::metrics::hlog::file_name(fleet, None));
    let bytes =
        std::fs::read(&path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    let (_, base) =
        crate::metrics::hlog::scan(&bytes, &path, |_| Ok(())).map_err(|e| err(e.to_string()))?;
    Ok(base)
}

fn evaluate_gates(report: &Report) -> Result<Vec<crate::report::GateResult>, MergeError> {
    let fleets: Vec<String> = report.results.iter().map(|c| c.name.clone()).collect();
    let steps: Vec<String> = report
        .results
        .first()
        .map(|c| c.steps.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let gates = report
        .origin
        .gates
        .iter()
        .map(|g| {
            crate::gate::parse(g, &fleets, &steps).map_err(|e| err(format!("gate `{g}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::gate::evaluate_all(&gates, report))
}

#[cfg(test)]
mod tests;
