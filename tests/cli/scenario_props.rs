//! Property: whatever the numbers and strings in a scenario (huge,
//! negative, fractional where an integer is due, random text), and whatever
//! the command-line overrides, validation returns a plan or an error and
//! never panics; a plan it returns is safe for the engine's first arithmetic.

use proptest::prelude::*;
use stampede::engine::schedule::Schedule;
use stampede::scenario::{self, Overrides};
use std::path::Path;

/// What a key holds when written correctly.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Float,
    Dur,
    Text,
}

/// (table header or "" for the top level, key, kind, value in the base
/// scenario or "" for absent). The base is valid for every load model.
const KEYS: &[(&str, &str, Kind, &str)] = &[
    ("", "seed", Kind::Int, "7"),
    ("[target]", "timeout", Kind::Dur, ""),
    ("[target]", "connections", Kind::Int, "8"),
    ("[target]", "keep_alive", Kind::Dur, ""),
    ("[load]", "users", Kind::Int, "5"),
    ("[load]", "over", Kind::Dur, "\"1s\""),
    ("[load]", "iterations", Kind::Int, ""),
    ("[load]", "think_time", Kind::Dur, ""),
    ("[load]", "duration", Kind::Dur, ""),
    ("[load]", "drain", Kind::Dur, "\"2s\""),
    ("[load]", "max_in_flight", Kind::Int, ""),
    ("[[load.stages]]", "duration", Kind::Dur, "\"1s\""),
    ("[[load.stages]]", "rate", Kind::Float, "2.0"),
    ("[[load.stages]]", "from", Kind::Float, ""),
    ("[[load.stages]]", "to", Kind::Float, ""),
    // A second stage ("#2" keeps it a table of its own here).
    ("[[load.stages]]#2", "duration", Kind::Dur, "\"1s\""),
    ("[[load.stages]]#2", "rate", Kind::Float, "1.0"),
    ("[users]", "count", Kind::Int, ""),
    ("[users]", "prefix", Kind::Text, ""),
    ("[journey]", "quantity", Kind::Int, "1"),
    ("[[journey.steps]]", "method", Kind::Text, "\"GET\""),
    ("[[journey.steps]]", "think_time", Kind::Dur, ""),
    ("[policies.p]", "base_delay", Kind::Dur, "\"10ms\""),
    ("[policies.p]", "max_delay", Kind::Dur, "\"1s\""),
    ("[policies.p]", "request_timeout", Kind::Dur, "\"1s\""),
    ("[policies.p]", "max_retry_after", Kind::Dur, ""),
    ("[policies.p]", "abandon_after", Kind::Dur, ""),
    ("[policies.p]", "max_resubmits", Kind::Int, ""),
    ("[safety]", "max_rps", Kind::Float, ""),
    (
        "[[safety.abort]]",
        "when",
        Kind::Text,
        "\"error_rate > 50%\"",
    ),
    ("[[safety.abort]]", "for", Kind::Dur, "\"5s\""),
    ("[sim]", "reservation_ttl", Kind::Dur, ""),
    ("[sim]", "sweep_interval", Kind::Dur, ""),
    ("[sim]", "max_body_bytes", Kind::Int, ""),
    ("[sim]", "max_tickets_per_user", Kind::Int, ""),
    ("[sim.capacity]", "workers", Kind::Int, ""),
    ("[sim.capacity]", "queue", Kind::Int, ""),
    ("[sim.capacity]", "service_time", Kind::Dur, ""),
    ("[sim.capacity]", "latency_per_in_flight", Kind::Dur, ""),
    ("[sim.rate_limit]", "global_per_second", Kind::Int, ""),
    ("[sim.faults]", "extra_latency", Kind::Dur, ""),
    ("[sim.faults]", "http_date_retry_after", Kind::Dur, ""),
    ("[[sim.faults.windows]]", "to", Kind::Dur, "\"1s\""),
    (
        "[[sim.faults.windows]]",
        "capacity_factor",
        Kind::Float,
        "0.5",
    ),
];

fn int() -> impl Strategy<Value = String> {
    prop_oneof![
        0i64..20,
        0i64..1_000_000,
        any::<i64>(),
        Just(i64::MAX),
        Just(1i64 << 61),
        -5i64..0,
    ]
    .prop_map(|n| n.to_string())
}

fn float() -> impl Strategy<Value = String> {
    prop_oneof![
        (0.0f64..100.0).boxed(),
        any::<f64>().boxed(),
        Just(1e300).boxed(),
        Just(f64::MIN_POSITIVE).boxed(),
        Just(-1.0).boxed(),
    ]
    .prop_map(|f| {
        if f.is_nan() {
            "nan".into()
        } else if f.is_infinite() {
            if f > 0.0 { "inf".into() } else { "-inf".into() }
        } else {
            format!("{f:?}")
        }
    })
}

fn text(s: String) -> String {
    toml::Value::String(s).to_string()
}

fn dur() -> impl Strategy<Value = String> {
    let unit = prop::sample::select(vec!["ns", "ms", "s", "m", "h", "days", "w", "y"]);
    prop_oneof![
        (0u64..100, unit.clone()).prop_map(|(n, u)| format!("{n}{u}")),
        (any::<u64>(), unit).prop_map(|(n, u)| format!("{n}{u}")),
        Just("9.3e18s".to_string()),
        Just("18446744073709551615s".to_string()),
        Just("18446744073709551615s 999999999ns".to_string()),
        Just("584942417355y".to_string()),
        "[0-9a-z ]{0,12}",
    ]
    .prop_map(text)
}

fn words() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "GET",
            "post",
            "PSOT",
            "error_rate > 50%",
            "operation_p99 > 99999999999999999999s",
            "attempt_rate > 1e308",
            "user-",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
    .prop_map(text)
}

fn value(kind: Kind) -> BoxedStrategy<String> {
    let right = match kind {
        Kind::Int => int().boxed(),
        Kind::Float => float().boxed(),
        Kind::Dur => dur().boxed(),
        Kind::Text => words().boxed(),
    };
    // Mostly the right type (to reach the semantic checks), sometimes anything.
    prop_oneof![
        8 => right,
        1 => int(),
        1 => float(),
        1 => dur(),
    ]
    .boxed()
}

/// The base scenario with a few keys (one in twenty) given random
/// values, under a random load model.
fn scenario() -> impl Strategy<Value = String> {
    let model = prop_oneof![
        10 => prop::sample::select(vec!["open", "closed", "ticket-drop"]),
        1 => Just("bogus"),
    ];
    let values: Vec<_> = KEYS
        .iter()
        .map(|&(_, _, k, _)| prop::option::weighted(0.05, value(k)))
        .collect();
    (model, values).prop_map(|(model, values)| {
        // Group by table, in KEYS order; every table is written once.
        let mut tables: Vec<(&str, Vec<String>)> = vec![("", vec![])];
        for (&(table, key, _, base), v) in KEYS.iter().zip(values) {
            if !tables.iter().any(|(t, _)| *t == table) {
                tables.push((table, vec![]));
            }
            let lines = &mut tables.iter_mut().find(|(t, _)| *t == table).unwrap().1;
            if let Some(v) = v.as_deref().or((!base.is_empty()).then_some(base)) {
                lines.push(format!("{key} = {v}"));
            }
        }
        let mut out = String::from("compare = [\"p\", \"naive\"]\n");
        for (table, lines) in tables {
            match table {
                "" => {}
                "[load]" => out.push_str(&format!("\n[load]\nmodel = \"{model}\"\n")),
                "[[journey.steps]]" => {
                    out.push_str("\n[[journey.steps]]\nname = \"s\"\npath = \"/x/${zone}\"\n")
                }
                t => out.push_str(&format!("\n{}\n", t.split('#').next().unwrap_or(t))),
            }
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
        out
    })
}

/// What the engine does first with a plan must not panic either.
fn exercise(plan: &scenario::Plan) -> Result<(), TestCaseError> {
    let start = std::time::Instant::now();
    let end = plan.load.duration.checked_add(plan.load.drain);
    prop_assert!(end.and_then(|d| start.checked_add(d)).is_some());
    let s = Schedule::new(&plan.load, plan.seed);
    let _ = (s.offset_of(0), s.offset_of(1 << 40), s.offset_of(u64::MAX));
    let _ = s.take(3).count();
    let _ = plan.load_summary();
    prop_assert!(serde_json::to_string(plan).is_ok());
    Ok(())
}

/// A command-line number: usually ordinary, often extreme.
fn cli_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.001f64..1000.0,
        any::<f64>(),
        Just(f64::MIN_POSITIVE),
        Just(1e-300),
        Just(1e300),
        Just(f64::NAN),
        Just(-1.0),
    ]
}

fn cli_duration() -> impl Strategy<Value = std::time::Duration> {
    prop_oneof![
        (0u64..100).prop_map(std::time::Duration::from_secs),
        any::<u64>().prop_map(std::time::Duration::from_secs),
        Just(std::time::Duration::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    })]

    #[test]
    fn validate_never_panics(src in scenario()) {
        if let Ok(plan) = scenario::parse(&src, Path::new("p.toml"), &Overrides::default()) {
            exercise(&plan)?;
        }
    }

    #[test]
    fn command_line_overrides_never_panic(
        model in prop::sample::select(vec!["open", "closed", "ticket-drop"]),
        rate in prop::option::of(cli_f64()),
        duration in prop::option::of(cli_duration()),
        max_rps in prop::option::of(cli_f64()),
    ) {
        let src = format!(
            "[load]\nmodel = \"{model}\"\nusers = 5\nover = \"1s\"\n[[load.stages]]\nduration = \"1s\"\nrate = 2\n"
        );
        let ov = Overrides { rate, duration, max_rps, ..Overrides::default() };
        if let Ok(plan) = scenario::parse(&src, Path::new("p.toml"), &ov) {
            exercise(&plan)?;
        }
    }
}

#[test]
fn a_fixed_seed_sweep_never_panics_and_reaches_every_outcome() {
    // The same property over 2,000 reproducible scenarios, and a check
    // that it tests something: a generator that only made syntax errors
    // would "never panic" while reaching no validation at all.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut ok, mut invalid, mut parse) = (0, 0, 0);
    for _ in 0..2000 {
        let src = scenario().new_tree(&mut runner).unwrap().current();
        match scenario::parse(&src, Path::new("p.toml"), &Overrides::default()) {
            Ok(plan) => {
                exercise(&plan).unwrap();
                ok += 1
            }
            Err(scenario::ScenarioError::Invalid { .. }) => invalid += 1,
            Err(_) => parse += 1,
        }
    }
    assert!(
        ok > 100 && invalid > 100 && parse > 100,
        "ok {ok}, invalid {invalid}, parse {parse}"
    );
}

#[test]
fn generated_plans_run_for_a_second_without_a_panic() {
    // Six generated valid plans, each cut to 1 s of arrivals and a short
    // drain, run against the embedded simulator: the engine must finish
    // them and say how, never panic (a panic in a user task would make the
    // status `failed`, never `completed`).
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use stampede::report::RunStatus;
    let mut runner = TestRunner::deterministic();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ov = Overrides {
        duration: Some(std::time::Duration::from_secs(1)),
        ..Overrides::default()
    };
    let mut ran = 0;
    for _ in 0..500 {
        if ran == 6 {
            break;
        }
        let src = scenario().new_tree(&mut runner).unwrap().current();
        let Ok(mut plan) = scenario::parse(&src, Path::new("p.toml"), &ov) else {
            continue;
        };
        plan.load.drain = plan.load.drain.min(std::time::Duration::from_millis(500));
        let out = rt.block_on(stampede::run::execute(
            &plan,
            &stampede::engine::Control::default(),
            None,
        ));
        let report = out.expect("the embedded target starts").report;
        assert_ne!(report.status, RunStatus::Failed, "{src}");
        assert!(report.duration_s < 60.0, "{src}");
        ran += 1;
    }
    assert_eq!(ran, 6, "the generator produced too few valid plans");
}
