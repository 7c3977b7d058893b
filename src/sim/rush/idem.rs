//! The Booking Rush idempotency middleware's store: one global namespace of
//! `X-Idempotency-Key`s (not per user), a key `processing` for at most
//! `idempotency_processing`, then its full answer (status and body, 500s
//! included) for `idempotency_replay`. A request's fingerprint is method +
//! path + user + body, kept as a 128-bit digest. Sharded like the
//! guidelines profile's cache: one short lock per request.

use crate::sim::sharded::ShardedMap;
use bytes::Bytes;
use std::hash::BuildHasher;
use std::time::Duration;
use tokio::time::Instant;

/// A stored answer, replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub body: Bytes,
}

enum State {
    Processing,
    Done(Stored),
}

struct Entry {
    fingerprint: u128,
    /// Which claim owns the entry: a claim made after a `processing` entry
    /// lapsed must not be overwritten by the late first request.
    generation: u64,
    until: Instant,
    state: State,
}

/// What the middleware does with a request.
pub enum Claim {
    /// A new key (or one whose entry lapsed): run the handler, then
    /// [`IdemStore::complete`] with this ticket.
    Owner(Ticket),
    /// Same key and fingerprint, finished: replay it.
    Replay(Stored),
    /// Same key and fingerprint, still running: 409 `REQUEST_IN_PROGRESS`.
    InProgress,
    /// Same key, another fingerprint: 422 `IDEMPOTENCY_KEY_REUSED`.
    Mismatch,
}

/// The right to store the answer of one claim.
#[derive(Debug)]
pub struct Ticket {
    key: String,
    generation: u64,
}

const SHARDS: usize = 64;

pub struct IdemStore {
    entries: ShardedMap<String, Entry>,
    digest: [std::hash::RandomState; 2],
    next: std::sync::atomic::AtomicU64,
    processing: Duration,
    replay: Duration,
}

impl IdemStore {
    pub fn new(processing: Duration, replay: Duration) -> Self {
        Self {
            entries: ShardedMap::new(SHARDS),
            digest: [std::hash::RandomState::new(), std::hash::RandomState::new()],
            next: std::sync::atomic::AtomicU64::new(0),
            processing,
            replay,
        }
    }

    /// The fingerprint of a request: method + path + user + body.
    pub fn fingerprint(&self, method: &str, path: &str, user: &str, body: &[u8]) -> u128 {
        let parts = (method, path, user, body);
        let [a, b] = &self.digest;
        (u128::from(a.hash_one(parts)) << 64) | u128::from(b.hash_one(parts))
    }

    pub fn claim(&self, key: &str, fingerprint: u128, now: Instant) -> Claim {
        let mut map = self.entries.lock(key);
        if let Some(e) = map.get(key).filter(|e| e.until > now) {
            return if e.fingerprint != fingerprint {
                Claim::Mismatch
            } else {
                match &e.state {
                    State::Processing => Claim::InProgress,
                    State::Done(s) => Claim::Replay(s.clone()),
                }
            };
        }
        let generation = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let entry = Entry {
            fingerprint,
            generation,
            until: now + self.processing,
            state: State::Processing,
        };
        match map.get_mut(key) {
            Some(e) => *e = entry,
            None => {
                map.insert(key.to_owned(), entry);
            }
        }
        Claim::Owner(Ticket {
            key: key.to_owned(),
            generation,
        })
    }

    /// Stores the answer of a finished claim for the replay window (unless
    /// its `processing` entry lapsed and another request claimed the key).
    pub fn complete(&self, ticket: Ticket, stored: Stored, now: Instant) {
        let mut map = self.entries.lock(ticket.key.as_str());
        if let Some(e) = map.get_mut(&ticket.key)
            && e.generation == ticket.generation
        {
            e.state = State::Done(stored);
            e.until = now + self.replay;
        }
    }

    /// Drops lapsed entries (Redis would have expired them).
    pub fn purge(&self, now: Instant) {
        self.entries.retain(|_, e| e.until > now);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(s: u16) -> Stored {
        Stored {
            status: s,
            body: Bytes::from_static(b"{}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn processing_then_replay_then_forgotten() {
        let st = IdemStore::new(Duration::from_secs(60), Duration::from_secs(300));
        let fp = st.fingerprint("POST", "/r", "a", b"{}");
        assert_ne!(fp, st.fingerprint("POST", "/r", "b", b"{}"));
        let now = Instant::now();
        let Claim::Owner(t) = st.claim("k", fp, now) else {
            panic!("owner")
        };
        assert!(matches!(st.claim("k", fp, now), Claim::InProgress));
        assert!(matches!(st.claim("k", fp ^ 1, now), Claim::Mismatch));
        st.complete(t, stored(500), now);
        match st.claim("k", fp, now) {
            Claim::Replay(s) => assert_eq!(s.status, 500),
            _ => panic!("replay"),
        }
        tokio::time::advance(Duration::from_secs(301)).await;
        assert!(matches!(st.claim("k", fp, Instant::now()), Claim::Owner(_)));
        st.purge(Instant::now() + Duration::from_secs(61));
        assert_eq!(st.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lapsed_claim_cannot_overwrite_the_next() {
        let st = IdemStore::new(Duration::from_secs(60), Duration::from_secs(300));
        let now = Instant::now();
        let Claim::Owner(first) = st.claim("k", 1, now) else {
            panic!("owner")
        };
        let later = now + Duration::from_secs(61);
        let Claim::Owner(second) = st.claim("k", 1, later) else {
            panic!("the processing entry lapsed")
        };
        st.complete(first, stored(201), later);
        assert!(matches!(st.claim("k", 1, later), Claim::InProgress));
        st.complete(second, stored(409), later);
        match st.claim("k", 1, later) {
            Claim::Replay(s) => assert_eq!(s.status, 409),
            _ => panic!("replay"),
        }
    }
}
