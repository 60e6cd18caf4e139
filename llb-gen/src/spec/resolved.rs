//! The validated spec the compiler works from: build arguments applied, references checked,
//! defaults filled in. Nothing here carries source positions any more; every check that needs
//! one ran in [`super::load`].

use std::collections::{BTreeMap, BTreeSet};

pub use crate::keys::KeyMode;

/// Cargo profile used when the spec does not name one.
pub const DEFAULT_PROFILE: &str = "release";
/// Project name used in cache ids when `[project] name` is not set.
pub const DEFAULT_PROJECT: &str = "project";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub project: String,
    pub default_target: String,
    pub sdk: SdkRef,
    pub cargo: CargoSettings,
    pub fetch: FetchSettings,
    /// `[cache] layers`.
    pub layers: LayerPolicy,
    /// `[cross]`: how steps for a platform other than the build platform run.
    pub cross: CrossSettings,
    /// Extra context patterns cargo steps read (`[project] include`).
    pub include: Vec<String>,
    /// `[contexts]`: directory named context → its normalized path (`../shared-lib`, see
    /// [`super::contexts`]).
    pub contexts: BTreeMap<String, String>,
    /// Effective values of the declared build arguments (defaults overridden by `--build-arg`).
    pub args: BTreeMap<String, String>,
    pub targets: BTreeMap<String, Target>,
}

/// When dependency layers are planned (`[cache] layers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerPolicy {
    /// Where they pay: when the build's cache travels to other builders (a local developer
    /// loop's target cache mount is warm anyway, and a separate layer step only serialises the
    /// build), or when a `.deps` target asks for one.
    #[default]
    Auto,
    /// On every build, as a build whose cache travels has them.
    Always,
    /// Never: one cargo step on its keyed target cache.
    Never,
}

impl LayerPolicy {
    pub fn parse(s: &str) -> Option<LayerPolicy> {
        match s {
            "auto" => Some(LayerPolicy::Auto),
            "always" => Some(LayerPolicy::Always),
            "never" => Some(LayerPolicy::Never),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkRef {
    pub image: String,
    /// `sha256:…` the tag must resolve to, when the spec locks it (the image before setup).
    pub digest_lock: Option<String>,
    /// Debian packages the SDK setup step installs, sorted and without duplicates.
    pub packages: Vec<String>,
    /// Shell commands the SDK setup step runs after the packages, in order.
    pub setup: Vec<String>,
}

impl SdkRef {
    /// Whether the spec extends the image with a setup step (see `compile::sdk_setup`).
    pub fn is_extended(&self) -> bool {
        !self.packages.is_empty() || !self.setup.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoSettings {
    pub mode: KeyMode,
    pub profile: String,
    pub features: Vec<String>,
    pub default_features: bool,
    pub rustflags: Vec<String>,
    /// `[cargo] reproducible`: cargo steps remap their build paths (`compile/cargo_step.rs`).
    pub reproducible: bool,
    pub env: BTreeMap<String, String>,
    /// `[cargo] volatile-env`: names of env variables whose values stay out of the target
    /// cache key (`keys.rs`, `compile/volatile_env.rs`). Each is set by `env` somewhere.
    pub volatile_env: BTreeSet<String>,
}

/// `[cross]`, validated: triples are ones Cachet knows (`compile::rust_triple`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrossSettings {
    /// `[cross] emulate`: steps run on the target platform unless a triple says otherwise.
    pub emulate: bool,
    pub targets: BTreeMap<String, CrossTargetSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrossTargetSettings {
    /// Over the Debian defaults (`compile::cross`), name by name.
    pub env: BTreeMap<String, String>,
    pub emulate: Option<bool>,
}

impl CrossSettings {
    /// Whether steps for `triple` run on its own platform (emulated) rather than cross-compile.
    pub fn emulates(&self, triple: &str) -> bool {
        self.targets
            .get(triple)
            .and_then(|t| t.emulate)
            .unwrap_or(self.emulate)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchSettings {
    /// Environment variable → BuildKit secret id, exported in the fetch step only.
    pub secrets: BTreeMap<String, String>,
    /// Forward the client's default SSH agent to the fetch step.
    pub ssh: bool,
    /// The BuildKit secret holding extra CA certificates (PEM) the fetch step trusts besides
    /// the SDK image's (`[fetch] ca-bundle`).
    pub ca_bundle_secret: Option<String>,
}

// An image target's settings make it the larger variant by a few hundred bytes; a spec has a
// handful of targets, so boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Cargo(CargoTarget),
    Image(ImageTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoTarget {
    /// The cargo subcommand and its arguments, exactly as the user wrote them.
    pub args: Vec<String>,
    /// Artifact name → path relative to the profile's output directory.
    pub artifacts: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
}

impl CargoTarget {
    pub fn subcommand(&self) -> &str {
        self.args.first().map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTarget {
    pub from: BaseRef,
    pub copies: Vec<ArtifactCopy>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `PORT/PROTOCOL`, the protocol always written out (`80` becomes `80/tcp`).
    pub expose: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
    pub stop_signal: Option<String>,
    pub healthcheck: Option<Healthcheck>,
}

/// A health check as Docker's image config holds it: durations in nanoseconds, `None` (absent
/// from the config) for the runtime's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval_ns: Option<u64>,
    pub timeout_ns: Option<u64>,
    pub start_period_ns: Option<u64>,
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    Scratch,
    Image(String),
    Target(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCopy {
    pub from_target: String,
    pub artifact: String,
    pub to: String,
}

impl Spec {
    /// The target to build: `requested` (`--target`) or the spec's default; an unknown name is
    /// an error that lists the targets there are.
    pub fn select_target(&self, requested: Option<&str>) -> Result<TargetRef, String> {
        let target = requested.unwrap_or(&self.default_target);
        let parsed = TargetRef::parse(target);
        match self.targets.get(&parsed.name) {
            Some(Target::Cargo(_)) => return Ok(parsed),
            Some(Target::Image(_)) if parsed.layer => {
                return Err(format!(
                    "--target {target}: `{}` is an image target; only cargo targets have a \
                     dependency layer",
                    parsed.name
                ))
            }
            _ => {}
        }
        // A target whose own name ends in `.deps` (an image target may be called that).
        if self.targets.contains_key(target) {
            Ok(TargetRef {
                name: target.to_string(),
                layer: false,
            })
        } else {
            let known: Vec<&str> = self.targets.keys().map(String::as_str).collect();
            Err(format!(
                "--target {target} is not defined (targets: {})",
                known.join(", ")
            ))
        }
    }

    /// Every image reference the build of `target` needs resolved (SDK first), in a stable
    /// order and without duplicates.
    pub fn images_for(&self, target: &str) -> Vec<String> {
        let mut images = vec![self.sdk.image.clone()];
        for image in self.base_images_for(target) {
            if !images.contains(&image) {
                images.push(image);
            }
        }
        images
    }

    /// The images the image targets `target` needs are based on (`from = "<image>"`), each once.
    pub fn base_images_for(&self, target: &str) -> Vec<String> {
        let mut images: Vec<String> = Vec::new();
        for name in self.closure(target) {
            if let Some(Target::Image(ImageTarget {
                from: BaseRef::Image(image),
                ..
            })) = self.targets.get(&name)
            {
                if !images.contains(image) {
                    images.push(image.clone());
                }
            }
        }
        images
    }

    /// The target named `target` and every target it depends on, dependencies first.
    /// Only defined targets are listed (none for an unknown `target`), each once, even in a
    /// hand-built spec with a cycle that `load` would have refused. The walk is iterative: a
    /// long chain of targets cannot overflow the stack.
    pub fn closure(&self, target: &str) -> Vec<String> {
        let mut order = Vec::new();
        let Some((root, _)) = self.targets.get_key_value(target) else {
            return order;
        };
        let mut seen: BTreeSet<&str> = BTreeSet::from([root.as_str()]);
        // Targets being visited, each with the index of its next dependency.
        let mut stack: Vec<(&str, usize)> = vec![(root.as_str(), 0)];
        while let Some(&(name, next)) = stack.last() {
            let deps = self.targets.get(name).map(Target::dependencies);
            match deps.as_deref().and_then(|d| d.get(next)) {
                Some(&dep) => {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    if let Some((dep, _)) = self.targets.get_key_value(dep) {
                        if seen.insert(dep.as_str()) {
                            stack.push((dep.as_str(), 0));
                        }
                    }
                }
                None => {
                    order.push(name.to_string());
                    stack.pop();
                }
            }
        }
        order
    }
}

/// What `--target` selects: a target by name, or a cargo target's dependency layer as a target
/// of its own (`build.deps`, so CI can export the layer as an image with inline cache). Parsed
/// once ([`Spec::select_target`]); everything after works with the two fields.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetRef {
    /// The target's name under `[target]`.
    pub name: String,
    /// The target's dependency layer rather than the target itself.
    pub layer: bool,
}

impl TargetRef {
    /// The suffix that names a dependency layer.
    pub const LAYER_SUFFIX: &'static str = ".deps";

    /// `build.deps` → the layer of `build`; anything else → that name. Whether the name exists
    /// (and whether `name.deps` is rather an image target of that name) is for
    /// [`Spec::select_target`] to decide.
    pub fn parse(target: &str) -> TargetRef {
        match target.strip_suffix(Self::LAYER_SUFFIX) {
            Some(name) => TargetRef {
                name: name.to_string(),
                layer: true,
            },
            None => TargetRef {
                name: target.to_string(),
                layer: false,
            },
        }
    }
}

impl From<&str> for TargetRef {
    fn from(target: &str) -> TargetRef {
        TargetRef::parse(target)
    }
}

impl std::fmt::Display for TargetRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let suffix = if self.layer { Self::LAYER_SUFFIX } else { "" };
        write!(f, "{}{suffix}", self.name)
    }
}

impl Target {
    /// Names of the targets this one reads from.
    pub fn dependencies(&self) -> Vec<&str> {
        match self {
            Target::Cargo(_) => Vec::new(),
            Target::Image(image) => {
                let mut deps: Vec<&str> = Vec::new();
                if let BaseRef::Target(t) = &image.from {
                    deps.push(t);
                }
                for c in &image.copies {
                    if !deps.contains(&c.from_target.as_str()) {
                        deps.push(&c.from_target);
                    }
                }
                deps
            }
        }
    }
}
