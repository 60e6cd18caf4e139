use std::collections::BTreeMap;

use super::*;
use crate::compile::{compile, BuildRequest, ResolvedImage};
use crate::project::ProjectFiles;
use crate::spec;

const SDK_A: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SDK_B: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

const SPEC: &str = r#"
[project]
name = "hello"
[sdk]
image = "cachet-sdk:rustup"
[args]
LEVEL = "2"
CPU = "x86-64"
MODE = "strict"
[cargo]
mode = "${MODE}"
rustflags = ["-C", "target-cpu=${CPU}"]
env = { CFLAGS = "-O${LEVEL}", CC = "cc" }
[target.build]
cargo = ["build", "--bin", "hello"]
artifacts = { hello = "hello" }
[target.image]
from = "scratch"
copy = [{ from = "+build", artifact = "hello", to = "/usr/local/bin/hello" }]
entrypoint = ["/usr/local/bin/hello"]
"#;

const MANIFEST: &str = "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
const LOCK: &str = "version = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n";
const LOCK_REMOTE: &str = "version = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n\
    dependencies = [\"libc\"]\n\n[[package]]\nname = \"libc\"\nversion = \"0.2.0\"\n\
    source = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

/// A build to explain: build arguments, extra context files and the SDK digest.
struct Build {
    args: Vec<(&'static str, &'static str)>,
    files: Vec<(&'static str, &'static str)>,
    sdk: &'static str,
    /// Lines added to the spec's `[sdk]` section.
    sdk_lines: &'static str,
}

impl Default for Build {
    fn default() -> Build {
        Build {
            args: Vec::new(),
            files: vec![("Cargo.toml", MANIFEST), ("Cargo.lock", LOCK)],
            sdk: SDK_A,
            sdk_lines: "",
        }
    }
}

impl Build {
    fn arg(mut self, k: &'static str, v: &'static str) -> Build {
        self.args.push((k, v));
        self
    }

    fn file(mut self, path: &'static str, content: &'static str) -> Build {
        self.files.retain(|(p, _)| *p != path);
        self.files.push((path, content));
        self
    }

    fn sdk(mut self, digest: &'static str) -> Build {
        self.sdk = digest;
        self
    }

    fn sdk_lines(mut self, lines: &'static str) -> Build {
        self.sdk_lines = lines;
        self
    }

    fn explain(&self) -> Explanation {
        let args: BTreeMap<String, String> = self
            .args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let text = SPEC.replace(
            "image = \"cachet-sdk:rustup\"\n",
            &format!("image = \"cachet-sdk:rustup\"\n{}\n", self.sdk_lines),
        );
        let spec = spec::load("Cachet.toml", &text, &args).expect("spec loads");
        let request = BuildRequest {
            images: BTreeMap::from([(
                "cachet-sdk:rustup".to_string(),
                ResolvedImage {
                    digest: self.sdk.into(),
                    config: b"{}".to_vec(),
                },
            )]),
            project: ProjectFiles {
                files: self
                    .files
                    .iter()
                    .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
                    .collect(),
            },
            ..BuildRequest::new("image".into(), Platform::linux_amd64(), "s")
        };
        let compiled = compile(&spec, &request).expect("compiles");
        Explanation::new(&compiled, &"image".into(), &request.platform)
    }
}

fn build_step(d: &Diff) -> &StepDiff {
    d.steps
        .iter()
        .find(|s| s.target == "build" && s.kind == StepKind::Cargo)
        .expect("the build step")
}

fn paths(changes: &[Change]) -> Vec<&str> {
    changes.iter().map(|c| c.path.as_str()).collect()
}

#[test]
fn an_explanation_lists_every_step_with_its_keys_and_inputs() {
    let e = Build::default().explain();
    assert_eq!(e.format, FORMAT);
    assert_eq!(e.key_schema, KEY_SCHEMA);
    assert_eq!(e.target, "image");
    assert_eq!(e.platform, "linux/amd64");
    assert_eq!(e.sdk, SDK_A);
    let kinds: Vec<(&str, StepKind)> = e
        .steps
        .iter()
        .map(|s| (s.target.as_str(), s.kind))
        .collect();
    assert_eq!(
        kinds,
        [("build", StepKind::Cargo), ("image", StepKind::Image)]
    );
    let build = &e.steps[0];
    let keys = build.keys.as_ref().expect("cargo steps have keys");
    assert_eq!(keys.mode, "strict");
    assert_eq!(keys.mount_id, keys.strict.mount_id);
    assert!(keys.fast.mount_id.contains("/fast-"));
    assert_eq!(build.inputs["env"]["CFLAGS"], "-O2");
    assert_eq!(build.inputs["sdk"], SDK_A);
    assert!(build
        .name
        .starts_with("[build] cargo build --profile release"));
    assert_eq!(Build::default().explain(), e, "deterministic");
}

#[test]
fn json_round_trips_and_other_formats_are_refused() {
    let e = Build::default().explain();
    let json = e.to_json();
    assert_eq!(Explanation::from_json(&json).expect("reads back"), e);
    assert_eq!(Explanation::from_json(&json).unwrap().to_json(), json);

    assert!(matches!(
        Explanation::from_json("{"),
        Err(ExplainError::Json(_))
    ));
    assert!(matches!(
        Explanation::from_json("{\"target\": \"x\"}"),
        Err(ExplainError::NotAnExplanation)
    ));
    let other = json.replace(FORMAT, "cachet-explain/99");
    let err = Explanation::from_json(&other).unwrap_err();
    assert!(err.to_string().contains("cachet-explain/99"), "{err}");
    let broken = json.replace("\"steps\"", "\"stepz\"");
    assert!(matches!(
        Explanation::from_json(&broken),
        Err(ExplainError::Invalid(_))
    ));
}

#[test]
fn identical_explanations_give_an_empty_diff() {
    let a = Build::default().explain();
    let d = diff(&a, &Build::default().explain());
    assert!(d.is_empty(), "{d:#?}");
    assert!(d.build.is_empty());
    assert!(d
        .steps
        .iter()
        .all(|s| s.status == StepStatus::Unchanged && s.inputs.is_empty()));
    let text = render_diff(&d);
    assert!(text.starts_with("no differences"), "{text}");
}

#[test]
fn a_changed_env_entry_is_named() {
    let a = Build::default().explain();
    let b = Build::default().arg("LEVEL", "3").explain();
    let d = diff(&a, &b);
    assert!(!d.is_empty());
    assert!(d.build.is_empty(), "{:?}", d.build);
    let step = build_step(&d);
    assert_eq!(step.status, StepStatus::Changed);
    assert_eq!(paths(&step.inputs), ["env.CFLAGS"], "only that entry");
    let change = &step.inputs[0];
    assert_eq!(change.change, ChangeKind::Changed);
    assert_eq!(change.old, Some(Value::from("-O2")));
    assert_eq!(change.new, Some(Value::from("-O3")));
    assert!(step.op.as_ref().unwrap().changed);
    assert!(
        step.target_cache.as_ref().unwrap().changed,
        "env keys the strict mount"
    );
    let text = render_diff(&d);
    assert!(text.contains("env.CFLAGS: \"-O2\" → \"-O3\""), "{text}");
    assert!(text.contains("cold target cache"), "{text}");
}

#[test]
fn a_changed_sdk_is_named_for_the_build_and_each_step() {
    let a = Build::default().explain();
    let b = Build::default().sdk(SDK_B).explain();
    let d = diff(&a, &b);
    assert_eq!(paths(&d.build), ["sdk"]);
    assert_eq!(d.build[0].old, Some(Value::from(SDK_A)));
    assert_eq!(d.build[0].new, Some(Value::from(SDK_B)));
    assert_eq!(paths(&build_step(&d).inputs), ["sdk"]);
    assert!(build_step(&d).target_cache.as_ref().unwrap().changed);
    let text = render_diff(&d);
    assert!(
        text.contains(&format!("sdk: \"{SDK_A}\" → \"{SDK_B}\"")),
        "{text}"
    );
}

#[test]
fn a_changed_rustflag_is_named() {
    let a = Build::default().explain();
    let b = Build::default().arg("CPU", "native").explain();
    let d = diff(&a, &b);
    let step = build_step(&d);
    assert_eq!(paths(&step.inputs), ["rustflags"]);
    assert_eq!(
        step.inputs[0].new,
        Some(serde_json::json!(["-C", "target-cpu=native"]))
    );
    assert!(step.target_cache.as_ref().unwrap().changed);
}

#[test]
fn an_added_toolchain_file_is_named_by_its_path() {
    let a = Build::default().explain();
    let b = Build::default()
        .file("rust-toolchain.toml", "[toolchain]\nchannel = \"1.80\"\n")
        .explain();
    let d = diff(&a, &b);
    let step = build_step(&d);
    assert!(
        paths(&step.inputs).contains(&"toolchain_files.rust-toolchain.toml"),
        "{:?}",
        paths(&step.inputs)
    );
    let change = step
        .inputs
        .iter()
        .find(|c| c.path == "toolchain_files.rust-toolchain.toml")
        .unwrap();
    assert_eq!(change.change, ChangeKind::Added);
    assert!(change.old.is_none());
    assert!(change
        .new
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|d| d.starts_with("sha256:")));
    let text = render_diff(&d);
    assert!(
        text.contains("toolchain_files.rust-toolchain.toml: added \"sha256:"),
        "{text}"
    );

    // And a removed entry the other way round.
    let back = diff(&b, &a);
    let change = build_step(&back)
        .inputs
        .iter()
        .find(|c| c.path == "toolchain_files.rust-toolchain.toml")
        .unwrap();
    assert_eq!(change.change, ChangeKind::Removed);
}

#[test]
fn a_mode_change_changes_the_mount() {
    let a = Build::default().explain();
    let b = Build::default().arg("MODE", "fast").explain();
    let d = diff(&a, &b);
    let step = build_step(&d);
    assert_eq!(paths(&step.inputs), ["mode"]);
    let cache = step.target_cache.as_ref().unwrap();
    assert!(cache.changed);
    assert!(cache.new.contains("/fast-"), "{}", cache.new);
    let text = render_diff(&d);
    assert!(text.contains("mode: \"strict\" → \"fast\""), "{text}");
    assert!(text.contains("cold target cache"), "{text}");

    // In fast mode, env is not in the mount's key: the op changes, the mount does not.
    let c = Build::default()
        .arg("MODE", "fast")
        .arg("LEVEL", "3")
        .explain();
    let d = diff(&b, &c);
    let step = build_step(&d);
    assert_eq!(paths(&step.inputs), ["env.CFLAGS"]);
    assert!(step.op.as_ref().unwrap().changed);
    assert!(!step.target_cache.as_ref().unwrap().changed);
    assert!(
        render_diff(&d).contains("warm: same mount as before"),
        "{}",
        render_diff(&d)
    );
}

#[test]
fn a_new_registry_dependency_adds_the_fetch_step() {
    let a = Build::default().explain();
    let b = Build::default().file("Cargo.lock", LOCK_REMOTE).explain();
    let d = diff(&a, &b);
    let fetch = d
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Fetch)
        .expect("fetch step");
    assert_eq!(fetch.status, StepStatus::Added);
    assert_eq!(d.steps[0].kind, StepKind::Fetch, "in build order");
    let step = build_step(&d);
    assert!(paths(&step.inputs).contains(&"fetch"), "{:?}", step.inputs);
    assert!(render_diff(&d).contains("added: a fetch step"));

    let back = diff(&b, &a);
    assert_eq!(back.steps[0].status, StepStatus::Removed);
    assert_eq!(
        back.steps.len(),
        3,
        "fetch, build, image (a local build has no layers)"
    );
}

#[test]
fn steps_are_matched_by_target_and_kind() {
    let a = Build::default().explain();
    let mut b = a.clone();
    b.steps[0].target = "compile".into();
    let d = diff(&a, &b);
    let statuses: Vec<(&str, StepStatus)> = d
        .steps
        .iter()
        .map(|s| (s.target.as_str(), s.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("compile", StepStatus::Added),
            ("build", StepStatus::Removed),
            ("image", StepStatus::Unchanged),
        ]
    );
}

#[test]
fn nested_inputs_name_each_entry() {
    let mut changes = Vec::new();
    let old = serde_json::json!({"a": {"x": 1, "y": 2}, "gone": true});
    let new = serde_json::json!({"a": {"x": 1, "y": 3}, "new": [1]});
    diff_values("cfg", Some(&old), Some(&new), &mut changes);
    let got: Vec<(&str, ChangeKind)> = changes
        .iter()
        .map(|c| (c.path.as_str(), c.change))
        .collect();
    assert_eq!(
        got,
        [
            ("cfg.a.y", ChangeKind::Changed),
            ("cfg.gone", ChangeKind::Removed),
            ("cfg.new", ChangeKind::Added),
        ]
    );
}

#[test]
fn text_lists_keys_and_aligned_inputs() {
    let e = Build::default().explain();
    let text = render_text(&e);
    let keys = e.steps[0].keys.as_ref().unwrap();
    assert!(text.contains(&e.steps[0].name), "{text}");
    assert!(
        text.contains(&format!("target cache  {} (strict mode)", keys.mount_id)),
        "{text}"
    );
    assert!(text.contains(&keys.strict.hash[..12]), "{text}");
    assert!(text.contains(&keys.fast.hash[..12]), "{text}");
    assert!(
        text.contains("    env              = {\"CC\":\"cc\",\"CFLAGS\":\"-O2\"}"),
        "{text}"
    );
    assert!(
        text.contains(&format!("    sdk              = \"{SDK_A}\"")),
        "{text}"
    );
    // Nothing in user input makes rendering panic.
    let mut odd = e.clone();
    odd.steps[0].digest = "sha256:é".into();
    odd.steps[0].keys.as_mut().unwrap().strict.hash = String::new();
    let _ = render_text(&odd);
    let _ = render_diff(&diff(&e, &odd));
}

#[test]
fn a_setup_change_shows_as_a_new_sdk_for_every_step() {
    let plain = Build::default().explain();
    let make = Build::default()
        .sdk_lines("packages = [\"make\"]")
        .explain();
    let setup = make.steps.first().expect("steps");
    assert_eq!(
        (setup.target.as_str(), setup.kind),
        ("sdk", StepKind::SdkSetup)
    );
    assert!(setup.name.starts_with("[sdk] setup · "), "{}", setup.name);
    assert_eq!(setup.inputs["image_identity"], SDK_A);
    assert!(
        render_text(&make).contains("packages       = [\"make\"]"),
        "{}",
        render_text(&make)
    );
    let round_trip = Explanation::from_json(&make.to_json()).unwrap();
    assert_eq!(round_trip, make, "the kind survives JSON as `sdk-setup`");
    assert!(make.to_json().contains("\"kind\": \"sdk-setup\""));

    let added = diff(&plain, &make);
    assert_eq!(paths(&added.build), ["sdk"]);
    assert_eq!(added.steps[0].status, StepStatus::Added);
    assert!(build_step(&added).target_cache.as_ref().unwrap().changed);

    let more = Build::default()
        .sdk_lines("packages = [\"make\"]\nsetup = [\"true\"]")
        .explain();
    let d = diff(&make, &more);
    assert_eq!(paths(&d.build), ["sdk"]);
    let setup = d
        .steps
        .iter()
        .find(|s| s.kind == StepKind::SdkSetup)
        .unwrap();
    assert_eq!(setup.status, StepStatus::Changed);
    assert_eq!(paths(&setup.inputs), ["setup"]);
    let build = build_step(&d);
    assert!(
        build.op.as_ref().unwrap().changed,
        "the cargo step runs again"
    );
    assert!(
        build.target_cache.as_ref().unwrap().changed,
        "on a new target cache"
    );
    assert!(paths(&build.inputs).contains(&"sdk"), "{:?}", build.inputs);
    let text = render_diff(&d);
    assert!(text.contains("setup: [] → [\"true\"]"), "{text}");
    assert!(text.contains("every target cache is keyed on it"), "{text}");
}

#[test]
fn an_explanation_prints_the_plan_with_a_reason_for_every_decision() {
    let e = Build::default().file("Cargo.lock", LOCK_REMOTE).explain();
    let decision = |target: &str, kind: StepKind| {
        e.plan
            .iter()
            .find(|s| s.target == target && s.kind == kind)
            .unwrap_or_else(|| panic!("{target} {kind:?} in {:#?}", e.plan))
            .clone()
    };
    let fetch = decision("fetch", StepKind::Fetch);
    assert!(fetch.planned);
    assert_eq!(fetch.reason, "registry-packages");
    let deps = decision("build", StepKind::Dependencies);
    assert!(!deps.planned, "a local build");
    assert_eq!(deps.reason, "cache-local");
    assert_eq!(decision("image", StepKind::Image).reason, "image-target");

    let text = render_text(&e);
    let plan_at = text.find("\nplan\n").expect("a plan section");
    assert!(
        plan_at < text.find("[build] cargo build").unwrap(),
        "before the steps: {text}"
    );
    for line in [
        "  [fetch] fetch: Cargo.lock has 1 registry/git package and the project does not vendor",
        "  [build] no dependency layer: the cache stays on this builder, the target cache \
         mount is warm ([cache] layers = \"auto\")",
        "  [build] cargo step: cargo on its keyed target cache",
        "  [image] image step: the target is an image",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
    }

    // The JSON form carries it and reads back; one written before the plan still reads.
    let json = e.to_json();
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["plan"][1]["reason"], "registry-packages", "{json}");
    assert_eq!(Explanation::from_json(&json).unwrap(), e);
    let mut old = value.clone();
    old.as_object_mut().unwrap().remove("plan");
    let old = Explanation::from_json(&old.to_string()).unwrap();
    assert!(old.plan.is_empty());
    assert_eq!(old.steps, e.steps);
}
