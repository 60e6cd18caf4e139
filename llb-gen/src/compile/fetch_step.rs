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
//!
//! Behind a proxy, BuildKit's predefined proxy build arguments (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `FTP_PROXY`, `NO_PROXY`, `ALL_PROXY`, in any case; [`proxy_from_build_args`]) need no
//! declaration under `[args]` and reach this step only, the way the dockerfile frontend passes
//! them to `RUN`: as the exec's proxy env, which BuildKit hands to the process but leaves out of
//! the cache key. So a build behind another proxy, or none, reuses the fetched layer, and no
//! value reaches a key or a layer. The values are in the LLB (that is how BuildKit gets them),
//! so a proxy password belongs in a BuildKit secret instead (`[fetch] secrets = { HTTPS_PROXY =
//! "proxy-url" }`). BuildKit v0.8 (dockerd 20.10) drops `ALL_PROXY`, a field it does not know,
//! so its value is also given as `HTTP_PROXY` and `HTTPS_PROXY` where those are unset: libcurl
//! (cargo) and git fall back to it for exactly those two schemes, the only ones a fetch uses.
//!
//! A proxy that intercepts TLS (or a registry with a private CA) needs its CA trusted:
//! `[fetch] ca-bundle = { secret = "<id>" }` mounts that BuildKit secret into this step only,
//! and the step's script joins it with the SDK's own bundle in its tmpfs and points cargo, git
//! and OpenSSL there ([`ca_bundle_lines`]). The LLB names only the secret id and fixed paths, so
//! the certificates never reach a key, the LLB or a layer, and a new CA reuses the fetched
//! layer. Not a context file: BuildKit keys a mounted context file by its content, and a secret
//! can come from a file anyway (`--secret id=<id>,src=ca.pem`). The secret is optional: a
//! build where nothing intercepts still works without it, and the script says it is missing.
//!
//! When cargo fails, the client shows the step's last log lines and an exit code, never a cause:
//! the frontend only hands BuildKit a lazy graph and never sees the failure, and the error names
//! only the command. So the script adds the cause as its last line when cargo's output shows a
//! name that did not resolve (suggesting `--network=host`: dockerd 20.10's default bridge often
//! has no outside access) or a certificate that did not verify (naming `ca-bundle`); see
//! [`run_lines`].

use std::collections::BTreeMap;

use serde_json::json;

use crate::keys::{step_tag, CARGO_DOWNLOAD_CACHE_ID};
use crate::llb::{CacheSharing, Mount, NetMode, ProxyEnv, State};

use super::step_script::StepScript;
use super::{shell, CompileError, Context, StepKind, StepRecord};

/// Where the fetch step's layer is mounted in compile steps.
pub const VENDOR_DIR: &str = "/cachet/vendor";
/// Cargo config (written by `cargo vendor`) that points cargo at the vendored sources.
pub const VENDOR_CONFIG: &str = "/cachet/vendor/config.toml";
const SECRETS_DIR: &str = "/run/cachet/secrets";
/// Where the `[fetch] ca-bundle` secret is mounted.
const CA_SECRET: &str = "/run/cachet/ca-bundle.pem";
/// The SDK's CA certificates plus the extra ones, written by the step's script (on its tmpfs).
const CA_BUNDLE: &str = "/tmp/cachet-ca-bundle.pem";
/// Set by the script when the `[fetch] ca-bundle` secret was not given.
const CA_MISSING: &str = "cachet_ca_missing";
/// cargo's output, kept (on the step's tmpfs) to say what went wrong when it fails.
const FETCH_LOG: &str = "/tmp/cachet-fetch.log";
/// Where SDK images keep their system CA bundle, most common first (Debian and Alpine, Fedora,
/// openSUSE, the BSD-style path some minimal images use). The first one present is used.
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
const SSH_SOCKET: &str = "/run/cachet/ssh-agent.sock";
/// 1980-01-01: every vendored file gets this mtime (zip's epoch; older than any build).
const VENDOR_MTIME: u64 = 315_532_800;

/// The vendored dependencies, or `None` when the plan has no fetch step.
pub(super) fn vendored(ctx: &mut Context<'_>) -> Result<Option<State>, CompileError> {
    // Whether there is a fetch step is the plan's (see `plan.rs`); its layer is made once.
    if !ctx.plan.fetches() {
        return Ok(None);
    }
    if let Some(done) = &ctx.vendor {
        return Ok(Some(done.clone()));
    }
    let plan = ctx.layout.manifest_snapshot();
    let manifests = ctx.masked_snapshot(&plan, "manifests")?;
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
    if let Some(id) = &ctx.spec.fetch.ca_bundle_secret {
        script.extend(ca_bundle_lines(id, CA_SECRET, CA_BUNDLE));
    }
    script.extend(run_lines(
        VENDOR_CONFIG,
        FETCH_LOG,
        ctx.spec.fetch.ca_bundle_secret.as_deref(),
    ));
    script.push(format!(
        "find {} -exec touch -h -d @{VENDOR_MTIME} {{}} +",
        shell::quote(VENDOR_DIR)
    ));

    // The tag follows what the step depends on: SDK, command and (masked) lockfile.
    let masked = ctx.masked_metadata().clone();
    let lock = masked
        .get("Cargo.lock")
        .map(|b| crate::llb::Digest::of(b).into_string())
        .unwrap_or_default();
    let tag = step_tag(&ctx.sdk, &[command.clone(), vec![lock]].concat())?;
    let network = ctx.request.network_override.unwrap_or(NetMode::Sandbox);
    let authenticated = is_authenticated(&ctx.spec.fetch);
    let script = StepScript::new("fetch.sh", &script, &ctx.step_platform(), "[fetch]")?;
    let proxy = fetch_proxy(&ctx.request.proxy);
    let mut exec = sdk
        .run(script.argv(&command))
        .proxy_env(proxy.clone())
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
    if let Some(id) = &ctx.spec.fetch.ca_bundle_secret {
        // Optional: without the secret the build trusts the SDK's certificates only (and the
        // script says so), so a spec written for a network that intercepts TLS still builds
        // elsewhere.
        exec = exec.mount(Mount::secret(CA_SECRET, id.clone()).optional());
    }
    if ctx.spec.fetch.ssh {
        exec = exec
            .mount(Mount::ssh().dest(SSH_SOCKET))
            .env("SSH_AUTH_SOCK", SSH_SOCKET);
    }
    // Cargo loads the path packages' manifests there too (a source edit there re-runs the
    // step: the whole context is mounted, see `named_contexts`).
    for mount in ctx.named_context_mounts()? {
        exec = exec.mount(mount);
    }
    let name = format!("[fetch] cargo vendor --locked · {tag}");
    let exec = exec
        .network(network)
        .platform(ctx.step_platform())
        .ignore_cache(ctx.ignore_cache("fetch"))
        .custom_name(name.clone())
        .build()?;
    let vendor = exec.get_mount(VENDOR_DIR)?;
    // What the step sees: the masked manifests and lockfile (see `project::masked`).
    let project_files = |paths: &[&str]| -> serde_json::Value {
        paths
            .iter()
            .filter_map(|p| {
                masked
                    .get(*p)
                    .map(Vec::as_slice)
                    .or_else(|| ctx.request.project.get(p))
                    .map(|b| {
                        (
                            p.to_string(),
                            json!(crate::llb::Digest::of(b).into_string()),
                        )
                    })
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
    let mut inputs = BTreeMap::from([
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
        ("network".to_string(), json!(network.as_str())),
    ]);
    if let Some(id) = &ctx.spec.fetch.ca_bundle_secret {
        inputs.insert("ca_bundle_secret".to_string(), json!(id));
    }
    // Which proxy variables the step gets, never their values (a proxy URL may hold a
    // password). Not a key input: BuildKit keys the step without them. Listed because they are
    // in the op, whose digest they move.
    if !proxy.is_empty() {
        inputs.insert("proxy_env".to_string(), json!(proxy.set_names()));
    }
    ctx.steps.push(StepRecord {
        kind: StepKind::Fetch,
        target: "fetch".to_string(),
        name,
        digest: exec.digest().to_string(),
        inputs,
        keys: None,
    });
    ctx.vendor = Some(vendor.clone());
    Ok(Some(vendor))
}

/// The script lines that make cargo, git and OpenSSL trust the `[fetch] ca-bundle` secret `id`
/// (mounted at `secret`) besides the SDK's own certificates: one bundle of both, written to
/// `bundle` on the step's tmpfs, named by
/// `CARGO_HTTP_CAINFO` (cargo's curl, and its git transport), `GIT_SSL_CAINFO` (the git CLI,
/// with `net.git-fetch-with-cli`) and `SSL_CERT_FILE` (OpenSSL's default, read by libgit2).
/// cargo's `http.cainfo` replaces the trusted set rather than adding to it, hence the copy of
/// the SDK's bundle (the one the SDK already points cargo or OpenSSL at, else the first of
/// [`SYSTEM_CA_BUNDLES`]). The lines name only paths and the secret id, so the certificates
/// stay out of the LLB and the key, and the bundle out of every layer.
fn ca_bundle_lines(id: &str, secret: &str, bundle: &str) -> Vec<String> {
    let candidates: Vec<String> = ["\"${CARGO_HTTP_CAINFO:-}\"", "\"${SSL_CERT_FILE:-}\""]
        .into_iter()
        .map(str::to_string)
        .chain(SYSTEM_CA_BUNDLES.iter().map(|p| shell::quote(p)))
        .collect();
    let (secret, bundle) = (shell::quote(secret), shell::quote(bundle));
    let missing = format!(
        "cachet: [fetch] ca-bundle: no secret `{id}` was given (--secret id={id},src=ca.pem); \
         the fetch step trusts the SDK image's CA certificates only"
    );
    vec![
        format!("if [ -f {secret} ]; then"),
        format!("  for f in {}; do", candidates.join(" ")),
        "    if [ -n \"$f\" ] && [ -f \"$f\" ]; then cat \"$f\"; echo; break; fi".to_string(),
        format!("  done > {bundle}"),
        format!("  cat {secret} >> {bundle}"),
        format!("  CARGO_HTTP_CAINFO={bundle}; GIT_SSL_CAINFO={bundle}; SSL_CERT_FILE={bundle}"),
        "  export CARGO_HTTP_CAINFO GIT_SSL_CAINFO SSL_CERT_FILE".to_string(),
        "else".to_string(),
        format!("  printf '%s\\n' {} >&2", shell::quote(&missing)),
        format!("  {CA_MISSING}=1"),
        "fi".to_string(),
    ]
}

/// The script lines that run the command (`"$@"`, cargo vendor) with its stdout, the vendor
/// config, in `config`, and its stderr shown as it comes and kept in `log`. When it fails, a
/// last line says why if cargo's output shows a cause a user can act on, since those lines are
/// what the client prints under the failed step:
/// * a host name that did not resolve: the fetch step is the only step with network, and
///   dockerd 20.10's default bridge often has no way out (nor DNS) where the host has one, so
///   the line suggests `--network=host`;
/// * a certificate that did not verify: the line names `[fetch] ca-bundle` (or, when the spec
///   has one, says the bundle given does not vouch for the server).
///
/// cargo retries a failed lookup like any network error (`net.retry`, 3 by default) before it
/// gives up; the retries are kept, as they also carry real builds over a flaky network, and the
/// line comes after them. The status is cargo's own.
fn run_lines(config: &str, log: &str, ca_bundle_secret: Option<&str>) -> Vec<String> {
    let status = shell::quote(&format!("{log}.status"));
    let (config, log) = (shell::quote(config), shell::quote(log));
    let dns = shell::quote(
        "cachet: the fetch step could not resolve %s. It is the only step with network access, \
         and the build's network cannot resolve names: dockerd 20.10's default bridge network \
         often has no outside access (nor DNS) even where the host has. Retry with \
         --network=host (buildx also needs --allow network.host), or pass a proxy the build's \
         network reaches as --build-arg HTTPS_PROXY=...\\n",
    );
    let say = |text: &str| format!("printf '%s\\n' {} >&2", shell::quote(text));
    let certificate = match ca_bundle_secret {
        Some(id) => format!(
            "if [ -n \"${{{CA_MISSING}:-}}\" ]; then {}; else {}; fi",
            say(&format!(
                "cachet: the fetch step could not verify a TLS certificate, and no secret \
                 `{id}` was given for [fetch] ca-bundle: pass the CA that signed it as --secret \
                 id={id},src=ca.pem"
            )),
            say(&format!(
                "cachet: the fetch step could not verify a TLS certificate, though [fetch] \
                 ca-bundle trusts the certificates of the secret `{id}` besides the SDK's: \
                 check that --secret id={id} names the PEM file of the CA that signed it"
            )),
        ),
        None => say(
            "cachet: the fetch step could not verify a TLS certificate. Behind a proxy that \
             intercepts TLS (or for a registry with a private CA), trust its CA: add [fetch] \
             ca-bundle = { secret = \"<id>\" } to the spec and pass --secret id=<id>,src=ca.pem",
        ),
    };
    let dns_patterns = [
        "Could not resolve host",
        "failed to resolve address for",
        "failed to lookup address information",
        "Temporary failure in name resolution",
        "Name or service not known",
        "dns error",
    ];
    let certificate_patterns = [
        "SSL certificate problem",
        "certificate verify failed",
        "SSL certificate is invalid",
        "invalid peer certificate",
    ];
    let grep = |patterns: &[&str]| {
        patterns
            .iter()
            .map(|p| format!("-e {}", shell::quote(p)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    vec![
        format!("rm -f {status}"),
        format!("{{ \"$@\" 2>&1 > {config} || echo $? > {status}; }} | tee {log} >&2"),
        format!("if [ -s {status} ]; then"),
        format!("  status=$(cat {status})"),
        format!(
            "  host=$(sed -n -e 's/.*Could not resolve host: \\([^ )]*\\).*/\\1/p' \
             -e 's/.*failed to resolve address for \\([^: ]*\\).*/\\1/p' {log} | head -n 1)"
        ),
        format!("  if grep -q {} {log}; then", grep(&dns_patterns)),
        format!("    printf {dns} \"${{host:-a host name}}\" >&2"),
        format!("  elif grep -q {} {log}; then", grep(&certificate_patterns)),
        format!("    {certificate}"),
        "  fi".to_string(),
        "  exit \"$status\"".to_string(),
        "fi".to_string(),
    ]
}

/// Whether `name` is one of BuildKit's predefined proxy build arguments, which the fetch step
/// honours without a declaration under `[args]` (the dockerfile frontend's rule: any case).
pub fn is_proxy_arg(name: &str) -> bool {
    PROXY_ARGS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

const PROXY_ARGS: [&str; 5] = [
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "all_proxy",
];

/// The proxy settings among `build_args`, read as the dockerfile frontend reads them: names in
/// any case, and where two spellings of one name are given (`HTTP_PROXY` and `http_proxy`), the
/// one that sorts last wins (so lower case over upper case).
pub fn proxy_from_build_args(build_args: &BTreeMap<String, String>) -> ProxyEnv {
    let mut proxy = ProxyEnv::default();
    // A BTreeMap iterates in sorted order: later spellings overwrite earlier ones.
    for (name, value) in build_args {
        let field = match name.to_ascii_lowercase().as_str() {
            "http_proxy" => &mut proxy.http_proxy,
            "https_proxy" => &mut proxy.https_proxy,
            "ftp_proxy" => &mut proxy.ftp_proxy,
            "no_proxy" => &mut proxy.no_proxy,
            "all_proxy" => &mut proxy.all_proxy,
            _ => continue,
        };
        *field = value.clone();
    }
    proxy
}

/// What the fetch step gets: the build's proxy settings, with `ALL_PROXY` standing in for an
/// unset `HTTP_PROXY` / `HTTPS_PROXY` (see the module docs: BuildKit v0.8 drops `ALL_PROXY`).
fn fetch_proxy(given: &ProxyEnv) -> ProxyEnv {
    let mut proxy = given.clone();
    if !proxy.all_proxy.is_empty() {
        for field in [&mut proxy.http_proxy, &mut proxy.https_proxy] {
            if field.is_empty() {
                *field = given.all_proxy.clone();
            }
        }
    }
    proxy
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
pub(super) fn sdk_cargo_home(sdk: &State) -> String {
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

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::compile::{compile, BuildRequest, Compiled, ResolvedImage};
    use crate::llb::{decode_ops, Platform};
    use crate::project::ProjectFiles;
    use crate::proto::pb::{self, op::Op as OpKind};
    use crate::spec;

    const SPEC: &str = "[project]\nname = \"hello\"\n[sdk]\nimage = \"cachet-sdk:rustup\"\n\
                        [target.build]\ncargo = [\"build\"]\nartifacts = { hello = \"hello\" }\n";
    const LOCK: &str = "version = 3\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n\
                        dependencies = [\"itoa\"]\n\n[[package]]\nname = \"itoa\"\n\
                        version = \"1.0.0\"\n\
                        source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                        checksum = \"0000000000000000000000000000000000000000000000000000000000000000\"\n";

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// `SPEC` with `fetch` before its target, compiled for `target` with `build_args`.
    fn compiled(fetch: &str, target: &str, build_args: &[(&str, &str)]) -> Compiled {
        let text = SPEC.replace("[target.build]", &format!("{fetch}\n[target.build]"));
        let build_args = args(build_args);
        let spec = spec::load("Cachet.toml", &text, &build_args).unwrap();
        let request = BuildRequest {
            images: BTreeMap::from([(
                "cachet-sdk:rustup".to_string(),
                ResolvedImage {
                    digest: format!("sha256:{}", "1".repeat(64)),
                    config: br#"{"config":{"Env":["PATH=/usr/bin:/bin"]}}"#.to_vec(),
                },
            )]),
            project: ProjectFiles {
                files: BTreeMap::from([
                    (
                        "Cargo.toml".to_string(),
                        b"[package]\nname = \"hello\"\nversion = \"0.1.0\"\n".to_vec(),
                    ),
                    ("Cargo.lock".to_string(), LOCK.as_bytes().to_vec()),
                ]),
            },
            proxy: proxy_from_build_args(&build_args),
            ..BuildRequest::new(target.into(), Platform::linux_amd64(), "session")
        };
        compile(&spec, &request).unwrap()
    }

    fn ops(c: &Compiled) -> Vec<(String, pb::Op)> {
        decode_ops(&c.definition)
            .unwrap()
            .into_iter()
            .map(|(d, op)| (d.to_string(), op))
            .collect()
    }

    /// Every exec: the fetch step's first, then the compile steps.
    fn execs(c: &Compiled) -> (pb::ExecOp, Vec<pb::ExecOp>) {
        let mut fetch = None;
        let mut others = Vec::new();
        for (_, op) in ops(c) {
            if let Some(OpKind::Exec(e)) = op.op {
                if e.meta.as_ref().unwrap().args[1].ends_with("/fetch.sh") {
                    assert!(fetch.replace(e).is_none(), "one fetch step");
                } else {
                    others.push(e);
                }
            }
        }
        (fetch.expect("a fetch step"), others)
    }

    fn fetch_record(c: &Compiled) -> &StepRecord {
        c.steps.iter().find(|s| s.kind == StepKind::Fetch).unwrap()
    }

    #[test]
    fn proxy_arguments_are_read_as_buildkit_reads_them() {
        let proxy = proxy_from_build_args(&args(&[
            ("HTTP_PROXY", "http://upper:1"),
            ("http_proxy", "http://lower:1"),
            ("Https_Proxy", "http://mixed:2"),
            ("no_proxy", "localhost,.corp"),
            ("FTP_PROXY", "ftp://f:3"),
            ("ALL_PROXY", "socks5://all:4"),
            ("HTTP_PROXY_EXTRA", "not a proxy"),
            ("VERSION", "1"),
        ]));
        assert_eq!(
            proxy,
            ProxyEnv {
                http_proxy: "http://lower:1".into(),
                https_proxy: "http://mixed:2".into(),
                ftp_proxy: "ftp://f:3".into(),
                no_proxy: "localhost,.corp".into(),
                all_proxy: "socks5://all:4".into(),
            }
        );
        assert!(proxy_from_build_args(&args(&[("VERSION", "1")])).is_empty());
        for name in [
            "HTTP_PROXY",
            "https_proxy",
            "No_Proxy",
            "ALL_PROXY",
            "ftp_proxy",
        ] {
            assert!(is_proxy_arg(name), "{name}");
        }
        for name in ["PROXY", "HTTP_PROXY_EXTRA", "CARGO_HTTP_PROXY", ""] {
            assert!(!is_proxy_arg(name), "{name}");
        }
    }

    #[test]
    fn all_proxy_stands_in_for_unset_http_and_https_proxies() {
        let given = ProxyEnv {
            https_proxy: "http://tls:1".into(),
            all_proxy: "socks5h://all:2".into(),
            ..Default::default()
        };
        let proxy = fetch_proxy(&given);
        assert_eq!(proxy.http_proxy, "socks5h://all:2");
        assert_eq!(proxy.https_proxy, "http://tls:1", "a set one stays");
        assert_eq!(proxy.all_proxy, "socks5h://all:2");
        assert_eq!(fetch_proxy(&ProxyEnv::default()), ProxyEnv::default());
    }

    /// The proxy reaches the fetch exec as its proxy env only: clearing that field gives back
    /// exactly the op of a build without a proxy, so no value is in its env, script or mounts
    /// (what BuildKit keys), and the compile steps are the same ops as without a proxy.
    #[test]
    fn the_proxy_reaches_the_fetch_step_only_and_outside_its_key() {
        let plain = compiled("", "build", &[]);
        let behind = compiled(
            "",
            "build",
            &[
                ("HTTPS_PROXY", "http://user:pa55@proxy.corp:3128"),
                ("no_proxy", "localhost"),
            ],
        );
        let (plain_fetch, plain_rest) = execs(&plain);
        let (fetch, rest) = execs(&behind);
        assert_eq!(
            fetch.meta.as_ref().unwrap().proxy_env,
            Some(pb::ProxyEnv {
                https_proxy: "http://user:pa55@proxy.corp:3128".into(),
                no_proxy: "localhost".into(),
                ..Default::default()
            })
        );
        let mut cleared = fetch.clone();
        cleared.meta.as_mut().unwrap().proxy_env = None;
        assert_eq!(cleared.encode_to_vec(), plain_fetch.encode_to_vec());
        assert_eq!(plain_fetch.meta.as_ref().unwrap().proxy_env, None);

        assert_eq!(rest.len(), plain_rest.len());
        for exec in &rest {
            let meta = exec.meta.as_ref().unwrap();
            assert_eq!(meta.proxy_env, None, "a compile step: {:?}", meta.args);
            assert!(
                !meta.env.iter().any(|e| e.contains("proxy.corp")),
                "{:?}",
                meta.env
            );
        }
        assert_eq!(behind.cargo_keys, plain.cargo_keys, "no target cache moves");

        let record = fetch_record(&behind);
        assert_eq!(
            record.inputs["proxy_env"],
            json!(["HTTPS_PROXY", "NO_PROXY"])
        );
        let explained = serde_json::to_string(&behind.steps).unwrap();
        assert!(!explained.contains("pa55"), "{explained}");
        assert!(!fetch_record(&plain).inputs.contains_key("proxy_env"));
    }

    /// The fetch step's script: the text of its `fetch.sh` layer.
    fn fetch_script(c: &Compiled) -> String {
        ops(c)
            .into_iter()
            .find_map(|(_, op)| match op.op {
                Some(OpKind::File(f)) => f.actions.into_iter().find_map(|a| match a.action {
                    Some(pb::file_action::Action::Mkfile(m)) if m.path.ends_with("fetch.sh") => {
                        Some(String::from_utf8(m.data).unwrap())
                    }
                    _ => None,
                }),
                _ => None,
            })
            .expect("the fetch script")
    }

    #[test]
    fn a_ca_bundle_is_an_optional_secret_of_the_fetch_step_only() {
        let c = compiled(
            "[fetch]\nca-bundle = { secret = \"corp-ca\" }\n",
            "build",
            &[],
        );
        let (fetch, rest) = execs(&c);
        let secrets: Vec<&pb::Mount> = fetch
            .mounts
            .iter()
            .filter(|m| m.mount_type == pb::MountType::Secret as i32)
            .collect();
        assert_eq!(secrets.len(), 1, "{:?}", fetch.mounts);
        assert_eq!(secrets[0].dest, CA_SECRET);
        let opt = secrets[0].secret_opt.as_ref().unwrap();
        assert_eq!(opt.id, "corp-ca");
        assert!(opt.optional, "a build without the secret still runs");
        for exec in &rest {
            assert!(
                exec.mounts
                    .iter()
                    .all(|m| m.mount_type != pb::MountType::Secret as i32),
                "a compile step mounts no secret: {:?}",
                exec.meta.as_ref().unwrap().args
            );
        }
        // Not credentials: the shared download cache stays (cargo checks every download against
        // the lockfile, whoever vouched for the TLS connection).
        assert!(
            fetch.mounts.iter().any(|m| m.cache_opt.is_some()),
            "{:?}",
            fetch.mounts
        );
        let script = fetch_script(&c);
        assert!(
            script.contains(&format!("CARGO_HTTP_CAINFO={CA_BUNDLE}")),
            "{script}"
        );
        assert!(
            script.find("CARGO_HTTP_CAINFO=").unwrap() < script.find("\"$@\"").unwrap(),
            "exported before cargo runs: {script}"
        );
        assert!(
            !fetch
                .meta
                .as_ref()
                .unwrap()
                .env
                .iter()
                .any(|e| e.contains("CAINFO") || e.contains("SSL_CERT_FILE")),
            "set by the script, not the exec's env"
        );
        assert_eq!(fetch_record(&c).inputs["ca_bundle_secret"], "corp-ca");

        let plain = compiled("", "build", &[]);
        assert!(!fetch_script(&plain).contains("CAINFO"));
        assert!(!fetch_record(&plain).inputs.contains_key("ca_bundle_secret"));
    }

    /// A fresh directory under the system temp dir.
    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cachet-fetch-step-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs `lines` and then `tail` with the host's `/bin/sh` under `env` (and nothing else
    /// but PATH); `(status, stdout, stderr)`.
    fn run_sh(lines: &[String], tail: &str, env: &[(&str, &str)]) -> (i32, String, String) {
        let script = format!("set -eu\n{}\n{tail}\n", lines.join("\n"));
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .output()
            .expect("/bin/sh runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The CA lines, run by a real shell: the SDK's bundle (here the one `SSL_CERT_FILE` names)
    /// and the secret end up in one file, which all three variables name.
    #[test]
    fn the_ca_lines_join_the_sdk_bundle_and_the_secret() {
        let dir = temp_dir("ca");
        let system = dir.join("system.pem");
        std::fs::write(&system, "SYSTEM CERTS").unwrap();
        let secret = dir.join("secret.pem");
        std::fs::write(&secret, "EXTRA CERTS\n").unwrap();
        let bundle = dir.join("bundle.pem");
        let lines = ca_bundle_lines(
            "corp-ca",
            secret.to_str().unwrap(),
            bundle.to_str().unwrap(),
        );
        let tail = "echo \"$CARGO_HTTP_CAINFO|$GIT_SSL_CAINFO|$SSL_CERT_FILE\"";
        let (status, out, err) =
            run_sh(&lines, tail, &[("SSL_CERT_FILE", system.to_str().unwrap())]);
        assert_eq!(status, 0, "{err}");
        let b = bundle.to_str().unwrap();
        assert_eq!(out.trim(), format!("{b}|{b}|{b}"));
        assert_eq!(
            std::fs::read_to_string(&bundle).unwrap(),
            "SYSTEM CERTS\nEXTRA CERTS\n"
        );
        assert_eq!(err, "");

        // The SDK's own choice for cargo comes first.
        let cargo_own = dir.join("cargo.pem");
        std::fs::write(&cargo_own, "CARGO CERTS\n").unwrap();
        let (status, _, err) = run_sh(
            &lines,
            "true",
            &[
                ("CARGO_HTTP_CAINFO", cargo_own.to_str().unwrap()),
                ("SSL_CERT_FILE", system.to_str().unwrap()),
            ],
        );
        assert_eq!(status, 0, "{err}");
        assert_eq!(
            std::fs::read_to_string(&bundle).unwrap(),
            "CARGO CERTS\n\nEXTRA CERTS\n"
        );

        // No secret given: nothing is set, and the log says why.
        std::fs::remove_file(&secret).unwrap();
        let (status, out, err) = run_sh(&lines, "echo \"${CARGO_HTTP_CAINFO:-unset}\"", &[]);
        assert_eq!(status, 0, "{err}");
        assert_eq!(out.trim(), "unset");
        assert!(
            err.contains("no secret `corp-ca` was given (--secret id=corp-ca,src=ca.pem)"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The run lines with `cargo` standing in for cargo (a shell snippet): `(status, config
    /// written, stderr)`.
    fn run_fake_cargo(
        name: &str,
        cargo: &str,
        ca_bundle_secret: Option<&str>,
    ) -> (i32, String, String) {
        let dir = temp_dir(name);
        let (config, log) = (dir.join("config.toml"), dir.join("fetch.log"));
        let lines = run_lines(
            config.to_str().unwrap(),
            log.to_str().unwrap(),
            ca_bundle_secret,
        );
        let script = format!("set -eu\n{}\n", lines.join("\n"));
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .args(["sh", "/bin/sh", "-c", cargo])
            .output()
            .expect("/bin/sh runs");
        let written = std::fs::read_to_string(&config).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        (
            out.status.code().unwrap_or(-1),
            written,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn a_fetch_that_works_writes_the_config_and_shows_cargo_as_it_is() {
        let (status, config, err) = run_fake_cargo(
            "ok",
            "echo '[source.vendored]'; echo '   Vendoring itoa v1.0.0' >&2",
            None,
        );
        assert_eq!(status, 0, "{err}");
        assert_eq!(config, "[source.vendored]\n");
        assert_eq!(err, "   Vendoring itoa v1.0.0\n");
    }

    #[test]
    fn an_unresolvable_host_says_so_and_suggests_the_host_network() {
        let cargo = "echo 'warning: spurious network error (3 tries remaining): [6] Could not \
                     resolve hostname (Could not resolve host: index.crates.io)' >&2; \
                     echo 'error: failed to download from `https://index.crates.io/config.json`' >&2; \
                     exit 101";
        let (status, _, err) = run_fake_cargo("dns", cargo, None);
        assert_eq!(status, 101, "cargo's status: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines[0].starts_with("warning: spurious network error"),
            "{err}"
        );
        let last = lines.last().unwrap();
        assert!(
            last.starts_with("cachet: the fetch step could not resolve index.crates.io. "),
            "{err}"
        );
        assert!(last.contains("Retry with --network=host"), "{err}");

        // libgit2's wording, and one without a host name.
        let cargo = "echo 'failed to resolve address for github.com: Name or service not known; \
                     class=Net (12)' >&2; exit 101";
        let (_, _, err) = run_fake_cargo("dns-git", cargo, None);
        assert!(err.contains("could not resolve github.com. "), "{err}");
        let cargo = "echo 'error: dns error: failed to lookup address information' >&2; exit 1";
        let (status, _, err) = run_fake_cargo("dns-other", cargo, None);
        assert_eq!(status, 1);
        assert!(err.contains("could not resolve a host name. "), "{err}");
    }

    #[test]
    fn an_unverified_certificate_points_at_the_ca_bundle() {
        let cargo = "echo '[60] SSL peer certificate or SSH remote key was not OK (SSL \
                     certificate problem: self-signed certificate in certificate chain)' >&2; \
                     exit 101";
        let (status, _, err) = run_fake_cargo("tls", cargo, None);
        assert_eq!(status, 101);
        let last = err.lines().last().unwrap();
        assert!(
            last.starts_with("cachet: the fetch step could not verify a TLS certificate. "),
            "{err}"
        );
        assert!(last.contains("ca-bundle = { secret = \"<id>\" }"), "{err}");
        let (_, _, err) = run_fake_cargo("tls-bundle", cargo, Some("corp-ca"));
        assert!(
            err.lines()
                .last()
                .unwrap()
                .contains("check that --secret id=corp-ca names"),
            "{err}"
        );
        // The whole script's way: the CA lines found no secret, so the last line says that.
        let dir = temp_dir("tls-missing");
        let mut lines = ca_bundle_lines(
            "corp-ca",
            dir.join("absent.pem").to_str().unwrap(),
            dir.join("bundle.pem").to_str().unwrap(),
        );
        lines.extend(run_lines(
            dir.join("config.toml").to_str().unwrap(),
            dir.join("fetch.log").to_str().unwrap(),
            Some("corp-ca"),
        ));
        let script = lines
            .join("\n")
            .replace("\"$@\"", &format!("sh -c {}", shell::quote(cargo)));
        let (status, _, err) = run_sh(&[script], "", &[]);
        assert_eq!(status, 101, "{err}");
        assert!(
            err.lines()
                .last()
                .unwrap()
                .contains("and no secret `corp-ca` was given for [fetch] ca-bundle"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn any_other_failure_keeps_cargos_words_and_status() {
        let (status, _, err) = run_fake_cargo(
            "other",
            "echo 'error: the lock file needs to be updated' >&2; exit 7",
            None,
        );
        assert_eq!(status, 7);
        assert_eq!(err, "error: the lock file needs to be updated\n");
    }
}
