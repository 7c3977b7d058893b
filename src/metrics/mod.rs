//! Per-worker recorders: HdrHistograms (microseconds), outcome counts and
//! per-second series, merged once at the end of a round.
//!
//! Simulated users never touch a recorder: each one hands its finished
//! [`JourneyLog`] to its collector, the only owner of that recorder, so the
//! hot path takes no lock.

pub mod hgrm;
pub mod hlog;
pub mod interval;
pub mod latency;
pub mod live;
mod log;
mod recorder;
mod seconds;
pub mod stream;
mod summarize;
pub mod windows;

pub use live::{Live, LiveHistogram, LiveSnapshot};
pub use log::{AttemptLog, JourneyEnd, JourneyLog, OpLog, StatusClass};
pub use recorder::{MAX_OUTCOMES, Recorder, StepRec, new_histogram};
pub use seconds::{FINE_INTERVAL_MS, FINE_UNTIL, SecondHistograms, SparseCounts, interval_ms_for};
pub use summarize::{CohortMeta, US_PER_MS, summarize};
