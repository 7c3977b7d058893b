//! Live progress: an indicatif bar on a terminal, a plain line every few
//! seconds otherwise (CI logs).

use super::RoundCtx;
use crate::metrics::LiveSnapshot;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub struct Progress {
    bar: Option<ProgressBar>,
    state: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Progress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b
        });
        Self {
            bar,
            state: Arc::new(Mutex::new(None)),
        }
    }

    /// Start reporting the round's live counters (summed over cohorts).
    pub fn start_round(&self, label: String, ctx: Arc<RoundCtx>) {
        let bar = self.bar.clone();
        let handle = tokio::spawn(async move {
            let start = Instant::now();
            let every = if bar.is_some() {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(5)
            };
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            let mut prev = (Instant::now(), 0u64);
            loop {
                tick.tick().await;
                let s = ctx
                    .cohorts
                    .iter()
                    .fold(LiveSnapshot::default(), |a, c| a + c.live.snapshot());
                let now = Instant::now();
                let rate = (s.attempts - prev.1) as f64
                    / now.duration_since(prev.0).as_secs_f64().max(1e-3);
                prev = (now, s.attempts);
                let msg = format!(
                    "{label}: {} users arrived, {} in flight, {} attempts ({rate:.0}/s), {} ok, {} failed ops",
                    s.arrivals, s.in_flight, s.attempts, s.ok, s.failures
                );
                match &bar {
                    Some(b) => {
                        b.set_message(msg);
                        b.tick();
                    }
                    None => eprintln!("[{:>5.1}s] {msg}", start.elapsed().as_secs_f64()),
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
