//! `docker buildx build --call check` (BuildKit's `frontend.lint`): settings in a spec that
//! load fine but do nothing, or cannot do what they say.
//!
//! Every rule is a pure function of the spec text, the loaded [`Spec`] and the project
//! metadata the frontend read, and is conservative: it warns only where it can show the
//! setting is dead, never on a guess (an artifact is checked only against a cargo step that
//! names its binaries with `--bin`; an `include` pattern only when it is a literal path).
//!
//! | rule | warns about |
//! | --- | --- |
//! | `UnusedArg` | an `[args]` entry no value uses (changing it changes nothing the spec builds) |
//! | `IncludeMatchesNothing` | a literal `[project] include` path that is not in the context |
//! | `UnreachableTarget` | a cargo step with artifacts no image copies, that is not the default |
//! | `ArtifactNotProduced` | an artifact path that is none of the `--bin`s its step builds |
//! | `PathOutsideContext` | a path dependency or `[patch]` path in a manifest that leaves the build context |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{Location, SourceInfo, SpecMap};
use crate::project::ProjectFiles;
use crate::spec::{self, Position, Spec, Target};

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub rule: &'static str,
    /// What the rule checks, in one line.
    pub description: &'static str,
    /// What is wrong here and what to do.
    pub detail: String,
    /// The file it is in: the spec, or a manifest of the context.
    pub file: String,
    pub position: Option<Position>,
}

/// What the lint rules look at.
pub struct LintInput<'a> {
    /// The spec's file name and text, and the spec loaded from it.
    pub file: &'a str,
    pub text: &'a str,
    pub spec: &'a Spec,
    /// The context's metadata (manifests, lockfile, config), as the frontend read it.
    pub project: &'a ProjectFiles,
    /// Which of [`literal_includes`] exist in the context.
    pub present_includes: &'a BTreeSet<String>,
}

/// Every warning for `input`, in file and line order.
pub fn lint(input: &LintInput) -> Vec<Warning> {
    let map = SpecMap::new(input.text);
    let mut warnings = Vec::new();
    warnings.extend(unused_args(input.file, input.text, &map));
    warnings.extend(includes_matching_nothing(
        input.file,
        &map,
        input.present_includes,
    ));
    warnings.extend(unreachable_targets(input.file, input.spec, &map));
    warnings.extend(artifacts_not_produced(input.file, input.spec, &map));
    warnings.extend(paths_outside_context(input.project));
    warnings.sort_by_key(|w| {
        (
            w.file != input.file,
            w.file.clone(),
            w.position.map(|p| (p.line, p.column)),
        )
    });
    warnings
}

/// A value no spec value would hold, used to see whether an argument reaches the spec.
const PROBE: &str = "cachetlintprobe0";

/// `UnusedArg`: a declared build argument whose value reaches nothing. Decided by loading the
/// spec with the argument set to a probe value and comparing with the spec as declared: if
/// nothing but the argument itself differs, no value uses it. A probe the spec refuses (the
/// argument feeds a value with a format) counts as used.
pub fn unused_args(file: &str, text: &str, map: &SpecMap) -> Vec<Warning> {
    let without_args = |build_args: &BTreeMap<String, String>| {
        spec::load(file, text, build_args).ok().map(|mut s| {
            s.args.clear();
            s
        })
    };
    let Some(declared) = without_args(&BTreeMap::new()) else {
        return Vec::new();
    };
    map.args
        .iter()
        .filter(|(name, default, _)| {
            let probe = if default == PROBE { "x" } else { PROBE };
            let probed = without_args(&BTreeMap::from([(name.clone(), probe.to_string())]));
            probed.as_ref() == Some(&declared)
        })
        .map(|(name, _, at)| Warning {
            rule: "UnusedArg",
            description: "A build argument no value of the spec uses",
            detail: format!(
                "build argument `{name}` is declared but no value uses `${{{name}}}`: \
                 `--build-arg {name}=…` changes nothing; use it or remove it"
            ),
            file: file.to_string(),
            position: Some(*at),
        })
        .collect()
}

/// `[project] include` patterns that are plain paths (no glob or negation), normalized the
/// way the context's file sync names them: what the frontend asks the context for.
pub fn literal_includes(map: &SpecMap) -> Vec<String> {
    map.include
        .iter()
        .filter_map(|(pattern, _)| literal_path(pattern))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn literal_path(pattern: &str) -> Option<String> {
    if pattern.starts_with('!') || pattern.contains(['*', '?', '[', ']', '{', '}', '\\']) {
        return None;
    }
    let path: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if path.is_empty() || path.contains(&"..") {
        return None;
    }
    Some(path.join("/"))
}

/// `IncludeMatchesNothing`: a literal include path the context does not have.
pub fn includes_matching_nothing(
    file: &str,
    map: &SpecMap,
    present: &BTreeSet<String>,
) -> Vec<Warning> {
    map.include
        .iter()
        .filter_map(|(pattern, at)| {
            let path = literal_path(pattern)?;
            (!present.contains(&path)).then(|| Warning {
                rule: "IncludeMatchesNothing",
                description: "A [project] include path that is not in the build context",
                detail: format!(
                    "`include` names `{pattern}`, which is not in the build context (or a \
                     .dockerignore excludes it): no cargo step will see it; fix the path or \
                     remove it"
                ),
                file: file.to_string(),
                position: Some(*at),
            })
        })
        .collect()
}

/// `UnreachableTarget`: a cargo step that declares artifacts, which only matter when an image
/// copies them, yet no image copies from it and it is not the default target.
pub fn unreachable_targets(file: &str, spec: &Spec, map: &SpecMap) -> Vec<Warning> {
    let used: BTreeSet<&str> = spec
        .targets
        .values()
        .flat_map(Target::dependencies)
        .collect();
    map.targets
        .iter()
        .filter(|(name, _, _)| {
            matches!(spec.targets.get(name), Some(Target::Cargo(c)) if !c.artifacts.is_empty())
                && *name != spec.default_target
                && !used.contains(name.as_str())
        })
        .map(|(name, _, at)| Warning {
            rule: "UnreachableTarget",
            description: "A target with artifacts that no image copies and that is not the default",
            detail: format!(
                "target `{name}` declares artifacts, but no image copies from `+{name}` and it \
                 is not the default target (`{}`): a build without `--target {name}` never \
                 runs it; copy its artifacts into an image or drop `artifacts`",
                spec.default_target
            ),
            file: file.to_string(),
            position: Some(*at),
        })
        .collect()
}

/// Cargo flags that select targets other than `--bin`s: with any of them, what the step
/// produces is not known from its arguments, and its artifacts are not checked.
const OTHER_SELECTIONS: &[&str] = &[
    "--bins",
    "--lib",
    "--example",
    "--examples",
    "--test",
    "--tests",
    "--bench",
    "--benches",
    "--all-targets",
];

/// The `--bin` names of a `cargo build` step that selects its targets only with `--bin`;
/// `None` when what it builds is not known from its arguments alone.
pub fn named_bins(args: &[String]) -> Option<BTreeSet<String>> {
    if !matches!(args.first().map(String::as_str), Some("build" | "b")) {
        return None;
    }
    let mut bins = BTreeSet::new();
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if arg == "--" {
            break;
        }
        if let Some(name) = arg.strip_prefix("--bin=") {
            bins.insert(name.to_string());
        } else if arg == "--bin" {
            // A pattern (`--bin 'a*'`) or a missing name: what is built is not known.
            match rest.next() {
                Some(name) if !name.starts_with('-') => bins.insert(name.clone()),
                _ => return None,
            };
        } else if OTHER_SELECTIONS
            .iter()
            .any(|f| arg == f || arg.starts_with(&format!("{f}=")))
        {
            return None;
        }
    }
    let plain = bins.iter().all(|b| !b.contains(['*', '?', '[', ']', '/']));
    (!bins.is_empty() && plain).then_some(bins)
}

/// `ArtifactNotProduced`: an artifact of a step that builds only named `--bin`s, whose path is
/// none of them (cargo puts a binary at `target/<triple>/<profile>/<name>`).
pub fn artifacts_not_produced(file: &str, spec: &Spec, map: &SpecMap) -> Vec<Warning> {
    map.artifacts
        .iter()
        .filter_map(|(target, artifact, path, at)| {
            let Some(Target::Cargo(cargo)) = spec.targets.get(target) else {
                return None;
            };
            let bins = named_bins(&cargo.args)?;
            let produced = cargo.artifacts.get(artifact).unwrap_or(path);
            let exe = produced.strip_suffix(".exe").unwrap_or(produced);
            if bins.contains(produced) || bins.contains(exe) {
                return None;
            }
            let names: Vec<&str> = bins.iter().map(String::as_str).collect();
            Some(Warning {
                rule: "ArtifactNotProduced",
                description: "An artifact path the target's cargo step does not produce",
                detail: format!(
                    "artifact `{artifact}` of target `{target}` is `{produced}`, but the step \
                     builds only `--bin {}` (cargo writes each to target/<triple>/<profile>/<name>): \
                     the copy would fail; name one of them or add its `--bin`",
                    names.join("`, `--bin ")
                ),
                file: file.to_string(),
                position: Some(*at),
            })
        })
        .collect()
}

/// `PathOutsideContext`: a manifest's path dependency, `[patch]` or `[replace]` entry whose
/// path leaves the build context. BuildKit sends only the context, so cargo cannot find it.
pub fn paths_outside_context(project: &ProjectFiles) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (name, bytes) in &project.files {
        let dir = match name.as_str() {
            "Cargo.toml" => "",
            other => match other.strip_suffix("/Cargo.toml") {
                Some(dir) => dir,
                None => continue,
            },
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        let Ok(table) = DeTable::parse(text) else {
            continue;
        };
        let mut found = Vec::new();
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            dependency_paths(entry(table.get_ref(), section), section, &mut found);
        }
        if let Some(platforms) = entry(table.get_ref(), "target").and_then(as_table) {
            for (platform, value) in platforms {
                for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
                    let place = format!("target.{}.{section}", platform.get_ref());
                    dependency_paths(entry_of(value, section), &place, &mut found);
                }
            }
        }
        if let Some(workspace) = entry(table.get_ref(), "workspace") {
            dependency_paths(
                entry_of(workspace, "dependencies"),
                "workspace.dependencies",
                &mut found,
            );
        }
        if let Some(patches) = entry(table.get_ref(), "patch").and_then(as_table) {
            for (source, value) in patches {
                let place = format!("patch.{}", source.get_ref());
                dependency_paths(Some(value), &place, &mut found);
            }
        }
        dependency_paths(entry(table.get_ref(), "replace"), "replace", &mut found);
        for (place, crate_name, path, offset) in found {
            if !leaves_context(dir, &path) {
                continue;
            }
            warnings.push(Warning {
                rule: "PathOutsideContext",
                description: "A path dependency or patch outside the build context",
                detail: format!(
                    "[{place}] `{crate_name}` has path `{path}`, outside the build context: \
                     BuildKit sends only the context, so cargo cannot read it; move the crate \
                     into the context or build from a directory that contains it"
                ),
                file: name.clone(),
                position: Some(Position::of_offset(text, offset)),
            });
        }
    }
    warnings
}

fn entry<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

fn entry_of<'a, 'i>(
    value: &'a Spanned<DeValue<'i>>,
    key: &str,
) -> Option<&'a Spanned<DeValue<'i>>> {
    as_table(value).and_then(|t| entry(t, key))
}

fn as_table<'a, 'i>(value: &'a Spanned<DeValue<'i>>) -> Option<&'a DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => None,
    }
}

/// `(place, crate, path, byte offset of the path)` of every `path = "…"` in a dependency table.
fn dependency_paths(
    table: Option<&Spanned<DeValue>>,
    place: &str,
    out: &mut Vec<(String, String, String, usize)>,
) {
    let Some(table) = table.and_then(as_table) else {
        return;
    };
    for (name, dep) in table {
        if let Some(path) = entry_of(dep, "path") {
            if let DeValue::String(s) = path.get_ref() {
                out.push((
                    place.to_string(),
                    name.get_ref().to_string(),
                    s.to_string(),
                    path.span().start,
                ));
            }
        }
    }
}

/// Whether `path`, relative to the package directory `dir`, is absolute or climbs above the
/// context root.
fn leaves_context(dir: &str, path: &str) -> bool {
    if path.starts_with('/') {
        return true;
    }
    let mut depth: usize = dir
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .count();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

/// BuildKit's lint result (`frontend/subrequests/lint`).
#[derive(Debug, Clone, Serialize)]
pub struct LintResults {
    pub warnings: Vec<WarningJson>,
    pub sources: Vec<SourceInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WarningJson {
    #[serde(rename = "ruleName")]
    pub rule_name: String,
    pub description: String,
    pub detail: String,
    pub location: Location,
}

/// The result of `warnings`, with the spec (and each manifest a warning is in) as sources.
pub fn results(
    file: &str,
    text: &str,
    project: &ProjectFiles,
    warnings: &[Warning],
) -> LintResults {
    let mut sources = vec![SourceInfo::new(file, text.as_bytes())];
    let mut index: BTreeMap<&str, usize> = BTreeMap::from([(file, 0)]);
    let warnings = warnings
        .iter()
        .map(|w| {
            let source = match index.get(w.file.as_str()) {
                Some(&i) => Some(i),
                None => project.get(&w.file).map(|bytes| {
                    sources.push(SourceInfo::new(&w.file, bytes));
                    index.insert(&w.file, sources.len() - 1);
                    sources.len() - 1
                }),
            };
            WarningJson {
                rule_name: w.rule.to_string(),
                description: w.description.to_string(),
                detail: w.detail.clone(),
                location: match (source, w.position) {
                    (Some(i), Some(at)) => Location::at(i, at),
                    _ => Location::none(),
                },
            }
        })
        .collect();
    LintResults { warnings, sources }
}

/// `result.statuscode`: 1 when there is anything to fix, as buildx expects.
pub fn status_code(warnings: &[Warning]) -> u8 {
    u8::from(!warnings.is_empty())
}

/// The warnings as text: `file:line:column: Rule: detail`, then a summary line.
pub fn render(warnings: &[Warning]) -> String {
    let mut out = String::new();
    for w in warnings {
        let at = w
            .position
            .map(|p| format!("{}:{}:{}", w.file, p.line, p.column))
            .unwrap_or_else(|| w.file.clone());
        let _ = writeln!(out, "WARNING: {}: {at}: {}", w.rule, w.detail);
    }
    let _ = match warnings.len() {
        0 => writeln!(out, "Check complete, no warnings found."),
        1 => writeln!(out, "Check complete, 1 warning has been found!"),
        n => writeln!(out, "Check complete, {n} warnings have been found!"),
    };
    out
}
