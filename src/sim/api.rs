//! Routing and the request pipeline: auth → attempt tracking → rate limit
//! → body → idempotency → faults → admission → work in a spawned task.
//! The work is spawned so it keeps running (and commits) after the client
//! gave up: that is the wasted work that keeps an overloaded system down.

use super::faults::{Answer, Decision};
use super::idempotency::{Claim, Guard};
use super::ledger::{Endpoint, OpKey};
use super::respond::{self as r, ResetConnection, Resp};
use super::server::App;
use super::work::Work;
use super::world::World;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::time::Instant;

enum Route<'a> {
    Availability(&'a str, &'a str),
    Reserve,
    Confirm(&'a str),
    Release(&'a str),
    Write(&'a str),
    Ledger,
    Reset,
}

fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, (Endpoint, u16)> {
    // A fixed array instead of a Vec: no allocation on the hot path.
    let mut segs = [""; 5];
    let mut n = 0;
    for seg in path.trim_start_matches('/').split('/') {
        let slot = segs.get_mut(n).ok_or((Endpoint::Other, 404))?;
        *slot = seg;
        n += 1;
    }
    let (route, allowed) = match &segs[..n] {
        ["events", e, "zones", z, "availability"] => (Route::Availability(e, z), Method::GET),
        ["bookings", "reserve"] => (Route::Reserve, Method::POST),
        ["bookings", id, "confirm"] => (Route::Confirm(id), Method::POST),
        ["bookings", id, "release"] => (Route::Release(id), Method::POST),
        ["resources", id, "write"] => (Route::Write(id), Method::POST),
        ["__sim", "ledger"] => (Route::Ledger, Method::GET),
        ["__sim", "reset"] => (Route::Reset, Method::POST),
        _ => return Err((Endpoint::Other, 404)),
    };
    if *method == allowed {
        Ok(route)
    } else {
        Err((endpoint(&route), 405))
    }
}

fn endpoint(route: &Route<'_>) -> Endpoint {
    match route {
        Route::Availability(..) => Endpoint::Availability,
        Route::Reserve => Endpoint::Reserve,
        Route::Confirm(_) => Endpoint::Confirm,
        Route::Release(_) => Endpoint::Release,
        Route::Write(_) => Endpoint::Write,
        Route::Ledger | Route::Reset => Endpoint::Sim,
    }
}

/// Counts the answer on drop, so a request whose client vanished still
/// shows up (as status 499, nginx's "client closed request"). Both API
/// profiles count their requests with it.
pub(super) struct Counted {
    pub(super) world: Arc<World>,
    pub(super) ep: Endpoint,
    pub(super) status: Option<u16>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.world
            .ledger
            .count_request(self.ep, self.status.unwrap_or(499));
    }
}

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Resp, ResetConnection> {
    let world = app.world();
    // Uri clones share its bytes; the route borrows the clone, not `req`.
    let uri = req.uri().clone();
    let (ep, route) = match route(req.method(), uri.path()) {
        Ok(rt) => (endpoint(&rt), Ok(rt)),
        Err((ep, status)) => (ep, Err(status)),
    };
    let mut counted = Counted {
        world: Arc::clone(&world),
        ep,
        status: None,
    };
    let result = match route {
        Err(405) => Ok(r::error(
            405,
            "METHOD_NOT_ALLOWED",
            "method not allowed here",
        )),
        Err(_) => Ok(r::error(404, "NOT_FOUND", "no such route")),
        Ok(Route::Ledger) => Ok(r::json(
            200,
            Bytes::from(serde_json::to_vec(&world.snapshot()).unwrap_or_default()),
        )),
        Ok(Route::Reset) => {
            app.reset();
            Ok(r::json(
                200,
                r::ok_body(serde_json::json!({ "reset": true })),
            ))
        }
        Ok(rt) => Pipeline::new(&app, &world, &req).run(rt, req).await,
    };
    match &result {
        Ok(resp) => counted.status = Some(resp.status().as_u16()),
        Err(_) => {
            world.ledger.connection_resets.fetch_add(1, Relaxed);
            counted.status = Some(0);
        }
    }
    result
}

/// Per-request facts gathered from the headers.
struct Pipeline<'a> {
    app: &'a Arc<App>,
    world: &'a Arc<World>,
    user: Result<Option<String>, ()>,
    op: Option<(String, bool)>,
    idem_key: Option<String>,
    now: Instant,
}

fn header<'h>(req: &'h Request<Incoming>, name: &str) -> Option<&'h str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

impl<'a> Pipeline<'a> {
    fn new(app: &'a Arc<App>, world: &'a Arc<World>, req: &Request<Incoming>) -> Self {
        // The bearer token *is* the user id: no sessions to simulate, and
        // load generators can mint thousands of users for free.
        let user = match header(req, "authorization") {
            None => Ok(None),
            Some(v) => match v.strip_prefix("Bearer ").map(str::trim) {
                Some(t) if !t.is_empty() && t.len() <= 256 => Ok(Some(t.to_owned())),
                _ => Err(()),
            },
        };
        let idem_key = header(req, "idempotency-key").map(str::to_owned);
        let op = header(req, "x-stampede-op")
            .map(|o| (o.to_owned(), true))
            .or_else(|| idem_key.as_ref().map(|k| (format!("idem:{k}"), false)));
        Self {
            app,
            world,
            user,
            op,
            idem_key,
            now: Instant::now(),
        }
    }

    fn op_key(&self) -> Option<OpKey<'_>> {
        let user = self.user.as_ref().ok().and_then(|u| u.as_deref());
        self.op.as_ref().map(|(op, explicit)| OpKey {
            user: user.unwrap_or(""),
            op,
            explicit: *explicit,
        })
    }

    /// Remembers that this op was told to wait, for `early_retries`.
    fn told_to_wait(&self, wait: Duration) {
        if let Some(k) = self.op_key() {
            self.world.ledger.retry_after_given(&k, self.now + wait);
        }
    }

    async fn run(self, rt: Route<'_>, req: Request<Incoming>) -> Result<Resp, ResetConnection> {
        if let Some(k) = self.op_key() {
            self.world.ledger.attempt(&k, self.now);
        }
        let public = matches!(rt, Route::Availability(..)) && self.app.cfg.public_availability;
        let user = match &self.user {
            Ok(Some(u)) => Some(u.clone()),
            Ok(None) if public => None,
            _ => {
                return Ok(r::error(
                    401,
                    "UNAUTHORIZED",
                    "missing or invalid bearer token",
                ));
            }
        };
        let limit = match self.world.limiters.check(user.as_deref()) {
            Ok(info) => info,
            Err(d) => {
                self.told_to_wait(Duration::from_secs(d.retry_after_secs));
                let msg = format!(
                    "Rate limit exceeded. Please retry after {} second(s).",
                    d.retry_after_secs
                );
                let resp = r::error(429, "TOO_MANY_REQUESTS", &msg);
                let resp = r::with_retry_after_secs(resp, d.retry_after_secs);
                return Ok(r::with_limit_headers(resp, Some(d.info)));
            }
        };
        let resp = match (rt, user) {
            (Route::Availability(e, z), _) => self.availability(e, z).await,
            (Route::Write(id), Some(_)) => self.write(id).await,
            (rt, Some(user)) => self.booking(rt, user, req).await?,
            (_, None) => r::error(401, "UNAUTHORIZED", "missing bearer token"),
        };
        Ok(r::with_limit_headers(resp, limit))
    }

    async fn availability(&self, e: &str, z: &str) -> Resp {
        let cap = &self.app.cfg.capacity;
        if cap.availability_service_time.is_zero() {
            return match self.world.store.available(e, z) {
                Some(n) => r::availability(n),
                None => r::error(404, "NOT_FOUND", "event or zone not found"),
            };
        }
        let Some(admitted) = self.world.overload.admit() else {
            return self.unavailable();
        };
        let base = cap.availability_service_time;
        let work = Work::Availability(e.to_owned(), z.to_owned());
        self.spawn_work(
            work,
            admitted,
            None,
            base,
            self.world.faults.decide(self.now),
        )
        .await
    }

    /// A compare-and-set write (`super::contend`): read the version, work
    /// for the service time, commit unless another write committed since.
    async fn write(&self, resource: &str) -> Resp {
        let contention = &self.world.contention;
        let seen = contention.read(resource);
        let t = self.app.cfg.capacity.service_time;
        if !t.is_zero() {
            tokio::time::sleep(t).await;
        }
        match contention.commit(resource, seen) {
            Some(version) => r::json(
                200,
                r::ok_body(serde_json::json!({ "resource": resource, "version": version })),
            ),
            None => r::error(
                409,
                "CONFLICT",
                "the resource changed since this write read it; read it again and retry",
            ),
        }
    }

    fn unavailable(&self) -> Resp {
        let resp = r::error(503, "SERVICE_UNAVAILABLE", "server overloaded, retry later");
        let d = self.app.cfg.capacity.retry_after_503;
        if d.is_zero() {
            return resp;
        }
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        self.told_to_wait(Duration::from_secs(secs));
        r::with_retry_after_secs(resp, secs)
    }

    async fn booking(
        &self,
        rt: Route<'_>,
        user: String,
        req: Request<Incoming>,
    ) -> Result<Resp, ResetConnection> {
        let limits = (
            self.app.cfg.max_body_bytes,
            self.app.cfg.connections.body_timeout,
        );
        let body = match read_body(req, limits).await {
            Ok(b) => b,
            Err(rej) => return Ok(rej.into_resp()),
        };
        let (work, fingerprint) = match rt {
            Route::Reserve => match parse_reserve(&body) {
                Ok((e, z, q)) => {
                    let fp = format!("reserve|{e}|{z}|{q}");
                    (Work::Reserve(user.clone(), e, z, q), fp)
                }
                Err(rej) => return Ok(rej.into_resp()),
            },
            Route::Confirm(id) => (
                Work::Finish(user.clone(), id.to_owned(), true),
                format!("confirm|{id}"),
            ),
            Route::Release(id) => (
                Work::Finish(user.clone(), id.to_owned(), false),
                format!("release|{id}"),
            ),
            _ => return Ok(r::error(404, "NOT_FOUND", "no such route")),
        };
        let guard = match self.claim_key(&user, &fingerprint).await {
            Ok(g) => g,
            Err(resp) => return Ok(resp),
        };
        let decision = self.world.faults.decide(self.now);
        if let Some(answer) = self.fault_answer(decision.answer) {
            return answer;
        }
        let Some(admitted) = self.world.overload.admit() else {
            return Ok(self.unavailable());
        };
        let base = self.app.cfg.capacity.service_time;
        let resp = self.spawn_work(work, admitted, guard, base, decision).await;
        if decision.answer == Answer::ResetAfterCommit {
            return Err(ResetConnection);
        }
        Ok(resp)
    }

    /// The request's `Idempotency-Key` claimed for `fingerprint`: the guard
    /// of its first request, or the answer a replay or a misuse gets.
    async fn claim_key(&self, user: &str, fingerprint: &str) -> Result<Option<Guard>, Resp> {
        let Some(k) = self.idem_key.as_deref() else {
            return Ok(None);
        };
        if k.is_empty() || k.len() > 255 {
            return Err(r::error(
                400,
                "INVALID_REQUEST",
                "Idempotency-Key must be 1 to 255 characters",
            ));
        }
        match self.world.idem.claim(user, k, fingerprint).await {
            Claim::Owner(g) => Ok(Some(g)),
            Claim::Replay(s) => {
                self.world.ledger.idempotent_replays.fetch_add(1, Relaxed);
                Err(r::json(s.status, s.body))
            }
            Claim::Mismatch => Err(r::error(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used with a different request",
            )),
        }
    }

    /// The answer an injected fault gives instead of the work, if any.
    fn fault_answer(&self, answer: Answer) -> Option<Result<Resp, ResetConnection>> {
        Some(Ok(match answer {
            Answer::InternalError => r::error(500, "INTERNAL_ERROR", "injected internal error"),
            Answer::Html502 => r::html_502(),
            Answer::BadGateway => r::error(502, "BAD_GATEWAY", "upstream unavailable"),
            Answer::Empty503 => r::empty_503(),
            Answer::DateRetry429 | Answer::DateRetry503 => {
                let wait = self.world.faults.http_date_retry_after();
                self.told_to_wait(wait);
                r::date_retry(answer == Answer::DateRetry429, wait)
            }
            Answer::ResetBeforeCommit => return Some(Err(ResetConnection)),
            Answer::Normal | Answer::ResetAfterCommit => return None,
        }))
    }

    /// Runs the work in its own task so that it finishes, and commits,
    /// even if this future is dropped because the client went away.
    async fn spawn_work(
        &self,
        work: Work,
        admitted: super::overload::Admitted,
        guard: Option<Guard>,
        base: Duration,
        decision: Decision,
    ) -> Resp {
        let op = self.op.clone();
        let rx = self
            .app
            .spawn_served(self.world, admitted, base, decision, move |world| {
                let op_key = op.as_ref().map(|(o, explicit)| (o.as_str(), *explicit));
                let stored = work.execute(world, op_key);
                if let Some(g) = guard {
                    g.complete(stored.clone());
                }
                stored
            });
        match rx.await {
            Ok(s) => r::json(s.status, s.body),
            Err(_) => r::error(503, "SERVICE_UNAVAILABLE", "simulator shutting down"),
        }
    }
}

/// A rejected request, kept small so `Result`s stay cheap to move.
pub(super) struct Reject(pub u16, pub &'static str, pub String);

impl Reject {
    fn into_resp(self) -> Resp {
        r::error(self.0, self.1, &self.2)
    }
}

/// The body, at most `max` bytes, all of it within `timeout` (a client that
/// drips its body gets 408 and hyper closes the half-read connection).
pub(super) async fn read_body(
    req: Request<Incoming>,
    (max, timeout): (usize, std::time::Duration),
) -> Result<Bytes, Reject> {
    let too_large = || {
        Reject(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("request body exceeds {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(timeout, Limited::new(req.into_body(), max).collect());
    let Ok(read) = read.await else {
        return Err(Reject(
            408,
            "REQUEST_TIMEOUT",
            format!(
                "request body not received within {}",
                humantime::format_duration(timeout)
            ),
        ));
    };
    match read {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(Reject(
            400,
            "INVALID_REQUEST",
            "could not read request body".into(),
        )),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReserveBody {
    event_id: String,
    zone_id: String,
    quantity: i64,
}

fn parse_reserve(body: &[u8]) -> Result<(String, String, u32), Reject> {
    let b: ReserveBody = serde_json::from_slice(body).map_err(|e| {
        Reject(
            400,
            "INVALID_REQUEST",
            format!("body must be {{\"eventId\",\"zoneId\",\"quantity\"}}: {e}"),
        )
    })?;
    if b.quantity <= 0 {
        return Err(Reject(
            400,
            "INVALID_QUANTITY",
            "quantity must be > 0".into(),
        ));
    }
    let q = u32::try_from(b.quantity).unwrap_or(u32::MAX);
    Ok((b.event_id, b.zone_id, q))
}
