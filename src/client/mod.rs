//! The HTTP transport: one pooled hyper-util client per run, shared by every
//! simulated user.
//!
//! Three choices matter for honest numbers: TCP_NODELAY on (otherwise small
//! requests wait on Nagle), hyper-util's own silent retry of requests on
//! canceled pooled connections turned OFF (a retry tester must see every
//! attempt), and a cap on requests in flight, since the legacy client has no
//! cap on open connections and an uncapped open-model run drowns in sockets.

mod cookies;
pub mod fdlimit;
pub mod probe;
mod stats;
mod tls;
pub mod trace;

pub use cookies::CookieJar;
pub use probe::{remote_ledger, remote_sim};
pub use stats::{Snapshot, TransportStats};
pub use tls::{TlsError, TlsOptions};

use crate::outcome::NetError;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Response bodies larger than this are an error: a load generator must not
/// buffer a runaway body into memory.
pub const BODY_LIMIT: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid target URL `{0}`")]
    Url(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// What the target answered.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Bytes,
    /// `Set-Cookie` values (for the user's cookie jar); empty, and not
    /// allocated, when there are none.
    pub set_cookies: Vec<HeaderValue>,
}

/// Why no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Net(NetError),
}

#[derive(Clone)]
pub struct HttpClient {
    inner: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    base_path: String,
    permits: Arc<Semaphore>,
    defaults: Arc<HeaderMap>,
    cap: Option<Arc<Cap>>,
    /// The target is a stampede simulator (embedded or `stampede serve`).
    simulator: bool,
    stats: Arc<TransportStats>,
    trace: Option<Arc<trace::Tracer>>,
}

/// The attempts-per-second safety cap, and how often it held an attempt back.
struct Cap {
    limiter: governor::DefaultDirectRateLimiter,
    throttled: AtomicU64,
}

impl HttpClient {
    /// `base` is the target URL (its path becomes a prefix of every request
    /// path); `max_rps` holds attempts to at most that many per second.
    pub fn with_cap(
        base: &str,
        connections: usize,
        defaults: HeaderMap,
        tls: &TlsOptions,
        max_rps: Option<f64>,
    ) -> Result<Self, ClientError> {
        let uri: Uri = base.parse().map_err(|_| ClientError::Url(base.into()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned())
        else {
            return Err(ClientError::Url(base.into()));
        };
        let base_path = uri.path().trim_end_matches('/').to_string();
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.client_config()?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(connections)
            .retry_canceled_requests(false)
            .build(https);
        Ok(Self {
            inner,
            scheme,
            authority,
            base_path,
            permits: Arc::new(Semaphore::new(connections)),
            defaults: Arc::new(defaults),
            cap: max_rps.map(|r| {
                let rate = NonZeroU32::new(r.clamp(1.0, u32::MAX as f64) as u32)
                    .unwrap_or(NonZeroU32::MIN);
                // 10 ms worth of burst: smooth, but no penalty for timer jitter.
                let burst = NonZeroU32::new((rate.get() / 100).max(1)).unwrap_or(NonZeroU32::MIN);
                Arc::new(Cap {
                    limiter: governor::RateLimiter::direct(
                        governor::Quota::per_second(rate).allow_burst(burst),
                    ),
                    throttled: AtomicU64::new(0),
                })
            }),
            simulator: false,
            stats: Arc::default(),
            trace: None,
        })
    }

    /// Print every request and response (`--trace`), secrets redacted.
    pub fn with_trace(mut self, tracer: Option<trace::Tracer>) -> Self {
        self.trace = tracer.map(Arc::new);
        self
    }

    /// What the transport saw so far (answers, failures by kind).
    pub fn stats(&self) -> Snapshot {
        self.stats.snapshot()
    }

    /// Mark the target as a stampede simulator (it knows generated tokens
    /// and keeps a ledger).
    pub fn with_simulator(mut self, yes: bool) -> Self {
        self.simulator = yes;
        self
    }

    pub fn is_simulator(&self) -> bool {
        self.simulator
    }

    /// Attempts the safety cap held back so far.
    pub fn throttled(&self) -> u64 {
        self.cap.as_ref().map_or(0, |c| c.throttled.load(Relaxed))
    }

    /// Wait until the attempts/s cap lets one more attempt go. Called before
    /// an attempt's clock starts: the wait is the generator's, not the target's.
    pub async fn pace(&self) {
        if let Some(cap) = &self.cap
            && cap.limiter.check().is_err()
        {
            cap.throttled.fetch_add(1, Relaxed);
            Box::pin(cap.limiter.until_ready()).await;
        }
    }

    /// One attempt. The timeout covers waiting for a connection slot, the
    /// exchange and reading the body, as a browser's or SDK's timeout would.
    pub async fn send(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let deadline = Instant::now() + timeout;
        match tokio::time::timeout_at(deadline, self.exchange(method, path, headers, body)).await {
            Ok(r) => r,
            Err(_) => {
                self.stats.timed_out();
                Err(Failure::Timeout)
            }
        }
    }

    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Response, Failure> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::Net(NetError::Other))?;
        let pq = format!("{}{}", self.base_path, path);
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|_| Failure::Net(NetError::Other))?;
        let mut req = Request::builder().method(method.clone()).uri(uri);
        if let Some(h) = req.headers_mut() {
            for (k, v) in self.defaults.iter() {
                h.insert(k, v.clone());
            }
            for (k, v) in headers.iter() {
                h.insert(k, v.clone());
            }
            if body.is_some() && !h.contains_key(http::header::CONTENT_TYPE) {
                h.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
        }
        let body = body.unwrap_or_default();
        if let (Some(t), Some(h)) = (&self.trace, req.headers_ref()) {
            t.request(method, &uri_of(&req), h, &body);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|_| Failure::Net(NetError::Other))?;
        let resp = self.inner.request(req).await.map_err(|e| {
            let kind = self.net_error(&e);
            if let Some(t) = &self.trace {
                t.failure(kind.label());
            }
            Failure::Net(kind)
        })?;
        self.stats.answered();
        let traced_headers = self.trace.as_ref().map(|_| resp.headers().clone());
        let status = resp.status().as_u16();
        let set_cookies: Vec<HeaderValue> = resp
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Limited::new(resp.into_body(), BODY_LIMIT)
            .collect()
            .await
            .map_err(|e| Failure::Net(self.net_error(e.as_ref())))?
            .to_bytes();
        // A small slice of hyper's read buffer keeps the whole buffer alive:
        // 100k users waiting in backoff, each holding a 30-byte error body,
        // would pin 100k buffers. Copy out what we keep.
        let body = Bytes::copy_from_slice(&body);
        if let (Some(t), Some(h)) = (&self.trace, &traced_headers) {
            t.response(status, h, &body);
        }
        Ok(Response {
            status,
            retry_after,
            body,
            set_cookies,
        })
    }
}

/// The URI a request builder holds (for the trace).
fn uri_of(req: &http::request::Builder) -> Uri {
    req.uri_ref().cloned().unwrap_or_default()
}

impl HttpClient {
    /// Classify a transport error and count it.
    fn net_error(&self, e: &(dyn std::error::Error + 'static)) -> NetError {
        let (kind, messages) = classify(e);
        self.stats.failed(kind, || messages.join(": "));
        kind
    }
}

/// The kind of a transport error, from its whole chain (hyper-util wraps
/// the io error that says "connection refused" two or three levels deep),
/// and the chain's messages (outermost first).
fn classify(e: &(dyn std::error::Error + 'static)) -> (NetError, Vec<String>) {
    let mut messages = Vec::new();
    let mut io_kind = None;
    let mut cur = Some(e);
    while let Some(err) = cur {
        messages.push(err.to_string());
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        cur = err.source();
    }
    (NetError::from_chain(&messages, io_kind), messages)
}
