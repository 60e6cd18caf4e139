//! A cargo step: one exec in the SDK image that runs cargo against a keyed target cache and
//! copies the step's artifacts out of the cache into a layer.
//!
//! Layout inside the exec:
//! * `/cachet/src` — the sources snapshot, writable but discarded after the step (only mtimes
//!   change there, see [`super::freshness`]; `--locked` means a missing or stale
//!   `Cargo.lock` is an error, not a silent rewrite);
//! * `/cachet/target` — the target cache mount, id from [`crate::keys`], locked so concurrent
//!   builds of one key take turns (cargo would serialize them on its own lock anyway);
//! * `/cachet/vendor` — the fetch step's layer, read-only, when the lockfile has registry or
//!   git packages (see [`super::fetch_step`]); cargo reads it through `--config`;
//! * `/cachet/deps` — the step's dependency layer, read-only, copied into an *empty* target
//!   cache before cargo runs (see [`super::deps_step`]);
//! * `/cachet/helper` — `cachet-helper` from the frontend image, read-only: the freshness pass
//!   before cargo and the watch check after it (see [`super::freshness`]);
//! * `/cachet/out` — an empty writable mount whose result is the step's output: the artifacts,
//!   plus `cachet-provenance.json` recording the keys they were built under;
//! * `/cachet/why` — a second empty output mount, never part of the artifacts: what the why
//!   step after it reads (see [`super::why_step`]);
//! * `/tmp` — tmpfs.
//!
//! Under `--no-cache` (or `--no-cache-filter <this target>`) the script empties the target
//! cache mount before anything else, so cargo builds from nothing and the mount then holds
//! that clean build (see [`crate::keys`]); the progress name ends in [`FRESH_SUFFIX`].
//!
//! The sources snapshot holds only what this step's packages need (see [`crate::project`]).
//! Compile steps run without network and `--offline`, with the SDK's own `CARGO_HOME`
//! untouched: whatever they produce depends only on what is in their keys.
//!
//! Cargo always gets `--target <triple>` for the target platform's triple (a key input, see
//! [`super::triple`]), whether the step cross-compiles on the build platform (with the cross
//! environment and a check that the SDK has the triple's std, see [`super::cross`]) or runs
//! natively. Without it cargo treats the host as
//! the target, and RUSTFLAGS also reach build scripts and proc-macros: with
//! `-C target-feature=+crt-static` (a static binary for a `scratch` image) rustc refuses to
//! build any proc-macro (`cannot produce proc-macro … as the target … does not support these
//! crate types`), so every project with a derive would fail. With `--target`, RUSTFLAGS reach
//! only code built for the target; build scripts, proc-macros and their dependencies are host
//! code built normally under `target/<profile>/`, and the target's artifacts land in
//! `target/<triple>/<profile>/`, which is what a step's `artifacts` paths are relative to.

use std::collections::BTreeMap;

use serde_json::json;

use crate::keys::{step_tag, TargetKeyInputs, TargetKeys};
use crate::llb::{CacheSharing, Mkfile, Mount, NetMode, State};
use crate::spec::{cargo_args, CargoTarget, Spec};

use super::deps_step;
use super::fetch_step::{self, VENDOR_CONFIG, VENDOR_DIR};
use super::step_script::StepScript;
use super::{freshness, shell, test_report, volatile_env, why_step};
use super::{CompileError, Context, StepKind, StepRecord, TargetResult};

pub const SRC_DIR: &str = "/cachet/src";
pub const TARGET_DIR: &str = "/cachet/target";
pub const OUT_DIR: &str = "/cachet/out";
/// Ends the progress name of a step that runs from nothing under `--no-cache`.
pub const FRESH_SUFFIX: &str = " (--no-cache: fresh target cache)";

/// Subcommands that compile: they take `--profile`, `--features` and friends, and `--target`.
/// (`cargo clippy` hands its flags to `cargo check`; `run` and `fix` build like `build`.)
pub(super) const BUILDING_SUBCOMMANDS: &[&str] = &[
    "build", "b", "check", "c", "test", "t", "bench", "clippy", "doc", "d", "rustc", "rustdoc",
    "run", "r", "fix",
];

/// Subcommands that compile nothing but take `--target` to choose the platform they look at
/// (`tree` filters dependencies by it, `fetch` downloads what it needs; both default to the
/// host, which is the same triple here, so this only keeps them in step with the builds).
/// Others (`metadata`, `fmt`, `clean`, …) get no Cachet flags: `metadata` and `fmt` have no
/// `--target`, and `clean --target` would clean only that triple's directory.
const TARGET_SUBCOMMANDS: &[&str] = &["tree", "fetch"];

/// What `[cargo] reproducible` adds to RUSTFLAGS: every path a cargo step compiles under is
/// remapped to a fixed relative name (`cargo_home` is the SDK's), so binaries carry no path of
/// Cachet's layout or the SDK's in their debug info and panic locations. The sources become
/// `.` (cargo already names workspace files relative to it), vendored crates `vendor/<crate>`,
/// build-script output `target/…`. rustc applies the last matching prefix; none of these
/// nests in another.
pub fn remap_rustflags(cargo_home: &str) -> Vec<String> {
    [
        (SRC_DIR, "."),
        (VENDOR_DIR, "vendor"),
        (TARGET_DIR, "target"),
        (cargo_home, "cargo-home"),
    ]
    .iter()
    .map(|(from, to)| format!("--remap-path-prefix={from}={to}"))
    .collect()
}

/// The directory under a target dir where cargo puts a profile's final artifacts.
pub fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

/// Where the target's artifacts of `profile` are under the target cache:
/// `/cachet/target/<triple>/<profile dir>`. A step's `artifacts` are relative to it.
pub fn artifact_dir(triple: &str, profile: &str) -> String {
    format!("{TARGET_DIR}/{triple}/{}", profile_dir(profile))
}

/// Where host code of `profile` is built: build scripts, proc-macros and their dependencies,
/// `/cachet/target/<profile dir>` (cargo keeps host and target apart under `--target`, even
/// when they are the same triple).
pub fn host_dir(profile: &str) -> String {
    format!("{TARGET_DIR}/{}", profile_dir(profile))
}

pub(super) fn compile(
    ctx: &mut Context<'_>,
    name: &str,
    step: &CargoTarget,
) -> Result<TargetResult, CompileError> {
    super::attest::record_cargo_roots(ctx, name, &step.args);
    let spec = ctx.spec;
    let cargo = &spec.cargo;
    let mut env = cargo.env.clone();
    env.extend(step.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    // `[cargo] volatile-env` this step actually sets: keyed by name, not value (keys.rs).
    let volatile: Vec<String> = cargo
        .volatile_env
        .iter()
        .filter(|name| env.contains_key(*name))
        .cloned()
        .collect();
    let keyed_env: BTreeMap<String, String> = env
        .iter()
        .filter(|(name, _)| !volatile.contains(name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let network = match ctx.request.network_override {
        Some(NetMode::Host) => NetMode::Host,
        _ => NetMode::None,
    };
    // The platform's CPU level (linux/amd64/v2 …) is a codegen flag like any other.
    let mut rustflags = super::triple::platform_rustflags(&ctx.request.platform);
    if cargo.reproducible {
        rustflags.extend(remap_rustflags(&fetch_step::sdk_cargo_home(
            &ctx.sdk_state()?,
        )));
    }
    rustflags.extend(cargo.rustflags.iter().cloned());
    // A cross step gets the target triple's linker and C toolchain (see `cross.rs`).
    let cross_env = if ctx.steps_on.cross {
        super::cross::cross_env(spec, ctx.triple)
    } else {
        BTreeMap::new()
    };
    let inputs = TargetKeyInputs {
        project: spec.project.clone(),
        sdk: ctx.sdk.clone(),
        platform: ctx.request.platform.to_string(),
        triple: ctx.triple.to_string(),
        profile: cargo.profile.clone(),
        features: cargo.features.clone(),
        default_features: cargo.default_features,
        rustflags: rustflags.clone(),
        env: keyed_env,
        toolchain_files: ctx.layout.toolchain_files.clone(),
        cargo_config: ctx.layout.cargo_config.clone(),
        network: network.as_str().to_string(),
        volatile_env: volatile.clone(),
        cargo_args: cargo_args::keyed_args(&step.args),
        build_platform: if ctx.steps_on.cross {
            ctx.steps_on.platform.to_string()
        } else {
            String::new()
        },
        emulated: ctx.steps_on.emulated,
        cross_env: cross_env.clone(),
        source_date_epoch: ctx.request.source_date_epoch,
        contexts: spec.contexts.clone(),
    };
    let keys = inputs.keys(cargo.mode)?;
    let key = keys.selected().clone();

    let vendor = fetch_step::vendored(ctx)?;
    let display = cargo_command(ctx, step);
    let mut command: Vec<String> = vec!["cargo".into(), "--locked".into(), "--offline".into()];
    if vendor.is_some() {
        command.extend(["--config".to_string(), VENDOR_CONFIG.to_string()]);
    }
    command.extend(display.iter().skip(1).cloned());

    // The environment cargo runs in, shared with the dependency layer so its fingerprints
    // match exactly.
    let mut exec_env: Vec<(String, String)> = vec![
        ("CACHET_SDK".into(), ctx.sdk.clone()),
        ("CARGO_TARGET_DIR".into(), TARGET_DIR.into()),
        ("CARGO_TERM_COLOR".into(), "never".into()),
    ];
    if !rustflags.is_empty() {
        // The unit-separated form keeps flags with spaces intact.
        exec_env.push(("CARGO_ENCODED_RUSTFLAGS".into(), rustflags.join("\u{1f}")));
    }
    // Before the spec's env, which may set the same names and then wins.
    exec_env.extend(cross_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Some(epoch) = ctx.request.source_date_epoch {
        exec_env.push(("SOURCE_DATE_EPOCH".into(), epoch.to_string()));
    }
    // The layers never see volatile values, so a new value never re-runs them.
    let layer_env: Vec<(String, String)> = exec_env
        .iter()
        .cloned()
        .chain(
            env.iter()
                .filter(|(name, _)| !volatile.contains(name))
                .map(|(k, v)| (k.clone(), v.clone())),
        )
        .collect();
    exec_env.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    // Whether the step has a dependency layer is the plan's (see `plan.rs`).
    let deps = if ctx.plan.has(name, StepKind::Dependencies) {
        let flags = owned_flags(spec, ctx.triple, step.subcommand());
        Some(deps_step::layer(ctx, name, step, &layer_env, &flags)?)
    } else {
        None
    };

    if let Some(layer) = &deps {
        ctx.dependency_layer_of
            .insert(name.to_string(), layer.clone());
    }
    // `--no-cache` for this target: its target cache is emptied first (see the module docs).
    let fresh = ctx.ignore_cache(name);
    let mut script = vec!["set -eu".to_string()];
    script.extend(why_step::before_lines(TARGET_DIR, fresh));
    if ctx.steps_on.cross {
        script.extend(super::cross::std_check_script(
            ctx.triple,
            &format!("[{name}]"),
        ));
    }
    if deps.is_some() {
        script.extend(deps_step::seed_script());
    }
    let state_dir = format!("{TARGET_DIR}/{}", freshness::STATE_DIR_NAME);
    let vendored = ctx.vendored()?;
    // The pass also lists the sources it saw, for the why step (see `why_step`).
    script.extend(freshness::script(
        &state_dir,
        freshness::NewContent::Now,
        &ctx.layout.config_dirs,
        &vendored.as_ref().map(|v| v.premade()).unwrap_or_default(),
        Some(&why_step::sources_file()),
    ));
    script.extend(super::named_contexts::freshness_lines(
        spec,
        &state_dir,
        freshness::NewContent::Now,
    ));
    let volatile_dirs = volatile_env::Dirs {
        target: TARGET_DIR,
        host: &host_dir(&cargo.profile),
        state: &format!("{state_dir}/volatile-env"),
    };
    script.extend(volatile_env::before_cargo(&volatile, volatile_dirs));
    let tests = test_report::runs_tests(step.subcommand());
    if tests {
        script.extend(test_report::run_lines(name));
    } else {
        script.push("\"$@\"".to_string());
    }
    script.extend(volatile_env::after_cargo(&volatile, volatile_dirs));
    let selected = ctx.layout.select(&step.args);
    let plan = ctx.layout.source_snapshot(selected.as_ref(), &spec.include);
    if let Some(check) = watch_check(ctx, selected.as_ref(), &plan, vendored.as_ref()) {
        script.push(check);
    }
    let from_dir = artifact_dir(ctx.triple, &cargo.profile);
    for (artifact, path) in &step.artifacts {
        let src = format!("{from_dir}/{path}");
        let dest = format!("{OUT_DIR}/{artifact}");
        script.push(shell::join(&["cp".into(), "-pR".into(), src, dest]));
    }

    let sdk = ctx.sdk_state()?;
    let snapshot_name = match &selected {
        Some(dirs) if ctx.layout.workspace.is_some() => format!(
            "sources of {}",
            dirs.iter()
                .map(|d| if d.is_empty() { "." } else { d.as_str() })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "sources".to_string(),
    };
    let sources = ctx.guarded_snapshot(&plan, &snapshot_name)?;
    let tag = step_tag(&key.hash, &command)?;
    let mut progress_name = format!("[{name}] {} · {tag}", shell::join(&display));
    if fresh {
        progress_name.push_str(FRESH_SUFFIX);
    }
    let script = StepScript::new(
        "cargo.sh",
        &script,
        &ctx.step_platform(),
        &format!("[{name}]"),
    )?;
    let mut exec = sdk
        .run(script.argv(&command))
        .cwd(SRC_DIR)
        .mount(script.mount())
        .mount(ctx.helper_mount()?);
    for (k, v) in &exec_env {
        exec = exec.env(k.clone(), v.clone());
    }
    exec = exec
        .mount(Mount::bind(SRC_DIR, &sources).no_output())
        .mount(Mount::cache(TARGET_DIR, key.mount_id.clone()).sharing(CacheSharing::Locked))
        .mount(Mount::bind(OUT_DIR, &State::scratch()))
        // What the why step reads: never part of the artifacts.
        .mount(Mount::bind(why_step::RUN_DIR, &State::scratch()))
        // Scratch files (the freshness manifest's work files, build-script temp files) stay out
        // of every layer.
        .mount(Mount::tmpfs("/tmp"));
    if let Some(vendor) = &vendor {
        exec = exec.mount(Mount::bind(VENDOR_DIR, vendor).readonly());
    }
    for mount in vendored.iter().flat_map(|v| v.mounts(SRC_DIR)) {
        exec = exec.mount(mount);
    }
    if let Some(deps) = &deps {
        exec = exec.mount(Mount::bind(deps_step::DEPS_DIR, deps).readonly());
    }
    for mount in ctx.named_context_mounts()? {
        exec = exec.mount(mount);
    }
    let exec = exec
        .network(network)
        .platform(ctx.step_platform())
        .ignore_cache(ctx.ignore_cache(name))
        .custom_name(progress_name.clone())
        .build()?;
    let mut recorded: BTreeMap<String, serde_json::Value> = match serde_json::to_value(&inputs) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    recorded.insert("mode".into(), json!(cargo.mode));
    recorded.insert("command".into(), json!(command));
    recorded.insert("sources".into(), json!(plan));
    recorded.insert("network".into(), json!(network.as_str()));
    // Keyed by BuildKit on the helper's content (see `keys.rs`), so `explain` names it.
    // Normalised as the image source is, so `cachet/frontend:dev` and its docker.io spelling
    // record the same helper (the frontend normalises opt `source`, the CLI takes it as given).
    let helper = &ctx.request.helper;
    let helper_name = crate::llb::ImageRef::parse(&helper.reference)?.to_string();
    recorded.insert(
        "helper".into(),
        json!(format!("{helper_name}@{}", helper.resolved.digest)),
    );
    if let Some(v) = &vendor {
        recorded.insert(
            "fetch".into(),
            json!(v.digest().map(|d| d.to_string()).unwrap_or_default()),
        );
    }
    let why_out = why_step::step(
        ctx,
        &exec.get_mount(why_step::RUN_DIR)?,
        &why_step::Why {
            target: name,
            inputs: &recorded,
            target_cache: &key.mount_id,
            seeded: deps.is_some(),
        },
    )?;
    let provenance = provenance(
        ctx,
        &Record {
            target: name,
            keys: &keys,
            command: &command,
            display: &display,
            rustflags: &rustflags,
            env: &env,
            vendored: vendor.is_some(),
        },
    );
    // The record of what the artifacts were built against travels with them (and with
    // `--output type=local`); its name has a dot, which artifact names cannot have. The copy
    // of nothing from the why step makes it part of the result (see `why_step`).
    let artifacts = exec
        .get_mount(OUT_DIR)?
        .file()
        .mkfile(Mkfile::new(PROVENANCE_FILE, 0o644, provenance))
        .copy(why_step::reach(&why_out))
        .custom_name(format!("[{name}] record provenance"))
        .platform(ctx.step_platform())
        .build()?;
    ctx.steps.push(StepRecord {
        kind: StepKind::Cargo,
        target: name.to_string(),
        name: progress_name,
        digest: exec.digest().to_string(),
        inputs: recorded,
        keys: Some(keys.clone()),
    });
    ctx.cargo_keys.insert(name.to_string(), keys);
    Ok(TargetResult {
        state: artifacts,
        image_config: None,
    })
}

/// The check after cargo that the build scripts of the step's workspace packages watch only
/// paths its sources hold (see [`super::freshness`]); `None` when the snapshot is the whole
/// context (the layout is unknown), which holds every path there is.
fn watch_check(
    ctx: &Context<'_>,
    selected: Option<&std::collections::BTreeSet<String>>,
    plan: &crate::project::SnapshotPlan,
    vendored: Option<&super::vendored::Vendored>,
) -> Option<String> {
    let workspace = ctx.layout.workspace.as_ref()?;
    if plan.include.is_empty() {
        return None;
    }
    // A vendored tree is mounted with every mtime fixed (see `vendored.rs`): a workspace
    // build script watching a file in it could never see it change, so such a watch fails the
    // step like one outside the snapshot.
    let include: Vec<String> = plan
        .include
        .iter()
        .filter(|p| !vendored.is_some_and(|v| v.plan.holds(p)))
        .cloned()
        .collect();
    let packages = workspace
        .packages
        .values()
        .filter(|p| !p.name.is_empty() && selected.is_none_or(|s| s.contains(&p.dir)))
        .map(|p| (p.name.clone(), p.dir.clone()))
        .collect();
    Some(
        freshness::WatchCheck {
            spec_file: &ctx.request.spec_file,
            src_dir: SRC_DIR,
            target_dir: TARGET_DIR,
            packages,
            include: &include,
            exclude: &ctx.excluded,
        }
        .script(),
    )
}

/// File in every cargo step's output that records its keys.
pub const PROVENANCE_FILE: &str = "/cachet-provenance.json";

/// What a cargo step's `cachet-provenance.json` records.
struct Record<'a> {
    target: &'a str,
    keys: &'a TargetKeys,
    /// The exact command that ran (`--locked --offline`, the vendored sources' config).
    command: &'a [String],
    /// The command as progress names show it.
    display: &'a [String],
    rustflags: &'a [String],
    /// Every variable the spec gives cargo, with its value (volatile ones too: they are
    /// values, not secrets; secrets reach only the fetch step, never this record).
    env: &'a BTreeMap<String, String>,
    vendored: bool,
}

/// Deterministic JSON: the step, the exact command, the toolchain (`rustc -vV`), the
/// lockfile's digest, RUSTFLAGS and env values, and both keys it was computed under. The same
/// facts reach BuildKit's provenance (mode=max records this file's `mkfile` and the cargo
/// exec) and an image's labels.
fn provenance(ctx: &Context<'_>, r: &Record<'_>) -> Vec<u8> {
    let record = json!({
        "target": r.target,
        "command": r.command,
        "command_display": r.display,
        "vendored_sources_config": if r.vendored { Some(VENDOR_CONFIG) } else { None },
        "sdk": ctx.sdk,
        "rustc_version": ctx.request.rustc_version,
        "cargo_lock": super::attest::cargo_lock_digest(ctx),
        "platform": ctx.request.platform.to_string(),
        "triple": ctx.triple,
        "profile": ctx.spec.cargo.profile,
        "features": ctx.spec.cargo.features,
        "default_features": ctx.spec.cargo.default_features,
        "rustflags": r.rustflags,
        "env": r.env,
        "key_schema": crate::keys::KEY_SCHEMA,
        "mode": r.keys.mode,
        "target_key": r.keys.selected().hash,
        "target_cache": r.keys.selected().mount_id,
        "strict_key": r.keys.strict.hash,
        "fast_key": r.keys.fast.hash,
    });
    let mut record = record;
    if ctx.steps_on.cross || ctx.steps_on.emulated {
        // Only then: native builds keep their provenance (and LLB) byte for byte.
        record["build_platform"] = json!(ctx.steps_on.platform.to_string());
        record["emulated"] = json!(ctx.steps_on.emulated);
    }
    // A `Value`'s pretty `Display` is `to_string_pretty` and cannot fail: never an empty record.
    format!("{record:#}\n").into_bytes()
}

/// The flags Cachet owns for `subcommand`, as passed to cargo: `--profile P [--features …]
/// [--no-default-features] --target <triple>` for a subcommand that compiles, `--target
/// <triple>` for one that only takes that, nothing for the rest. The dependency layer gets the
/// same flags as the step it serves, so its fingerprints match exactly.
pub(super) fn owned_flags(spec: &Spec, triple: &str, subcommand: &str) -> Vec<String> {
    let target = ["--target".to_string(), triple.to_string()];
    if TARGET_SUBCOMMANDS.contains(&subcommand) {
        return target.to_vec();
    }
    if !BUILDING_SUBCOMMANDS.contains(&subcommand) {
        return Vec::new();
    }
    let cargo = &spec.cargo;
    let mut flags = vec!["--profile".to_string(), cargo.profile.clone()];
    if !cargo.features.is_empty() {
        flags.extend(["--features".to_string(), cargo.features.join(",")]);
    }
    if !cargo.default_features {
        flags.push("--no-default-features".into());
    }
    flags.extend(target);
    flags
}

/// `cargo <subcommand> [the flags Cachet owns] <user args>`: the command as the user thinks of
/// it (progress names, provenance); the step adds `--locked --offline` and the vendored
/// sources' config.
fn cargo_command(ctx: &Context<'_>, step: &CargoTarget) -> Vec<String> {
    let mut command: Vec<String> = vec!["cargo".into()];
    let mut args = step.args.iter();
    let subcommand = args.next().cloned().unwrap_or_default();
    let owned = owned_flags(ctx.spec, ctx.triple, &subcommand);
    command.push(subcommand);
    command.extend(owned);
    command.extend(args.cloned());
    command
}
