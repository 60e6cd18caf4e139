//! "Why did this rebuild?": what every step of a build was keyed on, and what changed between
//! two builds.
//!
//! An [`Explanation`] is built from a [`Compiled`] build (the compiler records every step's
//! inputs in [`Compiled::steps`]) and saved as JSON; [`diff`] compares two of them and names
//! each input that differs (down to one `env` entry or one toolchain file), the steps added or
//! removed, whether each step's op changed (BuildKit runs it again) and whether its target
//! cache mount changed (a cold `target/`). Everything here is pure: reading and writing files
//! is the CLI's job (`llb-gen explain`).
//!
//! What an explanation cannot see is content BuildKit keys by itself: the source files a step
//! copies in. Two builds with equal explanations run the same ops against the same target
//! caches, so if a step still ran again, its sources changed or its cache was pruned.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::Compiled;
pub use crate::compile::StepKind;
use crate::keys::{TargetKey, TargetKeys, KEY_SCHEMA};
use crate::llb::Platform;
use crate::spec::TargetRef;

/// The `format` of explanations this version writes and reads; bumped when the JSON changes
/// incompatibly.
pub const FORMAT: &str = "cachet-explain/1";

/// How many hex digits of a hash or digest the text output shows.
const SHORT: usize = 12;

/// Everything one build's cache keys depend on, step by step in build order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`KEY_SCHEMA`] of the compiler that produced it: a new schema changes every key.
    pub key_schema: String,
    /// The target built.
    pub target: String,
    /// The target platform.
    pub platform: String,
    /// The SDK identity every key was computed with.
    pub sdk: String,
    /// Every step of the build, in build order.
    pub steps: Vec<Step>,
    /// The build's plan: every step decision, planned or not, with its reason (see
    /// [`crate::compile::plan`]). Empty in explanations written before there was one.
    #[serde(default)]
    pub plan: Vec<PlanStep>,
}

/// One decision of the build's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// The target it belongs to (`sdk` for the SDK setup, `fetch` for the fetch step).
    pub target: String,
    pub kind: StepKind,
    /// Whether the build has the step.
    pub planned: bool,
    /// Why, as a stable name (`cache-travels`, `cache-local`, `layers-never`, …).
    pub reason: String,
    /// Why, as a sentence ("no dependency layer: the cache stays on this builder, …").
    pub sentence: String,
    /// The target whose layer this step is, when it shares another's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<String>,
}

impl From<&crate::compile::PlannedStep> for PlanStep {
    fn from(step: &crate::compile::PlannedStep) -> PlanStep {
        PlanStep {
            target: step.target.clone(),
            kind: step.kind,
            planned: step.planned(),
            reason: step.reason.code().to_string(),
            sentence: step.sentence(),
            shared_with: step.shared_with.clone(),
        }
    }
}

/// One step and everything its cache key depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The target it belongs to (`fetch` for the fetch step).
    pub target: String,
    pub kind: StepKind,
    /// Its name in BuildKit's progress output.
    pub name: String,
    /// Digest of the op that produces the step's result, as BuildKit names it (its vertex
    /// digest in progress output and build history): its cache key, given the content of its
    /// inputs.
    pub digest: String,
    /// The target cache keys, for cargo steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Keys>,
    /// Every input of its keys, by name (nested values are JSON).
    pub inputs: BTreeMap<String, Value>,
}

/// A cargo step's target cache keys (see [`crate::keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    /// `strict` or `fast`: which key names the mount.
    pub mode: String,
    /// Id of the target cache mount the step runs against (the selected key's).
    pub mount_id: String,
    pub strict: Key,
    pub fast: Key,
}

/// One target cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub hash: String,
    pub mount_id: String,
}

impl From<&TargetKey> for Key {
    fn from(key: &TargetKey) -> Key {
        Key {
            hash: key.hash.clone(),
            mount_id: key.mount_id.clone(),
        }
    }
}

impl From<&TargetKeys> for Keys {
    fn from(keys: &TargetKeys) -> Keys {
        Keys {
            mode: keys.mode.as_str().to_string(),
            mount_id: keys.selected().mount_id.clone(),
            strict: (&keys.strict).into(),
            fast: (&keys.fast).into(),
        }
    }
}

/// Why a saved explanation cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("not JSON: {0}")]
    Json(serde_json::Error),
    #[error(
        "not an explanation (expected the output of `llb-gen explain --format json`, \
         with \"format\": \"{FORMAT}\")"
    )]
    NotAnExplanation,
    #[error(
        "explanation format `{0}` is not supported (this llb-gen reads `{FORMAT}`); \
         explain both builds with the same llb-gen"
    )]
    Format(String),
    #[error("not a valid explanation: {0}")]
    Invalid(serde_json::Error),
}

impl Explanation {
    /// The explanation of `compiled`, a build of `target` for `platform`. Each step's
    /// digest is the one BuildKit gives its op once it loads the definition (what progress
    /// output and build history show; see [`crate::inspect::buildkit_digests`]), not the
    /// builder's own.
    pub fn new(compiled: &Compiled, target: &TargetRef, platform: &Platform) -> Explanation {
        let buildkit = crate::inspect::buildkit_digests(&compiled.definition).unwrap_or_default();
        Explanation {
            format: FORMAT.to_string(),
            key_schema: KEY_SCHEMA.to_string(),
            target: target.to_string(),
            platform: platform.to_string(),
            sdk: compiled.sdk.clone(),
            steps: compiled
                .steps
                .iter()
                .map(|record| Step {
                    target: record.target.clone(),
                    kind: record.kind,
                    name: record.name.clone(),
                    digest: buildkit
                        .get(&record.digest)
                        .unwrap_or(&record.digest)
                        .clone(),
                    keys: record.keys.as_ref().map(Keys::from),
                    inputs: record.inputs.clone(),
                })
                .collect(),
            plan: compiled.plan.steps.iter().map(PlanStep::from).collect(),
        }
    }

    /// Pretty JSON, ending in a newline; the same explanation always gives the same bytes.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }

    /// Reads what [`Explanation::to_json`] wrote, refusing other formats.
    pub fn from_json(text: &str) -> Result<Explanation, ExplainError> {
        let value: Value = serde_json::from_str(text).map_err(ExplainError::Json)?;
        match value.get("format") {
            Some(Value::String(format)) if format == FORMAT => {}
            Some(Value::String(format)) => return Err(ExplainError::Format(format.clone())),
            _ => return Err(ExplainError::NotAnExplanation),
        }
        serde_json::from_value(value).map_err(ExplainError::Invalid)
    }
}

/// The first [`SHORT`] hex digits of a hash, keeping a `sha256:` prefix.
fn short(hash: &str) -> &str {
    let prefix = if hash.starts_with("sha256:") { 7 } else { 0 };
    hash.get(..prefix + SHORT).unwrap_or(hash)
}

/// Compact JSON of a value.
fn compact(value: &Value) -> String {
    value.to_string()
}

/// `name  value` lines with the names padded to one column.
fn aligned(out: &mut String, indent: &str, rows: &[(&str, String)], separator: &str) {
    let width = rows
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    for (name, value) in rows {
        let _ = writeln!(out, "{indent}{name:<width$}{separator}{value}");
    }
}

/// The explanation as text: the build, its plan (every step decision with its reason), then
/// per step its progress name, op, target cache and keys, and every key input as
/// `name = value`.
pub fn render_text(explanation: &Explanation) -> String {
    let mut out = String::new();
    aligned(
        &mut out,
        "",
        &[
            ("target", explanation.target.clone()),
            ("platform", explanation.platform.clone()),
            ("sdk", explanation.sdk.clone()),
            ("key schema", explanation.key_schema.clone()),
        ],
        "  ",
    );
    if !explanation.plan.is_empty() {
        out.push_str("\nplan\n");
        for step in &explanation.plan {
            let _ = writeln!(out, "  [{}] {}", step.target, step.sentence);
        }
    }
    for step in &explanation.steps {
        let _ = writeln!(out, "\n{}", step.name);
        let mut rows = vec![("op", short(&step.digest).to_string())];
        if let Some(keys) = &step.keys {
            rows.push((
                "target cache",
                format!("{} ({} mode)", keys.mount_id, keys.mode),
            ));
            let selected = |mode: &str| {
                if keys.mode == mode {
                    "  (selected)"
                } else {
                    ""
                }
            };
            rows.push((
                "strict key",
                format!("{}{}", short(&keys.strict.hash), selected("strict")),
            ));
            rows.push((
                "fast key",
                format!("{}{}", short(&keys.fast.hash), selected("fast")),
            ));
        }
        aligned(&mut out, "  ", &rows, "  ");
        if step.inputs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  inputs");
        let inputs: Vec<(&str, String)> = step
            .inputs
            .iter()
            .map(|(name, value)| (name.as_str(), compact(value)))
            .collect();
        aligned(&mut out, "    ", &inputs, " = ");
    }
    out
}

/// What two builds differ in; empty when they run the same ops on the same target caches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// `false` when nothing differs (then `build` and every step's changes are empty).
    pub differences: bool,
    /// Changes to the build as a whole: `key_schema`, `target`, `platform`, `sdk`.
    pub build: Vec<Change>,
    /// Every step of either build: the new build's order, removed steps where they were.
    pub steps: Vec<StepDiff>,
}

/// One value that differs, by its path (`env.CFLAGS`, `toolchain_files.rust-toolchain.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub change: ChangeKind,
    /// The value in the old build (absent when added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value in the new build (absent when removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// A step of either build and how it differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDiff {
    pub target: String,
    pub kind: StepKind,
    pub status: StepStatus,
    /// Its progress name in the new build (in the old one when removed).
    pub name: String,
    /// The op digest before and after, for steps in both builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Transition>,
    /// The target cache mount id before and after, for cargo steps in both builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cache: Option<Transition>,
    /// Every key input that differs, down to map entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Change>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Only in the new build.
    Added,
    /// Only in the old build.
    Removed,
    /// In both, with a different op, target cache or inputs.
    Changed,
    /// In both, the same.
    Unchanged,
}

/// A value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub old: String,
    pub new: String,
    pub changed: bool,
}

impl Transition {
    fn new(old: &str, new: &str) -> Transition {
        Transition {
            old: old.to_string(),
            new: new.to_string(),
            changed: old != new,
        }
    }
}

impl Diff {
    /// True when the two builds run the same ops on the same target caches.
    pub fn is_empty(&self) -> bool {
        !self.differences
    }

    /// Pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
}

/// What changed from build `a` (the old one) to build `b`. Steps are matched by target and
/// kind; inputs that are JSON objects (`env`, `toolchain_files`, `cargo_config`, …) are
/// compared entry by entry.
pub fn diff(a: &Explanation, b: &Explanation) -> Diff {
    let mut build = Vec::new();
    for (path, old, new) in [
        ("key_schema", &a.key_schema, &b.key_schema),
        ("target", &a.target, &b.target),
        ("platform", &a.platform, &b.platform),
        ("sdk", &a.sdk, &b.sdk),
    ] {
        if old != new {
            build.push(Change {
                path: path.to_string(),
                change: ChangeKind::Changed,
                old: Some(Value::String(old.clone())),
                new: Some(Value::String(new.clone())),
            });
        }
    }

    // The n-th step of a target and kind in one build is the n-th in the other.
    let identities = |steps: &[Step]| -> Vec<(String, StepKind, usize)> {
        let mut seen: BTreeMap<(&str, StepKind), usize> = BTreeMap::new();
        steps
            .iter()
            .map(|s| {
                let n = seen.entry((s.target.as_str(), s.kind)).or_insert(0);
                *n += 1;
                (s.target.clone(), s.kind, *n)
            })
            .collect()
    };
    let ids_a = identities(&a.steps);
    let ids_b = identities(&b.steps);
    let index_a: BTreeMap<&(String, StepKind, usize), usize> =
        ids_a.iter().enumerate().map(|(i, id)| (id, i)).collect();

    let mut steps = Vec::new();
    let mut matched = vec![false; a.steps.len()];
    let mut flushed = 0;
    for (new, id) in b.steps.iter().zip(&ids_b) {
        match index_a.get(id) {
            Some(&i) => {
                // Steps only in the old build go where they were, before the next match.
                for (j, old) in a.steps.iter().enumerate().take(i).skip(flushed) {
                    if !matched[j] {
                        steps.push(removed(old));
                        matched[j] = true;
                    }
                }
                flushed = flushed.max(i);
                matched[i] = true;
                steps.push(step_diff(&a.steps[i], new));
            }
            None => steps.push(added(new)),
        }
    }
    for (j, old) in a.steps.iter().enumerate() {
        if !matched[j] {
            steps.push(removed(old));
        }
    }

    let differences = !build.is_empty() || steps.iter().any(|s| s.status != StepStatus::Unchanged);
    Diff {
        differences,
        build,
        steps,
    }
}

fn added(step: &Step) -> StepDiff {
    StepDiff {
        target: step.target.clone(),
        kind: step.kind,
        status: StepStatus::Added,
        name: step.name.clone(),
        op: None,
        target_cache: None,
        inputs: Vec::new(),
    }
}

fn removed(step: &Step) -> StepDiff {
    StepDiff {
        status: StepStatus::Removed,
        ..added(step)
    }
}

fn step_diff(old: &Step, new: &Step) -> StepDiff {
    let op = Transition::new(&old.digest, &new.digest);
    let target_cache = match (&old.keys, &new.keys) {
        (Some(o), Some(n)) => Some(Transition::new(&o.mount_id, &n.mount_id)),
        _ => None,
    };
    let mut inputs = Vec::new();
    let names: BTreeSet<&String> = old.inputs.keys().chain(new.inputs.keys()).collect();
    for name in names {
        diff_values(
            name,
            old.inputs.get(name),
            new.inputs.get(name),
            &mut inputs,
        );
    }
    // A mode switch shows as the `mode` input; record it from the keys too, in case a step
    // did not list it.
    if let (Some(o), Some(n)) = (&old.keys, &new.keys) {
        if o.mode != n.mode && !inputs.iter().any(|c| c.path == "mode") {
            inputs.push(Change {
                path: "mode".to_string(),
                change: ChangeKind::Changed,
                old: Some(Value::String(o.mode.clone())),
                new: Some(Value::String(n.mode.clone())),
            });
        }
    }
    let changed =
        op.changed || target_cache.as_ref().is_some_and(|t| t.changed) || !inputs.is_empty();
    StepDiff {
        target: new.target.clone(),
        kind: new.kind,
        status: if changed {
            StepStatus::Changed
        } else {
            StepStatus::Unchanged
        },
        name: new.name.clone(),
        op: Some(op),
        target_cache,
        inputs,
    }
}

/// Appends what differs between `old` and `new` at `path`, naming each object entry.
fn diff_values(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<Change>) {
    match (old, new) {
        (None, None) => {}
        (Some(o), Some(n)) if o == n => {}
        (Some(Value::Object(o)), Some(Value::Object(n))) => {
            let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            for key in keys {
                diff_values(&format!("{path}.{key}"), o.get(key), n.get(key), out);
            }
        }
        (o, n) => out.push(Change {
            path: path.to_string(),
            change: match (o, n) {
                (None, _) => ChangeKind::Added,
                (_, None) => ChangeKind::Removed,
                _ => ChangeKind::Changed,
            },
            old: o.cloned(),
            new: n.cloned(),
        }),
    }
}

fn render_change(out: &mut String, indent: &str, change: &Change) {
    let value = |v: &Option<Value>| v.as_ref().map(compact).unwrap_or_default();
    let _ = match change.change {
        ChangeKind::Added => writeln!(out, "{indent}{}: added {}", change.path, value(&change.new)),
        ChangeKind::Removed => writeln!(
            out,
            "{indent}{}: removed (was {})",
            change.path,
            value(&change.old)
        ),
        ChangeKind::Changed => writeln!(
            out,
            "{indent}{}: {} → {}",
            change.path,
            value(&change.old),
            value(&change.new)
        ),
    };
}

/// The diff as text: changes to the whole build, then each step with its op, its target cache
/// and every input that changed; `no differences` when there are none.
pub fn render_diff(diff: &Diff) -> String {
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str(
            "no differences: every step has the same op and the same target cache.\n\
             A step that still ran again had sources with new content (BuildKit keys them \
             itself; explanations do not record them) or its cache was pruned.\n",
        );
        return out;
    }
    if !diff.build.is_empty() {
        out.push_str("build\n");
        for change in &diff.build {
            render_change(&mut out, "  ", change);
            let why = match change.path.as_str() {
                "sdk" => Some("every step runs in the SDK and every target cache is keyed on it"),
                "key_schema" => Some("a new key model: every target cache id changes"),
                "platform" => Some("every step and target cache is per platform"),
                _ => None,
            };
            if let Some(why) = why {
                let _ = writeln!(out, "    ({why})");
            }
        }
    }
    for step in &diff.steps {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "{}", step.name);
        match step.status {
            StepStatus::Added => {
                let _ = writeln!(
                    out,
                    "  added: a {} step only the new build has",
                    step.kind.as_str()
                );
                continue;
            }
            StepStatus::Removed => {
                let _ = writeln!(
                    out,
                    "  removed: a {} step only the old build had",
                    step.kind.as_str()
                );
                continue;
            }
            StepStatus::Changed | StepStatus::Unchanged => {}
        }
        if let Some(op) = &step.op {
            if op.changed {
                let _ = writeln!(
                    out,
                    "  op changed: BuildKit runs it again ({} → {})",
                    short(&op.old),
                    short(&op.new)
                );
            } else {
                let _ = writeln!(
                    out,
                    "  op unchanged: cached unless the content it reads changed ({})",
                    short(&op.new)
                );
            }
        }
        if let Some(cache) = &step.target_cache {
            if cache.changed {
                let _ = writeln!(
                    out,
                    "  cold target cache: a different mount (warm only if an earlier build \
                     used it)\n    {}\n    → {}",
                    cache.old, cache.new
                );
            } else {
                let _ = writeln!(
                    out,
                    "  target cache warm: same mount as before ({})",
                    cache.new
                );
            }
        }
        if step.inputs.is_empty() {
            if step.op.as_ref().is_some_and(|op| op.changed) {
                out.push_str(
                    "  no key input changed: a step it uses (or its own definition) changed\n",
                );
            }
            continue;
        }
        out.push_str("  changed inputs\n");
        for change in &step.inputs {
            render_change(&mut out, "    ", change);
        }
    }
    out
}

#[cfg(test)]
mod tests;
