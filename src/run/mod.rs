//! One run: plan -> (embedded simulator) -> rounds -> report model.

pub mod meta;
mod probe;

use crate::client::HttpClient;
use crate::engine::{self, Control, Progress};
use crate::metrics::{CohortMeta, summarize};
use crate::report::{Report, RunStatus, SCHEMA_VERSION};
use crate::scenario::Plan;
use crate::sim::{MemorySim, SimError, SimServer};
use hdrhistogram::Histogram;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot create report folder {}: {source}", path.display())]
    OutDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the embedded simulator: {0}")]
    Sim(#[from] SimError),
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    #[error("virtual time runs against the embedded simulator only: it cannot measure {0}")]
    VirtualTarget(String),
}

/// Create the report folder now, so an unwritable path fails in the first
/// second instead of after the load.
pub fn prepare_out_dir(plan: &Plan) -> Result<(), RunError> {
    std::fs::create_dir_all(&plan.out_dir).map_err(|source| RunError::OutDir {
        path: plan.out_dir.clone(),
        source,
    })?;
    let probe = plan.out_dir.join(".stampede-write-test");
    std::fs::write(&probe, b"").map_err(|source| RunError::OutDir {
        path: plan.out_dir.clone(),
        source,
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Run every round of `plan` and build the report model. Stops early (and
/// says so in the report) when `control.stop` fires.
pub async fn execute(
    plan: &Plan,
    control: &Control,
    progress: Option<&Progress>,
) -> Result<RunOutput, RunError> {
    let started = SystemTime::now();
    let wall = std::time::Instant::now();
    let clock_start = tokio::time::Instant::now();
    // What `stampede report DIR` rebuilds from if the process dies (merge::partial).
    if plan.out_dir.is_dir() {
        crate::merge::partial::write_skeleton(plan, started);
    }
    let (sim, base) = start_target(plan).await?;
    let mut headers = HeaderMap::new();
    for (k, v) in &plan.target.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
    headers
        .entry(http::header::USER_AGENT)
        .or_insert(HeaderValue::from_static(concat!(
            "stampede/",
            env!("CARGO_PKG_VERSION")
        )));
    let step_names: Vec<String> = plan.journey.steps.iter().map(|s| s.name.clone()).collect();
    let mut results = Vec::new();
    let mut histograms = Vec::new();
    let mut stop_reason = None;
    let mut drain_expired = false;
    let mut panics = 0u64;
    let mut notes: Vec<String> = Vec::new();
    // Room for every socket: the embedded simulator holds the other ends.
    // In memory there are none.
    let sockets = plan.target.connections as u64 * if sim.is_some() { 2 } else { 1 };
    if !plan.clock.is_virtual()
        && let Some(w) = crate::client::fdlimit::warning(crate::client::fdlimit::raise(), sockets)
    {
        eprintln!("WARNING: {w}");
        notes.push(w);
    }
    // The embedded simulator lives in this process: never through a proxy.
    let proxy = match &sim {
        Some(_) => None,
        None => {
            let target: http::Uri = base
                .parse()
                .map_err(|_| crate::client::ClientError::Url(base.clone()))?;
            crate::client::proxy::resolve(&proxy_setting(&plan.target.proxy), &target)
                .map_err(crate::client::ClientError::Proxy)?
        }
    };
    if let Some(p) = &proxy {
        let line = p.announce(&base);
        eprintln!("{line}");
        notes.push(line);
    }
    let mut wire = crate::client::Snapshot::default();
    // Whether a remote target is a stampede simulator, asked once.
    let mut simulator: Option<bool> = sim.is_some().then_some(true);
    for (r, round) in plan.rounds.iter().enumerate() {
        if control.stop.is_cancelled() {
            break;
        }
        // Aligned rounds across shards (--start-at): see `align_round`.
        let due = match plan.start_at {
            Some(at) => match align_round(plan, at, r, control, &mut notes).await {
                Some(due) => due,
                None => break,
            },
            None => None,
        };
        if let Some(s) = &sim {
            s.reset();
        }
        // A fresh client per round: no warm connections carried from one fleet to the next.
        let client =
            match new_client(plan, &base, &headers, proxy.clone(), sim.as_ref()) {
                Ok(c) => c.with_trace(plan.trace.then(|| {
                    crate::client::trace::Tracer::new(crate::scenario::trace::secrets(plan))
                })),
                // Nothing measured yet: a plain configuration error.
                Err(e) if results.is_empty() => return Err(e.into()),
                // Keep what earlier rounds measured.
                Err(e) => {
                    stop_reason = Some(format!("round {r} could not start: {e}"));
                    break;
                }
            };
        let mut remote_sim = probe::remote_sim(plan, &client, &mut simulator).await;
        // A shard whose starting reading came after the common start may
        // hold other shards' first requests: its round's ledger (after minus
        // that reading) would be short, so it reads none and the merge takes
        // another shard's.
        if let (Some(due), Some(_), true) = (due, &remote_sim, plan.shard.is_some())
            && let Ok(late) = SystemTime::now().duration_since(due)
        {
            remote_sim = None;
            notes.push(format!(
                "round {r}: the shared target's ledger was read {:.3}s after the common start, when other shards' requests may already have arrived; this shard's report has no ledger for the round",
                late.as_secs_f64()
            ));
        }
        let truth_before = crate::truth::before_round(
            plan.truth.as_ref(),
            &tls_options(&plan.target),
            r,
            &mut notes,
        )
        .await;
        // The ledger was read before the round's common start, so no
        // shard's reading misses another's first requests.
        if let Some(due) = due
            && !sleep_until(due, control).await
        {
            break;
        }
        let client = client.with_simulator(simulator == Some(true));
        let before = client.stats();
        let res = engine::run_round(plan, r, client.clone(), control, progress).await;
        wire.add(&client.stats().since(&before));
        if client.throttled() > 0 {
            notes.push(format!(
                "round {r}: the {}/s attempt cap held back {} attempts; the target saw less than the schedule asked for",
                plan.safety.max_rps,
                client.throttled()
            ));
        }
        if res.stopped_early {
            stop_reason.get_or_insert_with(|| "interrupted: arrivals stopped early".to_string());
        }
        if res.drain_expired {
            let cancelled: u64 = res.recorders.iter().map(|r| r.journeys.cancelled).sum();
            drain_expired = true;
            notes.push(format!(
                "round {r}: the drain deadline ({}) expired; {cancelled} journeys still running were cancelled and their unfinished operations count as CANCELLED",
                humantime::format_duration(plan.load.drain)
            ));
        }
        if res.panics > 0 {
            panics += res.panics;
            notes.push(format!(
                "round {r}: {} simulated users' tasks panicked (a stampede bug): their journeys are missing from these numbers",
                res.panics
            ));
        }
        for (i, rec) in res.recorders.iter().enumerate() {
            if rec.folded() > 0 {
                notes.push(format!(
                    "round {r}, {}: the target sent more than {} distinct outcomes in a step; {} of {} operations are counted as OTHER",
                    round.cohorts.get(i).map_or("?", |c| c.name.as_str()),
                    crate::metrics::MAX_OUTCOMES,
                    rec.folded(),
                    rec.steps.iter().map(|s| s.ops).sum::<u64>()
                ));
            }
        }
        let ledger = match &sim {
            Some(s) => {
                s.settle(std::time::Duration::from_secs(30)).await;
                Some(s.ledger())
            }
            None => match &remote_sim {
                Some(before) => probe::remote_ledger(&client, before).await,
                None => None,
            },
        };
        let truth = crate::truth::after_round(
            plan.truth.as_ref(),
            truth_before.as_ref(),
            &tls_options(&plan.target),
            &control.stop,
            r,
            &mut notes,
        )
        .await;
        if (ledger.is_some() || truth.is_some()) && round.cohorts.len() > 1 {
            let names: Vec<&str> = round.cohorts.iter().map(|c| c.name.as_str()).collect();
            notes.push(format!(
                "{} shared one target at once: its ground truth (the ledger, [truth]) counts them together",
                names.join(" and ")
            ));
        }
        for (i, cohort) in round.cohorts.iter().enumerate() {
            histograms.push(CohortHistograms {
                name: cohort.name.clone(),
                operation: res.recorders[i].op_latency(),
                attempt: res.recorders[i].attempt_latency(),
                hlogs: crate::metrics::interval::cohort_files(
                    &cohort.name,
                    &step_names,
                    &res.recorders[i],
                    res.wall_start,
                    res.duration,
                )
                .unwrap_or_default(),
            });
            results.push(summarize(
                &res.recorders[i],
                CohortMeta {
                    name: &cohort.name,
                    policy: &cohort.policy,
                    round: r,
                    share: cohort.share,
                    step_names: &step_names,
                    step_kinds: &plan.step_kinds(),
                    funnel: &plan.journey.funnel,
                    latency_step: plan.journey.latency_step,
                    amplification_steps: &plan.journey.amplification_steps,
                    window_widths: &plan.window_widths(),
                    round_duration: res.duration,
                    in_flight: res.in_flight.get(i).map_or(&[], |v| v.as_slice()),
                    ledger: ledger.clone(),
                },
            ));
            if let Some(c) = results.last_mut() {
                c.truth = truth.clone();
                c.round_started_unix_ms = meta::unix_ms(res.wall_start);
            }
        }
    }
    if let Some(p) = progress {
        p.clear();
    }
    let unreachable = wire.unreachable(&base);
    for n in wire.notes().into_iter().chain(unreachable.clone()) {
        eprintln!("WARNING: {n}");
        notes.push(n);
    }
    // A `stampede serve` target says so in a header; its ledger is read
    // only when the scenario asks (nothing unasked goes to a target).
    if sim.is_none() && wire.simulator > 0 && plan.target.ledger != Some(true) {
        notes.push(
            "the target answered as a stampede simulator (x-stampede-sim); its ledger was not read: set target.ledger = true to read /__sim/ledger before and after each round".into(),
        );
    }
    if let Some(s) = sim {
        s.shutdown().await;
    }
    let skipped = plan.rounds.len() - results.iter().map(|c| c.round + 1).max().unwrap_or(0);
    let status = if panics > 0 {
        stop_reason = Some(format!(
            "{panics} simulated users' tasks panicked; the numbers are incomplete"
        ));
        RunStatus::Failed
    } else if let Some(reason) = control.abort_reason() {
        stop_reason = Some(reason);
        RunStatus::Aborted
    } else if stop_reason.is_some() || skipped > 0 {
        RunStatus::Interrupted
    } else if drain_expired {
        stop_reason =
            Some("the drain deadline expired: the slowest journeys were cancelled".into());
        RunStatus::DrainExpired
    } else {
        RunStatus::Completed
    };
    if skipped > 0 {
        let why = stop_reason.take().unwrap_or_else(|| "interrupted".into());
        stop_reason = Some(format!("{why}; {skipped} round(s) never ran"));
    }

    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        stampede_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: plan.name.clone(),
        description: plan.description.clone(),
        source: plan.source.display().to_string(),
        started_at: crate::timefmt::rfc3339(started),
        // On virtual time, the simulated length (the wall time is in `meta.wall_s`).
        duration_s: match plan.clock {
            crate::clock::ClockMode::Virtual => clock_start.elapsed().as_secs_f64(),
            crate::clock::ClockMode::Real => wall.elapsed().as_secs_f64(),
        },
        target: match &plan.target.url {
            Some(u) => u.clone(),
            None => "embedded simulator".into(),
        },
        load: meta::effective_load(plan),
        status,
        stop_reason,
        notes,
        results,
        gates: Vec::new(),
        trigger: None,
        origin: crate::merge::partial::origin(plan),
        meta: Default::default(),
    };
    // Time to recovery after the declared trigger, else the embedded
    // simulator's first fault window (report::recovery).
    report.trigger = match plan.trigger {
        Some((from_s, to_s)) => Some(crate::report::Trigger { from_s, to_s }),
        None if plan.target.url.is_none() => {
            crate::report::recovery::trigger(plan.sim.faults.windows.iter().map(|w| (w.from, w.to)))
        }
        None => None,
    };
    for c in &mut report.results {
        c.recovery_s = crate::report::recovery::recovery(&c.timeseries, report.trigger.as_ref());
    }
    report.gates = crate::gate::evaluate_all(&plan.gates, &report);
    Ok(RunOutput {
        report,
        histograms,
        unreachable,
        wall: wall.elapsed(),
    })
}

/// The embedded simulator: on TCP (real time) or in memory (virtual time).
enum Embedded {
    Tcp(SimServer),
    Memory(MemorySim),
}

impl Embedded {
    fn reset(&self) {
        match self {
            Embedded::Tcp(s) => s.reset(),
            Embedded::Memory(s) => s.reset(),
        }
    }

    async fn settle(&self, max: std::time::Duration) {
        match self {
            Embedded::Tcp(s) => s.settle(max).await,
            Embedded::Memory(s) => s.settle(max).await,
        }
    }

    fn ledger(&self) -> crate::sim::Ledger {
        match self {
            Embedded::Tcp(s) => s.ledger(),
            Embedded::Memory(s) => s.ledger(),
        }
    }

    async fn shutdown(self) {
        match self {
            Embedded::Tcp(s) => s.shutdown().await,
            Embedded::Memory(s) => s.shutdown().await,
        }
    }
}

/// The base URL of the target in memory: a reserved name that resolves
/// nowhere (its Host header and nothing else; no socket is opened).
pub const IN_MEMORY_BASE: &str = "http://embedded-simulator.invalid";

/// The target: the scenario's URL, or the embedded simulator started
/// here (on 127.0.0.1, or in memory on virtual time), and its base URL.
async fn start_target(plan: &Plan) -> Result<(Option<Embedded>, String), RunError> {
    if plan.clock.is_virtual() {
        // `app` refuses these with the file and line; a library caller too.
        if let Some(u) = &plan.target.url {
            return Err(RunError::VirtualTarget(u.clone()));
        }
        if plan.truth.is_some() {
            return Err(RunError::VirtualTarget("a target's [truth]".into()));
        }
        let s = MemorySim::start(plan.sim.clone())?;
        return Ok((Some(Embedded::Memory(s)), IN_MEMORY_BASE.to_string()));
    }
    if let Some(u) = &plan.target.url {
        return Ok((None, u.clone()));
    }
    let s = SimServer::start(plan.sim.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base = format!("http://{}", s.addr());
    Ok((Some(Embedded::Tcp(s)), base))
}

/// A round's client: over TCP, or over pipes to the simulator in memory.
fn new_client(
    plan: &Plan,
    base: &str,
    headers: &HeaderMap,
    proxy: Option<crate::client::Proxy>,
    sim: Option<&Embedded>,
) -> Result<HttpClient, crate::client::ClientError> {
    let (connections, rps) = (plan.target.connections, Some(plan.safety.max_rps));
    match sim {
        Some(Embedded::Memory(s)) => HttpClient::in_memory(
            base,
            connections,
            headers.clone(),
            rps,
            std::sync::Arc::new(SimPipe(s.dialer())),
        ),
        _ => HttpClient::with_cap(
            base,
            connections,
            headers.clone(),
            &tls_options(&plan.target),
            rps,
            proxy,
        ),
    }
}

/// Round r of every shard starts at `at` + r bounded round lengths
/// (duration + drain + 1 s); against a shared target, shard 0 resets it
/// 1 s before the round starts (compared rounds start on fresh inventory,
/// as against the embedded simulator). Returns, half a second before the
/// start (after the reset), the start to wait for once the shared target's
/// ledger has been read ([`sleep_until`]); `Some(None)` when there is
/// nothing to wait for, `None` when a stop came meanwhile.
async fn align_round(
    plan: &Plan,
    at: SystemTime,
    r: usize,
    control: &Control,
    notes: &mut Vec<String>,
) -> Option<Option<SystemTime>> {
    let round = plan.load.round_bound();
    let Some(due) = round.checked_mul(r as u32).and_then(|d| at.checked_add(d)) else {
        return Some(None);
    };
    let before = |d: u64| {
        due.checked_sub(std::time::Duration::from_millis(d))
            .unwrap_or(due)
    };
    if r > 0 {
        if !sleep_until(before(1000), control).await {
            return None;
        }
        if let (Some(url), true) = (&plan.target.url, plan.shard.is_none_or(|s| s.index == 0))
            && let Err(e) = crate::shard::reset_shared_target(url).await
        {
            notes.push(format!("round {r}: the shared target was not reset: {e}"));
        }
    }
    sleep_until(before(500), control).await.then_some(Some(due))
}

/// Sleep until wall-clock `t` (at once if it is past); false when a stop
/// came first.
async fn sleep_until(t: SystemTime, control: &Control) -> bool {
    let wait = t.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = control.stop.cancelled() => false,
    }
}

/// Raw latency histograms of one cohort (microseconds), for `.hgrm` files.
pub struct CohortHistograms {
    pub name: String,
    pub operation: Histogram<u64>,
    pub attempt: Histogram<u64>,
    /// `.hlog` interval logs: (file name, contents), see [`crate::metrics::interval`].
    pub hlogs: Vec<(String, Vec<u8>)>,
}

pub struct RunOutput {
    pub report: Report,
    pub histograms: Vec<CohortHistograms>,
    /// No attempt got an HTTP response: why, in one line (exit code 4).
    pub unreachable: Option<String>,
    /// How long the run took on the wall clock (on virtual time, unlike
    /// the report's `duration_s`).
    pub wall: std::time::Duration,
}

impl RunOutput {
    /// Write `<cohort>-operation.hgrm` and `<cohort>-attempt.hgrm` into `dir`,
    /// each atomically; a file that fails does not stop the others.
    pub fn write_hgrm(&self, dir: &std::path::Path) -> crate::report::Writes {
        let mut writes = crate::report::Writes::default();
        for h in &self.histograms {
            for (kind, hist) in [("operation", &h.operation), ("attempt", &h.attempt)] {
                let name = format!("{}-{kind}", h.name);
                writes.push(crate::report::write::write_bytes_atomic(
                    &dir.join(crate::metrics::hgrm::file_name(&name)),
                    &crate::metrics::hgrm::text(hist, crate::metrics::US_PER_MS),
                ));
            }
            for (name, bytes) in &h.hlogs {
                writes.push(crate::report::write::write_bytes_atomic(
                    &dir.join(name),
                    bytes,
                ));
            }
        }
        writes
    }
}

/// The client's TLS configuration from the plan's target.
fn tls_options(t: &crate::scenario::plan::TargetPlan) -> crate::client::TlsOptions {
    crate::client::TlsOptions {
        ca_file: t.ca_file.clone(),
        system_roots: t.system_roots,
        insecure: t.insecure,
        client_cert: t.client_cert.clone(),
        client_key: t.client_key.clone(),
    }
}

/// The client's proxy setting from the plan's.
fn proxy_setting(p: &crate::scenario::plan::ProxyPlan) -> crate::client::ProxySetting {
    use crate::client::ProxySetting;
    use crate::scenario::plan::ProxyPlan;
    match p {
        ProxyPlan::Env => ProxySetting::Env,
        ProxyPlan::Off => ProxySetting::Off,
        ProxyPlan::Url(u) => ProxySetting::Url(u.clone()),
    }
}

/// The in-memory simulator's connections as the client's transport.
struct SimPipe(crate::sim::MemoryDialer);

impl crate::client::transport::Dial for SimPipe {
    fn dial(&self) -> std::io::Result<tokio::io::DuplexStream> {
        self.0.dial()
    }
}
