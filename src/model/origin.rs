//! Where a report came from: what `stampede merge` checks before it adds
//! shards together and what it needs to evaluate the gates again.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The scenario's seed (shards of one run share it).
    #[serde(default)]
    pub seed: Option<u64>,
    /// The scenario's gates as written, evaluated again on a merged report.
    #[serde(default)]
    pub gates: Vec<String>,
    /// Which shard of how many ran this (`None`: the whole schedule).
    #[serde(default)]
    pub shard: Option<Shard>,
    /// The latency histograms' settings; shards merge only with equal ones.
    #[serde(default)]
    pub histogram: Option<HistogramSettings>,
    /// Report folders this report was merged from (empty for a single run).
    #[serde(default)]
    pub merged_from: Vec<String>,
    /// The bounded length of one round in seconds (duration + drain + 1 s):
    /// no per-second row of a round lies beyond it, so a damaged file
    /// cannot make a reader allocate for rows that cannot exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_s: Option<f64>,
}

pub use crate::shard::Shard;

/// HdrHistogram settings: lowest and highest trackable value (µs) and
/// significant digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistogramSettings {
    pub lowest: u64,
    pub highest: u64,
    pub significant_digits: u8,
}

impl HistogramSettings {
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Self {
        HistogramSettings {
            lowest: h.low(),
            highest: h.high(),
            significant_digits: h.sigfig(),
        }
    }
}
