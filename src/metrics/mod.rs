//! Per-worker recorders: HdrHistograms (microseconds), outcome counts and
//! per-second series, merged once at the end of a round.
//!
//! A simulated user writes its [`JourneyLog`] as the journey goes and adds
//! it, finished, to one of the round's recorders (`engine::stream`): one
//! short lock of a shard chosen by the user's arrival, so worker threads
//! rarely meet, and no channel or collector task per journey.

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
pub use summarize::{FleetMeta, US_PER_MS, summarize};
