//! `--metrics-listen ADDR`: the live counters and latency histograms in the
//! Prometheus text exposition format at `http://ADDR/metrics` (names and
//! labels in docs/metrics.md). Values are read from the [`Board`] on every
//! scrape; a finished round's fleets keep their final values.

use crate::live::Board;
use crate::metrics::live::{CLASSES, bucket_top};
use crate::metrics::{Live, LiveHistogram};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Every metric name, with its type and help (docs/metrics.md lists the same).
pub const METRICS: &[(&str, &str, &str)] = &[
    (
        "stampede_arrivals",
        "counter",
        "Users (journeys) that arrived, by fleet.",
    ),
    (
        "stampede_attempts",
        "counter",
        "HTTP attempts sent (first tries and retries), by fleet and step, counted as they leave like the report's attempts.",
    ),
    ("stampede_retries", "counter", "Retries sent, by fleet."),
    (
        "stampede_breaker_opens",
        "counter",
        "Circuit-breaker openings, by fleet (counted when the journey ends, like the report).",
    ),
    (
        "stampede_attempt_results",
        "counter",
        "Answered attempts by fleet, step and outcome (status class: 2xx 3xx 4xx 429 5xx timeout network).",
    ),
    (
        "stampede_operations",
        "counter",
        "Finished operations by fleet and outcome (ok, failed).",
    ),
    (
        "stampede_in_flight",
        "gauge",
        "Journeys in flight (including those waiting in backoff), by fleet.",
    ),
    (
        "stampede_attempt_latency_seconds",
        "histogram",
        "Latency of answered attempts, by fleet and step.",
    ),
    (
        "stampede_operation_latency_seconds",
        "histogram",
        "Operation latency from the intended start (retries and waits included), by fleet.",
    ),
];

/// Histogram bounds: powers of two microseconds from ~1 ms to ~67 s.
const LE_FROM: u32 = 10;
const LE_TO: u32 = 26;

fn help(name: &str) -> &'static str {
    METRICS.iter().find(|m| m.0 == name).map_or("", |m| m.2)
}

#[derive(Debug)]
struct BoardCollector(Arc<Board>);

type Labels<'a> = Vec<(&'static str, &'a str)>;

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    rows: &[(Labels, u64)],
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(0u64);
    let mut m = enc.encode_descriptor(name, help(name), None, c.metric_type())?;
    for (labels, v) in rows {
        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

/// Cumulative counts at each `le`, the total and the sum in seconds.
fn buckets(h: &LiveHistogram) -> (Vec<(f64, u64)>, u64, f64) {
    let counts = h.snapshot();
    let total: u64 = counts.iter().sum();
    let mut out = Vec::new();
    let mut seen = 0u64;
    let mut b = 0usize;
    for exp in LE_FROM..=LE_TO {
        let le_us = 1u64 << exp;
        while b < counts.len() && bucket_top(b) <= le_us {
            seen += counts[b];
            b += 1;
        }
        out.push((le_us as f64 / 1e6, seen));
    }
    out.push((f64::MAX, total));
    (out, total, h.sum_us() as f64 / 1e6)
}

fn histogram(
    enc: &mut DescriptorEncoder,
    name: &str,
    rows: &[(Labels, &LiveHistogram)],
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help(name), None, MetricType::Histogram)?;
    for (labels, h) in rows {
        let (b, count, sum) = buckets(h);
        m.encode_family(labels)?
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(sum, count, &b, None)?;
    }
    Ok(())
}

impl Collector for BoardCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let fleets = self.0.fleets();
        let load = |l: &std::sync::atomic::AtomicU64| l.load(std::sync::atomic::Ordering::Relaxed);
        let per_fleet = |get: fn(&Live) -> u64| -> Vec<(Labels, u64)> {
            fleets
                .iter()
                .map(|f| (vec![("fleet", f.name.as_str())], get(&f.live)))
                .collect()
        };
        counter(
            &mut enc,
            "stampede_arrivals",
            &per_fleet(|l| l.arrivals.load(std::sync::atomic::Ordering::Relaxed)),
        )?;
        counter(
            &mut enc,
            "stampede_retries",
            &per_fleet(|l| l.retries.load(std::sync::atomic::Ordering::Relaxed)),
        )?;
        counter(
            &mut enc,
            "stampede_breaker_opens",
            &per_fleet(|l| l.breaker_opens.load(std::sync::atomic::Ordering::Relaxed)),
        )?;
        let mut attempts = Vec::new();
        let mut results = Vec::new();
        let mut lat = Vec::new();
        let mut ops = Vec::new();
        for f in &fleets {
            for (step, s) in f.steps.iter().zip(f.live.steps.iter()) {
                let l = vec![("fleet", f.name.as_str()), ("step", step.as_str())];
                attempts.push((l.clone(), load(&s.attempts)));
                for (class, n) in CLASSES.iter().zip(&s.answered) {
                    let mut l = l.clone();
                    l.push(("outcome", class.label()));
                    results.push((l, load(n)));
                }
                lat.push((l, &s.attempt_latency));
            }
            for (outcome, n) in [("ok", &f.live.ok), ("failed", &f.live.failures)] {
                ops.push((
                    vec![("fleet", f.name.as_str()), ("outcome", outcome)],
                    load(n),
                ));
            }
        }
        counter(&mut enc, "stampede_attempts", &attempts)?;
        counter(&mut enc, "stampede_attempt_results", &results)?;
        counter(&mut enc, "stampede_operations", &ops)?;
        {
            let g = ConstGauge::new(0i64);
            let name = "stampede_in_flight";
            let mut m = enc.encode_descriptor(name, help(name), None, g.metric_type())?;
            for f in &fleets {
                let v = i64::try_from(load(&f.live.in_flight)).unwrap_or(i64::MAX);
                ConstGauge::new(v).encode(m.encode_family(&vec![("fleet", f.name.as_str())])?)?;
            }
        }
        histogram(&mut enc, "stampede_attempt_latency_seconds", &lat)?;
        let op_lat: Vec<(Labels, &LiveHistogram)> = fleets
            .iter()
            .map(|f| (vec![("fleet", f.name.as_str())], &f.live.op_latency))
            .collect();
        histogram(&mut enc, "stampede_operation_latency_seconds", &op_lat)?;
        Ok(())
    }
}

/// The exposition text of `board` right now.
pub fn render(board: &Arc<Board>) -> String {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(BoardCollector(board.clone())));
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
    out
}

/// A running endpoint; dropped or [`MetricsServer::stop`]ped, it stops.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl MetricsServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serve `GET /metrics` (any other path: 404) on `addr`.
pub async fn serve(addr: SocketAddr, board: Arc<Board>) -> std::io::Result<MetricsServer> {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let done = stop.clone();
    tokio::spawn(async move {
        loop {
            let tcp = tokio::select! {
                _ = done.cancelled() => break,
                a = listener.accept() => match a { Ok((t, _)) => t, Err(_) => continue },
            };
            let board = board.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let board = board.clone();
                    async move {
                        let (status, body) = if req.uri().path() == "/metrics" {
                            (200, render(&board))
                        } else {
                            (404, "not found: try /metrics\n".to_string())
                        };
                        hyper::Response::builder()
                            .status(status)
                            .header(
                                "content-type",
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )
                            .body(Full::new(bytes::Bytes::from(body)))
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc);
                tokio::select! {
                    _ = conn => {}
                    _ = done.cancelled() => {}
                }
            });
        }
    });
    Ok(MetricsServer { addr, stop })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Fleet;
    use crate::metrics::StatusClass;
    use std::time::Duration;

    #[test]
    fn exposition_carries_every_counter_with_its_labels() {
        let board = Arc::new(Board::default());
        let live = Arc::new(Live::new(2));
        for _ in 0..7 {
            live.sent(1, false);
        }
        live.sent(0, true);
        live.answered(1, StatusClass::S5xx, Duration::from_millis(3));
        live.answered(1, StatusClass::S2xx, Duration::from_millis(300));
        board.add_round(
            crate::live::RoundInfo {
                round: 0,
                rounds: 1,
                started: std::time::Instant::now(),
                arrivals_for: Duration::from_secs(1),
                drain: Duration::from_secs(1),
            },
            vec![Fleet {
                name: "compliant".into(),
                round: 0,
                steps: vec!["availability".into(), "reserve".into()],
                live,
            }],
        );
        let text = render(&board);
        for line in [
            "stampede_attempts_total{fleet=\"compliant\",step=\"reserve\"} 7",
            "stampede_attempts_total{fleet=\"compliant\",step=\"availability\"} 1",
            "stampede_retries_total{fleet=\"compliant\"} 1",
            "stampede_attempt_results_total{fleet=\"compliant\",step=\"reserve\",outcome=\"5xx\"} 1",
            "stampede_attempt_latency_seconds_count{fleet=\"compliant\",step=\"reserve\"} 2",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        // 3 ms falls at or below le=0.004096; 300 ms above it.
        assert!(
            text.contains("stampede_attempt_latency_seconds_bucket{le=\"0.004096\",fleet=\"compliant\",step=\"reserve\"} 1")
                || text.contains("stampede_attempt_latency_seconds_bucket{fleet=\"compliant\",step=\"reserve\",le=\"0.004096\"} 1"),
            "{text}"
        );
        for (name, _, _) in METRICS {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        }
    }
}
