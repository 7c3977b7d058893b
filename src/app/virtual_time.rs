//! `run --virtual-time`: what it refuses (anything that needs a real
//! target or real time), and the clock the process runs on.

use crate::cli::{Cli, Command};
use crate::clock::ClockMode;
use crate::scenario::Plan;

/// The clock `cli` runs on: virtual for `run --virtual-time` and for
/// `search` without `--real`.
pub fn clock_of(cli: &Cli) -> ClockMode {
    match &cli.command {
        Command::Run(args) if args.virtual_time => ClockMode::Virtual,
        Command::Search(args) if !args.real => ClockMode::Virtual,
        _ => ClockMode::Real,
    }
}

/// Why `plan` cannot run on virtual time: virtual time has only the
/// embedded simulator to run against. The error names the scenario file
/// and the line of the key (or the flag) that makes the target real.
pub fn refuse(plan: &Plan, target_flag: bool) -> Result<(), String> {
    let file = plan.source.display();
    let at = |key: &str| {
        let (line, col) = std::fs::read_to_string(&plan.source)
            .map(|src| crate::scenario::locate::locate(&src, key))
            .unwrap_or((1, 1));
        format!("{file}:{line}:{col}: `{key}`")
    };
    if let Some(url) = &plan.target.url {
        let whence = if target_flag {
            format!("--target {url}")
        } else {
            format!("{} = \"{url}\"", at("target.url"))
        };
        return Err(format!(
            "{whence}: --virtual-time runs against the embedded simulator only (virtual time cannot measure a real target); drop the url, or run without --virtual-time"
        ));
    }
    if plan.truth.is_some() {
        return Err(format!(
            "{}: [truth] reads a real target's counts; --virtual-time runs against the embedded simulator only (its ledger is the ground truth)",
            at("truth")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Overrides;
    use std::path::Path;

    const BASE: &str = r#"
name = "v"
seed = 1
[load]
model = "ticket-drop"
users = 10
over = "1s"
[journey]
event = "E1"
zones = ["A"]
"#;

    fn plan(src: &str, ov: &Overrides) -> Plan {
        crate::scenario::parse(src, Path::new("v.toml"), ov).expect("valid")
    }

    #[test]
    fn the_embedded_simulator_may_run_on_virtual_time() {
        assert_eq!(refuse(&plan(BASE, &Overrides::default()), false), Ok(()));
    }

    #[test]
    fn a_target_url_is_refused_naming_the_key() {
        let src = format!("{BASE}[target]\nurl = \"http://127.0.0.1:9\"\n");
        let err = refuse(&plan(&src, &Overrides::default()), false).expect_err("refused");
        assert!(err.contains("`target.url`"), "{err}");
        assert!(err.contains("cannot measure a real target"), "{err}");
        let ov = Overrides {
            target: Some("http://127.0.0.1:9".into()),
            ..Overrides::default()
        };
        let err = refuse(&plan(BASE, &ov), true).expect_err("refused");
        assert!(err.starts_with("--target http://127.0.0.1:9"), "{err}");
    }

    #[test]
    fn the_flag_selects_the_clock() {
        use clap::Parser;
        let parse = |args: &[&str]| Cli::try_parse_from(args).expect("valid");
        let v = parse(&["stampede", "run", "s.toml", "--virtual-time"]);
        assert_eq!(clock_of(&v), ClockMode::Virtual);
        assert_eq!(
            clock_of(&parse(&["stampede", "run", "s.toml"])),
            ClockMode::Real
        );
        assert_eq!(clock_of(&parse(&["stampede", "policies"])), ClockMode::Real);
        for clash in [
            &["--metrics-listen", "127.0.0.1:0"][..],
            &["--start-at", "1"][..],
        ] {
            let mut a = vec!["stampede", "run", "s.toml", "--virtual-time"];
            a.extend_from_slice(clash);
            assert!(Cli::try_parse_from(&a).is_err(), "{a:?}");
        }
    }
}
