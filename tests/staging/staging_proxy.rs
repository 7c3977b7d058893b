//! HTTP proxies through the binary, against a real proxy (Debian's
//! tinyproxy) on loopback: an http:// target's requests go through it in
//! absolute form (the proxy's own log and the target's log both count
//! exactly the attempts stampede reports), NO_PROXY bypasses it, a dead
//! proxy or a proxy that refuses the CONNECT tunnel is a named failure at
//! the proxy, and an https:// target is reached through CONNECT with TLS
//! inside the tunnel.

use crate::common;
use common::TempDir;
use common::logserver::LogServer;
use common::tinyproxy::{Tinyproxy, free_port};

const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Six journeys of one GET each, never retried.
fn scenario(url: &str, proxy: Option<&str>) -> String {
    let mut s = common::scenario()
        .compare(&["naive"])
        .target(url)
        .target_key("connections", "4")
        .target_key("timeout", "\"10s\"");
    if let Some(p) = proxy {
        s = s.target_key("proxy", &format!("{p:?}"));
    }
    s.ticket_drop(6, "200ms")
        .drain("20s")
        .steps(r#"[{ name = "a", path = "/a?x=1", retry = false }]"#)
        .toml()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    summary: serde_json::Value,
    /// Every report file's text, to look for secrets.
    files: String,
}

impl Run {
    fn outcome(&self, label: &str) -> u64 {
        self.summary["results"][0]["outcomes"][label]
            .as_u64()
            .unwrap_or(0)
    }
    fn attempts(&self) -> u64 {
        self.summary["results"][0]["attempts"]
            .as_u64()
            .expect("attempts")
    }
    fn notes(&self) -> Vec<String> {
        self.summary["notes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The binary on `src`, with no proxy variable from the test's own
/// environment and `env` set; in a blocking thread, so in-process servers
/// keep serving.
async fn run_scenario(dir: &TempDir, src: &str, env: &[(&str, String)]) -> Run {
    run_scenario_with(dir, src, env, &["--quiet"]).await
}

async fn run_scenario_with(dir: &TempDir, src: &str, env: &[(&str, String)], args: &[&str]) -> Run {
    let file = dir.path().join("s.toml");
    std::fs::write(&file, src).unwrap();
    // A fresh report folder for every run.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out_dir = dir.path().join(format!("out{n}"));
    let mut cmd = common::stampede();
    cmd.arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out_dir)
        .args(args);
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    let out = cmd.envs(env.iter().map(|(k, v)| (*k, v))).run_async().await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = serde_json::from_slice(
        &std::fs::read(out_dir.join("summary.json"))
            .unwrap_or_else(|e| panic!("summary.json: {e}; stderr: {stderr}")),
    )
    .unwrap();
    let mut files = String::new();
    for e in std::fs::read_dir(&out_dir).unwrap().flatten() {
        files.push_str(&String::from_utf8_lossy(
            &std::fs::read(e.path()).unwrap_or_default(),
        ));
    }
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        summary,
        files,
    }
}

/// The journey's requests the proxy forwarded (not stampede's one
/// `/__sim/ledger` probe, which is no attempt).
fn forwarded(proxy: &Tinyproxy, target: &str) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with(&format!("GET {target}/a")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_target_through_tinyproxy_every_attempt_goes_through_the_proxy() {
    let dir = TempDir::new("proxy-http");
    let target = LogServer::start(|_| (200, vec![], r#"{"ok":true}"#.to_string())).await;
    let proxy = Tinyproxy::start(dir.path(), &[], None);
    let run = run_scenario(
        &dir,
        &scenario(&target.url(), None),
        &[("HTTP_PROXY", proxy.url())],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let line = format!(
        "proxy: connections to {} go through {} (from HTTP_PROXY)",
        target.url(),
        proxy.url()
    );
    assert!(
        run.stderr.lines().any(|l| l == line),
        "want `{line}`:\n{}",
        run.stderr
    );
    assert!(run.notes().contains(&line), "{:?}", run.notes());
    assert_eq!(
        run.outcome("OK"),
        6,
        "{}",
        run.summary["results"][0]["outcomes"]
    );
    assert_eq!(run.attempts(), 6);
    // Absolute form, as a proxy needs it, once per attempt.
    let through = forwarded(&proxy, &target.url());
    assert_eq!(
        through,
        vec![format!("GET {}/a?x=1 HTTP/1.1", target.url()); 6],
        "proxy log:\n{}",
        proxy.log_text()
    );
    // The target saw the same attempts, in origin form, from the proxy.
    let seen = target.seen();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(seen.iter().all(|s| s.path == "/a?x=1"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_are_sent_and_never_shown() {
    let dir = TempDir::new("proxy-auth");
    let target = LogServer::start(|_| (200, vec![], r#"{"ok":true}"#.to_string())).await;
    let proxy = Tinyproxy::start(dir.path(), &[], Some(("alice", "pr0xyS3cret")));
    let with_creds = proxy.url().replace("http://", "http://alice:pr0xyS3cret@");
    // --trace shows the request as sent to the proxy, its credentials redacted.
    let run = run_scenario_with(
        &dir,
        &scenario(&target.url(), None),
        &[("http_proxy", with_creds.clone())],
        &["--quiet", "--trace", "1"],
    )
    .await;
    assert!(
        run.stdout.contains("proxy-authorization: ***"),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let ok = run.outcome("OK");
    assert!(ok >= 1, "{}", run.summary["results"][0]["outcomes"]);
    assert_eq!(forwarded(&proxy, &target.url()).len() as u64, ok);
    assert!(
        run.stderr.contains(&format!(
            "go through {} (from http_proxy), with Proxy-Authorization",
            proxy.url()
        )),
        "{}",
        run.stderr
    );
    // base64("alice:pr0xyS3cret")
    for secret in ["pr0xyS3cret", "YWxpY2U6cHIweHlTM2NyZXQ="] {
        for (what, text) in [
            ("stderr", &run.stderr),
            ("stdout", &run.stdout),
            ("reports", &run.files),
        ] {
            assert!(!text.contains(secret), "{what} holds the proxy secret");
        }
    }
    // The proxy's credentials stop at the proxy.
    assert!(
        target
            .seen()
            .iter()
            .all(|s| s.header("proxy-authorization").is_none())
    );

    // Wrong password: the proxy answers itself (tinyproxy says 401 to a
    // forwarded request, 407 to CONNECT); an HTTP answer, named by status.
    let wrong = proxy.url().replace("http://", "http://alice:nope@");
    let run = run_scenario(
        &dir,
        &scenario(&target.url(), None),
        &[("HTTP_PROXY", wrong)],
    )
    .await;
    assert_eq!(
        run.outcome("HTTP_401") + run.outcome("HTTP_407"),
        6,
        "{}",
        run.summary["results"][0]["outcomes"]
    );
    assert_eq!(
        target.seen().len() as u64,
        ok,
        "nothing more reached the target"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_bypasses_the_proxy_as_curl_does() {
    let dir = TempDir::new("proxy-bypass");
    let target = LogServer::start(|_| (200, vec![], r#"{"ok":true}"#.to_string())).await;
    let proxy = Tinyproxy::start(dir.path(), &[], None);
    for no in ["127.0.0.1", "localhost, 127.0.0.0/8", "*"] {
        let before = target.seen().len();
        let run = run_scenario(
            &dir,
            &scenario(&target.url(), None),
            &[("HTTP_PROXY", proxy.url()), ("no_proxy", no.to_string())],
        )
        .await;
        assert_eq!(run.code, Some(0), "{no}: {}", run.stderr);
        assert_eq!(run.outcome("OK"), 6, "{no}");
        assert_eq!(target.seen().len() - before, 6, "{no}");
        assert!(!run.stderr.contains("proxy:"), "{no}: {}", run.stderr);
    }
    // `proxy = "none"` in the scenario wins over the environment.
    let run = run_scenario(
        &dir,
        &scenario(&target.url(), Some("none")),
        &[("HTTP_PROXY", proxy.url())],
    )
    .await;
    assert_eq!(run.outcome("OK"), 6);
    assert!(
        proxy.requests().is_empty(),
        "the proxy saw traffic: {}",
        proxy.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_proxy_is_a_proxy_failure_not_the_targets() {
    let dir = TempDir::new("proxy-dead");
    let target = LogServer::start(|_| (200, vec![], r#"{"ok":true}"#.to_string())).await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    // Named in the scenario this time.
    let run = run_scenario(&dir, &scenario(&target.url(), Some(&dead)), &[]).await;
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert_eq!(
        run.outcome("PROXY_CONNECT_REFUSED"),
        6,
        "{}",
        run.summary["results"][0]["outcomes"]
    );
    assert_eq!(run.outcome("CONNECT_REFUSED"), 0);
    assert!(
        run.stderr.contains(&format!(
            "target unreachable: 100% PROXY_CONNECT_REFUSED at {}",
            target.url()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.notes()
            .iter()
            .any(|n| n.starts_with("proxy: 6 attempts failed at the HTTP proxy")),
        "{:?}",
        run.notes()
    );
    assert!(target.seen().is_empty());
}

/// The simulator over HTTPS: six availability look-ups, trusting `ca.pem`.
async fn https_target(dir: &TempDir, alpn: &[&[u8]]) -> (stampede::sim::SimServer, String) {
    let pki = common::tls::pki();
    let (ca_pem, cfg) = (pki.ca_pem.clone(), common::tls::server_config(&pki, alpn));
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    let mut sim = stampede::sim::SimConfig::default();
    sim.rate_limit.per_user_per_second = 0;
    sim.capacity.service_time = std::time::Duration::ZERO;
    sim.capacity.latency_per_in_flight = std::time::Duration::ZERO;
    let server = stampede::sim::SimServer::start_tls(sim, "127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .expect("tls simulator");
    let url = format!("https://127.0.0.1:{}", server.addr().port());
    let src = common::scenario()
        .compare(&["naive"])
        .target(&url)
        .target_key("ca_file", "\"ca.pem\"")
        .target_key("connections", "4")
        .target_key("timeout", "\"10s\"")
        .ticket_drop(6, "200ms")
        .drain("20s")
        .event("E1", &["A"])
        .steps(r#"[{ name = "availability", path = "/events/E1/zones/A/availability", retry = false }]"#)
        .toml();
    (server, src)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_target_through_a_connect_tunnel_with_tls_inside() {
    let h2: &[&[u8]] = &[b"h2", b"http/1.1"];
    let h1: &[&[u8]] = &[b"http/1.1"];
    for alpn in [h2, h1] {
        let dir = TempDir::new("proxy-https");
        let (server, src) = https_target(&dir, alpn).await;
        let port = server.addr().port();
        let proxy = Tinyproxy::start(dir.path(), &[port], None);
        let dead = format!("http://127.0.0.1:{}", free_port());
        // HTTP_PROXY is for http:// targets only: a dead one must not matter.
        let run = run_scenario(
            &dir,
            &src,
            &[("HTTPS_PROXY", proxy.url()), ("HTTP_PROXY", dead)],
        )
        .await;
        let what = String::from_utf8_lossy(alpn[0]).into_owned();
        assert_eq!(run.code, Some(0), "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "proxy: connections to https://127.0.0.1:{port} go through {} (from HTTPS_PROXY)",
                proxy.url()
            )),
            "{what}: {}",
            run.stderr
        );
        assert_eq!(
            run.outcome("OK"),
            6,
            "{what}: {}",
            run.summary["results"][0]["outcomes"]
        );
        // One tunnel per connection, never more than `connections`; the
        // proxy sees no request inside them (it is TLS).
        let reqs = proxy.requests();
        assert!(!reqs.is_empty() && reqs.len() <= 4, "{what}: {reqs:?}");
        assert!(
            reqs.iter()
                .all(|r| *r == format!("CONNECT 127.0.0.1:{port} HTTP/1.1")),
            "{what}: {reqs:?}"
        );
        if what == "h2" {
            assert_eq!(reqs.len(), 1, "one shared HTTP/2 connection: {reqs:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_refuses_the_tunnel_is_named_with_its_answer() {
    let dir = TempDir::new("proxy-refused-tunnel");
    let (_server, src) = https_target(&dir, &[b"http/1.1"]).await;
    // CONNECT allowed to no port that matters: tinyproxy answers 403.
    let proxy = Tinyproxy::start(dir.path(), &[], None);
    let run = run_scenario(&dir, &src, &[("https_proxy", proxy.url())]).await;
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert_eq!(
        run.outcome("PROXY_TUNNEL_FAILED"),
        6,
        "{}",
        run.summary["results"][0]["outcomes"]
    );
    assert!(
        run.notes()
            .iter()
            .any(|n| n.starts_with("proxy: 6 attempts failed")
                && n.ends_with("the proxy answered 403 Forbidden to CONNECT")),
        "{:?}",
        run.notes()
    );
    // Wants credentials: 407 to CONNECT is its own kind.
    let dir = TempDir::new("proxy-407");
    let (server, src) = https_target(&dir, &[b"http/1.1"]).await;
    let proxy = Tinyproxy::start(dir.path(), &[server.addr().port()], Some(("u", "pw")));
    let run = run_scenario(&dir, &src, &[("HTTPS_PROXY", proxy.url())]).await;
    assert_eq!(
        run.outcome("PROXY_AUTH_REQUIRED"),
        6,
        "{}",
        run.summary["results"][0]["outcomes"]
    );
}
