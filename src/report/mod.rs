//! One serializable report model, rendered to every output format.

pub mod junit;
pub mod model;

pub use model::*;

// Temporary until the renderers land: summary.json only.
pub mod console {
    pub fn summary_table(r: &super::Report) -> String {
        serde_json::to_string_pretty(
            &r.results
                .iter()
                .map(|c| (&c.name, c.operations, c.attempts, c.success_rate))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {msg}", path.display())]
    Parse {
        path: std::path::PathBuf,
        msg: String,
    },
}

pub fn write_all(
    r: &Report,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, ReportError> {
    let path = dir.join("summary.json");
    let s = serde_json::to_string_pretty(r).map_err(|e| ReportError::Parse {
        path: path.clone(),
        msg: e.to_string(),
    })?;
    std::fs::write(&path, s).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(vec![path])
}

pub fn rerender(dir: &std::path::Path) -> Result<Report, ReportError> {
    let path = dir.join("summary.json");
    let s = std::fs::read_to_string(&path).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&s).map_err(|e| ReportError::Parse {
        path,
        msg: e.to_string(),
    })
}
