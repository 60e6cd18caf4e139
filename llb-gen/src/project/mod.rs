//! What the build context holds for cargo: which files cargo reads, which files key the target
//! cache, and whether there is anything to fetch.
//!
//! The frontend reads the metadata files from the context first — the workspace's
//! `Cargo.toml`s, `Cargo.lock`, `.cargo/config(.toml)` and the toolchain files, in rounds a
//! [`Discovery`] plans — and hands them here as [`ProjectFiles`]. [`analyze`] is pure: it
//! finds the workspace's packages (members, globs, path dependencies) and turns them into
//! * the source snapshot of each cargo step: the packages it builds with their path
//!   dependencies, manifests and empty stand-ins for the other members, so a README, CI-config
//!   or docs edit never reaches a compile step, and an edit to member A never reaches a step
//!   that builds only member B ([`ProjectLayout::select`], [`ProjectLayout::source_snapshot`]);
//! * the fetch step's snapshot of manifests, lockfile and config with stand-ins for every
//!   target root, so only manifest and lockfile edits re-run the fetch
//!   ([`ProjectLayout::manifest_snapshot`]);
//! * the content digests of the toolchain files and cargo config that go into the strict key.
//!
//! Crates that `[patch.<source>]` or `[replace]` (root manifest, or `[patch]` in
//! `.cargo/config`) put in place of registry or git crates are path packages nothing names as
//! a path dependency; `Cargo.lock` says who reaches them, and they become path dependencies of
//! those packages ([`Workspace::patched`]), so their full sources reach exactly the steps that
//! compile them and the dependency layer ([`ProjectLayout::dependency_snapshot`]); the fetch
//! step still sees only their manifests.
//!
//! Anything it cannot understand (a manifest that does not parse, no root manifest at all)
//! widens what is included instead of narrowing it: imprecision may cost a rebuild, never a
//! wrong or missing file.

mod cargo_config;
pub mod discovery;
pub mod dockerignore;
mod lockfile;
mod manifest;
pub mod masked;
mod patterns;
pub mod vendored;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub use discovery::{
    discover_listed, Discovery, DiscoveryError, MaybeIgnored, MAX_METADATA_FILE_BYTES,
    PREFETCH_DEPTH, PREFETCH_EXCLUDED, PREFETCH_PATTERNS, PREFETCH_SKIPPED_DIR,
};
pub use manifest::{PackageLayout, Workspace};
pub use patterns::PatternSet;

/// The metadata files read first: root manifest, lockfile, cargo config, toolchain files.
/// [`metadata_patterns`] then names the member manifests to read next.
pub const ROOT_METADATA: &[&str] = &[
    "Cargo.toml",
    dockerignore::DOCKERIGNORE,
    "Cargo.lock",
    "rust-toolchain",
    "rust-toolchain.toml",
    ".cargo/config",
    ".cargo/config.toml",
];

/// Every metadata file at any depth. The analysis only uses the files [`metadata_patterns`]
/// leads to, so reading these gives the same layout as a [`Discovery`] (which both the
/// frontend and the `llb-gen` CLI use, reading less).
pub const METADATA_PATTERNS: &[&str] = &[
    "**/Cargo.toml",
    dockerignore::DOCKERIGNORE,
    "Cargo.lock",
    "rust-toolchain",
    "rust-toolchain.toml",
    ".cargo/config",
    ".cargo/config.toml",
    "**/.cargo-checksum.json",
];

/// Include patterns for the metadata to read given what has been read so far: the root files
/// plus every manifest they point to. Reading these and asking again until the set stops
/// growing (each round follows one more level of path dependencies) ends where a [`Discovery`]
/// ends; this is the statement of what it computes, a [`Discovery`] the way to compute it
/// (each file looked at once, each pattern asked for once).
pub fn metadata_patterns(files: &ProjectFiles) -> BTreeSet<String> {
    let mut patterns: BTreeSet<String> = ROOT_METADATA.iter().map(|s| s.to_string()).collect();
    patterns.extend(manifest::manifest_patterns(files));
    for name in CARGO_CONFIG_FILES {
        if let Some(bytes) = files.get(name) {
            patterns.extend(cargo_config::checksum_patterns_of(bytes));
        }
    }
    patterns
}

/// Paths that never enter any snapshot: build output and VCS data change on every build and
/// cargo must not read them.
pub const ALWAYS_EXCLUDED: &[&str] = &["target", ".git"];

/// What every context local excludes: [`ALWAYS_EXCLUDED`], then the patterns of the
/// `.dockerignore` that applies ([`dockerignore`]).
pub fn excluded_patterns(files: &ProjectFiles) -> Vec<String> {
    let mut excluded: Vec<String> = ALWAYS_EXCLUDED.iter().map(|s| s.to_string()).collect();
    if let Some(text) = files.get(dockerignore::DOCKERIGNORE) {
        excluded.extend(dockerignore::patterns(&String::from_utf8_lossy(text)));
    }
    excluded
}

/// Toolchain files rustup reads from the directory cargo runs in.
pub const TOOLCHAIN_FILES: &[&str] = &["rust-toolchain", "rust-toolchain.toml"];
/// Cargo config files read from the directory cargo runs in.
pub const CARGO_CONFIG_FILES: &[&str] = &[".cargo/config", ".cargo/config.toml"];

/// The metadata files read from the context: path relative to the context root → content.
/// Empty when the caller has no context to read (then nothing is filtered or fetched).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFiles {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl ProjectFiles {
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Directories (relative, `""` for the root) that hold a `Cargo.toml`.
    fn manifest_dirs(&self) -> BTreeSet<String> {
        self.files
            .keys()
            .filter_map(|p| {
                if p == "Cargo.toml" {
                    Some(String::new())
                } else {
                    p.strip_suffix("/Cargo.toml").map(str::to_string)
                }
            })
            .collect()
    }
}

/// What [`analyze`] learned about the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectLayout {
    /// The workspace, or `None` when it could not be worked out: then the whole context is used.
    pub workspace: Option<Workspace>,
    /// Directories cargo reads through `.cargo/config` (directory sources, local registries).
    pub config_dirs: Vec<String>,
    /// Toolchain file path → content digest.
    pub toolchain_files: BTreeMap<String, String>,
    /// Cargo config path → content digest.
    pub cargo_config: BTreeMap<String, String>,
    /// Packages in `Cargo.lock` that come from a registry or git (what a fetch downloads).
    pub remote_packages: usize,
    /// The cargo config replaces crates.io with a directory in the context: the user vendors.
    pub vendored_by_user: bool,
    /// The vendored crates whose checksum files list files, which travel apart from the
    /// sources ([`vendored`]); `None` when there are none, or a fetch step runs (it reads the
    /// config directories from its own snapshot).
    pub vendor: Option<vendored::VendorPlan>,
}

/// A snapshot of part of the context: what to include, and empty files to add.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SnapshotPlan {
    /// Include patterns for the context local; empty means the whole context.
    pub include: Vec<String>,
    /// Empty stand-in files for target roots whose sources are left out.
    pub stubs: Vec<String>,
}

impl ProjectLayout {
    /// The packages (by directory) a cargo invocation builds, with their path dependencies;
    /// `None` when the layout is unknown or the arguments select something we cannot resolve.
    pub fn select(&self, cargo_args: &[String]) -> Option<BTreeSet<String>> {
        let ws = self.workspace.as_ref()?;
        Some(path_closure(ws, self.roots(cargo_args)?))
    }

    /// The workspace packages (by directory) a cargo invocation builds only as dependencies of
    /// the packages it names: path dependencies of the roots that are not roots themselves and
    /// depend on no root (so they compile without the roots' sources). Empty when unknown.
    pub fn dependency_members(&self, cargo_args: &[String]) -> BTreeSet<String> {
        let (Some(ws), Some(roots)) = (self.workspace.as_ref(), self.roots(cargo_args)) else {
            return BTreeSet::new();
        };
        // Everything that reaches a root through path dependencies, found once walking the
        // dependency edges backwards from the roots (not one closure per package).
        let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
        for package in ws.packages.values() {
            for dep in package
                .path_deps
                .iter()
                .filter(|d| ws.packages.contains_key(*d))
            {
                dependents
                    .entry(dep.as_str())
                    .or_default()
                    .push(package.dir.as_str());
            }
        }
        let mut reaches_root: HashSet<&str> = roots.iter().map(String::as_str).collect();
        let mut queue: Vec<&str> = reaches_root.iter().copied().collect();
        while let Some(dir) = queue.pop() {
            for dependent in dependents.get(dir).into_iter().flatten() {
                if reaches_root.insert(dependent) {
                    queue.push(dependent);
                }
            }
        }
        path_closure(ws, roots.clone())
            .into_iter()
            .filter(|dir| !reaches_root.contains(dir.as_str()))
            .collect()
    }

    /// The packages (by directory) a cargo invocation names: `-p`, `--workspace`, or the
    /// default members. `None` when the layout is unknown or a package cannot be resolved.
    fn roots(&self, cargo_args: &[String]) -> Option<BTreeSet<String>> {
        let ws = self.workspace.as_ref()?;
        let by_name: BTreeMap<&str, &str> = ws
            .packages
            .values()
            .map(|p| (p.name.as_str(), p.dir.as_str()))
            .collect();
        let mut chosen: BTreeSet<String> = BTreeSet::new();
        let mut explicit = false;
        let mut args = cargo_args.iter().skip(1);
        while let Some(arg) = args.next() {
            let spec = match arg.as_str() {
                "--" => break,
                "--workspace" | "--all" => {
                    explicit = true;
                    chosen.extend(ws.members.iter().cloned());
                    continue;
                }
                "-p" | "--package" => args.next().cloned(),
                a if a.starts_with("--package=") => Some(a["--package=".len()..].to_string()),
                a if a.starts_with("-p") && a.len() > 2 => Some(a[2..].to_string()),
                _ => None,
            };
            if let Some(spec) = spec {
                explicit = true;
                // `name@version` and `name:version` pick one package by name; globs and
                // unknown names are left to cargo with everything included.
                let name = spec.split(['@', ':']).next().unwrap_or_default();
                chosen.insert(by_name.get(name)?.to_string());
            }
        }
        if !explicit {
            chosen.extend(ws.default_members.iter().cloned());
        }
        Some(chosen)
    }

    /// The source snapshot of a cargo step that builds `selected` (`None`: everything): full
    /// sources of those packages, manifests and stand-ins for the other workspace packages
    /// (cargo loads every member), the root files, config directories and `[project] include`.
    pub fn source_snapshot(
        &self,
        selected: Option<&BTreeSet<String>>,
        spec_include: &[String],
    ) -> SnapshotPlan {
        let Some(ws) = &self.workspace else {
            return SnapshotPlan::default();
        };
        let mut include: BTreeSet<String> = root_files();
        let mut stub_candidates = BTreeSet::new();
        for package in ws.packages.values() {
            if selected.is_none_or(|s| s.contains(&package.dir)) {
                include.extend(package.source_patterns());
            } else {
                include.insert(package.manifest_path());
                stub_candidates.extend(package.stubs());
            }
        }
        include.extend(self.config_dirs.iter().cloned());
        include.extend(
            spec_include
                .iter()
                .map(|p| p.trim_start_matches("./").to_string()),
        );
        // Never stand in for a file that is really there (nested packages): a literal pattern
        // covers a stand-in when it is one of its ancestors, a glob (conservatively) when the
        // stand-in starts with its literal prefix. Both are hash lookups per stand-in (one per
        // ancestor, one per distinct prefix length), never a scan of the patterns.
        let literals: HashSet<&str> = include.iter().map(String::as_str).collect();
        let glob_prefixes: HashSet<&str> = include
            .iter()
            .filter(|p| p.contains(GLOB_CHARS))
            .map(|p| glob_prefix(p))
            .collect();
        let prefix_lengths: BTreeSet<usize> = glob_prefixes.iter().map(|p| p.len()).collect();
        let stubs = stub_candidates
            .into_iter()
            .filter(|stub| {
                let literal = std::iter::successors(Some(stub.as_str()), |p| {
                    p.rsplit_once('/').map(|(parent, _)| parent)
                })
                .any(|ancestor| literals.contains(ancestor));
                let glob = prefix_lengths
                    .iter()
                    .any(|n| stub.get(..*n).is_some_and(|p| glob_prefixes.contains(p)));
                !literal && !glob
            })
            .collect();
        SnapshotPlan {
            include: include.into_iter().collect(),
            stubs,
        }
    }

    /// The fetch step's snapshot: manifests, lockfile, cargo config and toolchain files, with
    /// stand-ins for every target root. Source edits never change it.
    pub fn manifest_snapshot(&self) -> SnapshotPlan {
        let Some(ws) = &self.workspace else {
            return SnapshotPlan::default();
        };
        let mut include: BTreeSet<String> = root_files();
        let mut stubs = BTreeSet::new();
        for package in ws.packages.values() {
            include.insert(package.manifest_path());
            stubs.extend(package.stubs());
        }
        include.extend(self.config_dirs.iter().cloned());
        SnapshotPlan {
            include: include.into_iter().collect(),
            stubs: stubs.into_iter().collect(),
        }
    }

    /// The third-party dependency layer's snapshot: the [`Self::manifest_snapshot`], but with
    /// the full sources of the patched and replaced crates and the path dependencies they
    /// bring that are not members ([`Self::third_party_dirs`]): cargo compiles them among the
    /// third-party crates, and a stand-in must never be compiled in their place.
    pub fn dependency_snapshot(&self) -> SnapshotPlan {
        let third_party = self.third_party_dirs();
        if third_party.is_empty() {
            return self.manifest_snapshot();
        }
        self.source_snapshot(Some(&third_party), &[])
    }

    /// The patched and replaced crates and the non-member path dependencies they bring: built
    /// as third-party crates in the dependency layer, from their real sources (registry crates
    /// there may depend on them).
    pub fn third_party_dirs(&self) -> BTreeSet<String> {
        let Some(ws) = &self.workspace else {
            return BTreeSet::new();
        };
        if ws.patched.is_empty() {
            return BTreeSet::new();
        }
        // A member that is itself a patch is compiled for the registry crates above it too.
        path_closure(ws, ws.patched.clone())
            .into_iter()
            .filter(|dir| !ws.members.contains(dir) || ws.patched.contains(dir))
            .collect()
    }

    /// Whether a fetch step is needed: something to download, and the user does not vendor.
    pub fn needs_fetch(&self) -> bool {
        self.workspace.is_some() && self.remote_packages > 0 && !self.vendored_by_user
    }
}

/// `packages` with their path dependencies (normal, dev, build, any platform), transitively.
fn path_closure(ws: &Workspace, mut packages: BTreeSet<String>) -> BTreeSet<String> {
    let mut queue: Vec<String> = packages.iter().cloned().collect();
    while let Some(dir) = queue.pop() {
        if let Some(package) = ws.packages.get(&dir) {
            for dep in &package.path_deps {
                if ws.packages.contains_key(dep) && packages.insert(dep.clone()) {
                    queue.push(dep.clone());
                }
            }
        }
    }
    packages
}

/// What makes an include pattern a glob when planning stand-ins.
const GLOB_CHARS: [char; 3] = ['*', '?', '['];

/// The part of a glob before its first wildcard: conservatively, the glob might cover anything
/// that starts with it.
fn glob_prefix(pattern: &str) -> &str {
    pattern.split(GLOB_CHARS).next().unwrap_or_default()
}

fn root_files() -> BTreeSet<String> {
    ["Cargo.toml", "Cargo.lock", ".cargo"]
        .iter()
        .chain(TOOLCHAIN_FILES)
        .map(|s| s.to_string())
        .collect()
}

/// Works out the project layout from the metadata files. Pure.
pub fn analyze(files: &ProjectFiles) -> ProjectLayout {
    let digests = |names: &[&str]| -> BTreeMap<String, String> {
        names
            .iter()
            .filter_map(|n| {
                files
                    .get(n)
                    .map(|b| (n.to_string(), crate::llb::Digest::of(b).into_string()))
            })
            .collect()
    };
    let config = cargo_config::read(files);
    let mut workspace = manifest::discover(files, &files.manifest_dirs());
    if let Some(ws) = &mut workspace {
        link_patches(ws, files.get("Cargo.lock"));
    }
    let remote_packages = files
        .get("Cargo.lock")
        .map(lockfile::remote_packages)
        .unwrap_or(0);
    let fetches =
        workspace.is_some() && remote_packages > 0 && !config.replaces_crates_io_with_directory;
    let vendor = if workspace.is_some() && !fetches {
        vendored::plan(files, &config.directory_sources)
    } else {
        None
    };
    ProjectLayout {
        workspace,
        vendor,
        config_dirs: config.dirs,
        toolchain_files: digests(TOOLCHAIN_FILES),
        cargo_config: digests(CARGO_CONFIG_FILES),
        remote_packages,
        vendored_by_user: config.replaces_crates_io_with_directory,
    }
}

/// Makes every patched or replaced crate ([`Workspace::patched`]) a path dependency of each
/// package that depends on it, directly or through registry crates, as `Cargo.lock` records:
/// its sources then reach exactly the steps (and dependency layers) that compile it, through
/// the same closure as any path dependency. Without a readable lockfile every package counts
/// as a user (cargo runs `--locked` and reports a missing one anyway): more sources, never a
/// stand-in compiled as the real crate.
fn link_patches(ws: &mut Workspace, lockfile: Option<&[u8]>) {
    if ws.patched.is_empty() {
        return;
    }
    let graph = lockfile.and_then(lockfile::dependency_graph);
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, deps) in graph.iter().flatten() {
        for dep in deps {
            dependents
                .entry(dep.as_str())
                .or_default()
                .push(name.as_str());
        }
    }
    let mut edges: Vec<(String, String)> = Vec::new();
    for patched in &ws.patched {
        let Some(name) = ws.packages.get(patched).map(|p| p.name.as_str()) else {
            continue;
        };
        // Every package that reaches the patched crate, walking the lockfile backwards.
        let mut users: HashSet<&str> = HashSet::new();
        let mut queue = vec![name];
        while let Some(n) = queue.pop() {
            for dependent in dependents.get(n).into_iter().flatten() {
                if users.insert(dependent) {
                    queue.push(dependent);
                }
            }
        }
        for package in ws.packages.values() {
            let uses = graph.is_none() || users.contains(package.name.as_str());
            if uses && package.dir != *patched {
                edges.push((package.dir.clone(), patched.clone()));
            }
        }
    }
    for (dir, patched) in edges {
        if let Some(package) = ws.packages.get_mut(&dir) {
            package.path_deps.insert(patched);
        }
    }
}

/// Joins a package-relative path onto a package directory (`""` is the root).
fn join(dir: &str, path: &str) -> String {
    if dir.is_empty() {
        path.to_string()
    } else {
        format!("{dir}/{path}")
    }
}

/// Normalizes `a/./b/../c` to `a/c`; `None` when the path leaves the context or is absolute.
fn normalize(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod prefetch_tests;
#[cfg(test)]
mod tests;
