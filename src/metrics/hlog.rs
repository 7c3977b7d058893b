//! HdrHistogram interval logs (`.hlog`), the format Java's
//! `HistogramLogWriter` writes and `HistogramLogReader` /
//! `HistogramLogProcessor` read, through the `hdrhistogram` crate's
//! `serialization::interval_log` writer and reader.
//!
//! Layout of every file stampede writes:
//!
//! ```text
//! #[Histogram log format version 1.3]
//! #stampede <version> interval log: <fleet>[.<step>] (values in microseconds)
//! #[StartTime: 1767225600.000 (seconds since epoch)]
//! #[BaseTime: 1767225600.000 (seconds since epoch)]
//! "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//! Tag=op,3.000,1.000,812351.000,HISTFAAAA...
//! ```
//!
//! StartTime and BaseTime are the wall-clock start of the fleet's round;
//! each interval's timestamp is seconds since BaseTime, its duration one
//! second (or the whole round for totals such as `backoff`), its max in
//! microseconds like the values (no MaxValueDivisor), its histogram V2 with
//! deflate (`HISTFAAA...` in base64), what Java writes by default.
//!
//! A log may hold the same (tag, second) more than once: the streamed log of
//! a run in progress appends what each second added, and a reader sums them
//! ([`HlogFile::sum`]).

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The cookie of a deflated V2 histogram (HdrHistogram's encoding spec).
pub const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;

/// Operation latency (end to end, retries and backoff included).
pub const TAG_OP: &str = "op";
/// Attempt latency (one HTTP exchange).
pub const TAG_ATTEMPT: &str = "attempt";
/// Time spent in backoff per operation (whole round, fleet file only).
pub const TAG_BACKOFF: &str = "backoff";
/// How late the generator started journeys (whole round, fleet file only).
pub const TAG_LAG: &str = "lag";
/// Each attempt's wait before its request could be written (whole round,
/// fleet file only).
pub const TAG_QUEUE: &str = "queue";
/// Operation latency of the operations that succeeded (whole round, step files).
pub const TAG_OP_OK: &str = "op.ok";
/// Journey duration, intended start to end (whole round, fleet file only).
pub const TAG_JOURNEY: &str = "journey";
/// Attempt latency of one status class: `attempt.5xx` (whole round, step files).
pub fn class_tag(class: &str) -> String {
    format!("{TAG_ATTEMPT}.{class}")
}

/// `<fleet>.hlog` or `<fleet>.<step>.hlog`.
pub fn file_name(fleet: &str, step: Option<&str>) -> String {
    match step {
        Some(s) => format!("{fleet}.{s}.hlog"),
        None => format!("{fleet}.hlog"),
    }
}

/// The comment and `StartTime` / `BaseTime` headers, both `base`.
pub fn write_header(out: &mut impl Write, what: &str, base: SystemTime) -> io::Result<()> {
    let mut ser = LeveledDeflate::default();
    IntervalLogWriterBuilder::new()
        .add_comment("[Histogram log format version 1.3]")
        .add_comment(&format!(
            "stampede {} interval log: {what} (values in microseconds)",
            env!("CARGO_PKG_VERSION")
        ))
        .with_start_time(base)
        .with_base_time(base)
        .begin_log_with(out, &mut ser)?;
    // The column legend Java's HistogramLogWriter writes after the headers.
    writeln!(out, "{LEGEND}")
}

/// Java's `outputLegend` line; readers skip it.
pub const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

/// One tagged interval histogram line, `start` seconds after BaseTime.
pub fn write_interval(
    out: &mut impl Write,
    tag: &str,
    start: Duration,
    duration: Duration,
    h: &Histogram<u64>,
) -> io::Result<()> {
    write_interval_at(out, tag, start, duration, h, flate2::Compression::default())
}

/// [`write_interval`] at deflate's fastest level: `stampede merge` writes
/// one line per second per step and file, and the default level made
/// compression a third of its time. A run keeps the default (it writes a
/// few lines a second; smaller files are faster to merge).
pub fn write_interval_fast(
    out: &mut impl Write,
    tag: &str,
    start: Duration,
    duration: Duration,
    h: &Histogram<u64>,
) -> io::Result<()> {
    write_interval_at(out, tag, start, duration, h, flate2::Compression::fast())
}

fn write_interval_at(
    out: &mut impl Write,
    tag: &str,
    start: Duration,
    duration: Duration,
    h: &Histogram<u64>,
    level: flate2::Compression,
) -> io::Result<()> {
    thread_local! {
        static SER: std::cell::RefCell<LeveledDeflate> = std::cell::RefCell::new(LeveledDeflate::default());
    }
    SER.with_borrow_mut(|ser| {
        ser.level = level;
        // A builder without headers writes nothing: this only appends the line.
        let mut w = IntervalLogWriterBuilder::new().begin_log_with(out, ser)?;
        w.write_histogram(h, start, duration, Tag::new(tag))
            .map_err(|e| io::Error::other(e.to_string()))
    })
}

/// V2 with deflate, exactly the layout of the crate's `V2DeflateSerializer`
/// (and Java's), at a chosen deflate level. Any zlib reader inflates either.
#[derive(Default)]
pub struct LeveledDeflate {
    plain: Vec<u8>,
    v2: V2Serializer,
    level: flate2::Compression,
}

impl Serializer for LeveledDeflate {
    type SerializeError = io::Error;

    fn serialize<T: hdrhistogram::Counter, W: Write>(
        &mut self,
        h: &Histogram<T>,
        writer: &mut W,
    ) -> io::Result<usize> {
        self.plain.clear();
        self.v2
            .serialize(h, &mut self.plain)
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        let mut z = flate2::write::ZlibEncoder::new(
            Vec::with_capacity(self.plain.len() / 2 + 8),
            self.level,
        );
        z.write_all(&self.plain)?;
        let body = z.finish()?;
        let len = u32::try_from(body.len()).map_err(io::Error::other)?;
        writer.write_all(&V2_COMPRESSED_COOKIE.to_be_bytes())?;
        writer.write_all(&len.to_be_bytes())?;
        writer.write_all(&body)?;
        Ok(8 + body.len())
    }
}

/// One interval read back.
#[derive(Debug, Clone)]
pub struct Interval {
    pub tag: String,
    /// Seconds since BaseTime.
    pub start: Duration,
    pub duration: Duration,
    pub histogram: Histogram<u64>,
}

/// A parsed `.hlog`.
#[derive(Debug, Clone, Default)]
pub struct HlogFile {
    pub start_time: Option<Duration>,
    pub base_time: Option<Duration>,
    pub intervals: Vec<Interval>,
}

/// A `.hlog` that could not be read, naming the file and line.
#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}: {what}", path.display())]
    Bad {
        path: PathBuf,
        line: usize,
        what: String,
    },
}

fn line_of(input: &[u8], offset: usize) -> usize {
    1 + input[..offset.min(input.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
}

impl HlogFile {
    pub fn read(path: &Path) -> Result<HlogFile, HlogError> {
        let bytes = std::fs::read(path).map_err(|source| HlogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes, path)
    }

    /// Parse a whole log; `path` names it in errors. A last line without
    /// its newline (a write cut short) is an error, like any bad line.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<HlogFile, HlogError> {
        let mut intervals = Vec::new();
        let (start_time, base_time) = scan(bytes, path, |raw| {
            intervals.push(Interval {
                tag: raw.tag.to_string(),
                start: raw.start,
                duration: raw.duration,
                histogram: raw.decode()?,
            });
            Ok(())
        })?;
        Ok(HlogFile {
            start_time,
            base_time,
            intervals,
        })
    }

    /// Every interval of `tag` summed per whole second since BaseTime.
    pub fn per_second(&self, tag: &str) -> BTreeMap<u32, Histogram<u64>> {
        let mut m: BTreeMap<u32, Histogram<u64>> = BTreeMap::new();
        for i in self.intervals.iter().filter(|i| i.tag == tag) {
            let s = u32::try_from(i.start.as_secs()).unwrap_or(u32::MAX);
            match m.get_mut(&s) {
                Some(h) => {
                    let _ = h.add(&i.histogram);
                }
                None => {
                    m.insert(s, i.histogram.clone());
                }
            }
        }
        m
    }

    /// Every interval of `tag` summed, into a histogram with `like`'s settings.
    pub fn sum(&self, tag: &str, like: &Histogram<u64>) -> Result<Histogram<u64>, String> {
        let mut h = Histogram::new_from(like);
        for i in self.intervals.iter().filter(|i| i.tag == tag) {
            same_settings(&i.histogram, like)?;
            h.add(&i.histogram).map_err(|e| format!("{e:?}"))?;
        }
        Ok(h)
    }

    /// Tags present, in first-seen order.
    pub fn tags(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for i in &self.intervals {
            if !v.contains(&i.tag.as_str()) {
                v.push(&i.tag);
            }
        }
        v
    }
}

/// One interval line before its histogram is decoded (cheap to skip).
#[derive(Clone, Copy)]
pub struct RawInterval<'a> {
    pub line: usize,
    pub tag: &'a str,
    /// Seconds since BaseTime.
    pub start: Duration,
    pub duration: Duration,
    encoded: &'a str,
    path: &'a Path,
}

impl RawInterval<'_> {
    /// An error about this line.
    pub fn error(&self, what: String) -> HlogError {
        HlogError::Bad {
            path: self.path.to_path_buf(),
            line: self.line,
            what,
        }
    }

    /// Decode the V2 (deflate or plain) histogram of this line.
    pub fn decode(&self) -> Result<Histogram<u64>, HlogError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(self.encoded)
            .map_err(|e| self.error(format!("histogram is not base64: {e}")))?;
        Deserializer::new()
            .deserialize(&mut &raw[..])
            .map_err(|e| self.error(format!("histogram cannot be decoded: {e:?}")))
    }

    /// Decode straight into non-zero buckets, `each(bucket index, bucket
    /// value, count)` in value order ([`sparse::decode`]: no dense histogram is built);
    /// the settings must be `like`'s. `buf` is reused between calls.
    pub fn decode_sparse(
        &self,
        like: &Histogram<u64>,
        buf: &mut SparseBuf,
        each: impl FnMut(usize, u64, u64),
    ) -> Result<(), HlogError> {
        buf.raw.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(self.encoded, &mut buf.raw)
            .map_err(|e| self.error(format!("histogram is not base64: {e}")))?;
        sparse::decode(&buf.raw, like, &mut buf.inflated, each)
            .map_err(|e| self.error(format!("histogram cannot be decoded: {e}")))
    }
}

/// Buffers [`RawInterval::decode_sparse`] reuses.
#[derive(Default)]
pub struct SparseBuf {
    raw: Vec<u8>,
    inflated: sparse::Inflater,
}

/// Walk a log line by line: `each` sees every interval (and may decode it);
/// returns (StartTime, BaseTime). A bad line, a cut last line included, is
/// an error naming `path` and the line.
pub fn scan<'a>(
    bytes: &'a [u8],
    path: &'a Path,
    mut each: impl FnMut(RawInterval<'a>) -> Result<(), HlogError>,
) -> Result<(Option<Duration>, Option<Duration>), HlogError> {
    let bad = |offset: usize, what: String| HlogError::Bad {
        path: path.to_path_buf(),
        line: line_of(bytes, offset),
        what,
    };
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        let last = bytes.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        return Err(bad(last, "truncated line (no newline at the end)".into()));
    }
    let (mut start, mut base) = (None, None);
    // Lines counted incrementally: offsets only grow.
    let (mut seen_offset, mut seen_lines) = (0usize, 1usize);
    for entry in IntervalLogIterator::new(bytes) {
        let entry = entry.map_err(|e| match e {
            hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset } => {
                bad(offset, "not an interval log line".into())
            }
        })?;
        match entry {
            LogEntry::StartTime(t) => start = Some(t),
            LogEntry::BaseTime(t) => base = Some(t),
            LogEntry::Interval(i) => {
                let enc = i.encoded_histogram();
                // The encoded histogram is a slice of `bytes`: its offset gives the line.
                let offset = (enc.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
                let offset = offset.min(bytes.len());
                seen_lines += bytes[seen_offset..offset]
                    .iter()
                    .filter(|&&c| c == b'\n')
                    .count();
                seen_offset = offset;
                each(RawInterval {
                    line: seen_lines,
                    tag: i.tag().map_or("", |t| t.as_str()),
                    start: i.start_timestamp(),
                    duration: i.duration(),
                    encoded: enc,
                    path,
                })?;
            }
        }
    }
    Ok((start, base))
}

/// Histograms add exactly only with equal settings.
pub fn same_settings(a: &Histogram<u64>, b: &Histogram<u64>) -> Result<(), String> {
    if (a.low(), a.high(), a.sigfig()) == (b.low(), b.high(), b.sigfig()) {
        Ok(())
    } else {
        Err(format!(
            "histogram settings differ: lowest {} highest {} digits {} vs lowest {} highest {} digits {}",
            a.low(),
            a.high(),
            a.sigfig(),
            b.low(),
            b.high(),
            b.sigfig()
        ))
    }
}

pub mod sparse;

#[cfg(test)]
mod tests;
