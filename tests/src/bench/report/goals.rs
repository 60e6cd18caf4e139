//! The issue's speed goals for Cachet, as data, and their verdicts on one engine's medians.
//!
//! Goals are reported in the bench table, never asserted: speed is measured by the bench, not
//! checked by timed tests. A scenario may have more than one goal (the fresh builder's is two
//! conditions); its cells list each, joined by `; `.

use super::{signed_seconds, Medians};
use crate::bench::{Contender, Scenario};

/// What Cachet's median in a goal's scenario is held against.
#[derive(Clone, Copy, Debug)]
pub(super) enum Measure {
    /// Cachet's median itself, in seconds.
    Seconds,
    /// Cachet's median over the fastest median of these contenders in that scenario.
    RatioTo(&'static [Contender], Scenario),
    /// Cachet's median minus this contender's median in the same scenario, in seconds.
    Over(Contender),
}

/// The bound a goal's figure must keep.
#[derive(Clone, Copy, Debug)]
pub(super) enum Bound {
    /// `figure ≤ bound`.
    AtMost(f64),
    /// `figure < bound` ("faster than").
    Below(f64),
}

/// A goal from the issue, for one scenario.
#[derive(Clone, Copy, Debug)]
pub(super) struct Goal {
    pub scenario: Scenario,
    pub measure: Measure,
    pub bound: Bound,
}

use Contender::{CacheMount, Cachet, Chef, Host, Plain};

/// Issue 16's goals.
pub(super) const GOALS: &[Goal] = &[
    Goal {
        scenario: Scenario::Cold,
        measure: Measure::RatioTo(&[Plain, CacheMount], Scenario::Cold),
        bound: Bound::AtMost(1.05),
    },
    Goal {
        scenario: Scenario::NoOp,
        measure: Measure::Over(CacheMount),
        bound: Bound::AtMost(0.3),
    },
    Goal {
        scenario: Scenario::LeafEdit,
        measure: Measure::RatioTo(&[Host], Scenario::LeafEdit),
        bound: Bound::AtMost(1.10),
    },
    Goal {
        scenario: Scenario::CoreEdit,
        measure: Measure::RatioTo(&[Host], Scenario::CoreEdit),
        bound: Bound::AtMost(1.10),
    },
    Goal {
        scenario: Scenario::RustflagsChange,
        measure: Measure::RatioTo(&[CacheMount], Scenario::RustflagsChange),
        bound: Bound::AtMost(1.05),
    },
    Goal {
        scenario: Scenario::RustflagsRevert,
        measure: Measure::Seconds,
        bound: Bound::AtMost(1.0),
    },
    Goal {
        scenario: Scenario::LockfileBump,
        measure: Measure::RatioTo(&[CacheMount], Scenario::LockfileBump),
        bound: Bound::AtMost(1.15),
    },
    Goal {
        scenario: Scenario::FreshBuilder,
        measure: Measure::RatioTo(&[Cachet], Scenario::Cold),
        bound: Bound::AtMost(0.30),
    },
    Goal {
        scenario: Scenario::FreshBuilder,
        measure: Measure::RatioTo(&[Chef], Scenario::FreshBuilder),
        bound: Bound::Below(1.0),
    },
];

impl Bound {
    fn holds(self, figure: f64) -> bool {
        match self {
            Bound::AtMost(b) => figure <= b,
            Bound::Below(b) => figure < b,
        }
    }

    fn sign(self) -> &'static str {
        match self {
            Bound::AtMost(_) => "≤",
            Bound::Below(_) => "<",
        }
    }

    fn value(self) -> f64 {
        match self {
            Bound::AtMost(b) | Bound::Below(b) => b,
        }
    }
}

impl Goal {
    /// The goal in words, e.g. `≤ 1.05× min(plain, cache-mount)`, `≤ cache-mount + 0.3 s`.
    pub fn text(&self) -> String {
        let (sign, bound) = (self.bound.sign(), self.bound.value());
        match self.measure {
            Measure::Seconds => format!("{sign} {bound:.1} s"),
            Measure::Over(c) => format!("{sign} {} + {bound:.1} s", c.name()),
            Measure::RatioTo(to, scenario) => {
                let names: Vec<&str> = to.iter().map(|c| c.name()).collect();
                let mut who = match names.as_slice() {
                    [one] => one.to_string(),
                    many => format!("min({})", many.join(", ")),
                };
                if scenario != self.scenario {
                    who = format!("{who} {}", scenario.name());
                }
                format!("{sign} {bound:.2}× {who}")
            }
        }
    }

    /// Cachet's figure for the goal; `None` while a median it needs is missing.
    pub fn figure(&self, m: &Medians) -> Option<f64> {
        let cachet = m.get(Cachet, self.scenario)?;
        match self.measure {
            Measure::Seconds => Some(cachet),
            Measure::Over(c) => Some(cachet - m.get(c, self.scenario)?),
            Measure::RatioTo(to, scenario) => {
                let fastest = m.fastest(to, scenario)?.1;
                (fastest > 0.0).then(|| cachet / fastest)
            }
        }
    }

    /// The figure with its unit and verdict, e.g. `1.07× (missed)`, `+0.21 s (met)`; `–`
    /// while a median is missing.
    pub fn reached(&self, m: &Medians) -> String {
        let Some(f) = self.figure(m) else {
            return "–".to_string();
        };
        let verdict = if self.bound.holds(f) { "met" } else { "missed" };
        let figure = match self.measure {
            Measure::Seconds => format!("{f:.2} s"),
            Measure::Over(_) => signed_seconds(f),
            Measure::RatioTo(..) => format!("{f:.2}×"),
        };
        format!("{figure} ({verdict})")
    }
}

/// The goal and reached cells of `scenario`'s row: empty when it has no goal.
pub(super) fn cells(scenario: Scenario, m: &Medians) -> (String, String) {
    let mine: Vec<&Goal> = GOALS.iter().filter(|g| g.scenario == scenario).collect();
    let texts: Vec<String> = mine.iter().map(|g| g.text()).collect();
    let reached: Vec<String> = mine.iter().map(|g| g.reached(m)).collect();
    (texts.join("; "), reached.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn medians(entries: &[(Contender, Scenario, f64)]) -> Medians {
        Medians(entries.iter().map(|&(c, s, v)| ((c, s), v)).collect())
    }

    #[test]
    fn every_scenario_has_the_issues_goal() {
        for scenario in Scenario::ALL {
            assert!(
                GOALS.iter().any(|g| g.scenario == scenario),
                "{scenario} has no goal"
            );
        }
    }

    #[test]
    fn cold_is_held_against_the_faster_of_plain_and_cache_mount() {
        let m = medians(&[
            (Plain, Scenario::Cold, 40.0),
            (CacheMount, Scenario::Cold, 30.0),
            (Cachet, Scenario::Cold, 31.2),
        ]);
        assert_eq!(
            cells(Scenario::Cold, &m),
            (
                "≤ 1.05× min(plain, cache-mount)".to_string(),
                "1.04× (met)".to_string()
            )
        );
        let slower = medians(&[
            (Plain, Scenario::Cold, 40.0),
            (CacheMount, Scenario::Cold, 30.0),
            (Cachet, Scenario::Cold, 33.0),
        ]);
        assert_eq!(cells(Scenario::Cold, &slower).1, "1.10× (missed)");
        let no_peer = medians(&[(Cachet, Scenario::Cold, 33.0)]);
        assert_eq!(cells(Scenario::Cold, &no_peer).1, "–");
    }

    #[test]
    fn no_op_is_an_additive_bound_over_cache_mount() {
        let met = medians(&[
            (CacheMount, Scenario::NoOp, 0.4),
            (Cachet, Scenario::NoOp, 0.6),
        ]);
        assert_eq!(
            cells(Scenario::NoOp, &met),
            (
                "≤ cache-mount + 0.3 s".to_string(),
                "+0.20 s (met)".to_string()
            )
        );
        let missed = medians(&[
            (CacheMount, Scenario::NoOp, 0.4),
            (Cachet, Scenario::NoOp, 1.2),
        ]);
        assert_eq!(cells(Scenario::NoOp, &missed).1, "+0.80 s (missed)");
    }

    #[test]
    fn revert_is_seconds_and_edits_are_against_host() {
        let m = medians(&[
            (Cachet, Scenario::RustflagsRevert, 1.16),
            (Host, Scenario::CoreEdit, 10.0),
            (Cachet, Scenario::CoreEdit, 10.9),
        ]);
        assert_eq!(
            cells(Scenario::RustflagsRevert, &m),
            ("≤ 1.0 s".to_string(), "1.16 s (missed)".to_string())
        );
        assert_eq!(
            cells(Scenario::CoreEdit, &m),
            ("≤ 1.10× host".to_string(), "1.09× (met)".to_string())
        );
    }

    #[test]
    fn fresh_builder_shows_both_conditions() {
        let m = medians(&[
            (Cachet, Scenario::Cold, 40.0),
            (Cachet, Scenario::FreshBuilder, 14.0),
            (Chef, Scenario::FreshBuilder, 14.0),
        ]);
        assert_eq!(
            cells(Scenario::FreshBuilder, &m),
            (
                "≤ 0.30× cachet cold; < 1.00× cargo-chef".to_string(),
                "0.35× (missed); 1.00× (missed)".to_string()
            ),
            "a tie with cargo-chef is not faster"
        );
        let m = medians(&[
            (Cachet, Scenario::Cold, 50.0),
            (Cachet, Scenario::FreshBuilder, 14.0),
            (Chef, Scenario::FreshBuilder, 18.0),
        ]);
        assert_eq!(
            cells(Scenario::FreshBuilder, &m).1,
            "0.28× (met); 0.78× (met)"
        );
    }
}
