//! The commands behind the CLI, returning process exit codes.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | run completed and every gate passed |
//! | 1 | one or more gates failed |
//! | 2 | configuration or usage error (nothing ran) |
//! | 3 | run aborted or interrupted (reports still written) |
//! | 4 | runtime error (cannot bind, cannot write reports, target unreachable: no attempt got an HTTP response; an answer that is not valid HTTP is an answer, INVALID_RESPONSE, judged by the gates) |

mod claim;
mod compare_cmd;
mod output;
mod repeat;
mod runtime;
mod search_cmd;
mod shards;
mod signals;
mod virtual_time;

use crate::cli::{Cli, Command, RunArgs, ServeArgs};
use crate::engine::{Control, Progress};
use crate::scenario::{self, Overrides};
use crate::sim::{SimConfig, SimServer};
use std::net::SocketAddr;

pub use runtime::{runtime, runtime_for};
pub use virtual_time::clock_of;

pub const EXIT_OK: u8 = 0;
pub const EXIT_GATES: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_ABORTED: u8 = 3;
pub const EXIT_RUNTIME: u8 = 4;

pub async fn main(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Validate { scenario, shard } => validate(&scenario, shard),
        Command::Serve(args) => serve(args).await,
        Command::Report { run_dir } => {
            signals::exit_on_signal("the report", move || report(&run_dir)).await
        }
        Command::Merge { dirs, out, force } => {
            signals::exit_on_signal("the merge", move || output::merge(&dirs, &out, force)).await
        }
        Command::Compare(args) => {
            signals::exit_on_signal("the compare", move || compare_cmd::compare(&args)).await
        }
        Command::Search(args) => search_cmd::search(args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "stampede", &mut std::io::stdout());
            EXIT_OK
        }
        Command::Man { subcommand } => match man_page(subcommand.as_deref()) {
            Ok(page) => {
                use std::io::Write;
                let _ = std::io::stdout().write_all(&page);
                EXIT_OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_CONFIG
            }
        },
        Command::Policies => {
            for name in crate::policy::PRESETS {
                if let Ok(p) = crate::policy::preset(name) {
                    let sin = if p.sin.is_empty() {
                        "follows the client retry guidelines"
                    } else {
                        &p.sin
                    };
                    println!("{name:<20} {sin}");
                    if let Some(src) = crate::policy::source(name) {
                        println!("{:<20} source: {src}", "");
                    }
                }
            }
            EXIT_OK
        }
    }
}

fn validate(path: &std::path::Path, shard: Option<crate::shard::Shard>) -> u8 {
    let ov = Overrides {
        shard,
        ..Overrides::default()
    };
    match scenario::load(path, &ov) {
        Ok(plan) => {
            match serde_json::to_string_pretty(&plan) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot print the plan: {e}"),
            }
            if let Some(line) = shards::plan_line(&plan) {
                eprintln!("{line}");
            }
            eprintln!("{}: ok", path.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
    }
}

async fn run(args: RunArgs) -> u8 {
    // Before anything else: a SIGTERM during start-up stops the run too.
    let control = Control::default();
    signals::install(control.clone());
    let ready = match prepare(&args).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let plan = &ready.plan;
    // The live view reads the wall clock; a virtual run shows none.
    let display = !args.quiet && !plan.trace && !plan.clock.is_virtual();
    let progress = (display || ready.metrics.is_some())
        .then(|| Progress::with_display(display, ready.board.clone()));
    let baseline = ready.baseline.as_ref();
    let code = if args.repeat > 1 {
        repeat::run_repeated(
            &args,
            plan,
            &ready.ov,
            baseline,
            &control,
            progress.as_ref(),
        )
        .await
    } else {
        let late = ready.late.clone();
        run_once(
            &args,
            plan,
            &ready.ov,
            baseline,
            &control,
            progress.as_ref(),
            late,
        )
        .await
        .0
    };
    if ready.metrics.is_some() && !args.metrics_linger.is_zero() {
        // A stop signal ends the linger; the run's exit code stands.
        signals::sleep_unless_signalled(args.metrics_linger).await;
    }
    drop(ready.metrics);
    code
}

/// A run ready to start: everything checked and claimed before any load.
struct Ready {
    ov: Overrides,
    plan: scenario::Plan,
    /// `--out`, claimed for the whole run, report writing and linger included.
    _claim: claim::Claim,
    baseline: Option<crate::report::Report>,
    /// The note the report opens with: a late `--start-at`, or the gates a
    /// `--trace` run skips.
    late: Option<String>,
    board: std::sync::Arc<crate::board::Board>,
    /// The `--metrics-listen` endpoint.
    metrics: Option<crate::prom::MetricsServer>,
}

/// Everything a run checks before any load, in order: the overrides, the
/// scenario (and virtual time), the `--out` claim, the baseline, the trace
/// cut, the report folder, the metrics endpoint. Err: the exit code, the
/// error already said.
async fn prepare(args: &RunArgs) -> Result<Ready, u8> {
    let shard = or_exit(args.resolve_shard(), EXIT_CONFIG)?;
    let ov = overrides(args, shard);
    let mut plan = or_exit(scenario::load(&args.scenario, &ov), EXIT_CONFIG)?;
    if args.virtual_time {
        or_exit(
            virtual_time::refuse(&plan, args.target.is_some()),
            EXIT_CONFIG,
        )?;
        plan.clock = crate::clock::ClockMode::Virtual;
        // The simulated world's calendar starts now, on the paused clock.
        crate::clock::enter_virtual();
    }
    let claim = or_exit(claim::claim(&plan.out_dir, args.force), EXIT_CONFIG)?;
    let baseline = or_exit(
        compare_cmd::baseline(args.baseline.as_deref(), &plan),
        EXIT_CONFIG,
    )?;
    let skipped_gates = args.trace.and_then(|n| cut_for_trace(&mut plan, n));
    or_exit(crate::run::prepare_out_dir(&plan), EXIT_RUNTIME)?;
    if plan.target.insecure {
        eprintln!(
            "WARNING: TLS certificate verification is OFF (insecure): anyone on the path can impersonate {}",
            plan.target.url.as_deref().unwrap_or("the target")
        );
    }
    let board = std::sync::Arc::new(crate::board::Board::default());
    let metrics = match args.metrics_listen {
        None => None,
        Some(addr) => match crate::prom::serve(addr, board.clone()).await {
            Ok(m) => {
                eprintln!("metrics: http://{}/metrics", m.addr());
                Some(m)
            }
            Err(e) => {
                eprintln!("error: --metrics-listen {addr}: {e}");
                return Err(EXIT_RUNTIME);
            }
        },
    };
    let late = args.start_at.and_then(shards::start_note).or(skipped_gates);
    plan.start_at = args.start_at;
    Ok(Ready {
        ov,
        plan,
        _claim: claim,
        baseline,
        late,
        board,
        metrics,
    })
}

/// `r`'s value, or `code` once its error is said.
fn or_exit<T, E: std::fmt::Display>(r: Result<T, E>, code: u8) -> Result<T, u8> {
    r.map_err(|e| {
        eprintln!("error: {e}");
        code
    })
}

/// The scenario overrides the run's flags make.
fn overrides(args: &RunArgs, shard: Option<crate::shard::Shard>) -> Overrides {
    Overrides {
        duration: args.duration,
        rate: args.rate,
        target: args.target.clone(),
        policy: args.policy.clone(),
        out: args.out.clone(),
        insecure: args.insecure,
        ledger: args.ledger,
        max_rps: args.max_rps,
        shard,
    }
}

/// `plan` cut down for `--trace` `n`; the note that its gates are skipped,
/// when it has any.
fn cut_for_trace(plan: &mut scenario::Plan, n: u64) -> Option<String> {
    let mut skipped = None;
    if !plan.gates.is_empty() {
        let line = format!(
            "a --trace run does not evaluate gates ({} skipped): a trace is one user's journeys, not the load they are written for",
            plan.gates.len()
        );
        eprintln!("note: {line}");
        skipped = Some(line);
    }
    scenario::trace::for_trace(plan, n);
    skipped
}

async fn run_once(
    args: &RunArgs,
    plan: &crate::scenario::Plan,
    ov: &Overrides,
    baseline: Option<&crate::report::Report>,
    control: &Control,
    progress: Option<&Progress>,
    late: Option<String>,
) -> (u8, Option<crate::report::Report>) {
    let mut output = match crate::run::execute(plan, control, progress).await {
        Ok(mut r) => {
            r.report.notes.extend(late);
            r
        }
        Err(e) => {
            eprintln!("error: {e}");
            return (EXIT_RUNTIME, None);
        }
    };
    let argv: Vec<String> = std::env::args().collect();
    output.report.meta = crate::run::meta::of_run(plan, &argv, ov, output.wall);
    if let Some(base) = baseline {
        compare_cmd::apply_baseline(&mut output.report, plan, base);
    }
    // The summary and gate lines first: a report folder that cannot be
    // written must not hide what the run measured.
    if args.quiet {
        println!("{}", crate::report::verdict::verdict(&output.report));
        if !output.report.gates.is_empty() {
            println!("{}", crate::gate::console_lines(&output.report.gates));
        }
    } else {
        print_console(&output.report);
    }
    // Written off the runtime's threads, so a signal meanwhile is answered.
    let writing = signals::writing_reports();
    let dir = plan.out_dir.clone();
    let (output, written) = match tokio::task::spawn_blocking(move || {
        let w = output::write_run(&output, &dir);
        (output, w)
    })
    .await
    {
        Ok(done) => done,
        Err(e) => {
            eprintln!("error: writing the reports failed: {e}");
            return (EXIT_RUNTIME, None);
        }
    };
    drop(writing);
    let report = &output.report;
    let code = if !written || output.unreachable.is_some() {
        if let Some(why) = &output.unreachable {
            eprintln!("error: {why}");
        }
        EXIT_RUNTIME
    } else if signals::signalled_while_writing() {
        // Every file is written, but the process was asked to stop.
        EXIT_ABORTED
    } else {
        exit_code(report)
    };
    (code, Some(output.report))
}

/// A written run's exit code, from its status and gates.
fn exit_code(report: &crate::report::Report) -> u8 {
    match report.status {
        crate::report::RunStatus::Completed if report.gates.iter().any(|g| !g.passed) => EXIT_GATES,
        crate::report::RunStatus::Completed => EXIT_OK,
        crate::report::RunStatus::Failed => EXIT_RUNTIME,
        _ => EXIT_ABORTED,
    }
}

/// The console summary table and the gate lines (stdout).
fn print_console(report: &crate::report::Report) {
    println!("{}", crate::report::console::summary_table(report));
    if !report.gates.is_empty() {
        println!("gates:\n{}", crate::gate::console_lines(&report.gates));
    }
}

async fn serve(args: ServeArgs) -> u8 {
    let cfg = match &args.config {
        None => SimConfig::default(),
        Some(path) => match load_sim_config(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_CONFIG;
            }
        },
    };
    let addr = SocketAddr::new(args.bind, args.port);
    let sim = match SimServer::start(cfg, addr).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_RUNTIME;
        }
    };
    // One write, and a closed stdout (a supervisor that read the first line
    // and went away) must not take the simulator down: `println!` would panic.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "Booking Rush simulator listening on http://{a}\n\
             ground truth: GET http://{a}/__sim/ledger  (Ctrl-C, SIGTERM or SIGHUP to stop)\n",
            a = sim.addr()
        );
        let _ = out.flush();
    }
    signals::first().await;
    sim.shutdown().await;
    EXIT_OK
}

/// A simulator config file, or a scenario file whose [sim] table is used.
fn load_sim_config(path: &std::path::Path) -> Result<SimConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let sim_text = match table.get("sim") {
        Some(toml::Value::Table(t)) if table.contains_key("load") => {
            toml::to_string(t).map_err(|e| e.to_string())?
        }
        _ => text,
    };
    let cfg: SimConfig =
        toml::from_str(&sim_text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(cfg)
}

/// `stampede report DIR`: summary.json is read (a bad one is a usage error),
/// the summary printed, then every derived file rewritten by the same writer
/// as a run.
fn report(dir: &std::path::Path) -> u8 {
    if crate::merge::partial::is_partial(dir) {
        return output::rebuild_partial(dir);
    }
    let r = match crate::report::json::load_summary(dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    println!("{}", crate::report::console::summary_table(&r));
    if !output::rewrite_derived(&r, dir) {
        return EXIT_RUNTIME;
    }
    EXIT_OK
}

/// The man page (roff) of `stampede`, or of one of its subcommands
/// (`stampede-run(1)`), built from the clap definitions.
pub fn man_page(subcommand: Option<&str>) -> Result<Vec<u8>, String> {
    use clap::CommandFactory;
    let cmd = Cli::command().name("stampede");
    let (cmd, title) = match subcommand {
        None => (cmd, "stampede".to_string()),
        Some(name) => {
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            let sub = cmd
                .find_subcommand(name)
                .cloned()
                .ok_or_else(|| format!("no subcommand `{name}`; one of: {}", names.join(", ")))?;
            let title = format!("stampede-{}", sub.get_name());
            let bin = format!("stampede {}", sub.get_name());
            let sub = sub
                .display_name(title.clone())
                .bin_name(bin)
                .version(env!("CARGO_PKG_VERSION"));
            (sub, title)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .title(title)
        .render(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}
