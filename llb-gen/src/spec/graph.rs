//! Target references (`from = "+x"`, `copy = [{ from = "+x", … }]`) and the cycle check.
//!
//! Both run on references as they are once build arguments are applied: `from = "${BASE}"`
//! names a target only when `BASE` is known, and `--build-arg BASE=+image` (the target itself)
//! or `BASE=+nosuch` must be refused here, with the value's position, rather than reach the
//! compiler as a self reference (which overflowed the stack) or a dangling name (which
//! panicked). The walks are iterative, so a long chain of targets cannot overflow the stack
//! either.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::error::shown;
use super::resolved::Target;

/// One `+target` reference, where it was written.
pub(super) struct Reference {
    /// The referenced target's name (without the `+`).
    pub to: String,
    /// The span of the value in the spec.
    pub span: Range<usize>,
    /// What the user wrote, when build arguments changed it (`${BASE}`), for messages.
    pub written: Option<String>,
    pub kind: ReferenceKind,
}

pub(super) enum ReferenceKind {
    /// `from = "+x"`: the image is built on `x`'s result.
    Base,
    /// A `copy` entry: it takes `artifact` from the cargo step `x`.
    Copy {
        artifact: String,
        artifact_span: Range<usize>,
    },
}

/// Where a problem is and what it is; the loader adds the file.
pub(super) type Problem = (Range<usize>, String);

impl Reference {
    /// ` (`${BASE}` is `+x` once build arguments are applied)` when the value was interpolated.
    fn via_args(&self) -> String {
        match &self.written {
            Some(written) => format!(
                " (`{}` is `+{}` once build arguments are applied)",
                shown(written),
                shown(&self.to)
            ),
            None => String::new(),
        }
    }
}

/// Every reference names a target of the right kind, and every copied artifact exists.
/// `references` holds each target's references, by target name.
pub(super) fn check_references(
    targets: &BTreeMap<String, Target>,
    references: &BTreeMap<String, Vec<Reference>>,
) -> Result<(), Problem> {
    for refs in references.values() {
        for r in refs {
            let Some(target) = targets.get(&r.to) else {
                return Err((
                    r.span.clone(),
                    format!(
                        "`+{}` names no target{} (targets: {})",
                        shown(&r.to),
                        r.via_args(),
                        list_or_none(targets.keys())
                    ),
                ));
            };
            let ReferenceKind::Copy {
                artifact,
                artifact_span,
            } = &r.kind
            else {
                continue;
            };
            let Target::Cargo(step) = target else {
                return Err((
                    r.span.clone(),
                    format!(
                        "`+{}` is an image target; artifacts come from cargo steps",
                        r.to
                    ),
                ));
            };
            if !step.artifacts.contains_key(artifact) {
                return Err((
                    artifact_span.clone(),
                    format!(
                        "target `{}` has no artifact `{}` (it has: {})",
                        r.to,
                        shown(artifact),
                        list_or_none(step.artifacts.keys())
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The first cycle among the references, reported at the reference that closes it.
/// Targets are visited in name order and references in the order written.
pub(super) fn check_cycles(references: &BTreeMap<String, Vec<Reference>>) -> Result<(), Problem> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in references.keys() {
        if done.contains(start.as_str()) {
            continue;
        }
        // Depth-first, with an explicit stack: each entry is a target on the current path and
        // the index of its next reference to follow.
        let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        let mut on_path: BTreeSet<&str> = BTreeSet::from([start.as_str()]);
        while let Some(&(name, next)) = path.last() {
            let refs = references.get(name).map(Vec::as_slice).unwrap_or(&[]);
            let Some(r) = refs.get(next) else {
                path.pop();
                on_path.remove(name);
                done.insert(name);
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            let to = r.to.as_str();
            if on_path.contains(to) {
                return Err((r.span.clone(), cycle_message(&path, r)));
            }
            if done.contains(to) {
                continue;
            }
            if let Some((key, _)) = references.get_key_value(to) {
                path.push((key.as_str(), 0));
                on_path.insert(key.as_str());
            }
        }
    }
    Ok(())
}

/// `path` ends at the target holding `closing`, whose target is on `path`.
fn cycle_message(path: &[(&str, usize)], closing: &Reference) -> String {
    let to = closing.to.as_str();
    let start = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
    let cycle = &path[start..];
    if cycle.len() == 1 {
        return format!(
            "target `{to}` cannot be built from itself (`+{to}`){}",
            closing.via_args()
        );
    }
    let mut names: Vec<String> = cycle.iter().map(|(n, _)| format!("+{n}")).collect();
    names.push(format!("+{to}"));
    if names.len() > LISTED_NAMES {
        // The start and the end of a long cycle say where it is; the middle is more of the same.
        let hidden = names.len() - LISTED_NAMES;
        names.splice(
            LISTED_NAMES / 2..names.len() - LISTED_NAMES / 2,
            [format!("… {hidden} more …")],
        );
    }
    format!(
        "targets form a cycle: {}{}",
        names.join(" → "),
        closing.via_args()
    )
}

/// At most this many names are listed in a message; a spec may have thousands of targets.
const LISTED_NAMES: usize = 20;

/// `a, b, c`, `none`, or the first names and how many more there are.
pub(super) fn list_or_none<'a>(names: impl ExactSizeIterator<Item = &'a String>) -> String {
    let total = names.len();
    if total == 0 {
        return "none".to_string();
    }
    let listed: Vec<String> = names.take(LISTED_NAMES).map(|n| shown(n)).collect();
    let mut list = listed.join(", ");
    if total > LISTED_NAMES {
        list.push_str(&format!(" and {} more", total - LISTED_NAMES));
    }
    list
}
