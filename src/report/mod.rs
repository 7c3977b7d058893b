//! One serializable report model, rendered to every output format.
//!
//! [`write_all`] fans a [`Report`] out to `summary.json`, five CSV files, a
//! self-contained `report.html` and `junit.xml`, each written to a temporary
//! name and renamed into place ([`write`]); [`rerender`] rebuilds the CSV and HTML files
//! from a saved `summary.json`, so a report can be re-rendered by a newer
//! stampede without re-running the load.

pub mod cells;
pub mod console;
pub mod csv;
mod error;
pub mod format;

pub mod html;
pub mod json;
pub mod junit;
pub mod ledger_view;

pub mod recovery;
pub mod svg;
pub mod verdict;
pub mod write;

pub use crate::model::*;
pub use error::ReportError;
pub use write::Writes;

use std::path::{Path, PathBuf};

/// The HTML report's file name inside a run directory.
pub const HTML_FILE: &str = "report.html";
/// The JUnit file CI systems pick up (one testcase per gate).
pub const JUNIT_FILE: &str = "junit.xml";

/// Writes every file format into `dir` (created if missing) and returns the
/// paths written, summary.json first. Every file is tried, even after one
/// fails; the first failure is returned. See [`write_every`] for all of them.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    write_every(report, dir)?.into_result()
}

/// Writes every file format into `dir` (created if missing), each one
/// atomically ([`write::write_atomic`]), and keeps going past a file that
/// cannot be written. Only a folder that cannot be created is an error here.
pub fn write_every(report: &Report, dir: &Path) -> Result<Writes, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut writes = Writes::default();
    writes.push(json::write_summary(report, dir));
    writes.extend(write_derived(report, dir));
    Ok(writes)
}

/// Reads `dir/summary.json` and rewrites the CSV files and the HTML report
/// from it (what `stampede report RUN_DIR` does). summary.json itself is left
/// untouched: it is the source of truth.
pub fn rerender(dir: &Path) -> Result<Report, ReportError> {
    let report = json::load_summary(dir)?;
    write_derived(&report, dir).into_result()?;
    Ok(report)
}

/// Everything that can be rebuilt from summary.json, each file written
/// atomically; a file that fails does not stop the others.
pub fn write_derived(report: &Report, dir: &Path) -> Writes {
    let mut writes: Writes = csv::write_csvs(report, dir).into_iter().collect();
    let path = dir.join(HTML_FILE);
    writes.push(
        html::render_html(report)
            .and_then(|html| write::write_bytes_atomic(&path, html.as_bytes()))
            .map_err(|e| match e {
                ReportError::Template(t) => ReportError::Render { path, source: t },
                e => e,
            }),
    );
    let path = dir.join(JUNIT_FILE);
    writes.push(write::write_bytes_atomic(
        &path,
        junit::render_junit(report).as_bytes(),
    ));
    writes
}
