//! The SDK setup step: `[sdk] packages` and `[sdk] setup` extend the SDK image once, and the
//! result is the SDK every other step runs in.
//!
//! Why: a `-sys` crate's build script runs `make`, `cmake` or `pkg-config`, or links against
//! `libssl-dev`; an SDK without them fails with `No such file or directory`, and the only way
//! out used to be building and pushing an SDK image of one's own. Now the spec names what the
//! SDK lacks and Cachet adds it in one exec on the resolved image (pinned by digest):
//! `apt-get update`, `apt-get install -y --no-install-recommends <packages>` with apt's lists
//! removed afterwards, then each setup command in its own `sh -e`. It runs as root (installing
//! packages needs it; the other steps keep the image's `User`), with the network (BuildKit's
//! sandbox network, or the host's with `--network=host`, as the fetch step), and `/tmp` is a
//! tmpfs so scratch files stay out of the SDK.
//!
//! Its root filesystem, with the image's Env, WorkingDir and User, becomes `Context::sdk_state`:
//! fetch, dependency layers and cargo steps all run on it. The build's SDK identity is then a
//! digest over the image identity, the packages, the commands and this step's script
//! ([`crate::keys::extended_sdk_identity`]; `keys.rs` says what it deliberately leaves out), so a
//! changed setup is a new `CACHET_SDK` in every exec and a new target cache mount for every
//! cargo step. BuildKit caches the step itself like a Dockerfile `RUN`.
//!
//! The commands are the exec's arguments (`"$@"`), so a failed setup reads `process "/bin/sh
//! /cachet/step/sdk-setup.sh <commands>" did not complete successfully`, and each part prints
//! what it is about to run just above its own output.

use std::collections::BTreeMap;

use serde_json::json;

use crate::keys::{extended_sdk_identity, KeyError, SdkSetupInputs};
use crate::llb::{Mount, NetMode, State};
use crate::spec::SdkRef;

use super::step_script::StepScript;
use super::{shell, CompileError, Context, StepKind, StepRecord};

/// What the setup step is called in `--no-cache-filter`, explanations and progress.
pub const STEP_TARGET: &str = "sdk";
const SCRIPT_FILE: &str = "sdk-setup.sh";
/// The user the setup runs as: root, by number, so it works without an `/etc/passwd` entry.
const SETUP_USER: &str = "0:0";

/// The setup step's script, or `None` when the spec does not extend the SDK.
pub(super) fn script(sdk: &SdkRef) -> Option<Vec<String>> {
    if !sdk.is_extended() {
        return None;
    }
    let mut lines = vec!["set -eu".to_string()];
    if !sdk.packages.is_empty() {
        let install: Vec<String> = ["apt-get", "install", "-y", "--no-install-recommends"]
            .iter()
            .map(|s| s.to_string())
            .chain(sdk.packages.iter().cloned())
            .collect();
        lines.extend([
            format!(
                "printf '%s\\n' {}",
                shell::quote(&format!("[sdk] {}", shell::join(&install)))
            ),
            "export DEBIAN_FRONTEND=noninteractive".to_string(),
            "apt-get update".to_string(),
            shell::join(&install),
            "rm -rf /var/lib/apt/lists/*".to_string(),
        ]);
    }
    lines.push(
        "for cachet_command in \"$@\"; do printf '[sdk] setup: %s\\n' \"$cachet_command\"; \
         /bin/sh -ec -- \"$cachet_command\"; done"
            .to_string(),
    );
    Some(lines)
}

/// The build's SDK identity: `image` (the resolved image's) unless the spec extends it.
pub(super) fn identity(sdk: &SdkRef, image: &str) -> Result<String, KeyError> {
    match script(sdk) {
        Some(lines) => extended_sdk_identity(
            image,
            &SdkSetupInputs {
                packages: &sdk.packages,
                setup: &sdk.setup,
                script: &lines.join("\n"),
            },
        ),
        None => Ok(image.to_string()),
    }
}

/// `image` (the SDK image with its config applied) extended by the spec's setup, or `image`
/// itself when there is none. `image_identity` keys the setup exec ([`crate::keys`]).
pub(super) fn extend(
    ctx: &mut Context<'_>,
    image: State,
    image_identity: &str,
) -> Result<State, CompileError> {
    let sdk = &ctx.spec.sdk;
    let Some(lines) = script(sdk) else {
        return Ok(image);
    };
    let prefix = format!("[{STEP_TARGET}]");
    let script = StepScript::new(SCRIPT_FILE, &lines, &ctx.step_platform(), &prefix)?;
    let network = ctx.request.network_override.unwrap_or(NetMode::Sandbox);
    // The tag is the start of the identity it produces, as `CACHET_SDK` shows it.
    let tag: String = ctx
        .sdk
        .trim_start_matches("sha256:")
        .chars()
        .take(6)
        .collect();
    let name = format!("{prefix} setup · {tag}");
    let exec = image
        .run(script.argv(&sdk.setup))
        .user(SETUP_USER)
        .mount(script.mount())
        .env("CACHET_SDK", image_identity)
        .mount(Mount::tmpfs("/tmp"))
        .network(network)
        .platform(ctx.step_platform())
        .ignore_cache(ctx.ignore_cache(STEP_TARGET))
        .custom_name(name.clone())
        .build()?;
    ctx.steps.push(StepRecord {
        target: STEP_TARGET.to_string(),
        kind: StepKind::SdkSetup,
        name,
        digest: exec.digest().to_string(),
        inputs: BTreeMap::from([
            ("image".to_string(), json!(sdk.image)),
            ("image_identity".to_string(), json!(image_identity)),
            ("packages".to_string(), json!(sdk.packages)),
            ("setup".to_string(), json!(sdk.setup)),
            ("network".to_string(), json!(network.as_str())),
        ]),
        keys: None,
    });
    // The root keeps the image's Env, WorkingDir and User for the steps that run on it.
    Ok(exec.root())
}
