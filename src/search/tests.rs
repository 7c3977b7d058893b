use super::*;
use crate::scenario::Arrivals;

/// A report of one fleet whose journeys started `started` times.
fn report_with(fleet: &str, started: u64, status: RunStatus) -> Report {
    let mut r = crate::sample::sample_report();
    r.results.truncate(1);
    r.results[0].name = fleet.into();
    r.results[0].counts.journeys.started = started;
    r.status = status;
    r
}

fn users(plan: &Plan) -> u64 {
    match plan.load.arrivals {
        Arrivals::TicketDrop { users, .. } | Arrivals::Closed { users, .. } => users,
        Arrivals::Open { .. } => 0,
    }
}

fn path() -> &'static Path {
    Path::new("scenarios/drop.toml")
}

#[test]
fn keys_are_read_with_their_kind_and_errors_name_file_and_key() {
    let src = "[load]\nmodel = \"open\"\nstages = [{ duration = \"1s\", rate = 2.5 }]\nusers = 7\n";
    let v = read_key(src, path(), "load.users").unwrap();
    assert_eq!((v.start, v.integer), (7.0, true));
    let v = read_key(src, path(), "load.stages.0.rate").unwrap();
    assert_eq!((v.start, v.integer), (2.5, false));
    for (key, says) in [
        ("load.nope", "has no `load.nope`"),
        ("load.model", "not a number"),
        ("load.stages.3.rate", "has no"),
        ("load", "not a number"),
    ] {
        let e = read_key(src, path(), key).unwrap_err().to_string();
        assert!(e.starts_with("scenarios/drop.toml: `--vary "), "{e}");
        assert!(e.contains(says), "{key}: {e}");
    }
}

#[test]
fn a_value_is_set_with_the_kind_it_had() {
    let src = "[load]\nusers = 7\nstages = [{ rate = 2.5 }]\n";
    let users = read_key(src, path(), "load.users").unwrap();
    let t: toml::Table = with_value(src, &users, 1234.0).unwrap().parse().unwrap();
    assert_eq!(t["load"]["users"].as_integer(), Some(1234));
    let rate = read_key(src, path(), "load.stages.0.rate").unwrap();
    let t: toml::Table = with_value(src, &rate, 0.75).unwrap().parse().unwrap();
    assert_eq!(t["load"]["stages"][0]["rate"].as_float(), Some(0.75));
}

fn plan() -> Plan {
    crate::scenario::parse(TWO_FLEETS, path(), &Overrides::default()).unwrap()
}

#[test]
fn a_condition_without_a_fleet_applies_to_every_fleet() {
    let c = conditions(&plan(), "journey_success_rate < 99%").unwrap();
    let names: Vec<(&str, &str)> = c
        .iter()
        .map(|(f, g)| (f.as_str(), g.expr.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("compliant", "compliant.journey_success_rate < 99%"),
            ("naive", "naive.journey_success_rate < 99%")
        ]
    );
    let c = conditions(&plan(), "naive.amplification > 2").unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].0, "naive");
    for bad in [
        "nonsense",
        "amplification <= baseline * 1.1",
        "journeys.started >",
    ] {
        let e = conditions(&plan(), bad).unwrap_err().to_string();
        assert!(e.starts_with(&format!("`--until {bad}`")), "{e}");
    }
}

#[test]
fn a_load_fails_when_the_condition_holds_cannot_be_measured_or_the_run_did_not_complete() {
    let c = conditions(&plan(), "journeys.started > 50").unwrap();
    let g = &c[0].1;
    let p = judge(40.0, g, &report_with("compliant", 40, RunStatus::Completed));
    assert!(p.survived, "{p:?}");
    assert_eq!(
        (p.measured, p.measured_written.as_str()),
        (Some(40.0), "40")
    );
    assert!(!judge(60.0, g, &report_with("compliant", 60, RunStatus::Completed)).survived);
    // Aborted: failed, whatever it measured.
    let p = judge(40.0, g, &report_with("compliant", 40, RunStatus::Aborted));
    assert!(!p.survived);
    assert_eq!(p.status, "aborted");
    // Another fleet's report: nothing measured, failed.
    let p = judge(40.0, g, &report_with("naive", 40, RunStatus::Completed));
    assert!(!p.survived);
    assert!(p.measured.is_none());
    assert!(p.measured_written.contains("compliant"), "{p:?}");
}

const TWO_FLEETS: &str = "compare = [\"compliant\", \"naive\"]\n[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"1s\"\n";

/// Both fleets of [`TWO_FLEETS`] over `load.users` from 10, until more than
/// 37 journeys started, to neighbouring whole numbers.
fn spec() -> Spec<'static> {
    Spec {
        src: TWO_FLEETS,
        path: path(),
        vary: read_key(TWO_FLEETS, path(), "load.users").unwrap(),
        until: "journeys.started > 37",
        limits: Limits {
            min: 1.0,
            max: 1000.0,
            precision: 0.0,
            integer: true,
            max_runs: 30,
        },
        overrides: Overrides::default(),
        clock: "real",
    }
}

#[tokio::test]
async fn every_fleet_is_searched_on_its_own_plan() {
    let spec = spec();
    let mut seen = Vec::new();
    let r = search(&spec, |plan: Plan, fleet: &str, load: f64| {
        let fleets = plan.fleet_names();
        assert_eq!((fleets[0].as_str(), load), (fleet, users(&plan) as f64));
        let users = users(&plan);
        seen.push((fleets.clone(), users));
        async move {
            // A target that takes every user: journeys.started = users.
            Ok(report_with(&fleets[0], users, RunStatus::Completed))
        }
    })
    .await
    .unwrap();
    assert_eq!(r.fleets.len(), 2);
    for f in &r.fleets {
        assert_eq!(
            (f.largest_surviving, f.smallest_failing),
            (Some(37.0), Some(38.0)),
            "{f:?}"
        );
        assert!(!f.out_of_runs);
    }
    // Each run carried one fleet only.
    assert!(seen.iter().all(|(f, _)| f.len() == 1));
    assert_eq!(seen[0], (vec!["compliant".to_string()], 10));
    assert_eq!(seen[1], (vec!["compliant".to_string()], 20));
    let text = console_table(&r);
    assert!(
        text.contains("survives load.users = 37; fails at 38"),
        "{text}"
    );
    let page = html(&r).unwrap();
    assert!(page.contains("<svg") && page.contains("largest surviving load.users"));
    let j: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
    assert_eq!(j["fleets"][1]["largest_surviving"], 37.0);
}

#[tokio::test]
async fn a_stop_ends_the_search_with_what_was_measured() {
    let spec = spec();
    let mut runs = 0;
    let r = search(&spec, |plan: Plan, _: &str, _: f64| {
        runs += 1;
        let n = runs;
        let fleet = plan.fleet_names()[0].clone();
        async move {
            if n == 3 {
                return Err(NoReport::Stopped);
            }
            if n == 2 {
                return Err(NoReport::Failed("cannot bind".into()));
            }
            Ok(report_with(&fleet, 10, RunStatus::Completed))
        }
    })
    .await
    .unwrap();
    assert!(r.stopped);
    assert_eq!(runs, 3);
    assert_eq!(r.fleets.len(), 1);
    let f = &r.fleets[0];
    assert_eq!(
        (f.largest_surviving, f.smallest_failing),
        (Some(10.0), Some(20.0))
    );
    assert_eq!(f.probes[1].measured_written, "cannot bind");
    assert!(console_table(&r).contains("stopped"));
}

#[tokio::test]
async fn a_load_the_scenario_cannot_take_ends_the_search_without_failing_it() {
    let src = "compare = [\"compliant\"]\n[load]\nmodel = \"ticket-drop\"\nusers = 10000\nover = \"1s\"\n";
    let spec = Spec {
        src,
        vary: read_key(src, path(), "load.users").unwrap(),
        until: "journeys.started > 1000000",
        limits: Limits {
            max: 1e9,
            ..spec().limits
        },
        ..spec()
    };
    let r = search(&spec, |plan: Plan, _: &str, _: f64| {
        let fleet = plan.fleet_names()[0].clone();
        let n = users(&plan);
        async move { Ok(report_with(&fleet, n, RunStatus::Completed)) }
    })
    .await
    .unwrap();
    let f = &r.fleets[0];
    // 40,000 arrivals in 1 s pass the 20,000/s attempts cap: not run.
    assert_eq!(
        (f.largest_surviving, f.smallest_failing),
        (Some(20000.0), None)
    );
    let why = f.invalid_at.as_deref().unwrap();
    assert!(why.starts_with("load.users = 40000: "), "{why}");
    assert!(why.contains("attempt cap"), "{why}");
    assert!(console_table(&r).contains("not valid at load.users = 40000"));
}
