//! Cross builds end to end through `compile`: where each step runs, what it is keyed on, and
//! that every target platform of one build shares the fetch step (see `cross.rs`).

use std::collections::BTreeMap;

use super::tests::{
    exec_ops, ops, request, workspace_files, REMOTE_LOCK, SDK_CONFIG, SDK_DIGEST, SPEC,
};
use super::*;
use crate::proto::pb::{self, op::Op as OpKind};
use crate::spec;

const ARM_SDK_DIGEST: &str =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn p(s: &str) -> Platform {
    Platform::parse(s).unwrap()
}

/// A build of `target` for `platform` on an amd64 worker, with the SDK resolved for amd64 (and,
/// for emulation, for the target platform as well).
fn cross_request(target: &str, platform: &str) -> BuildRequest {
    let mut req = request(target, SDK_DIGEST);
    req.platform = p(platform);
    req.build_platform = Platform::linux_amd64();
    req.build_images = req.images.clone();
    if platform != "linux/amd64" {
        // For emulation: the SDK as resolved for the target platform.
        req.images.insert(
            "cachet-sdk:rustup".into(),
            ResolvedImage {
                digest: ARM_SDK_DIGEST.into(),
                config: SDK_CONFIG.as_bytes().to_vec(),
            },
        );
    }
    req.project = workspace_files(REMOTE_LOCK);
    req
}

fn build(spec_text: &str, target: &str, platform: &str) -> Compiled {
    let spec = spec::load("Cachet.toml", spec_text, &BTreeMap::new()).unwrap();
    compile(&spec, &cross_request(target, platform)).unwrap()
}

fn step(c: &Compiled, kind: StepKind) -> &StepRecord {
    c.steps.iter().find(|s| s.kind == kind).unwrap()
}

/// The op that produced `digest`.
fn op(c: &Compiled, digest: &str) -> pb::Op {
    ops(c).into_iter().find(|(d, _)| d == digest).unwrap().1
}

fn arch(o: &pb::Op) -> String {
    o.platform.as_ref().unwrap().architecture.clone()
}

fn cargo_exec(c: &Compiled) -> pb::ExecOp {
    exec_ops(c)
        .into_iter()
        .find(|e| e.meta.as_ref().unwrap().args[2].contains("cargo --locked --offline"))
        .unwrap()
}

#[test]
fn every_target_platform_shares_one_fetch_vertex() {
    let amd = build(SPEC, "build", "linux/amd64");
    let arm = build(SPEC, "build", "linux/arm64");
    let riscv = build(SPEC, "build", "linux/riscv64");
    let fetch = step(&amd, StepKind::Fetch).digest.clone();
    assert_eq!(fetch, step(&arm, StepKind::Fetch).digest);
    assert_eq!(fetch, step(&riscv, StepKind::Fetch).digest);
    assert_eq!(
        arch(&op(&arm, &fetch)),
        "amd64",
        "fetch runs on the build platform"
    );
    // Each platform has its own target cache.
    let mount = |c: &Compiled| c.cargo_keys["build"].strict.mount_id.clone();
    assert!(mount(&arm).starts_with("cachet/hello/aarch64-unknown-linux-gnu/"));
    assert_ne!(mount(&amd), mount(&arm));
    assert_ne!(mount(&arm), mount(&riscv));
    assert_ne!(
        amd.cargo_keys["build"].fast.mount_id,
        arm.cargo_keys["build"].fast.mount_id
    );
}

#[test]
fn a_cross_step_runs_on_the_build_platform_for_the_target_triple() {
    let arm = build(SPEC, "build", "linux/arm64");
    let record = step(&arm, StepKind::Cargo);
    assert_eq!(arch(&op(&arm, &record.digest)), "amd64");
    let exec = cargo_exec(&arm);
    let meta = exec.meta.as_ref().unwrap();
    let script = &meta.args[2];
    assert!(
        script.contains("--target aarch64-unknown-linux-gnu"),
        "{script}"
    );
    assert!(
        script.contains("libstd-rust-dev:arm64"),
        "the std check: {script}"
    );
    assert!(
        script.find("lib/rustlib/aarch64").unwrap() < script.find("cargo --locked").unwrap(),
        "the std check runs before cargo"
    );
    assert!(script.contains("/cachet/target/aarch64-unknown-linux-gnu/release/hello"));
    for want in [
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc",
        "CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc",
        "PKG_CONFIG_ALLOW_CROSS=1",
        // The amd64 SDK's identity: the image the step runs.
        &format!("CACHET_SDK={SDK_DIGEST}"),
    ] {
        assert!(
            meta.env.contains(&want.to_string()),
            "{want}: {:?}",
            meta.env
        );
    }
    assert_eq!(record.inputs["build_platform"], "linux/amd64");
    assert_eq!(record.inputs["platform"], "linux/arm64");
    // The SDK source is the amd64 one, pinned to its digest.
    let sdk = ops(&arm)
        .into_iter()
        .find_map(|(_, o)| match &o.op {
            Some(OpKind::Source(s)) if s.identifier.contains("cachet-sdk") => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert!(sdk.identifier.ends_with(SDK_DIGEST), "{}", sdk.identifier);
}

#[test]
fn a_native_build_has_no_cross_environment_and_no_std_check() {
    let amd = build(SPEC, "build", "linux/amd64");
    let native = compile(
        &spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap(),
        &BuildRequest {
            project: workspace_files(REMOTE_LOCK),
            ..request("build", SDK_DIGEST)
        },
    )
    .unwrap();
    assert_eq!(amd.definition, native.definition, "build_images are unused");
    let meta = cargo_exec(&amd).meta.unwrap();
    assert!(!meta
        .env
        .iter()
        .any(|e| e.starts_with("PKG_CONFIG_ALLOW_CROSS")));
    assert!(!meta.args[2].contains("libstd-rust-dev"));
    assert!(!step(&amd, StepKind::Cargo)
        .inputs
        .contains_key("build_platform"));
}

#[test]
fn emulation_runs_on_the_target_platform_with_its_sdk() {
    let spec = format!("[cross]\nemulate = true\n{SPEC}");
    let arm = build(&spec, "build", "linux/arm64");
    let record = step(&arm, StepKind::Cargo);
    assert_eq!(arch(&op(&arm, &record.digest)), "arm64");
    assert_eq!(
        arch(&op(&arm, &step(&arm, StepKind::Fetch).digest)),
        "arm64"
    );
    let meta = cargo_exec(&arm).meta.unwrap();
    assert!(meta.env.contains(&format!("CACHET_SDK={ARM_SDK_DIGEST}")));
    assert!(!meta.env.iter().any(|e| e.starts_with("CC_aarch64")));
    assert_eq!(record.inputs["emulated"], true);
    let cross = build(SPEC, "build", "linux/arm64");
    assert_ne!(
        arm.cargo_keys["build"].strict.mount_id,
        cross.cargo_keys["build"].strict.mount_id
    );
}

#[test]
fn the_cross_environment_moves_the_key_of_its_triple_only() {
    let spec = format!(
        "[cross.aarch64-unknown-linux-gnu]\nenv = {{ CC_aarch64_unknown_linux_gnu = \"clang\" }}\n{SPEC}"
    );
    let key = |s: &str, platform| build(s, "build", platform).cargo_keys["build"].clone();
    assert_ne!(key(&spec, "linux/arm64"), key(SPEC, "linux/arm64"));
    assert_eq!(key(&spec, "linux/amd64"), key(SPEC, "linux/amd64"));
    assert_eq!(key(&spec, "linux/riscv64"), key(SPEC, "linux/riscv64"));
    let meta = cargo_exec(&build(&spec, "build", "linux/arm64"))
        .meta
        .unwrap();
    assert!(meta
        .env
        .contains(&"CC_aarch64_unknown_linux_gnu=clang".to_string()));
}

#[test]
fn an_image_target_is_for_the_target_platform_from_scratch_or_a_base() {
    let arm = build(SPEC, "image", "linux/arm64");
    let config: serde_json::Value =
        serde_json::from_slice(arm.image_config.as_ref().unwrap()).unwrap();
    assert_eq!(config["architecture"], "arm64");
    let spec = SPEC.replace("from = \"scratch\"", "from = \"debian:bookworm-slim\"");
    let spec = spec::load("Cachet.toml", &spec, &BTreeMap::new()).unwrap();
    let mut req = cross_request("image", "linux/arm64");
    req.images.insert(
        "debian:bookworm-slim".into(),
        ResolvedImage {
            digest: "sha256:3333333333333333333333333333333333333333333333333333333333333333"
                .into(),
            config: br#"{"architecture":"arm64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec(),
        },
    );
    let c = compile(&spec, &req).unwrap();
    let base = ops(&c)
        .into_iter()
        .find(|(_, o)| matches!(&o.op, Some(OpKind::Source(s)) if s.identifier.contains("debian")))
        .unwrap()
        .1;
    assert_eq!(arch(&base), "arm64");
}
