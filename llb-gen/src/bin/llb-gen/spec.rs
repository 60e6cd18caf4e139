//! `llb-gen spec`: the Definition the frontend would send for a `Cachet.toml`.
//!
//! Loads and compiles the spec exactly as `frontend/src/build.rs` does, with BuildKit's part
//! (platform, session, resolved images) taken from the command line instead. The only I/O is
//! reading the spec (and any `config=FILE` given to `--image`) and writing stdout/stderr.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::output::{write_definition, Format};
use crate::CliResult;
use llb_gen::compile::{self, BuildRequest, NoCache, ResolvedImage};
use llb_gen::llb::{Digest, ImageRef, Platform, ReadableDefinition, ResolveMode, State};
use llb_gen::spec::{self, BaseRef, ImageTarget, Spec, Target};

/// Local name of the build context, as the frontend uses unless `contextkey` is set.
const CONTEXT_LOCAL: &str = "context";

/// Options of `llb-gen spec`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The spec file; its path as written here is the file name in error messages.
    #[arg(value_name = "PATH")]
    path: String,
    /// Target to build; default: the spec's default target.
    #[arg(long, value_name = "T")]
    target: Option<String>,
    /// Value of a build argument declared under [args] (repeatable).
    #[arg(long = "build-arg", value_name = "K=V", value_parser = parse_build_arg)]
    build_args: Vec<(String, String)>,
    /// Target platform (`os/arch[/variant]`).
    #[arg(long, value_name = "os/arch", value_parser = Platform::parse,
          default_value = "linux/amd64")]
    platform: Platform,
    /// Pin an image the spec uses to a manifest digest, optionally with its image config JSON
    /// (repeatable). REF is matched after normalisation (`alpine` = `docker.io/library/alpine:latest`).
    /// DIGEST may be empty (`REF=,config=FILE`) for an image dockerd serves from its store.
    #[arg(long = "image", value_name = "REF=DIGEST[,config=FILE]", value_parser = parse_image)]
    images: Vec<ImageArg>,
    /// Manifest digest of the SDK image (shorthand for `--image <sdk image>=DIGEST`).
    #[arg(long, value_name = "sha256:…", value_parser = parse_digest)]
    sdk_digest: Option<String>,
    /// Session id put on the build-context local source.
    #[arg(long, value_name = "ID", default_value = "llb-gen")]
    session: String,
    /// Output format: `binary` is the protobuf Definition (pipe it into `buildctl build`);
    /// `json` is a summary object with the readable Definition (see below).
    #[arg(long, value_enum, default_value_t = Format::Binary)]
    format: Format,
}

const AFTER_HELP: &str = "\
Images: nothing is resolved. An image's digest comes from --image, --sdk-digest, a digest in the
reference itself or, for the SDK, `digest` under [sdk]. Without one it is left unpinned, as
dockerd's local images are (a note on stderr lists them), and the SDK is identified by the
SHA-256 of its config. Configs come from `--image REF=DIGEST,config=FILE` (used byte for byte),
else are `{}` for the SDK and, for a base image, the least compile accepts: architecture,
os (from --platform) and an empty rootfs. The SDK identity is in CACHET_SDK and every
target cache mount id.

JSON output (--format json) is one object:
  target        the target built
  platform      the target platform
  sdk           the SDK identity
  images        {reference as written in the spec: digest pinned, or \"\"}
  cargo_keys    {cargo target: target cache mount id}
  image_config  the result's image config (containerimage.config), or null for a cargo target
  definition    the Definition, op by op (as `llb-gen sample --format json`)

Example:
  llb-gen spec examples/hello/Cachet.toml --sdk-digest sha256:<64 hex> --format json";

/// One `--image` value.
#[derive(Debug, Clone)]
struct ImageArg {
    /// As written, for messages.
    reference: String,
    /// Normalised, for matching against the spec's references.
    normalized: String,
    /// `sha256:…`, or empty for "not pinned".
    digest: String,
    config_file: Option<String>,
}

fn parse_build_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err("expected KEY=VALUE".to_string()),
    }
}

fn parse_digest(s: &str) -> Result<String, String> {
    Digest::parse(s)
        .map(Digest::into_string)
        .map_err(|e| e.to_string())
}

fn parse_image(s: &str) -> Result<ImageArg, String> {
    let (reference, rest) = s
        .split_once('=')
        .ok_or("expected REF=DIGEST[,config=FILE], e.g. alpine:3.20=sha256:…")?;
    let normalized = ImageRef::parse(reference)
        .map_err(|e| e.to_string())?
        .to_string();
    let mut parts = rest.split(',');
    let digest = match parts.next().unwrap_or("") {
        "" => String::new(),
        d => parse_digest(d)?,
    };
    let mut config_file = None;
    for option in parts {
        match option.split_once('=') {
            Some(("config", file)) if !file.is_empty() && config_file.is_none() => {
                config_file = Some(file.to_string());
            }
            _ => return Err(format!("unknown option `{option}`; expected config=FILE")),
        }
    }
    Ok(ImageArg {
        reference: reference.to_string(),
        normalized,
        digest,
        config_file,
    })
}

/// What `--format json` prints; field order is the output order.
#[derive(Serialize)]
struct JsonOutput<'a> {
    target: &'a str,
    platform: String,
    sdk: &'a str,
    images: BTreeMap<&'a str, &'a str>,
    cargo_keys: BTreeMap<&'a str, &'a str>,
    image_config: Option<serde_json::Value>,
    definition: ReadableDefinition,
}

/// Loads, compiles and prints the spec.
pub fn run(args: &Args) -> CliResult {
    let file = args.path.as_str();
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{file}: the spec is not UTF-8 text"))?;
    let build_args: BTreeMap<String, String> = args.build_args.iter().cloned().collect();
    let spec = spec::load(file, &text, &build_args)?;
    for name in build_args.keys().filter(|k| !spec.args.contains_key(*k)) {
        eprintln!(
            "llb-gen: note: --build-arg {name} is not declared under [args] in {file}; ignored"
        );
    }

    let target = spec
        .select_target(args.target.as_deref())
        .map_err(|e| format!("{file}: {e}"))?;

    let images = resolve_images(args, file, &spec, &target)?;
    let request = BuildRequest {
        target: target.clone(),
        platform: args.platform.clone(),
        session_id: args.session.clone(),
        context_local: CONTEXT_LOCAL.to_string(),
        images,
        no_cache: NoCache::Off,
        network_override: None,
        resolve_mode: ResolveMode::Default,
        labels: BTreeMap::new(),
    };
    let compiled = compile::compile(&spec, &request).map_err(|e| format!("{file}: {e}"))?;

    match args.format {
        Format::Binary => write_definition(&compiled.definition, Format::Binary)?,
        Format::Json => {
            let output = JsonOutput {
                target: &target,
                platform: args.platform.to_string(),
                sdk: &compiled.sdk,
                images: request
                    .images
                    .iter()
                    .map(|(r, i)| (r.as_str(), i.digest.as_str()))
                    .collect(),
                cargo_keys: compiled
                    .cargo_keys
                    .iter()
                    .map(|(t, k)| (t.as_str(), k.mount_id.as_str()))
                    .collect(),
                image_config: compiled.image_config.as_deref().map(|c| {
                    serde_json::from_slice(c).unwrap_or_else(|_| {
                        serde_json::Value::String(String::from_utf8_lossy(c).into_owned())
                    })
                }),
                definition: ReadableDefinition::from_definition(&compiled.definition)?,
            };
            let json = serde_json::to_string_pretty(&output)?;
            crate::output::write_text(&json)?;
        }
    }
    Ok(())
}

/// The images the build of `target` needs, with digests and configs from the command line.
fn resolve_images(
    args: &Args,
    file: &str,
    spec: &Spec,
    target: &str,
) -> Result<BTreeMap<String, ResolvedImage>, String> {
    let normalize = |reference: &str| {
        ImageRef::parse(reference)
            .map_err(|e| format!("{file}: image `{reference}`: {e}"))
            .map(|r| r.to_string())
    };

    // Every `--image` must name an image of the spec (any target): a typo would otherwise
    // silently leave the intended image unpinned.
    let mut all = BTreeSet::new();
    for name in spec.targets.keys() {
        for image in spec.images_for(name) {
            all.insert(normalize(&image)?);
        }
    }
    let mut given: BTreeMap<&str, &ImageArg> = BTreeMap::new();
    for image in &args.images {
        if !all.contains(&image.normalized) {
            return Err(format!(
                "--image {}: {file} uses no such image (images: {})",
                image.reference,
                all.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if given.insert(&image.normalized, image).is_some() {
            return Err(format!(
                "--image {} is given more than once",
                image.reference
            ));
        }
    }
    let sdk_normalized = normalize(&spec.sdk.image)?;
    if let (Some(_), Some(image)) = (&args.sdk_digest, given.get(sdk_normalized.as_str())) {
        return Err(format!(
            "--sdk-digest and --image {} both set the SDK image; give only one",
            image.reference
        ));
    }

    let mut resolved = BTreeMap::new();
    let mut unpinned = Vec::new();
    for image in spec.images_for(target) {
        let normalized = normalize(&image)?;
        let is_sdk = normalized == sdk_normalized;
        let arg = given.get(normalized.as_str());
        let is_base = spec.targets.values().any(|t| {
            matches!(t, Target::Image(ImageTarget { from: BaseRef::Image(r), .. }) if *r == image)
        });
        let config = match arg.and_then(|a| a.config_file.as_deref()) {
            Some(path) => read_config(path, &image, is_base)?,
            None if is_base => minimal_base_config(&args.platform),
            None => b"{}".to_vec(),
        };
        // What BuildKit would have answered: the digest given, else the one in the reference,
        // else (SDK only) the one the spec locks it to, else none (a dockerd local image).
        let in_reference = ImageRef::parse(&image)
            .ok()
            .and_then(|r| r.digest().map(|d| d.to_string()));
        let digest = [
            arg.map(|a| a.digest.clone()).filter(|d| !d.is_empty()),
            args.sdk_digest.clone().filter(|_| is_sdk),
            in_reference,
            spec.sdk.digest_lock.clone().filter(|_| is_sdk),
        ]
        .into_iter()
        .flatten()
        .next()
        .unwrap_or_default();
        if digest.is_empty() {
            unpinned.push(image.clone());
        }
        resolved.insert(image, ResolvedImage { digest, config });
    }
    if !unpinned.is_empty() {
        eprintln!(
            "llb-gen: note: left unpinned (no digest; identified by their config): {}; \
             pin with --sdk-digest or --image REF=sha256:…",
            unpinned.join(", ")
        );
    }
    Ok(resolved)
}

/// The config of a base image not given one: `compile` reads a base image's config as an OCI
/// image configuration, which must name `architecture`, `os` and `rootfs` (`{}` is refused).
fn minimal_base_config(platform: &Platform) -> Vec<u8> {
    serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "rootfs": {"type": "layers", "diff_ids": []},
    })
    .to_string()
    .into_bytes()
}

/// An image config JSON file, used byte for byte (its SHA-256 is the image id), checked the way
/// `compile` will read it: Env/WorkingDir/User applied to execs on it and, for the base of an
/// image target, as an OCI image configuration.
fn read_config(path: &str, image: &str, is_base: bool) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("--image {image}: cannot read config {path}: {e}"))?;
    let invalid = |e: &dyn std::fmt::Display| {
        format!("--image {image}: config {path} is not an image config: {e}")
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(_)) => {}
        Ok(_) => return Err(invalid(&"expected a JSON object")),
        Err(e) => return Err(invalid(&e)),
    }
    State::scratch()
        .with_image_config(&bytes)
        .map_err(|e| invalid(&e))?;
    if is_base {
        serde_json::from_slice::<oci_spec::image::ImageConfiguration>(&bytes)
            .map_err(|e| invalid(&e))?;
    }
    Ok(bytes)
}
