//! A hostile target's wire: the binary against loopback servers written
//! here whose answers break HTTP/1.1 framing on purpose (a chunk size near
//! `u64::MAX`, trailers that never end, over 100 headers, a DEL byte, plain
//! HTTP on an https:// URL, a 413 before the request body was read). Every
//! case checks the outcome the report names, the reason in its notes, and
//! the report's attempts against the server's own count of requests.

use crate::common;

use common::TempDir;
use common::bin::{RunOutput, n0, run_scenario};
use common::hostile::{self, After};
use common::scenario::{Scenario, scenario};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
const CHUNKED: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";

/// Chunk sizes no body may have: near `u64::MAX` (the sum that overflowed)
/// and one byte over the 1 MiB body limit.
const HOSTILE_SIZES: [&str; 2] = ["fffffffffffffffe", "100001"];

/// A chunked answer: a first chunk of 2 bytes, then one that claims
/// `size` (hex) bytes (added to the first, the size near `u64::MAX`
/// overflows).
fn hostile_chunk(size: &str) -> String {
    format!("{CHUNKED}2\r\n{{}}\r\n{size}\r\n{{}}")
}

/// `users` buyers arriving over 200 ms on one step (`GET /a` and `step`'s
/// keys), the compliant policy, at most 8 connections.
fn one_step(url: &str, users: u32, step: &str) -> Scenario {
    scenario()
        .compare(&["compliant"])
        .target(url)
        .target_key("connections", "8")
        .target_key("timeout", "\"10s\"")
        .ticket_drop(users, "200ms")
        .drain("20s")
        .journey_key(
            "steps",
            &format!("[{{ name = \"a\", path = \"/a\", {step} }}]"),
        )
}

/// Runs `s` with `--quiet`; the folder lives as long as the result.
async fn run(tag: &str, s: &Scenario) -> (RunOutput, TempDir) {
    let dir = TempDir::new(tag);
    let file = s.write(dir.path().join("s.toml"));
    let r = run_scenario(&file, &dir.path().join("out"), &["--quiet"]).await;
    assert!(
        r.summary.is_object(),
        "{tag}: no summary.json (exit {:?}): {}",
        r.code,
        r.stderr
    );
    (r, dir)
}

/// Fleet 0's outcomes, by label.
fn outcomes(r: &RunOutput) -> Vec<(String, u64)> {
    r.fleet(0)["outcomes"]
        .as_object()
        .expect("outcomes")
        .iter()
        .map(|(k, v)| (k.clone(), n0(v)))
        .collect()
}

fn one(label: &str, n: u64) -> Vec<(String, u64)> {
    vec![(label.to_string(), n)]
}

#[tokio::test]
async fn a_hostile_chunk_size_on_the_ledger_read_is_a_note_not_a_crash() {
    for size in HOSTILE_SIZES {
        let ledger = hostile_chunk(size);
        let t = hostile::serve(move |req, s| {
            let answer = if req.probe { ledger.as_str() } else { OK };
            match s.write_all(answer.as_bytes()) {
                Ok(()) if !req.probe => After::Next,
                _ => After::Close,
            }
        });
        let s = one_step(&t.url, 10, "retry = false").target_key("ledger", "true");
        let (r, _dir) = run("ledger-chunk", &s).await;
        r.ok();
        assert_eq!(outcomes(&r), one("OK", 10), "{size}");
        assert_eq!(n0(&r.fleet(0)["attempts"]), t.requests(), "{size}");
        assert_eq!(t.requests(), 10, "{size}");
        // Read once before the round; after a failed first reading there
        // is nothing to subtract from, so none after it.
        assert_eq!(t.probes(), 1, "{size}");
        assert!(r.fleet(0)["ledger"].is_null(), "{size}: {}", r.fleet(0));
        assert!(
            r.notes().contains(
                &"round 0: target.ledger = true, but the target's ledger (GET /__sim/ledger) could not be read before the round: the answer failed as BODY_TOO_LARGE; the report has no ledger for this round"
            ),
            "{size}: {:?}",
            r.notes()
        );
    }
}

#[tokio::test]
async fn a_hostile_chunk_size_fails_its_attempts_and_every_one_is_counted() {
    for size in HOSTILE_SIZES {
        let t = hostile::serve_bytes(hostile_chunk(size), After::Close);
        // Two retries of a network failure, then the operation gives up.
        let s = one_step(&t.url, 10, "").table("[policies.compliant]\nlimits = { network = 2 }");
        let (r, _dir) = run("user-chunk", &s).await;
        r.ok();
        assert_eq!(outcomes(&r), one("GAVE_UP/BODY_TOO_LARGE", 10), "{size}");
        assert_eq!(n0(&r.fleet(0)["attempts"]), 30, "{size}");
        assert_eq!(
            t.requests(),
            30,
            "{size}: the server saw what the report counts"
        );
        assert_eq!(r.journeys(0, "failed"), 10, "{size}: no journey vanished");
        assert!(
            !r.notes().iter().any(|n| n.contains("panicked")),
            "{size}: {:?}",
            r.notes()
        );
    }
}

/// A target that writes `head`, then `forever` again and again until the
/// client hangs up (at most 64 MiB or 20 s a connection); `most` learns
/// the most bytes any connection took.
fn endless(head: &'static str, forever: &'static [u8], most: Arc<AtomicU64>) -> hostile::Target {
    hostile::serve(move |_, s| {
        let _ = s.set_write_timeout(Some(Duration::from_secs(20)));
        let started = Instant::now();
        let mut sent = head.len() as u64;
        if s.write_all(head.as_bytes()).is_ok() {
            while sent < 64 << 20 && started.elapsed() < Duration::from_secs(20) {
                if s.write_all(forever).is_err() {
                    break;
                }
                sent += forever.len() as u64;
            }
        }
        most.fetch_max(sent, Relaxed);
        After::Close
    })
}

#[tokio::test]
async fn trailers_that_never_end_are_refused_within_their_bound() {
    const LINES: &str = "x-t: 1\r\n";
    let lines: &'static [u8] = LINES.repeat(512).leak().as_bytes();
    let one_line: &'static [u8] = &[b'a'; 4096];
    let cases = [
        ("lines", lines, "invalid response: over 100 trailer lines"),
        (
            "one line",
            one_line,
            "invalid response: trailers over 16 KiB",
        ),
    ];
    for (case, forever, reason) in cases {
        let head: &'static str = format!("{CHUNKED}2\r\n{{}}\r\n0\r\nx-t: ").leak();
        let most = Arc::new(AtomicU64::new(0));
        let t = endless(head, forever, most.clone());
        let (r, _dir) = run("trailers", &one_step(&t.url, 10, "retry = false")).await;
        r.ok();
        assert_eq!(outcomes(&r), one("INVALID_RESPONSE", 10), "{case}");
        assert_eq!(n0(&r.fleet(0)["attempts"]), t.requests(), "{case}");
        assert_eq!(t.requests(), 10, "{case}");
        // Every journey ended on its own, none cut off by the drain.
        assert_eq!(r.journeys(0, "failed"), 10, "{case}");
        assert_eq!(n0(&r.fleet(0)["journeys"]["cancelled"]), 0, "{case}");
        assert!(
            !r.notes().iter().any(|n| n.contains("drain deadline")),
            "{case}: {:?}",
            r.notes()
        );
        assert!(
            r.notes().iter().any(|n| n.starts_with(
                "invalid answers: 10 attempts failed on an answer that is not valid HTTP/1.1"
            ) && n.ends_with(reason)),
            "{case}: {:?}",
            r.notes()
        );
        // The client hung up after its 16 KiB of trailers: what the server
        // got written is that and the sockets' buffers (at most 4 MiB
        // sent and 32 MiB received by default on Linux), not all 64 MiB.
        let most = most.load(Relaxed);
        assert!(most < 40 << 20, "{case}: a connection took {most} bytes");
    }
}

#[tokio::test]
async fn heads_that_are_not_http_are_invalid_response_with_the_parsers_reason() {
    let many = format!(
        "HTTP/1.1 200 OK\r\n{}content-length: 2\r\n\r\n{{}}",
        "x-a: 1\r\n".repeat(101)
    );
    let cases = [
        (many, "invalid response: over 100 headers"),
        (
            "HTTP/1.1 200 OK\r\nx-a\x7fb: 1\r\ncontent-length: 2\r\n\r\n{}".to_string(),
            "invalid response: invalid header name",
        ),
        (
            "HTTP/1.1 200 OK\r\nx-a: 1\x7f2\r\ncontent-length: 2\r\n\r\n{}".to_string(),
            "invalid response: invalid header value",
        ),
    ];
    for (answer, reason) in cases {
        let t = hostile::serve_bytes(answer, After::Close);
        let (r, _dir) = run("heads", &one_step(&t.url, 10, "retry = false")).await;
        // The target answered, badly: a completed run, not exit 4.
        r.ok();
        assert_eq!(outcomes(&r), one("INVALID_RESPONSE", 10), "{reason}");
        assert_eq!(n0(&r.fleet(0)["attempts"]), t.requests(), "{reason}");
        assert_eq!(t.requests(), 10, "{reason}");
        assert!(!r.stderr.contains("unreachable"), "{reason}: {}", r.stderr);
        assert!(
            !r.notes().iter().any(|n| n.contains("unreachable")),
            "{reason}: {:?}",
            r.notes()
        );
        assert!(
            r.notes().iter().any(|n| n.starts_with(
                "invalid answers: 10 attempts failed on an answer that is not valid HTTP/1.1"
            ) && n.ends_with(reason)),
            "{reason}: {:?}",
            r.notes()
        );
    }
}

#[tokio::test]
async fn plain_http_on_an_https_url_is_a_tls_error_that_says_so() {
    // A plain HTTP server: the ClientHello read, a 400 written back.
    let (url, connections) = hostile::accept(|_, mut s| {
        let _ = s.read(&mut [0u8; 16 * 1024]);
        let _ = s.write_all(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
    });
    let url = url.replace("http://", "https://");
    let (r, _dir) = run("plain-tls", &one_step(&url, 5, "retry = false")).await;
    assert_eq!(outcomes(&r), one("TLS_ERROR", 5));
    assert_eq!(n0(&r.fleet(0)["attempts"]), 5);
    assert_eq!(connections.load(Relaxed), 5, "one handshake per attempt");
    let said = "the server did not speak TLS (plain HTTP on an https:// URL? try http://)";
    assert!(
        r.notes()
            .iter()
            .any(|n| n.starts_with("TLS: 5 attempts failed the handshake") && n.contains(said)),
        "{:?}",
        r.notes()
    );
    assert!(r.stderr.contains(said), "{}", r.stderr);
}

#[tokio::test]
async fn a_413_sent_before_an_8_mb_body_was_read_is_the_answer() {
    const EARLY: &str =
        "HTTP/1.1 413 Content Too Large\r\ncontent-length: 9\r\nconnection: close\r\n\r\ntoo large";
    let uploads = Arc::new(AtomicU64::new(0));
    let u = uploads.clone();
    let t = hostile::serve(move |req, s| {
        if req.head.starts_with("PUT ") {
            // The head read, the 8 MB left unread: the close is a reset.
            u.fetch_add(1, Relaxed);
            let _ = s.write_all(EARLY.as_bytes());
            return After::Close;
        }
        match s.write_all(OK.as_bytes()) {
            Ok(()) => After::Next,
            Err(_) => After::Close,
        }
    });
    let body = "x".repeat(8 << 20);
    // A GET first, so the PUT goes on a kept-alive connection (where a
    // failed write would be a stale connection's, and a PUT resent).
    let steps = format!(
        "[{{ name = \"look\", path = \"/a\" }}, {{ name = \"upload\", path = \"/upload\", method = \"PUT\", body = \"{body}\" }}]"
    );
    let s = scenario()
        .compare(&["compliant"])
        .target(&t.url)
        .target_key("connections", "4")
        .target_key("timeout", "\"10s\"")
        .ticket_drop(4, "200ms")
        .drain("20s")
        .journey_key("steps", &steps);
    let (r, _dir) = run("early-413", &s).await;
    r.ok();
    let upload = r.step(0, "upload");
    assert_eq!(upload["outcomes"], serde_json::json!({"HTTP_413": 4}));
    // Not a reset, so not retried as a network error, nor written again.
    assert_eq!(n0(&upload["attempts"]), 4);
    assert_eq!(uploads.load(Relaxed), 4, "the server read four uploads");
    assert_eq!(n0(&r.fleet(0)["attempts"]), t.requests());
    assert_eq!(t.requests(), 8);
    assert!(
        !r.notes().iter().any(|n| n.contains("written again")),
        "{:?}",
        r.notes()
    );
}
