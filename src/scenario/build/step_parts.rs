//! Parts of a journey step that need their own checks: templated headers
//! (no literal credentials) and check values written in TOML.

use super::Ctx;
use crate::scenario::ScenarioError;
use crate::scenario::template::Template;
use std::collections::BTreeMap;

/// Header names that carry credentials: a literal value for one of these in
/// a scenario file is a secret committed to git, so only a template that
/// names a variable (`Bearer ${token}`) is accepted.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// Header names that frame the message or manage the connection: stampede
/// writes the body's length itself (HTTP/1.1) or leaves framing to HTTP/2,
/// sets `Host` from the target URL and keeps connections alive on its own
/// terms. One of these from a scenario would contradict what goes on the
/// wire (a `Content-Length` that is not the body's desynchronizes the
/// connection; HTTP/2 forbids connection-specific fields), so it is
/// refused.
const FRAMING_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
];

/// The complaint about header `name` when it is one stampede sets itself.
pub(super) fn framing_header(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    FRAMING_HEADERS.contains(&lower.as_str()).then(|| {
        format!(
            "`{name}` frames the request or manages the connection; stampede sets it itself (the body's length, Host from target.url, keep-alive), so it cannot come from a scenario"
        )
    })
}

/// The journey's headers overlaid with step `i`'s own, each parsed as a
/// template and checked: a valid name, not a framing header
/// ([`framing_header`]), a value that can be a header value, no literal
/// credential.
pub(super) fn step_headers(
    cx: &Ctx,
    i: usize,
    journey: Option<&BTreeMap<String, String>>,
    own: &BTreeMap<String, String>,
    vars: &[String],
) -> Result<Vec<(http::HeaderName, Template)>, ScenarioError> {
    let mut out: Vec<(http::HeaderName, Template)> = Vec::new();
    let sources = journey
        .into_iter()
        .flatten()
        .map(|(k, v)| (format!("journey.headers.{k}"), k, v))
        .chain(
            own.iter()
                .map(|(k, v)| (format!("journey.steps[{i}].headers.{k}"), k, v)),
        );
    for (key, k, v) in sources {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| cx.err(&key, "not a valid header name"))?;
        if let Some(msg) = framing_header(k) {
            return Err(cx.err(&key, msg));
        }
        let t = Template::parse(v, vars).map_err(|e| cx.err(&key, e.to_string()))?;
        if http::HeaderValue::from_str(&t.sample()).is_err() {
            return Err(cx.err(&key, "not a valid header value"));
        }
        if t.is_literal() && CREDENTIAL_HEADERS.contains(&name.as_str()) {
            return Err(cx.err(
                &key,
                "credentials never go in scenario files as literals; use a variable (`Bearer ${token}` from the users CSV or a capture) or target.token_env",
            ));
        }
        out.retain(|(n, _)| n != name);
        out.push((name, t));
    }
    Ok(out)
}

/// A TOML value as JSON (dates have no JSON form).
pub(super) fn toml_to_json(v: &toml::Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => J::from(*f),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect::<Option<_>>()?),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| Some((k.clone(), toml_to_json(v)?)))
                .collect::<Option<_>>()?,
        ),
        toml::Value::Datetime(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    /// A scenario with `section` (a TOML fragment) and one step.
    fn with(section: &str, step_extra: &str) -> String {
        format!(
            "{section}\n{OK_LOAD}\n[journey]\n[[journey.steps]]\nname = \"s\"\npath = \"/x\"\n{step_extra}\n"
        )
    }

    #[test]
    fn framing_headers_from_a_scenario_are_refused_where_they_are_written() {
        // (scenario, line, column, key), for every framing header name in
        // every place a scenario gives headers.
        let names = [
            "Content-Length",
            "transfer-encoding",
            "Connection",
            "Host",
            "Upgrade",
            "TE",
            "Trailer",
            "Keep-Alive",
        ];
        for name in names {
            let cases = [
                (
                    with(&format!("[target.headers]\n{name} = \"5\""), ""),
                    2,
                    1,
                    format!("target.headers.{name}"),
                ),
                (
                    format!(
                        "{OK_LOAD}\n[journey]\nheaders = {{ {name} = \"5\" }}\n[[journey.steps]]\nname = \"s\"\npath = \"/x\"\n"
                    ),
                    7,
                    1,
                    format!("journey.headers.{name}"),
                ),
                (
                    with("", &format!("headers = {{ {name} = \"5\" }}")),
                    11,
                    1,
                    format!("journey.steps[0].headers.{name}"),
                ),
            ];
            for (src, line, col, key) in cases {
                let (l, c, k, msg) = invalid(&src);
                assert_eq!((l, c, k.as_str()), (line, col, key.as_str()), "{src}");
                assert!(
                    msg.contains(name) && msg.contains("stampede sets it itself"),
                    "{msg}"
                );
            }
        }
        // The header an idempotency key goes in is a header name too.
        let (l, _, k, msg) = invalid(&with(
            "[target]\nidempotency_header = \"Content-Length\"",
            "",
        ));
        assert_eq!((l, k.as_str()), (2, "target.idempotency_header"));
        assert!(msg.contains("Content-Length"), "{msg}");
        // Other headers still pass, in every place.
        let p = plan(&with(
            "[target.headers]\nX-Run = \"ci\"",
            "headers = { \"X-Trace\" = \"1\", Accept = \"application/json\" }",
        ));
        assert_eq!(p.target.headers.len(), 1);
    }
}
