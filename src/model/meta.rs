//! Run metadata as report data: what was run, how, and where (collected
//! by the run layer, `run::meta`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything about a run that is not a measurement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// The scenario's seed (the simulator has its own, in the plan's `[sim]`).
    pub seed: Option<u64>,
    /// The command line, secret-looking values replaced by `***`.
    #[serde(default)]
    pub argv: Vec<String>,
    /// The command-line overrides that changed the plan (`rate`, `duration`,
    /// `target`, `policy`, `max_rps`, `insecure`), as given.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    /// The schedule after overrides.
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub host: Host,
    /// The git revision stampede was built from, when the build set
    /// `STAMPEDE_GIT_REV` (no build script asks git; `None` otherwise).
    #[serde(default)]
    pub git_rev: Option<String>,
    /// The clock the run followed: `real`, or `virtual` (`--virtual-time`:
    /// the report's durations are simulated, docs/virtual-time.md).
    #[serde(default)]
    pub clock: crate::clock::ClockMode,
    /// Seconds the run took on the wall clock, on virtual time (where the
    /// report's `duration_s` is the simulated length); `None` on real time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
}

/// The effective load schedule of every round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// The load shape in words, with the arrivals cap when it cuts the shape short.
    pub load: String,
    /// Seconds after a round starts at which arrivals stop.
    pub arrivals_stop_s: f64,
    /// Seconds the schedule itself would run (stages' total, a drop's spread).
    pub natural_s: f64,
    /// Seconds journeys may still finish after arrivals stop.
    pub drain_s: f64,
    pub max_in_flight: u64,
    /// The attempts/s cap enforced.
    pub max_rps: f64,
    /// Sequential rounds (one per compared policy, or one for a mixed fleet).
    pub rounds: u64,
}

/// The machine that generated the load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    /// Logical CPUs available to stampede.
    pub cores: u64,
    /// e.g. `linux x86_64, Debian GNU/Linux 13 (trixie), kernel 6.1.0`.
    pub os: String,
}
