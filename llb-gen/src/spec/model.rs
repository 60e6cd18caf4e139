//! The `Cachet.toml` data model, exactly as written by the user.
//!
//! These types mirror the file one to one (serde + toml), keep the source span of every value (and
//! map key) a later check may need to point at, and refuse unknown keys, so a typo is an error with a
//! position instead of a silently ignored setting.
//!
//! The JSON Schema of the file (`llb-gen schema`) is derived from these types: doc comments
//! become descriptions, and the `schemars` attributes repeat what `load.rs` checks, as far as a
//! schema can (see `schema.rs`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::schema as rules;

/// The whole file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = rules::require_targets)]
pub struct SpecFile {
    /// The project as a whole.
    #[serde(default)]
    pub project: ProjectSection,
    /// Target built when `--target` is not given; defaults to the last target in the file
    /// (the same rule as a Dockerfile's last stage).
    #[schemars(with = "Option<String>", regex(pattern = rules::NAME))]
    pub default: Option<Spanned<String>>,
    /// The SDK image every cargo step runs in.
    // Required, but optional here so the loader can say where to add it (`toml` would report
    // the missing field at the start of the file).
    #[schemars(with = "SdkSection")]
    pub sdk: Option<Spanned<SdkSection>>,
    /// Settings shared by every cargo step; all of them are cache-key inputs.
    #[serde(default)]
    pub cargo: CargoSection,
    /// How dependencies are fetched before the offline compile steps.
    #[serde(default)]
    pub fetch: FetchSection,
    /// Which cache layers the build plans.
    #[serde(default)]
    pub cache: CacheSection,
    /// Build arguments the spec accepts, with their defaults. Only declared arguments reach the
    /// build, so an unrelated `--build-arg` never changes a key.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub args: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Directory named contexts (`--build-context NAME=DIR`): NAME → the path, relative to the
    /// project root and one level up (`"../shared-lib"`), where cargo sees the context's
    /// content — a path dependency outside the project. Every build must pass each of them.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>", transform = rules::named_contexts)]
    pub contexts: BTreeMap<Spanned<String>, Spanned<String>>,
    /// The build steps: a cargo step (`cargo = [...]`) or an image (`from = ...`) per name. At
    /// least one is required.
    #[serde(default, rename = "target")]
    #[schemars(
        with = "BTreeMap<String, TargetSection>",
        transform = rules::target_names
    )]
    pub targets: BTreeMap<String, Spanned<TargetSection>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// When each cargo step gets dependency layers (its third-party crates, and on a build
    /// whose cache travels its workspace dependencies, compiled into layers that `--cache-to`
    /// exports): `auto` (default) only when the build's cache travels (`--cache-from`, cache
    /// imports or inline cache), `always`, or `never` (one cargo step on its keyed target
    /// cache). May be `${ARG}`.
    #[schemars(with = "Option<String>", transform = rules::layer_policy)]
    pub layers: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// A readable name used in cache mount ids and progress names.
    #[schemars(with = "Option<String>", regex(pattern = rules::NAME))]
    pub name: Option<Spanned<String>>,
    /// Context paths cargo steps read besides the ones Cachet finds from the manifests
    /// (C sources a build script compiles, files pulled in with `include_str!`), as
    /// `.dockerignore`-style patterns relative to the context root.
    #[serde(default)]
    #[schemars(with = "Vec<String>", transform = rules::context_patterns)]
    pub include: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SdkSection {
    /// The SDK image reference; a tag is resolved to a digest at build time.
    // Required; optional here for the loader's message (see `SpecFile::sdk`).
    #[schemars(with = "String", transform = rules::image_reference)]
    pub image: Option<Spanned<String>>,
    /// Optional lock: the build fails if the tag no longer resolves to this digest (the image
    /// as resolved, before `packages` and `setup`).
    #[schemars(with = "Option<String>", regex(pattern = rules::DIGEST))]
    pub digest: Option<Spanned<String>>,
    /// Debian packages installed into the SDK before any step runs (`apt-get install`), as
    /// `name`, `name:arch` or `name=version`, e.g. `["make", "cmake", "libssl-dev"]`. Needs an
    /// SDK with apt; pin versions for a reproducible SDK.
    #[serde(default)]
    #[schemars(with = "Vec<String>", transform = rules::sdk_packages)]
    pub packages: Vec<Spanned<String>>,
    /// Shell commands run in order after `packages`, each in its own `sh -e`, as root and with
    /// the network. The extended SDK is what every step runs in.
    #[serde(default)]
    #[schemars(with = "Vec<String>", transform = rules::sdk_setup)]
    pub setup: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CargoSection {
    /// `strict` (default) keys the target cache on every input; `fast` only on SDK, platform and
    /// profile, trusting cargo with the rest (developer loops).
    #[schemars(with = "Option<String>", transform = rules::key_mode)]
    pub mode: Option<Spanned<String>>,
    /// Cargo profile for every cargo step (default `release`).
    #[schemars(with = "Option<String>", regex(pattern = rules::NAME))]
    pub profile: Option<Spanned<String>>,
    /// Cargo features every cargo step enables (`--features`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub features: Vec<Spanned<String>>,
    /// `false` passes `--no-default-features`.
    #[serde(rename = "default-features")]
    pub default_features: Option<bool>,
    /// Compiler flags for every cargo step, one flag per element (`CARGO_ENCODED_RUSTFLAGS`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub rustflags: Vec<Spanned<String>>,
    /// Every environment variable that reaches cargo, build scripts and C compilers.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Env variables (set under `env`) whose values change every build: a commit id, a build
    /// number. Their values stay out of the target cache key, so a new value recompiles what
    /// reads it on the warm cache instead of starting a cold one: cargo tracks the reads that
    /// are declared (`env!`, `option_env!`, `rerun-if-env-changed`), and Cachet rebuilds every
    /// build script or proc macro that reads one without declaring it, and says so.
    #[serde(default, rename = "volatile-env")]
    #[schemars(with = "Vec<String>")]
    pub volatile_env: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchSection {
    /// Environment variables the fetch step reads from BuildKit secrets: variable name →
    /// secret id (`--secret id=…`), e.g. `CARGO_REGISTRIES_CORP_TOKEN = "corp-token"`. Values
    /// never enter a layer, a key or the LLB.
    #[serde(default)]
    #[schemars(
        with = "BTreeMap<String, String>",
        transform = rules::secret_env
    )]
    pub secrets: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Forward the client's default SSH agent (`--ssh default`) for git dependencies.
    #[serde(default)]
    pub ssh: bool,
    /// Extra CA certificates (PEM) the fetch step trusts besides the SDK image's own, for a
    /// proxy that intercepts TLS or a registry with a private CA: `{ secret = "corp-ca" }`,
    /// given as `--secret id=corp-ca,src=ca.pem`. Only the fetch step reads them, and they never
    /// enter a layer, a key or the LLB. A build without that secret trusts the SDK's
    /// certificates only, so the spec still builds where no proxy intercepts.
    #[serde(rename = "ca-bundle")]
    #[schemars(with = "Option<CaBundleSection>")]
    pub ca_bundle: Option<Spanned<CaBundleSection>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaBundleSection {
    /// The id of the BuildKit secret that holds the certificates (`--secret id=…,src=ca.pem`).
    // Required; optional here so the loader can say where it is missing.
    #[schemars(with = "String", regex(pattern = rules::SECRET_ID))]
    pub secret: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = rules::step_kind)]
pub struct TargetSection {
    /// What the target is for, one line: shown by `docker buildx build --call targets`. Not a
    /// build input.
    pub description: Option<String>,
    /// A cargo step: the cargo subcommand and its arguments.
    #[schemars(with = "Option<Vec<String>>", transform = rules::cargo_args)]
    pub cargo: Option<Spanned<Vec<Spanned<String>>>>,
    /// Named outputs of a cargo step: name → path relative to the profile's output directory
    /// (`target/<triple>/<profile>/`).
    #[serde(default)]
    #[schemars(
        with = "BTreeMap<String, String>",
        transform = rules::artifacts
    )]
    pub artifacts: BTreeMap<String, Spanned<String>>,

    /// An image step: `scratch`, an image reference, or `+target`.
    #[schemars(with = "Option<String>", transform = rules::base)]
    pub from: Option<Spanned<String>>,
    /// Artifacts of cargo steps copied into the image.
    #[serde(default)]
    #[schemars(with = "Vec<CopyEntry>")]
    pub copy: Vec<Spanned<CopyEntry>>,
    /// The image's entrypoint (exec form).
    pub entrypoint: Option<Vec<String>>,
    /// The image's default arguments (exec form).
    pub cmd: Option<Vec<String>>,
    /// The image's working directory.
    pub workdir: Option<String>,
    /// The user the image runs as.
    pub user: Option<String>,
    /// Environment: for a cargo step it reaches cargo (and is part of its keys); for an image
    /// step it is written into the image config.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Labels written into the image config.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub labels: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// All three keys are required; optional here so the loader can name the missing ones.
pub struct CopyEntry {
    /// The target that produced the artifact, as `+name`.
    #[schemars(with = "String", regex(pattern = rules::TARGET_REF))]
    pub from: Option<Spanned<String>>,
    /// The artifact's name under that target's `artifacts`.
    #[schemars(with = "String", regex(pattern = rules::NAME))]
    pub artifact: Option<Spanned<String>>,
    /// Absolute destination path in the image.
    #[schemars(with = "String", regex(pattern = rules::ABSOLUTE_PATH))]
    pub to: Option<Spanned<String>>,
}
