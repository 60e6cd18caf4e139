//! The corpus's CI subset on current BuildKit: each smoke project (hexyl, a clap-derive CLI
//! built as a static binary and shipped on `scratch`) builds with Cachet from its smallest spec
//! cold, again with nothing changed, and after an edit, and its binaries run (the scratch
//! image's in a `chroot` of its filesystem, so nothing but the binary is there).
//!
//! Why only that: this is the regression test that real projects keep building; the whole
//! corpus and the timings against host cargo are `scripts/corpus`'s report. Speeds are never
//! asserted, and host cargo is not run here (the report's business). The prepared source is
//! shared with `scripts/corpus` through the state dir (fetched with cargo the first time).

use cachet_tests::corpus::{self, runner};
use cachet_tests::{Engine, TempProject};

#[test]
fn smoke_projects_build_from_their_smallest_spec_and_their_binaries_run() {
    let work = TempProject::new("corpus-smoke");
    let options = runner::Options {
        projects: corpus::smoke(),
        engine: Engine::Buildx,
        runs: 1,
        host: false,
        work: work.path().to_path_buf(),
        cache: runner::default_dir(),
        command: "tests/tests/corpus.rs".to_string(),
    };
    let results = runner::run(&options, |_| {});
    assert_eq!(results.projects.len(), options.projects.len());
    let failed: Vec<String> = results
        .projects
        .iter()
        .filter(|p| !p.cachet_ok())
        .map(|p| {
            let tails: Vec<&str> = p.failures.iter().map(|f| f.log_tail.as_str()).collect();
            format!("{}: {}\n{}", p.name, p.first_try_text(), tails.join("\n"))
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    for project in &results.projects {
        let ran = project.checks.iter().filter(|c| c.ok).count();
        assert!(ran > 0, "{}: no binary ran", project.name);
    }
}
