//! The commands behind the CLI, returning process exit codes.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | run completed and every gate passed |
//! | 1 | one or more gates failed |
//! | 2 | configuration or usage error (nothing ran) |
//! | 3 | run aborted or interrupted (reports still written) |
//! | 4 | runtime error (cannot bind, cannot write reports, target unreachable: no attempt got an HTTP response) |

mod output;
mod signals;

use crate::cli::{Cli, Command, RunArgs, ServeArgs};
use crate::engine::{Control, Progress};
use crate::scenario::{self, Overrides};
use crate::sim::{SimConfig, SimServer};
use std::net::SocketAddr;

pub const EXIT_OK: u8 = 0;
pub const EXIT_GATES: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_ABORTED: u8 = 3;
pub const EXIT_RUNTIME: u8 = 4;

pub async fn main(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Validate { scenario } => validate(&scenario),
        Command::Serve(args) => serve(args).await,
        Command::Report { run_dir } => report(&run_dir),
        Command::Policies => {
            for name in crate::policy::PRESETS {
                if let Ok(p) = crate::policy::preset(name) {
                    let sin = if p.sin.is_empty() {
                        "follows the client retry guidelines"
                    } else {
                        &p.sin
                    };
                    println!("{name:<20} {sin}");
                }
            }
            EXIT_OK
        }
    }
}

fn validate(path: &std::path::Path) -> u8 {
    match scenario::load(path, &Overrides::default()) {
        Ok(plan) => {
            match serde_json::to_string_pretty(&plan) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot print the plan: {e}"),
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
    let ov = Overrides {
        duration: args.duration,
        rate: args.rate,
        target: args.target.clone(),
        policy: args.policy.clone(),
        out: args.out.clone(),
        insecure: args.insecure,
        max_rps: args.max_rps,
    };
    let mut plan = match scenario::load(&args.scenario, &ov) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    if let Some(n) = args.trace {
        scenario::trace::for_trace(&mut plan, n);
    }
    if let Err(e) = crate::run::prepare_out_dir(&plan) {
        eprintln!("error: {e}");
        return EXIT_RUNTIME;
    }
    if plan.target.insecure {
        eprintln!(
            "WARNING: TLS certificate verification is OFF (insecure): anyone on the path can impersonate {}",
            plan.target.url.as_deref().unwrap_or("the target")
        );
    }
    let progress = (!args.quiet && !plan.trace).then(Progress::new);
    let output = match crate::run::execute(&plan, &control, progress.as_ref()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_RUNTIME;
        }
    };
    let report = &output.report;
    // The summary and gate lines first: a report folder that cannot be
    // written must not hide what the run measured.
    print_console(report);
    if !output::write_run(&output, &plan.out_dir) {
        return EXIT_RUNTIME;
    }
    if let Some(why) = &output.unreachable {
        eprintln!("error: {why}");
        return EXIT_RUNTIME;
    }
    if report.status != crate::report::RunStatus::Completed {
        return EXIT_ABORTED;
    }
    if report.gates.iter().any(|g| !g.passed) {
        return EXIT_GATES;
    }
    EXIT_OK
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
    println!("Booking Rush simulator listening on http://{}", sim.addr());
    println!(
        "ground truth: GET http://{}/__sim/ledger  (Ctrl-C, SIGTERM or SIGHUP to stop)",
        sim.addr()
    );
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
