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
    Validate { scenario: PathBuf },
    /// Run the embedded Booking Rush simulator alone.
    Serve(ServeArgs),
    /// Render the reports of a finished run again from its summary.json.
    Report { run_dir: PathBuf },
    /// List the retry policy presets.
    Policies,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
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
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run N journeys of one user only, printing every request and response
    /// (secrets redacted): a look at the wire before the load.
    #[arg(long, value_name = "N")]
    pub trace: Option<u64>,
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
