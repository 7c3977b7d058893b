//! One run: plan -> (embedded simulator) -> rounds -> report model.

pub mod meta;
mod probe;
mod report;
mod rounds;
mod status;
mod target;

pub use target::IN_MEMORY_BASE;

use crate::engine::{Control, Progress};
use crate::report::Report;
use crate::scenario::Plan;
use crate::sim::SimError;
use hdrhistogram::Histogram;
use std::path::PathBuf;
use std::time::SystemTime;
use target::Target;

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
    let mut notes = Vec::new();
    let target = Target::open(plan, &mut notes).await?;
    let mut rounds = rounds::collect(plan, &target, control, progress, notes).await?;
    if let Some(p) = progress {
        p.clear();
    }
    let unreachable = rounds::transport_notes(plan, &target, &mut rounds);
    // The report edge: every kept label and note without any secret the
    // run learned, from any user, in any round.
    control.secrets.scrub_results(&mut rounds.results);
    for n in &mut rounds.notes {
        if let std::borrow::Cow::Owned(s) = control.secrets.scrub(n) {
            *n = s;
        }
    }
    target.shutdown().await;
    let (status, stop_reason) = status::of(&rounds, plan.rounds.len(), control.abort_reason());
    // On virtual time, the simulated length (the wall time is in `meta.wall_s`).
    let duration_s = match plan.clock {
        crate::clock::ClockMode::Virtual => clock_start.elapsed().as_secs_f64(),
        crate::clock::ClockMode::Real => wall.elapsed().as_secs_f64(),
    };
    let heading = crate::merge::partial::heading(plan, started, meta::effective_load(plan));
    let report = Report::new(
        heading,
        status,
        stop_reason,
        duration_s,
        rounds.notes,
        rounds.results,
    );
    Ok(RunOutput {
        report: report::judge(plan, report),
        histograms: rounds.histograms,
        unreachable,
        wall: wall.elapsed(),
    })
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

/// Raw latency histograms of one fleet (microseconds), for `.hgrm` files.
pub struct FleetHistograms {
    pub name: String,
    pub operation: Histogram<u64>,
    pub attempt: Histogram<u64>,
    /// `.hlog` interval logs: (file name, contents), see [`crate::metrics::interval`].
    pub hlogs: Vec<(String, Vec<u8>)>,
}

pub struct RunOutput {
    pub report: Report,
    pub histograms: Vec<FleetHistograms>,
    /// No attempt got an HTTP response: why, in one line (exit code 4).
    pub unreachable: Option<String>,
    /// How long the run took on the wall clock (on virtual time, unlike
    /// the report's `duration_s`).
    pub wall: std::time::Duration,
}

impl RunOutput {
    /// Write `<fleet>-operation.hgrm` and `<fleet>-attempt.hgrm` into `dir`,
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
