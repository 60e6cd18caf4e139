//! `cargo test` steps that say which tests failed, and export what ran.
//!
//! A failed test step used to end the build with BuildKit's `process "…" did not complete
//! successfully: exit code: 101`, the failing names somewhere in the log above. Now the step
//! tees cargo's output to a file and `cachet-helper test-report` reads it back (libtest's plain
//! format: `--format json` needs nightly):
//! * the report, `cachet-test-report.json` beside the artifacts ([`REPORT_FILE`]), is part of
//!   the target's output, so `--output type=local` exports it when the tests pass;
//! * when tests fail, the helper prints `cachet: +test: 2 of 5 tests failed: a, b` as the
//!   step's last log line and writes the report into the step's target cache mount
//!   ([`FAILURES_FILE`]), which BuildKit keeps even though the step failed. The frontend, seeing
//!   that step's process in the solve error ([`TestFailureReader::process`]), solves the
//!   small uncached reader op ([`TestFailureReader::definition`]) that copies the file out of
//!   the same mount, and returns an error naming the tests.
//!
//! The step removes the file before cargo runs, so a report there is always the last run's.
//! A failed step is never cached, so running the build again re-runs only the tests: the
//! target cache holds the compiled test binaries (see README, "Test targets").

use crate::llb::{CacheSharing, Mount, State};
use crate::proto::pb;

use super::cargo_step::{OUT_DIR, TARGET_DIR};
use super::freshness::HELPER;
use super::shell;
use super::{CompileError, Context};

/// The report in a test step's output (an artifact's name cannot hold a dot).
pub const REPORT_FILE: &str = "/cachet-test-report.json";
/// The last failed run's report, in the step's target cache mount.
pub const FAILURES_FILE: &str = "/cachet/target/.cachet-test-failures.json";
/// Where the reader op puts it; the file the frontend reads from the reader's result.
const READER_OUT: &str = "/cachet/test-failures";
/// The file the frontend reads from the reader op's result.
pub const READ_FAILURES: &str = "/.cachet-test-failures.json";
/// Cargo's output, teed (on the step's tmpfs).
const LOG: &str = "/tmp/cachet-test.log";
const STATUS: &str = "/tmp/cachet-test-status";

/// Whether a cargo subcommand runs libtest (`cargo test`, or its alias `t`).
pub fn runs_tests(subcommand: &str) -> bool {
    matches!(subcommand, "test" | "t")
}

/// The lines that take the place of `"$@"` in a test step's script: cargo with its output
/// teed, the report, then cargo's own exit status.
pub(super) fn run_lines(target: &str) -> Vec<String> {
    let helper = shell::join(&[
        HELPER.into(),
        "test-report".into(),
        "--log".into(),
        LOG.into(),
    ]);
    let rest = shell::join(&[
        "--target".into(),
        target.to_string(),
        "--report".into(),
        format!("{OUT_DIR}{REPORT_FILE}"),
        "--failures".into(),
        FAILURES_FILE.into(),
    ]);
    // The status is the shell's, expanded when the line runs.
    let report = format!("{helper} --status \"$cachet_status\" {rest}");
    vec![
        format!("rm -f {FAILURES_FILE}"),
        "cachet_status=0".into(),
        format!("{{ \"$@\" 2>&1 || echo \"$?\" > {STATUS}; }} | tee {LOG}"),
        format!("if [ -f {STATUS} ]; then cachet_status=$(cat {STATUS}); fi"),
        // A report the helper cannot write is no reason to hide cargo's own status.
        format!("{report} || echo 'cachet: no test report (see above)' >&2"),
        "if [ \"$cachet_status\" != 0 ]; then exit \"$cachet_status\"; fi".into(),
    ]
}

/// How the frontend names the failed tests of one test step.
#[derive(Debug, Clone)]
pub struct TestFailureReader {
    pub target: String,
    /// The step's process as BuildKit names it in a failure (`process "<this>" did not
    /// complete …` on current BuildKit, `executor failed running [<this>]` on v0.8).
    pub process: String,
    /// An uncached op that copies [`FAILURES_FILE`] out of the step's target cache mount into
    /// its result, at [`READ_FAILURES`] (absent when the last run had no failed test).
    pub definition: pb::Definition,
}

pub(super) fn reader(
    ctx: &mut Context<'_>,
    target: &str,
    argv: &[String],
    mount_id: &str,
) -> Result<TestFailureReader, CompileError> {
    let copy = format!(
        "if [ -f {FAILURES_FILE} ]; then cp {FAILURES_FILE} {READER_OUT}{READ_FAILURES}; fi"
    );
    let exec = ctx
        .sdk_state()?
        .run(["/bin/sh".to_string(), "-c".to_string(), copy])
        .mount(Mount::cache(TARGET_DIR, mount_id.to_string()).sharing(CacheSharing::Locked))
        .mount(Mount::bind(READER_OUT, &State::scratch()))
        .network(crate::llb::NetMode::None)
        .platform(ctx.request.platform.clone())
        // What the last run left, every time: never a cached copy.
        .ignore_cache(true)
        .custom_name(format!("[cachet] read the failed tests of +{target}"))
        .build()?;
    Ok(TestFailureReader {
        target: target.to_string(),
        process: argv.join(" "),
        definition: exec.get_mount(READER_OUT)?.marshal(),
    })
}
