//! `llb-gen spec`: the built binary on spec files written to a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use llb_gen::llb::{decode_definition, decode_ops};
use serde_json::Value;

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const DIGEST_C: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

/// A spec with an image base and a build argument, beside the realistic example.
const WITH_BASE: &str = r#"
[project]
name = "app"

[args]
CPU = "x86-64"

[sdk]
image = "cachet-sdk:rustup"

[cargo]
rustflags = ["-C", "target-cpu=${CPU}"]

[target.build]
cargo = ["build", "--bin", "app"]
artifacts = { app = "app" }

[target.image]
from = "alpine:3.20"
copy = [{ from = "+build", artifact = "app", to = "/usr/local/bin/app" }]
entrypoint = ["/usr/local/bin/app"]
"#;

/// A fresh directory under cargo's per-test-target temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli_spec-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// `dir/Cachet.toml` holding `text`; returns `dir`.
fn write_spec(name: &str, text: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("Cachet.toml"), text).expect("write spec");
    dir
}

fn hello_example() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello/Cachet.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `llb-gen spec Cachet.toml <args>` in `dir`.
fn spec(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .current_dir(dir)
        .arg("spec")
        .arg("Cachet.toml")
        .args(args)
        .output()
        .expect("llb-gen runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "llb-gen failed: {}", stderr(&out));
    out
}

fn json(dir: &Path, args: &[&str]) -> (Value, String) {
    let out = ok(spec(dir, &[args, &["--format", "json"][..]].concat()));
    let value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    (value, stderr(&out))
}

/// Every string anywhere in `v`.
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn json_names_the_target_cache_and_the_pinned_sdk() {
    let dir = write_spec("hello-json", &hello_example());
    let (v, err) = json(&dir, &["--sdk-digest", DIGEST_A]);
    assert!(!err.contains("unpinned"), "nothing is unpinned: {err}");

    assert_eq!(v["target"], "image", "the example's default target");
    assert_eq!(v["platform"], "linux/amd64");
    assert_eq!(v["sdk"], DIGEST_A);
    assert_eq!(v["images"]["cachet-sdk:rustup"], DIGEST_A);
    let mount = v["cargo_keys"]["build"]
        .as_str()
        .expect("cargo key of +build");
    assert!(
        mount.starts_with("cachet/hello/x86_64-unknown-linux-gnu/release/"),
        "{mount}"
    );

    let definition = strings(&v["definition"]);
    assert!(definition.contains(&mount), "the exec mounts {mount}");
    let pinned = format!("docker-image://docker.io/library/cachet-sdk:rustup@{DIGEST_A}");
    assert!(
        definition.contains(&pinned.as_str()),
        "{pinned} in {definition:?}"
    );
    assert!(definition.contains(&"llb-gen"), "the default session id");

    let labels = &v["image_config"]["config"]["Labels"];
    assert_eq!(labels["dev.cachet.sdk"], DIGEST_A);
    assert_eq!(
        v["image_config"]["config"]["Entrypoint"][0],
        "/usr/local/bin/hello"
    );
}

#[test]
fn binary_output_is_identical_across_runs() {
    let dir = write_spec("hello-binary", &hello_example());
    let args = ["--sdk-digest", DIGEST_A, "--format", "binary"];
    let a = ok(spec(&dir, &args)).stdout;
    let b = ok(spec(&dir, &args)).stdout;
    assert!(!a.is_empty());
    assert_eq!(a, b, "two runs must give the same bytes");
    let def = decode_definition(&a).expect("stdout is a pb.Definition");
    assert!(decode_ops(&def).expect("ops decode").len() >= 4);
}

#[test]
fn the_sdk_digest_changes_the_output() {
    let dir = write_spec("hello-sdk", &hello_example());
    let a = ok(spec(&dir, &["--sdk-digest", DIGEST_A])).stdout;
    let b = ok(spec(&dir, &["--sdk-digest", DIGEST_B])).stdout;
    assert_ne!(a, b);

    let (ja, _) = json(&dir, &["--sdk-digest", DIGEST_A]);
    let (jb, _) = json(&dir, &["--sdk-digest", DIGEST_B]);
    assert_ne!(
        ja["cargo_keys"]["build"], jb["cargo_keys"]["build"],
        "a new SDK gets a new target cache"
    );
}

#[test]
fn a_syntax_error_points_into_the_file() {
    let dir = write_spec(
        "syntax",
        "[project]\nname = \"x\"\n\n[sdk]\nimage = = \"a\"\n",
    );
    let out = spec(&dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.starts_with("Cachet.toml:5:"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn an_unknown_target_lists_the_targets() {
    let dir = write_spec("target", &hello_example());
    let out = spec(&dir, &["--target", "nope", "--sdk-digest", DIGEST_A]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("nope"), "{err}");
    assert!(err.contains("targets: build, image"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn unpinned_images_use_their_config_and_are_noted() {
    let dir = write_spec("unpinned", WITH_BASE);
    let (v, err) = json(&dir, &[]);
    assert!(err.contains("unpinned"), "{err}");
    assert!(
        err.contains("cachet-sdk:rustup") && err.contains("alpine:3.20"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // The identity of an unpinned image is the digest of its config, `{}` by default.
    assert_eq!(
        v["sdk"],
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_eq!(v["images"]["alpine:3.20"], "");
    let definition = strings(&v["definition"]);
    assert!(definition.contains(&"docker-image://docker.io/library/alpine:3.20"));
    assert!(definition.contains(&"docker-image://docker.io/library/cachet-sdk:rustup"));
}

#[test]
fn image_configs_and_digests_come_from_the_command_line() {
    let dir = write_spec("images", WITH_BASE);
    let config = br#"{"config":{"Env":["PATH=/opt/sdk/bin:/usr/bin"],"WorkingDir":"/w"}}"#;
    std::fs::write(dir.join("sdk.json"), config).expect("write config");
    let base = r#"{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
        "config":{"Env":["BASE=1"],"Cmd":["sh"]}}"#;
    std::fs::write(dir.join("alpine.json"), base).expect("write config");

    // A local SDK image (no digest) is identified by its config bytes.
    let (v, err) = json(
        &dir,
        &[
            "--image",
            "docker.io/library/cachet-sdk:rustup=,config=sdk.json",
            "--image",
            &format!("alpine:3.20={DIGEST_C},config=alpine.json"),
            "--build-arg",
            "CPU=native",
            "--platform",
            "linux/arm64",
        ],
    );
    assert!(
        err.contains("cachet-sdk:rustup") && !err.contains("alpine"),
        "{err}"
    );
    let sdk = v["sdk"].as_str().expect("sdk");
    assert_ne!(
        sdk, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "the config file, not `{{}}`"
    );
    assert!(v["cargo_keys"]["build"]
        .as_str()
        .is_some_and(|m| m.starts_with("cachet/app/aarch64-unknown-linux-gnu/release/")));
    let definition = strings(&v["definition"]);
    assert!(
        definition.contains(&"PATH=/opt/sdk/bin:/usr/bin"),
        "SDK env applied"
    );
    let pinned = format!("docker-image://docker.io/library/alpine:3.20@{DIGEST_C}");
    assert!(definition.contains(&pinned.as_str()));
    assert!(definition.iter().any(|s| s.contains("target-cpu=native")));
    let config = &v["image_config"];
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(
        config["config"]["Env"][0], "BASE=1",
        "base config carried over"
    );
    assert!(config["config"]["Cmd"].is_null(), "entrypoint clears cmd");
}

#[test]
fn bad_image_arguments_fail_in_one_line() {
    let dir = write_spec("bad-images", WITH_BASE);
    // Enough for the SDK (Env, WorkingDir, User), not for a base image (OCI fields missing).
    std::fs::write(dir.join("partial.json"), r#"{"config":{"Env":["A=1"]}}"#).expect("write");
    std::fs::write(dir.join("array.json"), "[]").expect("write");
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--image", "alpine:3.20=latest"], 2, "invalid digest"),
        (&["--image", "alpine:3.20"], 2, "REF=DIGEST"),
        (&["--image", "alpine:3.20=,cfg=x"], 2, "config=FILE"),
        (
            &["--image", &format!("debian={DIGEST_A}")],
            1,
            "no such image",
        ),
        (
            &["--image", "alpine:3.20=,config=missing.json"],
            1,
            "missing.json",
        ),
        (
            &[
                "--sdk-digest",
                DIGEST_A,
                "--image",
                &format!("cachet-sdk:rustup={DIGEST_B}"),
            ],
            1,
            "only one",
        ),
        (
            &["--image", "alpine:3.20=,config=partial.json"],
            1,
            "architecture",
        ),
        (
            &["--image", "cachet-sdk:rustup=,config=array.json"],
            1,
            "JSON object",
        ),
        (&["--platform", "Linux"], 2, "platform"),
        (&["--build-arg", "CPU"], 2, "KEY=VALUE"),
    ];
    for (args, code, message) in cases {
        let out = spec(&dir, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(err.contains(message), "{args:?}: {err}");
        if *code == 1 {
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
    }
}

#[test]
fn a_locked_sdk_is_pinned_to_its_lock() {
    let locked = hello_example().replace(
        "image = \"cachet-sdk:rustup\"",
        &format!("image = \"cachet-sdk:rustup\"\ndigest = \"{DIGEST_B}\""),
    );
    let dir = write_spec("locked", &locked);
    let (v, err) = json(&dir, &[]);
    assert!(err.is_empty(), "nothing unpinned: {err}");
    assert_eq!(v["sdk"], DIGEST_B);

    // Another digest is what the frontend would refuse: the lock names the expected SDK.
    let out = spec(&dir, &["--sdk-digest", DIGEST_A]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("locks it to"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_missing_file_is_one_line() {
    let dir = temp_dir("missing");
    let out = spec(&dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot read Cachet.toml"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn cachet_passes_target_itself_and_a_step_may_not() {
    // The example's build, for two platforms: cargo gets the platform's triple.
    let dir = write_spec("target-flag", &hello_example());
    for (platform, triple) in [
        ("linux/amd64", "x86_64-unknown-linux-gnu"),
        ("linux/arm64", "aarch64-unknown-linux-gnu"),
    ] {
        let (v, _) = json(
            &dir,
            &[
                "--target",
                "build",
                "--platform",
                platform,
                "--sdk-digest",
                DIGEST_A,
            ],
        );
        let definition = strings(&v["definition"]);
        let at = definition
            .windows(2)
            .position(|w| w == ["--target", triple])
            .unwrap_or_else(|| panic!("{platform}: no `--target {triple}` in {definition:?}"));
        assert_eq!(
            definition[at - 3..at],
            ["build", "--profile", "release"],
            "{platform}: right after the spec's profile, before the step's own arguments"
        );
    }

    // A step's own `--target`, in either spelling, is refused where it is written.
    for flag in [
        "\"--target\", \"x86_64-unknown-linux-musl\"",
        "\"--target=x86_64-unknown-linux-musl\"",
    ] {
        let text = hello_example().replace(
            "cargo = [\"build\", \"--bin\", \"hello\"]",
            &format!("cargo = [\"build\", {flag}]"),
        );
        assert!(
            text.contains(flag),
            "examples/hello changed; update this test"
        );
        let line = text.lines().position(|l| l.contains(flag)).unwrap() + 1;
        let dir = write_spec("own-target", &text);
        let out = spec(&dir, &["--sdk-digest", DIGEST_A]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("Cachet.toml:{line}:"))
                && err.contains(
                    "`--target` is not allowed in a cargo step: Cachet always passes `--target` \
                     for the platform's triple"
                )
                && err.contains("`--platform`"),
            "{err}"
        );
    }
}
