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
//! HTTP/1 connections are used one request at a time (LIFO, the warmest
//! first). When TLS negotiates `h2` over ALPN, one HTTP/2 connection is
//! shared by every request, as hyper-util's pool does.

use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

pub(super) type Body = http_body_util::Full<bytes::Bytes>;

/// A connection to send one request on.
pub(super) enum Conn {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Conn {
    pub fn is_h2(&self) -> bool {
        matches!(self, Conn::H2(_))
    }

    pub async fn send(
        &mut self,
        req: http::Request<Body>,
    ) -> Result<http::Response<Incoming>, hyper::Error> {
        match self {
            Conn::H1(s) => s.send_request(req).await,
            Conn::H2(s) => s.send_request(req).await,
        }
    }
}

/// Why no connection could be had.
#[derive(Debug)]
pub(super) enum ConnectError {
    Io(std::io::Error),
    Hyper(hyper::Error),
}

impl ConnectError {
    pub fn as_error(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            ConnectError::Io(e) => e,
            ConnectError::Hyper(e) => e,
        }
    }
}

pub(super) struct Pool {
    host: String,
    port: u16,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    idle: Mutex<Vec<http1::SendRequest<Body>>>,
    /// The shared HTTP/2 connection, once the target chose h2.
    h2: Mutex<Option<http2::SendRequest<Body>>>,
    /// Whether ALPN chose h2 (known after the first TLS handshake).
    is_h2: OnceLock<bool>,
    /// Held while connecting as long as one HTTP/2 connection may be enough.
    connecting: tokio::sync::Mutex<()>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Pool {
    pub fn new(
        host: &str,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
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
            h2: Mutex::new(None),
            is_h2: OnceLock::new(),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    /// A connection ready to send on. The caller holds one of the
    /// `connections` permits for as long as it has the connection.
    pub async fn checkout(&self) -> Result<Conn, ConnectError> {
        if let Some(c) = self.shared_h2() {
            return Ok(Conn::H2(c));
        }
        loop {
            let Some(mut s) = self.idle.lock().map_or(None, |mut v| v.pop()) else {
                break;
            };
            // Usually ready at once; waits only for the previous response's
            // last bytes to be processed. Closed ones are dropped here.
            if !s.is_closed() && s.ready().await.is_ok() {
                return Ok(Conn::H1(s));
            }
        }
        // Connecting is rare and its future is large (TCP, TLS and HTTP/2
        // handshakes): boxed, so every request waiting for a permit or an
        // answer does not carry its space.
        if self.tls.is_none() || self.is_h2.get() == Some(&false) {
            return Box::pin(self.connect()).await;
        }
        // Maybe h2: one handshake at a time, so a burst of first requests
        // shares one connection instead of opening one each.
        let _one = self.connecting.lock().await;
        if let Some(c) = self.shared_h2() {
            return Ok(Conn::H2(c));
        }
        Box::pin(self.connect()).await
    }

    /// Give an HTTP/1 connection back after its response was read whole.
    pub fn checkin(&self, conn: Conn) {
        if let Conn::H1(s) = conn
            && !s.is_closed()
            && let Ok(mut v) = self.idle.lock()
        {
            v.push(s);
        }
    }

    fn shared_h2(&self) -> Option<http2::SendRequest<Body>> {
        let mut slot = self.h2.lock().ok()?;
        match slot.as_ref() {
            Some(s) if !s.is_closed() => Some(s.clone()),
            Some(_) => {
                *slot = None;
                None
            }
            None => None,
        }
    }

    async fn connect(&self) -> Result<Conn, ConnectError> {
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| {
            ConnectError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))
        })?
        .map_err(ConnectError::Io)?;
        tcp.set_nodelay(true).map_err(ConnectError::Io)?;
        let Some((tls, name)) = &self.tls else {
            return h1(tcp).await;
        };
        let stream = tls
            .connect(name.clone(), tcp)
            .await
            .map_err(ConnectError::Io)?;
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let _ = self.is_h2.set(h2);
        if !h2 {
            return h1(stream).await;
        }
        let (send, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(TokioIo::new(stream))
            .await
            .map_err(ConnectError::Hyper)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        if let Ok(mut slot) = self.h2.lock() {
            *slot = Some(send.clone());
        }
        Ok(Conn::H2(send))
    }
}

async fn h1<T>(io: T) -> Result<Conn, ConnectError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (send, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(ConnectError::Hyper)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn::H1(send))
}
