use std::collections::{BTreeMap, BTreeSet};

use super::lint::{self, LintInput};
use super::*;
use crate::compile::{self, BuildRequest, ResolvedImage};
use crate::llb::Platform;
use crate::project::ProjectFiles;
use crate::spec;

const SPEC: &str = r#"# syntax=cachet/frontend:dev
[project]
name = "hello"
include = ["assets/logo.txt", "data/*.json", "missing.txt"]

[args]
LEVEL = "2"
UNUSED = "x"

[sdk]
image = "cachet-sdk:rustup"

[cargo]
env = { CFLAGS = "-O${LEVEL}" }

[fetch]
secrets = { CARGO_REGISTRIES_CORP_TOKEN = "corp-token" }

[target.build]
description = "The hello binary"
cargo = ["build", "--bin", "hello"]
artifacts = { hello = "hello", typo = "helo" }

[target.tool]
cargo = ["build", "--bin", "tool"]
artifacts = { tool = "tool" }

[target.test]
cargo = ["test"]

[target.image]
from = "scratch"
copy = [{ from = "+build", artifact = "hello", to = "/usr/local/bin/hello" }]
"#;

const SDK_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[]}}"#;

fn loaded() -> Spec {
    spec::load("Cachet.toml", SPEC, &BTreeMap::new()).unwrap()
}

fn project() -> ProjectFiles {
    ProjectFiles {
        files: BTreeMap::from([
            (
                "Cargo.toml".to_string(),
                b"[package]\nname = \"hello\"\nversion = \"0.1.0\"\n\n[dependencies]\nlocal = { path = \"crates/local\" }\nfar = { path = \"../far\" }\n\n[patch.crates-io]\nserde = { path = \"/opt/serde\" }\n"
                    .to_vec(),
            ),
            (
                "crates/local/Cargo.toml".to_string(),
                b"[package]\nname = \"local\"\n[dependencies]\nsibling = { path = \"../sibling\" }\n"
                    .to_vec(),
            ),
            (
                "Cargo.lock".to_string(),
                b"version = 3\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
                    .to_vec(),
            ),
        ]),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap()
}

#[test]
fn base64_matches_the_standard_alphabet_and_padding() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(&[0xff, 0xfe]), "//4=");
}

#[test]
fn targets_lists_every_target_in_file_order_with_kind_default_and_description() {
    let list = targets(SPEC, &loaded());
    let names: Vec<&str> = list.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["build", "tool", "test", "image"]);
    let build = &list.targets[0];
    assert_eq!(build.kind, "cargo");
    assert_eq!(build.description, "The hello binary");
    assert!(!build.default);
    let loc = build.location.as_ref().unwrap();
    assert_eq!(
        loc.ranges[0].start.line as usize,
        line_of(SPEC, "[target.build]")
    );
    let test = &list.targets[2];
    assert_eq!(
        test.description, "cargo test",
        "no description: what it runs"
    );
    let image = &list.targets[3];
    assert!(image.default, "the last target is the default");
    assert_eq!(image.kind, "image");
    assert_eq!(image.base, "scratch");
    let text = render_targets(&list);
    assert!(text.starts_with("TARGET"), "{text}");
    assert!(text.contains("image (default)"), "{text}");
    assert!(text.contains("The hello binary"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&to_json(&list)).unwrap();
    assert_eq!(json["targets"][3]["default"], true);
    assert!(json["targets"][0].get("default").is_none());
}

#[test]
fn a_description_is_part_of_the_spec_model_and_its_schema() {
    let schema = crate::spec::json_schema().to_string();
    assert!(schema.contains("\"description\":{\"description\":\"What the target is for"));
    let spec_text = SPEC.replace("description = \"The hello binary\"", "description = 1");
    assert!(spec::load("Cachet.toml", &spec_text, &BTreeMap::new()).is_err());
}

fn compiled(spec: &Spec, target: &str) -> compile::Compiled {
    let request = BuildRequest {
        images: BTreeMap::from([(
            "cachet-sdk:rustup".to_string(),
            ResolvedImage {
                digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"
                    .into(),
                config: SDK_CONFIG.as_bytes().to_vec(),
            },
        )]),
        project: project(),
        ..BuildRequest::new(target.into(), Platform::linux_amd64(), "session-1")
    };
    compile::compile(spec, &request).unwrap()
}

#[test]
fn the_outline_names_args_secrets_and_every_target_cache_the_build_uses() {
    let spec = loaded();
    let built = compiled(&spec, "image");
    let outline = outline(SPEC, &spec, &"image".into(), &built).unwrap();
    let args: Vec<(&str, &str)> = outline
        .args
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_str()))
        .collect();
    assert_eq!(args, [("LEVEL", "2"), ("UNUSED", "x")]);
    let level = outline.args[0].location.as_ref().unwrap();
    assert_eq!(
        level.ranges[0].start.line as usize,
        line_of(SPEC, "LEVEL = ")
    );
    assert_eq!(level.ranges[0].start.character, 1);
    assert_eq!(
        outline.secrets,
        [Requirement {
            name: "corp-token".into(),
            required: true
        }]
    );
    for keys in built.cargo_keys.values() {
        let id = &keys.selected().mount_id;
        assert!(
            outline.cache.iter().any(|c| &c.id == id),
            "{id} in {:?}",
            outline.cache
        );
    }
    let text = render_outline(&outline);
    assert!(text.contains("TARGET: image"), "{text}");
    assert!(text.contains("BUILD ARG"), "{text}");
    assert!(text.contains("corp-token"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&to_json(&outline)).unwrap();
    assert!(json["cache"][0]["ID"].is_string(), "{json}");
}

#[test]
fn an_overridden_arg_shows_its_value_for_this_build() {
    let args = BTreeMap::from([("LEVEL".to_string(), "3".to_string())]);
    let spec = spec::load("Cachet.toml", SPEC, &args).unwrap();
    let built = compiled(&spec, "build");
    let outline = outline(SPEC, &spec, &"build".into(), &built).unwrap();
    assert_eq!(outline.args[0].value, "2", "the declared default");
    assert_eq!(outline.args[0].description, "this build: 3");
    assert_eq!(outline.description, "The hello binary");
}

#[test]
fn an_arg_is_unused_only_when_no_value_changes_with_it() {
    let map = SpecMap::new(SPEC);
    let warnings = lint::unused_args("Cachet.toml", SPEC, &map);
    let names: Vec<&str> = warnings.iter().map(|w| w.detail.as_str()).collect();
    assert_eq!(warnings.len(), 1, "{names:?}");
    assert!(warnings[0].detail.contains("`UNUSED`"));
    assert_eq!(
        warnings[0].position.unwrap().line,
        line_of(SPEC, "UNUSED = ")
    );
    // An argument the spec refuses as a probe value (a key mode) counts as used.
    let text = SPEC
        .replace("[cargo]\n", "[cargo]\nmode = \"${UNUSED}\"\n")
        .replace("UNUSED = \"x\"", "UNUSED = \"strict\"");
    let map = SpecMap::new(&text);
    assert!(lint::unused_args("Cachet.toml", &text, &map).is_empty());
}

#[test]
fn only_literal_include_paths_missing_from_the_context_are_reported() {
    let map = SpecMap::new(SPEC);
    assert_eq!(
        lint::literal_includes(&map),
        ["assets/logo.txt", "missing.txt"]
    );
    let present = BTreeSet::from(["assets/logo.txt".to_string()]);
    let warnings = lint::includes_matching_nothing("Cachet.toml", &map, &present);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].detail.contains("`missing.txt`"));
    let at = warnings[0].position.unwrap();
    assert_eq!(at.line, line_of(SPEC, "include = "));
    assert_eq!(
        at.column,
        SPEC.lines()
            .nth(at.line - 1)
            .unwrap()
            .find("\"missing")
            .unwrap()
            + 1
    );
}

#[test]
fn a_cargo_step_with_artifacts_no_image_copies_is_unreachable() {
    let spec = loaded();
    let warnings = lint::unreachable_targets("Cachet.toml", &spec, &SpecMap::new(SPEC));
    let details: Vec<&str> = warnings.iter().map(|w| w.detail.as_str()).collect();
    assert_eq!(warnings.len(), 1, "{details:?}");
    assert!(
        warnings[0].detail.starts_with("target `tool`"),
        "{details:?}"
    );
    assert_eq!(
        warnings[0].position.unwrap().line,
        line_of(SPEC, "[target.tool]")
    );
}

#[test]
fn artifacts_are_checked_only_against_named_bins() {
    let spec = loaded();
    let warnings = lint::artifacts_not_produced("Cachet.toml", &spec, &SpecMap::new(SPEC));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].detail.contains("`typo`"), "{warnings:?}");
    assert!(warnings[0].detail.contains("`helo`"), "{warnings:?}");
    let at = warnings[0].position.unwrap();
    assert_eq!(at.line, line_of(SPEC, "typo = "));
    let strings = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        lint::named_bins(&strings(&["build", "--bin=a", "--bin", "b"])),
        Some(BTreeSet::from(["a".to_string(), "b".to_string()]))
    );
    for unknown in [
        &["build"][..],
        &["build", "--workspace"],
        &["build", "--bin", "a", "--examples"],
        &["build", "--bin", "a*"],
        &["test", "--bin", "a"],
        &["build", "--bin"],
    ] {
        assert_eq!(lint::named_bins(&strings(unknown)), None, "{unknown:?}");
    }
}

#[test]
fn paths_leaving_the_context_are_reported_in_their_manifest() {
    let warnings = lint::paths_outside_context(&project());
    let found: Vec<(&str, usize, &str)> = warnings
        .iter()
        .map(|w| (w.file.as_str(), w.position.unwrap().line, w.rule))
        .collect();
    assert_eq!(
        found,
        [
            ("Cargo.toml", 7, "PathOutsideContext"),
            ("Cargo.toml", 10, "PathOutsideContext"),
        ],
        "{warnings:?}"
    );
    assert!(warnings[0].detail.contains("`far`") && warnings[0].detail.contains("../far"));
    assert!(warnings[1].detail.contains("[patch.crates-io]"));
}

#[test]
fn lint_results_locate_warnings_in_their_sources_and_set_the_status() {
    let spec = loaded();
    let present = BTreeSet::from(["assets/logo.txt".to_string()]);
    let project = project();
    let warnings = lint::lint(&LintInput {
        file: "Cachet.toml",
        text: SPEC,
        spec: &spec,
        project: &project,
        present_includes: &present,
    });
    let rules: Vec<&str> = warnings.iter().map(|w| w.rule).collect();
    assert_eq!(
        rules,
        [
            "IncludeMatchesNothing",
            "UnusedArg",
            "ArtifactNotProduced",
            "UnreachableTarget",
            "PathOutsideContext",
            "PathOutsideContext",
        ]
    );
    assert_eq!(lint::status_code(&warnings), 1);
    assert_eq!(lint::status_code(&[]), 0);
    let results = lint::results("Cachet.toml", SPEC, &project, &warnings);
    assert_eq!(results.sources.len(), 2);
    assert_eq!(results.sources[1].filename, "Cargo.toml");
    assert_eq!(results.warnings[0].location.source_index, 0);
    assert_eq!(results.warnings[5].location.source_index, 1);
    let json: serde_json::Value = serde_json::from_str(&to_json(&results)).unwrap();
    assert_eq!(json["warnings"][0]["ruleName"], "IncludeMatchesNothing");
    assert_eq!(json["sources"][0]["language"], "TOML");
    let text = lint::render(&warnings);
    assert!(text.contains("Cachet.toml:"), "{text}");
    assert!(text.ends_with("6 warnings have been found!\n"), "{text}");
}

#[test]
fn a_clean_spec_has_no_warnings() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/workspace/Cachet.toml"
    ))
    .unwrap();
    let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap();
    let warnings = lint::lint(&LintInput {
        file: "Cachet.toml",
        text: &text,
        spec: &spec,
        project: &ProjectFiles::default(),
        present_includes: &BTreeSet::new(),
    });
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn describe_lists_every_request_with_its_version() {
    let names = request_names();
    assert_eq!(names, [DESCRIBE, TARGETS, OUTLINE, LINT, EXPLAIN]);
    let text = render_requests(&requests());
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("\nexplain "), "{text}");
    let json: serde_json::Value = serde_json::from_str(&to_json(&requests())).unwrap();
    assert_eq!(json[3]["metadata"][2]["name"], "result.statuscode");
    assert_eq!(json[0]["type"], "rpc");
}
