//! The histograms of one cohort read from one or more report folders, added
//! bucket by bucket, one second at a time.
//!
//! A merge of 16 shards of a 10-minute run holds ~28 million distinct
//! (second, bucket) pairs once added; kept in maps they took 1.4 GB. They
//! are not kept: every step file of every folder is indexed by second
//! (cheap: no histogram decoded), then, second by second, each line of that
//! second is decoded straight into its non-zero buckets
//! ([`crate::report::hlog::sparse`]) and added into one dense scratch
//! histogram per step, which is written at once as the merged log's line for
//! that second, added to the step's whole-run total and to the fleet's
//! per-second sum, and reset. Memory holds the folders' files, the totals
//! and the merged logs' lines; time is one decode per input line and one
//! encode per output line.

use crate::metrics::latency::dense_latency;
use crate::metrics::new_histogram;
use crate::report::LatencyRow;
use crate::report::hlog::{self, HlogError, RawInterval, SparseBuf, TAG_ATTEMPT, TAG_BACKOFF};
use crate::report::hlog::{TAG_LAG, TAG_OP};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// One step's whole-run histograms (µs) and its merged per-second log lines.
#[derive(Debug, Clone)]
pub struct StepHists {
    pub op: Histogram<u64>,
    pub attempt: Histogram<u64>,
    /// Whole-run attempt latency per status class.
    pub by_class: BTreeMap<String, Histogram<u64>>,
    /// The `op` and `attempt` interval lines of every second, in time
    /// order, as `<fleet>.<step>.hlog` holds them after its header.
    pub seconds_log: Vec<u8>,
    /// Latency over time, per second (what the logs hold).
    pub series: Vec<LatencyRow>,
}

impl Default for StepHists {
    fn default() -> Self {
        StepHists {
            op: new_histogram(),
            attempt: new_histogram(),
            by_class: BTreeMap::new(),
            seconds_log: Vec::new(),
            series: Vec::new(),
        }
    }
}

/// The histograms of one cohort.
#[derive(Debug, Clone)]
pub struct CohortHists {
    pub steps: Vec<StepHists>,
    pub backoff: Histogram<u64>,
    pub lag: Histogram<u64>,
    /// The fleet's per-second `op` and `attempt` lines (sums over steps).
    pub seconds_log: Vec<u8>,
    /// The fleet's latency over time, per second.
    pub series: Vec<LatencyRow>,
    /// BaseTime of the merged logs (the earliest round start).
    pub base_time: Option<Duration>,
}

/// One folder to read, its seconds moved `shift` later (shards whose round
/// started in a later wall-clock second).
pub struct Source<'p> {
    pub dir: &'p Path,
    pub shift: u32,
}

/// One interval line waiting for its second.
struct Pending<'a> {
    raw: RawInterval<'a>,
    op: bool,
}

impl CohortHists {
    pub fn new(steps: usize) -> Self {
        CohortHists {
            steps: (0..steps).map(|_| StepHists::default()).collect(),
            backoff: new_histogram(),
            lag: new_histogram(),
            seconds_log: Vec::new(),
            series: Vec::new(),
            base_time: None,
        }
    }

    /// Read `<fleet>.hlog` and `<fleet>.<step>.hlog` of every source and add
    /// them; any bad line, a cut last line included, is an error naming
    /// file and line. `lenient`: a last line cut short (the streamed log of
    /// a killed run) is dropped instead. BaseTime is the first source's.
    pub fn read(
        sources: &[Source<'_>],
        fleet: &str,
        step_names: &[String],
        lenient: bool,
    ) -> Result<Self, String> {
        let like = new_histogram();
        let mut out = CohortHists::new(step_names.len());
        let mut buf = SparseBuf::default();
        // Every file's bytes first: the index below borrows them.
        let names: Vec<String> = std::iter::once(hlog::file_name(fleet, None))
            .chain(step_names.iter().map(|s| hlog::file_name(fleet, Some(s))))
            .collect();
        let mut files: Vec<(PathBuf, Vec<u8>, u32)> = Vec::new();
        for src in sources {
            for name in &names {
                let path = src.dir.join(name);
                let mut bytes = std::fs::read(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if lenient {
                    let keep = super::partial::complete_lines(&bytes).len();
                    bytes.truncate(keep);
                }
                files.push((path, bytes, src.shift));
            }
        }
        let per_source = names.len();
        let mut by_second: Vec<BTreeMap<u32, Vec<Pending<'_>>>> =
            (0..step_names.len()).map(|_| BTreeMap::new()).collect();
        for (i, (path, bytes, shift)) in files.iter().enumerate() {
            let step = (i % per_source).checked_sub(1);
            let (_, base) = hlog::scan(bytes, path, |raw| {
                let whole = |h: &mut Histogram<u64>, buf: &mut SparseBuf| {
                    raw.decode_sparse(&like, buf, |_, v, n| h.saturating_record_n(v, n))
                };
                match (step, raw.tag) {
                    (None, TAG_BACKOFF) => whole(&mut out.backoff, &mut buf),
                    (None, TAG_LAG) => whole(&mut out.lag, &mut buf),
                    // The fleet file's op/attempt are the steps' sums: not read.
                    (None, _) => Ok(()),
                    (Some(j), tag @ (TAG_OP | TAG_ATTEMPT)) => {
                        let second = u32::try_from(raw.start.as_secs())
                            .unwrap_or(u32::MAX)
                            .saturating_add(*shift);
                        by_second[j].entry(second).or_default().push(Pending {
                            raw,
                            op: tag == TAG_OP,
                        });
                        Ok(())
                    }
                    (Some(j), tag) => match class_of(tag) {
                        Some(class) => {
                            let h = out.steps[j]
                                .by_class
                                .entry(class.to_string())
                                .or_insert_with(new_histogram);
                            whole(h, &mut buf)
                        }
                        None => Ok(()),
                    },
                }
            })
            .map_err(|e| e.to_string())?;
            if i == 0 {
                out.base_time = base;
            }
        }
        out.add_seconds(&by_second, &like, &mut buf)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// Second by second: sum each step's lines, write the merged lines, add
    /// to the totals and to the fleet's per-second sums.
    fn add_seconds(
        &mut self,
        by_second: &[BTreeMap<u32, Vec<Pending<'_>>>],
        like: &Histogram<u64>,
        buf: &mut SparseBuf,
    ) -> Result<(), HlogError> {
        let mut seconds: Vec<u32> = by_second.iter().flat_map(|m| m.keys().copied()).collect();
        seconds.sort_unstable();
        seconds.dedup();
        let n = self.steps.len();
        // [op, attempt] per step: this second's sum and the whole run's.
        let mut now: Vec<[Counts; 2]> = (0..n).map(|_| Default::default()).collect();
        let mut total: Vec<[Counts; 2]> = (0..n).map(|_| Default::default()).collect();
        let mut fleet: [Counts; 2] = Default::default();
        let io = |e: std::io::Error| HlogError::Io {
            path: PathBuf::from("(merged log)"),
            source: e,
        };
        for s in seconds {
            let at = Duration::from_secs(u64::from(s));
            for (j, lines) in by_second.iter().enumerate() {
                let Some(lines) = lines.get(&s) else {
                    continue;
                };
                for p in lines {
                    let h = &mut now[j][usize::from(!p.op)];
                    p.raw.decode_sparse(like, buf, |i, _, c| h.add(i, c))?;
                }
                let mut row = LatencyRow {
                    t_ms: u64::from(s) * 1000,
                    ..LatencyRow::default()
                };
                for (k, tag) in [TAG_OP, TAG_ATTEMPT].into_iter().enumerate() {
                    let c = &mut now[j][k];
                    if !c.is_empty() {
                        c.add_into(&mut total[j][k]);
                        c.add_into(&mut fleet[k]);
                        let h = c.histogram();
                        *row_kind(&mut row, k) = dense_latency(&h);
                        hlog::write_interval(&mut self.steps[j].seconds_log, tag, at, SECOND, &h)
                            .map_err(io)?;
                        c.clear();
                    }
                }
                self.steps[j].series.push(row);
            }
            let mut row = LatencyRow {
                t_ms: u64::from(s) * 1000,
                ..LatencyRow::default()
            };
            for (k, tag) in [TAG_OP, TAG_ATTEMPT].into_iter().enumerate() {
                let c = &mut fleet[k];
                if !c.is_empty() {
                    let h = c.histogram();
                    *row_kind(&mut row, k) = dense_latency(&h);
                    hlog::write_interval(&mut self.seconds_log, tag, at, SECOND, &h).map_err(io)?;
                    c.clear();
                }
            }
            self.series.push(row);
        }
        for (step, [op, attempt]) in self.steps.iter_mut().zip(&total) {
            step.op = op.histogram();
            step.attempt = attempt.histogram();
        }
        Ok(())
    }
}

/// Counts by bucket index, and which buckets are non-zero: adding a bucket
/// is an index, not a value-to-bucket computation, and clearing touches
/// only what was hit.
#[derive(Default)]
struct Counts {
    by_index: Vec<u64>,
    touched: Vec<usize>,
}

impl Counts {
    fn add(&mut self, index: usize, n: u64) {
        if self.by_index.is_empty() {
            self.by_index = vec![0; hlog::sparse::bucket_count()];
        }
        // `index` comes from the decoder's table: always in range.
        let slot = &mut self.by_index[index];
        if *slot == 0 {
            self.touched.push(index);
        }
        *slot = slot.saturating_add(n);
    }

    fn is_empty(&self) -> bool {
        self.touched.is_empty()
    }

    /// Add every non-zero bucket into `o`.
    fn add_into(&self, o: &mut Counts) {
        for &i in &self.touched {
            o.add(i, self.by_index[i]);
        }
    }

    fn histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for &i in &self.touched {
            if let Some(v) = hlog::sparse::bucket_value(i) {
                h.saturating_record_n(v, self.by_index[i]);
            }
        }
        h
    }

    fn clear(&mut self) {
        for &i in &self.touched {
            self.by_index[i] = 0;
        }
        self.touched.clear();
    }
}

/// Operation (0) or attempt (1) latency of a row.
fn row_kind(row: &mut LatencyRow, k: usize) -> &mut crate::report::IntervalLatency {
    if k == 0 {
        &mut row.operation_latency_ms
    } else {
        &mut row.attempt_latency_ms
    }
}

/// `attempt.5xx` -> `5xx`.
fn class_of(tag: &str) -> Option<&str> {
    tag.strip_prefix(TAG_ATTEMPT)?.strip_prefix('.')
}
