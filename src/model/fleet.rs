//! What one fleet measured, in groups: what it counted, how long things
//! took, how it retried, the harm its retries could do, and what the target
//! itself says (the simulator's ledger, `[truth]`). The groups are
//! flattened into the fleet's JSON object, so `summary.json` keeps one flat
//! object per fleet (`results[].attempts`, `results[].early_retries`) while
//! the code reads `fleet.counts.attempts`, `fleet.harm.early_retries`.

use super::{
    FunnelStage, JourneyCounts, LatencyRow, Ledger, Percentiles, SecondRow, SpectrumPoint,
    StepResult, Truth, WindowSeries,
};
use crate::policy::RetryPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything measured for one policy or fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetResult {
    /// Fleet name (the policy name when policies are compared one after another).
    pub name: String,
    /// Policy name.
    pub policy: String,
    /// The fully resolved policy, so a report says exactly what was run.
    pub policy_detail: RetryPolicy,
    /// Which sequential round this fleet ran in (0-based); fleets of one round shared the target.
    pub round: usize,
    /// Fraction of the round's arrivals that belonged to this fleet.
    pub share: f64,
    #[serde(flatten)]
    pub counts: FleetCounts,
    #[serde(flatten)]
    pub latency: FleetLatency,
    #[serde(flatten)]
    pub retry: RetryBehaviour,
    #[serde(flatten)]
    pub harm: ClientHarm,
    /// attempts per operation -> operations. (Outside the flattened groups:
    /// a flattened map cannot have integer keys.)
    pub attempts_per_operation: BTreeMap<u32, u64>,
    pub steps: Vec<StepResult>,
    pub timeseries: Vec<SecondRow>,
    /// The simulator's ground truth for this round (embedded target only).
    pub ledger: Option<Ledger>,
    /// The target's own counts for this round, from `[truth]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<Truth>,
    /// Seconds from the end of the report's trigger until successes per
    /// second were back (see [`crate::report::recovery`]); `None` without a
    /// trigger or when the fleet did not recover before its round ended.
    #[serde(default)]
    pub recovery_s: Option<f64>,
    /// Wall-clock start of this fleet's round, in milliseconds since the
    /// Unix epoch: `timeseries` second `t` began at this + `t` s.
    #[serde(default)]
    pub round_started_unix_ms: Option<u64>,
    /// The fleet (every step) cut into the windows its gates ask for;
    /// empty when no gate asks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowSeries>,
}

/// What a fleet did, counted: operations, attempts, outcomes, journeys and
/// the rates derived from them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetCounts {
    /// Logical operations (one per journey step executed, retries excluded).
    pub operations: u64,
    /// HTTP attempts, first tries and retries, including `not_sent`.
    pub attempts: u64,
    /// Attempts that never left the generator (no file descriptor or local
    /// port, `LOCAL_RESOURCE_ERROR`; or `REJECTED_LOCALLY` by the policy's
    /// throttle): the target saw `attempts - not_sent`.
    #[serde(default)]
    pub not_sent: u64,
    /// Attempts after an operation's first that were not polls: the
    /// policy's retries and its hedges.
    pub retries: u64,
    /// Hedges sent: copies of an attempt still in flight (`hedge`), in
    /// `attempts` and `retries`.
    #[serde(default)]
    pub hedges: u64,
    /// Operations whose settling answer came from a hedge.
    #[serde(default)]
    pub hedge_wins: u64,
    /// Sent attempts / operations over the steps named in `amplification_steps`
    /// (the retried work; pre-checks and follow-up steps would dilute it):
    /// the load the policy multiplies onto the target. Per-step values are
    /// in `steps`, the all-steps value in `amplification_overall`.
    pub amplification: f64,
    /// The journey steps the headline `amplification` is over.
    #[serde(default)]
    pub amplification_steps: Vec<String>,
    /// attempts / operations over every step.
    #[serde(default)]
    pub amplification_overall: f64,
    /// Operations that ended 2xx / operations.
    pub success_rate: f64,
    /// Successful journeys per second of round time.
    pub goodput: f64,
    /// Attempts per second of round time.
    pub achieved_rps: f64,
    pub round_duration_s: f64,
    pub journeys: JourneyCounts,
    /// Final outcome label -> operations: "OK", a target code
    /// ("INSUFFICIENT_SEATS"; a code that reads like one of stampede's labels
    /// is shown as "target:<code>"), "HTTP_<status>" without an envelope,
    /// "TIMEOUT", a network error by kind ("CONNECT_REFUSED", ...),
    /// "GAVE_UP/<last cause>", "BREAKER_OPEN", "BUDGET_EXHAUSTED",
    /// "ABANDONED", "CANCELLED", "OTHER" (beyond the per-step vocabulary bound).
    pub outcomes: BTreeMap<String, u64>,
    /// Times a login step ran again on an expired session (`refresh_on`).
    #[serde(default)]
    pub relogins: u64,
    /// The scenario's funnel (`[journey] funnel`): journeys through each stage.
    #[serde(default)]
    pub funnel: Vec<FunnelStage>,
}

/// How long a fleet's operations, attempts and journeys took, as
/// percentiles, spectra and series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetLatency {
    /// End-to-end, from the intended start (retries and backoff included),
    /// every operation whatever its outcome.
    pub operation_latency_ms: Percentiles,
    /// The same over the operations that ended OK.
    #[serde(default)]
    pub ok_operation_latency_ms: Percentiles,
    /// Per attempt, from the moment its request could be written to its
    /// answer (its `queue_wait_ms` left out).
    pub attempt_latency_ms: Percentiles,
    /// Per attempt, from its start until its request could be written:
    /// waiting for one of `target.connections`, a new connection's TCP, TLS
    /// and HTTP/2 handshakes and, over HTTP/2, a stream slot under the
    /// server's `SETTINGS_MAX_CONCURRENT_STREAMS`. One value per attempt
    /// (`count` equals `attempt_latency_ms.count`); an attempt that ended
    /// before its request could be written (a timeout in the queue, a
    /// refused connection) has all its time here. Zeros in a report from
    /// before it was recorded.
    #[serde(default)]
    pub queue_wait_ms: Percentiles,
    pub backoff_wait_ms: Percentiles,
    /// How late the generator started operations versus the schedule.
    pub schedule_lag_ms: Percentiles,
    /// From each journey's intended start to its end, whatever its end
    /// (k6's `iteration_duration`).
    #[serde(default)]
    pub journey_duration_ms: Percentiles,
    /// The step whose latency the headlines show (`[journey] latency_step`,
    /// default the last step), so a headline never blends login, polls and
    /// reserve into one number.
    #[serde(default)]
    pub latency_step: Option<String>,
    pub operation_spectrum: Vec<SpectrumPoint>,
    pub attempt_spectrum: Vec<SpectrumPoint>,
    /// Length of one `latency_series` interval: 100 ms for a round whose
    /// arrivals last at most 30 s, else 1000 ms (merged reports: 1000).
    #[serde(default)]
    pub latency_interval_ms: u32,
    /// Latency over every step per interval of `latency_interval_ms`
    /// (only intervals where something ended; `t_ms` since the round start).
    #[serde(default)]
    pub latency_series: Vec<LatencyRow>,
    /// The same per second (each second's intervals summed bucket by
    /// bucket, then percentiles): the latency columns of `timeseries.csv`.
    #[serde(default)]
    pub latency_per_second: Vec<LatencyRow>,
}

/// How the fleet's policy behaved when told to wait or when failures
/// piled up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetryBehaviour {
    /// Retries whose wait was the Retry-After the server gave.
    pub retry_after_honoured: u64,
    pub breaker_opens: u64,
    /// Total seconds simulated clients spent with an open breaker.
    pub breaker_open_s: f64,
}

/// The harm the fleet's retries could do, measured by the client (so it is
/// per fleet even in a mixed round); the target's side of it is in the
/// ledger and `[truth]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientHarm {
    /// Retries this fleet sent sooner than the Retry-After the server gave.
    #[serde(default)]
    pub early_retries: u64,
    /// Retries that changed the idempotency key after an ambiguous failure
    /// (timeout, reset, 5xx): each one a possible duplicate.
    #[serde(default)]
    pub key_changed_after_ambiguous: u64,
    /// Attempts sent while a Retry-After the user had received was still
    /// running, on any operation.
    #[serde(default)]
    pub sent_while_told_to_wait: u64,
}

impl std::ops::AddAssign<&RetryBehaviour> for RetryBehaviour {
    fn add_assign(&mut self, b: &RetryBehaviour) {
        self.retry_after_honoured += b.retry_after_honoured;
        self.breaker_opens += b.breaker_opens;
        self.breaker_open_s += b.breaker_open_s;
    }
}

impl std::ops::AddAssign<&ClientHarm> for ClientHarm {
    fn add_assign(&mut self, b: &ClientHarm) {
        self.early_retries += b.early_retries;
        self.key_changed_after_ambiguous += b.key_changed_after_ambiguous;
        self.sent_while_told_to_wait += b.sent_while_told_to_wait;
    }
}

impl FleetResult {
    /// What the headlines call this fleet's latency: the OK operations of
    /// its `latency_step` (or of every step, in a report from before it was
    /// recorded), with the words that say so.
    pub fn headline_latency(&self) -> (String, &Percentiles) {
        match self
            .latency
            .latency_step
            .as_ref()
            .and_then(|n| self.steps.iter().find(|s| &s.name == n))
        {
            Some(s) => (s.name.clone(), &s.ok_operation_latency_ms),
            None => (
                "operation".to_string(),
                &self.latency.ok_operation_latency_ms,
            ),
        }
    }
}
