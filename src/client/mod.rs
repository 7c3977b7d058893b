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
//! Idle HTTP/1 connections expire after `pool::KEEP_ALIVE` (4 s, below
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
pub mod fdlimit;
mod h1;
mod h2slots;
mod pool;

pub mod proxy;
pub mod sse;
mod stats;
mod tls;
pub mod trace;
pub mod transport;

pub use cookies::CookieJar;

pub use proxy::{Proxy, ProxySetting};
pub use sse::Event;
pub use stats::{Snapshot, TransportStats};
pub use tls::{TlsError, TlsOptions};
pub use transport::{Dial, Transport};

use crate::outcome::NetError;
use bytes::Bytes;
use h1::Head;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use pool::Conn;
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
        let queued = QueueWait::default();
        self.send_queued(method, path, headers, body, timeout, &queued)
            .await
    }

    /// [`Self::send`], and `queued` learns when the request could be written.
    pub async fn send_queued(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Duration,
        queued: &QueueWait,
    ) -> Result<Response, Failure> {
        let deadline = Instant::now() + timeout;
        let exchange = self.exchange(method, path, headers, body, queued);
        match tokio::time::timeout_at(deadline, exchange).await {
            Ok(r) => r,
            Err(_) => Err(self.timed_out()),
        }
    }

    /// Like [`Self::send`], but a 2xx `text/event-stream` answer is handed
    /// back as a stream. `timeout` bounds the wait for a connection slot
    /// and the answer's head (and the whole body when it is an
    /// [`Opened::Answer`]); the stream itself has no timeout (its reader
    /// races [`EventStream::next_event`] with its own deadline). Adds
    /// `Accept: text/event-stream` unless `headers` already have an Accept
    /// (the target's default headers come after it). The attempts/s cap
    /// ([`Self::pace`], called by the sender) and the connection permits
    /// apply as for `send`, as does the one resend of a GET on a kept-alive
    /// connection the server had closed; the stream holds its permit until
    /// dropped, and dropping it drops the connection (its body was not read
    /// to the end, so it never goes back to the pool).
    pub async fn open_stream(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Opened, Failure> {
        let queued = QueueWait::default();
        self.open_stream_queued(method, path, headers, body, timeout, &queued)
            .await
    }

    /// [`Self::open_stream`], and `queued` learns when the request could be written.
    pub async fn open_stream_queued(
        &self,
        method: &Method,
        path: &str,
        mut headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Duration,
        queued: &QueueWait,
    ) -> Result<Opened, Failure> {
        if !headers.contains_key(http::header::ACCEPT) {
            headers.insert(
                http::header::ACCEPT,
                HeaderValue::from_static("text/event-stream"),
            );
        }
        let deadline = Instant::now() + timeout;
        let open = async {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Failure::Net(NetError::Other))?;
            Box::pin(self.open_on_permit(permit, method, path, headers, body, queued)).await
        };
        match tokio::time::timeout_at(deadline, open).await {
            Ok(r) => r,
            Err(_) => Err(self.timed_out()),
        }
    }

    /// The client's own timeout, counted.
    fn timed_out(&self) -> Failure {
        self.stats.timed_out();
        Failure::Timeout
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
        queued: &QueueWait,
    ) -> Result<Response, Failure> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::Net(NetError::Other))?;
        // Boxed: the exchange (checkout, hyper's send, reading the body) is
        // large, and a request waiting for its permit (thousands of them
        // when the target is slow) should not reserve its space.
        Box::pin(self.exchange_on_permit(method, path, headers, body, queued)).await
    }

    async fn exchange_on_permit(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        queued: &QueueWait,
    ) -> Result<Response, Failure> {
        let (head, rest) = self
            .answer_head(method, path, headers, body, queued)
            .await?;
        self.read_whole(head, rest).await
    }

    async fn open_on_permit(
        &self,
        permit: OwnedSemaphorePermit,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        queued: &QueueWait,
    ) -> Result<Opened, Failure> {
        let (head, rest) = self
            .answer_head(method, path, headers, body, queued)
            .await?;
        if !(200..300).contains(&head.status) || !head.event_stream {
            return Ok(Opened::Answer(self.read_whole(head, rest).await?));
        }
        if let (Some(t), Some(h)) = (&self.trace, &head.headers) {
            t.response(head.status, h, b"");
        }
        let body = match rest {
            Rest::H1(c) => {
                let pieces = h1::Pieces::of(&head);
                Source::H1(c, pieces)
            }
            Rest::H2(body, _slot) => Source::H2 { body, _slot },
        };
        Ok(Opened::Stream(EventStream(Box::new(Streaming {
            status: head.status,
            body,
            parser: sse::Parser::new(),
            pending: Vec::new().into_iter(),
            bytes: 0,
            end: None,
            stats: self.stats.clone(),
            trace: self.trace.clone(),
            _permit: permit,
        }))))
    }

    /// Write the request on a connection from the pool and wait for the
    /// answer's head; its body is still to be read (on the HTTP/1
    /// connection, or in hyper's HTTP/2 body). An idempotent request whose
    /// kept-alive connection the server had closed is written once more on
    /// a new one (counted, and said in the report's notes). `queued` learns
    /// when the request could be written (over HTTP/2, once it has a stream).
    async fn answer_head(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        queued: &QueueWait,
    ) -> Result<(Head, Rest), Failure> {
        let (conn, reused) = self
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
        match conn {
            Conn::H1(mut c) => {
                let wire = h1::Wire::new(req);
                queued.ready();
                let head = match c.send(&wire, traced).await {
                    Ok(head) => head,
                    // The server closed the kept-alive connection as the
                    // request went out: once more, on a new one.
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
                        c = fresh;
                        c.send(&wire, traced)
                            .await
                            .map_err(|e| self.transport_failure(&e))?
                    }
                    Err(e) => return Err(self.transport_failure(&e)),
                };
                self.stats.answered();
                if head.simulator {
                    self.stats.simulator_answered();
                }
                Ok((head, Rest::H1(c)))
            }
            Conn::H2((mut s, slots)) => {
                // `None`: the connection ended; hyper says how.
                let slot = slots.acquire().await;
                queued.ready();
                let resp = s
                    .send_request(req)
                    .await
                    .map_err(|e| self.transport_failure(&e))?;
                self.stats.answered();
                let head = Head::from_map(resp.status().as_u16(), resp.headers(), traced);
                if head.simulator {
                    self.stats.simulator_answered();
                }
                Ok((head, Rest::H2(resp.into_body(), slot)))
            }
        }
    }

    /// The rest of an answer read whole (at most [`BODY_LIMIT`]): an
    /// HTTP/1 connection is idle again and goes back to the pool before
    /// the permit goes; `--trace` shows the answer.
    async fn read_whole(&self, head: Head, rest: Rest) -> Result<Response, Failure> {
        let body = match rest {
            Rest::H1(mut c) => {
                let body = c
                    .body(&head)
                    .await
                    .map_err(|e| self.transport_failure(&e))?;
                self.pool.checkin(Conn::H1(c));
                body
            }
            // The stream's slot goes once its body was read (or failed).
            Rest::H2(b, _slot) => Limited::new(b, BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| self.transport_failure(e.as_ref()))?
                .to_bytes(),
        };
        if let (Some(t), Some(h)) = (&self.trace, &head.headers) {
            t.response(head.status, h, &body);
        }
        let Head {
            status,
            retry_after,
            pushback,
            rate_limit,
            set_cookies,
            ..
        } = head;
        Ok(Response {
            status,
            retry_after,
            pushback,
            rate_limit,
            body,
            set_cookies,
        })
    }
}

/// An answer's body once its head has arrived.
enum Rest {
    /// On the connection.
    H1(h1::H1),
    /// On its HTTP/2 stream, which holds a stream slot until it is dropped.
    H2(hyper::body::Incoming, Option<h2slots::Slot>),
}

/// What [`HttpClient::open_stream`] got.
#[derive(Debug)]
pub enum Opened {
    /// Not an event stream (status not 2xx, or Content-Type not
    /// `text/event-stream`): the answer read whole, exactly as
    /// [`HttpClient::send`] returns it.
    Answer(Response),
    /// A 2xx `text/event-stream`: events as they arrive.
    Stream(EventStream),
}

/// A 2xx `text/event-stream` answer, read as its events arrive. It holds
/// its connection (HTTP/1) or its HTTP/2 stream and one of the client's
/// connection permits until it is dropped; between events it holds no
/// read buffer. Boxed: a task that may open a stream keeps a pointer's
/// room for it, not the stream's.
pub struct EventStream(Box<Streaming>);

struct Streaming {
    status: u16,
    body: Source,
    parser: sse::Parser,
    /// Events parsed and not yet handed out, in order.
    pending: std::vec::IntoIter<sse::Event>,
    bytes: u64,
    /// How the stream ended: cleanly, or with this failure.
    end: Option<Result<(), Failure>>,
    stats: Arc<TransportStats>,
    trace: Option<Arc<trace::Tracer>>,
    _permit: OwnedSemaphorePermit,
}

/// Where an event stream's bytes come from.
enum Source {
    H1(h1::H1, h1::Pieces),
    /// Its HTTP/2 stream, holding a stream slot until the stream goes.
    H2 {
        body: hyper::body::Incoming,
        _slot: Option<h2slots::Slot>,
    },
    /// Ended: the connection is gone.
    Gone,
}

impl EventStream {
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The next event; `Ok(None)` when the server ended the stream (a clean
    /// close, the end of the body; an event not finished by then is
    /// dropped, as the standard says); `Err` on a transport error (a reset,
    /// a connection cut inside a chunk or before its `Content-Length`, a
    /// line or an event over 1 MiB as `BODY_TOO_LARGE`), counted in the
    /// transport's stats like a failure of `send`. No timeout inside: the
    /// caller races it with its own deadline (cancel safe: nothing read is
    /// lost when the race drops it). After the end, the same end again.
    pub async fn next_event(&mut self) -> Result<Option<sse::Event>, Failure> {
        let s = &mut *self.0;
        loop {
            if let Some(event) = s.pending.next() {
                if s.pending.len() == 0 {
                    s.pending = Vec::new().into_iter();
                }
                return Ok(Some(event));
            }
            if let Some(end) = s.end {
                return end.map(|()| None);
            }
            let piece = match &mut s.body {
                Source::H1(c, pieces) => c
                    .next_piece(pieces)
                    .await
                    .map_err(|e| transport_failure(&s.stats, s.trace.as_deref(), &e)),
                Source::H2 { body: b, .. } => match b.frame().await {
                    None => Ok(None),
                    // Trailers carry no data.
                    Some(Ok(frame)) => Ok(Some(frame.into_data().unwrap_or_default())),
                    Some(Err(e)) => Err(transport_failure(&s.stats, s.trace.as_deref(), &e)),
                },
                Source::Gone => Ok(None),
            };
            let piece = match piece {
                Ok(Some(p)) => p,
                Ok(None) => {
                    s.finish(Ok(()));
                    continue;
                }
                Err(f) => {
                    s.finish(Err(f));
                    continue;
                }
            };
            s.bytes += piece.len() as u64;
            let mut events = Vec::new();
            if let Err(e) = s.parser.feed(&piece, &mut events) {
                let f = failed(&s.stats, s.trace.as_deref(), NetError::BodyTooLarge, || {
                    e.to_string()
                });
                s.finish(Err(f));
                continue;
            }
            s.pending = events.into_iter();
        }
    }

    /// The reconnection time the stream last set (`retry:`).
    pub fn retry(&self) -> Option<Duration> {
        self.0.parser.retry()
    }

    /// The last event ID, for `Last-Event-ID` on a reconnect.
    pub fn last_event_id(&self) -> Option<&str> {
        self.0.parser.last_event_id()
    }

    /// Bytes of event stream received so far (the body, without HTTP/1
    /// chunk framing).
    pub fn bytes(&self) -> u64 {
        self.0.bytes
    }
}

impl Streaming {
    /// The stream is over: its connection goes at once (the permit stays
    /// until the stream is dropped).
    fn finish(&mut self, end: Result<(), Failure>) {
        self.end = Some(end);
        self.body = Source::Gone;
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("status", &self.0.status)
            .field("bytes", &self.0.bytes)
            .field("end", &self.0.end)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// No connection: the attempt's failure, classified (a failure at the
    /// proxy by its own kind), counted and shown by `--trace`.
    fn connect_failure(&self, e: &pool::ConnectError) -> Failure {
        use pool::{ConnectError, ProxyFailure};
        let p = match e {
            ConnectError::Proxy(p) => p,
            ConnectError::Tls(tls) => {
                let text = classify(tls).1.join(": ");
                return failed(&self.stats, self.trace.as_deref(), NetError::Tls, || text);
            }
            _ => return self.transport_failure(e.as_error()),
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
        failed(&self.stats, self.trace.as_deref(), kind, || text)
    }

    /// A transport error as the attempt's failure: classified, counted and
    /// shown by `--trace`.
    fn transport_failure(&self, e: &(dyn std::error::Error + 'static)) -> Failure {
        transport_failure(&self.stats, self.trace.as_deref(), e)
    }
}

/// A transport error as a failure: classified by its chain, counted and
/// shown by `--trace`.
fn transport_failure(
    stats: &TransportStats,
    trace: Option<&trace::Tracer>,
    e: &(dyn std::error::Error + 'static),
) -> Failure {
    let (kind, messages) = classify(e);
    failed(stats, trace, kind, || messages.join(": "))
}

/// A failure of `kind`: counted (`text` is kept for the first TLS and proxy
/// failures) and shown by `--trace`.
fn failed(
    stats: &TransportStats,
    trace: Option<&trace::Tracer>,
    kind: NetError,
    text: impl FnOnce() -> String,
) -> Failure {
    stats.failed(kind, text);
    if let Some(t) = trace {
        t.failure(kind.label());
    }
    Failure::Net(kind)
}

/// The kind of a transport error, and the chain's messages (outermost
/// first). Typed where stampede's own code or the OS says it: an
/// [`h1::WireError`], an errno of the generator's own exhaustion, an io
/// error kind; the text of the chain only for what comes typed from
/// nowhere (hyper's HTTP/2 errors wrap the io error two or three levels
/// deep, behind boxed errors).
fn classify(e: &(dyn std::error::Error + 'static)) -> (NetError, Vec<String>) {
    let mut messages = Vec::new();
    let mut io_kind = None;
    let mut typed = None;
    let mut cur = Some(e);
    while let Some(err) = cur {
        messages.push(err.to_string());
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
            typed = typed.or_else(|| io_error_kind(io));
        }
        // A TLS failure says so by its type, on its own or carried inside
        // an io error (as tokio-rustls does; `source()` skips it there).
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|e| e as &(dyn std::error::Error + 'static));
        if [Some(err), inner]
            .into_iter()
            .flatten()
            .any(|e| e.downcast_ref::<rustls::Error>().is_some())
        {
            typed = typed.or(Some(NetError::Tls));
        }
        cur = err.source();
    }
    let kind = typed.unwrap_or_else(|| NetError::from_chain(&messages, io_kind));
    (kind, messages)
}

/// The kind an io error says by its type alone: a [`h1::WireError`] it
/// carries, the generator's own exhaustion by errno (EMFILE, ENFILE,
/// EADDRNOTAVAIL), or a kind that names the failure; `None` otherwise.
fn io_error_kind(io: &std::io::Error) -> Option<NetError> {
    use std::io::ErrorKind as K;
    if let Some(w) = h1::WireError::of(io) {
        return Some(w.kind());
    }
    if matches!(
        io.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::EADDRNOTAVAIL)
    ) {
        return Some(NetError::Local);
    }
    match io.kind() {
        K::ConnectionRefused => Some(NetError::ConnectRefused),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Some(NetError::Reset),
        K::UnexpectedEof => Some(NetError::Closed),
        _ => None,
    }
}

#[cfg(test)]
mod stream_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_failure_is_known_by_its_type_not_its_text() {
        // Nothing in this text says TLS, handshake or certificate.
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::General("x".into()),
        );
        let (kind, messages) = classify(&e);
        assert_eq!(kind, NetError::Tls, "{messages:?}");
        assert!(!messages.join(" ").to_lowercase().contains("tls"));
        // The errno of the generator's own exhaustion beats any text.
        let e = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(classify(&e).0, NetError::Local);
    }

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
