//! The scenario file as written: serde structs mirroring the TOML, with
//! `deny_unknown_fields` everywhere so a typo is an error, never a silently
//! ignored knob. Turning this into a runnable [`super::Plan`] (defaults,
//! cross-checks, CLI overrides) happens in `build.rs`.

use crate::policy::PolicyOverrides;
use crate::sim::SimConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Defaults to the file stem.
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Seeds every random choice of the run (jitter, fleet mix, simulator faults).
    pub seed: Option<u64>,
    #[serde(default)]
    pub target: TargetSection,
    pub load: LoadSection,
    #[serde(default)]
    pub users: UsersSection,
    pub journey: Option<JourneySection>,
    /// Policies run one after another on the same load, each on a fresh target.
    #[serde(default)]
    pub compare: Vec<String>,
    /// Populations sharing one run (e.g. 80% compliant, 20% naive).
    /// `[[cohorts]]` is the older name of the same table, still read.
    #[serde(default, alias = "cohorts")]
    pub fleets: Vec<FleetSection>,
    /// Custom policies: a preset plus overrides, referenced by name.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyOverrides>,
    pub sim: Option<SimConfig>,
    #[serde(default)]
    pub gates: Vec<String>,
    #[serde(default)]
    pub safety: SafetySection,
    /// The target's own counts, read before and after each round.
    pub truth: Option<TruthSection>,
    /// When the incident under test happens (seconds from each round's
    /// start), for `recovery_s` against any target.
    pub trigger: Option<TriggerSection>,
}

/// `trigger = { from = "20s", to = "30s" }`: the declared incident window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSection {
    #[serde(with = "humantime_serde")]
    pub from: Duration,
    #[serde(with = "humantime_serde")]
    pub to: Duration,
}

/// `[truth]`: where the target's own counts come from (an HTTP endpoint or
/// a command) and which of its numbers mean what.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSection {
    /// An absolute http(s) URL answering GET with JSON.
    pub url: Option<String>,
    /// Headers for `url`, each value read from the named environment variable.
    #[serde(default)]
    pub headers_env: BTreeMap<String, String>,
    /// A program and its arguments printing JSON or `key value` lines.
    pub command: Option<Vec<String>>,
    /// Counters: the round's value is the reading after minus the one before.
    #[serde(default)]
    pub counts: BTreeMap<String, String>,
    /// Levels: the round's value is the reading after the round.
    #[serde(default)]
    pub levels: BTreeMap<String, String>,
    /// Longest a reading may take (default 10 s).
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Wait this long after a round before the second reading (default 0 s).
    #[serde(default, with = "humantime_serde")]
    pub settle: Option<Duration>,
}

/// Rails for shared staging.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetySection {
    /// Most attempts per second this scenario may send (at most the hard
    /// cap, which only the command line raises).
    pub max_rps: Option<f64>,
    #[serde(default)]
    pub abort: Vec<AbortSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbortSection {
    /// `error_rate > 50%`, `operation_p99 > 5s` or `attempt_rate > 15000`.
    pub when: String,
    /// How long the condition must hold (a trailing window).
    #[serde(rename = "for", with = "humantime_serde")]
    pub window: Duration,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// Base URL; absent means the embedded simulator.
    pub url: Option<String>,
    /// Name of the environment variable holding a bearer token for every user.
    pub token_env: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Overrides every policy's request timeout.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Most HTTP requests in flight at once (the connection cap).
    pub connections: Option<usize>,
    /// How long an idle HTTP/1 connection is kept for another request
    /// (default 4s; 0: every request on a new connection).
    #[serde(default, with = "humantime_serde")]
    pub keep_alive: Option<Duration>,
    /// PEM CA bundle trusted for HTTPS (private staging CAs), relative to the scenario file.
    pub ca_file: Option<String>,
    /// Also trust the operating system's root certificates.
    #[serde(default)]
    pub system_roots: bool,
    /// Skip certificate verification (loudly warned about).
    #[serde(default)]
    pub insecure: bool,
    /// Read the simulator ledger at `/__sim/ledger` before and after each
    /// round (default: only for the embedded simulator; `true` for a
    /// `stampede serve` target).
    pub ledger: Option<bool>,
    /// JSON pointers to the error code in an error answer, tried in order
    /// (default `["/error/code", "/code"]`: the nested and the flat envelope).
    pub error_code: Option<Vec<String>>,
    /// The header an `idempotent` step sends its key in (default `Idempotency-Key`).
    pub idempotency_header: Option<String>,
    /// PEM client certificate (chain) for mutual TLS, relative to the scenario file.
    pub client_cert: Option<String>,
    /// PEM private key of `client_cert` (kept out of git like any secret).
    pub client_key: Option<String>,
    /// An HTTP proxy for every connection (`http://host:port`, no
    /// credentials), or `"none"`; absent: from `HTTP_PROXY` and friends.
    pub proxy: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadModel {
    Open,
    Closed,
    TicketDrop,
}

/// How arrivals are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalProcess {
    /// Evenly spaced at the schedule's rate.
    #[default]
    Uniform,
    /// A Poisson process at the schedule's rate: exponential gaps, seeded.
    Poisson,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstSection {
    /// When, from the round start.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// How many arrivals at that instant.
    pub count: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSection {
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Constant arrivals per second for this stage.
    pub rate: Option<f64>,
    /// Linear ramp from `from` to `to` arrivals per second.
    pub from: Option<f64>,
    pub to: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSection {
    pub model: LoadModel,
    /// Open model: arrival-rate stages.
    #[serde(default)]
    pub stages: Vec<StageSection>,
    /// Closed model: concurrent users; ticket drop: users arriving.
    pub users: Option<u64>,
    /// Ticket drop: the window over which `users` arrive.
    #[serde(default, with = "humantime_serde")]
    pub over: Option<Duration>,
    /// Closed model: journeys per user.
    pub iterations: Option<u64>,
    /// Closed model: pause between a user's journeys (`"2s"`, `{ min, max }`
    /// or `{ mean }`).
    pub think_time: Option<toml::Value>,
    /// Open and ticket-drop models: `"uniform"` (evenly spaced, the
    /// default) or `"poisson"` (a seeded Poisson process at the same rate).
    pub arrivals: Option<ArrivalProcess>,
    /// Extra arrivals all at once: `[{ at = "10s", count = 500 }]`.
    #[serde(default)]
    pub bursts: Vec<BurstSection>,
    /// Hard limit on the time arrivals are generated (closed model: run time).
    #[serde(default, with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// After arrivals stop, how long in-flight journeys may finish.
    #[serde(default, with = "humantime_serde")]
    pub drain: Option<Duration>,
    /// Most journeys in flight at once (including those waiting in backoff).
    pub max_in_flight: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersSection {
    /// Distinct generated users; arrivals cycle through them.
    pub count: Option<u64>,
    /// Prefix of generated user ids.
    pub prefix: Option<String>,
    /// CSV file with a header row naming `user_id` and any other columns
    /// (each a journey variable; `token` is sent as the bearer token),
    /// relative to the scenario file.
    pub csv: Option<String>,
    /// Generated users send `Authorization: Bearer tok-<id>` (default: only
    /// to the embedded simulator or a `stampede serve` target).
    pub generated_tokens: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneySection {
    pub event: Option<String>,
    /// Zones tried in order (starting at a per-user offset) when one is sold out.
    #[serde(default)]
    pub zones: Vec<String>,
    pub quantity: Option<u32>,
    /// Codes that send the user on to the next zone.
    pub next_zone_on: Option<Vec<String>>,
    /// Steps the headline amplification is over (the retried work).
    pub amplification_steps: Option<Vec<String>>,
    /// Headers every step sends (templated: `Bearer ${token}`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub steps: Vec<StepSection>,
    /// Steps that mark the funnel's stages (joined → pass → reserved → confirmed).
    pub funnel: Option<Vec<String>>,
    /// The step whose latency the headlines show (default: the last step).
    pub latency_step: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSection {
    pub name: String,
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    /// Whether this step retries per the policy (otherwise a single attempt).
    #[serde(default = "yes")]
    pub retry: bool,
    /// Send an `Idempotency-Key` (reused or not per the policy).
    #[serde(default)]
    pub idempotent: bool,
    /// JSON pointer of a number that must be >= quantity, else the zone is sold out.
    /// Such a step is a pre-check: skipped by policies that do not pre-check.
    pub precheck: Option<String>,
    /// variable name -> JSON pointer into a 2xx response body.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Every capture of this step is a secret of the run, whatever its name.
    #[serde(default)]
    pub secret: bool,
    /// Wait before the step: `"2s"`, `{ min = "1s", max = "3s" }` (uniform)
    /// or `{ mean = "2s" }` (exponential).
    pub think_time: Option<toml::Value>,
    /// Wait after the step succeeded (same forms as `think_time`).
    pub think_time_after: Option<toml::Value>,
    /// `"journey"`: runs once per journey; `"zone"`: runs again for every
    /// zone tried (default: steps before the first one that uses `${zone}`
    /// are journey steps).
    pub phase: Option<String>,
    /// Repeat the request until this holds on its 2xx body (a wait step).
    pub until: Option<CheckSection>,
    /// Between polls: `"3s"`, or `{ from = "/estimated_wait_seconds" |
    /// "retry-after", default = "3s", min = "1s", max = "30s" }`.
    pub poll_interval: Option<toml::Value>,
    /// Longest a wait step (polling or SSE) may wait.
    #[serde(default, with = "humantime_serde")]
    pub max_wait: Option<Duration>,
    /// The outcome of a wait that reached `max_wait` (default `WAIT_TIMEOUT`).
    pub timeout_outcome: Option<String>,
    /// Wait on a Server-Sent Events answer.
    pub sse: Option<SseSection>,
    /// Run the step only when a variable has a value.
    pub when: Option<WhenSection>,
    /// Run the step for this fraction of journeys (steps of one `group`
    /// split the journeys between them).
    pub share: Option<f64>,
    pub group: Option<String>,
    /// This step's request timeout (over the target's and the policy's).
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// This step is the session's login: a later answer with one of these
    /// statuses or codes (`HTTP_401`, `TOKEN_EXPIRED`) runs it again once and
    /// repeats the attempt.
    pub refresh_on: Option<Vec<String>>,
    /// Headers of this step (templated), over the journey's.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Statuses that count as success (default: any 2xx).
    pub expect_status: Option<Vec<u16>>,
    /// JSON-pointer checks on the body: `{ pointer = "/ok", equals = true }`
    /// or `{ pointer = "/data/id", exists = true }`.
    #[serde(default)]
    pub check: Vec<CheckSection>,
    /// The body must be JSON (default: when the step captures, checks or pre-checks).
    pub json: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseSection {
    /// The event type that can end the wait (default: any).
    pub event: Option<String>,
    /// What the matching event's `data:` JSON must hold.
    pub until: CheckSection,
    /// Reconnects after the server ends the stream (default 3).
    pub reconnects: Option<u32>,
    /// First reconnect delay when the stream set no `retry:` (default 1s),
    /// doubled each time with the guidelines' jitter, up to `max_delay` (30s).
    #[serde(default, with = "humantime_serde")]
    pub base_delay: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub max_delay: Option<Duration>,
    /// Pointer of the reason in an `event: error` frame's data (default `/event`).
    pub error_pointer: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenSection {
    pub var: String,
    pub equals: Option<toml::Value>,
    pub exists: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSection {
    pub pointer: String,
    pub equals: Option<toml::Value>,
    pub exists: Option<bool>,
}

fn default_method() -> String {
    "GET".into()
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSection {
    pub name: String,
    /// Defaults to the fleet name.
    pub policy: Option<String>,
    pub share: f64,
}
