//! Source snapshots: the parts of the build context a step may read, copied (timestamps kept)
//! into snapshots of their own.
//!
//! Each snapshot is a context local with include patterns from [`crate::project`], so BuildKit
//! only transfers — and only keys the step on — what cargo reads for that step. `target/`,
//! `.git` and whatever the `.dockerignore` lists never enter (see
//! [`crate::project::dockerignore`]). Empty stand-ins are added for the target roots of packages whose sources
//! are left out, so cargo can still load every workspace member. The first file of every
//! snapshot records the SDK identity, so every file op of the build changes with the SDK.
//!
//! Transfers are never incremental across builds (see [`Context::snapshot`]): BuildKit's file
//! sync trusts size and mtime, which is exactly what container builds cannot trust.

use crate::llb::{Copy, Local, Mkdir, Mkfile, State};
use crate::project::SnapshotPlan;

use super::{CompileError, Context};

/// Written at the root of every snapshot (cargo ignores dot files at the workspace root).
pub const SDK_MARKER: &str = "/.cachet-sdk";

/// What every stand-in target root holds: valid as a library, a binary, a build script, a
/// test or a bench, so cargo can compile the stand-ins when the dependency layer is built.
pub const STUB_SOURCE: &str = "#![allow(dead_code)]\nfn main() {}\n";

impl Context<'_> {
    /// The snapshot for `plan`, built once per distinct plan.
    pub(super) fn snapshot(
        &mut self,
        plan: &SnapshotPlan,
        what: &str,
    ) -> Result<State, CompileError> {
        if let Some(s) = self.snapshots.get(plan) {
            return Ok(s.clone());
        }
        let mut local = Local::new(&self.request.context_local)?
            .session(self.request.session_id.clone())
            .exclude_patterns(self.excluded.iter().cloned())
            // A transfer that reuses an earlier one skips files whose size and mtime look
            // unchanged, so a same-size edit under clamped timestamps would arrive stale. Keyed
            // on the session, every build transfers what it reads afresh; the snapshot's cache
            // key is its content either way.
            .shared_key_hint(format!(
                "cachet-{}-{}",
                self.request.context_local, self.request.session_id
            ))
            .custom_name(format!("[cachet] load {what}"));
        if !plan.include.is_empty() {
            local = local.include_patterns(plan.include.iter().cloned());
        }
        let context = local.into_state();
        let mut file = State::scratch()
            .file()
            .mkfile(Mkfile::new(SDK_MARKER, 0o644, format!("{}\n", self.sdk)))
            .copy(
                Copy::new(&context, "/", "/")
                    .dir_contents_only(true)
                    .follow_symlinks(false),
            );
        for stub in &plan.stubs {
            if let Some((parent, _)) = stub.rsplit_once('/') {
                file = file.mkdir(Mkdir::new(format!("/{parent}"), 0o755).make_parents(true));
            }
            file = file.mkfile(Mkfile::new(format!("/{stub}"), 0o644, STUB_SOURCE));
        }
        let snapshot = file
            .custom_name(format!("[cachet] snapshot {what}"))
            .platform(self.request.platform.clone())
            .build()?;
        self.snapshots.insert(plan.clone(), snapshot.clone());
        Ok(snapshot)
    }
}
