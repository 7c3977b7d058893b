//! What every simulated user of a round shares, read-only.

use crate::client::HttpClient;
use crate::metrics::Live;
use crate::policy::{RetryBudget, RetryPolicy};
use crate::scenario::{Journey, Secret, UsersPlan};
use http::HeaderValue;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub struct CohortCtx {
    pub policy: RetryPolicy,
    /// Shared by the whole cohort, like a client library's retry throttle;
    /// only touched on answers, never while waiting (atomic, no lock).
    pub budget: Option<RetryBudget>,
    /// Shared with the live views (progress, Prometheus), which keep it past the round.
    pub live: std::sync::Arc<Live>,
}

/// Who arrival `k` is: ids and Authorization values built once per round.
pub enum Identities {
    Generated {
        prefix: String,
        count: u64,
        /// One token for everybody (from the environment).
        shared: Option<HeaderValue>,
    },
    Listed(Vec<(String, HeaderValue)>),
}

fn bearer(token: &str) -> HeaderValue {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token"));
    v.set_sensitive(true);
    v
}

impl Identities {
    pub fn new(users: &UsersPlan, shared: Option<&Secret>) -> Self {
        match users {
            UsersPlan::Generated { count, prefix } => Self::Generated {
                prefix: prefix.clone(),
                count: *count,
                shared: shared.map(|s| bearer(s.expose())),
            },
            UsersPlan::Listed { users, .. } => Self::Listed(
                users
                    .iter()
                    .map(|(id, tok)| (id.clone(), bearer(tok.expose())))
                    .collect(),
            ),
        }
    }
}

pub struct RoundCtx {
    pub client: HttpClient,
    pub journey: Journey,
    /// `journey.quantity` as text, rendered into every body.
    pub quantity: String,
    pub cohorts: Vec<CohortCtx>,
    pub identities: Identities,
    pub start: Instant,
    pub wall_start: SystemTime,
    /// Hard stop: journeys still running end as cancelled.
    pub cancel: CancellationToken,
    /// Soft stop: no new arrivals or iterations.
    pub stop: CancellationToken,
    pub timeout_override: Option<Duration>,
    /// Unique per round, so op ids and idempotency keys never collide across rounds.
    pub run_tag: String,
    pub seed: u64,
}

impl RoundCtx {
    pub fn identity(&self, k: u64) -> (String, HeaderValue) {
        match &self.identities {
            Identities::Generated {
                prefix,
                count,
                shared,
            } => {
                let id = format!("{prefix}{}", k % count.max(&1));
                let auth = match shared {
                    Some(v) => v.clone(),
                    None => bearer(&format!("tok-{id}")),
                };
                (id, auth)
            }
            Identities::Listed(users) => {
                let (id, auth) = &users[(k % users.len() as u64) as usize];
                (id.clone(), auth.clone())
            }
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled() || self.cancel.is_cancelled()
    }
}
