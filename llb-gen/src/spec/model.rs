//! The `Cachet.toml` data model, exactly as written by the user.
//!
//! These types mirror the file one to one (serde + toml), keep the source span of every value a
//! later check may need to point at, and refuse unknown keys, so a typo is an error with a
//! position instead of a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    #[serde(default)]
    pub project: ProjectSection,
    /// Target built when `--target` is not given; defaults to the last target in the file
    /// (the same rule as a Dockerfile's last stage).
    pub default: Option<Spanned<String>>,
    pub sdk: Spanned<SdkSection>,
    #[serde(default)]
    pub cargo: CargoSection,
    /// How dependencies are fetched before the offline compile steps.
    #[serde(default)]
    pub fetch: FetchSection,
    /// Build arguments the spec accepts, with their defaults. Only declared arguments reach the
    /// build, so an unrelated `--build-arg` never changes a key.
    #[serde(default)]
    pub args: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "target")]
    pub targets: BTreeMap<String, Spanned<TargetSection>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// A readable name used in cache mount ids and progress names.
    pub name: Option<Spanned<String>>,
    /// Context paths cargo steps read besides the ones Cachet finds from the manifests
    /// (C sources a build script compiles, files pulled in with `include_str!`), as
    /// `.dockerignore`-style patterns relative to the context root.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdkSection {
    /// The SDK image reference; a tag is resolved to a digest at build time.
    pub image: Spanned<String>,
    /// Optional lock: the build fails if the tag no longer resolves to this digest.
    pub digest: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CargoSection {
    /// `strict` (default) keys the target cache on every input; `fast` only on SDK, platform and
    /// profile, trusting cargo with the rest (developer loops).
    pub mode: Option<Spanned<String>>,
    /// Cargo profile for every cargo step (default `release`).
    pub profile: Option<Spanned<String>>,
    #[serde(default)]
    pub features: Vec<Spanned<String>>,
    /// `false` passes `--no-default-features`.
    #[serde(rename = "default-features")]
    pub default_features: Option<bool>,
    #[serde(default)]
    pub rustflags: Vec<Spanned<String>>,
    /// Every environment variable that reaches cargo, build scripts and C compilers.
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchSection {
    /// Environment variables the fetch step reads from BuildKit secrets: variable name →
    /// secret id (`--secret id=…`), e.g. `CARGO_REGISTRIES_CORP_TOKEN = "corp-token"`. Values
    /// never enter a layer, a key or the LLB.
    #[serde(default)]
    pub secrets: BTreeMap<String, Spanned<String>>,
    /// Forward the client's default SSH agent (`--ssh default`) for git dependencies.
    #[serde(default)]
    pub ssh: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// A cargo step: the cargo subcommand and its arguments.
    pub cargo: Option<Spanned<Vec<Spanned<String>>>>,
    /// Named outputs of a cargo step: name → path relative to the profile's output directory
    /// (`target/<profile>/`).
    #[serde(default)]
    pub artifacts: BTreeMap<String, Spanned<String>>,

    /// An image step: `scratch`, an image reference, or `+target`.
    pub from: Option<Spanned<String>>,
    #[serde(default)]
    pub copy: Vec<Spanned<CopyEntry>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Environment: for a cargo step it reaches cargo (and is part of its keys); for an image
    /// step it is written into the image config.
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyEntry {
    /// The target that produced the artifact, as `+name`.
    pub from: Spanned<String>,
    pub artifact: Spanned<String>,
    /// Absolute destination path in the image.
    pub to: Spanned<String>,
}
