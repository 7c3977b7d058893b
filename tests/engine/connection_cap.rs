//! `target.connections` caps sockets, not only requests in flight: with 200
//! closed-model users on 8 connections, a loopback server that counts the
//! connections it accepted sees at most 8, and exactly as many requests as
//! the report says were sent; the time attempts waited for a connection is
//! their `queue_wait`, one value per attempt.

use crate::common;
use common::TempDir;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Counts accepted connections, the most open at once, and requests served;
/// every answer waits `delay`, so requests overlap and the pool is under pressure.
struct Counting {
    addr: std::net::SocketAddr,
    accepted: Arc<AtomicU64>,
    peak_open: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
}

async fn counting_server(delay: Duration) -> Counting {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicU64::new(0));
    let open = Arc::new(AtomicU64::new(0));
    let peak_open = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    {
        let (accepted, open, peak_open, requests) = (
            accepted.clone(),
            open.clone(),
            peak_open.clone(),
            requests.clone(),
        );
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Relaxed);
                let now = open.fetch_add(1, Relaxed) + 1;
                peak_open.fetch_max(now, Relaxed);
                let (open, requests) = (open.clone(), requests.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let requests = requests.clone();
                        async move {
                            let _ = req.into_body().collect().await;
                            tokio::time::sleep(delay).await;
                            requests.fetch_add(1, Relaxed);
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(201)
                                    .body(Full::new(Bytes::from_static(b"{}")))
                                    .expect("response"),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                    open.fetch_sub(1, Relaxed);
                });
            }
        });
    }
    Counting {
        addr,
        accepted,
        peak_open,
        requests,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_connections_for_two_hundred_users() {
    let server = counting_server(Duration::from_millis(2)).await;
    let dir = TempDir::new("conn-cap");
    let url = format!("http://{}", server.addr);
    let c = &common::closed_gets(dir.path(), "conn-cap", &url, 200, &[("connections", "8")]).await;
    assert_eq!(
        server.requests.load(Relaxed),
        c.counts.attempts,
        "the server served every attempt the report counts"
    );
    let accepted = server.accepted.load(Relaxed);
    assert!(
        (1..=8).contains(&accepted),
        "the server accepted {accepted} connections for a cap of 8"
    );
    assert!(server.peak_open.load(Relaxed) <= 8);
    // 200 users on 8 connections: attempts waited for a connection, and
    // that wait is recorded beside (not inside) each attempt's latency.
    assert_eq!(c.latency.queue_wait_ms.count, c.counts.attempts);
    assert_eq!(c.latency.attempt_latency_ms.count, c.counts.attempts);
    assert!(
        c.latency.queue_wait_ms.max > 0.0,
        "{:?}",
        c.latency.queue_wait_ms
    );
    assert!(
        c.latency.queue_wait_ms.p50 > 0.0,
        "{:?}",
        c.latency.queue_wait_ms
    );
}
