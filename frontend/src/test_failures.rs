//! A failed `cargo test` step, named by its failed tests in the build's error.
//!
//! BuildKit reports a failed step as its process and exit code. When that process is a test
//! step's, the frontend solves the step's reader op (see `llb-gen/src/compile/test_report.rs`),
//! reads the report the step left in its target cache mount, and puts the failing tests'
//! names first in the message (one line), so the error line buildx and docker print names them.

use llb_gen::compile::{TestFailureReader, READ_FAILURES};

use crate::gateway::Gateway;

/// `error` (the solve's failure) with the failed tests named, when it is the failure of one of
/// the `readers`' steps and that step's report names any; otherwise `error` unchanged.
pub async fn name_failed_tests(
    gateway: &mut Gateway,
    readers: &[TestFailureReader],
    error: String,
) -> String {
    let Some(reader) = failed_step(readers, &error) else {
        return error;
    };
    let report = match read_report(gateway, reader).await {
        Ok(Some(report)) => report,
        Ok(None) => return error,
        Err(e) => {
            tracing::info!(target = reader.target, "cannot read the test report: {e}");
            return error;
        }
    };
    match message(&reader.target, &report) {
        Some(named) => format!("{named}: {error}"),
        None => error,
    }
}

/// The reader whose step's process the error names (the longest match: one process line may
/// be a prefix of another's).
fn failed_step<'a>(readers: &'a [TestFailureReader], error: &str) -> Option<&'a TestFailureReader> {
    readers
        .iter()
        .filter(|r| {
            // `process "<args>" did not complete` (current), `failed running [<args>]` (v0.8).
            error.contains(&format!("\"{}\"", r.process))
                || error.contains(&format!("[{}]", r.process))
        })
        .max_by_key(|r| r.process.len())
}

async fn read_report(
    gateway: &mut Gateway,
    reader: &TestFailureReader,
) -> Result<Option<Vec<u8>>, String> {
    let reference = gateway
        .solve(
            reader.definition.clone(),
            Vec::new(),
            true,
            &format!("read the failed tests of +{}", reader.target),
        )
        .await
        .map_err(|e| e.to_string())?;
    let present = gateway
        .read_dir(&reference, "/")
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .any(|entry| format!("/{}", entry.path) == READ_FAILURES);
    if !present {
        return Ok(None);
    }
    gateway
        .read_file(&reference, READ_FAILURES)
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}

/// `+test: 2 of 5 tests failed: a, b` from a `cachet-test-report-v1` report; `None` when it
/// names no failed test.
fn message(target: &str, report: &[u8]) -> Option<String> {
    let report: serde_json::Value = serde_json::from_slice(report).ok()?;
    let tests = report.get("tests")?.as_array()?;
    let failed: Vec<&str> = tests
        .iter()
        .filter(|t| t.get("outcome").and_then(|o| o.as_str()) == Some("failed"))
        .filter_map(|t| t.get("name")?.as_str())
        .collect();
    if failed.is_empty() {
        return None;
    }
    Some(format!(
        "+{target}: {} of {} tests failed: {} (each one's output is in the log above; the \
         report is {})",
        failed.len(),
        tests.len(),
        failed.join(", "),
        llb_gen::compile::REPORT_FILE.trim_start_matches('/'),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(target: &str, process: &str) -> TestFailureReader {
        TestFailureReader {
            target: target.into(),
            process: process.into(),
            definition: Default::default(),
        }
    }

    #[test]
    fn the_failed_step_is_found_in_either_engines_wording() {
        let readers = [
            reader("test", "/bin/sh /cachet/step/cargo.sh cargo test -p a"),
            reader(
                "test-ab",
                "/bin/sh /cachet/step/cargo.sh cargo test -p a -p b",
            ),
        ];
        let current = "process \"/bin/sh /cachet/step/cargo.sh cargo test -p a -p b\" did not \
                       complete successfully: exit code: 101";
        assert_eq!(failed_step(&readers, current).unwrap().target, "test-ab");
        let v08 = "executor failed running [/bin/sh /cachet/step/cargo.sh cargo test -p a]: \
                   exit code: 101";
        assert_eq!(failed_step(&readers, v08).unwrap().target, "test");
        assert!(failed_step(&readers, "process \"/bin/sh x\" did not complete").is_none());
    }

    #[test]
    fn the_message_names_every_failed_test() {
        let report =
            br#"{"tests":[{"name":"a::ok","outcome":"ok"},{"name":"a::bad","outcome":"failed"}]}"#;
        assert_eq!(
            message("test", report).unwrap(),
            "+test: 1 of 2 tests failed: a::bad (each one's output is in the log above; the \
             report is cachet-test-report.json)"
        );
        assert!(message("test", br#"{"tests":[]}"#).is_none());
        assert!(message("test", b"not json").is_none());
    }
}
