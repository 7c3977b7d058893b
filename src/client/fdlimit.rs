//! The generator's own file-descriptor limit: raised to the hard limit at
//! the start of a run, so `connections` sockets fit, with a warning when
//! they still cannot.

/// Descriptors kept aside for everything that is not a target socket
/// (report files, the runtime, stdio).
const SPARE_FDS: u64 = 64;

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit
/// now in force (`None` where it cannot be read).
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn raise() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return None;
            }
            if lim.rlim_cur < lim.rlim_max {
                let want = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    lim.rlim_cur = lim.rlim_max;
                }
            }
        }
        // rlim_t is u64 on Linux but not on every unix.
        #[allow(clippy::unnecessary_cast)]
        Some(lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}

/// A warning when `sockets` (target connections, doubled when the embedded
/// simulator holds the other end in this process) cannot fit in `limit`.
pub fn warning(limit: Option<u64>, sockets: u64) -> Option<String> {
    let limit = limit?;
    (sockets + SPARE_FDS > limit).then(|| {
        format!(
            "the generator may open {sockets} sockets but its file-descriptor limit is {limit}: attempts beyond it fail as LOCAL_RESOURCE_ERROR (raise `ulimit -n` or lower target.connections)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unnecessary_cast)]
    fn raise_reaches_the_hard_limit() {
        let soft = raise().expect("readable on unix");
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        #[allow(clippy::unnecessary_cast)]
        let want = lim.rlim_cur as u64;
        assert_eq!(soft, want);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
    }

    #[test]
    fn warns_only_when_the_sockets_do_not_fit() {
        assert_eq!(warning(Some(1024), 256), None);
        let w = warning(Some(1024), 1000).unwrap();
        assert!(w.contains("1000 sockets") && w.contains("1024"), "{w}");
        assert_eq!(warning(None, 1_000_000), None);
    }
}
