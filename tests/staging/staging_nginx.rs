//! Against software we did not write: Debian's nginx, started unprivileged
//! as a child process on 127.0.0.1 with a generated config, answering with
//! its own rate limiting (`limit_req`, HTML 429, no envelope, no
//! Retry-After) and its own bare 503 page. The retry policies, the report
//! and the gates must make sense of real proxy answers, not only of our
//! simulator's.
//!
//! nginx must be installed (`.ci/run` installs it): without it these tests
//! fail, they do not skip.

use crate::common;
use common::TempDir;

use stampede::engine::Control;
use stampede::report::{FleetResult, Report};
use stampede::scenario::{self, Overrides};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const NGINX: &str = "/usr/sbin/nginx";

/// One nginx process (no master, no daemon) on a free loopback port;
/// killed and reaped on drop. Its temp folder outlives it (field order).
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        r#"worker_processes 1;
events {{ worker_connections 512; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    limit_req_zone $binary_remote_addr zone=one:1m rate=5r/s;
    log_format conn '$connection $request_uri $status';
    server {{
        listen 127.0.0.1:{port};
        # Not `return 200 ...`: `return` runs in the rewrite phase, before
        # limit_req (preaccess), so it would never be rate limited. A
        # static file is served in the content phase, after the limiter.
        location = /limited {{
            limit_req zone=one burst=1 nodelay;
            limit_req_status 429;
            default_type application/json;
            alias {d}/limited.json;
        }}
        location /down {{
            return 503;
        }}
        # Closes a kept-alive connection idle for 200 ms.
        location = /short-keepalive {{
            keepalive_timeout 200ms;
            access_log {d}/short.log conn;
            default_type application/json;
            alias {d}/limited.json;
        }}
    }}
}}
"#
    )
}

impl Nginx {
    fn start() -> Nginx {
        assert!(
            Path::new(NGINX).is_file(),
            "{NGINX} not found: these tests run against Debian's nginx; install it with \
             `apt-get install -y nginx` (.ci/run does this on CI)"
        );
        // A free port can be taken between our probe and nginx's bind: try a few.
        let mut last_err = String::new();
        for _ in 0..5 {
            let dir = TempDir::new("nginx");
            let port = common::free_port();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, config(dir.path(), port)).expect("write nginx.conf");
            std::fs::write(
                dir.path().join("limited.json"),
                r#"{"success":true,"data":{"available":10}}"#,
            )
            .expect("write limited.json");
            let d = dir.path().display().to_string();
            let child = Command::new(NGINX)
                .arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(format!("{d}/error.log"))
                .arg("-c")
                .arg(&conf)
                .arg("-g")
                .arg(format!(
                    "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;"
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {NGINX}: {e}"));
            let mut nginx = Nginx {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                dir,
            };
            match nginx.wait_ready() {
                Ok(()) => return nginx,
                Err(e) => last_err = e,
            }
        }
        panic!("nginx did not start: {last_err}");
    }

    /// Until it accepts connections, or it exited, or 20 s passed.
    fn wait_ready(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("error.log");
        common::wait_listening(&mut self.child, self.addr, &log, Duration::from_secs(20))
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// `ops` operations at 50/s on one path, for the guidelines' policy (fast
/// delays, no breaker so only the per-code retry limits decide) and for
/// `no-retry`.
fn scenario_src(url: &str, path: &str, ops: u32, gates: &str) -> String {
    common::scenario()
        .name("staging-nginx")
        .compare(&["compliant", "no-retry"])
        .top_key("gates", gates)
        .target(url)
        .target_key("timeout", "\"10s\"")
        .open(&format!("{}ms", ops * 20), 50)
        .drain("30s")
        .event("E1", &["A"])
        .steps(&format!(
            r#"[{{ name = "call", path = "{path}", retry = true }}]"#
        ))
        .table(
            r#"[policies.compliant]
preset = "compliant"
base_delay = "10ms"
max_delay = "40ms"
breaker_enabled = false"#,
        )
        .toml()
}

async fn run(src: &str) -> Report {
    let plan = scenario::parse(
        src,
        Path::new("tests/staging-nginx.toml"),
        &Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("scenario should be valid: {e}"));
    let out = stampede::run::execute(&plan, &Control::default(), None)
        .await
        .expect("run");
    assert_eq!(out.report.status, stampede::report::RunStatus::Completed);
    out.report
}

fn fleet<'a>(r: &'a Report, name: &str) -> &'a FleetResult {
    r.results
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("fleet {name} in the report"))
}

fn class_count(c: &FleetResult, class: &str) -> u64 {
    c.steps[0]
        .attempt_latency_by_class_ms
        .get(class)
        .map_or(0, |p| p.count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_bare_503_is_retried_three_times_then_given_up() {
    let nginx = Nginx::start();
    let gates = r#"["compliant.amplification > 1", "compliant.success_rate >= 0.9", "no-retry.amplification == 1"]"#;
    let r = run(&scenario_src(&nginx.url(), "/down", 10, gates)).await;

    let c = fleet(&r, "compliant");
    assert_eq!(c.counts.operations, 10);
    // Every attempt is nginx's HTML 503: a 5xx without the envelope.
    assert_eq!(class_count(c, "5xx"), c.counts.attempts, "{:?}", c.steps[0]);
    assert_eq!(class_count(c, "2xx"), 0);
    let series_5xx: u64 = c.timeseries.iter().map(|s| s.status_5xx).sum();
    assert_eq!(series_5xx, c.counts.attempts);
    // 503: 3 retries, then give up.
    assert_eq!(
        c.attempts_per_operation,
        [(4, 10)].into_iter().collect(),
        "1 try + 3 retries each"
    );
    // nginx's bare 503 has no envelope: the cause is the status.
    assert_eq!(
        c.counts.outcomes,
        [("GAVE_UP/HTTP_503".to_string(), 10)].into_iter().collect()
    );
    assert_eq!(c.counts.attempts, 40);
    assert_eq!(c.counts.amplification, 4.0);
    assert_eq!(c.counts.success_rate, 0.0);
    // The retries waited (backoff, no Retry-After to honour).
    // (recorded per operation: the total time it spent waiting to retry)
    assert_eq!(
        c.latency.backoff_wait_ms.count, 10,
        "{:?}",
        c.latency.backoff_wait_ms
    );
    assert!(
        c.latency.backoff_wait_ms.p50 > 0.0,
        "{:?}",
        c.latency.backoff_wait_ms
    );
    assert_eq!(c.retry.retry_after_honoured, 0);

    let n = fleet(&r, "no-retry");
    assert_eq!(n.counts.operations, 10);
    assert_eq!(n.attempts_per_operation, [(1, 10)].into_iter().collect());
    assert_eq!(class_count(n, "5xx"), 10);

    // Gates on the real report: amplification passes, success rate fails.
    let passed: Vec<(&str, bool)> = r
        .gates
        .iter()
        .map(|g| (g.expr.as_str(), g.passed))
        .collect();
    assert_eq!(
        passed,
        [
            ("compliant.amplification > 1", true),
            ("compliant.success_rate >= 0.9", false),
            ("no-retry.amplification == 1", true),
        ]
    );
    assert_eq!(r.gates[0].measured, Some(4.0));
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_limit_req_429s_are_retried_within_the_limit() {
    let nginx = Nginx::start();
    let r = run(&scenario_src(&nginx.url(), "/limited", 50, "[]")).await;

    let c = fleet(&r, "compliant");
    assert_eq!(c.counts.operations, 50);
    // 50/s against 5r/s (burst 1): nginx refuses most first tries.
    assert!(class_count(c, "429") > 0, "{:?}", c.steps[0]);
    assert!(c.counts.attempts > c.counts.operations, "429s were retried");
    assert!(c.counts.retries > 0);
    // At most 1 try + 5 retries for 429.
    let most = c.attempts_per_operation.keys().max().copied().unwrap_or(0);
    assert!((2..=6).contains(&most), "{:?}", c.attempts_per_operation);
    assert_eq!(
        c.attempts_per_operation.values().sum::<u64>(),
        c.counts.operations
    );
    // The first request of a fresh limiter always passes; nothing but
    // success or giving up on 429 is possible here.
    assert!(
        c.counts.outcomes.get("OK").copied().unwrap_or(0) > 0,
        "{:?}",
        c.counts.outcomes
    );
    assert!(
        c.counts
            .outcomes
            .keys()
            .all(|k| k == "OK" || k == "GAVE_UP/HTTP_429"),
        "{:?}",
        c.counts.outcomes
    );
    assert_eq!(
        class_count(c, "2xx") + class_count(c, "429"),
        c.counts.attempts
    );
    assert!(c.latency.backoff_wait_ms.count > 0 && c.latency.backoff_wait_ms.max > 0.0);

    let n = fleet(&r, "no-retry");
    assert_eq!(n.counts.operations, 50);
    assert_eq!(n.attempts_per_operation, [(1, 50)].into_iter().collect());
    assert_eq!(n.counts.attempts, 50);
    assert_eq!(n.counts.retries, 0);
    drop(nginx);
}

#[test]
fn the_binary_fails_the_build_on_a_failed_gate_against_nginx() {
    let nginx = Nginx::start();
    let dir = TempDir::new("nginx-gates");
    let run_binary = |gates: &str, out: &str| {
        let file = dir.path().join(format!("{out}.toml"));
        std::fs::write(&file, scenario_src(&nginx.url(), "/down", 5, gates)).expect("scenario");
        let out_dir = dir.path().join(out);
        let output = crate::common::stampede()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(&out_dir)
            .arg("--quiet")
            .output()
            .expect("run the stampede binary");
        let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap_or_default();
        (output, junit)
    };

    let (output, junit) = run_binary(
        r#"["compliant.amplification > 1", "compliant.success_rate >= 0.9"]"#,
        "failing",
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed gate exits 1: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(junit.contains("<failure"), "{junit}");
    assert!(
        junit.contains("compliant.success_rate &gt;= 0.9"),
        "{junit}"
    );
    assert!(junit.contains("failures=\"1\""), "{junit}");

    let (output, junit) = run_binary(r#"["compliant.amplification > 1"]"#, "passing");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!junit.contains("<failure"), "{junit}");
    assert!(junit.contains("compliant.amplification &gt; 1"), "{junit}");
    drop(nginx);
}

/// nginx closes a connection idle for 200 ms; users think 500 ms between
/// journeys. Each next request must find that its pooled connection is
/// gone and open a new one: every attempt answered, none lost to a
/// closed connection, and nginx's own log agrees on the count and shows
/// the new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closed_while_idle_is_replaced_not_failed() {
    let nginx = Nginx::start();
    let src = common::scenario()
        .name("staging-nginx-keepalive")
        .compare(&["compliant"])
        .target(&nginx.url())
        .target_key("connections", "2")
        .closed(2, 4, "20s")
        .load_key("think_time", "\"500ms\"")
        .drain("10s")
        .event("E1", &["A"])
        .steps(r#"[{ name = "call", path = "/short-keepalive" }]"#)
        .toml();
    let r = run(&src).await;
    let c = fleet(&r, "compliant");
    assert_eq!(c.counts.operations, 8, "{:?}", c.counts.outcomes);
    assert_eq!(c.counts.attempts, 8);
    assert_eq!(
        c.counts.outcomes,
        [("OK".to_string(), 8)].into_iter().collect()
    );
    let log = std::fs::read_to_string(nginx.dir.path().join("short.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len() as u64, c.counts.attempts, "nginx's log:\n{log}");
    assert!(lines.iter().all(|l| l.ends_with(" 200")), "{log}");
    let conns: std::collections::BTreeSet<&str> =
        lines.iter().filter_map(|l| l.split(' ').next()).collect();
    assert!(
        conns.len() > 2,
        "nginx closed idle connections, so more than 2 were opened: {log}"
    );
    drop(nginx);
}
