//! How a run ended, as a type; its label (`"completed"` …) appears only
//! where the report is rendered or saved (`summary.json` keeps the strings).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every round ran its schedule and drained.
    Completed,
    /// Ctrl-C (or a dead round) stopped it early; what ran is reported.
    Interrupted,
    /// An abort rule or an unreachable target stopped it.
    Aborted,
    /// Every round ran its schedule, but journeys still running at the
    /// drain deadline were cancelled: the slowest work is not in the numbers.
    #[serde(rename = "drain_expired")]
    DrainExpired,
    /// The generator itself failed (a simulated user's task panicked): the
    /// numbers are incomplete and must not pass a gate.
    Failed,
    /// The run never wrote its report (killed); `stampede report DIR`
    /// rebuilt this one from the files it streamed up to its last second.
    Incomplete,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Aborted => "aborted",
            RunStatus::DrainExpired => "drain_expired",
            RunStatus::Failed => "failed",
            RunStatus::Incomplete => "incomplete",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_to_the_labels_summary_json_always_had() {
        for (s, label) in [
            (RunStatus::Completed, "completed"),
            (RunStatus::Interrupted, "interrupted"),
            (RunStatus::Aborted, "aborted"),
            (RunStatus::DrainExpired, "drain_expired"),
            (RunStatus::Failed, "failed"),
            (RunStatus::Incomplete, "incomplete"),
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), label);
            assert_eq!(s.to_string(), label);
            let back: RunStatus = serde_json::from_value(label.into()).unwrap();
            assert_eq!(back, s);
        }
        assert!(serde_json::from_value::<RunStatus>("finished".into()).is_err());
    }
}
