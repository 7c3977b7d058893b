//! The histograms of one fleet read from one or more report folders, added
//! bucket by bucket, one second at a time.
//!
//! A merge of 16 shards of a 10-minute run holds ~28 million distinct
//! (second, bucket) pairs once added; kept in maps they took 1.4 GB. They
//! are not kept: every step file of every folder is indexed by second
//! (cheap: no histogram decoded), then, second by second, each line of that
//! second is decoded straight into its non-zero buckets
//! ([`crate::metrics::hlog::sparse`]) and added into one dense scratch
//! histogram per step, which is written at once as the merged log's line for
//! that second, added to the step's whole-run total and to the fleet's
//! per-second sum, and reset. Memory holds the folders' files, the totals
//! and the merged logs' lines; time is one decode per input line and one
//! encode per output line.

use crate::metrics::hlog::{self, HlogError, RawInterval, SparseBuf, TAG_ATTEMPT, TAG_BACKOFF};
use crate::metrics::hlog::{TAG_JOURNEY, TAG_LAG, TAG_OP, TAG_OP_OK, TAG_QUEUE};
use crate::metrics::latency::sorted_latency;
use crate::metrics::new_histogram;
use crate::report::LatencyRow;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// One step's whole-run histograms (µs) and its merged per-second log lines.
#[derive(Debug, Clone)]
pub struct StepHists {
    pub op: Histogram<u64>,
    /// Whole-run operation latency of the operations that succeeded.
    pub ok: Histogram<u64>,
    pub attempt: Histogram<u64>,
    /// Whole-run attempt latency per status class.
    pub by_class: BTreeMap<String, Histogram<u64>>,
    /// The `op` and `attempt` interval lines of every second, in time
    /// order, as `<fleet>.<step>.hlog` holds them after its header (in
    /// chunks, one per span of seconds summed in parallel: never copied
    /// into one buffer before the file is written).
    pub seconds_log: Vec<Vec<u8>>,
    /// Latency over time, per second (what the logs hold).
    pub series: Vec<LatencyRow>,
}

impl Default for StepHists {
    fn default() -> Self {
        StepHists {
            op: new_histogram(),
            ok: new_histogram(),
            attempt: new_histogram(),
            by_class: BTreeMap::new(),
            seconds_log: Vec::new(),
            series: Vec::new(),
        }
    }
}

/// The histograms of one fleet.
#[derive(Debug, Clone)]
pub struct FleetHists {
    pub steps: Vec<StepHists>,
    pub backoff: Histogram<u64>,
    pub lag: Histogram<u64>,
    /// Empty when the runs were written before queue waits were recorded.
    pub queue: Histogram<u64>,
    pub journey: Histogram<u64>,
    /// The fleet's per-second `op` and `attempt` lines (sums over steps), in chunks.
    pub seconds_log: Vec<Vec<u8>>,
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

/// A log file's bytes; `lenient`: without a last line cut short.
fn read_log(path: &Path, lenient: bool) -> Result<Vec<u8>, String> {
    let mut bytes =
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if lenient {
        let keep = super::partial::complete_lines(&bytes).len();
        bytes.truncate(keep);
    }
    Ok(bytes)
}

impl FleetHists {
    pub fn new(steps: usize) -> Self {
        FleetHists {
            steps: (0..steps).map(|_| StepHists::default()).collect(),
            backoff: new_histogram(),
            lag: new_histogram(),
            queue: new_histogram(),
            journey: new_histogram(),
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
        let mut out = FleetHists::new(step_names.len());
        let mut buf = SparseBuf::default();
        let read = |path: &Path| read_log(path, lenient);
        out.add_fleet_files(sources, fleet, lenient, &like, &mut buf)?;
        // Every step file's bytes next: the index below borrows them.
        let mut files: Vec<(PathBuf, Vec<u8>, u32, usize)> = Vec::new();
        for src in sources {
            for (j, name) in step_names.iter().enumerate() {
                let path = src.dir.join(hlog::file_name(fleet, Some(name)));
                let bytes = read(&path)?;
                files.push((path, bytes, src.shift, j));
            }
        }
        let mut by_second: Vec<BTreeMap<u32, Vec<Pending<'_>>>> =
            (0..step_names.len()).map(|_| BTreeMap::new()).collect();
        for (path, bytes, shift, j) in &files {
            let j = *j;
            hlog::scan(bytes, path, |raw| match raw.tag {
                tag @ (TAG_OP | TAG_ATTEMPT) => {
                    let second = u32::try_from(raw.start.as_secs())
                        .unwrap_or(u32::MAX)
                        .saturating_add(*shift);
                    by_second[j].entry(second).or_default().push(Pending {
                        raw,
                        op: tag == TAG_OP,
                    });
                    Ok(())
                }
                TAG_OP_OK => {
                    let h = &mut out.steps[j].ok;
                    raw.decode_sparse(&like, &mut buf, |_, v, n| h.saturating_record_n(v, n))
                }
                tag => match class_of(tag) {
                    Some(class) => {
                        let h = out.steps[j]
                            .by_class
                            .entry(class.to_string())
                            .or_insert_with(new_histogram);
                        raw.decode_sparse(&like, &mut buf, |_, v, n| h.saturating_record_n(v, n))
                    }
                    None => Ok(()),
                },
            })
            .map_err(|e| e.to_string())?;
        }
        out.add_seconds(&by_second, &like)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// The fleet files, one at a time: only their whole-round `backoff`,
    /// `lag`, journey and queue histograms are read (their per-second
    /// op/attempt are the steps' sums), so their bytes are not kept.
    fn add_fleet_files(
        &mut self,
        sources: &[Source<'_>],
        fleet: &str,
        lenient: bool,
        like: &Histogram<u64>,
        buf: &mut SparseBuf,
    ) -> Result<(), String> {
        for (i, src) in sources.iter().enumerate() {
            let path = src.dir.join(hlog::file_name(fleet, None));
            let bytes = read_log(&path, lenient)?;
            let (_, base) =
                hlog::scan(&bytes, &path, |raw| match raw.tag {
                    TAG_BACKOFF => raw
                        .decode_sparse(like, buf, |_, v, n| self.backoff.saturating_record_n(v, n)),
                    TAG_LAG => {
                        raw.decode_sparse(like, buf, |_, v, n| self.lag.saturating_record_n(v, n))
                    }
                    TAG_JOURNEY => raw
                        .decode_sparse(like, buf, |_, v, n| self.journey.saturating_record_n(v, n)),
                    TAG_QUEUE => {
                        raw.decode_sparse(like, buf, |_, v, n| self.queue.saturating_record_n(v, n))
                    }
                    _ => Ok(()),
                })
                .map_err(|e| e.to_string())?;
            if i == 0 {
                self.base_time = base;
            }
        }
        Ok(())
    }

    /// Second by second: sum each step's lines, write the merged lines, add
    /// to the totals and to the fleet's per-second sums. The seconds are cut
    /// into one consecutive span per core, summed in parallel and joined in
    /// order (each span's lines follow the previous span's).
    fn add_seconds(
        &mut self,
        by_second: &[BTreeMap<u32, Vec<Pending<'_>>>],
        like: &Histogram<u64>,
    ) -> Result<(), HlogError> {
        let mut seconds: Vec<u32> = by_second.iter().flat_map(|m| m.keys().copied()).collect();
        seconds.sort_unstable();
        seconds.dedup();
        let n = self.steps.len();
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get().min(4));
        let chunk = seconds.len().div_ceil(cores).max(1);
        let spans: Vec<Result<Span, HlogError>> = std::thread::scope(|scope| {
            // A span whose thread cannot be started is summed here instead.
            let started: Vec<_> = seconds
                .chunks(chunk)
                .map(|part| {
                    std::thread::Builder::new()
                        .name("merge".into())
                        .spawn_scoped(scope, move || Span::sum(part, by_second, like, n))
                        .map_err(|_| part)
                })
                .collect();
            started
                .into_iter()
                .map(|h| match h {
                    Ok(h) => h.join().unwrap_or_else(|_| {
                        Err(HlogError::Io {
                            path: PathBuf::from("(merged log)"),
                            source: std::io::Error::other("a merge thread panicked"),
                        })
                    }),
                    Err(part) => Span::sum(part, by_second, like, n),
                })
                .collect()
        });
        let mut total: Vec<[Counts; 2]> = (0..n).map(|_| Default::default()).collect();
        for span in spans {
            let span = span?;
            for (j, st) in span.steps.into_iter().enumerate() {
                self.steps[j].seconds_log.push(st.log);
                self.steps[j].series.extend(st.series);
                for (part, sum) in st.total.iter().zip(total[j].iter_mut()) {
                    part.add_into(sum);
                }
            }
            self.seconds_log.push(span.fleet_log);
            self.series.extend(span.fleet_series);
        }
        for (step, [op, attempt]) in self.steps.iter_mut().zip(&total) {
            step.op = op.histogram();
            step.attempt = attempt.histogram();
        }
        Ok(())
    }
}

/// One step's share of a span of seconds.
#[derive(Default)]
struct SpanStep {
    log: Vec<u8>,
    series: Vec<LatencyRow>,
    /// [op, attempt] over the span.
    total: [Counts; 2],
}

/// The merged lines, series and totals of consecutive seconds.
struct Span {
    steps: Vec<SpanStep>,
    fleet_log: Vec<u8>,
    fleet_series: Vec<LatencyRow>,
}

impl Span {
    fn sum(
        seconds: &[u32],
        by_second: &[BTreeMap<u32, Vec<Pending<'_>>>],
        like: &Histogram<u64>,
        n: usize,
    ) -> Result<Span, HlogError> {
        let mut buf = SparseBuf::default();
        let mut out = Span {
            steps: (0..n).map(|_| SpanStep::default()).collect(),
            fleet_log: Vec::new(),
            fleet_series: Vec::new(),
        };
        // [op, attempt] per step: this second's sum.
        let mut now: Vec<[Counts; 2]> = (0..n).map(|_| Default::default()).collect();
        let mut fleet: [Counts; 2] = Default::default();
        let io = |e: std::io::Error| HlogError::Io {
            path: PathBuf::from("(merged log)"),
            source: e,
        };
        for &s in seconds {
            let at = Duration::from_secs(u64::from(s));
            for (j, lines) in by_second.iter().enumerate() {
                let Some(lines) = lines.get(&s) else {
                    continue;
                };
                for p in lines {
                    let h = &mut now[j][usize::from(!p.op)];
                    p.raw.decode_sparse(like, &mut buf, |i, _, c| h.add(i, c))?;
                }
                let mut row = LatencyRow {
                    t_ms: u64::from(s) * 1000,
                    ..LatencyRow::default()
                };
                let step = &mut out.steps[j];
                for k in 0..2 {
                    let c = &now[j][k];
                    if !c.is_empty() {
                        c.add_into(&mut step.total[k]);
                        c.add_into(&mut fleet[k]);
                    }
                }
                flush(&mut now[j], &mut row, &mut step.log, at).map_err(io)?;
                step.series.push(row);
            }
            let mut row = LatencyRow {
                t_ms: u64::from(s) * 1000,
                ..LatencyRow::default()
            };
            flush(&mut fleet, &mut row, &mut out.fleet_log, at).map_err(io)?;
            out.fleet_series.push(row);
        }
        for st in &mut out.steps {
            st.log.shrink_to_fit();
        }
        out.fleet_log.shrink_to_fit();
        Ok(out)
    }
}

/// Counts by bucket index, and a bitmap of the non-zero buckets: adding a
/// bucket is an index, not a value-to-bucket computation, and walking or
/// clearing the non-zero buckets, in value order, touches only the bitmap's
/// words and what was hit.
#[derive(Default)]
struct Counts {
    by_index: Vec<u64>,
    hit: Vec<u64>,
    nonzero: usize,
}

impl Counts {
    fn add(&mut self, index: usize, n: u64) {
        if self.by_index.is_empty() {
            let buckets = hlog::sparse::bucket_count();
            self.by_index = vec![0; buckets];
            self.hit = vec![0; buckets.div_ceil(64)];
        }
        // `index` comes from the decoder's table: always in range.
        let slot = &mut self.by_index[index];
        if *slot == 0 {
            self.hit[index / 64] |= 1 << (index % 64);
            self.nonzero += 1;
        }
        *slot = slot.saturating_add(n);
    }

    fn is_empty(&self) -> bool {
        self.nonzero == 0
    }

    /// The non-zero buckets' indexes, in value order.
    fn indexes(&self) -> impl Iterator<Item = usize> + Clone + '_ {
        self.hit.iter().enumerate().flat_map(|(w, &bits)| {
            let mut bits = bits;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + b
                })
            })
        })
    }

    /// Add every non-zero bucket into `o`.
    fn add_into(&self, o: &mut Counts) {
        for i in self.indexes() {
            o.add(i, self.by_index[i]);
        }
    }

    /// This interval's percentiles, from the non-zero buckets in order.
    fn latency(&self) -> crate::report::IntervalLatency {
        sorted_latency(
            self.indexes()
                .filter_map(|i| hlog::sparse::bucket_value(i).map(|v| (v, self.by_index[i]))),
        )
    }

    fn histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for i in self.indexes() {
            if let Some(v) = hlog::sparse::bucket_value(i) {
                h.saturating_record_n(v, self.by_index[i]);
            }
        }
        h
    }

    fn clear(&mut self) {
        for w in 0..self.hit.len() {
            let mut bits = std::mem::take(&mut self.hit[w]);
            while bits != 0 {
                self.by_index[w * 64 + bits.trailing_zeros() as usize] = 0;
                bits &= bits - 1;
            }
        }
        self.nonzero = 0;
    }
}

/// One second's [op, attempt] sums: their percentiles into `row`, their
/// merged lines onto `log`; then cleared for the next second.
fn flush(
    sums: &mut [Counts; 2],
    row: &mut LatencyRow,
    log: &mut Vec<u8>,
    at: Duration,
) -> std::io::Result<()> {
    for (k, tag) in [TAG_OP, TAG_ATTEMPT].into_iter().enumerate() {
        let c = &mut sums[k];
        if !c.is_empty() {
            *row_kind(row, k) = c.latency();
            hlog::write_interval_fast(log, tag, at, SECOND, &c.histogram())?;
            c.clear();
        }
    }
    Ok(())
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
