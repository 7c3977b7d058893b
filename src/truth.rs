//! `[truth]`: the target's own counts, read before and after each round
//! from an HTTP endpoint (GET, JSON) or a command (JSON or `key value`
//! lines), so ground truth (bookings made, seats left, duplicates) works
//! against any target whose team can say what its store holds.
//!
//! A reading is a flat set of numbers picked by JSON pointer; a round's
//! [`Truth`] holds the counters' differences and the levels as read after.
//! Nothing here panics on what a target or a command prints: a reading that
//! cannot be taken or understood is an error the run turns into a note (and
//! gates that needed it fail as unmeasured).

use crate::client::{HttpClient, TlsOptions};
use crate::model::Truth;
use crate::scenario::plan::{TruthKey, TruthPlan, TruthSource};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::io::AsyncReadExt;

/// Most bytes a reading may print or answer.
const MAX_OUTPUT: u64 = 1 << 20;

/// One reading: every key of the plan, by key.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading(BTreeMap<String, f64>);

/// Takes a reading now.
pub async fn read(plan: &TruthPlan, tls: &TlsOptions) -> Result<Reading, String> {
    let raw = match &plan.source {
        TruthSource::Http { url, headers } => fetch(url, headers, plan, tls).await?,
        TruthSource::Command { argv } => run(argv, plan).await?,
    };
    let doc = parse_output(&raw)?;
    pick(&doc, plan.counts.iter().chain(&plan.levels)).map(Reading)
}

/// The round's truth: counters after minus before, levels as read after.
pub fn round(plan: &TruthPlan, before: &Reading, after: &Reading) -> Truth {
    let get = |r: &Reading, k: &TruthKey| r.0.get(&k.key).copied().unwrap_or(f64::NAN);
    Truth {
        source: plan.source.label(),
        counts: (plan.counts.iter())
            .map(|k| (k.key.clone(), get(after, k) - get(before, k)))
            .collect(),
        levels: (plan.levels.iter())
            .map(|k| (k.key.clone(), get(after, k)))
            .collect(),
    }
}

/// The reading before round `r`, or a note saying why there is none.
pub async fn before_round(
    plan: Option<&TruthPlan>,
    tls: &TlsOptions,
    r: usize,
    notes: &mut Vec<String>,
) -> Option<Reading> {
    let plan = plan?;
    read(plan, tls)
        .await
        .map_err(|e| {
            notes.push(format!(
                "round {r}: the target's counts ([truth], {}) could not be read before the round: {e}; the round has no truth",
                plan.source.label()
            ))
        })
        .ok()
}

/// The round's truth once it ended: `settle` waited (cut short by a stop),
/// the second reading taken; a note when it fails or a counter went down.
pub async fn after_round(
    plan: Option<&TruthPlan>,
    before: Option<&Reading>,
    tls: &TlsOptions,
    stop: &tokio_util::sync::CancellationToken,
    r: usize,
    notes: &mut Vec<String>,
) -> Option<Truth> {
    let (plan, before) = (plan?, before?);
    tokio::select! {
        _ = tokio::time::sleep(plan.settle) => {}
        _ = stop.cancelled() => {}
    }
    let after = match read(plan, tls).await {
        Ok(a) => a,
        Err(e) => {
            notes.push(format!(
                "round {r}: the target's counts ([truth], {}) could not be read after the round: {e}; the round has no truth",
                plan.source.label()
            ));
            return None;
        }
    };
    let t = round(plan, before, &after);
    let down = went_down(&t);
    if !down.is_empty() {
        notes.push(format!(
            "round {r}: the target's counters {} went down during the round (a reset, or another writer?)",
            down.join(", ")
        ));
    }
    Some(t)
}

/// Counters that went down during the round (a store reset or a second
/// writer), by key.
pub fn went_down(t: &Truth) -> Vec<&str> {
    (t.counts.iter())
        .filter(|(_, v)| **v < 0.0)
        .map(|(k, _)| k.as_str())
        .collect()
}

async fn fetch(
    url: &str,
    headers: &[(String, crate::scenario::plan::Secret)],
    plan: &TruthPlan,
    tls: &TlsOptions,
) -> Result<Vec<u8>, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("`{url}`: {e}"))?;
    let base = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |a| a.as_str())
    );
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let client = HttpClient::with_cap(&base, 1, HeaderMap::new(), tls, None, None)
        .map_err(|e| e.to_string())?;
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.expose()),
        ) else {
            return Err(format!("header `{name}` cannot be sent"));
        };
        map.insert(n, v);
    }
    let r = client
        .send(&Method::GET, path, map, None, plan.timeout)
        .await
        .map_err(|f| match f {
            crate::client::Failure::Timeout => {
                format!(
                    "no answer within {}",
                    humantime::format_duration(plan.timeout)
                )
            }
            crate::client::Failure::Net(e) => format!("no answer ({e:?})"),
        })?;
    if !(200..300).contains(&r.status) {
        return Err(format!("answered HTTP {}", r.status));
    }
    if r.body.len() as u64 > MAX_OUTPUT {
        return Err(format!("answered more than {MAX_OUTPUT} bytes"));
    }
    Ok(r.body.to_vec())
}

async fn run(argv: &[String], plan: &TruthPlan) -> Result<Vec<u8>, String> {
    let program = argv.first().map_or("", String::as_str);
    let mut child = tokio::process::Command::new(program)
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("`{program}` could not start: {e}"))?;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("`{program}`: no output pipes"));
    };
    let (mut stdout, mut stderr) = (stdout.take(MAX_OUTPUT + 1), stderr.take(4096));
    let work = async {
        let (o, e) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        o.and(e)?;
        child.wait().await
    };
    let status = match tokio::time::timeout(plan.timeout, work).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("`{program}`: {e}")),
        Err(_) => {
            return Err(format!(
                "`{program}` did not finish within {}",
                humantime::format_duration(plan.timeout)
            ));
        }
    };
    if out.len() as u64 > MAX_OUTPUT {
        return Err(format!("`{program}` printed more than {MAX_OUTPUT} bytes"));
    }
    if !status.success() {
        let first = String::from_utf8_lossy(&err);
        let first = first.lines().next().unwrap_or("").chars().take(200);
        return Err(format!(
            "`{program}` exited with {status}: {}",
            first.collect::<String>()
        ));
    }
    Ok(out)
}

/// JSON (an object, or a JSON string holding one), or `key value` lines
/// (`key value`, `key=value` or `key: value`), as one JSON document.
pub fn parse_output(raw: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "the reading is not UTF-8".to_string())?;
    let t = text.trim();
    if t.is_empty() {
        return Err("the reading was empty".into());
    }
    if t.starts_with(['{', '[', '"']) {
        let v: Value =
            serde_json::from_str(t).map_err(|e| format!("the reading is not JSON: {e}"))?;
        return match v {
            Value::String(inner) => parse_output(inner.as_bytes()),
            v => Ok(v),
        };
    }
    let mut map = serde_json::Map::new();
    for (i, line) in t.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let split = line
            .split_once(['=', ':'])
            .or_else(|| line.split_once(char::is_whitespace));
        let Some((k, v)) = split else {
            return Err(format!("line {}: `key value` expected", i + 1));
        };
        map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
    }
    Ok(Value::Object(map))
}

/// Each key's number at its pointer: a JSON number or a string holding one
/// (Redis answers strings).
fn pick<'a>(
    doc: &Value,
    keys: impl Iterator<Item = &'a TruthKey>,
) -> Result<BTreeMap<String, f64>, String> {
    let mut out = BTreeMap::new();
    for k in keys {
        let v = doc
            .pointer(&k.pointer)
            .ok_or_else(|| format!("`{}` ({}) is not in the reading", k.pointer, k.key))?;
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("`{}` ({}) is not a number", k.pointer, k.key))?;
        out.insert(k.key.clone(), n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, p: &str) -> TruthKey {
        TruthKey {
            key: k.into(),
            pointer: p.into(),
        }
    }

    #[test]
    fn outputs_json_json_strings_and_lines() {
        let cases: [(&str, Value); 4] = [
            ("{\"a\": {\"b\": 3}}", serde_json::json!({"a": {"b": 3}})),
            ("\"{\\\"x\\\": 1}\"\n", serde_json::json!({"x": 1})),
            (
                "bookings 12\nseats_left=3\n# comment\nheld: 4\n",
                serde_json::json!({"bookings": "12", "seats_left": "3", "held": "4"}),
            ),
            ("bookings\t7", serde_json::json!({"bookings": "7"})),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_output(raw.as_bytes()).unwrap(), want, "{raw}");
        }
        for bad in ["", "  \n", "{not json", "lonely", "\u{0}\u{ff}"] {
            assert!(parse_output(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse_output(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn picking_numbers_by_pointer() {
        let doc =
            serde_json::json!({"data": {"bookings": 12, "left": "3.5", "name": "x", "nan": "NaN"}});
        let got = pick(
            &doc,
            [key("b", "/data/bookings"), key("l", "/data/left")].iter(),
        )
        .unwrap();
        assert_eq!(got, BTreeMap::from([("b".into(), 12.0), ("l".into(), 3.5)]));
        for (k, why) in [
            (key("n", "/data/name"), "not a number"),
            (key("n", "/data/nan"), "not a number"),
            (key("m", "/data/missing"), "not in the reading"),
        ] {
            let e = pick(&doc, [k].iter()).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn a_round_is_counters_after_minus_before_and_levels_after() {
        let plan = TruthPlan {
            source: TruthSource::Command {
                argv: vec!["/usr/bin/redis-cli".into(), "-a".into(), "pw".into()],
            },
            counts: vec![key("bookings_created", "/b"), key("duplicates", "/d")],
            levels: vec![key("seats_left", "/s")],
            timeout: std::time::Duration::from_secs(1),
            settle: std::time::Duration::ZERO,
        };
        let r = |b: f64, d: f64, s: f64| {
            Reading(BTreeMap::from([
                ("bookings_created".into(), b),
                ("duplicates".into(), d),
                ("seats_left".into(), s),
            ]))
        };
        let t = round(&plan, &r(10.0, 5.0, 90.0), &r(60.0, 3.0, 40.0));
        assert_eq!(t.source, "command redis-cli");
        assert_eq!(t.get("bookings_created"), Some(50.0));
        assert_eq!(t.get("seats_left"), Some(40.0));
        assert_eq!(went_down(&t), vec!["duplicates"]);
    }
}
