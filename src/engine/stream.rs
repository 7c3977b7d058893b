//! The streaming hook of a round (see [`crate::metrics::stream`]): each
//! collector keeps a delta next to its total and hands it over once a
//! second; one task sums the deltas and appends them to the report folder.

use crate::metrics::stream::StreamFiles;
use crate::metrics::{JourneyLog, Recorder};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub type DeltaTx = mpsc::UnboundedSender<Vec<Recorder>>;

/// A collector's recorders: the round total and, when streaming, the delta
/// since the last hand-over.
pub struct CollectorRecs {
    pub total: Vec<Recorder>,
    delta: Option<(Vec<Recorder>, DeltaTx)>,
    steps: usize,
    interval_ms: u32,
}

impl CollectorRecs {
    pub fn new(cohorts: usize, steps: usize, interval_ms: u32, tx: Option<DeltaTx>) -> Self {
        let fresh = || {
            (0..cohorts)
                .map(|_| Recorder::with_interval(steps, interval_ms))
                .collect::<Vec<_>>()
        };
        CollectorRecs {
            total: fresh(),
            delta: tx.map(|tx| (fresh(), tx)),
            steps,
            interval_ms,
        }
    }

    pub fn streaming(&self) -> bool {
        self.delta.is_some()
    }

    pub fn absorb(&mut self, log: &JourneyLog) {
        let recs = match &mut self.delta {
            Some((d, _)) => d,
            None => &mut self.total,
        };
        if let Some(r) = recs.get_mut(log.cohort as usize) {
            r.absorb(log);
        }
    }

    /// Add the delta to the total and hand it to the stream task.
    pub fn hand_over(&mut self) {
        let (steps, interval_ms) = (self.steps, self.interval_ms);
        if let Some((d, tx)) = &mut self.delta {
            if d.iter().all(|r| r.journeys.started == 0) {
                return;
            }
            let fresh = (0..d.len())
                .map(|_| Recorder::with_interval(steps, interval_ms))
                .collect();
            let d = std::mem::replace(d, fresh);
            for (t, r) in self.total.iter_mut().zip(&d) {
                *t += r;
            }
            let _ = tx.send(d);
        }
    }

    /// The round total (the last delta handed over first).
    pub fn finish(mut self) -> Vec<Recorder> {
        self.hand_over();
        self.total
    }
}

/// Spawn the task that appends deltas once a second (half a second after
/// the collectors hand them over) and once more when every collector is done.
pub fn spawn_writer(
    files: Option<StreamFiles>,
    start: Instant,
) -> (Option<DeltaTx>, JoinHandle<()>) {
    let Some(mut files) = files else {
        return (None, tokio::spawn(async {}));
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Recorder>>();
    let handle = tokio::spawn(async move {
        let mut pending: Option<Vec<Recorder>> = None;
        let mut tick =
            tokio::time::interval_at(start + Duration::from_millis(1500), Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut failed = false;
        let mut flush = |p: &mut Option<Vec<Recorder>>| {
            if let Some(d) = p.take()
                && !failed
                && let Err(e) = files.append(&d)
            {
                failed = true;
                eprintln!("warning: streaming to the report folder stopped: {e}");
            }
        };
        loop {
            tokio::select! {
                d = rx.recv() => match d {
                    Some(d) => match &mut pending {
                        Some(p) => for (a, b) in p.iter_mut().zip(&d) { *a += b },
                        None => pending = Some(d),
                    },
                    None => break,
                },
                _ = tick.tick() => flush(&mut pending),
            }
        }
        flush(&mut pending);
    });
    (Some(tx), handle)
}
