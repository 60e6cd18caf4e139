//! Per-step times of a measured build, so a regression can be traced to a step: every sample
//! keeps its build's vertices (name, CACHED, `DONE` time) as read by the harness's one progress
//! reader, and the report shows, per engine, Cachet's slowest steps in the scenarios where
//! fixed overhead dominates (no-op) or should (leaf edit).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{median, seconds, Results};
use crate::bench::{Contender, Scenario};
use crate::progress;

/// One vertex of a measured build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The vertex name as BuildKit printed it (`[build] cargo build … · 1a2b3c`,
    /// `exporting to client directory`).
    pub name: String,
    /// BuildKit served it from cache (`#N CACHED`).
    #[serde(default)]
    pub cached: bool,
    /// Its `DONE` time in seconds; absent when it printed none (cached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

/// The steps of a build's `--progress=plain` log: every vertex that finished or was cached
/// (BuildKit's bookkeeping included: exporting and importing caches take time too).
pub fn of_log(progress: &str) -> Vec<Step> {
    progress::every_vertex(progress)
        .into_iter()
        .filter(|v| v.cached || v.duration.is_some())
        .map(|v| Step {
            name: v.name,
            cached: v.cached,
            seconds: v.duration.map(|d| d.as_secs_f64()),
        })
        .collect()
}

/// The scenarios whose slowest steps the report lists.
const TRACED: [Scenario; 2] = [Scenario::NoOp, Scenario::LeafEdit];
/// Steps listed per scenario.
const SLOWEST: usize = 5;
/// Steps whose median is under this are left out: BuildKit prints `DONE` times with one
/// decimal, so they read `0.0s` and say nothing.
const SHOWN_FROM: f64 = 0.05;
/// Longest step name shown.
const NAME_CHARS: usize = 64;

/// A step name as the table shows it: without Cachet's key suffix (` · 1a2b3c`, which differs
/// between builds, so runs group by step) and image digests, `|` escaped, cut to
/// [`NAME_CHARS`].
pub(super) fn short_name(name: &str) -> String {
    let mut name = name.trim();
    if let Some((head, key)) = name.rsplit_once(" · ") {
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()) {
            name = head;
        }
    }
    let mut short = String::new();
    for word in name.split_whitespace() {
        let word = word.split("@sha256:").next().unwrap_or(word);
        if !short.is_empty() {
            short.push(' ');
        }
        short.push_str(word);
    }
    if short.chars().count() > NAME_CHARS {
        short = short.chars().take(NAME_CHARS - 1).collect::<String>() + "…";
    }
    short.replace('|', "\\|")
}

/// Cachet's slowest steps on `engine` in the traced scenarios: median seconds per short step
/// name over the runs (a name twice in one build counts its sum). `None` when no step took a
/// tenth of a second (or no sample has steps: results saved before samples kept them).
pub(super) fn slowest_table(results: &Results, engine: &str) -> Option<String> {
    let mut rows = String::new();
    for scenario in TRACED {
        // short name → seconds per run
        let mut per_run: BTreeMap<String, BTreeMap<u32, f64>> = BTreeMap::new();
        for sample in results.samples.iter().filter(|s| {
            s.contender == Contender::Cachet
                && s.scenario == scenario
                && s.engine.as_deref() == Some(engine)
        }) {
            for step in &sample.steps {
                if let Some(secs) = step.seconds {
                    *per_run
                        .entry(short_name(&step.name))
                        .or_default()
                        .entry(sample.run)
                        .or_default() += secs;
                }
            }
        }
        let mut ranked: Vec<(String, f64)> = per_run
            .into_iter()
            .filter_map(|(name, runs)| {
                let times: Vec<f64> = runs.into_values().collect();
                Some((name, median(&times)?))
            })
            .filter(|(_, secs)| *secs >= SHOWN_FROM)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (name, secs) in ranked.into_iter().take(SLOWEST) {
            let _ = writeln!(rows, "| {} | {name} | {} |", scenario.name(), seconds(secs));
        }
    }
    if rows.is_empty() {
        return None;
    }
    Some(format!(
        "Cachet's slowest steps on {engine} (median `DONE` seconds per step):\n\n\
         | scenario | step | seconds |\n|---|---|---:|\n{rows}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_come_from_the_plain_log() {
        let log = "#0 building with \"cachet\" instance using remote driver\n\n\
                   #3 [cachet] sources · 9f8e7d\n#3 DONE 0.4s\n\
                   #5 [build] cargo build --bin app · 56cd78\n#5 CACHED\n\
                   #7 exporting to client directory\n#7 copying files 1MB 0.1s done\n#7 DONE 0.2s\n";
        assert_eq!(
            of_log(log),
            [
                Step {
                    name: "[cachet] sources · 9f8e7d".into(),
                    cached: false,
                    seconds: Some(0.4)
                },
                Step {
                    name: "[build] cargo build --bin app · 56cd78".into(),
                    cached: true,
                    seconds: None
                },
                Step {
                    name: "exporting to client directory".into(),
                    cached: false,
                    seconds: Some(0.2)
                },
            ]
        );
    }

    #[test]
    fn short_names_drop_keys_and_digests() {
        assert_eq!(
            short_name("[build] cargo build --profile release · 1a2b3c"),
            "[build] cargo build --profile release"
        );
        assert_eq!(
            short_name("[1/3] FROM docker.io/library/cachet-sdk:debian@sha256:5e009abf"),
            "[1/3] FROM docker.io/library/cachet-sdk:debian"
        );
        assert_eq!(
            short_name("[a] x | y · not a key"),
            "[a] x \\| y · not a key"
        );
        let long = short_name(&format!("[build] {}", "x".repeat(100)));
        assert_eq!(long.chars().count(), NAME_CHARS);
        assert!(long.ends_with('…'));
    }
}
