//! `[truth]`: where the target's own counts come from, validated.

use super::Ctx;
use crate::scenario::ScenarioError;
use crate::scenario::model::TruthSection;
use crate::scenario::plan::{Secret, TruthKey, TruthPlan, TruthSource};
use std::collections::BTreeMap;
use std::time::Duration;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_SETTLE: Duration = Duration::from_secs(600);
/// Keys per table: a reading is a handful of numbers, not a dump.
const MAX_KEYS: usize = 64;

pub(super) fn build_truth(
    cx: &Ctx,
    t: Option<&TruthSection>,
) -> Result<Option<TruthPlan>, ScenarioError> {
    let Some(t) = t else { return Ok(None) };
    let source = match (&t.url, &t.command) {
        (Some(url), None) => TruthSource::Http {
            url: check_url(cx, url)?,
            headers: headers(cx, &t.headers_env)?,
        },
        (None, Some(argv)) => {
            if argv.first().is_none_or(|p| p.trim().is_empty()) {
                return Err(cx.err(
                    "truth.command",
                    "needs a program, e.g. [\"redis-cli\", \"-p\", \"6379\", \"HGETALL\", \"stats\"]",
                ));
            }
            if !t.headers_env.is_empty() {
                return Err(cx.err("truth.headers_env", "headers go with truth.url only"));
            }
            TruthSource::Command { argv: argv.clone() }
        }
        (Some(_), Some(_)) => {
            return Err(cx.err("truth.command", "give truth.url or truth.command, not both"));
        }
        (None, None) => {
            return Err(cx.err(
                "truth",
                "needs a source: url = \"https://…\" (GET, JSON) or command = [\"program\", \"arg\", …]",
            ));
        }
    };
    let counts = keys(cx, "counts", &t.counts)?;
    let levels = keys(cx, "levels", &t.levels)?;
    if counts.is_empty() && levels.is_empty() {
        return Err(cx.err(
            "truth",
            "names no numbers: add [truth.counts] (after minus before, e.g. bookings_created = \"/bookings\") or [truth.levels] (as read after, e.g. seats_left = \"/seats_left\")",
        ));
    }
    if let Some(k) = counts
        .iter()
        .find(|k| levels.iter().any(|l| l.key == k.key))
    {
        return Err(cx.err(
            &format!("truth.levels.{}", k.key),
            format!(
                "`{}` is already in truth.counts; a key is a count or a level",
                k.key
            ),
        ));
    }
    let timeout = t.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(cx.err("truth.timeout", "must be between 1ms and 5m"));
    }
    let settle = t.settle.unwrap_or_default();
    if settle > MAX_SETTLE {
        return Err(cx.err("truth.settle", "must be at most 10m"));
    }
    Ok(Some(TruthPlan {
        source,
        counts,
        levels,
        timeout,
        settle,
    }))
}

fn check_url(cx: &Ctx, url: &str) -> Result<String, ScenarioError> {
    let parsed: http::Uri = url
        .parse()
        .map_err(|e| cx.err("truth.url", format!("`{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
        return Err(cx.err(
            "truth.url",
            format!("`{url}` must be an absolute http:// or https:// URL"),
        ));
    }
    if parsed.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(cx.err(
            "truth.url",
            "credentials in the URL would end up in reports; put them in truth.headers_env",
        ));
    }
    Ok(url.to_string())
}

fn headers(
    cx: &Ctx,
    env: &BTreeMap<String, String>,
) -> Result<Vec<(String, Secret)>, ScenarioError> {
    let mut out = Vec::new();
    for (name, var) in env {
        let key = format!("truth.headers_env.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(cx.err(&key, format!("`{name}` is not a header name")));
        }
        let value = match std::env::var(var) {
            Ok(v) if !v.is_empty() => v,
            _ => {
                return Err(cx.err(
                    &key,
                    format!("environment variable `{var}` is not set or empty"),
                ));
            }
        };
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(cx.err(
                &key,
                format!(
                    "the value in `{var}` cannot go in a header (a newline or control character?)"
                ),
            ));
        }
        out.push((name.clone(), Secret::new(value)));
    }
    Ok(out)
}

fn keys(
    cx: &Ctx,
    table: &str,
    map: &BTreeMap<String, String>,
) -> Result<Vec<TruthKey>, ScenarioError> {
    if map.len() > MAX_KEYS {
        return Err(cx.err(
            &format!("truth.{table}"),
            format!("names {} keys; at most {MAX_KEYS}", map.len()),
        ));
    }
    let mut out = Vec::new();
    for (key, pointer) in map {
        let at = format!("truth.{table}.{key}");
        let name_ok = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(cx.err(
                &at,
                format!("`{key}`: a key is lower-case letters, digits and `_` (at most 64)"),
            ));
        }
        if !pointer.starts_with('/') {
            return Err(cx.err(
                &at,
                format!(
                    "`{pointer}` is not a JSON pointer; write \"/{pointer}\" (for `key value` lines, \"/key\")"
                ),
            ));
        }
        out.push(TruthKey {
            key: key.clone(),
            pointer: pointer.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::scenario::build::testing::{OK_LOAD, invalid, plan};
    use crate::scenario::plan::TruthSource;

    #[test]
    fn a_command_source_with_counts_and_levels() {
        let p = plan(&format!(
            "{OK_LOAD}[truth]\ncommand = [\"redis-cli\", \"-p\", \"6390\", \"GET\", \"x\"]\nsettle = \"1s\"\n[truth.counts]\nbookings_created = \"/bookings\"\n[truth.levels]\nseats_left = \"/seats_left\"\n"
        ));
        let t = p.truth.expect("a truth plan");
        assert!(matches!(&t.source, TruthSource::Command { argv } if argv.len() == 5));
        assert_eq!(t.source.label(), "command redis-cli");
        assert_eq!(t.counts[0].key, "bookings_created");
        assert_eq!(t.levels[0].pointer, "/seats_left");
        assert_eq!(t.timeout.as_secs(), 10);
        assert_eq!(t.settle.as_secs(), 1);
        assert!(t.has("seats_left") && !t.has("duplicates"));
    }

    #[test]
    fn an_http_source_hides_its_query_in_the_label() {
        let p = plan(&format!(
            "{OK_LOAD}[truth]\nurl = \"https://staging.example.test/admin/counts?key=abc\"\n[truth.counts]\nbookings_created = \"/data/bookings\"\n"
        ));
        let label = p.truth.unwrap().source.label();
        assert_eq!(label, "GET https://staging.example.test/admin/counts");
    }

    #[test]
    fn truth_gates_need_their_key_and_let_ledger_gates_run_against_a_url() {
        let with = |gates: &str, truth: &str| {
            format!(
                "gates = [{gates}]\n[target]\nurl = \"http://127.0.0.1:9\"\nledger = false\n{OK_LOAD}[journey]\nevent = \"E1\"\nzones = [\"A\"]\n{truth}"
            )
        };
        let truth = "[truth]\ncommand = [\"x\"]\n[truth.counts]\nbookings_created = \"/b\"\n[truth.levels]\nseats_left = \"/s\"\n";
        plan(&with(
            "\"compliant.bookings_created == 1\", \"compliant.truth.seats_left == 0\"",
            truth,
        ));
        let (_, _, key, msg) = invalid(&with("\"compliant.truth.held == 0\"", truth));
        assert_eq!(key, "gates[0]");
        assert!(msg.contains("[truth.counts]"), "{msg}");
        let (_, _, key, msg) = invalid(&with("\"compliant.duplicates == 0\"", truth));
        assert_eq!(key, "gates[0]");
        assert!(msg.contains("ledger = false"), "{msg}");
        let (_, _, _, msg) = invalid(&with("\"compliant.truth.seats_left == 0\"", ""));
        assert!(msg.contains("[truth.levels]"), "{msg}");
    }

    #[test]
    fn bad_truth_sections_name_their_key() {
        let cases = [
            (
                "[truth]\n[truth.counts]\nx = \"/x\"\n",
                "truth",
                "needs a source",
            ),
            (
                "[truth]\nurl = \"http://h/x\"\ncommand = [\"x\"]\n[truth.counts]\nx = \"/x\"\n",
                "truth.command",
                "not both",
            ),
            (
                "[truth]\ncommand = []\n[truth.counts]\nx = \"/x\"\n",
                "truth.command",
                "needs a program",
            ),
            ("[truth]\ncommand = [\"x\"]\n", "truth", "names no numbers"),
            (
                "[truth]\ncommand = [\"x\"]\n[truth.counts]\nx = \"x\"\n",
                "truth.counts.x",
                "JSON pointer",
            ),
            (
                "[truth]\ncommand = [\"x\"]\n[truth.counts]\nSeats = \"/x\"\n",
                "truth.counts.Seats",
                "lower-case",
            ),
            (
                "[truth]\ncommand = [\"x\"]\n[truth.counts]\nx = \"/x\"\n[truth.levels]\nx = \"/y\"\n",
                "truth.levels.x",
                "count or a level",
            ),
            (
                "[truth]\nurl = \"ftp://h/x\"\n[truth.counts]\nx = \"/x\"\n",
                "truth.url",
                "absolute http",
            ),
            (
                "[truth]\nurl = \"http://u:p@h/x\"\n[truth.counts]\nx = \"/x\"\n",
                "truth.url",
                "credentials",
            ),
            (
                "[truth]\nurl = \"http://h/x\"\nheaders_env = { Authorization = \"STAMPEDE_SURELY_UNSET_TRUTH\" }\n[truth.counts]\nx = \"/x\"\n",
                "truth.headers_env.Authorization",
                "not set",
            ),
            (
                "[truth]\ncommand = [\"x\"]\ntimeout = \"0s\"\n[truth.counts]\nx = \"/x\"\n",
                "truth.timeout",
                "between",
            ),
        ];
        for (section, key, msg) in cases {
            let (_, _, k, m) = invalid(&format!("{OK_LOAD}{section}"));
            assert_eq!(k, key, "{section}");
            assert!(m.contains(msg), "{section}: {m}");
        }
    }
}
