//! The manifests and lockfile as the fetch step and the dependency layer see them: what decides
//! which third-party crates are fetched and how they are compiled, and nothing else.
//!
//! Those two steps are keyed by BuildKit on the content of their snapshot, so any byte of a
//! `Cargo.toml` or `Cargo.lock` re-runs them: a one-word `description` edit re-vendored and
//! recompiled every third-party crate (33.5 s on a real crate, where host cargo takes 1.1 s).
//! So they get masked copies instead, written by the frontend from the metadata it read (the
//! same files, from the same session), the way cargo-chef's recipe masks them:
//! * every manifest is re-serialised, so comments and layout are gone;
//! * `[package]` and `[workspace.package]` lose the fields that only describe a package
//!   ([`DESCRIPTIVE`]: description, authors, links to docs and repository, license, keywords,
//!   `metadata`…), and `[badges]` goes;
//! * the workspace's own packages get version `0.0.0`, in their manifests, in the lockfile, and
//!   in the `version` requirement of the path dependencies that name them.
//!
//! What stays is everything that can change what is fetched or how a third-party crate is
//! compiled: dependencies and their features, `[features]`, `[patch]`, `[replace]`,
//! `[profile]`, `edition`, `rust-version`, `resolver`, `links`, `build`, the target tables,
//! lints. The cargo steps still see the real files, so a member's version and description
//! reach its own compile (`CARGO_PKG_VERSION`) as before.
//!
//! Crates that `[patch]`/`[replace]` put in place of registry crates are compiled *as*
//! third-party crates, from their real sources, and registry crates require their versions, so
//! their manifests and versions are left exactly as they are. Versions are masked only when
//! that is certain to keep the lockfile the one cargo would write for the masked manifests
//! (`cargo --locked` compares it line by line): every masked name is unique in the lockfile, and
//! no kept package inherits the workspace version. Otherwise versions stay and only descriptive
//! fields go. A manifest that does not parse stays as it is (cargo reports it), and so does a
//! lockfile that is not TOML: masking can only cost a re-run, never change a build.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::{Table, Value};

use super::{join, normalize, ProjectFiles, ProjectLayout};

/// The masked files travel inside the LLB (the frontend writes them), so past this size in
/// all (a lockfile of tens of thousands of packages) the steps get the real files by transfer
/// instead, as before: a message to BuildKit must stay well under its limit.
pub const MAX_MASKED_BYTES: usize = 8 << 20;

/// The version every workspace package gets in the masked files.
pub const MASKED_VERSION: &str = "0.0.0";

/// `[package]` (and `[workspace.package]`) fields that describe a package and never change
/// what cargo fetches or compiles for third-party crates.
pub const DESCRIPTIVE: &[&str] = &[
    "authors",
    "categories",
    "description",
    "documentation",
    "homepage",
    "keywords",
    "license",
    "license-file",
    "metadata",
    "publish",
    "readme",
    "repository",
];

/// Dependency tables of a manifest or a `[target.<cfg>]` table, in both spellings cargo accepts.
const DEPENDENCY_TABLES: &[&str] = &[
    "dependencies",
    "dev-dependencies",
    "dev_dependencies",
    "build-dependencies",
    "build_dependencies",
];

/// Masked contents by path (relative to the context root): the manifest of every package of
/// the workspace and `Cargo.lock`, when there is a workspace; empty otherwise. The manifests
/// of patched and replaced crates are not in it: the steps get those from the context as they
/// are. Empty, too, when the masked files would exceed [`MAX_MASKED_BYTES`].
pub fn masked_metadata(layout: &ProjectLayout, files: &ProjectFiles) -> BTreeMap<String, Vec<u8>> {
    let Some(ws) = &layout.workspace else {
        return BTreeMap::new();
    };
    let kept = layout.third_party_dirs();
    let mut manifests: BTreeMap<String, Table> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for dir in ws.packages.keys().chain(std::iter::once(&String::new())) {
        let path = join(dir, "Cargo.toml");
        let Some(bytes) = files.get(&path) else {
            continue;
        };
        if kept.contains(dir) {
            continue;
        }
        match std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| t.parse::<Table>().ok())
        {
            Some(table) => {
                manifests.insert(dir.clone(), table);
            }
            None => {
                out.insert(path, bytes.to_vec());
            }
        }
    }
    let lockfile = files.get("Cargo.lock");
    let versioned = versions_to_mask(&manifests, &kept, files, lockfile);
    for (dir, mut table) in manifests {
        mask_manifest(&dir, &mut table, &versioned);
        let path = join(&dir, "Cargo.toml");
        match toml::to_string(&table) {
            Ok(text) => out.insert(path, text.into_bytes()),
            // Not expected for a table that parsed; the real file is always a safe answer.
            Err(_) => out.insert(path.clone(), files.get(&path).unwrap_or_default().to_vec()),
        };
    }
    if let Some(lock) = lockfile {
        let names: BTreeSet<&str> = versioned.values().map(String::as_str).collect();
        out.insert("Cargo.lock".to_string(), mask_lockfile(lock, &names));
    }
    if out.values().map(Vec::len).sum::<usize>() > MAX_MASKED_BYTES {
        return BTreeMap::new();
    }
    out
}

/// The packages (directory → name) whose version is masked: the workspace's own packages, when
/// masking keeps the lockfile exactly what cargo would write (see the module docs); else none.
fn versions_to_mask(
    manifests: &BTreeMap<String, Table>,
    kept: &BTreeSet<String>,
    files: &ProjectFiles,
    lockfile: Option<&[u8]>,
) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for (dir, table) in manifests {
        let Some(package) = table.get("package").and_then(Value::as_table) else {
            continue;
        };
        let Some(name) = package.get("name").and_then(Value::as_str) else {
            return BTreeMap::new();
        };
        names.insert(dir.clone(), name.to_string());
    }
    // A kept package that inherits the workspace version would see it change.
    let inherits_version = |dir: &String| {
        files
            .get(&join(dir, "Cargo.toml"))
            .and_then(|b| std::str::from_utf8(b).ok()?.parse::<Table>().ok())
            .and_then(|t| t.get("package")?.get("version")?.get("workspace").cloned())
            .is_some()
    };
    if kept.iter().any(inherits_version) {
        return BTreeMap::new();
    }
    if let Some(lock) = lockfile {
        let Some(counts) = lock_name_counts(lock) else {
            return BTreeMap::new();
        };
        let unique = names
            .values()
            .all(|n| counts.get(n.as_str()).copied().unwrap_or(0) <= 1);
        let distinct: BTreeSet<&String> = names.values().collect();
        if !unique || distinct.len() != names.len() {
            return BTreeMap::new();
        }
    }
    names
}

/// How often each package name occurs in `Cargo.lock`; `None` when it is not TOML of that shape.
fn lock_name_counts(lockfile: &[u8]) -> Option<BTreeMap<String, usize>> {
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Named>,
    }
    #[derive(Deserialize)]
    struct Named {
        name: String,
    }
    let lock: Lock = toml::from_str(std::str::from_utf8(lockfile).ok()?).ok()?;
    let mut counts = BTreeMap::new();
    for package in lock.package {
        *counts.entry(package.name).or_insert(0) += 1;
    }
    Some(counts)
}

/// Masks one parsed manifest in place (`dir` is its package's directory).
fn mask_manifest(dir: &str, manifest: &mut Table, versioned: &BTreeMap<String, String>) {
    manifest.remove("badges");
    if let Some(package) = manifest.get_mut("package").and_then(Value::as_table_mut) {
        strip_descriptive(package);
        if versioned.contains_key(dir) && package.contains_key("version") {
            package.insert("version".into(), Value::String(MASKED_VERSION.into()));
        }
    }
    if let Some(workspace) = manifest.get_mut("workspace").and_then(Value::as_table_mut) {
        workspace.remove("metadata");
        if let Some(package) = workspace.get_mut("package").and_then(Value::as_table_mut) {
            strip_descriptive(package);
            if !versioned.is_empty() && package.contains_key("version") {
                package.insert("version".into(), Value::String(MASKED_VERSION.into()));
            }
        }
        // Workspace dependencies' paths are relative to the root manifest.
        if let Some(deps) = workspace
            .get_mut("dependencies")
            .and_then(Value::as_table_mut)
        {
            unversion_path_deps(dir, deps, versioned);
        }
    }
    for_each_dependency_table(manifest, |deps| unversion_path_deps(dir, deps, versioned));
}

fn strip_descriptive(package: &mut Table) {
    for field in DESCRIPTIVE {
        package.remove(*field);
    }
}

/// Calls `f` on every dependency table of `manifest`, the `[target.<cfg>]` ones included.
fn for_each_dependency_table(manifest: &mut Table, mut f: impl FnMut(&mut Table)) {
    for name in DEPENDENCY_TABLES {
        if let Some(deps) = manifest.get_mut(*name).and_then(Value::as_table_mut) {
            f(deps);
        }
    }
    if let Some(targets) = manifest.get_mut("target").and_then(Value::as_table_mut) {
        for (_, target) in targets.iter_mut() {
            let Some(target) = target.as_table_mut() else {
                continue;
            };
            for name in DEPENDENCY_TABLES {
                if let Some(deps) = target.get_mut(*name).and_then(Value::as_table_mut) {
                    f(deps);
                }
            }
        }
    }
}

/// Drops the `version` requirement of the path dependencies in `deps` that point at a package
/// whose version is masked (for a path dependency it only matters when publishing).
fn unversion_path_deps(dir: &str, deps: &mut Table, versioned: &BTreeMap<String, String>) {
    for (_, dep) in deps.iter_mut() {
        let Some(dep) = dep.as_table_mut() else {
            continue;
        };
        let Some(path) = dep.get("path").and_then(Value::as_str) else {
            continue;
        };
        let target = normalize(&join(dir, path));
        if target.is_some_and(|t| versioned.contains_key(&t)) {
            dep.remove("version");
        }
    }
}

/// `Cargo.lock` with the version of each path package (no `source`) named in `names` set to
/// [`MASKED_VERSION`], edited as text so everything else stays byte for byte what cargo wrote.
/// The names are unique in the lockfile, so dependency lists name them without a version and
/// need no edit, and the order of packages (by name) does not change.
fn mask_lockfile(lockfile: &[u8], names: &BTreeSet<&str>) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(lockfile) else {
        return lockfile.to_vec();
    };
    if names.is_empty() {
        return lockfile.to_vec();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_package = false;
    let mut masked_name = false;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if content.starts_with('[') {
            in_package = content == "[[package]]";
            masked_name = false;
        } else if in_package {
            if let Some(name) = quoted_value(content, "name") {
                masked_name = names.contains(name);
            } else if masked_name && quoted_value(content, "version").is_some() {
                out.push_str(&format!("version = \"{MASKED_VERSION}\""));
                out.push_str(&line[content.len()..]);
                continue;
            }
        }
        out.push_str(line);
    }
    out.into_bytes()
}

/// The string of a `key = "value"` line, as cargo writes them (no escapes in names or versions).
fn quoted_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim();
    rest.strip_prefix('"')?.strip_suffix('"')
}

#[cfg(test)]
mod tests;
