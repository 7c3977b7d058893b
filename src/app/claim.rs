//! `--out` is claimed before anything is written: an advisory lock on
//! `<out>/.stampede.lock`, held until the process ends (the kernel drops it
//! when the process dies, even by SIGKILL), then the folder is checked for
//! files of an earlier run. Two runs on one folder cannot both go on: the
//! second finds the lock held, or the first run's files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// The lock file's name inside `--out`.
pub const LOCK_FILE: &str = ".stampede.lock";

/// A claimed report folder; the claim lasts as long as this value.
#[derive(Debug)]
pub struct Claim {
    _file: File,
}

/// Claim `dir` (created if missing). `force` accepts a folder that holds
/// files already (they are replaced, others left as they are); it never
/// shares a folder with a run that is still going.
pub fn claim(dir: &Path, force: bool) -> Result<Claim, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create --out {}: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let pid = holder.trim();
            let who = if pid.is_empty() {
                String::new()
            } else {
                format!(" (pid {pid})")
            };
            return Err(format!(
                "--out {}: another stampede run{who} is writing into it; choose another folder",
                dir.display()
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(format!("cannot lock {}: {e}", path.display()));
        }
    }
    if !force && has_files(dir)? {
        return Err(format!(
            "--out {} is not empty (files of an earlier run would mix with this one's); \
             choose a fresh folder, or pass --force to write into it",
            dir.display()
        ));
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "{}", std::process::id());
    Ok(Claim { _file: file })
}

/// Anything in `dir` besides the lock file.
fn has_files(dir: &Path) -> Result<bool, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read --out {}: {e}", dir.display()))?;
    Ok(entries
        .filter_map(Result::ok)
        .any(|e| e.file_name() != LOCK_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("stampede-claim-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_second_claim_is_refused_while_the_first_holds() {
        let d = temp("twice");
        let first = claim(&d, false).unwrap();
        let e = claim(&d, true).unwrap_err();
        assert!(e.contains("another stampede run"), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        // Released: the folder holds only the lock file, so it counts as empty.
        let again = claim(&d, false).unwrap();
        drop(again);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_folder_with_files_needs_force() {
        let d = temp("files");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("summary.json"), "{}").unwrap();
        let e = claim(&d, false).unwrap_err();
        assert!(e.contains("is not empty"), "{e}");
        assert!(claim(&d, true).is_ok());
        let _ = std::fs::remove_dir_all(d);
    }
}
