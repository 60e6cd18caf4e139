//! The LLB and image config of reproducible builds: `[cargo] reproducible` (path remapping),
//! `SOURCE_DATE_EPOCH`, the `org.opencontainers.image.*` labels, and the runtime settings of
//! an image on a real base.

use std::collections::BTreeMap;

use super::*;
use crate::llb::decode_ops;
use crate::proto::pb::{self, op::Op as OpKind};
use crate::spec;

const SDK_DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SDK_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin","CARGO_HOME=/usr/local/cargo"]},"rootfs":{"type":"layers","diff_ids":[]}}"#;
/// A base image with settings of its own, some of which the spec replaces.
const BASE_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin","LANG=C"],"Cmd":["bash"],"ExposedPorts":{"22/tcp":{}},"Volumes":{"/var/log":{}},"Healthcheck":{"Test":["CMD","true"],"Retries":9},"Shell":["/bin/bash","-c"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created":"2020-01-01T00:00:00Z","created_by":"base"}]}"#;

fn spec_text(reproducible: bool, image: &str) -> String {
    format!(
        r#"
[sdk]
image = "cachet-sdk:rustup"
[cargo]
reproducible = {reproducible}
[target.build]
cargo = ["build"]
artifacts = {{ app = "app" }}
[target.image]
from = "base:1"
copy = [{{ from = "+build", artifact = "app", to = "/usr/local/bin/app" }}]
{image}
"#
    )
}

fn request(target: &str) -> BuildRequest {
    let image = |config: &str| ResolvedImage {
        digest: SDK_DIGEST.into(),
        config: config.as_bytes().to_vec(),
    };
    BuildRequest {
        images: BTreeMap::from([
            ("cachet-sdk:rustup".to_string(), image(SDK_CONFIG)),
            ("base:1".to_string(), image(BASE_CONFIG)),
        ]),
        ..BuildRequest::new(target.into(), Platform::linux_amd64(), "session-1")
    }
}

fn build(spec_text: &str, request: &BuildRequest) -> Compiled {
    let spec = spec::load("Cachet.toml", spec_text, &BTreeMap::new()).unwrap();
    compile(&spec, request).unwrap()
}

/// The environment of the cargo step (`cargo.sh` with a `cargo … build` command).
fn cargo_env(c: &Compiled) -> Vec<String> {
    decode_ops(&c.definition)
        .unwrap()
        .into_iter()
        .find_map(|(_, op)| match op.op {
            Some(OpKind::Exec(e))
                if e.meta.as_ref().is_some_and(|m| {
                    m.args.iter().any(|a| a == "build") && m.args.iter().any(|a| a == "--locked")
                }) =>
            {
                e.meta.map(|m| m.env)
            }
            _ => None,
        })
        .expect("a cargo step")
}

fn copy_timestamps(c: &Compiled) -> Vec<i64> {
    decode_ops(&c.definition)
        .unwrap()
        .into_iter()
        .filter_map(|(_, op)| match op.op {
            Some(OpKind::File(f)) => Some(f.actions),
            _ => None,
        })
        .flatten()
        .filter_map(|a| match a.action {
            Some(pb::file_action::Action::Copy(c)) if c.dest == "/usr/local/bin/app" => {
                Some(c.timestamp)
            }
            _ => None,
        })
        .collect()
}

fn config(c: &Compiled) -> serde_json::Value {
    serde_json::from_slice(c.image_config.as_ref().unwrap()).unwrap()
}

#[test]
fn reproducible_builds_remap_every_build_path_and_move_the_key() {
    let plain = build(&spec_text(false, ""), &request("build"));
    let remapped = build(&spec_text(true, ""), &request("build"));
    let flags = |c: &Compiled| {
        cargo_env(c)
            .into_iter()
            .find_map(|e| {
                e.strip_prefix("CARGO_ENCODED_RUSTFLAGS=")
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    assert_eq!(
        flags(&plain),
        "",
        "off by default: default outputs do not change"
    );
    let expected = [
        "--remap-path-prefix=/cachet/src=.",
        "--remap-path-prefix=/cachet/vendor=vendor",
        "--remap-path-prefix=/cachet/target=target",
        "--remap-path-prefix=/usr/local/cargo=cargo-home",
    ];
    assert_eq!(flags(&remapped), expected.join("\u{1f}"));
    assert_ne!(
        plain.cargo_keys["build"].strict.mount_id, remapped.cargo_keys["build"].strict.mount_id,
        "remapping changes the binaries, so it keys the target cache"
    );
}

#[test]
fn source_date_epoch_reaches_cargo_the_key_and_the_image() {
    let text = spec_text(false, "");
    let without = build(&text, &request("image"));
    let with = build(
        &text,
        &BuildRequest {
            source_date_epoch: Some(1_700_000_000),
            ..request("image")
        },
    );
    assert!(!cargo_env(&without)
        .iter()
        .any(|e| e.starts_with("SOURCE_DATE_EPOCH=")));
    assert!(cargo_env(&with).contains(&"SOURCE_DATE_EPOCH=1700000000".to_string()));
    assert_ne!(
        without.cargo_keys["build"].strict.hash,
        with.cargo_keys["build"].strict.hash
    );
    assert_eq!(copy_timestamps(&without), [-1], "cargo's mtimes are kept");
    assert_eq!(copy_timestamps(&with), [1_700_000_000_000_000_000]);
    let c = config(&with);
    assert_eq!(c["created"], "2023-11-14T22:13:20Z");
    assert_eq!(
        c["config"]["Labels"]["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    let history = c["history"].as_array().unwrap();
    assert_eq!(
        history[0]["created"], "2020-01-01T00:00:00Z",
        "the base's own times stay"
    );
    assert_eq!(history[1]["created"], "2023-11-14T22:13:20Z");
    let c = config(&without);
    assert!(c.get("created").is_none());
    assert!(
        c["history"][1].get("created").is_none(),
        "never a wall-clock time"
    );
}

#[test]
fn vcs_opts_become_oci_labels_that_the_spec_and_label_flag_override() {
    let request = BuildRequest {
        vcs_source: Some("https://example.invalid/app.git".into()),
        vcs_revision: Some("0123abcd".into()),
        ..request("image")
    };
    let c = config(&build(&spec_text(false, ""), &request));
    let labels = &c["config"]["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://example.invalid/app.git"
    );
    assert_eq!(labels["org.opencontainers.image.revision"], "0123abcd");
    assert!(labels.get("org.opencontainers.image.created").is_none());

    let text = spec_text(
        false,
        r#"labels = { "org.opencontainers.image.source" = "https://example.invalid/mirror.git", "org.opencontainers.image.revision" = "spec" }"#,
    );
    let request = BuildRequest {
        labels: BTreeMap::from([("org.opencontainers.image.revision".into(), "flag".into())]),
        ..request
    };
    let c = config(&build(&text, &request));
    let labels = &c["config"]["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://example.invalid/mirror.git"
    );
    assert_eq!(labels["org.opencontainers.image.revision"], "flag");
}

#[test]
fn runtime_settings_layer_over_a_real_base_with_docker_semantics() {
    let text = spec_text(
        false,
        r#"cmd = ["serve"]
user = "1000:1000"
workdir = "/srv"
env = { LANG = "C.UTF-8" }
expose = ["8080", "53/udp"]
volumes = ["/data"]
stop-signal = "SIGINT"
healthcheck = { test = ["CMD", "/usr/local/bin/app", "--health"], interval = "10s", timeout = "2s", start-period = "1m", retries = 5 }"#,
    );
    let c = config(&build(&text, &request("image")));
    let cfg = &c["config"];
    assert_eq!(cfg["Cmd"], serde_json::json!(["serve"]));
    assert_eq!(cfg["User"], "1000:1000");
    assert_eq!(cfg["WorkingDir"], "/srv");
    assert_eq!(
        cfg["Env"],
        serde_json::json!(["PATH=/usr/bin:/bin", "LANG=C.UTF-8"])
    );
    assert_eq!(
        cfg["ExposedPorts"],
        serde_json::json!({"22/tcp": {}, "53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(
        cfg["Volumes"],
        serde_json::json!({"/data": {}, "/var/log": {}})
    );
    assert_eq!(cfg["StopSignal"], "SIGINT");
    assert_eq!(
        cfg["Healthcheck"],
        serde_json::json!({
            "Test": ["CMD", "/usr/local/bin/app", "--health"],
            "Interval": 10_000_000_000u64,
            "Timeout": 2_000_000_000u64,
            "StartPeriod": 60_000_000_000u64,
            "Retries": 5,
        })
    );
    assert_eq!(
        cfg["Shell"],
        serde_json::json!(["/bin/bash", "-c"]),
        "kept from the base"
    );

    // Without a healthcheck the base's is inherited; `NONE` disables it.
    let inherited = config(&build(&spec_text(false, ""), &request("image")));
    assert_eq!(
        inherited["config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD", "true"], "Retries": 9})
    );
    assert_eq!(inherited["config"]["Cmd"], serde_json::json!(["bash"]));
    let none = spec_text(false, r#"healthcheck = { test = ["NONE"] }"#);
    let disabled = config(&build(&none, &request("image")));
    assert_eq!(
        disabled["config"]["Healthcheck"],
        serde_json::json!({"Test": ["NONE"]})
    );
}

#[test]
fn rfc3339_matches_known_instants() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
}
