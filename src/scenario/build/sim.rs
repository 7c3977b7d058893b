//! `[sim]`: the embedded simulator's settings (defaults when absent).

use super::Ctx;
use crate::scenario::ScenarioError;
use crate::sim::SimConfig;

pub(super) fn build_sim(cx: &Ctx, sim: Option<&SimConfig>) -> Result<SimConfig, ScenarioError> {
    let sim = sim.cloned().unwrap_or_default();
    if let Err(e) = sim.validate() {
        let msg = e.to_string();
        // The simulator names the offending key first ("faults.error_rate: ...").
        let key = msg
            .trim_start_matches("invalid simulator config: ")
            .split(':')
            .next()
            .unwrap_or("")
            .trim();
        return Err(cx.err(&format!("sim.{key}"), msg));
    }
    Ok(sim)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::sim::SimConfig;

    #[test]
    fn absent_table_means_the_default_simulator() {
        assert_eq!(plan(OK_LOAD).sim, SimConfig::default());
    }

    #[test]
    fn partial_table_keeps_the_other_defaults() {
        let p = plan(&format!(
            "{OK_LOAD}\n[sim]\nseed = 7\n[sim.capacity]\nworkers = 3\n"
        ));
        assert_eq!((p.sim.seed, p.sim.capacity.workers), (7, 3));
        assert_eq!(p.sim.capacity.queue, SimConfig::default().capacity.queue);
    }

    #[test]
    fn invalid_knob_points_at_its_line() {
        let (line, col, key, msg) =
            invalid(&format!("{OK_LOAD}\n[sim.faults]\nerror_rate = 1.5\n"));
        assert_eq!((line, col, key.as_str()), (7, 1, "sim.faults.error_rate"));
        assert!(msg.contains("outside [0, 1]"), "{msg}");
    }
}
