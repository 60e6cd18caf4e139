//! Spec → LLB: the pure heart of the frontend.
//!
//! [`compile`] takes a validated [`Spec`], the selected target and everything the frontend
//! learned from BuildKit (resolved image digests and configs, session id, platform, options),
//! and returns the LLB definition to solve plus the image config of the result. It does no
//! I/O, so the same inputs give byte-identical output in any process, and `llb-gen` can print
//! exactly what the frontend would send.

mod attest;
mod cargo_step;
mod cross;
mod deps_step;
mod fetch_step;
mod freshness;
mod image_config;
mod image_step;
mod named_contexts;
mod plan;
mod sdk_setup;
mod shell;
mod sources;
mod step_script;
mod test_report;
mod triple;
mod vendored;
mod volatile_env;
mod why_step;

use std::collections::{BTreeMap, BTreeSet};

pub use attest::{toolchain_probe, RUSTC_VERSION_FILE};
pub use cargo_step::remap_rustflags;
pub use cross::{cross_env, step_platform, StepPlatform};
pub use fetch_step::{is_proxy_arg, proxy_from_build_args};
pub use image_config::{image_config, minimal_base_config, rfc3339, HistoryStep, ImageSettings};
pub use named_contexts::NamedLocal;
pub use plan::{plan, Plan, PlannedStep, Reason, FETCH_TARGET, VENDORED_TARGET};
pub use test_report::REPORT_FILE;
pub use triple::{rust_triple, KNOWN_TRIPLES};

use crate::keys::{sdk_identity, TargetKeys};
use crate::llb::{Image, LlbError, NetMode, Platform, ProxyEnv, ResolveMode, State};
use crate::project::{self, ProjectFiles, ProjectLayout, SnapshotPlan};
use crate::proto::pb;
use crate::spec::{Spec, Target, TargetRef};

/// An image as BuildKit resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// Manifest digest for the platform; empty when dockerd served the image from its store.
    pub digest: String,
    /// The image config JSON.
    pub config: Vec<u8>,
}

/// The frontend image `llb-gen` assumes when told no other (`--helper-image`): the tag the test
/// environment and the examples build.
pub const DEFAULT_HELPER_IMAGE: &str = "cachet/frontend:dev";

/// The image that holds `cachet-helper` (the frontend's own image, from opt `source`), as
/// BuildKit resolved it for the build platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperImage {
    /// The reference, as the frontend was started from (normalised when it becomes a source).
    pub reference: String,
    pub resolved: ResolvedImage,
}

impl HelperImage {
    /// `reference` with no digest, as dockerd serving it from its store resolves it.
    pub fn unpinned(reference: &str) -> HelperImage {
        HelperImage {
            reference: reference.to_string(),
            resolved: ResolvedImage {
                digest: String::new(),
                config: b"{}".to_vec(),
            },
        }
    }
}

/// Which steps must run again regardless of cache (`--no-cache`, `--no-cache-filter`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NoCache {
    #[default]
    Off,
    All,
    Targets(BTreeSet<String>),
}

/// Everything besides the spec that decides the graph.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub target: TargetRef,
    /// The target platform: what the result is for.
    pub platform: Platform,
    /// The build platform: the worker's own (its first platform, as the dockerfile frontend's
    /// `BUILDPLATFORM`). SDK steps run on it and cross-compile unless the target triple is its
    /// own or the spec opts in to emulation (see [`cross`]).
    pub build_platform: Platform,
    /// The client session that serves the local directories.
    pub session_id: String,
    /// Name of the build context local (`context` unless `contextkey`).
    pub context_local: String,
    /// Resolved images, by the reference written in the spec, for the target platform (image
    /// targets' `from`, and the SDK when steps run on the target platform).
    pub images: BTreeMap<String, ResolvedImage>,
    /// The SDK resolved for the build platform, by reference, when steps cross-compile
    /// ([`step_platform`]); unused otherwise.
    pub build_images: BTreeMap<String, ResolvedImage>,
    pub no_cache: NoCache,
    /// `--network=host` lets compile steps reach the network; otherwise they have none.
    pub network_override: Option<NetMode>,
    pub resolve_mode: ResolveMode,
    /// `--label` values, written into an image target's config.
    pub labels: BTreeMap<String, String>,
    /// The build's layer cache travels between builders: it imports one (`--cache-from`) or
    /// writes inline cache (`BUILDKIT_INLINE_CACHE`), as a CI job does. Such builds also get a
    /// layer of the workspace members each cargo step builds only as dependencies, so a fresh
    /// runner recompiles just what changed (see [`deps_step`]). A local developer loop does not
    /// pay for that layer: its target cache mount is warm anyway.
    pub cache_travels: bool,
    /// The metadata files read from the context ([`project::METADATA_PATTERNS`]); empty when
    /// there is no context to read, and then the whole context is used and nothing is fetched.
    pub project: ProjectFiles,
    /// Proxy settings for the fetch step, from BuildKit's predefined proxy build arguments
    /// ([`proxy_from_build_args`]); `ProxyEnv::default()` for none. They reach the fetch step
    /// as the exec's proxy env, which BuildKit leaves out of cache keys; compile steps run
    /// without a network and never get them.
    pub proxy: ProxyEnv,
    /// The image cargo steps mount `cachet-helper` from (see `compile/freshness.rs`).
    pub helper: HelperImage,
    /// The spec's file name (`filename`, as BuildKit names it: no directory), for the messages
    /// of checks that run inside steps.
    pub spec_file: String,
    /// `docker-image://` named contexts: an image reference the spec names (`[sdk] image`,
    /// `from`) → the reference that replaces it. `images` holds what the replacement resolved
    /// to, under the spec's name; the source op pulls the replacement.
    pub named_images: BTreeMap<String, String>,
    /// `--sbom=true` (`attest:sbom`): plan the SPDX document of the result (see [`crate::sbom`]).
    pub sbom: bool,
    /// `rustc -vV` of the SDK, as the frontend's toolchain probe read it ([`toolchain_probe`]);
    /// recorded in every cargo step's `cachet-provenance.json` and the image labels. `None`
    /// when not read (the `llb-gen` CLI): recorded as unknown.
    pub rustc_version: Option<String>,
    /// `SOURCE_DATE_EPOCH` (the build argument BuildKit defines, seconds since the epoch):
    /// cargo steps get it in their environment (a key input, see `keys.rs`), image configs
    /// take their `created` time and `org.opencontainers.image.created` from it, and copies
    /// into images stamp files with it. `None`: no time anywhere.
    pub source_date_epoch: Option<i64>,
    /// `vcs:source` (buildx: the git remote of the context), for
    /// `org.opencontainers.image.source`.
    pub vcs_source: Option<String>,
    /// `vcs:revision` (buildx: the commit of the context), for
    /// `org.opencontainers.image.revision`.
    pub vcs_revision: Option<String>,
    /// Directory named contexts (`--build-context NAME=DIR`): NAME → the local that holds it;
    /// the spec's `[contexts]` says where cargo sees each ([`named_contexts`]).
    pub named_locals: BTreeMap<String, NamedLocal>,
}

impl BuildRequest {
    /// A build of `target` for `platform` in `session_id`, on a worker of that platform, with
    /// what a plain `docker build` gives for everything else: the `context` local, no images resolved yet, no
    /// `--no-cache`, `--network` or `--pull`, no labels, a cache that stays on this builder,
    /// no metadata files, no proxy, the default frontend image's helper (unpinned),
    /// `Cachet.toml`, no `SOURCE_DATE_EPOCH` and no VCS information. Callers set what they know with struct update syntax.
    pub fn new(
        target: TargetRef,
        platform: Platform,
        session_id: impl Into<String>,
    ) -> BuildRequest {
        BuildRequest {
            target,
            build_platform: platform.clone(),
            platform,
            session_id: session_id.into(),
            context_local: "context".into(),
            images: BTreeMap::new(),
            build_images: BTreeMap::new(),
            no_cache: NoCache::Off,
            network_override: None,
            resolve_mode: ResolveMode::Default,
            labels: BTreeMap::new(),
            cache_travels: false,
            project: ProjectFiles::default(),
            proxy: ProxyEnv::default(),
            helper: HelperImage::unpinned(DEFAULT_HELPER_IMAGE),
            spec_file: "Cachet.toml".into(),
            named_images: BTreeMap::new(),
            sbom: false,
            rustc_version: None,
            source_date_epoch: None,
            vcs_source: None,
            vcs_revision: None,
            named_locals: BTreeMap::new(),
        }
    }
}

/// The image a `docker-image://` named context puts in place of the spec's `image`: the
/// context named as the image is written, or by the same normalised reference
/// (`cachet-sdk:rustup` and `docker.io/library/cachet-sdk:rustup` are one name), the way the
/// dockerfile frontend finds a named context for a `FROM`. `named`: context name → reference.
pub fn named_image<'a>(named: &'a BTreeMap<String, String>, image: &str) -> Option<&'a str> {
    if let Some(found) = named.get(image) {
        return Some(found);
    }
    let normalized = crate::llb::ImageRef::parse(image).ok()?.to_string();
    named
        .iter()
        .find(|(name, _)| {
            crate::llb::ImageRef::parse(name).is_ok_and(|n| n.to_string() == normalized)
        })
        .map(|(_, found)| found.as_str())
}

/// The name of BuildKit's build argument for reproducible times.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// `SOURCE_DATE_EPOCH` from the build arguments, read as BuildKit reads it (decimal seconds,
/// a signed 64-bit integer; empty is unset).
pub fn source_date_epoch(build_args: &BTreeMap<String, String>) -> Result<Option<i64>, String> {
    match build_args.get(SOURCE_DATE_EPOCH).map(|v| v.trim()) {
        None | Some("") => Ok(None),
        Some(value) => value.parse::<i64>().map(Some).map_err(|_| {
            format!(
                "--build-arg {SOURCE_DATE_EPOCH}={value}: expected whole seconds since \
                 1970-01-01 UTC, such as `$(git log -1 --format=%ct)`"
            )
        }),
    }
}

/// The outcome of compiling one target.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub definition: pb::Definition,
    /// `containerimage.config` for the result, when the target is an image.
    pub image_config: Option<Vec<u8>>,
    /// The SDK identity every key was computed with.
    pub sdk: String,
    /// Target cache keys of every cargo step in the build, by target name.
    pub cargo_keys: BTreeMap<String, TargetKeys>,
    /// What every step was keyed on, in build order (for `llb-gen explain`).
    pub steps: Vec<StepRecord>,
    /// Which steps the build has and why, decided before any LLB (see [`plan()`]).
    pub plan: Plan,
    /// With `--sbom=true`: the SPDX document of the result as a one-file Definition
    /// ([`crate::sbom::SBOM_FILE`]), for the attestation that references it.
    pub sbom: Option<pb::Definition>,
}

/// What a step does, which with its target identifies it across builds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// The step that extends the SDK image with `[sdk] packages` and `setup`.
    #[serde(rename = "sdk-setup")]
    SdkSetup,
    /// The `cargo vendor` step shared by the cargo steps.
    Fetch,
    /// The check of the crates the project vendors itself whose checksum files list their
    /// files: they travel incrementally and are fingerprinted once per content
    /// (see `compile/vendored.rs`).
    #[serde(rename = "vendored-check")]
    VendoredCheck,
    /// A cargo step's dependency layer (third-party crates compiled into a layer).
    Dependencies,
    /// The workspace members a cargo step builds only as dependencies, compiled on top of its
    /// dependency layer (planned when the build's cache travels between builders).
    #[serde(rename = "workspace-dependencies")]
    WorkspaceDependencies,
    /// A cargo target: cargo on a keyed target cache.
    Cargo,
    /// An image target.
    Image,
    /// A step this version does not recognise (in an explanation from a newer Cachet).
    #[serde(other)]
    Other,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::SdkSetup => "sdk-setup",
            StepKind::Fetch => "fetch",
            StepKind::VendoredCheck => "vendored-check",
            StepKind::Dependencies => "dependencies",
            StepKind::WorkspaceDependencies => "workspace-dependencies",
            StepKind::Cargo => "cargo",
            StepKind::Image => "image",
            StepKind::Other => "other",
        }
    }
}

/// One step of the build and everything its cache key depends on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepRecord {
    /// The target it belongs to (`fetch` for the fetch step).
    pub target: String,
    pub kind: StepKind,
    /// Its name in BuildKit's progress output.
    pub name: String,
    /// Digest of the op that produces the step's result.
    pub digest: String,
    /// Every input of its keys, by name (nested values are JSON).
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// The target cache keys, for cargo steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<TargetKeys>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("target `{0}` is not defined in the spec (targets: {1})")]
    UnknownTarget(String, String),
    #[error(
        "--no-cache-filter names {0}, which the spec does not define (targets: {1}; `{sdk}` \
         and `fetch` name the SDK setup and fetch steps); a misspelt filter would keep the \
         cache it was meant to drop",
        sdk = sdk_setup::STEP_TARGET
    )]
    UnknownNoCacheTarget(String, String),
    #[error("image `{0}` was not resolved")]
    Unresolved(String),
    #[error(
        "the SDK image `{image}` resolved to {reported}, but the spec locks it to {locked}; \
         update `digest` under [sdk] if the new image is intended{hint}"
    )]
    SdkMoved {
        image: String,
        locked: String,
        /// What the engine reported, in words: both digests, or the image id alone.
        reported: String,
        /// What to do when the engine could not have matched a manifest-digest lock.
        hint: String,
    },
    #[error(
        "target `{0}` has no dependency layer: it is not a build, test, check or clippy step, \
         its Cargo.lock has no registry or git packages, or the spec says `[cache] layers = \
         \"never\"`"
    )]
    NoDependencyLayer(String),
    #[error("{0}")]
    NamedContext(String),
    #[error("{0}")]
    Platform(String),
    #[error("{0}")]
    ImageConfig(String),
    #[error(transparent)]
    Sbom(#[from] crate::sbom::SbomError),
    #[error(transparent)]
    Llb(#[from] LlbError),
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
}

/// Checks `[sdk] digest` like with like. A lock may name the image's manifest digest (what a
/// registry and `docker buildx imagetools` show) or its image id (the digest of its config, what
/// `docker images --digests` shows as IMAGE ID and what dockerd reports for an image in its own
/// store). Current BuildKit reports both, so either lock is checked; dockerd 20.10 serving an
/// image from its store reports no manifest digest, so there only an image-id lock can be
/// checked, and a manifest-digest lock fails with a message that says so and what to lock.
fn check_sdk_lock(image: &str, locked: &str, resolved: &ResolvedImage) -> Result<(), CompileError> {
    let image_id = crate::llb::Digest::of(&resolved.config).into_string();
    if locked == image_id || (!resolved.digest.is_empty() && locked == resolved.digest) {
        return Ok(());
    }
    let (reported, hint) = if resolved.digest.is_empty() {
        (
            format!("image id {image_id} (the engine reported no manifest digest)"),
            format!(
                ". This engine (dockerd serving the image from its own store) reports only image \
                 ids, so a manifest-digest lock cannot be checked here: to pin the image on every \
                 engine, lock its image id (`digest = \"{image_id}\"`)"
            ),
        )
    } else {
        (
            format!("manifest digest {} (image id {image_id})", resolved.digest),
            String::new(),
        )
    };
    Err(CompileError::SdkMoved {
        image: image.to_string(),
        locked: locked.to_string(),
        reported,
        hint,
    })
}

/// Every name in `--no-cache-filter` must be a target (or the `sdk` / `fetch` step).
fn check_no_cache_filter(spec: &Spec, no_cache: &NoCache) -> Result<(), CompileError> {
    let NoCache::Targets(names) = no_cache else {
        return Ok(());
    };
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| !n.is_empty() && !spec.targets.contains_key(n.as_str()))
        .filter(|n| *n != sdk_setup::STEP_TARGET && *n != "fetch")
        .map(|n| format!("`{n}`"))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = spec.targets.keys().map(String::as_str).collect();
    Err(CompileError::UnknownNoCacheTarget(
        unknown.join(", "),
        known.join(", "),
    ))
}

pub fn compile(spec: &Spec, request: &BuildRequest) -> Result<Compiled, CompileError> {
    let (base_target, wants_deps) = (request.target.name.as_str(), request.target.layer);
    if !spec.targets.contains_key(base_target) {
        let known: Vec<&str> = spec.targets.keys().map(String::as_str).collect();
        return Err(CompileError::UnknownTarget(
            request.target.to_string(),
            known.join(", "),
        ));
    }
    check_no_cache_filter(spec, &request.no_cache)?;
    named_contexts::check(spec, &request.named_locals)?;
    let mut ctx = Context::new(spec, request)?;
    // Which steps the build has, decided once before any LLB (see `plan.rs`).
    ctx.plan = plan::plan_with(spec, request, &ctx.layout, ctx.triple)?;
    for name in spec.closure(base_target) {
        let result = match &spec.targets[&name] {
            Target::Cargo(step) => cargo_step::compile(&mut ctx, &name, step)?,
            Target::Image(step) => image_step::compile(&mut ctx, &name, step)?,
        };
        ctx.results.insert(name, result);
    }
    let result = if wants_deps {
        let layer = ctx
            .dependency_layer_of
            .remove(base_target)
            .ok_or_else(|| CompileError::NoDependencyLayer(base_target.to_string()))?;
        TargetResult {
            state: layer,
            image_config: None,
        }
    } else {
        ctx.results
            .remove(base_target)
            .ok_or_else(|| CompileError::Unresolved(request.target.to_string()))?
    };
    let sbom = if request.sbom {
        Some(attest::sbom_state(&ctx, base_target)?.marshal())
    } else {
        None
    };
    Ok(Compiled {
        sbom,
        definition: result.state.marshal(),
        image_config: result.image_config,
        sdk: ctx.sdk,
        cargo_keys: ctx.cargo_keys,
        steps: ctx.steps,
        plan: ctx.plan,
    })
}

/// What a compiled target hands to the targets that use it.
struct TargetResult {
    state: State,
    /// The image config, for image targets; also the base config of `from = "+this"`.
    image_config: Option<Vec<u8>>,
}

/// Compilation state shared by the steps of one build.
struct Context<'a> {
    spec: &'a Spec,
    request: &'a BuildRequest,
    /// The build's SDK identity (see [`crate::keys`]).
    sdk: String,
    /// The SDK image's own identity: `sdk` unless `[sdk] packages` or `setup` extend it.
    image_identity: String,
    triple: &'static str,
    /// Where the SDK steps run (see [`cross`]).
    steps_on: StepPlatform,
    /// The images resolved for `steps_on.platform`: the SDK is taken from here.
    step_images: &'a BTreeMap<String, ResolvedImage>,
    layout: ProjectLayout,
    /// What every context local excludes: `target`, `.git` and the `.dockerignore` patterns.
    excluded: Vec<String>,
    /// Which steps the build has ([`plan()`]); empty for the toolchain probe, which plans none.
    plan: Plan,
    sdk_state: Option<State>,
    /// Context snapshots by what they include and what they are for.
    snapshots: BTreeMap<(SnapshotPlan, sources::Kind), State>,
    /// Directory named contexts' snapshots, by name.
    named_snapshots: BTreeMap<String, State>,
    /// The masked manifests and lockfile, once a snapshot needed them.
    masked: Option<BTreeMap<String, Vec<u8>>>,
    /// The fetch step's layer, once made (whether there is one is the plan's).
    vendor: Option<State>,
    /// The user's vendored crates that travel apart, once planned (`Some(None)`: none).
    vendored: Option<Option<vendored::Vendored>>,
    /// The dependency layer of each cargo target that has one, its own or the one it shares
    /// (for `--target X.deps` and the steps that share it; which exist is the plan's).
    dependency_layer_of: BTreeMap<String, State>,
    results: BTreeMap<String, TargetResult>,
    cargo_keys: BTreeMap<String, TargetKeys>,
    steps: Vec<StepRecord>,
    /// The workspace packages (by name) whose crates each target's binaries link, for the
    /// SBOM (`None`: unknown, every locked package; see [`crate::sbom`]).
    crate_roots: BTreeMap<String, Option<BTreeSet<String>>>,
    /// The base image of each image target (`None`: scratch), for the SBOM.
    base_images: BTreeMap<String, Option<crate::sbom::ImageFact>>,
}

impl<'a> Context<'a> {
    /// The state shared by the steps of one build of `spec` (also what the toolchain probe is
    /// planned with, so it runs on exactly the build's SDK).
    fn new(spec: &'a Spec, request: &'a BuildRequest) -> Result<Context<'a>, CompileError> {
        let steps_on = step_platform(spec, &request.build_platform, &request.platform)?;
        let step_images = if steps_on.cross {
            &request.build_images
        } else {
            &request.images
        };
        let sdk_image = step_images
            .get(&spec.sdk.image)
            .ok_or_else(|| CompileError::Unresolved(spec.sdk.image.clone()))?;
        // The lock is on the image as resolved; setup extends it afterwards.
        let image_identity = sdk_identity(&sdk_image.digest, &sdk_image.config);
        if let Some(locked) = &spec.sdk.digest_lock {
            check_sdk_lock(&spec.sdk.image, locked, sdk_image)?;
        }
        let sdk = sdk_setup::identity(&spec.sdk, &image_identity)?;
        let triple = rust_triple(&request.platform).map_err(CompileError::Platform)?;

        Ok(Context {
            spec,
            request,
            sdk: sdk.clone(),
            image_identity,
            triple,
            steps_on,
            step_images,
            layout: project::analyze(&request.project),
            excluded: project::excluded_patterns(&request.project),
            plan: Plan::default(),
            sdk_state: None,
            snapshots: BTreeMap::new(),
            named_snapshots: BTreeMap::new(),
            masked: None,
            vendor: None,
            vendored: None,
            dependency_layer_of: BTreeMap::new(),
            results: BTreeMap::new(),
            cargo_keys: BTreeMap::new(),
            steps: Vec::new(),
            crate_roots: BTreeMap::new(),
            base_images: BTreeMap::new(),
        })
    }
}

impl Context<'_> {
    /// The masked manifests and lockfile of the fetch step and the dependency layers
    /// ([`project::masked`]), computed once.
    fn masked_metadata(&mut self) -> &BTreeMap<String, Vec<u8>> {
        self.masked.get_or_insert_with(|| {
            project::masked::masked_metadata(&self.layout, &self.request.project)
        })
    }

    fn ignore_cache(&self, target: &str) -> bool {
        match &self.request.no_cache {
            NoCache::Off => false,
            NoCache::All => true,
            NoCache::Targets(names) => names.contains(target),
        }
    }

    /// An image target's `from`, pinned to its digest as resolved for the target platform.
    fn image(&self, reference: &str) -> Result<(State, &ResolvedImage), CompileError> {
        image_source(
            reference,
            &self.request.images,
            &self.request.named_images,
            &self.request.platform,
            self.request.resolve_mode,
        )
    }

    /// The platform every SDK step (setup, fetch, cargo, layers, why, snapshots) runs on.
    fn step_platform(&self) -> Platform {
        self.steps_on.platform.clone()
    }

    /// The read-only mount of `cachet-helper`'s directory of the helper image, pinned to its
    /// resolved digest like the SDK (see `freshness.rs`).
    fn helper_mount(&self) -> Result<crate::llb::Mount, CompileError> {
        // Resolved for the build platform (the frontend image is built for it alone). Under
        // emulation the step runs on the target platform, but the helper is a static binary of
        // the build platform's architecture, which the worker's kernel runs natively.
        let helper = &self.request.helper;
        let mut image = Image::new(&helper.reference)?
            .resolve_mode(self.request.resolve_mode)
            .platform(self.request.build_platform.clone());
        if !helper.resolved.digest.is_empty() {
            image = image.with_digest(&helper.resolved.digest)?;
        }
        let name = crate::llb::ImageRef::parse(&helper.reference)?.to_string();
        let state = image
            // Named like the SDK's image source: bookkeeping, never reported CACHED.
            .custom_name(format!("[cachet] image {name} (cachet-helper)"))
            .into_state()
            .platform(self.request.build_platform.clone());
        Ok(crate::llb::Mount::bind(freshness::HELPER_DIR, &state)
            .source_path(freshness::HELPER_SELECTOR)
            .readonly()
            .into())
    }

    /// The SDK image with its Env, WorkingDir and User applied (BuildKit does not apply them),
    /// extended by the spec's setup step if it has one.
    fn sdk_state(&mut self) -> Result<State, CompileError> {
        if let Some(s) = &self.sdk_state {
            return Ok(s.clone());
        }
        let (state, resolved) = image_source(
            &self.spec.sdk.image,
            self.step_images,
            &self.request.named_images,
            &self.steps_on.platform,
            self.request.resolve_mode,
        )?;
        let state = state.with_image_config(&resolved.config)?;
        let image_identity = self.image_identity.clone();
        let state = sdk_setup::extend(self, state, &image_identity)?;
        self.sdk_state = Some(state.clone());
        Ok(state)
    }
}

/// An image source pinned to its resolved digest (from `images`), for `platform`.
fn image_source<'i>(
    reference: &str,
    images: &'i BTreeMap<String, ResolvedImage>,
    named_images: &BTreeMap<String, String>,
    platform: &Platform,
    resolve_mode: ResolveMode,
) -> Result<(State, &'i ResolvedImage), CompileError> {
    let resolved = images
        .get(reference)
        .ok_or_else(|| CompileError::Unresolved(reference.to_string()))?;
    // A `docker-image://` named context of that name stands in for it (as resolved).
    let source = named_image(named_images, reference).unwrap_or(reference);
    let mut image = Image::new(source)?
        .resolve_mode(resolve_mode)
        .platform(platform.clone());
    if !resolved.digest.is_empty() {
        image = image.with_digest(&resolved.digest)?;
    }
    let state = image
        .custom_name(if source == reference {
            format!("[cachet] image {reference}")
        } else {
            format!("[cachet] image {reference} (named context: {source})")
        })
        .into_state()
        .platform(platform.clone());
    Ok((state, resolved))
}

#[cfg(test)]
mod attest_tests;
#[cfg(test)]
mod cross_tests;
#[cfg(test)]
mod repro_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vendored_tests;
#[cfg(test)]
mod why_tests;
