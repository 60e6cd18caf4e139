//! Test targets that read well, end to end (both engines):
//! - a failing `cargo test` step's log ends with the helper's summary naming the failed tests,
//!   and buildx shows that line last in the box above its `ERROR: … exit code: 101` (dockerd
//!   20.10's docker CLI prints the step's log but no such box);
//! - once the tests pass, `--output type=local` exports `cachet-test-report.json`, which lists
//!   every test with its outcome.
//!
//! Each build is a project of its own (a nonce in its name and source), so its target cache and
//! steps are its own.

use cachet_tests::{fixtures, on_each_engine, Engine, TempProject};

const SPEC: &str = r#"# syntax=cachet/frontend:dev
[project]
name = "NAME"

[sdk]
image = "cachet-sdk:rustup"

[target.test]
cargo = ["test"]
"#;

/// A library with three tests; `tests::breaks` fails unless `fixed`.
fn project(label: &str, fixed: bool) -> TempProject {
    let project = TempProject::new(label);
    let nonce = fixtures::nonce();
    let name = format!("reports-{label}-{nonce}");
    project.write("Cachet.toml", SPEC.replace("NAME", &name));
    project.write(
        "Cargo.toml",
        "[package]\nname = \"reported\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    project.write(
        "Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"reported\"\nversion = \"0.1.0\"\n",
    );
    let expected = if fixed { 4 } else { 5 };
    project.write(
        "src/lib.rs",
        format!(
            "// {nonce}\npub fn add(a: u32, b: u32) -> u32 {{ a + b }}\n\n#[cfg(test)]\nmod tests {{\n    \
             #[test]\n    fn adds() {{ assert_eq!(super::add(2, 2), 4); }}\n    \
             #[test]\n    fn breaks() {{ assert_eq!(super::add(2, 2), {expected}, \"two and two\"); }}\n    \
             #[test]\n    #[ignore]\n    fn slow() {{}}\n}}\n"
        ),
    );
    project
}

#[test]
fn a_failed_test_is_named_last_in_its_log_and_a_passing_run_exports_its_report() {
    on_each_engine(|engine| {
        let failing = project(&format!("fail-{engine}"), false);
        let result = engine
            .build(failing.path())
            .file(failing.path().join("Cachet.toml"))
            .target("test")
            .run()
            .assert_failure();
        let progress = result.progress();
        let summary = "cachet: +test: 1 of 3 tests failed: tests::breaks";
        let step_line = progress
            .lines()
            .find(|l| l.ends_with(summary))
            .unwrap_or_else(|| {
                panic!("{engine}: the step's log names the failed test:\n{progress}")
            });
        assert!(
            step_line.starts_with('#'),
            "{engine}: a log line of the step: {step_line:?}"
        );
        if engine == Engine::Buildx {
            // buildx repeats the failed step's last lines in the box above its `ERROR:` line.
            let boxed = progress
                .rsplit_once(" > [test] cargo test")
                .map(|(_, tail)| tail)
                .unwrap_or_default();
            let last_of_box = boxed
                .split("\n------")
                .next()
                .and_then(|b| b.lines().last())
                .unwrap_or_default();
            assert!(
                last_of_box.ends_with(summary),
                "{engine}: the error box ends with the failed test's name: {last_of_box:?}\n{progress}"
            );
        }

        let passing = project(&format!("pass-{engine}"), true);
        let out = passing.path().join("out");
        engine
            .build(passing.path())
            .file(passing.path().join("Cachet.toml"))
            .target("test")
            .local_output(&out)
            .run()
            .assert_success();
        let report: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.join("cachet-test-report.json"))
                .unwrap_or_else(|e| panic!("{engine}: the report is exported: {e}")),
        )
        .unwrap();
        assert_eq!(report["format"], "cachet-test-report-v1", "{report}");
        assert_eq!(
            (&report["passed"], &report["failed"], &report["ignored"]),
            (&2.into(), &0.into(), &1.into()),
            "{engine}: {report}"
        );
        let mut names: Vec<&str> = report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["tests::adds", "tests::breaks", "tests::slow"],
            "{report}"
        );
    });
}
