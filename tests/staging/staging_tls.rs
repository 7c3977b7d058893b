//! A staging target behind TLS with a private CA: the simulator served over
//! HTTPS with a CA and server certificate made at test time (rcgen), and
//! stampede's scenario TLS options (`ca_file`, `insecure`) plus HTTP/2 over
//! ALPN, end to end through `run::execute`.

use crate::common;
use common::TempDir;
use common::tls::{Pki, pki, server_config};

use stampede::engine::Control;
use stampede::report::FleetResult;
use stampede::scenario::{self, Overrides};
use stampede::sim::{Acceptor, SimConfig, SimServer};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// No rate limits and instant service: these tests are about the transport.
fn quiet_sim() -> SimConfig {
    let mut cfg = SimConfig::default();
    cfg.rate_limit.per_user_per_second = 0;
    cfg.capacity.service_time = std::time::Duration::ZERO;
    cfg.capacity.latency_per_in_flight = std::time::Duration::ZERO;
    cfg
}

fn addr0() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

/// 20 availability look-ups against `url`, with a compliant policy whose
/// delays are tiny so a failing handshake gives up quickly.
fn scenario_src(url: &str, target_keys: &[(&str, &str)]) -> String {
    common::scenario()
        .name("staging-tls")
        .compare(&["fast"])
        .target(url)
        .target_key("timeout", "\"10s\"")
        .target_keys(target_keys)
        .open("1s", 20)
        .drain("20s")
        .event("E1", &["A"])
        .steps(r#"[{ name = "availability", path = "/events/E1/zones/A/availability", retry = true }]"#)
        .table("[policies.fast]\npreset = \"compliant\"\nbase_delay = \"10ms\"\nmax_delay = \"20ms\"")
        .toml()
}

async fn run_in(dir: &TempDir, src: &str) -> FleetResult {
    run_full(dir, src)
        .await
        .0
        .results
        .into_iter()
        .next()
        .expect("one fleet")
}

async fn run_full(dir: &TempDir, src: &str) -> (stampede::report::Report, Option<String>) {
    let file = dir.path().join("staging-tls.toml");
    std::fs::write(&file, src).expect("write scenario");
    let plan = scenario::load(&file, &Overrides::default())
        .unwrap_or_else(|e| panic!("scenario should be valid: {e}"));
    let out = stampede::run::execute(&plan, &Control::default(), None)
        .await
        .expect("run");
    assert_eq!(out.report.results.len(), 1);
    (out.report, out.unreachable)
}

fn ok(c: &FleetResult) -> u64 {
    c.counts.outcomes.get("OK").copied().unwrap_or(0)
}

fn assert_all_ok(c: &FleetResult, what: &str) {
    assert_eq!(c.counts.operations, 20, "{what}: 1 s x 20/s");
    assert_eq!(
        ok(c),
        20,
        "{what}: every look-up answered 2xx: {:?}",
        c.counts.outcomes
    );
    assert!(
        !c.counts.outcomes.contains_key("NETWORK_ERROR"),
        "{what}: {:?}",
        c.counts.outcomes
    );
    assert_eq!(
        c.counts.attempts, c.counts.operations,
        "{what}: no retries needed"
    );
}

async fn tls_sim(pki: &Pki, alpn: &[&[u8]]) -> SimServer {
    SimServer::start_tls(quiet_sim(), addr0(), server_config(pki, alpn))
        .await
        .expect("tls simulator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ca_from_ca_file_is_trusted() {
    let pki = pki();
    let dir = TempDir::new("tls-ca");
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("write CA");
    let server = tls_sim(&pki, &[b"h2", b"http/1.1"]).await;
    let port = server.addr().port();

    // By IP (the certificate has an IP SAN) and by name; `ca_file` is
    // relative to the scenario file's folder.
    for url in [
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
    ] {
        let c = run_in(&dir, &scenario_src(&url, &[("ca_file", r#""ca.pem""#)])).await;
        assert_all_ok(&c, &url);
    }
    let ledger = server.ledger();
    let seen: u64 = ledger
        .requests
        .get("availability")
        .map(|by| by.values().sum())
        .unwrap_or(0);
    assert_eq!(seen, 40, "both runs reached the simulator: {ledger:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_verification_fails_and_nothing_succeeds() {
    let pki = pki();
    let dir = TempDir::new("tls-noca");
    let server = tls_sim(&pki, &[b"h2", b"http/1.1"]).await;
    let url = format!("https://127.0.0.1:{}", server.addr().port());

    let (report, unreachable) = run_full(&dir, &scenario_src(&url, &[])).await;
    // The verification reason is kept, in the notes and the diagnosis.
    let tls_note = report.notes.iter().find(|n| n.starts_with("TLS:"));
    assert!(
        tls_note.is_some_and(|n| n.contains("UnknownIssuer") || n.contains("unknown issuer")),
        "{:?}",
        report.notes
    );
    let why = unreachable.expect("no attempt got an HTTP response");
    assert!(
        why.starts_with("target unreachable: 100% TLS_ERROR at https://127.0.0.1:"),
        "{why}"
    );
    let c = report.results.into_iter().next().expect("one fleet");
    assert_eq!(c.counts.operations, 20);
    assert_eq!(
        ok(&c),
        0,
        "an unknown CA must not be trusted: {:?}",
        c.counts.outcomes
    );
    // The report says why: the certificate did not verify.
    assert!(
        c.counts
            .outcomes
            .keys()
            .all(|k| k == "TLS_ERROR" || k == "GAVE_UP/TLS_ERROR" || k == "BREAKER_OPEN"),
        "{:?}",
        c.counts.outcomes
    );
    // Handshake failures are network errors: retried, then given up.
    assert!(
        c.counts.attempts > c.counts.operations,
        "network errors were retried"
    );
    // Not a single request made it through the TLS layer.
    let ledger = server.ledger();
    let seen: u64 = ledger.requests.values().flat_map(|by| by.values()).sum();
    assert_eq!(seen, 0, "{ledger:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skips_verification() {
    let pki = pki();
    let dir = TempDir::new("tls-insecure");
    let server = tls_sim(&pki, &[b"h2", b"http/1.1"]).await;
    let url = format!("https://127.0.0.1:{}", server.addr().port());
    let c = run_in(&dir, &scenario_src(&url, &[("insecure", "true")])).await;
    assert_all_ok(&c, "insecure");
    server.shutdown().await;
}

/// What one accepted TLS connection negotiated and spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    alpn: Option<Vec<u8>>,
    /// The client opened with the HTTP/2 connection preface.
    h2_preface: bool,
}

/// The simulator's TLS acceptor plus a record of every connection's ALPN
/// result and first bytes, to observe which HTTP version the client spoke.
#[derive(Clone)]
struct Recording {
    tls: tokio_rustls::TlsAcceptor,
    seen: Arc<Mutex<Vec<Seen>>>,
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Passes reads through, remembering the first bytes of the stream.
struct Sniff {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    head: Vec<u8>,
    alpn: Option<Vec<u8>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    done: bool,
}

impl Sniff {
    fn record(&mut self) {
        if !self.done {
            self.done = true;
            let s = Seen {
                alpn: self.alpn.clone(),
                h2_preface: self.head.starts_with(H2_PREFACE),
            };
            self.seen.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        }
    }
}

impl AsyncRead for Sniff {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if !self.done {
            let new = buf.filled()[before..].to_vec();
            self.head.extend_from_slice(&new);
            if self.head.len() >= H2_PREFACE.len() || (new.is_empty() && r.is_ready()) {
                self.record();
            }
        }
        r
    }
}

impl AsyncWrite for Sniff {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Acceptor for Recording {
    type Io = Sniff;
    async fn accept(&self, tcp: TcpStream) -> std::io::Result<Sniff> {
        let inner = self.tls.accept(tcp).await?;
        let alpn = inner.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        Ok(Sniff {
            inner,
            head: Vec::new(),
            alpn,
            seen: Arc::clone(&self.seen),
            done: false,
        })
    }
}

async fn protocols_spoken(alpn: &[&[u8]]) -> (FleetResult, Vec<Seen>) {
    let pki = pki();
    let dir = TempDir::new("tls-alpn");
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("write CA");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let acceptor = Recording {
        tls: tokio_rustls::TlsAcceptor::from(server_config(&pki, alpn)),
        seen: Arc::clone(&seen),
    };
    let server = SimServer::start_with(quiet_sim(), addr0(), acceptor)
        .await
        .expect("recording simulator");
    let url = format!("https://127.0.0.1:{}", server.addr().port());
    let c = run_in(&dir, &scenario_src(&url, &[("ca_file", r#""ca.pem""#)])).await;
    server.shutdown().await;
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (c, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_negotiated_when_the_server_offers_it() {
    let (c, seen) = protocols_spoken(&[b"h2", b"http/1.1"]).await;
    assert_all_ok(&c, "h2");
    assert!(!seen.is_empty(), "connections were recorded");
    for s in &seen {
        assert_eq!(s.alpn.as_deref(), Some(&b"h2"[..]), "{seen:?}");
        assert!(s.h2_preface, "the client spoke HTTP/2: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_is_used_when_the_server_offers_only_http1() {
    let (c, seen) = protocols_spoken(&[b"http/1.1"]).await;
    assert_all_ok(&c, "http/1.1");
    assert!(!seen.is_empty(), "connections were recorded");
    for s in &seen {
        assert_eq!(s.alpn.as_deref(), Some(&b"http/1.1"[..]), "{seen:?}");
        assert!(!s.h2_preface, "{seen:?}");
    }
}
