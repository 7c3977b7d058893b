//! Per-connection timeouts: a watchdog that ends a connection whose client
//! is idle too long or sends a request head too slowly, whatever the
//! protocol (HTTP/1.1, h2c, TLS). The body timeout is applied where the body
//! is read (`api::read_body`); the connection cap in the accept loop.
//!
//! A connection is in one of three phases:
//! - **busy**: at least one request is inside the service (reading its body,
//!   queued for a worker, being answered): no watchdog deadline;
//! - **idle**: no request in flight and no byte since the last one ended (or
//!   since the connection opened): closed `idle_timeout` after it began;
//! - **head**: bytes arrived while idle, but no request has reached the
//!   service yet: closed `header_timeout` after the first byte, however
//!   slowly the rest drips in (slowloris). HTTP/2 connections skip this
//!   phase: their control frames (pings, window updates) are not requests,
//!   and the h2 codec bounds its own header frames.

use super::config::ConnectionConfig;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

const NONE: u64 = u64::MAX;
/// The first bytes of every HTTP/2 connection (the client preface).
const H2_PREFACE_START: &[u8] = b"PRI * HTTP/2";
/// `ConnState::sniffed` once the h2 question is settled.
const SNIFF_DONE: usize = usize::MAX;

/// What the watchdog needs to know about one connection.
pub struct ConnState {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` when the connection last became idle.
    idle_since: AtomicU64,
    /// Milliseconds after `opened` of the first byte read while idle, or NONE.
    head_since: AtomicU64,
    /// Bytes of the h2 preface matched so far; [`SNIFF_DONE`] once decided
    /// (a mismatch, or the whole preface).
    sniffed: AtomicUsize,
    h2: AtomicBool,
    changed: Notify,
}

impl ConnState {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            sniffed: AtomicUsize::new(0),
            h2: AtomicBool::new(false),
            changed: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64, plus: std::time::Duration) -> Instant {
        // Timeouts are validated to at most a day: no overflow.
        self.opened + std::time::Duration::from_millis(ms) + plus
    }

    /// Bytes were read from the client. Until the h2 question is settled
    /// (a preface cut into one-byte reads, or a lone `P` that may be a
    /// POST), the header clock runs: a client that sends part of anything
    /// and stops is closed `header_timeout` after its first byte.
    fn on_read(&self, bytes: &[u8]) {
        let at = self.sniffed.load(Ordering::Relaxed);
        if at != SNIFF_DONE {
            let want = &H2_PREFACE_START[at..];
            let n = bytes.len().min(want.len());
            let next = if bytes[..n] != want[..n] {
                SNIFF_DONE
            } else if at + n == H2_PREFACE_START.len() {
                self.h2.store(true, Ordering::Relaxed);
                // The preface was the only "head": h2 frames are not requests.
                self.head_since.store(NONE, Ordering::Release);
                self.changed.notify_waiters();
                SNIFF_DONE
            } else {
                at + n
            };
            self.sniffed.store(next, Ordering::Relaxed);
        }
        if self.h2.load(Ordering::Relaxed) || self.in_flight.load(Ordering::Acquire) > 0 {
            return;
        }
        if self
            .head_since
            .compare_exchange(NONE, self.now_ms(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.changed.notify_waiters();
        }
    }

    /// A request reached the service; the guard marks its end.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Release);
        InFlight(Arc::clone(self))
    }

    /// When the connection must close if nothing changes; None while busy.
    fn deadline(&self, limits: &ConnectionConfig) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.head_since.load(Ordering::Acquire) {
            NONE => Some(self.at(self.idle_since.load(Ordering::Acquire), limits.idle_timeout)),
            head => Some(self.at(head, limits.header_timeout)),
        }
    }
}

/// One request inside the service; dropping it ends the request.
pub struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let s = &self.0;
        s.idle_since.store(s.now_ms(), Ordering::Release);
        s.head_since.store(NONE, Ordering::Release);
        if s.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            s.changed.notify_waiters();
        }
    }
}

/// Returns when the connection has been idle, or slow to send a request
/// head, for longer than `limits` allow.
pub async fn watchdog(state: &ConnState, limits: &ConnectionConfig) {
    loop {
        let changed = state.changed.notified();
        tokio::pin!(changed);
        // Register before reading the state, so no change is missed.
        changed.as_mut().enable();
        match state.deadline(limits) {
            Some(at) if at <= Instant::now() => return,
            Some(at) => {
                tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(at) => {}
                    () = &mut changed => {}
                }
            }
            None => changed.await,
        }
    }
}

/// The connection's IO, telling [`ConnState`] when bytes arrive.
pub struct Watched<T> {
    inner: T,
    state: Arc<ConnState>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, state: Arc<ConnState>) -> Self {
        Self { inner, state }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.state.on_read(&buf.filled()[before..]);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> ConnectionConfig {
        ConnectionConfig {
            header_timeout: Duration::from_secs(2),
            body_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(5),
            max_open: 10,
        }
    }

    /// Runs the watchdog under paused time and returns how long it took.
    async fn closes_after(state: &Arc<ConnState>) -> Duration {
        let start = Instant::now();
        watchdog(state, &limits()).await;
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn sim_conn_idle_connection_closes_after_idle_timeout() {
        let state = ConnState::new();
        assert_eq!(closes_after(&state).await, Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn sim_conn_slow_head_closes_after_header_timeout_from_first_byte() {
        let state = ConnState::new();
        let s2 = Arc::clone(&state);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            s2.on_read(b"GET / HTTP/1.1\r\n");
            // More bytes keep dripping: they do not extend the deadline.
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                s2.on_read(b"X-Drip: a\r\n");
            }
        });
        assert_eq!(closes_after(&state).await, Duration::from_secs(1 + 2));
    }

    #[tokio::test(start_paused = true)]
    async fn sim_conn_busy_connection_is_never_closed_and_idles_again_after() {
        let state = ConnState::new();
        let s2 = Arc::clone(&state);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            s2.on_read(b"GET");
            let req = s2.request();
            // A request much longer than every timeout.
            tokio::time::sleep(Duration::from_secs(20)).await;
            drop(req);
        });
        // Idle again at 24 s: closed at 24 + 5.
        assert_eq!(closes_after(&state).await, Duration::from_secs(29));
    }

    #[tokio::test(start_paused = true)]
    async fn sim_conn_h2_control_frames_do_not_start_the_header_clock() {
        let state = ConnState::new();
        state.on_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        drop(state.request());
        state.on_read(&[0, 0, 8, 6]); // a ping after the request
        assert_eq!(closes_after(&state).await, Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn sim_conn_one_byte_that_could_start_a_preface_starts_the_header_clock() {
        for first in [&b"P"[..], b"PRI * "] {
            let state = ConnState::new();
            state.on_read(first);
            assert_eq!(
                closes_after(&state).await,
                Duration::from_secs(2),
                "{first:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sim_conn_a_preface_in_pieces_is_still_h2() {
        let state = ConnState::new();
        for piece in [&b"PRI"[..], b" * HT", b"TP/2.0\r\n\r\nSM\r\n\r\n"] {
            state.on_read(piece);
        }
        // No request yet, but an h2 connection's frames are not a head.
        assert_eq!(closes_after(&state).await, Duration::from_secs(5));
    }
}
