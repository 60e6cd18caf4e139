//! "Why did this rebuild" and `--no-cache` / `--no-cache-filter`, end to end.
//!
//! - Every cargo step that ran is followed by a progress step `[cachet] why +<target> rebuilt`
//!   that names what changed since the last build of the target on this builder: a new
//!   `CFLAGS` build argument shows as `env.CFLAGS: "<old>" → "<new>"`, and a no-op rebuild is
//!   fully cached and prints no change (both engines).
//! - `--no-cache` (both engines) and `--no-cache-filter build` (buildx only: dockerd 20.10's
//!   docker CLI has no `--no-cache-filter`) compile every crate of the selected cargo step from
//!   nothing on a warm builder and give a byte-identical binary; with the filter, another
//!   cargo target in the same build stays cached.
//!
//! Every test builds a copy of an example under a project name of its own (so its target and
//! why caches are its own), with a nonce in a source file (BuildKit leaves cache mount ids out
//! of an exec's cache key, so only new inputs make a step really run).

use std::path::Path;

use cachet_tests::progress::{vertices, Vertex};
use cachet_tests::{fixtures, on_each_engine, Engine, TempProject};

/// What the cargo step of a `--no-cache` target ends its progress name with
/// (`llb_gen::compile` `cargo_step::FRESH_SUFFIX`).
const FRESH_SUFFIX: &str = " (--no-cache: fresh target cache)";

/// A copy of `examples/<example>` under a project name of its own, with a nonce appended to
/// the Rust source `marked`; `spec` (if given) replaces its Cachet.toml, with the same name.
fn example_project(example: &str, label: &str, marked: &str, spec: Option<&str>) -> TempProject {
    let project = TempProject::new(label);
    project.copy_from(fixtures::repo_root().join("examples").join(example));
    let nonce = fixtures::nonce();
    let spec = match spec {
        Some(spec) => spec.to_string(),
        None => std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap(),
    };
    let from = format!("name = \"{example}\"");
    assert!(spec.contains(&from), "the spec no longer has `{from}`");
    project.write(
        "Cachet.toml",
        spec.replace(&from, &format!("name = \"why-{label}-{nonce}\"")),
    );
    let source = std::fs::read_to_string(project.path().join(marked)).unwrap();
    project.write(marked, format!("{source}\n// cachet-tests run {nonce}\n"));
    project
}

/// The named step whose name starts with `prefix`: `(name, cached, its log lines)` (the text
/// after the `#N <seconds>` of each line). Panics unless there is exactly one.
#[track_caller]
fn step_log(progress: &str, prefix: &str) -> (String, bool, Vec<String>) {
    let found: Vec<Vertex> = vertices(progress)
        .into_iter()
        .filter(|v| v.name.starts_with(prefix))
        .collect();
    let names: Vec<&str> = found.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one `{prefix}…` step, found {names:?} in:\n{progress}"
    );
    let vertex = found.into_iter().next().unwrap();
    let lines = vertex.log.lines().map(|l| l.trim().to_string()).collect();
    (vertex.name, vertex.cached, lines)
}

/// `crate name` of every `Compiling <crate> v…` line of the log, sorted.
fn compiled(progress: &str) -> Vec<String> {
    let mut crates: Vec<String> = progress
        .lines()
        .filter_map(|l| l.split_once(" Compiling ").map(|(_, c)| c))
        .filter_map(|c| c.split_whitespace().next().map(str::to_string))
        .collect();
    crates.sort();
    crates
}

// ---------------------------------------------------------------------------------------------
// Why it rebuilt

#[test]
fn a_new_cflags_value_is_named_by_the_why_step_and_a_no_op_prints_nothing() {
    on_each_engine(|engine| {
        let project = example_project("cflags", &format!("cflags-{engine}"), "src/main.rs", None);
        let build = |level: &str| {
            engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .target("build")
                .build_arg("LEVEL", level)
                .run()
                .assert_success()
                .progress()
                .to_string()
        };
        let why = "[cachet] why +build rebuilt";

        let first = build("1");
        let (_, cached, log) = step_log(&first, why);
        assert!(!cached, "{engine}: the why step ran after cargo:\n{first}");
        assert!(
            log.iter()
                .any(|l| l == "first build of +build on this builder"),
            "{engine}: a new project's first build says so: {log:#?}"
        );

        let second = build("7");
        let (_, cached, log) = step_log(&second, why);
        assert!(!cached, "{engine}:\n{second}");
        assert!(
            log.iter()
                .any(|l| l == "env.CFLAGS: \"-O2 -DCACHET_LEVEL=1\" → \"-O2 -DCACHET_LEVEL=7\""),
            "{engine}: the why step names the changed CFLAGS, old and new: {log:#?}\n{second}"
        );
        assert!(
            log.iter()
                .any(|l| l.starts_with("target_cache: \"cachet/why-cflags-")),
            "{engine}: a strict key input moves the target cache, and that is shown: {log:#?}"
        );
        assert!(
            !log.iter().any(|l| l.starts_with("sources changed")),
            "{engine}: no source changed: {log:#?}"
        );

        // A no-op: every step cached, the why step too, and no change printed anywhere.
        let third = build("7");
        let (_, cached, log) = step_log(&third, why);
        assert!(
            cached && log.is_empty(),
            "{engine}: a no-op rebuild runs no why step: {log:#?}\n{third}"
        );
        let ran: Vec<String> = vertices(&third)
            .into_iter()
            // Context transfers, image resolution and the script files (a file op on nothing,
            // shown DONE rather than CACHED) run on every build, before and after this feature.
            .filter(|Vertex { name, cached, .. }| {
                !cached
                    && ![
                        "[internal]",
                        "[cachet] load ",
                        "[cachet] resolve image ",
                        "[cachet] image ",
                        "[cachet] step script of ",
                    ]
                    .iter()
                    .any(|p| name.starts_with(p))
            })
            .map(|v| v.name)
            .collect();
        assert!(
            ran.is_empty(),
            "{engine}: a no-op rebuild is fully cached, but ran {ran:?}:\n{third}"
        );
        assert!(!third.contains("env.CFLAGS"), "{engine}:\n{third}");
    });
}

// ---------------------------------------------------------------------------------------------
// --no-cache and --no-cache-filter

/// The workspace example with a second cargo target, `tool`, under keys of its own (an env
/// variable), and an image of one binary from each.
const TWO_TARGETS: &str = r#"# syntax=cachet/frontend:dev
[project]
name = "workspace"

[sdk]
image = "cachet-sdk:rustup"

[cargo]
profile = "release"
rustflags = ["-C", "target-feature=+crt-static"]

[target.build]
cargo = ["build", "--workspace"]
artifacts = { app = "app", tool = "tool" }

[target.tool]
cargo = ["build", "-p", "tool"]
env = { CACHET_TEST_TOOL = "1" }
artifacts = { tool = "tool" }

[target.image]
from = "scratch"
copy = [
  { from = "+build", artifact = "app", to = "/app" },
  { from = "+tool", artifact = "tool", to = "/tool" },
]
"#;

/// Every crate `cargo build --workspace` of the workspace example compiles.
const WORKSPACE_CRATES: [&str; 4] = ["app", "greeting", "greeting-derive", "tool"];

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn no_cache_compiles_every_crate_from_nothing_on_a_warm_builder() {
    on_each_engine(|engine| {
        let project = example_project(
            "workspace",
            &format!("nocache-{engine}"),
            "crates/greeting/src/lib.rs",
            None,
        );
        let build = |out: &str, no_cache: bool| {
            let mut b = engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .target("build")
                .local_output(project.path().join(out));
            if no_cache {
                b = b.no_cache();
            }
            b.run().assert_success().progress().to_string()
        };
        let warm = build("warm", false);
        assert_eq!(compiled(&warm), WORKSPACE_CRATES, "{engine}:\n{warm}");
        let again = build("again", false);
        assert!(compiled(&again).is_empty(), "{engine}: warm:\n{again}");

        let fresh = build("fresh", true);
        assert_eq!(
            compiled(&fresh),
            WORKSPACE_CRATES,
            "{engine}: --no-cache compiles every crate again, on a warm builder:\n{fresh}"
        );
        let (name, cached, _) = step_log(&fresh, "[build] cargo ");
        assert!(
            !cached && name.ends_with(FRESH_SUFFIX),
            "{engine}: the step says it starts afresh: {name}"
        );
        let (_, _, why) = step_log(&fresh, "[cachet] why +build rebuilt");
        assert!(
            why.iter().any(
                |l| l.starts_with("--no-cache: target cache cachet/why-nocache-")
                    && l.contains("was emptied first")
            ),
            "{engine}: {why:#?}"
        );
        for bin in ["app", "tool"] {
            assert!(
                read(&project.path().join("warm").join(bin))
                    == read(&project.path().join("fresh").join(bin)),
                "{engine}: the clean build's {bin} differs from the warm one's"
            );
        }

        // The mount now holds the clean build: after an edit to app, an ordinary build
        // compiles app alone.
        let main = std::fs::read_to_string(project.path().join("crates/app/src/main.rs")).unwrap();
        project.write(
            "crates/app/src/main.rs",
            format!("{main}\n// edited after --no-cache {}\n", fixtures::nonce()),
        );
        let after = build("after", false);
        assert_eq!(
            compiled(&after),
            ["app"],
            "{engine}: the ordinary build continues from the clean target cache:\n{after}"
        );
    });
}

#[test]
fn no_cache_filter_starts_one_target_afresh_and_leaves_the_other_cached() {
    // dockerd 20.10's docker CLI has no --no-cache-filter.
    let engine = Engine::Buildx;
    let project = example_project(
        "workspace",
        "filter",
        "crates/greeting/src/lib.rs",
        Some(TWO_TARGETS),
    );
    let build = |out: &str, filter: Option<&str>| {
        let mut b = engine
            .build(project.path())
            .file(project.path().join("Cachet.toml"))
            .target("image")
            .local_output(project.path().join(out));
        if let Some(filter) = filter {
            b = b.arg("--no-cache-filter").arg(filter);
        }
        b.run().assert_success().progress().to_string()
    };
    let warm = build("warm", None);
    assert!(
        !step_log(&warm, "[build] cargo ").1 && !step_log(&warm, "[tool] cargo ").1,
        "{warm}"
    );

    let fresh = build("fresh", Some("build"));
    let (name, cached, _) = step_log(&fresh, "[build] cargo ");
    assert!(
        !cached && name.ends_with(FRESH_SUFFIX),
        "the filtered target runs afresh and says so: {name}\n{fresh}"
    );
    assert_eq!(
        compiled(&fresh),
        WORKSPACE_CRATES,
        "every crate of +build compiled from nothing, nothing else compiled:\n{fresh}"
    );
    let (name, cached, _) = step_log(&fresh, "[tool] cargo ");
    assert!(
        cached && !name.contains("--no-cache"),
        "the other target stays cached: {name}\n{fresh}"
    );
    let (_, cached, _) = step_log(&fresh, "[cachet] why +tool rebuilt");
    assert!(cached, "{fresh}");
    assert_eq!(
        read(&project.path().join("warm/app")),
        read(&project.path().join("fresh/app")),
        "the clean build's app differs from the warm one's"
    );
    assert_eq!(
        read(&project.path().join("warm/tool")),
        read(&project.path().join("fresh/tool"))
    );

    // A misspelt filter is an error, not a build that quietly keeps the cache.
    let typo = engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .target("image")
        .arg("--no-cache-filter")
        .arg("biuld")
        .run()
        .assert_failure();
    assert!(
        typo.progress().contains("--no-cache-filter names `biuld`"),
        "{}",
        typo.progress()
    );
}
