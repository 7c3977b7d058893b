//! Scenario files: the TOML model, the validated [`Plan`] and the errors
//! that point at `file:line:column` and the key.

mod abort;
pub mod bounds;
mod build;
pub mod locate;
pub mod model;
pub mod plan;
pub mod template;
pub mod trace;

pub use abort::{AbortMetric, AbortRule};
pub use build::Overrides;
pub use plan::*;

use std::io::Read;
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

/// Read, parse and validate a scenario file (at most
/// [`bounds::MAX_FILE_BYTES`]; a pipe works, `/dev/zero` is refused).
pub fn load(path: &Path, ov: &Overrides) -> Result<Plan, ScenarioError> {
    let read_err = |source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut src = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(bounds::MAX_FILE_BYTES + 1).read_to_string(&mut src))
        .map_err(read_err)?;
    if src.len() as u64 > bounds::MAX_FILE_BYTES {
        return Err(read_err(std::io::Error::other(format!(
            "larger than the {} MiB a scenario file may be",
            bounds::MAX_FILE_BYTES >> 20
        ))));
    }
    build::build(&src, path, ov)
}

/// Parse and validate scenario text (`path` is used in errors and to find relative files).
pub fn parse(src: &str, path: &Path, ov: &Overrides) -> Result<Plan, ScenarioError> {
    build::build(src, path, ov)
}
