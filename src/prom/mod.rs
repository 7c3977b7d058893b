//! `--metrics-listen ADDR`: the live counters and latency histograms in the
//! Prometheus text exposition format at `http://ADDR/metrics` (names and
//! labels in docs/metrics.md). Values are read from the [`Board`] on every
//! scrape; a finished round's fleets keep their final values.

use crate::board::Board;
use crate::metrics::live::{BUCKETS, CLASSES, bucket_top};
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
        "Journeys started, by fleet (a closed-model user's every iteration is one), as the report's arrivals.",
    ),
    (
        "stampede_attempts",
        "counter",
        "HTTP attempts (first tries and retries), by fleet and step, counted as they leave like the report's attempts; those that never left the generator are stampede_attempt_results{outcome=\"not_sent\"} and {outcome=\"rejected_locally\"}.",
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
        "Answered attempts by fleet, step and outcome (status class: 2xx 3xx 4xx 429 5xx timeout network invalid_response not_sent rejected_locally).",
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

/// Histogram bounds: every top of the live histogram's log buckets (four per
/// doubling, 1.25, 1.5, 1.75 and 2 times a power of two microseconds) from
/// 128 µs to 2^26 µs = 67.108864 s, 77 `le` values before `+Inf`.
const LE_MIN_US: u64 = 1 << 7;
const LE_MAX_US: u64 = 1 << 26;

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

/// The `le` bounds (µs) exported, each the top of a live bucket.
fn le_bounds_us() -> impl Iterator<Item = u64> {
    (0..BUCKETS)
        .map(bucket_top)
        .filter(|&t| (LE_MIN_US..=LE_MAX_US).contains(&t))
}

/// For each `le` (seconds, `f64::MAX` for `+Inf`), the values above the
/// previous `le` and at most this one; then the total and the sum in
/// seconds. Per bucket, not running totals: prometheus-client's
/// `encode_histogram` accumulates the counts it is given (as it does for
/// its own `Histogram`, whose buckets hold the values at most their bound
/// and above the previous one).
fn buckets(h: &LiveHistogram) -> (Vec<(f64, u64)>, u64, f64) {
    let counts = h.snapshot();
    let total: u64 = counts.iter().sum();
    let mut out = Vec::new();
    let mut b = 0usize;
    for le_us in le_bounds_us() {
        let mut n = 0;
        while b < counts.len() && bucket_top(b) <= le_us {
            n += counts[b];
            b += 1;
        }
        out.push((le_us as f64 / 1e6, n));
    }
    out.push((f64::MAX, counts[b..].iter().sum()));
    (out, total, h.sum_ns() as f64 / 1e9)
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
    use crate::board::Fleet;
    use crate::metrics::StatusClass;
    use std::collections::BTreeMap;
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
            crate::board::RoundInfo {
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

    /// One sample line of the exposition text: metric name, labels (in
    /// order) and value.
    fn sample(line: &str) -> (String, Vec<(String, String)>, String) {
        let (head, value) = line.rsplit_once(' ').unwrap();
        let Some((name, rest)) = head.split_once('{') else {
            return (head.into(), Vec::new(), value.into());
        };
        let mut labels = Vec::new();
        let mut chars = rest.strip_suffix('}').unwrap().chars();
        loop {
            let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
            if key.is_empty() {
                break;
            }
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut val = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.push(chars.next().unwrap()),
                    '"' => break,
                    c => val.push(c),
                }
            }
            labels.push((key, val));
            if chars.next() != Some(',') {
                break;
            }
        }
        (name.into(), labels, value.into())
    }

    #[derive(Debug, Default)]
    struct Series {
        /// `(le, cumulative count)` in exposition order.
        buckets: Vec<(String, u64)>,
        count: Option<u64>,
        sum: Option<f64>,
    }

    /// Every histogram series of `name` in `text`, by its labels but `le`.
    fn histograms(text: &str, name: &str) -> BTreeMap<Vec<(String, String)>, Series> {
        let mut out: BTreeMap<_, Series> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (metric, mut labels, value) = sample(line);
            let Some(suffix) = metric.strip_prefix(name) else {
                continue;
            };
            let le = labels
                .iter()
                .position(|l| l.0 == "le")
                .map(|i| labels.remove(i).1);
            labels.sort();
            let s = out.entry(labels).or_default();
            match (suffix, le) {
                ("_bucket", Some(le)) => s.buckets.push((le, value.parse().unwrap())),
                ("_count", None) => s.count = Some(value.parse().unwrap()),
                ("_sum", None) => s.sum = Some(value.parse().unwrap()),
                _ => panic!("unexpected sample {line}"),
            }
        }
        out
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.sort();
        v
    }

    /// A Prometheus histogram of exactly `recorded`: `le` increasing up to
    /// `+Inf`, each bucket the number of values at most its `le` (so
    /// non-decreasing), `+Inf` == `_count`, `_sum` their sum.
    fn check(what: &str, s: &Series, recorded: &[Duration]) {
        let n = recorded.len() as u64;
        assert_eq!(s.count, Some(n), "{what} _count");
        let (last_le, inf) = s.buckets.last().unwrap();
        assert_eq!((last_le.as_str(), *inf), ("+Inf", n), "{what} +Inf");
        let mut prev: Option<(f64, u64)> = None;
        for (le, got) in &s.buckets[..s.buckets.len() - 1] {
            let le_s: f64 = le.parse().unwrap();
            let le_ns = (le_s * 1e9).round() as u128;
            let want = recorded.iter().filter(|d| d.as_nanos() <= le_ns).count() as u64;
            assert_eq!(*got, want, "{what} le={le}");
            if let Some((p_le, p_n)) = prev {
                assert!(le_s > p_le && *got >= p_n, "{what} le={le} after {p_le}");
            }
            prev = Some((le_s, *got));
        }
        assert!(*inf >= prev.unwrap().1, "{what}");
        let want_sum = recorded.iter().map(Duration::as_nanos).sum::<u128>() as f64 / 1e9;
        let got_sum = s.sum.unwrap();
        assert!(
            (got_sum - want_sum).abs() <= 1e-9 * want_sum.max(1.0),
            "{what} _sum {got_sum} want {want_sum}"
        );
    }

    #[test]
    fn histograms_are_cumulative_once_and_count_what_was_recorded() {
        let les_us: Vec<u64> = le_bounds_us().collect();
        assert_eq!(
            (les_us.len(), les_us[0], *les_us.last().unwrap()),
            (77, 128, 67_108_864)
        );
        // Both sides of the first, a middle and the last `le`, nothing, and
        // values beyond the last `le` and beyond the live histogram.
        let mut edges = vec![
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_secs(100),
        ];
        for us in [128, 2048, 2560, 1_048_576, 67_108_864] {
            let d = Duration::from_micros(us);
            edges.extend([d - Duration::from_nanos(1), d, d + Duration::from_nanos(1)]);
        }
        edges.push(Duration::from_secs(5 * 3600)); // the live histogram's last, open bucket
        // Plus a deterministic spread over 1 µs .. ~100 s, log-uniform.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut spread = |n: usize| -> Vec<Duration> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let e = (x % 1_000_000) as f64 / 1_000_000.0 * 17.0;
                    Duration::from_nanos((1000.0 * 10f64.powf(e / 2.0)) as u64 + x % 1000)
                })
                .collect()
        };
        let reserve: Vec<Duration> = edges.iter().copied().chain(spread(700)).collect();
        let availability = spread(300);
        let naive_reserve = spread(50);
        let op_compliant: Vec<Duration> = spread(400).into_iter().chain(edges).collect();

        let compliant = Arc::new(Live::new(3));
        let naive = Arc::new(Live::new(3));
        for d in &reserve {
            compliant.answered(1, StatusClass::S2xx, *d);
        }
        for d in &availability {
            compliant.answered(0, StatusClass::S5xx, *d);
        }
        for d in &naive_reserve {
            naive.answered(1, StatusClass::Timeout, *d);
        }
        for d in &op_compliant {
            compliant.op_latency.record(*d);
        }
        let board = Arc::new(Board::default());
        let steps = vec!["availability".into(), "reserve".into(), "confirm".into()];
        let fleet = |name: &str, live: &Arc<Live>| Fleet {
            name: name.into(),
            round: 0,
            steps: steps.clone(),
            live: live.clone(),
        };
        board.add_round(
            crate::board::RoundInfo {
                round: 0,
                rounds: 1,
                started: std::time::Instant::now(),
                arrivals_for: Duration::from_secs(1),
                drain: Duration::from_secs(1),
            },
            vec![fleet("compliant", &compliant), fleet("naive", &naive)],
        );
        let text = render(&board);

        let attempts = histograms(&text, "stampede_attempt_latency_seconds");
        let none: &[Duration] = &[];
        let want: [(&str, &str, &[Duration]); 6] = [
            ("compliant", "availability", &availability),
            ("compliant", "reserve", &reserve),
            ("compliant", "confirm", none),
            ("naive", "availability", none),
            ("naive", "reserve", &naive_reserve),
            ("naive", "confirm", none),
        ];
        assert_eq!(attempts.len(), want.len(), "{text}");
        for (f, step, rec) in want {
            let s = &attempts[&labels(&[("fleet", f), ("step", step)])];
            assert_eq!(s.buckets.len(), 78, "{f} {step}");
            check(&format!("attempt {f} {step}"), s, rec);
        }
        let ops = histograms(&text, "stampede_operation_latency_seconds");
        assert_eq!(ops.len(), 2);
        check(
            "op compliant",
            &ops[&labels(&[("fleet", "compliant")])],
            &op_compliant,
        );
        check("op naive", &ops[&labels(&[("fleet", "naive")])], none);
    }
}
