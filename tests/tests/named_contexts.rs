//! Named build contexts, end to end: `--build-context cachet-sdk:rustup=docker-image://
//! cachet-sdk:debian` builds the project on the Debian SDK in place of the spec's `[sdk] image`,
//! and the cargo step's key moves with it (its progress tag is the key's); `--build-context
//! shared=DIR` brings a path dependency outside the project, mapped by `[contexts]`, and an
//! edit to it rebuilds it and its dependants only. buildx only: dockerd 20.10's `docker build`
//! has no `--build-context`.

use std::time::Duration;

use cachet_tests::progress::only_step;
use cachet_tests::{fixtures, process, Engine, TempProject};

#[test]
fn a_docker_image_named_context_replaces_the_sdk_and_moves_the_key() {
    let engine = Engine::Buildx;
    let project = TempProject::new("named-sdk");
    let nonce = fixtures::nonce();
    project.write(
        "Cachet.toml",
        format!(
            "# syntax=cachet/frontend:dev\n[project]\nname = \"named-sdk-{nonce}\"\n\n[sdk]\n\
             image = \"cachet-sdk:rustup\"\n\n[target.build]\ncargo = [\"build\"]\n\
             artifacts = {{ named = \"named\" }}\n"
        ),
    );
    project.write(
        "Cargo.toml",
        "[package]\nname = \"named\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    project.write(
        "Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"named\"\nversion = \"0.1.0\"\n",
    );
    project.write(
        "src/main.rs",
        format!("// {nonce}\nfn main() {{ println!(\"named\"); }}\n"),
    );
    let build = |named: bool| {
        let mut build = engine
            .build(project.path())
            .file(project.path().join("Cachet.toml"))
            .target("build");
        if named {
            build = build
                .arg("--build-context")
                .arg("cachet-sdk:rustup=docker-image://cachet-sdk:debian");
        }
        build.run().assert_success().progress().to_string()
    };
    let cargo = "[build] cargo build";
    let plain = build(false);
    let plain_step = only_step(&plain, cargo);
    assert!(
        !plain.contains("cachet-sdk:debian"),
        "no named context, no replacement:\n{plain}"
    );
    let named = build(true);
    let named_step = only_step(&named, cargo);
    assert!(
        named.contains("[cachet] resolve image docker.io/library/cachet-sdk:debian"),
        "the named context's image is resolved for the SDK:\n{named}"
    );
    assert_ne!(
        plain_step.name, named_step.name,
        "the key (the tag in the step's name) moves with the SDK"
    );
    assert!(
        !named_step.cached,
        "a new SDK runs the cargo step again:\n{named}"
    );
    // And the same build again, without it, is back on the first key, served from cache.
    let again = build(false);
    let again_step = only_step(&again, cargo);
    assert_eq!(again_step.name, plain_step.name);
    assert!(
        again_step.cached,
        "the first SDK's step is cached:\n{again}"
    );
}

/// `app/` (the project: `app`, which depends on member `other` and on `shared = { path =
/// "../shared-lib" }`) beside `shared-lib/`, outside the project directory.
fn path_dependency_project(nonce: &str) -> TempProject {
    let root = TempProject::new("named-dir");
    root.write(
        "app/Cachet.toml",
        format!(
            "# syntax=cachet/frontend:dev\n[project]\nname = \"named-dir-{nonce}\"\n\n[sdk]\n\
             image = \"cachet-sdk:rustup\"\n\n[contexts]\nshared = \"../shared-lib\"\n\n\
             [target.build]\ncargo = [\"build\"]\nartifacts = {{ app = \"app\" }}\n"
        ),
    );
    root.write(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nother = { path = \"other\" }\nshared = { path = \"../shared-lib\" }\n\n\
         [workspace]\nmembers = [\"other\"]\n",
    );
    root.write(
        "app/Cargo.lock",
        "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \
         \"other\",\n \"shared\",\n]\n\n[[package]]\nname = \"other\"\nversion = \"0.1.0\"\n\n\
         [[package]]\nname = \"shared\"\nversion = \"0.1.0\"\n",
    );
    root.write(
        "app/src/main.rs",
        format!(
            "// {nonce}\nfn main() {{\n    println!(\"{{}} {{}}\", other::NAME, shared::VALUE);\n}}\n"
        ),
    );
    root.write(
        "app/other/Cargo.toml",
        "[package]\nname = \"other\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    root.write(
        "app/other/src/lib.rs",
        "pub const NAME: &str = \"other\";\n",
    );
    root.write(
        "shared-lib/Cargo.toml",
        "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    root.write("shared-lib/src/lib.rs", "pub const VALUE: u32 = 1;\n");
    root
}

#[test]
fn a_path_dependency_outside_the_project_comes_in_as_a_directory_context() {
    let engine = Engine::Buildx;
    let nonce = fixtures::nonce();
    let root = path_dependency_project(&nonce);
    let (app, shared) = (root.path().join("app"), root.path().join("shared-lib"));
    let out = root.path().join("out");
    let build = |with_context: bool| {
        let mut build = engine
            .build(&app)
            .file(app.join("Cachet.toml"))
            .target("build")
            .local_output(&out);
        if with_context {
            build = build
                .arg("--build-context")
                .arg(format!("shared={}", shared.display()));
        }
        build.run()
    };
    let run = || {
        let mut run = std::process::Command::new(out.join("app"));
        process::run(&mut run, Duration::from_secs(30))
            .assert_success()
            .stdout
            .trim()
            .to_string()
    };
    let cargo = "[build] cargo build";

    // Without the flag the spec's context is missing: an error that says what to pass.
    let missing = build(false).assert_failure();
    assert!(
        missing
            .progress()
            .contains("pass `--build-context shared=DIR`"),
        "{}",
        missing.progress()
    );

    let first = build(true).assert_success();
    let step = only_step(first.progress(), cargo);
    assert_eq!(
        step.compiled(),
        ["app", "other", "shared"],
        "{}",
        first.progress()
    );
    assert_eq!(run(), "other 1");

    // Same size, same mtime: only the content says it changed (a transfer that trusted size
    // and mtime, or cargo on the arrived mtime, would serve the old crate).
    let lib = shared.join("src/lib.rs");
    let mtime = std::fs::metadata(&lib).unwrap().modified().unwrap();
    std::fs::write(&lib, "pub const VALUE: u32 = 2;\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&lib)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let edited = build(true).assert_success();
    let step = only_step(edited.progress(), cargo);
    assert_eq!(
        step.compiled(),
        ["app", "shared"],
        "the shared crate and its dependant rebuild, the other member does not:\n{}",
        edited.progress()
    );
    assert_eq!(run(), "other 2");

    // Nothing changed: the cargo step is served from cache.
    let again = build(true).assert_success();
    assert!(
        only_step(again.progress(), cargo).cached,
        "{}",
        again.progress()
    );
}
