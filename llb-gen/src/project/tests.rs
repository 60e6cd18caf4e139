use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn files(entries: &[(&str, &str)]) -> ProjectFiles {
    ProjectFiles {
        files: entries
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect(),
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn set(a: &[&str]) -> BTreeSet<String> {
    a.iter().map(|s| s.to_string()).collect()
}

const WORKSPACE: &str = r#"
[workspace]
members = ["crates/*", "tools/gen"]
exclude = ["crates/skipped"]
default-members = ["crates/app"]
[workspace.dependencies]
shared = { path = "shared" }
"#;

fn workspace() -> ProjectFiles {
    files(&[
        ("Cargo.toml", WORKSPACE),
        (
            "crates/app/Cargo.toml",
            "[package]\nname = \"app\"\n[dependencies]\ncore = { path = \"../core\" }\n[[bin]]\nname = \"extra\"\n",
        ),
        (
            "crates/core/Cargo.toml",
            "[package]\nname = \"core\"\nbuild = \"gen/build.rs\"\n[lib]\npath = \"lib/core.rs\"\n",
        ),
        ("crates/other/Cargo.toml", "[package]\nname = \"other\"\n"),
        ("crates/skipped/Cargo.toml", "[package]\nname = \"skipped\"\n"),
        ("tools/gen/Cargo.toml", "[package]\nname = \"gen\"\n"),
        ("shared/Cargo.toml", "[package]\nname = \"shared\"\n"),
        ("fixtures/unrelated/Cargo.toml", "[package]\nname = \"unrelated\"\n"),
        ("Cargo.lock", "version = 3\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n"),
    ])
}

#[test]
fn finds_members_globs_exclusions_and_path_dependencies() {
    let layout = analyze(&workspace());
    let ws = layout.workspace.as_ref().unwrap();
    assert_eq!(
        ws.members,
        set(&["crates/app", "crates/core", "crates/other", "tools/gen"])
    );
    let dirs: BTreeSet<String> = ws.packages.keys().cloned().collect();
    assert_eq!(
        dirs,
        set(&[
            "crates/app",
            "crates/core",
            "crates/other",
            "shared",
            "tools/gen"
        ]),
        "workspace.dependencies paths count; excluded and unrelated manifests do not"
    );
    assert_eq!(ws.default_members, set(&["crates/app"]));
}

#[test]
fn selection_follows_package_flags_and_path_dependencies() {
    let layout = analyze(&workspace());
    assert_eq!(
        layout.select(&args(&["build"])).unwrap(),
        set(&["crates/app", "crates/core"]),
        "default-members plus their path dependencies"
    );
    assert_eq!(
        layout.select(&args(&["build", "-p", "other"])).unwrap(),
        set(&["crates/other"])
    );
    assert_eq!(
        layout
            .select(&args(&["test", "--package=gen", "-pother"]))
            .unwrap(),
        set(&["tools/gen", "crates/other"])
    );
    assert_eq!(
        layout
            .select(&args(&["build", "--workspace"]))
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        layout.select(&args(&["run", "--", "-p", "other"])).unwrap(),
        set(&["crates/app", "crates/core"]),
        "arguments after -- belong to the program"
    );
    assert_eq!(layout.select(&args(&["build", "-p", "nope*"])), None);
}

#[test]
fn dependency_members_are_path_dependencies_that_need_no_named_package() {
    let layout = analyze(&workspace());
    assert_eq!(
        layout.dependency_members(&args(&["build"])),
        set(&["crates/core"]),
        "app is named (a default member); core is only its dependency"
    );
    assert_eq!(
        layout.dependency_members(&args(&["build", "-p", "app", "-p", "core"])),
        set(&[]),
        "a named package is never built as a dependency only"
    );
    assert_eq!(
        layout.dependency_members(&args(&["build", "-p", "other"])),
        set(&[])
    );
    assert_eq!(
        layout.dependency_members(&args(&["build", "-p", "nope*"])),
        set(&[])
    );

    // A member that depends back on a named package cannot be built without its sources.
    let mut cyclic = workspace();
    cyclic.files.insert(
        "crates/core/Cargo.toml".into(),
        b"[package]\nname = \"core\"\n[dependencies]\nshared = { path = \"../../shared\" }\n[dev-dependencies]\napp = { path = \"../app\" }\n"
            .to_vec(),
    );
    let layout = analyze(&cyclic);
    assert_eq!(
        layout.select(&args(&["build"])).unwrap(),
        set(&["crates/app", "crates/core", "shared"])
    );
    assert_eq!(
        layout.dependency_members(&args(&["build"])),
        set(&["shared"])
    );
}

#[test]
fn a_step_sees_its_packages_sources_and_only_manifests_of_the_rest() {
    let layout = analyze(&workspace());
    let selected = layout.select(&args(&["build", "-p", "other"])).unwrap();
    let plan = layout.source_snapshot(Some(&selected), &["csrc".to_string()]);
    for wanted in [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo",
        "rust-toolchain.toml",
        "crates/other/src",
        "crates/other/build.rs",
        "crates/app/Cargo.toml",
        "crates/core/Cargo.toml",
        "csrc",
    ] {
        assert!(
            plan.include.contains(&wanted.to_string()),
            "{wanted}: {plan:?}"
        );
    }
    assert!(!plan.include.iter().any(|p| p.starts_with("crates/app/src")));
    assert!(!plan.include.iter().any(|p| p.contains("README")));
    assert!(plan.stubs.contains(&"crates/app/src/lib.rs".to_string()));
    assert!(plan
        .stubs
        .contains(&"crates/app/src/bin/extra.rs".to_string()));
    assert!(plan.stubs.contains(&"crates/core/lib/core.rs".to_string()));
    assert!(plan.stubs.contains(&"crates/core/gen/build.rs".to_string()));
}

#[test]
fn explicit_target_paths_bring_their_directories() {
    let layout = analyze(&workspace());
    let selected = layout.select(&args(&["build"])).unwrap();
    let plan = layout.source_snapshot(Some(&selected), &[]);
    assert!(
        plan.include.contains(&"crates/core/lib".to_string()),
        "{plan:?}"
    );
    assert!(
        plan.include.contains(&"crates/core/gen".to_string()),
        "{plan:?}"
    );
    assert!(plan.stubs.iter().all(|s| !s.starts_with("crates/core/")));
}

#[test]
fn the_manifest_snapshot_has_no_sources() {
    let layout = analyze(&workspace());
    let plan = layout.manifest_snapshot();
    assert!(
        plan.include.iter().all(|p| !p.ends_with("/src")),
        "{plan:?}"
    );
    assert!(plan.include.contains(&"shared/Cargo.toml".to_string()));
    assert!(plan.stubs.contains(&"shared/src/lib.rs".to_string()));
}

#[test]
fn unparsable_or_missing_root_manifest_means_the_whole_context() {
    for broken in [
        files(&[("Cargo.toml", "[package\nname=")]),
        files(&[("sub/Cargo.toml", "[package]\nname = \"x\"\n")]),
        files(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            ("a/Cargo.toml", "not = [toml"),
        ]),
    ] {
        let layout = analyze(&broken);
        assert!(layout.workspace.is_none());
        assert_eq!(layout.source_snapshot(None, &[]), SnapshotPlan::default());
        assert!(!layout.needs_fetch());
    }
}

#[test]
fn toolchain_and_config_files_are_digested() {
    let a = analyze(&files(&[
        ("Cargo.toml", "[package]\nname = \"a\"\n"),
        ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.80\"\n"),
        (
            ".cargo/config.toml",
            "[build]\nrustflags = [\"-Copt-level=1\"]\n",
        ),
    ]));
    assert_eq!(a.toolchain_files.len(), 1);
    assert_eq!(a.cargo_config.len(), 1);
    let b = analyze(&files(&[
        ("Cargo.toml", "[package]\nname = \"a\"\n"),
        ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.81\"\n"),
        (
            ".cargo/config.toml",
            "[build]\nrustflags = [\"-Copt-level=1\"]\n",
        ),
    ]));
    assert_ne!(a.toolchain_files, b.toolchain_files);
    assert_eq!(a.cargo_config, b.cargo_config);
}

#[test]
fn fetch_is_needed_only_for_remote_packages_the_user_does_not_vendor() {
    let lock_remote = "version = 3\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"libc\"\nversion = \"0.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
    let base = [
        ("Cargo.toml", "[package]\nname = \"a\"\n"),
        ("Cargo.lock", lock_remote),
    ];
    let layout = analyze(&files(&base));
    assert_eq!(layout.remote_packages, 1);
    assert!(layout.needs_fetch());

    let path_only = analyze(&files(&[
        ("Cargo.toml", "[package]\nname = \"a\"\n"),
        (
            "Cargo.lock",
            "version = 3\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\n",
        ),
    ]));
    assert!(!path_only.needs_fetch());

    let vendoring = "[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"third_party/vendor\"\n";
    let mut with_vendor: Vec<(&str, &str)> = base.to_vec();
    with_vendor.push((".cargo/config.toml", vendoring));
    let layout = analyze(&files(&with_vendor));
    assert!(!layout.needs_fetch());
    assert_eq!(layout.config_dirs, vec!["third_party/vendor".to_string()]);
    let plan = layout.source_snapshot(None, &[]);
    assert!(plan.include.contains(&"third_party/vendor".to_string()));
}

#[test]
fn paths_leaving_the_context_are_ignored() {
    let layout = analyze(&files(&[(
        "Cargo.toml",
        "[package]\nname = \"a\"\n[dependencies]\nb = { path = \"../b\" }\n",
    )]));
    let ws = layout.workspace.unwrap();
    assert_eq!(ws.packages.len(), 1);
    assert!(ws.packages[""].path_deps.is_empty());
    let _ = BTreeMap::<String, String>::new();
}

#[test]
fn metadata_is_discovered_in_rounds_with_patterns_old_file_sync_understands() {
    let all = workspace();
    let mut read = ProjectFiles::default();
    let mut patterns = metadata_patterns(&read);
    for _ in 0..8 {
        read.files = all
            .files
            .iter()
            .filter(|(p, _)| matches_any(&patterns, p))
            .map(|(p, c)| (p.clone(), c.clone()))
            .collect();
        let next = metadata_patterns(&read);
        if next == patterns {
            break;
        }
        patterns = next;
    }
    assert!(patterns.iter().all(|p| !p.contains("**")), "{patterns:?}");
    assert!(patterns.contains("crates/*/Cargo.toml"), "{patterns:?}");
    assert!(patterns.contains("shared/Cargo.toml"), "{patterns:?}");
    assert!(!read.files.contains_key("fixtures/unrelated/Cargo.toml"));
    assert_eq!(
        analyze(&read),
        analyze(&all),
        "the same layout as reading everything"
    );
}

#[test]
fn matching_follows_buildkit_include_semantics() {
    let p: BTreeSet<String> = ["crates/*/Cargo.toml".to_string(), "Cargo.lock".to_string()].into();
    assert!(matches_any(&p, "crates/a/Cargo.toml"));
    assert!(!matches_any(&p, "crates/a/b/Cargo.toml"));
    assert!(!matches_any(&p, "README.md"));
    assert!(matches_any(&p, "Cargo.lock"));
}

#[test]
fn workspace_inherited_path_dependencies_are_followed() {
    let layout = analyze(&files(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n[workspace.dependencies]\nbase = { path = \"crates/base\" }\n",
        ),
        (
            "crates/app/Cargo.toml",
            "[package]\nname = \"app\"\n[dependencies]\nbase = { workspace = true }\n",
        ),
        ("crates/base/Cargo.toml", "[package]\nname = \"base\"\n"),
        ("crates/other/Cargo.toml", "[package]\nname = \"other\"\n"),
    ]));
    let selected = layout.select(&args(&["build", "-p", "app"])).unwrap();
    assert_eq!(selected, set(&["crates/app", "crates/base"]));
    let plan = layout.source_snapshot(Some(&selected), &[]);
    assert!(plan.include.contains(&"crates/base/src".to_string()));
    assert!(
        !plan.stubs.iter().any(|s| s.starts_with("crates/base/")),
        "{plan:?}"
    );
    assert!(plan.stubs.contains(&"crates/other/src/lib.rs".to_string()));
}
