//! `[target]`: where requests go, with which credentials and headers.

use super::{Ctx, Overrides};
use crate::scenario::model::TargetSection;
use crate::scenario::plan::{ProxyPlan, Secret, TargetPlan};
use crate::scenario::{ScenarioError, bounds};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEFAULT_CONNECTIONS: usize = 256;

/// `target.keep_alive` when absent: below the idle timeouts servers
/// commonly use (nginx 75 s, Node.js 5 s, Apache httpd 5 s).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(4);

/// The longest `target.keep_alive`.
const MAX_KEEP_ALIVE: Duration = Duration::from_secs(600);

pub(super) fn build_target(
    cx: &Ctx,
    t: &TargetSection,
    ov: &Overrides,
) -> Result<TargetPlan, ScenarioError> {
    let url = ov.target.clone().or_else(|| t.url.clone());
    if let Some(u) = &url {
        check_url(cx, u)?;
    }
    let token = match &t.token_env {
        None => None,
        Some(var) => Some(token_from_env(cx, var)?),
    };
    let headers = target_headers(cx, &t.headers)?;
    if let Some(d) = t.timeout {
        if d.is_zero() {
            return Err(cx.err("target.timeout", "must be greater than 0"));
        }
        cx.within("target.timeout", bounds::duration(d))?;
    }
    let connections = t.connections.unwrap_or(DEFAULT_CONNECTIONS);
    if connections == 0 {
        return Err(cx.err("target.connections", "must be at least 1"));
    }
    cx.within(
        "target.connections",
        bounds::count(connections, bounds::MAX_CONNECTIONS),
    )?;
    let keep_alive = t.keep_alive.unwrap_or(DEFAULT_KEEP_ALIVE);
    if keep_alive > MAX_KEEP_ALIVE {
        return Err(cx.err(
            "target.keep_alive",
            "must be at most 10m (0: no connection is reused)",
        ));
    }
    let tls = tls_files(cx, t)?;
    let proxy = proxy_setting(cx, t.proxy.as_deref())?;
    let error_code = error_code(cx, t.error_code.as_deref())?;
    let idempotency_header = match &t.idempotency_header {
        None => http::HeaderName::from_static("idempotency-key"),
        Some(h) => {
            if let Some(msg) = super::step_parts::framing_header(h) {
                return Err(cx.err("target.idempotency_header", msg));
            }
            http::HeaderName::from_bytes(h.as_bytes())
                .map_err(|_| cx.err("target.idempotency_header", "not a valid header name"))?
        }
    };
    Ok(TargetPlan {
        url,
        token_env: t.token_env.clone(),
        token,
        headers,
        timeout: t.timeout,
        connections,
        keep_alive,
        ca_file: tls.ca_file,
        system_roots: t.system_roots,
        insecure: t.insecure || ov.insecure,
        ledger: if ov.ledger { Some(true) } else { t.ledger },
        client_cert: tls.client_cert,
        client_key: tls.client_key,
        proxy,
        error_code,
        idempotency_header,
    })
}

/// `target.url`: http:// or https://, a host, no credentials.
fn check_url(cx: &Ctx, u: &str) -> Result<(), ScenarioError> {
    let parsed: http::Uri = u
        .parse()
        .map_err(|e| cx.err("target.url", format!("`{u}` is not a URL: {e}")))?;
    match parsed.scheme_str() {
        Some("http") | Some("https") => {}
        _ => {
            return Err(cx.err(
                "target.url",
                format!("`{u}` must start with http:// or https://"),
            ));
        }
    }
    if parsed.authority().is_none() {
        return Err(cx.err("target.url", format!("`{u}` has no host")));
    }
    if parsed.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(cx.err(
            "target.url",
            "credentials in the URL would end up in reports; use token_env",
        ));
    }
    Ok(())
}

/// The token in environment variable `var` (`target.token_env`): set, not
/// empty, usable in an Authorization header.
fn token_from_env(cx: &Ctx, var: &str) -> Result<Secret, ScenarioError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => {
            if !crate::scenario::plan::usable_token(&v) {
                return Err(cx.err(
                    "target.token_env",
                    format!(
                        "the token in `{var}` cannot go in an Authorization header (a newline or control character?)"
                    ),
                ));
            }
            Ok(Secret::new(v))
        }
        _ => Err(cx.err(
            "target.token_env",
            format!("environment variable `{var}` is not set or empty"),
        )),
    }
}

/// `target.headers`: valid names and values, no framing header, no
/// Authorization (tokens never go in scenario files).
fn target_headers(
    cx: &Ctx,
    given: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ScenarioError> {
    let mut headers = Vec::new();
    for (k, v) in given {
        let key = format!("target.headers.{k}");
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(cx.err(&key, "not a valid header name"));
        }
        if let Some(msg) = super::step_parts::framing_header(k) {
            return Err(cx.err(&key, msg));
        }
        if http::HeaderValue::from_str(v).is_err() {
            return Err(cx.err(&key, "not a valid header value"));
        }
        if k.eq_ignore_ascii_case("authorization") {
            return Err(cx.err(
                &key,
                "tokens never go in scenario files; name an environment variable in target.token_env",
            ));
        }
        headers.push((k.clone(), v.clone()));
    }
    Ok(headers)
}

/// The TLS files a target names, relative to the scenario file.
struct TlsFiles {
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

/// `target.ca_file`, `client_cert` and `client_key`: the certificate and
/// its key both or neither, each a readable file within the size bound.
fn tls_files(cx: &Ctx, t: &TargetSection) -> Result<TlsFiles, ScenarioError> {
    let near = |f: &String| cx.path.parent().unwrap_or(Path::new(".")).join(f);
    let ca_file = t.ca_file.as_ref().map(near);
    let client_cert = t.client_cert.as_ref().map(near);
    let client_key = t.client_key.as_ref().map(near);
    match (&client_cert, &client_key) {
        (Some(_), None) => {
            return Err(cx.err(
                "target.client_cert",
                "needs client_key (its private key) too",
            ));
        }
        (None, Some(_)) => {
            return Err(cx.err(
                "target.client_key",
                "needs client_cert (the certificate) too",
            ));
        }
        _ => {}
    }
    for (key, f) in [
        ("target.client_cert", &client_cert),
        ("target.client_key", &client_key),
    ] {
        if let Some(f) = f
            && !std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.len() <= bounds::MAX_FILE_BYTES)
        {
            return Err(cx.err(key, format!("{} is not a readable file", f.display())));
        }
    }
    if let Some(f) = &ca_file {
        match std::fs::metadata(f) {
            Ok(m) if m.is_file() => cx.within(
                "target.ca_file",
                bounds::size(m.len(), bounds::MAX_FILE_BYTES)
                    .map_err(|e| format!("{}: {e}", f.display())),
            )?,
            _ => {
                return Err(cx.err(
                    "target.ca_file",
                    format!("{} is not a readable file", f.display()),
                ));
            }
        }
    }
    Ok(TlsFiles {
        ca_file,
        client_cert,
        client_key,
    })
}

/// `target.error_code`: the JSON pointers an error's code is read from.
fn error_code(cx: &Ctx, given: Option<&[String]>) -> Result<Vec<String>, ScenarioError> {
    match given {
        None => Ok(vec!["/error/code".to_string(), "/code".to_string()]),
        Some([]) => Err(cx.err("target.error_code", "name at least one JSON pointer")),
        Some(list) => {
            if let Some(i) = list.iter().position(|p| !p.starts_with('/')) {
                return Err(cx.err(
                    &format!("target.error_code[{i}]"),
                    "a JSON pointer starts with `/`",
                ));
            }
            Ok(list.to_vec())
        }
    }
}

/// `target.proxy`: `"none"`, or an http:// proxy URL without credentials
/// (those go in `HTTP_PROXY`/`HTTPS_PROXY`, never in a scenario file).
fn proxy_setting(cx: &Ctx, raw: Option<&str>) -> Result<ProxyPlan, ScenarioError> {
    let Some(raw) = raw else {
        return Ok(ProxyPlan::Env);
    };
    if raw.eq_ignore_ascii_case("none") {
        return Ok(ProxyPlan::Off);
    }
    let bad = |why: &str| cx.err("target.proxy", why.to_string());
    let uri: http::Uri = raw
        .parse()
        .map_err(|_| bad("must be an http:// URL (http://host:port) or \"none\""))?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(bad(
            "credentials in the proxy URL would end up in reports; set HTTP_PROXY/HTTPS_PROXY in the environment (with user:password) and leave target.proxy unset",
        ));
    }
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(bad(
            "must be an http:// URL (http://host:port) or \"none\"; only http:// proxies are supported",
        ));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad("a proxy URL has no path: http://host:port"));
    }
    Ok(ProxyPlan::Url(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn target(body: &str) -> String {
        format!("[target]\n{body}\n{OK_LOAD}\n[journey]\nevent = \"E1\"\nzones = [\"A\"]\n")
    }

    #[test]
    fn defaults_to_the_embedded_simulator() {
        let t = plan(OK_LOAD).target;
        assert_eq!(t.url, None);
        assert_eq!(t.connections, DEFAULT_CONNECTIONS);
        assert_eq!(
            (t.timeout, t.token.is_none(), t.insecure),
            (None, true, false)
        );
        assert!(t.headers.is_empty());
    }

    #[test]
    fn url_must_be_http_with_a_host_and_no_credentials() {
        for (url, want) in [
            ("ftp://127.0.0.1/", "http://"),
            ("http://u:p@127.0.0.1/", "credentials"),
            ("/relative", "http://"),
        ] {
            let (line, col, key, msg) = invalid(&target(&format!("url = \"{url}\"")));
            assert_eq!((line, col, key.as_str()), (2, 1, "target.url"), "{url}");
            assert!(msg.contains(want), "{url}: {msg}");
        }
    }

    #[test]
    fn command_line_target_and_insecure_override_the_file() {
        let ov = Overrides {
            target: Some("https://127.0.0.1:8443".into()),
            insecure: true,
            ..Overrides::default()
        };
        let p = plan_with(&target("url = \"http://127.0.0.1:1\""), &ov).unwrap();
        assert_eq!(p.target.url.as_deref(), Some("https://127.0.0.1:8443"));
        assert!(p.target.insecure);
    }

    #[test]
    fn unset_token_variable_names_it() {
        let (line, _, key, msg) = invalid(&target(
            "url = \"http://127.0.0.1:9\"\ntoken_env = \"STAMPEDE_UNIT_SURELY_UNSET\"",
        ));
        assert_eq!((line, key.as_str()), (3, "target.token_env"));
        assert!(msg.contains("STAMPEDE_UNIT_SURELY_UNSET"), "{msg}");
    }

    #[test]
    fn headers_are_checked_and_authorization_refused() {
        let (line, _, key, msg) =
            invalid(&target("[target.headers]\nAuthorization = \"Bearer x\""));
        assert_eq!((line, key.as_str()), (3, "target.headers.Authorization"));
        assert!(msg.contains("token_env"), "{msg}");
        let (_, _, key, msg) = invalid(&target("[target.headers]\n\"bad name\" = \"x\""));
        assert_eq!(key, "target.headers.bad name");
        assert!(msg.contains("header name"), "{msg}");
        let p = plan(&target("[target.headers]\nX-Run = \"ci\""));
        assert_eq!(
            p.target.headers,
            vec![("X-Run".to_string(), "ci".to_string())]
        );
    }

    #[test]
    fn zero_timeout_and_connections_are_rejected() {
        let (line, _, key, _) = invalid(&target("timeout = \"0s\""));
        assert_eq!((line, key.as_str()), (2, "target.timeout"));
        let (line, _, key, _) = invalid(&target("connections = 0"));
        assert_eq!((line, key.as_str()), (2, "target.connections"));
    }

    #[test]
    fn timeout_and_connections_are_bounded() {
        let (line, col, key, msg) = invalid(&target("timeout = \"31days\""));
        assert_eq!((line, col, key.as_str()), (2, 1, "target.timeout"));
        assert!(msg.contains("at most 30days"), "{msg}");
        let (line, _, key, msg) = invalid(&target("connections = 2305843009213693952"));
        assert_eq!((line, key.as_str()), (2, "target.connections"));
        assert!(msg.contains("at most 100000"), "{msg}");
        let t = plan(&target("connections = 100000\ntimeout = \"30days\"")).target;
        assert_eq!(t.connections, 100_000);
    }

    #[test]
    fn keep_alive_defaults_to_4s_and_is_bounded() {
        assert_eq!(plan(&target("")).target.keep_alive, DEFAULT_KEEP_ALIVE);
        let t = plan(&target("keep_alive = \"0s\"")).target;
        assert_eq!(t.keep_alive, Duration::ZERO);
        let t = plan(&target("keep_alive = \"10m\"")).target;
        assert_eq!(t.keep_alive, Duration::from_secs(600));
        let (line, col, key, msg) = invalid(&target("keep_alive = \"11m\""));
        assert_eq!((line, col, key.as_str()), (2, 1, "target.keep_alive"));
        assert!(msg.contains("at most 10m"), "{msg}");
    }

    #[test]
    fn proxy_is_none_or_an_http_url_without_credentials() {
        assert_eq!(plan(&target("")).target.proxy, ProxyPlan::Env);
        assert_eq!(
            plan(&target("proxy = \"none\"")).target.proxy,
            ProxyPlan::Off
        );
        assert_eq!(
            plan(&target("proxy = \"http://127.0.0.1:3128\""))
                .target
                .proxy,
            ProxyPlan::Url("http://127.0.0.1:3128".into())
        );
        for (raw, want) in [
            ("http://u:pw@127.0.0.1:3128", "HTTP_PROXY"),
            ("https://127.0.0.1:3128", "only http://"),
            ("socks5://127.0.0.1:1080", "only http://"),
            ("http://127.0.0.1:3128/x", "no path"),
            ("not a url", "http://"),
        ] {
            let (line, _, key, msg) = invalid(&target(&format!("proxy = \"{raw}\"")));
            assert_eq!((line, key.as_str()), (2, "target.proxy"), "{raw}");
            assert!(msg.contains(want), "{raw}: {msg}");
            assert!(!msg.contains("pw@"), "{msg}");
        }
    }

    #[test]
    fn ca_file_is_relative_to_the_scenario_and_must_exist() {
        let (_, _, key, msg) = invalid(&target("ca_file = \"nope.pem\""));
        assert_eq!(key, "target.ca_file");
        assert!(msg.contains("dir/nope.pem"), "{msg}");
        // A device is not a bundle (and must not be read).
        let src = target("ca_file = \"/dev/zero\"");
        let (_, _, key, msg) = invalid(&src);
        assert_eq!(key, "target.ca_file");
        assert!(msg.contains("not a readable file"), "{msg}");
    }
}
