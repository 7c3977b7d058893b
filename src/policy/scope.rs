//! Where a policy's client-side state lives: the retry budget and the
//! throttle are counters a real client keeps per client instance, and who
//! shares one instance changes what a fleet does under failure.

use serde::{Deserialize, Serialize};

/// Who shares one budget or throttle.
///
/// * `user`: every simulated user has its own (each person's app holds its
///   own SDK client).
/// * `process`: one per stampede process, shared by every fleet of the round
///   that runs this policy (one service's client, used by all its callers).
///   A run sharded over N processes has N of them, each of full size.
/// * `fleet`: one per fleet. Sharded over N processes, each process holds
///   1/N of the fleet's capacity (tokens, quota, reserve), so that together
///   they hold one fleet's budget; exact when failures spread evenly over
///   the shards (arrivals are dealt round-robin), and what an unsharded run
///   of the same fleet does. Counters that are ratios (the SRE throttle's
///   requests and accepts, the adaptive limiter's rates per process) need no
///   split.
///
/// In one process running one fleet, `process` and `fleet` are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    User,
    Process,
    #[default]
    Fleet,
}

impl Scope {
    /// The share of the configured capacity one holder keeps when the run
    /// is split into `shards` processes.
    pub fn share(self, shards: u32) -> f64 {
        match self {
            Scope::Fleet => 1.0 / f64::from(shards.max(1)),
            Scope::User | Scope::Process => 1.0,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Process => "process",
            Scope::Fleet => "fleet",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fleet_is_split_among_shards() {
        assert_eq!(Scope::Fleet.share(1), 1.0);
        assert_eq!(Scope::Fleet.share(4), 0.25);
        assert_eq!(Scope::Fleet.share(0), 1.0);
        assert_eq!(Scope::Process.share(4), 1.0);
        assert_eq!(Scope::User.share(4), 1.0);
        assert_eq!(Scope::default(), Scope::Fleet);
    }
}
