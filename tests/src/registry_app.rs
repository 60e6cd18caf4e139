//! An app project that depends on a crate of a test registry (`crate::registry`), and how to
//! build and run it: the fixture the fetch-step and attestation tests share.
//!
//! The binary `app` prints `<the crate's line> | <marker>`; the spec has a `[project] name` of
//! its own (a nonce), so no run sees an earlier run's caches, and the given `[fetch]` section.

use std::path::Path;

use crate::registry::{Registry, Request};
use crate::tls::TestCa;
use crate::{fixtures, unique_tag, Build, Engine, TempProject};

/// The registry crate every project depends on.
pub const DEP: &str = "cachet-dep-a";

/// The secret id that holds a private registry's token.
pub const SECRET_ID: &str = "corp-token";

/// The variable cargo reads the `corp` registry's token from.
pub const TOKEN_ENV: &str = "CARGO_REGISTRIES_CORP_TOKEN";

/// The secret id that holds the CA bundle of a TLS registry.
pub const CA_SECRET_ID: &str = "corp-ca";

/// The library a version of the dependency is: `line()` says which version it is.
pub fn dep_source(line: &str) -> String {
    format!("pub fn line() -> &'static str {{\n    {line:?}\n}}\n")
}

/// A binary `app` printing `<dep line> | <marker>`, depending on the registry crate as
/// `requirement` (a TOML value), with a Cachet spec whose `[fetch]` section is `fetch`.
pub fn app_project(label: &str, requirement: &str, marker: &str, fetch: &str) -> TempProject {
    let project = TempProject::new(label);
    project.write(
        "Cargo.toml",
        format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\n{DEP} = {requirement}\n\n[workspace]\n"
        ),
    );
    write_main(&project, marker);
    project.write(".dockerignore", "target/\n");
    project.write(
        "Cachet.toml",
        format!(
            "# syntax=cachet/frontend:dev\n\
             [project]\nname = \"{label}-{}\"\n\n\
             [sdk]\nimage = \"cachet-sdk:rustup\"\n\n\
             [cargo]\nrustflags = [\"-C\", \"target-feature=+crt-static\"]\n\n\
             {fetch}\
             [target.build]\ncargo = [\"build\", \"--bin\", \"app\"]\nartifacts = {{ app = \"app\" }}\n\n\
             [target.image]\nfrom = \"scratch\"\n\
             copy = [{{ from = \"+build\", artifact = \"app\", to = \"/usr/local/bin/app\" }}]\n\
             entrypoint = [\"/usr/local/bin/app\"]\n",
            fixtures::nonce()
        ),
    );
    project
}

/// Rewrites `src/main.rs` to print `<dep line> | <marker>`: a source edit.
pub fn write_main(project: &TempProject, marker: &str) {
    project.write(
        "src/main.rs",
        format!(
            "fn main() {{\n    println!(\"{{}} | {{}}\", cachet_dep_a::line(), {marker:?});\n}}\n"
        ),
    );
}

/// The open registry with `cachet-dep-a 1.0.0`, and an app project using it through a
/// crates.io replacement, with its lockfile generated against the registry.
pub fn open_setup(label: &str, marker: &str) -> (Registry, TempProject, String) {
    let registry = Registry::start(label);
    let line = format!("{DEP} 1.0.0 ({})", fixtures::nonce());
    registry.publish(DEP, "1.0.0", &dep_source(&line));
    let project = app_project(label, "\"1.0.0\"", marker, "");
    registry.replace_crates_io(&project);
    registry.generate_lockfile(&project);
    let lock = std::fs::read_to_string(project.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains(&format!("name = \"{DEP}\"\nversion = \"1.0.0\"")),
        "the lockfile pins {DEP} 1.0.0:\n{lock}"
    );
    (registry, project, line)
}

/// A private registry's project: the dependency comes from `[registries.corp]`, the spec
/// exports the `corp-token` secret as the token variable.
pub fn private_setup(label: &str, token: &str) -> (Registry, TempProject, String) {
    let registry = Registry::start_private(label, token);
    let line = format!("{DEP} 1.0.0 private ({})", fixtures::nonce());
    registry.publish(DEP, "1.0.0", &dep_source(&line));
    let project = app_project(
        label,
        "{ version = \"1\", registry = \"corp\" }",
        "private",
        &format!("[fetch]\nsecrets = {{ {TOKEN_ENV} = \"{SECRET_ID}\" }}\n\n"),
    );
    registry.declare_as(&project, "corp");
    assert_eq!(Registry::token_env("corp"), TOKEN_ENV);
    registry.generate_lockfile(&project);
    (registry, project, line)
}

/// A TLS registry whose certificate `ca` signed, with `cachet-dep-a 1.0.0`, and an app project
/// using it in place of crates.io whose spec has `[fetch] ca-bundle` naming [`CA_SECRET_ID`].
pub fn tls_setup(label: &str, ca: &TestCa) -> (Registry, TempProject, String) {
    let registry = Registry::start_tls(label, ca);
    let line = format!("{DEP} 1.0.0 over TLS ({})", fixtures::nonce());
    registry.publish(DEP, "1.0.0", &dep_source(&line));
    let project = app_project(
        label,
        "\"1.0.0\"",
        "tls",
        &format!("[fetch]\nca-bundle = {{ secret = \"{CA_SECRET_ID}\" }}\n\n"),
    );
    registry.replace_crates_io(&project);
    registry.generate_lockfile(&project);
    (registry, project, line)
}

/// `--secret id=corp-ca,src=<pem>` for a build.
pub fn ca_secret(build: Build, pem: &Path) -> Build {
    build
        .arg("--secret")
        .arg(format!("id={CA_SECRET_ID},src={}", pem.display()))
}

/// A build of the project's `Cachet.toml`, tagged uniquely for `label` on `engine`.
pub fn spec_build(engine: Engine, project: &TempProject, label: &str) -> Build {
    engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .tag(unique_tag(label, engine))
}

/// Build the image, run it; `(stdout trimmed, progress, requests the registry saw during the
/// build)`.
#[track_caller]
pub fn build_and_run(build: Build, registry: &Registry) -> (String, String, Vec<Request>) {
    let before = registry.request_count();
    let result = build.run().assert_success();
    let during = registry.requests()[before..].to_vec();
    let out = result.image().run(&[]).assert_success().stdout;
    (
        out.trim().to_string(),
        result.progress().to_string(),
        during,
    )
}

/// What the registry served, for messages.
pub fn paths(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect()
}
