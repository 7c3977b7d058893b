//! A `[policies.NAME]` that no fleet runs is an error, never a silent run
//! of `compliant` instead: `stampede validate` and `stampede run` exit 2
//! naming the file, the line and column of the table, the key and the
//! policy, and `run` sends nothing (no report folder).

use crate::common;
use common::TempDir;

/// Line 7 is the unused table's header; `compare` names a preset instead.
const SCENARIO: &str = r#"name = "typo"
compare = ["compliant"]
[load]
model = "ticket-drop"
users = 5
over = "1s"
[policies.patient]
preset = "compliant"
max_delay = "10s"
"#;

#[test]
fn a_policy_no_fleet_runs_is_an_error_naming_it() {
    let dir = TempDir::new("unused-policy");
    let file = dir.path().join("typo.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.path().join("out");
    for args in [vec!["validate"], vec!["run", "--virtual-time", "--out"]] {
        let mut cmd = common::stampede();
        cmd.args(&args[..1]).arg(&file).args(&args[1..]);
        if args.len() > 1 {
            cmd.arg(&out);
        }
        let o = cmd.run();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        let at = format!("{}:7:1", file.display());
        assert!(stderr.contains(&at), "{args:?}: no {at} in {stderr}");
        assert!(stderr.contains("policies.patient"), "{stderr}");
        assert!(
            stderr.contains("policy `patient` is defined but no fleet runs it"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!out.join("summary.json").exists(), "nothing was run");
    // Naming it in `compare` is what the author meant: then it validates.
    std::fs::write(&file, SCENARIO.replace("[\"compliant\"]", "[\"patient\"]")).unwrap();
    let o = common::stampede().arg("validate").arg(&file).run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
