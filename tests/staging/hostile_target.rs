//! A hostile target: the binary against loopback servers written here that
//! answer badly (not valid HTTP, a new error code every time, a close after
//! every answer without `Connection: close`). Every case checks what the
//! report says against the server's own count of the requests it read.

use crate::common;

use common::TempDir;
use common::hostile::{self, After};
use std::io::Write;
use std::process::Output;
use std::time::Duration;

/// A target whose answer to request number `n` (ledger probes aside:
/// a 404 and the close) is `answer(n)`: what it writes, and whether it
/// closes the connection after it.
fn serve(answer: impl Fn(u64) -> (String, bool) + Send + Sync + 'static) -> hostile::Target {
    hostile::serve(move |req, s| {
        if req.probe {
            let probe = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            let _ = s.write_all(probe.as_bytes());
            return After::Close;
        }
        let (text, close) = answer(req.n);
        if s.write_all(text.as_bytes()).is_err() || close {
            After::Close
        } else {
            After::Next
        }
    })
}

struct Run {
    out: Output,
    summary: serde_json::Value,
    _dir: TempDir,
}

impl Run {
    fn fleet(&self) -> &serde_json::Value {
        &self.summary["results"][0]
    }
    fn n(&self, key: &str) -> u64 {
        self.fleet()[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}"))
    }
    fn outcomes(&self) -> Vec<(String, u64)> {
        self.fleet()["outcomes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    }
    fn notes(&self) -> Vec<String> {
        self.summary["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
}

/// One step (`method` on /a) for `users` journeys arriving over `over`,
/// at most `connections` at once; `policy` is the fleet's preset.
fn scenario(url: &str, users: u32, over: &str, step: &str, connections: u32) -> String {
    common::scenario()
        .compare(&["compliant"])
        .target(url)
        .target_key("connections", &connections.to_string())
        .target_key("timeout", "\"10s\"")
        .ticket_drop(users, over)
        .drain("20s")
        .steps(&format!(r#"[{{ name = "a", path = "/a", {step} }}]"#))
        .toml()
}

fn run(tag: &str, src: &str) -> Run {
    let dir = TempDir::new(tag);
    let file = dir.path().join("s.toml");
    std::fs::write(&file, src).unwrap();
    let out_dir = dir.path().join("out");
    let out = crate::common::stampede()
        .args(["run", file.to_str().unwrap(), "--out"])
        .arg(&out_dir)
        .arg("--quiet")
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .expect("run stampede");
    let summary = serde_json::from_slice(
        &std::fs::read(out_dir.join("summary.json")).unwrap_or_else(|e| {
            panic!(
                "{tag}: no summary.json ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }),
    )
    .unwrap();
    Run {
        out,
        summary,
        _dir: dir,
    }
}

#[test]
fn answers_that_are_not_http_are_invalid_response_not_an_unreachable_target() {
    let seen = serve(|_| {
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab".into(),
            true,
        )
    });
    let r = run(
        "invalid",
        &scenario(&seen.url, 20, "100ms", "retry = false", 8),
    );
    assert_eq!(r.outcomes(), [("INVALID_RESPONSE".to_string(), 20)]);
    assert_eq!(r.n("attempts"), 20);
    assert_eq!(seen.requests(), 20, "every attempt reached the target");
    // Answered, badly: a completed run judged by its gates (none here),
    // as a run whose every answer was a 500 is; not exit 4.
    assert_eq!(r.out.status.code(), Some(0), "{}", r.stderr());
    assert!(!r.stderr().contains("unreachable"), "{}", r.stderr());
    let by_class = &r.fleet()["steps"][0]["attempt_latency_by_class_ms"];
    assert_eq!(by_class["invalid_response"]["count"].as_u64(), Some(20));
    assert!(by_class.get("network").is_none(), "{by_class}");
    assert!(
        r.notes()
            .iter()
            .any(|n| n.starts_with(
                "invalid answers: 20 attempts failed on an answer that is not valid HTTP/1.1"
            ) && n.ends_with("invalid response: two different content-lengths")),
        "{:?}",
        r.notes()
    );
}

#[test]
fn the_other_note_counts_each_operation_once() {
    // A new error code on every answer: 1,200 operations, 256 codes kept
    // per step, the other 944 operations under OTHER. Each collector (at
    // least two) holds over 256 codes of its own before they are merged.
    let seen = serve(|n| {
        let body = format!(r#"{{"error":{{"code":"CODE_{n}"}}}}"#);
        let head = format!(
            "HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        (head + &body, false)
    });
    let r = run(
        "other",
        &scenario(&seen.url, 1200, "100ms", "retry = false", 32),
    );
    assert_eq!(seen.requests(), 1200);
    assert_eq!(r.n("operations"), 1200);
    let outcomes = r.outcomes();
    assert_eq!(outcomes.len(), 257, "256 codes and OTHER");
    let other = outcomes.iter().find(|(k, _)| k == "OTHER").unwrap().1;
    assert_eq!(other, 944);
    assert_eq!(outcomes.iter().map(|(_, n)| n).sum::<u64>(), 1200);
    assert!(
        r.notes().iter().any(|n| n.ends_with(
            "the target sent more than 256 distinct outcomes in a step; 944 of 1200 operations are counted as OTHER"
        )),
        "{:?}",
        r.notes()
    );
}

/// A server that answers every request, then closes the connection at
/// once without saying `Connection: close`.
fn answers_then_closes() -> hostile::Target {
    hostile::serve(|req, s| {
        // The body read first: the close is a clean one, not a reset.
        let _ = common::rawhttp::read_body(req.head, s);
        let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let _ = s.write_all(ok.as_bytes());
        let _ = s.shutdown(std::net::Shutdown::Write);
        // Whatever comes next is not read: a request written on this
        // connection now would be reset, not answered.
        std::thread::sleep(Duration::from_millis(200));
        After::Close
    })
}

#[tokio::test]
async fn a_connection_closed_after_an_answer_is_replaced_before_the_next_post() {
    use stampede::client::{HttpClient, TlsOptions};
    let seen = answers_then_closes();
    let c = HttpClient::with_cap(
        &seen.url,
        1,
        Default::default(),
        &TlsOptions::default(),
        None,
        None,
    )
    .unwrap();
    for i in 0..200 {
        // Busy elsewhere for a moment without yielding (a busy runtime):
        // the server's close arrives in the meantime, and the I/O driver
        // does not run before the next request is checked out.
        if i > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let r = c
            .send(
                &http::Method::POST,
                "/a",
                Default::default(),
                Some(bytes::Bytes::from_static(b"{}")),
                Duration::from_secs(5),
            )
            .await
            .unwrap_or_else(|e| panic!("POST {i}: {e:?}"));
        assert_eq!(r.status, 200);
    }
    let st = c.stats();
    assert_eq!(seen.requests(), 200, "one request per attempt");
    assert_eq!((st.answered, st.resent), (200, 0));
    // Every request after the first found its connection closed and went
    // on a new one.
    assert_eq!(st.reconnects, 199);
}

#[test]
fn posts_on_connections_the_server_closes_after_each_answer_all_succeed() {
    let seen = answers_then_closes();
    let url = &seen.url;
    // One user, 200 POSTs one after the other, 5 ms apart.
    let src = common::scenario()
        .compare(&["compliant"])
        .target(url)
        .target_key("connections", "1")
        .target_key("timeout", "\"10s\"")
        .load_key("model", "\"closed\"")
        .load_key("users", "1")
        .load_key("iterations", "200")
        .load_key("think_time", "\"5ms\"")
        .drain("20s")
        .steps(r#"[{ name = "a", path = "/a", method = "POST", body = "{}", retry = false }]"#)
        .toml();
    let r = run("closes", &src);
    assert_eq!(r.outcomes(), [("OK".to_string(), 200)], "{}", r.stderr());
    assert_eq!(r.n("attempts"), 200);
    assert_eq!(seen.requests(), 200, "the server's count is the attempts");
    assert_eq!(r.n("not_sent"), 0);
    assert_eq!(r.fleet()["amplification"].as_f64(), Some(1.0));
    assert!(
        r.notes()
            .iter()
            .any(|n| n.starts_with("199 kept-alive connections were found closed by the server")),
        "{:?}",
        r.notes()
    );
}
