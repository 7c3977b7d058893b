//! Scenario files: the TOML model, the validated [`Plan`] and the errors
//! that point at `file:line:column` and the key.

mod build;
pub mod locate;
pub mod model;
pub mod plan;
pub mod template;

pub use build::Overrides;
pub use plan::*;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{col}: {msg}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        col: usize,
        msg: String,
    },
    #[error("{}:{line}:{col}: `{key}`: {msg}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        col: usize,
        key: String,
        msg: String,
    },
}

/// Read, parse and validate a scenario file.
pub fn load(path: &Path, ov: &Overrides) -> Result<Plan, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    build::build(&src, path, ov)
}

/// Parse and validate scenario text (`path` is used in errors and to find relative files).
pub fn parse(src: &str, path: &Path, ov: &Overrides) -> Result<Plan, ScenarioError> {
    build::build(src, path, ov)
}
