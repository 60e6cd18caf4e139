//! BuildKit subrequests through buildx: `docker buildx build --call targets|outline|check|
//! explain` on `examples/workspace`, a planted spec problem failing `--call check`, and the
//! explanation of `--call explain` naming the very ops and target cache mounts of the real
//! build that follows it.
//!
//! buildx engine only: dockerd 20.10's docker CLI has no `--call` (nothing sends a
//! `requestid` there, so its builds are the ones `frontend.rs` and `examples.rs` test).
//!
//! Every assertion is derived from the spec under test (loaded with `llb_gen::spec::load`) or
//! from what BuildKit reports for the real build: progress vertex digests (`--progress=rawjson`)
//! and the cache mounts in the builder's disk usage (`docker buildx du --verbose`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cachet_tests::{fixtures, process, Captured, Engine, Env, TempProject};
use llb_gen::explain::{Explanation, StepKind};
use serde_json::Value;

/// A copy of `examples/workspace` under a project name of its own (so its target cache
/// mounts are its own), with `edit` applied to its spec.
fn workspace(label: &str, edit: impl FnOnce(String) -> String) -> TempProject {
    let project = TempProject::new(label);
    project.copy_from(fixtures::repo_root().join("examples/workspace"));
    let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
    let spec = spec.replace(
        "name = \"workspace\"",
        &format!("name = \"{label}-{}\"", fixtures::nonce()),
    );
    project.write("Cachet.toml", edit(spec));
    project
}

fn spec_text(project: &TempProject) -> String {
    std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap()
}

fn load(project: &TempProject) -> llb_gen::spec::Spec {
    llb_gen::spec::load("Cachet.toml", &spec_text(project), &BTreeMap::new()).unwrap()
}

/// `docker buildx build --call <call>` of the project's spec; the answer is on stdout.
fn call(project: &TempProject, call: &str) -> Captured {
    Engine::Buildx
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .arg("--call")
        .arg(call)
        .run()
        .captured
}

fn json(out: &Captured) -> Value {
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The 1-based line of the first line of `text` that starts with `prefix`.
fn line_starting(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}"))
}

#[test]
fn call_targets_lists_every_target_of_the_spec() {
    let project = workspace("call-targets", |s| {
        s.replace(
            "[target.test]\n",
            "[target.test]\ndescription = \"Runs the workspace's tests\"\n",
        )
    });
    let spec = load(&project);
    let text = spec_text(&project);

    let out = call(&project, "targets").assert_success();
    assert!(out.stdout.starts_with("TARGET"), "{out}");
    for name in spec.targets.keys() {
        let marked = if *name == spec.default_target {
            format!("{name} (default)")
        } else {
            name.clone()
        };
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{marked} "))),
            "target {marked} in:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("Runs the workspace's tests"), "{out}");

    let list = json(&call(&project, "targets,format=json").assert_success());
    let listed: Vec<&str> = list["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // The file's order.
    let mut in_file: Vec<&String> = spec.targets.keys().collect();
    in_file.sort_by_key(|n| line_starting(&text, &format!("[target.{n}]")));
    assert_eq!(listed, in_file, "{list}");
    for t in list["targets"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let kind = match &spec.targets[name] {
            llb_gen::spec::Target::Cargo(_) => "cargo",
            llb_gen::spec::Target::Image(_) => "image",
        };
        assert_eq!(t["kind"], kind, "{t}");
        assert_eq!(
            t["default"].as_bool().unwrap_or(false),
            name == spec.default_target,
            "{t}"
        );
        let line = t["location"]["ranges"][0]["start"]["line"]
            .as_u64()
            .unwrap() as usize;
        assert_eq!(
            line,
            line_starting(&text, &format!("[target.{name}]")),
            "{t}"
        );
    }
}

#[test]
fn call_outline_names_the_args_and_every_target_cache_of_the_build() {
    let project = workspace("call-outline", |s| {
        s.replace("[sdk]\n", "[args]\nGREETING = \"hello\"\n\n[sdk]\n")
            .replace(
                "[target.build]\n",
                "[target.build]\nenv = { GREETING = \"${GREETING}\" }\n",
            )
    });
    let text = spec_text(&project);

    let out = call(&project, "outline").assert_success();
    assert!(out.stdout.contains("TARGET:"), "{out}");
    let arg_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("GREETING"))
        .unwrap_or_else(|| panic!("the declared arg in:\n{}", out.stdout));
    assert!(arg_line.contains("hello"), "{arg_line}");

    let outline = json(&call(&project, "outline,format=json").assert_success());
    let spec = load(&project);
    assert_eq!(outline["name"], spec.default_target.as_str());
    let arg = &outline["args"][0];
    assert_eq!(arg["name"], "GREETING");
    assert_eq!(arg["value"], "hello");
    let start = &arg["location"]["ranges"][0]["start"];
    assert_eq!(
        start["line"].as_u64().unwrap() as usize,
        line_starting(&text, "GREETING = ")
    );
    assert_eq!(start["character"], 1);

    // Every target cache the explanation of the same build names is in the outline's cache.
    let explanation = explain_json(&project);
    let cache: BTreeSet<&str> = outline["cache"]
        .as_array()
        .unwrap_or_else(|| panic!("a cache list: {outline}"))
        .iter()
        .map(|c| c["ID"].as_str().unwrap())
        .collect();
    let mounts = mount_ids(&explanation);
    assert!(!mounts.is_empty(), "{explanation:?}");
    for id in &mounts {
        assert!(cache.contains(id.as_str()), "{id} in {cache:?}");
        assert!(id.starts_with(&format!("cachet/{}/", spec.project)), "{id}");
    }
}

fn explain_json(project: &TempProject) -> Explanation {
    let out = call(project, "explain,format=json").assert_success();
    Explanation::from_json(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn call_explain_prints_the_explanation_of_the_build() {
    let project = workspace("call-explain", |s| s);
    let spec = load(&project);

    let out = call(&project, "explain").assert_success();
    let first = out.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("target      {}", spec.default_target),
        "{out}"
    );
    let explanation = explain_json(&project);
    assert_eq!(explanation.target, spec.default_target);
    // One step per target the default target needs, named as in progress output.
    for name in spec.closure(&spec.default_target) {
        let step = explanation
            .steps
            .iter()
            .find(|s| s.target == name && matches!(s.kind, StepKind::Cargo | StepKind::Image))
            .unwrap_or_else(|| panic!("a step for {name}: {explanation:?}"));
        assert!(
            out.stdout.contains(&step.name),
            "{} in:\n{}",
            step.name,
            out.stdout
        );
        if let Some(keys) = &step.keys {
            assert!(out.stdout.contains(&keys.mount_id), "{out}");
        }
    }
    // The plan, with a reason for every decision: a `--call explain` build's cache does not
    // travel, so no dependency layers, and the text says why.
    assert!(out.stdout.contains("\nplan\n"), "{out}");
    for name in spec.closure(&spec.default_target) {
        let decided = |kind| {
            explanation
                .plan
                .iter()
                .find(|s| s.target == name && s.kind == kind)
        };
        match decided(StepKind::Dependencies) {
            Some(deps) => {
                assert!(!deps.planned, "{deps:?}");
                assert_eq!(deps.reason, "cache-local", "{deps:?}");
                let line = format!("  [{name}] {}", deps.sentence);
                assert!(out.stdout.lines().any(|l| l == line), "{line:?} in:\n{out}");
            }
            None => assert!(
                decided(StepKind::Image).is_some_and(|s| s.planned),
                "{name}"
            ),
        }
    }
}

/// `--call explain` and `--call outline` with a platform list answer for every platform, not
/// only the first: one explanation per platform (in request order, each naming its own target
/// cache, keyed on its own triple), and one outline naming the caches of both.
#[test]
fn call_explain_and_outline_cover_every_requested_platform() {
    let project = workspace("call-platforms", |s| s);
    let platforms = ["linux/amd64", "linux/arm64"];
    let triples = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];
    let call_on_both = |what: &str| {
        Engine::Buildx
            .build(project.path())
            .file(project.path().join("Cachet.toml"))
            .arg(format!("--platform={}", platforms.join(",")))
            .arg("--call")
            .arg(what)
            .run()
            .captured
            .assert_success()
    };

    let answer = json(&call_on_both("explain,format=json"));
    let list = answer
        .as_array()
        .unwrap_or_else(|| panic!("one explanation per platform: {answer}"));
    assert_eq!(list.len(), 2, "{answer}");
    let mut mounts = Vec::new();
    for ((value, platform), triple) in list.iter().zip(platforms).zip(triples) {
        let explanation =
            Explanation::from_json(&value.to_string()).unwrap_or_else(|e| panic!("{e}: {value}"));
        assert_eq!(explanation.platform, platform, "{answer}");
        let ids = mount_ids(&explanation);
        assert!(!ids.is_empty(), "{platform}: {answer}");
        for id in &ids {
            assert!(id.contains(&format!("/{triple}/")), "{platform}: {id}");
        }
        mounts.extend(ids);
    }

    let text = call_on_both("explain");
    for platform in platforms {
        assert!(
            text.stdout
                .lines()
                .any(|l| l.starts_with("platform") && l.trim_end().ends_with(platform)),
            "{platform} in:\n{}",
            text.stdout
        );
    }

    let outline = json(&call_on_both("outline,format=json"));
    let cache: BTreeSet<&str> = outline["cache"]
        .as_array()
        .unwrap_or_else(|| panic!("a cache list: {outline}"))
        .iter()
        .map(|c| c["ID"].as_str().unwrap())
        .collect();
    for id in &mounts {
        assert!(cache.contains(id.as_str()), "{id} in {cache:?}");
    }
}

#[test]
fn call_check_passes_a_clean_spec_and_fails_on_a_planted_problem() {
    let clean = workspace("call-check", |s| s);
    let out = call(&clean, "check").assert_success();
    assert!(
        out.stdout.contains("Check complete, no warnings found."),
        "{out}"
    );

    // A declared argument nothing uses, an include path the context lacks (next to one it
    // has), and a path dependency outside the context.
    let planted = workspace("call-check-bad", |s| {
        s.replace("[sdk]\n", "[args]\nNEVER_USED = \"1\"\n\n[sdk]\n")
            .replace(
                "[project]\n",
                "[project]\ninclude = [\"crates/app/src/main.rs\", \"not-in-context.txt\"]\n",
            )
    });
    let manifest = std::fs::read_to_string(planted.path().join("crates/app/Cargo.toml")).unwrap();
    planted.write(
        "crates/app/Cargo.toml",
        format!("{manifest}far = {{ path = \"../../../far\" }}\n"),
    );
    let text = spec_text(&planted);
    let manifest = std::fs::read_to_string(planted.path().join("crates/app/Cargo.toml")).unwrap();

    let out = call(&planted, "check,format=json").assert_failure();
    let results = json(&out);
    let warnings = results["warnings"].as_array().unwrap();
    let rules: Vec<&str> = warnings
        .iter()
        .map(|w| w["ruleName"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["IncludeMatchesNothing", "UnusedArg", "PathOutsideContext"],
        "{results}"
    );
    let place = |w: &Value| {
        let start = &w["location"]["ranges"][0]["start"];
        let source = w["location"]["sourceIndex"].as_u64().unwrap_or(0) as usize;
        (
            results["sources"][source]["filename"]
                .as_str()
                .unwrap()
                .to_string(),
            start["line"].as_u64().unwrap() as usize,
            start["character"].as_u64().unwrap() as usize,
        )
    };
    let include_line = line_starting(&text, "include = ");
    let column = text
        .lines()
        .nth(include_line - 1)
        .unwrap()
        .find("\"not-in")
        .unwrap()
        + 1;
    assert_eq!(
        place(&warnings[0]),
        ("Cachet.toml".to_string(), include_line, column),
        "{results}"
    );
    assert!(warnings[0]["detail"]
        .as_str()
        .unwrap()
        .contains("not-in-context.txt"));
    let line = line_starting(&text, "NEVER_USED = ");
    assert_eq!(
        place(&warnings[1]),
        ("Cachet.toml".to_string(), line, 1),
        "{results}"
    );
    assert!(warnings[1]["detail"]
        .as_str()
        .unwrap()
        .contains("NEVER_USED"));
    let far = line_starting(&manifest, "far = ");
    let column = manifest
        .lines()
        .nth(far - 1)
        .unwrap()
        .find("\"../")
        .unwrap()
        + 1;
    assert_eq!(
        place(&warnings[2]),
        ("crates/app/Cargo.toml".to_string(), far, column),
        "{results}"
    );

    // As text, buildx shows the rule and the spec's line.
    let out = call(&planted, "check").assert_failure();
    assert!(out.stdout.contains("3 warnings have been found!"), "{out}");
    assert!(out.stdout.contains("WARNING: UnusedArg"), "{out}");
    assert!(
        out.stdout.contains(&format!(" {line} | >>> NEVER_USED")),
        "{out}"
    );
}

#[test]
fn an_unknown_call_names_the_ones_there_are() {
    let project = workspace("call-unknown", |s| s);
    let out = call(&project, "nonsense").assert_failure();
    let all = out.combined();
    assert!(all.contains("`frontend.nonsense`"), "{out}");
    for name in ["targets", "outline", "lint", "explain"] {
        assert!(all.contains(name), "{name}: {out}");
    }
}

/// `--call explain` and the real build in one `docker buildx bake`: bake serves the shared
/// directories from one session (`local-sessionid:`), so both see the same context session,
/// as two steps of one build would. Each step's digest in the explanation must be a vertex of
/// the real build with that step's name, and each target cache mount it names must be a cache
/// mount the real build created (the explain request runs nothing). A nonce in a source makes
/// the cargo step run: current BuildKit keys an exec without its cache mount ids, so a new
/// project name alone would be served from an earlier run's cache and create no mount.
#[test]
fn the_explanation_names_the_ops_and_mounts_of_the_build_that_follows() {
    let project = workspace("call-bake", |s| s);
    let main = project.path().join("crates/app/src/main.rs");
    let source = std::fs::read_to_string(&main).unwrap();
    project.write(
        "crates/app/src/main.rs",
        format!("{source}// run {}\n", fixtures::nonce()),
    );
    let bake = serde_json::json!({
        "group": { "default": { "targets": ["explain", "build"] } },
        "target": {
            "explain": { "context": ".", "dockerfile": "Cachet.toml", "call": "explain" },
            "build": { "context": ".", "dockerfile": "Cachet.toml", "output": ["type=cacheonly"] },
        },
    });
    project.write("bake.json", bake.to_string());
    let env = Env::get();
    let mut cmd = Engine::docker(env);
    cmd.current_dir(project.path()).args([
        "buildx",
        "bake",
        "--builder",
        env.builder(),
        "-f",
        "bake.json",
        "--progress=rawjson",
        "--metadata-file",
        "metadata.json",
    ]);
    let out = process::run(&mut cmd, process::default_timeout()).assert_success();

    let metadata: Value =
        serde_json::from_slice(&std::fs::read(project.path().join("metadata.json")).unwrap())
            .unwrap();
    let explanation: Explanation =
        serde_json::from_value(metadata["explain"]["result.json"].clone())
            .unwrap_or_else(|e| panic!("{e}: {metadata}"));
    let vertices = rawjson_vertices(&out.stderr);

    let spec = load(&project);
    assert_eq!(explanation.target, spec.default_target);
    assert!(explanation.steps.len() >= 2, "{explanation:?}");
    for step in &explanation.steps {
        let name = vertices
            .get(&step.digest)
            .unwrap_or_else(|| panic!("{} ({}) is no vertex of the build", step.name, step.digest));
        // bake puts the target's name into each vertex name: `[build] …` → `[build build] …`.
        let bare = step.name.trim_start_matches('[');
        if step.kind == StepKind::Cargo {
            assert!(name.ends_with(bare), "{name} for {}", step.name);
        }
    }

    let du = process::run(
        Engine::docker(env).args(["buildx", "du", "--verbose", "--builder", env.builder()]),
        Duration::from_secs(120),
    )
    .assert_success();
    let mounts: Vec<&str> = explanation
        .steps
        .iter()
        .filter_map(|s| s.keys.as_ref().map(|k| k.mount_id.as_str()))
        .collect();
    assert!(!mounts.is_empty());
    for id in mounts {
        assert!(
            du.stdout.contains(&format!("with id \"{id}\"")),
            "the build ran no step with cache mount {id}"
        );
    }
}

/// Digest → name of every vertex in a `--progress=rawjson` log.
fn rawjson_vertices(log: &str) -> BTreeMap<String, String> {
    let mut vertices = BTreeMap::new();
    for line in log.lines() {
        let Ok(status) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for v in status["vertexes"].as_array().into_iter().flatten() {
            if let (Some(d), Some(n)) = (v["digest"].as_str(), v["name"].as_str()) {
                vertices.insert(d.to_string(), n.to_string());
            }
        }
    }
    vertices
}

/// The target cache mount id of every cargo step an explanation lists.
fn mount_ids(explanation: &Explanation) -> Vec<String> {
    explanation
        .steps
        .iter()
        .filter_map(|s| s.keys.as_ref().map(|k| k.mount_id.clone()))
        .collect()
}
