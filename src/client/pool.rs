//! The connection pool: never more than `connections` sockets to the target.
//!
//! hyper-util's legacy client opens a new connection whenever no idle one is
//! at hand, and keeps connecting in the background when a request it raced
//! against a returning connection got that one instead: with a cap of 10,000
//! it opened ~11,900. Here a socket exists only while a request holds a
//! permit or while it sits in the idle list, and a request connects only
//! when it holds a permit and found the idle list empty, so
//! `open sockets <= idle + in flight <= connections` at every moment.
//!
//! HTTP/1 connections ([`super::h1`], driven by the task that sends on
//! them) are used one request at a time (LIFO, the warmest first), and an
//! idle one for at most `target.keep_alive` (default [`KEEP_ALIVE`], 0: no
//! connection is reused): below the idle timeouts servers
//! commonly use (nginx 75 s, Node.js 5 s, Apache 5 s), so the generator
//! lets a connection go before the server closes it under a request. An
//! expired connection is closed when a checkout finds it (with every one
//! below it in the list, all older) or a checkin sees it at the bottom of
//! the list, never written to. When
//! TLS negotiates `h2` over ALPN, one HTTP/2 connection is shared by every
//! request, as hyper-util's pool does.
//!
//! Through an HTTP proxy ([`super::proxy`]) every socket goes to the proxy:
//! for http:// the proxy gets the requests themselves (absolute form, see
//! `HttpClient::build_request`); for https:// each new connection first
//! asks for a `CONNECT host:port` tunnel (sent with hyper, so the proxy's
//! status is known: 407 and 502 are different failures) and runs TLS inside
//! it. A failure at the proxy is a [`ConnectError::Proxy`], never retried.

use super::h1::{H1, Io};
use super::h2slots::{Slots, Watch};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub(super) type Body = http_body_util::Full<bytes::Bytes>;

/// A connection to send one request on: HTTP/1.1 driven by the sending
/// task itself ([`super::h1`]), or the shared HTTP/2 connection (hyper)
/// with its stream slots ([`super::h2slots`]).
pub(super) enum Conn {
    H1(H1),
    H2(H2),
}

/// The shared HTTP/2 connection and its stream slots.
pub(super) type H2 = (http2::SendRequest<Body>, Arc<Slots>);

impl Conn {
    pub fn is_h2(&self) -> bool {
        matches!(self, Conn::H2(_))
    }
}

/// Why no connection could be had.
#[derive(Debug)]
pub(super) enum ConnectError {
    Io(std::io::Error),
    /// The TLS handshake with the target failed.
    Tls(std::io::Error),
    Hyper(hyper::Error),
    /// Failed at the proxy: nothing reached the target.
    Proxy(ProxyFailure),
}

/// What went wrong at the proxy.
#[derive(Debug)]
pub(super) enum ProxyFailure {
    /// The TCP connection to the proxy failed.
    Connect(std::io::Error),
    /// The proxy answered CONNECT with this status.
    Status(http::StatusCode),
    /// The proxy closed or broke the connection instead of answering CONNECT.
    Handshake(hyper::Error),
}

impl ConnectError {
    pub fn as_error(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            ConnectError::Io(e)
            | ConnectError::Tls(e)
            | ConnectError::Proxy(ProxyFailure::Connect(e)) => e,
            ConnectError::Hyper(e) | ConnectError::Proxy(ProxyFailure::Handshake(e)) => e,
            ConnectError::Proxy(ProxyFailure::Status(_)) => &NoSource,
        }
    }
}

/// The error behind a CONNECT refused by status (the status is in the
/// [`ProxyFailure`]).
#[derive(Debug)]
struct NoSource;

impl std::fmt::Display for NoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the proxy refused the tunnel")
    }
}

impl std::error::Error for NoSource {}

pub(super) struct Pool {
    host: String,
    port: u16,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// Idle HTTP/1 connections and when each went idle, oldest first.
    idle: Mutex<Vec<(Instant, H1)>>,
    /// How long an idle connection is kept ([`KEEP_ALIVE`]).
    keep_alive: Duration,
    /// The shared HTTP/2 connection, once the target chose h2.
    h2: Mutex<Option<H2>>,
    /// Whether ALPN chose h2 (known after the first TLS handshake).
    is_h2: OnceLock<bool>,
    /// Held while connecting as long as one HTTP/2 connection may be enough.
    connecting: tokio::sync::Mutex<()>,
    /// Every socket goes to this HTTP proxy.
    proxy: Option<super::proxy::Proxy>,
    /// Where idle connections found closed by the server are counted.
    stats: Option<Arc<super::TransportStats>>,
    /// TCP, or an in-memory pipe to a server in this process.
    transport: super::transport::Transport,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle HTTP/1 connection is kept for another request: less
/// than the keep-alive timeout of common servers (nginx 75 s, Node.js 5 s,
/// Apache httpd 5 s), so a connection is rarely closed by the server just
/// as a request goes out on it (RFC 9112 §9.3.1's race; the one resend of
/// an idempotent request covers the rest).
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(4);

impl Pool {
    pub fn new(
        host: &str,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
        proxy: Option<super::proxy::Proxy>,
    ) -> Result<Self, String> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = match tls {
            None => None,
            Some(cfg) => {
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| format!("`{host}` is not a TLS server name: {e}"))?;
                Some((tokio_rustls::TlsConnector::from(cfg), name))
            }
        };
        Ok(Self {
            host,
            port,
            tls,
            idle: Mutex::new(Vec::new()),
            keep_alive: KEEP_ALIVE,
            h2: Mutex::new(None),
            is_h2: OnceLock::new(),
            connecting: tokio::sync::Mutex::new(()),
            proxy,
            stats: None,
            transport: super::transport::Transport::Tcp,
        })
    }

    /// Connect over `transport` instead of TCP.
    pub fn with_transport(mut self, transport: super::transport::Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Count idle connections found closed by the server in `stats`
    /// (`reconnects`).
    pub fn with_stats(mut self, stats: Arc<super::TransportStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// A connection ready to send on, and whether it was kept alive from an
    /// earlier request. The caller holds one of the `connections` permits
    /// for as long as it has the connection.
    pub async fn checkout(&self) -> Result<(Conn, bool), ConnectError> {
        if let Some(c) = self.shared_h2() {
            return Ok((Conn::H2(c), true));
        }
        if let Some(c) = self.idle_h1() {
            return Ok((Conn::H1(c), true));
        }
        // Connecting is rare and its future is large (TCP, TLS and HTTP/2
        // handshakes): boxed, so every request waiting for a permit or an
        // answer does not carry its space.
        if self.tls.is_none() || self.is_h2.get() == Some(&false) {
            return Ok((self.fresh().await?, false));
        }
        // Maybe h2: one handshake at a time, so a burst of first requests
        // shares one connection instead of opening one each.
        let _one = self.connecting.lock().await;
        if let Some(c) = self.shared_h2() {
            return Ok((Conn::H2(c), true));
        }
        Ok((self.fresh().await?, false))
    }

    /// A new connection, never one from the idle list.
    pub async fn fresh(&self) -> Result<Conn, ConnectError> {
        Box::pin(self.connect()).await
    }

    /// The warmest idle HTTP/1 connection that is neither expired nor
    /// closed by the server. An expired one is dropped unused, with every
    /// one below it (all older); one the server closed while it sat idle
    /// is dropped too.
    fn idle_h1(&self) -> Option<H1> {
        loop {
            let now = Instant::now();
            let mut expired = Vec::new();
            let popped = {
                let mut v = self.idle.lock().ok()?;
                match v.pop() {
                    None => return None,
                    Some((since, c)) if now.duration_since(since) < self.keep_alive => Some(c),
                    Some(old) => {
                        expired = std::mem::take(&mut *v);
                        expired.push(old);
                        None
                    }
                }
            };
            // Closed outside the lock.
            drop(expired);
            let mut c = popped?;
            if c.is_open() {
                return Some(c);
            }
            // Closed by the server since its last answer: the request goes
            // on another connection, a reconnect.
            if let Some(s) = &self.stats {
                s.reconnected();
            }
        }
    }

    /// Give an HTTP/1 connection back after its response was read whole.
    /// Whether the server closed it since is asked when it is taken again;
    /// idle ones that expired meanwhile go now (the oldest are at the
    /// bottom of the list).
    pub fn checkin(&self, conn: Conn) {
        let Conn::H1(c) = conn else {
            return;
        };
        if !c.is_reusable() || self.keep_alive.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut expired = Vec::new();
        if let Ok(mut v) = self.idle.lock() {
            if v.first()
                .is_some_and(|(since, _)| now.duration_since(*since) >= self.keep_alive)
            {
                let n =
                    v.partition_point(|(since, _)| now.duration_since(*since) >= self.keep_alive);
                expired = v.drain(..n).collect();
            }
            v.push((now, c));
        }
        drop(expired);
    }

    /// Keep idle HTTP/1 connections for `d` instead of [`KEEP_ALIVE`]
    /// (zero: none is kept, every request connects anew).
    pub fn set_keep_alive(&mut self, d: Duration) {
        self.keep_alive = d;
    }

    fn shared_h2(&self) -> Option<H2> {
        let mut slot = self.h2.lock().ok()?;
        match slot.as_ref() {
            Some((s, slots)) if !s.is_closed() => Some((s.clone(), Arc::clone(slots))),
            Some(_) => {
                *slot = None;
                None
            }
            None => None,
        }
    }

    async fn connect(&self) -> Result<Conn, ConnectError> {
        if let super::transport::Transport::Memory(dial) = &self.transport {
            let pipe = dial.dial().map_err(ConnectError::Io)?;
            return self.over_tls(pipe).await;
        }
        let Some(proxy) = &self.proxy else {
            let tcp = tcp(&self.host, self.port).await.map_err(ConnectError::Io)?;
            if self.tls.is_none() {
                return Ok(h1(Io::Tcp(tcp)));
            }
            return self.over_tls(tcp).await;
        };
        let tcp = tcp(&proxy.host, proxy.port)
            .await
            .map_err(|e| ConnectError::Proxy(ProxyFailure::Connect(e)))?;
        if self.tls.is_none() {
            // The requests themselves go to the proxy.
            return Ok(h1(Io::Tcp(tcp)));
        }
        let tunnel = connect_tunnel(tcp, &self.host, self.port, proxy.auth.as_ref()).await?;
        self.over_tls(tunnel).await
    }

    /// TLS on `io` (when the target is https://), then HTTP/1 or (ALPN
    /// `h2`) the shared HTTP/2 connection.
    async fn over_tls<S>(&self, io: S) -> Result<Conn, ConnectError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let Some((tls, name)) = &self.tls else {
            return Ok(h1(Io::Other(Box::pin(io))));
        };
        let stream = tls
            .connect(name.clone(), io)
            .await
            .map_err(|e| ConnectError::Tls(not_tls(e)))?;
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let _ = self.is_h2.set(h2);
        if !h2 {
            return Ok(h1(Io::Other(Box::pin(stream))));
        }
        // The server's stream limit is read as its SETTINGS pass.
        let slots = Slots::new();
        let (send, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(TokioIo::new(Watch::new(stream, Arc::clone(&slots))))
            .await
            .map_err(ConnectError::Hyper)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        if let Ok(mut slot) = self.h2.lock() {
            *slot = Some((send.clone(), Arc::clone(&slots)));
        }
        Ok(Conn::H2((send, slots)))
    }
}

/// A TCP connection with TCP_NODELAY, or the reason there is none.
async fn tcp(host: &str, port: u16) -> Result<TcpStream, std::io::Error> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// `CONNECT host:port` on a connection to the proxy; the tunnel once the
/// proxy said 2xx.
async fn connect_tunnel(
    tcp: TcpStream,
    host: &str,
    port: u16,
    auth: Option<&http::HeaderValue>,
) -> Result<TokioIo<hyper::upgrade::Upgraded>, ConnectError> {
    let broken = |e| ConnectError::Proxy(ProxyFailure::Handshake(e));
    let (mut send, conn) = http1::handshake::<_, Body>(TokioIo::new(tcp))
        .await
        .map_err(broken)?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut req = http::Request::new(Body::default());
    *req.method_mut() = http::Method::CONNECT;
    *req.uri_mut() = authority
        .parse()
        .map_err(|_| ConnectError::Proxy(ProxyFailure::Status(http::StatusCode::BAD_REQUEST)))?;
    let host_value = http::HeaderValue::from_str(&authority)
        .map_err(|_| ConnectError::Proxy(ProxyFailure::Status(http::StatusCode::BAD_REQUEST)))?;
    req.headers_mut().insert(http::header::HOST, host_value);
    if let Some(a) = auth {
        req.headers_mut()
            .insert(http::header::PROXY_AUTHORIZATION, a.clone());
    }
    let resp = send.send_request(req).await.map_err(broken)?;
    if !resp.status().is_success() {
        return Err(ConnectError::Proxy(ProxyFailure::Status(resp.status())));
    }
    let upgraded = hyper::upgrade::on(resp).await.map_err(broken)?;
    Ok(TokioIo::new(upgraded))
}

/// A TLS handshake that failed because the target's first bytes were not
/// a TLS record at all (an `HTTP/1.1 400` to the ClientHello, typically: a
/// plain HTTP server behind an https:// URL), said as such; any other
/// error as it is.
fn not_tls(e: std::io::Error) -> std::io::Error {
    let plain = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| {
            matches!(
                r,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
            )
        });
    if !plain {
        return e;
    }
    std::io::Error::new(
        e.kind(),
        format!(
            "TLS handshake: the server did not speak TLS (plain HTTP on an https:// URL? try http://): {e}"
        ),
    )
}

fn h1(io: Io) -> Conn {
    Conn::H1(H1::new(io))
}

#[cfg(test)]
#[path = "pool_keep_alive_tests.rs"]
mod keep_alive_tests;
