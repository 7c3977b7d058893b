//! The virtual queue: one per event, behind its own short lock (like the
//! store's per-event lock). Users join, the release worker lets them out in
//! join order while fewer than `max_passes` passes are outstanding, and a
//! pass is used up by a successful reserve (when enforced) or expires.
//! An unused pass that expires is *stranded*: it held one of the
//! `max_passes` slots for its whole lifetime while others waited.

use super::auth::{Clock, Signer};
use super::config::BookingRushConfig;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

struct Waiting {
    seq: u64,
    user: Arc<str>,
    joined: Instant,
}

/// A live pass: issued, unused, unexpired (or not yet retired).
struct Held {
    pass: String,
    n: u64,
    expires: Instant,
}

#[derive(Default)]
pub struct EventQueue {
    waiting: VecDeque<Waiting>,
    /// User -> join sequence, for users still waiting.
    queued: HashMap<Arc<str>, u64>,
    next_seq: u64,
    holders: HashMap<Arc<str>, Held>,
    /// Passes in issue order with their expiry (one TTL keeps it sorted).
    order: VecDeque<(Instant, Arc<str>, u64)>,
    outstanding: u32,
    issued: u64,
    /// The release worker's previous run over this queue.
    last_run: Option<Instant>,
}

/// Where a user stands: the polling answer (also an SSE frame's data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub position: u64,
    pub total: u64,
    pub pass: Option<String>,
}

impl Position {
    /// `{"position","total_in_queue","estimated_wait_seconds","is_ready","queue_pass"?}`.
    pub fn json(&self) -> String {
        let o = super::body::Obj::new()
            .num("position", self.position)
            .num("total_in_queue", self.total)
            .num("estimated_wait_seconds", self.position * 3)
            .bool("is_ready", self.pass.is_some());
        match &self.pass {
            Some(p) => o.str("queue_pass", p).text(),
            None => o.text(),
        }
    }
}

/// A successful join.
pub struct Joined {
    pub position: u64,
    pub seq: u64,
}

/// Why a join was refused (409, flat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    AlreadyInQueue,
    QueueFull,
}

/// What the release worker did in one run over one event.
#[derive(Default)]
pub struct Released {
    /// Join -> pass of every pass issued.
    pub waits: Vec<Duration>,
    pub stranded: u64,
    /// Users still waiting after this run.
    pub still_waiting: usize,
    /// Time since the previous run over this queue (zero on the first).
    pub since_last: Duration,
}

impl EventQueue {
    pub fn join(&mut self, user: &str, capacity: u32, now: Instant) -> Result<Joined, JoinError> {
        if self.queued.contains_key(user) {
            return Err(JoinError::AlreadyInQueue);
        }
        if capacity > 0 && self.waiting.len() >= capacity as usize {
            return Err(JoinError::QueueFull);
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        let user: Arc<str> = Arc::from(user);
        self.waiting.push_back(Waiting {
            seq,
            user: Arc::clone(&user),
            joined: now,
        });
        self.queued.insert(user, seq);
        Ok(Joined {
            position: self.waiting.len() as u64,
            seq,
        })
    }

    /// None: neither waiting nor holding a live pass (`NOT_IN_QUEUE`).
    pub fn position(&self, user: &str, now: Instant) -> Option<Position> {
        let total = self.waiting.len() as u64;
        if let Some(h) = self.holders.get(user).filter(|h| h.expires > now) {
            return Some(Position {
                position: 0,
                total,
                pass: Some(h.pass.clone()),
            });
        }
        let seq = *self.queued.get(user)?;
        let head = self.waiting.front().map_or(seq, |w| w.seq);
        Some(Position {
            position: seq.saturating_sub(head) + 1,
            total,
            pass: None,
        })
    }

    /// Whether `pass` is `user`'s live pass (not used up, not superseded).
    pub fn holds(&self, user: &str, pass: &str, now: Instant) -> bool {
        self.holders
            .get(user)
            .is_some_and(|h| h.pass == pass && h.expires > now)
    }

    /// A successful reserve used the user's pass up.
    pub fn use_pass(&mut self, user: &str) -> bool {
        if self.holders.remove(user).is_some() {
            self.outstanding = self.outstanding.saturating_sub(1);
            true
        } else {
            false
        }
    }

    pub fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// The release worker, once: retire expired passes (unused ones are
    /// stranded) and stale entries, then let users out in join order.
    pub fn release(
        &mut self,
        cfg: &BookingRushConfig,
        event: &str,
        signer: &Signer,
        clock: &Clock,
        now: Instant,
    ) -> Released {
        let mut out = Released {
            since_last: self
                .last_run
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t)),
            ..Released::default()
        };
        self.last_run = Some(now);
        while let Some((at, _, _)) = self.order.front() {
            if *at > now {
                break;
            }
            let Some((_, user, n)) = self.order.pop_front() else {
                break;
            };
            if self.holders.get(&user).is_some_and(|h| h.n == n) {
                self.holders.remove(&user);
                self.outstanding = self.outstanding.saturating_sub(1);
                out.stranded += 1;
            }
        }
        while let Some(w) = self.waiting.front() {
            if w.joined + cfg.queue_entry_ttl > now {
                break;
            }
            if let Some(w) = self.waiting.pop_front() {
                self.queued.remove(&w.user);
            }
        }
        let free = cfg.max_passes.saturating_sub(self.outstanding);
        let mut n = match cfg.release_batch {
            0 => free,
            b => free.min(b),
        };
        while n > 0 {
            let Some(w) = self.waiting.front() else { break };
            if w.joined + cfg.min_queue_time > now {
                break;
            }
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            self.queued.remove(&w.user);
            self.issued += 1;
            let expires = now + cfg.pass_ttl;
            let pass = signer.pass(&w.user, event, self.issued, clock.unix_ms_at(expires));
            let held = Held {
                pass,
                n: self.issued,
                expires,
            };
            // One live pass per user: an older one (the user joined again
            // while holding it) is superseded, never to be used.
            if self.holders.insert(Arc::clone(&w.user), held).is_some() {
                self.outstanding = self.outstanding.saturating_sub(1);
                out.stranded += 1;
            }
            self.order.push_back((expires, w.user, self.issued));
            self.outstanding += 1;
            out.waits.push(now.saturating_duration_since(w.joined));
            n -= 1;
        }
        out.still_waiting = self.waiting.len();
        out
    }
}

/// Every event's queue, by the store's event index.
pub struct Queues {
    events: Box<[Mutex<EventQueue>]>,
}

impl Queues {
    pub fn new(events: usize) -> Self {
        Self {
            events: (0..events)
                .map(|_| Mutex::new(EventQueue::default()))
                .collect(),
        }
    }

    pub fn lock(&self, e: usize) -> Option<MutexGuard<'_, EventQueue>> {
        self.events
            .get(e)
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BookingRushConfig {
        BookingRushConfig {
            max_passes: 2,
            pass_ttl: Duration::from_secs(10),
            ..BookingRushConfig::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn join_release_use_and_strand() {
        let (signer, clock, cfg) = (Signer::new(1), Clock::new(), cfg());
        let mut q = EventQueue::default();
        let now = Instant::now();
        for u in ["a", "b", "c"] {
            q.join(u, 0, now).expect("joins");
        }
        assert_eq!(q.join("a", 0, now).err(), Some(JoinError::AlreadyInQueue));
        assert_eq!(q.join("d", 3, now).err(), Some(JoinError::QueueFull));
        assert_eq!(q.position("c", now).map(|p| p.position), Some(3));
        assert_eq!(q.position("z", now), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        let now = Instant::now();
        let r = q.release(&cfg, "E", &signer, &clock, now);
        assert_eq!(r.waits, vec![Duration::from_secs(1); 2], "two slots");
        let pa = q.position("a", now).expect("a").pass.expect("a's pass");
        assert_eq!(q.position("c", now).map(|p| p.position), Some(1));
        assert!(q.holds("a", &pa, now));
        assert!(q.use_pass("a"));
        assert!(!q.holds("a", &pa, now), "one-shot");
        assert_eq!(q.position("a", now), None);
        // a's slot is free: c is let out; b never uses its pass.
        let r = q.release(&cfg, "E", &signer, &clock, now);
        assert_eq!(r.waits.len(), 1);
        assert_eq!(q.outstanding(), 2);
        tokio::time::advance(Duration::from_secs(11)).await;
        let r = q.release(&cfg, "E", &signer, &clock, Instant::now());
        assert_eq!(r.stranded, 2, "b's and c's passes expired unused");
        assert_eq!(q.outstanding(), 0);
        assert!(r.waits.is_empty());
        let p = Position {
            position: 2,
            total: 5,
            pass: None,
        };
        assert_eq!(
            p.json(),
            r#"{"position":2,"total_in_queue":5,"estimated_wait_seconds":6,"is_ready":false}"#
        );
    }

    #[tokio::test(start_paused = true)]
    async fn batches_min_wait_and_stale_entries() {
        let (signer, clock) = (Signer::new(1), Clock::new());
        let cfg = BookingRushConfig {
            release_batch: 1,
            min_queue_time: Duration::from_secs(5),
            queue_entry_ttl: Duration::from_secs(60),
            ..BookingRushConfig::default()
        };
        let mut q = EventQueue::default();
        let t0 = Instant::now();
        q.join("a", 0, t0).expect("a");
        q.join("b", 0, t0).expect("b");
        assert!(q.release(&cfg, "E", &signer, &clock, t0).waits.is_empty());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            q.release(&cfg, "E", &signer, &clock, Instant::now())
                .waits
                .len(),
            1,
            "one per run"
        );
        q.join("c", 0, Instant::now()).expect("c");
        tokio::time::advance(Duration::from_secs(56)).await;
        let r = q.release(&cfg, "E", &signer, &clock, Instant::now());
        // b's entry lapsed at 60 s, before its turn; c is let out instead.
        assert!(q.position("b", Instant::now()).is_none());
        assert_eq!(r.waits, vec![Duration::from_secs(56)]);
        assert!(
            q.position("c", Instant::now())
                .is_some_and(|p| p.pass.is_some())
        );
    }
}
