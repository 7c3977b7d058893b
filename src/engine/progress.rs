//! Live progress: per fleet of the running round, arrivals/s against the
//! schedule, attempts/s, retries/s, in flight, operation latency p50/p99 of
//! the last interval and of the round so far, answers by status class, and
//! the stage with its time left (text from [`crate::board::view`]). Redrawn
//! in place on a terminal (indicatif), a plain block every 5 s otherwise
//! (CI logs). Every round's counters are also put on a [`Board`] for the
//! Prometheus endpoint, which keeps them after the round.

use super::RoundCtx;
use crate::board::view::{self, Sample};
use crate::board::{Board, Fleet, RoundInfo};
use crate::scenario::Plan;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// What the block printed when a round ends needs: the round, its fleets
/// and when it started.
type RoundEnd = (RoundInfo, Vec<Fleet>, Instant);

pub struct Progress {
    bar: Option<ProgressBar>,
    /// Whether anything is shown (false: only the board is fed).
    display: bool,
    board: Arc<Board>,
    state: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// The running round's fleets and clock, for the block printed when it
    /// ends (a CI log sees every round, however short).
    last: Arc<Mutex<Option<RoundEnd>>>,
}

impl Progress {
    pub fn new() -> Self {
        Self::with_display(true, Arc::new(Board::default()))
    }

    /// `display` false: nothing printed, the board still fed.
    pub fn with_display(display: bool, board: Arc<Board>) -> Self {
        let bar = (display && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b
        });
        Self {
            bar,
            display,
            board,
            state: Arc::new(Mutex::new(None)),
            last: Arc::new(Mutex::new(None)),
        }
    }

    pub fn board(&self) -> Arc<Board> {
        self.board.clone()
    }

    /// Start reporting round `round` of `plan`.
    pub fn start_round(&self, plan: &Plan, round: usize, ctx: Arc<RoundCtx>) {
        let steps: Vec<String> = plan.journey.steps.iter().map(|s| s.name.clone()).collect();
        let planned = &plan.rounds[round].fleets;
        let fleets: Vec<Fleet> = planned
            .iter()
            .zip(&ctx.fleets)
            .map(|(c, cc)| Fleet {
                name: c.name.clone(),
                round,
                steps: steps.clone(),
                live: cc.live.clone(),
            })
            .collect();
        let shares: Vec<f64> = planned.iter().map(|c| c.share).collect();
        let info = RoundInfo {
            round,
            rounds: plan.rounds.len(),
            started: ctx.start.into_std(),
            arrivals_for: plan.load.duration,
            drain: plan.load.drain,
        };
        self.board.add_round(info.clone(), fleets.clone());
        if !self.display {
            return;
        }
        if let Ok(mut l) = self.last.lock() {
            *l = Some((info.clone(), fleets.clone(), ctx.start));
        }
        let arrivals = plan.load.arrivals.clone();
        let bar = self.bar.clone();
        let handle = tokio::spawn(async move {
            let every = if bar.is_some() {
                Duration::from_millis(1000)
            } else {
                Duration::from_secs(5)
            };
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            let mut prev: Vec<Sample> = fleets.iter().map(view::sample).collect();
            let mut prev_at = Instant::now();
            loop {
                tick.tick().await;
                let now = Instant::now();
                let dt = now.duration_since(prev_at).as_secs_f64();
                let t = now.saturating_duration_since(ctx.start);
                let pace = view::pace(&arrivals, t, info.arrivals_for);
                let mut lines = vec![view::stage(&info, now.into_std())];
                let samples: Vec<Sample> = fleets.iter().map(view::sample).collect();
                for ((f, s), (p, share)) in
                    fleets.iter().zip(&samples).zip(prev.iter().zip(&shares))
                {
                    lines.extend(view::fleet_lines(f, s, p, dt, pace.share(*share)));
                }
                prev = samples;
                prev_at = now;
                let msg = lines.join("\n");
                match &bar {
                    Some(b) => {
                        b.set_message(msg);
                        b.tick();
                    }
                    None => eprintln!("[{:>5.1}s] {msg}", t.as_secs_f64()),
                }
            }
        });
        if let Ok(mut s) = self.state.lock()
            && let Some(old) = s.replace(handle)
        {
            old.abort();
        }
    }

    pub fn finish_round(&self) {
        if let Ok(mut s) = self.state.lock()
            && let Some(h) = s.take()
        {
            h.abort();
        }
        // Without a terminal (a CI log): one block for the whole round as it
        // ends, rates averaged over the round.
        if self.bar.is_none()
            && let Some((info, fleets, started)) = self.last.lock().ok().and_then(|mut l| l.take())
        {
            let now = Instant::now();
            let dt = now.duration_since(started).as_secs_f64();
            let mut lines = vec![format!(
                "round {} of {} ended after {:.1}s (rates over the round)",
                info.round + 1,
                info.rounds,
                dt
            )];
            for f in &fleets {
                let s = view::sample(f);
                lines.extend(view::fleet_lines(
                    f,
                    &s,
                    &Sample::default(),
                    dt,
                    view::Pace::RoundAverage,
                ));
            }
            eprintln!("[{dt:>5.1}s] {}", lines.join("\n"));
        }
        if let Some(b) = &self.bar {
            b.set_message(String::new());
        }
    }

    pub fn clear(&self) {
        self.finish_round();
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}
