use std::collections::{BTreeMap, BTreeSet};

use super::*;

pub(super) fn files(entries: &[(&str, &str)]) -> ProjectFiles {
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
            .filter(|(p, _)| PatternSet::new(&patterns).is_match(p))
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
    let p = PatternSet::new(["crates/*/Cargo.toml", "Cargo.lock"]);
    assert!(p.is_match("crates/a/Cargo.toml"));
    assert!(!p.is_match("crates/a/b/Cargo.toml"));
    assert!(!p.is_match("README.md"));
    assert!(p.is_match("Cargo.lock"));
    assert!(!p.is_match("Cargo.lock.orig"));
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

/// A workspace of `n` members under `crates/`, each with path dependencies on a few
/// lower-numbered ones (one through `[workspace.dependencies]`), some excluded, some nested, and
/// `members` written by `members` from the member directories.
fn generated(n: usize, members: impl Fn(&[String]) -> String) -> ProjectFiles {
    let dirs: Vec<String> = (0..n).map(|i| format!("crates/c{i}")).collect();
    let mut files = BTreeMap::new();
    let root = format!(
        "[workspace]\nmembers = {}\nexclude = [\"crates/c3\", \"crates/c1/nested\"]\n\
         [workspace.dependencies]\nc0 = {{ path = \"crates/c0\" }}\n",
        members(&dirs)
    );
    files.insert("Cargo.toml".to_string(), root.into_bytes());
    for (i, dir) in dirs.iter().enumerate() {
        let mut manifest = format!("[package]\nname = \"c{i}\"\n[dependencies]\n");
        if i > 0 {
            manifest.push_str("c0 = { workspace = true }\n");
        }
        let half = Some(i / 2).filter(|d| *d != i.saturating_sub(1));
        for d in half.into_iter().chain([i.saturating_sub(1)]) {
            if d > 0 && d < i {
                manifest.push_str(&format!("c{d} = {{ path = \"../c{d}\" }}\n"));
            }
        }
        if i % 7 == 0 {
            manifest.push_str("[[bin]]\nname = \"tool\"\npath = \"cli/main.rs\"\n");
        }
        files.insert(format!("{dir}/Cargo.toml"), manifest.into_bytes());
    }
    files.insert(
        "crates/c1/nested/Cargo.toml".to_string(),
        b"[package]\nname = \"nested\"\n".to_vec(),
    );
    ProjectFiles { files }
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|d| format!("\"{d}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

#[test]
fn explicit_member_lists_and_globs_give_the_same_layout() {
    let glob = analyze(&generated(60, |_| "[\"crates/*\"]".to_string()));
    let listed = analyze(&generated(60, toml_list));
    let mixed = analyze(&generated(60, |dirs| {
        let mut items: Vec<String> = dirs[..30].to_vec();
        items.push("crates/c[3-5]*".to_string());
        items.extend(dirs[30..].iter().cloned());
        toml_list(&items)
    }));
    let ws = glob.workspace.as_ref().unwrap();
    assert_eq!(ws.members.len(), 59, "c3 is excluded");
    assert!(!ws.members.contains("crates/c3"));
    assert!(ws.packages.contains_key("crates/c1"));
    for other in [&listed, &mixed] {
        assert_eq!(other, &glob);
        for cargo in [
            args(&["build"]),
            args(&["build", "-p", "c40"]),
            args(&["test", "-p", "c7", "-p", "c12"]),
        ] {
            let selected = glob.select(&cargo);
            assert_eq!(other.select(&cargo), selected);
            assert_eq!(
                other.source_snapshot(selected.as_ref(), &[]),
                glob.source_snapshot(selected.as_ref(), &[])
            );
            assert_eq!(
                other.dependency_members(&cargo),
                glob.dependency_members(&cargo)
            );
        }
        assert_eq!(other.manifest_snapshot(), glob.manifest_snapshot());
    }
}

#[test]
fn exclusion_covers_a_directory_and_everything_below_it_only() {
    let layout = analyze(&files(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\", \"crates/a/*\", \"ab\"]\nexclude = [\"crates/a\", \"a\"]\n",
        ),
        ("crates/a/Cargo.toml", "[package]\nname = \"a\"\n"),
        ("crates/a/inner/Cargo.toml", "[package]\nname = \"inner\"\n"),
        ("crates/ab/Cargo.toml", "[package]\nname = \"ab\"\n"),
        ("ab/Cargo.toml", "[package]\nname = \"ab2\"\n"),
    ]));
    assert_eq!(
        layout.workspace.unwrap().members,
        set(&["crates/ab", "ab"]),
        "`crates/a` excludes itself and `crates/a/inner`, not `crates/ab`; `a` not `ab`"
    );
}

/// The definition [`ProjectLayout::dependency_members`] implements: packages in the closure of
/// the roots whose own closure holds no root.
fn dependency_members_by_definition(layout: &ProjectLayout, cargo: &[String]) -> BTreeSet<String> {
    let ws = layout.workspace.as_ref().unwrap();
    let roots = layout.roots(cargo).unwrap();
    path_closure(ws, roots.clone())
        .into_iter()
        .filter(|d| {
            path_closure(ws, BTreeSet::from([d.clone()]))
                .iter()
                .all(|x| !roots.contains(x))
        })
        .collect()
}

#[test]
fn dependency_members_match_their_definition_with_cycles() {
    // c(i) depends on c(i/2) and c(i-1); add back edges so some packages reach a root.
    let mut project = generated(40, |_| "[\"crates/*\"]".to_string());
    for (from, to) in [(5, 20), (9, 9), (2, 35)] {
        let path = format!("crates/c{from}/Cargo.toml");
        let mut manifest = project.files[&path].clone();
        manifest.extend(format!("back{to} = {{ path = \"../c{to}\" }}\n").as_bytes());
        project.files.insert(path, manifest);
    }
    let layout = analyze(&project);
    for cargo in [
        args(&["build", "-p", "c20"]),
        args(&["build", "-p", "c35"]),
        args(&["build", "-p", "c39", "-p", "c4"]),
        args(&["build", "--workspace"]),
        args(&["build"]),
    ] {
        let fast = layout.dependency_members(&cargo);
        assert_eq!(
            fast,
            dependency_members_by_definition(&layout, &cargo),
            "{cargo:?}"
        );
    }
    assert_eq!(
        layout.dependency_members(&args(&["build", "-p", "c20"])),
        set(&["crates/c0", "crates/c1"]),
        "c5 depends back on c20, and so does everything reaching c5 or c35 (c2 → c35 → … → c21)"
    );
}

#[test]
fn stand_ins_under_an_included_glob_are_left_out() {
    let layout = analyze(&workspace());
    let selected = set(&["crates/other"]);
    let plan = layout.source_snapshot(Some(&selected), &["crates/app/src/*.rs".to_string()]);
    assert!(
        !plan.stubs.contains(&"crates/app/src/lib.rs".to_string()),
        "the glob may bring the real file: {plan:?}"
    );
    assert!(
        plan.stubs.contains(&"crates/core/lib/core.rs".to_string()),
        "{plan:?}"
    );
    let plan = layout.source_snapshot(Some(&selected), &["./crates/core/lib".to_string()]);
    assert!(!plan.stubs.iter().any(|s| s.starts_with("crates/core/lib/")));
    assert!(plan.stubs.contains(&"crates/core/gen/build.rs".to_string()));
}

#[test]
fn pattern_sets_match_literals_exactly_and_globs_by_component() {
    let p = PatternSet::new([
        "a/Cargo.toml",
        "b/*/Cargo.toml",
        "c/**/Cargo.toml",
        "d/{x,y}/Cargo.toml",
        "broken[",
    ]);
    for yes in [
        "a/Cargo.toml",
        "b/q/Cargo.toml",
        "c/Cargo.toml",
        "c/q/r/Cargo.toml",
        "d/y/Cargo.toml",
        "broken[",
    ] {
        assert!(p.is_match(yes), "{yes}");
    }
    for no in [
        "a/Cargo.toml/x",
        "x/a/Cargo.toml",
        "b/q/r/Cargo.toml",
        "d/z/Cargo.toml",
        "broken",
    ] {
        assert!(!p.is_match(no), "{no}");
    }
    assert!(PatternSet::new(Vec::<String>::new()).is_empty());
    assert!(PatternSet::strict(["crates/*", "tools/x"]).is_some());
    assert!(
        PatternSet::strict(["crates/[a"]).is_none(),
        "cargo refuses it"
    );
}

/// Drives a [`Discovery`] over files in memory the way the frontend drives it over a context:
/// each round lists every file, reads those it wants and feeds them. Returns the files read and
/// the patterns of each round.
fn discover_in(
    context: &ProjectFiles,
) -> Result<(ProjectFiles, Vec<BTreeSet<String>>), DiscoveryError> {
    discover_with(Discovery::new(), context)
}

/// [`discover_in`] with the discovery given (level by level, or with an ignore file).
fn discover_with(
    mut discovery: Discovery,
    context: &ProjectFiles,
) -> Result<(ProjectFiles, Vec<BTreeSet<String>>), DiscoveryError> {
    let mut rounds = Vec::new();
    while let Some(patterns) = discovery.next_patterns() {
        rounds.push(patterns.clone());
        let mut read = Vec::new();
        for (path, bytes) in &context.files {
            if discovery.wants(path, bytes.len() as u64)? {
                read.push((path.clone(), bytes.clone()));
            }
        }
        discovery.feed(read)?;
    }
    assert_eq!(discovery.rounds(), rounds.len());
    Ok((discovery.into_files(), rounds))
}

#[test]
fn discovery_reads_what_the_batch_rounds_read_asking_each_pattern_once() {
    let all = workspace();
    let (read, rounds) = discover_with(Discovery::without_prefetch(), &all).unwrap();
    let (prefetched, one) = discover_in(&all).unwrap();
    assert_eq!(prefetched, read, "the prefetch reads the same files");
    assert_eq!(one.len(), 1, "in one round: {one:?}");
    assert!(!read.files.contains_key("fixtures/unrelated/Cargo.toml"));
    assert_eq!(analyze(&read), analyze(&all));
    let asked: Vec<&String> = rounds.iter().flatten().collect();
    let distinct: BTreeSet<&String> = asked.iter().copied().collect();
    assert_eq!(
        asked.len(),
        distinct.len(),
        "no pattern asked twice: {rounds:?}"
    );
    let asked: BTreeSet<String> = distinct.into_iter().cloned().collect();
    let named = metadata_patterns(&read);
    assert!(asked.is_subset(&named), "asks only for what files name");
    assert_eq!(
        named.difference(&asked).collect::<Vec<_>>(),
        ["crates/core/Cargo.toml"],
        "ends where the batch statement ends, without asking again for a member the glob \
         brought that is also a path dependency (app's)"
    );
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    assert!(rounds.iter().flatten().all(|p| !p.contains("**")));
    assert_eq!(
        rounds[0],
        ROOT_METADATA.iter().map(|s| s.to_string()).collect()
    );
}

#[test]
fn a_twenty_deep_path_dependency_chain_is_fully_discovered() {
    let mut context = BTreeMap::new();
    // The root depends on d/1, d/1 on d/2, …, d/19 on d/20 (each path relative to the last).
    context.insert(
        "Cargo.toml".to_string(),
        "[package]\nname = \"root\"\n[dependencies]\nd1 = { path = \"d/1\" }\n".into(),
    );
    for i in 1..=20 {
        let mut manifest = format!("[package]\nname = \"d{i}\"\n");
        if i < 20 {
            let next = i + 1;
            manifest.push_str(&format!(
                "[dependencies]\nd{next} = {{ path = \"../{next}\" }}\n"
            ));
        }
        context.insert(format!("d/{i}/Cargo.toml"), manifest);
    }
    let context = ProjectFiles {
        files: context
            .into_iter()
            .map(|(p, c)| (p, c.into_bytes()))
            .collect(),
    };
    let (read, rounds) = discover_with(Discovery::without_prefetch(), &context).unwrap();
    assert_eq!(read, context, "every manifest of the chain is read");
    assert_eq!(rounds.len(), 21, "one round per level: {rounds:?}");
    let (prefetched, one) = discover_in(&context).unwrap();
    assert_eq!(
        prefetched, context,
        "the prefetch follows the chain through what it holds"
    );
    assert_eq!(one.len(), 1, "{one:?}");
    let layout = analyze(&read);
    assert_eq!(layout.workspace.as_ref().unwrap().packages.len(), 21);
    assert_eq!(
        layout.select(&args(&["build"])).unwrap().len(),
        21,
        "the root builds the whole chain"
    );
}

#[test]
fn twelve_thousand_manifests_are_all_kept() {
    let n = 12_000;
    let mut files = BTreeMap::new();
    files.insert(
        "Cargo.toml".to_string(),
        b"[workspace]\nmembers = [\"crates/*\", \"tools/*\"]\n".to_vec(),
    );
    for i in 0..n {
        let group = if i % 2 == 0 { "crates" } else { "tools" };
        files.insert(
            format!("{group}/m{i}/Cargo.toml"),
            format!("[package]\nname = \"m{i}\"\n").into_bytes(),
        );
    }
    files.insert(
        "Cargo.lock".to_string(),
        b"version = 3\n[[package]]\nname = \"libc\"\nversion = \"0.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n".to_vec(),
    );
    let context = ProjectFiles { files };
    let (read, rounds) = discover_in(&context).unwrap();
    assert_eq!(read.files.len(), n + 2);
    assert_eq!(rounds.len(), 1, "members two deep are prefetched");
    let (level_by_level, two) = discover_with(Discovery::without_prefetch(), &context).unwrap();
    assert_eq!((level_by_level, two.len()), (read.clone(), 2));
    let layout = analyze(&read);
    assert_eq!(layout.workspace.as_ref().unwrap().members.len(), n);
    assert!(layout.needs_fetch(), "the fetch step is planned");
}

#[test]
fn an_oversized_metadata_file_is_an_error_naming_it_and_the_limit() {
    let discovery = Discovery::new();
    let err = discovery
        .wants("Cargo.lock", MAX_METADATA_FILE_BYTES + 1)
        .unwrap_err();
    assert_eq!(
        err,
        DiscoveryError::TooLarge {
            path: "Cargo.lock".into(),
            size: MAX_METADATA_FILE_BYTES + 1,
            limit: MAX_METADATA_FILE_BYTES,
        }
    );
    let message = err.to_string();
    for part in ["Cargo.lock", "1073741825", "1 GiB", ".dockerignore"] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(
        discovery.wants("Cargo.lock", MAX_METADATA_FILE_BYTES),
        Ok(true)
    );
    assert_eq!(
        discovery.wants("README.md", u64::MAX),
        Ok(false),
        "a file nobody asked for is never an error"
    );

    // The prefetch's manifests are held too.
    assert!(matches!(
        Discovery::new().wants("big/Cargo.toml", u64::MAX),
        Err(DiscoveryError::TooLarge { path, .. }) if path == "big/Cargo.toml"
    ));
    // In a later round the limit applies to the manifests it names.
    let mut discovery = Discovery::without_prefetch();
    discovery
        .feed([(
            "Cargo.toml".to_string(),
            b"[workspace]\nmembers = [\"big\"]\n".to_vec(),
        )])
        .unwrap();
    assert!(matches!(
        discovery.wants("big/Cargo.toml", u64::MAX),
        Err(DiscoveryError::TooLarge { path, .. }) if path == "big/Cargo.toml"
    ));
}

#[test]
fn discovery_ignores_files_it_did_not_ask_for() {
    let mut discovery = Discovery::without_prefetch();
    discovery
        .feed([
            (
                "Cargo.toml".to_string(),
                b"[workspace]\nmembers = [\"a\"]\n".to_vec(),
            ),
            // An older file sync sends what only partly matches; a reader may send anything.
            (
                "b/Cargo.toml".to_string(),
                b"[package]\nname = \"b\"\n".to_vec(),
            ),
        ])
        .unwrap();
    assert_eq!(
        discovery.next_patterns(),
        Some(&set(&["a/Cargo.toml"])),
        "b was not asked for, so it names nothing"
    );
    discovery
        .feed([
            (
                "a/Cargo.toml".to_string(),
                b"[package]\nname = \"a\"\n".to_vec(),
            ),
            ("Cargo.toml".to_string(), b"not read twice".to_vec()),
        ])
        .unwrap();
    assert!(discovery.is_done());
    let files = discovery.into_files();
    assert_eq!(
        files.files.keys().collect::<Vec<_>>(),
        ["Cargo.toml", "a/Cargo.toml"]
    );
    assert_eq!(
        files.get("Cargo.toml"),
        Some(&b"[workspace]\nmembers = [\"a\"]\n"[..])
    );
}

/// A workspace that patches a registry crate (`fp`, used by `app` through the registry crate
/// `reg`) with a path crate, replaces another (`old`, used by nobody), and patches one more
/// from `.cargo/config.toml` (`cfgp`, used by `tool`); `other` uses none of them.
fn patched_workspace() -> ProjectFiles {
    files(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"app\", \"other\", \"tool\"]\n\
             [patch.crates-io]\nfp = { path = \"patches/fp\" }\n\
             [replace]\n\"old:0.1.0\" = { path = \"patches/old\" }\n",
        ),
        (
            "app/Cargo.toml",
            "[package]\nname = \"app\"\n[dependencies]\nreg = \"1\"\n",
        ),
        ("other/Cargo.toml", "[package]\nname = \"other\"\n"),
        (
            "tool/Cargo.toml",
            "[package]\nname = \"tool\"\n[dependencies]\ncfgp = \"0.1\"\n",
        ),
        (
            "patches/fp/Cargo.toml",
            "[package]\nname = \"fp\"\n[dependencies]\nfphelper = { path = \"../fphelper\" }\n",
        ),
        (
            "patches/fphelper/Cargo.toml",
            "[package]\nname = \"fphelper\"\n",
        ),
        ("patches/old/Cargo.toml", "[package]\nname = \"old\"\n"),
        ("patches/cfgp/Cargo.toml", "[package]\nname = \"cfgp\"\n"),
        (
            ".cargo/config.toml",
            "[patch.crates-io]\ncfgp = { path = \"patches/cfgp\" }\n",
        ),
        (
            "Cargo.lock",
            "version = 3\n\
             [[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"reg\"]\n\
             [[package]]\nname = \"cfgp\"\nversion = \"0.1.0\"\n\
             [[package]]\nname = \"fp\"\nversion = \"0.1.0\"\ndependencies = [\"fphelper\"]\n\
             [[package]]\nname = \"fphelper\"\nversion = \"0.1.0\"\n\
             [[package]]\nname = \"old\"\nversion = \"0.1.0\"\n\
             [[package]]\nname = \"other\"\nversion = \"0.1.0\"\n\
             [[package]]\nname = \"reg\"\nversion = \"1.0.0\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
             dependencies = [\"fp 0.1.0\"]\n\
             [[package]]\nname = \"tool\"\nversion = \"0.1.0\"\ndependencies = [\"cfgp\"]\n",
        ),
    ])
}

#[test]
fn patched_and_replaced_crates_reach_the_steps_that_use_them_with_full_sources() {
    let layout = analyze(&patched_workspace());
    let ws = layout.workspace.as_ref().unwrap();
    assert_eq!(
        ws.patched,
        set(&["patches/cfgp", "patches/fp", "patches/old"]),
        "root manifest [patch] and [replace], and .cargo/config.toml [patch]"
    );
    // `app` reaches `fp` through the registry crate `reg`, and `fp` brings its own path
    // dependency; `other` uses no patched crate; `tool` uses the config's.
    assert_eq!(
        layout.select(&args(&["build", "-p", "app"])).unwrap(),
        set(&["app", "patches/fp", "patches/fphelper"])
    );
    assert_eq!(
        layout.select(&args(&["build", "-p", "other"])).unwrap(),
        set(&["other"])
    );
    assert_eq!(
        layout.select(&args(&["build", "-p", "tool"])).unwrap(),
        set(&["tool", "patches/cfgp"])
    );
    let selected = layout.select(&args(&["build", "-p", "app"])).unwrap();
    let plan = layout.source_snapshot(Some(&selected), &[]);
    for full in ["patches/fp/src", "patches/fphelper/src", "app/src"] {
        assert!(plan.include.contains(&full.to_string()), "{full}: {plan:?}");
    }
    assert!(
        !plan.stubs.iter().any(|s| s.starts_with("patches/fp")),
        "the patched crate is never a stand-in where it is used: {plan:?}"
    );
    assert!(plan.stubs.contains(&"patches/old/src/lib.rs".to_string()));
    // The dependency layer compiles them as third-party crates, from their sources; the fetch
    // step needs only their manifests.
    assert_eq!(
        layout.third_party_dirs(),
        set(&[
            "patches/cfgp",
            "patches/fp",
            "patches/fphelper",
            "patches/old"
        ])
    );
    let deps = layout.dependency_snapshot();
    assert!(
        deps.include.contains(&"patches/fp/src".to_string()),
        "{deps:?}"
    );
    assert!(
        deps.stubs.contains(&"app/src/lib.rs".to_string()),
        "{deps:?}"
    );
    let fetch = layout.manifest_snapshot();
    assert!(
        !fetch.include.iter().any(|p| p.ends_with("/src")),
        "{fetch:?}"
    );
    assert!(fetch.include.contains(&"patches/fp/Cargo.toml".to_string()));
    // A project without patches keeps its dependency layer's snapshot as it was.
    let plain = analyze(&workspace());
    assert_eq!(plain.dependency_snapshot(), plain.manifest_snapshot());
}

#[test]
fn without_a_readable_lockfile_every_package_uses_every_patched_crate() {
    let mut project = patched_workspace();
    project.files.remove("Cargo.lock");
    let layout = analyze(&project);
    assert_eq!(
        layout.select(&args(&["build", "-p", "other"])).unwrap(),
        set(&[
            "other",
            "patches/cfgp",
            "patches/fp",
            "patches/fphelper",
            "patches/old"
        ])
    );
}

#[test]
fn discovery_reads_the_manifests_cargo_config_patches_name() {
    let all = patched_workspace();
    let (read, _) = discover_in(&all).unwrap();
    assert!(read.files.contains_key("patches/cfgp/Cargo.toml"));
    assert!(read.files.contains_key("patches/fphelper/Cargo.toml"));
    assert_eq!(analyze(&read), analyze(&all));
    assert!(metadata_patterns(&read).contains("patches/cfgp/Cargo.toml"));
}

#[test]
fn a_member_that_patches_a_registry_crate_reaches_its_registry_users() {
    let layout = analyze(&files(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"app\", \"fp\"]\n[patch.crates-io]\nfp = { path = \"fp\" }\n",
        ),
        ("app/Cargo.toml", "[package]\nname = \"app\"\n[dependencies]\nreg = \"1\"\n"),
        ("fp/Cargo.toml", "[package]\nname = \"fp\"\n"),
        (
            "Cargo.lock",
            "version = 3\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"reg\"]\n\
             [[package]]\nname = \"fp\"\nversion = \"0.1.0\"\n\
             [[package]]\nname = \"reg\"\nversion = \"1.0.0\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\ndependencies = [\"fp\"]\n",
        ),
    ]));
    assert_eq!(
        layout.select(&args(&["build", "-p", "app"])).unwrap(),
        set(&["app", "fp"])
    );
    assert_eq!(layout.third_party_dirs(), set(&["fp"]));
}
