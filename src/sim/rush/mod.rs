//! The real Booking Rush API (`[sim] api = "booking-rush"`), as our users'
//! staging runs it (its public API reference,
//! docs/simulator.md): the gateway (rate limiter per client IP and class,
//! JWT check, a timeout), the auth service, browsing, the virtual queue
//! (polling and Server-Sent Events, a release worker), the booking service
//! and its idempotency middleware. It shares the inventory, the capacity
//! model, the faults and the ledger with the guidelines profile.
//!
//! A request goes through: rate limiter (every path but `/__sim/*`) ->
//! routing (unknown: 404 nested `NOT_FOUND`) -> JWT -> the route. Booking
//! routes (reserve, confirm, release, cancel): body -> injected faults that
//! happen in front of the API (resets before commit, HTML 502, empty 503,
//! HTTP-date 429/503) -> idempotency middleware (also for queue join) ->
//! the handler's checks -> the work, on its own task in the worker pool
//! (an injected 500 is the handler's answer, so it is stored) -> the
//! gateway's wait for it (504 after `gateway_timeout`; the work goes on).
//!
//! Choices where the spec is silent (as the loopback double in
//! tests/common/booking_rush.rs makes them):
//! - The stream answers 200 and then `event: error` `{"event":"not_in_queue"}`
//!   for a user neither queued nor holding a pass (polling answers 404).
//! - A used-up or superseded pass is `INVALID_QUEUE_PASS`; pass checks run
//!   unknown -> expired -> other user or event -> used.
//! - Release or confirm of a lapsed reservation is 410 `EXPIRED`; confirm
//!   of a released one and release of a released one are 409
//!   `ALREADY_RELEASED`; release of a confirmed one is 409
//!   `ALREADY_CONFIRMED`.
//! - Every event has one show, `SHOW-<event id>`; a join for an unknown
//!   event is 409 `QUEUE_NOT_OPEN`.
//! - Operations (`X-Stampede-Op`) are keyed by their id alone: stampede's
//!   ids carry the run and the arrival.

mod auth;
mod body;
mod booking;
mod config;
mod idem;
mod limiter;
mod queue;
#[cfg(test)]
mod release_tests;
mod sse;
mod state;

pub use config::{BookingRushConfig, RushBucket, RushRateLimit};
pub use state::{Rush, show_id};

use super::api::{Counted, read_body};
use super::faults::{Answer, Decision};
use super::ledger::{Endpoint, OpKey};
use super::respond::{self as r, ResetConnection, SimBody};
use super::server::App;
use super::world::World;
use body::{RushResp, flat, json, nested};
use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Method, Request};
use hyper::body::Incoming;
use idem::{Claim, Stored, Ticket};
use limiter::{Class, Verdict};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Login,
    Refresh,
    Events,
    ShowZones(&'a str),
    Zone(&'a str),
    Join,
    Position(&'a str),
    Stream(&'a str),
    Reserve,
    Confirm(&'a str),
    Release(&'a str),
    Cancel(&'a str),
}

fn route<'a>(method: &Method, path: &'a str) -> Option<Route<'a>> {
    let rest = path.strip_prefix("/api/v1/")?;
    let mut segs = [""; 5];
    let mut n = 0;
    for seg in rest.split('/') {
        if seg.is_empty() {
            return None;
        }
        *segs.get_mut(n)? = seg;
        n += 1;
    }
    Some(match (method.as_str(), &segs[..n]) {
        ("POST", ["auth", "login"]) => Route::Login,
        ("POST", ["auth", "refresh"]) => Route::Refresh,
        ("GET", ["events"]) => Route::Events,
        ("GET", ["shows", s, "zones"]) => Route::ShowZones(s),
        ("GET", ["zones", z]) => Route::Zone(z),
        ("POST", ["queue", "join"]) => Route::Join,
        ("GET", ["queue", "position", e]) => Route::Position(e),
        ("GET", ["queue", "position", e, "stream"]) => Route::Stream(e),
        ("POST", ["bookings", "reserve"]) => Route::Reserve,
        ("POST", ["bookings", b, "confirm"]) => Route::Confirm(b),
        ("POST", ["bookings", b, "cancel"]) => Route::Cancel(b),
        ("DELETE", ["bookings", b]) => Route::Release(b),
        _ => return None,
    })
}

fn endpoint(route: Option<Route<'_>>) -> Endpoint {
    match route {
        None => Endpoint::Other,
        Some(Route::Login) => Endpoint::Login,
        Some(Route::Refresh) => Endpoint::Refresh,
        Some(Route::Events) => Endpoint::Events,
        Some(Route::ShowZones(_)) => Endpoint::ShowZones,
        Some(Route::Zone(_)) => Endpoint::Zone,
        Some(Route::Join) => Endpoint::QueueJoin,
        Some(Route::Position(_)) => Endpoint::QueuePosition,
        Some(Route::Stream(_)) => Endpoint::QueueStream,
        Some(Route::Reserve) => Endpoint::Reserve,
        Some(Route::Confirm(_)) => Endpoint::Confirm,
        Some(Route::Release(_)) => Endpoint::Release,
        Some(Route::Cancel(_)) => Endpoint::Cancel,
    }
}

/// The gateway's endpoint class: by method and path, unknown paths too.
fn class(method: &Method, path: &str) -> Class {
    if *method == Method::POST {
        if path.starts_with("/api/v1/auth/") {
            return Class::Auth;
        }
        if let Some(id) = path
            .strip_prefix("/api/v1/bookings/")
            .and_then(|r| r.strip_suffix("/confirm"))
            && !id.is_empty()
            && !id.contains('/')
        {
            return Class::Confirm;
        }
    }
    Class::Default
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Leftmost `X-Forwarded-For` (trusted, as the real gateway does), else
/// the peer address.
fn client_ip<'a>(headers: &'a HeaderMap, peer: &'a str) -> &'a str {
    header(headers, "x-forwarded-for")
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(peer)
}

/// One request of the Booking Rush profile. `peer` is the connection's
/// client IP (for the rate limiter when no `X-Forwarded-For` is sent).
pub async fn handle(
    app: Arc<App>,
    peer: Arc<str>,
    req: Request<Incoming>,
) -> Result<RushResp, ResetConnection> {
    let world = app.world();
    let uri = req.uri().clone();
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/__sim/") {
        return Ok(sim_endpoint(&app, &world, req.method(), rest));
    }
    let Some(rush) = world.rush.as_ref() else {
        return Ok(nested(500, "INTERNAL_ERROR", "simulator profile mismatch"));
    };
    let method = req.method().clone();
    let rt = route(&method, path);
    let mut counted = Counted {
        world: Arc::clone(&world),
        ep: endpoint(rt),
        status: None,
    };
    let now = Instant::now();
    let headers = req.headers();
    let idem_key = header(headers, "x-idempotency-key")
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let op = header(headers, "x-stampede-op")
        .map(|o| (o.to_owned(), true))
        .or_else(|| idem_key.as_ref().map(|k| (format!("idem:{k}"), false)));
    let p = Pipeline {
        app: &app,
        world: &world,
        rush,
        now,
        op,
        idem_key,
    };
    if let Some(k) = p.op_key() {
        world.ledger.attempt(&k, now);
    }
    let verdict = rush
        .limiter
        .check(client_ip(headers, &peer), class(&method, path), now);
    let result = match verdict {
        Some(v) if !v.allowed => {
            p.told_to_wait(Duration::from_secs(v.retry_after));
            Ok(rate_limited(v.retry_after))
        }
        _ => match rt {
            None => Ok(nested(
                404,
                "NOT_FOUND",
                "The requested resource was not found",
            )),
            Some(rt) => p.run(rt, req).await,
        },
    };
    let result = result.map(|mut resp| {
        if let Some(v) = verdict {
            limit_headers(resp.headers_mut(), v, rush.clock.unix_ms() / 1000 + 1);
        }
        resp
    });
    match &result {
        Ok(resp) => counted.status = Some(resp.status().as_u16()),
        Err(_) => {
            world.ledger.connection_resets.fetch_add(1, Relaxed);
            counted.status = Some(0);
        }
    }
    result
}

/// `/__sim/ledger` and `/__sim/reset`: the simulator's own endpoints.
fn sim_endpoint(app: &App, world: &Arc<World>, method: &Method, rest: &str) -> RushResp {
    let _counted = Counted {
        world: Arc::clone(world),
        ep: Endpoint::Sim,
        status: Some(200),
    };
    match (method, rest) {
        (&Method::GET, "ledger") => json(
            200,
            Bytes::from(serde_json::to_vec(&world.snapshot()).unwrap_or_default()),
        ),
        (&Method::POST, "reset") => {
            app.reset();
            json(200, body::data(r#"{"reset":true}"#))
        }
        _ => nested(404, "NOT_FOUND", "The requested resource was not found"),
    }
}

/// The gateway's 429, in its words, with an integer `Retry-After`.
fn rate_limited(retry_after: u64) -> RushResp {
    let msg = format!("Rate limit exceeded. Please retry after {retry_after} second(s).");
    let mut resp = nested(429, "TOO_MANY_REQUESTS", &msg);
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

fn limit_headers(h: &mut HeaderMap, v: Verdict, reset_unix: u64) {
    h.insert(r::X_LIMIT.clone(), HeaderValue::from(v.limit));
    h.insert(r::X_REMAINING.clone(), HeaderValue::from(v.remaining));
    h.insert(r::X_RESET.clone(), HeaderValue::from(reset_unix));
    h.insert(r::X_BURST.clone(), HeaderValue::from(v.burst));
}

/// How the gateway's wait for the work ended.
enum Upstream {
    Answered(Stored),
    /// Longer than `gateway_timeout`: 504 (the work goes on).
    TimedOut,
    /// The simulator is shutting down.
    Gone,
}

/// Per-request facts gathered from the headers.
struct Pipeline<'a> {
    app: &'a Arc<App>,
    world: &'a Arc<World>,
    rush: &'a Rush,
    now: Instant,
    op: Option<(String, bool)>,
    idem_key: Option<String>,
}

impl Pipeline<'_> {
    fn op_key(&self) -> Option<OpKey<'_>> {
        self.op.as_ref().map(|(op, explicit)| OpKey {
            user: "",
            op,
            explicit: *explicit,
        })
    }

    fn told_to_wait(&self, wait: Duration) {
        if let Some(k) = self.op_key() {
            self.world.ledger.retry_after_given(&k, self.now + wait);
        }
    }

    fn counters(&self) -> Option<&super::ledger::RushCounters> {
        self.world.ledger.rush.as_ref()
    }

    fn count(&self, f: impl FnOnce(&super::ledger::RushCounters) -> &std::sync::atomic::AtomicU64) {
        if let Some(c) = self.counters() {
            f(c).fetch_add(1, Relaxed);
        }
    }

    /// The subject of the request's access token, or the gateway's 401
    /// (code and message).
    fn authenticate(&self, headers: &HeaderMap) -> Result<String, auth::TokenError> {
        let v = header(headers, "authorization").map(str::trim);
        let Some(v) = v.filter(|v| !v.is_empty()) else {
            return Err(auth::TokenError {
                code: "MISSING_TOKEN",
                message: "Authorization header is required",
            });
        };
        match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => self
                .rush
                .signer
                .verify(token.trim(), "access", self.rush.clock.unix_ms()),
            _ => Err(auth::TokenError {
                code: "INVALID_TOKEN",
                message: "Invalid authorization header format",
            }),
        }
    }

    async fn body(&self, req: Request<Incoming>) -> Result<Bytes, RushResp> {
        let cfg = &self.app.cfg;
        read_body(req, (cfg.max_body_bytes, cfg.connections.body_timeout))
            .await
            .map_err(|rej| nested(rej.0, rej.1, &rej.2))
    }

    async fn run(
        &self,
        rt: Route<'_>,
        req: Request<Incoming>,
    ) -> Result<RushResp, ResetConnection> {
        let public = match rt {
            Route::Login | Route::Refresh => true,
            Route::Events | Route::ShowZones(_) | Route::Zone(_) => {
                self.app.cfg.public_availability
            }
            _ => false,
        };
        let user = if public {
            String::new()
        } else {
            match self.authenticate(req.headers()) {
                Ok(u) => u,
                Err(e) => return Ok(nested(401, e.code, e.message)),
            }
        };
        Ok(match rt {
            Route::Login => match self.body(req).await {
                Ok(b) => self.login(&b),
                Err(resp) => resp,
            },
            Route::Refresh => match self.body(req).await {
                Ok(b) => self.refresh(&b),
                Err(resp) => resp,
            },
            Route::Events | Route::ShowZones(_) | Route::Zone(_) => self.browse(rt).await,
            Route::Position(event) => self.poll(&user, event),
            Route::Stream(event) => self.stream(user, event, req.headers()),
            Route::Join => {
                let path = req.uri().path().to_owned();
                match self.body(req).await {
                    Ok(b) => self.join(&user, &path, &b),
                    Err(resp) => resp,
                }
            }
            Route::Reserve | Route::Confirm(_) | Route::Release(_) | Route::Cancel(_) => {
                return self.booking(rt, user, req).await;
            }
        })
    }

    // ------------------------------------------------------------ auth

    fn token_pair(&self, email: &str) -> RushResp {
        let now = self.rush.clock.unix_ms();
        let cfg = &self.rush.cfg;
        let signer = &self.rush.signer;
        let data = body::Obj::new()
            .str(
                "access_token",
                &signer.mint(email, "access", now, cfg.token_ttl),
            )
            .num("expires_in", cfg.token_ttl.as_secs())
            .str(
                "refresh_token",
                &signer.mint(email, "refresh", now, cfg.refresh_ttl),
            )
            .str("token_type", "Bearer")
            .text();
        json(200, body::data(&data))
    }

    fn login(&self, b: &[u8]) -> RushResp {
        #[derive(serde::Deserialize)]
        struct Login {
            #[serde(default)]
            email: String,
            #[serde(default)]
            password: String,
        }
        let Ok(l) = serde_json::from_slice::<Login>(b) else {
            return nested(400, "INVALID_REQUEST", "Invalid request body");
        };
        if l.email.is_empty() || l.password.is_empty() {
            return nested(400, "INVALID_REQUEST", "email and password are required");
        }
        if l.password != self.rush.cfg.password {
            return nested(401, "INVALID_CREDENTIALS", "Invalid email or password");
        }
        self.count(|c| &c.logins);
        self.token_pair(&l.email)
    }

    fn refresh(&self, b: &[u8]) -> RushResp {
        #[derive(serde::Deserialize)]
        struct Refresh {
            #[serde(default)]
            refresh_token: String,
        }
        let token = serde_json::from_slice::<Refresh>(b)
            .map(|r| r.refresh_token)
            .unwrap_or_default();
        if token.is_empty() {
            return nested(400, "INVALID_REQUEST", "refresh_token is required");
        }
        match (self.rush.signer).verify(&token, "refresh", self.rush.clock.unix_ms()) {
            Ok(email) => {
                self.count(|c| &c.refreshes);
                self.token_pair(&email)
            }
            Err(e) => nested(401, e.code, e.message),
        }
    }

    // ---------------------------------------------------------- browse

    /// Browsing answers: from the read model at once, or through the worker
    /// pool when `capacity.availability_service_time` is set.
    async fn browse(&self, rt: Route<'_>) -> RushResp {
        let base = self.app.cfg.capacity.availability_service_time;
        if base.is_zero() {
            let s = browse_answer(self.world, rt);
            return json(s.status, s.body);
        }
        let what = match rt {
            Route::ShowZones(s) => Browse::Show(s.to_owned()),
            Route::Zone(z) => Browse::Zone(z.to_owned()),
            _ => Browse::Events,
        };
        let decision = self.world.faults.decide(self.now);
        let up = self
            .in_pool(base, decision, move |world| {
                let rt = match &what {
                    Browse::Show(s) => Route::ShowZones(s),
                    Browse::Zone(z) => Route::Zone(z),
                    Browse::Events => Route::Events,
                };
                browse_answer(world, rt)
            })
            .await;
        self.upstream(up)
    }

    // ----------------------------------------------------------- queue

    fn poll(&self, user: &str, event: &str) -> RushResp {
        self.count(|c| &c.polls);
        let now = Instant::now();
        let pos = (self.rush.catalog.event(event))
            .and_then(|e| self.rush.queues.lock(e))
            .and_then(|q| q.position(user, now));
        match pos {
            Some(p) => json(200, Bytes::from(p.json())),
            None => json(404, flat("NOT_IN_QUEUE", "user is not in queue")),
        }
    }

    fn stream(&self, user: String, event: &str, headers: &HeaderMap) -> RushResp {
        self.count(|c| &c.streams);
        let first_id = header(headers, "last-event-id")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(1, |n| n.saturating_add(1));
        let (tx, rx) = mpsc::channel(8);
        let e = self.rush.catalog.event(event);
        self.app.tracker.spawn(sse::stream(
            Arc::clone(self.world),
            user,
            e,
            first_id,
            tx,
            self.app.cancel.clone(),
        ));
        let mut resp = http::Response::new(SimBody::stream(rx));
        let h = resp.headers_mut();
        h.insert(r::SIM_HEADER.clone(), HeaderValue::from_static("1"));
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        );
        resp
    }

    fn join(&self, user: &str, path: &str, b: &[u8]) -> RushResp {
        let ticket = match self.claim("POST", path, user, b) {
            Ok(t) => t,
            Err(s) => return json(s.status, s.body),
        };
        let s = self.join_answer(user, b);
        self.rush.idem.complete(ticket, s.clone(), Instant::now());
        json(s.status, s.body)
    }

    fn join_answer(&self, user: &str, b: &[u8]) -> Stored {
        #[derive(serde::Deserialize)]
        struct Join {
            #[serde(default)]
            event_id: String,
        }
        let err = |status, code, sentence| Stored {
            status,
            body: flat(code, sentence),
        };
        let event = serde_json::from_slice::<Join>(b)
            .map(|j| j.event_id)
            .unwrap_or_default();
        if event.is_empty() {
            return err(400, "INVALID_REQUEST", "invalid request");
        }
        let Some((e, mut q)) =
            (self.rush.catalog.event(&event)).and_then(|e| Some((e, self.rush.queues.lock(e)?)))
        else {
            return err(409, "QUEUE_NOT_OPEN", "queue is not open for this event");
        };
        let now = Instant::now();
        let joined = match q.join(user, self.rush.cfg.queue_capacity, now) {
            Ok(j) => j,
            Err(queue::JoinError::AlreadyInQueue) => {
                return err(409, "ALREADY_IN_QUEUE", "user is already in queue");
            }
            Err(queue::JoinError::QueueFull) => {
                return err(409, "QUEUE_FULL", "queue is full");
            }
        };
        drop(q);
        self.count(|c| &c.joins);
        let at = self.rush.clock.unix_ms_at(now);
        let ttl = u64::try_from(self.rush.cfg.queue_entry_ttl.as_millis()).unwrap_or(u64::MAX);
        Stored {
            status: 201,
            body: body::Obj::new()
                .num("position", joined.position)
                .str("token", &format!("qt_{e}_{}", joined.seq))
                .num("estimated_wait_seconds", joined.position * 3)
                .str("joined_at", &body::rfc3339_ms(at))
                .str("expires_at", &body::rfc3339_ms(at.saturating_add(ttl)))
                .finish(),
        }
    }

    // ---------------------------------------------------- idempotency

    /// The middleware: the key is required; a known key is answered here
    /// (the answer's status and body).
    fn claim(&self, method: &str, path: &str, user: &str, b: &[u8]) -> Result<Ticket, Stored> {
        let refuse = |status, code, message| Stored {
            status,
            body: body::nested_body(code, message),
        };
        let Some(key) = self.idem_key.as_deref() else {
            return Err(refuse(
                400,
                "MISSING_IDEMPOTENCY_KEY",
                "X-Idempotency-Key header is required",
            ));
        };
        let idem = &self.rush.idem;
        let fp = idem.fingerprint(method, path, user, b);
        match idem.claim(key, fp, Instant::now()) {
            Claim::Owner(t) => Ok(t),
            Claim::Replay(s) => {
                self.world.ledger.idempotent_replays.fetch_add(1, Relaxed);
                if let Some(c) = self.counters() {
                    c.replayed(s.status);
                }
                Err(s)
            }
            Claim::InProgress => {
                self.count(|c| &c.in_progress);
                Err(refuse(
                    409,
                    "REQUEST_IN_PROGRESS",
                    "A request with this idempotency key is still being processed",
                ))
            }
            Claim::Mismatch => {
                self.count(|c| &c.key_reused);
                Err(refuse(
                    422,
                    "IDEMPOTENCY_KEY_REUSED",
                    "Idempotency key was already used with a different request",
                ))
            }
        }
    }

    // -------------------------------------------------------- booking

    async fn booking(
        &self,
        rt: Route<'_>,
        user: String,
        req: Request<Incoming>,
    ) -> Result<RushResp, ResetConnection> {
        let path = req.uri().path().to_owned();
        let method = req.method().as_str().to_owned();
        let b = match self.body(req).await {
            Ok(b) => b,
            Err(resp) => return Ok(resp),
        };
        let decision = self.world.faults.decide(self.now);
        if let Some(answer) = self.in_front(decision.answer) {
            return answer;
        }
        let ticket = match self.claim(&method, &path, &user, &b) {
            Ok(t) => t,
            Err(s) => return Ok(json(s.status, s.body)),
        };
        let work = match rt {
            Route::Reserve => match booking::parse_reserve(&b, self.rush.cfg.unit_price) {
                Ok(r) => Work::Reserve(r),
                Err(s) => {
                    self.rush.idem.complete(ticket, s.clone(), Instant::now());
                    return Ok(json(s.status, s.body));
                }
            },
            Route::Confirm(id) => Work::Finish(id.to_owned(), true),
            Route::Release(id) | Route::Cancel(id) => Work::Finish(id.to_owned(), false),
            _ => {
                return Ok(nested(
                    404,
                    "NOT_FOUND",
                    "The requested resource was not found",
                ));
            }
        };
        let op = self.op.clone();
        let fail = decision.answer == Answer::InternalError;
        let base = self.app.cfg.capacity.service_time;
        let up = self
            .in_pool(base, decision, move |world| {
                let s = if fail {
                    Stored {
                        status: 500,
                        body: flat("INTERNAL_ERROR", "internal server error"),
                    }
                } else {
                    let key = op.as_ref().map(|(o, explicit)| OpKey {
                        user: "",
                        op: o,
                        explicit: *explicit,
                    });
                    match &work {
                        Work::Reserve(r) => booking::reserve(world, &user, r, key.as_ref()),
                        Work::Finish(id, confirm) => booking::finish(world, &user, id, *confirm),
                    }
                };
                if let Some(rush) = world.rush.as_ref() {
                    rush.idem.complete(ticket, s.clone(), Instant::now());
                }
                s
            })
            .await;
        let resp = self.upstream(up);
        if decision.answer == Answer::ResetAfterCommit {
            return Err(ResetConnection);
        }
        Ok(resp)
    }

    /// Faults in front of the API: a proxy or load balancer answers, or
    /// the connection drops before the request reaches the middleware.
    fn in_front(&self, answer: Answer) -> Option<Result<RushResp, ResetConnection>> {
        Some(match answer {
            Answer::ResetBeforeCommit => Err(ResetConnection),
            Answer::Html502 => Ok(r::html_502().map(SimBody::Full)),
            Answer::BadGateway => Ok(bad_gateway()),
            Answer::Empty503 => Ok(r::empty_503().map(SimBody::Full)),
            Answer::DateRetry429 | Answer::DateRetry503 => {
                let wait = self.world.faults.http_date_retry_after();
                self.told_to_wait(wait);
                let resp = r::date_retry(answer == Answer::DateRetry429, wait);
                Ok(resp.map(SimBody::Full))
            }
            Answer::Normal | Answer::InternalError | Answer::ResetAfterCommit => return None,
        })
    }

    /// Runs `f` on its own task in the worker pool, so it finishes and
    /// commits even if the client (or the gateway) stops waiting.
    async fn in_pool(
        &self,
        base: Duration,
        decision: Decision,
        f: impl FnOnce(&World) -> Stored + Send + 'static,
    ) -> Upstream {
        let admitted = self.world.overload.admit_waiting();
        let rx = self
            .app
            .spawn_served(self.world, admitted, base, decision, f);
        let deadline = self.now + self.rush.cfg.gateway_timeout;
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(s)) => Upstream::Answered(s),
            Ok(Err(_)) => Upstream::Gone,
            Err(_) => Upstream::TimedOut,
        }
    }

    fn upstream(&self, up: Upstream) -> RushResp {
        match up {
            Upstream::Answered(s) => json(s.status, s.body),
            Upstream::TimedOut => {
                self.count(|c| &c.gateway_timeouts);
                nested(
                    504,
                    "GATEWAY_TIMEOUT",
                    "The upstream service did not respond in time",
                )
            }
            Upstream::Gone => bad_gateway(),
        }
    }
}

/// The gateway's 502 when the service behind it does not answer.
fn bad_gateway() -> RushResp {
    nested(502, "BAD_GATEWAY", "The upstream service is unavailable")
}

enum Work {
    Reserve(booking::ReserveReq),
    Finish(String, bool),
}

enum Browse {
    Events,
    Show(String),
    Zone(String),
}

fn zone_json(world: &World, rush: &Rush, e: usize, z: usize) -> String {
    let ev = &rush.catalog.events[e];
    let (id, seats) = &ev.zones[z];
    body::Obj::new()
        .num(
            "available_seats",
            u64::from(rush.browse_available(&world.store, e, z)),
        )
        .str("id", id)
        .str("name", &format!("Zone {id}"))
        .float("price", rush.cfg.unit_price)
        .str("show_id", &ev.show_id)
        .num("total_seats", u64::from(*seats))
        .text()
}

/// Events, a show's zones or one zone, as `{"data":…,"success":true}`.
fn browse_answer(world: &World, rt: Route<'_>) -> Stored {
    let Some(rush) = world.rush.as_ref() else {
        return Stored {
            status: 500,
            body: body::nested_body("INTERNAL_ERROR", "internal server error"),
        };
    };
    let not_found = |what: &str| Stored {
        status: 404,
        body: body::nested_body("NOT_FOUND", &format!("{what} not found")),
    };
    let data = match rt {
        Route::Events => {
            let items: Vec<String> = (rush.catalog.events.iter())
                .map(|e| {
                    body::Obj::new()
                        .str("id", &e.id)
                        .str("name", &format!("Event {}", e.id))
                        .str("show_id", &e.show_id)
                        .str("status", "on_sale")
                        .text()
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        Route::ShowZones(show) => {
            let Some(e) = rush.catalog.show(show) else {
                return not_found("Show");
            };
            let zones: Vec<String> = (0..rush.catalog.events[e].zones.len())
                .map(|z| zone_json(world, rush, e, z))
                .collect();
            format!("[{}]", zones.join(","))
        }
        Route::Zone(zone) => {
            let Some((e, z)) = rush.catalog.zone(zone) else {
                return not_found("Zone");
            };
            zone_json(world, rush, e, z)
        }
        _ => return not_found("Resource"),
    };
    Stored {
        status: 200,
        body: body::data(&data),
    }
}

/// The release worker, the read model's refresh and the purge of lapsed
/// idempotency keys and full buckets, on the current world (a reset swaps
/// it) until the simulator stops.
pub async fn background(app: Arc<App>) {
    let cfg = app.cfg.booking_rush.clone();
    let mut release = tokio::time::interval(cfg.release_interval);
    release.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let refresh_every = if cfg.availability_refresh.is_zero() {
        Duration::from_secs(3600)
    } else {
        cfg.availability_refresh
    };
    let mut refresh = tokio::time::interval(refresh_every);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut purge = tokio::time::interval(Duration::from_secs(5));
    purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = app.cancel.cancelled() => return,
            _ = release.tick() => release_all(&app.world()),
            _ = refresh.tick() => {
                let world = app.world();
                if let Some(rush) = world.rush.as_ref() {
                    rush.refresh_read_model(&world.store);
                }
            }
            _ = purge.tick() => {
                let world = app.world();
                if let Some(rush) = world.rush.as_ref() {
                    let now = Instant::now();
                    rush.idem.purge(now);
                    rush.limiter.purge(now);
                }
            }
        }
    }
}

/// One run of the release worker over every event's queue.
pub fn release_all(world: &World) {
    let Some(rush) = world.rush.as_ref() else {
        return;
    };
    let now = Instant::now();
    for e in 0..rush.queues.len() {
        let Some(mut q) = rush.queues.lock(e) else {
            continue;
        };
        let ev = &rush.catalog.events[e].id;
        let out = q.release(&rush.cfg, ev, &rush.signer, &rush.clock, now);
        drop(q);
        if let Some(c) = &world.ledger.rush {
            if out.still_waiting > 0 && !out.since_last.is_zero() {
                let zones = &rush.catalog.events[e].zones;
                let on_sale: u64 = (zones.iter())
                    .filter_map(|(z, _)| world.store.available(ev, z))
                    .map(u64::from)
                    .sum();
                c.unsold_while_waiting(on_sale, out.since_last);
            }
            if !out.waits.is_empty() {
                c.passes(out.waits);
            }
            c.passes_stranded.fetch_add(out.stranded, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_classes() {
        let post = Method::POST;
        assert_eq!(route(&post, "/api/v1/auth/login"), Some(Route::Login));
        assert_eq!(
            route(&Method::GET, "/api/v1/queue/position/E1/stream"),
            Some(Route::Stream("E1"))
        );
        assert_eq!(
            route(&Method::DELETE, "/api/v1/bookings/b1"),
            Some(Route::Release("b1"))
        );
        assert_eq!(route(&Method::GET, "/api/v1/auth/login"), None);
        assert_eq!(route(&post, "/bookings/reserve"), None);
        assert_eq!(route(&Method::GET, "/api/v1/zones//x"), None);
        assert_eq!(route(&Method::GET, "/api/v1/a/b/c/d/e/f"), None);
        assert_eq!(class(&post, "/api/v1/auth/whatever"), Class::Auth);
        assert_eq!(class(&post, "/api/v1/bookings/b1/confirm"), Class::Confirm);
        assert_eq!(class(&post, "/api/v1/bookings//confirm"), Class::Default);
        assert_eq!(
            class(&Method::GET, "/api/v1/bookings/b1/confirm"),
            Class::Default
        );
        let mut h = HeaderMap::new();
        assert_eq!(client_ip(&h, "127.0.0.1"), "127.0.0.1");
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static(" 10.0.0.1 , 1.2.3.4"),
        );
        assert_eq!(client_ip(&h, "127.0.0.1"), "10.0.0.1");
    }
}
