//! `[sdk] packages` and `[sdk] setup` on both engines: a project whose build script runs `make`
//! builds on an SDK that does not have it.
//!
//! - Without `packages = ["make"]` the build fails, and the build script's error names `make`
//!   (the SDK images of this environment are Debian with gcc, but no make).
//! - With it, the setup step installs make (apt-get, over the network) and the binary, which
//!   links a C object make built, runs.
//! - The same spec again is served from cache; a changed setup (one command more) is a new SDK:
//!   its setup step and the cargo step run again, under a new progress tag, and the artifacts'
//!   provenance names a new SDK identity and a new target cache mount.
//!
//! The setup commands carry a nonce, so every run of this test really runs apt-get instead of
//! finding an earlier run's setup in the engine's cache. Containers on buildkitd reach
//! deb.debian.org through BuildKit's sandbox network; dockerd 20.10's bridge has no outside
//! network, so there every build passes `--network host` (the setup step takes the host
//! network then, as the fetch step does).

use std::path::Path;
use std::time::Instant;

use cachet_tests::progress::vertices;
use cachet_tests::{fixtures, on_each_engine, unique_tag, Build, Engine, Env, TempProject};

/// What the build script prints when `make` cannot be started (as `cc`-style crates do).
const NO_MAKE: &str = "failed to execute command `make`: No such file or directory";

/// The one step whose name starts with `prefix`: `(name, cached)`.
#[track_caller]
fn step(progress: &str, prefix: &str) -> (String, bool) {
    let steps: Vec<_> = vertices(progress)
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .collect();
    assert_eq!(
        steps.len(),
        1,
        "expected one `{prefix}…` step, found {steps:?} in:\n{progress}"
    );
    steps.into_iter().next().unwrap()
}

/// The SDK setup step: `[sdk] setup · <6 hex>`.
#[track_caller]
fn setup_step(progress: &str) -> (String, bool) {
    let (name, cached) = step(progress, "[sdk] setup · ");
    assert!(
        tag(&name).len() == 6 && tag(&name).chars().all(|c| c.is_ascii_hexdigit()),
        "the setup step's name ends in a 6-hex tag: `{name}`"
    );
    (name, cached)
}

/// The 6-hex tag at the end of a step's name.
fn tag(name: &str) -> &str {
    name.rsplit(' ').next().unwrap_or_default()
}

/// The compile step of target `build`.
#[track_caller]
fn build_step(progress: &str) -> (String, bool) {
    step(progress, "[build] cargo build ")
}

/// A binary `app` printing `answer <n> | <marker>`, where `n` comes from a C function that
/// `native/Makefile` compiles and archives (run by build.rs), with a spec named `name` whose
/// `[sdk]` section has `sdk` added.
fn make_project(label: &str, name: &str, marker: &str, sdk: &str) -> TempProject {
    let project = TempProject::new(label);
    project.write(
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n\n\
         [dependencies]\n\n[workspace]\n",
    );
    project.write(
        "build.rs",
        r#"use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=native");
    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let status = Command::new("make")
        .arg("-C")
        .arg("native")
        .arg(format!("OUT={out}"))
        .status()
        .unwrap_or_else(|e| panic!("failed to execute command `make`: {e}"));
    assert!(status.success(), "make failed: {status}");
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rustc-link-lib=static=answer");
}
"#,
    );
    project.write(
        "native/Makefile",
        "$(OUT)/libanswer.a: answer.c\n\
         \tcc -O2 -fPIC -c answer.c -o $(OUT)/answer.o\n\
         \trm -f $@\n\
         \tar crs $@ $(OUT)/answer.o\n",
    );
    project.write(
        "native/answer.c",
        "int cachet_answer(void) { return 42; }\n",
    );
    project.write(
        "src/main.rs",
        format!(
            "extern \"C\" {{\n    fn cachet_answer() -> i32;\n}}\n\n\
             fn main() {{\n    println!(\"answer {{}} | {{}}\", unsafe {{ cachet_answer() }}, {marker:?});\n}}\n"
        ),
    );
    project.write(".dockerignore", "target/\n");
    write_spec(&project, name, sdk);
    project
}

/// (Re)writes the spec, named `name`, with `sdk` added to its `[sdk]` section.
fn write_spec(project: &TempProject, name: &str, sdk: &str) {
    project.write(
        "Cachet.toml",
        format!(
            "# syntax=cachet/frontend:dev\n\
             [project]\nname = \"{name}\"\n\
             # build.rs runs make in native/: outside src/, so it is named here.\n\
             include = [\"native\"]\n\n\
             [sdk]\nimage = \"{}\"\n{sdk}\n\n\
             [cargo]\nrustflags = [\"-C\", \"target-feature=+crt-static\"]\n\n\
             [target.build]\ncargo = [\"build\", \"--bin\", \"app\"]\nartifacts = {{ app = \"app\" }}\n\n\
             [target.image]\nfrom = \"scratch\"\n\
             copy = [{{ from = \"+build\", artifact = \"app\", to = \"/usr/local/bin/app\" }}]\n\
             entrypoint = [\"/usr/local/bin/app\"]\n",
            Env::get().sdk_rustup_image(),
        ),
    );
}

/// A build of the spec; on dockerd with the host network (see the module docs).
fn spec_build(engine: Engine, project: &TempProject) -> Build {
    let build = engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"));
    match engine {
        Engine::Dockerd => build.arg("--network").arg("host"),
        Engine::Buildx => build,
    }
}

/// Runs `test` and prints how long it took on `engine` (the suite's timing record).
fn timed<T>(engine: Engine, what: &str, test: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = test();
    eprintln!(
        "[sdk-setup] {engine}: {what} took {:.1}s",
        start.elapsed().as_secs_f64()
    );
    out
}

/// A string field (`sdk`, `target_cache`, …) of an exported `cachet-provenance.json`.
#[track_caller]
fn provenance_field(dir: &Path, field: &str) -> String {
    let text = std::fs::read_to_string(dir.join("cachet-provenance.json"))
        .unwrap_or_else(|e| panic!("{}: no provenance: {e}", dir.display()));
    let record: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: provenance is not JSON: {e}", dir.display()));
    record[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{field}` in {text}"))
        .to_string()
}

#[test]
fn a_build_script_that_runs_make_fails_naming_it_on_an_sdk_without_make() {
    on_each_engine(|engine| {
        let label = format!("sdk-no-make-{engine}");
        let nonce = fixtures::nonce();
        let project = make_project(&label, &format!("{label}-{nonce}"), &nonce, "");
        let result = timed(engine, "build without make", || {
            spec_build(engine, &project)
                .tag(unique_tag("sdk-no-make", engine))
                .run()
                .assert_failure()
        });
        let progress = result.progress();
        assert!(
            progress.contains(NO_MAKE),
            "{engine}: the build script's error names make:\n{progress}"
        );
        let (name, cached) = build_step(progress);
        assert!(!cached, "{engine}: `{name}` ran and failed:\n{progress}");
        assert!(
            !progress.contains("[sdk] setup"),
            "{engine}: a spec without packages or setup has no setup step:\n{progress}"
        );
    });
}

#[test]
fn sdk_packages_provide_make_and_a_setup_change_rebuilds_every_step() {
    on_each_engine(|engine| {
        let label = format!("sdk-make-{engine}");
        let nonce = fixtures::nonce();
        let marker = format!("made {nonce}");
        // `true` ignores its arguments: the nonce only makes this run's setup its own.
        let with_make = format!("packages = [\"make\"]\nsetup = [\"true cachet-{nonce}\"]");
        let name = format!("{label}-{nonce}");
        let project = make_project(&label, &name, &marker, &with_make);
        let out = TempProject::new(&format!("{label}-out"));

        let first = timed(engine, "build with make installed", || {
            spec_build(engine, &project)
                .tag(unique_tag("sdk-make", engine))
                .run()
                .assert_success()
        });
        let progress = first.progress().to_string();
        let (setup_a, cached) = setup_step(&progress);
        assert!(!cached, "{engine}: `{setup_a}` ran:\n{progress}");
        assert!(
            progress.contains("apt-get install -y --no-install-recommends make"),
            "{engine}: the setup step installed make:\n{progress}"
        );
        let (build_a, cached) = build_step(&progress);
        assert!(!cached, "{engine}: `{build_a}` ran:\n{progress}");
        assert!(
            !progress.contains(NO_MAKE),
            "{engine}: make was found:\n{progress}"
        );
        let stdout = first.image().run(&[]).assert_success().stdout;
        assert_eq!(stdout.trim(), format!("answer 42 | {marker}"), "{engine}");

        // The same spec again: every step is served from cache.
        let dir_a = out.path().join("a");
        let again = timed(engine, "the same spec, artifacts exported", || {
            spec_build(engine, &project)
                .target("build")
                .local_output(&dir_a)
                .run()
                .assert_success()
        });
        let progress = again.progress();
        assert_eq!(
            build_step(progress),
            (build_a.clone(), true),
            "{engine}: an unchanged spec is CACHED:\n{progress}"
        );
        assert_eq!(setup_step(progress), (setup_a.clone(), true), "{engine}");
        let sdk_a = provenance_field(&dir_a, "sdk");
        assert!(
            sdk_a.starts_with(&format!("sha256:{}", tag(&setup_a))),
            "{engine}: the setup step's tag is the start of the identity it makes: {sdk_a} / {setup_a}"
        );

        // One setup command more: a new SDK, so every step runs again on a new target cache.
        write_spec(
            &project,
            &name,
            &format!("packages = [\"make\"]\nsetup = [\"true cachet-{nonce}\", \"true\"]"),
        );
        let dir_b = out.path().join("b");
        let changed = timed(engine, "build after a setup change", || {
            spec_build(engine, &project)
                .target("build")
                .local_output(&dir_b)
                .run()
                .assert_success()
        });
        let progress = changed.progress();
        let (setup_b, cached) = setup_step(progress);
        assert!(!cached, "{engine}: `{setup_b}` ran again:\n{progress}");
        assert_ne!(
            setup_b, setup_a,
            "{engine}: the setup tag follows the identity"
        );
        let (build_b, cached) = build_step(progress);
        assert!(
            !cached,
            "{engine}: `{build_b}` was CACHED after a setup change:\n{progress}"
        );
        assert_ne!(
            build_b, build_a,
            "{engine}: the cargo step's tag follows its target cache key"
        );
        assert!(
            progress.contains("Compiling app"),
            "{engine}: cargo compiled from scratch on the new target cache:\n{progress}"
        );
        let sdk_b = provenance_field(&dir_b, "sdk");
        assert_ne!(sdk_b, sdk_a, "{engine}: a new SDK identity");
        assert!(
            sdk_b.starts_with(&format!("sha256:{}", tag(&setup_b))),
            "{engine}: {sdk_b} / {setup_b}"
        );
        assert_ne!(
            provenance_field(&dir_b, "target_cache"),
            provenance_field(&dir_a, "target_cache"),
            "{engine}: a new target cache mount"
        );
        let binary = std::fs::read(dir_b.join("app")).expect("the artifact is exported");
        assert!(!binary.is_empty(), "{engine}: app was built");
    });
}
