//! Classifying what went wrong: a failed connect (at the proxy by its own
//! kind), a transport error by its kind, counted and shown by `--trace`.

use super::*;

impl HttpClient {
    /// No connection: the attempt's failure, classified (a failure at the
    /// proxy by its own kind), counted and shown by `--trace`.
    pub(super) fn connect_failure(&self, e: &pool::ConnectError) -> Failure {
        use pool::{ConnectError, ProxyFailure};
        let p = match e {
            ConnectError::Proxy(p) => p,
            ConnectError::Tls(tls) => {
                let text = classify(tls).1.join(": ");
                return failed(&self.stats, self.trace.as_deref(), NetError::Tls, || text);
            }
            _ => return self.transport_failure(e.as_error()),
        };
        let (kind, text) = match p {
            ProxyFailure::Connect(io) => {
                let (kind, messages) = classify(io);
                (
                    kind.at_proxy(),
                    format!("connecting to the proxy: {}", messages.join(": ")),
                )
            }
            ProxyFailure::Status(s) if *s == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED => (
                NetError::ProxyAuth,
                format!("the proxy answered {s} to CONNECT"),
            ),
            ProxyFailure::Status(s) => (
                NetError::ProxyTunnel,
                format!("the proxy answered {s} to CONNECT"),
            ),
            ProxyFailure::Handshake(h) => (
                NetError::ProxyTunnel,
                format!(
                    "the proxy did not answer CONNECT: {}",
                    classify(h).1.join(": ")
                ),
            ),
        };
        failed(&self.stats, self.trace.as_deref(), kind, || text)
    }

    /// A transport error as the attempt's failure: classified, counted and
    /// shown by `--trace`.
    pub(super) fn transport_failure(&self, e: &(dyn std::error::Error + 'static)) -> Failure {
        transport_failure(&self.stats, self.trace.as_deref(), e)
    }
}

/// A transport error as a failure: classified by its chain, counted and
/// shown by `--trace`.
pub(super) fn transport_failure(
    stats: &TransportStats,
    trace: Option<&trace::Tracer>,
    e: &(dyn std::error::Error + 'static),
) -> Failure {
    let (kind, messages) = classify(e);
    failed(stats, trace, kind, || messages.join(": "))
}

/// A failure of `kind`: counted (`text` is kept for the first TLS and proxy
/// failures) and shown by `--trace`.
pub(super) fn failed(
    stats: &TransportStats,
    trace: Option<&trace::Tracer>,
    kind: NetError,
    text: impl FnOnce() -> String,
) -> Failure {
    stats.failed(kind, text);
    if let Some(t) = trace {
        t.failure(kind.label());
    }
    Failure::Net(kind)
}

/// The kind of a transport error, and the chain's messages (outermost
/// first). Typed where stampede's own code or the OS says it: an
/// [`h1::WireError`], an errno of the generator's own exhaustion, an io
/// error kind; the text of the chain only for what comes typed from
/// nowhere (hyper's HTTP/2 errors wrap the io error two or three levels
/// deep, behind boxed errors).
fn classify(e: &(dyn std::error::Error + 'static)) -> (NetError, Vec<String>) {
    let mut messages = Vec::new();
    let mut io_kind = None;
    let mut typed = None;
    let mut cur = Some(e);
    while let Some(err) = cur {
        messages.push(err.to_string());
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
            typed = typed.or_else(|| io_error_kind(io));
        }
        // A TLS failure says so by its type, on its own or carried inside
        // an io error (as tokio-rustls does; `source()` skips it there).
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|e| e as &(dyn std::error::Error + 'static));
        if [Some(err), inner]
            .into_iter()
            .flatten()
            .any(|e| e.downcast_ref::<rustls::Error>().is_some())
        {
            typed = typed.or(Some(NetError::Tls));
        }
        cur = err.source();
    }
    let kind = typed.unwrap_or_else(|| NetError::from_chain(&messages, io_kind));
    (kind, messages)
}

/// The kind an io error says by its type alone: a [`h1::WireError`] it
/// carries, the generator's own exhaustion by errno (EMFILE, ENFILE,
/// EADDRNOTAVAIL), or a kind that names the failure; `None` otherwise.
fn io_error_kind(io: &std::io::Error) -> Option<NetError> {
    use std::io::ErrorKind as K;
    if let Some(w) = h1::WireError::of(io) {
        return Some(w.kind());
    }
    if matches!(
        io.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::EADDRNOTAVAIL)
    ) {
        return Some(NetError::Local);
    }
    match io.kind() {
        K::ConnectionRefused => Some(NetError::ConnectRefused),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Some(NetError::Reset),
        K::UnexpectedEof => Some(NetError::Closed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_failure_is_known_by_its_type_not_its_text() {
        // Nothing in this text says TLS, handshake or certificate.
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::General("x".into()),
        );
        let (kind, messages) = classify(&e);
        assert_eq!(kind, NetError::Tls, "{messages:?}");
        assert!(!messages.join(" ").to_lowercase().contains("tls"));
        // The errno of the generator's own exhaustion beats any text.
        let e = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(classify(&e).0, NetError::Local);
    }
}
