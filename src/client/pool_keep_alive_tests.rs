//! `target.keep_alive` at the pool: an idle connection is handed out again
//! only within the configured time, and with zero none is kept at all.

use super::super::h1::{H1, Io};
use super::{Conn, Pool};
use std::time::Duration;
use tokio::io::AsyncReadExt;

fn conn() -> (H1, tokio::io::DuplexStream) {
    let (a, b) = tokio::io::duplex(64);
    (H1::new(Io::Other(Box::pin(a))), b)
}

/// Whether the client's end of a pipe was dropped (closed).
async fn closed(far: &mut tokio::io::DuplexStream) -> bool {
    let mut b = [0u8; 1];
    tokio::time::timeout(Duration::from_millis(1), far.read(&mut b))
        .await
        .is_ok_and(|r| r.is_ok_and(|n| n == 0))
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_reused_only_within_the_configured_keep_alive() {
    let mut pool = Pool::new("127.0.0.1", 9, None, None).unwrap();
    pool.set_keep_alive(Duration::from_secs(1));
    let (c, mut far) = conn();
    pool.checkin(Conn::H1(c));
    tokio::time::advance(Duration::from_millis(900)).await;
    let Ok((Conn::H1(c), true)) = pool.checkout().await else {
        panic!("kept for 900 ms of a 1 s keep-alive");
    };
    assert!(!closed(&mut far).await);
    pool.checkin(Conn::H1(c));
    // Past 1 s (well within the 4 s default) it is closed, never handed out.
    tokio::time::advance(Duration::from_millis(1100)).await;
    let _ = pool.checkout().await;
    assert!(closed(&mut far).await);
}

#[tokio::test(start_paused = true)]
async fn a_zero_keep_alive_keeps_no_connection() {
    let mut pool = Pool::new("127.0.0.1", 9, None, None).unwrap();
    pool.set_keep_alive(Duration::ZERO);
    let (c, mut far) = conn();
    pool.checkin(Conn::H1(c));
    assert!(closed(&mut far).await, "closed at checkin");
    assert!(pool.idle_h1().is_none());
}
