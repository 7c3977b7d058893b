//! HTTP proxies: which one a target's connections go through.
//!
//! The environment is read as curl reads it (`HTTP_PROXY`/`http_proxy` for
//! http:// targets, `HTTPS_PROXY`/`https_proxy` for https://, `ALL_PROXY`/
//! `all_proxy` for both, `NO_PROXY`/`no_proxy` to bypass); `target.proxy`
//! names one explicitly or turns proxies off (`"none"`). URLs and NO_PROXY
//! rules are parsed by hyper-util's [`Matcher`]; what it leaves out is
//! handled here: curl's `NO_PROXY=*` also bypasses IP addresses, an
//! unusable proxy URL is an error rather than a silent direct connection,
//! and only http:// proxies are accepted.
//!
//! How the pool uses one: an http:// target's requests go to the proxy in
//! absolute form (`GET http://host:port/path`), with `Proxy-Authorization`
//! when the proxy URL has credentials; an https:// target gets a `CONNECT
//! host:port` tunnel per connection and TLS inside it.

use http::HeaderValue;
use hyper_util::client::proxy::matcher::Matcher;
use serde::Serialize;
use std::fmt;

/// What the scenario says about proxies (`target.proxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxySetting {
    /// From the environment, as curl reads it (the default).
    #[default]
    Env,
    /// `proxy = "none"`: always connect directly.
    Off,
    /// `proxy = "http://host:port"` (no credentials: scenario files hold none).
    Url(String),
}

/// The proxy a target's connections go through.
#[derive(Clone)]
pub struct Proxy {
    pub(super) host: String,
    pub(super) port: u16,
    /// `Proxy-Authorization: Basic ...` from the URL's userinfo; a secret
    /// (marked sensitive, never printed).
    pub(super) auth: Option<HeaderValue>,
    /// Where it came from: `target.proxy` or the environment variable's name.
    from: &'static str,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the credentials.
        f.debug_struct("Proxy")
            .field("url", &self.url())
            .field("from", &self.from)
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

impl Proxy {
    /// The proxy's URL without credentials.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    /// The line printed at run start (and kept in the report's notes).
    pub fn announce(&self, target: &str) -> String {
        format!(
            "proxy: connections to {target} go through {} (from {}){}",
            self.url(),
            self.from,
            if self.auth.is_some() {
                ", with Proxy-Authorization"
            } else {
                ""
            }
        )
    }
}

/// curl's default proxy port.
const DEFAULT_PORT: u16 = 1080;

/// The proxy for `target`, if any; an error names the variable or key and
/// shows the URL without its credentials.
pub fn resolve(setting: &ProxySetting, target: &http::Uri) -> Result<Option<Proxy>, String> {
    resolve_with(setting, target, |k| std::env::var(k).ok())
}

/// [`resolve`] with the environment injected (tests).
pub fn resolve_with(
    setting: &ProxySetting,
    target: &http::Uri,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, String> {
    let https = target.scheme_str() == Some("https");
    let first = |names: &[&'static str]| {
        names.iter().find_map(|n| {
            env(n)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*n, v.trim().to_string()))
        })
    };
    let (from, raw, no) = match setting {
        ProxySetting::Off => return Ok(None),
        ProxySetting::Url(u) => ("target.proxy", u.clone(), String::new()),
        ProxySetting::Env => {
            let names: &[&'static str] = if https {
                &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            } else {
                &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            };
            let Some((from, raw)) = first(names) else {
                return Ok(None);
            };
            let no = first(&["NO_PROXY", "no_proxy"]).map_or(String::new(), |(_, v)| v);
            (from, raw, no)
        }
    };
    // NO_PROXY first: a bypassed target never needs the proxy URL. curl: a
    // lone `*` bypasses every host, IP addresses included (the matcher
    // applies it to names only).
    let bypassed = no.split(',').any(|e| e.trim() == "*")
        || Matcher::builder()
            .all("http://127.0.0.1:1")
            .no(no.as_str())
            .build()
            .intercept(target)
            .is_none();
    if bypassed {
        return Ok(None);
    }
    let shown = without_credentials(&raw);
    let Some(hit) = Matcher::builder()
        .all(raw.as_str())
        .build()
        .intercept(target)
    else {
        return Err(format!("{from} = `{shown}` is not a usable proxy URL"));
    };
    let uri = hit.uri();
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "{from} = `{shown}`: only http:// proxies are supported (not {}://)",
            uri.scheme_str().unwrap_or("?")
        ));
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("{from} = `{shown}` has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(Some(Proxy {
        host,
        port: uri.port_u16().unwrap_or(DEFAULT_PORT),
        auth: hit.basic_auth().cloned(),
        from,
    }))
}

/// A proxy URL as it may be shown: its userinfo replaced by `***`.
pub fn without_credentials(raw: &str) -> String {
    let start = raw.find("://").map_or(0, |i| i + 3);
    let end = raw[start..].find('/').map_or(raw.len(), |i| start + i);
    match raw[start..end].rfind('@') {
        Some(at) => format!("{}***@{}", &raw[..start], &raw[start + at + 1..]),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn the_scheme_picks_the_variable_and_all_proxy_is_the_fallback() {
        let e = env(&[
            ("http_proxy", "http://127.0.0.1:3128"),
            ("HTTPS_PROXY", "http://127.0.0.1:3129"),
        ]);
        let p = resolve_with(&ProxySetting::Env, &uri("http://10.0.0.1/"), &e)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.url(), p.from),
            ("http://127.0.0.1:3128".into(), "http_proxy")
        );
        let p = resolve_with(&ProxySetting::Env, &uri("https://10.0.0.1/"), &e)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.url(), p.from),
            ("http://127.0.0.1:3129".into(), "HTTPS_PROXY")
        );
        let all = env(&[("ALL_PROXY", "127.0.0.1")]);
        let p = resolve_with(&ProxySetting::Env, &uri("https://x.test/"), all)
            .unwrap()
            .unwrap();
        assert_eq!(p.url(), "http://127.0.0.1:1080", "curl's default port");
        assert!(
            resolve_with(&ProxySetting::Env, &uri("http://x/"), env(&[]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn no_proxy_as_curl_reads_it() {
        let target = |no: &'static str, t: &str| {
            let vars: &'static [(&str, &str)] = Box::leak(Box::new([
                ("HTTP_PROXY", "http://127.0.0.1:3128"),
                ("NO_PROXY", no),
            ]));
            resolve_with(&ProxySetting::Env, &uri(t), env(vars))
                .unwrap()
                .is_some()
        };
        assert!(!target("*", "http://127.0.0.1:8080/"), "* covers IPs too");
        assert!(!target("*", "http://api.test/"));
        assert!(!target("example.com", "http://api.example.com/"));
        assert!(!target(".example.com", "http://example.com/"));
        assert!(target("example.com", "http://notexample.com/"));
        assert!(!target("10.0.0.0/8, 127.0.0.1", "http://127.0.0.1:9/"));
        assert!(!target("10.0.0.0/8", "http://10.1.2.3/"));
        assert!(target("10.0.0.0/8", "http://11.1.2.3/"));
        assert!(target("", "http://127.0.0.1/"));
    }

    #[test]
    fn explicit_setting_wins_and_none_turns_it_off() {
        let e = env(&[("HTTP_PROXY", "http://127.0.0.1:3128"), ("NO_PROXY", "*")]);
        let set = ProxySetting::Url("http://127.0.0.1:9999".into());
        let p = resolve_with(&set, &uri("http://127.0.0.1/"), &e)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.url(), p.from),
            ("http://127.0.0.1:9999".into(), "target.proxy")
        );
        assert!(
            resolve_with(&ProxySetting::Off, &uri("http://127.0.0.1/"), &e)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn credentials_become_a_sensitive_header_and_are_never_shown() {
        let e = env(&[("HTTP_PROXY", "http://al%40ice:s3cr3t@127.0.0.1:3128")]);
        let p = resolve_with(&ProxySetting::Env, &uri("http://10.0.0.1/"), e)
            .unwrap()
            .unwrap();
        let auth = p.auth.clone().unwrap();
        assert!(auth.is_sensitive());
        // base64("al@ice:s3cr3t")
        assert_eq!(auth, "Basic YWxAaWNlOnMzY3IzdA==");
        let shown = format!("{} {p:?}", p.announce("http://10.0.0.1"));
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("al%40ice"),
            "{shown}"
        );
        assert!(shown.contains("with Proxy-Authorization"), "{shown}");
    }

    #[test]
    fn unusable_proxies_are_errors_without_credentials() {
        for (raw, want) in [
            ("https://u:pw1@127.0.0.1:3128", "only http://"),
            ("socks5://127.0.0.1:1080", "only http://"),
            ("ftp://u:pw1@127.0.0.1", "not a usable proxy URL"),
        ] {
            let set = ProxySetting::Url(raw.into());
            let err = resolve_with(&set, &uri("http://10.0.0.1/"), env(&[])).unwrap_err();
            assert!(err.contains(want), "{raw}: {err}");
            assert!(!err.contains("pw1"), "{err}");
        }
        assert_eq!(
            without_credentials("http://u:p@h:1/x@y"),
            "http://***@h:1/x@y"
        );
        assert_eq!(without_credentials("h:1"), "h:1");
    }
}
