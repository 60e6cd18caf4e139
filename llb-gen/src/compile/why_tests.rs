//! The LLB of `--no-cache` / `--no-cache-filter` and of the why step.

use std::collections::BTreeMap;

use super::*;
use crate::llb::decode_ops;
use crate::proto::pb::{self, op::Op as OpKind};
use crate::spec;

/// Two cargo targets with keys of their own (`tool` has its own CFLAGS) and an image of both.
const SPEC: &str = r#"
[project]
name = "hello"
[sdk]
image = "cachet-sdk:rustup"
[cargo]
env = { CFLAGS = "-O2" }
[target.build]
cargo = ["build", "--bin", "hello"]
artifacts = { hello = "hello" }
[target.tool]
cargo = ["build", "--bin", "tool"]
env = { CFLAGS = "-Os" }
artifacts = { tool = "tool" }
[target.image]
from = "scratch"
copy = [
  { from = "+build", artifact = "hello", to = "/hello" },
  { from = "+tool", artifact = "tool", to = "/tool" },
]
"#;

const SDK_DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SDK_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}"#;

fn build(target: &str, no_cache: NoCache) -> Compiled {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    compile(&spec, &build_request(target, no_cache)).unwrap()
}

fn build_request(target: &str, no_cache: NoCache) -> BuildRequest {
    BuildRequest {
        images: BTreeMap::from([(
            "cachet-sdk:rustup".to_string(),
            ResolvedImage {
                digest: SDK_DIGEST.into(),
                config: SDK_CONFIG.as_bytes().to_vec(),
            },
        )]),
        no_cache,
        ..BuildRequest::new(target.into(), Platform::linux_amd64(), "session-1")
    }
}

/// One exec with what a test needs of it.
struct ExecView {
    digest: String,
    op: pb::Op,
    exec: pb::ExecOp,
    /// Its step script's text.
    script: String,
    name: String,
    ignore_cache: bool,
}

fn execs(c: &Compiled) -> Vec<ExecView> {
    let ops: Vec<(String, pb::Op)> = decode_ops(&c.definition)
        .unwrap()
        .into_iter()
        .map(|(d, op)| (d.to_string(), op))
        .collect();
    let script_of = |op: &pb::Op, exec: &pb::ExecOp| -> String {
        let mount = exec
            .mounts
            .iter()
            .find(|m| m.dest == step_script::SCRIPT_DIR)
            .expect("every exec runs a step script");
        let input = &op.inputs[mount.input as usize].digest;
        let (_, file) = ops.iter().find(|(d, _)| d == input).unwrap();
        let Some(OpKind::File(file)) = &file.op else {
            panic!("a step script is a file op")
        };
        file.actions
            .iter()
            .find_map(|a| match &a.action {
                Some(pb::file_action::Action::Mkfile(m)) => {
                    Some(String::from_utf8(m.data.clone()).unwrap())
                }
                _ => None,
            })
            .unwrap()
    };
    ops.iter()
        .filter_map(|(d, op)| match &op.op {
            Some(OpKind::Exec(exec)) => {
                let meta = &c.definition.metadata[d.as_str()];
                Some(ExecView {
                    digest: d.clone(),
                    op: op.clone(),
                    exec: exec.clone(),
                    script: script_of(op, exec),
                    name: meta
                        .description
                        .get("llb.customname")
                        .cloned()
                        .unwrap_or_default(),
                    ignore_cache: meta.ignore_cache,
                })
            }
            _ => None,
        })
        .collect()
}

fn the<'a>(all: &'a [ExecView], prefix: &str) -> &'a ExecView {
    let found: Vec<_> = all.iter().filter(|e| e.name.starts_with(prefix)).collect();
    assert_eq!(found.len(), 1, "one `{prefix}…` exec");
    found[0]
}

fn mount<'a>(e: &'a ExecView, dest: &str) -> &'a pb::Mount {
    e.exec
        .mounts
        .iter()
        .find(|m| m.dest == dest)
        .unwrap_or_else(|| panic!("{} mounts {dest}", e.name))
}

const EMPTIES: &str = "find /cachet/target -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +";

#[test]
fn no_cache_filter_starts_only_the_selected_targets_cargo_step_afresh() {
    let c = build("image", NoCache::Targets(["build".to_string()].into()));
    let all = execs(&c);
    let (selected, other) = (the(&all, "[build] cargo "), the(&all, "[tool] cargo "));
    assert!(selected.ignore_cache && !other.ignore_cache);
    assert!(
        selected.name.ends_with(cargo_step::FRESH_SUFFIX),
        "progress says so: {}",
        selected.name
    );
    assert!(!other.name.contains("--no-cache"), "{}", other.name);
    // The emptying runs before the freshness pass, inside the target cache mount.
    let empties = selected.script.find(EMPTIES).expect("empties the cache");
    let freshness = selected.script.find("cachet-helper freshness").unwrap();
    assert!(empties < freshness, "{}", selected.script);
    assert!(!other.script.contains(EMPTIES), "{}", other.script);
    assert_eq!(
        mount(selected, cargo_step::TARGET_DIR)
            .cache_opt
            .as_ref()
            .unwrap()
            .sharing,
        pb::CacheSharingOpt::Locked as i32
    );
    // The other target's exec is exactly what it is without the filter: its cache stays.
    let plain = build("image", NoCache::Off);
    let plain = execs(&plain);
    assert_eq!(the(&plain, "[tool] cargo ").digest, other.digest);
    assert_ne!(the(&plain, "[build] cargo ").digest, selected.digest);
    assert!(!the(&plain, "[build] cargo ").script.contains(EMPTIES));

    // Everything with --no-cache; the same request gives the same LLB.
    let everything = build("image", NoCache::All);
    for e in execs(&everything)
        .iter()
        .filter(|e| e.name.contains("] cargo "))
    {
        assert!(e.ignore_cache && e.script.contains(EMPTIES), "{}", e.name);
    }
    let again = build("image", NoCache::All);
    assert_eq!(
        crate::llb::definition_bytes(&everything.definition),
        crate::llb::definition_bytes(&again.definition)
    );
}

#[test]
fn every_cargo_step_has_a_why_step_fed_by_its_run_output() {
    let c = build("image", NoCache::Off);
    let all = execs(&c);
    for target in ["build", "tool"] {
        let cargo = the(&all, &format!("[{target}] cargo "));
        let why = the(&all, &why_step::progress_name(target));
        // Its input is the cargo step's own why output: it runs only when cargo ran.
        let run = mount(why, why_step::RUN_DIR);
        assert!(run.readonly);
        let input = &why.op.inputs[run.input as usize];
        let run_out = mount(cargo, why_step::RUN_DIR);
        assert_eq!(input.digest, cargo.digest, "{target}");
        assert_eq!(input.index, run_out.output, "{target}");
        assert!(run_out.output >= 0 && mount(cargo, cargo_step::OUT_DIR).output != run_out.output);
        // Its own state: a locked cache mount keyed on project and target only.
        let state = mount(why, why_step::STATE_DIR).cache_opt.clone().unwrap();
        assert_eq!(state.id, format!("cachet/hello/why/{target}"));
        assert_eq!(state.sharing, pb::CacheSharingOpt::Locked as i32);
        assert_eq!(why.exec.network, pb::NetMode::None as i32);
        assert!(!why.ignore_cache);
        // It compares what the step was built from, and the cache it used.
        let cflags = if target == "build" { "-O2" } else { "-Os" };
        assert!(
            why.script
                .contains(&format!("\nenv.CFLAGS\t\"{cflags}\"\n")),
            "{}",
            why.script
        );
        let key = &c.cargo_keys[target];
        assert!(
            why.script.contains(&format!(
                "\ntarget_cache\t\"{}\"\n",
                key.selected().mount_id
            )),
            "{}",
            why.script
        );
        // The freshness pass lists the sources it saw for the why step.
        assert!(
            cargo.script.contains(&format!(
                "cachet-helper freshness --state /cachet/target/.cachet --list /cachet/why/{}",
                why_step::SOURCES_FILE
            )),
            "{}",
            cargo.script
        );
    }
    // Under --no-cache it is still not ignore-cache (BuildKit would empty its record).
    let fresh = build("image", NoCache::All);
    assert!(!the(&execs(&fresh), "[cachet] why +build").ignore_cache);
}

/// The why step is part of every result that holds a cargo step's artifacts, through a copy of
/// nothing: an allowed-empty wildcard from its empty output.
#[test]
fn the_why_step_is_reachable_without_adding_to_the_output() {
    for target in ["build", "image"] {
        let c = build(target, NoCache::Off);
        let all = execs(&c);
        let why = the(&all, "[cachet] why +build");
        let out = why
            .exec
            .mounts
            .iter()
            .find(|m| m.dest == "/cachet/why-out")
            .unwrap();
        assert_eq!(out.input, -1, "its output starts empty");
        let ops = decode_ops(&c.definition).unwrap();
        let copies: Vec<pb::FileActionCopy> =
            ops.iter()
                .filter_map(|(_, op)| match &op.op {
                    Some(OpKind::File(f)) => Some((op, f)),
                    _ => None,
                })
                .flat_map(|(op, f)| {
                    f.actions.iter().filter_map(move |a| match &a.action {
                        Some(pb::file_action::Action::Copy(copy))
                            if op.inputs.get(a.secondary_input as usize).is_some_and(|i| {
                                i.digest == why.digest && i.index == out.output
                            }) =>
                        {
                            Some(copy.clone())
                        }
                        _ => None,
                    })
                })
                .collect();
        assert_eq!(copies.len(), 1, "{target}: one copy from the why step");
        let copy = &copies[0];
        assert!(copy.allow_wildcard && copy.allow_empty_wildcard, "{copy:?}");
        assert!(copy.src.contains('*'), "{copy:?}");
    }
}

#[test]
fn a_misspelt_no_cache_filter_is_an_error_naming_the_targets() {
    let spec = spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap();
    let mut request = build_request("image", NoCache::Targets(["biuld".to_string()].into()));
    let e = compile(&spec, &request).unwrap_err().to_string();
    assert!(
        e.contains("--no-cache-filter names `biuld`")
            && e.contains("(targets: build, image, tool;"),
        "{e}"
    );
    for fine in ["sdk", "fetch", "tool", ""] {
        request.no_cache = NoCache::Targets([fine.to_string()].into());
        assert!(compile(&spec, &request).is_ok(), "{fine}");
    }
}
