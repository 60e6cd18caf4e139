//! The part of `llb-gen spec` and `llb-gen explain` that stands in for BuildKit: it reads the
//! spec and the context's metadata files, takes images from the command line and compiles
//! through the front door `frontend/src/build.rs` uses ([`llb_gen::front`]). The only I/O is
//! reading those files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use llb_gen::compile::{self, BuildRequest, Compiled, HelperImage, ResolvedImage};
use llb_gen::front;
use llb_gen::llb::{Digest, ImageRef, Platform, State};
use llb_gen::project::{discover_listed, Discovery, ProjectFiles, ALWAYS_EXCLUDED};
use llb_gen::spec::{BaseRef, ImageTarget, Spec, Target, TargetRef};

/// Local name of the build context, as the frontend uses unless `contextkey` is set.
const CONTEXT_LOCAL: &str = "context";

/// What decides a build, given on the command line instead of by BuildKit.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The spec file; its path as written here is the file name in error messages.
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Target to build; default: the spec's default target.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Value of a build argument declared under [args], or of one of BuildKit's predefined
    /// proxy arguments (`HTTP_PROXY`, `HTTPS_PROXY`, `FTP_PROXY`, `NO_PROXY`, `ALL_PROXY`, any
    /// case), which reach the fetch step only (repeatable).
    #[arg(long = "build-arg", value_name = "K=V", value_parser = parse_build_arg)]
    build_args: Vec<(String, String)>,
    /// Target platform (`os/arch[/variant]`).
    #[arg(long, value_name = "os/arch", value_parser = Platform::parse,
          default_value = "linux/amd64")]
    pub platform: Platform,
    /// The worker's platform, where SDK steps run and cross-compile from unless the spec
    /// emulates (`[cross]`); default: the target platform. `--image`/`--sdk-digest` pin the SDK
    /// as resolved for wherever the steps run.
    #[arg(long, value_name = "os/arch", value_parser = Platform::parse)]
    pub build_platform: Option<Platform>,
    /// Pin an image the spec uses to a manifest digest, optionally with its image config JSON
    /// (repeatable). REF is matched after normalisation (`alpine` = `docker.io/library/alpine:latest`).
    /// DIGEST may be empty (`REF=,config=FILE`) for an image dockerd serves from its store.
    #[arg(long = "image", value_name = "REF=DIGEST[,config=FILE]", value_parser = parse_image)]
    images: Vec<ImageArg>,
    /// Manifest digest of the SDK image (shorthand for `--image <sdk image>=DIGEST`).
    #[arg(long, value_name = "sha256:…", value_parser = parse_digest)]
    sdk_digest: Option<String>,
    /// The frontend image cargo steps mount `cachet-helper` from: the image the frontend
    /// runs as (BuildKit tells the frontend; give the same reference here).
    #[arg(long, value_name = "REF", default_value = compile::DEFAULT_HELPER_IMAGE)]
    helper_image: String,
    /// Manifest digest of the helper image (as BuildKit resolves it); without one it is left
    /// unpinned, as dockerd's local images are.
    #[arg(long, value_name = "sha256:…", value_parser = parse_digest)]
    helper_digest: Option<String>,
    /// Session id put on the build-context local source.
    #[arg(long, value_name = "ID", default_value = "llb-gen")]
    session: String,
    /// The build context, read for the project's manifests, lockfile, cargo config and
    /// toolchain files as the frontend reads them; default: the spec's directory.
    #[arg(long, value_name = "DIR")]
    context: Option<String>,
    /// Plan as for a build that imports or writes a layer cache (`--cache-from`, inline
    /// cache), as a CI job does: adds workspace dependency layers.
    #[arg(long)]
    cache_travels: bool,
    /// `rustc -vV` of the SDK, as the frontend reads it (it goes into `cachet-provenance.json`
    /// and the image labels); without it they record it as unknown.
    #[arg(long, value_name = "TEXT")]
    rustc_version: Option<String>,
}

/// A compiled build and what went into it.
pub struct Planned {
    pub target: TargetRef,
    pub request: BuildRequest,
    pub compiled: Compiled,
}

/// Loads and compiles the spec named by `args`, through the front door the frontend uses
/// ([`llb_gen::front`]).
pub fn plan(args: &BuildArgs) -> Result<Planned, Box<dyn std::error::Error>> {
    let file = args.path.as_str();
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{file}: the spec is not UTF-8 text"))?;
    let build_args: BTreeMap<String, String> = args.build_args.iter().cloned().collect();
    let project = front::load(file, &text, &build_args, args.target.as_deref())?;
    let spec = &project.spec;
    let target = project.target.clone();
    for name in project.undeclared_args(&build_args) {
        eprintln!(
            "llb-gen: note: --build-arg {name} is not declared under [args] in {file}; ignored"
        );
    }

    let images = resolve_images(args, file, spec, &target.name)?;
    let context = match &args.context {
        Some(dir) => PathBuf::from(dir),
        None => match Path::new(file).parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let request = BuildRequest {
        context_local: CONTEXT_LOCAL.to_string(),
        build_platform: args
            .build_platform
            .clone()
            .unwrap_or_else(|| args.platform.clone()),
        build_images: images.clone(),
        images,
        cache_travels: args.cache_travels,
        project: with_spec_ignore(read_project_files(&context)?, file)?,
        proxy: compile::proxy_from_build_args(&build_args),
        source_date_epoch: compile::source_date_epoch(&build_args)?,
        helper: HelperImage {
            reference: args.helper_image.clone(),
            resolved: ResolvedImage {
                digest: args.helper_digest.clone().unwrap_or_default(),
                config: b"{}".to_vec(),
            },
        },
        // As BuildKit names the spec to the frontend: its file name, without the directory.
        spec_file: Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.to_string()),
        rustc_version: args.rustc_version.clone(),
        // Every `[contexts]` entry as `--build-context NAME=DIR` gives it: the local buildx
        // names after it, in the build's session.
        named_locals: spec
            .contexts
            .keys()
            .map(|name| {
                let local = match name.as_str() {
                    "context" | "dockerfile" => format!("_{name}"),
                    _ => name.clone(),
                };
                let session = args.session.clone();
                (name.clone(), compile::NamedLocal { local, session })
            })
            .collect(),
        ..project.request(args.platform.clone(), args.session.clone())
    };
    let compiled = project.compile(&request)?;
    Ok(Planned {
        target,
        request,
        compiled,
    })
}

/// The metadata files under `root` that the frontend reads from the context, found by the same
/// [`Discovery`]: the context is listed once (regular files only, `target/` and `.git` left out
/// as the frontend's transfers leave them out), then each round reads the listed files it wants.
/// `<spec>.dockerignore` beside the spec replaces the context's `.dockerignore`, as in the
/// frontend (see `llb_gen::project::dockerignore`).
fn with_spec_ignore(mut files: ProjectFiles, spec: &str) -> Result<ProjectFiles, String> {
    let path = format!("{spec}.dockerignore");
    match std::fs::read(&path) {
        Ok(text) => {
            files.files.insert(
                llb_gen::project::dockerignore::DOCKERIGNORE.to_string(),
                text,
            );
            Ok(files)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(files),
        Err(e) => Err(format!("cannot read {path}: {e}")),
    }
}

fn read_project_files(root: &Path) -> Result<ProjectFiles, String> {
    let listed = list_files(root)?;
    let read = |name: &str| {
        let path = root.join(name);
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let (files, _) = discover_listed(Discovery::new(), &listed, read)?;
    Ok(files)
}

/// Every regular file under `root` (symlinks are not followed, as the frontend reads none) as
/// a `/`-separated path relative to `root`, with its size.
fn list_files(root: &Path) -> Result<Vec<(String, u64)>, String> {
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        let full = root.join(&dir);
        let entries = std::fs::read_dir(&full)
            .map_err(|e| format!("cannot read the context {}: {e}", full.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let relative = dir.join(entry.file_name());
            // A name that is not UTF-8 is no metadata file (and no include pattern names it).
            let Some(name) = relative.to_str().map(str::to_string) else {
                continue;
            };
            if ALWAYS_EXCLUDED.contains(&name.as_str()) {
                continue;
            }
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                dirs.push(relative);
            } else if kind.is_file() {
                let size = entry
                    .metadata()
                    .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?
                    .len();
                files.push((name, size));
            }
        }
    }
    Ok(files)
}

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

/// The images the build of `target` needs, with digests and configs from the command line.
fn resolve_images(
    args: &BuildArgs,
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
            None if is_base => compile::minimal_base_config(&args.platform),
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::read_project_files;

    /// A directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "llb-gen-{name}-{}-{:?}",
                std::process::id(),
                std::time::SystemTime::now()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reads_what_the_discovery_names_and_nothing_else() {
        let dir = TempDir::new("discovery");
        dir.write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n[workspace.dependencies]\nx = { path = \"libs/x\" }\n",
        );
        dir.write("Cargo.lock", "version = 4\n");
        dir.write(
            "crates/a/Cargo.toml",
            "[package]\nname = \"a\"\n[dependencies]\nx = { workspace = true }\n",
        );
        dir.write(
            "libs/x/Cargo.toml",
            "[package]\nname = \"x\"\n[dependencies]\ny = { path = \"../y\" }\n",
        );
        dir.write("libs/y/Cargo.toml", "[package]\nname = \"y\"\n");
        dir.write("fixtures/z/Cargo.toml", "[package]\nname = \"z\"\n");
        dir.write("target/package/a/Cargo.toml", "[package]\nname = \"a\"\n");
        dir.write("crates/a/src/lib.rs", "");
        // `crates/b/Cargo.toml` would match `crates/*/Cargo.toml` through the link; the frontend
        // reads no symlinks, so neither does the CLI.
        std::os::unix::fs::symlink(dir.path().join("libs/y"), dir.path().join("crates/b")).unwrap();

        let files = read_project_files(dir.path()).unwrap();
        assert_eq!(
            files.files.keys().collect::<Vec<_>>(),
            [
                "Cargo.lock",
                "Cargo.toml",
                "crates/a/Cargo.toml",
                "libs/x/Cargo.toml",
                "libs/y/Cargo.toml"
            ],
            "the path-dependency chain, not unrelated, linked or build-output manifests"
        );
    }

    #[test]
    fn an_unreadable_context_is_an_error() {
        let dir = TempDir::new("missing");
        let missing = dir.path().join("nope");
        let err = read_project_files(&missing).unwrap_err();
        assert!(err.contains("cannot read the context"), "{err}");
    }
}
