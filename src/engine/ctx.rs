//! What every simulated user of a round shares, read-only.

use crate::client::HttpClient;
use crate::metrics::Live;
use crate::policy::{BudgetState, LatencyEstimate, Limits, RetryPolicy, Scope, ThrottleState};
use crate::scenario::{GeneratedTokens, Journey, Secret, UsersPlan};
use http::HeaderValue;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub struct FleetCtx {
    pub policy: RetryPolicy,
    /// The policy's retry budget when its scope is the fleet or the
    /// process (a user's own lives with the user): only touched on answers
    /// and retries, never while waiting.
    pub budget: Option<Arc<BudgetState>>,
    /// The policy's throttle, on the same terms.
    pub throttle: Option<Arc<ThrottleState>>,
    /// A hedging policy's estimate of each step's attempt latency (empty
    /// without hedging), from which `hedge.after = "pNN"` is read.
    pub hedge_latency: Box<[LatencyEstimate]>,
    /// Rate-limit pacing of `fleet` or `process` scope: until when every
    /// request waits, in µs since the round began (0: none). A user's own
    /// lives with the user.
    pub paced_until: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// Shared with the live views (progress, Prometheus), which keep it past the round.
    pub live: Arc<Live>,
}

/// A process's budgets and throttles of `process` scope, by policy name:
/// every fleet of the round that runs the policy shares them.
#[derive(Default)]
pub struct ProcessLimits {
    budgets: HashMap<String, Arc<BudgetState>>,
    throttles: HashMap<String, Arc<ThrottleState>>,
    paces: HashMap<String, Arc<std::sync::atomic::AtomicU64>>,
}

impl FleetCtx {
    /// A fleet's context: its budget and throttle made where their scope
    /// puts them (none here for `user`), a fleet's split over `shards`.
    pub fn new(
        policy: RetryPolicy,
        live: Arc<Live>,
        shards: u32,
        process: &mut ProcessLimits,
    ) -> Self {
        let budget = policy.budget.and_then(|b| match b.scope {
            Scope::User => None,
            Scope::Fleet => Some(Arc::new(BudgetState::new(&b, b.scope.share(shards)))),
            Scope::Process => Some(
                process
                    .budgets
                    .entry(policy.name.clone())
                    .or_insert_with(|| Arc::new(BudgetState::new(&b, 1.0)))
                    .clone(),
            ),
        });
        let throttle = policy.throttle.and_then(|t| match t.scope {
            Scope::User => None,
            Scope::Fleet => Some(Arc::new(ThrottleState::new(&t, Duration::ZERO))),
            Scope::Process => Some(
                process
                    .throttles
                    .entry(policy.name.clone())
                    .or_insert_with(|| Arc::new(ThrottleState::new(&t, Duration::ZERO)))
                    .clone(),
            ),
        });
        let paced_until = policy.rate_limit_pacing.and_then(|r| match r.scope {
            Scope::User => None,
            Scope::Fleet => Some(Arc::default()),
            Scope::Process => Some(
                process
                    .paces
                    .entry(policy.name.clone())
                    .or_default()
                    .clone(),
            ),
        });
        let hedge_latency = match policy.hedge {
            Some(_) => (0..live.steps.len())
                .map(|_| LatencyEstimate::default())
                .collect(),
            None => Box::default(),
        };
        Self {
            policy,
            budget,
            throttle,
            hedge_latency,
            paced_until,
            live,
        }
    }
}

/// A simulated user's own budget and throttle (scope `user`), boxed so a
/// user without them carries one pointer.
pub struct OwnLimits {
    budget: Option<BudgetState>,
    throttle: Option<ThrottleState>,
}

impl OwnLimits {
    /// `None` unless the policy keeps something per user; `elapsed`: time
    /// since the round began.
    pub fn for_user(policy: &RetryPolicy, elapsed: Duration) -> Option<Box<Self>> {
        let budget = policy
            .budget
            .filter(|b| b.scope == Scope::User)
            .map(|b| BudgetState::new(&b, 1.0));
        let throttle = policy
            .throttle
            .filter(|t| t.scope == Scope::User)
            .map(|t| ThrottleState::new(&t, elapsed));
        (budget.is_some() || throttle.is_some()).then(|| Box::new(Self { budget, throttle }))
    }
}

/// The budget and throttle a user's attempt answers to: its own, else its
/// fleet's or process's.
pub fn limits<'a>(own: Option<&'a OwnLimits>, fleet: &'a FleetCtx) -> Limits<'a> {
    Limits {
        budget: own
            .and_then(|o| o.budget.as_ref())
            .or(fleet.budget.as_deref()),
        throttle: own
            .and_then(|o| o.throttle.as_ref())
            .or(fleet.throttle.as_deref()),
    }
}

/// Who arrival `k` is: ids and Authorization values built once per round.
pub enum Identities {
    Generated {
        prefix: String,
        count: u64,
        /// One token for everybody (from the environment).
        shared: Option<HeaderValue>,
        /// Invent `tok-<id>` bearer tokens (only a Booking Rush simulator
        /// knows them; a real API never gets one unless the scenario asks).
        invent: bool,
    },
    Listed(Vec<ListedUser>),
}

/// One user of a users CSV: its id, its bearer header (when the CSV has a
/// `token` column) and every column's value, for `${column}` variables.
pub struct ListedUser {
    pub id: String,
    pub auth: Option<HeaderValue>,
    pub values: Vec<Secret>,
}

fn bearer(token: &str) -> HeaderValue {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token"));
    v.set_sensitive(true);
    v
}

impl Identities {
    /// `simulator`: the target is the embedded simulator or answered like
    /// `stampede serve` (see `client::probe`).
    pub fn new(users: &UsersPlan, shared: Option<&Secret>, simulator: bool) -> Self {
        match users {
            UsersPlan::Generated {
                count,
                prefix,
                tokens,
            } => Self::Generated {
                prefix: prefix.clone(),
                count: *count,
                shared: shared.map(|s| bearer(s.expose())),
                invent: match tokens {
                    GeneratedTokens::Always => true,
                    GeneratedTokens::Never => false,
                    GeneratedTokens::IfSimulator => simulator,
                },
            },
            UsersPlan::Listed {
                rows,
                id_col,
                token_col,
                ..
            } => Self::Listed(
                rows.iter()
                    .map(|r| ListedUser {
                        id: r[*id_col].expose().to_string(),
                        auth: token_col
                            .map(|t| bearer(r[t].expose()))
                            .or_else(|| shared.map(|s| bearer(s.expose()))),
                        values: r.clone(),
                    })
                    .collect(),
            ),
        }
    }

    /// Every secret value a trace must not print (tokens, CSV cells other
    /// than user ids).
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Self::Generated { .. } => Vec::new(),
            Self::Listed(users) => users
                .iter()
                .flat_map(|u| u.values.iter())
                .map(|v| v.expose().to_string())
                .filter(|v| v.len() >= 3)
                .collect(),
        }
    }
}

pub struct RoundCtx {
    /// The run's secrets: every user registers what it captures and the
    /// cookies it is given ([`super::run_secrets`]).
    pub secrets: Arc<super::run_secrets::RunSecrets>,
    pub client: HttpClient,
    pub journey: Journey,
    /// `journey.quantity` as text, rendered into every body.
    pub quantity: String,
    pub fleets: Vec<FleetCtx>,
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
    /// Per run, never from the seed: mixed into `${uuid}` and every other
    /// generated value, so two runs of one file send different keys (a real
    /// idempotency layer replays a key's answer for minutes).
    pub nonce: u64,
    pub seed: u64,
    /// JSON pointers to an error answer's code, tried in order.
    pub error_code: Vec<String>,
    /// The header an idempotent step's key goes in.
    pub idempotency_header: http::HeaderName,
    /// Journeys per user (closed model; 1 otherwise).
    pub iterations: u64,
    /// A closed-model user's wait between journeys.
    pub think_time: crate::scenario::Pause,
}

impl RoundCtx {
    /// Arrival `k`'s user id and Authorization value (none when the
    /// scenario gives no credentials and tokens may not be invented).
    pub fn identity(&self, k: u64) -> (String, Option<HeaderValue>) {
        match &self.identities {
            Identities::Generated {
                prefix,
                count,
                shared,
                invent,
            } => {
                let id = format!("{prefix}{}", k % count.max(&1));
                let auth = match shared {
                    Some(v) => Some(v.clone()),
                    None if *invent => Some(bearer(&format!("tok-{id}"))),
                    None => None,
                };
                (id, auth)
            }
            Identities::Listed(users) => {
                let u = &users[(k % users.len() as u64) as usize];
                (u.id.clone(), u.auth.clone())
            }
        }
    }

    /// `text` from the target with every credential arrival `k` sends (its
    /// bearer token, the shared one, every value of its users CSV row)
    /// replaced by `***`: a target that echoes the Authorization header or a
    /// password back in an error code must not put it into a report.
    pub fn scrub<'s>(&self, k: u64, text: &'s str) -> std::borrow::Cow<'s, str> {
        let mut secrets = Vec::new();
        self.secrets_of(k, &mut secrets);
        super::scrub::scrub(text, &secrets)
    }

    /// Every secret arrival `k` holds from the run's sources: its bearer
    /// token (its own or the shared one) and every value of its users CSV
    /// row. (What the journey captured and the cookies it was given are
    /// the user's, added where they are known.)
    pub fn secrets_of(&self, k: u64, out: &mut Vec<String>) {
        let (_, auth) = self.identity(k);
        if let Some(t) = auth
            .as_ref()
            .and_then(|a| a.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|t| !t.is_empty())
        {
            out.push(t.to_string());
        }
        out.extend(self.user_values(k).iter().map(|v| v.expose().to_string()));
    }

    /// Arrival `k`'s users CSV row, when users come from one.
    pub fn user_values(&self, k: u64) -> &[Secret] {
        match &self.identities {
            Identities::Generated { .. } => &[],
            Identities::Listed(users) => &users[(k % users.len() as u64) as usize].values,
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled() || self.cancel.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{BudgetKind, Class, QuotaCosts, preset};

    fn with_scope(name: &str, scope: Scope) -> RetryPolicy {
        let mut p = preset("aws-adaptive").unwrap();
        p.name = name.to_string();
        if let Some(b) = p.budget.as_mut() {
            b.scope = scope;
        }
        if let Some(t) = p.throttle.as_mut() {
            t.scope = scope;
        }
        p
    }

    fn quota_left(b: &BudgetState) -> u32 {
        match b {
            BudgetState::Quota(q, _) => q.available(),
            other => panic!("{other:?}"),
        }
    }

    /// Fleets of a round that run one policy share its process-scoped
    /// budget and throttle; each fleet has its own otherwise, a fleet's
    /// split over the shards; a user's own are made with the user.
    #[test]
    fn limits_live_where_their_scope_says() {
        let live = || Arc::new(Live::new(1));
        let mut process = ProcessLimits::default();
        let a = FleetCtx::new(with_scope("p", Scope::Process), live(), 4, &mut process);
        let b = FleetCtx::new(with_scope("p", Scope::Process), live(), 4, &mut process);
        let other = FleetCtx::new(with_scope("q", Scope::Process), live(), 4, &mut process);
        let (ab, bb) = (a.budget.as_ref().unwrap(), b.budget.as_ref().unwrap());
        assert!(Arc::ptr_eq(ab, bb));
        assert!(Arc::ptr_eq(
            a.throttle.as_ref().unwrap(),
            b.throttle.as_ref().unwrap()
        ));
        assert!(!Arc::ptr_eq(ab, other.budget.as_ref().unwrap()));
        assert_eq!(quota_left(ab), 500, "a process keeps the whole quota");

        let f1 = FleetCtx::new(with_scope("f", Scope::Fleet), live(), 4, &mut process);
        let f2 = FleetCtx::new(with_scope("f", Scope::Fleet), live(), 4, &mut process);
        let (b1, b2) = (f1.budget.as_ref().unwrap(), f2.budget.as_ref().unwrap());
        assert!(!Arc::ptr_eq(b1, b2));
        assert_eq!(quota_left(b1), 125, "a quarter of 500 in each of 4 shards");
        assert!(b1.try_retry(Class::ServerError, Duration::ZERO).is_some());
        assert_eq!(quota_left(b1), 111);
        assert_eq!(quota_left(b2), 125);

        let user = with_scope("u", Scope::User);
        let u = FleetCtx::new(user.clone(), live(), 4, &mut process);
        assert!(u.budget.is_none() && u.throttle.is_none());
        let own = OwnLimits::for_user(&user, Duration::ZERO).expect("a user's own");
        let l = limits(Some(&own), &u);
        assert!(matches!(
            l.budget,
            Some(BudgetState::Quota(_, c)) if *c == QuotaCosts::STANDARD
        ));
        assert!(l.throttle.is_some());
        // A policy that keeps nothing per user boxes nothing.
        assert!(OwnLimits::for_user(&preset("compliant").unwrap(), Duration::ZERO).is_none());
        assert!(matches!(
            user.budget.map(|b| b.kind),
            Some(BudgetKind::RetryQuota(_))
        ));
    }
}
