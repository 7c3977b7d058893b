//! The README and the docs pages are a contract: the README's two commands,
//! every shell example, every file and anchor they point at and every
//! scenario they name must be true. These tests run or check them all.

use crate::common;

use clap::Parser;
use std::path::{Path, PathBuf};

fn readme() -> String {
    std::fs::read_to_string("README.md").expect("README.md")
}

/// Every Markdown page under `docs/`, sorted, with its text.
fn doc_pages() -> Vec<(PathBuf, String)> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir("docs")
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    assert!(pages.len() >= 10, "docs pages: {pages:?}");
    pages
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// The README and every docs page.
fn all_pages() -> Vec<(PathBuf, String)> {
    let mut pages = vec![(PathBuf::from("README.md"), readme())];
    pages.extend(doc_pages());
    pages
}

/// Lines of every ```sh block, in order, one Vec per block.
fn sh_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut cur: Option<Vec<String>> = None;
    for line in text.lines() {
        let t = line.trim();
        match (&mut cur, t) {
            (None, "```sh") => cur = Some(Vec::new()),
            (Some(_), "```") => blocks.push(cur.take().unwrap()),
            (Some(b), l) if !l.is_empty() && !l.starts_with('#') => b.push(l.to_string()),
            _ => {}
        }
    }
    assert!(cur.is_none(), "unclosed ```sh block");
    blocks
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stampede-readme-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn the_two_commands_come_first_and_ci_runs_the_test_command() {
    let blocks = sh_blocks(&readme());
    assert_eq!(
        blocks[0],
        ["cargo run --release -- run scenarios/ticket-drop.toml"]
    );
    assert_eq!(blocks[1], ["scripts/test.sh"]);
    let ci = std::fs::read_to_string(".ci/run").unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "scripts/test.sh"),
        ".ci/run must call the README's test command"
    );
    let script = std::fs::read_to_string("scripts/test.sh").unwrap();
    assert!(script.contains("cargo test"));
}

/// The text outside fenced code blocks (a `# comment` in a TOML block is
/// not a heading, a `](` in a code sample is not a link).
fn prose(md: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// to hyphens.
fn slug(heading: &str) -> String {
    let mut s = String::new();
    for c in heading.trim().chars() {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            s.extend(c.to_lowercase());
        } else if c == ' ' {
            s.push('-');
        }
    }
    s
}

/// Every anchor a page's headings make (a repeated heading gets `-1`, `-2`, ...).
fn anchors(md: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in prose(md).lines() {
        let Some(h) = line.strip_prefix('#') else {
            continue;
        };
        let h = h.trim_start_matches('#');
        if !h.starts_with(' ') {
            continue;
        }
        let base = slug(h);
        let n = out
            .iter()
            .filter(|a| {
                **a == base
                    || a.strip_prefix(&format!("{base}-"))
                        .is_some_and(|r| r.parse::<u32>().is_ok())
            })
            .count();
        out.push(if n == 0 { base } else { format!("{base}-{n}") });
    }
    out
}

#[test]
fn the_anchor_rules_are_githubs() {
    assert_eq!(
        slug("The target's own counts (`[truth]`, any target)"),
        "the-targets-own-counts-truth-any-target"
    );
    assert_eq!(
        slug("compare.json and compare.html"),
        "comparejson-and-comparehtml"
    );
    assert_eq!(slug("`[policies.NAME]`"), "policiesname");
    assert_eq!(
        anchors("# A\n```toml\n# not\n```\n## A\n#nope\n"),
        ["a", "a-1"]
    );
}

/// Checks every local link (file, and anchor when it has one) and every
/// `scenarios/*.toml` a page names; returns how many it checked.
fn check_references(page: &Path, text: &str) -> usize {
    let base = page.parent().unwrap_or(Path::new(""));
    let body = prose(text);
    let mut checked = 0;
    for (i, _) in body.match_indices("](") {
        let rest = &body[i + 2..];
        let target = &rest[..rest.find(')').unwrap()];
        if target.starts_with("http") || target.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (target, None),
        };
        let path = if file.is_empty() {
            page.to_path_buf()
        } else {
            base.join(file)
        };
        assert!(
            path.exists(),
            "{} links to missing {target}",
            page.display()
        );
        if let Some(anchor) = anchor {
            let md = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {target}: {e}", page.display()));
            assert!(
                anchors(&md).iter().any(|a| a == anchor),
                "{} links to {target}, but {} has no heading #{anchor}",
                page.display(),
                path.display()
            );
        }
        checked += 1;
    }
    for word in text.split(|c: char| c.is_whitespace() || c == '`' || c == ',' || c == '|') {
        if word.starts_with("scenarios/") && word.ends_with(".toml") && !word.contains('*') {
            let plan = stampede::scenario::load(Path::new(word), &Default::default());
            assert!(plan.is_ok(), "{}: {word}: {:?}", page.display(), plan.err());
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_local_link_and_scenario_in_the_readme_exists() {
    let checked = check_references(Path::new("README.md"), &readme());
    assert!(checked >= 8, "only {checked} references checked");
}

#[test]
fn every_local_link_and_scenario_in_the_docs_exists() {
    let mut checked = 0;
    for (page, text) in doc_pages() {
        checked += check_references(&page, &text);
    }
    assert!(checked >= 60, "only {checked} references checked in docs/");
}

/// Shell words: whitespace-separated, single and double quotes grouping
/// (and removed), an unquoted ` #` starting a comment.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quotes in `{line}`");
    if in_word {
        words.push(cur);
    }
    words
}

#[test]
fn shell_words_split_like_a_shell() {
    assert_eq!(
        shell_words(r#"A="x y" B=1 scripts/b.sh   # note"#),
        ["A=x y", "B=1", "scripts/b.sh"]
    );
    assert_eq!(
        shell_words("stampede man > out # c"),
        ["stampede", "man", ">", "out"]
    );
}

/// What checking one example did.
#[derive(PartialEq)]
enum Checked {
    /// The command ran with the test build and succeeded.
    Ran,
    /// The command was parsed and everything it names was found valid.
    Validated,
}

/// Runs a `cargo run --release -- ...` example with the test build of the
/// binary (same code, debug profile), its report folder in a temp dir.
fn run_example(line: &str, args: &[String], tag: &str) {
    let mut args = args.to_vec();
    let out = temp_dir(tag);
    if args[0] == "run" {
        match args.iter().position(|a| a == "--out") {
            Some(i) => args[i + 1] = out.display().to_string(),
            None => args.extend(["--out".into(), out.display().to_string()]),
        }
        args.push("--quiet".into());
    }
    let res = common::stampede()
        .args(&args)
        .output()
        .expect("run stampede");
    assert!(
        res.status.success(),
        "`{line}` exited {:?}\n{}\n{}",
        res.status.code(),
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    if args[0] == "run" {
        for f in common::REPORT_FILES {
            assert!(out.join(f).is_file(), "`{line}` did not write {f}");
        }
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["status"], "completed", "`{line}`");
        let stdout = String::from_utf8_lossy(&res.stdout);
        assert!(stdout.contains("reports:"), "{stdout}");
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// A `stampede ...` example: parsed by the binary's own argument
/// definitions; a `run` loads its scenario with the line's overrides;
/// commands that need no network and write nothing (`validate`,
/// `policies`, `completions`, `man`) are run.
fn check_stampede_line(line: &str, args: &[String]) -> Checked {
    use stampede::cli::{Cli, Command as Cmd};
    let cli =
        Cli::try_parse_from(std::iter::once("stampede".to_string()).chain(args.iter().cloned()))
            .unwrap_or_else(|e| panic!("`{line}` is not a valid command line: {e}"));
    match &cli.command {
        Cmd::Run(r) => {
            let ov = stampede::scenario::Overrides {
                duration: r.duration,
                rate: r.rate,
                target: r.target.clone(),
                policy: r.policy.clone(),
                out: r.out.clone(),
                insecure: r.insecure,
                ledger: r.ledger,
                max_rps: r.max_rps,
                shard: r
                    .resolve_shard()
                    .unwrap_or_else(|e| panic!("`{line}`: {e}")),
            };
            stampede::scenario::load(&r.scenario, &ov).unwrap_or_else(|e| panic!("`{line}`: {e}"));
            Checked::Validated
        }
        Cmd::Validate { .. } | Cmd::Policies | Cmd::Completions { .. } | Cmd::Man { .. } => {
            let res = common::stampede()
                .args(args)
                .output()
                .expect("run stampede");
            assert!(
                res.status.success() && !res.stdout.is_empty(),
                "`{line}` exited {:?}\n{}",
                res.status.code(),
                String::from_utf8_lossy(&res.stderr)
            );
            Checked::Ran
        }
        Cmd::Search(a) => {
            let src =
                std::fs::read_to_string(&a.scenario).unwrap_or_else(|e| panic!("`{line}`: {e}"));
            stampede::search::read_key(&src, &a.scenario, &a.vary)
                .unwrap_or_else(|e| panic!("`{line}`: {e}"));
            let plan = stampede::scenario::load(&a.scenario, &Default::default())
                .unwrap_or_else(|e| panic!("`{line}`: {e}"));
            stampede::search::conditions(&plan, &a.until)
                .unwrap_or_else(|e| panic!("`{line}`: {e}"));
            Checked::Validated
        }
        // serve, report, merge, compare: they need a port or earlier runs.
        _ => Checked::Validated,
    }
}

/// Whether a shell script reads `$VAR` or `${VAR...}` (the whole name).
fn reads_var(src: &str, var: &str) -> bool {
    ["$", "${"].iter().any(|open| {
        let pat = format!("{open}{var}");
        src.match_indices(&pat).any(|(i, _)| {
            !src[i + pat.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

/// A `[VAR=value ...] scripts/NAME ...` example: the script exists and is
/// executable, reads every variable the line sets, knows every word of a
/// value that is not a path, and every scenario argument is valid.
fn check_script_line(line: &str, words: &[String]) -> Checked {
    use std::os::unix::fs::PermissionsExt;
    let at = words
        .iter()
        .position(|w| w.starts_with("scripts/"))
        .unwrap_or_else(|| panic!("`{line}`: no script"));
    let script = &words[at];
    let meta = std::fs::metadata(script).unwrap_or_else(|e| panic!("`{line}`: {script}: {e}"));
    assert!(
        meta.permissions().mode() & 0o111 != 0,
        "{script} is not executable"
    );
    let src = std::fs::read_to_string(script).unwrap();
    for assign in &words[..at] {
        let (var, value) = assign
            .split_once('=')
            .unwrap_or_else(|| panic!("`{line}`: `{assign}` is neither VAR=value nor a script"));
        assert!(reads_var(&src, var), "`{line}`: {script} never reads {var}");
        if !value.contains('/') {
            for w in value.split_whitespace() {
                assert!(
                    src.contains(w),
                    "`{line}`: {script} knows no `{w}` for {var}"
                );
            }
        }
    }
    for arg in &words[at + 1..] {
        if arg.ends_with(".toml") {
            stampede::scenario::load(Path::new(arg), &Default::default())
                .unwrap_or_else(|e| panic!("`{line}`: {e}"));
        }
    }
    Checked::Validated
}

/// Any other `cargo ...` example: a known subcommand, and the bench or
/// example it names exists.
fn check_cargo_line(line: &str, words: &[String]) -> Checked {
    let sub = words.get(1).map(String::as_str);
    assert!(
        matches!(sub, Some("install" | "build" | "bench" | "test")),
        "`{line}`: unexpected cargo command"
    );
    for (flag, dir) in [("--bench", "benches"), ("--example", "examples")] {
        if let Some(i) = words.iter().position(|w| w == flag) {
            let name = words
                .get(i + 1)
                .unwrap_or_else(|| panic!("`{line}`: {flag} NAME"));
            let file = Path::new(dir).join(format!("{name}.rs"));
            assert!(file.is_file(), "`{line}`: no {}", file.display());
        }
    }
    if sub == Some("install") {
        assert!(
            words.windows(2).any(|w| w[0] == "--path" && w[1] == "."),
            "`{line}`"
        );
    }
    Checked::Validated
}

/// Checks one line of a ```sh block; every kind of line a page may show is
/// listed here, so an example of a new kind fails until it is checked too.
fn check_sh_line(line: &str, tag: &str) -> Checked {
    assert!(
        !line.ends_with('\\'),
        "`{line}`: keep each example on one line"
    );
    let mut words = shell_words(line);
    // What the output is redirected to is the reader's business.
    if let Some(i) = words.iter().position(|w| w.starts_with('>') || w == "|") {
        words.truncate(i);
    }
    if let Some(args) = line.strip_prefix("cargo run --release -- ") {
        assert!(!args.contains('>') && !args.contains('#'), "`{line}`");
        let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        run_example(line, &args, tag);
        return Checked::Ran;
    }
    let first = words.first().map(String::as_str).unwrap_or("");
    if first == "stampede" || first.ends_with("/target/release/stampede") {
        return check_stampede_line(line, &words[1..]);
    }
    if first == "cargo" {
        return check_cargo_line(line, &words);
    }
    if words.iter().any(|w| w.starts_with("scripts/")) {
        return check_script_line(line, &words);
    }
    panic!("`{line}`: an example this test does not know how to check");
}

/// Runs every `cargo run --release -- ...` example of the README (the main
/// command included) and checks its every other shell example.
#[test]
fn every_stampede_example_in_the_readme_runs() {
    let mut ran = 0;
    for (b, block) in sh_blocks(&readme()).into_iter().enumerate() {
        for (l, line) in block.iter().enumerate() {
            if check_sh_line(line, &format!("readme{b}-{l}")) == Checked::Ran
                && line.starts_with("cargo run --release -- run ")
            {
                ran += 1;
            }
        }
    }
    assert!(
        ran >= 2,
        "expected the main command and the tour's run, ran {ran}"
    );
}

/// Every shell example of every docs page is run (`cargo run --release --`,
/// `stampede validate` ...) or checked (other command lines parsed and
/// their scenarios loaded, scripts and their variables found).
#[test]
fn every_shell_example_in_the_docs_runs_or_validates() {
    let (mut ran, mut lines) = (0, 0);
    for (page, text) in doc_pages() {
        let stem = page.file_stem().unwrap().to_string_lossy().to_string();
        for (b, block) in sh_blocks(&text).into_iter().enumerate() {
            for (l, line) in block.iter().enumerate() {
                if check_sh_line(line, &format!("{stem}{b}-{l}")) == Checked::Ran {
                    ran += 1;
                }
                lines += 1;
            }
        }
    }
    assert!(lines >= 15, "only {lines} shell example lines in docs/");
    assert!(ran >= 3, "only {ran} docs examples ran");
}

#[test]
fn the_checks_refuse_wrong_examples() {
    let refused =
        |line: &'static str| std::panic::catch_unwind(|| check_sh_line(line, "refused")).is_err();
    assert!(refused("stampede run scenarios/nope.toml"));
    assert!(refused(
        "stampede run scenarios/ci-smoke.toml --no-such-flag"
    ));
    assert!(refused(
        "stampede run scenarios/ci-smoke.toml --policy no-such-policy"
    ));
    assert!(refused("BENCH_NOPE=1 scripts/bench.sh"));
    assert!(refused("BENCH_PART=memory scripts/bench.sh"));
    assert!(refused("BENCH_PARTS=nope scripts/bench.sh"));
    assert!(refused("scripts/nope.sh"));
    assert!(refused("cargo bench --bench nope"));
    assert!(refused("curl http://example.com"));
    assert!(!refused("BENCH_PARTS=memory scripts/bench.sh"));
    assert!(!refused("stampede merge a b --out c"));
}

/// The exit-code table under `## Exit codes` in `page`, as (code, meaning).
fn exit_codes(page: &str, text: &str) -> Vec<(u8, String)> {
    let section = text
        .split("## Exit codes")
        .nth(1)
        .unwrap_or_else(|| panic!("{page}: no `## Exit codes`"));
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<u8>().ok()?;
            Some((code, cells.get(2)?.to_lowercase()))
        })
        .collect()
}

#[test]
fn exit_code_tables_match_the_binary() {
    use stampede::app::{EXIT_ABORTED, EXIT_CONFIG, EXIT_GATES, EXIT_OK, EXIT_RUNTIME};
    let guarantees = std::fs::read_to_string("docs/guarantees.md").unwrap();
    for (page, text) in [("README.md", readme()), ("docs/guarantees.md", guarantees)] {
        let rows = exit_codes(page, &text);
        let meaning = |code: u8| {
            rows.iter()
                .find(|(c, _)| *c == code)
                .map(|(_, m)| m.clone())
                .unwrap_or_else(|| panic!("exit code {code} missing from {page}"))
        };
        assert_eq!(rows.len(), 5, "{page}: {rows:?}");
        assert!(meaning(EXIT_OK).contains("every gate passed"), "{page}");
        assert!(meaning(EXIT_GATES).contains("gates failed"), "{page}");
        assert!(meaning(EXIT_CONFIG).contains("configuration"), "{page}");
        assert!(meaning(EXIT_ABORTED).contains("interrupted"), "{page}");
        assert!(meaning(EXIT_ABORTED).contains("drain deadline"), "{page}");
        assert!(meaning(EXIT_RUNTIME).contains("runtime"), "{page}");
        assert!(meaning(EXIT_RUNTIME).contains("unreachable"), "{page}");
    }
}

/// Moving a section out of the README must not lose it: each of these
/// headings lives on exactly one docs page.
#[test]
fn the_readme_sections_live_on_their_docs_pages() {
    for (page, heading) in [
        ("docs/guarantees.md", "## What stampede guarantees"),
        ("docs/scenarios.md", "## Limits"),
        ("docs/gates.md", "## Compare with an earlier run"),
        ("docs/staging.md", "## Your own API"),
        (
            "docs/performance.md",
            "## Side by side with other generators",
        ),
    ] {
        let text = std::fs::read_to_string(page).unwrap();
        assert!(text.contains(heading), "{page} lacks `{heading}`");
    }
    // The guarantees stay one list, each a bold lead.
    let g = std::fs::read_to_string("docs/guarantees.md").unwrap();
    let bullets = g
        .split("## What stampede guarantees")
        .nth(1)
        .unwrap()
        .split("## Exit codes")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("- **"))
        .count();
    assert!(bullets >= 19, "only {bullets} guarantees");
}

/// Where `word` stands in `line` with a digit right after it (`issue 13`).
fn followed_by_number(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        line[i + word.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// The product speaks of the product: no page tells how it was made
/// ("session" for an HTTP session stays fine).
#[test]
fn no_page_tells_the_projects_history() {
    let history = [
        "this session",
        "last session",
        "that session",
        "previous session",
        "next session",
        "sessions ago",
        "between sessions",
        "across sessions",
        "before session",
        "after session",
        "previous build",
        "earlier build",
        "later build",
        "older build",
        "went from",
        "no longer",
        "still went",
    ];
    for (page, text) in all_pages() {
        for (n, line) in text.lines().enumerate() {
            let l = line.to_lowercase();
            let found = history.iter().find(|w| l.contains(*w)).copied().or([
                "session ", "issue ", "issue #", "was ", "were ", "from ~",
            ]
            .into_iter()
            .find(|w| followed_by_number(&l, w)));
            assert!(
                found.is_none(),
                "{}:{}: `{}`: {line}",
                page.display(),
                n + 1,
                found.unwrap_or_default()
            );
        }
    }
}

#[test]
fn the_history_check_sees_history() {
    assert!(followed_by_number("targets of issue 13", "issue "));
    assert!(followed_by_number("before session 15: 47 s", "session "));
    assert!(!followed_by_number("the session's login", "session "));
    // A figure told as what it used to be, not what it is.
    assert!(followed_by_number("it was 1,536 bytes", "was "));
    assert!(followed_by_number("from ~86,000 to 107,000", "from ~"));
    assert!(!followed_by_number("after it was due", "was "));
}

#[test]
fn validate_policies_and_report_commands_work() {
    let v = common::stampede()
        .args(["validate", "scenarios/ci-smoke.toml"])
        .output()
        .unwrap();
    assert!(v.status.success());
    let plan: serde_json::Value =
        serde_json::from_slice(&v.stdout).expect("validate prints the plan as JSON");
    assert_eq!(plan["name"], "ci-smoke");
    let p = common::stampede().arg("policies").output().unwrap();
    let listing = String::from_utf8_lossy(&p.stdout);
    for preset in stampede::policy::PRESETS {
        assert!(
            listing.contains(preset),
            "{preset} missing from `stampede policies`"
        );
    }
    let bad = common::stampede()
        .args(["validate", "scenarios/nope.toml"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    // `stampede report DIR` renders again from summary.json alone.
    let dir = temp_dir("rerender");
    stampede::report::write_all(&stampede::sample::sample_report(), &dir).unwrap();
    std::fs::remove_file(dir.join("report.html")).unwrap();
    let r = common::stampede().arg("report").arg(&dir).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(dir.join("report.html").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The body of the first ```<lang> block after `heading`.
fn block_after(text: &str, heading: &str, lang: &str) -> String {
    let start = text.find(heading).expect("heading in the page");
    let rest = &text[start..];
    let open = format!("```{lang}\n");
    let b = rest.find(&open).expect("block") + open.len();
    let end = rest[b..].find("```").expect("closed block");
    rest[b..b + end].to_string()
}

/// The "Your own API" login flow of docs/staging.md, exactly as printed, against a loopback
/// API that checks passwords and bearer tokens: every journey succeeds,
/// and what the report counts is what the API saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_your_own_api_login_flow_runs() {
    use common::logserver::LogServer;
    use std::sync::atomic::{AtomicU64, Ordering};
    let text = std::fs::read_to_string("docs/staging.md").unwrap();
    let toml = block_after(&text, "## Your own API", "toml");
    let csv = block_after(&text, "## Your own API", "csv");
    let orders = std::sync::Arc::new(AtomicU64::new(0));
    let server = LogServer::start(move |s| {
        let json = |status: u16, body: String| {
            (
                status,
                vec![("content-type", "application/json".into())],
                body,
            )
        };
        let authed = s
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer T-"))
            .map(str::to_string);
        match (s.method.as_str(), s.path.as_str()) {
            ("POST", "/api/login") => {
                let v: serde_json::Value = serde_json::from_str(&s.body).unwrap_or_default();
                let ok = matches!(
                    (v["username"].as_str(), v["password"].as_str()),
                    (Some("alice"), Some("correct-horse")) | (Some("bob"), Some("battery-staple"))
                );
                if ok {
                    json(
                        200,
                        format!(
                            r#"{{"success":true,"data":{{"accessToken":"T-{}"}}}}"#,
                            v["username"].as_str().unwrap_or("")
                        ),
                    )
                } else {
                    json(200, r#"{"success":false}"#.into())
                }
            }
            ("POST", "/api/orders")
                if authed.is_some() && s.header("idempotency-key").is_some() =>
            {
                let n = orders.fetch_add(1, Ordering::Relaxed);
                json(201, format!(r#"{{"data":{{"id":"o-{n}"}}}}"#))
            }
            ("GET", p) if authed.is_some() && p.starts_with("/api/orders/o-") => json(
                200,
                format!(r#"{{"data":{{"id":"{}"}}}}"#, &p["/api/orders/".len()..]),
            ),
            _ => json(401, r#"{"success":false}"#.into()),
        }
    })
    .await;
    let dir = temp_dir("own-api");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    let file = dir.join("my-api.toml");
    std::fs::write(&file, toml.replace("http://127.0.0.1:8080", &server.url())).unwrap();
    let plan = stampede::scenario::load(&file, &Default::default()).expect("valid scenario");
    let out = stampede::run::execute(&plan, &stampede::engine::Control::default(), None)
        .await
        .expect("run");
    let c = &out.report.results[0];
    assert_eq!(c.counts.journeys.started, 12);
    assert_eq!(c.counts.journeys.succeeded, 12, "{:?}", c.counts.outcomes);
    assert!(out.report.gates.iter().all(|g| g.passed));
    let seen = server.seen();
    assert_eq!(seen.len() as u64, c.counts.attempts);
    assert_eq!(c.counts.attempts, 36);
    assert!(
        seen.iter()
            .all(|s| s.header("x-request-id").is_some_and(|v| v.len() == 36))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
