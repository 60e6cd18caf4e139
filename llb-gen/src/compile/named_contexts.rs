//! Directory named contexts (`--build-context NAME=DIR`, mapped by the spec's `[contexts]`):
//! the content cargo sees at each context's path, in every step that reads the project.
//!
//! Each context is its own local (the name buildx gave it, served by its session), copied into
//! a snapshot like the main context's sources ([`super::sources`]): transferred afresh per
//! session (the shared-key hint names the session, so a same-size edit under clamped mtimes is
//! never skipped), keyed by BuildKit on its content. The snapshot is mounted writable without
//! output at [`contexts::mount_dir`] in the fetch step, the dependency layers and the cargo
//! steps — the whole context everywhere, which may re-run one of them on an edit it does not
//! read, never serve a wrong file. The steps that run cargo on a target cache also run the
//! freshness pass over each context's directory, with a manifest of its own beside the main
//! one ([`freshness_lines`]), so cargo's mtime fingerprints of the path packages there are as
//! timestamp-proof as the project's.

use std::collections::BTreeMap;

use crate::llb::{Copy, Local, Mount, State};
use crate::spec::{contexts, Spec};

use super::freshness::{NewContent, HELPER};
use super::{shell, CompileError, Context};

/// A directory named context the build provides: opt `context:NAME=local:LOCAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedLocal {
    /// The local's name in the session.
    pub local: String,
    /// The session that serves it (`local-sessionid:LOCAL`, else the build's).
    pub session: String,
}

/// Every context the spec maps is provided, and every one provided is mapped.
pub(super) fn check(
    spec: &Spec,
    provided: &BTreeMap<String, NamedLocal>,
) -> Result<(), CompileError> {
    if let Some((name, path)) = spec
        .contexts
        .iter()
        .find(|(n, _)| !provided.contains_key(*n))
    {
        return Err(CompileError::NamedContext(format!(
            "the spec maps context `{name}` to `{path}` ([contexts]), but the build does not \
             provide it: pass `--build-context {name}=DIR` (the directory cargo sees at `{path}`)"
        )));
    }
    if let Some(name) = provided.keys().find(|n| !spec.contexts.contains_key(*n)) {
        return Err(CompileError::NamedContext(format!(
            "the build provides directory context `{name}` (`--build-context {name}=DIR`), but \
             the spec does not say where cargo sees it: add `{name} = \"../DIR\"` under \
             [contexts], or drop the flag"
        )));
    }
    Ok(())
}

/// The freshness pass over each context's directory (see the module docs), keeping its
/// manifest under `state_dir` (the main pass's).
pub(super) fn freshness_lines(spec: &Spec, state_dir: &str, mode: NewContent) -> Vec<String> {
    spec.contexts
        .iter()
        .map(|(name, path)| {
            let mut words = vec![
                HELPER.to_string(),
                "freshness".to_string(),
                "--state".to_string(),
                format!("{state_dir}/contexts/{name}"),
            ];
            if mode == NewContent::PreviousWholeSecond {
                words.push("--layer".to_string());
            }
            format!(
                "(cd {} && {})",
                shell::quote(&contexts::mount_dir(path)),
                shell::join(&words)
            )
        })
        .collect()
}

impl Context<'_> {
    /// The mounts of every named context, in name order (the same for every step).
    pub(super) fn named_context_mounts(&mut self) -> Result<Vec<Mount>, CompileError> {
        let mut mounts = Vec::new();
        for (name, path) in &self.spec.contexts {
            let Some(provided) = self.request.named_locals.get(name) else {
                continue; // refused by `check` before any step
            };
            let state = match self.named_snapshots.get(name) {
                Some(s) => s.clone(),
                None => {
                    let local = Local::new(&provided.local)?
                        .session(provided.session.clone())
                        .shared_key_hint(format!("cachet-{}-{}", provided.local, provided.session))
                        .custom_name(format!("[cachet] load context {name}"));
                    let snapshot = State::scratch()
                        .file()
                        .copy(
                            Copy::new(&local.into_state(), "/", "/")
                                .dir_contents_only(true)
                                .follow_symlinks(false),
                        )
                        .custom_name(format!("[cachet] snapshot context {name}"))
                        .platform(self.step_platform())
                        .build()?;
                    self.named_snapshots.insert(name.clone(), snapshot.clone());
                    snapshot
                }
            };
            mounts.push(
                Mount::bind(contexts::mount_dir(path), &state)
                    .no_output()
                    .into(),
            );
        }
        Ok(mounts)
    }
}
