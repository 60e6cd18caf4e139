//! The fuzz targets, one per entry point the frontend runs, and one for the whole path.

mod explain;
mod opts;
mod project;
mod spec;
mod whole;

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Unstructured;
use llb_gen::project::{self as proj, ProjectFiles, ALWAYS_EXCLUDED};

use crate::bundle::Bundle;
use crate::engine::Target;
use crate::gen;
use crate::mutate::Mutator;

pub use explain::ExplainTarget;
pub use opts::OptsTarget;
pub use project::ProjectTarget;
pub use spec::SpecTarget;
pub use whole::WholeTarget;

/// Every target, in the order a run goes through them.
pub fn all() -> Vec<&'static dyn Target> {
    vec![
        &OptsTarget,
        &SpecTarget,
        &ProjectTarget,
        &WholeTarget,
        &ExplainTarget,
    ]
}

pub fn by_name(name: &str) -> Option<&'static dyn Target> {
    all().into_iter().find(|t| t.name() == name)
}

/// What the frontend reads from a context holding `context`: the rounds of a
/// [`proj::Discovery`], fed with the context's files each round asks for, exactly as
/// `read_project_files` in `frontend/src/build.rs` drives it with gateway reads. Returns the
/// files and the number of rounds (`None`: the discovery refused a file, which the frontend
/// reports as an error).
pub fn discover(context: &BTreeMap<String, Vec<u8>>) -> (ProjectFiles, Option<usize>) {
    let mut discovery = proj::Discovery::new();
    while discovery.next_patterns().is_some() {
        let mut round = Vec::new();
        for (path, bytes) in context {
            let excluded = ALWAYS_EXCLUDED
                .iter()
                .any(|e| path == e || path.strip_prefix(e).is_some_and(|r| r.starts_with('/')));
            match discovery.wants(path, bytes.len() as u64) {
                Ok(true) if !excluded => round.push((path.clone(), bytes.clone())),
                Ok(_) => {}
                Err(_) => return (ProjectFiles::default(), None),
            }
        }
        if discovery.feed(round).is_err() {
            return (ProjectFiles::default(), None);
        }
    }
    let rounds = discovery.rounds();
    (discovery.into_files(), Some(rounds))
}

/// Context paths the structural mutations add or rename to.
const PATHS: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "crates/app/Cargo.toml",
    "crates/core/Cargo.toml",
    "crates/greeting/Cargo.toml",
    "tools/gen/Cargo.toml",
    "shared/Cargo.toml",
    "nested/deep/x/Cargo.toml",
    "vendor/x/Cargo.toml",
    "target/Cargo.toml",
    ".git/Cargo.toml",
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain.toml",
    "rust-toolchain",
    "crates/app/Cargo.lock",
    "Cargo.toml.orig",
    "a b/Cargo.toml",
    "crates/*/Cargo.toml",
    "crates/app/../core/Cargo.toml",
    "/Cargo.toml",
    "ü/Cargo.toml",
];

/// One mutation of a bundle whose non-`@` members are context files: edit a file's text
/// (most often), add a file (generated, or copied from another input), drop, rename or copy
/// one, or replace them all with a generated workspace.
pub fn mutate_files(input: &mut Bundle, m: &mut Mutator) {
    let files: Vec<String> = input.files().map(|(n, _)| n.clone()).collect();
    match m.rng.u8(..20) {
        0 => {
            let path = m.pick(PATHS).copied().unwrap_or("Cargo.toml");
            let content = m
                .pick(&m.donors.clone())
                .cloned()
                .unwrap_or_else(|| b"[package]\nname = \"x\"\n".to_vec());
            input.set(path, content);
        }
        1 => {
            let bytes = gen::dna(&mut m.rng);
            if let Ok(ws) = gen::workspace(&mut Unstructured::new(&bytes)) {
                for name in &files {
                    input.members.remove(name);
                }
                input.members.extend(ws);
            }
        }
        2 if !files.is_empty() => {
            let name = m.pick(&files).cloned().unwrap_or_default();
            input.members.remove(&name);
        }
        3 if !files.is_empty() => {
            let name = m.pick(&files).cloned().unwrap_or_default();
            let data = input.members.remove(&name).unwrap_or_default();
            let to = rename(&name, m);
            input.set(&to, data);
        }
        4 if !files.is_empty() => {
            let name = m.pick(&files).cloned().unwrap_or_default();
            let data = input.members[&name].clone();
            let to = rename(&name, m);
            input.set(&to, data);
        }
        5 => {
            // A generated member manifest: from a generated workspace, one file.
            let bytes = gen::dna(&mut m.rng);
            if let Ok(ws) = gen::workspace(&mut Unstructured::new(&bytes)) {
                let picked: Vec<(String, Vec<u8>)> = ws.into_iter().collect();
                if let Some((name, data)) = m.pick(&picked).cloned() {
                    input.set(&name, data);
                }
            }
        }
        _ if !files.is_empty() => {
            let name = m.pick(&files).cloned().unwrap_or_default();
            let mut data = input.members[&name].clone();
            m.mutate_some(&mut data);
            input.set(&name, data);
        }
        _ => input.set(
            "Cargo.toml",
            b"[workspace]\nmembers = [\"crates/*\"]\n".to_vec(),
        ),
    }
}

fn rename(name: &str, m: &mut Mutator) -> String {
    if m.chance(0.5) {
        return m.pick(PATHS).copied().unwrap_or("Cargo.toml").to_string();
    }
    let mut bytes = name.as_bytes().to_vec();
    m.mutate(&mut bytes);
    String::from_utf8_lossy(&bytes).replace('\n', "")
}

/// A bundle's member edited as text.
pub fn mutate_member(input: &mut Bundle, name: &str, m: &mut Mutator) {
    let mut data = input.get(name).map(<[u8]>::to_vec).unwrap_or_default();
    m.mutate_some(&mut data);
    input.set(name, data);
}

/// `KEY=VALUE` lines.
pub fn pairs(lines: &[&[u8]]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| {
            let l = String::from_utf8_lossy(l);
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Whitespace-separated words of each line: cargo command lines.
pub fn commands(lines: &[&[u8]]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| {
            String::from_utf8_lossy(l)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// The manifests harvested from the sources, as one-file contexts (root manifests) and
/// as members of a small workspace.
pub fn manifest_contexts() -> Vec<BTreeMap<String, Vec<u8>>> {
    let mut out = Vec::new();
    let texts: BTreeSet<&str> = crate::seeds::MANIFEST_TEXTS
        .iter()
        .map(|(_, t)| *t)
        .collect();
    for text in texts {
        let mut ctx = BTreeMap::new();
        if text.contains("[[package]]") && !text.contains("[package]") {
            ctx.insert(
                "Cargo.toml".to_string(),
                b"[package]\nname = \"app\"\nversion = \"0.1.0\"\n".to_vec(),
            );
            ctx.insert("Cargo.lock".to_string(), text.as_bytes().to_vec());
        } else {
            ctx.insert("Cargo.toml".to_string(), text.as_bytes().to_vec());
        }
        out.push(ctx);
    }
    out
}
