//! Where a new connection comes from: a TCP socket (every run against a
//! URL, and the embedded simulator on real time), or an in-memory pipe
//! whose other end a server in the same process serves (a virtual-time
//! run, `docs/virtual-time.md`: no socket, no kernel, nothing but tokio
//! tasks, so a paused clock can run the whole exchange).
//!
//! The seam is the pool's connect step ([`super::pool`]): what comes back
//! is spoken to exactly as a TCP stream is (HTTP/1.1 by [`super::h1`], the
//! same permits, keep-alive and checks), so a virtual run exercises the
//! same client code as a real one.

use std::sync::Arc;
use tokio::io::DuplexStream;

/// How many bytes an in-memory connection buffers each way before a
/// writer waits for its reader (a socket's buffers, roughly).
pub const PIPE_BYTES: usize = 64 * 1024;

/// Opens in-memory connections to a server in this process.
pub trait Dial: Send + Sync + 'static {
    /// The client end of a new connection; the server end is already
    /// handed to the server. An error is a refused connection.
    fn dial(&self) -> std::io::Result<DuplexStream>;
}

/// What the pool connects over.
#[derive(Clone, Default)]
pub enum Transport {
    /// TCP to the target's host and port (or to the proxy).
    #[default]
    Tcp,
    /// An in-memory pipe from this dialer; never a socket, never a proxy.
    Memory(Arc<dyn Dial>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Tcp => f.write_str("Tcp"),
            Transport::Memory(_) => f.write_str("Memory"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Failure, HttpClient};
    use crate::outcome::NetError;
    use http::{HeaderMap, Method};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers every request head on a connection with `200 ok:<n>` (n the
    /// connection's number), keeping the connection open; or refuses to
    /// connect at all.
    struct Tiny {
        dials: AtomicU64,
        refuse: bool,
    }

    impl Tiny {
        fn new(refuse: bool) -> Arc<Self> {
            Arc::new(Self {
                dials: AtomicU64::new(0),
                refuse,
            })
        }
    }

    impl Dial for Tiny {
        fn dial(&self) -> std::io::Result<DuplexStream> {
            if self.refuse {
                return Err(std::io::ErrorKind::ConnectionRefused.into());
            }
            let n = self.dials.fetch_add(1, Ordering::Relaxed) + 1;
            let (client, mut server) = tokio::io::duplex(PIPE_BYTES);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                // Bounded: the test sends a handful of requests.
                for _ in 0..1000 {
                    let Ok(read) = server.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let body = format!("ok:{n}");
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if server.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
            Ok(client)
        }
    }

    fn client(dial: Arc<Tiny>) -> HttpClient {
        HttpClient::in_memory("http://sim.invalid", 4, HeaderMap::new(), None, dial)
            .expect("client")
    }

    async fn get(c: &HttpClient) -> Result<String, Failure> {
        let r = c
            .send(
                &Method::GET,
                "/x",
                HeaderMap::new(),
                None,
                Duration::from_secs(5),
            )
            .await?;
        assert_eq!(r.status, 200);
        Ok(String::from_utf8_lossy(&r.body).into_owned())
    }

    #[tokio::test(start_paused = true)]
    async fn requests_travel_through_the_pipe_and_the_connection_is_kept() {
        let dial = Tiny::new(false);
        let c = client(dial.clone());
        assert_eq!(get(&c).await.ok().as_deref(), Some("ok:1"));
        // The idle connection is taken again: no second dial.
        assert_eq!(get(&c).await.ok().as_deref(), Some("ok:1"));
        assert_eq!(dial.dials.load(Ordering::Relaxed), 1);
        assert_eq!(c.stats().answered, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_pipe_expires_after_the_keep_alive_on_the_paused_clock() {
        let dial = Tiny::new(false);
        let c = client(dial.clone());
        assert_eq!(get(&c).await.ok().as_deref(), Some("ok:1"));
        tokio::time::sleep(super::super::pool::KEEP_ALIVE + Duration::from_secs(1)).await;
        assert_eq!(get(&c).await.ok().as_deref(), Some("ok:2"));
        assert_eq!(dial.dials.load(Ordering::Relaxed), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_dial_is_a_refused_connection() {
        let c = client(Tiny::new(true));
        let got = get(&c).await;
        assert_eq!(
            got.err(),
            Some(Failure::Net(NetError::ConnectRefused)),
            "a dial error is classified like a TCP connect error"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_answers_times_out_on_virtual_time() {
        struct Silent;
        impl Dial for Silent {
            fn dial(&self) -> std::io::Result<DuplexStream> {
                let (client, server) = tokio::io::duplex(PIPE_BYTES);
                // Held open, never read: the request waits for its answer.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop(server);
                });
                Ok(client)
            }
        }
        let c = HttpClient::in_memory(
            "http://sim.invalid",
            1,
            HeaderMap::new(),
            None,
            Arc::new(Silent),
        )
        .expect("client");
        let t0 = tokio::time::Instant::now();
        let r = c
            .send(
                &Method::GET,
                "/",
                HeaderMap::new(),
                None,
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(r.err(), Some(Failure::Timeout));
        assert_eq!(t0.elapsed(), Duration::from_secs(30));
    }
}
