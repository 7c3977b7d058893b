//! The rounds of a run, one after another: each prepared (aligned across
//! shards, its client made, the target's ledger and truth read before),
//! run by the engine, read afterwards, and summarized per fleet.

use super::target::{Target, tls_options};
use super::{FleetHistograms, RunError, align_round, meta, probe, sleep_until};
use crate::client::{HttpClient, Snapshot};
use crate::engine::{self, Control, Progress, RoundResult};
use crate::metrics::{FleetMeta, summarize};
use crate::report::{FleetResult, Ledger, Truth};
use crate::scenario::Plan;
use crate::truth::Reading;
use std::time::SystemTime;

/// What the rounds measured, and what a reader of the report must know.
#[derive(Default)]
pub(super) struct Collected {
    /// One per fleet of every round that ran, in plan order.
    pub results: Vec<FleetResult>,
    pub histograms: Vec<FleetHistograms>,
    /// Why the rounds stopped early, when they did.
    pub stop_reason: Option<String>,
    /// A round's drain deadline expired.
    pub drain_expired: bool,
    /// Simulated users' tasks that panicked, over every round.
    pub panics: u64,
    pub notes: Vec<String>,
    /// The transport's counters, added up over the rounds.
    pub wire: Snapshot,
}

/// Run every round of `plan` against `target` until the last one or a stop;
/// `notes` are those the run already has.
pub(super) async fn collect(
    plan: &Plan,
    target: &Target,
    control: &Control,
    progress: Option<&Progress>,
    notes: Vec<String>,
) -> Result<Collected, RunError> {
    let mut run = Collected {
        notes,
        ..Collected::default()
    };
    // Whether a remote target is a stampede simulator, asked once.
    let mut simulator: Option<bool> = target.sim.is_some().then_some(true);
    for r in 0..plan.rounds.len() {
        if control.stop.is_cancelled() {
            break;
        }
        let Some(ready) = prepare(plan, r, target, control, &mut simulator, &mut run).await? else {
            break;
        };
        let Ready { client, before } = ready;
        let client = client.with_simulator(simulator == Some(true));
        let stats = client.stats();
        let res = engine::run_round(plan, r, client.clone(), control, progress).await;
        run.wire.add(&client.stats().since(&stats));
        note_round(plan, r, &client, &res, &mut run);
        let (ledger, truth) =
            ground_truth(plan, r, target, &client, &before, control, &mut run.notes).await;
        record_fleets(plan, r, &res, ledger, truth, &mut run);
    }
    Ok(run)
}

/// A round ready to start: its client, and the target's readings before it.
struct Ready {
    client: HttpClient,
    before: Before,
}

/// The target's readings before a round.
struct Before {
    /// A remote simulator's ledger (`target.ledger = true`).
    remote_sim: Option<serde_json::Value>,
    /// The `[truth]` counts.
    truth: Option<Reading>,
}

/// Get round `r` ready: aligned with the other shards, the embedded
/// simulator reset, a fresh client, the readings before, and (aligned) the
/// common start waited for. `None` when the rounds stop here.
async fn prepare(
    plan: &Plan,
    r: usize,
    target: &Target,
    control: &Control,
    simulator: &mut Option<bool>,
    run: &mut Collected,
) -> Result<Option<Ready>, RunError> {
    // Aligned rounds across shards (--start-at): see `align_round`.
    let due = match plan.start_at {
        Some(at) => match align_round(plan, at, r, control, &mut run.notes).await {
            Some(due) => due,
            None => return Ok(None),
        },
        None => None,
    };
    if let Some(s) = &target.sim {
        s.reset();
    }
    // A fresh client per round: no warm connections carried from one fleet to the next.
    let client = match target.client(plan) {
        Ok(c) => c.with_trace(plan.trace.then(|| {
            crate::client::trace::Tracer::new(crate::scenario::trace::secrets(plan))
                .with_scrub(|t, s| crate::engine::scrub::scrub(t, s).into_owned())
        })),
        // Nothing measured yet: a plain configuration error.
        Err(e) if run.results.is_empty() => return Err(e.into()),
        // Keep what earlier rounds measured.
        Err(e) => {
            run.stop_reason = Some(format!("round {r} could not start: {e}"));
            return Ok(None);
        }
    };
    let mut remote_sim = probe::remote_sim(plan, &client, simulator, r, &mut run.notes).await;
    // A shard whose starting reading came after the common start may
    // hold other shards' first requests: its round's ledger (after minus
    // that reading) would be short, so it reads none and the merge takes
    // another shard's.
    if let (Some(due), Some(_), true) = (due, &remote_sim, plan.shard.is_some())
        && let Ok(late) = SystemTime::now().duration_since(due)
    {
        remote_sim = None;
        run.notes.push(format!(
            "round {r}: the shared target's ledger was read {:.3}s after the common start, when other shards' requests may already have arrived; this shard's report has no ledger for the round",
            late.as_secs_f64()
        ));
    }
    let truth_before = crate::truth::before_round(
        plan.truth.as_ref(),
        &tls_options(&plan.target),
        r,
        &mut run.notes,
    )
    .await;
    // The ledger was read before the round's common start, so no
    // shard's reading misses another's first requests.
    if let Some(due) = due
        && !sleep_until(due, control).await
    {
        return Ok(None);
    }
    Ok(Some(Ready {
        client,
        before: Before {
            remote_sim,
            truth: truth_before,
        },
    }))
}

/// What round `r` left to say: the attempts/s cap, an early stop, an
/// expired drain, panicked users, outcomes folded into OTHER.
fn note_round(plan: &Plan, r: usize, client: &HttpClient, res: &RoundResult, run: &mut Collected) {
    let round = &plan.rounds[r];
    if client.throttled() > 0 {
        run.notes.push(format!(
            "round {r}: the {}/s attempt cap held back {} attempts; the target saw less than the schedule asked for",
            plan.safety.max_rps,
            client.throttled()
        ));
    }
    if res.stopped_early {
        run.stop_reason
            .get_or_insert_with(|| "interrupted: arrivals stopped early".to_string());
    }
    if res.drain_expired {
        let cancelled: u64 = res.recorders.iter().map(|r| r.journeys.cancelled).sum();
        run.drain_expired = true;
        run.notes.push(format!(
            "round {r}: the drain deadline ({}) expired; {cancelled} journeys still running were cancelled and their unfinished operations count as CANCELLED",
            humantime::format_duration(plan.load.drain)
        ));
    }
    if res.panics > 0 {
        run.panics += res.panics;
        run.notes.push(format!(
            "round {r}: {} simulated users' tasks panicked (a stampede bug): their journeys are missing from these numbers",
            res.panics
        ));
    }
    for (i, rec) in res.recorders.iter().enumerate() {
        if rec.folded() > 0 {
            run.notes.push(format!(
                "round {r}, {}: the target sent more than {} distinct outcomes in a step; {} of {} operations are counted as OTHER",
                round.fleets.get(i).map_or("?", |c| c.name.as_str()),
                crate::metrics::MAX_OUTCOMES,
                rec.folded(),
                rec.steps.iter().map(|s| s.ops).sum::<u64>()
            ));
        }
    }
}

/// The target's own account of round `r`: the embedded simulator's ledger
/// (once it settled) or a remote simulator's, and the `[truth]` counts.
async fn ground_truth(
    plan: &Plan,
    r: usize,
    target: &Target,
    client: &HttpClient,
    before: &Before,
    control: &Control,
    notes: &mut Vec<String>,
) -> (Option<Ledger>, Option<Truth>) {
    let ledger = match &target.sim {
        Some(s) => {
            s.wait_until_idle(std::time::Duration::from_secs(30)).await;
            Some(s.ledger())
        }
        None => match &before.remote_sim {
            Some(before) => probe::remote_ledger(client, before, r, notes).await,
            None => None,
        },
    };
    let truth = crate::truth::after_round(
        plan.truth.as_ref(),
        before.truth.as_ref(),
        &tls_options(&plan.target),
        &control.stop,
        r,
        notes,
    )
    .await;
    let round = &plan.rounds[r];
    if (ledger.is_some() || truth.is_some()) && round.fleets.len() > 1 {
        let names: Vec<&str> = round.fleets.iter().map(|c| c.name.as_str()).collect();
        notes.push(format!(
            "{} shared one target at once: its ground truth (the ledger, [truth]) counts them together",
            names.join(" and ")
        ));
    }
    (ledger, truth)
}

/// Round `r`'s fleets into results and histograms.
fn record_fleets(
    plan: &Plan,
    r: usize,
    res: &RoundResult,
    ledger: Option<Ledger>,
    truth: Option<Truth>,
    run: &mut Collected,
) {
    let step_names: Vec<String> = plan.journey.steps.iter().map(|s| s.name.clone()).collect();
    let (step_kinds, window_widths) = (plan.step_kinds(), plan.window_widths());
    for (i, fleet) in plan.rounds[r].fleets.iter().enumerate() {
        run.histograms.push(FleetHistograms {
            name: fleet.name.clone(),
            operation: res.recorders[i].op_latency(),
            attempt: res.recorders[i].attempt_latency(),
            hlogs: crate::metrics::interval::fleet_files(
                &fleet.name,
                &step_names,
                &res.recorders[i],
                res.wall_start,
                res.duration,
            )
            .unwrap_or_default(),
        });
        let mut result = summarize(
            &res.recorders[i],
            FleetMeta {
                name: &fleet.name,
                policy: &fleet.policy,
                round: r,
                share: fleet.share,
                step_names: &step_names,
                step_kinds: &step_kinds,
                funnel: &plan.journey.funnel,
                latency_step: plan.journey.latency_step,
                amplification_steps: &plan.journey.amplification_steps,
                window_widths: &window_widths,
                round_duration: res.duration,
                in_flight: res.in_flight.get(i).map_or(&[], |v| v.as_slice()),
                ledger: ledger.clone(),
            },
        );
        result.truth = truth.clone();
        result.round_started_unix_ms = meta::unix_ms(res.wall_start);
        run.results.push(result);
    }
}

/// After the rounds: the transport's notes (reconnects, resends, the first
/// TLS, proxy or invalid-answer failure, the unreachable diagnosis, which
/// is returned as well) and a `stampede serve` target whose ledger was not
/// read.
pub(super) fn transport_notes(plan: &Plan, target: &Target, run: &mut Collected) -> Option<String> {
    let unreachable = run.wire.unreachable(&target.base);
    for n in run.wire.notes().into_iter().chain(unreachable.clone()) {
        eprintln!("WARNING: {n}");
        run.notes.push(n);
    }
    // A `stampede serve` target says so in a header; its ledger is read
    // only when the scenario asks (nothing unasked goes to a target).
    if target.sim.is_none() && run.wire.simulator > 0 && plan.target.ledger != Some(true) {
        run.notes.push(
            "the target answered as a stampede simulator (x-stampede-sim); its ledger was not read: set target.ledger = true to read /__sim/ledger before and after each round".into(),
        );
    }
    unreachable
}
