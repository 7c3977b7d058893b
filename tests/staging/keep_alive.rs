//! `target.keep_alive` against a server that stops serving a connection
//! idle for 2 s (it drops a request that arrives later, unanswered, the
//! race a server's idle close makes): with `keep_alive = "1s"` every
//! request after a 2.5 s pause goes on a new connection and none is lost;
//! with the default 4 s, the reused connections lose them.

use crate::common;

use common::TempDir;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

const IDLE: Duration = Duration::from_secs(2);

/// (requests answered, requests dropped on a connection idle past [`IDLE`]).
type Counts = Arc<(AtomicU64, AtomicU64)>;

fn serve() -> (String, Counts) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let counts: Counts = Arc::default();
    let c = counts.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let c = c.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                let mut last = Instant::now();
                let mut buf = Vec::new();
                let mut byte = [0u8; 1];
                while buf.len() < 64 * 1024 {
                    match s.read(&mut byte) {
                        Ok(1) => buf.push(byte[0]),
                        _ => return,
                    }
                    if !buf.ends_with(b"\r\n\r\n") {
                        continue;
                    }
                    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    buf.clear();
                    if head.contains(" /__sim/") {
                        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                        return;
                    }
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    if s.read_exact(&mut body).is_err() {
                        return;
                    }
                    if last.elapsed() > IDLE {
                        c.1.fetch_add(1, Relaxed);
                        return;
                    }
                    c.0.fetch_add(1, Relaxed);
                    let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if s.write_all(ok.as_bytes()).is_err() {
                        return;
                    }
                    last = Instant::now();
                }
            });
        }
    });
    (url, counts)
}

/// One user, three POSTs 2.5 s apart; the summary and the server's counts.
fn run(tag: &str, keep_alive: Option<&str>) -> (serde_json::Value, u64, u64) {
    let (url, counts) = serve();
    let dir = TempDir::new(tag);
    let file = dir.path().join("s.toml");
    let pause = r#"think_time_after = { min = "2500ms", max = "2500ms" }"#;
    let mut s = common::scenario()
        .compare(&["compliant"])
        .target(&url)
        .target_key("connections", "1")
        .target_key("timeout", "\"5s\"");
    if let Some(k) = keep_alive {
        s = s.target_key("keep_alive", &format!("{k:?}"));
    }
    s.closed(1, 1, "30s")
        .steps(&format!(
            r#"[
  {{ name = "a", path = "/a", method = "POST", body = "{{}}", retry = false, {pause} }},
  {{ name = "b", path = "/b", method = "POST", body = "{{}}", retry = false, {pause} }},
  {{ name = "c", path = "/c", method = "POST", body = "{{}}", retry = false }},
]"#
        ))
        .write(&file);
    let out_dir = dir.path().join("out");
    let out = common::stampede()
        .args(["run", file.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out_dir)
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .run();
    let summary = std::fs::read(out_dir.join("summary.json")).unwrap_or_else(|e| {
        panic!(
            "{tag}: no summary.json ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        serde_json::from_slice(&summary).unwrap(),
        counts.0.load(Relaxed),
        counts.1.load(Relaxed),
    )
}

#[test]
fn a_keep_alive_below_the_servers_idle_timeout_loses_no_request() {
    let (s, answered, dropped) = run("keep-alive-1s", Some("1s"));
    let fleet = &s["results"][0];
    assert_eq!((answered, dropped), (3, 0));
    assert_eq!(fleet["journeys"]["failed"], 0, "{}", fleet["outcomes"]);
    assert_eq!(fleet["outcomes"]["OK"], 3, "{}", fleet["outcomes"]);
    assert_eq!(fleet["attempts"], 3);
}

#[test]
fn the_default_keep_alive_reuses_a_connection_past_a_2s_idle_timeout() {
    let (s, answered, dropped) = run("keep-alive-default", None);
    let fleet = &s["results"][0];
    // The first pause already lost the second request: the journey ends.
    assert_eq!((answered, dropped), (1, 1));
    assert_eq!(fleet["journeys"]["failed"], 1, "{}", fleet["outcomes"]);
}
