//! The spec's vocabulary: paths, body shapes, a row (a request and the
//! answer the real API gives) and the buyer's steps the rows build on.

use super::client::{Http, bearer, text};
use crate::common::Reply;
use http::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const LOGIN: &str = "/api/v1/auth/login";
pub const REFRESH: &str = "/api/v1/auth/refresh";
pub const EVENTS: &str = "/api/v1/events";
pub const JOIN: &str = "/api/v1/queue/join";
pub const POSITION: &str = "/api/v1/queue/position/EVT1";
pub const STREAM: &str = "/api/v1/queue/position/EVT1/stream";
pub const RESERVE: &str = "/api/v1/bookings/reserve";
pub const ZONE: &str = "/api/v1/zones/Z1";
/// Both targets serve event `EVT1`, this show, zone `Z1`.
pub const SHOW: &str = "SHOW-EVT1";
pub const GOOD_LOGIN: &str = r#"{"email":"a@x.io","password":"correct-horse"}"#;
pub const JOIN_BODY: &str = r#"{"event_id":"EVT1"}"#;
pub const JOIN_FIELDS: &[&str] = &[
    "position",
    "token",
    "estimated_wait_seconds",
    "joined_at",
    "expires_at",
];
pub const POSITION_FIELDS: &[&str] = &[
    "position",
    "total_in_queue",
    "estimated_wait_seconds",
    "is_ready",
];
pub const RESERVED_FIELDS: &[&str] = &["booking_id", "status", "expires_at", "total_price"];
pub const CONFIRMED_FIELDS: &[&str] =
    &["booking_id", "status", "confirmed_at", "confirmation_code"];
pub const CANCELLED_FIELDS: &[&str] = &["booking_id", "status", "message"];

#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// `{"success":false,"error":{"code","message"}}` and nothing else.
    Nested(&'static str),
    /// `{"error":"<sentence>","code":"<CODE>","message"?}` (no `success`).
    Flat(&'static str),
    /// `{"success":true,"data":…}`.
    Data,
    /// A flat success body with these keys (no `success`, `error`, `code`),
    /// the first one first (Go's field order).
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
            let message = v["error"]["message"].as_str();
            assert!(
                message.is_some_and(|m| !m.is_empty()),
                "{ctx}: message: {body}"
            );
        }
        Shape::Flat(code) => {
            assert_eq!(v["code"], code, "{ctx}: flat code: {body}");
            let sentence = v["error"].as_str();
            assert!(
                sentence.is_some_and(|m| !m.is_empty()),
                "{ctx}: flat error: {body}"
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
pub struct Row {
    pub name: &'static str,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
    status: u16,
    shape: Shape,
}

impl Row {
    pub fn new(name: &'static str, method: Method, path: &str, status: u16, shape: Shape) -> Self {
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
    pub fn get(name: &'static str, path: &str, status: u16, shape: Shape) -> Self {
        Self::new(name, Method::GET, path, status, shape)
    }
    pub fn post(name: &'static str, path: &str, status: u16, shape: Shape) -> Self {
        Self::new(name, Method::POST, path, status, shape)
    }
    pub fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
    pub fn auth(self, token: &str) -> Self {
        self.header("authorization", bearer(token))
    }
    pub fn key(self, key: &str) -> Self {
        self.header("x-idempotency-key", key)
    }
    pub fn body(mut self, b: impl Into<String>) -> Self {
        self.body = b.into();
        self
    }
}

/// Runs a row: its status, its envelope, JSON's content type and the
/// target's mark (or its absence) on every answer.
pub async fn run(http: &Http, row: &Row) -> Reply {
    let h: Vec<(&str, &str)> = row.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = http
        .send(row.method.clone(), &row.path, &h, &row.body)
        .await;
    let name = row.name;
    assert_eq!(r.status, row.status, "{name}: status; body {}", text(&r));
    let mark = r.header("x-stampede-sim");
    assert_eq!(mark.as_deref(), http.mark, "{name}: simulator header");
    let json = "application/json; charset=utf-8";
    assert_eq!(r.header("content-type").as_deref(), Some(json), "{name}");
    check_shape(&r, row.shape, name);
    r
}

pub async fn run_all(http: &Http, rows: &[Row]) -> Vec<Reply> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(run(http, row).await);
    }
    out
}

pub fn statuses(pairs: &[(u16, u64)]) -> BTreeMap<u16, u64> {
    pairs.iter().copied().collect()
}

pub fn reserve_body(zone: &str, qty: i64, pass: Option<&str>) -> String {
    let mut v = json!({"event_id": "EVT1", "zone_id": zone, "show_id": SHOW, "quantity": qty});
    if let Some(p) = pass {
        v["queue_pass"] = json!(p);
    }
    v.to_string()
}

/// A reserve row of `token` under `key` that books (201).
pub fn reserve(name: &'static str, token: &str, key: &str, qty: i64) -> Row {
    Row::post(name, RESERVE, 201, Shape::Fields(RESERVED_FIELDS))
        .auth(token)
        .key(key)
        .body(reserve_body("Z1", qty, None))
}

pub fn booking_id(r: &Reply) -> String {
    r.json()["booking_id"].as_str().expect("id").to_owned()
}

/// Logs `email` in; its access token.
pub async fn login(http: &Http, email: &str) -> String {
    let body = json!({"email": email, "password": "correct-horse"}).to_string();
    let r = http.send(Method::POST, LOGIN, &[], &body).await;
    assert_eq!(r.status, 200, "login: {}", text(&r));
    r.json()["data"]["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

pub async fn join(http: &Http, token: &str, key: &str) -> Reply {
    let auth = bearer(token);
    let h = [("authorization", auth.as_str()), ("x-idempotency-key", key)];
    http.send(Method::POST, JOIN, &h, JOIN_BODY).await
}

/// Logs `email` in and joins the queue under key `j-a`; its access token.
pub async fn queued(http: &Http, email: &str) -> String {
    let token = login(http, email).await;
    let r = join(http, &token, "j-a").await;
    assert_eq!(r.status, 201, "join: {}", text(&r));
    token
}

/// The queue's stream of `token`, whole, after `Last-Event-ID: last`.
pub async fn stream(http: &Http, token: &str, last: Option<&str>) -> Reply {
    let h: Vec<(&str, &str)> = last.map(|id| ("last-event-id", id)).into_iter().collect();
    http.get(STREAM, token, &h).await
}

/// Polls the position until it carries a pass (deadline 10 s).
pub async fn wait_pass(http: &Http, token: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http.get(POSITION, token, &[]).await;
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

/// Joins under `key` and waits for the pass.
pub async fn pass_for(http: &Http, token: &str, key: &str) -> String {
    let r = join(http, token, key).await;
    assert_eq!(r.status, 201, "join: {}", text(&r));
    wait_pass(http, token).await
}
