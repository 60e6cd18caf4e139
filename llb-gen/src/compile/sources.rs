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

use std::collections::{BTreeMap, HashMap};

use crate::llb::{Copy, Local, Mkdir, Mkfile, State};
use crate::project::SnapshotPlan;

use super::{CompileError, Context};

/// Written at the root of every snapshot (cargo ignores dot files at the workspace root).
pub const SDK_MARKER: &str = "/.cachet-sdk";

/// What every stand-in target root holds: valid as a library, a binary, a build script, a
/// test or a bench, so cargo can compile the stand-ins when the dependency layer is built.
pub const STUB_SOURCE: &str = "#![allow(dead_code)]\nfn main() {}\n";

/// What a stand-in holds in a cargo step's own snapshot, where cargo must never compile one:
/// it builds only the packages the step selects and their dependencies, whose sources are all
/// there. If planning ever missed one (a dependency Cachet did not see), the build fails here,
/// naming the package and what to add, instead of linking an empty crate. (Laid out as
/// rustfmt would, should a `cargo fmt` step ever look at it.)
pub fn guarded_stub_source(package: &str, path: &str) -> String {
    let message = format!(
        "Cachet: package `{package}` reached this cargo step as an empty stand-in ({path}): \
         Cachet found no dependency on it from the packages the step builds (`-p`, \
         `--workspace` or the default members, their path dependencies, and the users of \
         `[patch]`/`[replace]` crates in Cargo.lock). Select it with `-p {package}`, or list \
         its directory under `[project] include`, and please report how it is used."
    );
    format!(
        "compile_error!(\n    {}\n);\nfn main() {{}}\n",
        serde_json::Value::from(message)
    )
}

/// What a snapshot is for, which decides its stand-ins and its manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    /// Stand-ins cargo may compile (dependency layers).
    Plain,
    /// Stand-ins that fail the build if compiled (cargo steps).
    Guarded,
    /// Plain, with the masked manifests and lockfile (fetch step, dependency layer).
    Masked,
}

impl Context<'_> {
    /// The snapshot for `plan`, built once per distinct plan; its stand-ins can be compiled
    /// (dependency layers compile them, then delete what they built).
    pub(super) fn snapshot(
        &mut self,
        plan: &SnapshotPlan,
        what: &str,
    ) -> Result<State, CompileError> {
        self.snapshot_with(plan, what, Kind::Plain)
    }

    /// The snapshot of the fetch step or a dependency layer: like [`Self::snapshot`], but the
    /// workspace's manifests and `Cargo.lock` are the masked copies
    /// ([`crate::project::masked`]), written from the metadata the frontend read, so an edit
    /// that cannot change the third-party crates (a description, a member's version, a
    /// comment) leaves the snapshot, and so the step, as it was.
    pub(super) fn masked_snapshot(
        &mut self,
        plan: &SnapshotPlan,
        what: &str,
    ) -> Result<State, CompileError> {
        self.snapshot_with(plan, what, Kind::Masked)
    }

    /// The snapshot of a cargo step: its stand-ins fail the build if compiled
    /// ([`guarded_stub_source`]).
    pub(super) fn guarded_snapshot(
        &mut self,
        plan: &SnapshotPlan,
        what: &str,
    ) -> Result<State, CompileError> {
        self.snapshot_with(plan, what, Kind::Guarded)
    }

    fn snapshot_with(
        &mut self,
        plan: &SnapshotPlan,
        what: &str,
        kind: Kind,
    ) -> Result<State, CompileError> {
        let memo = (plan.clone(), kind);
        if let Some(s) = self.snapshots.get(&memo) {
            return Ok(s.clone());
        }
        let guarded = kind == Kind::Guarded;
        let masked = match kind {
            Kind::Masked => self.masked_metadata().clone(),
            _ => BTreeMap::new(),
        };
        // The masked files come from the metadata, never from the transfer; vendored trees
        // that travel apart are mounted, never part of a snapshot (see `vendored.rs`).
        let vendored = self.vendored()?.map(|v| v.plan);
        let include: Vec<String> = plan
            .include
            .iter()
            .filter(|p| !masked.contains_key(*p))
            .filter(|p| !vendored.as_ref().is_some_and(|v| v.holds(p)))
            .cloned()
            .collect();
        // Which package each stand-in stands in for, to name it in the guard.
        let mut owners: HashMap<String, String> = HashMap::new();
        if guarded && !plan.stubs.is_empty() {
            for package in self
                .layout
                .workspace
                .iter()
                .flat_map(|ws| ws.packages.values())
            {
                for stub in package.stubs() {
                    owners.entry(stub).or_insert_with(|| package.name.clone());
                }
            }
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
        if !include.is_empty() {
            local = local.include_patterns(include.iter().cloned());
        }
        let mut file = State::scratch().file().mkfile(Mkfile::new(
            SDK_MARKER,
            0o644,
            format!("{}\n", self.sdk),
        ));
        // A plan that included only masked files needs no transfer (an empty include list
        // would mean the whole context).
        if include.is_empty() == plan.include.is_empty() {
            file = file.copy(
                Copy::new(&local.into_state(), "/", "/")
                    .dir_contents_only(true)
                    .follow_symlinks(false),
            );
        }
        for (path, content) in &masked {
            if let Some((parent, _)) = path.rsplit_once('/') {
                file = file.mkdir(Mkdir::new(format!("/{parent}"), 0o755).make_parents(true));
            }
            file = file.mkfile(Mkfile::new(format!("/{path}"), 0o644, content.clone()));
        }
        for stub in &plan.stubs {
            if let Some((parent, _)) = stub.rsplit_once('/') {
                file = file.mkdir(Mkdir::new(format!("/{parent}"), 0o755).make_parents(true));
            }
            let content = match owners.get(stub) {
                Some(package) if guarded => guarded_stub_source(package, stub),
                _ => STUB_SOURCE.to_string(),
            };
            file = file.mkfile(Mkfile::new(format!("/{stub}"), 0o644, content));
        }
        let snapshot = file
            .custom_name(format!("[cachet] snapshot {what}"))
            .platform(self.step_platform())
            .build()?;
        self.snapshots.insert(memo, snapshot.clone());
        Ok(snapshot)
    }
}
