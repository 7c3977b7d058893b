//! Accept loop and lifecycle. The loop is generic over the connection IO so
//! TLS is only a different handshake in front of the same hyper service.

use super::SimError;
use super::api;
use super::config::{SimApi, SimConfig};
use super::conn::{ConnState, Watched, watchdog};
use super::faults::Decision;
use super::ledger::Ledger;
use super::overload::Admitted;
use super::respond::SimBody;
use super::rush;
use super::world::World;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared by every connection of one simulator.
pub struct App {
    pub cfg: SimConfig,
    world: RwLock<Arc<World>>,
    /// Connections, spawned work and the sweeper, so shutdown can wait
    /// for all of them: no task outlives the server.
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
    /// One permit per open connection (`connections.max_open`).
    open: Arc<Semaphore>,
}

impl App {
    pub fn world(&self) -> Arc<World> {
        Arc::clone(&self.world.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn reset(&self) {
        let fresh = Arc::new(World::new(&self.cfg));
        *self.world.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    /// Runs `f` on its own task once the overload model serves it, so the
    /// work finishes, and commits, even if the client (or the gateway) stops
    /// waiting; an answer nobody waits for any more counts as wasted work.
    /// The task ends with the server.
    pub(super) fn spawn_served<T: Send + 'static>(
        &self,
        world: &Arc<World>,
        admitted: Admitted,
        base: Duration,
        decision: Decision,
        f: impl FnOnce(&World) -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        let (tx, rx) = oneshot::channel::<T>();
        let world = Arc::clone(world);
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            let run = async {
                let overload = Arc::clone(&world.overload);
                let _permit = overload
                    .serve(
                        &admitted,
                        base,
                        decision.capacity_factor,
                        decision.extra_latency,
                    )
                    .await;
                if tx.send(f(&world)).is_err() {
                    world.ledger.wasted_work.fetch_add(1, Relaxed);
                }
            };
            tokio::select! {
                biased;
                () = run => {}
                () = cancel.cancelled() => {}
            }
        });
        rx
    }

    /// A validated simulator with its background tasks (the sweeper, the
    /// Booking Rush release worker) running; connections come from its
    /// caller (a TCP accept loop, or in-memory pipes).
    pub(super) fn start(cfg: SimConfig) -> Result<Arc<App>, SimError> {
        cfg.validate()?;
        let app = Arc::new(App {
            world: RwLock::new(Arc::new(World::new(&cfg))),
            open: Arc::new(Semaphore::new(cfg.connections.max_open as usize)),
            cfg,
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
        });
        app.tracker.spawn(sweep_loop(Arc::clone(&app)));
        if app.cfg.api == SimApi::BookingRush {
            app.tracker.spawn(rush::background(Arc::clone(&app)));
        }
        Ok(app)
    }

    /// One of the `connections.max_open` permits, or `None` at the cap.
    pub(super) fn open_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.open).try_acquire_owned().ok()
    }

    /// The client address the Booking Rush gateway limits by (the
    /// guidelines profile limits by user only).
    pub(super) fn peer(&self, ip: impl FnOnce() -> String) -> Option<Arc<str>> {
        match self.cfg.api {
            SimApi::Guidelines => None,
            SimApi::BookingRush => Some(Arc::from(ip())),
        }
    }

    /// Wait, at most `max`, until no booking work is in flight.
    pub(super) async fn wait_until_idle(&self, max: std::time::Duration) {
        let world = self.world();
        let deadline = tokio::time::Instant::now() + max;
        // Bounded by the deadline.
        while world.overload.in_flight() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Drop every connection and piece of work, and wait for its tasks.
    pub(super) async fn stop(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Serve one connection on this simulator's tracker until it ends or
    /// the simulator stops.
    pub(super) fn spawn_connection<Io>(
        self: &Arc<Self>,
        io: Io,
        peer: Option<Arc<str>>,
        permit: OwnedSemaphorePermit,
    ) where
        Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let app = Arc::clone(self);
        self.tracker.spawn(async move {
            let cancel = app.cancel.clone();
            tokio::select! {
                biased;
                () = cancel.cancelled() => {}
                () = serve_io(app, io, peer) => {}
            }
            drop(permit);
        });
    }
}

/// Turns an accepted TCP stream into the IO hyper serves.
pub trait Acceptor: Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&self, tcp: TcpStream) -> impl Future<Output = std::io::Result<Self::Io>> + Send;
}

/// Plain TCP (HTTP/1.1 and h2c).
pub struct PlainTcp;

impl Acceptor for PlainTcp {
    type Io = TcpStream;
    async fn accept(&self, tcp: TcpStream) -> std::io::Result<TcpStream> {
        Ok(tcp)
    }
}

impl Acceptor for tokio_rustls::TlsAcceptor {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    async fn accept(&self, tcp: TcpStream) -> std::io::Result<Self::Io> {
        tokio_rustls::TlsAcceptor::accept(self, tcp).await
    }
}

/// A running simulator. Dropping it without `shutdown` cancels its tasks.
pub struct SimServer {
    handle: SimHandle,
    addr: SocketAddr,
}

/// What every running simulator offers, on TCP ([`SimServer`]) or in
/// memory ([`super::MemorySim`]): its ledger, reset and shutdown. Dropping
/// it without `shutdown` cancels the simulator's tasks.
pub struct SimHandle {
    pub(super) app: Arc<App>,
}

impl SimHandle {
    /// A snapshot of the ledger.
    pub fn ledger(&self) -> Ledger {
        self.app.world().snapshot()
    }

    /// Booking work admitted and not finished yet: a reserve, confirm or
    /// release that holds (or waits for) a worker.
    pub fn work_in_flight(&self) -> u32 {
        self.app.world().overload.in_flight()
    }

    /// Wait, at most `max`, until no booking work is in flight. Work goes on
    /// after its client has left, so a ledger read the moment a run ends
    /// would miss the bookings (and wasted work) it still produces.
    pub async fn wait_until_idle(&self, max: std::time::Duration) {
        self.app.wait_until_idle(max).await;
    }

    /// Fresh inventory, bookings, idempotency cache, limiters, ledger and
    /// fault-window clock, so compared fleets face identical targets.
    pub fn reset(&self) {
        self.app.reset();
    }

    /// Stops accepting, drops open connections and in-flight work, and
    /// waits until every task the simulator spawned has ended.
    pub async fn shutdown(self) {
        self.app.stop().await;
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.app.cancel.cancel();
    }
}

impl std::ops::Deref for SimServer {
    type Target = SimHandle;
    fn deref(&self) -> &SimHandle {
        &self.handle
    }
}

impl SimServer {
    /// Serves HTTP/1.1 and h2c on `addr` (port 0 picks a free one).
    pub async fn start(cfg: SimConfig, addr: SocketAddr) -> Result<SimServer, SimError> {
        Self::start_with(cfg, addr, PlainTcp).await
    }

    /// Serves HTTPS; ALPN (e.g. `h2`, `http/1.1`) is whatever `tls` sets.
    pub async fn start_tls(
        cfg: SimConfig,
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<SimServer, SimError> {
        Self::start_with(cfg, addr, tokio_rustls::TlsAcceptor::from(tls)).await
    }

    /// Serves through any [`Acceptor`].
    pub async fn start_with<A: Acceptor>(
        cfg: SimConfig,
        addr: SocketAddr,
        acceptor: A,
    ) -> Result<SimServer, SimError> {
        cfg.validate()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let app = App::start(cfg)?;
        app.tracker
            .spawn(accept_loop(Arc::clone(&app), listener, acceptor));
        Ok(SimServer {
            handle: SimHandle { app },
            addr: local,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, drops open connections and in-flight work, and
    /// waits until every task the simulator spawned has ended.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}

async fn accept_loop<A: Acceptor>(app: Arc<App>, listener: TcpListener, acceptor: A) {
    let acceptor = Arc::new(acceptor);
    loop {
        let accepted = tokio::select! {
            biased;
            () = app.cancel.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((tcp, _)) => {
                // Over the cap: closed at once (dropping it sends FIN), so
                // a flood of connections cannot grow memory without bound.
                let Some(permit) = app.open_permit() else {
                    drop(tcp);
                    continue;
                };
                // Nagle would add ~40 ms to small pipelined responses.
                let _ = tcp.set_nodelay(true);
                let app2 = Arc::clone(&app);
                let acceptor = Arc::clone(&acceptor);
                app.tracker.spawn(async move {
                    let cancel = app2.cancel.clone();
                    tokio::select! {
                        biased;
                        () = cancel.cancelled() => {}
                        () = serve_connection(app2, acceptor, tcp, permit) => {}
                    }
                });
            }
            // Out of file descriptors and the like: back off instead of
            // spinning, keep serving the connections we have.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// The accepted TCP connection's handshake ([`Acceptor`]), then
/// [`serve_io`].
async fn serve_connection<A: Acceptor>(
    app: Arc<App>,
    acceptor: Arc<A>,
    tcp: TcpStream,
    _permit: OwnedSemaphorePermit,
) {
    let limits = app.cfg.connections.clone();
    // The Booking Rush gateway limits by client IP.
    let peer = app.peer(|| {
        tcp.peer_addr()
            .map_or_else(|_| "unknown".to_owned(), |a| a.ip().to_string())
    });
    // A TLS handshake is part of the first request's head.
    let Ok(Ok(io)) = tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await else {
        return;
    };
    serve_io(app, io, peer).await;
}

/// Serves one connection until the client leaves, hyper ends it, or the
/// watchdog finds it idle or too slow ([`super::conn`]).
async fn serve_io<Io>(app: Arc<App>, io: Io, peer: Option<Arc<str>>)
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = app.cfg.connections.clone();
    let state = ConnState::new();
    let io = Watched::new(io, Arc::clone(&state));
    let in_service = Arc::clone(&state);
    let svc = service_fn(move |req| {
        let request = in_service.request();
        let app = Arc::clone(&app);
        let peer = peer.clone();
        async move {
            match peer {
                None => {
                    let resp = api::handle(app, req).await;
                    drop(request);
                    resp.map(|r| r.map(SimBody::Full))
                }
                Some(peer) => {
                    let mut resp = rush::handle(app, peer, req).await;
                    // A stream keeps the connection busy until it ends.
                    if let Ok(r) = &mut resp
                        && let SimBody::Stream { hold, .. } = r.body_mut()
                    {
                        *hold = Some(request);
                    }
                    resp
                }
            }
        }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::select! {
        biased;
        () = watchdog(&state, &limits) => {}
        // Errors here are client disconnects and injected resets: nothing to do.
        _ = builder.serve_connection(TokioIo::new(io), svc) => {}
    }
}

async fn sweep_loop(app: Arc<App>) {
    let mut tick = tokio::time::interval(app.cfg.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = app.cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let world = app.world();
        world
            .store
            .sweep(tokio::time::Instant::now(), &world.ledger);
    }
}
