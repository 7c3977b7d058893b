//! Report errors. Every file error carries the path, because "permission
//! denied" alone after a ten-minute run tells the user nothing.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot create report directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid stampede summary: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{} was written with report schema_version {found}; this stampede reads version {expected}",
        path.display()
    )]
    SchemaVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("cannot render the HTML report: {0}")]
    Template(#[from] minijinja::Error),
    #[error("cannot write {}: rendering failed: {source}", path.display())]
    Render {
        path: PathBuf,
        source: minijinja::Error,
    },
}
