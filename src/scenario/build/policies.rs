//! `[policies.*]`, `compare` and `[[fleets]]`: which retry policies run,
//! one fleet after another or mixed in one fleet (and `--policy`).

use super::{Ctx, Overrides};
use crate::policy::{self, PolicyOverrides, RetryPolicy};
use crate::scenario::model::ScenarioFile;
use crate::scenario::plan::{Fleet, Round};
use crate::scenario::{ScenarioError, bounds};
use std::collections::BTreeMap;

pub(super) fn build_policies(
    cx: &Ctx,
    table: &BTreeMap<String, PolicyOverrides>,
) -> Result<BTreeMap<String, RetryPolicy>, ScenarioError> {
    let mut out = BTreeMap::new();
    for (name, ov) in table {
        crate::names::check(name)
            .map_err(|m| cx.err(&format!("policies.{}", crate::names::toml_key(name)), m))?;
        let p = ov.build(name).map_err(|e| policy_error(cx, name, &e))?;
        check_bounds(cx, name, &p)?;
        check_attempt_header(cx, name, &p)?;
        out.insert(name.clone(), p);
    }
    Ok(out)
}

/// What a preset cannot get wrong but an override can: durations, the
/// breaker threshold and the budget size within the scenario maxima.
fn check_bounds(cx: &Ctx, name: &str, p: &RetryPolicy) -> Result<(), ScenarioError> {
    let key = |k: &str| format!("policies.{name}.{k}");
    let mut durations = vec![
        ("base_delay", p.base_delay),
        ("max_delay", p.max_delay),
        ("max_retry_after", p.max_retry_after),
        ("request_timeout", p.request_timeout),
    ];
    durations.extend(p.abandon_after.map(|d| ("abandon_after", d)));
    durations.extend(p.throttled_base_delay.map(|d| ("throttled_base_delay", d)));
    durations.extend(p.retry_after_clamp.map(|d| ("retry_after_clamp", d)));
    durations.extend(p.breaker.map(|b| ("breaker.open_for", b.open_for)));
    for (k, d) in durations {
        cx.within(&key(k), bounds::duration(d))?;
    }
    if let Some(b) = p.breaker {
        cx.within(
            &key("breaker.threshold"),
            bounds::count(b.threshold, bounds::MAX_COUNT),
        )?;
    }
    if let Some(policy::Budget {
        kind: policy::BudgetKind::TokenBucket { max_tokens, .. },
        ..
    }) = p.budget
    {
        cx.within(
            &key("budget.max_tokens"),
            bounds::count(max_tokens, bounds::MAX_BUDGET_TOKENS),
        )?;
    }
    Ok(())
}

/// A policy's error at the key it names, inside `[policies.NAME]` (the
/// table's header when the key is not written there: it came from the
/// preset).
fn policy_error(cx: &Ctx, name: &str, e: &policy::PolicyError) -> ScenarioError {
    let key = match e {
        policy::PolicyError::Invalid { key, .. } => format!("policies.{name}.{key}"),
        policy::PolicyError::UnknownPreset(..) => format!("policies.{name}.preset"),
    };
    cx.err(&key, e.to_string())
}

/// The attempt header goes on every attempt beside stampede's own: not a
/// framing header, not a credential, not the operation id.
fn check_attempt_header(cx: &Ctx, name: &str, p: &RetryPolicy) -> Result<(), ScenarioError> {
    let Some(h) = &p.attempt_header else {
        return Ok(());
    };
    let key = format!("policies.{name}.attempt_header");
    let n = h.0.as_str();
    if let Some(msg) = super::step_parts::framing_header(n) {
        return Err(cx.err(&key, msg));
    }
    if [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-stampede-op",
    ]
    .contains(&n)
    {
        return Err(cx.err(
            &key,
            format!("`{n}` is a header stampede sends itself; name another"),
        ));
    }
    Ok(())
}

fn resolve_policy(
    cx: &Ctx,
    key: &str,
    name: &str,
    custom: &BTreeMap<String, RetryPolicy>,
) -> Result<RetryPolicy, ScenarioError> {
    if let Some(p) = custom.get(name) {
        return Ok(p.clone());
    }
    policy::preset(name).map_err(|e| cx.err(key, e.to_string()))
}

pub(super) fn build_rounds(
    cx: &Ctx,
    f: &ScenarioFile,
    custom: &BTreeMap<String, RetryPolicy>,
    ov: &Overrides,
) -> Result<Vec<Round>, ScenarioError> {
    if let Some(name) = &ov.policy {
        crate::names::check(name).map_err(|m| cx.err("compare", format!("--policy: {m}")))?;
        let p = resolve_policy(cx, "compare", name, custom)?;
        return Ok(vec![Round {
            fleets: vec![Fleet {
                name: name.clone(),
                policy: p,
                share: 1.0,
            }],
        }]);
    }
    if !f.compare.is_empty() && !f.fleets.is_empty() {
        return Err(cx.err(
            "compare",
            "use `compare` (one fleet per policy, one after another) or `[[fleets]]` (mixed fleet), not both",
        ));
    }
    if f.fleets.len().max(f.compare.len()) > bounds::MAX_FLEETS {
        let key = if f.fleets.is_empty() {
            "compare"
        } else {
            "fleets"
        };
        return Err(cx.err(
            key,
            format!(
                "{} fleets; a scenario runs at most {}",
                f.fleets.len().max(f.compare.len()),
                bounds::MAX_FLEETS
            ),
        ));
    }
    if !f.fleets.is_empty() {
        let rounds = vec![mixed_fleet(cx, f, custom)?];
        all_used(cx, custom, &rounds)?;
        return Ok(rounds);
    }
    let list = if f.compare.is_empty() {
        vec!["compliant".to_string()]
    } else {
        f.compare.clone()
    };
    let mut names = Names::default();
    let mut rounds = Vec::new();
    for name in &list {
        names
            .add(name, "compare entry")
            .map_err(|m| cx.err("compare", m))?;
        let p = resolve_policy(cx, "compare", name, custom)?;
        rounds.push(Round {
            fleets: vec![Fleet {
                name: name.clone(),
                policy: p,
                share: 1.0,
            }],
        });
    }
    all_used(cx, custom, &rounds)?;
    Ok(rounds)
}

/// `[[fleets]]`: one round of fleets side by side, their shares adding up to 1.
fn mixed_fleet(
    cx: &Ctx,
    f: &ScenarioFile,
    custom: &BTreeMap<String, RetryPolicy>,
) -> Result<Round, ScenarioError> {
    let mut fleets = Vec::new();
    let mut names = Names::default();
    let mut total = 0.0;
    for (i, c) in f.fleets.iter().enumerate() {
        let key = |k: &str| format!("fleets[{i}].{k}");
        if !(c.share > 0.0 && c.share <= 1.0) {
            return Err(cx.err(&key("share"), "must be in (0, 1]"));
        }
        names
            .add(&c.name, "fleet")
            .map_err(|m| cx.err(&key("name"), m))?;
        total += c.share;
        let pname = c.policy.clone().unwrap_or_else(|| c.name.clone());
        let p = resolve_policy(cx, &key("policy"), &pname, custom)?;
        fleets.push(Fleet {
            name: c.name.clone(),
            policy: p,
            share: c.share,
        });
    }
    if (total - 1.0).abs() > 1e-6 {
        return Err(cx.err("fleets", format!("shares add up to {total}, not 1")));
    }
    Ok(Round { fleets })
}

/// Fleet names seen so far: each follows [`crate::names`], appears once,
/// and differs from the others in more than case (in linear time).
#[derive(Default)]
struct Names(std::collections::HashMap<String, String>);

impl Names {
    fn add(&mut self, name: &str, what: &str) -> Result<(), String> {
        crate::names::check(name)?;
        match self.0.get(&name.to_ascii_lowercase()) {
            Some(prev) if prev == name => Err(format!("duplicate {what} `{name}`")),
            Some(prev) => Err(format!(
                "`{prev}` and `{name}` differ only in case and would share report files on some file systems"
            )),
            None => {
                self.0.insert(name.to_ascii_lowercase(), name.to_string());
                Ok(())
            }
        }
    }
}

/// A `[policies.NAME]` that no fleet runs is a mistake (a typo in
/// `compare`, a fleet that names a preset instead): an error naming it,
/// never a silent run of something else. `--policy` picks one on purpose,
/// so it is not checked there.
fn all_used(
    cx: &Ctx,
    custom: &BTreeMap<String, RetryPolicy>,
    rounds: &[Round],
) -> Result<(), ScenarioError> {
    let used = |name: &str| {
        rounds
            .iter()
            .flat_map(|r| &r.fleets)
            .any(|c| c.policy.name == name)
    };
    match custom.keys().find(|n| !used(n)) {
        Some(name) => Err(cx.err(
            &format!("policies.{name}"),
            format!(
                "policy `{name}` is defined but no fleet runs it: name it in `compare` or a fleet's `policy` (or run it with --policy {name})"
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn fleets(p: &crate::scenario::Plan) -> Vec<Vec<(String, String, f64)>> {
        p.rounds
            .iter()
            .map(|r| {
                r.fleets
                    .iter()
                    .map(|c| (c.name.clone(), c.policy.name.clone(), c.share))
                    .collect()
            })
            .collect()
    }

    fn c(name: &str, policy: &str, share: f64) -> (String, String, f64) {
        (name.into(), policy.into(), share)
    }

    #[test]
    fn a_policy_no_fleet_runs_is_an_error_naming_it() {
        let src =
            format!("{OK_LOAD}compare = [\"compliant\"]\n[policies.fast]\nbase_delay = \"10ms\"\n");
        let src = src.replacen("[load]", "compare = [\"compliant\"]\n[load]", 1);
        let src = src.replacen("compare = [\"compliant\"]\n[policies", "[policies", 1);
        let (line, _, key, msg) = invalid(&src);
        assert_eq!(key, "policies.fast", "{msg}");
        assert_eq!(
            line,
            src.lines().position(|l| l == "[policies.fast]").unwrap() + 1
        );
        assert!(msg.contains("no fleet runs it"), "{msg}");
        // Run by --policy: chosen on purpose.
        let ov = Overrides {
            policy: Some("compliant".into()),
            ..Overrides::default()
        };
        assert!(plan_with(&src, &ov).is_ok());
    }

    #[test]
    fn default_is_one_compliant_round() {
        assert_eq!(
            fleets(&plan(OK_LOAD)),
            vec![vec![c("compliant", "compliant", 1.0)]]
        );
    }

    #[test]
    fn compare_runs_one_round_per_policy() {
        let p = plan(&format!("compare = [\"compliant\", \"naive\"]\n{OK_LOAD}"));
        assert_eq!(
            fleets(&p),
            vec![
                vec![c("compliant", "compliant", 1.0)],
                vec![c("naive", "naive", 1.0)]
            ]
        );
        let (line, _, key, msg) = invalid(&format!("compare = [\"naive\", \"naive\"]\n{OK_LOAD}"));
        assert_eq!((line, key.as_str()), (1, "compare"));
        assert!(msg.contains("duplicate compare entry"), "{msg}");
        let (_, _, key, msg) = invalid(&format!("compare = [\"yolo\"]\n{OK_LOAD}"));
        assert_eq!(key, "compare");
        assert!(msg.contains("yolo") && msg.contains("naive"), "{msg}");
    }

    #[test]
    fn fleets_mix_in_one_round_and_default_their_policy_to_the_name() {
        let p = plan(&format!(
            "{OK_LOAD}\n[[fleets]]\nname = \"compliant\"\nshare = 0.75\n\n[[fleets]]\nname = \"rude\"\npolicy = \"naive\"\nshare = 0.25\n"
        ));
        assert_eq!(
            fleets(&p),
            vec![vec![
                c("compliant", "compliant", 0.75),
                c("rude", "naive", 0.25)
            ]]
        );
    }

    #[test]
    fn the_older_cohorts_table_is_read_as_fleets_and_errors_point_at_it() {
        let src = format!(
            "{OK_LOAD}\n[[cohorts]]\nname = \"compliant\"\nshare = 0.75\n\n[[cohorts]]\nname = \"rude\"\npolicy = \"naive\"\nshare = 0.25\n"
        );
        assert_eq!(
            fleets(&plan(&src)),
            vec![vec![
                c("compliant", "compliant", 0.75),
                c("rude", "naive", 0.25)
            ]]
        );
        let (line, _, key, _) = invalid(&src.replace("0.25", "1.5"));
        assert_eq!((line, key.as_str()), (13, "fleets[1].share"));
    }

    #[test]
    fn fleet_errors_point_at_the_fleet() {
        let two = |a: f64, b: f64| {
            format!(
                "{OK_LOAD}\n[[fleets]]\nname = \"compliant\"\nshare = {a}\n\n[[fleets]]\nname = \"naive\"\nshare = {b}\n"
            )
        };
        let (line, _, key, msg) = invalid(&two(0.5, 0.2));
        assert_eq!((line, key.as_str()), (6, "fleets"));
        assert!(msg.contains("0.7"), "{msg}");
        let (line, _, key, _) = invalid(&two(0.5, 1.5));
        assert_eq!((line, key.as_str()), (12, "fleets[1].share"));
        let (_, _, key, _) = invalid(&two(0.5, 0.5).replace("\"naive\"", "\"compliant\""));
        assert_eq!(key, "fleets[1].name");
        let (_, _, key, _) = invalid(&format!("compare = [\"naive\"]\n{}", two(0.5, 0.5)));
        assert_eq!(key, "compare");
    }

    #[test]
    fn custom_policies_are_built_and_referenced() {
        let p = plan(&format!(
            "compare = [\"mine\"]\n{OK_LOAD}\n[policies.mine]\npreset = \"compliant\"\nbase_delay = \"50ms\"\n"
        ));
        assert_eq!(p.rounds[0].fleets[0].name, "mine");
        assert_eq!(
            p.rounds[0].fleets[0].policy.base_delay,
            std::time::Duration::from_millis(50)
        );
        let (line, _, key, msg) = invalid(&format!(
            "compare = [\"mine\"]\n{OK_LOAD}\n[policies.mine]\npreset = \"compliant\"\nbase_delay = \"10s\"\nmax_delay = \"1s\"\n"
        ));
        // At the key the policy names, not the table's header (line 7).
        assert_eq!((line, key.as_str()), (10, "policies.mine.max_delay"));
        assert!(msg.contains("max_delay"), "{msg}");
    }

    #[test]
    fn policy_durations_and_sizes_are_bounded() {
        let mine = |body: &str| {
            format!(
                "compare = [\"mine\"]\n{OK_LOAD}\n[policies.mine]\npreset = \"compliant\"\n{body}\n"
            )
        };
        for (body, want_key, want) in [
            (
                "request_timeout = \"9300000000000000000s\"",
                "policies.mine.request_timeout",
                "at most 30days",
            ),
            (
                "max_delay = \"31days\"",
                "policies.mine.max_delay",
                "at most 30days",
            ),
            (
                "max_retry_after = \"31days\"",
                "policies.mine.max_retry_after",
                "at most 30days",
            ),
            (
                "abandon_after = \"31days\"",
                "policies.mine.abandon_after",
                "at most 30days",
            ),
            (
                "breaker = { open_for = \"31days\" }",
                "policies.mine.breaker.open_for",
                "at most 30days",
            ),
            (
                "breaker = { threshold = 4000000000 }",
                "policies.mine.breaker.threshold",
                "at most 100000000",
            ),
            (
                "budget = { max_tokens = 1e300, token_ratio = 0.1 }",
                "policies.mine.budget.max_tokens",
                "at most 1000000000",
            ),
        ] {
            let (line, col, key, msg) = invalid(&mine(body));
            assert_eq!((line, col, key.as_str()), (9, 1, want_key), "{body}");
            assert!(msg.contains(want), "{body}: {msg}");
        }
    }

    #[test]
    fn policy_override_replaces_every_fleet() {
        let ov = Overrides {
            policy: Some("naive".into()),
            ..Overrides::default()
        };
        let p = plan_with(
            &format!("compare = [\"compliant\", \"naive\"]\n{OK_LOAD}"),
            &ov,
        )
        .unwrap();
        assert_eq!(fleets(&p), vec![vec![c("naive", "naive", 1.0)]]);
    }
}
