//! An image step: a base (scratch, an image, or another target's result) plus artifacts
//! copied in from cargo steps, with its image config.

use crate::llb::{Copy, State};
use crate::spec::{BaseRef, ImageTarget};

use super::image_config::{image_config, HistoryStep, ImageSettings};
use super::{CompileError, Context, TargetResult};

/// Label that records which SDK an image's contents were built against.
pub const SDK_LABEL: &str = "dev.cachet.sdk";
/// Label prefix for the target cache key of each cargo step an image was built from.
pub const KEY_LABEL_PREFIX: &str = "dev.cachet.key.";

pub(super) fn compile(
    ctx: &mut Context<'_>,
    name: &str,
    step: &ImageTarget,
) -> Result<TargetResult, CompileError> {
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
            file = file.copy(
                Copy::new(artifacts, format!("/{}", copy.artifact), copy.to.clone())
                    .create_dest_path(true),
            );
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
    for (target, key) in &ctx.cargo_keys {
        labels.insert(format!("{KEY_LABEL_PREFIX}{target}"), key.hash.clone());
    }
    let settings = ImageSettings::from_target(step, &labels);
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
    Ok(TargetResult {
        state,
        image_config: Some(config),
    })
}
