//! The harness itself: it must catch, count, save and minimise panics, flag slow inputs, and
//! find a panic that only mutation reaches; the seeds must be there.

use std::time::Duration;

use crate::bundle::Bundle;
use crate::engine::{fuzz, Config, Features, Target};
use crate::mutate::Mutator;

/// Panics on any input containing `boom`; sleeps on inputs starting with `slow`; panics on
/// inputs longer than 40 bytes when `long` is set.
struct Trap {
    seeds: Vec<&'static str>,
    long: bool,
}

impl Target for Trap {
    fn name(&self) -> &'static str {
        "trap"
    }
    fn about(&self) -> &'static str {
        "test target"
    }
    fn primary(&self) -> &'static str {
        "@in"
    }
    fn seeds(&self, _: &mut fastrand::Rng) -> Vec<Bundle> {
        self.seeds
            .iter()
            .map(|s| Bundle::single("@in", *s))
            .collect()
    }
    fn mutate(&self, input: &mut Bundle, m: &mut Mutator) {
        let mut data = input.get("@in").unwrap_or_default().to_vec();
        m.mutate_some(&mut data);
        input.set("@in", data);
    }
    fn run(&self, input: &Bundle, f: &mut Features) {
        let data = input.get("@in").unwrap_or_default();
        f.add(data.len());
        if data.windows(4).any(|w| w == b"boom") {
            panic!("found the bomb");
        }
        if data.starts_with(b"slow") {
            std::thread::sleep(Duration::from_millis(120));
        }
        if self.long && data.len() > 40 {
            let v: Vec<u8> = Vec::new();
            let _ = v[data.len()];
        }
    }
}

fn quick(max_execs: u64, state: Option<std::path::PathBuf>) -> Config {
    Config {
        budget: Duration::from_secs(30),
        max_execs: Some(max_execs),
        state_dir: state,
        seed: 42,
        ..Config::default()
    }
}

#[test]
fn a_panicking_input_is_caught_counted_minimised_and_saved() {
    let state = std::env::temp_dir().join(format!("cachet-fuzz-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let target = Trap {
        seeds: vec!["harmless", "xx boom xx", "boom again"],
        long: false,
    };
    let report = fuzz(&target, &quick(300, Some(state.clone())));
    assert!(report.panics >= 2, "both bombs are counted: {report:?}");
    assert_eq!(report.sites.len(), 1, "one place panics");
    let site = &report.sites[0];
    assert_eq!(site.record.message, "found the bomb");
    assert!(
        site.record.location.contains("tests.rs"),
        "{}",
        site.record.location
    );
    assert!(
        site.record.backtrace.is_some(),
        "the first panic has a backtrace"
    );
    assert_eq!(
        site.input, b"boom",
        "minimised to the smallest input that panics there"
    );
    let saved = site.saved.as_ref().expect("saved to the state directory");
    assert_eq!(std::fs::read(saved).unwrap(), b"boom");
    assert!(
        saved.with_extension("txt").exists(),
        "with its message and backtrace"
    );
    assert!(crate::engine::table(&[report]).contains("trap"));
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn mutation_finds_a_panic_no_seed_has() {
    let target = Trap {
        seeds: vec!["short"],
        long: true,
    };
    let report = fuzz(&target, &quick(20_000, None));
    assert!(
        report.panics > 0,
        "no input over 40 bytes in {} runs",
        report.execs
    );
    assert!(report.sites[0]
        .record
        .message
        .contains("index out of bounds"));
    assert!(report.sites[0].input.len() == 41, "minimised to 41 bytes");
}

#[test]
fn slow_inputs_are_recorded_not_failed() {
    let target = Trap {
        seeds: vec!["slow input", "fast"],
        long: false,
    };
    let mut config = quick(3, None);
    config.max_execs = Some(3);
    let report = fuzz(&target, &config);
    assert_eq!(report.panics, 0);
    assert!(!report.slow.is_empty(), "{report:?}");
    assert!(report.slow[0].millis >= 100.0);
    assert_eq!(report.slow[0].input, b"slow input");
}

#[test]
fn seeds_come_from_the_examples_the_tests_and_the_sources() {
    let examples = crate::seeds::examples();
    let hello = examples
        .iter()
        .find(|e| e.name == "hello")
        .expect("examples/hello");
    assert!(hello.spec.is_some(), "its Cachet.toml");
    assert!(hello.files.contains_key("Cargo.lock"));
    let workspace = examples.iter().find(|e| e.name == "workspace").unwrap();
    assert!(workspace.files.contains_key("crates/app/Cargo.toml"));
    let specs = crate::seeds::SPEC_TEXTS;
    assert!(specs.len() >= 10, "{} spec texts", specs.len());
    let loading = specs
        .iter()
        .filter(|(_, t)| llb_gen::spec::load("Cachet.toml", t, &Default::default()).is_ok())
        .count();
    assert!(loading >= 5, "only {loading} harvested specs load");
    assert!(crate::seeds::MANIFEST_TEXTS.len() >= 5);
}

#[test]
fn every_target_runs_its_seeds_and_mutants() {
    for target in crate::targets::all() {
        let mut config = quick(0, None);
        let seeds = target.seeds(&mut fastrand::Rng::with_seed(1)).len() as u64;
        config.max_execs = Some(seeds + 300);
        let report = fuzz(target, &config);
        assert!(seeds > 10, "{}: {seeds} seeds", target.name());
        assert!(
            report.execs > seeds,
            "{}: {} execs",
            target.name(),
            report.execs
        );
        assert!(
            report.new_entries > 0,
            "{}: nothing new found",
            target.name()
        );
    }
}

#[test]
fn error_classes_leave_out_what_the_input_named() {
    use crate::engine::error_class;
    assert_eq!(
        error_class("unknown field `imgae`, expected one of `image`, `digest`"),
        error_class("unknown field `x`, expected one of `image`, `digest`")
    );
    assert_eq!(
        error_class("targets form a cycle: +a → +b → +a"),
        error_class("targets form a cycle: +c → +c")
    );
    assert_eq!(
        error_class("`+biuld` names no target (targets: build, image)"),
        error_class("`+x` names no target (targets: a)")
    );
    assert_eq!(
        error_class(r#"malformed frontend option "a\"b=c": expected key=value"#),
        error_class(r#"malformed frontend option "zz": expected key=value"#)
    );
    assert_ne!(error_class("no targets"), error_class("duplicate key"));
}

#[test]
fn the_seeds_kept_in_the_repository_do_not_panic() {
    // `fuzz/seeds/<target>/regress-*.bin` are reproducers of fixed panics: they must stay fixed.
    for (target_name, file, bytes) in crate::seeds::REPO_SEEDS {
        let target = crate::targets::by_name(target_name)
            .unwrap_or_else(|| panic!("fuzz/seeds/{target_name}: no such target"));
        let input = Bundle::parse(bytes, target.primary());
        if let Err(p) = crate::engine::catch(|| target.run(&input, &mut Features::default())) {
            panic!(
                "fuzz/seeds/{target_name}/{file} panics at {}: {}",
                p.location, p.message
            );
        }
    }
}
