//! A fresh CI runner starts warm: the fetch layer and the dependency layers travel through a
//! registry (`--cache-to`/`--cache-from` on current BuildKit, inline cache on dockerd 20.10),
//! the target cache mount (which never travels) is seeded from the dependency layers, and
//! seeding changes nothing in the output. Each CPU level of `linux/amd64` is its own warm cache.
//!
//! The project ([`cachet_tests::ci_project`]): a binary `app` that prints a line from a registry
//! crate (`cachet-dep-ci`, published to a local test registry), a line from a workspace library
//! (`greeting`, a path dependency), a marker edited between builds and whether the registry
//! crate was compiled with POPCNT (the x86-64 level). Which crates cargo compiles in the cargo
//! step says what its target cache held when it started:
//!
//! | cargo step compiles                      | the mount was                                  |
//! | ---------------------------------------- | ---------------------------------------------- |
//! | `app` only                               | warm, or (cache travels) seeded from the       |
//! |                                          | workspace dependency layer                     |
//! | `greeting` and `app`, no `cachet-dep-ci` | empty, then seeded from the dependency layer   |
//! | `cachet-dep-ci` too                      | empty and not seeded (what this guards)        |
//!
//! (The third-party dependency layer never holds a workspace crate: its stand-ins' artifacts
//! are deleted before the layer is taken. A build whose cache travels — it imports a cache or
//! writes inline cache, as CI jobs do — also gets `greeting` compiled into a workspace
//! dependency layer on top, with `app`'s stand-in artifacts deleted.)
//!
//! - [`a_registry_cache_warms_a_wiped_buildx_builder`]: build with `--cache-from` and
//!   `--cache-to type=registry,mode=max` (as a CI job does), wipe the builder (cache mounts
//!   too), stop the crate registry, edit `app`, build with `--cache-from`: fetch and both
//!   dependency layers come from the registry cache, only `app` compiles, and the output
//!   matches a `--no-cache` build of the same sources.
//! - [`inline_cache_images_warm_a_wiped_dockerd`]: the same on dockerd 20.10 with inline cache:
//!   `--target build.deps` pushed as an image beside the app image, both pulled after the wipe.
//! - [`seeding_does_not_change_the_output`]: a warm mount and a freshly seeded one produce
//!   byte-identical binaries; only declared artifacts are exported; the dependency layer holds
//!   nothing built for a workspace crate.
//! - [`each_amd64_level_has_its_own_warm_cache`]: `linux/amd64` and `linux/amd64/v2` get separate
//!   dependency layers and target caches, and switching back is fully cached.
//! - [`a_discovered_binary_gets_a_dependency_layer`]: the same seeding for a binary cargo
//!   auto-discovers at `src/main.rs` (the round trips above use that layout too; seeding and
//!   platforms declare it with `[[bin]]`, so both layouts are covered).
//!
//! Wiping a builder disturbs other builds on it, so every test here holds a per-engine lock
//! ([`cachet_tests::wipe`]): shared for ordinary builds, exclusive around a wipe and the builds
//! that rely on it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cachet_tests::ci_project::vendored::{VendoredApp, LIB_DERIVE, VENDORED, VENDORED_DERIVE};
use cachet_tests::ci_project::{
    build, layered_build, stand_in_leaks, App, BinLayout, APP, DEP, LIB,
};
use cachet_tests::exported::{files_under, provenance_field, run_binary, triple};
use cachet_tests::progress::{only_step, vertices, Vertex};
use cachet_tests::registry::sha256_hex;
use cachet_tests::wipe::{exclusive, shared, wipe};
use cachet_tests::{fixtures, on_each_engine, unique_tag, Engine, Env, Image, TempProject};

/// Limit for one docker command (push, pull, prune, rm).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

// -------------------------------------------------------------------------------------------
// The steps and what they compiled

fn fetch_step(progress: &str) -> Vertex {
    only_step(progress, "[fetch] cargo vendor --locked · ")
}

fn prebuild_step(progress: &str) -> Vertex {
    only_step(progress, "[build] prebuild dependencies · ")
}

fn workspace_prebuild_step(progress: &str) -> Vertex {
    only_step(progress, "[build] prebuild workspace dependencies · ")
}

fn cargo_step(progress: &str) -> Vertex {
    only_step(progress, "[build] cargo build ")
}

/// The cargo step ran and compiled exactly `expected`, which says what its mount held.
#[track_caller]
fn assert_cargo_compiled(engine: Engine, what: &str, progress: &str, expected: &[&str], why: &str) {
    let cargo = cargo_step(progress);
    assert!(
        !cargo.cached,
        "{engine}, {what}: `{}` should run:\n{progress}",
        cargo.name
    );
    assert_eq!(
        cargo.compiled(),
        expected,
        "{engine}, {what}: the cargo step should compile {expected:?} ({why}):\n{}",
        cargo.log
    );
}

/// The cargo step of a build with both dependency layers (its cache travels, or `[cache] layers
/// = "always"`) started from an empty mount seeded from the workspace dependency layer: it
/// compiled `app` alone, neither `greeting` (in that layer) nor the registry crate (in the
/// layer below it).
#[track_caller]
fn assert_seeded_with_workspace_dependencies(engine: Engine, what: &str, progress: &str) {
    let why = "its mount was empty, seeded from the workspace dependency layer";
    assert_cargo_compiled(engine, what, progress, &[APP], why);
}

/// A build on a wiped builder that imported the cache: both dependency layers came from the
/// cache (`source` says which), only `app` compiled, and none of `never` anywhere.
#[track_caller]
fn assert_warm_start(engine: Engine, what: &str, progress: &str, source: &str, never: &[&str]) {
    for prebuild in [prebuild_step(progress), workspace_prebuild_step(progress)] {
        assert!(
            prebuild.served_from_cache(),
            "{engine}, {what}: `{}` should come from {source}:\n{progress}",
            prebuild.name
        );
    }
    assert_seeded_with_workspace_dependencies(engine, what, progress);
    for krate in never {
        assert_never_compiled(engine, what, progress, krate);
    }
}

/// The workspace dependency layer step ran and compiled the workspace library, on top of the
/// registry crate (and `app`'s stand-in, whose artifacts it then deletes).
#[track_caller]
fn assert_compiles_lib(engine: Engine, what: &str, prebuild: &Vertex) {
    let crates = prebuild.compiled();
    assert!(
        !prebuild.cached && crates.iter().any(|c| c == LIB) && !crates.iter().any(|c| c == DEP),
        "{engine}, {what}: `{}` should run and compile {LIB}, not {DEP}:\n{}",
        prebuild.name,
        prebuild.log
    );
}

/// The dependency layer step ran and compiled the registry crate.
#[track_caller]
fn assert_compiles_dep(engine: Engine, what: &str, prebuild: &Vertex) {
    assert!(
        !prebuild.cached && prebuild.compiled().iter().any(|c| c == DEP),
        "{engine}, {what}: `{}` should run and compile {DEP}:\n{}",
        prebuild.name,
        prebuild.log
    );
}

/// Nothing in the build compiled `krate` (it came from an imported cache).
#[track_caller]
fn assert_never_compiled(engine: Engine, what: &str, progress: &str, krate: &str) {
    assert!(
        !progress.contains(&format!("Compiling {krate} ")),
        "{engine}, {what}: {krate} was compiled somewhere in this build:\n{progress}"
    );
}

// -------------------------------------------------------------------------------------------
// Small helpers

fn docker(args: &[&str]) -> String {
    Engine::run_docker(args, COMMAND_TIMEOUT)
        .assert_success()
        .stdout
}

fn timed<T>(engine: Engine, what: &str, f: impl FnOnce() -> T) -> T {
    cachet_tests::timed("ci_cache", engine, what, f)
}

// -------------------------------------------------------------------------------------------
// The tests

/// Current BuildKit: a registry cache (`mode=max`) carries the fetch layer and the dependency
/// layer to a builder that has nothing, not even cache mounts, and no crate registry to reach.
///
/// The `--no-cache` reference build of the final sources runs before the wipe (the crate
/// registry must still be up for its fetch step); the wipe then removes everything it left.
#[test]
fn a_registry_cache_warms_a_wiped_buildx_builder() {
    let engine = Engine::Buildx;
    let _lock = exclusive(engine);
    let started = Instant::now();
    let env = Env::get();
    let mut app = App::new("ci-registry", BinLayout::Discovered);
    let cache_ref = format!(
        "{}/cachet-test/ci-cache:{}",
        env.registry(),
        fixtures::nonce()
    );

    // As a CI job does: import the cache (none yet on the first run) and export it.
    let first = timed(engine, "build exporting the registry cache", || {
        build(engine, app.project.path())
            .tag(unique_tag("ci-registry", engine))
            .arg(format!("--cache-from=type=registry,ref={cache_ref}"))
            .arg(format!("--cache-to=type=registry,ref={cache_ref},mode=max"))
            .run()
            .assert_success()
    });
    let progress = first.progress().to_string();
    assert_eq!(
        first.image().run(&[]).assert_success().stdout.trim(),
        app.expected(),
        "{progress}"
    );
    assert_compiles_dep(engine, "first build", &prebuild_step(&progress));
    assert_compiles_lib(engine, "first build", &workspace_prebuild_step(&progress));
    assert_seeded_with_workspace_dependencies(engine, "first build", &progress);

    app.edit("edited");
    let reference = app.copy("ci-registry-clean", None);
    let clean = timed(engine, "--no-cache build of the edited sources", || {
        build(engine, reference.path())
            .tag(unique_tag("ci-registry-clean", engine))
            .no_cache()
            .run()
            .assert_success()
    });
    let clean_out = clean.image().run(&[]).assert_success().stdout;
    assert_eq!(clean_out.trim(), app.expected(), "{}", clean.progress());

    timed(engine, "wipe", || wipe(engine));
    app.stop_registry();

    let imported = timed(engine, "build importing the registry cache", || {
        build(engine, app.project.path())
            .tag(unique_tag("ci-registry-import", engine))
            .arg(format!("--cache-from=type=registry,ref={cache_ref}"))
            .run()
            .assert_success()
    });
    let progress = imported.progress().to_string();
    let fetch = fetch_step(&progress);
    assert!(
        fetch.served_from_cache(),
        "{engine}: `{}` should come from the registry cache (the crate registry is stopped):\n{progress}",
        fetch.name
    );
    assert_warm_start(
        engine,
        "build importing the cache",
        &progress,
        "the registry cache",
        &[DEP, LIB],
    );
    let out = imported.image().run(&[]).assert_success().stdout;
    assert_eq!(out.trim(), app.expected(), "{progress}");
    assert_eq!(
        out, clean_out,
        "{engine}: the warm-started build and the --no-cache build print the same"
    );
    eprintln!(
        "[ci_cache] {engine}: registry round trip took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// dockerd 20.10: inline cache only covers the final image's layers, so the dependency layer
/// is pushed as an image of its own (`--target build.deps`) next to the app image; after a
/// wipe (cache mounts go too) and removing the local images, both are pulled and named with
/// `--cache-from`.
#[test]
fn inline_cache_images_warm_a_wiped_dockerd() {
    let engine = Engine::Dockerd;
    let _lock = exclusive(engine);
    let started = Instant::now();
    let env = Env::get();
    let mut app = App::new("ci-inline", BinLayout::Discovered);
    let nonce = fixtures::nonce();
    let deps_ref = format!("{}/cachet-test/ci-inline-deps:{nonce}", env.registry());
    let app_ref = format!("{}/cachet-test/ci-inline-app:{nonce}", env.registry());
    // Removed from dockerd's store when the test ends, however it ends.
    let _deps_image = Image::adopt(deps_ref.clone());
    let _app_image = Image::adopt(app_ref.clone());

    let deps = timed(engine, "build.deps image with inline cache", || {
        build(engine, app.project.path())
            .target("build.deps")
            .tag(deps_ref.clone())
            .build_arg("BUILDKIT_INLINE_CACHE", "1")
            .run()
            .assert_success()
    });
    let progress = deps.progress().to_string();
    assert_compiles_dep(engine, "build.deps", &prebuild_step(&progress));
    assert_compiles_lib(engine, "build.deps", &workspace_prebuild_step(&progress));
    docker(&["push", &deps_ref]);

    let first = timed(engine, "app image with inline cache", || {
        build(engine, app.project.path())
            .tag(app_ref.clone())
            .build_arg("BUILDKIT_INLINE_CACHE", "1")
            .run()
            .assert_success()
    });
    let progress = first.progress().to_string();
    assert_seeded_with_workspace_dependencies(engine, "first app build", &progress);
    assert_eq!(
        Image::existing(app_ref.clone())
            .run(&[])
            .assert_success()
            .stdout
            .trim(),
        app.expected()
    );
    docker(&["push", &app_ref]);

    timed(engine, "wipe and pull", || {
        docker(&["image", "rm", "-f", &deps_ref, &app_ref]);
        wipe(engine);
        // dockerd 20.10 only uses --cache-from images that are in its store (see
        // cache_import.rs and moby/moby#41595).
        docker(&["pull", &deps_ref]);
        docker(&["pull", &app_ref]);
    });

    app.edit("edited");
    let imported = timed(engine, "app build importing both images", || {
        build(engine, app.project.path())
            .tag(unique_tag("ci-inline-import", engine))
            .arg(format!("--cache-from={deps_ref}"))
            .arg(format!("--cache-from={app_ref}"))
            .run()
            .assert_success()
    });
    let progress = imported.progress().to_string();
    assert_warm_start(
        engine,
        "build importing the inline cache",
        &progress,
        "the pulled build.deps image",
        &[DEP, LIB],
    );
    let fetch = fetch_step(&progress);
    eprintln!(
        "[ci_cache] {engine}: after the wipe the fetch step was {} (its layer is in neither image)",
        if fetch.served_from_cache() {
            "served from cache"
        } else {
            "run again"
        }
    );
    assert_eq!(
        imported.image().run(&[]).assert_success().stdout.trim(),
        app.expected(),
        "{progress}"
    );
    app.stop_registry();
    eprintln!(
        "[ci_cache] {engine}: inline-cache round trip took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// A warm target cache and one seeded from the dependency layer give byte-identical binaries,
/// and nothing built for a workspace crate's stand-in reaches an output.
///
/// Project P builds (empty mount: seeded), is edited and builds again (warm mount: only `app`
/// compiles, so it was not re-seeded); a copy Q of the edited sources under another name builds
/// on an empty mount (seeded: `greeting` and `app` compile). Q's sources have one extra file
/// cargo never reads (see [`App::copy`]), so BuildKit really runs Q's cargo step.
#[test]
fn seeding_does_not_change_the_output() {
    on_each_engine(|engine| {
        let _lock = shared(engine);
        let started = Instant::now();
        let mut app = App::new(&format!("ci-seed-{engine}"), BinLayout::Declared);
        let out = TempProject::new(&format!("ci-seed-out-{engine}"));
        let export = |project: &Path, dir: &str| -> (PathBuf, String) {
            let dest = out.path().join(dir);
            let result = timed(engine, &format!("build → {dir}"), || {
                layered_build(engine, project)
                    .target("build")
                    .local_output(&dest)
                    .run()
                    .assert_success()
            });
            (dest, result.progress().to_string())
        };

        let (_, first) = export(app.project.path(), "p-first");
        assert_compiles_dep(engine, "P's first build", &prebuild_step(&first));
        assert_seeded_with_workspace_dependencies(engine, "P's first build", &first);

        app.edit("edited");
        let (warm, second) = export(app.project.path(), "p-warm");
        assert!(
            prebuild_step(&second).cached,
            "{engine}: a source edit leaves the dependency layer cached:\n{second}"
        );
        let cargo = cargo_step(&second);
        assert!(
            !cargo.cached,
            "{engine}: `{}` should run:\n{second}",
            cargo.name
        );
        assert_eq!(
            cargo.compiled(),
            [APP],
            "{engine}: P's second build should find a warm mount (only the edited crate \
             compiles; {LIB} compiling again would mean the mount was emptied or re-seeded):\n{}",
            cargo.log
        );

        let copy = app.copy(&format!("ci-seed-copy-{engine}"), Some(&fixtures::nonce()));
        let (seeded, third) = export(copy.path(), "q-seeded");
        assert!(
            prebuild_step(&third).cached,
            "{engine}: the copy's dependency layer is P's:\n{third}"
        );
        assert_seeded_with_workspace_dependencies(engine, "Q's build", &third);
        assert_ne!(
            provenance_field(&warm, "target_cache"),
            provenance_field(&seeded, "target_cache"),
            "{engine}: P and Q run against different target caches"
        );

        let declared: BTreeSet<String> = [APP, "cachet-provenance.json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for dir in [&warm, &seeded] {
            assert_eq!(
                files_under(dir),
                declared,
                "{engine}: {} holds exactly the declared artifacts and the provenance",
                dir.display()
            );
            assert_eq!(run_binary(&dir.join(APP)), app.expected(), "{engine}");
        }
        let warm_sum = sha256_hex(&std::fs::read(warm.join(APP)).unwrap());
        let seeded_sum = sha256_hex(&std::fs::read(seeded.join(APP)).unwrap());
        assert_eq!(
            warm_sum, seeded_sum,
            "{engine}: the binary built on a warm mount and the one built on a seeded mount differ"
        );

        // The dependency layer itself: the registry crate, nothing of the workspace's crates.
        let layer_dir = out.path().join("deps-layer");
        let layer = timed(engine, "build.deps export", || {
            build(engine, copy.path())
                .target("build.deps")
                .local_output(&layer_dir)
                .run()
                .assert_success()
        });
        assert!(
            prebuild_step(layer.progress()).cached,
            "{}",
            layer.progress()
        );
        let files = files_under(&layer_dir);
        let dep_crate = DEP.replace('-', "_");
        // Cargo runs with `--target`: target code is under `<triple>/release/`.
        assert!(
            files.iter().any(|f| f
                .starts_with(&format!("{}/release/deps/lib{dep_crate}-", triple()))
                && f.ends_with(".rlib")),
            "{engine}: the dependency layer holds {DEP}'s rlib: {files:#?}"
        );
        let leaks = stand_in_leaks(&files, &[APP, LIB]);
        assert!(
            leaks.is_empty(),
            "{engine}: stand-in artifacts in the dependency layer: {leaks:#?}"
        );
        eprintln!(
            "[ci_cache] {engine}: seeding test took {:.1}s",
            started.elapsed().as_secs_f64()
        );
    });
}

/// `linux/amd64` and `linux/amd64/v2` compile with different codegen flags, so each has its own
/// dependency layer and target cache; switching back to `linux/amd64` is fully cached.
#[test]
fn each_amd64_level_has_its_own_warm_cache() {
    on_each_engine(|engine| {
        let _lock = shared(engine);
        let started = Instant::now();
        let app = App::new(&format!("ci-level-{engine}"), BinLayout::Declared);
        let out = TempProject::new(&format!("ci-level-out-{engine}"));
        let export = |platform: &str, dir: &str| -> (PathBuf, String) {
            let dest = out.path().join(dir);
            let result = timed(engine, &format!("--platform {platform} → {dir}"), || {
                layered_build(engine, app.project.path())
                    .target("build")
                    .arg(format!("--platform={platform}"))
                    .local_output(&dest)
                    .run()
            });
            (dest, result.assert_success().progress().to_string())
        };

        let (base, first) = export("linux/amd64", "v1");
        assert_compiles_dep(engine, "linux/amd64", &prebuild_step(&first));
        assert_seeded_with_workspace_dependencies(engine, "linux/amd64", &first);

        // Both engines accept `linux/amd64/v2` (dockerd 20.10's BuildKit too): the SDK image
        // is plain linux/amd64, which a v2 request matches, and the level only becomes
        // `-C target-cpu=x86-64-v2`. Were one to refuse it, the build above would fail here.
        let (v2, second) = export("linux/amd64/v2", "v2");
        assert_compiles_dep(
            engine,
            "linux/amd64/v2 (its own dependency layer)",
            &prebuild_step(&second),
        );
        assert_seeded_with_workspace_dependencies(engine, "linux/amd64/v2", &second);

        // Each binary says its registry crate was compiled for its level: the v2 cargo step
        // was seeded from the v2 layer, not the baseline one.
        assert_eq!(run_binary(&base.join(APP)), app.expected(), "{engine}");
        assert_eq!(
            run_binary(&v2.join(APP)),
            app.expected_on("linux/amd64/v2"),
            "{engine}"
        );
        eprintln!(
            "[ci_cache] {engine}: sha256 of app: linux/amd64 {}, linux/amd64/v2 {}",
            sha256_hex(&std::fs::read(base.join(APP)).unwrap()),
            sha256_hex(&std::fs::read(v2.join(APP)).unwrap())
        );
        assert_eq!(provenance_field(&base, "platform"), "linux/amd64");
        assert_eq!(provenance_field(&v2, "platform"), "linux/amd64/v2");
        assert_ne!(
            provenance_field(&base, "target_cache"),
            provenance_field(&v2, "target_cache"),
            "{engine}: each level has its own target cache"
        );

        let (again, third) = export("linux/amd64", "v1-again");
        for step in [
            fetch_step(&third),
            prebuild_step(&third),
            cargo_step(&third),
            only_step(&third, "[build] record provenance"),
        ] {
            assert!(
                step.cached,
                "{engine}: switching back to linux/amd64, `{}` ran:\n{third}",
                step.name
            );
        }
        let steps: Vec<Vertex> = vertices(&third)
            .into_iter()
            .filter(|v| v.name.starts_with("[fetch]") || v.name.starts_with("[build]"))
            .collect();
        let uncached: Vec<&String> = steps
            .iter()
            .filter(|v| !v.cached)
            .map(|v| &v.name)
            .collect();
        assert!(
            uncached.is_empty(),
            "{engine}: switching back to linux/amd64 ran {uncached:?}:\n{third}"
        );
        assert_eq!(
            std::fs::read(again.join(APP)).unwrap(),
            std::fs::read(base.join(APP)).unwrap(),
            "{engine}: the cached linux/amd64 binary is the first one"
        );
        eprintln!(
            "[ci_cache] {engine}: platform test took {:.1}s",
            started.elapsed().as_secs_f64()
        );
    });
}

/// The most common layout, a binary cargo finds at `src/main.rs` with no `[[bin]]` section,
/// gets a dependency layer like a declared one: the prebuild step compiles the registry crate
/// and the cargo step does not.
///
/// The manifests-only snapshot gives such a package only a `src/lib.rs` stand-in, so the
/// prebuild step must not filter on binaries (it once widened `--bin app` to `--bins`, which
/// matched nothing and left the layer empty); the library builds the same dependencies.
#[test]
fn a_discovered_binary_gets_a_dependency_layer() {
    on_each_engine(|engine| {
        let _lock = shared(engine);
        let app = App::new(&format!("ci-discovered-{engine}"), BinLayout::Discovered);
        let out = TempProject::new(&format!("ci-discovered-out-{engine}"));
        let dest = out.path().join("build");
        let result = timed(engine, "build of a src/main.rs binary", || {
            layered_build(engine, app.project.path())
                .target("build")
                .local_output(&dest)
                .run()
                .assert_success()
        });
        let progress = result.progress();
        assert_compiles_dep(engine, "src/main.rs binary", &prebuild_step(progress));
        assert_seeded_with_workspace_dependencies(engine, "src/main.rs binary", progress);
        assert_eq!(run_binary(&dest.join(APP)), app.expected(), "{engine}");
    });
}

/// With `[cache] layers = "auto"` (the default) a local build, whose cache does not travel,
/// plans no dependency layer: one cargo step compiles everything on its keyed target cache.
#[test]
fn a_local_build_plans_no_dependency_layer() {
    on_each_engine(|engine| {
        let _lock = shared(engine);
        let app = App::new(&format!("ci-local-{engine}"), BinLayout::Declared);
        let out = TempProject::new(&format!("ci-local-out-{engine}"));
        let dest = out.path().join("build");
        let result = timed(engine, "local build", || {
            build(engine, app.project.path())
                .target("build")
                .local_output(&dest)
                .run()
                .assert_success()
        });
        let progress = result.progress();
        assert!(
            !vertices(progress)
                .iter()
                .any(|v| v.name.contains("prebuild")),
            "{engine}: no dependency layer step:\n{progress}"
        );
        let why = "one step on an empty mount, no layer to seed it";
        assert_cargo_compiled(engine, "local build", progress, &[APP, DEP, LIB], why);
        assert_eq!(run_binary(&dest.join(APP)), app.expected(), "{engine}");
    });
}

/// A project that vendors its third-party crates itself (`.cargo/config.toml` replaces
/// crates.io with `vendor/`). One has a build script watching its own file
/// (`rerun-if-changed=build.rs`), as libc, serde and many more do; another is a derive macro,
/// as serde_derive is; the workspace library uses a derive macro of the workspace's own. All
/// of it under the static-binary flags (`-C target-feature=+crt-static`), which only
/// `--target` keeps away from proc-macros. After a registry round trip to a wiped builder,
/// neither the vendored crates nor the workspace library and its macro compile again: the
/// dependency layers carry host code (`release/`) as well as target code
/// (`<triple>/release/`).
///
/// This guards two ways a seeded cache went stale: the vendored files inside the sources got
/// "new" virtual mtimes when the layer carried no freshness manifest (the build script ran
/// again, and everything above it recompiled), and a layer export truncating mtimes to whole
/// seconds left fingerprints older than the sources they were built from.
#[test]
fn a_project_that_vendors_its_crates_starts_warm_too() {
    let engine = Engine::Buildx;
    let _lock = exclusive(engine);
    let env = Env::get();
    let app = VendoredApp::new("ci-vendored");
    let project = &app.project;

    let cache_ref = format!(
        "{}/cachet-test/ci-vendored:{}",
        env.registry(),
        fixtures::nonce()
    );
    let out = TempProject::new("ci-vendored-out");
    let round = |what: &str, dest: &str, export: bool| {
        let mut b = build(engine, project.path())
            .target("build")
            .local_output(out.path().join(dest))
            .arg(format!("--cache-from=type=registry,ref={cache_ref}"));
        if export {
            b = b.arg(format!("--cache-to=type=registry,ref={cache_ref},mode=max"));
        }
        timed(engine, what, || b.run().assert_success())
    };

    let first = round("vendored project, exporting", "first", true);
    let progress = first.progress().to_string();
    let third_party = prebuild_step(&progress).compiled();
    assert!(
        [VENDORED, VENDORED_DERIVE]
            .iter()
            .all(|c| third_party.iter().any(|t| t == c)),
        "the dependency layer compiles the vendored crates:\n{progress}"
    );
    let members = workspace_prebuild_step(&progress).compiled();
    assert!(
        [LIB, LIB_DERIVE]
            .iter()
            .all(|c| members.iter().any(|t| t == c)),
        "the workspace dependency layer compiles the library and its macro:\n{progress}"
    );
    assert_eq!(
        run_binary(&out.path().join("first").join(APP)),
        app.expected("first")
    );

    // The third-party layer alone (a build without a travelling cache has only that one):
    // the vendored derive macro is there as host code, the vendored library as target code,
    // and nothing of the workspace's stand-ins in either directory.
    let layer_dir = out.path().join("deps-layer");
    let layer = timed(engine, "vendored project, build.deps export", || {
        build(engine, project.path())
            .target("build.deps")
            .local_output(&layer_dir)
            .run()
            .assert_success()
    });
    assert!(
        prebuild_step(layer.progress()).served_from_cache(),
        "{}",
        layer.progress()
    );
    let files = files_under(&layer_dir);
    let has = |prefix: String, suffix: &str| {
        files
            .iter()
            .any(|f| f.starts_with(&prefix) && f.ends_with(suffix))
    };
    let vendored_lib = VENDORED.replace('-', "_");
    let vendored_derive = VENDORED_DERIVE.replace('-', "_");
    assert!(
        has(
            format!("{}/release/deps/lib{vendored_lib}-", triple()),
            ".rlib"
        ) && has(format!("release/deps/lib{vendored_derive}-"), ".so"),
        "the layer holds {VENDORED} for the target and {VENDORED_DERIVE} for the host: \
         {files:#?}"
    );
    let leaks = stand_in_leaks(&files, &[APP, LIB, LIB_DERIVE]);
    assert!(
        leaks.is_empty(),
        "stand-in artifacts in the dependency layer: {leaks:#?}"
    );

    timed(engine, "wipe", || wipe(engine));
    app.edit("second");
    let second = round("vendored project, importing", "second", false);
    let progress = second.progress().to_string();
    assert_warm_start(
        engine,
        "vendored project",
        &progress,
        "the registry cache",
        &[VENDORED, VENDORED_DERIVE, LIB, LIB_DERIVE],
    );
    assert_eq!(
        run_binary(&out.path().join("second").join(APP)),
        app.expected("second")
    );
}
