//! Idempotency-Key cache. A key is claimed before the work starts, so a
//! concurrent duplicate waits on the first request's result instead of
//! racing it into a second booking.

use super::sharded::ShardedMap;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::watch;

/// A final answer worth replaying byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub body: Bytes,
}

type Key = (String, String);

struct Slot {
    fingerprint: String,
    tx: watch::Sender<Option<Stored>>,
}

const SHARDS: usize = 16;

pub struct IdempotencyCache {
    slots: ShardedMap<Key, Slot>,
}

/// Outcome of [`IdempotencyCache::claim`].
pub enum Claim {
    /// We own the key: do the work and [`Guard::complete`] it.
    Owner(Guard),
    /// Same key, same payload, finished: replay it.
    Replay(Stored),
    /// Same key, different payload: reject (422 IDEMPOTENCY_KEY_REUSED).
    Mismatch,
}

/// Ownership of an in-progress key. Dropped without `complete` (a 503, an
/// injected 500, a reset before commit), the key is forgotten so a retry
/// with it runs afresh, and any waiters retry their claim.
pub struct Guard {
    cache: Arc<IdempotencyCache>,
    key: Option<Key>,
}

impl Guard {
    pub fn complete(mut self, stored: Stored) {
        if let Some(key) = self.key.take() {
            let map = self.cache.slots.lock(&key);
            if let Some(slot) = map.get(&key) {
                slot.tx.send_replace(Some(stored));
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut map = self.cache.slots.lock(&key);
            // Dropping the sender wakes the waiters with an error.
            map.remove(&key);
        }
    }
}

impl Default for IdempotencyCache {
    fn default() -> Self {
        Self {
            slots: ShardedMap::new(SHARDS),
        }
    }
}

impl IdempotencyCache {
    /// Claims `(user, key)` for a request whose payload hashes to
    /// `fingerprint`, waiting while another request holds it.
    pub async fn claim(self: &Arc<Self>, user: &str, key: &str, fingerprint: &str) -> Claim {
        let key: Key = (user.to_owned(), key.to_owned());
        loop {
            let mut rx = {
                let mut map = self.slots.lock(&key);
                match map.get(&key) {
                    None => {
                        let (tx, _) = watch::channel(None);
                        map.insert(
                            key.clone(),
                            Slot {
                                fingerprint: fingerprint.to_owned(),
                                tx,
                            },
                        );
                        return Claim::Owner(Guard {
                            cache: Arc::clone(self),
                            key: Some(key),
                        });
                    }
                    Some(slot) if slot.fingerprint != fingerprint => return Claim::Mismatch,
                    Some(slot) => {
                        if let Some(done) = slot.tx.borrow().clone() {
                            return Claim::Replay(done);
                        }
                        slot.tx.subscribe()
                    }
                }
            };
            // Wait for the owner; an error means it gave the key up.
            if let Ok(done) = rx.wait_for(Option::is_some).await
                && let Some(stored) = done.clone()
            {
                return Claim::Replay(stored);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(s: u16) -> Stored {
        Stored {
            status: s,
            body: Bytes::from_static(b"x"),
        }
    }

    #[tokio::test]
    async fn replay_mismatch_and_abandon() {
        let c = Arc::new(IdempotencyCache::default());
        let Claim::Owner(g) = c.claim("u", "k", "p1").await else {
            panic!("first claim owns")
        };
        assert!(matches!(c.claim("u", "k", "p2").await, Claim::Mismatch));
        let c2 = Arc::clone(&c);
        let waiter = tokio::spawn(async move {
            match c2.claim("u", "k", "p1").await {
                Claim::Replay(s) => s.status,
                _ => 0,
            }
        });
        tokio::task::yield_now().await;
        g.complete(stored(201));
        assert_eq!(waiter.await.expect("join"), 201);
        // Another user's same key is independent.
        assert!(matches!(c.claim("v", "k", "p2").await, Claim::Owner(_)));
        // Abandoned keys are forgotten.
        let Claim::Owner(g) = c.claim("u", "k2", "p").await else {
            panic!("owner")
        };
        drop(g);
        assert!(matches!(c.claim("u", "k2", "p").await, Claim::Owner(_)));
    }
}
