//! The search for the largest load a fleet survives: grow from the
//! scenario's own value by doubling until a load fails (or shrink by halving
//! until one survives), then bisect between the largest load that survived
//! and the smallest that failed until they are within the precision. Pure:
//! the caller runs each load and says whether it survived.

/// Where the search stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Bisect {
    /// The first load tried.
    start: f64,
    min: f64,
    max: f64,
    /// Stop when `failed - survived <= precision × failed`.
    precision: f64,
    /// Loads are whole numbers (users), not rates.
    integer: bool,
    max_runs: u32,
    runs: u32,
    /// The largest load that survived so far.
    pub survived: Option<f64>,
    /// The smallest load that failed so far.
    pub failed: Option<f64>,
}

/// The search's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub min: f64,
    pub max: f64,
    pub precision: f64,
    pub integer: bool,
    pub max_runs: u32,
}

impl Bisect {
    pub fn new(start: f64, l: Limits) -> Self {
        let round = |v: f64| if l.integer { v.round() } else { v };
        let min = round(l.min).max(if l.integer { 1.0 } else { f64::MIN_POSITIVE });
        let max = round(l.max).max(min);
        Bisect {
            start: round(start).clamp(min, max),
            min,
            max,
            precision: l.precision,
            integer: l.integer,
            max_runs: l.max_runs,
            runs: 0,
            survived: None,
            failed: None,
        }
    }

    /// Record the verdict of load `v`.
    pub fn record(&mut self, v: f64, survived: bool) {
        self.runs += 1;
        if survived {
            self.survived = Some(self.survived.map_or(v, |s| s.max(v)));
        } else {
            self.failed = Some(self.failed.map_or(v, |f| f.min(v)));
        }
    }

    /// The next load to try, or `None` when the search is over: bracketed
    /// within the precision, survived at `max`, failed at `min`, or out of
    /// runs.
    pub fn next(&self) -> Option<f64> {
        if self.runs >= self.max_runs {
            return None;
        }
        let v = match (self.survived, self.failed) {
            (None, None) => self.start,
            (Some(s), None) => {
                if s >= self.max {
                    return None;
                }
                (s * 2.0).min(self.max)
            }
            (None, Some(f)) => {
                if f <= self.min {
                    return None;
                }
                (f / 2.0).max(self.min)
            }
            (Some(s), Some(f)) => {
                let gap = f - s;
                if gap <= self.precision * f || (self.integer && gap <= 1.0) {
                    return None;
                }
                (s + f) / 2.0
            }
        };
        let v = if self.integer { v.floor() } else { v };
        // A whole-number step that cannot move is the end, not a loop.
        let tried = |x: Option<f64>| x == Some(v);
        (!tried(self.survived) && !tried(self.failed)).then_some(v)
    }

    /// Runs made so far.
    pub fn runs(&self) -> u32 {
        self.runs
    }

    /// Whether the search stopped because it ran out of runs while the
    /// bracket was still wider than the precision.
    pub fn out_of_runs(&self) -> bool {
        self.runs >= self.max_runs && {
            let probe = Bisect {
                max_runs: u32::MAX,
                ..self.clone()
            };
            probe.next().is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(integer: bool) -> Limits {
        Limits {
            min: 1.0,
            max: 1_000_000.0,
            precision: 0.05,
            integer,
            max_runs: 40,
        }
    }

    /// Run the search against a target that survives up to `cap`; the loads tried.
    fn search(start: f64, cap: f64, l: Limits) -> (Bisect, Vec<f64>) {
        let mut b = Bisect::new(start, l);
        let mut tried = Vec::new();
        while let Some(v) = b.next() {
            tried.push(v);
            b.record(v, v <= cap);
        }
        (b, tried)
    }

    #[test]
    fn grows_by_doubling_then_bisects_to_the_precision() {
        let (b, tried) = search(100.0, 1234.0, limits(true));
        assert_eq!(&tried[..5], &[100.0, 200.0, 400.0, 800.0, 1600.0]);
        let (s, f) = (b.survived.unwrap(), b.failed.unwrap());
        assert!(s <= 1234.0 && f > 1234.0, "{s} {f}");
        assert!(f - s <= 0.05 * f, "{s} {f}");
        // Bisection halves the bracket each time: 800..1600 to within 5% in a few runs.
        assert!(tried.len() <= 10, "{tried:?}");
    }

    #[test]
    fn shrinks_by_halving_when_the_first_load_fails() {
        let (b, tried) = search(1000.0, 90.0, limits(true));
        assert_eq!(&tried[..5], &[1000.0, 500.0, 250.0, 125.0, 62.0]);
        let (s, f) = (b.survived.unwrap(), b.failed.unwrap());
        assert!(s <= 90.0 && f > 90.0 && f - s <= 0.05 * f, "{s} {f}");
    }

    #[test]
    fn whole_numbers_bisect_to_neighbours_when_the_precision_asks() {
        let l = Limits {
            precision: 0.0,
            ..limits(true)
        };
        let (b, _) = search(10.0, 37.0, l);
        assert_eq!((b.survived, b.failed), (Some(37.0), Some(38.0)));
        assert!(!b.out_of_runs());
    }

    #[test]
    fn the_ends_of_the_range_stop_the_search() {
        let l = Limits {
            max: 500.0,
            ..limits(true)
        };
        // Survives everything: stops at max, with no failing load.
        let (b, tried) = search(100.0, f64::INFINITY, l);
        assert_eq!(tried, [100.0, 200.0, 400.0, 500.0]);
        assert_eq!((b.survived, b.failed), (Some(500.0), None));
        // Fails everything: stops at min, with no surviving load.
        let (b, tried) = search(8.0, 0.0, l);
        assert_eq!(tried, [8.0, 4.0, 2.0, 1.0]);
        assert_eq!((b.survived, b.failed), (None, Some(1.0)));
        // The start is clamped into the range.
        let (_, tried) = search(10_000.0, 0.0, l);
        assert_eq!(tried[0], 500.0);
    }

    #[test]
    fn a_run_budget_bounds_the_search_and_says_so() {
        let l = Limits {
            max_runs: 3,
            precision: 0.0,
            ..limits(false)
        };
        let (b, tried) = search(1.0, 777.7, l);
        assert_eq!(tried.len(), 3);
        assert!(b.out_of_runs());
    }

    #[test]
    fn rates_bisect_as_fractions() {
        let l = Limits {
            min: 0.5,
            ..limits(false)
        };
        let (b, _) = search(10.0, 33.3, l);
        let (s, f) = (b.survived.unwrap(), b.failed.unwrap());
        assert!(s <= 33.3 && f > 33.3 && f - s <= 0.05 * f, "{s} {f}");
        assert!(s.fract() != 0.0 || f.fract() != 0.0);
    }
}
