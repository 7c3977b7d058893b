//! Names are data, not paths: a fleet, step or policy name that is a path
//! (`../`, `/`) or not ASCII stops `stampede run` with exit 2 at the
//! name's `file:line:col`, before anything is written: no `--out` folder,
//! no file beside or above it.

use crate::common::{self, TempDir};
use std::path::Path;

/// Every file and folder under `dir`, as paths relative to it.
fn tree(dir: &Path) -> Vec<String> {
    let mut seen = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            seen.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    seen.sort();
    seen
}

const LOAD: &str = "[load]\nmodel = \"ticket-drop\"\nusers = 5\nover = \"1s\"\n";

#[test]
fn a_name_that_is_a_path_stops_the_run_where_it_is_written() {
    let fleets = |name: &str| {
        format!("{LOAD}\n[[fleets]]\nname = \"{name}\"\npolicy = \"compliant\"\nshare = 1.0\n")
    };
    let step = |name: &str| {
        format!(
            "{LOAD}\n[journey]\n[[journey.steps]]\nname = \"{name}\"\nmethod = \"GET\"\npath = \"/\"\n"
        )
    };
    let policy = |name: &str| {
        format!("compare = [\"{name}\"]\n[policies.\"{name}\"]\npreset = \"naive\"\n{LOAD}")
    };
    // (scenario text, the key the error names, its line)
    let cases = [
        (fleets("../../escape"), "fleets[0].name", 7),
        (fleets("a/b"), "fleets[0].name", 7),
        (fleets("naïve"), "fleets[0].name", 7),
        (step("../reserve"), "journey.steps[0].name", 8),
        (policy("../p"), "policies.\"../p\"", 2),
    ];
    for (i, (src, key, line)) in cases.iter().enumerate() {
        let dir = TempDir::new("names");
        let scenario = dir.path().join("s.toml");
        std::fs::write(&scenario, src).unwrap();
        let out = dir.path().join("deep/out");
        let o = common::stampede()
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(&out)
            .arg("--quiet")
            .run();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert!(
            err.contains(&format!("s.toml:{line}:")) && err.contains(key),
            "case {i}: the error names neither s.toml:{line} nor `{key}`: {err}"
        );
        assert_eq!(
            tree(dir.path()),
            ["s.toml"],
            "case {i}: something was written"
        );
        // Nothing above the scenario's folder either.
        let parent = dir.path().parent().unwrap();
        assert!(!parent.join("escape").exists(), "case {i}");
    }
}
