//! A report from the files a run streamed before it died (`kill -9`, power
//! loss): `run.partial.json` (the report with every count zero, written
//! before the first round), `stream.partial.jsonl` (what each second added)
//! and the `.hlog` files. See [`crate::metrics::stream`].

use super::check_names;
use super::fleet::{FleetHists, add_rows, check_rows, refresh, row_limit};
use crate::metrics::stream::{SKELETON_FILE, STREAM_FILE, StreamLine};
use crate::metrics::{FleetMeta, Recorder, summarize};
use crate::report::{FleetResult, Heading, Report, RunStatus};
use crate::scenario::Plan;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The report of `plan` before anything ran: every fleet of every round,
/// every count zero, status incomplete.
pub fn skeleton(plan: &Plan, started: SystemTime) -> Report {
    let step_names: Vec<String> = plan.journey.steps.iter().map(|s| s.name.clone()).collect();
    let empty = Recorder::new(step_names.len());
    let mut results = Vec::new();
    for (r, round) in plan.rounds.iter().enumerate() {
        for c in &round.fleets {
            results.push(summarize(
                &empty,
                FleetMeta {
                    name: &c.name,
                    policy: &c.policy,
                    round: r,
                    share: c.share,
                    step_names: &step_names,
                    step_kinds: &plan.step_kinds(),
                    funnel: &plan.journey.funnel,
                    latency_step: plan.journey.latency_step,
                    amplification_steps: &plan.journey.amplification_steps,
                    window_widths: &[],
                    round_duration: Duration::ZERO,
                    in_flight: &[],
                    ledger: None,
                },
            ));
        }
    }
    Report::new(
        heading(plan, started, plan.load_summary()),
        RunStatus::Incomplete,
        Some("the run did not finish".into()),
        0.0,
        Vec::new(),
        results,
    )
}

/// The heading of `plan`'s report (`load` as the caller describes it).
pub fn heading(plan: &Plan, started: SystemTime, load: String) -> Heading {
    Heading {
        scenario: plan.name.clone(),
        description: plan.description.clone(),
        source: plan.source.display().to_string(),
        started_at: crate::timefmt::rfc3339(started),
        target: match &plan.target.url {
            Some(u) => u.clone(),
            None => "embedded simulator".into(),
        },
        load,
        origin: origin(plan),
    }
}

/// What a report records of its plan for `stampede merge`.
pub fn origin(plan: &Plan) -> crate::report::Origin {
    crate::report::Origin {
        seed: Some(plan.seed),
        gates: plan.gates.iter().map(|g| g.expr.clone()).collect(),
        shard: plan.shard,
        histogram: Some(crate::report::HistogramSettings::of(
            &crate::metrics::new_histogram(),
        )),
        merged_from: Vec::new(),
        round_s: Some(plan.load.round_bound().as_secs_f64()),
    }
}

/// Write the skeleton into the report folder (before the first round).
pub fn write_skeleton(plan: &Plan, started: SystemTime) {
    let r = skeleton(plan, started);
    if let Ok(text) = serde_json::to_vec_pretty(&r) {
        let _ = crate::report::write::write_bytes_atomic(&plan.out_dir.join(SKELETON_FILE), &text);
    }
}

/// After a complete write the partial files have served their purpose.
pub fn remove_partial_files(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(STREAM_FILE));
    let _ = std::fs::remove_file(dir.join(SKELETON_FILE));
}

/// Whether `dir` holds a run that never wrote its summary.
pub fn is_partial(dir: &Path) -> bool {
    !dir.join(crate::report::json::SUMMARY_FILE).exists() && dir.join(SKELETON_FILE).is_file()
}

/// Rebuild the report of a run that died from what it streamed. A last line
/// cut short (in the stream file or an `.hlog`) is dropped; a damaged line
/// before it is an error naming the file and line.
pub fn rebuild(dir: &Path) -> Result<Report, String> {
    let skel_path = dir.join(SKELETON_FILE);
    let text = std::fs::read_to_string(&skel_path)
        .map_err(|e| format!("cannot read {}: {e}", skel_path.display()))?;
    let mut report =
        crate::report::json::parse_summary(&text, &skel_path).map_err(|e| e.to_string())?;
    check_names(&report).map_err(|e| format!("{}: {e}", skel_path.display()))?;
    let lines = stream_lines(dir, row_limit(&report.origin))?;
    let mut longest = 0.0f64;
    for c in &mut report.results {
        add_lines(c, &lines);
        c.counts.round_duration_s = c.timeseries.len() as f64;
        longest += c.counts.round_duration_s;
        let names: Vec<String> = c.steps.iter().map(|s| s.name.clone()).collect();
        let fleet = dir.join(crate::metrics::hlog::file_name(&c.name, None));
        let hists = if fleet.is_file() {
            let src = [super::fleet::Source { dir, shift: 0 }];
            FleetHists::read(&src, &c.name, &names, true)?
        } else {
            FleetHists::new(names.len())
        };
        refresh(c, &hists);
    }
    report.duration_s = longest;
    report.status = RunStatus::Incomplete;
    report.notes.push(format!(
        "incomplete: the run ended without writing its report; these figures were rebuilt from what it streamed ({} lines of {STREAM_FILE} and the .hlog files), up to its last full second; gates were not evaluated",
        lines.len()
    ));
    Ok(report)
}

/// The complete lines of the stream file in `dir`, each checked (per-second
/// rows within `limit`, at most `bounds::MAX_STEPS` steps).
fn stream_lines(dir: &Path, limit: u32) -> Result<Vec<StreamLine>, String> {
    let stream_path = dir.join(STREAM_FILE);
    let bytes = std::fs::read(&stream_path).unwrap_or_default();
    let complete = complete_lines(&bytes);
    let mut lines = Vec::new();
    for (i, l) in complete.split(|&c| c == b'\n').enumerate() {
        if l.is_empty() {
            continue;
        }
        let line: StreamLine = serde_json::from_slice(l)
            .map_err(|e| format!("{}:{}: {e}", stream_path.display(), i + 1))?;
        let at = format!("{}:{}", stream_path.display(), i + 1);
        check_rows(&line.rows, limit, &at)?;
        if line.steps.len() > crate::scenario::bounds::MAX_STEPS {
            return Err(format!(
                "{at}: {} steps; a journey has at most {}",
                line.steps.len(),
                crate::scenario::bounds::MAX_STEPS
            ));
        }
        lines.push(line);
    }
    Ok(lines)
}

/// What the stream `lines` of `c`'s round and fleet added, into `c`, its
/// step and fleet totals and success rates recomputed.
pub(super) fn add_lines(c: &mut FleetResult, lines: &[StreamLine]) {
    let mut ok = vec![0u64; c.steps.len()];
    for l in lines
        .iter()
        .filter(|l| l.round == c.round && l.fleet == c.name)
    {
        for ((s, sl), okn) in c.steps.iter_mut().zip(&l.steps).zip(ok.iter_mut()) {
            s.operations += sl.operations;
            s.attempts += sl.attempts;
            s.not_sent += sl.not_sent;
            s.retries += sl.retries;
            s.hedges += sl.hedges;
            s.hedge_wins += sl.hedge_wins;
            *okn += sl.ok;
            for (k, v) in &sl.outcomes {
                *s.outcomes.entry(k.clone()).or_default() += v;
                *c.counts.outcomes.entry(k.clone()).or_default() += v;
            }
        }
        c.counts.journeys += l.journeys;
        c.retry.retry_after_honoured += l.retry_after_honoured;
        c.retry.breaker_opens += l.breaker_opens;
        c.retry.breaker_open_s += l.breaker_open_s;
        c.harm += &l.harm;
        add_rows(&mut c.timeseries, &l.rows, 0);
    }
    for (s, okn) in c.steps.iter_mut().zip(&ok) {
        s.success_rate = if s.operations == 0 {
            0.0
        } else {
            *okn as f64 / s.operations as f64
        };
    }
    c.counts.operations = c.steps.iter().map(|s| s.operations).sum();
    c.counts.attempts = c.steps.iter().map(|s| s.attempts).sum();
    c.counts.not_sent = c.steps.iter().map(|s| s.not_sent).sum();
    c.counts.hedges = c.steps.iter().map(|s| s.hedges).sum();
    c.counts.hedge_wins = c.steps.iter().map(|s| s.hedge_wins).sum();
    let ok_all: u64 = ok.iter().sum();
    c.counts.success_rate = if c.counts.operations == 0 {
        0.0
    } else {
        ok_all as f64 / c.counts.operations as f64
    };
}

/// `bytes` up to and including its last newline.
pub fn complete_lines(bytes: &[u8]) -> &[u8] {
    match bytes.iter().rposition(|&c| c == b'\n') {
        Some(p) => &bytes[..=p],
        None => &[],
    }
}
