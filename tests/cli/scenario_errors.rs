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
    let dirs = ["scenarios", "scenarios/validation"];
    for entry in dirs.iter().flat_map(|d| std::fs::read_dir(d).unwrap()) {
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
fn fleet_shares_must_add_up() {
    let e = err(&format!(
        "{OK_LOAD}\n[[fleets]]\nname = \"compliant\"\nshare = 0.5\n\n[[fleets]]\nname = \"naive\"\nshare = 0.2\n"
    ));
    assert!(e.contains("fleets") && e.contains("0.7"), "{e}");
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
    assert_eq!(p.rounds[0].fleets[0].policy.name, "naive");
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

// ---- Bounds: every duration, count, rate and size has a maximum,
// checked at validate time with file:line:col and key; nothing panics.

/// (line, key) of the error, from "bad.toml:LINE:COL: `KEY`: msg".
fn at(e: &str) -> (usize, &str) {
    let rest = e.strip_prefix("bad.toml:").unwrap_or_else(|| panic!("{e}"));
    let line = rest.split(':').next().unwrap().parse().unwrap();
    let key = e.split('`').nth(1).unwrap_or_else(|| panic!("{e}"));
    (line, key)
}

#[test]
fn huge_durations_are_errors_at_their_key_not_panics() {
    for (src, line, key) in [
        (
            "[load]\nmodel = \"open\"\n[[load.stages]]\nduration = \"9300000000000000000s\"\nrate = 1\n",
            4,
            "load.stages[0].duration",
        ),
        (
            "[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"1s\"\ndrain = \"9300000000000000000s\"\n",
            5,
            "load.drain",
        ),
        (
            "[target]\ntimeout = \"9300000000000000000s\"\n[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"1s\"\n",
            2,
            "target.timeout",
        ),
    ] {
        let e = err(src);
        assert_eq!(at(&e), (line, key), "{e}");
        assert!(e.contains("at most 30days"), "{e}");
    }
    // A float where humantime wants an integer is a parse error with a position.
    let e = err("[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"9.3e18s\"\n");
    assert!(e.starts_with("bad.toml:4:"), "{e}");
}

#[test]
fn semaphore_sized_values_are_bounded() {
    let e = err(
        "[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"1s\"\nmax_in_flight = 2305843009213693952\n",
    );
    assert_eq!(at(&e), (5, "load.max_in_flight"), "{e}");
    assert!(e.contains("at most 10000000"), "{e}");
    let e = err(&format!(
        "[target]\nconnections = 2305843009213693952\n{OK_LOAD}"
    ));
    assert_eq!(at(&e), (2, "target.connections"), "{e}");
    assert!(e.contains("at most 100000"), "{e}");
}

#[test]
fn users_and_rates_are_bounded() {
    let e = err("[load]\nmodel = \"ticket-drop\"\nusers = 100000001\nover = \"1s\"\n");
    assert_eq!(at(&e), (3, "load.users"), "{e}");
    let e =
        err("[load]\nmodel = \"open\"\n[[load.stages]]\nduration = \"1s\"\nfrom = 0\nto = 1e12\n");
    assert_eq!(at(&e), (6, "load.stages[0].to"), "{e}");
    assert!(e.contains("at most 10000000/s"), "{e}");
    let ov = Overrides {
        rate: Some(1e-300),
        ..Overrides::default()
    };
    let e = scenario::parse(OK_LOAD, Path::new("bad.toml"), &ov)
        .unwrap_err()
        .to_string();
    assert_eq!(at(&e).1, "load.over", "{e}");
    assert!(e.contains("--rate"), "{e}");
}

#[test]
fn simulator_latencies_and_sizes_are_bounded() {
    let e = err(&format!(
        "{OK_LOAD}\n[sim.capacity]\nlatency_per_in_flight = \"100000h\"\n"
    ));
    assert_eq!(at(&e), (7, "sim.capacity.latency_per_in_flight"), "{e}");
    assert!(e.contains("at most 1h"), "{e}");
    let e = err(&format!(
        "{OK_LOAD}\n[[sim.faults.windows]]\nto = \"1s\"\ncapacity_factor = 1e-300\n"
    ));
    assert_eq!(at(&e), (8, "sim.faults.windows[0].capacity_factor"), "{e}");
    let e = err(&format!(
        "{OK_LOAD}\n[sim]\nmax_body_bytes = 9223372036854775807\n"
    ));
    assert_eq!(at(&e), (7, "sim.max_body_bytes"), "{e}");
}

#[test]
fn policy_and_abort_durations_are_bounded() {
    let e = err(&format!(
        "compare = [\"slow\"]\n{OK_LOAD}\n[policies.slow]\nrequest_timeout = \"9300000000000000000s\"\n"
    ));
    assert_eq!(at(&e), (8, "policies.slow.request_timeout"), "{e}");
    let e = err(&format!(
        "{OK_LOAD}\n[[safety.abort]]\nwhen = \"operation_p99 > 9300000000000000000s\"\nfor = \"5s\"\n"
    ));
    assert_eq!(at(&e), (7, "safety.abort[0].when"), "{e}");
    assert!(e.contains("at most 30days"), "{e}");
}

#[test]
fn unknown_http_method_names_the_step() {
    let e = err(&format!(
        "{OK_LOAD}\n[journey]\n[[journey.steps]]\nname = \"a\"\npath = \"/a\"\n\n[[journey.steps]]\nname = \"b\"\nmethod = \"PSOT\"\npath = \"/b\"\n"
    ));
    assert_eq!(at(&e), (13, "journey.steps[1].method"), "{e}");
    assert!(e.contains("`PSOT` is not an HTTP method"), "{e}");
}

/// A scratch directory for file-kind tests, removed on drop.
struct Scratch(std::path::PathBuf);
impl Scratch {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("stampede-scen-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }
    /// Writes `s.toml` using `csv` as its users file and returns its path.
    fn scenario_with_users(&self, csv: &Path) -> std::path::PathBuf {
        let p = self.0.join("s.toml");
        std::fs::write(
            &p,
            format!("[users]\ncsv = \"{}\"\n{OK_LOAD}", csv.display()),
        )
        .unwrap();
        p
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `stampede validate` on `scenario`, killed if it takes longer than 20 s.
fn validate_binary(scenario: &Path) -> (Option<i32>, String) {
    use std::process::Stdio;
    let mut child = crate::common::stampede()
        .arg("validate")
        .arg(scenario)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let Some(status) = crate::common::wait_exit(&mut child, std::time::Duration::from_secs(20))
    else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("`stampede validate {}` hung", scenario.display());
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_fifo_as_users_csv_is_refused_without_blocking() {
    let d = Scratch::new("fifo");
    let fifo = d.0.join("users.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let scenario = d.scenario_with_users(&fifo);
    let (code, stderr) = validate_binary(&scenario);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("s.toml:2:1: `users.csv`") && stderr.contains("not a regular file"),
        "{stderr}"
    );
}

#[test]
fn a_device_as_users_csv_is_refused() {
    let d = Scratch::new("dev");
    let scenario = d.scenario_with_users(Path::new("/dev/zero"));
    let (code, stderr) = validate_binary(&scenario);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

#[test]
fn an_oversized_users_csv_is_refused_before_reading() {
    let d = Scratch::new("big");
    let csv = d.0.join("users.csv");
    // Sparse: no disk is used, and nothing is read.
    let f = std::fs::File::create(&csv).unwrap();
    f.set_len(scenario::bounds::MAX_USERS_CSV_BYTES + 1)
        .unwrap();
    let e = scenario::load(&d.scenario_with_users(&csv), &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`users.csv`") && e.contains("at most 256 MiB"),
        "{e}"
    );
}

#[test]
fn dev_zero_as_the_scenario_file_is_a_read_error() {
    let e = scenario::load(Path::new("/dev/zero"), &Overrides::default()).unwrap_err();
    assert!(matches!(e, ScenarioError::Read { .. }), "{e}");
    assert!(e.to_string().contains("16 MiB"), "{e}");
}

#[test]
fn the_scenario_reference_lists_the_maxima_the_code_checks() {
    use scenario::bounds as b;
    let doc = std::fs::read_to_string("docs/scenarios.md").unwrap();
    let limits = doc
        .split("Limits checked by `validate`")
        .nth(1)
        .expect("docs/scenarios.md: the limits table");
    let row = |key: &str| {
        limits
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("docs/scenarios.md has no limits row for {key}"))
            .to_string()
    };
    let grouped = stampede::report::format::count;
    for (key, want) in [
        (
            "`drain`",
            format!("{} days", b::MAX_DURATION.as_secs() / 86_400),
        ),
        (
            "simulator service times",
            format!("{} hour", b::MAX_SIM_LATENCY.as_secs() / 3600),
        ),
        ("`--max-rps`", format!("{}/s", grouped(b::MAX_RATE as u64))),
        ("`target.connections`", grouped(b::MAX_CONNECTIONS as u64)),
        ("`load.max_in_flight`", grouped(b::MAX_IN_FLIGHT as u64)),
        ("`users.count`", grouped(b::MAX_USERS)),
        ("`load.iterations`", grouped(b::MAX_ITERATIONS)),
        ("`journey.quantity`", grouped(u64::from(b::MAX_QUANTITY))),
        ("`load.stages` entries", grouped(b::MAX_STAGES as u64)),
        ("`journey.steps` entries", grouped(b::MAX_STEPS as u64)),
        ("`threshold`", grouped(u64::from(b::MAX_COUNT))),
        ("`max_tokens`", grouped(b::MAX_BUDGET_TOKENS as u64)),
        ("`capacity_factor`", b::MIN_CAPACITY_FACTOR.to_string()),
        (
            "`sim.max_body_bytes`",
            format!("{} MiB", b::MAX_SIM_BODY_BYTES >> 20),
        ),
        ("users CSV", format!("{} MiB", b::MAX_USERS_CSV_BYTES >> 20)),
        ("`ca_file`", format!("{} MiB", b::MAX_FILE_BYTES >> 20)),
    ] {
        let r = row(key);
        assert!(
            r.contains(&want),
            "docs/scenarios.md row for {key} should say {want}: {r}"
        );
    }
}

#[test]
fn names_that_are_paths_or_collide_are_refused_where_written() {
    let fleets = |a: &str, b: &str| {
        format!(
            "{OK_LOAD}\n[[fleets]]\nname = \"{a}\"\npolicy = \"compliant\"\nshare = 0.5\n\n[[fleets]]\nname = \"{b}\"\npolicy = \"naive\"\nshare = 0.5\n"
        )
    };
    let e = err(&fleets("ok", "../../x"));
    assert!(e.starts_with("bad.toml:"), "{e}");
    assert!(
        e.contains("fleets[1].name") && e.contains("ASCII letters"),
        "{e}"
    );
    let e = err(&fleets("Buyers", "buyers"));
    assert!(e.contains("differ only in case"), "{e}");
    let e = err(&fleets("a.b", "c"));
    assert!(e.contains("fleets[0].name") && e.contains("'.'"), "{e}");
    let e = err(&format!(
        "[policies.\"naïve\"]\npreset = \"naive\"\n{OK_LOAD}"
    ));
    assert!(e.contains("ASCII letters"), "{e}");
    let e = err(&format!(
        "{OK_LOAD}\n[journey]\n[[journey.steps]]\nname = \"a/b\"\nmethod = \"GET\"\npath = \"/\"\n"
    ));
    assert!(
        e.contains("journey.steps[0].name") && e.contains("'/'"),
        "{e}"
    );
}

#[test]
fn fleets_are_bounded_and_duplicates_named_in_linear_time() {
    let many: Vec<String> = (0..1001).map(|i| format!("\"f{i}\"")).collect();
    let e = err(&format!("compare = [{}]\n{OK_LOAD}", many.join(", ")));
    assert!(
        e.contains("1001 fleets") && e.contains("at most 1000"),
        "{e}"
    );
    let e = err(&format!("compare = [\"naive\", \"naive\"]\n{OK_LOAD}"));
    assert!(e.contains("duplicate compare entry `naive`"), "{e}");
    // 100,001 fleets: refused by the bound, quickly, with the key named.
    let mut src = String::from(OK_LOAD);
    for i in 0..100_001 {
        src.push_str(&format!(
            "\n[[fleets]]\nname = \"c{i}\"\npolicy = \"naive\"\nshare = 0.00001\n"
        ));
    }
    let e = err(&src);
    assert!(e.contains("`fleets`") || e.contains("fleets:"), "{e}");
    assert!(e.contains("100001 fleets"), "{e}");
}
