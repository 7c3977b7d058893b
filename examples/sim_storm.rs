//! Metastable-failure demo against the embedded simulator: the same
//! arrival stream and the same 5 s capacity drop, once with naive clients
//! (immediate retries, fresh key after a 250 ms timeout) and once with compliant
//! ones (backoff + jitter, Retry-After, same Idempotency-Key). Prints the
//! reserve goodput per second and the ledger's verdict.
//!
//! `cargo run --release --example sim_storm [-- RATE_PER_SEC SECONDS]`

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rand::RngExt;
use stampede::sim::{EventConfig, FaultWindow, SimConfig, SimServer, ZoneConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, timeout};

type Http = Client<HttpConnector, Full<Bytes>>;

async fn attempt(http: &Http, url: &str, user: &str, op: &str, key: &str) -> Option<(u16, u64)> {
    let req = http::Request::post(url)
        .header("authorization", format!("Bearer {user}"))
        .header("idempotency-key", key)
        .header("x-stampede-op", op)
        .body(Full::new(Bytes::from_static(
            br#"{"eventId":"E1","zoneId":"A","quantity":1}"#,
        )))
        .ok()?;
    let resp = timeout(Duration::from_millis(250), http.request(req))
        .await
        .ok()?
        .ok()?;
    let status = resp.status().as_u16();
    let ra = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = resp.into_body().collect().await;
    Some((status, ra))
}

async fn operation(http: Http, url: String, n: u64, naive: bool) {
    let (user, op) = (format!("u{n}"), format!("op{n}"));
    let mut key = format!("k{n}-0");
    let tries = if naive { 20 } else { 6 };
    for i in 0..tries {
        match attempt(&http, &url, &user, &op, &key).await {
            Some((s, _)) if s < 429 => return,
            Some((_, ra)) if !naive => {
                let backoff =
                    0.2 * f64::from(1u32 << i.min(10)) * rand::rng().random_range(0.5..1.5);
                sleep(Duration::from_secs_f64(backoff.max(ra as f64))).await;
            }
            None if naive => key = format!("k{n}-{}", i + 1),
            None => sleep(Duration::from_secs_f64(0.2 * f64::from(1u32 << i.min(10)))).await,
            Some(_) => {}
        }
    }
}

async fn run(naive: bool, rate: u64, secs: u64) {
    let mut cfg = SimConfig {
        events: vec![EventConfig {
            id: "E1".into(),
            zones: vec![ZoneConfig {
                id: "A".into(),
                seats: 10_000_000,
            }],
        }],
        max_tickets_per_user: 0,
        ..SimConfig::default()
    };
    cfg.rate_limit.per_user_per_second = 0;
    cfg.faults.windows = vec![FaultWindow {
        from: Duration::from_secs(5),
        to: Duration::from_secs(10),
        capacity_factor: 0.2,
        ..FaultWindow::default()
    }];
    let Ok(server) = SimServer::start(cfg, ([127, 0, 0, 1], 0).into()).await else {
        eprintln!("cannot start simulator");
        return;
    };
    let url = format!("http://{}/bookings/reserve", server.addr());
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    let http: Http = Client::builder(TokioExecutor::new()).build(conn);
    // Caps open connections; the cap is far above the demand.
    let slots = Arc::new(Semaphore::new(2000));
    let start = Instant::now();
    let (mut n, mut last) = (0u64, 0u64);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    print!("{:>9}:", if naive { "naive" } else { "compliant" });
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while n < due {
            n += 1;
            if let Ok(p) = Arc::clone(&slots).try_acquire_owned() {
                let (h, u) = (http.clone(), url.clone());
                tokio::spawn(async move {
                    operation(h, u, n, naive).await;
                    drop(p);
                });
            }
        }
        let sec = start.elapsed().as_secs();
        if sec > last {
            last = sec;
            print!(" {}", answered_201(&server.ledger()));
        }
    }
    let l = server.ledger();
    println!();
    println!(
        "           ops started {n}, 201s answered {}, bookings {}, duplicates {}, wasted_work {}, early_retries {}, 503s {}",
        answered_201(&l),
        l.bookings_created,
        l.duplicates,
        l.wasted_work,
        l.early_retries,
        l.requests
            .get("reserve")
            .and_then(|m| m.get(&503))
            .copied()
            .unwrap_or(0)
    );
    server.shutdown().await;
}

fn answered_201(l: &stampede::sim::Ledger) -> u64 {
    l.requests
        .get("reserve")
        .and_then(|m| m.get(&201))
        .copied()
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rate = args.next().and_then(|a| a.parse().ok()).unwrap_or(400);
    let secs = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    println!("{rate} new reserve operations/s; workers at 20% from 5 s to 10 s");
    println!("cumulative 201s delivered to a waiting client, each second (client timeout 250 ms):");
    run(true, rate, secs).await;
    run(false, rate, secs).await;
}
