//! Cache correctness and precision on real BuildKit: the matrix of `cachet_tests::matrix`,
//! Cachet rows only, on both engines. Every case builds a fixture workspace, perturbs one
//! input, builds again, runs the binaries and compares them with a clean build of the same
//! final inputs (`--no-cache`, fresh target cache); it passes only when they agree and the
//! rebuild reused what it could (see `Expect`). `cargo run -p cachet-tests --bin
//! cachet-matrix` prints the same cases as a table, with the reference Dockerfile rows.
//!
//! One test per case group (a group shares one warm-up build; its cases run in order).

use std::time::Instant;

use cachet_tests::matrix::{self, Case, Row, Subject, Truths, Verdict};
use cachet_tests::on_each_engine;

/// Cases an engine may decline with N/A (it refuses the platform variant); none does today.
const MAY_BE_NOT_APPLICABLE: &[&str] = &["7e", "7f"];

/// Run the cases of `group` that `select` picks on both engines; every row must be OK.
fn check(group: &str, select: fn(&Case) -> bool) {
    let groups = matrix::groups();
    let group = groups
        .iter()
        .find(|g| g.name == group)
        .unwrap_or_else(|| panic!("no case group {group}"));
    on_each_engine(|engine| {
        let start = Instant::now();
        let mut truths = Truths::new(engine);
        let rows = matrix::run_group(engine, Subject::Cachet, group, select, &mut truths);
        eprintln!(
            "[correctness] {engine}: group {} took {:.1}s\n{}",
            group.name,
            start.elapsed().as_secs_f64(),
            matrix::markdown(&rows)
        );
        assert!(
            !rows.is_empty(),
            "no case of group {} was selected",
            group.name
        );
        let bad: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                let id = r.case.split(' ').next().unwrap_or_default();
                match r.verdict {
                    Verdict::Ok => false,
                    Verdict::NotApplicable => !MAY_BE_NOT_APPLICABLE.contains(&id),
                    _ => true,
                }
            })
            .collect();
        assert!(
            bad.is_empty(),
            "{engine}: {} case(s) not OK:\n{}",
            bad.len(),
            bad.iter()
                .map(|r| format!("  {} — {}: {}", r.case, r.verdict, r.actual))
                .collect::<Vec<_>>()
                .join("\n")
        );
    });
}

/// 1a–1d RUSTFLAGS (spec and `--build-arg`) and their reverts, 2a–2b an env var build.rs reads
/// without declaring it, 3a–3b CFLAGS and CC, 6a–6b cargo config and toolchain file; N1 an
/// undeclared `--build-arg`, N2 nothing changed.
#[test]
fn flags_env_c_compiler_config_and_no_ops() {
    check("flags", |_| true);
}

/// 7a–7f features, profile and platform: each a target cache of its own, switching back warm.
#[test]
fn features_profile_and_platform_keep_separate_caches() {
    check("variants", |_| true);
}

/// 8a, 8c–8e edits under hostile timestamps, 9a–9d modules added, renamed and removed, 10 a
/// lockfile bump, N3 README/docs/CI edits, N4 an edit to a member the target does not build.
#[test]
fn source_edits_files_lockfile_and_unread_files() {
    check("sources", |c| c.id != "8b");
}

/// 8b: a same-size edit with every file clamped to one old mtime. BuildKit's incremental
/// context transfer compares only size and mtime, so this case needs every build to transfer
/// afresh (the frontend keys its locals on the session).
#[test]
fn same_size_edit_under_clamped_timestamps() {
    check("sources", |c| c.id == "8b");
}

/// 4 the SDK re-tagged (same tag and rustc, new digest), 5a–5b another toolchain and back.
#[test]
fn sdk_retagged_and_toolchain_switched() {
    check("sdk", |_| true);
}

/// 11a two builds of one project at once, sharing its target cache.
#[test]
fn two_builds_at_once_share_the_target_cache() {
    check("concurrency", |_| true);
}

/// 11b a build killed while cargo runs, then rebuilt.
#[test]
fn killed_build_then_rebuilt() {
    check("killed", |_| true);
}

/// V1–V2 a per-build commit id in `[cargo] volatile-env` recompiles only its `env!` reader on
/// the warm cache, V3–V4 a volatile value build.rs reads undeclared rebuilds that reader, V5
/// nothing changed.
#[test]
fn volatile_values_recompile_their_readers_only() {
    check("volatile", |_| true);
}

/// 12a–12c a step's own cargo arguments (`--config env.…` read undeclared by a build script,
/// `--config profile.…`) key its target cache: two targets differing only in them each give
/// their own output, and switching back is warm; 13a–13d a crates.io crate patched with a
/// local path crate (from the root manifest, then from `.cargo/config.toml`) builds, and an edit
/// to it rebuilds its dependants.
#[test]
fn cargo_arguments_key_the_cache_and_patched_crates_build() {
    check("args", |_| true);
}

/// E1–E10 every kind of entry cargo or a build script observes, under clamped file and
/// directory times: symlinks to a file and to a directory re-pointed, a file added to and one
/// removed from a directory build.rs watches, a nested edit, files named with a backslash and
/// a tab edited, vendored crates edited in place (E9 lists no files, E10 lists them), and a
/// watched file outside the snapshot (the build fails).
#[test]
fn symlinks_directory_listings_odd_names_and_watches_outside_the_snapshot() {
    check("entries", |_| true);
}

/// E9–E10 alone: a vendored crate edited in place on a warm cache under clamped times, one
/// whose checksum file lists no files (it travels with the sources) and one whose checksum
/// file lists them (it travels incrementally, the checksum update moves its transfer's key).
#[test]
fn vendored_crates_edited_in_place_rebuild() {
    check("entries", |c| c.id == "E9" || c.id == "E10");
}

/// L1–L3 a build whose cache starts to travel (dependency layers planned), a lockfile bump while
/// it travels (the layer starts from its dependency cache), and back to a local build.
#[test]
fn a_build_that_starts_and_stops_travelling_and_a_bump_while_it_travels() {
    check("layers", |_| true);
}

/// X1–X6 a cross build (linux/arm64 on the amd64 worker): the target's linker and
/// `CFLAGS_<triple>` changed in `[cross.<triple>] env` (cargo fingerprints neither), the SDK
/// re-tagged, a switch to linux/amd64 and back (warm), nothing changed.
#[test]
fn cross_builds_key_the_linker_target_cflags_sdk_and_platform() {
    check("cross", |_| true);
}

/// A build script that watches a file in the context but outside the step's snapshot fails the
/// build with a message naming the file and the `[project] include` entry that fixes it; with
/// that entry the build succeeds, and a watched path `.dockerignore` excludes is no error.
#[test]
fn a_watch_outside_the_snapshot_fails_with_the_include_that_fixes_it() {
    use cachet_tests::{fixtures, TempProject};
    on_each_engine(|engine| {
        let label = format!("watch-outside-{engine}");
        let project = TempProject::new(&label);
        project.copy_from(fixtures::repo_root().join("examples/hello"));
        let nonce = fixtures::nonce();
        let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
        let spec = spec.replace("name = \"hello\"", &format!("name = \"{label}-{nonce}\""));
        project.write("Cachet.toml", spec.clone());
        project.write(
            "build.rs",
            format!(
                "fn main() {{\n    println!(\"cargo:rerun-if-changed=build.rs\");\n    \
                 println!(\"cargo:rerun-if-changed=shared/data.txt\");\n    \
                 println!(\"cargo::rerun-if-changed=ignored/notes.txt\");\n}}\n// {nonce}\n"
            ),
        );
        project.write("shared/data.txt", "data\n");
        project.write("ignored/notes.txt", "notes\n");
        project.write(".dockerignore", "ignored\n");
        let build = || {
            engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .target("build")
                .run()
        };
        let failed = build().assert_failure();
        let message = "Cachet.toml: build script of hello watches shared/data.txt, which is not \
                       in the sources Cachet gave the step; add `include = [\"shared/data.txt\"]` \
                       under [project]";
        assert!(
            failed.progress().contains(message),
            "{engine}: the message reaches the build output:\n{}",
            failed.progress()
        );
        assert!(
            !failed.progress().contains("watches ignored/notes.txt"),
            "{engine}: a path .dockerignore excludes is not in the context: no error"
        );
        project.write(
            "Cachet.toml",
            spec.replace(
                "[project]\n",
                "[project]\ninclude = [\"shared/data.txt\"]\n",
            ),
        );
        build().assert_success();
    });
}
