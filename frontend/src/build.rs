//! One build, start to finish: negotiate, read the spec, resolve images, compile, solve.
//!
//! Every failure becomes a message for the user (returned to BuildKit by the caller).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use llb_gen::compile::{self, BuildRequest, HelperImage, ResolvedImage};
use llb_gen::front::{self, FrontError};
use llb_gen::llb::{Local, Platform, ResolveMode};
use llb_gen::project::dockerignore::DOCKERIGNORE;
use llb_gen::project::{self, ProjectFiles};
use llb_gen::proto::gateway as gw;
use llb_gen::spec::{self, TargetRef};

use crate::caps::Caps;
use crate::failure::Failure;
use crate::gateway::Gateway;
use crate::opts::FrontendOpts;

/// `--build-arg CACHET_DEBUG=panic` makes the frontend panic on purpose (see `crate::panics`);
/// `CACHET_DEBUG=definition` logs the Definition it compiled, as one line of readable JSON on
/// its stderr (which both engines copy into their daemon log), so a test can inspect exactly
/// what the frontend sent. Undeclared, like every `CACHET_DEBUG` value: it reaches no step.
const DEBUG_ARG: &str = "CACHET_DEBUG";

pub async fn build(gateway: &mut Gateway, started: Instant) -> Result<gw::Result, Failure> {
    let pong = gateway.ping().await.map_err(|e| e.to_string())?;
    let opts = FrontendOpts::from_env().map_err(|e| e.to_string())?;
    // A diagnostic: proves on a real daemon that a panic reaches the user as a message.
    if opts.build_args.get(DEBUG_ARG).map(String::as_str) == Some("panic") {
        panic!("{DEBUG_ARG}=panic asked for a panic");
    }
    // `docker buildx build --call …`: answered from the same planning, never solved.
    if let Some(request) = opts.request.clone() {
        return crate::subrequest::answer(gateway, &pong, opts, &request).await;
    }
    let loaded = load(gateway, &pong, opts).await?;
    let planned = plan(gateway, loaded).await?;
    let Planned { loaded, builds } = planned;
    let (opts, target) = (loaded.opts, loaded.front.target);

    let cache_imports = cache_imports(&opts);
    let many = builds.len() > 1;
    let mut solved = Vec::new();
    for (platform, compiled) in builds {
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            %platform,
            "solving"
        );
        let what = if many {
            format!("build target {target} for {platform}")
        } else {
            format!("build target {target}")
        };
        let reference = gateway
            .solve(compiled.definition, cache_imports.clone(), false, &what)
            .await
            .map_err(|e| e.to_string())?;
        // The SBOM attestation, when `--sbom` asked for one (see `crate::attest`).
        let sbom = match compiled.sbom {
            Some(sbom) => Some(crate::attest::solve_sbom(gateway, &loaded.caps, sbom).await?),
            None => None,
        };
        solved.push(crate::result::Solved {
            platform,
            reference,
            image_config: compiled.image_config,
            sbom,
        });
    }
    tracing::info!(peak_rss_kib = peak_rss_kib(), "solved");
    Ok(crate::result::result(solved, opts.multi_platform))
}

/// What a build knows once it has read the spec and the context's metadata.
pub struct Loaded {
    pub opts: FrontendOpts,
    /// The session serving the build context.
    pub session_id: String,
    /// The target platforms, in request order (at least one).
    pub platforms: Vec<Platform>,
    /// The worker's own platform, where SDK steps run unless emulated (`compile::step_platform`).
    pub build_platform: Platform,
    /// The spec as read from the client, loaded for the target selected (`--target` or the
    /// spec's default): the front door every build and answer compiles through.
    pub front: front::Project,
    /// What the daemon can do: the compiled graph is checked against it.
    pub caps: Caps,
    pub project: ProjectFiles,
}

/// The build's `--cache-from` imports, as every solve of the build passes them: BuildKit v0.8
/// attaches a job's cache sources to a vertex when a solve first loads it, so a vertex shared
/// by an earlier solve without them (the `rustc -vV` probe shares the SDK image) would break
/// the imported cache chains of every step on the SDK.
pub fn cache_imports(opts: &FrontendOpts) -> Vec<gw::CacheOptionsEntry> {
    opts.cache_imports
        .iter()
        .map(|c| gw::CacheOptionsEntry {
            r#type: c.kind.clone(),
            attrs: c.attrs.clone(),
        })
        .collect()
}

/// A build planned to the last op, not solved: what the build solves, and what `--call
/// outline` and `--call explain` report on for every platform (one conversion path for both).
pub struct Planned {
    pub loaded: Loaded,
    /// One compiled build per target platform, in request order (at least one).
    pub builds: Vec<(Platform, compile::Compiled)>,
}

/// Checks the daemon's capabilities, then reads the spec and the context's metadata.
pub async fn load(
    gateway: &mut Gateway,
    pong: &gw::PongResponse,
    opts: FrontendOpts,
) -> Result<Loaded, Failure> {
    load_with(gateway, pong, opts, true).await
}

/// [`load`] without reading the context's metadata (`project` is empty): for questions
/// about the spec alone (`--call targets`).
pub async fn load_spec(
    gateway: &mut Gateway,
    pong: &gw::PongResponse,
    opts: FrontendOpts,
) -> Result<Loaded, Failure> {
    load_with(gateway, pong, opts, false).await
}

async fn load_with(
    gateway: &mut Gateway,
    pong: &gw::PongResponse,
    opts: FrontendOpts,
    read_project: bool,
) -> Result<Loaded, Failure> {
    let caps = Caps::from_pong(pong);
    caps.check_gateway(!opts.cache_imports.is_empty())?;
    let own_session = std::env::var("BUILDKIT_SESSION_ID").unwrap_or_default();
    // The session serving the context, which every step reads (bake may share one).
    let session_id = opts.session_for(&opts.context_local, &own_session);

    let build_platform = default_platform(pong);
    let platforms = if opts.platforms.is_empty() {
        vec![build_platform.clone()]
    } else {
        opts.platforms.clone()
    };

    let spec_session = opts.session_for(&opts.spec_local, &own_session);
    let (text, spec_ignore) = read_spec(gateway, &opts, &spec_session).await?;
    let front = front::load(
        &opts.filename,
        &text,
        &opts.build_args,
        opts.target.as_deref(),
    )
    .map_err(|e| match e {
        FrontError::Spec(e) => Failure::in_spec(&e, &text),
        other => other.to_string().into(),
    })?;
    let project = if read_project {
        let project = read_project_files(gateway, &opts, &session_id, spec_ignore).await?;
        // A count, not the names: a large workspace has thousands of manifests.
        tracing::info!(files = project.files.len(), "read project metadata");
        tracing::debug!(files = ?project.files.keys().collect::<Vec<_>>(), "project metadata files");
        project
    } else {
        ProjectFiles::default()
    };
    Ok(Loaded {
        opts,
        session_id,
        platforms,
        build_platform,
        front,
        caps,
        project,
    })
}

/// Resolves the images the target needs and compiles the build, once per target platform.
pub async fn plan(gateway: &mut Gateway, mut loaded: Loaded) -> Result<Planned, Failure> {
    // Handed to each request and back, not copied: a large workspace has thousands of manifests.
    let mut project = std::mem::take(&mut loaded.project);
    let Loaded {
        opts,
        session_id,
        platforms,
        build_platform,
        front,
        caps,
        ..
    } = &loaded;
    let (spec, target) = (&front.spec, &front.target);
    let resolve_mode = opts.image_resolve_mode;
    // The frontend image exists for the build platform only (see `compile::Context::helper_mount`).
    let helper = resolve_helper(gateway, opts, build_platform, resolve_mode).await?;
    let mut builds = Vec::new();
    let mut rustc_versions: BTreeMap<String, String> = BTreeMap::new();
    // The build's own session, which serves named contexts no other session is named for.
    let own_session = std::env::var("BUILDKIT_SESSION_ID").unwrap_or_default();
    for platform in platforms {
        let steps_on = compile::step_platform(spec, build_platform, platform)
            .map_err(|e| format!("{}: {e}", opts.filename))?;
        let (mut images, mut build_images) = (BTreeMap::new(), BTreeMap::new());
        let bases = spec.base_images_for(&target.name);
        for image in front.images() {
            // The SDK is resolved where the steps run; `from` images for the target platform
            // (both, for an SDK that is also an image target's base).
            if image == spec.sdk.image && steps_on.cross {
                let resolved = resolve(
                    gateway,
                    opts,
                    spec,
                    &image,
                    &steps_on.platform,
                    resolve_mode,
                )
                .await?;
                build_images.insert(image.clone(), resolved);
                if !bases.contains(&image) {
                    continue;
                }
            }
            let resolved = resolve(gateway, opts, spec, &image, platform, resolve_mode).await?;
            images.insert(image, resolved);
        }
        let mut request = BuildRequest {
            build_platform: build_platform.clone(),
            build_images,
            ..build_request(
                opts,
                target,
                platform.clone(),
                session_id.clone(),
                &own_session,
                images,
                project,
                helper.clone(),
            )
        };
        // `rustc -vV` for the provenance records and labels (see `crate::attest`): once per
        // platform the SDK runs on.
        let key = steps_on.platform.to_string();
        if !rustc_versions.contains_key(&key) {
            let version = crate::attest::rustc_version(gateway, spec, &request, opts).await?;
            rustc_versions.insert(key.clone(), version);
        }
        request.rustc_version = rustc_versions.get(&key).cloned();
        let compiled = front.compile(&request).map_err(|e| e.to_string())?;
        caps.check_definition(&compiled.definition)?;
        if opts.build_args.get(DEBUG_ARG).map(String::as_str) == Some("definition") {
            let readable = llb_gen::llb::ReadableDefinition::from_definition(&compiled.definition)
                .map_err(|e| e.to_string())?;
            let json = serde_json::to_string(&readable).map_err(|e| e.to_string())?;
            tracing::info!(
                project = spec.project,
                %platform,
                definition = json,
                "cachet definition"
            );
        }
        for (name, keys) in &compiled.cargo_keys {
            tracing::info!(
                target = name,
                %platform,
                mode = keys.mode.as_str(),
                mount = keys.selected().mount_id,
                "target cache"
            );
        }
        project = request.project;
        builds.push((platform.clone(), compiled));
    }
    loaded.project = project;
    Ok(Planned { loaded, builds })
}

/// One image of the spec, resolved for `platform` (and its `[sdk] digest` lock confirmed).
async fn resolve(
    gateway: &mut Gateway,
    opts: &FrontendOpts,
    spec: &spec::Spec,
    image: &str,
    platform: &Platform,
    resolve_mode: ResolveMode,
) -> Result<ResolvedImage, Failure> {
    // A `docker-image://` named context of that name is resolved in its place.
    let named = opts.named_image(image);
    let lookup = named.unwrap_or(image);
    let normalized =
        llb_gen::llb::ImageRef::parse(lookup).map_err(|e| format!("image `{lookup}`: {e}"))?;
    let mut resolved = gateway
        .resolve_image_config(
            &normalized.to_string(),
            &platform.to_pb(),
            resolve_mode.as_str(),
        )
        .await
        .map_err(|e| {
            let setting = if image == spec.sdk.image {
                "[sdk] image"
            } else {
                "an image target's `from`"
            };
            unresolvable_image(
                &opts.filename,
                setting,
                &normalized.to_string(),
                &e.to_string(),
            )
        })?;
    tracing::info!(image, named, %platform, digest = resolved.digest, "resolved");
    if image == spec.sdk.image {
        if let Some(lock) = &spec.sdk.digest_lock {
            confirm_locked_digest(
                gateway,
                &normalized.to_string(),
                lock,
                &mut resolved,
                platform,
                resolve_mode,
            )
            .await;
        }
    }
    Ok(resolved)
}

/// What the compiler needs besides the spec, from the parsed options and what BuildKit told us:
/// the one place the frontend's options become a [`BuildRequest`] (the fuzz harness calls it
/// too, so it drives exactly this path).
/// `session_id` serves the build context, `own_session` is the build's (what serves a named
/// directory context buildx names no session for).
#[allow(clippy::too_many_arguments)]
pub fn build_request(
    opts: &FrontendOpts,
    target: &TargetRef,
    platform: Platform,
    session_id: String,
    own_session: &str,
    images: BTreeMap<String, ResolvedImage>,
    project: ProjectFiles,
    helper: HelperImage,
) -> BuildRequest {
    BuildRequest {
        target: target.clone(),
        // A worker of the target platform; `plan` sets the worker's own and its SDK.
        build_platform: platform.clone(),
        build_images: BTreeMap::new(),
        platform,
        session_id,
        context_local: opts.context_local.clone(),
        images,
        no_cache: opts.no_cache.clone(),
        network_override: opts.network,
        resolve_mode: opts.image_resolve_mode,
        labels: opts.labels.clone(),
        cache_travels: opts.cache_travels(),
        project,
        proxy: compile::proxy_from_build_args(&opts.build_args),
        helper,
        spec_file: opts.filename.clone(),
        named_images: opts.named_images.clone(),
        sbom: opts.sbom,
        rustc_version: None,
        source_date_epoch: opts.source_date_epoch,
        vcs_source: opts.vcs_source.clone(),
        vcs_revision: opts.vcs_revision.clone(),
        named_locals: opts
            .named_locals
            .iter()
            .map(|(name, local)| {
                let named = compile::NamedLocal {
                    local: local.clone(),
                    session: opts.session_for(local, own_session),
                };
                (name.clone(), named)
            })
            .collect(),
    }
}

/// The image `cachet-helper` comes from: the frontend's own (opt `source`), resolved for the
/// build platform the way the SDK is, so its source is pinned to what BuildKit resolved.
async fn resolve_helper(
    gateway: &mut Gateway,
    opts: &FrontendOpts,
    platform: &Platform,
    resolve_mode: ResolveMode,
) -> Result<HelperImage, String> {
    let source = opts.source.as_deref().ok_or_else(|| {
        "BuildKit started the Cachet frontend without opt `source` (its own image), which cargo \
         steps mount cachet-helper from: start it as a gateway frontend (`# syntax=<image>` in \
         the spec, or `--frontend gateway.v0 --opt source=<image>`)"
            .to_string()
    })?;
    let normalized = llb_gen::llb::ImageRef::parse(source)
        .map_err(|e| format!("the frontend image `{source}` (opt source): {e}"))?
        .to_string();
    let resolved = gateway
        .resolve_image_config(&normalized, &platform.to_pb(), resolve_mode.as_str())
        .await
        .map_err(|e| {
            unresolvable_image(
                &opts.filename,
                "the frontend image (for cachet-helper)",
                &normalized,
                &e.to_string(),
            )
        })?;
    tracing::info!(
        image = normalized,
        digest = resolved.digest,
        "resolved the helper"
    );
    Ok(HelperImage {
        reference: normalized,
        resolved,
    })
}

/// Reads the spec file the way the dockerfile frontend reads a Dockerfile: a local holding only
/// that file (and `<spec>.dockerignore` beside it, if there is one), solved, then read.
pub(crate) async fn read_spec(
    gateway: &mut Gateway,
    opts: &FrontendOpts,
    session_id: &str,
) -> Result<(String, Option<Vec<u8>>), String> {
    let local = Local::new(&opts.spec_local)
        .map_err(|e| e.to_string())?
        .session(session_id.to_string())
        .follow_paths([opts.filename.clone(), spec_ignore_file(&opts.filename)])
        // Never reuse an earlier transfer: it would trust size and mtime (see compile/sources).
        .shared_key_hint(format!("{}-{session_id}", opts.spec_local))
        .custom_name(format!("[cachet] load spec {}", opts.filename))
        .into_state();
    let reference = gateway
        .solve(
            local.marshal(),
            Vec::new(),
            true,
            &format!("load {}", opts.filename),
        )
        .await
        .map_err(|e| e.to_string())?;
    let bytes = gateway
        .read_file(&reference, &opts.filename)
        .await
        .map_err(|e| {
            format!(
                "cannot read the spec {}: {e} (is it in the directory given to -f?)",
                opts.filename
            )
        })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{}: the spec is not UTF-8 text", opts.filename))?;
    let ignore_file = spec_ignore_file(&opts.filename);
    let (dir, name) = match ignore_file.rsplit_once('/') {
        Some((dir, name)) => (dir.to_string(), name.to_string()),
        None => ("/".to_string(), ignore_file.clone()),
    };
    let present = gateway
        .read_dir(&reference, &dir)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .any(|entry| entry.path == name);
    let ignore = if present {
        Some(
            gateway
                .read_file(&reference, &ignore_file)
                .await
                .map_err(|e| format!("cannot read {ignore_file}: {e}"))?,
        )
    } else {
        None
    };
    Ok((text, ignore))
}

/// `<spec>.dockerignore`: when it exists it replaces the context's `.dockerignore`, as
/// `<Dockerfile>.dockerignore` does for the dockerfile frontend.
fn spec_ignore_file(spec: &str) -> String {
    format!("{spec}.dockerignore")
}

/// Files larger than this are read in pieces of this size: each piece is one gateway message,
/// well under the largest message the gateway client accepts.
const READ_CHUNK_BYTES: u64 = 64 << 20;

/// The context's manifests, lockfile, cargo config and toolchain files, found by a
/// [`project::Discovery`]: the root files and every manifest a few levels deep first, then
/// what they name that the first round did not cover, round after round until nothing new is
/// named (the discovery argues why that ends; one round in the common case). Each round is a local
/// that transfers only the files of that round's patterns. There is no limit on files or
/// rounds, and a file too large to hold is an error naming it: never a silent fallback to "no
/// layout", which would drop the fetch step and fail the build later in cargo.
///
/// The `.dockerignore` that applies (`spec_ignore`, the spec's own, else the context's, read
/// in the first round) ends up in the files under [`DOCKERIGNORE`], and every later round
/// already excludes what it lists.
async fn read_project_files(
    gateway: &mut Gateway,
    opts: &FrontendOpts,
    session_id: &str,
    spec_ignore: Option<Vec<u8>>,
) -> Result<ProjectFiles, String> {
    let mut discovery = project::Discovery::new();
    let mut ignore = ProjectFiles::default();
    if let Some(text) = &spec_ignore {
        ignore.files.insert(DOCKERIGNORE.to_string(), text.clone());
        discovery = discovery.ignoring(text.clone());
    }
    while let Some(patterns) = discovery.next_patterns() {
        let mut excluded = project::excluded_patterns(&ignore);
        // What the first round's prefetch leaves out (a vendor directory): spares the transfer.
        excluded.extend(discovery.next_excludes().iter().map(|s| s.to_string()));
        let files =
            read_matching(gateway, opts, session_id, &discovery, patterns, &excluded).await?;
        if spec_ignore.is_none() {
            if let Some((_, text)) = files.iter().find(|(path, _)| path == DOCKERIGNORE) {
                ignore.files.insert(DOCKERIGNORE.to_string(), text.clone());
            }
        }
        discovery.feed(files).map_err(|e| e.to_string())?;
    }
    tracing::info!(rounds = discovery.rounds(), "discovered project metadata");
    let mut files = discovery.into_files();
    if let Some(text) = spec_ignore {
        files.files.insert(DOCKERIGNORE.to_string(), text);
    }
    Ok(files)
}

/// The files of this round of `discovery` (matching `patterns`), through a local that transfers
/// only those.
async fn read_matching(
    gateway: &mut Gateway,
    opts: &FrontendOpts,
    session_id: &str,
    discovery: &project::Discovery,
    patterns: &BTreeSet<String>,
    excluded: &[String],
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let local = Local::new(&opts.context_local)
        .map_err(|e| e.to_string())?
        .session(session_id.to_string())
        .include_patterns(patterns.iter().cloned())
        .exclude_patterns(excluded.iter().cloned())
        .shared_key_hint(format!(
            "cachet-metadata-{}-{session_id}",
            opts.context_local
        ))
        .custom_name("[cachet] load cargo manifests")
        .into_state();
    let reference = gateway
        .solve(local.marshal(), Vec::new(), true, "load cargo manifests")
        .await
        .map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        let listing = if dir.is_empty() { "/" } else { dir.as_str() };
        for entry in gateway
            .read_dir(&reference, listing)
            .await
            .map_err(|e| e.to_string())?
        {
            let path = if dir.is_empty() {
                entry.path.clone()
            } else {
                format!("{dir}/{}", entry.path)
            };
            // fsutil reports Go `os.FileMode` bits.
            const DIRECTORY: u32 = 1 << 31;
            const SYMLINK: u32 = 1 << 27;
            if entry.mode & DIRECTORY != 0 {
                dirs.push(path);
                continue;
            }
            // Sizes are never negative; what is read is checked again when fed.
            let size = u64::try_from(entry.size).unwrap_or(0);
            // Older file syncs also send files that only partly match a pattern: the discovery
            // wants only this round's matches, and refuses one too large to hold.
            if entry.mode & SYMLINK == 0
                && discovery.wants(&path, size).map_err(|e| e.to_string())?
            {
                let bytes = read_whole(gateway, &reference, &path, size).await?;
                files.push((path, bytes));
            }
        }
    }
    Ok(files)
}

/// A file of `size` bytes: in one message, or in [`READ_CHUNK_BYTES`] pieces when larger.
async fn read_whole(
    gateway: &mut Gateway,
    reference: &str,
    path: &str,
    size: u64,
) -> Result<Vec<u8>, String> {
    if size <= READ_CHUNK_BYTES {
        return gateway
            .read_file(reference, path)
            .await
            .map_err(|e| e.to_string());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    loop {
        let offset = bytes.len() as u64;
        let chunk = gateway
            .read_file_range(reference, path, offset as i64, READ_CHUNK_BYTES as i64)
            .await
            .map_err(|e| e.to_string())?;
        let short = (chunk.len() as u64) < READ_CHUNK_BYTES;
        bytes.extend_from_slice(&chunk);
        // A short piece is the end; past the size the discovery refuses what it is fed.
        if short || bytes.len() as u64 > project::MAX_METADATA_FILE_BYTES {
            return Ok(bytes);
        }
    }
}

/// dockerd serving an image from its store reports no manifest digest, only the image's config,
/// so a lock holding the manifest digest cannot be compared with what the tag resolved to. Ask
/// the engine for the locked digest itself: if the daemon knows the image by that digest and it
/// is the very image the tag names (same config), the lock holds and the digest is used as the
/// SDK's identity, as on current BuildKit. Otherwise nothing changes, and the compiler's lock
/// check says what the engine reported.
async fn confirm_locked_digest(
    gateway: &mut Gateway,
    reference: &str,
    lock: &str,
    resolved: &mut ResolvedImage,
    platform: &Platform,
    resolve_mode: ResolveMode,
) {
    if !resolved.digest.is_empty() || reference.contains('@') {
        return;
    }
    let by_digest = format!("{reference}@{lock}");
    match gateway
        .resolve_image_config(&by_digest, &platform.to_pb(), resolve_mode.as_str())
        .await
    {
        Ok(locked) if locked.config == resolved.config => {
            tracing::info!(
                image = reference,
                lock,
                "the locked digest names the same image"
            );
            resolved.digest = lock.to_string();
        }
        Ok(_) => tracing::info!(
            image = reference,
            lock,
            "the locked digest names another image"
        ),
        Err(e) => tracing::info!(image = reference, lock, "the locked digest is unknown: {e}"),
    }
}

/// The message for an image the daemon could not resolve. dockerd 20.10 looks an image up in
/// its own store first and then asks the image's registry; when neither has it, it reports only
/// the registry's failure (for a short name, a DNS error for the public registry), which reads
/// as a network problem. Say what was looked for and where.
fn unresolvable_image(spec: &str, setting: &str, image: &str, error: &str) -> String {
    let unreachable = [
        "no such host",
        "dial tcp",
        "i/o timeout",
        "connection refused",
    ]
    .iter()
    .any(|m| error.contains(m));
    let hint = if unreachable {
        "it is not in the daemon's image store, and the daemon could not reach the image's \
         registry: load or build it into this daemon (`docker load`, `docker build -t`), or \
         push it to a registry the daemon can reach (a registry mirror counts)"
    } else {
        "it is neither in the daemon's image store nor in the configured registry: check the \
         name and tag, or load, build or push the image first"
    };
    format!("{spec}: {setting} `{image}` cannot be resolved: {hint} (the daemon said: {error})")
}

/// The first platform of the first worker, as BuildKit's own frontends default.
fn default_platform(pong: &gw::PongResponse) -> Platform {
    pong.workers
        .iter()
        .flat_map(|w| w.platforms.iter())
        .next()
        .map(Platform::from_pb)
        .unwrap_or_else(Platform::linux_amd64)
}

/// Peak resident memory of this process, from `/proc/self/status` (`VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unresolvable_image_says_what_was_looked_for_and_where() {
        let dns = "failed to do request: Head \"https://registry-1.docker.io/v2/library/x/manifests/y\": \
                   dial tcp: lookup registry-1.docker.io: no such host";
        let text = unresolvable_image("Cachet.toml", "[sdk] image", "docker.io/library/x:y", dns);
        assert!(
            text.starts_with("Cachet.toml: [sdk] image `docker.io/library/x:y` cannot be resolved: it is not in the daemon's image store, and the daemon could not reach"),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("(the daemon said: {dns})")),
            "{text}"
        );
        let missing = unresolvable_image("Cachet.toml", "[sdk] image", "x", "x: not found");
        assert!(
            missing.contains("neither in the daemon's image store nor in the configured registry"),
            "{missing}"
        );
    }
}
