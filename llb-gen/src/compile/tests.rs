use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::llb::{decode_ops, definition_bytes};
use crate::project::ProjectFiles;
use crate::proto::pb::{self, op::Op as OpKind};
use crate::spec;

pub(super) const SPEC: &str = r#"
[project]
name = "hello"
[sdk]
image = "cachet-sdk:rustup"
[cargo]
rustflags = ["-C", "target-feature=+crt-static"]
env = { CFLAGS = "-O2" }
[target.build]
cargo = ["build", "--bin", "hello"]
artifacts = { hello = "hello" }
[target.lint]
cargo = ["clippy", "--", "-D", "warnings"]
[target.image]
from = "scratch"
copy = [{ from = "+build", artifact = "hello", to = "/usr/local/bin/hello" }]
entrypoint = ["/usr/local/bin/hello"]
"#;

pub(super) const SDK_DIGEST: &str =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
pub(super) const SDK_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/rust/bin:/usr/bin:/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[]}}"#;

pub(super) fn request(target: &str, sdk_digest: &str) -> BuildRequest {
    BuildRequest {
        images: BTreeMap::from([(
            "cachet-sdk:rustup".to_string(),
            ResolvedImage {
                digest: sdk_digest.into(),
                config: SDK_CONFIG.as_bytes().to_vec(),
            },
        )]),
        helper: HelperImage {
            reference: "cachet/frontend:dev".into(),
            resolved: ResolvedImage {
                digest: HELPER_DIGEST.into(),
                config: b"{}".to_vec(),
            },
        },
        ..BuildRequest::new(target.into(), Platform::linux_amd64(), "session-1")
    }
}

const HELPER_DIGEST: &str =
    "sha256:4444444444444444444444444444444444444444444444444444444444444444";

fn compiled(target: &str, sdk_digest: &str) -> Compiled {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    compile(&spec, &request(target, sdk_digest)).unwrap()
}

/// The ops as the definition holds them.
fn raw_ops(c: &Compiled) -> Vec<(String, pb::Op)> {
    decode_ops(&c.definition)
        .unwrap()
        .into_iter()
        .map(|(d, op)| (d.to_string(), op))
        .collect()
}

/// The text of the step script an exec runs (the file mounted at `step_script::SCRIPT_DIR`),
/// with its `"$@"` spelled out as the exec's own arguments: the shell text the step runs.
fn step_script_text(all: &[(String, pb::Op)], op: &pb::Op, exec: &pb::ExecOp) -> Option<String> {
    let mount = exec
        .mounts
        .iter()
        .find(|m| m.dest == step_script::SCRIPT_DIR)?;
    let input = &op.inputs[mount.input as usize].digest;
    let (_, file_op) = all.iter().find(|(d, _)| d == input)?;
    let Some(OpKind::File(file)) = &file_op.op else {
        panic!("the step script layer is a file op")
    };
    let data = file.actions.iter().find_map(|a| match &a.action {
        Some(pb::file_action::Action::Mkfile(m)) => Some(m.data.clone()),
        _ => None,
    })?;
    let args = &exec.meta.as_ref()?.args;
    assert_eq!(args[0], "/bin/sh", "{args:?}");
    assert!(args[1].starts_with(step_script::SCRIPT_DIR), "{args:?}");
    let text = String::from_utf8(data).unwrap();
    if args.len() == 2 && !text.contains("\"$@\"") {
        // A script that runs no command of its own (the why step).
        return Some(text);
    }
    // Once, or twice where the step may run cargo again (`volatile_env`).
    assert!((1..=2).contains(&text.matches("\"$@\"").count()), "{text}");
    Some(text.replace("\"$@\"", &shell::join(&args[2..])))
}

/// The ops, with every exec that runs a step script shown as if the script were inline
/// (`/bin/sh -c <script with its command>`), so tests can read what a step runs.
pub(super) fn ops(c: &Compiled) -> Vec<(String, pb::Op)> {
    let all = raw_ops(c);
    all.iter()
        .map(|(d, op)| {
            let mut op = op.clone();
            if let Some(OpKind::Exec(exec)) = &op.op {
                if let Some(text) = step_script_text(&all, &op, exec) {
                    let mut exec = exec.clone();
                    exec.meta.as_mut().unwrap().args = vec!["/bin/sh".into(), "-c".into(), text];
                    op.op = Some(OpKind::Exec(exec));
                }
            }
            (d.clone(), op)
        })
        .collect()
}

/// The why step after each cargo step (`why_step`): it builds nothing, so the helpers that
/// list a build's steps leave it out; `why_tests` checks it.
fn is_why_exec(e: &pb::ExecOp) -> bool {
    e.mounts.iter().any(|m| m.dest == why_step::STATE_DIR)
}

pub(super) fn exec_ops(c: &Compiled) -> Vec<pb::ExecOp> {
    ops(c)
        .into_iter()
        .filter_map(|(_, op)| match op.op {
            Some(OpKind::Exec(e)) if !is_why_exec(&e) => Some(e),
            _ => None,
        })
        .collect()
}

/// A failed exec is reported by its arguments: they are the script's path and the command,
/// never the script itself.
#[test]
fn a_step_runs_its_script_from_a_file_so_errors_show_the_cargo_command() {
    let c = compiled("build", SDK_DIGEST);
    let all = raw_ops(&c);
    let execs: Vec<_> = all
        .iter()
        .filter_map(|(_, op)| match &op.op {
            Some(OpKind::Exec(e)) if !is_why_exec(e) => Some((op, e)),
            _ => None,
        })
        .collect();
    assert_eq!(execs.len(), 1);
    let (op, exec) = execs[0];
    let args = &exec.meta.as_ref().unwrap().args;
    assert_eq!(
        args.join(" "),
        "/bin/sh /cachet/step/cargo.sh cargo --locked --offline build --profile release \
         --target x86_64-unknown-linux-gnu --bin hello"
    );
    let script = step_script_text(&all, op, exec).unwrap();
    assert!(script.contains("set -eu"), "{script}");
    let mount = exec
        .mounts
        .iter()
        .find(|m| m.dest == step_script::SCRIPT_DIR)
        .unwrap();
    assert!(mount.readonly, "the script layer is read-only");
}

#[test]
fn the_cargo_step_runs_offline_on_a_keyed_target_cache() {
    let c = compiled("build", SDK_DIGEST);
    let execs = exec_ops(&c);
    assert_eq!(execs.len(), 1);
    let exec = &execs[0];
    let meta = exec.meta.as_ref().unwrap();
    assert_eq!(meta.args[..2], ["/bin/sh".to_string(), "-c".to_string()]);
    assert!(
        meta.args[2].contains(
            "cargo --locked --offline build --profile release --target x86_64-unknown-linux-gnu \
             --bin hello"
        ),
        "{}",
        meta.args[2]
    );
    assert!(
        meta.args[2].contains(
            "cp -pR /cachet/target/x86_64-unknown-linux-gnu/release/hello /cachet/out/hello"
        ),
        "{}",
        meta.args[2]
    );
    assert_eq!(meta.cwd, "/cachet/src");
    assert!(meta.env.contains(&format!("CACHET_SDK={SDK_DIGEST}")));
    assert!(meta
        .env
        .contains(&"CARGO_ENCODED_RUSTFLAGS=-C\u{1f}target-feature=+crt-static".to_string()));
    assert!(meta.env.contains(&"CFLAGS=-O2".to_string()));
    assert!(
        meta.env
            .iter()
            .any(|e| e.starts_with("PATH=/usr/local/rust/bin")),
        "SDK env is applied: {:?}",
        meta.env
    );
    assert_eq!(exec.network, pb::NetMode::None as i32);

    let key = c.cargo_keys["build"].selected();
    let target_mount = exec
        .mounts
        .iter()
        .find(|m| m.dest == "/cachet/target")
        .unwrap();
    assert_eq!(target_mount.mount_type, pb::MountType::Cache as i32);
    assert_eq!(target_mount.cache_opt.as_ref().unwrap().id, key.mount_id);
    assert!(key
        .mount_id
        .starts_with("cachet/hello/x86_64-unknown-linux-gnu/release/"));
    let src = exec
        .mounts
        .iter()
        .find(|m| m.dest == "/cachet/src")
        .unwrap();
    assert!(
        !src.readonly,
        "mtimes are normalised in the step's private view"
    );
    assert_eq!(src.output, -1, "and that view is discarded");
    assert_eq!(
        target_mount.cache_opt.as_ref().unwrap().sharing,
        pb::CacheSharingOpt::Locked as i32
    );
    assert!(
        meta.args[2]
            .contains("/cachet/helper/cachet-helper freshness --state /cachet/target/.cachet"),
        "freshness runs first"
    );
    // The helper comes from the frontend image, pinned, read-only, by a directory selector:
    // BuildKit keys such a mount on the content of that directory.
    let helper = exec
        .mounts
        .iter()
        .find(|m| m.dest == "/cachet/helper")
        .expect("the helper is mounted");
    assert!(helper.readonly);
    assert_eq!(helper.selector, "/helper");
    assert_eq!(helper.output, -1);
    let all = ops(&c);
    let exec_op = all
        .iter()
        .find(|(_, op)| matches!(op.op, Some(OpKind::Exec(_))))
        .unwrap();
    let input = &exec_op.1.inputs[helper.input as usize].digest;
    let helper_source = &all.iter().find(|(d, _)| d == input).unwrap().1;
    match helper_source.op.as_ref().unwrap() {
        OpKind::Source(src) => assert_eq!(
            src.identifier,
            format!("docker-image://docker.io/cachet/frontend:dev@{HELPER_DIGEST}")
        ),
        other => panic!("the helper mount is not an image source: {other:?}"),
    }
    let out = exec
        .mounts
        .iter()
        .find(|m| m.dest == "/cachet/out")
        .unwrap();
    assert_eq!(out.input, -1, "artifacts start from scratch");
    assert!(out.output >= 0, "artifacts are an output");
}

#[test]
fn the_sdk_is_pinned_and_sources_keep_their_timestamps() {
    let c = compiled("build", SDK_DIGEST);
    let all = ops(&c);
    let image = all
        .iter()
        .find_map(|(_, op)| match &op.op {
            Some(OpKind::Source(s)) if s.identifier.starts_with("docker-image://") => {
                Some(s.identifier.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(
        image,
        format!("docker-image://docker.io/library/cachet-sdk:rustup@{SDK_DIGEST}")
    );
    let copy = all
        .iter()
        .find_map(|(_, op)| match &op.op {
            Some(OpKind::File(f)) => Some(f.clone()),
            _ => None,
        })
        .unwrap();
    let Some(pb::file_action::Action::Mkfile(marker)) = &copy.actions[0].action else {
        panic!("the SDK marker comes first")
    };
    assert_eq!(marker.path, "/.cachet-sdk");
    assert_eq!(marker.data, format!("{SDK_DIGEST}\n").into_bytes());
    let Some(pb::file_action::Action::Copy(cp)) = &copy.actions[1].action else {
        panic!("copy action")
    };
    assert_eq!(cp.timestamp, -1, "source timestamps are kept");
    assert_eq!(cp.mode, -1);
    let local = all
        .iter()
        .find_map(|(_, op)| match &op.op {
            Some(OpKind::Source(s)) if s.identifier == "local://context" => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(local.attrs["local.session"], "session-1");
    assert_eq!(local.attrs["local.excludepatterns"], r#"["target",".git"]"#);
}

#[test]
fn every_exec_and_file_op_changes_when_only_the_sdk_digest_changes() {
    let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    for project in [ProjectFiles::default(), workspace_files(REMOTE_LOCK)] {
        let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
        let mut ra = request("image", SDK_DIGEST);
        ra.project = project.clone();
        let mut rb = request("image", other);
        rb.project = project;
        let a = ops(&compile(&spec, &ra).unwrap());
        let b = ops(&compile(&spec, &rb).unwrap());
        // File ops on scratch (the step scripts) have nothing upstream to change; the execs
        // that mount them do.
        let digests_of = |ops: &[(String, pb::Op)]| -> Vec<String> {
            ops.iter()
                .filter(|(_, op)| match op.op {
                    Some(OpKind::Exec(_)) => true,
                    Some(OpKind::File(_)) => !op.inputs.is_empty(),
                    _ => false,
                })
                .map(|(d, _)| d.clone())
                .collect()
        };
        let (da, db) = (digests_of(&a), digests_of(&b));
        assert!(
            da.len() >= 4,
            "snapshot, cargo exec, provenance, image copy: {da:?}"
        );
        for d in &da {
            assert!(!db.contains(d), "op {d} did not change with the SDK digest");
        }
    }
}

fn is_artifact_copy(op: &pb::Op) -> bool {
    matches!(&op.op, Some(OpKind::File(f)) if f.actions.iter().any(|a| matches!(&a.action, Some(pb::file_action::Action::Copy(c)) if c.src.starts_with("/hello"))))
}

#[test]
fn the_image_target_copies_the_artifact_and_has_a_config() {
    let c = compiled("image", SDK_DIGEST);
    let config: serde_json::Value =
        serde_json::from_slice(c.image_config.as_ref().unwrap()).unwrap();
    assert_eq!(config["config"]["Entrypoint"][0], "/usr/local/bin/hello");
    assert_eq!(config["config"]["Labels"]["dev.cachet.sdk"], SDK_DIGEST);
    assert_eq!(
        config["config"]["Labels"]["dev.cachet.key.build"],
        c.cargo_keys["build"].selected().hash
    );
    assert_eq!(
        config["config"]["Labels"]["dev.cachet.key.build.fast"],
        c.cargo_keys["build"].fast.hash
    );
    assert_eq!(
        config["config"]["Labels"]["dev.cachet.mode.build"],
        "strict"
    );
    assert!(ops(&c).iter().any(|(_, op)| is_artifact_copy(op)));
}

#[test]
fn clippy_flags_go_before_the_tool_arguments() {
    let c = compiled("lint", SDK_DIGEST);
    let script = exec_ops(&c)[0].meta.as_ref().unwrap().args[2].clone();
    assert!(
        script.contains(
            "cargo --locked --offline clippy --profile release --target x86_64-unknown-linux-gnu \
             -- -D warnings"
        ),
        "{script}"
    );
}

#[test]
fn output_is_deterministic() {
    let a = definition_bytes(&compiled("image", SDK_DIGEST).definition);
    for _ in 0..3 {
        assert_eq!(
            definition_bytes(&compiled("image", SDK_DIGEST).definition),
            a
        );
    }
}

#[test]
fn dockerd_local_images_are_identified_by_their_config() {
    let c = compiled("build", "");
    assert_eq!(c.sdk, crate::keys::sdk_identity("", SDK_CONFIG.as_bytes()));
    let image = ops(&c)
        .into_iter()
        .find_map(|(_, op)| match op.op {
            Some(OpKind::Source(s)) if s.identifier.starts_with("docker-image://") => {
                Some(s.identifier)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(image, "docker-image://docker.io/library/cachet-sdk:rustup");
}

#[test]
fn a_moved_sdk_tag_fails_a_locked_spec() {
    let text = SPEC.replace(
        "image = \"cachet-sdk:rustup\"",
        &format!("image = \"cachet-sdk:rustup\"\ndigest = \"{SDK_DIGEST}\""),
    );
    let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
    assert!(compile(&spec, &request("build", SDK_DIGEST)).is_ok());
    let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let e = compile(&spec, &request("build", other))
        .unwrap_err()
        .to_string();
    assert!(e.contains("locks it to"), "{e}");
}

/// dockerd serving an image from its store reports only the image id: a lock of the image id
/// holds on every engine, a manifest-digest lock fails there with a message saying what the
/// engine reported and what to lock instead.
#[test]
fn the_sdk_lock_compares_like_with_like() {
    let image_id = crate::llb::Digest::of(SDK_CONFIG.as_bytes()).into_string();
    let locked = |digest: &str| {
        let text = SPEC.replace(
            "image = \"cachet-sdk:rustup\"",
            &format!("image = \"cachet-sdk:rustup\"\ndigest = \"{digest}\""),
        );
        spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap()
    };
    // An image-id lock: checked on both engines.
    assert!(compile(&locked(&image_id), &request("build", SDK_DIGEST)).is_ok());
    assert!(compile(&locked(&image_id), &request("build", "")).is_ok());
    // A manifest-digest lock on an engine that reports no manifest digest.
    let e = compile(&locked(SDK_DIGEST), &request("build", ""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "resolved to image id {image_id} (the engine reported no manifest digest), but the \
             spec locks it to {SDK_DIGEST}"
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!("lock its image id (`digest = \"{image_id}\"`)")),
        "{e}"
    );
    // Another image altogether, where both digests are reported.
    let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let e = compile(&locked(other), &request("build", SDK_DIGEST))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "resolved to manifest digest {SDK_DIGEST} (image id {image_id}), but the spec locks \
             it to {other}"
        )),
        "{e}"
    );
}

#[test]
fn unknown_targets_list_the_known_ones() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let e = compile(&spec, &request("nope", SDK_DIGEST))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "target `nope` is not defined in the spec (targets: build, image, lint)"
    );
}

#[test]
fn no_cache_marks_only_the_selected_targets() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut req = request("image", SDK_DIGEST);
    req.no_cache = NoCache::Targets(["build".to_string()].into());
    let c = compile(&spec, &req).unwrap();
    let ignored: Vec<&String> = c
        .definition
        .metadata
        .iter()
        .filter(|(_, m)| m.ignore_cache)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(ignored.len(), 1, "only the build exec: {ignored:?}");
}

#[test]
fn cargo_outputs_carry_a_provenance_record() {
    let c = compiled("build", SDK_DIGEST);
    let mkfile = ops(&c)
        .into_iter()
        .find_map(|(_, op)| match op.op {
            Some(OpKind::File(f)) => f.actions.into_iter().find_map(|a| match a.action {
                Some(pb::file_action::Action::Mkfile(m)) if m.path.contains("provenance") => {
                    Some(m)
                }
                _ => None,
            }),
            _ => None,
        })
        .expect("a mkfile action");
    assert_eq!(mkfile.path, "/cachet-provenance.json");
    let record: serde_json::Value = serde_json::from_slice(&mkfile.data).unwrap();
    assert_eq!(record["sdk"], SDK_DIGEST);
    assert_eq!(
        record["target_cache"],
        c.cargo_keys["build"].selected().mount_id
    );
    assert_eq!(record["mode"], "strict");
    assert_eq!(record["strict_key"], c.cargo_keys["build"].strict.hash);
    assert_eq!(record["fast_key"], c.cargo_keys["build"].fast.hash);
    let exec = &exec_ops(&c)[0];
    let tmp = exec.mounts.iter().find(|m| m.dest == "/tmp").unwrap();
    assert_eq!(tmp.mount_type, pb::MountType::Tmpfs as i32);
}

pub(super) const REMOTE_LOCK: &str = r#"version = 3

[[package]]
name = "hello"
version = "0.1.0"
dependencies = ["itoa"]

[[package]]
name = "itoa"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "0000000000000000000000000000000000000000000000000000000000000000"
"#;

/// The metadata files of a one-package project with the given lockfile.
pub(super) fn workspace_files(lock: &str) -> ProjectFiles {
    ProjectFiles {
        files: BTreeMap::from([
            (
                "Cargo.toml".to_string(),
                b"[package]\nname = \"hello\"\nversion = \"0.1.0\"\n[dependencies]\nitoa = \"1\"\n"
                    .to_vec(),
            ),
            ("Cargo.lock".to_string(), lock.as_bytes().to_vec()),
        ]),
    }
}

/// A local build (its cache does not travel: no dependency layers unless the spec asks).
pub(super) fn compiled_with(spec_text: &str, target: &str, project: ProjectFiles) -> Compiled {
    let spec = spec::load("Cachet.toml", spec_text, &BTreeMap::new()).unwrap();
    let mut req = request(target, SDK_DIGEST);
    req.project = project;
    compile(&spec, &req).unwrap()
}

/// A build whose cache travels (`--cache-from`, inline cache), as a CI job's: it gets
/// dependency layers.
pub(super) fn compiled_travelling(
    spec_text: &str,
    target: &str,
    project: ProjectFiles,
) -> Compiled {
    let spec = spec::load("Cachet.toml", spec_text, &BTreeMap::new()).unwrap();
    let mut req = request(target, SDK_DIGEST);
    req.project = project;
    req.cache_travels = true;
    compile(&spec, &req).unwrap()
}

pub(super) fn local_sources(c: &Compiled) -> Vec<pb::SourceOp> {
    ops(c)
        .into_iter()
        .filter_map(|(_, op)| match op.op {
            Some(OpKind::Source(s)) if s.identifier.starts_with("local://") => Some(s),
            _ => None,
        })
        .collect()
}

/// Every context local (the fetch step's manifests, each step's sources) excludes what the
/// `.dockerignore` lists, after `target` and `.git`.
#[test]
fn every_context_local_excludes_what_the_dockerignore_lists() {
    let mut files = workspace_files(REMOTE_LOCK);
    files.files.insert(
        ".dockerignore".into(),
        b"# local secrets\n**/.env\n/creds/\n".to_vec(),
    );
    let c = compiled_with(SPEC, "build", files);
    let locals = local_sources(&c);
    assert!(locals.len() >= 2, "manifests and sources: {locals:?}");
    for local in locals {
        assert_eq!(
            local.attrs["local.excludepatterns"], r#"["target",".git","**/.env","creds"]"#,
            "{local:?}"
        );
    }
}

/// `[cache] layers`: `auto` plans dependency layers where they pay (a travelling cache, a
/// `.deps` target), `always` on every build, `never` on none; a build arg may choose.
#[test]
fn dependency_layers_are_planned_where_they_pay_or_as_the_spec_says() {
    let kinds = |c: &Compiled| -> Vec<StepKind> { c.steps.iter().map(|s| s.kind).collect() };
    let layered = |c: &Compiled| c.steps.iter().any(|s| s.kind == StepKind::Dependencies);
    let files = || workspace_files(REMOTE_LOCK);
    // auto
    assert!(
        !layered(&compiled_with(SPEC, "build", files())),
        "a local loop: no layer"
    );
    assert!(
        layered(&compiled_travelling(SPEC, "build", files())),
        "a travelling cache"
    );
    assert!(
        layered(&compiled_with(SPEC, "build.deps", files())),
        "a `.deps` target asks for its layer"
    );
    let with_layers = |value: &str| {
        SPEC.replace(
            "[target.build]",
            &format!(
                "[args]\nLAYERS = \"auto\"\n\n[cache]\nlayers = \"{value}\"\n\n[target.build]"
            ),
        )
    };
    assert!(layered(&compiled_with(
        &with_layers("always"),
        "build",
        files()
    )));
    let never = compiled_travelling(&with_layers("never"), "build", files());
    assert!(!layered(&never), "{:?}", kinds(&never));
    let spec = spec::load("Cachet.toml", &with_layers("never"), &BTreeMap::new()).unwrap();
    let mut req = request("build.deps", SDK_DIGEST);
    req.project = files();
    let e = compile(&spec, &req).unwrap_err().to_string();
    assert!(e.contains("`[cache] layers = \"never\"`"), "{e}");
    // A declared build arg chooses.
    let spec = spec::load(
        "Cachet.toml",
        &with_layers("${LAYERS}"),
        &BTreeMap::from([("LAYERS".to_string(), "always".to_string())]),
    )
    .unwrap();
    let mut req = request("build", SDK_DIGEST);
    req.project = files();
    assert!(layered(&compile(&spec, &req).unwrap()));
    let e = spec::load(
        "Cachet.toml",
        &with_layers("${LAYERS}"),
        &BTreeMap::from([("LAYERS".to_string(), "sometimes".to_string())]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("layers `sometimes`: expected `auto`, `always` or `never`"),
        "{e}"
    );
}

#[test]
fn registry_dependencies_are_vendored_by_a_fetch_step_with_network() {
    let local = compiled_with(SPEC, "build", workspace_files(REMOTE_LOCK));
    assert_eq!(exec_ops(&local).len(), 2, "a local build: fetch and build");
    let c = compiled_travelling(SPEC, "build", workspace_files(REMOTE_LOCK));
    let execs = exec_ops(&c);
    assert_eq!(execs.len(), 3, "fetch, dependency layer and build");
    let fetch = execs
        .iter()
        .find(|e| e.meta.as_ref().unwrap().args[2].contains("cargo --locked vendor"))
        .expect("a fetch step");
    let build = execs
        .iter()
        .find(|e| e.meta.as_ref().unwrap().args[2].contains("cachet-helper freshness"))
        .unwrap();
    assert_eq!(
        fetch.network,
        pb::NetMode::Unset as i32,
        "the default network"
    );
    assert_eq!(build.network, pb::NetMode::None as i32);
    let script = &build.meta.as_ref().unwrap().args[2];
    assert!(
        script.contains("cargo --locked --offline --config /cachet/vendor/config.toml build"),
        "{script}"
    );
    let vendor = build
        .mounts
        .iter()
        .find(|m| m.dest == "/cachet/vendor")
        .unwrap();
    assert!(vendor.readonly);
    let caches: BTreeSet<&str> = fetch
        .mounts
        .iter()
        .filter_map(|m| m.cache_opt.as_ref().map(|c| c.id.as_str()))
        .collect();
    assert_eq!(
        caches,
        BTreeSet::from([
            "cachet/cargo-download/registry",
            "cachet/cargo-download/git"
        ])
    );
    assert!(
        fetch
            .mounts
            .iter()
            .any(|m| m.dest == "/root/.cargo/registry"),
        "the download cache sits in the SDK's cargo home"
    );
    // The fetch step reads manifests only; the build reads sources.
    let locals = local_sources(&c);
    assert_eq!(
        locals.len(),
        2,
        "the dependency layer shares the manifests snapshot"
    );
    let includes: Vec<String> = locals
        .iter()
        .map(|s| s.attrs["local.includepattern"].clone())
        .collect();
    assert!(
        includes.iter().any(|i| !i.contains("\"src\"")),
        "{includes:?}"
    );
    assert!(
        includes.iter().any(|i| i.contains("\"src\"")),
        "{includes:?}"
    );
    assert!(c
        .steps
        .iter()
        .any(|s| s.name.starts_with("[fetch] cargo vendor --locked · ")));
}

#[test]
fn path_only_projects_have_no_fetch_step() {
    let lock = "version = 3\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n";
    let c = compiled_with(SPEC, "build", workspace_files(lock));
    assert_eq!(exec_ops(&c).len(), 1);
    let script = exec_ops(&c)[0].meta.as_ref().unwrap().args[2].clone();
    assert!(!script.contains("--config"), "{script}");
}

#[test]
fn fetch_secrets_and_ssh_are_mounted_never_written() {
    let text = SPEC.replace(
        "[target.build]",
        "[fetch]\nsecrets = { CARGO_REGISTRIES_CORP_TOKEN = \"corp-token\" }\nssh = true\n\n[target.build]",
    );
    let c = compiled_with(&text, "build", workspace_files(REMOTE_LOCK));
    let fetch = exec_ops(&c)
        .into_iter()
        .find(|e| e.meta.as_ref().unwrap().args[2].contains("vendor"))
        .unwrap();
    let secret = fetch
        .mounts
        .iter()
        .find(|m| m.mount_type == pb::MountType::Secret as i32)
        .unwrap();
    assert_eq!(secret.secret_opt.as_ref().unwrap().id, "corp-token");
    assert!(fetch
        .mounts
        .iter()
        .any(|m| m.mount_type == pb::MountType::Ssh as i32));
    let meta = fetch.meta.as_ref().unwrap();
    assert!(meta.args[2].contains(
        "CARGO_REGISTRIES_CORP_TOKEN=\"$(cat /run/cachet/secrets/corp-token)\"; export CARGO_REGISTRIES_CORP_TOKEN"
    ));
    assert!(meta
        .env
        .contains(&"SSH_AUTH_SOCK=/run/cachet/ssh-agent.sock".to_string()));
    // Only the fetch step sees them.
    let build = exec_ops(&c)
        .into_iter()
        .find(|e| e.meta.as_ref().unwrap().args[2].contains("--offline"))
        .unwrap();
    assert!(build
        .mounts
        .iter()
        .all(|m| m.mount_type != pb::MountType::Secret as i32
            && m.mount_type != pb::MountType::Ssh as i32));
}

/// A cache mount is readable by any build on the builder that names its id, so what a token
/// downloads must never land in the shared download cache.
#[test]
fn an_authenticated_fetch_has_no_shared_download_cache() {
    for fetch in [
        "[fetch]\nsecrets = { CARGO_REGISTRIES_CORP_TOKEN = \"corp-token\" }\n",
        "[fetch]\nssh = true\n",
    ] {
        let text = SPEC.replace("[target.build]", &format!("{fetch}\n[target.build]"));
        let c = compiled_with(&text, "build", workspace_files(REMOTE_LOCK));
        let fetch_exec = exec_ops(&c)
            .into_iter()
            .find(|e| e.meta.as_ref().unwrap().args[2].contains("vendor"))
            .unwrap();
        assert!(
            fetch_exec.mounts.iter().all(|m| m.cache_opt.is_none()),
            "{fetch}: {:?}",
            fetch_exec.mounts
        );
        let tmpfs: BTreeSet<&str> = fetch_exec
            .mounts
            .iter()
            .filter(|m| m.mount_type == pb::MountType::Tmpfs as i32)
            .map(|m| m.dest.as_str())
            .collect();
        assert!(
            tmpfs.contains("/root/.cargo/registry") && tmpfs.contains("/root/.cargo/git"),
            "{fetch}: downloads go to scratch space: {tmpfs:?}"
        );
        let step = c.steps.iter().find(|s| s.kind == StepKind::Fetch).unwrap();
        assert_eq!(
            step.inputs["download_cache"], "none: authenticated fetch",
            "explain says why"
        );
    }
}

#[test]
fn the_source_snapshot_holds_only_what_cargo_reads() {
    let c = compiled_with(SPEC, "build", workspace_files(REMOTE_LOCK));
    let build_local = local_sources(&c)
        .into_iter()
        .find(|s| s.attrs["local.includepattern"].contains("\"src\""))
        .unwrap();
    let include: Vec<String> =
        serde_json::from_str(&build_local.attrs["local.includepattern"]).unwrap();
    assert_eq!(
        include,
        [
            ".cargo",
            "Cargo.lock",
            "Cargo.toml",
            "benches",
            "build.rs",
            "examples",
            "rust-toolchain",
            "rust-toolchain.toml",
            "src",
            "tests"
        ]
    );
}

#[test]
fn toolchain_and_cargo_config_files_key_the_target_cache_in_strict_mode_only() {
    let base = workspace_files(REMOTE_LOCK);
    let with = |path: &str, content: &str| {
        let mut p = base.clone();
        p.files
            .insert(path.to_string(), content.as_bytes().to_vec());
        p
    };
    let mount = |text: &str, project: ProjectFiles| {
        compiled_with(text, "build", project).cargo_keys["build"]
            .selected()
            .mount_id
            .clone()
    };
    let plain = mount(SPEC, base.clone());
    let toolchain = mount(
        SPEC,
        with("rust-toolchain.toml", "[toolchain]\nchannel = \"1.80\"\n"),
    );
    let config = mount(
        SPEC,
        with(
            ".cargo/config.toml",
            "[build]\nrustflags = [\"-Copt-level=1\"]\n",
        ),
    );
    assert_ne!(plain, toolchain);
    assert_ne!(plain, config);
    assert_ne!(toolchain, config);

    let fast = SPEC.replace("[cargo]", "[cargo]\nmode = \"fast\"");
    let fast_plain = mount(&fast, base.clone());
    assert!(fast_plain.contains("/fast-"), "{fast_plain}");
    assert_eq!(
        fast_plain,
        mount(
            &fast,
            with(
                ".cargo/config.toml",
                "[build]\nrustflags = [\"-Copt-level=1\"]\n"
            )
        )
    );
    let fast_flags = fast.replace("+crt-static", "-crt-static");
    assert_eq!(fast_plain, mount(&fast_flags, base.clone()));
    assert_ne!(
        plain,
        mount(&SPEC.replace("+crt-static", "-crt-static"), base)
    );
}

#[test]
fn progress_names_show_target_command_and_short_key() {
    let c = compiled("build", SDK_DIGEST);
    let step = c.steps.iter().find(|s| s.target == "build").unwrap();
    let (command, tag) = step.name.rsplit_once(" · ").unwrap();
    assert_eq!(
        command,
        "[build] cargo build --profile release --target x86_64-unknown-linux-gnu --bin hello"
    );
    assert_eq!(tag.len(), 6);
    assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn a_step_that_builds_one_member_does_not_see_the_others_sources() {
    let text = SPEC
        .replace(
            "cargo = [\"build\", \"--bin\", \"hello\"]",
            "cargo = [\"build\", \"-p\", \"b\"]",
        )
        .replace(
            "artifacts = { hello = \"hello\" }",
            "artifacts = { hello = \"b\" }",
        );
    let project = ProjectFiles {
        files: BTreeMap::from([
            (
                "Cargo.toml".to_string(),
                b"[workspace]\nmembers = [\"a\", \"b\"]\n".to_vec(),
            ),
            (
                "a/Cargo.toml".to_string(),
                b"[package]\nname = \"a\"\n".to_vec(),
            ),
            (
                "b/Cargo.toml".to_string(),
                b"[package]\nname = \"b\"\n".to_vec(),
            ),
        ]),
    };
    let c = compiled_with(&text, "build", project);
    let include: Vec<String> =
        serde_json::from_str(&local_sources(&c)[0].attrs["local.includepattern"]).unwrap();
    assert!(include.contains(&"b/src".to_string()), "{include:?}");
    assert!(include.contains(&"a/Cargo.toml".to_string()), "{include:?}");
    assert!(
        !include.iter().any(|p| p.starts_with("a/src")),
        "{include:?}"
    );
    let stub = ops(&c).into_iter().any(|(_, op)| match op.op {
        Some(OpKind::File(f)) => f.actions.iter().any(|a| {
            matches!(&a.action, Some(pb::file_action::Action::Mkfile(m)) if m.path == "/a/src/lib.rs" && m.data == super::sources::guarded_stub_source("a", "a/src/lib.rs").as_bytes())
        }),
        _ => false,
    });
    assert!(
        stub,
        "member a gets an empty stand-in, one that fails if compiled"
    );
    let guard = super::sources::guarded_stub_source("a", "a/src/lib.rs");
    assert!(
        guard.starts_with("compile_error!(\n    \"Cachet: package `a` reached this cargo step as an empty stand-in (a/src/lib.rs)")
            && guard.contains("Select it with `-p a`, or list its directory under `[project] include`"),
        "{guard}"
    );
}

/// The cargo exec as current BuildKit keys it: cache mount ids (and sharing) cleared.
fn exec_key_without_mount_ids(c: &Compiled) -> pb::ExecOp {
    let mut exec = exec_ops(c)
        .into_iter()
        .find(|e| e.meta.as_ref().unwrap().args[2].contains("--offline"))
        .unwrap();
    for m in &mut exec.mounts {
        if let Some(cache) = &mut m.cache_opt {
            cache.id.clear();
            cache.sharing = 0;
        }
    }
    exec
}

#[test]
fn every_output_affecting_input_is_in_the_exec_itself_not_only_the_mount_id() {
    // Current BuildKit drops cache mount ids from exec cache keys, so each strict-key input
    // that can change the output must change the exec op even with mount ids cleared.
    let base = exec_key_without_mount_ids(&compiled("build", SDK_DIGEST));
    let variants = [
        ("rustflags", SPEC.replace("+crt-static", "-crt-static")),
        ("env", SPEC.replace("-O2", "-O3")),
        (
            "features",
            SPEC.replace("[cargo]", "[cargo]\nfeatures = [\"tls\"]"),
        ),
        (
            "default-features",
            SPEC.replace("[cargo]", "[cargo]\ndefault-features = false"),
        ),
        (
            "profile",
            SPEC.replace("[cargo]", "[cargo]\nprofile = \"dev\""),
        ),
    ];
    for (what, text) in variants {
        let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
        let c = compile(&spec, &request("build", SDK_DIGEST)).unwrap();
        assert_ne!(exec_key_without_mount_ids(&c), base, "{what}");
    }
    let other_sdk = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    assert_ne!(
        exec_key_without_mount_ids(&compiled("build", other_sdk)),
        base,
        "sdk"
    );
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut host = request("build", SDK_DIGEST);
    host.network_override = Some(NetMode::Host);
    assert_ne!(
        exec_key_without_mount_ids(&compile(&spec, &host).unwrap()),
        base,
        "network"
    );
    // Mode and project only pick the mount; the output is the same, so sharing is correct.
    let fast = SPEC.replace("[cargo]", "[cargo]\nmode = \"fast\"");
    let spec = spec::load("Cachet.toml", &fast, &BTreeMap::new()).unwrap();
    let c = compile(&spec, &request("build", SDK_DIGEST)).unwrap();
    assert_eq!(exec_key_without_mount_ids(&c).meta, base.meta);
}

#[test]
fn a_forced_host_network_never_shares_the_hermetic_target_cache() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut host = request("build", SDK_DIGEST);
    host.network_override = Some(NetMode::Host);
    let a = compiled("build", SDK_DIGEST).cargo_keys["build"].clone();
    let b = compile(&spec, &host).unwrap().cargo_keys["build"].clone();
    assert_ne!(a.strict.mount_id, b.strict.mount_id);
}

#[test]
fn the_dependency_layer_compiles_third_party_crates_only_and_seeds_an_empty_cache() {
    let c = compiled_travelling(SPEC, "build", workspace_files(REMOTE_LOCK));
    let execs = exec_ops(&c);
    let deps = execs
        .iter()
        .find(|e| {
            e.meta.as_ref().unwrap().args[2]
                .contains("build --profile release --target x86_64-unknown-linux-gnu -p hello\n")
        })
        .expect("a dependency layer step");
    let build = execs
        .iter()
        .find(|e| e.meta.as_ref().unwrap().args[2].contains("cp -a /cachet/deps/."))
        .unwrap();
    let deps_meta = deps.meta.as_ref().unwrap();
    let script = &deps_meta.args[2];
    // It starts from its own dependency cache and leaves its result there.
    let cache = deps
        .mounts
        .iter()
        .find(|m| m.dest == "/cachet/deps-cache")
        .expect("a dependency cache mount");
    let cache_opt = cache.cache_opt.as_ref().expect("a cache mount");
    assert!(
        cache_opt
            .id
            .starts_with("cachet/deps/x86_64-unknown-linux-gnu/release/"),
        "{}",
        cache_opt.id
    );
    assert_eq!(cache_opt.sharing, pb::CacheSharingOpt::Locked as i32);
    let copy_in = script
        .find("then cp -a /cachet/deps-cache/. /cachet/target/; fi")
        .expect("copies the warm directory in");
    let run = script.find("cargo --locked --offline").unwrap();
    let copy_out = script
        .find("cp -a /cachet/target/. /cachet/deps-cache/")
        .expect("copies the result back");
    assert!(copy_in < run && run < copy_out, "{script}");
    assert!(
        !script.contains("find /cachet/deps-cache -mindepth 1 -delete\nif"),
        "only --no-cache empties it first: {script}"
    );
    assert!(
        script.contains(
            "cargo --locked --offline --config /cachet/vendor/config.toml build --profile release \
             --target x86_64-unknown-linux-gnu -p hello\n"
        ),
        "{script}"
    );
    // Stand-in artifacts are removed where cargo puts target code and where it puts host code
    // (build scripts, proc-macros), and uplifted files from the top of both.
    for dir in [
        "/cachet/target/x86_64-unknown-linux-gnu/release",
        "/cachet/target/release",
    ] {
        for doomed in [
            format!("{dir}/.fingerprint/hello-????????????????"),
            format!("{dir}/build/hello-????????????????"),
            format!("{dir}/deps/libhello-????????????????*"),
            format!("{dir}/deps/hello-????????????????*"),
            format!("{dir}/incremental"),
        ] {
            assert!(
                script.contains(&format!(" {doomed}")),
                "{doomed} is removed: {script}"
            );
        }
        assert!(
            script.contains(&format!(
                "[ ! -d {dir} ] || find {dir} -maxdepth 1 -type f -delete"
            )),
            "{script}"
        );
    }
    assert!(
        !script.contains("rm -rf /cachet/target/release/deps ")
            && !script.contains("/cachet/target/release/build "),
        "third-party host code (build scripts, proc-macros) stays in the layer: {script}"
    );
    let manifest_at = script
        .find("cachet-helper freshness --state /cachet/target/.cachet")
        .expect("the layer records its freshness manifest");
    assert!(
        script.contains("cachet-helper freshness --state /cachet/target/.cachet --layer"),
        "in whole seconds, which survive a layer export: {script}"
    );
    assert!(
        manifest_at < script.find("cargo --locked").unwrap(),
        "before cargo takes its fingerprints: {script}"
    );
    assert!(
        !script.contains("rm -rf /cachet/target/.cachet"),
        "and keeps it for the seeded cache: {script}"
    );
    assert_eq!(deps.network, pb::NetMode::None as i32);
    assert_eq!(
        deps_meta.env,
        build.meta.as_ref().unwrap().env,
        "the same environment, so fingerprints match"
    );
    let target = deps
        .mounts
        .iter()
        .find(|m| m.dest == "/cachet/target")
        .unwrap();
    assert!(
        target.cache_opt.is_none() && target.output >= 0,
        "a layer, not a mount"
    );
    let seed = build
        .mounts
        .iter()
        .find(|m| m.dest == "/cachet/deps")
        .unwrap();
    assert!(seed.readonly);
    let build_script = &build.meta.as_ref().unwrap().args[2];
    let seed_at = build_script
        .find("cp -a /cachet/deps/. /cachet/target/")
        .unwrap();
    assert!(
        build_script[..seed_at].contains("ls -A /cachet/target"),
        "only when empty"
    );
    assert!(
        seed_at < build_script.find("cachet-helper freshness").unwrap(),
        "before freshness"
    );
    assert!(c.steps.iter().any(|s| s.kind == StepKind::Dependencies
        && s.name.starts_with("[build] prebuild dependencies · ")));
}

#[test]
fn source_edits_never_change_the_dependency_layer() {
    let find_deps = |c: &Compiled| {
        c.steps
            .iter()
            .find(|s| s.kind == StepKind::Dependencies)
            .unwrap()
            .digest
            .clone()
    };
    let a = compiled_travelling(SPEC, "build", workspace_files(REMOTE_LOCK));
    // A different sources selection for the build step (an extra include) changes the build's
    // snapshot only.
    let b = compiled_travelling(
        &SPEC.replace(
            "name = \"hello\"",
            "name = \"hello\"\ninclude = [\"assets\"]",
        ),
        "build",
        workspace_files(REMOTE_LOCK),
    );
    assert_eq!(find_deps(&a), find_deps(&b));
    let flags = compiled_travelling(
        &SPEC.replace("+crt-static", "-crt-static"),
        "build",
        workspace_files(REMOTE_LOCK),
    );
    assert_ne!(
        find_deps(&a),
        find_deps(&flags),
        "flags are inputs of the layer"
    );
    // Lockfile and manifests reach it by content, through its snapshot (BuildKit keys that).
    let record = a
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Dependencies)
        .unwrap();
    let include = record.inputs["sources"]["include"].as_array().unwrap();
    assert!(include.contains(&serde_json::json!("Cargo.lock")));
    assert!(include.contains(&serde_json::json!("Cargo.toml")));
    assert!(!include.contains(&serde_json::json!("src")), "{include:?}");
}

#[test]
fn a_dependency_target_returns_the_dependency_layer() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    assert_eq!(
        spec.select_target(Some("build.deps")).unwrap(),
        spec::TargetRef {
            name: "build".into(),
            layer: true
        }
    );
    assert!(spec
        .select_target(Some("image.deps"))
        .unwrap_err()
        .contains("image target"));
    let c = compiled_with(SPEC, "build.deps", workspace_files(REMOTE_LOCK));
    let deps = c
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Dependencies)
        .unwrap();
    // The result is the dependency step's /cachet/target output.
    let ops = ops(&c);
    let (_, last) = ops.last().unwrap();
    let input = &last.inputs[0];
    assert_eq!(input.digest, deps.digest);
    assert!(c.image_config.is_none());

    let lock = "version = 3\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n";
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut req = request("build.deps", SDK_DIGEST);
    req.project = workspace_files(lock);
    let e = compile(&spec, &req).unwrap_err().to_string();
    assert!(e.contains("has no dependency layer"), "{e}");
}

#[test]
fn an_amd64_level_is_a_codegen_flag_and_a_separate_cache() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut v2 = request("build", SDK_DIGEST);
    v2.platform = Platform::parse("linux/amd64/v2").unwrap();
    let c = compile(&spec, &v2).unwrap();
    let env = exec_ops(&c)[0].meta.as_ref().unwrap().env.clone();
    assert!(env.contains(
        &"CARGO_ENCODED_RUSTFLAGS=-C\u{1f}target-cpu=x86-64-v2\u{1f}-C\u{1f}target-feature=+crt-static"
            .to_string()
    ));
    let base = compiled("build", SDK_DIGEST);
    assert_ne!(
        c.cargo_keys["build"].strict.mount_id,
        base.cargo_keys["build"].strict.mount_id
    );
    assert_ne!(
        c.cargo_keys["build"].fast.mount_id, base.cargo_keys["build"].fast.mount_id,
        "platforms never share a mount, in either mode"
    );
}

#[test]
fn a_project_that_vendors_itself_gets_a_dependency_layer_without_a_fetch_step() {
    let mut project = workspace_files(REMOTE_LOCK);
    project.files.insert(
        ".cargo/config.toml".to_string(),
        b"[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"third_party\"\n"
            .to_vec(),
    );
    let c = compiled_travelling(SPEC, "build", project);
    let execs = exec_ops(&c);
    assert_eq!(
        execs.len(),
        2,
        "dependency layer and build, nothing fetched"
    );
    let deps = c
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Dependencies)
        .expect("a dependency layer");
    let include = deps.inputs["sources"]["include"].as_array().unwrap();
    assert!(
        include.contains(&serde_json::json!("third_party")),
        "the user's vendor directory is an input of the layer: {include:?}"
    );
    assert!(!include.contains(&serde_json::json!("src")), "{include:?}");
    for exec in &execs {
        let script = &exec.meta.as_ref().unwrap().args[2];
        assert!(!script.contains("/cachet/vendor"), "{script}");
        assert!(
            script.contains("cargo --locked --offline build"),
            "{script}"
        );
        assert!(exec.mounts.iter().all(|m| m.dest != "/cachet/vendor"));
        // Cargo never re-checks a vendored crate's files: the freshness pass watches them.
        assert!(
            script.contains("cachet-helper freshness --state /cachet/target/.cachet")
                && script.contains(" --vendor third_party"),
            "{script}"
        );
    }
}

/// `hello` (the root package, with a registry dependency) and `greet`, a path dependency.
pub(super) fn workspace_with_a_library() -> ProjectFiles {
    let mut project = workspace_files(REMOTE_LOCK);
    project.files.insert(
        "Cargo.toml".to_string(),
        b"[package]\nname = \"hello\"\nversion = \"0.1.0\"\n[dependencies]\nitoa = \"1\"\ngreet = { path = \"greet\" }\n[workspace]\n"
            .to_vec(),
    );
    project.files.insert(
        "greet/Cargo.toml".to_string(),
        b"[package]\nname = \"greet\"\nversion = \"0.1.0\"\n".to_vec(),
    );
    project
}

#[test]
fn a_travelling_cache_gets_the_workspace_dependencies_layered_on_the_third_party_ones() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut req = request("build", SDK_DIGEST);
    req.project = workspace_with_a_library();
    let local = compile(&spec, &req).unwrap();
    assert!(
        !local
            .steps
            .iter()
            .any(|s| s.kind == StepKind::WorkspaceDependencies),
        "a developer loop (no cache import or inline cache) never pays for the layer"
    );

    req.cache_travels = true;
    let ci = compile(&spec, &req).unwrap();
    let step = |kind| ci.steps.iter().find(|s| s.kind == kind).unwrap();
    let (third_party, workspace) = (
        step(StepKind::Dependencies),
        step(StepKind::WorkspaceDependencies),
    );
    assert!(workspace
        .name
        .starts_with("[build] prebuild workspace dependencies · "));
    assert_eq!(
        workspace.inputs["dependencies"],
        serde_json::json!(third_party.digest),
        "built on top of the third-party layer"
    );
    let include = workspace.inputs["sources"]["include"].as_array().unwrap();
    assert!(
        include
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("greet/")),
        "the library's real sources: {include:?}"
    );
    let stubs = workspace.inputs["sources"]["stubs"].as_array().unwrap();
    assert_eq!(
        stubs,
        &vec![serde_json::json!("src/lib.rs")],
        "the named package is a stand-in"
    );

    let all = ops(&ci);
    let op = |digest: &str| {
        all.iter()
            .find(|(d, _)| d == digest)
            .map(|(_, op)| op.clone())
            .unwrap()
    };
    let exec = |op: &pb::Op| match &op.op {
        Some(OpKind::Exec(e)) => e.clone(),
        _ => panic!("not an exec"),
    };
    let on_top = op(&workspace.digest);
    let target = exec(&on_top)
        .mounts
        .into_iter()
        .find(|m| m.dest == "/cachet/target")
        .unwrap();
    assert_eq!(
        on_top.inputs[target.input as usize].digest, third_party.digest,
        "the third-party layer is the starting point of the target directory"
    );
    let script = exec(&on_top).meta.unwrap().args[2].clone();
    assert!(
        script.contains(
            "/cachet/target/x86_64-unknown-linux-gnu/release/.fingerprint/hello-????????????????"
        ),
        "{script}"
    );
    assert!(
        !script.contains(".fingerprint/greet-"),
        "the library's artifacts stay: {script}"
    );
    let third_party_script = exec(&op(&third_party.digest)).meta.unwrap().args[2].clone();
    assert!(
        third_party_script.contains(".fingerprint/greet-????????????????"),
        "{third_party_script}"
    );

    // The cargo step is seeded from the top layer, and `build.deps` is that layer.
    let cargo = ci.steps.iter().find(|s| s.kind == StepKind::Cargo).unwrap();
    let cargo_op = op(&cargo.digest);
    let seed = exec(&cargo_op)
        .mounts
        .into_iter()
        .find(|m| m.dest == "/cachet/deps")
        .unwrap();
    assert_eq!(
        cargo_op.inputs[seed.input as usize].digest,
        workspace.digest
    );
    req.target = "build.deps".into();
    let deps = compile(&spec, &req).unwrap();
    let last = ops(&deps).pop().unwrap().1;
    assert_eq!(last.inputs[0].digest, workspace.digest);
}

/// The cargo arguments of an exec that runs a step script: what follows the script's path.
fn cargo_argv(exec: &pb::ExecOp) -> Vec<String> {
    let args = &exec.meta.as_ref().unwrap().args;
    assert!(args[1].starts_with(step_script::SCRIPT_DIR), "{args:?}");
    args[2..].to_vec()
}

/// The subcommand of a cargo command line and where it is: the first argument after `cargo`
/// that is neither a flag nor the value of `--config`.
fn subcommand_at(argv: &[String]) -> (usize, &str) {
    assert_eq!(argv[0], "cargo", "{argv:?}");
    let mut i = 1;
    while argv[i].starts_with('-') {
        i += if argv[i] == "--config" { 2 } else { 1 };
    }
    (i, argv[i].as_str())
}

#[test]
fn every_exec_that_compiles_passes_the_platforms_triple_as_target() {
    // Every kind of step: builds, tests, lints, docs, a run; `tree` takes `--target` too, while
    // `metadata` and `fmt` have no such flag and must not get one.
    let text = format!(
        "{SPEC}\
         [target.test]\ncargo = [\"test\", \"--workspace\", \"--\", \"--nocapture\"]\n\
         [target.check]\ncargo = [\"check\", \"--all-targets\"]\n\
         [target.bench]\ncargo = [\"bench\", \"--no-run\"]\n\
         [target.doc]\ncargo = [\"doc\", \"--no-deps\"]\n\
         [target.run]\ncargo = [\"run\", \"--bin\", \"hello\"]\n\
         [target.rustc]\ncargo = [\"rustc\", \"--bin\", \"hello\", \"--\", \"-C\", \"debuginfo=0\"]\n\
         [target.tree]\ncargo = [\"tree\"]\n\
         [target.metadata]\ncargo = [\"metadata\", \"--format-version\", \"1\"]\n\
         [target.fmt]\ncargo = [\"fmt\", \"--check\"]\n"
    );
    let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
    let building = [
        "build", "lint", "test", "check", "bench", "doc", "run", "rustc",
    ];
    for (platform, triple) in [
        ("linux/amd64", "x86_64-unknown-linux-gnu"),
        ("linux/arm64", "aarch64-unknown-linux-gnu"),
        ("linux/amd64/v3", "x86_64-unknown-linux-gnu"),
    ] {
        for target in building.iter().chain(&["tree", "metadata", "fmt"]) {
            let mut req = request(target, SDK_DIGEST);
            // On a worker of that platform (cross builds: `cross_tests`).
            req.platform = Platform::parse(platform).unwrap();
            req.build_platform = req.platform.clone();
            req.build_platform = req.platform.clone();
            // Both dependency layers are planned: they must agree with the step exactly.
            req.cache_travels = true;
            req.project = workspace_with_a_library();
            let c = compile(&spec, &req).unwrap();
            let mut compiling = 0;
            for (_, op) in raw_ops(&c) {
                let Some(OpKind::Exec(exec)) = &op.op else {
                    continue;
                };
                if is_why_exec(exec) {
                    continue;
                }
                let argv = cargo_argv(exec);
                let (at, subcommand) = subcommand_at(&argv);
                let targets = argv.windows(2).filter(|w| w[0] == "--target").count();
                if subcommand == "vendor" {
                    assert_eq!(targets, 0, "vendoring is for every platform: {argv:?}");
                    continue;
                }
                if ["metadata", "fmt"].contains(&subcommand) {
                    assert_eq!(targets, 0, "{platform} {target}: {argv:?}");
                    continue;
                }
                // Among the flags Cachet puts right after the subcommand (after `--profile P`
                // for a subcommand that compiles), so it is cargo's and never a tool's
                // (`clippy -- …`, `rustc -- …`, `test -- …`).
                let expected_at = if subcommand == "tree" { at + 1 } else { at + 3 };
                assert_eq!(
                    argv[expected_at..expected_at + 2],
                    ["--target".to_string(), triple.to_string()],
                    "{platform} {target}: {argv:?}"
                );
                assert_eq!(targets, 1, "{platform} {target}: {argv:?}");
                compiling += 1;
            }
            let expected = match *target {
                // A dependency layer and the workspace members' layer on top, then the step.
                "build" | "lint" | "test" | "check" | "bench" | "run" => 3,
                // `doc` and `rustc` have no dependency layer.
                "doc" | "rustc" | "tree" => 1,
                _ => 0,
            };
            assert_eq!(compiling, expected, "{platform} {target}");
        }
    }
}

#[test]
fn artifacts_are_copied_from_the_triples_profile_directory() {
    for (platform, profile, dir) in [
        (
            "linux/amd64",
            "release",
            "/cachet/target/x86_64-unknown-linux-gnu/release",
        ),
        (
            "linux/arm64",
            "release",
            "/cachet/target/aarch64-unknown-linux-gnu/release",
        ),
        (
            "linux/amd64",
            "dev",
            "/cachet/target/x86_64-unknown-linux-gnu/debug",
        ),
        (
            "linux/arm64",
            "bench",
            "/cachet/target/aarch64-unknown-linux-gnu/release",
        ),
    ] {
        let text = SPEC.replace("[cargo]\n", &format!("[cargo]\nprofile = \"{profile}\"\n"));
        let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
        let mut req = request("build", SDK_DIGEST);
        req.platform = Platform::parse(platform).unwrap();
        req.build_platform = req.platform.clone();
        let c = compile(&spec, &req).unwrap();
        let script = exec_ops(&c)[0].meta.as_ref().unwrap().args[2].clone();
        let copies: Vec<&str> = script.lines().filter(|l| l.starts_with("cp ")).collect();
        assert_eq!(
            copies,
            [format!("cp -pR {dir}/hello /cachet/out/hello")],
            "{platform} {profile}: {script}"
        );
    }
}

#[test]
fn the_dependency_layer_removes_stand_ins_from_target_and_host_directories() {
    let mut req = request("build", SDK_DIGEST);
    req.platform = Platform::parse("linux/arm64").unwrap();
    req.build_platform = req.platform.clone();
    req.cache_travels = true;
    req.project = workspace_with_a_library();
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let c = compile(&spec, &req).unwrap();
    let all = ops(&c);
    let script = |kind: StepKind| {
        let step = c.steps.iter().find(|s| s.kind == kind).unwrap();
        let (_, op) = all.iter().find(|(d, _)| *d == step.digest).unwrap();
        let Some(OpKind::Exec(exec)) = &op.op else {
            panic!("{kind:?} is an exec")
        };
        exec.meta.as_ref().unwrap().args[2].clone()
    };
    let removal = |script: &str| {
        script
            .lines()
            .find(|l| l.starts_with("rm -rf /cachet/target/"))
            .unwrap_or_else(|| panic!("no removal in {script}"))
            .split(' ')
            .skip(2)
            .map(str::to_string)
            .collect::<BTreeSet<String>>()
    };
    let target = "/cachet/target/aarch64-unknown-linux-gnu/release";
    let host = "/cachet/target/release";
    // Third-party layer: both workspace packages are stand-ins, in both directories.
    let third_party = removal(&script(StepKind::Dependencies));
    // Workspace layer: only the step's own package is.
    let on_top = removal(&script(StepKind::WorkspaceDependencies));
    for dir in [target, host] {
        for package in ["hello", "greet"] {
            for doomed in [
                format!("{dir}/.fingerprint/{package}-????????????????"),
                format!("{dir}/build/{package}-????????????????"),
                format!("{dir}/deps/lib{package}-????????????????*"),
                format!("{dir}/deps/{package}-????????????????*"),
            ] {
                assert!(third_party.contains(&doomed), "{doomed}: {third_party:?}");
                assert_eq!(
                    on_top.contains(&doomed),
                    package == "hello",
                    "{doomed}: {on_top:?}"
                );
            }
        }
        for doomed in [format!("{dir}/incremental"), format!("{dir}/examples")] {
            assert!(third_party.contains(&doomed) && on_top.contains(&doomed));
        }
    }
    // Nothing else: no directory of third-party code (`deps`, `build`, the proc-macros and
    // build scripts of dependencies under the host directory) goes wholesale.
    assert!(
        third_party
            .iter()
            .all(|p| p.ends_with("/incremental") || p.ends_with("/examples") || p.contains('?')),
        "{third_party:?}"
    );
}

/// `SPEC` with `lines` added to its `[sdk]` section.
fn with_sdk_lines(lines: &str) -> String {
    SPEC.replace(
        "image = \"cachet-sdk:rustup\"\n",
        &format!("image = \"cachet-sdk:rustup\"\n{lines}\n"),
    )
}

/// The SDK extended with two packages and a command.
const SETUP: &str = "packages = [\"make\", \"cmake\"]\nsetup = [\"make --version\"]";

/// `(digest, op, exec)` of every exec, scripts shown inline (see [`ops`]).
fn execs_with_digests(c: &Compiled) -> Vec<(String, pb::Op, pb::ExecOp)> {
    ops(c)
        .into_iter()
        .filter_map(|(d, op)| match &op.op {
            Some(OpKind::Exec(e)) if !is_why_exec(e) => Some((d.clone(), op.clone(), e.clone())),
            _ => None,
        })
        .collect()
}

/// The SDK setup exec (its raw arguments, not the inline form) and its digest.
fn setup_exec(c: &Compiled) -> (String, pb::Op, pb::ExecOp) {
    let setups: Vec<_> = raw_ops(c)
        .into_iter()
        .filter_map(|(d, op)| match &op.op {
            Some(OpKind::Exec(e))
                if e.meta.as_ref().unwrap().args.get(1).map(String::as_str)
                    == Some("/cachet/step/sdk-setup.sh") =>
            {
                Some((d.clone(), op.clone(), e.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(setups.len(), 1, "one setup step");
    setups.into_iter().next().unwrap()
}

/// `CACHET_SDK` of an exec.
fn cachet_sdk(exec: &pb::ExecOp) -> String {
    exec.meta
        .as_ref()
        .unwrap()
        .env
        .iter()
        .find_map(|e| e.strip_prefix("CACHET_SDK="))
        .unwrap_or_else(|| panic!("no CACHET_SDK: {:?}", exec.meta))
        .to_string()
}

#[test]
fn without_packages_or_setup_the_sdk_is_the_image_itself() {
    let plain = compiled_with(SPEC, "image", workspace_files(REMOTE_LOCK));
    let empty = compiled_with(
        &with_sdk_lines("packages = []\nsetup = []"),
        "image",
        workspace_files(REMOTE_LOCK),
    );
    assert_eq!(
        definition_bytes(&empty.definition),
        definition_bytes(&plain.definition),
        "empty lists change nothing"
    );
    assert_eq!(plain.sdk, SDK_DIGEST, "the identity is the image's");
    assert!(!plain.steps.iter().any(|s| s.kind == StepKind::SdkSetup));
    for (_, op, exec) in execs_with_digests(&plain) {
        assert_eq!(cachet_sdk(&exec), SDK_DIGEST);
        let root = exec.mounts.iter().find(|m| m.dest == "/").unwrap();
        let input = &op.inputs[root.input as usize].digest;
        let Some((_, source)) = raw_ops(&plain).into_iter().find(|(d, _)| d == input) else {
            panic!("root input {input}")
        };
        assert!(
            matches!(&source.op, Some(OpKind::Source(s)) if s.identifier.starts_with("docker-image://")),
            "every step runs on the image itself: {source:?}"
        );
    }
}

#[test]
fn packages_and_setup_run_once_with_network_and_every_step_runs_on_the_result() {
    let c = compiled_travelling(
        &with_sdk_lines(SETUP),
        "image",
        workspace_files(REMOTE_LOCK),
    );
    let (setup_digest, setup_op, setup) = setup_exec(&c);
    let meta = setup.meta.as_ref().unwrap();
    assert_eq!(
        meta.args,
        ["/bin/sh", "/cachet/step/sdk-setup.sh", "make --version"],
        "the commands are the arguments, so a failed setup names them"
    );
    assert_eq!(meta.user, "0:0", "installing packages needs root");
    assert_eq!(
        cachet_sdk(&setup),
        SDK_DIGEST,
        "keyed on the image identity"
    );
    assert_eq!(setup.network, pb::NetMode::Unset as i32, "sandbox network");
    assert!(
        meta.env
            .iter()
            .any(|e| e.starts_with("PATH=/usr/local/rust/bin")),
        "the image's env applies: {:?}",
        meta.env
    );
    let root = setup.mounts.iter().find(|m| m.dest == "/").unwrap();
    assert_eq!(root.output, 0, "the root filesystem is the step's result");
    let image = raw_ops(&c)
        .into_iter()
        .find(|(d, _)| *d == setup_op.inputs[root.input as usize].digest)
        .unwrap()
        .1;
    assert!(
        matches!(&image.op, Some(OpKind::Source(s)) if s.identifier == format!("docker-image://docker.io/library/cachet-sdk:rustup@{SDK_DIGEST}")),
        "runs on the pinned image: {image:?}"
    );
    let tmp = setup.mounts.iter().find(|m| m.dest == "/tmp").unwrap();
    assert_eq!(tmp.mount_type, pb::MountType::Tmpfs as i32);

    let all = raw_ops(&c);
    let (_, setup_raw) = all.iter().find(|(d, _)| *d == setup_digest).unwrap();
    let script = step_script_text(&all, setup_raw, &setup).unwrap();
    let lines: Vec<&str> = script.lines().collect();
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("no line `{line}` in:\n{script}"))
    };
    let install = at("apt-get install -y --no-install-recommends cmake make");
    assert!(at("export DEBIAN_FRONTEND=noninteractive") < at("apt-get update"));
    assert!(at("apt-get update") < install, "{script}");
    assert!(install < at("rm -rf /var/lib/apt/lists/*"), "{script}");
    assert!(
        lines[install + 2].contains("/bin/sh -ec -- \"$cachet_command\""),
        "commands after the packages:\n{script}"
    );

    // Fetch, dependency layer and cargo step all run on the setup's result, with the new
    // identity.
    assert_ne!(c.sdk, SDK_DIGEST);
    let others: Vec<_> = execs_with_digests(&c)
        .into_iter()
        .filter(|(d, _, _)| *d != setup_digest)
        .collect();
    assert_eq!(others.len(), 3, "fetch, dependency layer and build");
    for (digest, op, exec) in &others {
        let root = exec.mounts.iter().find(|m| m.dest == "/").unwrap();
        assert_eq!(
            (
                op.inputs[root.input as usize].digest.as_str(),
                op.inputs[root.input as usize].index
            ),
            (setup_digest.as_str(), 0),
            "{digest} runs on the extended SDK"
        );
        assert_eq!(cachet_sdk(exec), c.sdk, "{digest}");
        assert!(
            exec.meta.as_ref().unwrap().user.is_empty(),
            "the image's user"
        );
    }
    let record = &c.steps[0];
    assert_eq!(record.kind, StepKind::SdkSetup, "the setup comes first");
    assert_eq!(record.target, "sdk");
    assert_eq!(record.digest, setup_digest);
    assert_eq!(record.name, format!("[sdk] setup · {}", &c.sdk[7..13]));
    let named: Vec<&String> = c
        .definition
        .metadata
        .values()
        .filter_map(|m| m.description.get(crate::llb::CUSTOM_NAME_KEY))
        .filter(|n| n.starts_with("[sdk] setup · "))
        .collect();
    assert_eq!(
        named,
        [&record.name],
        "progress shows one setup step by that name"
    );
    assert_eq!(
        record.inputs["packages"],
        serde_json::json!(["cmake", "make"])
    );
    assert_eq!(
        record.inputs["setup"],
        serde_json::json!(["make --version"])
    );
    assert_eq!(
        record.inputs["image_identity"],
        serde_json::json!(SDK_DIGEST)
    );
    assert_eq!(record.inputs["network"], serde_json::json!("sandbox"));
    let config: serde_json::Value =
        serde_json::from_slice(c.image_config.as_ref().unwrap()).unwrap();
    assert_eq!(config["config"]["Labels"]["dev.cachet.sdk"], c.sdk.as_str());

    // The same network override as the fetch step.
    let spec = spec::load("Cachet.toml", &with_sdk_lines(SETUP), &BTreeMap::new()).unwrap();
    let mut host = request("build", SDK_DIGEST);
    host.network_override = Some(NetMode::Host);
    assert_eq!(
        setup_exec(&compile(&spec, &host).unwrap()).2.network,
        pb::NetMode::Host as i32
    );
}

#[test]
fn a_setup_change_is_a_new_sdk_identity_in_every_exec_and_every_target_cache() {
    let build = |lines: &str| {
        let spec = spec::load("Cachet.toml", &with_sdk_lines(lines), &BTreeMap::new()).unwrap();
        let mut req = request("image", SDK_DIGEST);
        req.project = workspace_files(REMOTE_LOCK);
        compile(&spec, &req).unwrap()
    };
    let plain = compiled_with(SPEC, "image", workspace_files(REMOTE_LOCK));
    let base = build(SETUP);
    // Steps and file ops downstream of the SDK (scripts on scratch have nothing upstream).
    let downstream = |c: &Compiled| -> Vec<String> {
        ops(c)
            .into_iter()
            .filter(|(_, op)| match op.op {
                Some(OpKind::Exec(_)) => true,
                Some(OpKind::File(_)) => !op.inputs.is_empty(),
                _ => false,
            })
            .map(|(d, _)| d)
            .collect()
    };
    let changes = [
        (
            "a package more",
            "packages = [\"make\", \"cmake\", \"file\"]\nsetup = [\"make --version\"]",
        ),
        (
            "a command more",
            "packages = [\"make\", \"cmake\"]\nsetup = [\"make --version\", \"true\"]",
        ),
        (
            "a pinned version",
            "packages = [\"make=4.3-4.1\", \"cmake\"]\nsetup = [\"make --version\"]",
        ),
        ("packages only", "packages = [\"make\", \"cmake\"]"),
        ("setup only", "setup = [\"make --version\"]"),
    ];
    let mut seen = vec![plain.sdk.clone(), base.sdk.clone()];
    for (what, lines) in changes {
        let c = build(lines);
        assert!(!seen.contains(&c.sdk), "{what}: a new identity");
        seen.push(c.sdk.clone());
        let setup = setup_exec(&c).0;
        for (digest, _, exec) in execs_with_digests(&c) {
            if digest != setup {
                assert_eq!(cachet_sdk(&exec), c.sdk, "{what}");
            }
        }
        for (old, new) in [(&base, &c), (&plain, &c)] {
            let (a, b) = (&old.cargo_keys["build"], &new.cargo_keys["build"]);
            assert_ne!(a.strict.mount_id, b.strict.mount_id, "{what}: strict mount");
            assert_ne!(a.fast.mount_id, b.fast.mount_id, "{what}: fast mount");
            let before = downstream(old);
            for d in downstream(new) {
                assert!(!before.contains(&d), "{what}: op {d} did not change");
            }
        }
    }
    // Package order is no change: apt installs a set.
    let reordered =
        build("packages = [\"cmake\", \"make\", \"make\"]\nsetup = [\"make --version\"]");
    assert_eq!(reordered.sdk, base.sdk);
    assert_eq!(
        definition_bytes(&reordered.definition),
        definition_bytes(&base.definition)
    );
}

#[test]
fn the_sdk_lock_is_on_the_image_before_setup() {
    let text = with_sdk_lines(&format!("digest = \"{SDK_DIGEST}\"\n{SETUP}"));
    let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
    let c = compile(&spec, &request("build", SDK_DIGEST)).unwrap();
    assert_ne!(
        c.sdk, SDK_DIGEST,
        "the build's identity is the extended SDK's"
    );
    let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let e = compile(&spec, &request("build", other))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("resolved to manifest digest {other} (image id "))
            && e.contains(&format!("), but the spec locks it to {SDK_DIGEST}")),
        "{e}"
    );
}

#[test]
fn an_unpinned_dockerd_image_keys_the_setup_by_its_config() {
    let spec = spec::load("Cachet.toml", &with_sdk_lines(SETUP), &BTreeMap::new()).unwrap();
    let c = compile(&spec, &request("build", "")).unwrap();
    let image = crate::keys::sdk_identity("", SDK_CONFIG.as_bytes());
    assert_eq!(cachet_sdk(&setup_exec(&c).2), image);
    let other_config = SDK_CONFIG.replace("WorkingDir\":\"/\"", "WorkingDir\":\"/src\"");
    let mut req = request("build", "");
    req.images.get_mut("cachet-sdk:rustup").unwrap().config = other_config.into_bytes();
    let moved = compile(&spec, &req).unwrap();
    assert_ne!(moved.sdk, c.sdk, "another local image is another SDK");
}

#[test]
fn no_cache_reruns_the_setup_when_asked_for_it_or_for_everything() {
    let spec = spec::load("Cachet.toml", &with_sdk_lines(SETUP), &BTreeMap::new()).unwrap();
    let ignored = |no_cache: NoCache| -> Vec<String> {
        let mut req = request("build", SDK_DIGEST);
        req.no_cache = no_cache;
        let c = compile(&spec, &req).unwrap();
        c.definition
            .metadata
            .iter()
            .filter(|(_, m)| m.ignore_cache)
            .map(|(d, _)| d.clone())
            .collect()
    };
    let setup = setup_exec(&compile(&spec, &request("build", SDK_DIGEST)).unwrap()).0;
    assert!(ignored(NoCache::Off).is_empty());
    assert_eq!(
        ignored(NoCache::Targets(["sdk".to_string()].into())),
        std::slice::from_ref(&setup)
    );
    assert!(!ignored(NoCache::Targets(["build".to_string()].into())).contains(&setup));
    assert!(ignored(NoCache::All).contains(&setup));
}

/// The setup's commands as the script runs them: in order, each in a shell of its own with
/// `-e`, the first failure ending the step. (Packages are left out: this runs on the host.)
#[test]
fn setup_commands_run_in_order_each_in_its_own_shell_until_one_fails() {
    let sdk = spec::SdkRef {
        image: "sdk".into(),
        digest_lock: None,
        packages: Vec::new(),
        setup: vec![
            "echo one >> log; cd /; export CACHET_LEAK=1".into(),
            "echo \"two $(pwd) ${CACHET_LEAK:-none}\" >> log".into(),
            "false; echo not reached >> log".into(),
            "echo never >> log".into(),
        ],
    };
    let script = sdk_setup::script(&sdk).unwrap().join("\n");
    assert!(!script.contains("apt-get"), "{script}");
    let dir = std::env::temp_dir().join(format!("cachet-sdk-setup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .arg("sdk-setup.sh")
        .args(&sdk.setup)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a failing command fails the step");
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert_eq!(
        log,
        format!("one\ntwo {} none\n", dir.display()),
        "own shells: no `cd` or export carries over; `-e` stops at `false`"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[sdk] setup: false; echo not reached >> log")
            && !stdout.contains("[sdk] setup: echo never"),
        "each command is named before it runs: {stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `[cargo] volatile-env` on SPEC: COMMIT comes from a build argument.
fn volatile_spec() -> String {
    SPEC.replace(
        "env = { CFLAGS = \"-O2\" }",
        "env = { CFLAGS = \"-O2\", COMMIT = \"${COMMIT}\" }\nvolatile-env = [\"COMMIT\"]",
    )
    .replace("[sdk]", "[args]\nCOMMIT = \"none\"\n\n[sdk]")
}

fn compiled_at_commit(spec_text: &str, commit: &str, travelling: bool) -> Compiled {
    let args = BTreeMap::from([("COMMIT".to_string(), commit.to_string())]);
    let spec = spec::load("Cachet.toml", spec_text, &args).unwrap();
    let mut req = request("build", SDK_DIGEST);
    req.project = workspace_files(REMOTE_LOCK);
    req.cache_travels = travelling;
    compile(&spec, &req).unwrap()
}

#[test]
fn a_volatile_value_keeps_the_mount_but_reaches_the_step_and_never_a_layer() {
    let spec = volatile_spec();
    let (a, b) = (
        compiled_at_commit(&spec, "aaaa111", false),
        compiled_at_commit(&spec, "bbbb222", false),
    );
    let mount = |c: &Compiled| c.cargo_keys["build"].strict.mount_id.clone();
    assert_eq!(
        mount(&a),
        mount(&b),
        "a new commit id keeps the warm target cache"
    );
    // Keyed like any env without volatile-env: the value selects the mount.
    let plain = spec.replace("\nvolatile-env = [\"COMMIT\"]", "");
    assert_ne!(
        mount(&compiled_at_commit(&plain, "aaaa111", false)),
        mount(&compiled_at_commit(&plain, "bbbb222", false))
    );
    assert_ne!(
        mount(&a),
        mount(&compiled_at_commit(&plain, "aaaa111", false))
    );

    // The value is in the step's own environment, so BuildKit runs it again on a change, and
    // the step checks for undeclared readers around cargo.
    let cargo_exec = |c: &Compiled| -> pb::ExecOp {
        exec_ops(c)
            .into_iter()
            .find(|e| {
                e.mounts.iter().any(|m| m.dest == cargo_step::TARGET_DIR) && {
                    let args = &e.meta.as_ref().unwrap().args;
                    args.iter().any(|a| a.contains("cachet_readers"))
                }
            })
            .expect("the cargo step")
    };
    let env = &cargo_exec(&a).meta.unwrap().env;
    assert!(env.contains(&"COMMIT=aaaa111".to_string()), "{env:?}");

    // A travelling build's dependency layers never see it: a new commit keeps them.
    let (ta, tb) = (
        compiled_at_commit(&spec, "aaaa111", true),
        compiled_at_commit(&spec, "bbbb222", true),
    );
    let layer_digests = |c: &Compiled| -> Vec<String> {
        c.steps
            .iter()
            .filter(|s| s.kind == StepKind::Dependencies)
            .map(|s| s.digest.clone())
            .collect()
    };
    assert!(!layer_digests(&ta).is_empty());
    assert_eq!(layer_digests(&ta), layer_digests(&tb));
    let cargo_digest = |c: &Compiled| -> String {
        c.steps
            .iter()
            .find(|s| s.kind == StepKind::Cargo)
            .map(|s| s.digest.clone())
            .unwrap()
    };
    assert_ne!(
        cargo_digest(&ta),
        cargo_digest(&tb),
        "the cargo step runs again"
    );
}

#[test]
fn volatile_env_names_must_be_set_by_an_env() {
    let spec = volatile_spec().replace(
        "volatile-env = [\"COMMIT\"]",
        "volatile-env = [\"BUILD_NO\"]",
    );
    let e = spec::load("Cachet.toml", &spec, &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("volatile-env `BUILD_NO` is not set by any cargo `env`") && e.contains(":12:"),
        "{e}"
    );
    let spec = volatile_spec().replace("volatile-env = [\"COMMIT\"]", "volatile-env = [\"A-B\"]");
    let e = spec::load("Cachet.toml", &spec, &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected an environment variable name"), "{e}");
}

/// Issue 14: two targets that differ only in an argument cargo cannot fingerprint (an `[env]`
/// value a build script reads undeclared, a profile setting) never share a strict target
/// cache, and the exec itself differs too; selection and reporting arguments share it, so a
/// `build` and a `test` target stay warm for each other.
#[test]
fn cargo_arguments_that_change_the_output_key_the_target_cache() {
    let spec_with = |targets: &str| {
        format!("[project]\nname = \"hello\"\n[sdk]\nimage = \"cachet-sdk:rustup\"\n{targets}")
    };
    let text = spec_with(
        r#"[target.a]
cargo = ["build", "--config", "env.CACHET_FACT=\"a\""]
[target.b]
cargo = ["build", "--config", "env.CACHET_FACT=\"b\""]
[target.opt]
cargo = ["build", "--config", "profile.release.opt-level=1"]
[target.plain]
cargo = ["build", "--workspace"]
[target.test]
cargo = ["test", "--workspace", "-v", "--no-fail-fast", "--", "--nocapture"]
[target.cfg]
cargo = ["rustc", "--lib", "--", "--cfg", "foo"]
"#,
    );
    let keys = |target: &str| {
        let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
        compile(&spec, &request(target, SDK_DIGEST))
            .unwrap()
            .cargo_keys[target]
            .clone()
    };
    let mounts: BTreeMap<&str, String> = ["a", "b", "opt", "plain", "test", "cfg"]
        .into_iter()
        .map(|t| (t, keys(t).strict.mount_id))
        .collect();
    let distinct: BTreeSet<&String> = mounts.values().collect();
    assert_eq!(distinct.len(), 5, "only plain and test share: {mounts:#?}");
    assert_eq!(mounts["plain"], mounts["test"]);
    // Fast mode trusts cargo: one mount for all of them.
    let fast: BTreeSet<String> = ["a", "b", "opt", "plain", "test", "cfg"]
        .into_iter()
        .map(|t| keys(t).fast.mount_id)
        .collect();
    assert_eq!(fast.len(), 1, "{fast:?}");
    // The argument is in the exec itself, not only in the mount id.
    let exec = |target: &str| {
        let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
        exec_key_without_mount_ids(&compile(&spec, &request(target, SDK_DIGEST)).unwrap())
    };
    assert_ne!(exec("a"), exec("b"));
    // And in what `explain` records.
    let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
    let c = compile(&spec, &request("a", SDK_DIGEST)).unwrap();
    let step = c.steps.iter().find(|s| s.kind == StepKind::Cargo).unwrap();
    assert_eq!(
        step.inputs["cargo_args"],
        serde_json::json!(["--config", "env.CACHET_FACT=\"a\""])
    );
}

/// The dependency layer is built with the step's `--config` and `-Z` arguments (they reach
/// every unit), and without its selection, reporting or compiler arguments.
#[test]
fn the_dependency_layer_gets_the_steps_config_arguments() {
    let text = SPEC.replace(
        "cargo = [\"build\", \"--bin\", \"hello\"]",
        "cargo = [\"build\", \"--config\", \"env.CACHET_FACT=\\\"a\\\"\", \"-v\", \"--bin\", \"hello\"]",
    );
    let c = compiled_travelling(&text, "build", workspace_files(REMOTE_LOCK));
    let scripts: Vec<String> = exec_ops(&c)
        .iter()
        .map(|e| e.meta.as_ref().unwrap().args[2].clone())
        .collect();
    let deps = scripts
        .iter()
        .find(|s| s.contains(" -p hello\n"))
        .expect("a dependency layer");
    assert!(
        deps.contains(
            "cargo --locked --offline --config /cachet/vendor/config.toml build --config \
             'env.CACHET_FACT=\"a\"' --profile release --target x86_64-unknown-linux-gnu -p \
             hello\n"
        ),
        "{deps}"
    );
}

/// Issue 14: a registry crate patched with a path crate reaches the cargo step that uses it
/// with its full sources (not as a stand-in), and the dependency layer compiles it as a
/// third-party crate from those sources and keeps what it built.
#[test]
fn a_patched_crate_reaches_the_step_and_the_dependency_layer_with_its_sources() {
    let lock = r#"version = 3
[[package]]
name = "fp"
version = "0.1.0"

[[package]]
name = "hello"
version = "0.1.0"
dependencies = ["fp", "itoa"]

[[package]]
name = "itoa"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "0000000000000000000000000000000000000000000000000000000000000000"
"#;
    let project = ProjectFiles {
        files: BTreeMap::from([
            (
                "Cargo.toml".to_string(),
                b"[package]\nname = \"hello\"\nversion = \"0.1.0\"\n[dependencies]\nitoa = \"1\"\nfp = \"0.1\"\n[patch.crates-io]\nfp = { path = \"patches/fp\" }\n".to_vec(),
            ),
            (
                "patches/fp/Cargo.toml".to_string(),
                b"[package]\nname = \"fp\"\nversion = \"0.1.0\"\n".to_vec(),
            ),
            ("Cargo.lock".to_string(), lock.as_bytes().to_vec()),
        ]),
    };
    let c = compiled_travelling(SPEC, "build", project);
    let includes: Vec<Vec<String>> = local_sources(&c)
        .iter()
        .map(|s| serde_json::from_str(&s.attrs["local.includepattern"]).unwrap())
        .collect();
    // The step's own snapshot, the workspace layer's and the dependency layer's (which gets
    // the masked manifests and lockfile, so it no longer shares the workspace layer's local).
    let with_fp_sources = includes
        .iter()
        .filter(|i| i.contains(&"patches/fp/src".to_string()))
        .count();
    assert_eq!(
        with_fp_sources, 3,
        "step, workspace and dependency layer: {includes:#?}"
    );
    assert!(
        includes
            .iter()
            .any(|i| i.contains(&"patches/fp/Cargo.toml".to_string())
                && !i.iter().any(|p| p.ends_with("/src") || p == "src")),
        "the fetch step sees manifests only: {includes:#?}"
    );
    let stand_ins_for_fp = ops(&c)
        .into_iter()
        .filter(|(_, op)| match &op.op {
            Some(OpKind::File(f)) => f.actions.iter().any(|a| {
                matches!(&a.action, Some(pb::file_action::Action::Mkfile(m)) if m.path.starts_with("/patches/fp/"))
            }),
            _ => false,
        })
        .count();
    assert_eq!(
        stand_ins_for_fp, 1,
        "only the fetch step's snapshot stands in for the patched crate"
    );
    let deps = exec_ops(&c)
        .into_iter()
        .map(|e| e.meta.unwrap().args[2].clone())
        .find(|s| s.contains("x86_64-unknown-linux-gnu -p hello -p fp\n"))
        .unwrap_or_else(|| {
            panic!(
                "a dependency layer: {:#?}",
                exec_ops(&c)
                    .into_iter()
                    .map(|e| e.meta.unwrap().args)
                    .collect::<Vec<_>>()
            )
        });
    assert!(deps.contains("/deps/libhello-"), "{deps}");
    assert!(
        !deps.contains("/.fingerprint/fp-") && !deps.contains("/deps/libfp-"),
        "what the layer built for the patched crate stays: {deps}"
    );
}

/// A new helper (another digest of the frontend image) re-runs the cargo step — its op moves —
/// but keeps the target cache mount: the helper is keyed by BuildKit, not in the mount id.
#[test]
fn a_new_helper_moves_the_cargo_step_but_not_its_target_cache() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let one = compile(&spec, &request("build", SDK_DIGEST)).unwrap();
    let mut other = request("build", SDK_DIGEST);
    other.helper.resolved.digest =
        "sha256:5555555555555555555555555555555555555555555555555555555555555555".into();
    let two = compile(&spec, &other).unwrap();
    let cargo_digest = |c: &Compiled| {
        c.steps
            .iter()
            .find(|s| s.kind == StepKind::Cargo)
            .unwrap()
            .digest
            .clone()
    };
    assert_ne!(cargo_digest(&one), cargo_digest(&two));
    assert_eq!(
        one.cargo_keys["build"].selected().mount_id,
        two.cargo_keys["build"].selected().mount_id
    );
    // Unpinned (dockerd's local store): the reference alone, still deterministic.
    let mut local = request("build", SDK_DIGEST);
    local.helper = HelperImage::unpinned("docker.io/cachet/frontend:dev");
    let a = compile(&spec, &local).unwrap();
    local.helper = HelperImage::unpinned("cachet/frontend:dev");
    let b = compile(&spec, &local).unwrap();
    assert_eq!(
        definition_bytes(&a.definition),
        definition_bytes(&b.definition),
        "one image, however it is spelled"
    );
}

/// The watch check after cargo gets the step's packages, its snapshot's include patterns and
/// the context's excludes; without a known layout (the snapshot is the whole context) there is
/// nothing it could miss, and no check.
#[test]
fn the_cargo_step_checks_build_script_watches_against_its_snapshot() {
    let c = compiled_with(SPEC, "build", workspace_files(REMOTE_LOCK));
    let build = exec_ops(&c)
        .into_iter()
        .find(|e| e.meta.as_ref().unwrap().args[2].contains("cachet-helper freshness"))
        .unwrap();
    let script = &build.meta.as_ref().unwrap().args[2];
    let check_at = script
        .find("/cachet/helper/cachet-helper watches --spec Cachet.toml --src /cachet/src")
        .expect("a watch check");
    assert!(
        check_at > script.find("cargo --locked").unwrap(),
        "after cargo: {script}"
    );
    assert!(script.contains("--include Cargo.toml"), "{script}");
    assert!(
        script.contains("--exclude target --exclude .git"),
        "{script}"
    );
    assert!(script.contains("--package "), "{script}");

    let whole = compiled("build", SDK_DIGEST);
    let execs = exec_ops(&whole);
    let script = &execs[0].meta.as_ref().unwrap().args[2];
    assert!(!script.contains("cachet-helper watches"), "{script}");
}

/// The fetch step and the dependency layer see masked manifests (`project::masked`): a
/// description, a member's version or a comment leaves both exactly as they were (same op
/// digests, so BuildKit serves them from cache; the cargo step transfers the real files), while
/// a dependency's features change both: their content is in the LLB, not in a transfer.
#[test]
fn only_what_changes_third_party_crates_moves_the_fetch_step_and_the_dependency_layer() {
    let digests = |manifest: &str, lock: &str| {
        let mut files = workspace_files(lock);
        files
            .files
            .insert("Cargo.toml".to_string(), manifest.as_bytes().to_vec());
        let c = compiled_travelling(SPEC, "build", files);
        let of = |kind: StepKind| {
            c.steps
                .iter()
                .find(|s| s.kind == kind)
                .map(|s| s.digest.clone())
                .unwrap_or_else(|| panic!("no {kind:?} step"))
        };
        (of(StepKind::Fetch), of(StepKind::Dependencies))
    };
    let manifest =
        "[package]\nname = \"hello\"\nversion = \"0.1.0\"\n[dependencies]\nitoa = \"1\"\n";
    let base = digests(manifest, REMOTE_LOCK);
    let described = digests(
        "# the app\n[package]\nname = \"hello\"\nversion = \"0.1.0\"\ndescription = \"hi\"\n\
         [dependencies]\nitoa = \"1\"\n",
        REMOTE_LOCK,
    );
    assert_eq!((&described.0, &described.1), (&base.0, &base.1));
    let bumped = digests(
        &manifest.replace("0.1.0", "0.2.0"),
        &REMOTE_LOCK.replacen("0.1.0", "0.2.0", 1),
    );
    assert_eq!((&bumped.0, &bumped.1), (&base.0, &base.1));
    let featured = digests(
        &manifest.replace(
            "itoa = \"1\"",
            "itoa = { version = \"1\", features = [\"std\"] }",
        ),
        REMOTE_LOCK,
    );
    assert_ne!(featured.0, base.0);
    assert_ne!(featured.1, base.1);
}

/// `--no-cache` for a target empties the dependency cache its third-party layer starts from,
/// as it empties the target cache: the layer is then built from nothing.
#[test]
fn no_cache_empties_the_dependency_cache_first() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut req = request("build", SDK_DIGEST);
    req.project = workspace_files(REMOTE_LOCK);
    req.cache_travels = true;
    req.no_cache = NoCache::Targets(["build".to_string()].into());
    let c = compile(&spec, &req).unwrap();
    let script = exec_ops(&c)
        .into_iter()
        .map(|e| e.meta.unwrap().args[2].clone())
        .find(|s| s.contains("/cachet/deps-cache/. /cachet/target/"))
        .expect("a dependency layer that starts from its cache");
    let empty = script
        .find("find /cachet/deps-cache -mindepth 1 -delete")
        .expect("emptied");
    assert!(
        empty < script.find("cp -a /cachet/deps-cache/.").unwrap(),
        "{script}"
    );
}

/// A `cargo test` step tees cargo's output to the helper's report and exits with cargo's
/// status; a build step keeps plain `"$@"`.
#[test]
fn a_test_step_reports_its_tests_and_exits_with_cargos_status() {
    let spec_text = SPEC.replace(
        "[target.lint]",
        "[target.test]\ncargo = [\"test\"]\n[target.lint]",
    );
    let c = compiled_with(&spec_text, "test", ProjectFiles::default());
    let script = exec_ops(&c)
        .into_iter()
        .map(|e| e.meta.unwrap().args[2].clone())
        .find(|s| s.contains("cargo --locked --offline test"))
        .expect("a test step");
    let piped = "{ cargo --locked --offline test --profile release --target \
                 x86_64-unknown-linux-gnu 2>&1 || echo \"$?\" > /tmp/cachet-test-status; } | \
                 tee /tmp/cachet-test.log";
    assert!(script.contains(piped), "{script}");
    assert!(
        script.contains(
            "/cachet/helper/cachet-helper test-report --log /tmp/cachet-test.log --status \
             \"$cachet_status\" --target test --report /cachet/out/cachet-test-report.json"
        ),
        "{script}"
    );
    assert!(
        script.contains("if [ \"$cachet_status\" != 0 ]; then exit \"$cachet_status\"; fi\n"),
        "{script}"
    );
    let build = exec_ops(&compiled("build", SDK_DIGEST))
        .into_iter()
        .map(|e| e.meta.unwrap().args[2].clone())
        .find(|s| s.contains("cargo --locked --offline build"))
        .unwrap();
    assert!(!build.contains("cachet-test.log"), "{build}");
}

/// A `docker-image://` named context of the SDK's name: the source op pulls the replacement,
/// pinned to what it resolved to, and the target key moves with that identity.
#[test]
fn a_named_context_replaces_the_sdk_image_and_moves_the_key() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let plain = compile(&spec, &request("build", SDK_DIGEST)).unwrap();
    let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let mut named = request("build", other);
    named.named_images = BTreeMap::from([(
        "docker.io/library/cachet-sdk:rustup".to_string(),
        "cachet-sdk:debian".to_string(),
    )]);
    let named = compile(&spec, &named).unwrap();
    let images: Vec<String> = raw_ops(&named)
        .into_iter()
        .filter_map(|(_, op)| match op.op {
            Some(OpKind::Source(s)) if s.identifier.contains("cachet-sdk") => Some(s.identifier),
            _ => None,
        })
        .collect();
    assert_eq!(
        images,
        [format!(
            "docker-image://docker.io/library/cachet-sdk:debian@{other}"
        )]
    );
    assert_ne!(
        plain.cargo_keys["build"].selected().mount_id,
        named.cargo_keys["build"].selected().mount_id
    );
    assert_eq!(
        super::named_image(&BTreeMap::new(), "cachet-sdk:rustup"),
        None,
        "no named context, no replacement"
    );
}

/// `[contexts]`: a directory named context is its own local, snapshotted and mounted where the
/// spec says in every step that reads the project, and the steps that run cargo on a target
/// cache run the freshness pass over it with a manifest of its own.
#[test]
fn a_directory_named_context_is_mounted_in_every_step_that_reads_the_project() {
    let text = format!("{SPEC}[contexts]\nshared = \"./../shared-lib/\"\n");
    let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
    assert_eq!(spec.contexts["shared"], "../shared-lib");
    let mut req = request("build", SDK_DIGEST);
    req.project = workspace_files(REMOTE_LOCK);
    req.cache_travels = true;
    req.named_locals = BTreeMap::from([(
        "shared".to_string(),
        NamedLocal {
            local: "shared".into(),
            session: "session-2".into(),
        },
    )]);
    let c = compile(&spec, &req).unwrap();
    let shared: Vec<pb::SourceOp> = local_sources(&c)
        .into_iter()
        .filter(|s| s.identifier == "local://shared")
        .collect();
    assert_eq!(shared.len(), 1, "one snapshot of the context: {shared:?}");
    assert_eq!(shared[0].attrs["local.session"], "session-2");
    assert_eq!(
        shared[0].attrs["local.sharedkeyhint"], "cachet-shared-session-2",
        "transferred afresh per session, never trusting size and mtime"
    );
    let execs = exec_ops(&c);
    assert_eq!(execs.len(), 3, "fetch, dependency layer and build");
    for exec in &execs {
        let mount = exec
            .mounts
            .iter()
            .find(|m| m.dest == "/cachet/shared-lib")
            .unwrap_or_else(|| panic!("every step mounts the context: {:?}", exec.mounts));
        assert!(
            !mount.readonly && mount.output == -1,
            "private view: {mount:?}"
        );
    }
    let scripts: Vec<&String> = execs
        .iter()
        .map(|e| &e.meta.as_ref().unwrap().args[2])
        .collect();
    let pass = "(cd /cachet/shared-lib && /cachet/helper/cachet-helper freshness --state \
                /cachet/target/.cachet/contexts/shared";
    assert!(scripts[2].contains(&format!("{pass})")), "{}", scripts[2]);
    assert!(
        scripts[1].contains(&format!("{pass} --layer)")),
        "{}",
        scripts[1]
    );
    assert!(
        !scripts[0].contains("freshness"),
        "the fetch step compiles nothing"
    );
    // The mapping is in the strict key (keys.rs), so a moved context is another mount.
    let plain = compiled_travelling(SPEC, "build", workspace_files(REMOTE_LOCK));
    assert_ne!(
        plain.cargo_keys["build"].strict.mount_id,
        c.cargo_keys["build"].strict.mount_id
    );
    let record = c.steps.iter().find(|s| s.kind == StepKind::Cargo).unwrap();
    assert_eq!(
        record.inputs["contexts"],
        serde_json::json!({"shared": "../shared-lib"})
    );
}

/// A context the spec maps must be passed, and one passed must be mapped: neither is ignored.
#[test]
fn named_contexts_the_spec_and_the_build_disagree_on_are_errors() {
    let text = format!("{SPEC}[contexts]\nshared = \"../shared-lib\"\n");
    let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
    let e = compile(&spec, &request("build", SDK_DIGEST)).unwrap_err();
    assert!(
        e.to_string().contains("pass `--build-context shared=DIR`"),
        "{e}"
    );
    let plain = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut req = request("build", SDK_DIGEST);
    req.named_locals = BTreeMap::from([(
        "proto".to_string(),
        NamedLocal {
            local: "proto".into(),
            session: "session-1".into(),
        },
    )]);
    let e = compile(&plain, &req).unwrap_err();
    assert!(
        e.to_string()
            .contains("add `proto = \"../DIR\"` under [contexts]"),
        "{e}"
    );
}
