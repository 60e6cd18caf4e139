//! The fetch step: downloads every registry and git dependency in `Cargo.lock` once, into an
//! ordinary layer the offline compile steps read.
//!
//! It runs `cargo vendor --locked` in the SDK image against the manifests-only snapshot (see
//! [`crate::project::ProjectLayout::manifest_snapshot`]), so source edits never re-run it and a
//! lockfile or manifest change always does. Why vendoring rather than a shared `CARGO_HOME`:
//! * the result is a layer, so it is exported with `--cache-to` / inline cache and a fresh
//!   builder that imports the cache compiles offline without downloading anything;
//! * it holds exactly the locked packages, no more, so it is deterministic; file times are set
//!   to one constant, so re-vendoring after a lockfile change leaves untouched crates looking
//!   untouched to cargo (their build scripts' `rerun-if-changed` stays quiet);
//! * compile steps need no writable shared state: they read `/cachet/vendor` read-only.
//!
//! Downloads go through a shared, locked cache mount (cargo verifies everything against the
//! lockfile checksums), unless the fetch is authenticated (see [`download_cache`]). The step
//! gets the network (BuildKit's default sandbox network, or the host's with `--network=host`);
//! private registries and git hosts are reached through BuildKit secrets and the forwarded SSH
//! agent only, which never enter a layer, a key or the LLB (the LLB names the secret id and the
//! variable, never the value).

use std::collections::BTreeMap;

use serde_json::json;

use crate::keys::{content_digest, step_tag, CARGO_DOWNLOAD_CACHE_ID};
use crate::llb::{CacheSharing, Mount, NetMode, State};

use super::step_script::StepScript;
use super::{shell, CompileError, Context, StepKind, StepRecord};

/// Where the fetch step's layer is mounted in compile steps.
pub const VENDOR_DIR: &str = "/cachet/vendor";
/// Cargo config (written by `cargo vendor`) that points cargo at the vendored sources.
pub const VENDOR_CONFIG: &str = "/cachet/vendor/config.toml";
const SECRETS_DIR: &str = "/run/cachet/secrets";
const SSH_SOCKET: &str = "/run/cachet/ssh-agent.sock";
/// 1980-01-01: every vendored file gets this mtime (zip's epoch; older than any build).
const VENDOR_MTIME: u64 = 315_532_800;

/// The vendored dependencies, or `None` when there is nothing to fetch.
pub(super) fn vendored(ctx: &mut Context<'_>) -> Result<Option<State>, CompileError> {
    if let Some(done) = &ctx.vendor {
        return Ok(done.clone());
    }
    if !ctx.layout.needs_fetch() {
        ctx.vendor = Some(None);
        return Ok(None);
    }
    let plan = ctx.layout.manifest_snapshot();
    let manifests = ctx.snapshot(&plan, "manifests")?;
    let sdk = ctx.sdk_state()?;
    let cargo_home = sdk_cargo_home(&sdk);

    let command: Vec<String> = [
        "cargo",
        "--locked",
        "vendor",
        "--versioned-dirs",
        "--respect-source-config",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("{VENDOR_DIR}/crates")])
    .collect();
    let mut script = vec!["set -eu".to_string()];
    for (var, id) in &ctx.spec.fetch.secrets {
        let path = format!("{SECRETS_DIR}/{id}");
        script.push(format!(
            "{var}=\"$(cat {})\"; export {var}",
            shell::quote(&path)
        ));
    }
    script.push(format!("\"$@\" > {}", shell::quote(VENDOR_CONFIG)));
    script.push(format!(
        "find {} -exec touch -h -d @{VENDOR_MTIME} {{}} +",
        shell::quote(VENDOR_DIR)
    ));

    // The tag follows what the step depends on: SDK, command and lockfile.
    let lock = ctx
        .request
        .project
        .get("Cargo.lock")
        .map(content_digest)
        .unwrap_or_default();
    let tag = step_tag(&ctx.sdk, &[command.clone(), vec![lock]].concat());
    let network = ctx.request.network_override.unwrap_or(NetMode::Sandbox);
    let authenticated = is_authenticated(&ctx.spec.fetch);
    let script = StepScript::new("fetch.sh", &script, &ctx.request.platform, "[fetch]")?;
    let mut exec = sdk
        .run(script.argv(&command))
        .cwd(super::cargo_step::SRC_DIR)
        .mount(script.mount())
        .env("CACHET_SDK", ctx.sdk.clone())
        .env("CARGO_TERM_COLOR", "never")
        .mount(Mount::bind(super::cargo_step::SRC_DIR, &manifests).no_output())
        .mount(download_cache(&cargo_home, "registry", authenticated))
        .mount(download_cache(&cargo_home, "git", authenticated))
        .mount(Mount::bind(VENDOR_DIR, &State::scratch()))
        .mount(Mount::tmpfs("/tmp"));
    for id in ctx.spec.fetch.secrets.values() {
        exec = exec.mount(Mount::secret(format!("{SECRETS_DIR}/{id}"), id.clone()));
    }
    if ctx.spec.fetch.ssh {
        exec = exec
            .mount(Mount::ssh().dest(SSH_SOCKET))
            .env("SSH_AUTH_SOCK", SSH_SOCKET);
    }
    let name = format!("[fetch] cargo vendor --locked · {tag}");
    let exec = exec
        .network(network)
        .platform(ctx.request.platform.clone())
        .ignore_cache(ctx.ignore_cache("fetch"))
        .custom_name(name.clone())
        .build()?;
    let vendor = exec.get_mount(VENDOR_DIR)?;
    let project_files = |paths: &[&str]| -> serde_json::Value {
        paths
            .iter()
            .filter_map(|p| {
                ctx.request
                    .project
                    .get(p)
                    .map(|b| (p.to_string(), json!(content_digest(b))))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let manifests: Vec<String> = plan
        .include
        .iter()
        .filter(|p| p.ends_with("Cargo.toml"))
        .cloned()
        .collect();
    let manifest_refs: Vec<&str> = manifests.iter().map(String::as_str).collect();
    ctx.steps.push(StepRecord {
        kind: StepKind::Fetch,
        target: "fetch".to_string(),
        name,
        digest: exec.digest().to_string(),
        inputs: BTreeMap::from([
            ("sdk".to_string(), json!(ctx.sdk)),
            ("command".to_string(), json!(command)),
            ("lockfile".to_string(), project_files(&["Cargo.lock"])),
            ("manifests".to_string(), project_files(&manifest_refs)),
            ("sources".to_string(), json!(plan)),
            ("secrets".to_string(), json!(ctx.spec.fetch.secrets)),
            ("ssh".to_string(), json!(ctx.spec.fetch.ssh)),
            (
                "download_cache".to_string(),
                json!(if authenticated {
                    "none: authenticated fetch".to_string()
                } else {
                    format!("{CARGO_DOWNLOAD_CACHE_ID}/{{registry,git}}")
                }),
            ),
            (
                "network".to_string(),
                json!(format!("{network:?}").to_lowercase()),
            ),
        ]),
        keys: None,
    });
    ctx.vendor = Some(Some(vendor.clone()));
    Ok(Some(vendor))
}

/// A fetch that uses BuildKit secrets (registry tokens) or the forwarded SSH agent (private
/// git hosts) may download what only its credentials may read.
fn is_authenticated(fetch: &crate::spec::FetchSettings) -> bool {
    !fetch.secrets.is_empty() || fetch.ssh
}

/// The download cache mounted at `<cargo_home>/<dir>` (`registry` or `git`).
///
/// A public fetch shares [`CARGO_DOWNLOAD_CACHE_ID`] with every build on the builder: cargo
/// verifies what it takes from there against `Cargo.lock` checksums, and everything in it is
/// public anyway. An authenticated fetch gets a scratch tmpfs instead: a cache mount is
/// readable by *any* build on the builder that names its id (a Dockerfile's
/// `RUN --mount=type=cache,id=…` included), and a shared CI builder serves many repositories,
/// so a private crate fetched with one project's token must never land in one. Such a fetch
/// downloads again whenever it re-runs (only when the manifests or the lockfile change); what
/// it vendored lives only in its own layer.
fn download_cache(cargo_home: &str, dir: &str, authenticated: bool) -> Mount {
    let path = format!("{cargo_home}/{dir}");
    if authenticated {
        Mount::tmpfs(path).into()
    } else {
        Mount::cache(path, format!("{CARGO_DOWNLOAD_CACHE_ID}/{dir}"))
            .sharing(CacheSharing::Locked)
            .into()
    }
}

/// The SDK's cargo home (`CARGO_HOME`, else `$HOME/.cargo`): the download cache is mounted
/// inside it so the SDK's own cargo config there still applies.
fn sdk_cargo_home(sdk: &State) -> String {
    match sdk.get_env("CARGO_HOME") {
        Some(home) if !home.is_empty() => home.trim_end_matches('/').to_string(),
        _ => format!(
            "{}/.cargo",
            sdk.get_env("HOME")
                .filter(|h| !h.is_empty())
                .unwrap_or("/root")
                .trim_end_matches('/')
        ),
    }
}
