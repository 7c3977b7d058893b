//! Writes the built-in sample report (compliant vs naive) to a directory, so
//! the HTML can be looked at, screenshotted or diffed without running load.
//!
//! Usage: cargo run --example sample_report -- [DIR]   (default: target/sample-report)

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/sample-report"));
    let report = stampede::sample::sample_report();
    for path in stampede::report::write_all(&report, &dir)? {
        println!("{}", path.display());
    }
    print!("{}", stampede::report::console::summary_table(&report));
    Ok(())
}
