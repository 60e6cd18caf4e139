//! Reading `Cargo.toml` files: the workspace's packages, where each keeps its sources, and the
//! path dependencies that pull more packages in.
//!
//! Only the parts that decide which files cargo reads are looked at; everything else is left
//! to cargo, which reports its own errors in the build output. So a manifest that does not
//! parse gives no layout at all ([`discover`] is `None`: the whole context is used, and cargo
//! names the broken manifest), a path dependency without a manifest is skipped (cargo names
//! the missing path), and a package without a name gets `""` (cargo refuses it). Nothing here
//! is limited in count or depth.

use std::collections::{BTreeMap, BTreeSet};

use toml::{Table, Value};

use super::patterns::PatternSet;
use super::{join, normalize, ProjectFiles};

/// Where one package keeps what cargo reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageLayout {
    /// Directory relative to the context root (`""` for the root package).
    pub dir: String,
    pub name: String,
    /// `[lib] path`, when set.
    pub lib_path: Option<String>,
    /// `[lib] name`, when set (else the package name with `-` as `_`).
    pub lib_name: Option<String>,
    /// `package.build`, when it names a file.
    pub build_path: Option<String>,
    /// Targets declared with `[[bin]]`, `[[test]]`, `[[bench]]`, `[[example]]`: kind, name and
    /// explicit path (package-relative).
    pub targets: Vec<(String, String, Option<String>)>,
    /// Directories of the packages this one names as path dependencies.
    pub path_deps: BTreeSet<String>,
}

/// Conventional places cargo discovers targets in, relative to a package.
const CONVENTIONAL: &[&str] = &[
    "Cargo.toml",
    "src",
    "build.rs",
    "tests",
    "benches",
    "examples",
];

impl PackageLayout {
    /// Crate names this package compiles under (library and binaries, `-` as `_`): what its
    /// artifacts in a target directory are named after.
    pub fn crate_names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        names.insert(
            self.lib_name
                .clone()
                .unwrap_or_else(|| self.name.clone())
                .replace('-', "_"),
        );
        names.insert(self.name.replace('-', "_"));
        for (kind, name, _) in &self.targets {
            if kind == "bin" {
                names.insert(name.replace('-', "_"));
            }
        }
        names.retain(|n| !n.is_empty());
        names
    }

    pub fn manifest_path(&self) -> String {
        join(&self.dir, "Cargo.toml")
    }

    /// Everything cargo may read to build this package.
    pub fn source_patterns(&self) -> BTreeSet<String> {
        let mut patterns: BTreeSet<String> =
            CONVENTIONAL.iter().map(|p| join(&self.dir, p)).collect();
        let explicit = self
            .lib_path
            .iter()
            .chain(self.build_path.iter())
            .chain(self.targets.iter().filter_map(|(_, _, p)| p.as_ref()));
        for path in explicit {
            let Some(path) = normalize(&join(&self.dir, path)) else {
                continue;
            };
            // A target root outside `src/` may declare modules beside it.
            match path.rsplit_once('/') {
                Some((parent, _)) if parent != self.dir => patterns.insert(parent.to_string()),
                _ => patterns.insert(path),
            };
        }
        patterns
    }

    /// Empty stand-ins for every target root, so cargo can load the manifest without sources.
    pub fn stubs(&self) -> BTreeSet<String> {
        let mut stubs = BTreeSet::new();
        stubs.insert(self.lib_path.clone().unwrap_or_else(|| "src/lib.rs".into()));
        if let Some(build) = &self.build_path {
            stubs.insert(build.clone());
        }
        for (kind, name, path) in &self.targets {
            let inferred = match kind.as_str() {
                "bin" if *name == self.name => "src/main.rs".to_string(),
                "bin" => format!("src/bin/{name}.rs"),
                "test" => format!("tests/{name}.rs"),
                "bench" => format!("benches/{name}.rs"),
                _ => format!("examples/{name}.rs"),
            };
            stubs.insert(path.clone().unwrap_or(inferred));
        }
        stubs
            .into_iter()
            .filter_map(|p| normalize(&join(&self.dir, &p)))
            .collect()
    }
}

/// The packages of a workspace and which of them cargo builds by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workspace {
    pub packages: BTreeMap<String, PackageLayout>,
    /// Directories of the workspace members (including the root package, if any).
    pub members: BTreeSet<String>,
    /// What `cargo build` without `-p` builds: the root package, `default-members`, or every
    /// member of a virtual workspace.
    pub default_members: BTreeSet<String>,
    /// Directories of the packages that `[patch.<source>]` and `[replace]` (in the root
    /// manifest or `.cargo/config`) put in place of a registry or git crate (members too: a
    /// member can be the patch). Nothing names them as a path dependency: who needs their
    /// sources is found in `Cargo.lock` (see `super::link_patches`).
    pub patched: BTreeSet<String>,
}

/// Finds the workspace from the root manifest; `None` when it cannot be worked out.
pub fn discover(files: &ProjectFiles, manifest_dirs: &BTreeSet<String>) -> Option<Workspace> {
    let root: Table = parse(files, "")?;
    let workspace = root.get("workspace").and_then(Value::as_table);
    let inherited = workspace_path_deps(Some(&root));
    let mut members = BTreeSet::new();
    let mut wanted: Vec<String> = Vec::new();
    if root.contains_key("package") {
        members.insert(String::new());
    }
    if let Some(ws) = workspace {
        let excluded: BTreeSet<String> = strings(ws.get("exclude"))
            .into_iter()
            .filter_map(|p| normalize(&p))
            .collect();
        let globs = member_set(&strings(ws.get("members")))?;
        for dir in manifest_dirs {
            // Excluded: the directory or one of its ancestors is listed under `exclude`.
            let is_excluded = ancestors(dir).any(|a| excluded.contains(a));
            if !dir.is_empty() && !is_excluded && globs.is_match(dir.as_str()) {
                members.insert(dir.clone());
            }
        }
        wanted.extend(inherited.values().cloned());
    }
    let patches: BTreeSet<String> = patch_paths(&root)
        .into_iter()
        .chain(super::cargo_config::patch_paths(files))
        .collect();
    wanted.extend(patches.iter().cloned());
    let default_members = match workspace.and_then(|ws| ws.get("default-members")) {
        Some(list) => {
            let globs = member_set(&strings(Some(list)))?;
            members
                .iter()
                .filter(|d| globs.is_match(d.as_str()))
                .cloned()
                .collect()
        }
        None if members.contains("") => BTreeSet::from([String::new()]),
        None => members.clone(),
    };

    wanted.extend(members.iter().cloned());
    let mut packages = BTreeMap::new();
    while let Some(dir) = wanted.pop() {
        if packages.contains_key(&dir) || !manifest_dirs.contains(&dir) {
            // A path that names no manifest is cargo's error to report.
            continue;
        }
        let manifest = parse(files, &dir)?;
        let package = package_layout(&dir, &manifest, &inherited);
        wanted.extend(package.path_deps.iter().cloned());
        packages.insert(dir, package);
    }
    let patched = patches
        .into_iter()
        .filter(|dir| packages.contains_key(dir))
        .collect();
    Some(Workspace {
        packages,
        members,
        default_members,
        patched,
    })
}

/// Include patterns for every manifest the files read so far point to: workspace members
/// (their globs as written), `[workspace.dependencies]` and patch paths, and the path
/// dependencies of each manifest present. Reading these and asking again reaches the
/// workspace's closure in a few rounds, with patterns even BuildKit v0.8's file sync matches
/// correctly (it has no `**`). [`super::discovery::Discovery`] computes the same set a round
/// at a time, looking at each file once.
pub fn manifest_patterns(files: &ProjectFiles) -> BTreeSet<String> {
    let root = RootFacts::new(parse(files, "").as_ref());
    let mut patterns = root.patterns.clone();
    patterns.extend(
        super::cargo_config::patch_paths(files)
            .into_iter()
            .map(|d| join(&d, "Cargo.toml")),
    );
    for path in files.files.keys() {
        if let Some(dir) = manifest_dir(path) {
            patterns.extend(root.manifest_patterns(dir, files.get(path).unwrap_or_default()));
        }
    }
    patterns.retain(|p| keep_pattern(p));
    patterns
}

/// The directory of a manifest path (`""` for the root manifest); `None` for other files.
pub fn manifest_dir(path: &str) -> Option<&str> {
    if path == "Cargo.toml" {
        Some("")
    } else {
        path.strip_suffix("/Cargo.toml")
    }
}

/// Whether a manifest pattern is worth asking for: the root manifest is always read first.
pub fn keep_pattern(pattern: &str) -> bool {
    !pattern.is_empty() && pattern != "Cargo.toml"
}

/// What the root manifest says about where the other manifests are.
#[derive(Debug, Clone, Default)]
pub struct RootFacts {
    /// Member globs as written, `[workspace.dependencies]` and patch paths, as manifest paths.
    pub patterns: BTreeSet<String>,
    /// `[workspace.dependencies]` entries with a path: name → directory.
    inherited: BTreeMap<String, String>,
}

impl RootFacts {
    /// From the parsed root manifest; empty when there is none (or it does not parse).
    pub fn new(root: Option<&Table>) -> RootFacts {
        let inherited = workspace_path_deps(root);
        let mut patterns = BTreeSet::new();
        if let Some(root) = root {
            if let Some(ws) = root.get("workspace").and_then(Value::as_table) {
                for member in strings(ws.get("members")) {
                    if let Some(member) = normalize(&member) {
                        patterns.insert(join(&member, "Cargo.toml"));
                    }
                }
                patterns.extend(inherited.values().map(|d| join(d, "Cargo.toml")));
            }
            patterns.extend(
                patch_paths(root)
                    .into_iter()
                    .map(|d| join(&d, "Cargo.toml")),
            );
        }
        RootFacts {
            patterns,
            inherited,
        }
    }

    /// From the root manifest's bytes.
    pub fn from_bytes(bytes: &[u8]) -> RootFacts {
        RootFacts::new(parse_bytes(bytes).as_ref())
    }

    /// Manifest paths of the path dependencies of the manifest in `dir` (nothing when it does
    /// not parse: [`discover`] then gives up on the layout anyway).
    pub fn manifest_patterns(&self, dir: &str, manifest: &[u8]) -> Vec<String> {
        let Some(manifest) = parse_bytes(manifest) else {
            return Vec::new();
        };
        package_layout(dir, &manifest, &self.inherited)
            .path_deps
            .iter()
            .map(|d| join(d, "Cargo.toml"))
            .collect()
    }
}

/// `path` and its ancestors, nearest first, ending with the first component.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| p.rsplit_once('/').map(|(parent, _)| parent))
}

fn parse(files: &ProjectFiles, dir: &str) -> Option<Table> {
    parse_bytes(files.get(&join(dir, "Cargo.toml"))?)
}

fn parse_bytes(bytes: &[u8]) -> Option<Table> {
    std::str::from_utf8(bytes).ok()?.parse::<Table>().ok()
}

fn package_layout(
    dir: &str,
    manifest: &Table,
    inherited: &BTreeMap<String, String>,
) -> PackageLayout {
    let package = manifest.get("package").and_then(Value::as_table);
    let name = package
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let build_path = package
        .and_then(|p| p.get("build"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let lib_path = manifest
        .get("lib")
        .and_then(|l| l.get("path"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let lib_name = manifest
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut targets = Vec::new();
    for kind in ["bin", "test", "bench", "example"] {
        for target in manifest
            .get(kind)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = target
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let path = target
                .get("path")
                .and_then(Value::as_str)
                .map(str::to_string);
            targets.push((kind.to_string(), name.to_string(), path));
        }
    }
    let mut path_deps = BTreeSet::new();
    for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
        path_deps.extend(path_deps_of(manifest.get(table), dir, inherited));
    }
    for platform in manifest
        .get("target")
        .and_then(Value::as_table)
        .into_iter()
        .flat_map(|t| t.values())
    {
        for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
            path_deps.extend(path_deps_of(platform.get(table), dir, inherited));
        }
    }
    PackageLayout {
        dir: dir.to_string(),
        name,
        lib_path,
        lib_name,
        build_path,
        targets,
        path_deps,
    }
}

/// Directories named by `path = "…"` in a dependency table, relative to the context root;
/// `{ workspace = true }` entries take theirs from `[workspace.dependencies]` (`inherited`,
/// already relative to the root).
pub(super) fn path_deps_of(
    table: Option<&Value>,
    dir: &str,
    inherited: &BTreeMap<String, String>,
) -> Vec<String> {
    table
        .and_then(Value::as_table)
        .into_iter()
        .flat_map(|t| t.iter())
        .filter_map(|(name, dep)| {
            if let Some(path) = dep.get("path").and_then(Value::as_str) {
                normalize(&join(dir, path))
            } else if dep.get("workspace").and_then(Value::as_bool) == Some(true) {
                inherited.get(name).cloned()
            } else {
                None
            }
        })
        .collect()
}

/// `[workspace.dependencies]` entries with a path: name → directory from the context root.
fn workspace_path_deps(root: Option<&Table>) -> BTreeMap<String, String> {
    root.and_then(|r| r.get("workspace"))
        .and_then(|ws| ws.get("dependencies"))
        .and_then(Value::as_table)
        .into_iter()
        .flat_map(|t| t.iter())
        .filter_map(|(name, dep)| {
            let path = dep.get("path").and_then(Value::as_str)?;
            Some((name.clone(), normalize(path)?))
        })
        .collect()
}

/// Paths named by `[patch.<source>]` and `[replace]` in the root manifest.
fn patch_paths(root: &Table) -> Vec<String> {
    let mut paths = Vec::new();
    for source in root
        .get("patch")
        .and_then(Value::as_table)
        .into_iter()
        .flat_map(|t| t.values())
    {
        paths.extend(path_deps_of(Some(source), "", &BTreeMap::new()));
    }
    paths.extend(path_deps_of(root.get("replace"), "", &BTreeMap::new()));
    paths
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Cargo expands member globs with `*` not crossing `/`; a literal member is looked up, not
/// globbed. `None` when a pattern leaves the context or is not a valid glob.
fn member_set(patterns: &[String]) -> Option<PatternSet> {
    let normalized: Vec<String> = patterns
        .iter()
        .map(|p| normalize(p))
        .collect::<Option<_>>()?;
    PatternSet::strict(normalized)
}
