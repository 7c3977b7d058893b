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

/// The journey's headers overlaid with step `i`'s own, each parsed as a
/// template and checked: a valid name, a value that can be a header value,
/// no literal credential.
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
