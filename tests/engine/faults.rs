//! The fault matrix: the binary against misbehaving loopback servers written
//! here. Every case checks the exit code, that every report file was written,
//! and that the attempts stampede reports equal the requests the server saw.

use crate::common;

use common::TempDir;
use common::scenario::Scenario;
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the server misbehaves after reading a request.
#[derive(Clone)]
enum Fault {
    /// Reads the request and never answers (the connection stays open).
    NeverAnswers,
    /// Reads the request and resets the connection (SO_LINGER 0).
    ResetBeforeResponse,
    /// Sends a status line, then one header byte every 200 ms.
    SlowDrip,
    /// A fixed answer, then closes the connection.
    Answer(String),
}

/// A thread-per-connection HTTP/1.1 server that counts request heads and
/// remembers when each arrived and what it carried.
struct FaultServer {
    port: u16,
    requests: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<AtomicBool>,
}

impl FaultServer {
    fn start(fault: Fault) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let requests = Arc::new(AtomicU64::new(0));
        let seen: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, sn, st) = (requests.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let (r, sn, st, fault) = (r.clone(), sn.clone(), st.clone(), fault.clone());
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
                    let Some(head) = common::rawhttp::read_request(&mut s) else {
                        return;
                    };
                    if is_probe(&head) {
                        let _ = s.write_all(http("404 Not Found", "", "").as_bytes());
                        return;
                    }
                    r.fetch_add(1, Ordering::Relaxed);
                    sn.lock().unwrap().push((Instant::now(), head));
                    match fault {
                        Fault::NeverAnswers => {
                            while !st.load(Ordering::Relaxed) {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                        Fault::ResetBeforeResponse => {
                            let sock = socket_linger_zero(s);
                            drop(sock);
                        }
                        Fault::SlowDrip => {
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
                            for _ in 0..100 {
                                if st.load(Ordering::Relaxed) || s.write_all(b"X").is_err() {
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(200));
                            }
                        }
                        Fault::Answer(a) => {
                            let _ = s.write_all(a.as_bytes());
                            let _ = s.shutdown(Shutdown::Write);
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                });
            }
        });
        Self {
            port,
            requests,
            seen,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A keep-alive server answering request number `n` (ledger probes aside)
/// with `answer(n, head)`; returns its port and the request counter.
fn keep_alive_server(
    answer: impl Fn(u64, &str) -> String + Send + Sync + 'static,
) -> (u16, Arc<AtomicU64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(AtomicU64::new(0));
    let (c, answer) = (count.clone(), Arc::new(answer));
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let (c, answer) = (c.clone(), answer.clone());
            std::thread::spawn(move || {
                while let Some(head) = common::rawhttp::read_request(&mut s) {
                    if is_probe(&head) {
                        let _ = s.write_all(http("404 Not Found", "", "").as_bytes());
                        break;
                    }
                    let n = c.fetch_add(1, Ordering::Relaxed);
                    if s.write_all(answer(n, &head).as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, count)
}

/// Close with a reset instead of a FIN.
fn socket_linger_zero(s: TcpStream) -> TcpStream {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Linger {
            l_onoff: i32,
            l_linger: i32,
        }
        unsafe extern "C" {
            fn setsockopt(fd: i32, level: i32, name: i32, val: *const Linger, len: u32) -> i32;
        }
        const SOL_SOCKET: i32 = 1;
        const SO_LINGER: i32 = 13;
        let l = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket fd and a properly sized option value.
        unsafe {
            setsockopt(
                s.as_raw_fd(),
                SOL_SOCKET,
                SO_LINGER,
                &l,
                std::mem::size_of::<Linger>() as u32,
            );
        }
    }
    s
}

/// stampede's look for a simulator ledger (`GET /__sim/ledger`) before a
/// run against an unknown target: not part of the load, so not counted.
fn is_probe(head: &str) -> bool {
    head.lines().next().is_some_and(|l| l.contains(" /__sim/"))
}

fn http(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
}

struct Run {
    out: Output,
    summary: serde_json::Value,
    dir: TempDir,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    fn fleet(&self) -> &serde_json::Value {
        &self.summary["results"][0]
    }
    fn attempts(&self) -> u64 {
        self.fleet()["attempts"].as_u64().unwrap()
    }
    fn outcomes(&self) -> Vec<(String, u64)> {
        self.fleet()["outcomes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    }
    fn everything_written(&self) -> String {
        let mut all = String::from_utf8_lossy(&self.out.stdout).into_owned();
        all.push_str(&String::from_utf8_lossy(&self.out.stderr));
        for f in std::fs::read_dir(self.dir.path().join("out")).unwrap() {
            all.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap_or_default());
        }
        all
    }
}

/// One POST step against `url` for `users` journeys, compliant;
/// `extra` (tables) at the end.
fn one_step(url: &str, users: u32, drain: &str, extra: &str) -> Scenario {
    common::scenario::reserves_against(url, "compliant", users)
        .drain(drain)
        .table(extra)
}

/// Run the binary on a scenario; every report file must be there.
fn run_src(tag: &str, src: &Scenario, env: &[(&str, &str)]) -> Run {
    let dir = TempDir::new(tag);
    let scenario = src.write(dir.path().join("s.toml"));
    let out_dir = dir.path().join("out");
    let out = crate::common::stampede()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .envs(env.iter().copied())
        .output()
        .expect("run stampede");
    for f in common::REPORT_FILES {
        assert!(
            out_dir.join(f).is_file(),
            "{tag}: {f} missing; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let summary = serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap())
        .expect("summary.json is valid JSON");
    Run { out, summary, dir }
}

fn run(tag: &str, url: &str, users: u32, extra: &str, env: &[(&str, &str)]) -> Run {
    run_src(tag, &one_step(url, users, "20s", extra), env)
}

const FAST_RETRIES: &str = r#"
[policies.compliant]
base_delay = "10ms"
max_delay = "20ms"
"#;

#[test]
fn target_down() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = run(
        "down",
        &format!("http://127.0.0.1:{port}"),
        5,
        FAST_RETRIES,
        &[],
    );
    assert_eq!(r.outcomes(), [("GAVE_UP/CONNECT_REFUSED".to_string(), 5)]);
    assert_eq!(r.attempts(), 20, "1 try + 3 network retries each");
}

#[test]
fn a_target_that_never_answers_times_out_and_every_attempt_is_counted() {
    let s = FaultServer::start(Fault::NeverAnswers);
    let extra = format!("{FAST_RETRIES}request_timeout = \"300ms\"\n");
    let r = run("never", &s.url(), 5, &extra, &[]);
    // No attempt got an HTTP answer: a diagnosis and exit 4.
    assert_eq!(r.code(), Some(4));
    let err = String::from_utf8_lossy(&r.out.stderr);
    assert!(err.contains("TIMEOUT"), "{err}");
    assert_eq!(r.outcomes(), [("GAVE_UP/TIMEOUT".to_string(), 5)]);
    assert_eq!(r.attempts(), 20);
    assert_eq!(r.attempts(), s.requests());
}

#[test]
fn attempts_in_flight_when_the_drain_expires_are_counted_and_the_run_says_so() {
    let s = FaultServer::start(Fault::NeverAnswers);
    let extra = "[policies.compliant]\nrequest_timeout = \"60s\"\n";
    // A 1 s drain: the 20 requests are still in flight when it ends.
    let r = run_src("drain", &one_step(&s.url(), 20, "1s", extra), &[]);
    assert_eq!(r.summary["status"], "drain_expired");
    assert_eq!(r.code(), Some(3), "an incomplete run does not pass");
    assert_eq!(r.attempts(), 20);
    assert_eq!(r.attempts(), s.requests(), "what the server saw");
    assert_eq!(r.outcomes(), [("CANCELLED".to_string(), 20)]);
    assert_eq!(r.fleet()["amplification"], 1.0);
    let notes = r.summary["notes"].to_string();
    assert!(notes.contains("drain deadline"), "{notes}");
    let junit = std::fs::read_to_string(r.dir.path().join("out/junit.xml")).unwrap();
    assert!(junit.contains("failures=\"1\""), "{junit}");
}

#[test]
fn a_reset_before_the_response_is_named() {
    let s = FaultServer::start(Fault::ResetBeforeResponse);
    let r = run("reset", &s.url(), 5, FAST_RETRIES, &[]);
    assert_eq!(r.code(), Some(4), "no attempt got an HTTP answer");
    let o = r.outcomes();
    assert_eq!(o.len(), 1, "{o:?}");
    assert!(
        o[0].0 == "GAVE_UP/CONNECTION_RESET" || o[0].0 == "GAVE_UP/CONNECTION_CLOSED",
        "{o:?}"
    );
    assert_eq!(r.attempts(), 20);
    assert_eq!(r.attempts(), s.requests());
}

#[test]
fn a_slow_drip_is_a_timeout() {
    let s = FaultServer::start(Fault::SlowDrip);
    let extra = "[policies.compliant]\nrequest_timeout = \"500ms\"\nlimits = { network = 0 }\n";
    let r = run("drip", &s.url(), 3, extra, &[]);
    assert_eq!(r.outcomes(), [("TIMEOUT".to_string(), 3)]);
    assert_eq!(r.attempts(), s.requests());
}

#[test]
fn a_non_json_2xx_without_checks_is_counted_as_the_target_answered() {
    let s = FaultServer::start(Fault::Answer(http("200 OK", "", "<html>ok</html>")));
    let r = run("html", &s.url(), 4, "", &[]);
    assert_eq!(r.code(), Some(0));
    assert_eq!(r.outcomes(), [("OK".to_string(), 4)]);
    assert_eq!(r.attempts(), s.requests());
}

#[test]
fn a_huge_body_is_refused_not_buffered() {
    let body = "x".repeat(3 << 20);
    let s = FaultServer::start(Fault::Answer(http("200 OK", "", &body)));
    let extra = "[policies.compliant]\nlimits = { network = 0 }\n";
    let r = run("huge", &s.url(), 3, extra, &[]);
    assert_eq!(r.outcomes(), [("BODY_TOO_LARGE".to_string(), 3)]);
    assert_eq!(r.attempts(), s.requests());
}

#[test]
fn a_token_the_target_echoes_back_appears_nowhere() {
    const TOKEN: &str = "s3cr3t-T0KEN-fault-matrix";
    // The server echoes whatever Authorization it got in the code, the
    // message and a header.
    let (port, count) = keep_alive_server(|_, head| {
        let auth = head
            .lines()
            .find_map(|l| l.strip_prefix("authorization: "))
            .unwrap_or("none")
            .to_string();
        let body = format!(
            r#"{{"success":false,"error":{{"code":"BAD_{auth}","message":"you sent {auth}"}}}}"#
        );
        format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\nx-echo: {auth}\r\n\r\n{body}",
            body.len()
        )
    });
    let url = format!("http://127.0.0.1:{port}");
    let src = one_step(&url, 4, "20s", "").target_key("token_env", "\"FAULT_TOKEN\"");
    let before = count.load(Ordering::Relaxed);
    let r = run_src("echo", &src, &[("FAULT_TOKEN", TOKEN)]);
    assert_eq!(r.attempts(), count.load(Ordering::Relaxed) - before);
    assert_eq!(
        r.outcomes(),
        [("BAD_Bearer ***".to_string(), 4)],
        "the code is kept, the token is not"
    );
    let all = r.everything_written();
    assert!(!all.contains(TOKEN), "the token leaked");
    assert!(!all.contains("s3cr3t"), "part of the token leaked");
}

/// Two attempts per operation; returns the gaps the server saw between them.
fn retry_gaps(retry_after: &str, extra: &str) -> (Run, Vec<Duration>) {
    let s = FaultServer::start(Fault::Answer(http(
        "503 Service Unavailable",
        &format!("retry-after: {retry_after}\r\n"),
        r#"{"success":false,"error":{"code":"SERVICE_UNAVAILABLE","message":"busy"}}"#,
    )));
    let policy = format!("[policies.compliant]\nlimits = {{ service_unavailable = 1 }}\n{extra}");
    let r = run("ra", &s.url(), 3, &policy, &[]);
    assert_eq!(r.attempts(), s.requests());
    assert_eq!(r.attempts(), 6);
    let seen = s.seen.lock().unwrap().clone();
    let mut by_op: std::collections::BTreeMap<String, Vec<Instant>> = Default::default();
    for (at, head) in seen {
        let op = head
            .lines()
            .find_map(|l| l.strip_prefix("x-stampede-op: "))
            .unwrap_or("")
            .to_string();
        by_op.entry(op).or_default().push(at);
    }
    let gaps = by_op.values().map(|t| t[1] - t[0]).collect();
    (r, gaps)
}

#[test]
fn retry_after_zero_past_or_garbage_falls_back_to_the_backoff() {
    // A fraction is not delay-seconds (RFC 9110 10.2.3): `0.001` is no
    // Retry-After at all, not a 1 ms wait to honour.
    for ra in ["0", "Wed, 21 Oct 2015 07:28:00 GMT", "soon-ish", "0.001"] {
        let (r, gaps) = retry_gaps(ra, "");
        assert_eq!(gaps.len(), 3, "{ra}");
        // The guidelines' backoff: 1 s x (0.5 + U[0,1)), never an instant retry.
        for g in &gaps {
            assert!(*g >= Duration::from_millis(450), "{ra}: {gaps:?}");
        }
        assert_eq!(r.fleet()["retry_after_honoured"], 0, "{ra}");
        assert_eq!(r.fleet()["early_retries"], 0, "{ra}");
        assert_eq!(
            r.outcomes(),
            [("GAVE_UP/SERVICE_UNAVAILABLE".to_string(), 3)],
            "{ra}"
        );
    }
}

#[test]
fn a_huge_retry_after_is_capped_and_the_early_retry_counted_as_sent() {
    let (r, gaps) = retry_gaps("99999999", "max_retry_after = \"1s\"\n");
    for g in &gaps {
        assert!(*g >= Duration::from_millis(950), "{gaps:?}");
        assert!(*g < Duration::from_secs(5), "{gaps:?}");
    }
    assert_eq!(r.fleet()["retry_after_honoured"], 3);
    assert_eq!(r.fleet()["early_retries"], 3);
}

#[test]
fn a_token_with_a_newline_is_an_error_at_start_naming_the_variable() {
    let dir = TempDir::new("nl");
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        "[target]\nurl = \"http://127.0.0.1:9\"\ntoken_env = \"FAULT_NL_TOKEN\"\n\
         [load]\nmodel = \"ticket-drop\"\nusers = 1\nover = \"1s\"\n\
         [journey]\nevent = \"E1\"\nzones = [\"A\"]\n",
    )
    .unwrap();
    let out = crate::common::stampede()
        .args(["validate", scenario.to_str().unwrap()])
        .env("FAULT_NL_TOKEN", "abc\ndef")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("target.token_env") && err.contains("FAULT_NL_TOKEN"),
        "{err}"
    );
    assert!(
        !err.contains("abc"),
        "the token itself is not printed: {err}"
    );
}

#[test]
fn a_target_inventing_a_code_per_answer_cannot_grow_the_report() {
    // Every answer carries a new, long code; the report keeps 256 of them
    // (cut to 64 bytes) and counts the rest as OTHER, with a note.
    let (port, count) = keep_alive_server(|n, _| {
        let code = format!("CODE_{n}_{}", "Z".repeat(200));
        let body = format!(r#"{{"success":false,"error":{{"code":"{code}"}}}}"#);
        format!(
            "HTTP/1.1 409 Conflict\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    });
    let r = run("codes", &format!("http://127.0.0.1:{port}"), 600, "", &[]);
    assert_eq!(r.attempts(), count.load(Ordering::Relaxed));
    let o = r.outcomes();
    assert_eq!(o.len(), 257, "256 codes and OTHER");
    assert!(o.iter().all(|(k, _)| k.len() <= 64), "codes are cut");
    let other = o.iter().find(|(k, _)| k == "OTHER").map(|(_, n)| *n);
    assert_eq!(other, Some(600 - 256));
    assert_eq!(o.iter().map(|(_, n)| n).sum::<u64>(), 600);
    assert!(r.summary["notes"].to_string().contains("OTHER"));
    let html = std::fs::metadata(r.dir.path().join("out/report.html")).unwrap();
    assert!(
        html.len() < 2_000_000,
        "report.html is {} bytes",
        html.len()
    );
}
