//! One serializable report model, rendered to every output format.
//!
//! [`write_all`] fans a [`Report`] out to `summary.json`, five CSV files and a
//! self-contained `report.html`; [`rerender`] rebuilds the CSV and HTML files
//! from a saved `summary.json`, so a report can be re-rendered by a newer
//! stampede without re-running the load.

pub mod console;
pub mod csv;
mod error;
pub mod format;
pub mod hgrm;
pub mod html;
pub mod json;
pub mod junit;
pub mod ledger;
pub mod model;
pub mod recovery;
#[doc(hidden)]
pub mod sample;
mod status;
pub mod svg;
pub mod verdict;

pub use error::ReportError;
pub use model::*;
#[doc(hidden)]
pub use sample::sample_report;
pub use status::RunStatus;

use std::path::{Path, PathBuf};

/// The HTML report's file name inside a run directory.
pub const HTML_FILE: &str = "report.html";
/// The JUnit file CI systems pick up (one testcase per gate).
pub const JUNIT_FILE: &str = "junit.xml";

/// Writes every file format into `dir` (created if missing) and returns the
/// paths written, summary.json first.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = vec![json::write_summary(report, dir)?];
    written.extend(write_derived(report, dir)?);
    Ok(written)
}

/// Reads `dir/summary.json` and rewrites the CSV files and the HTML report
/// from it (what `stampede report RUN_DIR` does). summary.json itself is left
/// untouched: it is the source of truth.
pub fn rerender(dir: &Path) -> Result<Report, ReportError> {
    let report = json::load_summary(dir)?;
    write_derived(&report, dir)?;
    Ok(report)
}

/// Everything that can be rebuilt from summary.json.
fn write_derived(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = csv::write_csvs(report, dir)?;
    let html = html::render_html(report)?;
    let path = dir.join(HTML_FILE);
    std::fs::write(&path, html).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    written.push(path);
    let path = dir.join(JUNIT_FILE);
    std::fs::write(&path, junit::render_junit(report)).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    written.push(path);
    Ok(written)
}
