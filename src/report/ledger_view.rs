//! A generic view of the simulator's [`Ledger`].
//!
//! The simulator keeps adding ground-truth fields (per-zone seats,
//! attempts-per-operation distributions, ...). Renderers read the few keys the
//! verdict depends on by name and show everything else through this
//! flattened view, so a new ledger field appears in the report without a
//! renderer change.

use crate::model::Ledger;
use serde_json::Value;

/// Ledger keys with a fixed meaning, in display order, with their labels.
pub const KNOWN: &[(&str, &str)] = &[
    ("bookings_created", "bookings created"),
    ("duplicates", "duplicate bookings"),
    ("oversold", "oversold seats"),
    ("wasted_work", "wasted work"),
    ("early_retries", "early retries"),
];

/// One flattened ledger value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Dotted path, e.g. `duplicates` or `requests.reserve.201`.
    pub key: String,
    /// Human label for known keys, the dotted path otherwise.
    pub label: String,
    pub value: String,
}

/// All ledger values: the known keys first, then every other field in
/// serialization order, nested objects flattened to dotted keys.
pub fn entries(ledger: &Ledger) -> Vec<Entry> {
    let Ok(Value::Object(map)) = serde_json::to_value(ledger) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, label) in KNOWN {
        if let Some(v) = map.get(*key) {
            out.push(Entry {
                key: key.to_string(),
                label: label.to_string(),
                value: scalar(v),
            });
        }
    }
    for (key, v) in &map {
        if KNOWN.iter().any(|(k, _)| k == key) {
            continue;
        }
        flatten(key, v, &mut out);
    }
    out
}

/// Flattens any JSON value into (dotted key, display value) rows, objects
/// recursively; used for the resolved retry policy table as well.
pub fn flatten_json(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match v {
        Value::Object(map) => {
            for (k, inner) in map {
                flatten(k, inner, &mut out);
            }
        }
        other => flatten("value", other, &mut out),
    }
    out.into_iter().map(|e| (e.key, e.value)).collect()
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<Entry>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, inner) in map {
                flatten(&format!("{prefix}.{k}"), inner, out);
            }
        }
        _ => out.push(Entry {
            key: prefix.to_string(),
            label: prefix.to_string(),
            value: scalar(v),
        }),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "none".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_u64() {
            Some(u) => super::format::count(u),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ledger_entries_known_first_then_flattened() {
        let mut ledger = Ledger {
            duplicates: 37,
            oversold: 3,
            ..Default::default()
        };
        ledger
            .requests
            .entry("reserve".into())
            .or_default()
            .insert(201, 1200);
        let e = entries(&ledger);
        assert_eq!(e[0].key, "bookings_created");
        assert_eq!(e[1].value, "37");
        let req = e.iter().find(|e| e.key == "requests.reserve.201").unwrap();
        assert_eq!(req.value, "1,200");
    }
}
