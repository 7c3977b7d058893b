//! The generator really running out of file descriptors: the binary started
//! with a hard and soft `RLIMIT_NOFILE` of 64 and `connections` far above
//! it, against a loopback target that holds each answer for a while. The
//! run still writes its reports; the attempts that found no descriptor are
//! the generator's own failures (`LOCAL_RESOURCE_ERROR`, with the note and
//! the start-of-run warning), never the target's network errors; and every
//! other attempt reached the target and was answered.

use crate::common;
use common::TempDir;
use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: u64 = 64;

/// Answers every request 200 after `hold`, one request per connection;
/// counts the requests it read.
async fn slow_target(hold: Duration) -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                // stampede's probe for a simulator ledger is no attempt.
                let probe = buf.starts_with(b"GET /__sim/ledger");
                if !probe {
                    count.fetch_add(1, Relaxed);
                    tokio::time::sleep(hold).await;
                }
                let resp: &[u8] = if probe {
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                } else {
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}"
                };
                let _ = s.write_all(resp).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_is_the_generators_fault_and_the_reports_are_written() {
    let (addr, seen) = slow_target(Duration::from_millis(500)).await;
    let dir = TempDir::new("fdlimit");
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["naive"])
        .target(&format!("http://{addr}"))
        .target_key("connections", "2000")
        .target_key("timeout", "\"20s\"")
        .ticket_drop(300, "300ms")
        .drain("30s")
        .steps(r#"[{ name = "a", path = "/a", retry = false }]"#)
        .write(&file);
    let out_dir = dir.path().join("out");
    let out = {
        let out_dir = out_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = crate::common::stampede();
            cmd.arg("run")
                .arg(&file)
                .arg("--out")
                .arg(&out_dir)
                .arg("--quiet");
            for v in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
                cmd.env_remove(v);
            }
            // SAFETY: only setrlimit between fork and exec (async-signal-safe).
            unsafe {
                cmd.command_mut().pre_exec(|| {
                    let lim = libc::rlimit {
                        rlim_cur: LIMIT as libc::rlim_t,
                        rlim_max: LIMIT as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            cmd.output().expect("run stampede")
        })
        .await
        .unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "WARNING: the generator may open 2000 sockets but its file-descriptor limit is {LIMIT}"
        )),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("summary.json"))
            .unwrap_or_else(|e| panic!("summary.json not written ({e}): {stderr}")),
    )
    .unwrap();
    for f in common::REPORT_FILES {
        assert!(out_dir.join(f).is_file(), "{f} not written: {stderr}");
    }
    let result = &summary["results"][0];
    let outcomes = result["outcomes"].as_object().expect("outcomes");
    let n = |k: &str| outcomes.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let local = n("LOCAL_RESOURCE_ERROR");
    let ok = n("OK");
    assert!(
        local > 0,
        "64 descriptors cannot hold 300 in flight: {outcomes:?}"
    );
    assert!(ok > 0, "some attempts fit: {outcomes:?}");
    // Nothing else: no descriptor is not the target's network error.
    assert_eq!(ok + local, 300, "{outcomes:?}; {stderr}");
    assert_eq!(result["attempts"].as_u64(), Some(300), "no retries");
    // Every answered attempt reached the target; the others never left:
    // counted apart as not_sent, fleet and step, and the target's count is
    // attempts - not_sent.
    assert_eq!(seen.load(Relaxed), ok, "{outcomes:?}");
    assert_eq!(result["not_sent"].as_u64(), Some(local), "{result}");
    assert_eq!(result["steps"][0]["not_sent"].as_u64(), Some(local));
    assert_eq!(seen.load(Relaxed), 300 - local);
    let by_class = &result["steps"][0]["attempt_latency_by_class_ms"];
    assert_eq!(by_class["not_sent"]["count"].as_u64(), Some(local));
    // Amplification is over the requests the target saw: seen / 300.
    let sent = (300 - local) as f64 / 300.0;
    for amp in [
        &result["amplification"],
        &result["amplification_overall"],
        &result["steps"][0]["amplification"],
    ] {
        assert!((amp.as_f64().unwrap() - sent).abs() < 1e-9, "{amp} {sent}");
    }
    let csv = std::fs::read_to_string(out_dir.join("summary.csv")).unwrap();
    let (head, row) = csv.split_once('\n').unwrap();
    let col = head
        .split(',')
        .position(|h| h == "not_sent")
        .expect("column");
    assert_eq!(
        row.trim().split(',').nth(col),
        Some(local.to_string().as_str())
    );
    let ts = std::fs::read_to_string(out_dir.join("timeseries.csv")).unwrap();
    let col = ts
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == "not_sent");
    let col = col.expect("a timeseries column");
    let per_second: u64 = ts
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(per_second, local);
    let notes = summary["notes"].as_array().expect("notes");
    assert!(
        notes.iter().any(|n| n.as_str().is_some_and(|n| n.starts_with(&format!(
            "the generator ran out of file descriptors (or local ports): {local} attempts failed on this machine"
        )) && n.contains("counted as not_sent"))),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.starts_with("the generator may open 2000 sockets"))),
        "{notes:?}"
    );
    // Not a target diagnosis: the target answered.
    assert!(!stderr.contains("target unreachable"), "{stderr}");
}
