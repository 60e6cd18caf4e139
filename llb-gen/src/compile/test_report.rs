//! `cargo test` steps that say which tests failed, and export what ran.
//!
//! A failed test step used to end with cargo's `error: test failed, to rerun pass `--lib``
//! above BuildKit's `exit code: 101`, the failing names further up the log. Now the step tees
//! cargo's output to a file and `cachet-helper test-report` reads it back (libtest's plain
//! format: `--format json` needs nightly):
//! * the report, `cachet-test-report.json` beside the artifacts ([`REPORT_FILE`]), is part of
//!   the target's output, so `--output type=local` exports it when the tests pass;
//! * when tests fail, the helper prints `cachet: +test: 2 of 5 tests failed: a, b` as the
//!   step's last log line, which is the last line buildx shows in the error's box, just above
//!   `ERROR: … exit code: 101`.
//!
//! A failed step is never cached, so running the build again re-runs only the tests: the
//! target cache holds the compiled test binaries (see README, "Test targets").

use super::cargo_step::OUT_DIR;
use super::freshness::HELPER;
use super::shell;

/// The report in a test step's output (an artifact's name cannot hold a dot).
pub const REPORT_FILE: &str = "/cachet-test-report.json";
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
    ]);
    // The status is the shell's, expanded when the line runs.
    let report = format!("{helper} --status \"$cachet_status\" {rest}");
    vec![
        "cachet_status=0".into(),
        format!("{{ \"$@\" 2>&1 || echo \"$?\" > {STATUS}; }} | tee {LOG}"),
        format!("if [ -f {STATUS} ]; then cachet_status=$(cat {STATUS}); fi"),
        // A report the helper cannot write is no reason to hide cargo's own status.
        format!("{report} || echo 'cachet: no test report (see above)' >&2"),
        "if [ \"$cachet_status\" != 0 ]; then exit \"$cachet_status\"; fi".into(),
    ]
}
