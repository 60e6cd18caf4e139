//! The cache-correctness and precision matrix: does a rebuild after one changed input give
//! exactly what a clean build gives, and does it reuse everything it could?
//!
//! A fixture workspace ([`fixture`]) is built, one input is perturbed, and it is built again;
//! its binaries' output is compared with a **clean build of the same final inputs**: a Cachet
//! build with `--no-cache` under a project name of its own (so the clean build never shares a
//! target cache with the builds it judges; `--no-cache` also empties the selected target
//! caches, see `keys.rs`). Which crates cargo compiled and which steps BuildKit served from cache
//! (`#N CACHED`) come from the plain progress log ([`crate::progress`]).
//!
//! Each [`Case`] says what must happen ([`Expect`]), and a [`Row`] records what did, with a
//! [`Verdict`]:
//! - **STALE**: the output differs from the clean build's, or the build succeeded where the
//!   clean build fails (it linked something that no longer exists);
//! - **NEEDLESS-REBUILD**: the output is right, but something was compiled that the case says
//!   must come from cache, or a step that must be CACHED ran;
//! - **FAILED**: a build failed that should not have (or the case itself could not be run);
//! - **N/A**: the engine cannot express the perturbation (with the reason);
//! - **OK**.
//!
//! The same cases also run against [`Subject::Reference`]: the Dockerfile pattern Docker
//! documents for Rust (`COPY . .`, then one `RUN --mount=type=cache,target=…/target cargo
//! build`), where every verdict is expected and reported, never a failure.
//!
//! Cases are grouped ([`groups`]: `flags`, `variants`, `sources`, `sdk`, `concurrency`,
//! `killed`, `volatile`, `args`, `entries`, `layers`, `cross`): one warm-up build per group, then each case starts from the state the previous
//! one left, so a reference row can inherit a stale `target/` from an earlier case, as a real
//! project would. Clean builds are memoized per engine on the exact inputs.
//!
//! Run it all with `cargo run -p cachet-tests --bin cachet-matrix`; `tests/correctness.rs`
//! asserts the Cachet rows in CI.

mod args;
mod cases;
mod cross_cases;
mod entries;
pub mod fixture;
mod layers;
mod runner;
mod volatile_cases;

use std::fmt;

pub use cases::{groups, Action, Case, Group, Perturb, Setup};
pub use runner::{engine_title, run_group, Outcome, Truths};

/// Which build definition is under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// `Cachet.toml` through the Cachet frontend.
    Cachet,
    /// The Docker-documented cache-mount Dockerfile pattern.
    Reference,
}

impl Subject {
    pub fn name(self) -> &'static str {
        match self {
            Subject::Cachet => "Cachet",
            Subject::Reference => "reference Dockerfile",
        }
    }
}

/// The crate a [`Expect::Warm`] case edits.
pub const WARM_EDITED: &str = "other";

/// What a case requires of the rebuild. Every case requires the clean build's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A fresh, correct output; the listed crates must not be recompiled (they do not depend
    /// on what changed, and the target cache they were built in is still the right one).
    Fresh { keep: &'static [&'static str] },
    /// A switch back to inputs built before, together with an edit to the independent
    /// binary `other` (so BuildKit cannot serve the step from its own cache and cargo runs on
    /// the target cache those inputs left): a correct output, and only `other` recompiles.
    Warm,
    /// Every step CACHED and cargo never runs.
    NoRebuild,
    /// The build fails, as the clean build does.
    Fails,
}

impl Expect {
    pub fn describe(self) -> String {
        match self {
            Expect::Fresh { keep: [] } => "fresh output".into(),
            Expect::Fresh { keep } => format!("fresh output; {} not recompiled", keep.join(", ")),
            Expect::Warm => "warm: only the edited other recompiles".into(),
            Expect::NoRebuild => "every step CACHED, cargo never runs".into(),
            Expect::Fails => "build fails".into(),
        }
    }
}

/// The outcome of one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Ok,
    NotApplicable,
    NeedlessRebuild,
    Failed,
    Stale,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::NotApplicable => "N/A",
            Verdict::NeedlessRebuild => "NEEDLESS-REBUILD",
            Verdict::Failed => "FAILED",
            Verdict::Stale => "STALE",
        }
    }

    /// Whether this verdict, for Cachet, fails the matrix.
    pub fn is_failure(self) -> bool {
        !matches!(self, Verdict::Ok | Verdict::NotApplicable)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the matrix.
#[derive(Clone, Debug)]
pub struct Row {
    /// `<id> <name>` of the case.
    pub case: String,
    /// `<engine> · <subject>`.
    pub engine: String,
    pub subject: Subject,
    pub expected: String,
    pub actual: String,
    /// `k/n steps CACHED` in the rebuild.
    pub cache_hits: String,
    pub verdict: Verdict,
}

impl Row {
    /// Whether this row fails the matrix: a Cachet row that is not OK or N/A. Reference rows
    /// never do: their verdicts are what the documented pattern does.
    pub fn fails_matrix(&self) -> bool {
        self.subject == Subject::Cachet && self.verdict.is_failure()
    }
}

/// The rows as a markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| case | engine | expected | actual | cache hits | verdict |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let verdict = match (r.subject, r.verdict) {
            (Subject::Reference, v) if v != Verdict::Ok => format!("{v} (expected)"),
            (_, v) => v.to_string(),
        };
        let cells = [
            r.case.as_str(),
            r.engine.as_str(),
            r.expected.as_str(),
            r.actual.as_str(),
            r.cache_hits.as_str(),
            verdict.as_str(),
        ];
        let cells: Vec<String> = cells
            .iter()
            .map(|c| c.replace('|', "\\|").replace('\n', " "))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// How many rows of each engine and subject got each verdict, as a markdown table.
pub fn summary(rows: &[Row]) -> String {
    const VERDICTS: [Verdict; 5] = [
        Verdict::Ok,
        Verdict::Stale,
        Verdict::NeedlessRebuild,
        Verdict::Failed,
        Verdict::NotApplicable,
    ];
    let mut out = String::from("| engine |");
    for v in VERDICTS {
        out.push_str(&format!(" {v} |"));
    }
    out.push_str("\n| --- |");
    out.push_str(&" ---: |".repeat(VERDICTS.len()));
    out.push('\n');
    let mut engines: Vec<&str> = Vec::new();
    for r in rows {
        if !engines.contains(&r.engine.as_str()) {
            engines.push(&r.engine);
        }
    }
    for engine in engines {
        out.push_str(&format!("| {engine} |"));
        for v in VERDICTS {
            let n = rows
                .iter()
                .filter(|r| r.engine == engine && r.verdict == v)
                .count();
            out.push_str(&format!(" {n} |"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cachet_failures_fail_the_matrix() {
        let row = |subject, verdict| Row {
            case: "c".into(),
            engine: "e".into(),
            subject,
            expected: "x".into(),
            actual: "a | b".into(),
            cache_hits: "0/1".into(),
            verdict,
        };
        assert!(row(Subject::Cachet, Verdict::Stale).fails_matrix());
        assert!(row(Subject::Cachet, Verdict::NeedlessRebuild).fails_matrix());
        assert!(!row(Subject::Cachet, Verdict::NotApplicable).fails_matrix());
        assert!(!row(Subject::Reference, Verdict::Stale).fails_matrix());
        let table = markdown(&[row(Subject::Reference, Verdict::Stale)]);
        assert!(table.contains("| a \\| b |"), "{table}");
        assert!(table.contains("STALE (expected)"), "{table}");
        let counts = summary(&[
            row(Subject::Cachet, Verdict::Ok),
            row(Subject::Cachet, Verdict::Stale),
        ]);
        assert!(counts.contains("| e | 1 | 1 | 0 | 0 | 0 |"), "{counts}");
    }
}
