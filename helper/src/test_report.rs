//! `cachet-helper test-report`: what a `cargo test` step ran, read from libtest's plain output.
//!
//! libtest's machine-readable output (`--format json`) needs a nightly toolchain, so the cargo
//! test step tees cargo's output (stdout and stderr) to a file and this reads it back: the
//! suites (`Running unittests src/lib.rs (…)`, `Doc-tests x`), every `test NAME ... ok|FAILED|
//! ignored` line, and the captured output of each failure (`---- NAME stdout ----`). That plain
//! format is what stable libtest prints and what every CI log parser reads; a line it does not
//! recognise is skipped, never an error, so a test's own output cannot break the report.
//!
//! The report is JSON ([`Report`]); the step exports it beside the artifacts, and on failure
//! the helper prints the failed tests' names as the step's last log line ([`Report::summary`]).

use std::fmt::Write as _;

/// What one test did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestCase {
    /// The test binary as cargo named it (`unittests src/lib.rs`, `tests/api.rs`,
    /// `Doc-tests hello`); empty when the output had no suite line before it.
    pub suite: String,
    pub name: String,
    pub outcome: Outcome,
    /// The captured output libtest printed for a failure (`---- NAME stdout ----`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
}

/// The report the step exports as `cachet-test-report.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub format: &'static str,
    /// The Cachet target the step belongs to.
    pub target: String,
    /// cargo's exit status.
    pub exit_code: i32,
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
    pub tests: Vec<TestCase>,
}

/// The `format` of every report, bumped when a field changes meaning.
pub const FORMAT: &str = "cachet-test-report-v1";

impl Report {
    /// Reads libtest's plain output (`log`, stdout and stderr interleaved as cargo wrote them).
    pub fn parse(target: &str, exit_code: i32, log: &str) -> Report {
        let mut tests: Vec<TestCase> = Vec::new();
        let mut suite = String::new();
        // The failure whose captured output is being read: (suite, name), and its lines.
        let mut capturing: Option<(String, String, String)> = None;
        let finish = |tests: &mut Vec<TestCase>, captured: Option<(String, String, String)>| {
            if let Some((suite, name, output)) = captured {
                if let Some(case) = tests
                    .iter_mut()
                    .find(|t| t.suite == suite && t.name == name && t.output.is_empty())
                {
                    case.output = output.trim_end().to_string();
                }
            }
        };
        for line in log.lines() {
            let trimmed = line.trim();
            if let Some(rest) = trimmed.strip_prefix("Running ") {
                finish(&mut tests, capturing.take());
                // `Running unittests src/lib.rs (target/…/deps/x-hash)`: the path is noise.
                suite = match rest.rsplit_once(" (") {
                    Some((name, _)) => name.to_string(),
                    None => rest.to_string(),
                };
                continue;
            }
            if trimmed.starts_with("Doc-tests ") {
                finish(&mut tests, capturing.take());
                suite = trimmed.to_string();
                continue;
            }
            if let Some(name) = trimmed
                .strip_prefix("---- ")
                .and_then(|r| r.strip_suffix(" stdout ----"))
            {
                finish(&mut tests, capturing.take());
                capturing = Some((suite.clone(), name.to_string(), String::new()));
                continue;
            }
            if let Some((_, _, output)) = capturing.as_mut() {
                // The failures section ends with the list of names (`failures:`) or the result.
                if line == "failures:" || trimmed.starts_with("test result: ") {
                    finish(&mut tests, capturing.take());
                } else {
                    let _ = writeln!(output, "{line}");
                }
                continue;
            }
            if let Some(case) = test_line(&suite, line) {
                tests.push(case);
            }
        }
        finish(&mut tests, capturing.take());
        let count = |o: Outcome| tests.iter().filter(|t| t.outcome == o).count();
        Report {
            format: FORMAT,
            target: target.to_string(),
            exit_code,
            passed: count(Outcome::Ok),
            failed: count(Outcome::Failed),
            ignored: count(Outcome::Ignored),
            tests,
        }
    }

    /// The names of the failed tests, in the order they were reported.
    pub fn failures(&self) -> Vec<&str> {
        self.tests
            .iter()
            .filter(|t| t.outcome == Outcome::Failed)
            .map(|t| t.name.as_str())
            .collect()
    }

    /// One line for the step's log: `cachet: +test: 2 of 5 tests failed: a, b`.
    pub fn summary(&self) -> String {
        let total = self.passed + self.failed + self.ignored;
        format!(
            "cachet: +{}: {} of {total} tests failed: {}",
            self.target,
            self.failed,
            self.failures().join(", ")
        )
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// `test NAME ... ok` (libtest's pretty format; the name may hold spaces, as doc tests' do).
fn test_line(suite: &str, line: &str) -> Option<TestCase> {
    let rest = line.strip_prefix("test ")?;
    let (name, result) = rest.rsplit_once(" ... ")?;
    let outcome = match result.trim() {
        "ok" => Outcome::Ok,
        "FAILED" => Outcome::Failed,
        r if r == "ignored" || r.starts_with("ignored, ") => Outcome::Ignored,
        _ => return None,
    };
    Some(TestCase {
        suite: suite.to_string(),
        name: name.to_string(),
        outcome,
        output: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "   Compiling tested v0.1.0 (/cachet/src)
    Finished `release` profile [optimized] target(s) in 1.2s
     Running unittests src/lib.rs (/cachet/target/x86_64-unknown-linux-gnu/release/deps/tested-1f2e)

running 4 tests
test tests::adds ... ok
test tests::slow ... ignored, takes a minute
test tests::breaks ... FAILED
test tests::also_breaks ... FAILED

failures:

---- tests::breaks stdout ----

thread 'tests::breaks' panicked at src/lib.rs:9:9:
assertion `left == right` failed
---- tests::also_breaks stdout ----
boom

failures:
    tests::also_breaks
    tests::breaks

test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--lib`
";

    #[test]
    fn every_test_line_and_each_failures_output_is_read() {
        let report = Report::parse("test", 101, LOG);
        assert_eq!(
            (report.passed, report.failed, report.ignored),
            (1, 2, 1),
            "{report:#?}"
        );
        assert_eq!(report.failures(), ["tests::breaks", "tests::also_breaks"]);
        let breaks = &report.tests[2];
        assert_eq!(breaks.suite, "unittests src/lib.rs");
        assert_eq!(
            breaks.output,
            "\nthread 'tests::breaks' panicked at src/lib.rs:9:9:\nassertion `left == right` failed"
        );
        assert_eq!(report.tests[3].output, "boom");
        assert_eq!(
            report.summary(),
            "cachet: +test: 2 of 4 tests failed: tests::breaks, tests::also_breaks"
        );
    }

    #[test]
    fn doc_tests_keep_their_spaced_names_and_noise_is_skipped() {
        let log = "   Doc-tests hello\n\nrunning 1 test\ntest src/lib.rs - add (line 3) ... ok\n\
                   test output that looks like a test line but is not ... maybe\n";
        let report = Report::parse("t", 0, log);
        assert_eq!(report.tests.len(), 1, "{report:#?}");
        assert_eq!(report.tests[0].name, "src/lib.rs - add (line 3)");
        assert_eq!(report.tests[0].suite, "Doc-tests hello");
        assert_eq!(report.format, FORMAT);
    }
}
