//! Loopback client helpers shared by the simulator tests.
#![allow(dead_code)]

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use stampede::sim::{Ledger, SimConfig, SimServer};
use std::time::Duration;

pub mod bin;
pub mod booking_rush;
pub mod browser;
pub mod folders;
pub mod hostile;
pub mod logserver;
pub mod rawhttp;
pub mod scenario;
pub mod tinyproxy;
pub mod tls;
pub mod wait;

#[allow(unused_imports)]
pub use bin::{read_summary, stampede};
#[allow(unused_imports)]
pub use scenario::scenario;
#[allow(unused_imports)]
pub use wait::{eventually, free_port, wait_exit, wait_for, wait_listening};

/// Every file a finished run writes into its report folder.
pub const REPORT_FILES: &[&str] = &[
    "summary.json",
    "report.html",
    "junit.xml",
    "summary.csv",
    "latency.csv",
    "outcomes.csv",
    "retries.csv",
    "timeseries.csv",
    "latency_series.csv",
    "funnel.csv",
    "waits.csv",
];

/// A scenario written inline in a test (errors name `tests/inline.toml`).
pub fn plan(src: &str) -> stampede::scenario::Plan {
    stampede::scenario::parse(
        src,
        std::path::Path::new("tests/inline.toml"),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("scenario should be valid: {e}"))
}

/// `users` closed-model users each sending 5 GETs of `/x` to `url`, no
/// retries and no ledger look-up (every request the target counts is
/// load), `target_keys` added to `[target]`; written to `<dir>/<name>.toml`,
/// run through the library, and the fleet's result returned once every
/// attempt is asserted OK.
pub async fn closed_gets(
    dir: &std::path::Path,
    name: &str,
    url: &str,
    users: u32,
    target_keys: &[(&str, &str)],
) -> stampede::model::FleetResult {
    let mut s = scenario().name(name).compare(&["no-retry"]).target(url);
    for (k, v) in target_keys {
        s = s.target_key(k, v);
    }
    let file = s
        .target_key("timeout", "\"30s\"")
        .target_key("ledger", "false")
        .closed(users, 5, "60s")
        .drain("30s")
        .event("E1", &["A"])
        .journey_key("steps", r#"[{ name = "get", path = "/x" }]"#)
        .table("[users]\ngenerated_tokens = true")
        .write(dir.join(format!("{name}.toml")));
    let plan = stampede::scenario::load(&file, &Default::default()).expect("valid scenario");
    let mut report = run(&plan).await;
    let c = report.results.remove(0);
    let n = u64::from(users) * 5;
    assert_eq!(
        c.counts.attempts, n,
        "{users} users x 5 iterations: {:?}",
        c.counts.outcomes
    );
    assert_eq!(
        c.counts.outcomes.get("OK").copied(),
        Some(n),
        "{:?}",
        c.counts.outcomes
    );
    c
}

/// Run a plan through the library, as the binary does.
pub async fn run(plan: &stampede::scenario::Plan) -> stampede::report::Report {
    stampede::run::execute(plan, &stampede::engine::Control::default(), None)
        .await
        .expect("run")
        .report
}

/// One request through `client`: the answer's status, headers and body
/// still to be read (each caller reads it its own way).
pub async fn exchange(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: String,
    method: Method,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, HeaderMap, hyper::body::Incoming), hyper_util::client::legacy::Error> {
    let mut b = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let resp = client.request(req).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Ok((status, headers, resp.into_body()))
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// A config with no rate limits, no contention and instant service, so
/// functional tests only see the rule under test.
pub fn quiet_config() -> SimConfig {
    let mut cfg = SimConfig::default();
    cfg.rate_limit.per_user_per_second = 0;
    cfg.capacity.service_time = Duration::ZERO;
    cfg.capacity.latency_per_in_flight = Duration::ZERO;
    cfg.capacity.workers = 64;
    cfg.capacity.queue = 10_000;
    // Paused-time tests advance minutes at once: the client's pooled
    // keep-alive connection must not meet the idle timeout meanwhile.
    cfg.connections.idle_timeout = stampede::sim::MAX_CONNECTION_TIMEOUT;
    cfg
}

pub async fn start(cfg: SimConfig) -> SimServer {
    SimServer::start(cfg, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("simulator starts")
}

#[derive(Clone)]
pub struct Api {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Api {
    pub fn new(server: &SimServer) -> Self {
        Self::build(server, false)
    }

    /// One multiplexed h2c connection: lots of concurrency, few sockets.
    pub fn h2(server: &SimServer) -> Self {
        Self::build(server, true)
    }

    fn build(server: &SimServer, h2: bool) -> Self {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .http2_only(h2)
            .build(conn);
        Self {
            base: format!("http://{}", server.addr()),
            client,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, hyper_util::client::legacy::Error> {
        let url = format!("{}{}", self.base, path);
        let (status, headers, body) = exchange(&self.client, url, method, headers, body).await?;
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path, headers, "")
            .await
            .expect("GET answered")
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.send(Method::POST, path, headers, body)
            .await
            .expect("POST answered")
    }

    pub async fn reserve(&self, user: &str, key: Option<&str>, zone: &str, qty: i64) -> Reply {
        let auth = format!("Bearer {user}");
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(k) = key {
            h.push(("idempotency-key", k));
        }
        let body = format!(r#"{{"eventId":"E1","zoneId":"{zone}","quantity":{qty}}}"#);
        self.post("/bookings/reserve", &h, &body).await
    }
}

/// Polls the ledger until `pred` holds; returns the last snapshot. The
/// deadline is generous: this waits for background work, it does not
/// measure speed.
pub async fn wait_ledger(server: &SimServer, pred: impl Fn(&Ledger) -> bool) -> Ledger {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let l = server.ledger();
        if pred(&l) || tokio::time::Instant::now() > deadline {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A temp folder removed on drop (no tempfile crate in the dev-dependencies).
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let r = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let p =
            std::env::temp_dir().join(format!("stampede-{tag}-{}-{r:016x}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Complete lines of a run folder's `stream.partial.jsonl` (one per
/// streamed second) in which attempts were sent.
pub fn streamed_seconds_with_attempts(out: &std::path::Path) -> usize {
    let Ok(text) = std::fs::read_to_string(out.join("stream.partial.jsonl")) else {
        return 0;
    };
    let complete = &text[..text.rfind('\n').map_or(0, |p| p + 1)];
    complete
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["rows"].as_array().is_some_and(|rows| {
                rows.iter()
                    .any(|r| r["attempts"].as_u64().is_some_and(|a| a > 0))
            })
        })
        .count()
}
