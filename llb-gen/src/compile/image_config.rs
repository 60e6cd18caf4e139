//! The image config (`containerimage.config`) of an image target.
//!
//! Built on `oci-spec`'s types: the base image's config (when there is one) is the starting
//! point, so its Env, history and the rest carry over; the spec's settings are laid on top with
//! Dockerfile semantics (setting an entrypoint clears an inherited cmd). Serialized with sorted
//! keys and no creation time, so an unchanged build gives a byte-identical config and image id.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::image::{Arch, Config, History, ImageConfiguration, Os};
use serde_json::{json, Map, Value};

use crate::spec::{Healthcheck, ImageTarget};

/// Docker config fields the OCI config type has no place for, carried over from the base
/// image's config as they were: the health check (unless the spec sets one) and the shell a
/// `CMD-SHELL` health check runs in.
const DOCKER_ONLY_FIELDS: [&str; 2] = ["Healthcheck", "Shell"];

/// What an image step adds on top of its base.
#[derive(Debug, Clone, Default)]
pub struct ImageSettings {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `PORT/protocol`, added to the base image's.
    pub expose: BTreeSet<String>,
    /// Volume mount points, added to the base image's.
    pub volumes: BTreeSet<String>,
    pub stop_signal: Option<String>,
    /// Replaces the base image's (`["NONE"]` included, which disables it).
    pub healthcheck: Option<Healthcheck>,
    /// `SOURCE_DATE_EPOCH`: the config's `created` and the time of the history entries this
    /// build adds. Without it neither has a time, so the config stays byte-stable.
    pub created: Option<i64>,
}

impl ImageSettings {
    /// The target's settings, with labels layered lowest first: `oci` (the
    /// `org.opencontainers.image.*` labels Cachet derives), the target's own `labels`, then
    /// `extra` (`--label` and Cachet's key labels).
    pub fn from_target(
        target: &ImageTarget,
        oci: &BTreeMap<String, String>,
        extra: &BTreeMap<String, String>,
        created: Option<i64>,
    ) -> ImageSettings {
        let mut labels = oci.clone();
        labels.extend(target.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        labels.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        ImageSettings {
            entrypoint: target.entrypoint.clone(),
            cmd: target.cmd.clone(),
            workdir: target.workdir.clone(),
            user: target.user.clone(),
            env: target.env.clone(),
            labels,
            expose: target.expose.clone(),
            volumes: target.volumes.clone(),
            stop_signal: target.stop_signal.clone(),
            healthcheck: target.healthcheck.clone(),
            created,
        }
    }
}

/// `seconds` since the Unix epoch as RFC 3339 in UTC (`2023-11-14T22:13:20Z`), the form an
/// image config's `created` takes. Proleptic Gregorian calendar (Howard Hinnant's
/// `civil_from_days`), so no clock or time zone database is read.
pub fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
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
    // What `oci-spec` drops on the way in (it parsed, so this does too).
    let mut docker_only = Map::new();
    if let Some(Value::Object(config)) = base
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|mut v| v.get_mut("config").map(Value::take))
    {
        for field in DOCKER_ONLY_FIELDS {
            if let Some(value) = config.get(field).filter(|v| !v.is_null()) {
                docker_only.insert(field.to_string(), value.clone());
            }
        }
    }
    if let Some(check) = &settings.healthcheck {
        docker_only.insert("Healthcheck".into(), healthcheck_json(check));
    }
    let created = settings.created.map(rfc3339);
    image.set_os(Os::from(os));
    image.set_architecture(Arch::from(architecture));
    image.set_variant(variant.map(str::to_string));
    image.set_created(created.clone());

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
    if !settings.expose.is_empty() {
        let mut ports = config.exposed_ports().clone().unwrap_or_default();
        ports.extend(settings.expose.iter().cloned());
        ports.sort();
        ports.dedup();
        config.set_exposed_ports(Some(ports));
    }
    if !settings.volumes.is_empty() {
        let mut volumes = config.volumes().clone().unwrap_or_default();
        volumes.extend(settings.volumes.iter().cloned());
        volumes.sort();
        volumes.dedup();
        config.set_volumes(Some(volumes));
    }
    if let Some(signal) = &settings.stop_signal {
        config.set_stop_signal(Some(signal.clone()));
    }
    image.set_config(Some(config));

    let mut history = image.history().clone().unwrap_or_default();
    for step in steps {
        let mut entry = History::default();
        entry.set_created_by(Some(step.created_by.clone()));
        entry.set_comment(Some("cachet".to_string()));
        entry.set_empty_layer(step.empty_layer.then_some(true));
        entry.set_created(created.clone());
        history.push(entry);
    }
    image.set_history(Some(history));

    // Through serde_json::Value, whose objects are sorted maps: labels come out in a stable
    // order although oci-spec keeps them in a HashMap.
    let mut value =
        serde_json::to_value(&image).map_err(|e| format!("cannot encode the image config: {e}"))?;
    if let Some(Value::Object(config)) = value.get_mut("config") {
        config.extend(docker_only);
    }
    serde_json::to_vec(&value).map_err(|e| format!("cannot encode the image config: {e}"))
}

/// Docker's `Healthcheck` object: durations in nanoseconds, unset ones left out (the runtime
/// default, as `docker build` leaves them).
fn healthcheck_json(check: &Healthcheck) -> Value {
    let mut object = Map::new();
    object.insert("Test".into(), json!(check.test));
    let fields = [
        ("Interval", check.interval_ns),
        ("Timeout", check.timeout_ns),
        ("StartPeriod", check.start_period_ns),
        ("Retries", check.retries.map(u64::from)),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            object.insert(name.into(), json!(value));
        }
    }
    Value::Object(object)
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
