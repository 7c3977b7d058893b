//! The one report model. Every output format (JSON, CSV, HTML, JUnit, the
//! console summary) is rendered from a [`Report`], and `stampede report DIR`
//! rebuilds them all from `summary.json`, so the model carries everything a
//! renderer needs (percentile spectra and time series included) and nothing
//! that could leak a secret (no tokens, no header values).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub stampede_version: String,
    /// Scenario name (file stem unless the file sets `name`).
    pub scenario: String,
    pub description: String,
    /// Path of the scenario file as given on the command line.
    pub source: String,
    /// RFC 3339 UTC start of the run.
    pub started_at: String,
    pub duration_s: f64,
    /// "embedded simulator" or the target URL (never with credentials).
    pub target: String,
    /// Human description of the load shape ("ticket drop: 5000 users over 2s").
    pub load: String,
    /// Completed, interrupted (Ctrl-C) or aborted (an abort rule or a dead target).
    pub status: RunStatus,
    /// Why the run stopped early, when it did.
    pub stop_reason: Option<String>,
    /// Things a reader must know to trust the numbers (e.g. the attempts/s
    /// safety cap held the generator back, so the target saw less load).
    #[serde(default)]
    pub notes: Vec<String>,
    /// One entry per compared policy or fleet, in scenario order.
    pub results: Vec<FleetResult>,
    /// Threshold gates evaluated on this report (empty when the scenario has none).
    #[serde(default)]
    pub gates: Vec<GateResult>,
    /// The embedded simulator's earliest fault window (the trigger of a
    /// metastability experiment); `None` without one or against a real target.
    #[serde(default)]
    pub trigger: Option<Trigger>,
    /// Seed, gates, shard and histogram settings (see [`Origin`]).
    #[serde(default)]
    pub origin: Origin,
    /// Seed, command line, overrides, effective schedule, host, git revision.
    #[serde(default)]
    pub meta: meta::RunMeta,
}

/// What a report says of its run before anything was measured: the same
/// for a finished run and for the skeleton written before its first round.
#[derive(Debug, Clone)]
pub struct Heading {
    pub scenario: String,
    pub description: String,
    pub source: String,
    pub started_at: String,
    pub target: String,
    pub load: String,
    pub origin: Origin,
}

impl Report {
    /// The one way a run's report is made: `results` under `heading`, with
    /// no gates, trigger or metadata yet (evaluated, chosen and filled in
    /// afterwards by the caller).
    pub fn new(
        heading: Heading,
        status: RunStatus,
        stop_reason: Option<String>,
        duration_s: f64,
        notes: Vec<String>,
        results: Vec<FleetResult>,
    ) -> Report {
        let Heading {
            scenario,
            description,
            source,
            started_at,
            target,
            load,
            origin,
        } = heading;
        Report {
            schema_version: SCHEMA_VERSION,
            stampede_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario,
            description,
            source,
            started_at,
            duration_s,
            target,
            load,
            status,
            stop_reason,
            notes,
            results,
            gates: Vec::new(),
            trigger: None,
            origin,
            meta: Default::default(),
        }
    }
}

/// A fault window, in seconds since the start of each round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub from_s: f64,
    pub to_s: f64,
}

/// Latency percentiles in milliseconds (fractional).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    #[serde(default)]
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// One point of an HdrHistogram-style percentile spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpectrumPoint {
    /// Percentile in [0, 100].
    pub percentile: f64,
    pub value_ms: f64,
}

/// Latency of one interval in milliseconds (fractional), computed exactly
/// from that interval's histogram (never an average of percentiles). An
/// interval without samples of this kind has `count` 0 and zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalLatency {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// One interval of a latency-over-time series: the operations and the
/// attempts that ended in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyRow {
    /// Start of the interval in milliseconds since the round started.
    pub t_ms: u64,
    /// Operations (retries and backoff included) that ended in the interval.
    pub operation_latency_ms: IntervalLatency,
    /// Attempts that ended in the interval.
    pub attempt_latency_ms: IntervalLatency,
}

/// Per-second counters of one fleet. `t` is seconds since the round started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondRow {
    pub t: u32,
    /// Journeys whose start was scheduled in this second (the same word as
    /// the live view and Prometheus: a journey arriving).
    pub arrivals: u64,
    /// Operations (of every step) whose first attempt was due in this second.
    #[serde(default)]
    pub operations_started: u64,
    /// Attempts sent (first tries and retries).
    pub attempts: u64,
    pub retries: u64,
    /// Attempts answered 2xx.
    pub successes: u64,
    pub status_429: u64,
    pub status_5xx: u64,
    pub timeouts: u64,
    pub network_errors: u64,
    /// Attempts that never left the generator (in `attempts`, not seen by
    /// the target).
    #[serde(default)]
    pub not_sent: u64,
    /// Journeys in flight (including those waiting in backoff or in a
    /// queue), sampled at the end of the second.
    pub in_flight: u64,
    pub breaker_opens: u64,
}

/// Requests the target saw per operation: operations plus retries, less
/// the attempts that never left the generator, over operations (0 without
/// operations). Polls of a wait step are not amplification.
pub fn amplification(operations: u64, retries: u64, not_sent: u64) -> f64 {
    if operations == 0 {
        return 0.0;
    }
    (operations + retries).saturating_sub(not_sent) as f64 / operations as f64
}

impl std::ops::AddAssign for SecondRow {
    /// Rows of the same second from two recorders (`t` is kept).
    fn add_assign(&mut self, b: SecondRow) {
        self.arrivals += b.arrivals;
        self.operations_started += b.operations_started;
        self.attempts += b.attempts;
        self.retries += b.retries;
        self.successes += b.successes;
        self.status_429 += b.status_429;
        self.status_5xx += b.status_5xx;
        self.timeouts += b.timeouts;
        self.network_errors += b.network_errors;
        self.not_sent += b.not_sent;
        self.in_flight += b.in_flight;
        self.breaker_opens += b.breaker_opens;
    }
}

/// Journey-level counts: a journey is one simulated user's visit
/// (pre-check, reserve, confirm, trying other zones when one is sold out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct JourneyCounts {
    pub started: u64,
    /// Reached the end of the journey (e.g. a confirmed booking).
    pub succeeded: u64,
    /// Every zone was sold out.
    pub sold_out: u64,
    pub failed: u64,
    /// Still running when the run ended.
    pub cancelled: u64,
}

impl std::ops::AddAssign for JourneyCounts {
    fn add_assign(&mut self, b: JourneyCounts) {
        self.started += b.started;
        self.succeeded += b.succeeded;
        self.sold_out += b.sold_out;
        self.failed += b.failed;
        self.cancelled += b.cancelled;
    }
}

/// Metrics of one journey step (availability, reserve, confirm, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    pub operations: u64,
    /// Attempts logged, first tries and retries, including `not_sent`.
    pub attempts: u64,
    /// Attempts that never left the generator (no file descriptor or local
    /// port; or rejected locally by the policy's throttle): the target saw
    /// `attempts - not_sent`.
    #[serde(default)]
    pub not_sent: u64,
    /// Requests the target saw per operation: (operations + retries -
    /// not_sent) / operations ([`amplification`]).
    #[serde(default)]
    pub amplification: f64,
    pub success_rate: f64,
    pub outcomes: BTreeMap<String, u64>,
    pub operation_latency_ms: Percentiles,
    /// Operation latency of the operations that ended OK (latency gates and
    /// headlines read this one: a fast failure is not good latency).
    #[serde(default)]
    pub ok_operation_latency_ms: Percentiles,
    pub attempt_latency_ms: Percentiles,
    /// Attempt latency per status class ("2xx", "4xx", "429", "5xx", "timeout", "network").
    pub attempt_latency_by_class_ms: BTreeMap<String, Percentiles>,
    /// This step's latency per interval of the fleet's
    /// `latency_interval_ms`; only intervals where something ended.
    #[serde(default)]
    pub latency_series: Vec<LatencyRow>,
    /// What the step is: a request, a wait that polls, or a wait on an
    /// event stream.
    #[serde(default)]
    pub kind: StepKind,
    /// Attempts that were retries per the policy (not polls), hedges
    /// included.
    #[serde(default)]
    pub retries: u64,
    /// Hedges sent: copies of an attempt still in flight (`hedge`), in
    /// `attempts` and `retries`.
    #[serde(default)]
    pub hedges: u64,
    /// Operations whose settling answer came from a hedge.
    #[serde(default)]
    pub hedge_wins: u64,
    /// Journeys in which an operation of this step succeeded (the funnel).
    #[serde(default)]
    pub journeys_passed: u64,
    /// A wait step's polls (its operation latency is the time in queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitStats>,
    /// This step cut into the windows its gates ask for (`in 99% of 10s
    /// windows`); empty when no gate asks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowSeries>,
}

/// A round cut into tumbling windows of `width_s` seconds from its start,
/// for windowed gates: what ended in each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSeries {
    pub width_s: u32,
    /// Every window from the round's start to its end (or to the last thing
    /// that ended, if later), empty ones included.
    pub rows: Vec<WindowRow>,
}

/// One window: the operations and attempts that ended in
/// `[t_s, t_s + width_s)`, and their latencies, computed exactly from the
/// window's own histogram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowRow {
    pub t_s: u32,
    pub operations: u64,
    /// Operations that ended OK.
    pub ok_operations: u64,
    pub attempts: u64,
    pub operation_latency_ms: Percentiles,
    pub ok_operation_latency_ms: Percentiles,
    pub attempt_latency_ms: Percentiles,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    #[default]
    Request,
    /// Repeats its request until `until` holds.
    Poll,
    /// Holds a Server-Sent Events stream until the awaited event.
    Sse,
}

/// What a wait step's operations did while they waited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitStats {
    /// Requests that were polls (not retries); for SSE, connections opened.
    pub polls: u64,
    /// polls per wait -> waits.
    pub polls_per_wait: BTreeMap<u32, u64>,
    /// Polls sent sooner than the Retry-After of the answer before.
    pub early_polls: u64,
    /// SSE: connections opened after the first, per wait summed.
    pub reconnects: u64,
    /// SSE: from the intended start to the first event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_event_ms: Option<Percentiles>,
}

/// One stage of the funnel: the journeys that got through its step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStage {
    pub step: String,
    pub journeys: u64,
}

/// The target's own counts for a round (`[truth]`), read before and after
/// it: what the server says happened, beside what stampede counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Where they came from: `GET <url without query>` or `command <program>`.
    pub source: String,
    /// Counters: the reading after the round minus the one before.
    #[serde(default)]
    pub counts: BTreeMap<String, f64>,
    /// Levels: the reading after the round.
    #[serde(default)]
    pub levels: BTreeMap<String, f64>,
}

impl Truth {
    /// A count or level by key.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.counts
            .get(key)
            .or_else(|| self.levels.get(key))
            .copied()
    }
}

/// A threshold gate and how it fared. Renderers (JUnit, the console) build
/// their text from these fields, never from `message`, which is for humans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The expression as written, e.g. `compliant.operation_latency.p99 < 800ms`.
    pub expr: String,
    pub passed: bool,
    /// The measured value in the expression's unit, when it could be measured.
    pub measured: Option<f64>,
    /// The bound in the expression's unit.
    pub bound: f64,
    pub message: String,
    /// The metric path, e.g. `compliant.reserve.attempt_latency.p99`.
    #[serde(default)]
    pub metric: String,
    /// The comparison operator: `<`, `<=`, `>`, `>=`, `==` or `!=`.
    #[serde(default)]
    pub op: String,
    /// The unit `measured` and `bound` are in, as written (`ms`, `s`, `us`,
    /// `%`; `ms` for a latency written without one; empty for plain numbers).
    #[serde(default)]
    pub unit: String,
    /// The bound in the unit written, with the unit: `800ms`, `98%`, `1.3`.
    #[serde(default)]
    pub bound_written: String,
    /// The measured value likewise (`812.4ms`; `never` for a recovery that
    /// never came); `None` when nothing was measured.
    #[serde(default)]
    pub measured_written: Option<String>,
    #[serde(default)]
    pub reason: GateReason,
    /// Why nothing was measured, in words (`None` when a value was measured).
    #[serde(default)]
    pub detail: Option<String>,
    /// For a gate relative to a baseline run (`<= baseline * 1.1`): the
    /// baseline's value of the metric, in `unit`; `bound` is then derived from it.
    #[serde(default)]
    pub baseline: Option<f64>,
    /// For a windowed gate (`in 99% of 10s windows`): how the windows
    /// fared; `measured` is then the worst window's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowVerdict>,
}

/// How a windowed gate's windows fared.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowVerdict {
    pub width_s: u32,
    /// The share of measured windows in which the bound must hold, in (0, 1].
    pub required: f64,
    /// Windows with something to measure.
    pub measured: u64,
    /// Of those, the windows in which the bound held.
    pub held: u64,
    /// Windows with nothing to measure (no samples, no operations), left out.
    pub empty: u64,
    /// Start of the worst window, seconds since the round start.
    pub worst_t_s: Option<u32>,
}

mod fleet;
mod gate_result;
mod ledger;
pub mod meta;
mod origin;
mod status;
pub use fleet::{ClientHarm, FleetCounts, FleetLatency, FleetResult, RetryBehaviour};
pub use gate_result::{GATE_REASONS, GateReason};
pub use ledger::{Ledger, QueueLedger, TimeSummary, ZoneSeats};
pub use meta::{Host, RunMeta, Schedule};
pub use origin::{HistogramSettings, Origin, Shard};
pub use status::RunStatus;

impl Report {
    /// Why the target counts as unreachable: attempts ended without an HTTP
    /// answer (a timeout or a network failure, by kind in the outcomes) and not
    /// one got an answer of any status. Attempts still in flight when the run
    /// ended say nothing either way.
    pub fn unreachable(&self) -> Option<String> {
        // An answer that is not valid HTTP is an answer all the same.
        const ANSWERED: &[&str] = &["2xx", "3xx", "4xx", "429", "5xx", "invalid_response"];
        const NO_ANSWER: &[&str] = &["timeout", "network", "not_sent"];
        let count = |classes: &[&str]| -> u64 {
            self.results
                .iter()
                .flat_map(|c| &c.steps)
                .flat_map(|s| &s.attempt_latency_by_class_ms)
                .filter(|(class, _)| classes.contains(&class.as_str()))
                .map(|(_, p)| p.count)
                .sum()
        };
        let failed = count(NO_ANSWER);
        (failed > 0 && count(ANSWERED) == 0).then(|| {
            format!("none of the attempts got an HTTP answer: {failed} ended in a timeout or a network failure (see the outcomes for the kinds)")
        })
    }
}
