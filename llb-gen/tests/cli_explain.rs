//! `llb-gen explain`: the built binary on copies of examples/hello in temporary directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use llb_gen::explain::Explanation;
use serde_json::Value;

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A fresh directory under cargo's per-test-target temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli_explain-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn example(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/hello")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// examples/hello's spec with a build argument that feeds `[cargo] env`, and `extra` lines
/// appended to `[cargo]`.
fn hello_spec(extra: &str) -> String {
    let spec = example("Cachet.toml");
    let rustflags = "rustflags = [\"-C\", \"target-feature=+crt-static\"]\n";
    assert!(
        spec.contains("\n[cargo]\n") && spec.contains(rustflags),
        "examples/hello changed; update this test:\n{spec}"
    );
    spec.replacen("\n[cargo]\n", "\n[args]\nLEVEL = \"2\"\n\n[cargo]\n", 1)
        .replacen(
            rustflags,
            &format!("{rustflags}env = {{ CFLAGS = \"-O${{LEVEL}}\" }}\n{extra}"),
            1,
        )
}

/// A copy of examples/hello (spec, manifest, lockfile, sources) in a fresh directory.
fn hello(name: &str, spec: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::create_dir_all(dir.join("src")).expect("mkdir src");
    for (path, text) in [
        ("Cachet.toml", spec.to_string()),
        ("Cargo.toml", example("Cargo.toml")),
        ("Cargo.lock", example("Cargo.lock")),
        ("src/main.rs", example("src/main.rs")),
    ] {
        std::fs::write(dir.join(path), text).expect("write example file");
    }
    dir
}

/// Runs `llb-gen explain <args>` in `dir`.
fn explain(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .current_dir(dir)
        .arg("explain")
        .args(args)
        .output()
        .expect("llb-gen runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// `llb-gen explain Cachet.toml --sdk-digest A <args> --format json`, saved as `dir/<file>`.
fn save(dir: &Path, file: &str, args: &[&str]) -> String {
    let base = ["Cachet.toml", "--sdk-digest", DIGEST_A, "--format", "json"];
    let out = explain(dir, &[&base[..], args].concat());
    assert_eq!(code(&out), Some(0), "explain failed: {}", stderr(&out));
    std::fs::write(dir.join(file), &out.stdout).expect("save explanation");
    stdout(&out)
}

/// `--diff a b` as text and as JSON; both must agree on the exit status.
fn diff(dir: &Path, a: &str, b: &str) -> (Option<i32>, String, Value) {
    let text = explain(dir, &["--diff", a, b]);
    let json = explain(dir, &["--diff", a, b, "--format", "json"]);
    assert_eq!(code(&text), code(&json), "{}", stderr(&text));
    assert!(stderr(&text).is_empty(), "{}", stderr(&text));
    let value = serde_json::from_slice(&json.stdout).expect("--diff --format json is JSON");
    (code(&text), stdout(&text), value)
}

/// The diff of the `build` cargo step.
fn build_step(diff: &Value) -> &Value {
    diff["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["target"] == "build" && s["kind"] == "cargo")
        .expect("the build step")
}

fn changed_paths(step: &Value) -> Vec<&str> {
    step["inputs"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["path"].as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn text_lists_the_build_step_its_mount_and_its_inputs() {
    let dir = hello("text", &hello_spec(""));
    let out = explain(&dir, &["Cachet.toml", "--sdk-digest", DIGEST_A]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let text = stdout(&out);

    let json = save(&dir, "a.json", &[]);
    let e = Explanation::from_json(&json).expect("JSON output reads back");
    let build = e
        .steps
        .iter()
        .find(|s| s.target == "build")
        .expect("build step");
    let keys = build.keys.as_ref().expect("cargo keys");
    assert!(
        keys.mount_id
            .starts_with("cachet/hello/x86_64-unknown-linux-gnu/release/"),
        "{}",
        keys.mount_id
    );

    assert!(text.contains(&format!("sdk         {DIGEST_A}")), "{text}");
    assert!(text.contains(&build.name), "the progress name: {text}");
    assert!(
        build.name.starts_with(
            "[build] cargo build --profile release --target x86_64-unknown-linux-gnu --bin hello · "
        ),
        "{}",
        build.name
    );
    assert!(
        text.contains(&format!("target cache  {} (strict mode)", keys.mount_id)),
        "{text}"
    );
    for line in [
        "    rustflags        = [\"-C\",\"target-feature=+crt-static\"]",
        "    env              = {\"CFLAGS\":\"-O2\"}",
        &format!("    sdk              = \"{DIGEST_A}\""),
        "    toolchain_files  = {}",
        "    command          = [\"cargo\",\"--locked\",\"--offline\",\"build\",\"--profile\",\
         \"release\",\"--target\",\"x86_64-unknown-linux-gnu\",\"--bin\",\"hello\"]",
        "    triple           = \"x86_64-unknown-linux-gnu\"",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
    }
    assert!(text.contains("[image] image"), "{text}");
}

#[test]
fn json_round_trips_and_is_deterministic() {
    let dir = hello("json", &hello_spec(""));
    let a = save(&dir, "a.json", &[]);
    let b = save(&dir, "b.json", &[]);
    assert_eq!(a, b, "two runs give the same bytes");
    let e = Explanation::from_json(&a).expect("reads back");
    assert_eq!(e.to_json(), a, "round trip");
    assert_eq!(e.target, "image");
    assert_eq!(e.sdk, DIGEST_A);
    let v: Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["format"], "cachet-explain/1");
    assert_eq!(v["steps"][0]["inputs"]["env"]["CFLAGS"], "-O2");
}

#[test]
fn identical_builds_have_no_differences() {
    let dir = hello("same", &hello_spec(""));
    save(&dir, "a.json", &[]);
    save(&dir, "b.json", &[]);
    let (status, text, json) = diff(&dir, "a.json", "b.json");
    assert_eq!(status, Some(0), "{text}");
    assert!(text.starts_with("no differences"), "{text}");
    assert_eq!(json["differences"], false);
}

#[test]
fn a_build_arg_feeding_env_is_named_exactly() {
    let dir = hello("build-arg", &hello_spec(""));
    save(&dir, "a.json", &[]);
    save(&dir, "b.json", &["--build-arg", "LEVEL=3"]);
    let (status, text, json) = diff(&dir, "a.json", "b.json");
    assert_eq!(status, Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim() == "env.CFLAGS: \"-O2\" → \"-O3\""),
        "{text}"
    );
    assert!(text.contains("cold target cache"), "{text}");
    assert_eq!(json["differences"], true);
    assert_eq!(
        json["build"],
        serde_json::json!([]),
        "same SDK, target, platform"
    );
    let step = build_step(&json);
    assert_eq!(changed_paths(step), ["env.CFLAGS"], "exactly that entry");
    assert_eq!(step["inputs"][0]["old"], "-O2");
    assert_eq!(step["inputs"][0]["new"], "-O3");
    assert_eq!(step["op"]["changed"], true);
    assert_eq!(step["target_cache"]["changed"], true);
}

#[test]
fn a_new_sdk_is_named() {
    let dir = hello("sdk", &hello_spec(""));
    save(&dir, "a.json", &[]);
    let out = explain(
        &dir,
        &["Cachet.toml", "--sdk-digest", DIGEST_B, "--format", "json"],
    );
    std::fs::write(dir.join("b.json"), &out.stdout).unwrap();
    let (status, text, json) = diff(&dir, "a.json", "b.json");
    assert_eq!(status, Some(1));
    assert!(
        text.contains(&format!("sdk: \"{DIGEST_A}\" → \"{DIGEST_B}\"")),
        "{text}"
    );
    assert_eq!(json["build"][0]["path"], "sdk");
}

#[test]
fn a_changed_toolchain_file_in_the_context_is_named() {
    let dir = hello("toolchain", &hello_spec(""));
    std::fs::write(
        dir.join("rust-toolchain.toml"),
        "[toolchain]\nchannel = \"1.80\"\n",
    )
    .unwrap();
    save(&dir, "a.json", &[]);
    std::fs::write(
        dir.join("rust-toolchain.toml"),
        "[toolchain]\nchannel = \"1.81\"\n",
    )
    .unwrap();
    save(&dir, "b.json", &[]);
    let (status, text, json) = diff(&dir, "a.json", "b.json");
    assert_eq!(status, Some(1), "{text}");
    assert!(
        text.contains("toolchain_files.rust-toolchain.toml: \"sha256:"),
        "{text}"
    );
    assert_eq!(
        changed_paths(build_step(&json)),
        ["toolchain_files.rust-toolchain.toml"]
    );
    assert_eq!(build_step(&json)["target_cache"]["changed"], true);
}

#[test]
fn the_context_can_be_elsewhere() {
    let dir = hello("context", &hello_spec(""));
    let other = temp_dir("context-other");
    std::fs::write(other.join("rust-toolchain"), "1.80\n").unwrap();
    std::fs::copy(dir.join("Cargo.toml"), other.join("Cargo.toml")).unwrap();
    std::fs::copy(dir.join("Cargo.lock"), other.join("Cargo.lock")).unwrap();
    save(&dir, "a.json", &[]);
    let context = other.to_str().expect("UTF-8 path");
    save(&dir, "b.json", &["--context", context]);
    let (status, _, json) = diff(&dir, "a.json", "b.json");
    assert_eq!(status, Some(1));
    assert_eq!(
        json["steps"][0]["inputs"][0]["path"],
        "toolchain_files.rust-toolchain"
    );
    assert_eq!(json["steps"][0]["inputs"][0]["change"], "added");
}

#[test]
fn strict_to_fast_changes_the_mount() {
    let strict = hello("strict", &hello_spec("mode = \"strict\"\n"));
    let fast = hello("fast", &hello_spec("mode = \"fast\"\n"));
    save(&strict, "strict.json", &[]);
    save(&fast, "fast.json", &[]);
    std::fs::copy(fast.join("fast.json"), strict.join("fast.json")).unwrap();
    let (status, text, json) = diff(&strict, "strict.json", "fast.json");
    assert_eq!(status, Some(1), "{text}");
    assert!(text.contains("mode: \"strict\" → \"fast\""), "{text}");
    assert!(text.contains("cold target cache"), "{text}");
    let step = build_step(&json);
    assert_eq!(changed_paths(step), ["mode"]);
    assert_eq!(step["target_cache"]["changed"], true);
    let new = step["target_cache"]["new"].as_str().unwrap();
    assert!(new.contains("/release/fast-"), "{new}");
    assert!(text.contains(new), "{text}");

    // In fast mode a flag change reruns the step on the same, warm mount.
    save(&fast, "fast-o3.json", &["--build-arg", "LEVEL=3"]);
    let (status, text, json) = diff(&fast, "fast.json", "fast-o3.json");
    assert_eq!(status, Some(1));
    assert!(text.contains("warm: same mount as before"), "{text}");
    assert_eq!(build_step(&json)["target_cache"]["changed"], false);
}

#[test]
fn one_side_can_come_from_stdin() {
    let dir = hello("stdin", &hello_spec(""));
    let saved = save(&dir, "a.json", &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .current_dir(&dir)
        .args(["explain", "--diff", "a.json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("llb-gen runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(saved.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("no differences"));
}

#[test]
fn trouble_exits_2_and_names_the_file() {
    let dir = hello("trouble", &hello_spec(""));
    save(&dir, "a.json", &[]);
    std::fs::write(dir.join("broken.json"), "{\"format\": ").unwrap();
    std::fs::write(dir.join("other.json"), "{\"target\": \"image\"}").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--diff", "a.json", "broken.json"],
            "broken.json: not JSON",
        ),
        (
            &["--diff", "other.json", "a.json"],
            "other.json: not an explanation",
        ),
        (
            &["--diff", "a.json", "missing.json"],
            "cannot read missing.json",
        ),
        (&["--diff", "-", "-"], "only one"),
        (&["nope.toml"], "cannot read nope.toml"),
        (&["Cachet.toml", "--target", "nope"], "nope"),
    ];
    for (args, message) in cases {
        let out = explain(&dir, args);
        let err = stderr(&out);
        assert_eq!(code(&out), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }

    // A spec error keeps `file:line:column` at the start of the line.
    std::fs::write(dir.join("Cachet.toml"), "[project]\nname = = 1\n").unwrap();
    let out = explain(&dir, &["Cachet.toml"]);
    assert_eq!(code(&out), Some(2));
    assert!(
        stderr(&out).starts_with("Cachet.toml:2:"),
        "{}",
        stderr(&out)
    );

    // Usage errors are clap's, also 2.
    let out = explain(&dir, &["Cachet.toml", "--diff", "a.json", "a.json"]);
    assert_eq!(code(&out), Some(2));
    let out = explain(&dir, &[]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("--diff"), "{}", stderr(&out));
}
