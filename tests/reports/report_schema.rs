//! summary.json against docs/summary.schema.json, in both directions: the
//! rendered sample must validate, and every property the schema lists must
//! be present in the sample (which populates every field and option), so a
//! field added to or removed from the model without a schema update fails
//! here instead of silently rotting.
//!
//! The checker is deliberately small: it knows the keywords the schema uses
//! and refuses any other, so a typo in the schema cannot be skipped.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const KNOWN_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "anyOf",
    "minimum",
    "maximum",
    "propertyNames",
    "pattern",
];

struct Checker<'a> {
    root: &'a Value,
    /// Schema locations of properties that some instance value exercised.
    visited: BTreeSet<String>,
    errors: Vec<String>,
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_u64() || v.is_i64(),
        other => panic!("schema uses unknown type {other}"),
    }
}

fn pattern_matches(pattern: &str, s: &str) -> bool {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match pattern {
        "^[0-9]+$" => digits,
        "^[0-9]{3}$" => digits && s.len() == 3,
        "^[0-9]{1,3}$" => digits && s.len() <= 3,
        other => panic!("the test checker does not know pattern {other}; extend it"),
    }
}

impl<'a> Checker<'a> {
    fn resolve(&self, schema: &'a Value, at: &str) -> (&'a Value, String) {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let ptr = r.strip_prefix('#').expect("only local $ref");
                let target = self
                    .root
                    .pointer(ptr)
                    .unwrap_or_else(|| panic!("dangling $ref {r}"));
                (target, r.to_string())
            }
            None => (schema, at.to_string()),
        }
    }

    fn check(&mut self, schema: &'a Value, at: &str, v: &Value, path: &str) {
        let (schema, at) = self.resolve(schema, at);
        let obj = schema.as_object().expect("schema nodes are objects");
        for k in obj.keys() {
            assert!(
                KNOWN_KEYWORDS.contains(&k.as_str()),
                "{at}: unknown keyword {k}"
            );
        }
        if let Some(t) = obj.get("type") {
            let ok = match t {
                Value::String(t) => type_matches(t, v),
                Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), v)),
                _ => panic!("{at}: bad type"),
            };
            if !ok {
                self.errors
                    .push(format!("{path}: expected type {t}, got {v}"));
                return;
            }
        }
        if let Some(c) = obj.get("const")
            && c != v
        {
            self.errors.push(format!("{path}: expected {c}, got {v}"));
        }
        if let Some(Value::Array(options)) = obj.get("enum")
            && !options.contains(v)
        {
            self.errors.push(format!("{path}: {v} not in {options:?}"));
        }
        if let (Some(min), Some(n)) = (obj.get("minimum").and_then(Value::as_f64), v.as_f64())
            && n < min
        {
            self.errors.push(format!("{path}: {n} < minimum {min}"));
        }
        if let (Some(max), Some(n)) = (obj.get("maximum").and_then(Value::as_f64), v.as_f64())
            && n > max
        {
            self.errors.push(format!("{path}: {n} > maximum {max}"));
        }
        if let Some(Value::Array(branches)) = obj.get("anyOf") {
            let mut matched = false;
            for (i, b) in branches.iter().enumerate() {
                let mut trial = Checker {
                    root: self.root,
                    visited: BTreeSet::new(),
                    errors: Vec::new(),
                };
                trial.check(b, &format!("{at}/anyOf/{i}"), v, path);
                if trial.errors.is_empty() {
                    self.visited.extend(trial.visited);
                    matched = true;
                    break;
                }
            }
            if !matched {
                self.errors.push(format!("{path}: matches no anyOf branch"));
            }
        }
        if let Value::Object(map) = v {
            if let Some(Value::Array(req)) = obj.get("required") {
                for r in req {
                    let r = r.as_str().unwrap();
                    if !map.contains_key(r) {
                        self.errors
                            .push(format!("{path}: missing required key {r}"));
                    }
                }
            }
            let props = obj.get("properties").and_then(Value::as_object);
            for (k, child) in map {
                let child_path = format!("{path}.{k}");
                if let Some(p) = obj.get("propertyNames").and_then(|p| p.get("pattern"))
                    && !pattern_matches(p.as_str().unwrap(), k)
                {
                    self.errors
                        .push(format!("{child_path}: key does not match {p}"));
                }
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    let loc = format!("{at}/properties/{k}");
                    self.visited.insert(loc.clone());
                    self.check(s, &loc, child, &child_path);
                } else {
                    match obj.get("additionalProperties") {
                        Some(Value::Bool(false)) => self.errors.push(format!(
                            "{child_path}: not in the schema (add it to docs/summary.schema.json)"
                        )),
                        Some(s @ Value::Object(_)) => {
                            self.check(s, &format!("{at}/additionalProperties"), child, &child_path)
                        }
                        _ => {}
                    }
                }
            }
        }
        if let (Value::Array(items), Some(s)) = (v, obj.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.check(s, &format!("{at}/items"), item, &format!("{path}[{i}]"));
            }
        }
    }
}

/// Every `properties` entry in the schema, as the location `check` records.
fn all_properties(node: &Value, at: &str, out: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            for (k, v) in map {
                let loc = format!("{at}/{k}");
                if k == "properties" {
                    for (name, child) in v.as_object().unwrap() {
                        out.insert(format!("{loc}/{name}"));
                        all_properties(child, &format!("{loc}/{name}"), out);
                    }
                } else {
                    all_properties(v, &loc, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                all_properties(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/summary.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/summary.schema.json exists");
    serde_json::from_str(&text).expect("schema is valid JSON")
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("stampede-schema-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The sample report as written to disk by the real renderer.
fn rendered_sample() -> Value {
    let dir = temp_dir("sample");
    let path = stampede::report::json::write_summary(&stampede::sample::sample_report(), &dir)
        .expect("summary.json written");
    let v = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    v
}

fn validate(schema: &Value, doc: &Value) -> (Vec<String>, BTreeSet<String>) {
    let mut c = Checker {
        root: schema,
        visited: BTreeSet::new(),
        errors: Vec::new(),
    };
    c.check(schema, "#", doc, "$");
    (c.errors, c.visited)
}

#[test]
fn report_schema_sample_validates() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let (errors, _) = validate(&schema, &rendered_sample());
    assert!(
        errors.is_empty(),
        "summary.json violates the schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn report_schema_lists_exactly_what_the_model_serializes() {
    let schema = schema();
    let (errors, visited) = validate(&schema, &rendered_sample());
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let mut declared = BTreeSet::new();
    all_properties(&schema, "#", &mut declared);
    let stale: Vec<&String> = declared.difference(&visited).collect();
    assert!(
        stale.is_empty(),
        "schema properties the model no longer serializes (or the sample leaves empty): {stale:?}"
    );
}

#[test]
fn report_schema_checker_catches_violations() {
    let schema = schema();
    let sample = rendered_sample();

    let mut missing = sample.clone();
    missing["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("attempts");
    let (e, _) = validate(&schema, &missing);
    assert!(
        e.iter()
            .any(|e| e.contains("missing required key attempts")),
        "{e:?}"
    );

    let mut wrong = sample.clone();
    wrong["results"][1]["timeseries"][3]["attempts"] = Value::from("many");
    let (e, _) = validate(&schema, &wrong);
    assert!(
        e.iter().any(|e| e.contains("timeseries[3].attempts")),
        "{e:?}"
    );

    let mut extra = sample.clone();
    extra["results"][0]["ledger"]["zones"] = Value::from(3);
    let (e, _) = validate(&schema, &extra);
    assert!(e.iter().any(|e| e.contains("ledger")), "{e:?}");

    let mut bad_key = sample;
    bad_key["results"][0]["attempts_per_operation"]["two"] = Value::from(1);
    let (e, _) = validate(&schema, &bad_key);
    assert!(e.iter().any(|e| e.contains("does not match")), "{e:?}");
}

/// Not only the hand-built sample: what a real run writes must match too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_schema_real_run_validates() {
    let plan = crate::common::scenario()
        .compare(&["compliant", "naive"])
        .gates(&[
            "compliant.success_rate >= 0.5",
            "naive.duplicates >= 0",
            "compliant.reserve.attempt_latency.p99 < 10s in 50% of 1s windows",
        ])
        .ticket_drop(60, "300ms")
        .drain("15s")
        .table("[sim.faults]\nerror_rate = 0.1")
        .table("[[sim.faults.windows]]\nfrom = \"0s\"\nto = \"100ms\"\ncapacity_factor = 0.5")
        .plan();
    let out = stampede::run::execute(&plan, &Default::default(), None)
        .await
        .unwrap();
    let dir = temp_dir("real-run");
    stampede::report::write_all(&out.report, &dir).unwrap();
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let (errors, _) = validate(&schema(), &doc);
    assert!(
        errors.is_empty(),
        "a real summary.json violates the schema:\n{}",
        errors.join("\n")
    );
    assert_eq!(doc["results"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every property's path (`results[].steps[].name`, `$defs.Percentiles.p99`)
/// that has no `description`, walking properties, array items, maps'
/// values, `anyOf` branches and `$defs`.
fn undescribed(node: &Value, at: &str, out: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        return;
    };
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            let path = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            let described = p
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.trim().is_empty());
            if !described {
                out.push(path.clone());
            }
            undescribed(p, &path, out);
        }
    }
    if let Some(items) = obj.get("items") {
        undescribed(items, &format!("{at}[]"), out);
    }
    if let Some(values) = obj.get("additionalProperties") {
        undescribed(values, &format!("{at}.*"), out);
    }
    for branch in obj
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        undescribed(branch, at, out);
    }
    for (name, def) in obj
        .get("$defs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        undescribed(def, &format!("$defs.{name}"), out);
    }
}

#[test]
fn report_schema_describes_every_property() {
    let mut missing = Vec::new();
    undescribed(&schema(), "", &mut missing);
    assert!(
        missing.is_empty(),
        "{} propert(ies) of docs/summary.schema.json without a description (unit and meaning):\n{}",
        missing.len(),
        missing.join("\n")
    );
    // The walk reaches nested objects, array items and definitions.
    let mut probe = Vec::new();
    let nested = serde_json::json!({
        "properties": { "a": { "description": "x", "type": "array",
            "items": { "properties": { "b": { "type": "integer" } } } } },
        "$defs": { "D": { "properties": { "c": { "anyOf": [
            { "type": "null" }, { "properties": { "d": { "type": "string" } } } ] } } } }
    });
    undescribed(&nested, "", &mut probe);
    assert_eq!(probe, ["a[].b", "$defs.D.c", "$defs.D.c.d"]);
}
