//! The async runtime a command runs on, chosen by the cores this process
//! may use (`taskset`, a container's CPU set).
//!
//! On one core the runtime is tokio's current-thread scheduler: one run
//! queue, first in first out. The multi-thread scheduler on one worker
//! starved a fixed subset of connections: its local queue holds 256 tasks,
//! the rest spill to the shared queue, which a busy worker visits once
//! every 61 polls, and with no second worker to steal them those tasks
//! waited seconds while the others cycled in milliseconds. Measured with
//! `scenarios/bench-peers-10k.toml` (10,000 users on 10,000 connections,
//! `taskset -c 1`, nginx on core 0): attempt p50 4 ms and p95 1,841 ms on
//! the multi-thread scheduler, p50 191 ms and p95 225 ms on this one, at
//! the same throughput. With two or more cores, workers steal from each
//! other and the multi-thread scheduler keeps the latencies even (p99 330 ms
//! in the same scenario on two cores).

use tokio::runtime::{Builder, Runtime};

/// Which scheduler for `cores` usable cores.
#[derive(Debug, PartialEq, Eq)]
pub enum Flavor {
    CurrentThread,
    MultiThread,
}

pub fn flavor_for(cores: usize) -> Flavor {
    if cores <= 1 {
        Flavor::CurrentThread
    } else {
        Flavor::MultiThread
    }
}

/// The runtime for this process: I/O and timers enabled, the scheduler as
/// [`flavor_for`] says for the cores the process may run on.
pub fn runtime() -> std::io::Result<Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut b = match flavor_for(cores) {
        Flavor::CurrentThread => Builder::new_current_thread(),
        Flavor::MultiThread => Builder::new_multi_thread(),
    };
    b.enable_all().build()
}

/// The runtime for `clock`: on virtual time one thread whatever the cores
/// (its task order is then a function of the run alone) on a paused clock
/// (time jumps to the next timer when every task waits); on real time
/// [`runtime`].
pub fn runtime_for(clock: crate::clock::ClockMode) -> std::io::Result<Runtime> {
    match clock {
        crate::clock::ClockMode::Real => runtime(),
        crate::clock::ClockMode::Virtual => Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Flavor, flavor_for, runtime_for};
    use crate::clock::ClockMode;

    #[test]
    fn the_virtual_runtime_starts_paused_and_jumps_to_the_next_timer() {
        let rt = runtime_for(ClockMode::Virtual).expect("runtime");
        let wall = std::time::Instant::now();
        let slept = rt.block_on(async {
            let t0 = tokio::time::Instant::now();
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            t0.elapsed()
        });
        assert_eq!(slept, std::time::Duration::from_secs(3600));
        assert!(wall.elapsed() < std::time::Duration::from_secs(60));
    }

    #[test]
    fn one_core_gets_the_fifo_scheduler_and_more_get_work_stealing() {
        assert_eq!(flavor_for(0), Flavor::CurrentThread);
        assert_eq!(flavor_for(1), Flavor::CurrentThread);
        assert_eq!(flavor_for(2), Flavor::MultiThread);
        assert_eq!(flavor_for(64), Flavor::MultiThread);
    }
}
