//! The image config (`containerimage.config`) of an image target.
//!
//! Built on `oci-spec`'s types: the base image's config (when there is one) is the starting
//! point, so its Env, history and the rest carry over; the spec's settings are laid on top with
//! Dockerfile semantics (setting an entrypoint clears an inherited cmd). Serialized with sorted
//! keys and no creation time, so an unchanged build gives a byte-identical config and image id.

use std::collections::BTreeMap;

use oci_spec::image::{Arch, Config, History, ImageConfiguration, Os};

use crate::spec::ImageTarget;

/// What an image step adds on top of its base.
#[derive(Debug, Clone, Default)]
pub struct ImageSettings {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

impl ImageSettings {
    pub fn from_target(
        target: &ImageTarget,
        extra_labels: &BTreeMap<String, String>,
    ) -> ImageSettings {
        let mut labels = target.labels.clone();
        labels.extend(extra_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        ImageSettings {
            entrypoint: target.entrypoint.clone(),
            cmd: target.cmd.clone(),
            workdir: target.workdir.clone(),
            user: target.user.clone(),
            env: target.env.clone(),
            labels,
        }
    }
}

/// One layer (or metadata-only step) this build adds, for the config's history.
#[derive(Debug, Clone)]
pub struct HistoryStep {
    pub created_by: String,
    pub empty_layer: bool,
}

/// Builds the config JSON. `base` is the base image's raw config (`None` for scratch);
/// `os`/`architecture`/`variant` describe the target platform.
/// The config of a base image nobody resolved (the `llb-gen` CLI without `--image`, the fuzz
/// harness): `compile` reads a base image's config as an OCI image configuration, which must
/// name `architecture`, `os` and `rootfs` (`{}` is refused).
pub fn minimal_base_config(platform: &crate::llb::Platform) -> Vec<u8> {
    serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "rootfs": {"type": "layers", "diff_ids": []},
    })
    .to_string()
    .into_bytes()
}

pub fn image_config(
    base: Option<&[u8]>,
    os: &str,
    architecture: &str,
    variant: Option<&str>,
    settings: &ImageSettings,
    steps: &[HistoryStep],
) -> Result<Vec<u8>, String> {
    let mut image: ImageConfiguration = match base {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| format!("the base image's config is not valid JSON: {e}"))?,
        None => ImageConfiguration::default(),
    };
    image.set_os(Os::from(os));
    image.set_architecture(Arch::from(architecture));
    image.set_variant(variant.map(str::to_string));
    image.set_created(None);

    let mut config = image.config().clone().unwrap_or_else(default_config);
    if !settings.env.is_empty() {
        let mut env: Vec<String> = config.env().clone().unwrap_or_default();
        for (key, value) in &settings.env {
            let entry = format!("{key}={value}");
            match env
                .iter_mut()
                .find(|e| e.split('=').next() == Some(key.as_str()))
            {
                Some(existing) => *existing = entry,
                None => env.push(entry),
            }
        }
        config.set_env(Some(env));
    }
    if let Some(entrypoint) = &settings.entrypoint {
        config.set_entrypoint(Some(entrypoint.clone()));
        // As in a Dockerfile: a new entrypoint does not inherit the base image's arguments.
        config.set_cmd(None);
    }
    if let Some(cmd) = &settings.cmd {
        config.set_cmd(Some(cmd.clone()));
    }
    if let Some(workdir) = &settings.workdir {
        config.set_working_dir(Some(workdir.clone()));
    }
    if let Some(user) = &settings.user {
        config.set_user(Some(user.clone()));
    }
    if !settings.labels.is_empty() {
        let mut labels = config.labels().clone().unwrap_or_default();
        labels.extend(settings.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        config.set_labels(Some(labels));
    }
    image.set_config(Some(config));

    let mut history = image.history().clone().unwrap_or_default();
    for step in steps {
        let mut entry = History::default();
        entry.set_created_by(Some(step.created_by.clone()));
        entry.set_comment(Some("cachet".to_string()));
        entry.set_empty_layer(step.empty_layer.then_some(true));
        history.push(entry);
    }
    image.set_history(Some(history));

    // Through serde_json::Value, whose objects are sorted maps: labels come out in a stable
    // order although oci-spec keeps them in a HashMap.
    let value =
        serde_json::to_value(&image).map_err(|e| format!("cannot encode the image config: {e}"))?;
    serde_json::to_vec(&value).map_err(|e| format!("cannot encode the image config: {e}"))
}

/// What a scratch image starts with: the PATH every Linux image is expected to have.
fn default_config() -> Config {
    let mut config = Config::default();
    config.set_env(Some(vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
    ]));
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const BASE: &str = r#"{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z",
        "config":{"Env":["PATH=/usr/bin","LANG=C"],"Cmd":["bash"],"WorkingDir":"/root","Labels":{"base":"1"}},
        "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
        "history":[{"created_by":"import","comment":"base"}]}"#;

    fn settings() -> ImageSettings {
        ImageSettings {
            entrypoint: Some(vec!["/app".into()]),
            env: BTreeMap::from([
                ("LANG".into(), "C.UTF-8".into()),
                ("RUST_LOG".into(), "info".into()),
            ]),
            labels: BTreeMap::from([("z".into(), "1".into()), ("a".into(), "2".into())]),
            ..Default::default()
        }
    }

    fn build(base: Option<&str>) -> Value {
        let steps = [HistoryStep {
            created_by: "copy +build/app".into(),
            empty_layer: false,
        }];
        let bytes = image_config(
            base.map(str::as_bytes),
            "linux",
            "amd64",
            None,
            &settings(),
            &steps,
        )
        .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn settings_layer_over_the_base_config() {
        let c = build(Some(BASE));
        assert_eq!(
            c["config"]["Env"],
            serde_json::json!(["PATH=/usr/bin", "LANG=C.UTF-8", "RUST_LOG=info"])
        );
        assert_eq!(c["config"]["Entrypoint"], serde_json::json!(["/app"]));
        assert!(
            c["config"].get("Cmd").is_none(),
            "an entrypoint clears the inherited cmd"
        );
        assert_eq!(c["config"]["WorkingDir"], "/root");
        assert_eq!(
            c["config"]["Labels"],
            serde_json::json!({"a": "2", "base": "1", "z": "1"})
        );
        assert_eq!(
            c["history"].as_array().unwrap().len(),
            2,
            "base history is carried over"
        );
        assert_eq!(c["history"][1]["created_by"], "copy +build/app");
        assert!(
            c.get("created").is_none(),
            "no wall-clock time in the config"
        );
    }

    #[test]
    fn scratch_gets_a_default_path_and_the_platform() {
        let c = build(None);
        assert_eq!(c["architecture"], "amd64");
        assert_eq!(c["os"], "linux");
        assert_eq!(
            c["config"]["Env"][0],
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        );
    }

    #[test]
    fn output_is_byte_stable() {
        let steps = [HistoryStep {
            created_by: "x".into(),
            empty_layer: true,
        }];
        let a = image_config(
            Some(BASE.as_bytes()),
            "linux",
            "amd64",
            None,
            &settings(),
            &steps,
        )
        .unwrap();
        for _ in 0..5 {
            let b = image_config(
                Some(BASE.as_bytes()),
                "linux",
                "amd64",
                None,
                &settings(),
                &steps,
            )
            .unwrap();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn a_broken_base_config_is_an_error() {
        assert!(image_config(Some(b"{"), "linux", "amd64", None, &settings(), &[]).is_err());
    }
}
