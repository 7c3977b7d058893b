//! The run's target and how it is reached: the scenario's URL or the
//! embedded simulator (on TCP, or in memory on virtual time), the default
//! headers, the proxy, and a fresh client for each round.

use super::RunError;
use crate::client::{ClientError, HttpClient, Proxy};
use crate::scenario::Plan;
use crate::sim::{MemorySim, SimServer};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;

/// The base URL of the target in memory: a reserved name that resolves
/// nowhere (its Host header and nothing else; no socket is opened).
pub const IN_MEMORY_BASE: &str = "http://embedded-simulator.invalid";

/// Where the rounds send their requests, set up once for the run.
pub(super) struct Target {
    /// The embedded simulator, when the scenario names no URL.
    pub sim: Option<Embedded>,
    pub base: String,
    /// The scenario's headers and the User-Agent, on every request.
    pub headers: HeaderMap,
    pub proxy: Option<Proxy>,
}

impl Target {
    /// Start the embedded simulator (if any), raise the fd limit (a note
    /// when it is too low) and resolve the proxy (announced in a note).
    pub async fn open(plan: &Plan, notes: &mut Vec<String>) -> Result<Target, RunError> {
        let (sim, base) = start_target(plan).await?;
        let headers = default_headers(plan);
        // Room for every socket: the embedded simulator holds the other ends.
        // In memory there are none.
        let sockets = plan.target.connections as u64 * if sim.is_some() { 2 } else { 1 };
        if !plan.clock.is_virtual()
            && let Some(w) =
                crate::client::fdlimit::warning(crate::client::fdlimit::raise(), sockets)
        {
            eprintln!("WARNING: {w}");
            notes.push(w);
        }
        // The embedded simulator lives in this process: never through a proxy.
        let proxy = match &sim {
            Some(_) => None,
            None => resolve_proxy(plan, &base)?,
        };
        if let Some(p) = &proxy {
            let line = p.announce(&base);
            eprintln!("{line}");
            notes.push(line);
        }
        Ok(Target {
            sim,
            base,
            headers,
            proxy,
        })
    }

    /// A round's client: over TCP, or over pipes to the simulator in memory.
    pub fn client(&self, plan: &Plan) -> Result<HttpClient, ClientError> {
        let (connections, rps) = (plan.target.connections, Some(plan.safety.max_rps));
        let client = match &self.sim {
            Some(Embedded::Memory(s)) => HttpClient::in_memory(
                &self.base,
                connections,
                self.headers.clone(),
                rps,
                std::sync::Arc::new(SimPipe(s.dialer())),
            ),
            _ => HttpClient::with_cap(
                &self.base,
                connections,
                self.headers.clone(),
                &tls_options(&plan.target),
                rps,
                self.proxy.clone(),
            ),
        };
        Ok(client?.with_keep_alive(plan.target.keep_alive))
    }

    /// Stop the embedded simulator, if there is one.
    pub async fn shutdown(self) {
        if let Some(s) = self.sim {
            s.shutdown().await;
        }
    }
}

/// The scenario's target headers (a name or value that is not valid HTTP
/// left out) and stampede's User-Agent unless the scenario sets one.
fn default_headers(plan: &Plan) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (k, v) in &plan.target.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
    headers
        .entry(http::header::USER_AGENT)
        .or_insert(HeaderValue::from_static(concat!(
            "stampede/",
            env!("CARGO_PKG_VERSION")
        )));
    headers
}

/// The HTTP proxy a remote target at `base` goes through, if any.
fn resolve_proxy(plan: &Plan, base: &str) -> Result<Option<Proxy>, ClientError> {
    let target: http::Uri = base
        .parse()
        .map_err(|_| ClientError::Url(base.to_string()))?;
    crate::client::proxy::resolve(&proxy_setting(&plan.target.proxy), &target)
        .map_err(ClientError::Proxy)
}

/// The embedded simulator: on TCP (real time) or in memory (virtual time).
pub(super) enum Embedded {
    Tcp(SimServer),
    Memory(MemorySim),
}

impl Embedded {
    pub fn reset(&self) {
        match self {
            Embedded::Tcp(s) => s.reset(),
            Embedded::Memory(s) => s.reset(),
        }
    }

    pub async fn wait_until_idle(&self, max: std::time::Duration) {
        match self {
            Embedded::Tcp(s) => s.wait_until_idle(max).await,
            Embedded::Memory(s) => s.wait_until_idle(max).await,
        }
    }

    pub fn ledger(&self) -> crate::sim::Ledger {
        match self {
            Embedded::Tcp(s) => s.ledger(),
            Embedded::Memory(s) => s.ledger(),
        }
    }

    async fn shutdown(self) {
        match self {
            Embedded::Tcp(s) => s.shutdown().await,
            Embedded::Memory(s) => s.shutdown().await,
        }
    }
}

/// The target: the scenario's URL, or the embedded simulator started
/// here (on 127.0.0.1, or in memory on virtual time), and its base URL.
async fn start_target(plan: &Plan) -> Result<(Option<Embedded>, String), RunError> {
    if plan.clock.is_virtual() {
        // `app` refuses these with the file and line; a library caller too.
        if let Some(u) = &plan.target.url {
            return Err(RunError::VirtualTarget(u.clone()));
        }
        if plan.truth.is_some() {
            return Err(RunError::VirtualTarget("a target's [truth]".into()));
        }
        let s = MemorySim::start(plan.sim.clone())?;
        return Ok((Some(Embedded::Memory(s)), IN_MEMORY_BASE.to_string()));
    }
    if let Some(u) = &plan.target.url {
        return Ok((None, u.clone()));
    }
    let s = SimServer::start(plan.sim.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base = format!("http://{}", s.addr());
    Ok((Some(Embedded::Tcp(s)), base))
}

/// The client's TLS configuration from the plan's target.
pub(super) fn tls_options(t: &crate::scenario::plan::TargetPlan) -> crate::client::TlsOptions {
    crate::client::TlsOptions {
        ca_file: t.ca_file.clone(),
        system_roots: t.system_roots,
        insecure: t.insecure,
        client_cert: t.client_cert.clone(),
        client_key: t.client_key.clone(),
    }
}

/// The client's proxy setting from the plan's.
fn proxy_setting(p: &crate::scenario::plan::ProxyPlan) -> crate::client::ProxySetting {
    use crate::client::ProxySetting;
    use crate::scenario::plan::ProxyPlan;
    match p {
        ProxyPlan::Env => ProxySetting::Env,
        ProxyPlan::Off => ProxySetting::Off,
        ProxyPlan::Url(u) => ProxySetting::Url(u.clone()),
    }
}

/// The in-memory simulator's connections as the client's transport.
struct SimPipe(crate::sim::MemoryDialer);

impl crate::client::transport::Dial for SimPipe {
    fn dial(&self) -> std::io::Result<tokio::io::DuplexStream> {
        self.0.dial()
    }
}
