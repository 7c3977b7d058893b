//! `summary.json`: the report model as pretty JSON. It is the source of
//! truth a run directory keeps; every other file can be rebuilt from it
//! (`stampede report RUN_DIR`). Its shape is pinned by
//! `docs/summary.schema.json`, which a test checks against the model.

use super::ReportError;
use crate::model::{Report, SCHEMA_VERSION};
use std::path::{Path, PathBuf};

pub const SUMMARY_FILE: &str = "summary.json";

/// Writes `dir/summary.json` (pretty, trailing newline) atomically and
/// returns its path.
pub fn write_summary(report: &Report, dir: &Path) -> Result<PathBuf, ReportError> {
    let path = dir.join(SUMMARY_FILE);
    let mut text = serde_json::to_string_pretty(report).map_err(|source| ReportError::Json {
        path: path.clone(),
        source,
    })?;
    text.push('\n');
    super::write::write_bytes_atomic(&path, text.as_bytes())
}

/// Reads `dir/summary.json`. A file from a newer stampede (higher
/// `schema_version`) is refused with both versions named rather than
/// half-read.
pub fn load_summary(dir: &Path) -> Result<Report, ReportError> {
    let path = dir.join(SUMMARY_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Read {
        path: path.clone(),
        source,
    })?;
    parse_summary(&text, &path)
}

/// Parses summary.json text; `path` is only used in errors.
pub fn parse_summary(text: &str, path: &Path) -> Result<Report, ReportError> {
    let version_error = |found: u64| ReportError::SchemaVersion {
        path: path.to_path_buf(),
        found: u32::try_from(found).unwrap_or(u32::MAX),
        expected: SCHEMA_VERSION,
    };
    match serde_json::from_str::<Report>(text) {
        Ok(report) if report.schema_version > SCHEMA_VERSION => {
            Err(version_error(u64::from(report.schema_version)))
        }
        Ok(report) => Ok(report),
        Err(source) => {
            // A newer file may fail to parse only because its shape moved on;
            // say so instead of pointing at some renamed field.
            let newer = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("schema_version")?.as_u64())
                .filter(|v| *v > u64::from(SCHEMA_VERSION));
            Err(match newer {
                Some(found) => version_error(found),
                None => ReportError::Json {
                    path: path.to_path_buf(),
                    source,
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::sample_report;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stampede-json-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn report_json_round_trips() {
        let dir = temp_dir("rt");
        let report = sample_report();
        let path = write_summary(&report, &dir).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("{\n  \"schema_version\": 1,"),
            "pretty JSON"
        );
        let loaded = load_summary(&dir).unwrap();
        // serde_json may parse a float 1 ulp off; compare with a tolerance.
        assert_json_close(
            &serde_json::to_value(&loaded).unwrap(),
            &serde_json::to_value(&report).unwrap(),
            "$",
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
        use serde_json::Value as V;
        match (a, b) {
            (V::Number(x), V::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{at}: {x} != {y}");
            }
            (V::Array(x), V::Array(y)) => {
                assert_eq!(x.len(), y.len(), "{at}");
                for (i, (x, y)) in x.iter().zip(y).enumerate() {
                    assert_json_close(x, y, &format!("{at}[{i}]"));
                }
            }
            (V::Object(x), V::Object(y)) => {
                assert_eq!(
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>(),
                    "{at}"
                );
                for (k, v) in x {
                    assert_json_close(v, &y[k], &format!("{at}.{k}"));
                }
            }
            _ => assert_eq!(a, b, "{at}"),
        }
    }

    #[test]
    fn report_json_errors_name_the_file() {
        let dir = temp_dir("bad");
        let missing = load_summary(&dir.join("nope")).unwrap_err().to_string();
        assert!(missing.contains("nope/summary.json"), "{missing}");
        std::fs::write(dir.join(SUMMARY_FILE), "{\"schema_version\": 1,").unwrap();
        let err = load_summary(&dir).unwrap_err().to_string();
        assert!(
            err.contains("summary.json is not a valid stampede summary"),
            "{err}"
        );
        std::fs::write(dir.join(SUMMARY_FILE), "{\"schema_version\": 99}").unwrap();
        let err = load_summary(&dir).unwrap_err().to_string();
        assert!(
            err.contains("schema_version 99") && err.contains("version 1"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn report_json_has_the_latency_series_fields() {
        let v = serde_json::to_value(sample_report()).unwrap();
        let c = &v["results"][0];
        assert_eq!(c["latency_interval_ms"], 1000);
        for series in [
            &c["latency_series"],
            &c["latency_per_second"],
            &c["steps"][1]["latency_series"],
        ] {
            let rows = series.as_array().unwrap();
            assert_eq!(rows.len(), 60);
            assert_eq!(rows[3]["t_ms"], 3000);
            for kind in ["operation_latency_ms", "attempt_latency_ms"] {
                for key in ["count", "p50", "p90", "p95", "p99", "max"] {
                    assert!(rows[3][kind][key].is_number(), "{kind}.{key}");
                }
            }
        }
        // A summary.json from before the series existed still loads.
        let mut old = v.clone();
        let c = old["results"][0].as_object_mut().unwrap();
        for key in [
            "latency_interval_ms",
            "latency_series",
            "latency_per_second",
        ] {
            c.remove(key);
        }
        let r: Report = serde_json::from_value(old).unwrap();
        assert!(r.results[0].latency.latency_series.is_empty());
    }
}
