//! The Booking Rush double (`tests/common/booking_rush.rs`) checked against
//! the spec (`/work/shared/spec/booking-rush-api.md`): per row the route,
//! the request, the status, the envelope (nested gateway/idempotency errors
//! vs the booking service's flat ones vs success bodies) and headers; then
//! the double's counts against what the test sent.

use crate::common;

use base64::Engine as _;
use bytes::Bytes;
use common::Reply;
use common::booking_rush::{BookingRush, Bucket, Config, Limits};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
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

// ------------------------------------------------------------- client

#[derive(Clone)]
struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    fn new(s: &BookingRush) -> Self {
        Self::build(s, false)
    }

    fn h2(s: &BookingRush) -> Self {
        Self::build(s, true)
    }

    fn build(s: &BookingRush, h2: bool) -> Self {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(h2)
            .build(HttpConnector::new());
        Self {
            base: s.url(),
            client,
        }
    }

    /// One request, the whole answer (a stream until the server closes it).
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
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
            let resp = self.client.request(req).await.expect("answered");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            Reply {
                status,
                headers,
                body,
            }
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .unwrap_or_else(|_| panic!("{path}: no complete answer within 30 s"))
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

// -------------------------------------------------------------- table

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `{"success":false,"error":{"code","message"}}` and nothing else.
    Nested(&'static str),
    /// `{"error":"<sentence>","code":"<CODE>"}` (no `success`).
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

/// No limiter: functional rows only see the rule under test.
fn quiet() -> Config {
    Config {
        rate_limit: false,
        ..Config::default()
    }
}

fn statuses(pairs: &[(u16, u64)]) -> BTreeMap<u16, u64> {
    pairs.iter().copied().collect()
}

fn reserve_body(zone: &str, qty: i64, pass: Option<&str>) -> String {
    let mut v = json!({"event_id": "EVT1", "zone_id": zone, "show_id": "SHOW1", "quantity": qty});
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Join and wait for a pass.
async fn pass_for(http: &Http, token: &str, key: &str) -> String {
    let r = join(http, token, key).await;
    assert_eq!(r.status, 201, "join: {}", text(&r));
    wait_pass(http, token).await
}

async fn wait_counts(
    s: &BookingRush,
    what: &str,
    pred: impl Fn(&common::booking_rush::Counts) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pred(&s.counts()) {
        assert!(
            Instant::now() < deadline,
            "{what} within 10 s: {:?}",
            s.counts()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    let s = BookingRush::start(quiet()).await;
    let http = Http::new(&s);

    let login = run(
        &http,
        &Row::new("login", Method::POST, LOGIN, 200, Shape::Data).body(GOOD_LOGIN),
    )
    .await;
    let data = &login.json()["data"];
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
    let payload: Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("base64url")).expect("json");
    assert_eq!(payload["sub"], "a@x.io");
    let life = payload["exp"].as_i64().expect("exp") - payload["iat"].as_i64().expect("iat");
    assert_eq!(life, 900, "15 minutes");
    // Another subject under the same signature: the double checks it.
    let forged = b64.encode(payload.to_string().replace("a@x.io", "b@x.io"));
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    let expired = s.token_with_ttl("a@x.io", Duration::ZERO);

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
        Row::new(
            "expired token",
            Method::GET,
            EVENTS,
            401,
            Shape::Nested("TOKEN_EXPIRED"),
        )
        .auth(&expired),
        Row::new("events", Method::GET, EVENTS, 200, Shape::Data).auth(&token),
        Row::new(
            "show zones",
            Method::GET,
            "/api/v1/shows/SHOW1/zones",
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
            "simulator ledger",
            Method::GET,
            "/__sim/ledger",
            404,
            Shape::Nested("NOT_FOUND"),
        ),
        Row::new(
            "path without /api/v1",
            Method::POST,
            "/bookings/reserve",
            404,
            Shape::Nested("NOT_FOUND"),
        )
        .auth(&token),
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
            "join without key",
            Method::POST,
            JOIN,
            400,
            Shape::Nested("MISSING_IDEMPOTENCY_KEY"),
        )
        .auth(&token)
        .body(r#"{"event_id":"EVT1"}"#),
    ];
    let replies = run_all(&http, &rows).await;
    let by_name = |n: &str| &replies[rows.iter().position(|r| r.name == n).expect("row")];

    let events = by_name("events").json();
    assert_eq!(events["data"][0]["id"], "EVT1");
    assert_eq!(events["data"][0]["show_id"], "SHOW1");
    assert_eq!(
        by_name("show zones").json()["data"][0]["available_seats"],
        100
    );
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

    let c = s.counts();
    let sent = 1 + rows.len() as u64 + 1;
    assert_eq!(c.requests, sent);
    assert_eq!(s.seen().len() as u64, sent);
    assert_eq!(s.seen()[0].body, GOOD_LOGIN);
    assert_eq!(
        c.by_route.values().flat_map(|m| m.values()).sum::<u64>(),
        sent
    );
    assert_eq!((c.logins, c.refreshes, c.missing_key), (1, 1, 1));
    assert_eq!(
        c.by_route["POST /api/v1/auth/login"],
        statuses(&[(200, 1), (400, 1), (401, 1)])
    );
    assert_eq!(
        c.by_route["GET /api/v1/events"],
        statuses(&[(200, 2), (401, 6)])
    );
    assert_eq!(c.by_route["GET *"], statuses(&[(404, 3)]));
    assert_eq!(c.by_route["POST *"], statuses(&[(404, 1)]));
    assert_eq!(
        c.by_route["GET /api/v1/zones/{id}"],
        statuses(&[(200, 1), (404, 1)])
    );
    assert!(c.keys_seen.is_empty(), "no key was sent: {:?}", c.keys_seen);
}

#[tokio::test]
async fn queue_join_poll_and_pass_after_the_wait() {
    let s = BookingRush::start(Config {
        queue_wait: Duration::from_millis(300),
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let (a, b) = (s.token_for("a@x.io"), s.token_for("b@x.io"));
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
    ];
    let r = run_all(&http, &rows).await;
    let (ja, jb, pa, pb) = (r[1].json(), r[3].json(), r[5].json(), r[6].json());
    assert!(
        text(&r[1]).starts_with(r#"{"position":1,"token":"#),
        "{}",
        text(&r[1])
    );
    assert!(
        text(&r[5]).starts_with(r#"{"position":1,"total_in_queue":2,"#),
        "{}",
        text(&r[5])
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
    assert!(ja["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(pa["position"], 1);
    assert_eq!(pa["total_in_queue"], 2);
    assert_eq!(pa["estimated_wait_seconds"], 3, "position x 3");
    assert_eq!(pa["is_ready"], false);
    assert!(pa.get("queue_pass").is_none(), "{pa}");
    assert_eq!(
        (
            pb["position"].as_u64(),
            pb["estimated_wait_seconds"].as_u64()
        ),
        (Some(2), Some(6))
    );

    let pass = wait_pass(&http, &a).await;
    assert!(!pass.is_empty());
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
    assert_eq!(
        again["queue_pass"],
        pass.as_str(),
        "the pass is repeated while valid"
    );
    assert_eq!(again["is_ready"], true);
    let pass_b = wait_pass(&http, &b).await;
    assert_ne!(pass, pass_b);

    let c = s.counts();
    assert_eq!(c.joins, 2);
    assert_eq!(c.passes_issued, 2);
    assert_eq!(c.queue_time.len(), 2);
    assert!(
        c.queue_time
            .iter()
            .all(|t| *t >= Duration::from_millis(300)),
        "join -> pass is at least queue_wait: {:?}",
        c.queue_time
    );
    assert_eq!(c.keys_seen.len(), 4);
    assert_eq!(
        c.by_route["POST /api/v1/queue/join"],
        statuses(&[(201, 2), (400, 1), (409, 1)])
    );
    // Back-to-back polls are early; one after a second's pause is not.
    assert!(c.early_polls >= 1, "{c:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = s.counts().early_polls;
    run(
        &http,
        &Row::new(
            "poll after a pause",
            Method::GET,
            POSITION,
            200,
            Shape::Fields(POSITION_FIELDS),
        )
        .auth(&a),
    )
    .await;
    let c = s.counts();
    assert_eq!(c.early_polls, before);
    assert_eq!(
        c.polls,
        c.by_route["GET /api/v1/queue/position/{id}"]
            .values()
            .sum::<u64>()
    );
}

#[tokio::test]
async fn sse_frames_until_the_one_with_the_pass() {
    let s = BookingRush::start(Config {
        queue_wait: Duration::from_millis(300),
        sse_interval: Duration::from_millis(50),
        sse_retry_ms: Some(1500),
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let a = s.token_for("a@x.io");
    assert_eq!(join(&http, &a, "j-a").await.status, 201);
    let auth = bearer(&a);
    let r = http
        .send(Method::GET, STREAM, &[("authorization", &auth)], "")
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream")),
        "{:?}",
        r.headers
    );
    let (frames, _) = parse_sse(&text(&r));
    assert!(
        frames.len() >= 2,
        "a waiting frame, then the pass: {frames:?}"
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
    let polled = wait_pass(&http, &a).await;
    assert_eq!(last["queue_pass"], polled.as_str());

    // Not in the queue: an error event, then the end.
    let c_auth = bearer(&s.token_for("c@x.io"));
    let r = http
        .send(Method::GET, STREAM, &[("authorization", &c_auth)], "")
        .await;
    assert_eq!(r.status, 200);
    let (frames, _) = parse_sse(&text(&r));
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].event.as_deref(), Some("error"));
    assert_eq!(
        serde_json::from_str::<Value>(&frames[0].data).expect("json"),
        json!({"event": "not_in_queue"})
    );

    let c = s.counts();
    assert_eq!(c.streams_opened, 2);
    assert_eq!(c.last_event_ids_received, 0);
    let (sent, _) = parse_sse(&text(
        &http
            .send(Method::GET, STREAM, &[("authorization", &auth)], "")
            .await,
    ));
    assert_eq!(sent.len(), 1, "holding a pass: one frame with it");
    let c2 = s.counts();
    assert_eq!(c2.stream_frames, c.stream_frames + 1);
}

#[tokio::test]
async fn sse_cut_reconnect_keepalive_and_timeout() {
    let s = BookingRush::start(Config {
        queue_wait: Duration::from_secs(3600),
        sse_interval: Duration::from_secs(3600),
        sse_keepalive: Duration::from_millis(50),
        sse_timeout: Duration::from_millis(400),
        sse_cut_first: 1,
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let a = s.token_for("a@x.io");
    assert_eq!(join(&http, &a, "j-a").await.status, 201);
    let auth = bearer(&a);

    // Cut by the server after its first frame.
    let r = http
        .send(Method::GET, STREAM, &[("authorization", &auth)], "")
        .await;
    let (frames, comments) = parse_sse(&text(&r));
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(
        (frames[0].id, frames[0].event.as_deref()),
        (Some(1), Some("position"))
    );
    assert_eq!(comments, 0);

    // The reconnect carries Last-Event-ID; ids go on; keep-alives; timeout.
    let r = http
        .send(
            Method::GET,
            STREAM,
            &[("authorization", &auth), ("last-event-id", "1")],
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
        (Some(2), Some("position"))
    );
    assert_eq!(frames[1].event.as_deref(), Some("error"));
    assert_eq!(
        serde_json::from_str::<Value>(&frames[1].data).expect("json"),
        json!({"event": "timeout"})
    );
    assert!(comments >= 1, "keep-alive comments: {}", text(&r));
    assert!(text(&r).contains(": keep-alive\n"));

    let c = s.counts();
    assert_eq!(
        (c.streams_opened, c.stream_frames, c.last_event_ids_received),
        (2, 2, 1)
    );
}

#[tokio::test]
async fn reserve_rows_and_the_one_shot_pass() {
    let s = BookingRush::start(Config {
        zones: vec![("Z1".into(), 3)],
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let (a, b) = (s.token_for("a@x.io"), s.token_for("b@x.io"));
    let pass_a = pass_for(&http, &a, "j-a").await;
    let pass_b = pass_for(&http, &b, "j-b").await;
    let req = |name, status, shape| Row::new(name, Method::POST, RESERVE, status, shape);
    let rows = vec![
        req("no key", 400, Shape::Nested("MISSING_IDEMPOTENCY_KEY"))
            .auth(&a)
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
        req(
            "another user's pass",
            403,
            Shape::Flat("QUEUE_PASS_MISMATCH"),
        )
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
                json!({"event_id": "EVT1", "zone_id": "Z1", "show_id": "SHOW1", "quantity": 1,
                   "unit_price": 75.0, "queue_pass": pass_b})
                .to_string(),
            ),
    ];
    let r = run_all(&http, &rows).await;
    assert_eq!(
        r[9].body,
        Bytes::from_static(
            br#"{"error":"Not enough seats available","code":"INSUFFICIENT_SEATS"}"#
        )
    );
    let booked = r[10].json();
    // Go structs keep their field order on the wire.
    assert!(
        text(&r[10]).starts_with(r#"{"booking_id":""#),
        "{}",
        text(&r[10])
    );
    assert!(text(&r[5]).starts_with(r#"{"error":""#), "{}", text(&r[5]));
    assert_eq!(booked["status"], "reserved");
    assert_eq!(booked["total_price"].as_f64(), Some(100.0), "2 x 50");
    assert!(
        booked["booking_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        booked["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(r[12].json()["total_price"].as_f64(), Some(75.0));
    assert_eq!(s.available_seats("Z1"), Some(0));

    let c = s.counts();
    assert_eq!(
        c.reserves_executed, 4,
        "unknown zone, too few seats, two bookings"
    );
    assert_eq!((c.bookings, c.seats_booked), (2, 3));
    assert_eq!((c.passes_issued, c.passes_used), (2, 2));
    assert_eq!(c.missing_key, 1);
    assert_eq!(
        c.keys_seen.len(),
        12 + 2,
        "the 12 reserve keys and the 2 join keys"
    );
    assert_eq!(
        c.by_route["POST /api/v1/bookings/reserve"],
        statuses(&[(201, 2), (400, 5), (403, 4), (404, 1), (409, 1)])
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
async fn expired_pass_and_the_per_user_limit() {
    let s = BookingRush::start(Config {
        pass_ttl: Duration::from_millis(200),
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let a = s.token_for("a@x.io");
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
    assert_eq!(s.counts().passes_used, 0);

    let s = BookingRush::start(Config {
        enforce_pass: false,
        max_per_user: 3,
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let (a, b) = (s.token_for("a@x.io"), s.token_for("b@x.io"));
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
    let c = s.counts();
    assert_eq!((c.bookings, c.seats_booked, c.reserves_executed), (3, 5, 4));
    assert_eq!(s.available_seats("Z1"), Some(95));
}

#[tokio::test]
async fn same_key_replays_byte_for_byte_500s_included() {
    let s = BookingRush::start(Config {
        enforce_pass: false,
        fail_first_reserves: 1,
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let (a, b) = (s.token_for("a@x.io"), s.token_for("b@x.io"));
    let body = reserve_body("Z1", 1, None);
    let req = |name, status, shape| Row::new(name, Method::POST, RESERVE, status, shape);
    let r = run_all(
        &http,
        &[
            req("injected 500", 500, Shape::Flat("INTERNAL_ERROR"))
                .auth(&a)
                .key("K1")
                .body(&body),
            req("500 replayed", 500, Shape::Flat("INTERNAL_ERROR"))
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
        ],
    )
    .await;
    assert_eq!(r[0].body, r[1].body, "500 replayed byte for byte");
    assert_eq!(r[2].body, r[3].body, "201 replayed byte for byte");
    assert_eq!(r[2].header("content-type"), r[3].header("content-type"));
    let c = s.counts();
    assert_eq!(c.replays, statuses(&[(201, 1), (500, 1)]));
    assert_eq!(c.reserves_executed, 2, "replays do not reach the inventory");
    assert_eq!(c.bookings, 1);
    assert_eq!(c.key_reused, 2);
    assert_eq!(
        c.keys_seen.iter().map(String::as_str).collect::<Vec<_>>(),
        ["K1", "K2"]
    );
    assert_eq!(s.available_seats("Z1"), Some(99));
}

#[tokio::test]
async fn in_progress_while_running_and_the_booking_outlives_a_client_timeout() {
    let s = BookingRush::start(Config {
        enforce_pass: false,
        reserve_delay: Duration::from_secs(1),
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let a = s.token_for("a@x.io");
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
    wait_counts(&s, "the first request is processing", |c| {
        c.keys_seen.contains("K")
    })
    .await;
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

    // A client that gives up: the booking is made all the same and the
    // same key later returns it.
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
    wait_counts(&s, "the abandoned reserve booked", |c| c.bookings == 2).await;
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

    let c = s.counts();
    assert_eq!(c.in_progress, 1);
    assert_eq!(c.replays, statuses(&[(201, 2)]));
    assert_eq!((c.reserves_executed, c.bookings), (2, 2));
    assert_ne!(later.json()["booking_id"], first.json()["booking_id"]);
}

#[tokio::test]
async fn confirm_and_release() {
    let s = BookingRush::start(Config {
        enforce_pass: false,
        zones: vec![("Z1".into(), 10)],
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let (a, b) = (s.token_for("a@x.io"), s.token_for("b@x.io"));
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
    let b1 = run(&http, &reserve("r1", 2)).await.json()["booking_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let b2 = run(&http, &reserve("r2", 3)).await.json()["booking_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let b3 = run(&http, &reserve("r3", 1)).await.json()["booking_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(s.available_seats("Z1"), Some(4));
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
    assert_eq!(
        s.available_seats("Z1"),
        Some(8),
        "released seats are back, confirmed stay taken"
    );
    let c = s.counts();
    assert_eq!((c.confirmations, c.releases, c.expired), (1, 2, 0));
    assert_eq!(
        c.by_route["POST /api/v1/bookings/{id}/confirm"],
        statuses(&[(200, 1), (400, 1), (403, 1), (404, 1), (409, 2)])
    );
    assert_eq!(
        c.by_route["DELETE /api/v1/bookings/{id}"],
        statuses(&[(200, 1), (409, 1)])
    );
    assert_eq!(
        c.by_route["POST /api/v1/bookings/{id}/cancel"],
        statuses(&[(200, 1), (409, 1)])
    );
}

#[tokio::test]
async fn confirm_after_the_reservation_ttl_is_410_expired() {
    let s = BookingRush::start(Config {
        enforce_pass: false,
        reservation_ttl: Duration::from_millis(200),
        ..quiet()
    })
    .await;
    let http = Http::new(&s);
    let a = s.token_for("a@x.io");
    let id = run(
        &http,
        &Row::new(
            "reserve",
            Method::POST,
            RESERVE,
            201,
            Shape::Fields(RESERVED_FIELDS),
        )
        .auth(&a)
        .key("r1")
        .body(reserve_body("Z1", 3, None)),
    )
    .await
    .json()["booking_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(s.available_seats("Z1"), Some(97));
    tokio::time::sleep(Duration::from_millis(400)).await;
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
    let zone = run(
        &http,
        &Row::new(
            "seats are back",
            Method::GET,
            "/api/v1/zones/Z1",
            200,
            Shape::Data,
        )
        .auth(&a),
    )
    .await;
    assert_eq!(zone.json()["data"]["available_seats"], 100);
    let c = s.counts();
    assert_eq!((c.expired, c.confirmations), (1, 0));
}

#[tokio::test]
async fn rate_limit_per_forwarded_ip_and_class() {
    let s = BookingRush::start(Config {
        limits: Limits {
            auth: Bucket {
                per_second: 1,
                burst: 3,
            },
            confirm: Bucket {
                per_second: 1,
                burst: 1,
            },
            ..Limits::default()
        },
        ..Config::default()
    })
    .await;
    let http = Http::new(&s);
    let ip1 = "10.0.0.1, 192.168.7.7";
    let login = |name, status, shape, xff: Option<&str>| {
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
    for left in ["2", "1", "0"] {
        let r = run(
            &http,
            &login("login from ip 1", 200, Shape::Data, Some(ip1)),
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
    }
    let limited = run(
        &http,
        &login(
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
        &login("login from ip 2", 200, Shape::Data, Some("10.0.0.2")),
    )
    .await;
    assert_eq!(other.header("x-ratelimit-remaining").as_deref(), Some("2"));
    let peer = run(
        &http,
        &login("login from the peer address", 200, Shape::Data, None),
    )
    .await;
    assert_eq!(peer.header("x-ratelimit-remaining").as_deref(), Some("2"));
    // Another class for the same IP.
    let token = s.token_for("a@x.io");
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
        &login(
            "login from ip 1 after Retry-After",
            200,
            Shape::Data,
            Some(ip1),
        ),
    )
    .await;

    let c = s.counts();
    assert_eq!(c.rate_limited, 3);
    assert_eq!(c.logins, 6);
    assert_eq!(
        c.by_route["POST /api/v1/auth/login"],
        statuses(&[(200, 6), (429, 1)])
    );
    assert_eq!(c.requests, 11);
}
