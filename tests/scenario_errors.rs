//! Bad scenario input: a clear error naming file, line, column and key, never a panic.

use stampede::scenario::{self, Overrides, ScenarioError};
use std::path::Path;

fn err(src: &str) -> String {
    match scenario::parse(src, Path::new("bad.toml"), &Overrides::default()) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e.to_string(),
    }
}

const OK_LOAD: &str = "[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"1s\"\n";

#[test]
fn every_shipped_scenario_validates() {
    for entry in std::fs::read_dir("scenarios").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            scenario::load(&path, &Overrides::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn unknown_key_names_line_and_key() {
    let e = err("[load]\nmodel = \"open\"\nstages = [{ duration = \"1s\", rate = 5 }]\nrte = 4\n");
    assert!(e.starts_with("bad.toml:4:1:"), "{e}");
    assert!(e.contains("rte"), "{e}");
}

#[test]
fn semantic_error_points_at_the_key() {
    let e = err(
        "[load]\nmodel = \"open\"\n\n[[load.stages]]\nduration = \"1s\"\nrate = 5\n\n[[load.stages]]\nduration = \"1s\"\nrate = -5\n",
    );
    assert!(e.starts_with("bad.toml:10:1:"), "{e}");
    assert!(e.contains("load.stages[1].rate"), "{e}");
}

#[test]
fn wrong_type_is_reported_with_position() {
    let e = err("[load]\nmodel = \"ticket-drop\"\nusers = \"many\"\nover = \"1s\"\n");
    assert!(e.starts_with("bad.toml:3:"), "{e}");
}

#[test]
fn unknown_policy_lists_presets() {
    let e = err(&format!("compare = [\"compliant\", \"yolo\"]\n{OK_LOAD}"));
    assert!(e.contains("yolo") && e.contains("naive"), "{e}");
    assert!(e.contains("`compare`"), "{e}");
}

#[test]
fn bad_policy_override_names_the_policy() {
    let e = err(&format!(
        "compare = [\"mine\"]\n{OK_LOAD}\n[policies.mine]\npreset = \"compliant\"\nbase_delay = \"10s\"\nmax_delay = \"1s\"\n"
    ));
    assert!(e.contains("policies.mine"), "{e}");
    assert!(e.contains("max_delay"), "{e}");
}

#[test]
fn unknown_template_variable_is_rejected() {
    let e = err(&format!(
        "{OK_LOAD}\n[journey]\n[[journey.steps]]\nname = \"x\"\npath = \"/bookings/${{booking}}/confirm\"\n"
    ));
    assert!(
        e.contains("journey.steps[0].path") && e.contains("${booking}"),
        "{e}"
    );
}

#[test]
fn missing_token_variable_is_an_error_without_the_value() {
    let e = err(&format!(
        "[target]\nurl = \"http://127.0.0.1:9\"\ntoken_env = \"STAMPEDE_TEST_SURELY_UNSET_VAR\"\n{OK_LOAD}\n[journey]\nevent = \"E1\"\nzones = [\"A\"]\n"
    ));
    assert!(
        e.contains("target.token_env") && e.contains("STAMPEDE_TEST_SURELY_UNSET_VAR"),
        "{e}"
    );
}

#[test]
fn authorization_header_in_file_is_refused() {
    let e = err(&format!(
        "[target.headers]\nAuthorization = \"Bearer x\"\n{OK_LOAD}"
    ));
    assert!(e.contains("token_env"), "{e}");
}

#[test]
fn cohort_shares_must_add_up() {
    let e = err(&format!(
        "{OK_LOAD}\n[[cohorts]]\nname = \"compliant\"\nshare = 0.5\n\n[[cohorts]]\nname = \"naive\"\nshare = 0.2\n"
    ));
    assert!(e.contains("cohorts") && e.contains("0.7"), "{e}");
}

#[test]
fn invalid_sim_knob_names_the_key() {
    let e = err(&format!("{OK_LOAD}\n[sim.faults]\nerror_rate = 1.5\n"));
    assert!(e.contains("sim.") && e.contains("error_rate"), "{e}");
}

#[test]
fn missing_file_is_a_read_error() {
    let e = scenario::load(
        Path::new("scenarios/does-not-exist.toml"),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ScenarioError::Read { .. }));
    assert!(e.to_string().contains("does-not-exist.toml"));
}

#[test]
fn cli_overrides_apply() {
    let ov = Overrides {
        rate: Some(100.0),
        policy: Some("naive".into()),
        ..Overrides::default()
    };
    let p = scenario::parse(OK_LOAD, Path::new("x.toml"), &ov).unwrap();
    assert_eq!(p.rounds.len(), 1);
    assert_eq!(p.rounds[0].cohorts[0].policy.name, "naive");
    match p.load.arrivals {
        scenario::Arrivals::TicketDrop { users, over } => {
            assert_eq!(users, 10);
            assert_eq!(over.as_millis(), 100);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn validate_prints_plan_without_secrets() {
    // SAFETY: single-threaded test binary section; the variable is unique to this test.
    unsafe { std::env::set_var("STAMPEDE_TEST_TOKEN_VALIDATE", "s3cr3t-token-value") };
    let src = format!(
        "[target]\nurl = \"http://127.0.0.1:9\"\ntoken_env = \"STAMPEDE_TEST_TOKEN_VALIDATE\"\n{OK_LOAD}\n[journey]\nevent = \"E1\"\nzones = [\"A\"]\n"
    );
    let p = scenario::parse(&src, Path::new("x.toml"), &Overrides::default()).unwrap();
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("s3cr3t-token-value"));
    assert!(!format!("{p:?}").contains("s3cr3t-token-value"));
    assert_eq!(
        p.target.token.as_ref().map(|t| t.expose()),
        Some("s3cr3t-token-value")
    );
}
