//! HTTP/2 queue wait: a loopback HTTPS server that speaks only h2 and
//! allows 2 concurrent streams (`SETTINGS_MAX_CONCURRENT_STREAMS = 2`),
//! each answer taking 20 ms, and 40 closed-model users on one shared
//! connection. Most attempts wait for a stream slot; that wait is each
//! attempt's `queue_wait` (one value per attempt) and stays out of its
//! latency, so the typical attempt (served in ~20 ms after waiting for ~19
//! others) has a latency below its queue wait. Without the separation the
//! wait would sit inside hyper and in the attempt latency, and the first
//! burst on the new connection (sent before the server's SETTINGS said 2)
//! would go beyond the server's limit: 25 of the 200 failed that way.

use crate::common;
use common::TempDir;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const STREAMS: u32 = 2;
const SERVICE: Duration = Duration::from_millis(20);

/// What the server saw: requests served, streams at once and their peak.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    open: AtomicU64,
    peak: AtomicU64,
}

async fn h2_server(cfg: Arc<rustls::ServerConfig>, seen: Arc<Seen>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), Arc::clone(&seen));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let now = seen.open.fetch_add(1, Relaxed) + 1;
                        seen.peak.fetch_max(now, Relaxed);
                        let _ = req.into_body().collect().await;
                        tokio::time::sleep(SERVICE).await;
                        seen.requests.fetch_add(1, Relaxed);
                        seen.open.fetch_sub(1, Relaxed);
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from_static(b"{}"),
                        )))
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .max_concurrent_streams(STREAMS)
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_an_h2_stream_is_queue_wait_not_attempt_latency() {
    let pki = common::tls::pki();
    let (ca, cfg) = (
        pki.ca_pem.clone(),
        common::tls::server_config(&pki, &[b"h2"]),
    );
    let seen = Arc::new(Seen::default());
    let addr = h2_server(cfg, Arc::clone(&seen)).await;
    let dir = TempDir::new("h2-queue");
    std::fs::write(dir.path().join("ca.pem"), ca).expect("write CA");
    let url = format!("https://{addr}");
    let keys = [("ca_file", "\"ca.pem\""), ("connections", "40")];
    let c = &common::closed_gets(dir.path(), "h2-queue", &url, 40, &keys).await;
    assert_eq!(seen.requests.load(Relaxed), c.counts.attempts);
    assert!(seen.peak.load(Relaxed) <= u64::from(STREAMS));
    eprintln!(
        "attempt latency {:?}\nqueue wait {:?}",
        c.latency.attempt_latency_ms, c.latency.queue_wait_ms
    );
    // One queue wait per attempt, beside its latency.
    assert_eq!(c.latency.queue_wait_ms.count, c.counts.attempts);
    assert_eq!(c.latency.attempt_latency_ms.count, c.counts.attempts);
    assert!(
        c.latency.queue_wait_ms.max > 0.0,
        "{:?}",
        c.latency.queue_wait_ms
    );
    // 40 users on 2 streams: the typical attempt waits for ~19 answers and
    // is then served in one; were the wait inside the latency, it would be
    // the other way round.
    assert!(
        c.latency.attempt_latency_ms.p50 < c.latency.queue_wait_ms.p50,
        "attempt {:?} queue {:?}",
        c.latency.attempt_latency_ms,
        c.latency.queue_wait_ms
    );
}
