//! The suite's results: raw samples (serialized as JSON) and the markdown table made from them.
//! The goals ([`goals`]), the best-peer column ([`peer`]) and the per-step times ([`steps`]) live
//! in files of their own.

mod goals;
mod peer;
pub mod steps;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{Contender, Scenario};
pub use steps::Step;

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
    /// Every vertex of the build's progress log with its time (none for the host floor, and
    /// in results saved before samples kept them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
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

/// Medians of one engine's table: (contender, scenario) → seconds.
pub(super) struct Medians(BTreeMap<(Contender, Scenario), f64>);

impl Medians {
    fn get(&self, contender: Contender, scenario: Scenario) -> Option<f64> {
        self.0.get(&(contender, scenario)).copied()
    }

    /// The fastest of `contenders` in `scenario` (the first on a tie), with its median.
    fn fastest(&self, contenders: &[Contender], scenario: Scenario) -> Option<(Contender, f64)> {
        contenders
            .iter()
            .filter_map(|&c| Some((c, self.get(c, scenario)?)))
            .fold(None, |best, (c, v)| match best {
                Some((_, b)) if b <= v => best,
                _ => Some((c, v)),
            })
    }
}

/// Seconds with two decimals below 10 s (no-op builds), one above.
fn seconds(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// `v` rounded to two decimals, as the tables print it (`-0.0` becomes `0.0`).
fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0 + 0.0
}

/// A difference in seconds with its sign, two decimals: `+0.81 s`, `-0.11 s`, `+0.00 s`.
fn signed_seconds(v: f64) -> String {
    format!("{:+.2} s", round2(v))
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
            let _ = writeln!(
                out,
                "{header} Cachet goal | reached | Cachet vs best peer |\n{rule}---|---|---|"
            );
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
                let (goal, reached) = goals::cells(scenario, &m);
                let peer = peer::cell(scenario, &m);
                let _ = writeln!(out, "{row} {goal} | {reached} | {peer} |");
            }
            out.push('\n');
            if let Some(table) = steps::slowest_table(self, engine) {
                let _ = writeln!(out, "{table}");
            }
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
            steps: Vec::new(),
        }
    }

    fn step(name: &str, seconds: Option<f64>) -> Step {
        Step {
            name: name.into(),
            cached: seconds.is_none(),
            seconds,
        }
    }

    fn results(samples: Vec<Sample>) -> Results {
        Results {
            fixture: "tiny".into(),
            bump: "tinydep 1.0.0 -> 1.0.1".into(),
            runs: 1,
            machine: "test".into(),
            toolchain: "rustc 1.95.0".into(),
            engines: vec!["buildx".into()],
            samples,
            ..Results::default()
        }
    }

    #[test]
    fn the_table_shows_medians_goals_and_the_best_peer() {
        let bx = Some("buildx");
        let md = results(vec![
            sample(bx, Contender::Plain, Scenario::Cold, 100.0),
            sample(bx, Contender::CacheMount, Scenario::Cold, 90.0),
            sample(bx, Contender::Cachet, Scenario::Cold, 110.0),
            sample(bx, Contender::Chef, Scenario::NoOp, 0.5),
            sample(bx, Contender::CacheMount, Scenario::NoOp, 0.6),
            sample(bx, Contender::Cachet, Scenario::NoOp, 0.75),
            sample(bx, Contender::Chef, Scenario::FreshBuilder, 40.0),
            sample(bx, Contender::Cachet, Scenario::FreshBuilder, 30.0),
            sample(None, Contender::Host, Scenario::Cold, 50.0),
            sample(Some("dockerd"), Contender::Plain, Scenario::Cold, 999.0),
        ])
        .markdown();
        assert!(
            md.contains(
                "| scenario | plain | cache-mount | cargo-chef | cachet | host | Cachet goal | \
                 reached | Cachet vs best peer |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| cold | 100.0 | 90.0 | – | 110.0 | 50.0 | ≤ 1.05× min(plain, cache-mount) | \
                 1.22× (missed) | 1.22× cache-mount |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| no-op | – | 0.60 | 0.50 | 0.75 | – | ≤ cache-mount + 0.3 s | +0.15 s (met) | \
                 +0.25 s vs cargo-chef |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| fresh builder | – | – | 40.0 | 30.0 | n/a | ≤ 0.30× cachet cold; < 1.00× \
                 cargo-chef | 0.27× (met); 0.75× (met) | **0.75× cargo-chef** |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| leaf edit | – | – | – | – | – | ≤ 1.10× host | – | – |"),
            "{md}"
        );
        assert!(!md.contains("999"), "other engines stay out: {md}");
        assert!(!md.contains("slowest steps"), "no steps, no table: {md}");
    }

    #[test]
    fn cachets_slowest_steps_per_traced_scenario() {
        let mut samples = Vec::new();
        for (run, sources, cargo) in [(1, 0.3, 0.9), (2, 0.5, 0.7), (3, 0.4, 2.0)] {
            let mut s = sample(Some("buildx"), Contender::Cachet, Scenario::NoOp, 1.5);
            s.run = run;
            s.steps = vec![
                step(&format!("[cachet] sources · key{run}"), Some(sources)),
                step("[build] cargo build --bin app · 56cd78", Some(cargo)),
                step("[build] record provenance", None),
                step("[cachet] load spec Cachet.toml", Some(0.0)),
            ];
            samples.push(s);
        }
        let mut plain = sample(Some("buildx"), Contender::Plain, Scenario::NoOp, 0.4);
        plain.steps = vec![step("[build 4/4] RUN cargo build", Some(9.0))];
        samples.push(plain);
        let md = results(samples).markdown();
        assert!(
            md.contains(
                "Cachet's slowest steps on buildx (median `DONE` seconds per step):\n\n\
                 | scenario | step | seconds |\n|---|---|---:|\n\
                 | no-op | [build] cargo build --bin app | 0.90 |\n\
                 | no-op | [cachet] sources | 0.40 |\n\n"
            ),
            "{md}"
        );
        assert!(!md.contains("load spec"), "0.0 s steps say nothing: {md}");
    }

    #[test]
    fn json_round_trips_with_steps_and_reads_results_saved_without() {
        let mut with = sample(Some("buildx"), Contender::Cachet, Scenario::LeafEdit, 11.6);
        with.steps = vec![
            step("[build] cargo build · 1a2b3c", Some(9.5)),
            step("[cachet] image cachet-sdk:rustup", None),
        ];
        let saved = results(vec![
            with,
            sample(None, Contender::Host, Scenario::LeafEdit, 8.6),
        ]);
        let text = serde_json::to_string_pretty(&saved).unwrap();
        let back: Results = serde_json::from_str(&text).unwrap();
        assert_eq!(back.samples, saved.samples);
        assert!(
            !text.contains("\"steps\": []"),
            "no empty steps saved: {text}"
        );

        let old = r#"{"fixture": "ripgrep-14.1.1", "bump": "b", "runs": 1, "machine": "m",
            "toolchain": "t", "started_unix": 1, "engines": ["buildx"], "frontend": [],
            "samples": [{"engine": "buildx", "contender": "cachet", "scenario": "no-op",
                         "run": 1, "seconds": 1.18}]}"#;
        let old: Results = serde_json::from_str(old).unwrap();
        assert!(old.samples[0].steps.is_empty());
        assert!(old.markdown().contains("| no-op | – | – | – | 1.18 |"));
    }
}
