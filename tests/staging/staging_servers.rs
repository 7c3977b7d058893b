//! HTTP/1.1 conformance against two more servers we did not write: Debian's
//! Apache httpd (prefork, a CGI script for POST, mod_rewrite for a 503) and
//! lighttpd (mod_cgi, mod_redirect for a 503), each started as a child
//! process on 127.0.0.1 with a config written into a temporary folder (pid
//! and logs there too). Both close a kept-alive connection after 100
//! keep-alive requests (`MaxKeepAliveRequests 100`,
//! `server.max-keep-alive-requests = 100`: 101 requests on a connection),
//! and Apache after every 503; stampede must open a new one each time
//! without losing a request.
//! Every count stampede reports, per step and status, must equal the
//! server's own access log, line for line.
//!
//! The servers are installed by `.ci/run`; without their binary a test says
//! so and skips.

use crate::common;
use common::TempDir;

use stampede::report::{FleetResult, Report, RunStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const APACHE: &str = "/usr/sbin/apache2";
const LIGHTTPD: &str = "/usr/sbin/lighttpd";
const APACHE_MODULES: &str = "/usr/lib/apache2/modules";

#[derive(Clone, Copy, Debug)]
enum Kind {
    Apache,
    Lighttpd,
}

impl Kind {
    fn binary(self) -> &'static str {
        match self {
            Kind::Apache => APACHE,
            Kind::Lighttpd => LIGHTTPD,
        }
    }

    /// The config for a server on `port` serving `dir/www`, logging each
    /// request as `METHOD PATH STATUS CLIENT_PORT KEEPALIVE_COUNT`.
    fn config(self, dir: &Path, port: u16) -> String {
        let d = dir.display();
        match self {
            Kind::Apache => {
                let m = APACHE_MODULES;
                format!(
                    r#"ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {d}/apache.pid
ErrorLog {d}/error.log
LogLevel warn
LoadModule mpm_prefork_module {m}/mod_mpm_prefork.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule mime_module {m}/mod_mime.so
LoadModule alias_module {m}/mod_alias.so
LoadModule rewrite_module {m}/mod_rewrite.so
LoadModule cgi_module {m}/mod_cgi.so
# Only used when started as root (the workers drop to nobody).
User #65534
Group #65534
StartServers 2
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 8
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
TypesConfig /etc/mime.types
DocumentRoot "{d}/www"
LogFormat "%m %U %>s %{{remote}}p %k" conn
CustomLog {d}/access.log conn
<Directory "{d}/www">
    Require all granted
</Directory>
ScriptAlias /cgi-bin/ "{d}/www/cgi-bin/"
RewriteEngine On
RewriteRule ^/down$ - [R=503,L]
"#
                )
            }
            Kind::Lighttpd => format!(
                r#"server.document-root = "{d}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{d}/lighttpd.pid"
server.errorlog = "{d}/error.log"
server.max-keep-alive-requests = 100
server.max-keep-alive-idle = 5
server.modules = ("mod_redirect", "mod_accesslog", "mod_cgi")
accesslog.filename = "{d}/access.log"
accesslog.format = "%m %U %>s %{{remote}}p %k"
mimetype.assign = (".json" => "application/json")
cgi.assign = (".sh" => "/bin/sh")
$HTTP["url"] == "/down" {{ url.redirect-code = 503 url.redirect = ("" => "/") }}
"#
            ),
        }
    }

    /// Requests a kept-alive connection may carry: both servers' limit of
    /// 100 (`MaxKeepAliveRequests`, `max-keep-alive-requests`) counts the
    /// requests after the first (measured: 101 per connection for each).
    fn requests_per_connection(self) -> u64 {
        match self {
            Kind::Apache | Kind::Lighttpd => 101,
        }
    }

    fn args(self, conf: &Path) -> Vec<String> {
        let conf = conf.display().to_string();
        match self {
            Kind::Apache => vec!["-f".into(), conf, "-DFOREGROUND".into()],
            Kind::Lighttpd => vec!["-D".into(), "-f".into(), conf],
        }
    }
}

/// One server on a free loopback port; stopped (SIGTERM, so lighttpd
/// flushes its access log) and reaped by [`Server::stop`] or on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server leads its own process group (its workers are in it).
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our child's process group; no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// The files served: a static JSON file and a CGI script answering a POST
/// 201 (it reads the body first).
fn content(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("cgi-bin")).expect("www");
    std::fs::write(www.join("index.json"), "{\"ok\":true}\n").expect("index.json");
    let cgi = www.join("cgi-bin/book.sh");
    std::fs::write(
        &cgi,
        "#!/bin/sh\ncat > /dev/null\nprintf 'Status: 201 Created\\r\\nContent-Type: application/json\\r\\n\\r\\n{\"created\":true}\\n'\n",
    )
    .expect("book.sh");
    std::fs::set_permissions(&cgi, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

impl Server {
    /// `None` (and a message) when the server's binary is not installed.
    fn start(kind: Kind) -> Option<Server> {
        if !Path::new(kind.binary()).is_file() {
            eprintln!(
                "SKIPPED: {} not found; install it with `apt-get install -y apache2 lighttpd` \
                 (.ci/run does this on CI)",
                kind.binary()
            );
            return None;
        }
        let mut last_err = String::new();
        // A free port can be taken between our probe and the server's bind: try a few.
        for _ in 0..5 {
            let dir = TempDir::new("staging-server");
            content(dir.path());
            let port = common::free_port();
            let conf = dir.path().join("server.conf");
            std::fs::write(&conf, kind.config(dir.path(), port)).expect("write the config");
            // Its own process group: Apache's shutdown signals its whole
            // group, which must not be the test's.
            let child = Command::new(kind.binary())
                .args(kind.args(&conf))
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", kind.binary()));
            let mut s = Server {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                dir,
            };
            match s.wait_ready() {
                Ok(()) => return Some(s),
                Err(e) => last_err = e,
            }
        }
        panic!("{kind:?} did not start: {last_err}");
    }

    /// Until it accepts connections, or it exited, or 20 s passed.
    fn wait_ready(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("error.log");
        common::wait_listening(&mut self.child, self.addr, &log, Duration::from_secs(20))
    }

    /// SIGTERM and wait (at most 10 s): the access log is then complete.
    fn stop(&mut self) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child; no memory is involved.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        common::wait_exit(&mut self.child, Duration::from_secs(10))
            .expect("the server did not stop within 10 s of SIGTERM");
    }

    fn access_log(&self) -> Vec<LogLine> {
        let text = std::fs::read_to_string(self.dir.path().join("access.log")).expect("access.log");
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                assert_eq!(f.len(), 5, "access log line `{l}`");
                LogLine {
                    request: format!("{} {} {}", f[0], f[1], f[2]),
                    client_port: f[3].parse().expect("client port"),
                    keepalive: f[4].parse().expect("keep-alive count"),
                }
            })
            .collect()
    }
}

struct LogLine {
    /// `METHOD PATH STATUS`.
    request: String,
    client_port: u16,
    /// Requests this connection had served before this one.
    keepalive: u32,
}

/// Two users on two connections, 200 journeys each, no think time: every
/// journey reads the static file, then a share of them POSTs to the CGI
/// script (201), asks for a missing path (404) and, `with_503`, for the
/// 503 path. No retries, so each operation is one attempt.
fn scenario(url: &str, with_503: bool) -> String {
    let down = if with_503 {
        "[[journey.steps]]\nname = \"down\"\npath = \"/down\"\nshare = 0.1\ngroup = \"then\""
    } else {
        ""
    };
    common::scenario()
        .name("staging-servers")
        .compare(&["no-retry"])
        .target(url)
        .target_key("connections", "2")
        .target_key("timeout", "\"10s\"")
        .closed(2, 200, "30s")
        .drain("10s")
        .event("E1", &["A"])
        .table(
            r#"[[journey.steps]]
name = "page"
path = "/index.json"
[[journey.steps]]
name = "book"
method = "POST"
path = "/cgi-bin/book.sh"
body = '{"user":"${user}","iteration":"${iteration}"}'
share = 0.3
group = "then"
[[journey.steps]]
name = "missing"
path = "/missing"
share = 0.2
group = "then""#,
        )
        .table(down)
        .toml()
}

async fn run(src: &str) -> Report {
    let plan = stampede::scenario::parse(
        src,
        Path::new("tests/staging-servers.toml"),
        &stampede::scenario::Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("scenario should be valid: {e}"));
    let out = stampede::run::execute(&plan, &stampede::engine::Control::default(), None)
        .await
        .expect("run");
    assert_eq!(out.report.status, RunStatus::Completed);
    out.report
}

/// Each step's path and the one status its every attempt must have had.
const STEPS: [(&str, &str, &str); 4] = [
    ("page", "GET /index.json 200", "OK"),
    ("book", "POST /cgi-bin/book.sh 201", "OK"),
    ("missing", "GET /missing 404", "HTTP_404"),
    ("down", "GET /down 503", "HTTP_503"),
];

fn check_against_the_log(c: &FleetResult, log: &[LogLine]) {
    let steps: Vec<_> = STEPS
        .iter()
        .filter(|(name, ..)| c.steps.iter().any(|s| s.name == *name))
        .collect();
    assert!(steps.len() >= 3, "{:?}", c.steps);
    assert_eq!(c.counts.journeys.started, 400, "{:?}", c.counts.journeys);
    assert_eq!(
        c.counts.attempts, c.counts.operations,
        "one attempt per operation"
    );
    assert_eq!(c.counts.retries, 0);
    // Nothing failed on the way: every attempt got the server's answer.
    for s in &c.steps {
        let classes: BTreeSet<&str> = s
            .attempt_latency_by_class_ms
            .iter()
            .filter(|(_, p)| p.count > 0)
            .map(|(k, _)| k.as_str())
            .collect();
        assert!(
            classes.iter().all(|k| ["2xx", "4xx", "5xx"].contains(k)),
            "{}: {classes:?}",
            s.name
        );
    }
    assert_eq!(
        log.len() as u64,
        c.counts.attempts,
        "one log line per attempt"
    );
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    for l in log {
        *seen.entry(l.request.as_str()).or_default() += 1;
    }
    let mut want = BTreeMap::new();
    for (name, request, outcome) in steps {
        let s = c
            .steps
            .iter()
            .find(|s| s.name == *name)
            .unwrap_or_else(|| panic!("step {name}"));
        assert!(s.operations > 0, "{name} ran");
        assert_eq!(
            s.outcomes,
            [(outcome.to_string(), s.operations)].into_iter().collect(),
            "{name}"
        );
        want.insert(*request, s.attempts);
    }
    assert_eq!(seen, want, "the server's log against stampede's counts");
}

/// The server closed each connection after its last allowed request and
/// stampede opened new ones: no connection served more, and the busiest
/// served exactly that many.
fn check_keepalive_limit(kind: Kind, c: &FleetResult, log: &[LogLine]) {
    let limit = kind.requests_per_connection();
    let mut per: BTreeMap<u16, u64> = BTreeMap::new();
    for l in log {
        *per.entry(l.client_port).or_default() += 1;
    }
    let most = per.values().copied().max().unwrap_or(0);
    assert_eq!(most, limit, "requests per connection: {per:?}");
    let keepalive = log.iter().map(|l| u64::from(l.keepalive)).max();
    assert_eq!(keepalive, Some(limit - 1), "the server's own count agrees");
    assert!(
        per.len() as u64 >= c.counts.attempts.div_ceil(limit),
        "{} connections for {} requests",
        per.len(),
        c.counts.attempts
    );
}

/// Apache drops the connection after a 503 (`ap_status_drops_connection`):
/// a 503 is the last request of its connection, and nothing was lost.
fn check_503_closes(log: &[LogLine]) {
    let mut last: BTreeMap<u16, &str> = BTreeMap::new();
    let mut after_503 = 0;
    for l in log {
        if last
            .get(&l.client_port)
            .is_some_and(|r| r.ends_with(" 503"))
        {
            after_503 += 1;
        }
        last.insert(l.client_port, &l.request);
    }
    assert_eq!(after_503, 0, "a request on a connection after its 503");
}

/// One run against a fresh server, then its access log (complete: the
/// server has stopped).
async fn run_against(kind: Kind, with_503: bool) -> Option<(Report, Vec<LogLine>)> {
    let mut server = Server::start(kind)?;
    let r = run(&scenario(&format!("http://{}", server.addr), with_503)).await;
    server.stop();
    let log = server.access_log();
    Some((r, log))
}

/// With a 503 path (statuses 200, 201, 404, 503), then without it (so
/// only the keep-alive limit ends a connection): stampede's counts equal
/// the log both times.
async fn conformance(kind: Kind) {
    let Some((r, log)) = run_against(kind, true).await else {
        return;
    };
    let c = &r.results[0];
    check_against_the_log(c, &log);
    assert!(c.steps.iter().any(|s| s.name == "down" && s.operations > 0));
    if matches!(kind, Kind::Apache) {
        check_503_closes(&log);
    }
    let Some((r, log)) = run_against(kind, false).await else {
        return;
    };
    let c = &r.results[0];
    check_against_the_log(c, &log);
    check_keepalive_limit(kind, c, &log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_counts_equal_its_access_log_across_keepalive_limits() {
    conformance(Kind::Apache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lighttpd_counts_equal_its_access_log_across_keepalive_limits() {
    conformance(Kind::Lighttpd).await;
}
