//! An image step: a base (scratch, an image, or another target's result) plus artifacts
//! copied in from cargo steps, with its image config.

use std::collections::BTreeMap;

use serde_json::json;

use crate::llb::{Copy, State};
use crate::spec::{BaseRef, ImageTarget};

use super::image_config::{image_config, HistoryStep, ImageSettings};
use super::{CompileError, Context, StepKind, StepRecord, TargetResult};

/// Label that records which SDK an image's contents were built against.
pub const SDK_LABEL: &str = "dev.cachet.sdk";
/// Label prefix for the keys of each cargo step an image was built from:
/// `dev.cachet.key.<target>` is the key its target cache was chosen by, and
/// `dev.cachet.key.<target>.strict` / `.fast` are both keys, whichever mode was used.
pub const KEY_LABEL_PREFIX: &str = "dev.cachet.key.";
/// Label prefix for the key mode each cargo step ran under.
pub const MODE_LABEL_PREFIX: &str = "dev.cachet.mode.";
/// Label with the SDK's `rustc -vV` (when the frontend read it).
pub const RUSTC_LABEL: &str = "dev.cachet.rustc";
/// Label with the `sha256:` digest of the `Cargo.lock` the binaries were built from.
pub const CARGO_LOCK_LABEL: &str = "dev.cachet.cargo-lock";

pub(super) fn compile(
    ctx: &mut Context<'_>,
    name: &str,
    step: &ImageTarget,
) -> Result<TargetResult, CompileError> {
    super::attest::record_image(ctx, name, step);
    let (base, base_config) = match &step.from {
        BaseRef::Scratch => (State::scratch(), None),
        BaseRef::Image(reference) => {
            let (state, resolved) = ctx.image(reference)?;
            let config = resolved.config.clone();
            (state.with_image_config(&config)?, Some(config))
        }
        BaseRef::Target(t) => {
            let r = ctx
                .results
                .get(t)
                .ok_or_else(|| CompileError::Unresolved(format!("+{t}")))?;
            (r.state.clone(), r.image_config.clone())
        }
    };

    let mut history = Vec::new();
    let state = if step.copies.is_empty() {
        base
    } else {
        let mut file = base.file();
        let mut described = Vec::new();
        for copy in &step.copies {
            let artifacts = &ctx
                .results
                .get(&copy.from_target)
                .ok_or_else(|| CompileError::Unresolved(format!("+{}", copy.from_target)))?
                .state;
            let mut action = Copy::new(artifacts, format!("/{}", copy.artifact), copy.to.clone())
                .create_dest_path(true);
            // Files keep cargo's mtimes (the time of the build) unless SOURCE_DATE_EPOCH
            // fixes them, as it does the config's times: then the layer is the same bytes
            // whenever the artifacts are. (On BuildKit v0.8, dockerd 20.10, the directories a
            // copy creates still get the time of the build: see the README.)
            if let Some(epoch) = ctx.request.source_date_epoch {
                action = action.timestamp(epoch.saturating_mul(1_000_000_000));
            }
            file = file.copy(action);
            described.push(format!(
                "+{}/{} → {}",
                copy.from_target, copy.artifact, copy.to
            ));
        }
        let description = format!("copy {}", described.join(", "));
        history.push(HistoryStep {
            created_by: format!("cachet: {description}"),
            empty_layer: false,
        });
        file.custom_name(format!("[{name}] {description}"))
            .platform(ctx.request.platform.clone())
            .ignore_cache(ctx.ignore_cache(name))
            .build()?
    };

    let mut labels = ctx.request.labels.clone();
    labels.insert(SDK_LABEL.to_string(), ctx.sdk.clone());
    // The target cache key of every cargo step this image was built from.
    for (target, keys) in &ctx.cargo_keys {
        let prefix = format!("{KEY_LABEL_PREFIX}{target}");
        labels.insert(prefix.clone(), keys.selected().hash.clone());
        labels.insert(format!("{prefix}.strict"), keys.strict.hash.clone());
        labels.insert(format!("{prefix}.fast"), keys.fast.hash.clone());
        labels.insert(
            format!("{MODE_LABEL_PREFIX}{target}"),
            keys.mode.as_str().to_string(),
        );
    }
    if let Some(rustc) = &ctx.request.rustc_version {
        labels.insert(RUSTC_LABEL.to_string(), rustc.trim_end().to_string());
    }
    if let Some(lock) = super::attest::cargo_lock_digest(ctx) {
        labels.insert(CARGO_LOCK_LABEL.to_string(), lock);
    }
    let settings = ImageSettings::from_target(
        step,
        &oci_labels(ctx.request),
        &labels,
        ctx.request.source_date_epoch,
    );
    let platform = &ctx.request.platform;
    let config = image_config(
        base_config.as_deref(),
        &platform.os,
        &platform.architecture,
        platform.variant.as_deref(),
        &settings,
        &history,
    )
    .map_err(CompileError::ImageConfig)?;
    ctx.steps.push(StepRecord {
        kind: StepKind::Image,
        target: name.to_string(),
        name: format!("[{name}] image"),
        digest: state.digest().map(|d| d.to_string()).unwrap_or_default(),
        inputs: BTreeMap::from([
            ("from".to_string(), json!(base_name(&step.from))),
            (
                "copies".to_string(),
                json!(step
                    .copies
                    .iter()
                    .map(|c| format!("+{}/{} → {}", c.from_target, c.artifact, c.to))
                    .collect::<Vec<_>>()),
            ),
            (
                "config".to_string(),
                json!(crate::llb::Digest::of(&config).into_string()),
            ),
        ]),
        keys: None,
    });
    Ok(TargetResult {
        state,
        image_config: Some(config),
    })
}

/// Label prefix of the OCI image annotations Cachet derives from the request.
pub const OCI_LABEL_PREFIX: &str = "org.opencontainers.image.";

/// `org.opencontainers.image.{source,revision,created}` from the request's VCS information and
/// `SOURCE_DATE_EPOCH`; never a wall-clock time. A spec label or `--label` of the same name
/// wins (see `ImageSettings::from_target`).
fn oci_labels(request: &super::BuildRequest) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let values = [
        ("source", request.vcs_source.clone()),
        ("revision", request.vcs_revision.clone()),
        ("created", request.source_date_epoch.map(super::rfc3339)),
    ];
    for (name, value) in values {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            labels.insert(format!("{OCI_LABEL_PREFIX}{name}"), value);
        }
    }
    labels
}

fn base_name(base: &BaseRef) -> String {
    match base {
        BaseRef::Scratch => "scratch".to_string(),
        BaseRef::Image(r) => r.clone(),
        BaseRef::Target(t) => format!("+{t}"),
    }
}
