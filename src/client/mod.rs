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
//! one attempt; POST and PATCH are never written again. A request whose
//! write failed after the server had answered (a 413 to an upload it will
//! not read, then the close) gets that answer ([`h1`] reads what the socket
//! holds before the write error counts), never a resend.
//!
//! Idle HTTP/1 connections expire after `target.keep_alive` (default 4 s, below
//! common servers' idle timeouts) and are closed unused; one the server
//! closed since its answer is found at checkout (the kernel is asked) and
//! replaced, counted as a reconnect. An answer that is not valid HTTP
//! fails as INVALID_RESPONSE, its reason kept in the stats
//! (`first_invalid`) and said in the report's notes. An attempt that
//! failed on the generator before any byte was written
//! ([`NetError::not_sent`]) is counted apart by the engine.
//!
//! [`HttpClient::open_stream`] sends a request like [`HttpClient::send`]
//! and hands a 2xx `text/event-stream` answer back as an [`EventStream`]:
//! its events parsed ([`sse`]) as they arrive, the connection and its
//! permit held until the stream is dropped (never back to the pool).

mod cookies;
mod event_stream;
mod failure;
pub mod fdlimit;
mod h1;
mod h2slots;
mod pool;
mod response;
mod send;

pub mod proxy;
pub mod sse;
mod stats;
mod tls;
pub mod trace;
pub mod transport;

pub use cookies::CookieJar;
pub use event_stream::{EventStream, Opened};

pub use proxy::{Proxy, ProxySetting};
pub use sse::Event;
pub use stats::{Snapshot, TransportStats};
pub use tls::{TlsError, TlsOptions};
pub use transport::{Dial, Transport};

use crate::outcome::NetError;
use bytes::Bytes;
use event_stream::{Source, Streaming};
use failure::{failed, transport_failure};
use h1::Head;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use pool::Conn;
use response::Rest;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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
    /// `grpc-retry-pushback-ms`, raw.
    pub pushback: Option<String>,
    /// The rate-limit headers, raw.
    pub rate_limit: crate::policy::RateLimitFields,
    pub body: Bytes,
    /// `Set-Cookie` values (for the user's cookie jar); empty, and not
    /// allocated, when there are none.
    pub set_cookies: Vec<HeaderValue>,
}

/// When an attempt's request could be written: after its connection
/// permit, a new connection's handshakes (TCP, TLS, HTTP/2) and, over
/// HTTP/2, a stream slot under the server's `SETTINGS_MAX_CONCURRENT_STREAMS`.
/// The time before is the attempt's queue wait, kept out of its latency.
#[derive(Debug, Default)]
pub struct QueueWait(OnceLock<Instant>);

impl QueueWait {
    fn ready(&self) {
        let _ = self.0.set(Instant::now());
    }

    /// Could the request be written (has it left the generator)?
    pub fn written(&self) -> bool {
        self.0.get().is_some()
    }

    /// From `start` until the request could be written, or until `end` when
    /// it never was (a timeout in the queue, a refused connection).
    pub fn since(&self, start: Instant, end: Instant) -> Duration {
        self.0
            .get()
            .map_or(end, |r| (*r).min(end))
            .saturating_duration_since(start)
    }
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
    /// On tokio time, so a virtual-time run is paced on its own clock.
    limiter: governor::RateLimiter<
        governor::state::NotKeyed,
        governor::state::InMemoryState,
        crate::clock::TokioClock,
        governor::middleware::NoOpMiddleware<Duration>,
    >,
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
        Self::over(
            base,
            connections,
            defaults,
            tls,
            max_rps,
            proxy,
            Transport::Tcp,
        )
    }

    /// Like [`Self::with_cap`], but every connection is an in-memory pipe
    /// from `dial` ([`transport`]): no socket, no proxy. `base` (http://)
    /// gives the Host header and the path prefix only.
    pub fn in_memory(
        base: &str,
        connections: usize,
        defaults: HeaderMap,
        max_rps: Option<f64>,
        dial: Arc<dyn Dial>,
    ) -> Result<Self, ClientError> {
        Self::over(
            base,
            connections,
            defaults,
            &TlsOptions::default(),
            max_rps,
            None,
            Transport::Memory(dial),
        )
    }

    fn over(
        base: &str,
        connections: usize,
        defaults: HeaderMap,
        tls: &TlsOptions,
        max_rps: Option<f64>,
        proxy: Option<Proxy>,
        transport: Transport,
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
        let stats = Arc::<TransportStats>::default();
        let pool = pool::Pool::new(authority.host(), port, tls, proxy)
            .map_err(ClientError::Url)?
            .with_stats(stats.clone())
            .with_transport(transport);
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
                    limiter: governor::RateLimiter::direct_with_clock(
                        governor::Quota::per_second(rate).allow_burst(burst),
                        crate::clock::TokioClock::new(),
                    ),
                    throttled: AtomicU64::new(0),
                })
            }),
            simulator: false,
            stats,
            trace: None,
            forward,
        })
    }

    /// Keep an idle HTTP/1 connection for at most `d` (`target.keep_alive`;
    /// zero: every request on a new connection). Before the first request.
    pub fn with_keep_alive(mut self, d: std::time::Duration) -> Self {
        if let Some(pool) = Arc::get_mut(&mut self.pool) {
            pool.set_keep_alive(d);
        }
        self
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
}

#[cfg(test)]
mod stream_tests;

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
    async fn an_event_stream_opened_on_a_connection_closed_as_it_went_out_is_sent_once_more() {
        let (url, read) = closes_kept_alive_connections().await;
        let c = client(&url, None);
        assert!(call(&c, Method::GET).await.is_ok());
        let opened = c
            .open_stream(
                &Method::GET,
                "/a",
                HeaderMap::new(),
                None,
                Duration::from_secs(5),
            )
            .await;
        // Not an event stream: the answer, read whole.
        let Ok(Opened::Answer(r)) = opened else {
            panic!("{opened:?}");
        };
        assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
        assert_eq!((c.stats().resent, read.load(Relaxed)), (1, 2));
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
