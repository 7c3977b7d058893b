//! Streaming a round to disk while it runs, so `kill -9` loses at most the
//! last second.
//!
//! Collectors fold journeys into a per-collector *delta* recorder and, once
//! a second, add it to their round total and hand it to the round's stream
//! task (the round's ticker, `engine/ticker.rs`). The task sums the deltas it received and,
//! once a second, appends them to the report folder and flushes:
//!
//! - [`STREAM_FILE`] (`stream.partial.jsonl`): one JSON line per fleet per
//!   flush with what that second added: per-step operations, successes,
//!   attempts and outcome labels, journey counts, retry counters, and the
//!   per-second rows ([`SecondRow`], `t` since the round start) it touched;
//! - the `.hlog` files ([`crate::metrics::interval`]): the same second's
//!   `op` and `attempt` intervals per step and for the fleet.
//!
//! Every line is a delta: a reader sums lines (and intervals of the same
//! second), and a last line cut short by a kill is dropped. When the run
//! ends, the final report files replace the `.hlog` files atomically and
//! the stream file is removed; `stampede report DIR` on a folder without
//! `summary.json` rebuilds a report marked incomplete from what is there
//! (`crate::merge::partial`). [`SKELETON_FILE`] (`run.partial.json`),
//! written before the first round, is that report with every count zero.

use super::interval;
use super::recorder::Recorder;
use crate::metrics::hlog;
use crate::model::{ClientHarm, JourneyCounts, SecondRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const STREAM_FILE: &str = "stream.partial.jsonl";
pub const SKELETON_FILE: &str = "run.partial.json";

/// One step's counters in a [`StreamLine`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepLine {
    pub operations: u64,
    pub ok: u64,
    pub attempts: u64,
    pub outcomes: BTreeMap<String, u64>,
    /// Attempts that were retries (not polls).
    #[serde(default)]
    pub retries: u64,
    /// Attempts that never left the generator.
    #[serde(default)]
    pub not_sent: u64,
    /// Hedges sent.
    #[serde(default)]
    pub hedges: u64,
    /// Operations a hedge's answer settled.
    #[serde(default)]
    pub hedge_wins: u64,
}

/// What one flush added to one fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamLine {
    pub round: usize,
    pub fleet: String,
    pub steps: Vec<StepLine>,
    pub journeys: JourneyCounts,
    pub retry_after_honoured: u64,
    pub breaker_opens: u64,
    #[serde(default)]
    pub breaker_open_s: f64,
    /// The client-side harm counts (`early_retries` and the others), as in
    /// the report's fleet object.
    #[serde(flatten)]
    pub harm: ClientHarm,
    /// Per-second rows this flush touched (deltas; `t` since the round start).
    pub rows: Vec<SecondRow>,
}

impl StreamLine {
    pub fn of(round: usize, fleet: &str, d: &Recorder) -> Self {
        StreamLine {
            round,
            fleet: fleet.to_string(),
            steps: d
                .steps
                .iter()
                .map(|s| StepLine {
                    operations: s.ops,
                    ok: s.ok,
                    attempts: s.attempts,
                    not_sent: s.not_sent,
                    hedges: s.hedges,
                    hedge_wins: s.hedge_wins,
                    retries: s
                        .attempts
                        .saturating_sub(s.polls.iter().map(|(k, n)| u64::from(*k) * n).sum()),
                    outcomes: s
                        .outcomes
                        .iter()
                        .map(|(o, n)| (o.label().into_owned(), *n))
                        .collect(),
                })
                .collect(),
            journeys: d.journeys,
            retry_after_honoured: d.retry_after_honoured,
            breaker_opens: d.breaker_opens,
            breaker_open_s: d.breaker_open_time.as_secs_f64(),
            harm: ClientHarm {
                early_retries: d.early_retries,
                key_changed_after_ambiguous: d.key_changed_after_ambiguous,
                sent_while_told_to_wait: d.sent_while_told_to_wait,
            },
            rows: d
                .series
                .iter()
                .filter(|r| {
                    **r != SecondRow {
                        t: r.t,
                        ..SecondRow::default()
                    }
                })
                .copied()
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.journeys.started == 0
            && self.rows.is_empty()
            && self.steps.iter().all(|s| s.operations == 0)
    }
}

struct FleetFiles {
    name: String,
    fleet: BufWriter<File>,
    steps: Vec<BufWriter<File>>,
}

/// What a streamed outcome label goes through before it is written (the
/// run's secrets taken out).
pub type Scrub = std::sync::Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The open streamed files of one round.
pub struct StreamFiles {
    round: usize,
    jsonl: BufWriter<File>,
    fleets: Vec<FleetFiles>,
    scrub: Option<Scrub>,
}

fn create(path: PathBuf) -> io::Result<BufWriter<File>> {
    Ok(BufWriter::new(File::create(path)?))
}

impl StreamFiles {
    /// Open (truncate) the round's `.hlog` files with their headers and
    /// open the stream file for appending.
    pub fn create(
        dir: &Path,
        round: usize,
        fleets: &[String],
        step_names: &[String],
        base: SystemTime,
    ) -> io::Result<Self> {
        let jsonl = BufWriter::new(
            File::options()
                .create(true)
                .append(true)
                .open(dir.join(STREAM_FILE))?,
        );
        let mut out = Vec::new();
        for c in fleets {
            let mut fleet = create(dir.join(hlog::file_name(c, None)))?;
            hlog::write_header(&mut fleet, c, base)?;
            fleet.flush()?;
            let mut steps = Vec::new();
            for s in step_names {
                let mut f = create(dir.join(hlog::file_name(c, Some(s))))?;
                hlog::write_header(&mut f, &format!("{c}.{s}"), base)?;
                f.flush()?;
                steps.push(f);
            }
            out.push(FleetFiles {
                name: c.clone(),
                fleet,
                steps,
            });
        }
        Ok(StreamFiles {
            round,
            jsonl,
            fleets: out,
            scrub: None,
        })
    }

    /// Every outcome label written goes through `scrub` first.
    pub fn with_scrub(mut self, scrub: Scrub) -> Self {
        self.scrub = Some(scrub);
        self
    }

    /// Append one flush: `deltas[i]` is what fleet `i` added. Histograms
    /// first, then the counters line, each file flushed.
    pub fn append(&mut self, deltas: &[Recorder]) -> io::Result<()> {
        for (c, d) in self.fleets.iter_mut().zip(deltas) {
            let mut line = StreamLine::of(self.round, &c.name, d);
            if line.is_empty() {
                continue;
            }
            if let Some(scrub) = &self.scrub {
                for s in &mut line.steps {
                    let mut kept: BTreeMap<String, u64> = BTreeMap::new();
                    for (k, n) in std::mem::take(&mut s.outcomes) {
                        *kept.entry(scrub(&k)).or_default() += n;
                    }
                    s.outcomes = kept;
                }
            }
            interval::write_fleet_seconds(&mut c.fleet, d)?;
            c.fleet.flush()?;
            for (f, s) in c.steps.iter_mut().zip(&d.steps) {
                interval::write_step_seconds(f, s)?;
                f.flush()?;
            }
            let mut text = serde_json::to_string(&line).map_err(io::Error::other)?;
            text.push('\n');
            self.jsonl.write_all(text.as_bytes())?;
            self.jsonl.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_touched_rows_are_streamed() {
        let mut r = Recorder::new(1);
        r.series = vec![
            SecondRow::default(),
            SecondRow {
                t: 1,
                attempts: 3,
                ..SecondRow::default()
            },
        ];
        r.steps[0].attempts = 3;
        let line = StreamLine::of(0, "c", &r);
        assert_eq!(line.rows.len(), 1);
        assert_eq!(line.rows[0].t, 1);
        assert_eq!(line.steps[0].attempts, 3);
        assert!(!line.is_empty());
        assert!(StreamLine::of(0, "c", &Recorder::new(1)).is_empty());
    }

    #[test]
    fn streamed_labels_go_through_the_scrub_and_alike_ones_add_up() {
        use crate::outcome::{Cause, Code, OpOutcome};
        let dir =
            std::env::temp_dir().join(format!("stampede-stream-scrub-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let names = ["c".to_string()];
        let mut files = StreamFiles::create(&dir, 0, &names, &["s".to_string()], SystemTime::now())
            .unwrap()
            .with_scrub(std::sync::Arc::new(|t: &str| {
                t.replace("tok-secret", "***")
            }));
        let mut r = Recorder::new(1);
        r.steps[0].attempts = 2;
        r.steps[0].ops = 2;
        for code in ["BAD_tok-secret", "BAD_***"] {
            let code = Code::new(code).unwrap();
            let o = OpOutcome::Failed(Cause::Code { status: 400, code });
            r.steps[0].outcomes.insert(o, 1);
        }
        files.append(std::slice::from_ref(&r)).unwrap();
        drop(files);
        let text = std::fs::read_to_string(dir.join(STREAM_FILE)).unwrap();
        assert!(!text.contains("tok-secret"), "{text}");
        let line: StreamLine = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line.steps[0].outcomes.get("BAD_***"), Some(&2), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
