//! The layering of `src/`, checked: every `crate::<module>` a file names
//! must be one its module may use, by the rules below (the same rules as
//! docs/architecture.md, "Layers"). Unit tests (`#[cfg(test)]` to the end of
//! a file, `tests.rs`, `*_tests.rs`) may use anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Module -> the modules it may use. Anything not listed (`app`, `cli`,
/// `run`, `sample`) wires the others and may use every module.
const RULES: &[(&str, &[&str])] = &[
    // The vocabulary: leaves.
    ("outcome", &[]),
    ("names", &[]),
    ("timefmt", &[]),
    ("shard", &[]),
    ("clock", &[]),
    // Retry policies as data and pure decisions.
    ("policy", &["outcome"]),
    // The report model: what a run measured, as data.
    ("model", &["outcome", "policy", "shard", "clock"]),
    // The embedded simulator: a server of its own; its ledger is model data.
    ("sim", &["model", "outcome", "timefmt", "names", "clock"]),
    // Gates: parsed with the scenario, judged against the model.
    ("gate", &["model", "outcome", "policy"]),
    // Scenario files into a validated plan.
    (
        "scenario",
        &[
            "model", "outcome", "policy", "names", "shard", "timefmt", "clock", "gate", "sim",
        ],
    ),
    // The transport.
    ("client", &["model", "outcome", "policy", "clock"]),
    // Recording and summarizing into the model.
    ("metrics", &["model", "outcome", "policy"]),
    ("board", &["metrics", "model", "outcome", "scenario"]),
    ("prom", &["board", "metrics", "model"]),
    // The one engine loop.
    (
        "engine",
        &[
            "scenario", "client", "policy", "metrics", "board", "outcome", "model", "shard",
            "timefmt", "clock",
        ],
    ),
    // Renderers of the model.
    (
        "report",
        &["model", "outcome", "policy", "timefmt", "names"],
    ),
    ("compare", &["report", "model", "outcome", "timefmt"]),
    (
        "merge",
        &[
            "report", "metrics", "model", "gate", "names", "scenario", "outcome", "timefmt",
            "shard",
        ],
    ),
    ("truth", &["client", "model", "scenario", "outcome"]),
    (
        "search",
        &["scenario", "gate", "report", "model", "timefmt"],
    ),
];

/// The module a file of `src/` belongs to (`src/report/html/tables.rs` ->
/// `report`), or `None` for the crate root files.
fn module_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let m = first.strip_suffix(".rs").unwrap_or(first);
    (!["lib", "main"].contains(&m)).then(|| m.to_string())
}

fn is_test_file(rel: &Path) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || rel.components().any(|c| c.as_os_str() == "tests")
}

/// `crate::a`, `crate::{a, b::c}` -> the top-level modules named.
fn used_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        // `stampede::crate::` cannot occur; `$crate::` in macros is not ours.
        let before = &rest[..i];
        rest = &rest[i + "crate::".len()..];
        if before.ends_with('$') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: `{a::{B, C}, d}` -> a, d.
            let (mut depth, mut start) = (0usize, true);
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        out.push(c.to_string());
                        start = false;
                    }
                    c if depth == 0 && !start && (c.is_alphanumeric() || c == '_') => {
                        if let Some(last) = out.last_mut()
                            && !last.contains(':')
                        {
                            last.push(c);
                        }
                    }
                    ':' if depth == 0 && !start => {
                        if let Some(last) = out.last_mut() {
                            last.push(':');
                        }
                    }
                    _ => {}
                }
            }
            for name in out.iter_mut() {
                if let Some(i) = name.find(':') {
                    name.truncate(i);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every edge against the rules: `file:line: module -> used`.
fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules: BTreeMap<&str, &[&str]> = RULES.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for path in files {
        let rel = path.strip_prefix(&src).unwrap();
        let (Some(module), false) = (module_of(rel), is_test_file(rel)) else {
            continue;
        };
        let Some(allowed) = rules.get(module.as_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            for used in used_modules(code) {
                if used != module && !allowed.contains(&used.as_str()) {
                    bad.push(format!(
                        "src/{}:{}: {module} -> {used}",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    bad
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let bad = violations();
    assert!(
        bad.is_empty(),
        "{} uses against the layering (docs/architecture.md, \"Layers\"):\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn the_rules_name_real_modules_and_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let exists = |m: &str| src.join(m).is_dir() || src.join(format!("{m}.rs")).is_file();
    for (m, deps) in RULES {
        assert!(exists(m), "no module `{m}`");
        for d in *deps {
            assert!(exists(d), "`{m}` may use `{d}`, which does not exist");
        }
    }
    // Depth-first: a module may not reach itself.
    fn reaches(from: &str, to: &str, seen: &mut Vec<String>) -> bool {
        let deps = RULES
            .iter()
            .find(|(m, _)| *m == from)
            .map_or(&[][..], |r| r.1);
        deps.iter().any(|d| {
            *d == to
                || (!seen.contains(&d.to_string()) && {
                    seen.push(d.to_string());
                    reaches(d, to, seen)
                })
        })
    }
    for (m, _) in RULES {
        assert!(!reaches(m, m, &mut Vec::new()), "`{m}` reaches itself");
    }
}

#[test]
fn the_scanner_sees_grouped_and_plain_paths() {
    assert_eq!(
        used_modules("use crate::{report::{A, B}, metrics, gate::parse};"),
        ["report", "metrics", "gate"]
    );
    assert_eq!(
        used_modules("let x = crate::sim::Ledger::default();"),
        ["sim"]
    );
    assert!(used_modules("$crate::x; my_crate::y").is_empty());
}
