//! A hand-written hostile HTTP/1.1 target on 127.0.0.1, a thread per
//! connection: the test's answer is handed each request's head and the
//! socket, and writes whatever bytes it likes. The target counts its
//! connections, the requests it read, and stampede's ledger probes
//! (`/__sim/...`) apart from the rest, so a test can hold the report's
//! attempts to what the target saw.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A request as the answer sees it.
pub struct Request<'a> {
    /// Its number, from 0, among the requests of its kind (probes and the
    /// rest are counted apart).
    pub n: u64,
    /// The request line and headers; the body is still unread.
    pub head: &'a str,
    /// A ledger probe (`GET /__sim/ledger`), not the load.
    pub probe: bool,
}

/// What becomes of the connection after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// The request's body is read (if the answer did not) and the next
    /// request awaited.
    Next,
    /// The connection is closed, whatever of the request is still unread.
    Close,
}

/// The running target: its URL and what it counted.
pub struct Target {
    pub url: String,
    connections: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    probes: Arc<AtomicU64>,
}

impl Target {
    /// Connections accepted.
    pub fn connections(&self) -> u64 {
        self.connections.load(Relaxed)
    }
    /// Request heads read whole, ledger probes not counted.
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }
    /// Ledger probes read.
    pub fn probes(&self) -> u64 {
        self.probes.load(Relaxed)
    }
}

/// Accepts connections on 127.0.0.1:0 and hands each, with its number
/// from 0, to `conn` on a thread of its own; `http://` URL, connections
/// counted. For a target that does not speak HTTP at all.
pub fn accept<F>(conn: F) -> (String, Arc<AtomicU64>)
where
    F: Fn(u64, TcpStream) + Send + Sync + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", l.local_addr().expect("local addr"));
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    let conn = Arc::new(conn);
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { break };
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            let n = c.fetch_add(1, Relaxed);
            let conn = conn.clone();
            std::thread::spawn(move || conn(n, s));
        }
    });
    (url, count)
}

/// An HTTP/1.1 target whose every answer is written by `answer`.
pub fn serve<F>(answer: F) -> Target
where
    F: Fn(&Request, &mut TcpStream) -> After + Send + Sync + 'static,
{
    let requests = Arc::new(AtomicU64::new(0));
    let probes = Arc::new(AtomicU64::new(0));
    let (r, p) = (requests.clone(), probes.clone());
    let (url, connections) = accept(move |_, mut s| {
        while let Some(head) = super::rawhttp::read_head(&mut s) {
            let probe = head.lines().next().is_some_and(|l| l.contains(" /__sim/"));
            let n = if probe { &p } else { &r }.fetch_add(1, Relaxed);
            let req = Request {
                n,
                head: &head,
                probe,
            };
            if answer(&req, &mut s) == After::Close
                || super::rawhttp::read_body(&head, &mut s).is_none()
            {
                return;
            }
        }
    });
    Target {
        url,
        connections,
        requests,
        probes,
    }
}

/// A target that writes `bytes` to every request (probes included) and
/// then does `after`.
pub fn serve_bytes(bytes: impl Into<Vec<u8>>, after: After) -> Target {
    let bytes = bytes.into();
    serve(move |_, s| {
        use std::io::Write;
        match s.write_all(&bytes) {
            Ok(()) => after,
            Err(_) => After::Close,
        }
    })
}
