//! Multi-platform builds of `examples/cross` (a build script compiles C with the `cc` crate) on
//! the engines, cross-compiling arm64 on this amd64 worker with `cachet-sdk:cross`.
//!
//! - buildx: one `--platform linux/amd64,linux/arm64` build pushed to the loopback registry is
//!   an image index with both manifests; each image's binary (read from its layer) has its
//!   platform's ELF machine, and both run (arm64 under qemu's binfmt handler) printing their
//!   target's facts, from Rust's cfg and from the C compiler.
//! - buildx: `--output type=local` with both platforms writes `linux_amd64/` and
//!   `linux_arm64/`, each with the binary of its own machine.
//! - buildx: caches never mix: after building both, a source edit recompiles only the edited
//!   crate on each platform's own target cache (the `cc` build dependency stays compiled), and
//!   `--platform linux/arm64` alone is then fully cached.
//! - dockerd 20.10 (no image index in its store): `--platform linux/arm64` with `--output
//!   type=local` cross-compiles an aarch64 binary that runs.
//! - buildx: opted-in emulation (`[cross] emulate = true`, SDK `cachet-sdk:multi`) builds and
//!   runs the arm64 binary.
//! - both engines: an SDK without the arm64 std (`cachet-sdk:debian`) fails the cargo step
//!   with the message that says what to install, in the build's output.
//!
//! The `cc` crate is vendored into each test project (see [`vendor_cc`]).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cachet_tests::bench::fixture::fetch_published_crate;
use cachet_tests::exported::run_binary;
use cachet_tests::progress::{vertices, Vertex};
use cachet_tests::registry::sha256_hex;
use cachet_tests::{elf, fixtures, process, Engine, Env, TempProject};

const AMD64_LINE: &str = "target x86_64-unknown-linux-gnu · rust arch x86_64 · c arch x86_64";
const ARM64_LINE: &str = "target aarch64-unknown-linux-gnu · rust arch aarch64 · c arch aarch64";
const CC_VERSION: &str = "1.0.73";
const BIN: &str = "usr/local/bin/cross";

/// `examples/cross` under a project name of its own (its own target caches), with `sdk` and
/// `extra` spec lines, and `cc` vendored into it.
fn cross_project(label: &str, sdk: &str, extra: &str) -> TempProject {
    let project = TempProject::new(label);
    project.copy_from(fixtures::repo_root().join("examples/cross"));
    let nonce = fixtures::nonce();
    let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
    for needed in ["name = \"cross\"", "image = \"cachet-sdk:cross\""] {
        assert!(
            spec.contains(needed),
            "examples/cross/Cachet.toml lost `{needed}`"
        );
    }
    let spec = spec
        .replace("name = \"cross\"", &format!("name = \"{label}-{nonce}\""))
        .replace(
            "image = \"cachet-sdk:cross\"",
            &format!("image = \"{sdk}\""),
        );
    project.write("Cachet.toml", format!("{spec}\n{extra}\n"));
    // A new source, so even a step BuildKit cached for an earlier run really runs.
    let main = std::fs::read_to_string(project.path().join("src/main.rs")).unwrap();
    project.write(
        "src/main.rs",
        format!("{main}\n// cachet-tests run {nonce}\n"),
    );

    vendor_cc(&project);
    project
}

/// Puts the real crates.io release of `cc` (from the host's cargo cache, so the example's
/// lockfile checksum holds) into the project as a vendored source: Debian bookworm's cargo
/// (the cross SDK's) predates sparse registries, so the test registry cannot serve it. A
/// vendoring project has no fetch step; the unit tests check the fetch vertex is one for all
/// platforms.
fn vendor_cc(project: &TempProject) {
    // From cargo's download cache, fetched there first on a machine that never had it.
    let probe = TempProject::new("cc-probe");
    let file = fetch_published_crate(probe.path(), "cc", CC_VERSION)
        .unwrap_or_else(|e| panic!("cc {CC_VERSION}: {e}"));
    let vendor = project.path().join("vendor");
    std::fs::create_dir_all(&vendor).unwrap();
    let mut tar = Command::new("tar");
    tar.arg("-xzf").arg(&file).arg("-C").arg(&vendor);
    process::run(&mut tar, Duration::from_secs(60)).assert_success();
    let checksum = sha256_hex(&std::fs::read(&file).unwrap());
    project.write(
        format!("vendor/cc-{CC_VERSION}/.cargo-checksum.json"),
        format!("{{\"files\":{{}},\"package\":\"{checksum}\"}}"),
    );
    project.write(
        ".cargo/config.toml",
        "[source.crates-io]\nreplace-with = \"vendored\"\n\n[source.vendored]\ndirectory = \"vendor\"\n",
    );
}

fn cross_sdk() -> String {
    Env::get().var("CACHET_SDK_CROSS").to_string()
}

/// A build of the project for `platforms`.
fn build(engine: Engine, project: &TempProject, platforms: &str) -> cachet_tests::Build {
    engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .arg(format!("--platform={platforms}"))
        .timeout(Duration::from_secs(1200))
}

/// The cargo step that builds for `triple`.
#[track_caller]
fn cargo_step(progress: &str, triple: &str) -> Vertex {
    let found: Vec<Vertex> = vertices(progress)
        .into_iter()
        .filter(|v| v.name.starts_with("[build] cargo build ") && v.name.contains(triple))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one cargo step for {triple} in:\n{progress}"
    );
    found.into_iter().next().unwrap()
}

#[track_caller]
fn fetch_steps(progress: &str) -> Vec<Vertex> {
    vertices(progress)
        .into_iter()
        .filter(|v| v.name.starts_with("[fetch] "))
        .collect()
}

/// The exported binary's ELF machine and what it prints (arm64 runs under binfmt's qemu).
#[track_caller]
fn check_binary(path: &Path, machine: &str, line: &str) {
    assert_eq!(elf::machine(path), machine, "{}", path.display());
    assert_eq!(run_binary(path), line, "{}", path.display());
}

fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "30"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const INDEX_TYPES: &str = "Accept: application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

fn registry_json(path: &str) -> serde_json::Value {
    let url = format!("http://{}/v2/{path}", Env::get().registry());
    serde_json::from_slice(&curl(&["-H", INDEX_TYPES, &url])).unwrap()
}

#[test]
fn buildx_pushes_an_index_whose_images_hold_each_platforms_binary() {
    let engine = Engine::Buildx;
    let project = cross_project("cross-index", &cross_sdk(), "");
    let repo = format!("cachet-test/cross-index-{}", fixtures::nonce());
    let reference = format!("{}/{repo}:both", Env::get().registry());
    let result = build(engine, &project, "linux/amd64,linux/arm64")
        .arg("-t")
        .arg(&reference)
        .arg("--push")
        .run()
        .assert_success();
    let progress = result.progress();
    assert!(
        fetch_steps(progress).is_empty(),
        "cc is vendored:\n{progress}"
    );
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        // Both cargo steps ran, on the build platform (the progress names the triple).
        assert!(
            !cargo_step(progress, triple).cached,
            "{triple}:\n{progress}"
        );
    }

    let index = registry_json(&format!("{repo}/manifests/both"));
    let manifests: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("not an index: {index}"))
        .iter()
        .filter(|m| m["platform"]["architecture"] != "unknown") // attestations
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let archs: Vec<&str> = manifests.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(archs, ["amd64", "arm64"], "{index}");

    let dir = TempProject::new("cross-index-layers");
    for (arch, digest) in &manifests {
        let manifest = registry_json(&format!("{repo}/manifests/{digest}"));
        let config = registry_json(&format!(
            "{repo}/blobs/{}",
            manifest["config"]["digest"].as_str().unwrap()
        ));
        assert_eq!(config["architecture"], arch.as_str(), "{config}");
        let unpacked = dir.path().join(arch);
        std::fs::create_dir_all(&unpacked).unwrap();
        for layer in manifest["layers"].as_array().unwrap() {
            let blob = dir.path().join("layer.tar.gz");
            let url = format!(
                "http://{}/v2/{repo}/blobs/{}",
                Env::get().registry(),
                layer["digest"].as_str().unwrap()
            );
            std::fs::write(&blob, curl(&[&url])).unwrap();
            let mut tar = Command::new("tar");
            tar.arg("-xzf").arg(&blob).arg("-C").arg(&unpacked);
            process::run(&mut tar, Duration::from_secs(60)).assert_success();
        }
        let (machine, line) = match arch.as_str() {
            "amd64" => ("x86-64", AMD64_LINE),
            _ => ("aarch64", ARM64_LINE),
        };
        check_binary(&unpacked.join(BIN), machine, line);
    }
}

#[test]
fn buildx_caches_of_two_platforms_never_mix() {
    let engine = Engine::Buildx;
    let project = cross_project("cross-caches", &cross_sdk(), "");
    let out = TempProject::new("cross-caches-out");
    let export = |what: &str| {
        let dest = out.path().join(what);
        let result = build(engine, &project, "linux/amd64,linux/arm64")
            .target("build")
            .local_output(&dest)
            .run()
            .assert_success();
        (dest, result.progress().to_string())
    };

    let (first, progress) = export("first");
    let mut dirs: Vec<String> = std::fs::read_dir(&first)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["linux_amd64", "linux_arm64"], "{progress}");
    check_binary(&first.join("linux_amd64/cross"), "x86-64", AMD64_LINE);
    check_binary(&first.join("linux_arm64/cross"), "aarch64", ARM64_LINE);
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        let step = cargo_step(&progress, triple);
        assert_eq!(
            step.compiled(),
            ["cc", "cross"],
            "{triple} starts cold:\n{progress}"
        );
    }

    let main = std::fs::read_to_string(project.path().join("src/main.rs")).unwrap();
    project.write(
        "src/main.rs",
        main.replace("\"target {} ·", "\"edited · target {} ·"),
    );
    let (second, progress) = export("second");
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        let step = cargo_step(&progress, triple);
        assert_eq!(
            step.compiled(),
            ["cross"],
            "{triple}: only the edited crate recompiles, on its own warm cache:\n{progress}"
        );
    }
    check_binary(
        &second.join("linux_amd64/cross"),
        "x86-64",
        &format!("edited · {AMD64_LINE}"),
    );
    check_binary(
        &second.join("linux_arm64/cross"),
        "aarch64",
        &format!("edited · {ARM64_LINE}"),
    );

    let dest = out.path().join("arm64-alone");
    let alone = build(engine, &project, "linux/arm64")
        .target("build")
        .local_output(&dest)
        .run()
        .assert_success();
    let step = cargo_step(alone.progress(), "aarch64-unknown-linux-gnu");
    assert!(
        step.cached,
        "arm64 alone is fully cached:\n{}",
        alone.progress()
    );
    // One platform: the files at the top, no per-platform directory.
    check_binary(
        &dest.join("cross"),
        "aarch64",
        &format!("edited · {ARM64_LINE}"),
    );
}

#[test]
fn dockerd_cross_compiles_one_foreign_platform() {
    let engine = Engine::Dockerd;
    let project = cross_project("cross-dockerd", &cross_sdk(), "");
    let dest = TempProject::new("cross-dockerd-out");
    let result = build(engine, &project, "linux/arm64")
        .target("build")
        .local_output(dest.path())
        .run()
        .assert_success();
    let step = cargo_step(result.progress(), "aarch64-unknown-linux-gnu");
    assert_eq!(step.compiled(), ["cc", "cross"], "{}", result.progress());
    check_binary(&dest.path().join("cross"), "aarch64", ARM64_LINE);
}

#[test]
fn buildx_emulates_when_the_spec_opts_in() {
    let engine = Engine::Buildx;
    let sdk = Env::get().var("CACHET_SDK_MULTI").to_string();
    let project = cross_project("cross-emulated", &sdk, "[cross]\nemulate = true");
    let dest = TempProject::new("cross-emulated-out");
    let result = build(engine, &project, "linux/arm64")
        .target("build")
        .local_output(dest.path())
        .run()
        .assert_success();
    let step = cargo_step(result.progress(), "aarch64-unknown-linux-gnu");
    assert_eq!(step.compiled(), ["cc", "cross"], "{}", result.progress());
    check_binary(&dest.path().join("cross"), "aarch64", ARM64_LINE);
}

#[test]
fn a_missing_target_std_fails_with_what_to_install() {
    cachet_tests::on_each_engine(|engine| {
        let sdk = Env::get().sdk_debian_image().to_string();
        let project = cross_project(&format!("cross-nostd-{engine}"), &sdk, "");
        let result = build(engine, &project, "linux/arm64")
            .run()
            .assert_failure();
        let progress = result.progress();
        for words in [
            "has no Rust standard library for aarch64-unknown-linux-gnu",
            "libstd-rust-dev:arm64",
            "rustup target add aarch64-unknown-linux-gnu",
            "[cross] emulate = true",
        ] {
            assert!(
                progress.contains(words),
                "{engine}: `{words}` in:\n{progress}"
            );
        }
    });
}
