//! HTTP/2 stream slots, so the wait for one is measured, not hidden.
//!
//! A server limits the streams a client may have open at once
//! (`SETTINGS_MAX_CONCURRENT_STREAMS`). hyper queues a request over that
//! limit inside its connection task, so the time it waits there would be
//! part of the answer's latency. Instead, [`Watch`] reads the limit from the
//! server's SETTINGS frames as they pass on the connection (the frame
//! headers only; no byte is changed or copied), and [`Slots::acquire`]
//! holds a request until a stream is free: the wait is the attempt's queue
//! wait ([`super::QueueWait`]), and hyper sends at once. A [`Slot`] is held
//! until the answer's body was read or dropped (hyper's stream has closed
//! by then: it ends when its last frame arrives).

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// SETTINGS frame type and its ACK flag (RFC 9113 §6.5).
const SETTINGS: u8 = 0x4;
const ACK: u8 = 0x1;
/// SETTINGS_MAX_CONCURRENT_STREAMS.
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// Streams at once when the server sets no limit.
const UNLIMITED: usize = 1 << 16;

/// The stream slots of one HTTP/2 connection: a fair (first come, first
/// served) semaphore with as many permits as the server allows streams.
#[derive(Debug)]
pub(super) struct Slots {
    /// No permit until the server's first SETTINGS frame: until then nobody
    /// knows the limit, so nobody sends. Closed when the connection ends
    /// (waiters go on and meet hyper's error).
    sem: Arc<Semaphore>,
    /// The limit the permits stand for; `None` before the first SETTINGS.
    limit: Mutex<Option<usize>>,
    /// Permits still to take out of use after the server lowered its limit
    /// while more streams were open: the next ones freed are forgotten.
    debt: AtomicUsize,
}

impl Slots {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            sem: Arc::new(Semaphore::new(0)),
            limit: Mutex::new(None),
            debt: AtomicUsize::new(0),
        })
    }

    /// A stream slot, in arrival order, once the limit is known and one is
    /// free; `None` when the connection has ended.
    pub async fn acquire(self: &Arc<Self>) -> Option<Slot> {
        let permit = Arc::clone(&self.sem).acquire_owned().await.ok()?;
        Some(Slot {
            permit: Some(permit),
            slots: Arc::clone(self),
        })
    }

    fn set_limit(&self, new: usize) {
        let new = new.min(UNLIMITED);
        let Ok(mut limit) = self.limit.lock() else {
            return;
        };
        let old = limit.unwrap_or(0);
        if new > old {
            self.sem.add_permits(new - old);
        } else if new < old {
            let owed = old - new;
            let gone = self.sem.forget_permits(owed);
            self.debt.fetch_add(owed - gone, Ordering::AcqRel);
        }
        *limit = Some(new);
    }

    /// A SETTINGS frame began: the first one without the setting means no
    /// limit (RFC 9113 §6.5.2: unlimited until set).
    fn settings_seen(&self) {
        let unknown = self.limit.lock().is_ok_and(|l| l.is_none());
        if unknown {
            self.set_limit(UNLIMITED);
        }
    }

    /// The connection ended: waiters go on and meet hyper's error.
    fn ended(&self) {
        self.sem.close();
    }

    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }
}

/// One open stream; freed on drop (or taken out of use when the server
/// lowered its limit meanwhile).
#[derive(Debug)]
pub(super) struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    slots: Arc<Slots>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let owed = self
            .slots
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
            .is_ok();
        if let (true, Some(p)) = (owed, self.permit.take()) {
            p.forget();
        }
    }
}

/// Where the frame reader is in the server's byte stream.
#[derive(Debug, Default)]
struct Scan {
    head: [u8; 9],
    have: usize,
    /// Payload bytes of the current frame still to come.
    left: usize,
    /// The current frame is a SETTINGS frame (not an ACK).
    settings: bool,
    entry: [u8; 6],
    entry_have: usize,
}

impl Scan {
    fn feed(&mut self, mut bytes: &[u8], slots: &Slots) {
        while !bytes.is_empty() {
            if self.left == 0 && self.have < 9 {
                let n = (9 - self.have).min(bytes.len());
                self.head[self.have..self.have + n].copy_from_slice(&bytes[..n]);
                self.have += n;
                bytes = &bytes[n..];
                if self.have == 9 {
                    self.start_frame(slots);
                }
                continue;
            }
            let n = self.left.min(bytes.len());
            if self.settings {
                for &b in &bytes[..n] {
                    self.entry[self.entry_have] = b;
                    self.entry_have += 1;
                    if self.entry_have == 6 {
                        self.setting(slots);
                    }
                }
            }
            self.left -= n;
            bytes = &bytes[n..];
            if self.left == 0 {
                self.have = 0;
            }
        }
    }

    fn start_frame(&mut self, slots: &Slots) {
        let h = self.head;
        self.left = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        self.settings = h[3] == SETTINGS && h[4] & ACK == 0;
        self.entry_have = 0;
        if self.settings {
            slots.settings_seen();
        }
        if self.left == 0 {
            self.have = 0;
        }
    }

    fn setting(&mut self, slots: &Slots) {
        self.entry_have = 0;
        let e = self.entry;
        if u16::from_be_bytes([e[0], e[1]]) == MAX_CONCURRENT_STREAMS {
            let v = u32::from_be_bytes([e[2], e[3], e[4], e[5]]);
            slots.set_limit(usize::try_from(v).unwrap_or(usize::MAX));
        }
    }
}

/// The connection's IO with the server's SETTINGS read as they pass.
pub(super) struct Watch<S> {
    io: S,
    scan: Scan,
    slots: Arc<Slots>,
}

impl<S> Watch<S> {
    pub fn new(io: S, slots: Arc<Slots>) -> Self {
        Self {
            io,
            scan: Scan::default(),
            slots,
        }
    }
}

impl<S> Drop for Watch<S> {
    fn drop(&mut self) {
        self.slots.ended();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watch<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        match &r {
            Poll::Ready(Ok(())) if buf.filled().len() == before => this.slots.ended(),
            Poll::Ready(Ok(())) => this.scan.feed(&buf.filled()[before..], &this.slots),
            Poll::Ready(Err(_)) => this.slots.ended(),
            Poll::Pending => {}
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watch<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut f = vec![
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
            kind,
            flags,
            0,
            0,
            0,
            0,
        ];
        f.extend_from_slice(payload);
        f
    }

    fn setting(id: u16, v: u32) -> Vec<u8> {
        let mut e = id.to_be_bytes().to_vec();
        e.extend_from_slice(&v.to_be_bytes());
        e
    }

    fn limit(s: &Slots) -> Option<usize> {
        *s.limit.lock().unwrap()
    }

    /// Frames split at every byte boundary read the same limit.
    #[test]
    fn the_limit_is_read_from_settings_however_the_bytes_arrive() {
        let mut payload = setting(0x1, 4096);
        payload.extend(setting(MAX_CONCURRENT_STREAMS, 3));
        payload.extend(setting(0x4, 65535));
        let mut wire = frame(0x0, 0x1, b"data before");
        wire.extend(frame(SETTINGS, ACK, &[]));
        wire.extend(frame(SETTINGS, 0, &payload));
        wire.extend(frame(0x8, 0, &[0, 0, 1, 0]));
        for chunk in [1, 2, 5, 9, 10, 64] {
            let slots = Slots::new();
            let mut scan = Scan::default();
            for piece in wire.chunks(chunk) {
                scan.feed(piece, &slots);
            }
            assert_eq!(limit(&slots), Some(3), "chunks of {chunk}");
            assert_eq!(slots.available(), 3);
        }
    }

    #[test]
    fn an_ack_or_a_data_frame_that_looks_like_a_setting_changes_nothing() {
        let slots = Slots::new();
        let mut scan = Scan::default();
        scan.feed(&frame(0x0, 0, &setting(MAX_CONCURRENT_STREAMS, 1)), &slots);
        scan.feed(&frame(SETTINGS, ACK, &[]), &slots);
        assert_eq!(limit(&slots), None);
        assert_eq!(
            slots.available(),
            0,
            "nothing is sent before the server's SETTINGS"
        );
        scan.feed(&frame(SETTINGS, 0, &setting(0x2, 0)), &slots);
        assert_eq!(limit(&slots), Some(UNLIMITED), "no limit set: unlimited");
        // A later SETTINGS without the setting leaves the limit as it is.
        scan.feed(
            &frame(SETTINGS, 0, &setting(MAX_CONCURRENT_STREAMS, 5)),
            &slots,
        );
        scan.feed(&frame(SETTINGS, 0, &setting(0x4, 1)), &slots);
        assert_eq!(limit(&slots), Some(5));
        assert_eq!(slots.available(), 5);
    }

    #[tokio::test]
    async fn requests_over_the_limit_wait_in_order_for_freed_slots() {
        let slots = Slots::new();
        slots.set_limit(2);
        let a = slots.acquire().await.unwrap();
        let _b = slots.acquire().await.unwrap();
        let mut third = Box::pin(slots.acquire());
        let mut fourth = Box::pin(slots.acquire());
        assert!(poll(&mut third).is_none() && poll(&mut fourth).is_none());
        drop(a);
        // A newcomer does not overtake the waiters.
        assert!(slots.sem.try_acquire().is_err());
        assert!(poll(&mut fourth).is_none(), "the first waiter goes first");
        let c = poll(&mut third).expect("a freed slot").unwrap();
        drop(c);
        assert!(poll(&mut fourth).expect("the next freed slot").is_some());
    }

    #[tokio::test]
    async fn a_lowered_limit_takes_slots_out_of_use_as_they_are_freed() {
        let slots = Slots::new();
        slots.set_limit(3);
        let a = slots.acquire().await.unwrap();
        let b = slots.acquire().await.unwrap();
        slots.set_limit(1);
        assert_eq!(slots.available(), 0);
        drop(a);
        assert_eq!(slots.available(), 0, "two open on a limit of one");
        drop(b);
        assert_eq!(slots.available(), 1);
        slots.ended();
        assert!(slots.acquire().await.is_none(), "the connection ended");
    }

    fn poll<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(f).poll(&mut cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        }
    }
}
