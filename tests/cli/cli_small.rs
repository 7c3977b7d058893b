//! The small CLI things: shell completions, help on every argument, `-q`
//! printing only the verdict and gate lines, and `--out` refusing a
//! non-empty folder unless `--force`.

use crate::common::stampede;
use std::path::Path;

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = stampede().args(["completions", shell]).run();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for word in ["compare", "baseline", "metrics-listen"] {
            assert!(text.contains(word), "{shell}: {word} missing");
        }
    }
    assert_eq!(
        stampede().args(["completions", "tcsh"]).run().status.code(),
        Some(2)
    );
}

#[test]
fn man_page_names_every_subcommand() {
    let out = stampede().args(["man"]).run();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH stampede 1"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"));
    for sub in [
        "run",
        "validate",
        "serve",
        "report",
        "policies",
        "merge",
        "compare",
        "completions",
        "man",
    ] {
        assert!(
            page.contains(&format!("stampede\\-{sub}(1)")),
            "{sub} missing"
        );
    }
    // One subcommand's page, with its options.
    let out = stampede().args(["man", "run"]).run();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH stampede-run 1"), "{page}");
    assert!(page.contains("\\fBstampede run\\fR"));
    assert!(page.contains("metrics\\-listen"));
    // An unknown one is a usage error naming the choices.
    let out = stampede().args(["man", "nope"]).run();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no subcommand `nope`") && err.contains("compare"),
        "{err}"
    );
}

#[test]
fn every_argument_has_help_text() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str) {
        for a in cmd.get_arguments() {
            if ["help", "version"].contains(&a.get_id().as_str()) {
                continue;
            }
            assert!(a.get_help().is_some(), "{path} {} has no help", a.get_id());
        }
        for sub in cmd.get_subcommands() {
            assert!(
                sub.get_about().is_some(),
                "{path} {} has no about",
                sub.get_name()
            );
            walk(sub, &format!("{path} {}", sub.get_name()));
        }
    }
    walk(&stampede::cli::Cli::command(), "stampede");
}

#[test]
fn quiet_prints_the_verdict_and_gates_and_out_must_be_empty() {
    let dir = std::env::temp_dir().join(format!("stampede-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let out = dir.join("run");
    let (s, o) = (scenario.to_str().unwrap(), out.to_str().unwrap());
    let r = stampede().args(["run", s, "--out", o, "-q"]).run();
    assert!(matches!(r.status.code(), Some(0 | 1)));
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        !text.contains("amplification, all steps"),
        "no table under -q:\n{text}"
    );
    assert!(text.contains("PASS compliant.amplification"), "{text}");
    let gates = text
        .lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .count();
    assert_eq!(gates, 8, "{text}");
    // The folder now holds the first run: a second is refused, before any load...
    let again = stampede().args(["run", s, "--out", o, "-q"]).run();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    // ...unless forced.
    let forced = stampede()
        .args(["run", s, "--out", o, "-q", "--force"])
        .run();
    assert!(
        matches!(forced.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_start_more_than_a_day_away_is_refused_at_once() {
    let far = stampede()
        .args(["run", "scenarios/ci-smoke.toml", "--start-at", "9999999999"])
        .run();
    assert_eq!(far.status.code(), Some(2));
    let err = String::from_utf8_lossy(&far.stderr);
    assert!(err.contains("at most 1day ahead"), "{err}");
    let year = stampede()
        .args([
            "run",
            "scenarios/ci-smoke.toml",
            "--start-at",
            "2999-01-01T00:00:00Z",
        ])
        .run();
    assert_eq!(year.status.code(), Some(2));
}
