//! Against software we did not write: httpbin (PyPI `httpbin`, served by
//! gunicorn on 127.0.0.1), started and stopped here. A login-style journey
//! with a captured token in a header, a cookie set and read back,
//! templated bodies and percent-encoded paths, and retry classification;
//! what stampede reports is checked against what httpbin echoed and what
//! its access log recorded.
//!
//! `.ci/run` installs httpbin and gunicorn; where python3 or either
//! package is missing locally the tests say so and skip.

use crate::common;
use common::TempDir;
use stampede::engine::Control;
use stampede::report::{FleetResult, Report};
use stampede::scenario::{self, Overrides};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Httpbin {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Httpbin {
    /// Start gunicorn serving httpbin on a free loopback port, or `None`
    /// (with a message) when python3, httpbin or gunicorn is missing.
    fn start() -> Option<Self> {
        let ok = Command::new("python3")
            .args(["-c", "import httpbin, gunicorn"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "SKIPPED: python3 with httpbin and gunicorn is not installed here (`pip install httpbin gunicorn`; .ci/run installs them)"
            );
            return None;
        }
        let dir = TempDir::new("httpbin");
        let log = dir.path().join("access.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("python3")
            .args(["-m", "gunicorn", "--workers", "1", "--threads", "16"])
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--access-logfile")
            .arg(&log)
            // The raw request line: the path exactly as stampede sent it.
            .args(["--access-logformat", "%(r)s %(s)s"])
            .arg("httpbin:app")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gunicorn");
        let me = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        common::wait_for("httpbin to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Some(me)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Request lines httpbin logged, e.g. `GET /cookies HTTP/1.1 200`.
    /// gunicorn writes each line after answering; give it a moment.
    fn logged(&self, expected: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines: Vec<String> = std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.contains("/__sim/ledger"))
                .map(str::to_string)
                .collect();
            if lines.len() >= expected || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Httpbin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn run(dir: &Path, src: &str) -> Report {
    let file = dir.join("httpbin.toml");
    std::fs::write(&file, src).unwrap();
    let plan = scenario::load(&file, &Overrides::default())
        .unwrap_or_else(|e| panic!("scenario should be valid: {e}"));
    stampede::run::execute(&plan, &Control::default(), None)
        .await
        .expect("run")
        .report
}

fn step<'a>(c: &'a FleetResult, name: &str) -> &'a stampede::report::StepResult {
    c.steps.iter().find(|s| s.name == name).expect("step")
}

/// Two users from `users.csv`, two journeys each, against httpbin at `url`.
fn login_flow(url: &str) -> String {
    common::scenario()
        .compare(&["compliant"])
        .target(url)
        .closed(2, 2, "60s")
        .journey_key("headers", r#"{ X-Request-Id = "${uuid}" }"#)
        .table("[users]\ncsv = \"users.csv\"")
        // "Log in": httpbin echoes the JSON body back; the token comes from there.
        .table(
            r#"[[journey.steps]]
name = "login"
method = "POST"
path = "/anything/login/${user_id}"
body = '{"user":"${user_id}","password":"${password}","token":"tok-${user_id}-${random_int(1000,9999)}","iteration":${iteration}}'
capture = { token = "/json/token", folder = "/json/user" }
check = [{ pointer = "/json/password", exists = true }]"#,
        )
        // The captured token in a header: /bearer answers 401 without one.
        .table(
            r#"[[journey.steps]]
name = "bearer"
path = "/bearer"
headers = { Authorization = "Bearer ${token}" }
check = [{ pointer = "/authenticated", equals = true }]"#,
        )
        // A cookie set by the target is sent back by the same user.
        .table(
            r#"[[journey.steps]]
name = "set_cookie"
path = "/response-headers?Set-Cookie=session%3Dabc123"
[[journey.steps]]
name = "cookies"
path = "/cookies"
check = [{ pointer = "/cookies/session", equals = "abc123" }]"#,
        )
        // A value from the CSV with characters that must not steer the URL.
        .table(
            r#"[[journey.steps]]
name = "encoded"
path = "/anything/files/${folder}/${note}"
check = [{ pointer = "/method", equals = "GET" }]"#,
        )
        .toml()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_journey_against_httpbin() {
    let Some(hb) = Httpbin::start() else { return };
    let dir = TempDir::new("httpbin-login");
    std::fs::write(
        dir.path().join("users.csv"),
        "user_id,password,note\nalice,pw-a,a b/../x?y\nbob,pw-b,plain\n",
    )
    .unwrap();
    let r = run(dir.path(), &login_flow(&hb.url())).await;
    let c = &r.results[0];
    assert_eq!(c.counts.journeys.started, 4);
    assert_eq!(c.counts.journeys.succeeded, 4, "{:?}", c.counts.outcomes);
    assert_eq!(c.counts.success_rate, 1.0);
    for s in ["login", "bearer", "set_cookie", "cookies", "encoded"] {
        assert_eq!(step(c, s).outcomes.get("OK"), Some(&4), "{s}");
    }
    let lines = hb.logged(c.counts.attempts as usize);
    assert_eq!(lines.len() as u64, c.counts.attempts, "{lines:#?}");
    assert_eq!(c.counts.attempts, 20);
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(
        count("POST /anything/login/alice HTTP/1.1 200"),
        2,
        "{lines:#?}"
    );
    assert_eq!(count("GET /bearer HTTP/1.1 200"), 4, "{lines:#?}");
    assert_eq!(count("GET /cookies HTTP/1.1 200"), 4);
    // Encoded per segment: the note stays one segment, no `..` walk, no query.
    assert_eq!(
        count("GET /anything/files/alice/a%20b%2F..%2Fx%3Fy HTTP/1.1 200"),
        2,
        "{lines:#?}"
    );
    assert_eq!(count("GET /anything/files/bob/plain HTTP/1.1 200"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_step_without_a_token_fails_as_httpbin_says() {
    let Some(hb) = Httpbin::start() else { return };
    let dir = TempDir::new("httpbin-noauth");
    let src = common::scenario()
        .compare(&["compliant"])
        .target(&hb.url())
        .ticket_drop(3, "100ms")
        .steps(r#"[{ name = "bearer", path = "/bearer" }]"#)
        .toml();
    let r = run(dir.path(), &src).await;
    let c = &r.results[0];
    // No invented token: httpbin saw no Authorization, and said 401.
    assert_eq!(
        c.counts.outcomes.get("HTTP_401"),
        Some(&3),
        "{:?}",
        c.counts.outcomes
    );
    let lines = hb.logged(3);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines.iter().all(|l| l.ends_with(" 401")), "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_classification_against_httpbin() {
    let Some(hb) = Httpbin::start() else { return };
    let dir = TempDir::new("httpbin-retry");
    let src = common::scenario()
        .compare(&["quick"])
        .target(&hb.url())
        .ticket_drop(2, "100ms")
        .drain("30s")
        .steps(
            r#"[
  { name = "unavailable", path = "/status/503" },
  { name = "missing", path = "/status/404" },
]"#,
        )
        .table(
            r#"[policies.quick]
preset = "compliant"
base_delay = "10ms"
max_delay = "20ms"
limits = { service_unavailable = 2 }"#,
        )
        .toml();
    let r = run(dir.path(), &src).await;
    let c = &r.results[0];
    let unavailable = step(c, "unavailable");
    // A 503 is retried: the first try and two retries, then given up.
    assert_eq!(
        unavailable.outcomes.get("GAVE_UP/HTTP_503"),
        Some(&2),
        "{:?}",
        unavailable.outcomes
    );
    assert_eq!(unavailable.attempts, 6);
    let lines = hb.logged(c.counts.attempts as usize);
    assert_eq!(lines.len() as u64, c.counts.attempts, "{lines:#?}");
    assert_eq!(
        lines.iter().filter(|l| l.contains("/status/503")).count(),
        6
    );

    // 2xx with a Retry-After is a success, not a reason to wait and retry;
    // a 404 is permanent: one attempt each.
    let src = src
        .replace("/status/503", "/response-headers?Retry-After=1")
        .replace(
            "name = \"missing\"\npath = \"/status/404\"",
            "name = \"missing\"\npath = \"/status/404\"\nretry = true",
        );
    let before = hb.logged(0).len();
    let r = run(dir.path(), &src).await;
    let c = &r.results[0];
    assert_eq!(step(c, "unavailable").outcomes.get("OK"), Some(&2));
    assert_eq!(step(c, "unavailable").attempts, 2);
    assert_eq!(step(c, "missing").outcomes.get("HTTP_404"), Some(&2));
    assert_eq!(step(c, "missing").attempts, 2, "a 404 is not retried");
    assert_eq!(hb.logged(before + 4).len() - before, 4);
}
