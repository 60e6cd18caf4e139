//! The dependency layer: every third-party crate a cargo step needs, compiled into an ordinary
//! layer, so a fresh CI runner (empty cache mounts, imported layer cache) starts warm.
//!
//! BuildKit never exports cache mounts, so on an ephemeral runner the keyed target cache is
//! always empty. This step compiles the step's dependencies from stable inputs only: the
//! manifests-only snapshot (with stand-in target roots for the workspace's own crates), the
//! vendored sources and exactly the environment, flags, profile and features of the cargo step
//! it serves. It writes into `/cachet/target` — the very path the cargo step uses, so paths
//! recorded by build scripts stay valid — but that directory is an output mount here, so the
//! result is a layer keyed by BuildKit on those inputs: source edits never invalidate it, a new
//! dependency or flag always does, and it travels with `--cache-to` like any layer.
//!
//! Before the layer is taken, everything built for the workspace's own crates (the stand-ins)
//! is deleted: fingerprints, build-script output, libraries, uplifted binaries and incremental
//! state. Cargo runs with `--target <triple>` here as in the step (see [`super::cargo_step`]), so
//! that happens in both of its directories: `target/<triple>/<profile>/` (code for the target,
//! and what build scripts of target crates write) and `target/<profile>/` (host code: compiled
//! build scripts, proc-macros and the crates they use). Third-party host code stays: a seeded
//! cache must not rebuild a dependency's build script or derive macro either. No stand-in
//! artifact can reach an output, whatever the step later copies. What stays
//! beside the dependencies is the step's freshness manifest (see [`super::freshness`]): the
//! virtual mtimes the layer's fingerprints were taken against, so a cache seeded from the
//! layer finds unchanged third-party files (vendored ones included) as old as they were.
//!
//! On a builder that built the layer before, the step starts from a warm target directory of
//! its own, a cache mount keyed like the target cache minus the workspace
//! ([`crate::keys::dependency_cache_id`]): it copies that in, runs cargo, and copies the result
//! back, so a lockfile bump recompiles the bumped crates rather than every crate. On a fresh
//! runner the mount is empty and the layer is built from nothing.
//!
//! When the build's cache travels (it imports one or writes inline cache: a CI job), a second
//! step compiles on top of that layer the workspace members the cargo step builds only as
//! dependencies ([`crate::project::ProjectLayout::dependency_members`]), from their real
//! sources, with stand-ins for the step's own packages, whose artifacts are deleted the same
//! way. A fresh runner then recompiles only the step's own packages and whatever changed below
//! them. A local loop never plans it: its mount is warm, and the step would only rebuild what
//! cargo rebuilds incrementally anyway.
//!
//! The cargo step seeds its target cache mount from the top layer only when the mount is empty;
//! a warm mount is never touched. Either way cargo then builds the workspace's crates from the
//! real sources and finds the dependencies fresh, so the output is the same.

use std::collections::BTreeMap;

use serde_json::json;

use crate::keys::DependencyCacheInputs;
use crate::llb::{CacheSharing, Mount, NetMode, State};
use crate::project::{PackageLayout, ProjectLayout};
use crate::spec::CargoTarget;

use super::cargo_step::{artifact_dir, host_dir, SRC_DIR, TARGET_DIR};
use super::fetch_step::{VENDOR_CONFIG, VENDOR_DIR};
use super::step_script::StepScript;
use super::{freshness, shell, CompileError, Context, StepKind, StepRecord};

/// Where the dependency layer is mounted in the cargo step that it seeds.
pub const DEPS_DIR: &str = "/cachet/deps";
/// Where the third-party layer's step mounts its dependency cache (see [`cache_in_lines`]).
pub const DEPS_CACHE_DIR: &str = "/cachet/deps-cache";

/// What a prebuild starts from.
#[derive(Clone, Copy)]
enum Below<'a> {
    /// An earlier layer (the workspace layer starts from the third-party one).
    Layer(&'a State),
    /// Nothing, or the warm directory of this dependency cache mount
    /// ([`crate::keys::dependency_cache_id`]): the third-party layer.
    Cache(&'a str),
}

/// The id of the dependency cache the third-party layer of `prebuild` starts from.
fn dependency_cache_id(ctx: &Context<'_>, prebuild: &Prebuild<'_>) -> Result<String, CompileError> {
    let platform = ctx.request.platform.to_string();
    Ok(crate::keys::dependency_cache_id(&DependencyCacheInputs {
        sdk: &ctx.sdk,
        platform: &platform,
        triple: ctx.triple,
        profile: &ctx.spec.cargo.profile,
        command: &prebuild.command,
        env: prebuild.exec_env,
        toolchain_files: &ctx.layout.toolchain_files,
        cargo_config: &ctx.layout.cargo_config,
    })?)
}

/// The script lines that start the third-party layer from its dependency cache: the warm
/// target directory of the last run on this builder is copied into the (empty) layer, so cargo
/// rebuilds only what changed since (a lockfile bump: the bumped crates and their dependants).
/// Empty on a fresh builder: the layer is built from nothing. `fresh` (`--no-cache` for the
/// target) empties the cache first.
fn cache_in_lines(fresh: bool) -> Vec<String> {
    let (cache, target) = (shell::quote(DEPS_CACHE_DIR), shell::quote(TARGET_DIR));
    let mut lines = Vec::new();
    if fresh {
        lines.push(format!("find {cache} -mindepth 1 -delete"));
    }
    lines.push(format!(
        "if [ -n \"$(ls -A {cache})\" ]; then cp -a {cache}/. {target}/; fi"
    ));
    lines
}

/// The script lines that leave the finished layer in the dependency cache for the next run.
fn cache_out_lines() -> Vec<String> {
    let (cache, target) = (shell::quote(DEPS_CACHE_DIR), shell::quote(TARGET_DIR));
    vec![
        format!("find {cache} -mindepth 1 -delete"),
        format!("cp -a {target}/. {cache}/"),
    ]
}

/// The cargo invocation that compiles a step's dependencies, or `None` when the subcommand
/// does not compile dependencies the way a build does (doc, rustc, custom subcommands).
pub(super) fn prebuild_command(
    subcommand: &str,
    user_args: &[String],
    packages: &[String],
) -> Option<Vec<String>> {
    let mut command: Vec<String> = match subcommand {
        "build" | "b" | "run" | "r" => vec!["build".into()],
        "test" | "t" => vec!["test".into(), "--no-run".into()],
        "bench" => vec!["bench".into(), "--no-run".into()],
        "check" | "c" | "clippy" => vec!["check".into()],
        _ => return None,
    };
    // Only whether dev-dependencies are built matters: libraries and binaries share the normal
    // dependencies, and the stand-ins have a library but may lack the step's binaries and
    // examples (cargo discovers those from files the manifests-only snapshot does not hold). So
    // any filter that builds tests, benches or examples becomes `--tests` (the stand-in
    // library's test harness pulls in the dev-dependencies), `--all-targets` stays, and
    // library/binary filters are dropped.
    let mut kinds = Vec::new();
    let mut args = user_args.iter();
    while let Some(arg) = args.next() {
        let flag = arg.split('=').next().unwrap_or(arg);
        let kind = match flag {
            "--" => break,
            "--all-targets" => "--all-targets",
            "--tests" | "--benches" | "--examples" => "--tests",
            "--test" | "--bench" | "--example" => {
                if !arg.contains('=') {
                    args.next();
                }
                "--tests"
            }
            "--bin" | "--package" | "-p" | "--exclude" | "--features" | "--target-dir" => {
                if !arg.contains('=') {
                    args.next();
                }
                continue;
            }
            _ => continue,
        };
        if !kinds.contains(&kind.to_string()) {
            kinds.push(kind.to_string());
        }
    }
    kinds.sort();
    for package in packages {
        command.extend(["-p".to_string(), package.clone()]);
    }
    if packages.is_empty() {
        command.push("--workspace".into());
    }
    command.extend(kinds);
    Some(command)
}

/// The cargo invocation of a step's dependency layers: `cargo --locked --offline [--config
/// <vendored sources>] <prebuild> <global args> <owned flags> <prebuild filters>`, or `None`
/// when the workspace is unknown or the subcommand does not compile dependencies the way a
/// build does. `vendored`: the fetch step's layer is mounted. The plan compares these to decide
/// which steps share their layers (see [`super::plan`]).
pub(super) fn layer_command(
    layout: &ProjectLayout,
    step: &CargoTarget,
    owned_flags: &[String],
    vendored: bool,
) -> Option<Vec<String>> {
    let workspace = layout.workspace.as_ref()?;
    let packages: Vec<String> = match layout.select(&step.args) {
        Some(dirs) => dirs
            .iter()
            .filter_map(|d| workspace.packages.get(d))
            .map(|p| p.name.clone())
            .filter(|n| !n.is_empty())
            .collect(),
        None => Vec::new(),
    };
    let prebuild = prebuild_command(step.subcommand(), &step.args[1..], &packages)?;
    let mut command: Vec<String> = vec!["cargo".into(), "--locked".into(), "--offline".into()];
    if vendored {
        command.extend(["--config".to_string(), VENDOR_CONFIG.to_string()]);
    }
    command.push(prebuild[0].clone());
    // `--config` and `-Z` reach every unit, third-party ones included: the layer is built
    // with them, or its fingerprints (and undeclared `[env]` reads) would not be the step's.
    command.extend(crate::spec::cargo_args::global_args(&step.args));
    command.extend(owned_flags.iter().cloned());
    command.extend(prebuild[1..].iter().cloned());
    Some(command)
}

/// The dependency layer for one cargo step, which the plan gives one (see [`super::plan`]):
/// its own, or the one of the step it shares with. `exec_env` is the cargo step's exact
/// environment; `owned_flags` the profile, feature and `--target` flags Cachet passes it (as
/// passed to cargo).
pub(super) fn layer(
    ctx: &mut Context<'_>,
    name: &str,
    step: &CargoTarget,
    exec_env: &[(String, String)],
    owned_flags: &[String],
) -> Result<State, CompileError> {
    if let Some(owner) = ctx.plan.shared_with(name, StepKind::Dependencies) {
        return ctx
            .dependency_layer_of
            .get(owner)
            .cloned()
            .ok_or_else(|| CompileError::NoDependencyLayer(owner.to_string()));
    }
    // Third-party sources come from the fetch step, or from the user's own vendor directory,
    // which the manifests snapshot carries (it is one of the config directories).
    let vendor = super::fetch_step::vendored(ctx)?;
    let (Some(workspace), Some(command)) = (
        ctx.layout.workspace.clone(),
        layer_command(&ctx.layout, step, owned_flags, vendor.is_some()),
    ) else {
        // The plan gave the step a layer only where both exist.
        return Err(CompileError::NoDependencyLayer(name.to_string()));
    };

    let memo = format!(
        "{}\u{0}{}",
        shell::join(&command),
        exec_env
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("\u{0}")
    );
    let prebuild = Prebuild {
        target: name,
        command,
        memo,
        exec_env,
        vendor,
    };

    // Third-party crates: every workspace package is a stand-in, except the crates `[patch]`
    // and `[replace]` put in place of registry ones (with their own path dependencies), which
    // are third-party crates from sources in the context.
    let plan = ctx.layout.dependency_snapshot();
    let third_party_dirs = ctx.layout.third_party_dirs();
    let what = if third_party_dirs.is_empty() {
        "manifests"
    } else {
        "manifests and patched crates"
    };
    let manifests = ctx.masked_snapshot(&plan, what)?;
    let stand_ins: Vec<&PackageLayout> = workspace
        .packages
        .values()
        .filter(|p| !third_party_dirs.contains(&p.dir))
        .collect();
    let cache = dependency_cache_id(ctx, &prebuild)?;
    let third_party = prebuild.exec(
        ctx,
        "prebuild dependencies",
        &manifests,
        Below::Cache(&cache),
        &stand_ins,
    )?;
    ctx.steps.push(StepRecord {
        target: name.to_string(),
        kind: StepKind::Dependencies,
        name: third_party.progress_name.clone(),
        digest: third_party.digest.clone(),
        inputs: {
            let mut inputs = prebuild.inputs(
                &plan,
                (
                    "fetch",
                    match &prebuild.vendor {
                        Some(v) => json!(v.digest().map(|d| d.to_string()).unwrap_or_default()),
                        None => json!("vendored in the context"),
                    },
                ),
            );
            inputs.insert("dependency_cache".to_string(), json!(cache));
            inputs
        },
        keys: None,
    });

    // Workspace members the step builds only as dependencies, on top, when layers travel.
    if ctx.plan.has(name, StepKind::WorkspaceDependencies) {
        let members = ctx.layout.dependency_members(&step.args);
        let plan = ctx.layout.source_snapshot(Some(&members), &[]);
        let what = format!(
            "sources of {}",
            members.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        let sources = ctx.snapshot(&plan, &what)?;
        let stand_ins: Vec<&PackageLayout> = workspace
            .packages
            .values()
            .filter(|p| !members.contains(&p.dir))
            .collect();
        let on_top = prebuild.exec(
            ctx,
            "prebuild workspace dependencies",
            &sources,
            Below::Layer(&third_party.state),
            &stand_ins,
        )?;
        ctx.steps.push(StepRecord {
            target: name.to_string(),
            kind: StepKind::WorkspaceDependencies,
            name: on_top.progress_name.clone(),
            digest: on_top.digest.clone(),
            inputs: prebuild.inputs(&plan, ("dependencies", json!(third_party.digest))),
            keys: None,
        });
        return Ok(on_top.state);
    }
    Ok(third_party.state)
}

/// A planned prebuild: its layer, and how it shows in progress and explanations.
struct Layer {
    state: State,
    progress_name: String,
    digest: String,
}

/// One prebuild of a step's dependencies: the command and environment both layers share.
struct Prebuild<'e> {
    /// The cargo target the layers serve.
    target: &'e str,
    command: Vec<String>,
    /// The command and environment, as one string (steps that agree share their layers).
    memo: String,
    exec_env: &'e [(String, String)],
    /// The fetch step's layer (`None`: the user vendors inside the sources).
    vendor: Option<State>,
}

impl Prebuild<'_> {
    /// The exec that runs the prebuild on `sources` into a copy of what `below` says (an
    /// earlier layer, or the warm directory of a dependency cache), then deletes what it built
    /// for the `stand_ins`.
    fn exec(
        &self,
        ctx: &mut Context<'_>,
        what: &str,
        sources: &State,
        below: Below<'_>,
        stand_ins: &[&PackageLayout],
    ) -> Result<Layer, CompileError> {
        let profile = &ctx.spec.cargo.profile;
        let dirs = [artifact_dir(ctx.triple, profile), host_dir(profile)];
        let fresh = ctx.ignore_cache(self.target);
        let mut script = vec!["set -eu".to_string()];
        if let Below::Cache(_) = below {
            script.extend(cache_in_lines(fresh));
        }
        // The layer carries its freshness manifest, so a cache seeded from it knows the virtual
        // mtimes its fingerprints were taken against. Without one, every file of a seeded cache
        // would be "new": build scripts that watch their own files (`rerun-if-changed`, in a
        // vendor directory inside the sources) would run again and recompile their crates and
        // everything above them.
        let vendored = ctx.vendored()?;
        script.extend(freshness::script(
            &format!("{TARGET_DIR}/{}", freshness::STATE_DIR_NAME),
            freshness::NewContent::PreviousWholeSecond,
            &ctx.layout.config_dirs,
            &vendored.as_ref().map(|v| v.premade()).unwrap_or_default(),
            None,
        ));
        script.extend(super::named_contexts::freshness_lines(
            ctx.spec,
            &format!("{TARGET_DIR}/{}", freshness::STATE_DIR_NAME),
            freshness::NewContent::PreviousWholeSecond,
        ));
        script.push("\"$@\"".to_string());
        script.push(removal(&dirs, stand_ins));
        // Uplifted artifacts (binaries, libraries) at the top of a profile directory: only the
        // target's has them, but nothing at the top of either is a dependency's. A directory
        // cargo had no reason to make is no error.
        for dir in &dirs {
            let dir = shell::quote(dir);
            script.push(format!(
                "[ ! -d {dir} ] || find {dir} -maxdepth 1 -type f -delete"
            ));
        }
        if let Below::Cache(_) = below {
            script.extend(cache_out_lines());
        }

        let tag = crate::keys::step_tag(
            &ctx.sdk,
            &[
                self.command.clone(),
                vec![self.memo.clone(), what.to_string()],
            ]
            .concat(),
        )?;
        let mut progress_name = format!("[{}] {what} · {tag}", self.target);
        if fresh {
            // `--no-cache`: rebuilt from nothing like the step's target cache.
            progress_name.push_str(" (--no-cache)");
        }
        let sdk = ctx.sdk_state()?;
        let script = StepScript::new(
            "dependencies.sh",
            &script,
            &ctx.step_platform(),
            &format!("[{}]", self.target),
        )?;
        let mut exec = sdk
            .run(script.argv(&self.command))
            .cwd(SRC_DIR)
            .mount(script.mount())
            .mount(ctx.helper_mount()?);
        for (k, v) in self.exec_env {
            exec = exec.env(k.clone(), v.clone());
        }
        exec = exec.mount(Mount::bind(SRC_DIR, sources).no_output());
        for mount in vendored.iter().flat_map(|v| v.mounts(SRC_DIR)) {
            exec = exec.mount(mount);
        }
        exec = match below {
            Below::Layer(layer) => exec.mount(Mount::bind(TARGET_DIR, layer)),
            Below::Cache(id) => exec
                .mount(Mount::bind(TARGET_DIR, &State::scratch()))
                .mount(Mount::cache(DEPS_CACHE_DIR, id).sharing(CacheSharing::Locked)),
        };
        if let Some(vendor) = &self.vendor {
            exec = exec.mount(Mount::bind(VENDOR_DIR, vendor).readonly());
        }
        for mount in ctx.named_context_mounts()? {
            exec = exec.mount(mount);
        }
        let exec = exec
            .mount(Mount::tmpfs("/tmp"))
            .network(NetMode::None)
            .platform(ctx.step_platform())
            .ignore_cache(ctx.ignore_cache(self.target))
            .custom_name(progress_name.clone())
            .build()?;
        Ok(Layer {
            state: exec.get_mount(TARGET_DIR)?,
            progress_name,
            digest: exec.digest().to_string(),
        })
    }

    /// What a prebuild was keyed on, for `llb-gen explain`.
    fn inputs(
        &self,
        plan: &crate::project::SnapshotPlan,
        below: (&str, serde_json::Value),
    ) -> BTreeMap<String, serde_json::Value> {
        BTreeMap::from([
            ("command".to_string(), json!(self.command)),
            (
                "env".to_string(),
                json!(self.exec_env.iter().cloned().collect::<BTreeMap<_, _>>()),
            ),
            ("sources".to_string(), json!(plan)),
            (below.0.to_string(), below.1),
        ])
    }
}

/// The shell line that deletes everything cargo built for `stand_ins` under each profile
/// directory of `dirs` (the target's and the host's): fingerprints, build scripts and their
/// output, libraries (proc-macros included), binaries and all incremental state. Cargo names
/// these `<name>-<16 hex digits>`, so the patterns match that length exactly and never a
/// package whose name merely starts with a stand-in's.
fn removal(dirs: &[String], stand_ins: &[&PackageLayout]) -> String {
    const HASH: &str = "????????????????";
    let mut doomed = Vec::new();
    for dir in dirs {
        doomed.extend([format!("{dir}/incremental"), format!("{dir}/examples")]);
        for package in stand_ins {
            if !package.name.is_empty() {
                doomed.push(format!("{dir}/.fingerprint/{}-{HASH}", package.name));
                doomed.push(format!("{dir}/build/{}-{HASH}", package.name));
            }
            for krate in package.crate_names() {
                doomed.push(format!("{dir}/deps/lib{krate}-{HASH}*"));
                doomed.push(format!("{dir}/deps/{krate}-{HASH}*"));
            }
        }
    }
    // Globs stay unquoted so the shell expands them; names come from manifests, so quote
    // everything before the first wildcard.
    let quoted: Vec<String> = doomed
        .iter()
        .map(|p| match p.find('?') {
            Some(at) => format!("{}{}", shell::quote(&p[..at]), &p[at..]),
            None => shell::quote(p),
        })
        .collect();
    format!("rm -rf {}", quoted.join(" "))
}

/// Shell lines that seed an empty target cache from the dependency layer at [`DEPS_DIR`].
pub fn seed_script() -> Vec<String> {
    let target = shell::quote(TARGET_DIR);
    let deps = shell::quote(DEPS_DIR);
    vec![format!(
        "if [ -z \"$(ls -A {target})\" ]; then cp -a {deps}/. {target}/; fi"
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prebuild_commands_follow_the_step() {
        let p = args(&["app"]);
        assert_eq!(
            prebuild_command("build", &args(&["--bin", "app"]), &p).unwrap(),
            args(&["build", "-p", "app"]),
            "a discovered binary has no stand-in; the library builds the same dependencies"
        );
        assert_eq!(
            prebuild_command("build", &args(&["--example", "demo", "--bin=x"]), &p).unwrap(),
            args(&["build", "-p", "app", "--tests"])
        );
        assert_eq!(
            prebuild_command("test", &args(&["--workspace"]), &[]).unwrap(),
            args(&["test", "--no-run", "--workspace"])
        );
        assert_eq!(
            prebuild_command(
                "clippy",
                &args(&["--all-targets", "--", "-D", "warnings"]),
                &p
            )
            .unwrap(),
            args(&["check", "-p", "app", "--all-targets"])
        );
        assert_eq!(
            prebuild_command("bench", &args(&["--bench=x", "--bench", "y"]), &p).unwrap(),
            args(&["bench", "--no-run", "-p", "app", "--tests"])
        );
        assert_eq!(prebuild_command("doc", &[], &p), None);
    }
}
