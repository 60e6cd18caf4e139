//! The check of a vendored tree (see `llb-gen/src/compile/vendored.rs`), run once per content
//! of the tree: every file a crate's `.cargo-checksum.json` lists must have that SHA-256, and a
//! crate that lists its files must hold no file it does not list. The vendored crates that
//! list their files reach the builder through an incremental transfer that trusts size and
//! mtime; the list is what tells an edit apart, so a file outside it, or one that does not
//! match it, fails the build here with what to do, instead of building what the builder
//! happened to keep. The same pass writes the tree's fingerprints for the freshness pass
//! ([`crate::freshness::write_premade`]).

use std::collections::BTreeMap;
use std::path::Path;

use crate::freshness::{write_premade, PremadeEntry};

/// The checksum file of a vendored crate.
pub const CHECKSUM_FILE: &str = ".cargo-checksum.json";

/// Checks `root/<dir>` for each of `dirs` and writes its fingerprints to `out/<index>`.
/// Returns the problems found (empty: all is well).
pub fn check(root: &Path, dirs: &[String], out: &Path) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let tree = root.join(dir);
        let entries = write_premade(&tree, &out.join(i.to_string()))?;
        problems.extend(check_dir(&tree, dir, &entries));
    }
    Ok(problems)
}

/// The problems of one vendor directory, by its entries (paths relative to it).
fn check_dir(tree: &Path, dir: &str, entries: &[PremadeEntry]) -> Vec<String> {
    // crate → (path within the crate → sha256), for every crate whose checksum file lists files.
    let mut listed: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for e in entries {
        let rel = String::from_utf8_lossy(&e.rel);
        let Some((name, CHECKSUM_FILE)) = rel.split_once('/') else {
            continue;
        };
        let Ok(text) = std::fs::read(tree.join(rel.as_ref())) else {
            continue;
        };
        let files: BTreeMap<String, String> = serde_json::from_slice::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("files").cloned())
            .and_then(|f| serde_json::from_value(f).ok())
            .unwrap_or_default();
        if !files.is_empty() {
            listed.insert(name.to_string(), files);
        }
    }
    let mut problems = Vec::new();
    for e in entries.iter().filter(|e| e.is_file || e.is_link) {
        let rel = String::from_utf8_lossy(&e.rel);
        let Some((name, within)) = rel.split_once('/') else {
            continue;
        };
        let Some(files) = listed.get(name) else {
            continue;
        };
        if within == CHECKSUM_FILE {
            continue;
        }
        match files.get(within) {
            None => problems.push(format!(
                "{dir}/{rel} is not listed in {dir}/{name}/{CHECKSUM_FILE}. Cachet transfers \
                 vendored crates that list their files incrementally, and the list is how it \
                 tells an edit apart: add the file to the list (re-run `cargo vendor`), remove \
                 it, or empty the crate's list (`\"files\": {{}}`) so the crate travels afresh \
                 with every build"
            )),
            Some(_) if e.is_link => problems.push(format!(
                "{dir}/{rel} is a symlink, which cargo vendor never writes and its \
                 {CHECKSUM_FILE} cannot describe: replace it with the file"
            )),
            Some(sum) if !sum.eq_ignore_ascii_case(&hex(&e.sha256)) => problems.push(format!(
                "{dir}/{rel} does not match the sha256 {dir}/{name}/{CHECKSUM_FILE} lists. \
                 Either it was edited without updating that list (cargo refuses this on any \
                 machine: restore the file, or re-vendor with `cargo vendor`), or this builder \
                 kept an earlier copy because the file's size and mtime did not change: `touch` \
                 it and build again"
            )),
            Some(_) => {}
        }
    }
    for (name, files) in &listed {
        let missing: Vec<&String> = files
            .keys()
            .filter(|f| {
                !entries
                    .iter()
                    .any(|e| e.rel == format!("{name}/{f}").as_bytes())
            })
            .collect();
        for f in missing {
            problems.push(format!(
                "{dir}/{name}/{f} is listed in {dir}/{name}/{CHECKSUM_FILE} but missing (cargo \
                 refuses this too): restore it, or re-vendor with `cargo vendor`"
            ));
        }
    }
    problems
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
