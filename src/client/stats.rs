//! What the transport saw, by kind, for the run's diagnosis: how many
//! attempts got an HTTP answer at all, how many failed and why, and the
//! first TLS error's text (the verification reason a user needs), the
//! first failure at an HTTP proxy (refused, or its answer to CONNECT), and
//! the first answer that was not valid HTTP (two different lengths, too
//! many headers, a bad header name: why a target answered and yet every
//! attempt failed, as INVALID_RESPONSE).

use crate::outcome::NetError;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct TransportStats {
    answered: AtomicU64,
    timeouts: AtomicU64,
    resent: AtomicU64,
    reconnects: AtomicU64,
    simulator: AtomicU64,
    failed: [AtomicU64; NetError::ALL.len()],
    first_tls: Mutex<Option<String>>,
    first_proxy: Mutex<Option<String>>,
    first_invalid: Mutex<Option<String>>,
}

/// A copy of the counters, to add up across rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Attempts that got an HTTP response (any status).
    pub answered: u64,
    /// Attempts the client's timeout cut off.
    pub timeouts: u64,
    /// Requests written again on a new connection because the server had
    /// closed their kept-alive one before answering (idempotent methods).
    pub resent: u64,
    /// Kept-alive connections found closed by the server before a request
    /// was written on them (an answer without `Connection: close`, then the
    /// close): the request went on another connection, no attempt lost,
    /// nothing written twice.
    pub reconnects: u64,
    /// Answers that carried `x-stampede-sim` (the target is `stampede serve`).
    pub simulator: u64,
    /// Attempts without an answer, by kind (in [`NetError::ALL`] order).
    pub failed: [u64; NetError::ALL.len()],
    pub first_tls: Option<String>,
    /// The first failure at the proxy, e.g. `the proxy answered 502 Bad
    /// Gateway to CONNECT` (never its credentials).
    pub first_proxy: Option<String>,
    /// The first answer that was not valid HTTP
    /// ([`NetError::InvalidResponse`]), e.g. `invalid response: two
    /// different content-lengths`.
    pub first_invalid: Option<String>,
}

impl TransportStats {
    pub fn answered(&self) {
        self.answered.fetch_add(1, Relaxed);
    }

    pub fn timed_out(&self) {
        self.timeouts.fetch_add(1, Relaxed);
    }

    pub fn resent(&self) {
        self.resent.fetch_add(1, Relaxed);
    }

    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    pub fn simulator_answered(&self) {
        self.simulator.fetch_add(1, Relaxed);
    }

    /// A failure of kind `kind`; `chain` is the error chain's text, kept
    /// (and made) for the first TLS error, the first proxy failure and the
    /// first invalid answer only.
    pub fn failed(&self, kind: NetError, chain: impl FnOnce() -> String) {
        if let Some(i) = NetError::ALL.iter().position(|k| *k == kind) {
            self.failed[i].fetch_add(1, Relaxed);
        }
        let slot = match kind {
            NetError::Tls => &self.first_tls,
            k if k.is_proxy() => &self.first_proxy,
            NetError::InvalidResponse => &self.first_invalid,
            _ => return,
        };
        if let Ok(mut first) = slot.lock()
            && first.is_none()
        {
            *first = Some(chain());
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            answered: self.answered.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            resent: self.resent.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            simulator: self.simulator.load(Relaxed),
            failed: std::array::from_fn(|i| self.failed[i].load(Relaxed)),
            first_tls: self.first_tls.lock().ok().and_then(|f| f.clone()),
            first_proxy: self.first_proxy.lock().ok().and_then(|f| f.clone()),
            first_invalid: self.first_invalid.lock().ok().and_then(|f| f.clone()),
        }
    }
}

impl Snapshot {
    /// What happened after `before` (the first texts are kept as they are).
    pub fn since(&self, before: &Snapshot) -> Snapshot {
        Snapshot {
            answered: self.answered - before.answered.min(self.answered),
            timeouts: self.timeouts - before.timeouts.min(self.timeouts),
            resent: self.resent - before.resent.min(self.resent),
            reconnects: self.reconnects - before.reconnects.min(self.reconnects),
            simulator: self.simulator - before.simulator.min(self.simulator),
            failed: std::array::from_fn(|i| self.failed[i] - before.failed[i].min(self.failed[i])),
            first_tls: self.first_tls.clone(),
            first_proxy: self.first_proxy.clone(),
            first_invalid: self.first_invalid.clone(),
        }
    }

    pub fn add(&mut self, o: &Snapshot) {
        self.answered += o.answered;
        self.timeouts += o.timeouts;
        self.resent += o.resent;
        self.reconnects += o.reconnects;
        self.simulator += o.simulator;
        for (a, b) in self.failed.iter_mut().zip(o.failed) {
            *a += b;
        }
        if self.first_tls.is_none() {
            self.first_tls.clone_from(&o.first_tls);
        }
        if self.first_proxy.is_none() {
            self.first_proxy.clone_from(&o.first_proxy);
        }
        if self.first_invalid.is_none() {
            self.first_invalid.clone_from(&o.first_invalid);
        }
    }

    pub fn count(&self, kind: NetError) -> u64 {
        NetError::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.failed[i])
    }

    /// When attempts were made and none got an HTTP answer: one line
    /// saying why, by kind, e.g. `target unreachable: 100% CONNECT_REFUSED
    /// at http://127.0.0.1:9`. An answer that is not valid HTTP is an
    /// answer: a target that sent one is reachable (and misbehaving; the
    /// run's outcomes say `INVALID_RESPONSE`).
    pub fn unreachable(&self, target: &str) -> Option<String> {
        let failed: u64 = self.failed.iter().sum::<u64>() + self.timeouts;
        let invalid = self.count(NetError::InvalidResponse);
        if self.answered > 0 || invalid > 0 || failed == 0 {
            return None;
        }
        let mut kinds: Vec<(u64, &str)> = NetError::ALL
            .iter()
            .zip(self.failed)
            .map(|(k, n)| (n, k.label()))
            .chain([(self.timeouts, "TIMEOUT")])
            .filter(|(n, _)| *n > 0)
            .collect();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.0));
        let parts: Vec<String> = kinds
            .iter()
            .map(|(n, l)| format!("{}% {l}", (*n * 100 + failed / 2) / failed))
            .collect();
        let mut line = format!(
            "target unreachable: {} at {target} (no attempt of {failed} got an HTTP response)",
            parts.join(", ")
        );
        if let Some(t) = &self.first_tls {
            line.push_str(&format!("; first TLS error: {t}"));
        }
        if let Some(p) = &self.first_proxy {
            line.push_str(&format!("; first proxy failure: {p}"));
        }
        Some(line)
    }
}

impl Snapshot {
    /// Report notes for what went wrong on the wire: the generator's own
    /// resource exhaustion, the first TLS error's reason, the first proxy
    /// failure, the first answer that was not valid HTTP.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.resent > 0 {
            notes.push(format!(
                "{} requests found their kept-alive connection closed by the server before any answer and were written again, once, on a new connection (idempotent methods only, RFC 9112 9.3.1); each is one attempt, and a target that read one before closing saw it twice",
                self.resent
            ));
        }
        if self.reconnects > 0 {
            notes.push(format!(
                "{} kept-alive connections were found closed by the server before a request was written on them (an answer without `Connection: close`, then the close) and were replaced by new ones: reconnects, not attempts, nothing sent twice",
                self.reconnects
            ));
        }
        let local = self.count(NetError::Local);
        if local > 0 {
            notes.push(format!(
                "the generator ran out of file descriptors (or local ports): {local} attempts failed on this machine, not at the target (LOCAL_RESOURCE_ERROR); they never left the generator: counted as not_sent, within attempts but not in amplification or achieved_rps; raise `ulimit -n` or lower target.connections"
            ));
        }
        if let Some(t) = &self.first_tls {
            notes.push(format!(
                "TLS: {} attempts failed the handshake; the first said: {t}",
                self.count(NetError::Tls)
            ));
        }
        if let Some(p) = &self.first_proxy {
            let n: u64 = NetError::ALL
                .iter()
                .filter(|k| k.is_proxy())
                .map(|k| self.count(*k))
                .sum();
            notes.push(format!(
                "proxy: {n} attempts failed at the HTTP proxy and never reached the target (PROXY_*); the first: {p}"
            ));
        }
        if let Some(i) = &self.first_invalid {
            notes.push(format!(
                "invalid answers: {} attempts failed on an answer that is not valid HTTP/1.1 (INVALID_RESPONSE: the target answered, badly); the first: {i}",
                self.count(NetError::InvalidResponse)
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_names_the_kinds_by_share() {
        let s = TransportStats::default();
        for _ in 0..3 {
            s.failed(NetError::ConnectRefused, String::new);
        }
        s.timed_out();
        let snap = s.snapshot();
        assert_eq!(
            snap.unreachable("http://127.0.0.1:9").as_deref(),
            Some(
                "target unreachable: 75% CONNECT_REFUSED, 25% TIMEOUT at http://127.0.0.1:9 (no attempt of 4 got an HTTP response)"
            )
        );
        s.answered();
        assert_eq!(s.snapshot().unreachable("x"), None);
        assert_eq!(Snapshot::default().unreachable("x"), None, "nothing sent");
    }

    #[test]
    fn the_first_tls_reason_is_kept_and_deltas_add_up() {
        let s = TransportStats::default();
        s.failed(NetError::Tls, || {
            "invalid peer certificate: UnknownIssuer".into()
        });
        s.failed(NetError::Tls, || "second".into());
        let a = s.snapshot();
        assert_eq!(a.count(NetError::Tls), 2);
        assert_eq!(
            a.first_tls.as_deref(),
            Some("invalid peer certificate: UnknownIssuer")
        );
        s.answered();
        let d = s.snapshot().since(&a);
        assert_eq!((d.answered, d.count(NetError::Tls)), (1, 0));
        let mut total = a.clone();
        total.add(&d);
        assert_eq!((total.answered, total.count(NetError::Tls)), (1, 2));
    }

    #[test]
    fn proxy_failures_keep_their_first_text_and_get_a_note() {
        let s = TransportStats::default();
        s.failed(NetError::ProxyTunnel, || {
            "the proxy answered 502 Bad Gateway to CONNECT".into()
        });
        s.failed(NetError::ProxyRefused, || "second".into());
        let snap = s.snapshot();
        assert_eq!(snap.first_tls, None);
        let line = snap.unreachable("https://127.0.0.1:1").unwrap();
        assert!(
            line.contains("50% PROXY_TUNNEL_FAILED")
                && line.ends_with(
                    "first proxy failure: the proxy answered 502 Bad Gateway to CONNECT"
                ),
            "{line}"
        );
        let notes = snap.notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("proxy: 2 attempts failed"),
            "{notes:?}"
        );
    }
}
