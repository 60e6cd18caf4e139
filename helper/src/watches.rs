//! After cargo: every path a workspace build script watches (`cargo:rerun-if-changed=` or
//! `cargo::rerun-if-changed=`) must be in the sources the step got.
//!
//! A step's snapshot holds only what its packages need plus `[project] include`. A build script
//! that watches a file in the context outside the snapshot would never see that file change:
//! cargo finds it missing, re-runs the script, and the script reads nothing there. That is a
//! silent wrong build, so it fails the step with a message naming the path and the setting
//! that fixes it.
//!
//! A watched path is fine when it
//! * lies outside the context (the SDK, `/cachet/target`, `OUT_DIR`, the vendored crates);
//! * is not in the context at all because `.dockerignore` (or Cachet's own `target`, `.git`)
//!   excludes it: no snapshot could hold it;
//! * is covered by one of the snapshot's include patterns (itself or an ancestor directory),
//!   or exists in the snapshot.
//!
//! Paths are resolved as cargo resolves them: relative to the package root, without following
//! symlinks (`..` is taken lexically). Build-script outputs are found under
//! `<target>/<profile>/build/<package>-<hash>/output` and
//! `<target>/<triple>/<profile>/build/<package>-<hash>/output`; only packages of the step's
//! workspace selection are checked, and of several run directories of one package under one
//! `build/` directory only the newest (the others are left from builds under other inputs).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use globset::{GlobBuilder, GlobMatcher};

/// What the check needs to know about the step.
#[derive(Debug, Clone, Default)]
pub struct Watches {
    /// The spec's file name, for messages.
    pub spec: String,
    /// Where the snapshot is mounted (the context root).
    pub src: PathBuf,
    /// The target directory.
    pub target_dir: PathBuf,
    /// Workspace packages of the step: name → directory relative to the context root.
    pub packages: BTreeMap<String, String>,
    /// The snapshot's include patterns (empty: the whole context).
    pub include: Vec<String>,
    /// What the context excludes (`.dockerignore` syntax and order, `!` negates).
    pub exclude: Vec<String>,
}

/// A watched path the step cannot see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub package: String,
    /// Relative to the context root.
    pub path: String,
}

impl Problem {
    pub fn message(&self, spec: &str) -> String {
        format!(
            "{spec}: build script of {} watches {}, which is not in the sources Cachet gave the \
             step; add `include = [\"{}\"]` under [project]",
            self.package, self.path, self.path
        )
    }
}

impl Watches {
    /// The watched paths the step's sources do not cover, in a stable order.
    pub fn check(&self) -> Result<Vec<Problem>, String> {
        let include = Patterns::new(&self.include);
        let exclude = Exclusions::new(&self.exclude);
        let mut problems = Vec::new();
        for (package, output) in self.outputs()? {
            let Some(dir) = self.packages.get(&package) else {
                continue;
            };
            let text = std::fs::read(&output)
                .map_err(|e| format!("cannot read {}: {e}", output.display()))?;
            for watched in watched_paths(&text) {
                let resolved = normalize(&self.src.join(dir).join(watched));
                let Ok(rel) = resolved.strip_prefix(&self.src) else {
                    continue;
                };
                let Some(rel) = rel.to_str().map(str::to_string) else {
                    continue;
                };
                if rel.is_empty()
                    || exclude.excludes(&rel)
                    || (self.include.is_empty() || include.covers(&rel))
                    || std::fs::symlink_metadata(self.src.join(&rel)).is_ok()
                {
                    continue;
                }
                let problem = Problem {
                    package: package.clone(),
                    path: rel,
                };
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
        }
        Ok(problems)
    }

    /// `(package, output file)` of the newest run directory of each package under each
    /// `build/` directory of the target dir.
    fn outputs(&self) -> Result<Vec<(String, PathBuf)>, String> {
        let mut build_dirs = Vec::new();
        for first in read_dirs(&self.target_dir)? {
            build_dirs.push(first.join("build"));
            for second in read_dirs(&first)? {
                build_dirs.push(second.join("build"));
            }
        }
        let mut found = Vec::new();
        for build in build_dirs.into_iter().filter(|d| d.is_dir()) {
            let mut newest: BTreeMap<String, (SystemTime, PathBuf)> = BTreeMap::new();
            for run in read_dirs(&build)? {
                let output = run.join("output");
                let Ok(meta) = std::fs::metadata(&output) else {
                    continue;
                };
                let Some(package) = run
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(package_of_run_dir)
                else {
                    continue;
                };
                let t = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                let slot = newest
                    .entry(package.to_string())
                    .or_insert((t, output.clone()));
                if (t, &output) > (slot.0, &slot.1) {
                    *slot = (t, output);
                }
            }
            found.extend(newest.into_iter().map(|(p, (_, o))| (p, o)));
        }
        Ok(found)
    }
}

/// The subdirectories of `dir` (none if it does not exist), sorted.
fn read_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    let mut dirs = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// `facts` from `facts-0123456789abcdef` (cargo's run directory: package name, metadata hash).
pub fn package_of_run_dir(name: &str) -> Option<&str> {
    let (package, hash) = name.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && !package.is_empty())
        .then_some(package)
}

/// The paths a build script's output watches, in both directive forms.
pub fn watched_paths(output: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    output
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line.strip_prefix(b"cargo::rerun-if-changed=")
                .or_else(|| line.strip_prefix(b"cargo:rerun-if-changed="))
        })
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(std::ffi::OsStr::from_bytes(p)))
        .collect()
}

/// `path` with `.` dropped and `..` applied lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The path and its ancestors, innermost first: `a/b/c`, `a/b`, `a`.
fn self_and_ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| p.rsplit_once('/').map(|(parent, _)| parent))
}

fn clean(pattern: &str) -> String {
    let p = pattern.trim();
    let p = p.trim_start_matches('/');
    let p = p.strip_prefix("./").unwrap_or(p);
    p.trim_end_matches('/').to_string()
}

/// One pattern: `*` and `?` within a component, `**` across; invalid globs match literally.
#[derive(Debug, Clone)]
enum Pattern {
    Literal(String),
    Glob(GlobMatcher),
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        let p = clean(pattern);
        if p.contains(['*', '?', '[']) {
            if let Ok(g) = GlobBuilder::new(&p).literal_separator(true).build() {
                return Pattern::Glob(g.compile_matcher());
            }
        }
        Pattern::Literal(p)
    }

    fn is_match(&self, path: &str) -> bool {
        match self {
            Pattern::Literal(l) => l == path,
            Pattern::Glob(g) => g.is_match(path),
        }
    }

    /// Matches the path or one of its ancestors (a matched directory brings what is under it).
    fn covers(&self, path: &str) -> bool {
        self_and_ancestors(path).any(|p| self.is_match(p))
    }
}

/// Include patterns, as the context local gets them.
struct Patterns(Vec<Pattern>);

impl Patterns {
    fn new(patterns: &[String]) -> Patterns {
        Patterns(patterns.iter().map(|p| Pattern::new(p)).collect())
    }

    fn covers(&self, path: &str) -> bool {
        self.0.iter().any(|p| p.covers(path))
    }
}

/// Exclude patterns in `.dockerignore` order: the last pattern that matches the path (or an
/// ancestor) decides, and a `!` pattern re-includes.
struct Exclusions(Vec<(bool, Pattern)>);

impl Exclusions {
    fn new(patterns: &[String]) -> Exclusions {
        Exclusions(
            patterns
                .iter()
                .filter(|p| !p.trim().is_empty() && !p.trim_start().starts_with('#'))
                .map(|p| match p.trim().strip_prefix('!') {
                    Some(rest) => (false, Pattern::new(rest)),
                    None => (true, Pattern::new(p)),
                })
                .collect(),
        )
    }

    fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for (excluding, pattern) in &self.0 {
            if pattern.covers(path) {
                excluded = *excluding;
            }
        }
        excluded
    }
}
