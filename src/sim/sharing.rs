//! Processor sharing: every admitted job is in service at once and the
//! `workers` servers' capacity is split evenly among them. With n jobs in
//! service each advances at min(1, workers / n) seconds of work per second,
//! so one long job slows the others down instead of blocking them (a FIFO
//! queue's head-of-line blocking), as a CPU time-slicing its threads does.
//!
//! Exact on any clock: the jobs' remaining work is brought up to date at
//! every arrival and departure (between them the share is constant), and a
//! waiting job recomputes its finish time whenever the number in service
//! changes. Time is tokio's, so it runs on the paused clock of a
//! virtual-time run as on the wall clock.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Work left below this many seconds is done (float rounding).
const DONE: f64 = 1e-9;

pub struct Sharing {
    servers: f64,
    state: Mutex<State>,
    /// Woken at every arrival and departure: the share changed.
    changed: Notify,
}

struct State {
    /// Job id -> seconds of work left.
    left: BTreeMap<u64, f64>,
    next_id: u64,
    /// When `left` was last brought up to date.
    at: Instant,
}

impl State {
    /// Each job's rate with `servers` shared among the jobs in service.
    fn rate(&self, servers: f64) -> f64 {
        let n = self.left.len() as f64;
        if n == 0.0 {
            1.0
        } else {
            (servers / n).min(1.0)
        }
    }

    /// Every job's remaining work as of `now`.
    fn advance(&mut self, now: Instant, servers: f64) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        if dt > 0.0 {
            let done = dt * self.rate(servers);
            for w in self.left.values_mut() {
                *w = (*w - done).max(0.0);
            }
        }
        self.at = now;
    }
}

impl Sharing {
    pub fn new(workers: u32) -> Self {
        Sharing {
            servers: f64::from(workers.max(1)),
            state: Mutex::new(State {
                left: BTreeMap::new(),
                next_id: 0,
                at: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves `work` seconds of work under processor sharing: returns when
    /// it is done. Dropped early (the request went away), the job leaves.
    pub async fn serve(&self, work: Duration) {
        if work.is_zero() {
            return;
        }
        let id = {
            let mut s = self.lock();
            s.advance(Instant::now(), self.servers);
            let id = s.next_id;
            s.next_id += 1;
            s.left.insert(id, work.as_secs_f64());
            id
        };
        self.changed.notify_waiters();
        let _leave = Leave { sharing: self, id };
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let due = {
                let mut s = self.lock();
                let now = Instant::now();
                s.advance(now, self.servers);
                let left = s.left.get(&id).copied().unwrap_or(0.0);
                if left <= DONE {
                    return;
                }
                now + Duration::from_secs_f64(left / s.rate(self.servers))
            };
            tokio::select! {
                biased;
                () = tokio::time::sleep_until(due) => {}
                () = &mut notified => {}
            }
        }
    }

    /// Jobs in service now.
    #[cfg(test)]
    pub fn in_service(&self) -> usize {
        self.lock().left.len()
    }
}

/// Takes a job out of service when it is done or dropped.
struct Leave<'a> {
    sharing: &'a Sharing,
    id: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        {
            let mut s = self.sharing.lock();
            s.advance(Instant::now(), self.sharing.servers);
            s.left.remove(&self.id);
        }
        self.sharing.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Jobs of `works` (ms) arriving at `starts` (ms) on `workers` servers:
    /// when each finished (ms after the first start).
    async fn finish_times(workers: u32, jobs: &[(u64, u64)]) -> Vec<u64> {
        let ps = Arc::new(Sharing::new(workers));
        let t0 = Instant::now();
        let tasks: Vec<_> = jobs
            .iter()
            .map(|&(start, work)| {
                let ps = Arc::clone(&ps);
                tokio::spawn(async move {
                    tokio::time::sleep_until(t0 + Duration::from_millis(start)).await;
                    ps.serve(Duration::from_millis(work)).await;
                    t0.elapsed().as_millis() as u64
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        assert_eq!(ps.in_service(), 0);
        out
    }

    #[tokio::test(start_paused = true)]
    async fn equal_jobs_share_one_server_and_finish_together() {
        // Two 100 ms jobs at once on one server: each at half speed.
        assert_eq!(finish_times(1, &[(0, 100), (0, 100)]).await, [200, 200]);
        // Two servers: no sharing needed.
        assert_eq!(finish_times(2, &[(0, 100), (0, 100)]).await, [100, 100]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_job_is_not_stuck_behind_a_long_one() {
        // A 1,000 ms job, then a 10 ms job 100 ms later, one server. FIFO
        // would finish the short one at 1,010 ms; sharing finishes it after
        // 20 ms of half speed, and the long one 10 ms later than alone.
        assert_eq!(finish_times(1, &[(0, 1000), (100, 10)]).await, [1010, 120]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_share_follows_arrivals_and_departures() {
        // 0–30 ms: A alone (30 ms of work done, 30 left); 30–90 ms: A and B
        // at half speed (A done at 90, B has 30 of 60 done); then B alone
        // until 120.
        assert_eq!(finish_times(1, &[(0, 60), (30, 60)]).await, [90, 120]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_dropped_early_leaves_the_others_its_share() {
        let ps = Arc::new(Sharing::new(1));
        let t0 = Instant::now();
        let long = {
            let ps = Arc::clone(&ps);
            tokio::spawn(async move {
                ps.serve(Duration::from_millis(100)).await;
                t0.elapsed()
            })
        };
        // A second job that goes away after 40 ms (its client timed out).
        let ps2 = Arc::clone(&ps);
        let _ = tokio::time::timeout(Duration::from_millis(40), async move {
            ps2.serve(Duration::from_millis(1000)).await;
        })
        .await;
        // 40 ms at half speed: 20 done, 80 left alone.
        assert_eq!(long.await.unwrap(), Duration::from_millis(120));
        assert_eq!(ps.in_service(), 0);
    }
}
