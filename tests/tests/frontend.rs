//! The Cachet frontend end to end on both engines: `examples/hello` builds and runs, an
//! unchanged rebuild is fully cached, an edit rebuilds (even with a hostile timestamp), a bad
//! spec fails with file:line:column, a failed cargo step names the cargo command, and
//! `--target`, `--build-arg` and `--output` work.
//! (`--cache-from` has its own test binary, `cache_import.rs`: it prunes the builder.)

use std::process::Command;
use std::time::Duration;

use cachet_tests::exported::run_binary;
use cachet_tests::progress::vertices;
use cachet_tests::{fixtures, on_each_engine, process, unique_tag, Engine, TempProject};

const HELLO_LINE: &str = "Hello from a Cachet build!";

/// A copy of `examples/hello` under a project name of its own, so its target cache is its own,
/// with a nonce in its source: current BuildKit keys execs without their cache mount ids, so
/// only different inputs make a build that earlier runs cannot have cached.
fn hello_project(label: &str) -> TempProject {
    let project = TempProject::new(label);
    project.copy_from(fixtures::repo_root().join("examples/hello"));
    let main = std::fs::read_to_string(project.path().join("src/main.rs")).unwrap();
    project.write(
        "src/main.rs",
        format!("{main}// run {}\n", fixtures::nonce()),
    );
    let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
    let renamed = spec.replace(
        "name = \"hello\"",
        &format!("name = \"{label}-{}\"", fixtures::nonce()),
    );
    project.write("Cachet.toml", renamed);
    project
}

/// The steps Cachet itself adds to the graph (sources, cargo steps, image steps).
fn cachet_steps(progress: &str) -> Vec<(String, bool)> {
    vertices(progress)
        .into_iter()
        .filter(|v| {
            v.name.starts_with("[build]")
                || v.name.starts_with("[image]")
                || v.name.contains("snapshot sources")
        })
        .map(|v| (v.name, v.cached))
        .collect()
}

fn build_hello(engine: Engine, project: &TempProject, label: &str) -> (String, String) {
    let result = engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .tag(unique_tag(label, engine))
        .run()
        .assert_success();
    let progress = result.progress().to_string();
    let image = result.image();
    let out = image.run(&[]).assert_success().stdout;
    (out, progress)
}

#[test]
fn hello_builds_runs_and_rebuilds_only_what_changed() {
    on_each_engine(|engine| {
        let project = hello_project(&format!("hello-{engine}"));

        let (out, first) = build_hello(engine, &project, "hello");
        assert_eq!(out.trim(), HELLO_LINE);
        assert!(
            first.contains("Compiling hello"),
            "the first build compiles:\n{first}"
        );

        // Nothing changed: every Cachet step is served from cache and cargo never runs.
        let (out, second) = build_hello(engine, &project, "hello");
        assert_eq!(out.trim(), HELLO_LINE);
        let steps = cachet_steps(&second);
        assert_eq!(
            steps.len(),
            4,
            "snapshot, cargo, provenance and image steps:\n{second}"
        );
        for (name, cached) in &steps {
            assert!(
                cached,
                "{engine}: `{name}` was not CACHED on an identical rebuild:\n{second}"
            );
        }
        assert!(!second.contains("Compiling"), "{second}");

        // An edit that arrives with an old timestamp (as after a clamping COPY) still rebuilds.
        project.write(
            "src/main.rs",
            format!(
                "fn main() {{ println!(\"edited\"); }}\n// run {}\n",
                fixtures::nonce()
            ),
        );
        let status = Command::new("touch")
            .args(["-d", "2001-01-01"])
            .arg(project.path().join("src/main.rs"))
            .status()
            .unwrap();
        assert!(status.success());
        let (out, third) = build_hello(engine, &project, "hello");
        assert_eq!(
            out.trim(),
            "edited",
            "{engine}: stale output after an edit:\n{third}"
        );
        assert!(third.contains("Compiling hello"), "{third}");
    });
}

#[test]
fn a_spec_error_names_file_line_and_column() {
    on_each_engine(|engine| {
        let project = hello_project(&format!("bad-spec-{engine}"));
        let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
        let line = spec.lines().position(|l| l.starts_with("image =")).unwrap() + 1;
        project.write(
            "Cachet.toml",
            spec.replace(
                "image = \"cachet-sdk:rustup\"",
                "imgae = \"cachet-sdk:rustup\"",
            ),
        );
        let result = engine
            .build(project.path())
            .file(project.path().join("Cachet.toml"))
            .run()
            .assert_failure();
        let expected = format!("Cachet.toml:{line}:1: unknown field `imgae`");
        assert!(
            result.progress().contains(&expected),
            "{engine}: expected `{expected}` in:\n{}",
            result.progress()
        );
        // The error carries its place in the spec, so the client shows that line, not the
        // `# syntax=` line the forwarding dockerfile frontend would point at.
        let shown = format!("{line:>4} | >>> imgae = \"cachet-sdk:rustup\"");
        let mut seen = result.progress().lines().filter(|l| l.contains(">>>"));
        if engine == Engine::Buildx {
            assert!(
                seen.any(|l| l.trim_end() == shown.trim_start()
                    || l.trim_end().ends_with(">>> imgae = \"cachet-sdk:rustup\"")),
                "{engine}: expected the excerpt `{shown}` in:\n{}",
                result.progress()
            );
        }
        assert!(
            !result.progress().contains(">>> # syntax="),
            "{engine}: the excerpt points at the syntax line:\n{}",
            result.progress()
        );
    });
}

/// What a bad-input case writes as the spec, the build args it passes, and the message part
/// it expects.
type BadInput = (
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    String,
);

/// Hostile or mistaken input through a real build: each error names the place and what to do,
/// and no frontend crash (a build arg that makes a target its own base used to overflow the
/// stack: `exit code: 139`).
#[test]
fn bad_input_gets_a_positioned_actionable_error() {
    on_each_engine(|engine| {
        let project = hello_project(&format!("bad-input-{engine}"));
        let good = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
        let line_of = |text: &str, prefix: &str| {
            text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
        };
        let with_arg = good.replace(
            "[target.image]\nfrom = \"scratch\"",
            "[args]\nBASE = \"scratch\"\n\n[target.image]\nfrom = \"${BASE}\"",
        );
        assert_ne!(with_arg, good, "the example has an image target on scratch");
        let missing_sdk: String = good
            .lines()
            .filter(|l| !l.starts_with("[sdk]") && !l.starts_with("image ="))
            .map(|l| format!("{l}\n"))
            .collect();
        let cases: Vec<BadInput> = vec![
            (
                "a self reference through a build arg",
                with_arg.clone(),
                vec![("BASE", "+image")],
                format!(
                    "Cachet.toml:{}:8: ",
                    line_of(&with_arg, "from = \"${BASE}\"")
                ),
            ),
            (
                "an invalid image reference",
                good.replace("cachet-sdk:rustup", "Alpine"),
                vec![],
                format!(
                    "Cachet.toml:{}:9: [sdk] image `Alpine`: repository name must be lowercase",
                    line_of(&good, "image =")
                ),
            ),
            (
                "a missing [sdk] section",
                missing_sdk.clone(),
                vec![],
                format!(
                    "Cachet.toml:{}:1: missing section [sdk]: add `[sdk]`",
                    missing_sdk.lines().count() + 1
                ),
            ),
            (
                "a variable Cachet owns in the cargo env",
                good.replace("[cargo]\n", "[cargo]\nenv = { CARGO_TARGET_DIR = \"/tmp/t\" }\n"),
                vec![],
                format!(
                    "Cachet.toml:{}:9: `CARGO_TARGET_DIR` cannot be set in a spec",
                    line_of(&good, "[cargo]") + 1
                ),
            ),
            (
                "an image that is nowhere",
                good.replace("cachet-sdk:rustup", "cachet-sdk:nosuch"),
                vec![],
                "Cachet.toml: [sdk] image `docker.io/library/cachet-sdk:nosuch` cannot be resolved: "
                    .to_string(),
            ),
        ];
        for (what, spec, args, expected) in cases {
            project.write("Cachet.toml", spec);
            let mut build = engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"));
            for (k, v) in args {
                build = build.build_arg(k, v);
            }
            let result = build.run().assert_failure();
            let progress = result.progress();
            assert!(
                progress.contains(&expected),
                "{engine}: {what}: expected `{expected}` in:\n{progress}"
            );
            assert!(
                !progress.contains("exit code: 139") && !progress.contains("exit code: 134"),
                "{engine}: {what}: the frontend crashed:\n{progress}"
            );
        }
    });
}

/// `docker image inspect` of the SDK on dockerd: (image id, manifest digest in the loopback
/// registry, which is what current BuildKit resolves the tag to).
fn sdk_digests() -> (String, String) {
    let mut cmd = Engine::docker(cachet_tests::Env::get());
    cmd.args([
        "image",
        "inspect",
        "cachet-sdk:rustup",
        "--format",
        "{{.Id}} {{index .RepoDigests 0}}",
    ]);
    let out = process::run(&mut cmd, Duration::from_secs(60))
        .assert_success()
        .stdout;
    let (id, repo_digest) = out.trim().split_once(' ').expect("id and repo digest");
    let manifest = repo_digest.rsplit_once('@').expect("name@digest").1;
    (id.to_string(), manifest.to_string())
}

/// `[sdk] digest` compares like with like: an image-id lock holds on both engines; a
/// manifest-digest lock holds on current BuildKit, and on dockerd 20.10 (which reports only
/// image ids for images in its store) it fails saying what the engine reported and what to lock.
#[test]
fn the_sdk_lock_compares_like_with_like_on_both_engines() {
    let (image_id, manifest) = sdk_digests();
    on_each_engine(|engine| {
        let project = hello_project(&format!("sdk-lock-{engine}"));
        let good = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
        let lock = |digest: &str| {
            let spec = good.replace(
                "image = \"cachet-sdk:rustup\"",
                &format!("image = \"cachet-sdk:rustup\"\ndigest = \"{digest}\""),
            );
            assert_ne!(spec, good);
            project.write("Cachet.toml", spec);
            engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .run()
        };
        lock(&image_id).assert_success();
        let by_manifest = lock(&manifest);
        match engine {
            Engine::Buildx => {
                by_manifest.assert_success();
            }
            Engine::Dockerd => {
                let result = by_manifest.assert_failure();
                let progress = result.progress();
                assert!(
                    progress.contains(&format!(
                        "resolved to image id {image_id} (the engine reported no manifest \
                         digest), but the spec locks it to {manifest}"
                    )) && progress
                        .contains(&format!("lock its image id (`digest = \"{image_id}\"`)")),
                    "{engine}: the error says what the engine reported:\n{progress}"
                );
            }
        }
    });
}

/// A failed cargo step names the cargo command, with cargo's own error above it; the step's
/// shell script stays out of the message.
#[test]
fn a_failed_cargo_step_shows_the_cargo_command_and_its_error() {
    on_each_engine(|engine| {
        let project = hello_project(&format!("compile-error-{engine}"));
        project.write(
            "src/main.rs",
            format!(
                "fn main() {{ let x: u32 = \"not a number {}\"; }}\n",
                fixtures::nonce()
            ),
        );
        let result = engine
            .build(project.path())
            .file(project.path().join("Cachet.toml"))
            .run()
            .assert_failure();
        let progress = result.progress();
        // `process "…" did not complete successfully: exit code: 101` on current BuildKit,
        // `executor failed running […]: exit code: 101` on v0.8.
        let error = progress
            .lines()
            .rev()
            .find(|l| l.contains("exit code: 101"))
            .unwrap_or_else(|| panic!("{engine}: no failed process in:\n{progress}"));
        assert!(
            error.contains(
                "/bin/sh /cachet/step/cargo.sh cargo --locked --offline build --profile release \
                 --target x86_64-unknown-linux-gnu --bin hello"
            ),
            "{engine}: the error names the cargo command: {error}"
        );
        assert!(
            !error.contains("set -eu") && error.len() < 400,
            "{engine}: the step script stays out of the error line: {error}"
        );
        assert!(
            progress.contains("error[E0308]: mismatched types"),
            "{engine}: cargo's own error is in the output:\n{progress}"
        );
    });
}

/// A panic in the frontend (asked for with the `CACHET_DEBUG=panic` diagnostic) reaches the
/// user as a message naming the spec, never as a bare signal exit.
#[test]
fn a_frontend_panic_is_reported_as_a_message() {
    on_each_engine(|engine| {
        let project = hello_project(&format!("panic-{engine}"));
        let result = engine
            .build(project.path())
            .file(project.path().join("Cachet.toml"))
            .build_arg("CACHET_DEBUG", "panic")
            .run()
            .assert_failure();
        let progress = result.progress();
        assert!(
            progress.contains(
                "Cachet.toml: the Cachet frontend failed on this spec: CACHET_DEBUG=panic asked \
                 for a panic at frontend/src/build.rs:"
            ),
            "{engine}: the panic is a message:\n{progress}"
        );
        assert!(
            !progress.contains("exit code: 134") && !progress.contains("exit code: 139"),
            "{engine}: no bare signal exit:\n{progress}"
        );
    });
}

#[test]
fn target_build_arg_and_local_output() {
    on_each_engine(|engine| {
        let project = TempProject::new(&format!("args-{engine}"));
        project.write(
            "Cargo.toml",
            "[package]\nname = \"greet\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        );
        project.write(
            "Cargo.lock",
            "version = 3\n\n[[package]]\nname = \"greet\"\nversion = \"0.1.0\"\n",
        );
        project.write(
            "src/main.rs",
            "fn main() { println!(\"{}\", env!(\"GREETING\")); }\n",
        );
        project.write(
            "Cachet.toml",
            format!(
                "# syntax=cachet/frontend:dev\n[project]\nname = \"greet-{}\"\n[args]\nGREETING = \"hello\"\n\
                 [sdk]\nimage = \"cachet-sdk:rustup\"\n\
                 [cargo]\nrustflags = [\"-C\", \"target-feature=+crt-static\"]\nenv = {{ GREETING = \"${{GREETING}}\" }}\n\
                 [target.build]\ncargo = [\"build\"]\nartifacts = {{ greet = \"greet\" }}\n\
                 [target.image]\nfrom = \"scratch\"\n\
                 copy = [{{ from = \"+build\", artifact = \"greet\", to = \"/greet\" }}]\nentrypoint = [\"/greet\"]\n",
                fixtures::nonce()
            ),
        );
        let out_dir = project.path().join("out");
        engine
            .build(project.path())
            .file(project.path().join("Cachet.toml"))
            .target("build")
            .build_arg("GREETING", format!("hi from {engine}"))
            .local_output(&out_dir)
            .run()
            .assert_success();
        let binary = out_dir.join("greet");
        assert!(
            binary.is_file(),
            "{engine}: --output type=local did not export the artifact"
        );
        assert!(
            !out_dir.join("Cargo.toml").exists(),
            "only artifacts are exported"
        );
        let provenance = std::fs::read_to_string(out_dir.join("cachet-provenance.json")).unwrap();
        assert!(
            provenance.contains("\"target\": \"build\"")
                && provenance.contains("\"target_cache\": \"cachet/greet-"),
            "{provenance}"
        );
        let ran = run_binary(&binary);
        assert_eq!(
            ran.trim(),
            format!("hi from {engine}"),
            "the build arg reached the compile"
        );
    });
}
