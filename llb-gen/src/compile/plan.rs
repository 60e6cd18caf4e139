//! The build's plan: which steps it has and why, decided before any LLB is made.
//!
//! [`plan`] reads the spec, the request and the project layout and decides, for the build as
//! a whole and then per target in closure order, every step it gets: the SDK setup, the fetch
//! step, each cargo step's dependency layer and workspace-dependencies layer, the cargo step
//! itself and each image. Every decision carries a typed [`Reason`] that renders as a sentence
//! (`explain` prints them), whether the step is planned or not: "no dependency layer: the cache
//! stays on this builder …" is as much a part of the plan as the layer itself.
//!
//! LLB generation walks the plan: `cargo_step`, `deps_step` and `fetch_step` ask it whether a
//! step exists and whose layer a step shares, and only build the States (memoised in the
//! compile context). So this file is the one place that decides which layers exist:
//! * the fetch step, when `Cargo.lock` has registry or git packages and the project does not
//!   vendor them itself (see [`super::fetch_step`]);
//! * the check of the crates the project vendors itself, when their checksum files list their
//!   files (they then travel apart from the sources; see [`super::vendored`]);
//! * a dependency layer per cargo step that compiles (`build`, `test`, `check`, `clippy`, …)
//!   and has third-party crates, where it pays (`[cache] layers`, see `keys.rs`): when the
//!   build's cache travels, when a `.deps` target asks for it, or always; never with `never`;
//! * a workspace-dependencies layer on top of it when the cache travels (or `always`) and the
//!   step builds workspace members only as dependencies (see [`super::deps_step`]);
//! * steps whose prebuild agrees on command and environment share one pair of layers: the
//!   first such target builds them, the plan names it in the others' [`PlannedStep::shared_with`].

use std::collections::BTreeMap;
use std::fmt;

use crate::project::ProjectLayout;
use crate::spec::{CargoTarget, LayerPolicy, Spec, Target};

use super::cargo_step::{owned_flags, BUILDING_SUBCOMMANDS};
use super::{deps_step, sdk_setup, BuildRequest, CompileError, StepKind};

/// What the fetch step is called in progress names, explanations and `--no-cache-filter`.
pub const FETCH_TARGET: &str = "fetch";

/// What the check of the project's own vendored crates is called in the plan and explanations.
pub const VENDORED_TARGET: &str = "vendored";

/// Every step decision of one build, in build order: the SDK setup and the fetch step, then
/// each target of the closure with its dependency layers and its own step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
}

/// One decision: a step of `kind` for `target`, planned or not, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    /// The target it belongs to (`sdk` for the SDK setup, `fetch` for the fetch step).
    pub target: String,
    pub kind: StepKind,
    pub reason: Reason,
    /// The target whose layer this step is (steps that agree on the prebuild command and
    /// environment share one); `None` for a step of its own.
    pub shared_with: Option<String>,
}

/// Why a step is planned, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `[sdk] packages` or `setup` extend the SDK image.
    SdkExtended { packages: usize, commands: usize },
    /// The spec does not extend the SDK image.
    SdkAsIs,
    /// The build has no cargo step, so nothing runs in the SDK.
    NoSdkStep,
    /// `Cargo.lock` has registry or git packages and the project does not vendor them.
    Fetch { packages: usize },
    /// The project vendors its registry and git packages itself (source replacement).
    VendoredByProject { packages: usize },
    /// `Cargo.lock` has no registry or git packages.
    NothingToFetch,
    /// The project vendors crates whose checksum files list their files: they travel
    /// incrementally and are checked and fingerprinted once per content.
    VendoredListed { listed: usize, unlisted: usize },
    /// The project vendors crates, none of whose checksum files lists its files (`"files":
    /// {}`): cargo verifies nothing, so they travel afresh with the sources on every build.
    VendoredUnlisted,
    /// No project metadata was read: the whole context is used, nothing is fetched.
    LayoutUnknown,
    /// The build has no cargo step.
    NoCargoStep,
    /// The build's cache travels (`--cache-from`, inline cache): layers pay on a fresh runner.
    CacheTravels,
    /// `[cache] layers = "always"`.
    LayersAlways,
    /// The build asks for a `.deps` target (named here), which is a dependency layer.
    LayerRequested { target: String },
    /// The cache stays on this builder: the target cache mount is warm, a layer would not pay
    /// (`[cache] layers = "auto"`).
    CacheLocal,
    /// `[cache] layers = "never"`.
    LayersNever,
    /// The subcommand does not compile dependencies the way a build does.
    NotABuild { subcommand: String },
    /// `Cargo.lock` has no registry or git packages to compile.
    NoThirdParty,
    /// The workspace members a step builds only as dependencies sit on its dependency layer,
    /// which the step does not have.
    NoDependencyLayer,
    /// The step builds no workspace member only as a dependency.
    NoDependencyMembers,
    /// The step shares the dependency layer of `with`, which has no workspace layer on top.
    SharesLayerWithout { with: String },
    /// A cargo target: cargo on its keyed target cache.
    CargoTarget { seeded: bool },
    /// An image target.
    ImageTarget,
}

impl Reason {
    /// Whether the decision plans the step.
    pub fn plans(&self) -> bool {
        matches!(
            self,
            Reason::SdkExtended { .. }
                | Reason::Fetch { .. }
                | Reason::VendoredListed { .. }
                | Reason::CacheTravels
                | Reason::LayersAlways
                | Reason::LayerRequested { .. }
                | Reason::CargoTarget { .. }
                | Reason::ImageTarget
        )
    }

    /// A stable name of the reason, for tools reading `explain --format json`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::SdkExtended { .. } => "sdk-extended",
            Reason::SdkAsIs => "sdk-as-is",
            Reason::NoSdkStep => "no-sdk-step",
            Reason::Fetch { .. } => "registry-packages",
            Reason::VendoredByProject { .. } => "vendored-by-project",
            Reason::NothingToFetch => "nothing-to-fetch",
            Reason::VendoredListed { .. } => "vendored-listed",
            Reason::VendoredUnlisted => "vendored-unlisted",
            Reason::LayoutUnknown => "layout-unknown",
            Reason::NoCargoStep => "no-cargo-step",
            Reason::CacheTravels => "cache-travels",
            Reason::LayersAlways => "layers-always",
            Reason::LayerRequested { .. } => "layer-requested",
            Reason::CacheLocal => "cache-local",
            Reason::LayersNever => "layers-never",
            Reason::NotABuild { .. } => "not-a-build",
            Reason::NoThirdParty => "no-third-party",
            Reason::NoDependencyLayer => "no-dependency-layer",
            Reason::NoDependencyMembers => "no-dependency-members",
            Reason::SharesLayerWithout { .. } => "shares-layer-without",
            Reason::CargoTarget { .. } => "cargo-target",
            Reason::ImageTarget => "image-target",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: &usize| if *n == 1 { "" } else { "s" };
        match self {
            Reason::SdkExtended { packages, commands } => write!(
                f,
                "[sdk] packages ({packages}) and setup ({commands} command{}) extend the SDK \
                 image",
                plural(commands)
            ),
            Reason::SdkAsIs => f.write_str("the spec does not extend the SDK image"),
            Reason::NoSdkStep | Reason::NoCargoStep => f.write_str("the build has no cargo step"),
            Reason::Fetch { packages } => write!(
                f,
                "Cargo.lock has {packages} registry/git package{} and the project does not \
                 vendor",
                plural(packages)
            ),
            Reason::VendoredByProject { packages } => write!(
                f,
                "the project vendors its {packages} registry/git package{} (source replacement \
                 in its cargo config)",
                plural(packages)
            ),
            Reason::NothingToFetch => f.write_str("Cargo.lock has no registry or git packages"),
            Reason::VendoredListed { listed, unlisted } => write!(
                f,
                "{listed} vendored crate{} {} in .cargo-checksum.json: they travel \
                 incrementally, checked and fingerprinted once per content{}",
                plural(listed),
                if *listed == 1 {
                    "lists its files"
                } else {
                    "list their files"
                },
                if *unlisted == 0 {
                    String::new()
                } else {
                    format!("; {unlisted} with `\"files\": {{}}` travel afresh with the sources")
                }
            ),
            Reason::VendoredUnlisted => f.write_str(
                "no vendored crate lists its files in .cargo-checksum.json (`\"files\": {}`), \
                 so they travel afresh with the sources on every build",
            ),
            Reason::LayoutUnknown => f.write_str(
                "no Cargo.toml was read, so the whole context is used and nothing is fetched",
            ),
            Reason::CacheTravels => {
                f.write_str("the build's cache travels (--cache-from / inline cache)")
            }
            Reason::LayersAlways => f.write_str("[cache] layers = \"always\""),
            Reason::LayerRequested { target } => {
                write!(f, "the build asks for `{target}`, a dependency layer")
            }
            Reason::CacheLocal => f.write_str(
                "the cache stays on this builder, the target cache mount is warm ([cache] \
                 layers = \"auto\")",
            ),
            Reason::LayersNever => f.write_str("[cache] layers = \"never\""),
            Reason::NotABuild { subcommand } => write!(
                f,
                "`cargo {subcommand}` does not compile dependencies the way a build does"
            ),
            Reason::NoThirdParty => {
                f.write_str("Cargo.lock has no registry or git packages to compile")
            }
            Reason::NoDependencyLayer => f.write_str(
                "it would sit on the step's dependency layer, which the step does not have",
            ),
            Reason::NoDependencyMembers => {
                f.write_str("the step builds no workspace member only as a dependency")
            }
            Reason::SharesLayerWithout { with } => write!(
                f,
                "the step shares the dependency layer of `{with}`, which has none on top"
            ),
            Reason::CargoTarget { seeded: true } => f.write_str(
                "cargo on its keyed target cache, seeded from the dependency layer when empty",
            ),
            Reason::CargoTarget { seeded: false } => f.write_str("cargo on its keyed target cache"),
            Reason::ImageTarget => f.write_str("the target is an image"),
        }
    }
}

impl PlannedStep {
    /// Whether the step exists in the build.
    pub fn planned(&self) -> bool {
        self.reason.plans()
    }

    /// The decision as one sentence: "dependency layer: the build's cache travels (…)".
    pub fn sentence(&self) -> String {
        let what = match self.kind {
            StepKind::SdkSetup => "sdk-setup",
            StepKind::Fetch => "fetch",
            StepKind::VendoredCheck => "vendored-crates check",
            StepKind::Dependencies => "dependency layer",
            StepKind::WorkspaceDependencies => "workspace-dependencies layer",
            StepKind::Cargo => "cargo step",
            StepKind::Image => "image step",
            StepKind::Other => "step",
        };
        let mut sentence = format!(
            "{}{what}: {}",
            if self.planned() { "" } else { "no " },
            self.reason
        );
        if let (Some(owner), true) = (&self.shared_with, self.planned()) {
            sentence.push_str(&format!(
                "; shared with `{owner}` (same prebuild command and environment)"
            ));
        }
        sentence
    }
}

impl Plan {
    /// The decision on the step of `kind` for `target`, if the plan has one.
    pub fn step(&self, target: &str, kind: StepKind) -> Option<&PlannedStep> {
        self.steps
            .iter()
            .find(|s| s.target == target && s.kind == kind)
    }

    /// Whether the build has that step.
    pub fn has(&self, target: &str, kind: StepKind) -> bool {
        self.step(target, kind).is_some_and(PlannedStep::planned)
    }

    /// Whether the build has the fetch step.
    pub fn fetches(&self) -> bool {
        self.has(FETCH_TARGET, StepKind::Fetch)
    }

    /// The target whose layer of `kind` `target` uses, when it is another target's.
    pub fn shared_with(&self, target: &str, kind: StepKind) -> Option<&str> {
        self.step(target, kind)
            .filter(|s| s.planned())
            .and_then(|s| s.shared_with.as_deref())
    }
}

/// The plan of building `request.target` from `spec`: every step decision, before any LLB.
pub fn plan(spec: &Spec, request: &BuildRequest) -> Result<Plan, CompileError> {
    let triple = super::rust_triple(&request.platform).map_err(CompileError::Platform)?;
    plan_with(
        spec,
        request,
        &crate::project::analyze(&request.project),
        triple,
    )
}

/// [`plan`] with the layout and triple the compile context already computed.
pub(super) fn plan_with(
    spec: &Spec,
    request: &BuildRequest,
    layout: &ProjectLayout,
    triple: &str,
) -> Result<Plan, CompileError> {
    let base = request.target.name.as_str();
    if !spec.targets.contains_key(base) {
        let known: Vec<&str> = spec.targets.keys().map(String::as_str).collect();
        return Err(CompileError::UnknownTarget(
            request.target.to_string(),
            known.join(", "),
        ));
    }
    let closure = spec.closure(base);
    let has_cargo = closure
        .iter()
        .any(|name| matches!(spec.targets[name], Target::Cargo(_)));
    let mut steps = Vec::new();
    let build_wide = |target: &str, kind, reason| PlannedStep {
        target: target.to_string(),
        kind,
        reason,
        shared_with: None,
    };
    steps.push(build_wide(
        sdk_setup::STEP_TARGET,
        StepKind::SdkSetup,
        if !has_cargo {
            Reason::NoSdkStep
        } else if spec.sdk.is_extended() {
            Reason::SdkExtended {
                packages: spec.sdk.packages.len(),
                commands: spec.sdk.setup.len(),
            }
        } else {
            Reason::SdkAsIs
        },
    ));
    let fetch = if !has_cargo {
        Reason::NoCargoStep
    } else if layout.needs_fetch() {
        Reason::Fetch {
            packages: layout.remote_packages,
        }
    } else if layout.workspace.is_none() {
        Reason::LayoutUnknown
    } else if layout.remote_packages == 0 {
        Reason::NothingToFetch
    } else {
        Reason::VendoredByProject {
            packages: layout.remote_packages,
        }
    };
    let fetches = fetch.plans();
    steps.push(build_wide(FETCH_TARGET, StepKind::Fetch, fetch));
    if has_cargo && (layout.vendored_by_user || layout.vendor.is_some()) {
        let reason = match &layout.vendor {
            Some(vendor) => Reason::VendoredListed {
                listed: vendor.dirs.iter().map(|d| d.listed.len()).sum(),
                unlisted: vendor.dirs.iter().map(|d| d.unlisted.len()).sum(),
            },
            None => Reason::VendoredUnlisted,
        };
        steps.push(build_wide(VENDORED_TARGET, StepKind::VendoredCheck, reason));
    }

    let layers = Layers {
        spec,
        request,
        layout,
        triple,
        fetches,
    };
    // Prebuild identity (command, environment) → the target that builds its layers.
    let mut owners: BTreeMap<Identity, String> = BTreeMap::new();
    for name in &closure {
        let step = match &spec.targets[name] {
            Target::Cargo(step) => step,
            Target::Image(_) => {
                steps.push(build_wide(name, StepKind::Image, Reason::ImageTarget));
                continue;
            }
        };
        let one = |kind, reason, shared_with: Option<&String>| PlannedStep {
            target: name.clone(),
            kind,
            reason,
            shared_with: shared_with.cloned(),
        };
        let (deps, workspace) = match layers.prebuild(step) {
            Err(reason) => (
                one(StepKind::Dependencies, reason, None),
                one(
                    StepKind::WorkspaceDependencies,
                    layers
                        .workspace_policy()
                        .err()
                        .unwrap_or(Reason::NoDependencyLayer),
                    None,
                ),
            ),
            Ok((reason, identity)) => match owners.get(&identity) {
                Some(owner) => {
                    let owner_ws = steps
                        .iter()
                        .find(|s| &s.target == owner && s.kind == StepKind::WorkspaceDependencies)
                        .filter(|s| s.planned())
                        .map(|s| s.reason.clone());
                    let ws = match owner_ws {
                        Some(reason) => one(StepKind::WorkspaceDependencies, reason, Some(owner)),
                        None => one(
                            StepKind::WorkspaceDependencies,
                            Reason::SharesLayerWithout {
                                with: owner.clone(),
                            },
                            Some(owner),
                        ),
                    };
                    (one(StepKind::Dependencies, reason, Some(owner)), ws)
                }
                None => {
                    owners.insert(identity, name.clone());
                    let ws = match layers.workspace_policy() {
                        Err(reason) => reason,
                        Ok(_) if layout.dependency_members(&step.args).is_empty() => {
                            Reason::NoDependencyMembers
                        }
                        Ok(reason) => reason,
                    };
                    (
                        one(StepKind::Dependencies, reason, None),
                        one(StepKind::WorkspaceDependencies, ws, None),
                    )
                }
            },
        };
        let seeded = deps.planned();
        steps.push(deps);
        steps.push(workspace);
        steps.push(one(StepKind::Cargo, Reason::CargoTarget { seeded }, None));
    }
    let plan = Plan { steps };
    if request.target.layer && !plan.has(base, StepKind::Dependencies) {
        return Err(CompileError::NoDependencyLayer(base.to_string()));
    }
    Ok(plan)
}

/// What decides the dependency layers of one build.
struct Layers<'a> {
    spec: &'a Spec,
    request: &'a BuildRequest,
    layout: &'a ProjectLayout,
    triple: &'a str,
    fetches: bool,
}

/// A prebuild's command and the environment it adds to the build's own: steps that agree on
/// both share their layers (everything else in a layer's exec is the same for the whole build).
type Identity = (Vec<String>, Vec<(String, String)>);

impl Layers<'_> {
    /// Whether cargo steps get a third-party dependency layer at all (`[cache] layers`; see
    /// `keys.rs`): where it pays, that is when the build's cache travels to other builders or a
    /// `.deps` target asks for it, unless the spec says `always` or `never`.
    fn dependency_policy(&self) -> Result<Reason, Reason> {
        match self.spec.layers {
            LayerPolicy::Always => Ok(Reason::LayersAlways),
            LayerPolicy::Never => Err(Reason::LayersNever),
            LayerPolicy::Auto if self.request.cache_travels => Ok(Reason::CacheTravels),
            LayerPolicy::Auto if self.request.target.layer => Ok(Reason::LayerRequested {
                target: self.request.target.to_string(),
            }),
            LayerPolicy::Auto => Err(Reason::CacheLocal),
        }
    }

    /// Whether a dependency layer also gets the layer of the workspace members its step builds
    /// only as dependencies: when the cache travels (or `always`).
    fn workspace_policy(&self) -> Result<Reason, Reason> {
        match self.spec.layers {
            LayerPolicy::Always => Ok(Reason::LayersAlways),
            LayerPolicy::Never => Err(Reason::LayersNever),
            LayerPolicy::Auto if self.request.cache_travels => Ok(Reason::CacheTravels),
            LayerPolicy::Auto => Err(Reason::CacheLocal),
        }
    }

    /// The dependency layer of `step`: why it exists and what identifies it, or why not.
    fn prebuild(&self, step: &CargoTarget) -> Result<(Reason, Identity), Reason> {
        let reason = self.dependency_policy()?;
        let subcommand = step.subcommand();
        let not_a_build = || Reason::NotABuild {
            subcommand: subcommand.to_string(),
        };
        if !BUILDING_SUBCOMMANDS.contains(&subcommand) {
            return Err(not_a_build());
        }
        // Third-party sources come from the fetch step, or from the user's own vendor
        // directory, which the manifests snapshot carries.
        let third_party =
            self.fetches || (self.layout.vendored_by_user && self.layout.remote_packages > 0);
        if !third_party {
            return Err(Reason::NoThirdParty);
        }
        if self.layout.workspace.is_none() {
            return Err(Reason::LayoutUnknown);
        }
        let flags = owned_flags(self.spec, self.triple, subcommand);
        let command = deps_step::layer_command(self.layout, step, &flags, self.fetches)
            .ok_or_else(not_a_build)?;
        Ok((reason, (command, layer_env(self.spec, step))))
    }
}

/// The environment the spec gives a cargo step's layers: `[cargo] env` with the step's own on
/// top, without `[cargo] volatile-env` (the layers never see volatile values).
pub(super) fn layer_env(spec: &Spec, step: &CargoTarget) -> Vec<(String, String)> {
    let mut env = spec.cargo.env.clone();
    env.extend(step.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.into_iter()
        .filter(|(name, _)| !spec.cargo.volatile_env.contains(name))
        .collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
