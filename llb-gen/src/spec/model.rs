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
    /// Cross-compilation from the build platform: `emulate = true` runs every step on the
    /// target platform instead (under emulation), and `[cross.<triple>]` tables set the
    /// environment (linker, C compilers, pkg-config) for one target triple.
    #[serde(default)]
    #[schemars(with = "CrossSchema")]
    pub cross: CrossSection,
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
    /// `true` remaps the build paths cargo steps compile in (`--remap-path-prefix` for the
    /// sources, vendored dependencies, target directory and cargo home), so no builder path
    /// lands in a binary (debug info, panic locations): the same sources give the same bytes
    /// wherever they are built. A key input; off by default, as it changes the binaries.
    pub reproducible: Option<bool>,
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
    /// Labels written into the image config. They win over the `org.opencontainers.image.*`
    /// labels Cachet writes itself; `--label` wins over both.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub labels: BTreeMap<String, Spanned<String>>,
    /// Ports the image exposes, as `PORT[/PROTOCOL]` with protocol `tcp` (the default), `udp`
    /// or `sctp`, e.g. `["8080/tcp", "53/udp"]`. Added to the base image's.
    #[serde(default)]
    #[schemars(with = "Vec<String>", transform = rules::exposed_ports)]
    pub expose: Vec<Spanned<String>>,
    /// Mount points of anonymous volumes (absolute paths). Added to the base image's.
    #[serde(default)]
    #[schemars(with = "Vec<String>", transform = rules::absolute_paths)]
    pub volumes: Vec<Spanned<String>>,
    /// The signal `docker stop` sends, as a name (`SIGTERM`, `SIGRTMIN+3`) or a number.
    #[serde(rename = "stop-signal")]
    #[schemars(with = "Option<String>", regex(pattern = rules::STOP_SIGNAL))]
    pub stop_signal: Option<Spanned<String>>,
    /// The container health check, with Docker's semantics; it replaces the base image's, and
    /// `test = ["NONE"]` disables an inherited one.
    #[schemars(with = "Option<HealthcheckSection>")]
    pub healthcheck: Option<Spanned<HealthcheckSection>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckSection {
    /// `["CMD", "/app", "--health"]` (exec form), `["CMD-SHELL", "curl -f http://localhost/"]`
    /// (run by the image's shell) or `["NONE"]` (no health check, not even the base image's).
    // Required; optional here so the loader can say where it is missing.
    #[schemars(with = "Vec<String>", transform = rules::healthcheck_test)]
    pub test: Option<Spanned<Vec<String>>>,
    /// Time between checks, as a duration such as `30s`, `1m30s` or `500ms` (Docker's default
    /// when unset: 30s).
    #[schemars(with = "Option<String>", regex(pattern = rules::DURATION))]
    pub interval: Option<Spanned<String>>,
    /// How long one check may run before it counts as failed (default 30s).
    #[schemars(with = "Option<String>", regex(pattern = rules::DURATION))]
    pub timeout: Option<Spanned<String>>,
    /// Start-up time during which failed checks do not count (default 0s).
    #[serde(rename = "start-period")]
    #[schemars(with = "Option<String>", regex(pattern = rules::DURATION))]
    pub start_period: Option<Spanned<String>>,
    /// Consecutive failures that make the container unhealthy (default 3).
    #[schemars(with = "Option<u32>")]
    pub retries: Option<Spanned<u32>>,
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

/// `[cross]`: a bool (`emulate`) beside one table per target triple, which serde's derive cannot
/// express with spans kept (`flatten` buffers values and loses them), hence the visitor below.
#[derive(Debug, Clone, Default)]
pub struct CrossSection {
    pub emulate: Option<Spanned<bool>>,
    pub targets: BTreeMap<Spanned<String>, Spanned<CrossTarget>>,
}

impl<'de> Deserialize<'de> for CrossSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = CrossSection;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`emulate = true|false` and `[cross.<target triple>]` tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<CrossSection, A::Error> {
                let mut cross = CrossSection::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if key.get_ref() == "emulate" {
                        cross.emulate = Some(map.next_value()?);
                    } else {
                        let value = map.next_value()?;
                        cross.targets.insert(key, value);
                    }
                }
                Ok(cross)
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// The schema of `[cross]` (the section itself deserializes by hand, see [`CrossSection`]).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct CrossSchema {
    /// Run every cargo, fetch and setup step on the target platform, under emulation when the
    /// worker's platform differs, instead of cross-compiling from the build platform.
    emulate: Option<bool>,
    /// One table per Rust target triple, e.g. `[cross.aarch64-unknown-linux-gnu]`.
    #[serde(flatten)]
    targets: BTreeMap<String, CrossTarget>,
}

/// `[cross.<triple>]`: how to build for one target triple from the build platform.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrossTarget {
    /// Environment for cross builds to this triple, over Cachet's Debian defaults (linker
    /// `CARGO_TARGET_<TRIPLE>_LINKER`, `CC_<triple>`, `CXX_<triple>`, `AR_<triple>`,
    /// `PKG_CONFIG_ALLOW_CROSS`, `PKG_CONFIG_LIBDIR_<triple>`). Key inputs.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Run the steps for this triple on its platform under emulation (overrides
    /// `[cross] emulate`).
    pub emulate: Option<bool>,
}
