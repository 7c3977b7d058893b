//! The load engine: one driver loop per round releases arrivals on schedule,
//! each arrival becomes a simulated user task, and collectors fold finished
//! journeys into per-fleet recorders.
//!
//! The open model never waits for answers before the next arrival; every
//! operation carries its intended start, so a slow target shows up as
//! latency instead of hiding as a lower send rate (coordinated omission).
//! When the generator itself falls behind (in-flight cap reached, CPU
//! starved), the schedule lag histogram says so.

mod abort;
mod ctx;
mod progress;
pub mod run_secrets;
pub mod schedule;
pub mod scrub;
mod step_io;
mod stream;
mod ticker;
mod user;

pub use ctx::{FleetCtx, Identities, RoundCtx};
pub use progress::Progress;
pub use user::{Arrival, envelope_code};

use crate::client::HttpClient;
use crate::metrics::{Live, Recorder};
use crate::scenario::{Arrivals, Plan};
use schedule::{Schedule, fleet_of};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Run-wide stop signals, and the secrets the run has learned, shared by
/// every round.
#[derive(Clone, Default)]
pub struct Control {
    /// Every secret from every user so far ([`run_secrets`]).
    pub secrets: Arc<run_secrets::RunSecrets>,
    /// First Ctrl-C: stop arrivals, let in-flight work drain.
    pub stop: CancellationToken,
    /// Second Ctrl-C or an abort rule: cancel in-flight work now.
    pub kill: CancellationToken,
    /// Why an abort rule stopped the run.
    pub aborted: Arc<Mutex<Option<String>>>,
}

impl Control {
    /// Stop everything now because of `reason` (the first reason wins).
    pub fn abort(&self, reason: String) {
        if let Ok(mut r) = self.aborted.lock() {
            r.get_or_insert(reason);
        }
        self.stop.cancel();
        self.kill.cancel();
    }

    pub fn abort_reason(&self) -> Option<String> {
        self.aborted.lock().ok().and_then(|r| r.clone())
    }
}

/// What a round measured.
pub struct RoundResult {
    /// One merged recorder per fleet, in plan order.
    pub recorders: Vec<Recorder>,
    /// Per fleet, journeys in flight at the end of each second.
    pub in_flight: Vec<Vec<u64>>,
    pub duration: Duration,
    /// Wall-clock start of the round (the `.hlog` BaseTime).
    pub wall_start: SystemTime,
    /// Arrivals stopped early because of `Control::stop`.
    pub stopped_early: bool,
    /// Journeys still running at the drain deadline were cancelled.
    pub drain_expired: bool,
    /// Simulated users whose task panicked (their journeys are lost).
    pub panics: u64,
}

/// Counts a user task that ends by panicking: dropped while unwinding, it
/// sees `std::thread::panicking()`. No JoinHandle per user is kept (a million
/// waiting users must stay small), so this is how a panic is noticed.
struct PanicGuard(Arc<std::sync::atomic::AtomicU64>);

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A virtual-time round's nonce: splitmix64 of the seed and the round, so
/// operation ids and `${uuid}`s differ between rounds as on real time.
fn virtual_nonce(seed: u64, round: usize) -> u64 {
    let mut z = seed
        ^ (round as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn collector_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
}

/// Run one round of `plan` against `client`: its context, the collectors
/// and the once-a-second ticker, arrivals released on schedule, the drain,
/// then the recorders merged per fleet.
pub async fn run_round(
    plan: &Plan,
    round: usize,
    client: HttpClient,
    control: &Control,
    progress: Option<&Progress>,
) -> RoundResult {
    let ctx = round_ctx(plan, round, client, control);
    if let Some(p) = progress {
        p.start_round(plan, round, ctx.clone());
    }
    // Collectors: the only owners of recorders, filled by the user tasks.
    // `done` stops the ticker; the round then takes the recorders, so a
    // journey that never ended cannot make it hang.
    let (collectors, streamer) = start_collectors(plan, round, &ctx);
    let done = CancellationToken::new();
    let ticker = ticker::spawn(
        ctx.clone(),
        collectors.clone(),
        plan.safety.abort.clone(),
        control.clone(),
        done.clone(),
    );
    let permits = Arc::new(Semaphore::new(plan.load.max_in_flight));
    let shares: Vec<f64> = plan.rounds[round].fleets.iter().map(|c| c.share).collect();
    let panics = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let users = Users {
        ctx: &ctx,
        shares: &shares,
        sink: &collectors,
        panics: &panics,
    };
    let stopped_early = match &plan.load.arrivals {
        Arrivals::Closed { users: n, .. } => release_closed(plan, *n, &permits, &users).await,
        _ => release_open(plan, &permits, &users).await,
    };
    let drained = drain(plan, control, &ctx, &permits).await;
    let duration = ctx.start.elapsed();
    ctx.stop.cancel();
    done.cancel();
    if let Some(p) = progress {
        p.finish_round();
    }
    // The ticker's last hand-over comes before the collectors are taken.
    let in_flight = ticker.await.unwrap_or_default();
    let recorders = merge_collectors(shares.len(), plan, &collectors);
    // The stream task ends when the last delta sender (each collector's)
    // is gone: a user task that outlived the round holds the collectors.
    drop(collectors);
    let _ = streamer.await;
    RoundResult {
        wall_start: ctx.wall_start,
        recorders,
        in_flight,
        duration,
        stopped_early,
        drain_expired: !drained,
        panics: panics.load(std::sync::atomic::Ordering::Relaxed),
    }
}

/// The round's shared context: its client, the fleets' limits, the users'
/// identities, its clocks, stop tokens and nonce.
fn round_ctx(plan: &Plan, round: usize, client: HttpClient, control: &Control) -> Arc<RoundCtx> {
    let steps = plan.journey.steps.len();
    let simulator = client.is_simulator();
    // Unique per run (time and entropy), independent of the seed; on
    // virtual time the seed's, so the same run sends the same bytes.
    let nonce = match plan.clock {
        crate::clock::ClockMode::Virtual => virtual_nonce(plan.seed, round),
        crate::clock::ClockMode::Real => {
            rand::random::<u64>()
                ^ SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
        }
    };
    let identities = Identities::new(&plan.users, plan.target.token.as_ref(), simulator);
    // Every user's credentials are the run's secrets, whoever's answer
    // echoes them.
    control.secrets.add_all(identities.secrets());
    if let Some(t) = &plan.target.token {
        control.secrets.add(t.expose());
    }
    Arc::new(RoundCtx {
        secrets: control.secrets.clone(),
        client,
        journey: plan.journey.clone(),
        quantity: plan.journey.quantity.to_string(),
        fleets: {
            let shards = plan.shard.map_or(1, |s| s.count);
            let mut process = ctx::ProcessLimits::default();
            plan.rounds[round]
                .fleets
                .iter()
                .map(|c| {
                    let live = Arc::new(Live::new(steps));
                    ctx::FleetCtx::new(c.policy.clone(), live, shards, &mut process)
                })
                .collect()
        },
        identities,
        start: Instant::now(),
        wall_start: crate::clock::wall_now(),
        cancel: control.kill.child_token(),
        stop: control.stop.child_token(),
        timeout_override: plan.target.timeout,
        run_tag: format!("r{round}x{nonce:x}"),
        nonce,
        seed: plan.seed.wrapping_add(round as u64),
        error_code: plan.target.error_code.clone(),
        idempotency_header: plan.target.idempotency_header.clone(),
        iterations: match &plan.load.arrivals {
            Arrivals::Closed { iterations, .. } => *iterations,
            _ => 1,
        },
        think_time: match &plan.load.arrivals {
            Arrivals::Closed { think_time, .. } => *think_time,
            _ => crate::scenario::Pause::NONE,
        },
    })
}

/// The round's collectors, and the task that streams their deltas into the
/// report folder (when it exists: run::prepare_out_dir).
fn start_collectors(
    plan: &Plan,
    round: usize,
    ctx: &RoundCtx,
) -> (Arc<stream::Collectors>, tokio::task::JoinHandle<()>) {
    let fleets = &plan.rounds[round].fleets;
    let step_names: Vec<String> = plan.journey.steps.iter().map(|s| s.name.clone()).collect();
    let names: Vec<String> = fleets.iter().map(|c| c.name.clone()).collect();
    let files = plan.out_dir.is_dir().then(|| {
        let f = crate::metrics::stream::StreamFiles::create(
            &plan.out_dir,
            round,
            &names,
            &step_names,
            ctx.wall_start,
        );
        let secrets = ctx.secrets.clone();
        let f = f.map(|f| f.with_scrub(Arc::new(move |t| secrets.scrub(t).into_owned())));
        f.map_err(|e| eprintln!("warning: cannot stream to {}: {e}", plan.out_dir.display()))
            .ok()
    });
    let (delta_tx, streamer) = stream::spawn_writer(files.flatten(), ctx.start);
    let collectors = Arc::new(stream::Collectors::new(
        collector_count(),
        fleets.len(),
        plan.journey.steps.len(),
        // Latency intervals: 100 ms when arrivals last at most 30 s.
        crate::metrics::interval_ms_for(plan.load.duration),
        delta_tx,
    ));
    (collectors, streamer)
}

/// What a user task is spawned with.
struct Users<'a> {
    ctx: &'a Arc<RoundCtx>,
    /// The fleets' shares of the arrivals.
    shares: &'a [f64],
    sink: &'a Arc<stream::Collectors>,
    panics: &'a Arc<std::sync::atomic::AtomicU64>,
}

impl Users<'_> {
    /// Arrival `k`'s user task, its journey due at `intended`.
    fn spawn(&self, k: u64, intended: Instant, permit: OwnedSemaphorePermit) {
        let ctx = self.ctx.clone();
        let guard = PanicGuard(self.panics.clone());
        let sink = self.sink.clone();
        let fleet = fleet_of(k, self.shares);
        tokio::spawn(user::run_user(user::Task {
            ctx,
            arrival: Arrival { index: k, fleet },
            intended,
            sink,
            keep: (permit, guard),
        }));
    }
}

/// The closed model: every user (of this shard) starts at once, as permits
/// allow; arrivals end when they all finished or time is up. Whether a
/// stop ended them early.
async fn release_closed(plan: &Plan, n: u64, permits: &Arc<Semaphore>, users: &Users<'_>) -> bool {
    let ctx = users.ctx;
    let mut stopped_early = false;
    for k in 0..n {
        if plan.shard.is_some_and(|s| !s.owns(k)) {
            continue; // another shard's user
        }
        let permit = tokio::select! {
            biased;
            _ = ctx.stop.cancelled() => { stopped_early = true; break }
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        users.spawn(k, Instant::now(), permit);
    }
    let closer = ctx.stop.clone();
    tokio::select! {
        biased;
        _ = ctx.stop.cancelled() => stopped_early = true,
        _ = tokio::time::sleep_until(ctx.start + plan.load.duration) => closer.cancel(),
        _ = permits.acquire_many(plan.load.max_in_flight as u32) => {}
    }
    stopped_early
}

/// The open models: each arrival (of this shard) released when its offset
/// in the schedule is due, until the arrivals' end. Whether a stop ended
/// them early.
async fn release_open(plan: &Plan, permits: &Arc<Semaphore>, users: &Users<'_>) -> bool {
    let ctx = users.ctx;
    let end_of_arrivals = ctx.start + plan.load.duration;
    for (k, offset) in Schedule::new(&plan.load, plan.seed).enumerate() {
        let due = ctx.start + offset;
        if due > end_of_arrivals {
            break;
        }
        if plan.shard.is_some_and(|s| !s.owns(k as u64)) {
            continue; // another shard's arrival
        }
        if due > Instant::now() {
            tokio::select! {
                biased;
                _ = ctx.stop.cancelled() => return true,
                _ = tokio::time::sleep_until(due) => {}
            }
        }
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => tokio::select! {
                biased;
                _ = ctx.stop.cancelled() => return true,
                p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            },
        };
        users.spawn(k as u64, due, permit);
    }
    false
}

/// Wait for the journeys in flight until the drain deadline, then cancel
/// them. Whether they all ended in time.
async fn drain(plan: &Plan, control: &Control, ctx: &RoundCtx, permits: &Semaphore) -> bool {
    let all = plan.load.max_in_flight as u32;
    let drained = tokio::select! {
        biased;
        _ = control.kill.cancelled() => false,
        r = tokio::time::timeout(plan.load.drain, permits.acquire_many(all)) => r.is_ok(),
    };
    if !drained {
        ctx.cancel.cancel();
        // Cancelled journeys return at their next await; give them a moment.
        let _ = tokio::time::timeout(Duration::from_secs(5), permits.acquire_many(all)).await;
    }
    drained
}

/// Take every collector's recorders and merge them into one per fleet.
fn merge_collectors(fleets: usize, plan: &Plan, collectors: &stream::Collectors) -> Vec<Recorder> {
    let interval_ms = crate::metrics::interval_ms_for(plan.load.duration);
    let mut merged: Vec<Recorder> = (0..fleets)
        .map(|_| Recorder::with_interval(plan.journey.steps.len(), interval_ms))
        .collect();
    for recs in collectors.finish() {
        for (m, r) in merged.iter_mut().zip(&recs) {
            m.merge(r);
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user waiting in backoff is its task: tokio allocates it as one
    /// 128-byte-aligned cell (header 32, scheduler and id 16, the future and
    /// its stage tag, trailer 48), so a future of at most 672 bytes keeps a
    /// million waiting users in 768 MB of cells (it was 1,336 bytes, a
    /// 1,536-byte cell, when every journey, operation and attempt level was
    /// its own `async fn`; `scripts/bench.sh` measures the whole).
    #[test]
    fn a_waiting_user_task_fits_a_768_byte_cell() {
        fn returned<A, R>(_: fn(A) -> R) -> usize {
            std::mem::size_of::<R>()
        }
        let future = returned(user::run_user::<(tokio::sync::OwnedSemaphorePermit, PanicGuard)>);
        assert!(future <= 672, "a user task's future is {future} bytes");
    }

    #[tokio::test]
    async fn a_panicking_user_task_is_counted() {
        let panics = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ok = {
            let guard = PanicGuard(panics.clone());
            tokio::spawn(async move {
                let _guard = guard;
            })
        };
        let bad = {
            let guard = PanicGuard(panics.clone());
            // Held as `user::Task::keep` is: moved in, dropped at the end
            // (the panic unwinds the task's future before that).
            let fail = true;
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                if fail {
                    panic!("a bug in a simulated user");
                }
                drop(guard);
            })
        };
        assert!(ok.await.is_ok());
        assert!(bad.await.is_err());
        assert_eq!(panics.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
