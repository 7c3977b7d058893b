//! The validated, fully resolved plan the engine runs. Nothing here is
//! optional or unchecked: every default is filled in and every cross
//! reference (policy names, template variables, zones) resolved.

use super::abort::AbortRule;
use super::template::{Template, VarId};
use crate::policy::RetryPolicy;
use crate::sim::SimConfig;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Variables every journey has, in this order, before its captures.
pub const BUILTIN_VARS: &[&str] = &[
    "user",
    "event",
    "zone",
    "quantity",
    "iteration",
    "idempotency_key",
];
pub const VAR_USER: VarId = 0;
pub const VAR_EVENT: VarId = 1;
pub const VAR_ZONE: VarId = 2;
pub const VAR_QUANTITY: VarId = 3;
pub const VAR_ITERATION: VarId = 4;
/// The operation's idempotency key (the same on a retry under `key_reuse =
/// "same"`, a new one per attempt under `"fresh"`), unique per run.
pub const VAR_IDEMPOTENCY_KEY: VarId = 5;

/// Whether `token` can be sent as `Authorization: Bearer <token>` (no
/// newline or other control character): checked when the plan is built, so
/// a bad token is an error at start, never a silent substitute.
pub fn usable_token(token: &str) -> bool {
    http::HeaderValue::from_str(&format!("Bearer {token}")).is_ok()
}

/// A value that must never be printed: Debug and Serialize redact it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Self(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub source: PathBuf,
    pub seed: u64,
    pub target: TargetPlan,
    pub load: LoadPlan,
    pub users: UsersPlan,
    pub journey: Journey,
    /// Sequential rounds; each runs the full load with its fleets on a fresh target.
    pub rounds: Vec<Round>,
    /// Simulator settings (used when the target is embedded).
    pub sim: SimConfig,
    /// Parsed once here, each beside its source text (which is what it
    /// serializes as).
    pub gates: Vec<crate::gate::Gate>,
    pub safety: SafetyPlan,
    pub out_dir: PathBuf,
    /// `--shard I/N`: this process runs arrivals k with k mod N == I (see
    /// [`crate::shard`]); `None` runs the whole schedule.
    pub shard: Option<crate::shard::Shard>,
    /// `--start-at`: round r starts at this time plus r bounded round
    /// lengths (load duration + drain), so shards' rounds line up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<std::time::SystemTime>,
    /// `--virtual-time`: the embedded simulator in memory on a paused
    /// clock (docs/virtual-time.md); real time otherwise.
    #[serde(skip)]
    pub clock: crate::clock::ClockMode,
    /// `--trace`: print every request and response (see [`super::trace`]).
    #[serde(skip)]
    pub trace: bool,
    /// `[truth]`: the target's own counts, read before and after each round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth: Option<TruthPlan>,
    /// `trigger`: the declared incident window (from, to) in seconds from
    /// each round's start; `recovery_s` is measured after it. `None`: the
    /// embedded simulator's first fault window, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<(f64, f64)>,
}

/// Where the target's own counts are read from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthSource {
    /// GET this URL; each header's value came from an environment variable.
    Http {
        url: String,
        headers: Vec<(String, Secret)>,
    },
    /// Run this program with these arguments (no shell).
    Command { argv: Vec<String> },
}

impl TruthSource {
    /// How the report names the source: the URL without its query, or the
    /// program without its arguments (either may carry a secret).
    pub fn label(&self) -> String {
        match self {
            TruthSource::Http { url, .. } => {
                format!("GET {}", url.split(['?', '#']).next().unwrap_or(url))
            }
            TruthSource::Command { argv } => format!(
                "command {}",
                argv.first()
                    .map_or("", |p| p.rsplit('/').next().unwrap_or(p))
            ),
        }
    }
}

/// One number of the target's: a report key and the JSON pointer (or, for
/// `key value` lines, `/key`) it is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TruthKey {
    pub key: String,
    pub pointer: String,
}

/// `[truth]`, validated.
#[derive(Debug, Clone, Serialize)]
pub struct TruthPlan {
    pub source: TruthSource,
    /// Counters: the round's value is after minus before.
    pub counts: Vec<TruthKey>,
    /// Levels: the round's value is the reading after the round.
    pub levels: Vec<TruthKey>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub settle: Duration,
}

impl TruthPlan {
    /// Whether the target's counts include `key` (as a counter or a level).
    pub fn has(&self, key: &str) -> bool {
        self.counts.iter().chain(&self.levels).any(|k| k.key == key)
    }
}

/// Attempts per second no run exceeds unless `--max-rps` raises it.
pub const HARD_CAP_RPS: f64 = 20_000.0;

#[derive(Debug, Clone, Serialize)]
pub struct SafetyPlan {
    /// Enforced attempts/s cap (the scenario's `max_rps`, else the hard cap).
    pub max_rps: f64,
    pub abort: Vec<AbortRule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetPlan {
    /// `None`: the embedded simulator.
    pub url: Option<String>,
    /// Environment variable the shared token came from (the value is in `token`).
    pub token_env: Option<String>,
    pub token: Option<Secret>,
    pub headers: Vec<(String, String)>,
    #[serde(with = "humantime_serde")]
    pub timeout: Option<Duration>,
    pub connections: usize,
    /// How long an idle HTTP/1 connection is kept (zero: never reused).
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    pub ca_file: Option<PathBuf>,
    pub system_roots: bool,
    pub insecure: bool,
    /// Read `/__sim/ledger` after each round: `None` when the target turns
    /// out to be a stampede simulator (`stampede serve`).
    pub ledger: Option<bool>,
    /// Mutual TLS: the client certificate chain and its key (PEM files).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// `target.proxy`: from the environment (default), off, or a URL.
    pub proxy: ProxyPlan,
    /// JSON pointers to an error answer's code, tried in order.
    pub error_code: Vec<String>,
    /// The header an idempotent step's key goes in.
    #[serde(serialize_with = "ser_header_name")]
    pub idempotency_header: http::HeaderName,
}

fn ser_header_name<S: serde::Serializer>(h: &http::HeaderName, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(h.as_str())
}

/// What the scenario says about proxies (`target.proxy`); the run turns it
/// into the client's setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyPlan {
    /// From the environment, as curl reads it (the default).
    #[default]
    Env,
    /// `proxy = "none"`: always connect directly.
    Off,
    /// `proxy = "http://host:port"` (no credentials: scenario files hold none).
    Url(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum Arrivals {
    /// Arrival-rate stages; each ramps linearly from `from` to `to` per second.
    Open { stages: Vec<Stage> },
    /// `users` arriving evenly over `over`.
    TicketDrop {
        users: u64,
        #[serde(with = "humantime_serde")]
        over: Duration,
    },
    /// `users` looping `iterations` journeys with `think_time` between them.
    Closed {
        users: u64,
        iterations: u64,
        think_time: Pause,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stage {
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    pub from: f64,
    pub to: f64,
}

/// `count` arrivals at once, `at` after the round start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Burst {
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadPlan {
    pub arrivals: Arrivals,
    /// How the open and ticket-drop schedules space their arrivals.
    pub process: crate::scenario::model::ArrivalProcess,
    /// Extra arrivals at given instants, in time order (open and ticket drop).
    pub bursts: Vec<Burst>,
    /// Arrivals stop at this point whatever the schedule says.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    #[serde(with = "humantime_serde")]
    pub drain: Duration,
    pub max_in_flight: usize,
}

impl LoadPlan {
    /// The bounded length of one round: arrivals, drain and one second.
    /// Shards' rounds start this far apart (`--start-at`), and no
    /// per-second row of a round lies beyond it.
    pub fn round_bound(&self) -> Duration {
        self.duration
            .saturating_add(self.drain)
            .saturating_add(Duration::from_secs(1))
    }
}

#[derive(Debug, Clone, Serialize)]
pub enum UsersPlan {
    Generated {
        count: u64,
        prefix: String,
        /// Whether each user sends `Authorization: Bearer tok-<id>`.
        tokens: GeneratedTokens,
    },
    /// From a CSV file with a header row: every column is a journey
    /// variable, `user_id` is the user's id (also `${user}`), a `token`
    /// column is sent as the bearer token.
    Listed {
        file: PathBuf,
        columns: Vec<String>,
        /// Index of `user_id` in `columns`.
        id_col: usize,
        /// Index of `token`, when there is one.
        token_col: Option<usize>,
        /// One value per column; every value is kept as a secret (a
        /// password column is as secret as the token).
        rows: Vec<Vec<Secret>>,
    },
}

/// When generated users carry invented `tok-<id>` bearer tokens: only a
/// Booking Rush simulator knows them, so a real API never gets one unless
/// the scenario asks (`[users] generated_tokens = true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeneratedTokens {
    Always,
    Never,
    /// When the target turns out to be a stampede simulator (`stampede serve`).
    IfSimulator,
}

#[derive(Debug, Clone, Serialize)]
pub struct Journey {
    /// Variable names: [`BUILTIN_VARS`], then the users CSV's columns
    /// ([`Journey::user_vars`] of them), then captures.
    pub vars: Vec<String>,
    /// How many variables after the built-ins are users CSV columns.
    pub user_vars: usize,
    pub event: String,
    pub zones: Vec<String>,
    pub quantity: u32,
    /// Causes that mean "sold out here, try the next zone".
    pub next_zone_on: Vec<crate::outcome::CauseMatch>,
    pub steps: Vec<Step>,
    /// Indices into `steps` of the retried work the headline amplification
    /// is over (the default journey: `reserve`; otherwise every step that
    /// retries and is neither a pre-check nor a wait, unless the scenario
    /// names them).
    pub amplification_steps: Vec<usize>,
    /// Index of the first zone step: steps before it run once per journey,
    /// steps from it on run again for every zone tried.
    pub zone_start: usize,
    /// The step marked as the session's login (`refresh_on`).
    pub login: Option<usize>,
    /// Indices of the steps that mark the funnel's stages, in order.
    pub funnel: Vec<usize>,
    /// The step whose latency the headlines (console, verdict) show.
    pub latency_step: usize,
}

/// Whether a step runs once per journey or once per zone tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Journey,
    Zone,
}

/// A pause (think time): fixed, uniform between two bounds, or exponential
/// with a mean (capped at ten times the mean).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pause {
    Fixed(#[serde(with = "humantime_serde")] Duration),
    Uniform {
        #[serde(with = "humantime_serde")]
        min: Duration,
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
    Exponential {
        #[serde(with = "humantime_serde")]
        mean: Duration,
    },
}

impl fmt::Display for Pause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = humantime::format_duration;
        match *self {
            Pause::Fixed(x) => write!(f, "{}", d(x)),
            Pause::Uniform { min, max } => write!(f, "uniform {}–{}", d(min), d(max)),
            Pause::Exponential { mean } => write!(f, "exponential, mean {}", d(mean)),
        }
    }
}

impl Pause {
    pub const NONE: Pause = Pause::Fixed(Duration::ZERO);

    pub fn is_zero(&self) -> bool {
        match *self {
            Pause::Fixed(d) => d.is_zero(),
            Pause::Uniform { max, .. } => max.is_zero(),
            Pause::Exponential { mean } => mean.is_zero(),
        }
    }

    /// One draw. `u` is uniform in [0, 1).
    pub fn sample(&self, u: f64) -> Duration {
        match *self {
            Pause::Fixed(d) => d,
            Pause::Uniform { min, max } => min + (max - min).mul_f64(u),
            Pause::Exponential { mean } => mean.mul_f64((-(1.0 - u).ln()).min(10.0)),
        }
    }
}

/// How long a wait step waits between polls.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PollInterval {
    Fixed(#[serde(with = "humantime_serde")] Duration),
    /// Seconds at a JSON pointer of the answer, or its `Retry-After`
    /// (`pointer` is `None`), clamped; `default` when the answer has none.
    FromAnswer {
        pointer: Option<String>,
        #[serde(with = "humantime_serde")]
        default: Duration,
        #[serde(with = "humantime_serde")]
        min: Duration,
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
}

impl PollInterval {
    /// The wait before the next poll after a not-ready answer.
    pub fn next(&self, body: &serde_json::Value, retry_after: Option<Duration>) -> Duration {
        match self {
            PollInterval::Fixed(d) => *d,
            PollInterval::FromAnswer {
                pointer,
                default,
                min,
                max,
            } => {
                let asked = match pointer {
                    Some(p) => seconds_at(body, p),
                    None => retry_after,
                };
                asked.unwrap_or(*default).clamp(*min, *max)
            }
        }
    }

    /// The wait the server asked for in a not-ready answer: the longer of
    /// its `Retry-After` and the seconds at the scenario's pointer, before
    /// any floor or cap (`None` when the answer names neither). A poll sent
    /// after [`PollInterval::next`] is early when that is shorter.
    pub fn asked(
        &self,
        body: &serde_json::Value,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let at_pointer = match self {
            PollInterval::FromAnswer {
                pointer: Some(p), ..
            } => seconds_at(body, p),
            _ => None,
        };
        at_pointer.max(retry_after)
    }
}

/// Non-negative seconds at a JSON pointer, as a duration.
fn seconds_at(body: &serde_json::Value, pointer: &str) -> Option<Duration> {
    body.pointer(pointer)
        .and_then(serde_json::Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(1e6)))
}

/// A step that waits: it polls until `until` holds on a 2xx body, or holds
/// a Server-Sent Events stream until an event's data satisfies it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Wait {
    pub until: Check,
    /// Between polls (unused by a stream).
    pub interval: PollInterval,
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// The outcome of a wait that reached `max_wait`.
    pub timeout_outcome: String,
    pub sse: Option<SseWait>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SseWait {
    /// The event type that can end the wait (`None`: any).
    pub event: Option<String>,
    pub reconnects: u32,
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    pub error_pointer: String,
}

/// Run a step only when variable `var` equals a value or exists (non-empty).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct When {
    pub var: VarId,
    pub name: String,
    pub expect: CheckExpect,
}

/// A step that runs for the journeys whose draw for `group` falls in `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    pub lo: f64,
    pub hi: f64,
    pub group: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    #[serde(serialize_with = "ser_method")]
    pub method: http::Method,
    #[serde(serialize_with = "ser_template")]
    pub path: Template,
    #[serde(serialize_with = "ser_opt_template")]
    pub body: Option<Template>,
    pub retry: bool,
    pub idempotent: bool,
    pub precheck: Option<String>,
    /// (variable, JSON pointer)
    pub captures: Vec<(VarId, String)>,
    /// `secret = true`: every capture is a secret of the run (otherwise a
    /// capture is one when its name or pointer says so).
    pub secret: bool,
    /// Waited before the step.
    pub think_time: Pause,
    /// Waited after the step succeeded.
    pub think_time_after: Pause,
    pub phase: Phase,
    /// A wait step (polling or SSE).
    pub wait: Option<Wait>,
    pub when: Option<When>,
    pub share: Option<Share>,
    /// This step's request timeout, over the target's and the policy's.
    #[serde(with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// The login step: answers that send the user back to it.
    pub refresh_on: Vec<crate::outcome::CauseMatch>,
    /// The journey's headers overlaid with the step's own, templated.
    #[serde(serialize_with = "ser_headers")]
    pub headers: Vec<(http::HeaderName, Template)>,
    /// Statuses that count as success (empty: any 2xx).
    pub expect_status: Vec<u16>,
    /// JSON-pointer checks on a 2xx body.
    pub checks: Vec<Check>,
    /// The 2xx body must be JSON (on by default when the step captures,
    /// checks or pre-checks).
    pub json: bool,
}

/// One response check: the value at `pointer` must equal a value, or exist (or not).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub pointer: String,
    pub expect: CheckExpect,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckExpect {
    Equals(serde_json::Value),
    Exists(bool),
}

impl Check {
    /// Does `body` pass?
    pub fn passes(&self, body: &serde_json::Value) -> bool {
        let v = body.pointer(&self.pointer);
        match &self.expect {
            CheckExpect::Equals(want) => match (v, want) {
                // 1 and 1.0 are the same number in JSON.
                (Some(serde_json::Value::Number(a)), serde_json::Value::Number(b)) => {
                    a.as_f64() == b.as_f64()
                }
                _ => v == Some(want),
            },
            CheckExpect::Exists(want) => v.is_some_and(|v| !v.is_null()) == *want,
        }
    }
}

fn ser_headers<S: serde::Serializer>(
    h: &[(http::HeaderName, Template)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(h.len()))?;
    for (k, v) in h {
        m.serialize_entry(k.as_str(), v.source())?;
    }
    m.end()
}

fn ser_method<S: serde::Serializer>(m: &http::Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}
fn ser_template<S: serde::Serializer>(t: &Template, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.source())
}
fn ser_opt_template<S: serde::Serializer>(t: &Option<Template>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(t.source()),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub fleets: Vec<Fleet>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    pub name: String,
    pub policy: RetryPolicy,
    pub share: f64,
}

impl Plan {
    /// What each journey step is: a request, a wait that polls, or a wait
    /// on an event stream.
    pub fn step_kinds(&self) -> Vec<crate::model::StepKind> {
        use crate::model::StepKind;
        self.journey
            .steps
            .iter()
            .map(|s| match &s.wait {
                None => StepKind::Request,
                Some(w) if w.sse.is_some() => StepKind::Sse,
                Some(_) => StepKind::Poll,
            })
            .collect()
    }

    /// Every fleet's name, round by round.
    pub fn fleet_names(&self) -> Vec<String> {
        self.rounds
            .iter()
            .flat_map(|r| &r.fleets)
            .map(|c| c.name.clone())
            .collect()
    }

    /// The window widths (seconds) the windowed gates ask for, each once.
    pub fn window_widths(&self) -> Vec<u32> {
        let mut w: Vec<u32> = self
            .gates
            .iter()
            .filter_map(|g| g.window.map(|w| w.width_s))
            .collect();
        w.sort_unstable();
        w.dedup();
        w
    }

    /// One line describing the load shape, for reports.
    pub fn load_summary(&self) -> String {
        let shape = match &self.load.arrivals {
            Arrivals::Open { stages } => {
                let parts: Vec<String> = stages
                    .iter()
                    .map(|s| {
                        if (s.from - s.to).abs() < f64::EPSILON {
                            format!("{}/s for {}", s.to, humantime::format_duration(s.duration))
                        } else {
                            format!(
                                "{}→{}/s over {}",
                                s.from,
                                s.to,
                                humantime::format_duration(s.duration)
                            )
                        }
                    })
                    .collect();
                format!("open model: {}", parts.join(", then "))
            }
            Arrivals::TicketDrop { users, over } => format!(
                "ticket drop: {users} users arriving over {}",
                humantime::format_duration(*over)
            ),
            Arrivals::Closed {
                users,
                iterations,
                think_time,
            } => format!(
                "closed model: {users} users × {iterations} journeys, think time {think_time}"
            ),
        };
        let mut extra = Vec::new();
        if self.load.process == crate::scenario::model::ArrivalProcess::Poisson {
            extra.push("Poisson arrivals".to_string());
        }
        for b in &self.load.bursts {
            extra.push(format!(
                "a burst of {} at {}",
                b.count,
                humantime::format_duration(b.at)
            ));
        }
        if extra.is_empty() {
            shape
        } else {
            format!("{shape} ({})", extra.join(", "))
        }
    }
}
