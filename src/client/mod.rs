//! The HTTP transport: one connection pool per run, shared by every
//! simulated user.
//!
//! Three choices matter for honest numbers: TCP_NODELAY on (otherwise small
//! requests wait on Nagle), no silent retry of a request on a pooled
//! connection the server closed (a retry tester must see every attempt), and
//! a hard cap on sockets: `connections` permits, each one request in flight
//! or one idle connection (see [`pool`]). HTTP/1.1 is spoken by [`h1`], in
//! the sending user's task; HTTP/2 by hyper.
//!
//! One exception to the first rule, counted and said in the report's notes:
//! a request with an idempotent method whose kept-alive connection the
//! server had closed before answering a single byte (the end of the stream
//! or a reset, RFC 9112 §9.3.1: the server closed it as the request went
//! out) is written once more on a new connection. Proxies such as tinyproxy
//! close every client connection after one answer without saying
//! `Connection: close`; without this, one attempt in a few through them
//! failed as CONNECTION_CLOSED although the target never saw it. It stays
//! one attempt; POST and PATCH are never written again.

mod cookies;
pub mod fdlimit;
mod h1;
mod pool;
pub mod probe;
pub mod proxy;
mod stats;
mod tls;
pub mod trace;

pub use cookies::CookieJar;
pub use probe::{remote_ledger, remote_sim};
pub use proxy::{Proxy, ProxySetting};
pub use stats::{Snapshot, TransportStats};
pub use tls::{TlsError, TlsOptions};

use crate::outcome::NetError;
use bytes::Bytes;
use h1::Head;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use pool::Conn;
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
    #[error("proxy: {0}")]
    Proxy(String),
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
    pool: Arc<pool::Pool>,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    /// The Host header of every HTTP/1 request (port only when not the default).
    host: HeaderValue,
    base_path: String,
    permits: Arc<Semaphore>,
    defaults: Arc<HeaderMap>,
    cap: Option<Arc<Cap>>,
    /// The target is a stampede simulator (embedded or `stampede serve`).
    simulator: bool,
    stats: Arc<TransportStats>,
    trace: Option<Arc<trace::Tracer>>,
    /// Requests go to an HTTP proxy (an http:// target through a proxy):
    /// absolute-form URIs, and this `Proxy-Authorization` when it has one.
    forward: Option<Option<HeaderValue>>,
}

/// The attempts-per-second safety cap, and how often it held an attempt back.
struct Cap {
    limiter: governor::DefaultDirectRateLimiter,
    throttled: AtomicU64,
}

impl HttpClient {
    /// `base` is the target URL (its path becomes a prefix of every request
    /// path); `max_rps` holds attempts to at most that many per second;
    /// `proxy`, when given, carries every connection ([`proxy::resolve`]).
    pub fn with_cap(
        base: &str,
        connections: usize,
        defaults: HeaderMap,
        tls: &TlsOptions,
        max_rps: Option<f64>,
        proxy: Option<Proxy>,
    ) -> Result<Self, ClientError> {
        let uri: Uri = base.parse().map_err(|_| ClientError::Url(base.into()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned())
        else {
            return Err(ClientError::Url(base.into()));
        };
        let base_path = uri.path().trim_end_matches('/').to_string();
        let https = scheme == http::uri::Scheme::HTTPS;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let mut cfg = tls.client_config()?;
            cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Some(Arc::new(cfg))
        } else {
            None
        };
        let forward = proxy.as_ref().filter(|_| !https).map(|p| p.auth.clone());
        let pool = pool::Pool::new(authority.host(), port, tls, proxy).map_err(ClientError::Url)?;
        let host =
            HeaderValue::from_str(authority.as_str()).map_err(|_| ClientError::Url(base.into()))?;
        Ok(Self {
            pool: Arc::new(pool),
            scheme,
            authority,
            host,
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
            forward,
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
    ///
    /// The wait is tokio's timer, not governor's `until_ready`: that one
    /// sleeps on `futures_timer`, whose global thread is woken by a syscall
    /// for every delay (a tenth of the generator's CPU at the 20,000/s cap
    /// in a `perf` profile of a closed model). Boxed: only a user held back
    /// carries the sleep.
    pub async fn pace(&self) {
        let Some(cap) = &self.cap else {
            return;
        };
        let mut held = false;
        while let Err(not_until) = cap.limiter.check() {
            if !held {
                cap.throttled.fetch_add(1, Relaxed);
                held = true;
            }
            let wait = not_until.wait_time_from(governor::clock::Clock::now(cap.limiter.clock()));
            Box::pin(tokio::time::sleep(wait)).await;
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

    /// The request of one attempt, as [`Self::send`] sends it: the path
    /// under the target's base path, the attempt's headers over the target's
    /// defaults (merged into the attempt's own map, no second map), a JSON
    /// content type for a body, and Host for HTTP/1 (HTTP/2 takes scheme and
    /// authority as pseudo-headers instead). Through a forwarding proxy the
    /// URI is absolute (`http://host:port/path`) and the proxy's credentials
    /// go in `Proxy-Authorization`. Public for the hot-path bench.
    pub fn build_request(
        &self,
        method: &Method,
        path: &str,
        mut headers: HeaderMap,
        body: Option<Bytes>,
        h2: bool,
    ) -> Result<Request<Full<Bytes>>, Failure> {
        let pq = if self.base_path.is_empty() {
            http::uri::PathAndQuery::try_from(path)
        } else {
            http::uri::PathAndQuery::try_from(format!("{}{}", self.base_path, path))
        }
        .map_err(|_| Failure::Net(NetError::Other))?;
        let mut parts = http::uri::Parts::default();
        if h2 || self.forward.is_some() {
            parts.scheme = Some(self.scheme.clone());
            parts.authority = Some(self.authority.clone());
        }
        parts.path_and_query = Some(pq);
        let uri = Uri::from_parts(parts).map_err(|_| Failure::Net(NetError::Other))?;
        for (k, v) in self.defaults.iter() {
            if !headers.contains_key(k) {
                headers.insert(k, v.clone());
            }
        }
        if body.is_some() && !headers.contains_key(http::header::CONTENT_TYPE) {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if !h2 && !headers.contains_key(http::header::HOST) {
            headers.insert(http::header::HOST, self.host.clone());
        }
        if let Some(Some(auth)) = &self.forward {
            headers.insert(http::header::PROXY_AUTHORIZATION, auth.clone());
        }
        let mut req = Request::new(Full::new(body.unwrap_or_default()));
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        Ok(req)
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
        // Boxed: the exchange (checkout, hyper's send, reading the body) is
        // large, and a request waiting for its permit (thousands of them
        // when the target is slow) should not reserve its space.
        Box::pin(self.exchange_on_permit(method, path, headers, body)).await
    }

    async fn exchange_on_permit(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Response, Failure> {
        let (mut conn, reused) = self
            .pool
            .checkout()
            .await
            .map_err(|e| self.connect_failure(&e))?;
        // Only `--trace` keeps a handle on the body (a reference count).
        let traced_body = self
            .trace
            .as_ref()
            .map(|_| body.clone().unwrap_or_default());
        let req = self.build_request(method, path, headers, body, conn.is_h2())?;
        if let (Some(t), Some(b)) = (&self.trace, &traced_body) {
            // The full URL, whatever form the request line takes.
            let full = Uri::builder()
                .scheme(self.scheme.clone())
                .authority(self.authority.clone())
                .path_and_query(req.uri().path_and_query().map_or("/", |p| p.as_str()))
                .build()
                .unwrap_or_default();
            t.request(method, &full, req.headers(), b);
        }
        let traced = self.trace.is_some();
        let (head, body) = match &mut conn {
            Conn::H1(c) => {
                let wire = h1::Wire::new(req);
                let head = match c.send(&wire, traced).await {
                    Ok(head) => head,
                    // The server closed the kept-alive connection as the
                    // request went out: once more, on a new one (counted,
                    // and said in the report's notes).
                    Err(e) if reused && wire.idempotent && c.is_stale(&e) => {
                        self.stats.resent();
                        let Conn::H1(fresh) = self
                            .pool
                            .fresh()
                            .await
                            .map_err(|e| self.connect_failure(&e))?
                        else {
                            return Err(self.transport_failure(&e));
                        };
                        *c = fresh;
                        c.send(&wire, traced)
                            .await
                            .map_err(|e| self.transport_failure(&e))?
                    }
                    Err(e) => return Err(self.transport_failure(&e)),
                };
                self.stats.answered();
                let body = c
                    .body(&head)
                    .await
                    .map_err(|e| self.transport_failure(&e))?;
                (head, body)
            }
            Conn::H2(s) => {
                let resp = s
                    .send_request(req)
                    .await
                    .map_err(|e| self.transport_failure(&e))?;
                self.stats.answered();
                h2_answer(resp, traced)
                    .await
                    .map_err(|e| self.transport_failure(e.as_ref()))?
            }
        };
        // Read whole: the connection is idle again, before the permit goes.
        self.pool.checkin(conn);
        if let (Some(t), Some(h)) = (&self.trace, &head.headers) {
            t.response(head.status, h, &body);
        }
        let Head {
            status,
            retry_after,
            set_cookies,
            ..
        } = head;
        Ok(Response {
            status,
            retry_after,
            body,
            set_cookies,
        })
    }
}

/// An HTTP/2 answer as an HTTP/1 one reads: its head, then its body
/// (at most [`BODY_LIMIT`]).
async fn h2_answer(
    resp: http::Response<hyper::body::Incoming>,
    trace: bool,
) -> Result<(Head, Bytes), Box<dyn std::error::Error + Send + Sync>> {
    let headers = resp.headers();
    let head = Head::new(
        resp.status().as_u16(),
        headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .cloned()
            .collect(),
        trace.then(|| headers.clone()),
    );
    let body = Limited::new(resp.into_body(), BODY_LIMIT)
        .collect()
        .await?
        .to_bytes();
    Ok((head, body))
}

impl HttpClient {
    /// No connection: the attempt's failure, classified (a failure at the
    /// proxy by its own kind), counted and shown by `--trace`.
    fn connect_failure(&self, e: &pool::ConnectError) -> Failure {
        use pool::{ConnectError, ProxyFailure};
        let ConnectError::Proxy(p) = e else {
            return self.transport_failure(e.as_error());
        };
        let (kind, text) = match p {
            ProxyFailure::Connect(io) => {
                let (kind, messages) = classify(io);
                (
                    kind.at_proxy(),
                    format!("connecting to the proxy: {}", messages.join(": ")),
                )
            }
            ProxyFailure::Status(s) if *s == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED => (
                NetError::ProxyAuth,
                format!("the proxy answered {s} to CONNECT"),
            ),
            ProxyFailure::Status(s) => (
                NetError::ProxyTunnel,
                format!("the proxy answered {s} to CONNECT"),
            ),
            ProxyFailure::Handshake(h) => (
                NetError::ProxyTunnel,
                format!(
                    "the proxy did not answer CONNECT: {}",
                    classify(h).1.join(": ")
                ),
            ),
        };
        self.stats.failed(kind, || text);
        if let Some(t) = &self.trace {
            t.failure(kind.label());
        }
        Failure::Net(kind)
    }

    /// A transport error as the attempt's failure: classified, counted and
    /// shown by `--trace`.
    fn transport_failure(&self, e: &(dyn std::error::Error + 'static)) -> Failure {
        let kind = self.net_error(e);
        if let Some(t) = &self.trace {
            t.failure(kind.label());
        }
        Failure::Net(kind)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn client(target: &str, proxy: Option<&str>) -> HttpClient {
        let proxy = proxy.map(|p| {
            proxy::resolve_with(&ProxySetting::Env, &target.parse().unwrap(), |k| {
                (k == "ALL_PROXY").then(|| p.to_string())
            })
            .unwrap()
            .expect("a proxy")
        });
        HttpClient::with_cap(
            target,
            4,
            HeaderMap::new(),
            &TlsOptions::default(),
            None,
            proxy,
        )
        .expect("client")
    }

    fn request(c: &HttpClient) -> Request<Full<Bytes>> {
        c.build_request(&Method::GET, "/a?x=1", HeaderMap::new(), None, false)
            .expect("request")
    }

    #[test]
    fn through_a_forwarding_proxy_the_uri_is_absolute_with_the_proxys_credentials() {
        let direct = request(&client("http://127.0.0.1:9/base", None));
        assert_eq!(direct.uri(), "/base/a?x=1");
        assert!(
            !direct
                .headers()
                .contains_key(http::header::PROXY_AUTHORIZATION)
        );

        let r = request(&client(
            "http://127.0.0.1:9/base",
            Some("http://127.0.0.1:3128"),
        ));
        assert_eq!(r.uri(), "http://127.0.0.1:9/base/a?x=1");
        assert_eq!(r.headers()[http::header::HOST], "127.0.0.1:9");
        assert!(!r.headers().contains_key(http::header::PROXY_AUTHORIZATION));

        let r = request(&client(
            "http://127.0.0.1:9",
            Some("http://u:p@127.0.0.1:3128"),
        ));
        let auth = &r.headers()[http::header::PROXY_AUTHORIZATION];
        assert_eq!(auth, "Basic dTpw");
        assert!(auth.is_sensitive());
    }

    #[test]
    fn through_a_connect_tunnel_requests_stay_in_origin_form_without_proxy_headers() {
        let r = request(&client(
            "https://127.0.0.1:9",
            Some("http://u:p@127.0.0.1:3128"),
        ));
        assert_eq!(r.uri(), "/a?x=1");
        assert!(!r.headers().contains_key(http::header::PROXY_AUTHORIZATION));
    }

    /// A server that answers the first request of a connection, then
    /// closes that connection as soon as a second request arrives on it,
    /// without reading it (the kernel resets it): a kept-alive connection
    /// closed just as the request went out. Returns the address and the
    /// number of requests it read whole.
    async fn closes_kept_alive_connections() -> (String, Arc<AtomicU64>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let read = Arc::new(AtomicU64::new(0));
        let count = read.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    while !got.ends_with(b"\r\n\r\n") {
                        let mut b = [0u8; 1];
                        if s.read(&mut b).await.unwrap_or(0) == 0 {
                            return;
                        }
                        got.push(b[0]);
                    }
                    count.fetch_add(1, Relaxed);
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    s.write_all(ok).await.unwrap();
                    // The next request arrives; close without reading it.
                    let _ = s.peek(&mut [0u8; 1]).await;
                    drop(s);
                });
            }
        });
        (url, read)
    }

    /// One attempt with `method` on `/a`, no body.
    async fn call(c: &HttpClient, method: Method) -> Result<Response, Failure> {
        c.send(
            &method,
            "/a",
            HeaderMap::new(),
            None,
            Duration::from_secs(5),
        )
        .await
    }

    #[tokio::test]
    async fn a_get_on_a_connection_closed_as_it_went_out_is_sent_once_more_and_counted() {
        let (url, read) = closes_kept_alive_connections().await;
        let c = client(&url, None);
        for _ in 0..3 {
            let r = call(&c, Method::GET).await.expect("answered");
            assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
        }
        let st = c.stats();
        // The 2nd and 3rd found their connection closed and went again.
        assert_eq!((st.answered, st.resent), (3, 2));
        // The server read each request once: as many as attempts.
        assert_eq!(read.load(Relaxed), 3);
        assert!(st.notes()[0].contains("2 requests found their kept-alive connection closed"));
    }

    #[tokio::test]
    async fn a_post_on_a_connection_closed_as_it_went_out_fails_and_is_not_sent_again() {
        let (url, read) = closes_kept_alive_connections().await;
        let c = client(&url, None);
        // No body: the server reads heads only.
        assert!(call(&c, Method::POST).await.is_ok());
        let e = call(&c, Method::POST)
            .await
            .expect_err("not idempotent: not resent");
        assert!(
            matches!(e, Failure::Net(NetError::Reset | NetError::Closed)),
            "{e:?}"
        );
        assert_eq!((c.stats().resent, read.load(Relaxed)), (0, 1));
    }
}
