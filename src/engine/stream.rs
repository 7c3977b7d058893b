//! The round's collectors, and the streaming hook (see
//! [`crate::metrics::stream`]): each collector keeps a delta next to its
//! total and hands it over once a second; one task sums the deltas and
//! appends them to the report folder.

use crate::metrics::stream::StreamFiles;
use crate::metrics::{JourneyLog, Recorder};
use std::sync::{Mutex, MutexGuard};
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
    pub fn new(fleets: usize, steps: usize, interval_ms: u32, tx: Option<DeltaTx>) -> Self {
        let fresh = || {
            (0..fleets)
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

    pub fn absorb(&mut self, log: &JourneyLog) {
        let recs = match &mut self.delta {
            Some((d, _)) => d,
            None => &mut self.total,
        };
        if let Some(r) = recs.get_mut(log.fleet as usize) {
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

/// The round's recorders, filled by the user tasks themselves as each
/// journey ends: no channel and no collector task to wake per journey. A
/// collector task drained its channel at most 128 logs per turn (tokio's
/// cooperative budget) behind every user and connection task, so with
/// 10,000 connections flat out the logs waiting in its channel grew by
/// ~25 MB/s. Sharded by arrival, so worker threads rarely meet on a lock.
pub struct Collectors {
    /// `None` once the round has taken them: a journey that ends later is
    /// not counted (as a send into a closed channel was not).
    shards: Box<[Mutex<Option<CollectorRecs>>]>,
    streaming: bool,
}

impl Collectors {
    pub fn new(
        n: usize,
        fleets: usize,
        steps: usize,
        interval_ms: u32,
        tx: Option<DeltaTx>,
    ) -> Self {
        Collectors {
            streaming: tx.is_some(),
            shards: (0..n.max(1))
                .map(|_| {
                    let recs = CollectorRecs::new(fleets, steps, interval_ms, tx.clone());
                    Mutex::new(Some(recs))
                })
                .collect(),
        }
    }

    fn lock(m: &Mutex<Option<CollectorRecs>>) -> MutexGuard<'_, Option<CollectorRecs>> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// Arrival `k`'s finished journey.
    pub fn absorb(&self, k: u64, log: &JourneyLog) {
        let shard = &self.shards[(k % self.shards.len() as u64) as usize];
        if let Some(recs) = Self::lock(shard).as_mut() {
            recs.absorb(log);
        }
    }

    /// Every collector hands its delta to the stream task.
    pub fn hand_over(&self) {
        for shard in self.shards.iter() {
            if let Some(recs) = Self::lock(shard).as_mut() {
                recs.hand_over();
            }
        }
    }

    /// Take every collector's round total (each hands its last delta over
    /// first); later journeys are not counted.
    pub fn finish(&self) -> Vec<Vec<Recorder>> {
        self.shards
            .iter()
            .filter_map(|s| Self::lock(s).take())
            .map(CollectorRecs::finish)
            .collect()
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
                biased;
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
