//! A contended resource for optimistic-concurrency clients (the guidelines
//! profile's `POST /resources/{id}/write`): each write reads the
//! resource's version when it arrives, works for `service_time`, then
//! commits only if the version is still the one it read (compare and set).
//! Of writes whose windows overlap, the first to finish wins and the others
//! get 409 `CONFLICT`: they must read again and retry, as clients of an
//! optimistic-concurrency store do. Writes hold no worker: any number of
//! them overlap, which is what makes them conflict.

use std::collections::HashMap;
use std::sync::Mutex;

/// Versions of the resources written so far (a resource never written is
/// at version 0).
#[derive(Debug, Default)]
pub struct Contention {
    versions: Mutex<HashMap<String, u64>>,
}

/// What a write read when it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read(u64);

impl Contention {
    /// The version a write arriving now reads.
    pub fn read(&self, resource: &str) -> Read {
        let v = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        Read(v.get(resource).copied().unwrap_or(0))
    }

    /// Commits a write that read `seen`: the new version, or `None` when
    /// another write committed since (a conflict).
    pub fn commit(&self, resource: &str, seen: Read) -> Option<u64> {
        let mut v = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        let now = v.get(resource).copied().unwrap_or(0);
        if now != seen.0 {
            return None;
        }
        v.insert(resource.to_owned(), now + 1);
        Some(now + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_alone_commits_and_moves_the_version() {
        let c = Contention::default();
        let r = c.read("R1");
        assert_eq!(c.commit("R1", r), Some(1));
        assert_eq!(c.commit("R1", c.read("R1")), Some(2));
    }

    #[test]
    fn of_overlapping_writes_the_first_to_commit_wins() {
        let c = Contention::default();
        let (a, b, d) = (c.read("R1"), c.read("R1"), c.read("R1"));
        assert_eq!(c.commit("R1", a), Some(1));
        assert_eq!(c.commit("R1", b), None, "read before a's commit");
        assert_eq!(c.commit("R1", d), None);
        // Read again after the commit: no conflict.
        assert_eq!(c.commit("R1", c.read("R1")), Some(2));
    }

    #[test]
    fn resources_do_not_conflict_with_each_other() {
        let c = Contention::default();
        let (a, b) = (c.read("R1"), c.read("R2"));
        assert_eq!(c.commit("R2", b), Some(1));
        assert_eq!(c.commit("R1", a), Some(1));
    }
}
