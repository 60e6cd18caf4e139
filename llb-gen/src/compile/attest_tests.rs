//! The SBOM, the toolchain probe and the provenance facts as the compiler plans them.

use std::collections::BTreeMap;

use super::*;
use crate::llb::decode_ops;
use crate::proto::pb::{self, op::Op as OpKind};
use crate::spec;

const SDK: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SDK_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}"#;
const SPEC: &str = r#"
[project]
name = "app"
[sdk]
image = "cachet-sdk:rustup"
[cargo]
rustflags = ["-C", "target-feature=+crt-static"]
env = { CFLAGS = "-O2" }
[target.build]
cargo = ["build", "-p", "app"]
artifacts = { app = "app" }
[target.image]
from = "scratch"
copy = [{ from = "+build", artifact = "app", to = "/app" }]
"#;
const LOCK: &str = r#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["itoa"]

[[package]]
name = "tool"
version = "0.1.0"
dependencies = ["ryu"]

[[package]]
name = "itoa"
version = "1.0.11"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b"

[[package]]
name = "ryu"
version = "1.0.18"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "f3cb5ba0dc43242ce17de99c180e96db90b235b8a9fdc9543c96d2209116bd9f"
"#;

fn project() -> ProjectFiles {
    let manifest = |name: &str, dep: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n[dependencies]\n{dep} = \"1\"\n"
        )
        .into_bytes()
    };
    ProjectFiles {
        files: BTreeMap::from([
            (
                "Cargo.toml".to_string(),
                b"[workspace]\nmembers = [\"app\", \"tool\"]\n".to_vec(),
            ),
            ("app/Cargo.toml".to_string(), manifest("app", "itoa")),
            ("tool/Cargo.toml".to_string(), manifest("tool", "ryu")),
            ("Cargo.lock".to_string(), LOCK.as_bytes().to_vec()),
        ]),
    }
}

fn request(target: &str, sdk: &str) -> BuildRequest {
    BuildRequest {
        images: BTreeMap::from([(
            "cachet-sdk:rustup".to_string(),
            ResolvedImage {
                digest: sdk.into(),
                config: SDK_CONFIG.as_bytes().to_vec(),
            },
        )]),
        project: project(),
        sbom: true,
        rustc_version: Some(
            "rustc 1.95.0 (abc 2026-01-01)\nhost: x86_64-unknown-linux-gnu\n".into(),
        ),
        ..BuildRequest::new(target.into(), Platform::linux_amd64(), "session-1")
    }
}

fn build(spec_text: &str, request: &BuildRequest) -> Compiled {
    let spec = spec::load("Cachet.toml", spec_text, &BTreeMap::new()).unwrap();
    compile(&spec, request).unwrap()
}

fn mkfiles(definition: &pb::Definition) -> Vec<pb::FileActionMkFile> {
    decode_ops(definition)
        .unwrap()
        .into_iter()
        .filter_map(|(_, op)| match op.op {
            Some(OpKind::File(f)) => Some(f.actions),
            _ => None,
        })
        .flatten()
        .filter_map(|a| match a.action {
            Some(pb::file_action::Action::Mkfile(m)) => Some(m),
            _ => None,
        })
        .collect()
}

fn sbom_of(c: &Compiled) -> serde_json::Value {
    let files = mkfiles(c.sbom.as_ref().expect("an SBOM is planned"));
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, crate::sbom::SBOM_FILE);
    serde_json::from_slice(&files[0].data).unwrap()
}

fn crate_names(doc: &serde_json::Value) -> Vec<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
        .map(|p| {
            format!(
                "{}@{}",
                p["name"].as_str().unwrap(),
                p["versionInfo"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn an_image_sbom_lists_the_crates_its_cargo_step_builds_and_the_sdk() {
    let c = build(SPEC, &request("image", SDK));
    let doc = sbom_of(&c);
    assert_eq!(
        crate_names(&doc),
        ["app@0.1.0", "itoa@1.0.11"],
        "not `tool` or `ryu`"
    );
    let text = doc.to_string();
    assert!(text.contains(SDK.trim_start_matches("sha256:")), "{text}");
    assert!(text.contains("49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b"));
    // Deterministic, and not planned without `--sbom`.
    assert_eq!(c.sbom, build(SPEC, &request("image", SDK)).sbom);
    let without = BuildRequest {
        sbom: false,
        ..request("image", SDK)
    };
    assert!(build(SPEC, &without).sbom.is_none());
}

#[test]
fn a_workspace_build_lists_every_member_it_builds() {
    let spec = SPEC.replace(
        "[\"build\", \"-p\", \"app\"]",
        "[\"build\", \"--workspace\"]",
    );
    let doc = sbom_of(&build(&spec, &request("build", SDK)));
    assert_eq!(
        crate_names(&doc),
        ["app@0.1.0", "itoa@1.0.11", "ryu@1.0.18", "tool@0.1.0"]
    );
}

#[test]
fn an_image_on_a_base_names_the_base_by_digest() {
    let spec = SPEC.replace("from = \"scratch\"", "from = \"debian:bookworm\"");
    let mut req = request("image", SDK);
    let base = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    req.images.insert(
        "debian:bookworm".into(),
        ResolvedImage {
            digest: base.into(),
            config: SDK_CONFIG.as_bytes().to_vec(),
        },
    );
    let doc = sbom_of(&build(&spec, &req));
    let base_pkg = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["SPDXID"] == "SPDXRef-base")
        .expect("the base image is listed")
        .clone();
    assert_eq!(base_pkg["name"], "debian:bookworm");
    assert_eq!(base_pkg["versionInfo"], base);
}

#[test]
fn the_provenance_record_carries_the_facts() {
    let c = build(SPEC, &request("build", SDK));
    let record = mkfiles(&c.definition)
        .into_iter()
        .find(|m| m.path == cargo_step::PROVENANCE_FILE)
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&record.data).unwrap();
    assert!(record["rustc_version"]
        .as_str()
        .unwrap()
        .starts_with("rustc 1.95.0"));
    assert_eq!(
        record["cargo_lock"],
        crate::llb::Digest::of(LOCK.as_bytes()).into_string()
    );
    let command: Vec<&str> = record["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        &command[..3],
        ["cargo", "--locked", "--offline"],
        "{command:?}"
    );
    assert!(
        command.contains(&"--config"),
        "vendored sources: {command:?}"
    );
    assert_eq!(record["vendored_sources_config"], fetch_step::VENDOR_CONFIG);
    assert_eq!(record["env"]["CFLAGS"], "-O2");
    assert_eq!(record["rustflags"][1], "target-feature=+crt-static");
    assert_eq!(record["strict_key"], c.cargo_keys["build"].strict.hash);
    assert_eq!(record["fast_key"], c.cargo_keys["build"].fast.hash);
}

#[test]
fn image_labels_carry_rustc_and_the_lockfile_digest() {
    let c = build(SPEC, &request("image", SDK));
    let config: serde_json::Value = serde_json::from_slice(&c.image_config.unwrap()).unwrap();
    let labels = &config["config"]["Labels"];
    assert_eq!(
        labels[image_step::RUSTC_LABEL],
        "rustc 1.95.0 (abc 2026-01-01)\nhost: x86_64-unknown-linux-gnu"
    );
    assert_eq!(
        labels[image_step::CARGO_LOCK_LABEL],
        crate::llb::Digest::of(LOCK.as_bytes()).into_string()
    );
}

#[test]
fn the_toolchain_probe_is_keyed_on_the_sdk_alone() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let probe = toolchain_probe(&spec, &request("image", SDK)).unwrap();
    // Other cargo settings, targets and the rustc value itself leave it alone.
    let other_spec = SPEC
        .replace("-O2", "-O3")
        .replace("+crt-static", "-crt-static");
    let other = spec::load("Cachet.toml", &other_spec, &BTreeMap::new()).unwrap();
    let mut req = request("build", SDK);
    req.rustc_version = None;
    assert_eq!(
        definition_digest(&probe),
        definition_digest(&toolchain_probe(&other, &req).unwrap())
    );
    let moved = SDK.replace('1', "3");
    assert_ne!(
        definition_digest(&probe),
        definition_digest(&toolchain_probe(&spec, &request("image", &moved)).unwrap()),
        "a new SDK is probed again"
    );
    let exec = decode_ops(&probe)
        .unwrap()
        .into_iter()
        .find_map(|(_, op)| match op.op {
            Some(OpKind::Exec(e)) => Some(e),
            _ => None,
        })
        .unwrap();
    assert_eq!(exec.network, pb::NetMode::None as i32);
    assert!(exec.meta.unwrap().args[2].contains("rustc -vV"));
}

fn definition_digest(d: &pb::Definition) -> String {
    crate::llb::Digest::of(d.def.last().unwrap()).into_string()
}
