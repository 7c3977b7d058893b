//! The simulator served in memory: each connection a `tokio::io::duplex`
//! pipe whose server end goes straight to the same per-connection serve
//! function a TCP accept would reach (connection cap, watchdog, hyper,
//! the profile's handlers), with no listener and no socket. A
//! virtual-time run (`docs/virtual-time.md`) hands [`MemoryDialer`] to the
//! client's in-memory transport (the run layer joins the two).

use super::SimError;
use super::config::SimConfig;
use super::server::{App, SimHandle};
use std::sync::Arc;
use tokio::io::DuplexStream;

/// The address the Booking Rush gateway sees as every in-memory client's
/// (its rate limits are per client IP): loopback, as for the embedded
/// simulator on TCP.
const PEER: &str = "127.0.0.1";

/// A running in-memory simulator. Dropping it without `shutdown` cancels
/// its tasks.
pub struct MemorySim {
    handle: SimHandle,
}

impl std::ops::Deref for MemorySim {
    type Target = SimHandle;
    fn deref(&self) -> &SimHandle {
        &self.handle
    }
}

/// How many bytes an in-memory connection buffers each way before a
/// writer waits for its reader (a socket's buffers, roughly).
const PIPE_BYTES: usize = 64 * 1024;

/// Opens connections to a [`MemorySim`].
#[derive(Clone)]
pub struct MemoryDialer {
    app: Arc<App>,
}

impl MemorySim {
    /// Starts the simulator's background tasks; connections come from
    /// [`Self::dialer`]. Must be called inside a tokio runtime.
    pub fn start(cfg: SimConfig) -> Result<MemorySim, SimError> {
        Ok(MemorySim {
            handle: SimHandle {
                app: App::start(cfg)?,
            },
        })
    }

    /// What the client connects with.
    pub fn dialer(&self) -> MemoryDialer {
        MemoryDialer {
            app: Arc::clone(&self.handle.app),
        }
    }

    /// Drops every connection and in-flight work, and waits until every
    /// task the simulator spawned has ended.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}

impl MemoryDialer {
    /// The client end of a new connection (its server end already served);
    /// refused after shutdown, closed at once over the connection cap.
    pub fn dial(&self) -> std::io::Result<DuplexStream> {
        let app = &self.app;
        if app.cancel.is_cancelled() {
            return Err(std::io::ErrorKind::ConnectionRefused.into());
        }
        let (client, server) = tokio::io::duplex(PIPE_BYTES);
        // Over the cap: closed at once, as the TCP accept loop does (the
        // client reads the end of the stream).
        let Some(permit) = app.open_permit() else {
            drop(server);
            return Ok(client);
        };
        let peer = app.peer(|| PEER.to_owned());
        app.spawn_connection(server, peer, permit);
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::HttpClient;
    use crate::client::transport::Dial;
    use http::{HeaderMap, Method};
    use std::time::Duration;

    struct Pipe(MemoryDialer);

    impl Dial for Pipe {
        fn dial(&self) -> std::io::Result<DuplexStream> {
            self.0.dial()
        }
    }

    fn client(sim: &MemorySim, connections: usize) -> HttpClient {
        HttpClient::in_memory(
            "http://sim.invalid",
            connections,
            HeaderMap::new(),
            None,
            Arc::new(Pipe(sim.dialer())),
        )
        .expect("client")
    }

    #[tokio::test(start_paused = true)]
    async fn the_simulator_answers_over_a_pipe_and_keeps_its_ledger() {
        let sim = MemorySim::start(SimConfig::default()).expect("sim");
        let c = client(&sim, 2);
        let r = c
            .send(
                &Method::GET,
                "/events/E1/zones/A/availability",
                HeaderMap::new(),
                None,
                Duration::from_secs(5),
            )
            .await
            .expect("an answer");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(c.stats().simulator, 1, "answered as the simulator");
        assert_eq!(sim.ledger().zones.len(), 3);
        sim.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn overlapping_writes_to_one_resource_conflict_and_the_first_wins() {
        let sim = MemorySim::start(SimConfig::default()).expect("sim");
        let c = client(&sim, 4);
        let write = |user: &'static str, path: &'static str| {
            let c = &c;
            async move {
                let mut h = HeaderMap::new();
                let bearer = format!("Bearer {user}").parse().expect("header");
                h.insert(http::header::AUTHORIZATION, bearer);
                let r = c
                    .send(&Method::POST, path, h, None, Duration::from_secs(5))
                    .await
                    .expect("an answer");
                (r.status, String::from_utf8_lossy(&r.body).into_owned())
            }
        };
        // a starts, b arrives 1 ms later inside a's 10 ms window, and so
        // does a write to another resource.
        let (a, (b, other)) = tokio::join!(write("a", "/resources/R1/write"), async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            tokio::join!(
                write("b", "/resources/R1/write"),
                write("c", "/resources/R2/write")
            )
        });
        assert_eq!(a.0, 200, "{}", a.1);
        assert!(a.1.contains(r#""version":1"#), "{}", a.1);
        assert_eq!(b.0, 409, "{}", b.1);
        assert!(b.1.contains("CONFLICT"), "{}", b.1);
        assert_eq!(other.0, 200, "{}", other.1);
        // Alone, after the others: no conflict.
        let again = write("b", "/resources/R1/write").await;
        assert!(again.1.contains(r#""version":2"#), "{}", again.1);
        let ledger = sim.ledger();
        assert_eq!(ledger.requests["write"][&409], 1, "{:?}", ledger.requests);
        assert_eq!(ledger.requests["write"][&200], 3);
        sim.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_connection_cap_a_pipe_is_closed_at_once() {
        let mut cfg = SimConfig::default();
        cfg.connections.max_open = 1;
        let sim = MemorySim::start(cfg).expect("sim");
        let d = sim.dialer();
        let _first = d.dial().expect("first");
        let mut second = d.dial().expect("second");
        let mut buf = [0u8; 1];
        let n = tokio::io::AsyncReadExt::read(&mut second, &mut buf).await;
        assert_eq!(n.ok(), Some(0), "the end of the stream");
        sim.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn after_shutdown_a_dial_is_refused() {
        let sim = MemorySim::start(SimConfig::default()).expect("sim");
        let d = sim.dialer();
        sim.shutdown().await;
        assert_eq!(
            d.dial().err().map(|e| e.kind()),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
    }
}
