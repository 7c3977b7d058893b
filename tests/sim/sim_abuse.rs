//! `stampede serve` under abuse, through the real binary on loopback: idle
//! connections (slowloris sending nothing), a header dripped byte by byte, a
//! body dripped byte by byte, and more connections than the cap. Timeouts
//! are configured short (`[connections]`) so the file runs in seconds.

use crate::common;
use common::TempDir;
use common::bin::Served;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A `stampede serve` child on 127.0.0.1 with a free port, killed on drop,
/// and the folder of its config.
struct Serve {
    served: Served,
    _dir: TempDir,
}

impl Serve {
    fn start(tag: &str, connections: &str) -> Serve {
        let dir = TempDir::new(tag);
        let cfg = dir.path().join("sim.toml");
        std::fs::write(
            &cfg,
            format!("[rate_limit]\nper_user_per_second = 0\n[connections]\n{connections}"),
        )
        .unwrap();
        Serve {
            served: crate::common::bin::serve(&cfg, Stdio::inherit()),
            _dir: dir,
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.served.addr).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// Peak resident memory of the simulator process, in KiB (Linux).
    fn peak_rss_kib(&self) -> Option<u64> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.served.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

/// Whether the server has closed `s`, waiting at most `wait` for it: a read
/// returns 0 (FIN) or a reset; a read timeout means it is still open.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a response (e.g. 408) before the close
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true, // reset
        }
    }
}

/// One keep-alive GET on `s`; returns the status code.
fn get_availability(s: &mut TcpStream) -> u16 {
    s.write_all(b"GET /events/E1/zones/A/availability HTTP/1.1\r\nHost: sim\r\n\r\n")
        .unwrap();
    read_status(s)
}

/// Reads one response head and its Content-Length body; returns the status.
fn read_status(s: &mut TcpStream) -> u16 {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).unwrap(),
            1,
            "connection closed mid-response"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn sim_abuse_closes_a_thousand_idle_connections() {
    let sim = Serve::start(
        "sim-idle",
        "header_timeout = \"1s\"\nbody_timeout = \"1s\"\nidle_timeout = \"2s\"\n",
    );
    let start = Instant::now();
    let mut conns: Vec<TcpStream> = (0..1000).map(|_| sim.connect()).collect();
    let opened = start.elapsed();
    // Not closed at once: the last one is still open a moment later.
    assert!(
        !closed_within(conns.last_mut().unwrap(), Duration::from_millis(300)),
        "an idle connection was closed before its idle timeout"
    );
    // All of them are closed by the server, none is left hanging.
    let deadline = start + Duration::from_secs(15);
    let mut still_open = 0;
    for c in &mut conns {
        if !closed_within(c, deadline.saturating_duration_since(Instant::now())) {
            still_open += 1;
        }
    }
    let all_closed = start.elapsed();
    assert_eq!(still_open, 0, "idle connections left open by the server");
    eprintln!(
        "1000 idle connections: opened in {opened:?}, all closed by the server after {all_closed:?}; simulator peak RSS {:?} KiB",
        sim.peak_rss_kib()
    );
    // The simulator still serves, and its memory stayed small.
    assert_eq!(get_availability(&mut sim.connect()), 200);
    if let Some(kib) = sim.peak_rss_kib() {
        assert!(kib < 256 * 1024, "peak RSS {kib} KiB");
    }
}

#[test]
fn sim_abuse_drip_fed_header_is_cut_at_the_header_timeout() {
    // The idle timeout is long: only the header timeout can close this one.
    let sim = Serve::start(
        "sim-drip-head",
        "header_timeout = \"1s\"\nbody_timeout = \"10s\"\nidle_timeout = \"30s\"\n",
    );
    let mut s = sim.connect();
    let start = Instant::now();
    s.write_all(b"GET /events/E1/zones/A/availability HTTP/1.1\r\nHost: sim\r\n")
        .unwrap();
    let mut closed = false;
    while start.elapsed() < Duration::from_secs(8) {
        // One more header line every 100 ms: never the blank line.
        if s.write_all(b"X-Drip: a\r\n").is_err()
            || closed_within(&mut s, Duration::from_millis(100))
        {
            closed = true;
            break;
        }
    }
    let after = start.elapsed();
    assert!(
        closed,
        "a dripped header kept the connection open for {after:?}"
    );
    eprintln!("dripped header cut after {after:?} (header_timeout 1s, idle_timeout 30s)");
    assert!(
        after < Duration::from_secs(8),
        "closed by the header timeout, not the idle one"
    );
}

#[test]
fn sim_abuse_drip_fed_body_gets_408_and_is_closed() {
    let sim = Serve::start(
        "sim-drip-body",
        "header_timeout = \"5s\"\nbody_timeout = \"1s\"\nidle_timeout = \"30s\"\n",
    );
    let mut s = sim.connect();
    let body = br#"{"eventId":"E1","zoneId":"A","quantity":1}"#;
    s.write_all(
        format!(
            "POST /bookings/reserve HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer alice\r\n\
             Idempotency-Key: k1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    // Two bytes of the body, then nothing more.
    s.write_all(&body[..2]).unwrap();
    assert_eq!(read_status(&mut s), 408);
    assert!(
        closed_within(&mut s, Duration::from_secs(5)),
        "a half-read connection is closed after the 408"
    );
    // A whole request on a fresh connection is served.
    let mut ok = sim.connect();
    ok.write_all(
        format!(
            "POST /bookings/reserve HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer alice\r\n\
             Idempotency-Key: k2\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    ok.write_all(body).unwrap();
    assert_eq!(read_status(&mut ok), 201);
}

#[test]
fn sim_abuse_connections_beyond_the_cap_are_closed_at_once() {
    let sim = Serve::start(
        "sim-cap",
        "max_open = 5\nheader_timeout = \"5s\"\nidle_timeout = \"30s\"\n",
    );
    let mut held: Vec<TcpStream> = (0..5).map(|_| sim.connect()).collect();
    // The held ones are served.
    assert_eq!(get_availability(&mut held[0]), 200);
    let mut extra = sim.connect();
    assert!(
        closed_within(&mut extra, Duration::from_secs(3)),
        "the sixth connection is closed at once"
    );
    assert_eq!(get_availability(&mut held[4]), 200, "the others still work");
    // One leaves: a new connection fits again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = sim.connect();
        if !closed_within(&mut again, Duration::from_millis(100)) {
            assert_eq!(get_availability(&mut again), 200);
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot was never reused");
    }
}

#[test]
fn sim_abuse_a_busy_keep_alive_connection_outlives_the_idle_timeout() {
    let sim = Serve::start(
        "sim-keepalive",
        "header_timeout = \"1s\"\nidle_timeout = \"1s\"\n",
    );
    let mut s = sim.connect();
    let start = Instant::now();
    // One request every 400 ms for 3 s on one connection: never idle 1 s.
    while start.elapsed() < Duration::from_secs(3) {
        assert_eq!(get_availability(&mut s), 200, "after {:?}", start.elapsed());
        // The pacing under test: busy, but never idle for the 1 s timeout.
        std::thread::sleep(Duration::from_millis(400));
    }
    // Then left alone, it is closed.
    assert!(closed_within(&mut s, Duration::from_secs(5)));
}

#[test]
fn sim_abuse_one_byte_and_silence_is_cut_at_the_header_timeout() {
    // `P` could begin an HTTP/2 preface or a POST: either way it is a head
    // that must be finished within the header timeout, not the idle one.
    let sim = Serve::start(
        "sim-one-byte",
        "header_timeout = \"1s\"\nbody_timeout = \"10s\"\nidle_timeout = \"30s\"\n",
    );
    let mut s = sim.connect();
    let start = Instant::now();
    s.write_all(b"P").unwrap();
    assert!(
        closed_within(&mut s, Duration::from_secs(8)),
        "one byte kept the connection open for {:?}",
        start.elapsed()
    );
}
