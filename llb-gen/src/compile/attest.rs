//! What the build's attestations and provenance records are made of: the SBOM's one-file
//! state, the crates each target links, the toolchain probe (`rustc -vV`, read once per SDK)
//! and the lockfile's digest.
//!
//! The SBOM is a `mkfile` in LLB so the attestation can reference it as a file of a solved
//! ref, as BuildKit's attestation protocol asks (`Attestation.ref` + `path`).

use std::collections::BTreeSet;

use crate::llb::{Mkfile, Mount, NetMode, State};
use crate::proto::pb;
use crate::sbom::{self, ImageFact, SbomInput};
use crate::spec::{BaseRef, ImageTarget, Spec};

use super::{BuildRequest, CompileError, Context};

/// Where the probe writes `rustc -vV`, in its output ref.
pub const RUSTC_VERSION_FILE: &str = "/rustc-vV";
const PROBE_DIR: &str = "/cachet/probe";

/// The exec that prints the SDK's `rustc -vV` into [`RUSTC_VERSION_FILE`] of its result. Its
/// only inputs are the SDK (image pinned to its digest, plus `[sdk]` setup), so BuildKit runs
/// it once per SDK and serves every later build from cache; the frontend solves it and reads
/// the file before compiling the build.
pub fn toolchain_probe(
    spec: &Spec,
    request: &BuildRequest,
) -> Result<pb::Definition, CompileError> {
    let mut ctx = Context::new(spec, request)?;
    let sdk = ctx.sdk_state()?;
    let script = format!("rustc -vV > {PROBE_DIR}{RUSTC_VERSION_FILE}");
    let exec = sdk
        .run(vec!["/bin/sh".to_string(), "-c".to_string(), script])
        .cwd("/")
        .mount(Mount::bind(PROBE_DIR, &State::scratch()))
        .network(NetMode::None)
        // Where the build's SDK steps run (the build platform, unless emulated).
        .platform(ctx.step_platform())
        .custom_name("[cachet] rustc -vV of the SDK")
        .build()?;
    Ok(exec.get_mount(PROBE_DIR)?.marshal())
}

/// `sha256:…` of the context's `Cargo.lock`, `None` when it has none.
pub(super) fn cargo_lock_digest(ctx: &Context<'_>) -> Option<String> {
    ctx.request
        .project
        .get("Cargo.lock")
        .map(|b| crate::llb::Digest::of(b).into_string())
}

/// Records which workspace packages a cargo target builds (by name): the SBOM's roots.
pub(super) fn record_cargo_roots(ctx: &mut Context<'_>, target: &str, args: &[String]) {
    let roots = match (&ctx.layout.workspace, ctx.layout.select(args)) {
        (Some(ws), Some(dirs)) => Some(
            dirs.iter()
                .filter_map(|d| ws.packages.get(d))
                .map(|p| p.name.clone())
                .filter(|n| !n.is_empty())
                .collect(),
        ),
        _ => None,
    };
    ctx.crate_roots.insert(target.to_string(), roots);
}

/// Records an image target's roots (those of the targets it copies from and its `+base`) and
/// its base image.
pub(super) fn record_image(ctx: &mut Context<'_>, target: &str, step: &ImageTarget) {
    let mut sources: Vec<&str> = step.copies.iter().map(|c| c.from_target.as_str()).collect();
    let base = match &step.from {
        BaseRef::Scratch => None,
        BaseRef::Image(reference) => Some(ImageFact {
            reference: reference.clone(),
            digest: ctx
                .request
                .images
                .get(reference)
                .map(|r| crate::keys::sdk_identity(&r.digest, &r.config))
                .unwrap_or_default(),
        }),
        BaseRef::Target(t) => {
            sources.push(t);
            ctx.base_images.get(t).cloned().flatten()
        }
    };
    let mut roots: Option<BTreeSet<String>> = Some(BTreeSet::new());
    for source in sources {
        match (ctx.crate_roots.get(source), &mut roots) {
            (Some(Some(names)), Some(all)) => all.extend(names.iter().cloned()),
            (Some(None), _) => roots = None,
            _ => {}
        }
    }
    ctx.crate_roots.insert(target.to_string(), roots);
    ctx.base_images.insert(target.to_string(), base);
}

/// The SPDX document of `target` as a one-file state.
pub(super) fn sbom_state(ctx: &Context<'_>, target: &str) -> Result<State, CompileError> {
    let empty = BTreeSet::new();
    let roots = match ctx.crate_roots.get(target) {
        Some(Some(names)) => Some(names),
        Some(None) => None,
        None => Some(&empty),
    };
    let document = sbom::spdx_document(&SbomInput {
        project: &ctx.spec.project,
        target,
        lockfile: ctx.request.project.get("Cargo.lock"),
        roots,
        sdk: ImageFact {
            reference: ctx.spec.sdk.image.clone(),
            digest: ctx.image_identity.clone(),
        },
        base: ctx.base_images.get(target).cloned().flatten(),
    })?;
    Ok(State::scratch()
        .file()
        .mkfile(Mkfile::new(sbom::SBOM_FILE, 0o644, document))
        .custom_name(format!("[{target}] SBOM (SPDX)"))
        .platform(ctx.request.platform.clone())
        .build()?)
}
