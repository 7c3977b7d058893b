//! Command-line interface (clap derive). Parsing only: every command is
//! carried out by the library in [`crate::app`].

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "stampede",
    version,
    about = "Load generator and retry-behaviour tester for the Booking Rush API",
    long_about = "Drives thousands of simulated ticket buyers, each retrying as its policy says \
(the compliant client guidelines, or naive variants), and reports how the target and the \
policies fared side by side. Without a target URL it runs against an embedded simulator."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write its reports.
    Run(RunArgs),
    /// Check a scenario and print the resolved plan.
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Print the plan of shard I of N (I from 0).
        #[arg(long, value_parser = parse_shard)]
        shard: Option<crate::shard::Shard>,
    },
    /// Run the embedded Booking Rush simulator alone.
    Serve(ServeArgs),
    /// Render the reports of a finished run again from its summary.json.
    Report {
        /// A run's report folder (holds its summary.json).
        run_dir: PathBuf,
    },
    /// List the retry policy presets.
    Policies,
    /// Merge the report folders of a run's shards into one report (exact:
    /// counters summed, histograms added bucket by bucket, gates evaluated
    /// on the merged report; exit code as `run`).
    Merge {
        /// The shards' report folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Folder for the merged report (nothing is written when a shard is refused).
        #[arg(long)]
        out: PathBuf,
        /// Merge shards whose command-line overrides, load or target differ
        /// (each difference is named in the report's notes).
        #[arg(long)]
        force: bool,
    },
    /// Compare two finished runs: every fleet's headline numbers side by side.
    Compare(CompareArgs),
    /// Find the largest load each fleet survives: one number of the
    /// scenario varied run by run until a condition holds (doubling, then
    /// bisection), each fleet on its own.
    Search(SearchArgs),
    /// Print a shell completion script (e.g. `stampede completions bash > /etc/bash_completion.d/stampede`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page in roff (e.g. `stampede man | man -l -`, or
    /// `stampede man run` for one subcommand's page).
    Man {
        /// A subcommand whose page to print (default: the main page).
        subcommand: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Report folder of the baseline run (holds its summary.json).
    pub base: PathBuf,
    /// Report folder of the run to compare with the baseline.
    pub new: PathBuf,
    /// Also write compare.json and compare.html into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 1 when any metric is worse beyond the noise threshold, even
    /// without the run-to-run spread of `--repeat` folders (by default only
    /// a regression beyond the spread, which needs them, fails).
    #[arg(long)]
    pub fail_on_worse: bool,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// The dotted key of the number to vary, e.g. load.users or
    /// load.stages.0.rate; its value in the file is the first load tried.
    #[arg(long, value_name = "KEY")]
    pub vary: String,
    /// The condition under which a load fails, in the gate language, e.g.
    /// "journey_success_rate < 99%" (for every fleet) or
    /// "compliant.operation_latency.p99 > 800ms" (that fleet only). A load
    /// that cannot be measured, or whose run did not complete, fails too.
    #[arg(long, value_name = "CONDITION")]
    pub until: String,
    /// The smallest load to try.
    #[arg(long, default_value_t = 1.0)]
    pub min: f64,
    /// The largest load to try (default: 64 times the scenario's value).
    #[arg(long)]
    pub max: Option<f64>,
    /// Stop when the largest surviving and the smallest failing load are
    /// within this percentage of each other.
    #[arg(long, default_value_t = 5.0)]
    pub precision: f64,
    /// Runs at most per fleet.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_runs: u32,
    /// Raise (or lower) the hard cap on attempts per second of every run
    /// (default 20000; a load whose schedule peaks above it is not run).
    #[arg(long)]
    pub max_rps: Option<f64>,
    /// Run each load on the wall clock (needed against a real target). By
    /// default every load runs on virtual time against the embedded
    /// simulator: deterministic, and long scenarios take seconds
    /// (docs/virtual-time.md).
    #[arg(long)]
    pub real: bool,
    /// Target base URL (needs --real; default: the scenario's, else the
    /// embedded simulator).
    #[arg(long, requires = "real")]
    pub target: Option<String>,
    /// Folder for search.json, search.html and each run's report
    /// (default: reports/search-<scenario>-<timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write into a non-empty --out folder.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML; see scenarios/ for examples).
    pub scenario: PathBuf,
    /// Report folder (default: reports/<scenario>-<timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override how long arrivals are generated (e.g. 30s, 2m).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Override the arrival rate (arrivals per second).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Target base URL (default: the scenario's, else the embedded simulator).
    #[arg(long)]
    pub target: Option<String>,
    /// Run only this policy (a preset or a [policies] name from the scenario).
    #[arg(long)]
    pub policy: Option<String>,
    /// Raise (or lower) the hard cap on attempts per second (default 20000).
    #[arg(long)]
    pub max_rps: Option<f64>,
    /// Skip TLS certificate verification (never against production).
    #[arg(long)]
    pub insecure: bool,
    /// Run the scenario N times (2-100), each into --out/run-<i>, and write
    /// each headline's median and spread to --out/repeat.json.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// The target is `stampede serve`: read its /__sim/ledger before and
    /// after each round (as `target.ledger = true`; nothing else is sent
    /// that the journey does not name).
    #[arg(long)]
    pub ledger: bool,
    /// No progress output; print only the verdict and the gate lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run N journeys of one user only, printing every request and response
    /// (secrets redacted): a look at the wire before the load.
    #[arg(long, value_name = "N")]
    pub trace: Option<u64>,
    /// Write into a non-empty --out folder (its files are replaced, others left as they are).
    #[arg(long)]
    pub force: bool,
    /// Report folder of an earlier run: gates written against `baseline`
    /// (`<= baseline * 1.10`) are measured relative to it.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Serve live counters and latency histograms for Prometheus at http://ADDR/metrics
    /// (e.g. 127.0.0.1:9464; see docs/metrics.md).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Keep the metrics endpoint up this long after the run (so a scraper sees the final values).
    #[arg(long, value_parser = parse_duration, default_value = "0s", value_name = "DURATION")]
    pub metrics_linger: Duration,
    /// Run only shard I of N of the arrival schedule (I from 0): arrival k
    /// is this shard's when k mod N == I. Merge the shards' folders with
    /// `stampede merge`.
    #[arg(long, value_parser = parse_shard, conflicts_with = "shards")]
    pub shard: Option<crate::shard::Shard>,
    /// Run as one of N shards, the index taken from JOB_COMPLETION_INDEX
    /// (a Kubernetes Indexed Job).
    #[arg(long, env = "STAMPEDE_SHARDS")]
    pub shards: Option<u32>,
    /// Wait until this time to start (RFC 3339 UTC such as
    /// 2026-12-01T22:00:00Z, or Unix seconds), so every shard's seconds line
    /// up; compared rounds start at this time plus the bounded length
    /// (duration + drain) of the rounds before them.
    #[arg(long, value_parser = parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Run on virtual time: the embedded simulator in memory (no sockets)
    /// on a paused clock that jumps to the next timer whenever every task
    /// waits, so the same scenario and seed give the same report, minutes
    /// of load in seconds (docs/virtual-time.md). Not for a real target.
    #[arg(long, conflicts_with_all = ["metrics_listen", "start_at"])]
    pub virtual_time: bool,
}

impl RunArgs {
    /// `--shard`, or `--shards N` / `STAMPEDE_SHARDS` with `JOB_COMPLETION_INDEX`.
    pub fn resolve_shard(&self) -> Result<Option<crate::shard::Shard>, String> {
        if let Some(s) = self.shard {
            return Ok(Some(s));
        }
        let Some(n) = self.shards else {
            return Ok(None);
        };
        let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
            format!("--shards {n} (or STAMPEDE_SHARDS) needs JOB_COMPLETION_INDEX, the shard index set by a Kubernetes Indexed Job; or use --shard I/{n}")
        })?;
        let i = index
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("JOB_COMPLETION_INDEX `{index}` is not a whole number"))?;
        crate::shard::Shard::new(i, n).map(Some)
    }
}

fn parse_shard(s: &str) -> Result<crate::shard::Shard, String> {
    crate::shard::Shard::parse(s)
}

/// How far ahead `--start-at` may be: a start further away is a typo (a
/// year, milliseconds for seconds), not a plan.
pub const MAX_START_AHEAD: Duration = Duration::from_secs(24 * 3600);

/// RFC 3339 (UTC, `Z`) or Unix seconds (fractions allowed), at most
/// [`MAX_START_AHEAD`] from now.
pub fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    let t = if let Ok(secs) = s.trim().parse::<f64>() {
        if !(0.0..1e11).contains(&secs) {
            return Err(format!("`{s}` is not a Unix time in seconds"));
        }
        std::time::UNIX_EPOCH + Duration::from_secs_f64(secs)
    } else {
        humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
            format!("`{s}` is not a time like 2026-12-01T22:00:00Z or Unix seconds: {e}")
        })?
    };
    if let Ok(ahead) = t.duration_since(std::time::SystemTime::now())
        && ahead > MAX_START_AHEAD
    {
        return Err(format!(
            "`{s}` is {} from now; --start-at may be at most {} ahead",
            humantime::format_duration(Duration::from_secs(ahead.as_secs())),
            humantime::format_duration(MAX_START_AHEAD)
        ));
    }
    Ok(t)
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind (default loopback).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Simulator config: a TOML file with the [sim] knobs, or a scenario file with a [sim] table.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like 30s or 2m: {e}"))
}
