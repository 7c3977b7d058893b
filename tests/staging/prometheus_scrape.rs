//! A real Prometheus (Debian's `prometheus` package) scrapes
//! `stampede run --metrics-listen` every second; after the run, its HTTP
//! API's sum of `stampede_attempts_total` per fleet must equal the report's
//! attempts, every scraped latency histogram must have `+Inf` == `_count`,
//! and `histogram_quantile(0.99, ...)` over the final buckets must land
//! within one bucket of the report's attempt latency p99. Skipped, saying
//! so, when the binary is missing (CI installs it).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn prometheus_bin() -> Option<String> {
    ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET on loopback, HTTP/1.0: the body.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// `/api/v1/query?query=EXPR` (percent-encoded): its `data.result`,
/// panicking on an error answer.
fn query(port: u16, expr: &str) -> Vec<serde_json::Value> {
    let q: String = expr
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = get(port, &format!("/api/v1/query?query={q}")).expect("query prometheus");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["status"], "success", "{expr}: {body}");
    v["data"]["result"].as_array().unwrap().clone()
}

/// A result's labels but `__name__` and `le`.
fn series_key(r: &serde_json::Value) -> BTreeMap<String, String> {
    r["metric"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__name__" && *k != "le")
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// A sample's value (`[time, "value"]`).
fn value(v: &serde_json::Value) -> f64 {
    v[1].as_str().unwrap().parse().unwrap()
}

/// Every scraped sample of `+Inf` equals the `_count` of the same scrape,
/// for every series of `hist` Prometheus holds: how many series.
fn inf_is_count_in_every_scrape(port: u16, hist: &str) -> usize {
    let samples = |expr: &str| -> BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> {
        query(port, expr)
            .iter()
            .map(|r| {
                let vals = r["values"].as_array().unwrap();
                let vals = vals.iter().map(|v| (v[0].as_f64().unwrap(), value(v)));
                (series_key(r), vals.collect())
            })
            .collect()
    };
    let inf = samples(&format!("{hist}_bucket{{le=\"+Inf\"}}[5m]"));
    let count = samples(&format!("{hist}_count[5m]"));
    assert!(!inf.is_empty(), "no {hist} series scraped");
    assert_eq!(
        inf.keys().collect::<Vec<_>>(),
        count.keys().collect::<Vec<_>>(),
        "{hist}: the +Inf buckets and the _count series differ"
    );
    for (k, inf) in &inf {
        assert_eq!(inf, &count[k], "{hist} {k:?}: +Inf vs _count per scrape");
        assert!(!inf.is_empty());
    }
    inf.len()
}

#[test]
fn prometheus_sees_the_reports_attempts() {
    let Some(bin) = prometheus_bin() else {
        eprintln!(
            "SKIPPED: no prometheus binary (apt-get install prometheus; .ci/run installs it)"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("stampede-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mport, pport) = (crate::common::free_port(), crate::common::free_port());
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: stampede\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{mport}']\n"
        ),
    )
    .unwrap();
    let _prom = Kill(
        Command::new(&bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    crate::common::wait_for("prometheus to be ready", Duration::from_secs(30), || {
        get(pport, "/-/ready").is_some_and(|b| b.contains("Ready"))
    });
    let out = dir.join("run");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let run = crate::common::stampede()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "-q",
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--metrics-listen",
            &format!("127.0.0.1:{mport}"),
            "--metrics-linger",
            "4s",
        ])
        .output()
        .unwrap();
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let results = summary["results"].as_array().unwrap();
    // The last scrape was taken during the linger, after the run ended; wait
    // (up to a deadline) until Prometheus answers with its final values.
    let attempts_seen = |fleet: &str| -> Option<u64> {
        let r = query(
            pport,
            &format!("sum(max_over_time(stampede_attempts_total{{fleet=\"{fleet}\"}}[5m]))"),
        );
        Some(value(&r.first()?["value"]) as u64)
    };
    let t0 = Instant::now();
    while results
        .iter()
        .any(|c| attempts_seen(c["name"].as_str().unwrap()) != c["attempts"].as_u64())
        && t0.elapsed() < Duration::from_secs(15)
    {
        std::thread::sleep(Duration::from_millis(500));
    }
    for c in results {
        let fleet = c["name"].as_str().unwrap();
        let want = c["attempts"].as_u64().unwrap();
        assert!(want > 0);
        // The last scrape was taken during the linger, after the run ended.
        let q = format!(
            "/api/v1/query?query=sum(max_over_time(stampede_attempts_total%7Bfleet%3D%22{fleet}%22%7D%5B1m%5D))"
        );
        let body = get(pport, &q).expect("query prometheus");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let got: f64 = v["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap_or_else(|| panic!("no value for {fleet}: {body}"))
            .parse()
            .unwrap();
        assert_eq!(
            got as u64, want,
            "fleet {fleet}: prometheus {got}, report {want}"
        );
        for (metric, field) in [
            ("stampede_retries_total", "retries"),
            ("stampede_breaker_opens_total", "breaker_opens"),
        ] {
            let q = format!(
                "/api/v1/query?query=max_over_time({metric}%7Bfleet%3D%22{fleet}%22%7D%5B1m%5D)"
            );
            let body = get(pport, &q).expect("query prometheus");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let got: f64 = v["data"]["result"][0]["value"][1]
                .as_str()
                .unwrap_or_else(|| panic!("no {metric} for {fleet}: {body}"))
                .parse()
                .unwrap();
            assert_eq!(
                got as u64,
                c[field].as_u64().unwrap(),
                "{metric} of {fleet}"
            );
        }
    }
    let attempt_series = inf_is_count_in_every_scrape(pport, "stampede_attempt_latency_seconds");
    let op_series = inf_is_count_in_every_scrape(pport, "stampede_operation_latency_seconds");
    assert_eq!(op_series, results.len());
    assert!(attempt_series >= results.len());
    for c in results {
        let fleet = c["name"].as_str().unwrap();
        // Over the final buckets (counters only grow within a run, so their
        // maximum is the last scrape): the whole run, as the report.
        let buckets = format!(
            "max_over_time(stampede_attempt_latency_seconds_bucket{{fleet=\"{fleet}\"}}[5m])"
        );
        let r = query(
            pport,
            &format!("histogram_quantile(0.99, sum by (le) ({buckets}))"),
        );
        let got = value(&r.first().unwrap_or_else(|| panic!("no p99 for {fleet}"))["value"]);
        let want = c["attempt_latency_ms"]["p99"].as_f64().unwrap() / 1e3;
        let mut les: Vec<f64> = query(pport, &format!("sum by (le) ({buckets})"))
            .iter()
            .map(|r| r["metric"]["le"].as_str().unwrap().parse().unwrap())
            .filter(|le: &f64| le.is_finite())
            .collect();
        les.sort_by(f64::total_cmp);
        // The index of the bucket a value falls in (`les.len()`: `+Inf`).
        let bucket = |v: f64| les.iter().position(|le| v <= *le).unwrap_or(les.len());
        let (bg, bw) = (bucket(got), bucket(want));
        eprintln!(
            "{fleet}: histogram_quantile p99 {:.3} ms (bucket {bg}), report p99 {:.3} ms (bucket {bw})",
            got * 1e3,
            want * 1e3
        );
        assert!(
            got.is_finite() && bg.abs_diff(bw) <= 1,
            "{fleet}: prometheus p99 {got} s in bucket {bg}, report p99 {want} s in bucket {bw} of {les:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
