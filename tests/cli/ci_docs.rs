//! docs/ci.md stays true: its commands name files and folders that exist,
//! its exit-code table matches the binary's, and its YAML blocks are at
//! least well-formed YAML-ish (sane indentation, `key: value` lines).

use std::path::Path;

const DOC: &str = include_str!("../../docs/ci.md");

/// `(language, body)` of every fenced code block.
fn code_blocks(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for line in md.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("```") {
            match cur.take() {
                Some(block) => out.push(block),
                None => cur = Some((rest.trim().to_string(), String::new())),
            }
        } else if let Some((_, body)) = cur.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    assert!(cur.is_none(), "unclosed code block in docs/ci.md");
    out
}

/// The arguments of every `stampede run ...` command in shell and YAML blocks.
fn run_commands(blocks: &[(String, String)]) -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    for (lang, body) in blocks {
        if !matches!(lang.as_str(), "sh" | "yaml") {
            continue;
        }
        for line in body.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = words
                .windows(2)
                .position(|w| w[0].ends_with("stampede") && w[1] == "run")
            {
                cmds.push(words[i..].iter().map(|w| w.to_string()).collect());
            }
        }
    }
    cmds
}

#[test]
fn run_commands_name_files_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cmds = run_commands(&code_blocks(DOC));
    assert!(
        cmds.len() >= 3,
        "shell, GitHub and GitLab commands: {cmds:?}"
    );
    for cmd in &cmds {
        // stampede run SCENARIO --out DIR
        let scenario = cmd.get(2).expect("a scenario argument");
        assert!(
            root.join(scenario).is_file(),
            "docs/ci.md runs {scenario}, which does not exist"
        );
        let out = cmd
            .iter()
            .position(|w| w == "--out")
            .and_then(|i| cmd.get(i + 1))
            .unwrap_or_else(|| panic!("`--out DIR` in {cmd:?}"));
        assert_eq!(out, "reports/ci", "the artifact paths expect reports/ci");
        // Every flag is one the CLI knows.
        for flag in cmd.iter().filter(|w| w.starts_with("--")) {
            assert!(
                [
                    "--out",
                    "--quiet",
                    "--insecure",
                    "--target",
                    "--duration",
                    "--rate",
                    "--policy"
                ]
                .contains(&flag.as_str()),
                "unknown flag {flag}"
            );
        }
        // The binary the job builds is the one the command runs.
        assert_eq!(cmd[0], "./target/release/stampede");
    }
    assert!(
        cmds.iter().any(|c| c[2] == "scenarios/ci-smoke.toml"),
        "{cmds:?}"
    );
    // The scenario is valid and has gates to fail the build with.
    let plan = stampede::scenario::load(
        &root.join("scenarios/ci-smoke.toml"),
        &stampede::scenario::Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("scenarios/ci-smoke.toml: {e}"));
    assert!(
        plan.target.url.is_none(),
        "the smoke scenario needs no network"
    );
}

#[test]
fn both_ci_jobs_keep_reports_and_publish_junit() {
    let blocks = code_blocks(DOC);
    let yaml: Vec<&str> = blocks
        .iter()
        .filter(|(l, _)| l == "yaml")
        .map(|(_, b)| b.as_str())
        .collect();
    assert_eq!(yaml.len(), 2, "a GitHub Actions and a GitLab CI example");
    let github = yaml
        .iter()
        .find(|b| b.contains("runs-on:"))
        .expect("GitHub job");
    let gitlab = yaml
        .iter()
        .find(|b| b.contains("artifacts:"))
        .expect("GitLab job");
    for needle in [
        "if: always()",
        "upload-artifact",
        "path: reports/ci",
        "report_paths: reports/ci/junit.xml",
        "cargo build --release",
        "secrets.",
    ] {
        assert!(github.contains(needle), "GitHub job lacks `{needle}`");
    }
    for needle in [
        "when: always",
        "- reports/ci",
        "junit: reports/ci/junit.xml",
        "cargo build --release",
    ] {
        assert!(gitlab.contains(needle), "GitLab job lacks `{needle}`");
    }
    // The token is passed by name, never written down.
    assert!(DOC.contains("token_env = \"STAMPEDE_TOKEN\""));
}

#[test]
fn exit_code_table_matches_the_binary() {
    use stampede::app::{EXIT_ABORTED, EXIT_CONFIG, EXIT_GATES, EXIT_OK, EXIT_RUNTIME};
    let rows: Vec<(u8, String)> = DOC
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<u8>().ok()?;
            Some((code, cells.get(2)?.to_lowercase()))
        })
        .collect();
    let meaning = |code: u8| {
        rows.iter()
            .find(|(c, _)| *c == code)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("exit code {code} missing from docs/ci.md"))
    };
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(meaning(EXIT_OK).contains("passed"));
    assert!(meaning(EXIT_GATES).contains("gates failed"));
    assert!(meaning(EXIT_CONFIG).contains("configuration"));
    assert!(meaning(EXIT_ABORTED).contains("interrupted"));
    assert!(meaning(EXIT_RUNTIME).contains("runtime"));
}

/// A small YAML-ish checker: no tabs, 2-space indentation, an indent only
/// after a `key:` or inside a `- ` list item, every line `key: value`, `key:` or `- item`, block scalars
/// (`key: |`) skipped, and balanced quotes and `${{ }}`.
fn check_yaml(src: &str) -> Result<(), String> {
    let mut levels: Vec<usize> = vec![0];
    let mut may_indent = false;
    let mut scalar_at: Option<usize> = None;
    for (n, raw) in src.lines().enumerate() {
        let n = n + 1;
        let err = |m: &str| Err(format!("line {n}: {m}: `{raw}`"));
        if raw.contains('\t') {
            return err("tab");
        }
        let text = raw.trim_end();
        let body = text.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = text.len() - body.len();
        if let Some(k) = scalar_at {
            if indent > k {
                continue;
            }
            scalar_at = None;
        }
        if indent % 2 != 0 {
            return err("odd indentation");
        }
        let top = *levels.last().unwrap_or(&0);
        if indent > top {
            if !may_indent || indent != top + 2 {
                return err("unexpected indentation");
            }
            levels.push(indent);
        } else {
            while levels.last().is_some_and(|&l| l > indent) {
                levels.pop();
            }
            if levels.last() != Some(&indent) {
                return err("dedent to a level that was never opened");
            }
        }
        // A list item opens a mapping two columns further in.
        let (item, key_indent) = match body.strip_prefix("- ") {
            Some(rest) => {
                levels.push(indent + 2);
                (rest, indent + 2)
            }
            None if body == "-" => return err("empty list item"),
            None => (body, indent),
        };
        let without_comment = item.split(" #").next().unwrap_or(item).trim_end();
        if without_comment.matches('"').count() % 2 != 0
            || without_comment.matches('\'').count() % 2 != 0
        {
            return err("unbalanced quotes");
        }
        if without_comment.matches("${{").count() != without_comment.matches("}}").count() {
            return err("unbalanced ${{ }}");
        }
        match split_key(without_comment) {
            Some((key, value)) => {
                if key.is_empty() || (key.contains(' ') && !key.starts_with('"')) {
                    return err("bad key");
                }
                may_indent = value.is_empty();
                if matches!(value, "|" | "|-" | ">" | ">-") {
                    scalar_at = Some(key_indent);
                    may_indent = false;
                }
            }
            // A plain list item (`- cargo build ...`) or a flow value.
            None if body.starts_with("- ") => may_indent = false,
            None => return err("neither `key: value` nor a list item"),
        }
    }
    Ok(())
}

/// `key: value` -> (key, value); the colon must be followed by a space or
/// end the line, and not sit inside `${{ }}` or quotes.
fn split_key(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'{' | b'[') => depth += 1,
            (None, b'}' | b']') => depth = depth.saturating_sub(1),
            (None, b':') if depth == 0 && (i + 1 == bytes.len() || bytes[i + 1] == b' ') => {
                return Some((s[..i].trim(), s[i + 1..].trim()));
            }
            _ => {}
        }
    }
    None
}

#[test]
fn yaml_blocks_are_yaml_ish() {
    let blocks = code_blocks(DOC);
    let mut checked = 0;
    for (lang, body) in &blocks {
        if lang == "yaml" {
            check_yaml(body).unwrap_or_else(|e| panic!("docs/ci.md YAML block: {e}\n{body}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}

#[test]
fn the_yaml_checker_rejects_broken_yaml() {
    assert!(check_yaml("a:\n  b: 1\n").is_ok());
    assert!(check_yaml("a:\n  - x\n  - y: 1\n    z: 2\n").is_ok());
    assert!(check_yaml("a:\n  run: |\n    echo: x\n      odd\n  b: 2\n").is_ok());
    assert!(check_yaml("a:\n\tb: 1\n").is_err(), "tab");
    assert!(
        check_yaml("a: 1\n  b: 2\n").is_err(),
        "indent after a value"
    );
    assert!(check_yaml("a:\n   b: 1\n").is_err(), "odd indent");
    assert!(check_yaml("a:\n    b: 1\n").is_err(), "indent by 4");
    assert!(check_yaml("a:\n  just words\n").is_err(), "not key: value");
    assert!(check_yaml("a: \"open\n").is_err(), "quote");
    assert!(check_yaml("a: ${{ secrets.X\n").is_err(), "expression");
}
