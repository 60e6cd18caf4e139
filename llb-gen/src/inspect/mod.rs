//! What BuildKit subrequests report about a spec: `docker buildx build --call targets`,
//! `--call outline` and `--call check` (the `frontend.targets`, `frontend.outline` and
//! `frontend.lint` requests), in the JSON shapes BuildKit's `frontend/subrequests/` packages
//! define and buildx prints, plus the text each request also returns as `result.txt`.
//!
//! Pure: the frontend hands in the spec text, the loaded [`Spec`], the project metadata it
//! read and, for the outline, the [`Compiled`] build; nothing here talks to BuildKit. Positions
//! come from the spec's own text (the same spans `spec::load` reports errors with), so a
//! warning points at the line and column of the key it is about.
//!
//! Wire facts (moby/buildkit `frontend/subrequests/*`, v0.33): every request answers with
//! metadata `result.json`, `result.txt` and `version`; the lint request adds
//! `result.statuscode` (`1` when there are warnings), which buildx turns into its exit status.
//! A location is `{"sourceIndex": n, "ranges": [{"start": {"line", "character"}, "end"}]}`
//! into the result's `sources`; a source's `data` is base64 (Go `[]byte`).

mod digests;
pub mod lint;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use toml::Spanned;

pub use digests::buildkit_digests;

use crate::compile::Compiled;
use crate::llb::decode_ops;
use crate::proto::pb;
use crate::spec::model::SpecFile;
use crate::spec::{BaseRef, Position, Spec, Target, TargetRef};

/// `frontend.subrequests.describe`, `frontend.targets`, `frontend.outline`, `frontend.lint`:
/// the versions of the result shapes buildx knows (it prints `result.txt` for newer ones).
pub const DESCRIBE: &str = "frontend.subrequests.describe";
pub const TARGETS: &str = "frontend.targets";
pub const OUTLINE: &str = "frontend.outline";
pub const LINT: &str = "frontend.lint";
/// Cachet's own request: `docker buildx build --call explain` (buildx sends any call name as
/// `frontend.<name>` and prints `result.txt`, or `result.json` with `format=json`).
pub const EXPLAIN: &str = "frontend.explain";
pub const VERSION: &str = "1.0.0";

/// The language BuildKit's clients are told a spec is written in.
pub const LANGUAGE: &str = "TOML";

/// One request a frontend answers, as `frontend.subrequests.describe` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestInfo {
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub opts: Vec<Named>,
    pub inputs: Vec<Named>,
    pub metadata: Vec<Named>,
    pub refs: Vec<Named>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub name: String,
    pub description: String,
}

fn named(names: &[&str]) -> Vec<Named> {
    names
        .iter()
        .map(|n| Named {
            name: n.to_string(),
            description: String::new(),
        })
        .collect()
}

/// Every request this frontend answers, in the order `describe` lists them.
pub fn requests() -> Vec<RequestInfo> {
    let request = |name: &str, description: &str, metadata: &[&str]| RequestInfo {
        name: name.to_string(),
        version: VERSION.to_string(),
        kind: "rpc".to_string(),
        description: description.to_string(),
        opts: Vec::new(),
        inputs: Vec::new(),
        metadata: named(metadata),
        refs: Vec::new(),
    };
    let json_txt = ["result.json", "result.txt"];
    vec![
        request(DESCRIBE, "List available subrequest types", &json_txt),
        request(TARGETS, "List all targets the spec defines", &json_txt),
        RequestInfo {
            opts: vec![Named {
                name: "target".into(),
                description: "Target to outline (default: the spec's default)".into(),
            }],
            ..request(
                OUTLINE,
                "List the build arguments, secrets, SSH and cache mounts of a target's build",
                &json_txt,
            )
        },
        request(
            LINT,
            "Check the spec for settings that do nothing",
            &["result.json", "result.txt", "result.statuscode"],
        ),
        RequestInfo {
            opts: vec![Named {
                name: "target".into(),
                description: "Target to explain (default: the spec's default)".into(),
            }],
            ..request(
                EXPLAIN,
                "Explain every step's op digest, target cache mount and key inputs, as \
                 `llb-gen explain` does, for this very build",
                &json_txt,
            )
        },
    ]
}

/// The names of the requests there are, for an error about one that is not.
pub fn request_names() -> Vec<String> {
    requests().into_iter().map(|r| r.name).collect()
}

/// `describe` as text: a `NAME VERSION DESCRIPTION` table, as buildx prints it.
pub fn render_requests(requests: &[RequestInfo]) -> String {
    let rows: Vec<Vec<String>> = requests
        .iter()
        .map(|r| {
            vec![
                r.name.trim_start_matches("frontend.").to_string(),
                r.version.clone(),
                r.description.clone(),
            ]
        })
        .collect();
    table(&["NAME", "VERSION", "DESCRIPTION"], &rows, 1)
}

/// A place in a result's `sources` (BuildKit's `pb.Location`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    #[serde(rename = "sourceIndex")]
    pub source_index: i32,
    pub ranges: Vec<Range>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    pub start: LinePosition,
    pub end: LinePosition,
}

/// A 1-based line and column (BuildKit calls the column `character`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LinePosition {
    pub line: i32,
    pub character: i32,
}

impl Location {
    /// A point in source `index`.
    pub fn at(index: usize, position: Position) -> Location {
        let point = LinePosition {
            line: i32::try_from(position.line).unwrap_or(i32::MAX),
            character: i32::try_from(position.column).unwrap_or(i32::MAX),
        };
        Location {
            source_index: i32::try_from(index).unwrap_or(i32::MAX),
            ranges: vec![Range {
                start: point,
                end: point,
            }],
        }
    }

    /// No place in any source (`sourceIndex` -1, as BuildKit's lint results use).
    pub fn none() -> Location {
        Location {
            source_index: -1,
            ranges: Vec::new(),
        }
    }

    /// `line:column`, when it has a place.
    pub fn line_column(&self) -> Option<String> {
        self.ranges
            .first()
            .map(|r| format!("{}:{}", r.start.line, r.start.character))
    }
}

/// A source file as BuildKit's results carry it (`pb.SourceInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    pub filename: String,
    /// Base64 of the file's bytes.
    pub data: String,
    pub language: String,
}

impl SourceInfo {
    pub fn new(filename: &str, data: &[u8]) -> SourceInfo {
        SourceInfo {
            filename: filename.to_string(),
            data: base64(data),
            language: LANGUAGE.to_string(),
        }
    }
}

/// Where the spec declares what the subrequests report on: every build argument, target,
/// `include` pattern and artifact, with its position. Read from the text with the same model
/// `spec::load` reads it with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecMap {
    /// `[args]`: name, default as written, position of the name.
    pub args: Vec<(String, String, Position)>,
    /// `[target.NAME]`: name, `description`, position of the table.
    pub targets: Vec<(String, Option<String>, Position)>,
    /// `[project] include`: pattern as written and its position.
    pub include: Vec<(String, Position)>,
    /// Artifacts: target, artifact name, path as written, position of the path.
    pub artifacts: Vec<(String, String, String, Position)>,
}

impl SpecMap {
    /// The positions of `text`; empty when it does not parse (then `spec::load` has already
    /// said why, and no subrequest gets this far).
    pub fn new(text: &str) -> SpecMap {
        let Ok(raw) = toml::from_str::<SpecFile>(text) else {
            return SpecMap::default();
        };
        let at = |span: std::ops::Range<usize>| Position::of_offset(text, span.start);
        let mut map = SpecMap {
            args: raw
                .args
                .iter()
                .map(|(name, default)| {
                    (
                        name.get_ref().clone(),
                        default.get_ref().clone(),
                        at(name.span()),
                    )
                })
                .collect(),
            include: raw
                .project
                .include
                .iter()
                .map(|p: &Spanned<String>| (p.get_ref().clone(), at(p.span())))
                .collect(),
            ..SpecMap::default()
        };
        let mut targets: Vec<_> = raw.targets.iter().collect();
        // The order of the file, as a reader sees it.
        targets.sort_by_key(|(_, section)| section.span().start);
        for (name, section) in targets {
            let t = section.get_ref();
            map.targets
                .push((name.clone(), t.description.clone(), at(section.span())));
            for (artifact, path) in &t.artifacts {
                map.artifacts.push((
                    name.clone(),
                    artifact.clone(),
                    path.get_ref().clone(),
                    at(path.span()),
                ));
            }
        }
        map
    }

    fn target_position(&self, name: &str) -> Option<Position> {
        self.targets
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, at)| *at)
    }

    fn description(&self, name: &str) -> Option<&str> {
        self.targets
            .iter()
            .find(|(n, _, _)| n == name)
            .and_then(|(_, d, _)| d.as_deref())
    }
}

/// `frontend.targets`: every target, in the file's order.
#[derive(Debug, Clone, Serialize)]
pub struct TargetList {
    pub targets: Vec<TargetInfo>,
    /// Base64 of each source file (Go `[][]byte`); the spec is source 0.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    pub name: String,
    /// `cargo` or `image` (Cachet's addition; buildx ignores it).
    pub kind: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// The spec's `description`; without one, what the target does.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What it starts from: the SDK for a cargo step, `scratch`, an image or `+target`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub base: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The targets of `spec` (loaded from `text`).
pub fn targets(text: &str, spec: &Spec) -> TargetList {
    let map = SpecMap::new(text);
    let mut names: Vec<&String> = spec.targets.keys().collect();
    names.sort_by_key(|n| map.target_position(n).map(|p| (p.line, p.column)));
    let targets = names
        .into_iter()
        .filter_map(|name| {
            let target = spec.targets.get(name)?;
            let (kind, summary, base) = match target {
                Target::Cargo(c) => (
                    "cargo",
                    format!("cargo {}", c.args.join(" ")),
                    spec.sdk.image.clone(),
                ),
                Target::Image(i) => {
                    let base = match &i.from {
                        BaseRef::Scratch => "scratch".to_string(),
                        BaseRef::Image(image) => image.clone(),
                        BaseRef::Target(t) => format!("+{t}"),
                    };
                    ("image", format!("an image from {base}"), base)
                }
            };
            Some(TargetInfo {
                name: name.clone(),
                kind: kind.to_string(),
                default: *name == spec.default_target,
                description: map.description(name).map(str::to_string).unwrap_or(summary),
                base,
                location: map.target_position(name).map(|at| Location::at(0, at)),
            })
        })
        .collect();
    TargetList {
        targets,
        sources: vec![base64(text.as_bytes())],
    }
}

/// `targets` as text: `TARGET DESCRIPTION`, the default marked, as buildx prints it.
pub fn render_targets(list: &TargetList) -> String {
    let rows: Vec<Vec<String>> = list
        .targets
        .iter()
        .map(|t| {
            let name = if t.default {
                format!("{} (default)", t.name)
            } else {
                t.name.clone()
            };
            vec![name, t.description.clone()]
        })
        .collect();
    table(&["TARGET", "DESCRIPTION"], &rows, 1)
}

/// `frontend.outline`: what a build of one target takes and uses.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outline {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<OutlineArg>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Requirement>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh: Vec<Requirement>,
    /// Every cache mount the build's steps run with (the keyed target caches among them):
    /// what a tool that saves cache mounts between CI runs needs to name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache: Vec<CacheMountInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutlineArg {
    pub name: String,
    /// The default the spec declares.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A secret or SSH agent a step mounts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Requirement {
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CacheMountInfo {
    #[serde(rename = "ID")]
    pub id: String,
}

/// The outline of a build of `target`, compiled as `compiled`: the spec's build arguments
/// (with their defaults and where they are declared), and the secrets, SSH agents and cache
/// mounts read off the very definition the build would solve.
pub fn outline(
    text: &str,
    spec: &Spec,
    target: &TargetRef,
    compiled: &Compiled,
) -> Result<Outline, String> {
    let map = SpecMap::new(text);
    let mounts = mounts(&compiled.definition)?;
    Ok(Outline {
        name: target.to_string(),
        description: map
            .description(&target.name)
            .unwrap_or_default()
            .to_string(),
        args: map
            .args
            .iter()
            .map(|(name, default, at)| OutlineArg {
                name: name.clone(),
                value: default.clone(),
                description: match spec.args.get(name) {
                    Some(v) if v != default => format!("this build: {v}"),
                    _ => String::new(),
                },
                location: Some(Location::at(0, *at)),
            })
            .collect(),
        secrets: mounts.secrets,
        ssh: mounts.ssh,
        cache: mounts.cache,
        sources: vec![base64(text.as_bytes())],
    })
}

/// The secret, SSH and cache mounts of every exec in a definition, each once, sorted.
#[derive(Debug, Default)]
struct Mounts {
    secrets: Vec<Requirement>,
    ssh: Vec<Requirement>,
    cache: Vec<CacheMountInfo>,
}

fn mounts(definition: &pb::Definition) -> Result<Mounts, String> {
    let mut secrets = BTreeSet::new();
    let mut ssh = BTreeSet::new();
    let mut cache = BTreeSet::new();
    let ops = decode_ops(definition).map_err(|e| format!("cannot read the build's LLB: {e}"))?;
    for (_, op) in ops {
        let Some(pb::op::Op::Exec(exec)) = op.op else {
            continue;
        };
        for mount in exec.mounts {
            if let Some(c) = mount.cache_opt {
                cache.insert(CacheMountInfo { id: c.id });
            }
            if let Some(s) = mount.secret_opt {
                secrets.insert(Requirement {
                    name: s.id,
                    required: !s.optional,
                });
            }
            if let Some(s) = mount.ssh_opt {
                ssh.insert(Requirement {
                    name: if s.id.is_empty() {
                        "default".to_string()
                    } else {
                        s.id
                    },
                    required: !s.optional,
                });
            }
        }
    }
    // A secret mounted both optionally and not is required.
    let merge = |set: BTreeSet<Requirement>| {
        let mut out: Vec<Requirement> = Vec::new();
        for r in set {
            match out.last_mut() {
                Some(last) if last.name == r.name => last.required |= r.required,
                _ => out.push(r),
            }
        }
        out
    };
    Ok(Mounts {
        secrets: merge(secrets),
        ssh: merge(ssh),
        cache: cache.into_iter().collect(),
    })
}

/// `outline` as text: the target, then tables of build arguments, secrets, SSH and cache
/// mounts (buildx prints the first three itself from the JSON; the cache mounts only here).
pub fn render_outline(outline: &Outline) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "TARGET: {}", outline.name);
    if !outline.description.is_empty() {
        let _ = writeln!(out, "DESCRIPTION: {}", outline.description);
    }
    out.push('\n');
    if !outline.args.is_empty() {
        let rows: Vec<Vec<String>> = outline
            .args
            .iter()
            .map(|a| vec![a.name.clone(), a.value.clone(), a.description.clone()])
            .collect();
        out.push_str(&table(&["BUILD ARG", "VALUE", "DESCRIPTION"], &rows, 3));
        out.push('\n');
    }
    for (title, list) in [("SECRET", &outline.secrets), ("SSH", &outline.ssh)] {
        if list.is_empty() {
            continue;
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|r| vec![r.name.clone(), if r.required { "true" } else { "" }.into()])
            .collect();
        out.push_str(&table(&[title, "REQUIRED"], &rows, 3));
        out.push('\n');
    }
    if !outline.cache.is_empty() {
        let rows: Vec<Vec<String>> = outline.cache.iter().map(|c| vec![c.id.clone()]).collect();
        out.push_str(&table(&["CACHE MOUNT"], &rows, 3));
        out.push('\n');
    }
    out
}

/// Rows padded into columns (`padding` spaces between them), like Go's `tabwriter`.
fn table(header: &[&str], rows: &[Vec<String>], padding: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let width = widths.get(i).copied().unwrap_or(0) + padding;
                let _ = write!(line, "{cell:<width$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Standard base64 with padding, as Go's `encoding/json` writes a `[]byte`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Pretty JSON of a result, as BuildKit's own requests indent theirs.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
