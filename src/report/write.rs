//! How every report file reaches the disk: written in full to a temporary
//! name in the same folder, flushed and synced, then renamed into place. A
//! reader (or a crash, or a full disk) therefore sees the old file or the
//! new one, never half of one. A fan-out of files tries every file and keeps
//! each failure, named, instead of stopping at the first.

use super::ReportError;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What writing a set of files did: the files now in place, and one error
/// (naming its file) per file that could not be written.
#[derive(Debug, Default)]
pub struct Writes {
    pub written: Vec<PathBuf>,
    pub failed: Vec<ReportError>,
}

impl Writes {
    pub fn push(&mut self, result: Result<PathBuf, ReportError>) {
        match result {
            Ok(path) => self.written.push(path),
            Err(e) => self.failed.push(e),
        }
    }

    pub fn extend(&mut self, other: Writes) {
        self.written.extend(other.written);
        self.failed.extend(other.failed);
    }

    /// The files written, or the first failure (after every file was tried).
    pub fn into_result(self) -> Result<Vec<PathBuf>, ReportError> {
        match self.failed.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.written),
        }
    }
}

impl FromIterator<Result<PathBuf, ReportError>> for Writes {
    fn from_iter<I: IntoIterator<Item = Result<PathBuf, ReportError>>>(iter: I) -> Self {
        let mut w = Writes::default();
        for r in iter {
            w.push(r);
        }
        w
    }
}

/// The temporary files being written now, and whether writing has been
/// abandoned (see [`abandon`]).
struct InFlight {
    abandoned: bool,
    temps: Vec<PathBuf>,
}

static IN_FLIGHT: Mutex<InFlight> = Mutex::new(InFlight {
    abandoned: false,
    temps: Vec::new(),
});

fn in_flight() -> std::sync::MutexGuard<'static, InFlight> {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Stops every write for good, for a process about to exit on a signal:
/// each temporary file being written is removed, and a write that has not
/// created its temporary file yet fails without creating it. A file
/// renamed into place before this is complete; a write caught after this
/// cannot rename (its temporary name is gone). So the folder holds every
/// report file whole or not at all, and no temporary file.
pub fn abandon() {
    let mut f = in_flight();
    f.abandoned = true;
    for tmp in f.temps.drain(..) {
        let _ = std::fs::remove_file(tmp);
    }
}

/// Creates the temporary file `tmp`, registered as in flight (under the
/// lock [`abandon`] takes, so it never outlives an abandon).
fn create_temp(tmp: &Path) -> io::Result<File> {
    let mut f = in_flight();
    if f.abandoned {
        return Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "not written: stopped by a signal",
        ));
    }
    let file = File::create(tmp)?;
    f.temps.push(tmp.to_path_buf());
    Ok(file)
}

/// `tmp` is no longer in flight (renamed into place, or removed).
fn forget_temp(tmp: &Path) {
    in_flight().temps.retain(|t| t != tmp);
}

/// Writes `path` atomically: `fill` writes the content to a temporary file
/// beside it (`.NAME.PID.tmp`), which is synced and renamed over `path`. On
/// any failure the temporary file is removed, `path` is left as it was, and
/// the error names `path`.
pub fn write_atomic<F>(path: &Path, fill: F) -> Result<PathBuf, ReportError>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let tmp = temp_name(path);
    let result = write_then_rename(&tmp, path, fill);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    forget_temp(&tmp);
    result.map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}

/// [`write_atomic`] for content already in memory.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<PathBuf, ReportError> {
    write_atomic(path, |w| w.write_all(bytes))
}

fn write_then_rename<F>(tmp: &Path, path: &Path, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let mut out = BufWriter::new(create_temp(tmp)?);
    fill(&mut out)?;
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, path)
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stampede-write-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn report_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = temp_dir("ok");
        let path = dir.join("a.txt");
        std::fs::write(&path, "old content, longer than the new one").unwrap();
        let written = write_bytes_atomic(&path, b"new").unwrap();
        assert_eq!(written, path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(entries(&dir), ["a.txt"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn report_write_failure_keeps_the_old_file_and_names_the_path() {
        let dir = temp_dir("fail");
        let path = dir.join("b.txt");
        std::fs::write(&path, "previous").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("b.txt") && msg.contains("disk full"), "{msg}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous");
        assert_eq!(entries(&dir), ["b.txt"], "temporary file removed");
        // A directory in the way: the rename fails, the error names the target.
        std::fs::create_dir(dir.join("c.json")).unwrap();
        let err = write_bytes_atomic(&dir.join("c.json"), b"{}").unwrap_err();
        assert!(err.to_string().contains("c.json"), "{err}");
        assert_eq!(entries(&dir), ["b.txt", "c.json"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn report_writes_keep_every_failure() {
        let ok = PathBuf::from("x");
        let bad = || ReportError::Write {
            path: PathBuf::from("y"),
            source: io::Error::other("no"),
        };
        let w: Writes = [Ok(ok.clone()), Err(bad()), Ok(ok.clone()), Err(bad())]
            .into_iter()
            .collect();
        assert_eq!(w.written.len(), 2);
        assert_eq!(w.failed.len(), 2);
        assert!(w.into_result().is_err());
        let w: Writes = [Ok(ok.clone())].into_iter().collect();
        assert_eq!(w.into_result().unwrap(), [ok]);
    }
}
