//! The corpus results: raw JSON (every build and check, every failure with its first error
//! line and log tail) and the markdown table made from it.
//!
//! Why "first try" is its own column: the question the corpus answers first is whether the
//! smallest spec builds a real project and the binary works, before how fast; a failed build
//! is reported with the first error line of its log (cargo's `error:` line when cargo failed,
//! BuildKit's `ERROR:` line otherwise) and the step it failed in, which is usually enough to
//! tell a Cachet bug from a missing feature or a corpus mistake.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::bench::report::median;
use crate::progress;

/// Who built it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    Cachet,
    Host,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Cachet => "Cachet",
            Side::Host => "host cargo",
        })
    }
}

/// One timed build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Nothing of this project cached: Cachet with `--no-cache` under a fresh project name
    /// (BuildKit keeps cache mounts, so the name gives a new target cache); host cargo with a
    /// fresh target directory.
    Cold,
    /// The same build again.
    NoOp,
    /// A comment line appended to the project's main source file.
    Edit,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Cold, Scenario::NoOp, Scenario::Edit];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Cold => "cold",
            Scenario::NoOp => "no-op",
            Scenario::Edit => "edit",
        }
    }
}

/// Everything one `cachet-corpus` invocation did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// The command line, for reproducing it.
    pub command: String,
    /// `buildx` or `dockerd`.
    pub engine: String,
    /// The frontend image's digest in the loopback registry at the start (what was built with).
    pub frontend: String,
    pub machine: String,
    pub toolchain: String,
    pub runs: u32,
    pub started_unix: u64,
    /// Wall time of the whole invocation, preparation included.
    pub total_seconds: f64,
    pub projects: Vec<ProjectResult>,
}

/// One project's builds, checks and failures.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProjectResult {
    pub name: String,
    pub krate: String,
    pub version: String,
    pub shapes: Vec<String>,
    /// The spec it was built with (its project name as the corpus writes it).
    pub spec: String,
    /// `shipped` or `generated`.
    pub lockfile: String,
    pub lock_packages: usize,
    /// How Cachet's first artifact is linked: `static` or `dynamic (<loader>)`.
    pub linked: Option<String>,
    /// Preparing the tree failed (nothing was built).
    pub prepare_error: Option<String>,
    pub samples: Vec<Sample>,
    pub checks: Vec<CheckResult>,
    pub failures: Vec<Failure>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub side: Side,
    pub scenario: Scenario,
    pub run: u32,
    pub seconds: f64,
}

/// A binary run after a build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub side: Side,
    pub run: u32,
    pub command: String,
    pub expect: String,
    pub ok: bool,
    /// What it printed (cut short) when it failed.
    pub output: Option<String>,
}

/// Something that did not work: a build, an export, or a missing artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub side: Side,
    pub run: u32,
    /// What was being done: `cold build`, `image export`, `artifacts`, …
    pub stage: String,
    pub first_error: String,
    /// The BuildKit step that failed, when the log names one.
    pub failed_step: Option<String>,
    /// The last lines of the log.
    pub log_tail: String,
}

impl ProjectResult {
    /// The first run's Cachet builds all succeeded and every one of its checks passed.
    pub fn first_try_ok(&self) -> bool {
        self.prepare_error.is_none()
            && !self
                .failures
                .iter()
                .any(|f| f.side == Side::Cachet && f.run == 1)
            && self
                .checks
                .iter()
                .any(|c| c.side == Side::Cachet && c.run == 1)
            && self
                .checks
                .iter()
                .filter(|c| c.side == Side::Cachet && c.run == 1)
                .all(|c| c.ok)
    }

    /// Every Cachet build and check of every run worked.
    pub fn cachet_ok(&self) -> bool {
        self.first_try_ok()
            && !self.failures.iter().any(|f| f.side == Side::Cachet)
            && self
                .checks
                .iter()
                .filter(|c| c.side == Side::Cachet)
                .all(|c| c.ok)
    }

    /// The host side worked too (when it ran): a failure there is the corpus's own mistake.
    pub fn host_ok(&self) -> bool {
        !self.failures.iter().any(|f| f.side == Side::Host)
            && self
                .checks
                .iter()
                .filter(|c| c.side == Side::Host)
                .all(|c| c.ok)
    }

    /// "built + ran", or what went wrong first on the first try.
    pub fn first_try_text(&self) -> String {
        if let Some(why) = &self.prepare_error {
            return format!("not prepared: {}", first_line(why));
        }
        if let Some(f) = self
            .failures
            .iter()
            .find(|f| f.side == Side::Cachet && f.run == 1)
        {
            let step = f
                .failed_step
                .as_deref()
                .map(|s| format!(" in `{s}`"))
                .unwrap_or_default();
            return format!("FAILED ({}{step}): `{}`", f.stage, f.first_error);
        }
        if let Some(c) = self
            .checks
            .iter()
            .find(|c| c.side == Side::Cachet && c.run == 1 && !c.ok)
        {
            return format!(
                "built; `{}` did not print `{}`",
                c.command,
                first_line(&c.expect)
            );
        }
        if self.first_try_ok() {
            match self.linked.as_deref() {
                Some("static") => "built + ran (static)".to_string(),
                _ => "built + ran".to_string(),
            }
        } else {
            "not run".to_string()
        }
    }

    fn median(&self, side: Side, scenario: Scenario) -> Option<f64> {
        let values: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.side == side && s.scenario == scenario)
            .map(|s| s.seconds)
            .collect();
        median(&values)
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim_end()
}

/// Seconds with two decimals below 10 s, one above.
fn seconds(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.1}"),
        None => "–".to_string(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    }
}

/// Keep a markdown table cell on one line and free of column breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl Results {
    /// The markdown report: the table, then each project's spec and failures.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Median wall time in seconds of {} run(s) on {} (frontend {}). Machine: {}. \
             Toolchain: {}. Cachet: `--target build --output type=local` (cold with \
             `--no-cache` and a fresh project name); host: `cargo build --release --locked \
             --offline --target <triple>` with the spec's cargo arguments and flags (cold: a \
             fresh target directory). Edit: a comment line appended to the main source file. \
             The builder is never wiped: base images stay pulled, and the fetch step's download \
             cache keeps the crates earlier runs downloaded (host cargo's cold build has them \
             in its download cache too).\n",
            self.runs, self.engine, self.frontend, self.machine, self.toolchain
        );
        let _ = writeln!(
            out,
            "| project | shapes | crates | first try | Cachet cold | no-op | edit | host cold | \
             no-op | edit | cold × | no-op × | edit × |\n\
             |---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for p in &self.projects {
            let m: BTreeMap<(Side, Scenario), Option<f64>> = [Side::Cachet, Side::Host]
                .into_iter()
                .flat_map(|side| Scenario::ALL.map(|s| ((side, s), p.median(side, s))))
                .collect();
            let get = |side, scenario| m.get(&(side, scenario)).copied().flatten();
            let mut row = format!(
                "| {} {} | {} | {}{} | {} |",
                p.krate,
                p.version,
                p.shapes.join(", "),
                p.lock_packages,
                if p.lockfile == "generated" { "*" } else { "" },
                cell(&p.first_try_text())
            );
            for side in [Side::Cachet, Side::Host] {
                for scenario in Scenario::ALL {
                    let _ = write!(row, " {} |", seconds(get(side, scenario)));
                }
            }
            for scenario in Scenario::ALL {
                let _ = write!(
                    row,
                    " {} |",
                    ratio(get(Side::Cachet, scenario), get(Side::Host, scenario))
                );
            }
            let _ = writeln!(out, "{row}");
        }
        let ok = self.projects.iter().filter(|p| p.first_try_ok()).count();
        let _ = writeln!(
            out,
            "\nFirst try: {ok} of {} projects built and ran. Crates: packages in the \
             lockfile{}. Total {:.0} s.\n",
            self.projects.len(),
            if self.projects.iter().any(|p| p.lockfile == "generated") {
                " (* generated at preparation, the package ships none)"
            } else {
                " (each the one the package ships)"
            },
            self.total_seconds
        );
        let failures: Vec<(&ProjectResult, &Failure)> = self
            .projects
            .iter()
            .flat_map(|p| p.failures.iter().map(move |f| (p, f)))
            .collect();
        let failed_checks: Vec<(&ProjectResult, &CheckResult)> = self
            .projects
            .iter()
            .flat_map(|p| p.checks.iter().filter(|c| !c.ok).map(move |c| (p, c)))
            .collect();
        if !failures.is_empty() || !failed_checks.is_empty() {
            let _ = writeln!(out, "**Failures**\n");
            for (p, f) in failures {
                let step = f
                    .failed_step
                    .as_deref()
                    .map(|s| format!(", step `{s}`"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- {} ({}, run {}, {}{step}): `{}`",
                    p.name, f.side, f.run, f.stage, f.first_error
                );
            }
            for (p, c) in failed_checks {
                let _ = writeln!(
                    out,
                    "- {} ({}, run {}): `{}` should print `{}`; it printed `{}`",
                    p.name,
                    c.side,
                    c.run,
                    c.command,
                    first_line(&c.expect),
                    cell(c.output.as_deref().unwrap_or_default())
                );
            }
            out.push('\n');
        }
        let _ = writeln!(out, "**Specs** (each build renames the project)\n");
        for p in &self.projects {
            let _ = writeln!(
                out,
                "{} {} ({}):\n\n```toml\n{}```\n",
                p.krate,
                p.version,
                p.shapes.join(", "),
                p.spec
            );
        }
        out
    }
}

/// The first error line of a `--progress=plain` log or a cargo stderr: cargo's or rustc's
/// `error:` / `error[…]` line if there is one (the cause), else BuildKit's last `ERROR:` line
/// (the summary, which carries a frontend's message), else the last non-empty line.
pub fn first_error(log: &str) -> String {
    let lines: Vec<&str> = log.lines().map(progress::line_text).collect();
    let found = lines
        .iter()
        .find(|l| l.starts_with("error:") || l.starts_with("error["))
        .or_else(|| lines.iter().rev().find(|l| l.starts_with("ERROR:")))
        .or_else(|| lines.iter().rev().find(|l| !l.trim().is_empty()))
        .copied()
        .unwrap_or("(empty log)");
    cut(printable(found).trim(), 400)
}

/// `text` without terminal escape sequences (a CLI's colours) and other control characters
/// but newlines and tabs, so an output excerpt reads the same in JSON and markdown.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte in @..~; anything else: drop ESC and one char.
            if chars.next_if_eq(&'[').is_some() {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if !c.is_control() || c == '\n' || c == '\t' {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters, with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::failed_step;

    const CARGO_FAILED: &str = "#14 [build] cargo build --profile release · 9ff1fc\n\
         #14 0.512    Compiling jemalloc-sys v0.5.4\n\
         #14 3.101 error: failed to run custom build command for `jemalloc-sys v0.5.4`\n\
         #14 3.102 error: could not compile\n\
         #14 ERROR: process \"/bin/sh /cachet/step/build.sh\" did not complete successfully\n\
         ------\n\
         ERROR: failed to solve: process \"/bin/sh /cachet/step/build.sh\" did not complete\n";

    #[test]
    fn first_error_prefers_cargos_line() {
        assert_eq!(
            first_error(CARGO_FAILED),
            "error: failed to run custom build command for `jemalloc-sys v0.5.4`"
        );
        assert_eq!(
            failed_step(CARGO_FAILED).as_deref(),
            Some("[build] cargo build --profile release · 9ff1fc")
        );
    }

    #[test]
    fn first_error_falls_back_to_buildkits_summary_then_the_last_line() {
        let frontend = "#4 [cachet] load spec Cachet.toml\n#4 ERROR: Cachet.toml:7:1: unknown field\n\
                        ------\nERROR: failed to solve: Cachet.toml:7:1: unknown field `packages`\n";
        assert_eq!(
            first_error(frontend),
            "ERROR: failed to solve: Cachet.toml:7:1: unknown field `packages`"
        );
        assert_eq!(
            failed_step(frontend).as_deref(),
            Some("[cachet] load spec Cachet.toml")
        );
        assert_eq!(first_error("a\nsomething broke\n\n"), "something broke");
        assert_eq!(first_error(""), "(empty log)");
        assert_eq!(failed_step("no steps\n"), None);
    }

    fn project(failures: Vec<Failure>, checks: Vec<CheckResult>) -> ProjectResult {
        ProjectResult {
            name: "hexyl".into(),
            krate: "hexyl".into(),
            version: "0.16.0".into(),
            shapes: vec!["derive CLI".into()],
            spec: "# syntax=x\n".into(),
            lockfile: "shipped".into(),
            lock_packages: 68,
            samples: vec![
                Sample {
                    side: Side::Cachet,
                    scenario: Scenario::Cold,
                    run: 1,
                    seconds: 40.0,
                },
                Sample {
                    side: Side::Host,
                    scenario: Scenario::Cold,
                    run: 1,
                    seconds: 20.0,
                },
                Sample {
                    side: Side::Cachet,
                    scenario: Scenario::NoOp,
                    run: 1,
                    seconds: 1.5,
                },
            ],
            checks,
            failures,
            ..ProjectResult::default()
        }
    }

    fn check(ok: bool) -> CheckResult {
        CheckResult {
            side: Side::Cachet,
            run: 1,
            command: "hexyl --version".into(),
            expect: "hexyl 0.16.0".into(),
            ok,
            output: (!ok).then(|| "nothing".into()),
        }
    }

    #[test]
    fn the_table_shows_medians_ratios_and_the_first_try() {
        let results = Results {
            engine: "buildx".into(),
            runs: 1,
            projects: vec![project(vec![], vec![check(true)])],
            ..Results::default()
        };
        let md = results.markdown();
        assert!(
            md.contains(
                "| hexyl 0.16.0 | derive CLI | 68 | built + ran | 40.0 | 1.50 | – | 20.0 | – | – \
                 | 2.00× | – | – |"
            ),
            "{md}"
        );
        assert!(md.contains("First try: 1 of 1"), "{md}");
        let static_one = ProjectResult {
            linked: Some("static".into()),
            ..project(vec![], vec![check(true)])
        };
        assert_eq!(static_one.first_try_text(), "built + ran (static)");
        assert!(!md.contains("**Failures**"), "{md}");
    }

    #[test]
    fn a_failure_is_the_first_try_and_is_listed() {
        let failure = Failure {
            side: Side::Cachet,
            run: 1,
            stage: "cold build".into(),
            first_error: "error: a | b".into(),
            failed_step: Some("[build] cargo build".into()),
            log_tail: String::new(),
        };
        let p = project(vec![failure], vec![]);
        assert!(!p.first_try_ok() && !p.cachet_ok() && p.host_ok());
        assert_eq!(
            p.first_try_text(),
            "FAILED (cold build in `[build] cargo build`): `error: a | b`"
        );
        let md = Results {
            projects: vec![p],
            ..Results::default()
        }
        .markdown();
        assert!(md.contains("FAILED (cold build in `[build] cargo build`): `error: a \\| b`"));
        assert!(md.contains("- hexyl (Cachet, run 1, cold build, step `[build] cargo build`)"));
        let bad_check = project(vec![], vec![check(false)]);
        assert!(!bad_check.first_try_ok());
        assert!(bad_check
            .first_try_text()
            .starts_with("built; `hexyl --version`"));
    }

    #[test]
    fn printable_drops_colours_and_control_characters() {
        assert_eq!(
            printable("\u{1b}[90m0000\u{1b}[39m│ \u{1b}[36m63\u{7}\n\tx"),
            "0000│ 63\n\tx"
        );
        assert_eq!(printable("\u{1b}Mend"), "end");
    }

    #[test]
    fn cut_marks_what_it_cuts() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "abc…");
    }
}
