//! The example projects end to end on both engines.
//!
//! - `examples/workspace`: a library with a derive macro (a proc-macro crate) and two binaries
//!   that derive it, built static (`-C target-feature=+crt-static`) for a scratch image. That
//!   only builds because Cachet passes `--target`, which keeps the flag away from the
//!   proc-macro. The default target is an image holding both binaries; `test` runs the
//!   library's unit test; `lint` passes clippy `-D warnings`, and fails with clippy's message
//!   once a lint is violated; `build` exports both binaries (static: no program interpreter)
//!   and the provenance record.
//! - `examples/dynamic`: the dynamically linked variant, on a glibc base image: the exported
//!   binary names the dynamic loader, and the image runs it against the base's glibc.
//! - `examples/cflags`: a build script compiles C with `$CFLAGS` from the spec, which carries a
//!   build argument. A new argument value gives new output, a README edit (outside what cargo
//!   reads) leaves the cargo step cached, and a C edit changes the output.
//!
//! Every test builds a copy of the example under a project name of its own, so its target
//! cache is its own and a run never sees an earlier run's results.

use std::process::Command;

use cachet_tests::exported::run_binary;
use cachet_tests::progress::vertices;
use cachet_tests::{elf, fixtures, on_each_engine, unique_tag, Engine, TempProject};

const APP_LINE: &str = "app: greetings from the greeting crate";
const TOOL_LINE: &str = "tool: greetings from the greeting crate";

/// A copy of `examples/<example>` that shares no cache with any other build: its
/// `[project] name` is unique (so its target cache mount is its own), and so is a comment
/// appended to the Rust source `marked` (current BuildKit leaves cache mount ids out of an
/// exec's cache key, so only a change in the step's inputs makes it really run again).
fn example_project(example: &str, label: &str, marked: &str) -> TempProject {
    let project = TempProject::new(label);
    project.copy_from(fixtures::repo_root().join("examples").join(example));
    let nonce = fixtures::nonce();
    let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
    let from = format!("name = \"{example}\"");
    assert!(
        spec.contains(&from),
        "examples/{example}/Cachet.toml no longer has `{from}`"
    );
    let renamed = spec.replace(&from, &format!("name = \"{label}-{nonce}\""));
    project.write("Cachet.toml", renamed);
    let source = std::fs::read_to_string(project.path().join(marked)).unwrap();
    project.write(marked, format!("{source}\n// cachet-tests run {nonce}\n"));
    project
}

/// Target `target`'s `cargo … <subcommand> …` step in a progress log (`[test] cargo --locked
/// --offline test … · 3f2a9c`): `(name, cached)`. Panics unless there is exactly one.
#[track_caller]
fn cargo_step(progress: &str, target: &str, subcommand: &str) -> (String, bool) {
    let prefix = format!("[{target}] cargo ");
    let steps: Vec<_> = vertices(progress)
        .into_iter()
        .filter(|v| {
            v.name
                .strip_prefix(&prefix)
                .is_some_and(|args| args.split_whitespace().any(|a| a == subcommand))
        })
        .map(|v| (v.name, v.cached))
        .collect();
    assert_eq!(
        steps.len(),
        1,
        "expected one `{prefix}… {subcommand} …` step, found {steps:?} in:\n{progress}"
    );
    steps.into_iter().next().unwrap()
}

fn timed<T>(engine: Engine, what: &str, test: impl FnOnce() -> T) -> T {
    cachet_tests::timed("examples", engine, what, test)
}

// ---------------------------------------------------------------------------------------------
// examples/workspace

#[test]
fn workspace_image_holds_both_binaries() {
    on_each_engine(|engine| {
        timed(engine, "workspace image", || {
            let project = example_project(
                "workspace",
                &format!("ws-image-{engine}"),
                "crates/greeting/src/lib.rs",
            );
            let result = engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .tag(unique_tag("ws-image", engine))
                .run()
                .assert_success();
            let progress = result.progress();
            assert!(
                progress.contains("Compiling greeting-derive")
                    && progress.contains("Compiling greeting v")
                    && progress.contains("Compiling app")
                    && progress.contains("Compiling tool"),
                "{engine}: the build compiles the derive macro, the library and both \
                 binaries:\n{progress}"
            );
            let image = result.image();
            let app = image.run(&[]).assert_success().stdout;
            assert_eq!(app.trim(), APP_LINE, "{engine}: the entrypoint is app");
            let tool = image
                .run_with(&["--entrypoint", "/usr/local/bin/tool"], &[])
                .assert_success()
                .stdout;
            assert_eq!(tool.trim(), TOOL_LINE, "{engine}: tool is in the image");
        });
    });
}

#[test]
fn workspace_test_target_runs_the_unit_test() {
    on_each_engine(|engine| {
        timed(engine, "workspace test", || {
            let project = example_project(
                "workspace",
                &format!("ws-test-{engine}"),
                "crates/greeting/src/lib.rs",
            );
            let result = engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .target("test")
                .run()
                .assert_success();
            let progress = result.progress();
            let (name, cached) = cargo_step(progress, "test", "test");
            assert!(!cached, "{engine}: `{name}` ran, not served from cache");
            // cargo's stderr (`Running …`) may land inside libtest's `test … ... ok` line.
            assert!(
                progress.contains("test tests::line_names_the_speaker_and_the_phrase ...")
                    && progress.contains("test result: ok. 1 passed"),
                "{engine}: the library's unit test ran and passed:\n{progress}"
            );
        });
    });
}

#[test]
fn workspace_lint_passes_and_fails_on_a_violation() {
    on_each_engine(|engine| {
        timed(engine, "workspace lint (clean, then violated)", || {
            let project = example_project(
                "workspace",
                &format!("ws-lint-{engine}"),
                "crates/greeting/src/lib.rs",
            );
            let lint = || {
                engine
                    .build(project.path())
                    .file(project.path().join("Cachet.toml"))
                    .target("lint")
                    .run()
            };
            let clean = lint().assert_success();
            let (name, cached) = cargo_step(clean.progress(), "lint", "clippy");
            assert!(!cached, "{engine}: `{name}` ran, not served from cache");
            assert!(
                clean.progress().contains("Checking tool"),
                "{engine}: clippy checked the workspace:\n{}",
                clean.progress()
            );

            // A clippy-only lint (rustc alone accepts it), in a file the clean run checked.
            project.write(
                "crates/tool/src/main.rs",
                "fn speaker() -> &'static str {\n    return \"tool\";\n}\n\n\
                 fn main() {\n    println!(\"{}\", greeting::line(speaker()));\n}\n",
            );
            let violated = lint().assert_failure();
            let progress = violated.progress();
            assert!(
                progress.contains("error: unneeded `return` statement")
                    && progress.contains("crates/tool/src/main.rs:2:5")
                    && progress.contains("clippy::needless-return"),
                "{engine}: clippy's error is in the output:\n{progress}"
            );
        });
    });
}

#[test]
fn workspace_build_exports_both_binaries_and_provenance() {
    on_each_engine(|engine| {
        timed(engine, "workspace build --output", || {
            let project = example_project(
                "workspace",
                &format!("ws-out-{engine}"),
                "crates/greeting/src/lib.rs",
            );
            let out_dir = project.path().join("out");
            engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .target("build")
                .local_output(&out_dir)
                .run()
                .assert_success();
            let mut exported: Vec<String> = std::fs::read_dir(&out_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            exported.sort();
            assert_eq!(
                exported,
                ["app", "cachet-provenance.json", "tool"],
                "{engine}: exactly the artifacts and the provenance record"
            );
            let provenance =
                std::fs::read_to_string(out_dir.join("cachet-provenance.json")).unwrap();
            assert!(
                provenance.contains("\"target\": \"build\"")
                    && provenance.contains("\"target_cache\": \"cachet/ws-out-"),
                "{engine}: {provenance}"
            );
            // Static binaries (a scratch image has no dynamic loader); they run on the host too.
            for binary in ["app", "tool"] {
                assert_eq!(
                    elf::interpreter(&out_dir.join(binary)),
                    None,
                    "{engine}: {binary} is statically linked"
                );
            }
            assert_eq!(run_binary(&out_dir.join("app")).trim(), APP_LINE);
            assert_eq!(run_binary(&out_dir.join("tool")).trim(), TOOL_LINE);
        });
    });
}

// ---------------------------------------------------------------------------------------------
// examples/dynamic

/// The dynamic loader a glibc binary for this machine names (the engines build for it).
fn glibc_loader() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "/lib64/ld-linux-x86-64.so.2",
        "aarch64" => "/lib/ld-linux-aarch64.so.1",
        other => panic!("no glibc loader known for {other}"),
    }
}

#[test]
fn dynamic_binary_runs_on_its_glibc_base_image() {
    on_each_engine(|engine| {
        let project = example_project("dynamic", &format!("dynamic-{engine}"), "src/main.rs");
        let out_dir = project.path().join("out");
        timed(engine, "dynamic build --output", || {
            engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .target("build")
                .local_output(&out_dir)
                .run()
                .assert_success()
        });
        assert_eq!(
            elf::interpreter(&out_dir.join("dynamic")).as_deref(),
            Some(glibc_loader()),
            "{engine}: without crt-static the binary is linked dynamically"
        );

        let result = timed(engine, "dynamic image", || {
            engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .tag(unique_tag("dynamic", engine))
                .run()
                .assert_success()
        });
        let (name, cached) = cargo_step(result.progress(), "build", "build");
        assert!(cached, "{engine}: `{name}` is the build just exported");
        let line = result.image().run(&[]).assert_success().stdout;
        assert!(
            line.trim()
                .starts_with("Hello from a dynamically linked Cachet build (glibc 2."),
            "{engine}: the binary runs on the base image's glibc: {line}"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// examples/cflags

/// Build the cflags image (optionally with `LEVEL`), run it; `(stdout, progress)`.
fn build_cflags(engine: Engine, project: &TempProject, level: Option<&str>) -> (String, String) {
    let mut build = engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .tag(unique_tag("cflags", engine));
    if let Some(level) = level {
        build = build.build_arg("LEVEL", level);
    }
    let result = build.run().assert_success();
    let out = result.image().run(&[]).assert_success().stdout;
    (out.trim().to_string(), result.progress().to_string())
}

#[test]
fn cflags_reach_the_c_compiler_and_only_real_inputs_rebuild() {
    on_each_engine(|engine| {
        let project = example_project("cflags", &format!("cflags-{engine}"), "src/main.rs");

        let (out, first) = timed(engine, "cflags first build", || {
            build_cflags(engine, &project, None)
        });
        assert_eq!(
            out, "cflags level 1 (optimized: true)",
            "{engine}: the default LEVEL and -O2 reached cc:\n{first}"
        );
        assert!(!cargo_step(&first, "build", "build").1, "{first}");

        let (out, second) = timed(engine, "cflags LEVEL=7", || {
            build_cflags(engine, &project, Some("7"))
        });
        assert_eq!(
            out, "cflags level 7 (optimized: true)",
            "{engine}: a new LEVEL is a new build, not a stale one:\n{second}"
        );
        assert!(!cargo_step(&second, "build", "build").1, "{second}");

        // The README is not something cargo reads: the cargo step stays cached.
        let readme = std::fs::read_to_string(project.path().join("README.md")).unwrap();
        project.write(
            "README.md",
            format!("{readme}\nEdited by the test {}.\n", fixtures::nonce()),
        );
        let (out, third) = timed(engine, "cflags README edit", || {
            build_cflags(engine, &project, Some("7"))
        });
        assert_eq!(out, "cflags level 7 (optimized: true)", "{third}");
        let (name, cached) = cargo_step(&third, "build", "build");
        assert!(
            cached,
            "{engine}: `{name}` reran after a README edit (the context is not filtered to \
             what cargo reads):\n{third}"
        );
        assert!(!third.contains("Compiling cflags"), "{engine}:\n{third}");

        // The C source is, through `include = ["csrc"]`; an edit that arrives with an old
        // timestamp (as after a clamping COPY) still rebuilds.
        let c = std::fs::read_to_string(project.path().join("csrc/level.c")).unwrap();
        let edited = c.replace("return CACHET_LEVEL;", "return CACHET_LEVEL * 10;");
        assert_ne!(
            c, edited,
            "csrc/level.c no longer has `return CACHET_LEVEL;`"
        );
        let path = project.write("csrc/level.c", edited);
        let status = Command::new("touch")
            .args(["-d", "2001-01-01"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let (out, fourth) = timed(engine, "cflags C edit", || {
            build_cflags(engine, &project, Some("7"))
        });
        assert_eq!(
            out, "cflags level 70 (optimized: true)",
            "{engine}: stale output after a C edit:\n{fourth}"
        );
        assert!(fourth.contains("Compiling cflags"), "{engine}:\n{fourth}");
    });
}
