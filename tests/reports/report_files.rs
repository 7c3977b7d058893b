//! The run-directory files as a whole: CSV headers against the fixtures in
//! tests/fixtures/csv_headers/ (the contract with spreadsheets and scripts),
//! CSV escaping of hostile outcome codes, and write_all / rerender.

use stampede::report::{self, ReportError};
use std::path::{Path, PathBuf};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stampede-files-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/csv_headers")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim_end()
        .to_string()
}

#[test]
fn report_files_csv_headers_match_fixtures() {
    let dir = temp_dir("headers");
    let written = report::write_all(&stampede::sample::sample_report(), &dir).unwrap();
    assert_eq!(report::csv::FILES.len(), 8);
    for (file, header) in report::csv::FILES {
        let stem = file.trim_end_matches(".csv");
        let expected = fixture(&format!("{stem}.txt"));
        assert_eq!(header.join(","), expected, "{file} header constant");
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(text.lines().next().unwrap(), expected, "{file} as written");
        // The sample journey has no wait step; every other file has rows.
        if *file != "waits.csv" {
            assert!(text.lines().count() > 1, "{file} has rows");
        }
        assert!(written.contains(&dir.join(file)));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn report_files_csv_quotes_hostile_codes_and_keeps_columns() {
    let dir = temp_dir("quote");
    let mut r = stampede::sample::sample_report();
    r.results[1]
        .counts
        .outcomes
        .insert("EVIL,\"code\"\nnext".to_string(), 1);
    report::write_all(&r, &dir).unwrap();
    let mut rdr = csv::Reader::from_path(dir.join("outcomes.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert!(rows.iter().all(|r| r.len() == 4));
    assert!(
        rows.iter()
            .any(|r| &r[2] == "EVIL,\"code\"\nnext" && &r[1] == "all")
    );
    assert!(rows.iter().any(|r| &r[2] == "<script>alert(1)</script>"));
    let mut rdr = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let summary: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(summary.len(), 2);
    assert_eq!(&summary[1][0], "naive");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn report_files_write_all_and_rerender() {
    let root = temp_dir("all");
    let dir = root.join("nested/run");
    let r = stampede::sample::sample_report();
    let written = report::write_all(&r, &dir).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "summary.json",
            "summary.csv",
            "latency.csv",
            "outcomes.csv",
            "retries.csv",
            "timeseries.csv",
            "latency_series.csv",
            "funnel.csv",
            "waits.csv",
            "report.html",
            "junit.xml"
        ]
    );
    // rerender rebuilds the derived files from summary.json alone.
    std::fs::remove_file(dir.join("report.html")).unwrap();
    std::fs::remove_file(dir.join("latency.csv")).unwrap();
    let back = report::rerender(&dir).unwrap();
    assert_eq!(back.results.len(), 2);
    assert!(dir.join("report.html").is_file());
    assert!(dir.join("latency.csv").is_file());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn report_files_errors_name_the_path() {
    let dir = temp_dir("err");
    std::fs::create_dir_all(&dir).unwrap();
    // A file where the directory should be.
    let blocker = dir.join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let err =
        report::write_all(&stampede::sample::sample_report(), &blocker.join("run")).unwrap_err();
    assert!(matches!(err, ReportError::CreateDir { .. }));
    assert!(err.to_string().contains("blocker/run"), "{err}");
    let err = report::rerender(&dir.join("missing")).unwrap_err();
    assert!(err.to_string().contains("missing/summary.json"), "{err}");
    std::fs::write(dir.join("summary.json"), "not json").unwrap();
    let err = report::rerender(&dir).unwrap_err();
    assert!(
        err.to_string().contains("summary.json is not a valid"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn report_files_csv_neutralises_formulas_but_not_numbers() {
    let dir = temp_dir("formula");
    let mut r = stampede::sample::sample_report();
    for code in [
        "=cmd|' /C calc'!A0",
        "+SUM(1)",
        "-1+2",
        "@A1",
        "\t=1",
        "\r=2",
    ] {
        r.results[0].counts.outcomes.insert(code.to_string(), 3);
    }
    r.results[0].recovery_s = Some(-1.5);
    r.results[1].name = "=HYPERLINK(\"x\")".into();
    report::write_all(&r, &dir).unwrap();
    for file in [
        "summary.csv",
        "latency.csv",
        "outcomes.csv",
        "retries.csv",
        "timeseries.csv",
        "latency_series.csv",
        "funnel.csv",
    ] {
        let mut rdr = csv::Reader::from_path(dir.join(file)).unwrap();
        for row in rdr.records().map(Result::unwrap) {
            for cell in row.iter() {
                let formula = cell.starts_with(['=', '+', '@', '\t', '\r'])
                    || (cell.starts_with('-') && cell.parse::<f64>().is_err());
                assert!(!formula, "{file}: formula cell {cell:?}");
            }
        }
    }
    let mut rdr = csv::Reader::from_path(dir.join("outcomes.csv")).unwrap();
    let codes: Vec<String> = rdr.records().map(|r| r.unwrap()[2].to_string()).collect();
    for code in [
        "'=cmd|' /C calc'!A0",
        "'+SUM(1)",
        "'-1+2",
        "'@A1",
        "'\t=1",
        "'\r=2",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code:?} in {codes:?}");
    }
    let mut rdr = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let col = rdr
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "recovery_s")
        .unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][col], "-1.5", "numbers stay numbers");
    assert_eq!(&rows[1][0], "'=HYPERLINK(\"x\")");
    // summary.json keeps the value as the target sent it.
    let json = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    assert!(json.contains("\"=cmd|' /C calc'!A0\""));
    std::fs::remove_dir_all(dir).unwrap();
}
