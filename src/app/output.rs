//! Writing a run's files after the console summary has been printed: every
//! file is tried, each failure is named on stderr, and the caller exits 4 if
//! any file is missing.

use crate::report::{self, Report, Writes};
use crate::run::RunOutput;
use std::io::Write;
use std::path::Path;

/// Writes every report file of a finished run into `dir` and says what was
/// written. Returns false when a file (or the folder) could not be written.
pub fn write_run(output: &RunOutput, dir: &Path) -> bool {
    flush_stdout();
    let mut writes = match report::write_every(&output.report, dir) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return false;
        }
    };
    writes.extend(output.write_hgrm(dir));
    let line = format!(
        "reports: {} ({} files)",
        dir.display(),
        writes.written.len()
    );
    let ok = announce(&writes, &line);
    if ok {
        crate::merge::partial::remove_partial_files(dir);
    }
    ok
}

/// Rewrites the files derived from summary.json (`stampede report DIR`).
pub fn rewrite_derived(report: &Report, dir: &Path) -> bool {
    flush_stdout();
    let writes = report::write_derived(report, dir);
    let line = format!(
        "reports rewritten in {} ({} files)",
        dir.display(),
        writes.written.len()
    );
    announce(&writes, &line)
}

/// One stdout line for what was written, one stderr line per failure.
fn announce(writes: &Writes, line: &str) -> bool {
    println!("{line}");
    for e in &writes.failed {
        eprintln!("error: {e}");
    }
    if !writes.failed.is_empty() {
        eprintln!(
            "error: {} report file(s) could not be written; the others are complete",
            writes.failed.len()
        );
    }
    writes.failed.is_empty()
}

/// The summary must be out before a write can hang or fail.
fn flush_stdout() {
    let _ = std::io::stdout().flush();
}

/// `stampede report DIR` on the folder of a run that died: rebuild a report
/// marked incomplete from the streamed files and write every format.
pub fn rebuild_partial(dir: &Path) -> u8 {
    let r = match crate::merge::partial::rebuild(dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::app::EXIT_CONFIG;
        }
    };
    println!("{}", crate::report::console::summary_table(&r));
    flush_stdout();
    let writes = match report::write_every(&r, dir) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::app::EXIT_RUNTIME;
        }
    };
    let line = format!(
        "incomplete run: report rebuilt from streamed files in {} ({} files)",
        dir.display(),
        writes.written.len()
    );
    if announce(&writes, &line) {
        crate::app::EXIT_OK
    } else {
        crate::app::EXIT_RUNTIME
    }
}

/// `stampede merge DIR... --out DIR`: everything read and checked first (a
/// refused shard writes nothing), then the summary, then every file; the
/// exit code is the gates' as for `run`.
pub fn merge(dirs: &[std::path::PathBuf], out: &Path, force: bool) -> u8 {
    let merged = match crate::merge::merge(dirs, force) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::app::EXIT_CONFIG;
        }
    };
    let r = &merged.report;
    println!("{}", crate::report::console::summary_table(r));
    if !r.gates.is_empty() {
        println!("gates:\n{}", crate::gate::console_lines(&r.gates));
    }
    flush_stdout();
    // Held while the files are written: no other run or merge shares `out`.
    let _claim = match super::claim::claim(out, true) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::app::EXIT_CONFIG;
        }
    };
    let writes = match crate::merge::write_merged(&merged, out) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::app::EXIT_RUNTIME;
        }
    };
    let line = format!(
        "merged {} shard(s) into {} ({} files)",
        dirs.len(),
        out.display(),
        writes.written.len()
    );
    if !announce(&writes, &line) {
        return crate::app::EXIT_RUNTIME;
    }
    if r.status != crate::report::RunStatus::Completed {
        return crate::app::EXIT_ABORTED;
    }
    if r.gates.iter().any(|g| !g.passed) {
        return crate::app::EXIT_GATES;
    }
    crate::app::EXIT_OK
}
