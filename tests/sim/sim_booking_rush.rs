//! The embedded simulator's Booking Rush profile (`[sim] api =
//! "booking-rush"`) checked against the spec
//! (`/work/shared/spec/booking-rush-api.md`), row by row as
//! tests/sim/booking_rush_double.rs checks the loopback double: per row the
//! route, the request, the status, the envelope (nested gateway/idempotency
//! errors vs the booking service's flat ones vs success bodies) and the
//! headers; then the simulator's ledger against what the test sent.

use crate::common;

use base64::Engine as _;
use bytes::Bytes;
use common::{Reply, TempDir};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use stampede::sim::{EventConfig, Ledger, RushBucket, SimConfig, SimServer, ZoneConfig};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

const LOGIN: &str = "/api/v1/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const EVENTS: &str = "/api/v1/events";
const JOIN: &str = "/api/v1/queue/join";
const POSITION: &str = "/api/v1/queue/position/EVT1";
const STREAM: &str = "/api/v1/queue/position/EVT1/stream";
const RESERVE: &str = "/api/v1/bookings/reserve";
const SHOW: &str = "SHOW-EVT1";
const GOOD_LOGIN: &str = r#"{"email":"a@x.io","password":"correct-horse"}"#;
const JOIN_FIELDS: &[&str] = &[
    "position",
    "token",
    "estimated_wait_seconds",
    "joined_at",
    "expires_at",
];
const POSITION_FIELDS: &[&str] = &[
    "position",
    "total_in_queue",
    "estimated_wait_seconds",
    "is_ready",
];
const RESERVED_FIELDS: &[&str] = &["booking_id", "status", "expires_at", "total_price"];
const CONFIRMED_FIELDS: &[&str] = &["booking_id", "status", "confirmed_at", "confirmation_code"];
const CANCELLED_FIELDS: &[&str] = &["booking_id", "status", "message"];

// ------------------------------------------------------------- setup

/// The Booking Rush profile with one event `EVT1` (show `SHOW-EVT1`) and
/// zone `Z1`, no rate limiter, no contention, instant service and a fast
/// release worker, so functional rows only see the rule under test.
fn quiet() -> SimConfig {
    let mut cfg = SimConfig::booking_rush();
    cfg.events = vec![EventConfig {
        id: "EVT1".into(),
        zones: vec![ZoneConfig {
            id: "Z1".into(),
            seats: 100,
        }],
    }];
    cfg.capacity.service_time = Duration::ZERO;
    cfg.capacity.latency_per_in_flight = Duration::ZERO;
    cfg.capacity.workers = 64;
    cfg.booking_rush.rate_limit.enabled = false;
    cfg.booking_rush.release_interval = Duration::from_millis(20);
    cfg.booking_rush.availability_refresh = Duration::ZERO;
    cfg.connections.idle_timeout = stampede::sim::MAX_CONNECTION_TIMEOUT;
    cfg
}

fn seats(cfg: &mut SimConfig, n: u32) {
    cfg.events[0].zones[0].seats = n;
}

async fn start(cfg: SimConfig) -> SimServer {
    SimServer::start(cfg, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("simulator starts")
}

#[derive(Clone)]
struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    fn new(s: &SimServer) -> Self {
        Self::build(s, false)
    }

    fn h2(s: &SimServer) -> Self {
        Self::build(s, true)
    }

    fn build(s: &SimServer, h2: bool) -> Self {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(h2)
            .build(HttpConnector::new());
        Self {
            base: format!("http://{}", s.addr()),
            client,
        }
    }

    /// One request, the whole answer (a stream until the server closes it).
    async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, hyper_util::client::legacy::Error> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("request");
        let fut = async {
            let resp = self.client.request(req).await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            Ok(Reply {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .unwrap_or_else(|_| panic!("{path}: no complete answer within 30 s"))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        self.try_send(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

async fn login(http: &Http, email: &str) -> String {
    let r = http
        .send(
            Method::POST,
            LOGIN,
            &[],
            &json!({"email": email, "password": "correct-horse"}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "login: {}", text(&r));
    r.json()["data"]["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

// -------------------------------------------------------------- table

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `{"success":false,"error":{"code","message"}}` and nothing else.
    Nested(&'static str),
    /// `{"error":"<sentence>","code":"<CODE>","message"?}` (no `success`).
    Flat(&'static str),
    /// `{"success":true,"data":…}`.
    Data,
    /// A flat success body with these keys (no `success`, `error`, `code`).
    Fields(&'static [&'static str]),
}

fn check_shape(r: &Reply, shape: Shape, ctx: &str) {
    let v = r.json();
    let body = text(r);
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: not a JSON object: {body}"));
    match shape {
        Shape::Nested(code) => {
            let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["error", "success"], "{ctx}: nested envelope: {body}");
            assert_eq!(v["success"], false, "{ctx}: {body}");
            assert_eq!(v["error"]["code"], code, "{ctx}: code: {body}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{ctx}: message: {body}"
            );
        }
        Shape::Flat(code) => {
            assert_eq!(v["code"], code, "{ctx}: flat code: {body}");
            assert!(
                v["error"].as_str().is_some_and(|m| !m.is_empty()),
                "{ctx}: flat error is a sentence: {body}"
            );
            assert!(
                body.starts_with(r#"{"error":""#),
                "{ctx}: Go field order: {body}"
            );
            assert!(
                !o.contains_key("success"),
                "{ctx}: flat has no success: {body}"
            );
        }
        Shape::Data => {
            assert_eq!(v["success"], true, "{ctx}: {body}");
            assert!(o.contains_key("data"), "{ctx}: data: {body}");
            assert!(!o.contains_key("error"), "{ctx}: {body}");
        }
        Shape::Fields(keys) => {
            for k in keys {
                assert!(o.contains_key(*k), "{ctx}: field {k}: {body}");
            }
            for k in ["success", "error", "code"] {
                assert!(!o.contains_key(k), "{ctx}: flat success has no {k}: {body}");
            }
            let first = format!("{{\"{}\":", keys[0]);
            assert!(body.starts_with(&first), "{ctx}: Go field order: {body}");
        }
    }
}

/// One spec row: a request and what the real API answers.
struct Row {
    name: &'static str,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
    status: u16,
    shape: Shape,
}

impl Row {
    fn new(name: &'static str, method: Method, path: &str, status: u16, shape: Shape) -> Self {
        Self {
            name,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: String::new(),
            status,
            shape,
        }
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
    fn auth(self, token: &str) -> Self {
        self.header("authorization", bearer(token))
    }
    fn key(self, key: &str) -> Self {
        self.header("x-idempotency-key", key)
    }
    fn body(mut self, b: impl Into<String>) -> Self {
        self.body = b.into();
        self
    }
}

/// Runs a row: its status, its envelope, JSON's content type and the
/// simulator's header on every answer.
async fn run(http: &Http, row: &Row) -> Reply {
    let h: Vec<(&str, &str)> = row.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = http
        .send(row.method.clone(), &row.path, &h, &row.body)
        .await;
    assert_eq!(
        r.status,
        row.status,
        "{}: status; body {}",
        row.name,
        text(&r)
    );
    assert_eq!(
        r.header("x-stampede-sim").as_deref(),
        Some("1"),
        "{}: simulator header",
        row.name
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json; charset=utf-8"),
        "{}",
        row.name
    );
    check_shape(&r, row.shape, row.name);
    r
}

async fn run_all(http: &Http, rows: &[Row]) -> Vec<Reply> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(run(http, row).await);
    }
    out
}

fn statuses(pairs: &[(u16, u64)]) -> BTreeMap<u16, u64> {
    pairs.iter().copied().collect()
}

fn reserve_body(zone: &str, qty: i64, pass: Option<&str>) -> String {
    let mut v = json!({"event_id": "EVT1", "zone_id": zone, "show_id": SHOW, "quantity": qty});
    if let Some(p) = pass {
        v["queue_pass"] = json!(p);
    }
    v.to_string()
}

async fn join(http: &Http, token: &str, key: &str) -> Reply {
    let auth = bearer(token);
    http.send(
        Method::POST,
        JOIN,
        &[("authorization", &auth), ("x-idempotency-key", key)],
        r#"{"event_id":"EVT1"}"#,
    )
    .await
}

/// Polls the position until it carries a pass (deadline 10 s).
async fn wait_pass(http: &Http, token: &str) -> String {
    let auth = bearer(token);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http
            .send(Method::GET, POSITION, &[("authorization", &auth)], "")
            .await;
        let v = r.json();
        if r.status == 200 && v["is_ready"] == true {
            return v["queue_pass"].as_str().expect("queue_pass").to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no pass within 10 s: {}",
            text(&r)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn pass_for(http: &Http, token: &str, key: &str) -> String {
    let r = join(http, token, key).await;
    assert_eq!(r.status, 201, "join: {}", text(&r));
    wait_pass(http, token).await
}

async fn wait_ledger(s: &SimServer, what: &str, pred: impl Fn(&Ledger) -> bool) -> Ledger {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = s.ledger();
        if pred(&l) {
            return l;
        }
        assert!(Instant::now() < deadline, "{what} within 10 s: {l:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn queue(l: &Ledger) -> stampede::sim::QueueLedger {
    l.queue
        .clone()
        .expect("the Booking Rush ledger has a queue")
}

// ---------------------------------------------------------------- SSE

#[derive(Debug, Default)]
struct SseFrame {
    id: Option<u64>,
    event: Option<String>,
    data: String,
    retry: Option<u64>,
}

/// Frames (blocks with a field) and the number of comment lines.
fn parse_sse(body: &str) -> (Vec<SseFrame>, usize) {
    let mut frames = Vec::new();
    let mut comments = 0;
    for block in body.split("\n\n") {
        let mut f = SseFrame::default();
        let mut any = false;
        for line in block.lines() {
            if line.starts_with(':') {
                comments += 1;
                continue;
            }
            let (k, v) = line.split_once(':').unwrap_or((line, ""));
            let v = v.strip_prefix(' ').unwrap_or(v);
            any = true;
            match k {
                "id" => f.id = Some(v.parse().expect("numeric id")),
                "event" => f.event = Some(v.to_owned()),
                "data" => f.data.push_str(v),
                "retry" => f.retry = Some(v.parse().expect("numeric retry")),
                other => panic!("unknown SSE field {other:?} in {body:?}"),
            }
        }
        if any {
            frames.push(f);
        }
    }
    (frames, comments)
}

// -------------------------------------------------------------- tests

#[tokio::test]
async fn gateway_auth_and_browse_follow_the_spec() {
    let s = start(quiet()).await;
    let http = Http::new(&s);

    let login_row = run(
        &http,
        &Row::new("login", Method::POST, LOGIN, 200, Shape::Data).body(GOOD_LOGIN),
    )
    .await;
    let data = &login_row.json()["data"];
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 900, "15 minutes");
    let token = data["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let refresh = data["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {token}");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value =
        serde_json::from_slice(&b64.decode(parts[0]).expect("base64url")).expect("json");
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let payload: Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("base64url")).expect("json");
    assert_eq!(payload["sub"], "a@x.io");
    let life = payload["exp"].as_i64().expect("exp") - payload["iat"].as_i64().expect("iat");
    assert!((899..=901).contains(&life), "15 minutes: {life}");
    // Another subject under the same signature: refused.
    let forged = b64.encode(payload.to_string().replace("a@x.io", "b@x.io"));
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);

    let rows = vec![
        Row::new(
            "wrong password",
            Method::POST,
            LOGIN,
            401,
            Shape::Nested("INVALID_CREDENTIALS"),
        )
        .body(r#"{"email":"a@x.io","password":"nope"}"#),
        Row::new(
            "login bad json",
            Method::POST,
            LOGIN,
            400,
            Shape::Nested("INVALID_REQUEST"),
        )
        .body("{"),
        Row::new(
            "login without email",
            Method::POST,
            LOGIN,
            400,
            Shape::Nested("INVALID_REQUEST"),
        )
        .body(r#"{"password":"correct-horse"}"#),
        Row::new(
            "no token",
            Method::GET,
            EVENTS,
            401,
            Shape::Nested("MISSING_TOKEN"),
        ),
        Row::new(
            "garbage token",
            Method::GET,
            EVENTS,
            401,
            Shape::Nested("INVALID_TOKEN"),
        )
        .auth("garbage"),
        Row::new(
            "tampered token",
            Method::GET,
            EVENTS,
            401,
            Shape::Nested("INVALID_TOKEN"),
        )
        .auth(&tampered),
        Row::new(
            "not bearer",
            Method::GET,
            EVENTS,
            401,
            Shape::Nested("INVALID_TOKEN"),
        )
        .header("authorization", format!("Basic {token}")),
        Row::new(
            "refresh token as access",
            Method::GET,
            EVENTS,
            401,
            Shape::Nested("INVALID_TOKEN"),
        )
        .auth(&refresh),
        Row::new("events", Method::GET, EVENTS, 200, Shape::Data).auth(&token),
        Row::new(
            "show zones",
            Method::GET,
            &format!("/api/v1/shows/{SHOW}/zones"),
            200,
            Shape::Data,
        )
        .auth(&token),
        Row::new(
            "unknown show",
            Method::GET,
            "/api/v1/shows/NOPE/zones",
            404,
            Shape::Nested("NOT_FOUND"),
        )
        .auth(&token),
        Row::new("zone", Method::GET, "/api/v1/zones/Z1", 200, Shape::Data).auth(&token),
        Row::new(
            "unknown zone",
            Method::GET,
            "/api/v1/zones/NOPE",
            404,
            Shape::Nested("NOT_FOUND"),
        )
        .auth(&token),
        Row::new(
            "unknown path",
            Method::GET,
            "/api/v1/nope",
            404,
            Shape::Nested("NOT_FOUND"),
        )
        .auth(&token),
        Row::new(
            "the guidelines' path",
            Method::POST,
            "/bookings/reserve",
            404,
            Shape::Nested("NOT_FOUND"),
        )
        .auth(&token),
        Row::new(
            "the guidelines' availability",
            Method::GET,
            "/events/EVT1/zones/Z1/availability",
            404,
            Shape::Nested("NOT_FOUND"),
        ),
        Row::new(
            "login by GET",
            Method::GET,
            LOGIN,
            404,
            Shape::Nested("NOT_FOUND"),
        ),
        Row::new("refresh", Method::POST, REFRESH, 200, Shape::Data)
            .body(json!({"refresh_token": refresh}).to_string()),
        Row::new(
            "refresh with an access token",
            Method::POST,
            REFRESH,
            401,
            Shape::Nested("INVALID_TOKEN"),
        )
        .body(json!({"refresh_token": token}).to_string()),
        Row::new(
            "refresh without a token",
            Method::POST,
            REFRESH,
            400,
            Shape::Nested("INVALID_REQUEST"),
        )
        .body("{}"),
        Row::new(
            "join without key",
            Method::POST,
            JOIN,
            400,
            Shape::Nested("MISSING_IDEMPOTENCY_KEY"),
        )
        .auth(&token)
        .body(r#"{"event_id":"EVT1"}"#),
        Row::new(
            "reserve without key",
            Method::POST,
            RESERVE,
            400,
            Shape::Nested("MISSING_IDEMPOTENCY_KEY"),
        )
        .auth(&token)
        .body(reserve_body("Z1", 1, None)),
    ];
    let replies = run_all(&http, &rows).await;
    let by_name = |n: &str| &replies[rows.iter().position(|r| r.name == n).expect("row")];

    let events = by_name("events").json();
    assert_eq!(events["data"][0]["id"], "EVT1");
    assert_eq!(events["data"][0]["show_id"], SHOW);
    let zones = by_name("show zones").json();
    assert_eq!(zones["data"][0]["id"], "Z1");
    assert_eq!(zones["data"][0]["available_seats"], 100);
    assert_eq!(zones["data"][0]["total_seats"], 100);
    assert_eq!(by_name("zone").json()["data"]["available_seats"], 100);
    let refreshed = by_name("refresh").json();
    assert!(
        refreshed["data"]["access_token"]
            .as_str()
            .is_some_and(|t| t != token)
    );

    // h2c on the same port.
    let auth = bearer(&token);
    let h2 = Http::h2(&s)
        .send(Method::GET, EVENTS, &[("authorization", &auth)], "")
        .await;
    assert_eq!(h2.status, 200, "h2c: {}", text(&h2));

    let l = s.ledger();
    assert_eq!((l.logins, l.refreshes), (Some(1), Some(1)));
    let req = |ep: &str| l.requests.get(ep).cloned().unwrap_or_default();
    assert_eq!(req("login"), statuses(&[(200, 1), (400, 2), (401, 1)]));
    assert_eq!(req("events"), statuses(&[(200, 2), (401, 5)]));
    assert_eq!(req("zone"), statuses(&[(200, 1), (404, 1)]));
    assert_eq!(req("other"), statuses(&[(404, 4)]));
    assert_eq!(req("refresh"), statuses(&[(200, 1), (400, 1), (401, 1)]));
    assert_eq!(req("reserve"), statuses(&[(400, 1)]));
    assert_eq!(l.bookings_created, 0);
    assert_eq!(l.idempotent_replays, 0);
    // The ledger is still served, unenveloped, at /__sim/ledger.
    let r = http.send(Method::GET, "/__sim/ledger", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["logins"], 1);
}

#[tokio::test]
async fn an_expired_token_is_token_expired() {
    let mut cfg = quiet();
    cfg.booking_rush.token_ttl = Duration::from_millis(200);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let token = login(&http, "a@x.io").await;
    run(
        &http,
        &Row::new("fresh token", Method::GET, EVENTS, 200, Shape::Data).auth(&token),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    run(
        &http,
        &Row::new(
            "expired token",
            Method::GET,
            EVENTS,
            401,
            Shape::Nested("TOKEN_EXPIRED"),
        )
        .auth(&token),
    )
    .await;
    // Browsing is public only when the profile says so.
    let mut cfg = quiet();
    cfg.public_availability = true;
    let s = start(cfg).await;
    run(
        &Http::new(&s),
        &Row::new("public browse", Method::GET, EVENTS, 200, Shape::Data),
    )
    .await;
}

#[tokio::test]
async fn queue_join_poll_and_pass_after_the_wait() {
    let mut cfg = quiet();
    cfg.booking_rush.min_queue_time = Duration::from_millis(300);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let join_body = r#"{"event_id":"EVT1"}"#;
    let rows = vec![
        Row::new(
            "poll before join",
            Method::GET,
            POSITION,
            404,
            Shape::Flat("NOT_IN_QUEUE"),
        )
        .auth(&a),
        Row::new(
            "join a",
            Method::POST,
            JOIN,
            201,
            Shape::Fields(JOIN_FIELDS),
        )
        .auth(&a)
        .key("j-a")
        .body(join_body),
        Row::new(
            "join a again",
            Method::POST,
            JOIN,
            409,
            Shape::Flat("ALREADY_IN_QUEUE"),
        )
        .auth(&a)
        .key("j-a2")
        .body(join_body),
        Row::new(
            "join b",
            Method::POST,
            JOIN,
            201,
            Shape::Fields(JOIN_FIELDS),
        )
        .auth(&b)
        .key("j-b")
        .body(join_body),
        Row::new(
            "join without event",
            Method::POST,
            JOIN,
            400,
            Shape::Flat("INVALID_REQUEST"),
        )
        .auth(&b)
        .key("j-b2")
        .body("{}"),
        Row::new(
            "join another event",
            Method::POST,
            JOIN,
            409,
            Shape::Flat("QUEUE_NOT_OPEN"),
        )
        .auth(&b)
        .key("j-b3")
        .body(r#"{"event_id":"EVT9"}"#),
        Row::new(
            "poll a",
            Method::GET,
            POSITION,
            200,
            Shape::Fields(POSITION_FIELDS),
        )
        .auth(&a),
        Row::new(
            "poll b",
            Method::GET,
            POSITION,
            200,
            Shape::Fields(POSITION_FIELDS),
        )
        .auth(&b),
        Row::new(
            "poll other event",
            Method::GET,
            "/api/v1/queue/position/EVT9",
            404,
            Shape::Flat("NOT_IN_QUEUE"),
        )
        .auth(&a),
        Row::new(
            "join a replayed",
            Method::POST,
            JOIN,
            201,
            Shape::Fields(JOIN_FIELDS),
        )
        .auth(&a)
        .key("j-a")
        .body(join_body),
    ];
    let r = run_all(&http, &rows).await;
    let (ja, jb, pa, pb) = (r[1].json(), r[3].json(), r[6].json(), r[7].json());
    assert!(
        text(&r[1]).starts_with(r#"{"position":1,"token":"#),
        "{}",
        text(&r[1])
    );
    assert_eq!(r[1].body, r[9].body, "the join replayed byte for byte");
    assert!(
        text(&r[6]).starts_with(r#"{"position":1,"total_in_queue":2,"#),
        "{}",
        text(&r[6])
    );
    assert_eq!(
        (
            ja["position"].as_u64(),
            ja["estimated_wait_seconds"].as_u64()
        ),
        (Some(1), Some(3))
    );
    assert_eq!(
        (
            jb["position"].as_u64(),
            jb["estimated_wait_seconds"].as_u64()
        ),
        (Some(2), Some(6))
    );
    assert!(
        ja["joined_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.contains('T')),
        "{ja}"
    );
    assert_eq!(pa["estimated_wait_seconds"], 3, "position x 3");
    assert_eq!(pa["is_ready"], false);
    assert!(pa.get("queue_pass").is_none(), "{pa}");
    assert_eq!(pb["position"], 2);

    let pass = wait_pass(&http, &a).await;
    let again = run(
        &http,
        &Row::new(
            "poll holding a pass",
            Method::GET,
            POSITION,
            200,
            Shape::Fields(POSITION_FIELDS),
        )
        .auth(&a),
    )
    .await
    .json();
    assert_eq!(again["queue_pass"], pass.as_str(), "repeated while valid");
    assert_eq!(
        (again["is_ready"].as_bool(), again["position"].as_u64()),
        (Some(true), Some(0))
    );
    let pass_b = wait_pass(&http, &b).await;
    assert_ne!(pass, pass_b);

    let l = s.ledger();
    let q = queue(&l);
    assert_eq!((q.joins, q.passes_issued, q.passes_used), (2, 2, 0));
    assert_eq!(q.time_in_queue_ms.count, 2);
    assert!(
        q.time_in_queue_ms.p50 >= 300 && q.time_in_queue_ms.sum >= 600,
        "join -> pass is at least min_queue_time: {q:?}"
    );
    assert_eq!(
        q.polls,
        l.requests["queue_position"].values().sum::<u64>(),
        "every poll counted"
    );
    assert_eq!(
        l.requests["queue_join"],
        statuses(&[(201, 3), (400, 1), (409, 2)])
    );
    assert_eq!(l.replays_by_status, Some(statuses(&[(201, 1)])));
    assert_eq!(l.idempotent_replays, 1);
}

#[tokio::test]
async fn sse_frames_until_the_one_with_the_pass() {
    let mut cfg = quiet();
    cfg.booking_rush.min_queue_time = Duration::from_millis(300);
    cfg.booking_rush.sse_interval = Duration::from_millis(50);
    cfg.booking_rush.sse_retry = Some(Duration::from_millis(1500));
    let s = start(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    assert_eq!(join(&http, &a, "j-a").await.status, 201);
    let auth = bearer(&a);
    let r = http
        .send(Method::GET, STREAM, &[("authorization", &auth)], "")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-stampede-sim").as_deref(), Some("1"));
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream")),
        "{:?}",
        r.headers
    );
    let (frames, _) = parse_sse(&text(&r));
    assert!(
        frames.len() >= 2,
        "waiting frames, then the pass: {frames:?}"
    );
    assert_eq!(frames[0].retry, Some(1500), "retry: in the first frame");
    assert!(frames[1..].iter().all(|f| f.retry.is_none()), "{frames:?}");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.id, Some(i as u64 + 1), "{frames:?}");
        assert_eq!(f.event.as_deref(), Some("position"));
        let v: Value = serde_json::from_str(&f.data).expect("data is JSON");
        for k in POSITION_FIELDS {
            assert!(v.get(*k).is_some(), "{k} in {v}");
        }
        let last = i + 1 == frames.len();
        assert_eq!(
            v["is_ready"], last,
            "only the last frame is ready: {frames:?}"
        );
        assert_eq!(v.get("queue_pass").is_some(), last, "{frames:?}");
    }
    let last: Value = serde_json::from_str(&frames.last().expect("frame").data).expect("json");
    assert_eq!(last["queue_pass"], wait_pass(&http, &a).await.as_str());

    // Not in the queue: an error event, then the end.
    let c = bearer(&login(&http, "c@x.io").await);
    let r = http
        .send(Method::GET, STREAM, &[("authorization", &c)], "")
        .await;
    assert_eq!(r.status, 200);
    let (frames, _) = parse_sse(&text(&r));
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].event.as_deref(), Some("error"));
    assert_eq!(
        serde_json::from_str::<Value>(&frames[0].data).expect("json"),
        json!({"event": "not_in_queue"})
    );
    // A stream needs a token like any call.
    let r = http.send(Method::GET, STREAM, &[], "").await;
    assert_eq!((r.status, r.code().as_str()), (401, "MISSING_TOKEN"));
    let l = s.ledger();
    assert_eq!(queue(&l).streams, 2);
    assert_eq!(l.requests["queue_stream"], statuses(&[(200, 2), (401, 1)]));
}

#[tokio::test]
async fn sse_reconnect_keepalive_and_timeout() {
    let mut cfg = quiet();
    cfg.booking_rush.min_queue_time = Duration::from_secs(3600);
    cfg.booking_rush.sse_interval = Duration::from_secs(3600);
    cfg.booking_rush.sse_keepalive = Duration::from_millis(50);
    cfg.booking_rush.sse_timeout = Duration::from_millis(400);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    assert_eq!(join(&http, &a, "j-a").await.status, 201);
    let auth = bearer(&a);
    // A reconnect carries Last-Event-ID: ids go on; keep-alives; timeout.
    let r = http
        .send(
            Method::GET,
            STREAM,
            &[("authorization", &auth), ("last-event-id", "7")],
            "",
        )
        .await;
    let (frames, comments) = parse_sse(&text(&r));
    assert_eq!(
        frames.len(),
        2,
        "a position frame, then the timeout: {frames:?}"
    );
    assert_eq!(
        (frames[0].id, frames[0].event.as_deref()),
        (Some(8), Some("position"))
    );
    assert_eq!(frames[1].event.as_deref(), Some("error"));
    assert_eq!(
        serde_json::from_str::<Value>(&frames[1].data).expect("json"),
        json!({"event": "timeout"})
    );
    assert!(comments >= 1, "keep-alive comments: {}", text(&r));
    assert!(text(&r).contains(": keep-alive\n"));
}

#[tokio::test]
async fn reserve_rows_and_the_one_shot_pass() {
    let mut cfg = quiet();
    seats(&mut cfg, 3);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let pass_a = pass_for(&http, &a, "j-a").await;
    let pass_b = pass_for(&http, &b, "j-b").await;
    let req = |name, status, shape| Row::new(name, Method::POST, RESERVE, status, shape);
    let rows =
        vec![
        req("no key", 400, Shape::Nested("MISSING_IDEMPOTENCY_KEY"))
            .auth(&a)
            .body(reserve_body("Z1", 1, Some(&pass_a))),
        req("no token", 401, Shape::Nested("MISSING_TOKEN"))
            .key("r0")
            .body(reserve_body("Z1", 1, Some(&pass_a))),
        req("no show_id", 400, Shape::Flat("INVALID_SHOW_ID"))
            .auth(&a)
            .key("r1")
            .body(
                json!({"event_id": "EVT1", "zone_id": "Z1", "quantity": 1, "queue_pass": pass_a})
                    .to_string(),
            ),
        req("bad json", 400, Shape::Flat("INVALID_REQUEST"))
            .auth(&a)
            .key("r2")
            .body("{nope"),
        req("quantity 0", 400, Shape::Flat("INVALID_REQUEST"))
            .auth(&a)
            .key("r3")
            .body(reserve_body("Z1", 0, Some(&pass_a))),
        req("quantity 11", 400, Shape::Flat("INVALID_REQUEST"))
            .auth(&a)
            .key("r4")
            .body(reserve_body("Z1", 11, Some(&pass_a))),
        req("no pass", 403, Shape::Flat("QUEUE_PASS_REQUIRED"))
            .auth(&a)
            .key("r5")
            .body(reserve_body("Z1", 1, None)),
        req("unknown pass", 403, Shape::Flat("INVALID_QUEUE_PASS"))
            .auth(&a)
            .key("r6")
            .body(reserve_body("Z1", 1, Some("qp_forged"))),
        req("another user's pass", 403, Shape::Flat("QUEUE_PASS_MISMATCH"))
            .auth(&a)
            .key("r7")
            .body(reserve_body("Z1", 1, Some(&pass_b))),
        req("unknown zone", 404, Shape::Flat("ZONE_NOT_FOUND"))
            .auth(&a)
            .key("r8")
            .body(reserve_body("Z9", 1, Some(&pass_a))),
        req("too few seats", 409, Shape::Flat("INSUFFICIENT_SEATS"))
            .auth(&a)
            .key("r9")
            .body(reserve_body("Z1", 4, Some(&pass_a))),
        req("reserved", 201, Shape::Fields(RESERVED_FIELDS))
            .auth(&a)
            .key("r10")
            .body(reserve_body("Z1", 2, Some(&pass_a))),
        req("pass used up", 403, Shape::Flat("INVALID_QUEUE_PASS"))
            .auth(&a)
            .key("r11")
            .body(reserve_body("Z1", 1, Some(&pass_a))),
        req("own unit_price", 201, Shape::Fields(RESERVED_FIELDS))
            .auth(&b)
            .key("r12")
            .body(
                json!({"event_id": "EVT1", "zone_id": "Z1", "show_id": SHOW, "quantity": 1,
                   "unit_price": 75.0, "queue_pass": pass_b})
                .to_string(),
            ),
    ];
    let r = run_all(&http, &rows).await;
    assert_eq!(
        r[10].body,
        Bytes::from_static(
            br#"{"error":"Not enough seats available","code":"INSUFFICIENT_SEATS"}"#
        )
    );
    let booked = r[11].json();
    assert_eq!(booked["status"], "reserved");
    assert_eq!(booked["total_price"].as_f64(), Some(100.0), "2 x 50");
    assert!(
        text(&r[11]).ends_with(r#""total_price":100}"#),
        "Go's float"
    );
    assert!(
        booked["booking_id"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
    assert!(
        booked["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(r[13].json()["total_price"].as_f64(), Some(75.0));
    assert_eq!(
        r[6].json()["message"],
        "Please join the queue and wait for your turn to book"
    );

    let l = s.ledger();
    assert_eq!(l.bookings_created, 2);
    assert_eq!(l.zones["EVT1/Z1"].available, 0);
    assert_eq!(l.oversold, 0);
    let q = queue(&l);
    assert_eq!(
        (q.passes_issued, q.passes_used, q.passes_stranded),
        (2, 2, 0)
    );
    assert_eq!(
        l.requests["reserve"],
        statuses(&[(201, 2), (400, 5), (401, 1), (403, 4), (404, 1), (409, 1)])
    );
    // The used pass is gone from polling too.
    run(
        &http,
        &Row::new(
            "poll after the pass was used",
            Method::GET,
            POSITION,
            404,
            Shape::Flat("NOT_IN_QUEUE"),
        )
        .auth(&a),
    )
    .await;
}

#[tokio::test]
async fn expired_and_stranded_passes_and_the_per_user_limit() {
    let mut cfg = quiet();
    cfg.booking_rush.pass_ttl = Duration::from_millis(200);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    let pass = pass_for(&http, &a, "j-a").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    run(
        &http,
        &Row::new(
            "expired pass",
            Method::POST,
            RESERVE,
            403,
            Shape::Flat("QUEUE_PASS_EXPIRED"),
        )
        .auth(&a)
        .key("r1")
        .body(reserve_body("Z1", 1, Some(&pass))),
    )
    .await;
    run(
        &http,
        &Row::new(
            "poll with an expired pass",
            Method::GET,
            POSITION,
            404,
            Shape::Flat("NOT_IN_QUEUE"),
        )
        .auth(&a),
    )
    .await;
    let l = wait_ledger(&s, "the pass stranded", |l| queue(l).passes_stranded == 1).await;
    assert_eq!(queue(&l).passes_used, 0);

    let mut cfg = quiet();
    cfg.booking_rush.enforce_pass = false;
    cfg.max_tickets_per_user = 3;
    let s = start(cfg).await;
    let http = Http::new(&s);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let req = |name, status, shape| Row::new(name, Method::POST, RESERVE, status, shape);
    run_all(
        &http,
        &[
            req("2 of 3", 201, Shape::Fields(RESERVED_FIELDS))
                .auth(&a)
                .key("m1")
                .body(reserve_body("Z1", 2, None)),
            req("4 of 3", 409, Shape::Flat("MAX_TICKETS_EXCEEDED"))
                .auth(&a)
                .key("m2")
                .body(reserve_body("Z1", 2, None)),
            req("3 of 3", 201, Shape::Fields(RESERVED_FIELDS))
                .auth(&a)
                .key("m3")
                .body(reserve_body("Z1", 1, None)),
            req("another user", 201, Shape::Fields(RESERVED_FIELDS))
                .auth(&b)
                .key("m4")
                .body(reserve_body("Z1", 2, None)),
        ],
    )
    .await;
    let l = s.ledger();
    assert_eq!(l.bookings_created, 3);
    assert_eq!(l.zones["EVT1/Z1"].available, 95);
}

#[tokio::test]
async fn same_key_replays_byte_for_byte_500s_included() {
    // An injected 500 for the first 300 ms: the handler's answer, stored.
    let mut cfg = quiet();
    cfg.booking_rush.enforce_pass = false;
    cfg.faults.windows = vec![stampede::sim::FaultWindow {
        from: Duration::ZERO,
        to: Duration::from_millis(300),
        error_rate: 1.0,
        ..Default::default()
    }];
    let s = start(cfg).await;
    let http = Http::new(&s);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let body = reserve_body("Z1", 1, None);
    let req = |name, status, shape| Row::new(name, Method::POST, RESERVE, status, shape);
    let first = run(
        &http,
        &req("injected 500", 500, Shape::Flat("INTERNAL_ERROR"))
            .auth(&a)
            .key("K1")
            .body(&body),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = run_all(
        &http,
        &[
            req(
                "500 replayed after the fault",
                500,
                Shape::Flat("INTERNAL_ERROR"),
            )
            .auth(&a)
            .key("K1")
            .body(&body),
            req("new key books", 201, Shape::Fields(RESERVED_FIELDS))
                .auth(&a)
                .key("K2")
                .body(&body),
            req("201 replayed", 201, Shape::Fields(RESERVED_FIELDS))
                .auth(&a)
                .key("K2")
                .body(&body),
            req(
                "same key, other body",
                422,
                Shape::Nested("IDEMPOTENCY_KEY_REUSED"),
            )
            .auth(&a)
            .key("K2")
            .body(reserve_body("Z1", 2, None)),
            req(
                "same key, other user",
                422,
                Shape::Nested("IDEMPOTENCY_KEY_REUSED"),
            )
            .auth(&b)
            .key("K2")
            .body(&body),
            Row::new(
                "same key, other route",
                Method::POST,
                JOIN,
                422,
                Shape::Nested("IDEMPOTENCY_KEY_REUSED"),
            )
            .auth(&a)
            .key("K2")
            .body(r#"{"event_id":"EVT1"}"#),
        ],
    )
    .await;
    assert_eq!(first.body, r[0].body, "500 replayed byte for byte");
    assert_eq!(r[1].body, r[2].body, "201 replayed byte for byte");
    let l = s.ledger();
    assert_eq!(l.replays_by_status, Some(statuses(&[(201, 1), (500, 1)])));
    assert_eq!(l.idempotent_replays, 2);
    assert_eq!(l.idempotency_key_reused, Some(3));
    assert_eq!(l.bookings_created, 1, "replays do not reach the inventory");
    assert_eq!(l.zones["EVT1/Z1"].available, 99);
}

#[tokio::test]
async fn in_progress_while_running_and_the_booking_outlives_a_client_timeout() {
    let mut cfg = quiet();
    cfg.booking_rush.enforce_pass = false;
    cfg.capacity.service_time = Duration::from_secs(1);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    let body = reserve_body("Z1", 1, None);
    let row = |name, key: &str, status, shape| {
        Row::new(name, Method::POST, RESERVE, status, shape)
            .auth(&a)
            .key(key)
            .body(&body)
    };
    let first = {
        let (http, row) = (
            http.clone(),
            row("first", "K", 201, Shape::Fields(RESERVED_FIELDS)),
        );
        tokio::spawn(async move { run(&http, &row).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    run(
        &http,
        &row(
            "retry while running",
            "K",
            409,
            Shape::Nested("REQUEST_IN_PROGRESS"),
        ),
    )
    .await;
    let first = first.await.expect("first");
    let replay = run(
        &http,
        &row("retry after", "K", 201, Shape::Fields(RESERVED_FIELDS)),
    )
    .await;
    assert_eq!(first.body, replay.body);

    // A client that gives up: the booking is made all the same (wasted
    // work), and the same key later returns it.
    let auth = bearer(&a);
    let gave_up = tokio::time::timeout(
        Duration::from_millis(200),
        http.send(
            Method::POST,
            RESERVE,
            &[("authorization", &auth), ("x-idempotency-key", "K2")],
            &body,
        ),
    )
    .await;
    assert!(gave_up.is_err(), "the client timed out first");
    // Wasted work is counted once the answer is stored for the key.
    let l = wait_ledger(&s, "the abandoned reserve booked", |l| l.wasted_work == 1).await;
    assert_eq!(l.bookings_created, 2);
    let later = run(
        &http,
        &row(
            "same key after the timeout",
            "K2",
            201,
            Shape::Fields(RESERVED_FIELDS),
        ),
    )
    .await;
    let l = s.ledger();
    assert_eq!(l.request_in_progress, Some(1));
    assert_eq!(l.replays_by_status, Some(statuses(&[(201, 2)])));
    assert_eq!(l.bookings_created, 2);
    assert_eq!(
        l.requests["reserve"].get(&499),
        Some(&1),
        "the client that left"
    );
    assert_ne!(later.json()["booking_id"], first.json()["booking_id"]);
}

#[tokio::test]
async fn a_slow_answer_is_504_from_the_gateway_and_the_work_goes_on() {
    let mut cfg = quiet();
    cfg.booking_rush.enforce_pass = false;
    cfg.booking_rush.gateway_timeout = Duration::from_millis(200);
    cfg.capacity.service_time = Duration::from_millis(500);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    let row = |status, shape| {
        Row::new("reserve", Method::POST, RESERVE, status, shape)
            .auth(&a)
            .key("K")
            .body(reserve_body("Z1", 1, None))
    };
    let t0 = Instant::now();
    run(&http, &row(504, Shape::Nested("GATEWAY_TIMEOUT"))).await;
    assert!(
        t0.elapsed() < Duration::from_millis(450),
        "{:?}",
        t0.elapsed()
    );
    let l = wait_ledger(&s, "the booking behind the 504", |l| l.wasted_work == 1).await;
    assert_eq!((l.gateway_timeouts, l.bookings_created), (Some(1), 1));
    // The answer the gateway gave up on is stored for the key.
    run(&http, &row(201, Shape::Fields(RESERVED_FIELDS))).await;
    assert_eq!(s.ledger().bookings_created, 1);
}

#[tokio::test]
async fn no_503_on_the_booking_path_under_overload() {
    // One worker, no queue: the guidelines profile would answer 503.
    let mut cfg = quiet();
    cfg.booking_rush.enforce_pass = false;
    cfg.capacity.workers = 1;
    cfg.capacity.queue = 0;
    cfg.capacity.service_time = Duration::from_millis(20);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let http = http.clone();
        let token = login(&http, &format!("u{i}@x.io")).await;
        tasks.push(tokio::spawn(async move {
            let auth = bearer(&token);
            let key = format!("k{i}");
            http.send(
                Method::POST,
                RESERVE,
                &[("authorization", &auth), ("x-idempotency-key", &key)],
                &reserve_body("Z1", 1, None),
            )
            .await
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join"), 201, "work waits for the worker");
    }
    assert_eq!(s.ledger().bookings_created, 12);
}

#[tokio::test]
async fn a_reset_after_commit_still_commits_the_booking() {
    let mut cfg = quiet();
    cfg.booking_rush.enforce_pass = false;
    cfg.faults.reset_after_commit = 1.0;
    let s = start(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    let auth = bearer(&a);
    let h = [("authorization", auth.as_str()), ("x-idempotency-key", "K")];
    let lost = http
        .try_send(Method::POST, RESERVE, &h, &reserve_body("Z1", 1, None))
        .await;
    assert!(lost.is_err(), "the connection was reset");
    // The booking was made before the answer was lost.
    let l = wait_ledger(&s, "the booking behind the reset", |l| {
        l.bookings_created == 1
    })
    .await;
    assert_eq!(l.connection_resets, 1);
    assert_eq!(l.requests["reserve"].get(&0), Some(&1));
}

#[tokio::test]
async fn confirm_and_release() {
    let mut cfg = quiet();
    cfg.booking_rush.enforce_pass = false;
    seats(&mut cfg, 10);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let reserve = |key: &'static str, qty| {
        Row::new(
            "reserve",
            Method::POST,
            RESERVE,
            201,
            Shape::Fields(RESERVED_FIELDS),
        )
        .auth(&a)
        .key(key)
        .body(reserve_body("Z1", qty, None))
    };
    let id = |r: Reply| r.json()["booking_id"].as_str().expect("id").to_owned();
    let b1 = id(run(&http, &reserve("r1", 2)).await);
    let b2 = id(run(&http, &reserve("r2", 3)).await);
    let b3 = id(run(&http, &reserve("r3", 1)).await);
    let confirm = |id: &str| format!("/api/v1/bookings/{id}/confirm");
    let booking = |id: &str| format!("/api/v1/bookings/{id}");
    let cancel = |id: &str| format!("/api/v1/bookings/{id}/cancel");
    let pay = r#"{"payment_id":"pay_1"}"#;
    let rows = vec![
        Row::new(
            "confirm",
            Method::POST,
            &confirm(&b1),
            200,
            Shape::Fields(CONFIRMED_FIELDS),
        )
        .auth(&a)
        .key("c1")
        .body(pay),
        Row::new(
            "confirm again",
            Method::POST,
            &confirm(&b1),
            409,
            Shape::Flat("ALREADY_CONFIRMED"),
        )
        .auth(&a)
        .key("c2")
        .body(pay),
        Row::new(
            "confirm by another user",
            Method::POST,
            &confirm(&b2),
            403,
            Shape::Flat("FORBIDDEN"),
        )
        .auth(&b)
        .key("c3"),
        Row::new(
            "confirm unknown booking",
            Method::POST,
            &confirm("nope"),
            404,
            Shape::Flat("NOT_FOUND"),
        )
        .auth(&a)
        .key("c4"),
        Row::new(
            "confirm without key",
            Method::POST,
            &confirm(&b2),
            400,
            Shape::Nested("MISSING_IDEMPOTENCY_KEY"),
        )
        .auth(&a),
        Row::new(
            "release",
            Method::DELETE,
            &booking(&b2),
            200,
            Shape::Fields(CANCELLED_FIELDS),
        )
        .auth(&a)
        .key("d1"),
        Row::new(
            "cancel after release",
            Method::POST,
            &cancel(&b2),
            409,
            Shape::Flat("ALREADY_RELEASED"),
        )
        .auth(&a)
        .key("d2"),
        Row::new(
            "cancel",
            Method::POST,
            &cancel(&b3),
            200,
            Shape::Fields(CANCELLED_FIELDS),
        )
        .auth(&a)
        .key("d3"),
        Row::new(
            "release a confirmed booking",
            Method::DELETE,
            &booking(&b1),
            409,
            Shape::Flat("ALREADY_CONFIRMED"),
        )
        .auth(&a)
        .key("d4"),
        Row::new(
            "confirm a released booking",
            Method::POST,
            &confirm(&b3),
            409,
            Shape::Flat("ALREADY_RELEASED"),
        )
        .auth(&a)
        .key("c5"),
    ];
    let r = run_all(&http, &rows).await;
    let confirmed = r[0].json();
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["booking_id"], b1.as_str());
    assert!(
        confirmed["confirmation_code"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(r[5].json()["status"], "cancelled");
    assert_eq!(r[7].json()["booking_id"], b3.as_str());
    let l = s.ledger();
    assert_eq!(l.zones["EVT1/Z1"].available, 8, "released seats are back");
    assert_eq!((l.bookings_confirmed, l.bookings_released), (1, 2));
    assert_eq!(
        l.requests["confirm"],
        statuses(&[(200, 1), (400, 1), (403, 1), (404, 1), (409, 2)])
    );
    assert_eq!(l.requests["release"], statuses(&[(200, 1), (409, 1)]));
    assert_eq!(l.requests["cancel"], statuses(&[(200, 1), (409, 1)]));
}

#[tokio::test]
async fn confirm_after_the_reservation_ttl_is_410_expired_and_browse_lags() {
    let mut cfg = quiet();
    cfg.booking_rush.enforce_pass = false;
    cfg.reservation_ttl = Duration::from_secs(3);
    cfg.booking_rush.availability_refresh = Duration::from_secs(1);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    let zone = || Row::new("zone", Method::GET, "/api/v1/zones/Z1", 200, Shape::Data).auth(&a);
    let seats_shown =
        || async { run(&http, &zone()).await.json()["data"]["available_seats"].clone() };
    // Polled every 20 ms until the read model shows `want` (at most 5 s).
    let until_shown = |want: u64, what: &'static str| {
        let seats_shown = &seats_shown;
        async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            while seats_shown().await != want {
                assert!(Instant::now() < deadline, "{what}: never showed {want}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let reserve = |key: &'static str, qty: i64| {
        let (http, a) = (&http, &a);
        async move {
            run(
                http,
                &Row::new(
                    "reserve",
                    Method::POST,
                    RESERVE,
                    201,
                    Shape::Fields(RESERVED_FIELDS),
                )
                .auth(a)
                .key(key)
                .body(reserve_body("Z1", qty, None)),
            )
            .await
            .json()["booking_id"]
                .as_str()
                .expect("id")
                .to_owned()
        }
    };
    // A first booking, and the refresh that shows it: the next refresh is
    // a whole interval away.
    reserve("r0", 1).await;
    until_shown(99, "the first refresh").await;
    let id = reserve("r1", 3).await;
    let reserved = Instant::now();
    // The read model has not caught up yet: a pre-check reads 99.
    assert_eq!(s.ledger().zones["EVT1/Z1"].available, 96);
    assert_eq!(seats_shown().await, 99);
    until_shown(96, "refreshed").await;
    tokio::time::sleep_until(reserved + Duration::from_millis(3200)).await;
    run(
        &http,
        &Row::new(
            "confirm too late",
            Method::POST,
            &format!("/api/v1/bookings/{id}/confirm"),
            410,
            Shape::Flat("EXPIRED"),
        )
        .auth(&a)
        .key("c1"),
    )
    .await;
    until_shown(100, "the seats came back").await;
    let l = s.ledger();
    assert_eq!((l.bookings_expired, l.bookings_confirmed), (2, 0));
}

#[tokio::test]
async fn rate_limit_per_forwarded_ip_and_class() {
    let mut cfg = quiet();
    cfg.booking_rush.rate_limit.enabled = true;
    cfg.booking_rush.rate_limit.auth = RushBucket {
        per_second: 1,
        burst: 3,
    };
    cfg.booking_rush.rate_limit.confirm = RushBucket {
        per_second: 1,
        burst: 1,
    };
    let s = start(cfg).await;
    let http = Http::new(&s);
    let ip1 = "10.0.0.1, 192.168.7.7";
    let login_row = |name, status, shape, xff: Option<&str>| {
        let row = Row::new(name, Method::POST, LOGIN, status, shape).body(GOOD_LOGIN);
        match xff {
            Some(ip) => row.header("x-forwarded-for", ip),
            None => row,
        }
    };
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    };
    let headers = |r: &Reply| {
        [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-ratelimit-burst",
        ]
        .map(|h| {
            r.header(h)
                .unwrap_or_else(|| panic!("{h} missing: {:?}", r.headers))
        })
    };
    let mut token = String::new();
    for left in ["2", "1", "0"] {
        let r = run(
            &http,
            &login_row("login from ip 1", 200, Shape::Data, Some(ip1)),
        )
        .await;
        let [limit, remaining, reset, burst] = headers(&r);
        assert_eq!(
            (limit.as_str(), remaining.as_str(), burst.as_str()),
            ("1", left, "3")
        );
        let reset: u64 = reset.parse().expect("unix seconds");
        assert!(
            (unix()..=unix() + 2).contains(&reset),
            "reset is now + 1: {reset}"
        );
        token = r.json()["data"]["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
    }
    let limited = run(
        &http,
        &login_row(
            "4th from ip 1",
            429,
            Shape::Nested("TOO_MANY_REQUESTS"),
            Some(ip1),
        ),
    )
    .await;
    let [_, remaining, _, burst] = headers(&limited);
    assert_eq!((remaining.as_str(), burst.as_str()), ("0", "3"));
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("integer seconds");
    assert!(retry >= 1);
    // Refresh is in the same auth class.
    run(
        &http,
        &Row::new(
            "refresh from ip 1",
            Method::POST,
            REFRESH,
            429,
            Shape::Nested("TOO_MANY_REQUESTS"),
        )
        .header("x-forwarded-for", "10.0.0.1")
        .body(r#"{"refresh_token":"x"}"#),
    )
    .await;
    // Other IPs, and the peer address without the header, have their own buckets.
    let other = run(
        &http,
        &login_row("login from ip 2", 200, Shape::Data, Some("10.0.0.2")),
    )
    .await;
    assert_eq!(other.header("x-ratelimit-remaining").as_deref(), Some("2"));
    let peer = run(
        &http,
        &login_row("login from the peer", 200, Shape::Data, None),
    )
    .await;
    assert_eq!(peer.header("x-ratelimit-remaining").as_deref(), Some("2"));
    // Another class for the same IP; unknown paths go through the limiter too.
    let events = run(
        &http,
        &Row::new("events from ip 1", Method::GET, EVENTS, 200, Shape::Data)
            .auth(&token)
            .header("x-forwarded-for", ip1),
    )
    .await;
    assert_eq!(events.header("x-ratelimit-limit").as_deref(), Some("1000"));
    assert_eq!(events.header("x-ratelimit-burst").as_deref(), Some("100"));
    assert!(events.header("retry-after").is_none());
    let unknown = run(
        &http,
        &Row::new(
            "unknown path",
            Method::GET,
            "/nope",
            404,
            Shape::Nested("NOT_FOUND"),
        )
        .header("x-forwarded-for", ip1),
    )
    .await;
    // (Remaining is not compared: the default class refills 1,000/s, so a
    // millisecond between the two requests gives a token back.)
    assert_eq!(unknown.header("x-ratelimit-limit").as_deref(), Some("1000"));
    // Confirm has its own class; the limiter runs before the booking service.
    let confirm = |name, status, shape| {
        Row::new(
            name,
            Method::POST,
            "/api/v1/bookings/nope/confirm",
            status,
            shape,
        )
        .auth(&token)
        .key("c1")
        .header("x-forwarded-for", "10.0.0.3")
    };
    let first = run(&http, &confirm("confirm", 404, Shape::Flat("NOT_FOUND"))).await;
    assert_eq!(first.header("x-ratelimit-limit").as_deref(), Some("1"));
    run(
        &http,
        &confirm("confirm again", 429, Shape::Nested("TOO_MANY_REQUESTS")),
    )
    .await;
    // Retry-After is honest: after it, ip 1 gets in again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    run(
        &http,
        &login_row(
            "login from ip 1 after Retry-After",
            200,
            Shape::Data,
            Some(ip1),
        ),
    )
    .await;
    let l = s.ledger();
    assert_eq!(l.logins, Some(6));
    assert_eq!(l.requests["login"], statuses(&[(200, 6), (429, 1)]));
    assert_eq!(l.requests["confirm"], statuses(&[(404, 1), (429, 1)]));
}

#[tokio::test]
async fn early_retries_are_counted_per_operation() {
    let mut cfg = quiet();
    cfg.booking_rush.rate_limit.enabled = true;
    cfg.booking_rush.rate_limit.auth = RushBucket {
        per_second: 1,
        burst: 1,
    };
    let s = start(cfg).await;
    let http = Http::new(&s);
    let h = [("x-stampede-op", "op-1")];
    assert_eq!(
        http.send(Method::POST, LOGIN, &h, GOOD_LOGIN).await.status,
        200
    );
    let r = http.send(Method::POST, LOGIN, &h, GOOD_LOGIN).await;
    assert_eq!(r.status, 429);
    // Sooner than the Retry-After it was given: early.
    assert_eq!(
        http.send(Method::POST, LOGIN, &h, GOOD_LOGIN).await.status,
        429
    );
    let l = s.ledger();
    assert_eq!(l.early_retries, 1);
    assert_eq!(l.attempts_per_op, BTreeMap::from([(3, 1)]));
}

#[tokio::test]
async fn the_profile_is_read_from_a_serve_config_file() {
    let dir = TempDir::new("rush-serve-cfg");
    let path = dir.path().join("sim.toml");
    std::fs::write(
        &path,
        "api = \"booking-rush\"\n[booking_rush]\nmax_passes = 3\npassword = \"pw\"\n",
    )
    .expect("write");
    let cfg = SimConfig::from_toml_file(&path).expect("valid");
    assert_eq!(cfg.api, stampede::sim::SimApi::BookingRush);
    assert_eq!(cfg.booking_rush.max_passes, 3);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let r = http
        .send(
            Method::POST,
            LOGIN,
            &[],
            r#"{"email":"z@x.io","password":"pw"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
}

#[tokio::test]
async fn an_open_stream_is_not_an_idle_connection() {
    let mut cfg = quiet();
    cfg.connections.idle_timeout = Duration::from_millis(300);
    cfg.booking_rush.min_queue_time = Duration::from_secs(1);
    cfg.booking_rush.sse_interval = Duration::from_millis(500);
    let s = start(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    assert_eq!(join(&http, &a, "j-a").await.status, 201);
    // 500 ms between frames, longer than the idle timeout: the connection
    // stays open for the stream until the frame with the pass.
    let auth = bearer(&a);
    let r = http
        .send(Method::GET, STREAM, &[("authorization", &auth)], "")
        .await;
    let (frames, _) = parse_sse(&text(&r));
    assert!(frames.len() >= 3, "{frames:?}");
    let last: Value = serde_json::from_str(&frames.last().expect("frame").data).expect("json");
    assert!(last["queue_pass"].is_string(), "{frames:?}");
}
