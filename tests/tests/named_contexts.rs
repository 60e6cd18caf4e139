//! Named build contexts, end to end: `--build-context cachet-sdk:rustup=docker-image://
//! cachet-sdk:debian` builds the project on the Debian SDK in place of the spec's `[sdk] image`,
//! and the cargo step's key moves with it (its progress tag is the key's). buildx only: dockerd
//! 20.10's `docker build` has no `--build-context`.

use cachet_tests::progress::only_step;
use cachet_tests::{fixtures, Engine, TempProject};

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
