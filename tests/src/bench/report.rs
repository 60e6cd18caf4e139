//! The suite's results: raw samples (serialized as JSON) and the markdown table made from them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{Contender, Scenario};

/// Everything one `cachet-bench` invocation measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// The fixture, e.g. `ripgrep-14.1.1`.
    pub fixture: String,
    /// The lockfile bump of the lockfile scenario.
    pub bump: String,
    /// Runs per scenario and contender.
    pub runs: u32,
    /// The machine, in words (CPU model and count, memory, kernel).
    pub machine: String,
    /// The toolchain in the SDK image and on the host.
    pub toolchain: String,
    /// Seconds since the Unix epoch when the suite started.
    pub started_unix: u64,
    /// Engines measured (`dockerd`, `buildx`).
    pub engines: Vec<String>,
    pub samples: Vec<Sample>,
    /// Cachet's frontend, per build: time to Solve and peak memory.
    pub frontend: Vec<FrontendSample>,
}

/// One measured build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// `None` for the host floor (it uses no engine).
    pub engine: Option<String>,
    pub contender: Contender,
    pub scenario: Scenario,
    /// 1-based run number.
    pub run: u32,
    /// Wall time of the build command.
    pub seconds: f64,
}

/// What Cachet's frontend logged in one build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrontendSample {
    pub engine: String,
    pub scenario: Scenario,
    pub run: u32,
    /// From frontend start to the Solve request (`solving elapsed_ms=…`).
    pub to_solve_ms: u64,
    /// Peak resident memory of the frontend process (`solved peak_rss_kib=…`).
    pub peak_rss_kib: u64,
}

/// The frontend's own numbers in its log lines (the daemon's log): `(to_solve_ms, peak_rss_kib)`.
pub fn frontend_numbers(progress: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        progress.lines().find_map(|line| {
            let at = line.find(name)? + name.len();
            let digits: String = line[at..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits.parse().ok()
        })
    };
    Some((field("elapsed_ms=")?, field("peak_rss_kib=")?))
}

/// The median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// A goal from the issue, for one scenario: what Cachet is compared with, and the bound.
struct Goal {
    scenario: Scenario,
    text: &'static str,
    /// What Cachet's median in `scenario` is held against.
    measure: Measure,
    bound: f64,
}

/// How a goal's figure comes from the medians.
enum Measure {
    /// Cachet's median itself, in seconds.
    Seconds,
    /// Cachet's median over this contender's median in this scenario.
    RatioTo(Contender, Scenario),
}

impl Goal {
    /// Cachet's figure for the goal, with its unit.
    fn figure(&self, m: &Medians) -> Option<(f64, &'static str)> {
        let cachet = m.get(Contender::Cachet, self.scenario);
        match self.measure {
            Measure::Seconds => cachet.map(|v| (v, " s")),
            Measure::RatioTo(contender, scenario) => {
                ratio(cachet, m.get(contender, scenario)).map(|v| (v, "×"))
            }
        }
    }
}

/// Medians of one engine's table: (contender, scenario) → seconds.
struct Medians(BTreeMap<(Contender, Scenario), f64>);

impl Medians {
    fn get(&self, contender: Contender, scenario: Scenario) -> Option<f64> {
        self.0.get(&(contender, scenario)).copied()
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

const GOALS: &[Goal] = &[
    Goal {
        scenario: Scenario::Cold,
        text: "≤ 1.05× plain",
        measure: Measure::RatioTo(Contender::Plain, Scenario::Cold),
        bound: 1.05,
    },
    Goal {
        scenario: Scenario::NoOp,
        text: "≤ 1.5 s",
        measure: Measure::Seconds,
        bound: 1.5,
    },
    Goal {
        scenario: Scenario::LeafEdit,
        text: "≤ 1.15× host",
        measure: Measure::RatioTo(Contender::Host, Scenario::LeafEdit),
        bound: 1.15,
    },
    Goal {
        scenario: Scenario::RustflagsRevert,
        text: "≤ 2 s",
        measure: Measure::Seconds,
        bound: 2.0,
    },
    Goal {
        scenario: Scenario::FreshBuilder,
        text: "≤ 0.35× Cachet cold",
        measure: Measure::RatioTo(Contender::Cachet, Scenario::Cold),
        bound: 0.35,
    },
];

/// Seconds with two decimals below 10 s (no-op builds), one above.
fn seconds(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// Human title of an engine name.
fn engine_title(engine: &str) -> String {
    match engine {
        "dockerd" => "dockerd 20.10 (BuildKit v0.8), `DOCKER_BUILDKIT=1 docker build`".to_string(),
        "buildx" => "current BuildKit, `docker buildx build` (remote driver)".to_string(),
        other => other.to_string(),
    }
}

impl Results {
    fn medians(&self, engine: &str) -> Medians {
        let mut groups: BTreeMap<(Contender, Scenario), Vec<f64>> = BTreeMap::new();
        for s in &self.samples {
            let on_this = match &s.engine {
                Some(e) => e == engine,
                None => true,
            };
            if on_this {
                groups
                    .entry((s.contender, s.scenario))
                    .or_default()
                    .push(s.seconds);
            }
        }
        Medians(
            groups
                .into_iter()
                .filter_map(|(k, v)| median(&v).map(|m| (k, m)))
                .collect(),
        )
    }

    /// The markdown report: one table per engine (median seconds; Cachet's goals with the
    /// figure reached), then the frontend's overhead.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Fixture **{}**, release build of its binary, offline from vendored crates; lockfile \
             bump: {}. Median wall time in seconds of {} run(s). Machine: {}. Toolchain: {}.\n",
            self.fixture, self.bump, self.runs, self.machine, self.toolchain
        );
        for engine in &self.engines {
            let m = self.medians(engine);
            let _ = writeln!(out, "#### {}\n", engine_title(engine));
            let mut header = "| scenario |".to_string();
            let mut rule = "|---|".to_string();
            for c in Contender::ALL {
                let _ = write!(header, " {} |", c.name());
                rule.push_str("---:|");
            }
            let _ = writeln!(out, "{header} Cachet goal | reached |\n{rule}---|---|");
            for scenario in Scenario::ALL {
                let mut row = format!("| {} |", scenario.name());
                for c in Contender::ALL {
                    match m.get(c, scenario) {
                        Some(v) => {
                            let _ = write!(row, " {} |", seconds(v));
                        }
                        None if !scenario.applies_to(c) => row.push_str(" n/a |"),
                        None => row.push_str(" – |"),
                    }
                }
                match GOALS.iter().find(|g| g.scenario == scenario) {
                    Some(goal) => match goal.figure(&m) {
                        Some((f, unit)) => {
                            let verdict = if f <= goal.bound { "met" } else { "missed" };
                            let _ = write!(row, " {} | {f:.2}{unit} ({verdict}) |", goal.text);
                        }
                        None => {
                            let _ = write!(row, " {} | – |", goal.text);
                        }
                    },
                    None => row.push_str(" | |"),
                }
                let _ = writeln!(out, "{row}");
            }
            out.push('\n');
        }
        if !self.frontend.is_empty() {
            let _ = writeln!(
                out,
                "Cachet's frontend, over all its builds: \n\n| engine | builds | start → Solve, median | max | peak RSS, max |\n|---|---:|---:|---:|---:|"
            );
            for engine in &self.engines {
                let mine: Vec<&FrontendSample> = self
                    .frontend
                    .iter()
                    .filter(|f| &f.engine == engine)
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let ms: Vec<f64> = mine.iter().map(|f| f.to_solve_ms as f64).collect();
                let max_ms = mine.iter().map(|f| f.to_solve_ms).max().unwrap_or(0);
                let rss = mine.iter().map(|f| f.peak_rss_kib).max().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "| {engine} | {} | {:.0} ms | {max_ms} ms | {:.1} MiB |",
                    mine.len(),
                    median(&ms).unwrap_or(0.0),
                    rss as f64 / 1024.0
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn frontend_numbers_come_from_its_log_lines() {
        let log = "2026-11-21T12:28:24Z INFO cachet_frontend::build: solving elapsed_ms=97\n\
                   2026-11-21T12:28:25Z INFO cachet_frontend::build: solved peak_rss_kib=4100\n";
        assert_eq!(frontend_numbers(log), Some((97, 4100)));
        assert_eq!(
            frontend_numbers("INFO cachet_frontend::build: solving\n"),
            None
        );
    }

    fn sample(engine: Option<&str>, c: Contender, s: Scenario, seconds: f64) -> Sample {
        Sample {
            engine: engine.map(str::to_string),
            contender: c,
            scenario: s,
            run: 1,
            seconds,
        }
    }

    #[test]
    fn the_table_shows_medians_and_judges_the_goals() {
        let results = Results {
            fixture: "tiny".into(),
            bump: "tinydep 1.0.0 -> 1.0.1".into(),
            runs: 1,
            machine: "test".into(),
            toolchain: "rustc 1.95.0".into(),
            engines: vec!["buildx".into()],
            samples: vec![
                sample(Some("buildx"), Contender::Plain, Scenario::Cold, 100.0),
                sample(Some("buildx"), Contender::Cachet, Scenario::Cold, 110.0),
                sample(Some("buildx"), Contender::Cachet, Scenario::NoOp, 1.0),
                sample(
                    Some("buildx"),
                    Contender::Cachet,
                    Scenario::FreshBuilder,
                    30.0,
                ),
                sample(None, Contender::Host, Scenario::Cold, 50.0),
                sample(Some("dockerd"), Contender::Plain, Scenario::Cold, 999.0),
            ],
            ..Results::default()
        };
        let md = results.markdown();
        assert!(
            md.contains("| cold | 100.0 | – | – | 110.0 | 50.0 | ≤ 1.05× plain | 1.10× (missed) |"),
            "{md}"
        );
        assert!(
            md.contains("| no-op | – | – | – | 1.00 | – | ≤ 1.5 s | 1.00 s (met) |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| fresh builder | – | – | – | 30.0 | n/a | ≤ 0.35× Cachet cold | 0.27× (met) |"
            ),
            "{md}"
        );
        assert!(!md.contains("999"), "other engines stay out: {md}");
    }
}
