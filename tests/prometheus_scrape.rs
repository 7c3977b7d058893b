//! A real Prometheus (Debian's `prometheus` package) scrapes
//! `stampede run --metrics-listen` every second; after the run, its HTTP
//! API's sum of `stampede_attempts_total` per fleet must equal the report's
//! attempts. Skipped, saying so, when the binary is missing (CI installs it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
    let (mport, pport) = (free_port(), free_port());
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
    let t0 = Instant::now();
    while get(pport, "/-/ready").is_none_or(|b| !b.contains("Ready")) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "prometheus never became ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = dir.join("run");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let run = Command::new(env!("CARGO_BIN_EXE_stampede"))
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
    for c in summary["results"].as_array().unwrap() {
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
    let _ = std::fs::remove_dir_all(&dir);
}
