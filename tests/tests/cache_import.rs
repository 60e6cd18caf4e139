//! `--cache-from` reaches the solver through the frontend (a gateway frontend must copy the
//! cache imports into its Solve request, or `--cache-from` silently does nothing).
//!
//! Each engine: build and export a cache, wipe the builder's local cache, build again importing
//! it, and check the compile step is served from the imported cache. This lives in its own test
//! binary because wiping the builder would disturb concurrently running builds.

use std::time::Duration;

use cachet_tests::progress::vertices;
use cachet_tests::{fixtures, on_each_engine, unique_tag, Engine, Env, TempProject};

fn project(label: &str) -> TempProject {
    let project = TempProject::new(label);
    project.copy_from(fixtures::repo_root().join("examples/hello"));
    let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
    project.write(
        "Cachet.toml",
        spec.replace(
            "name = \"hello\"",
            &format!("name = \"import-{}\"", fixtures::nonce()),
        ),
    );
    project
}

fn docker(args: &[&str]) {
    Engine::run_docker(args, Duration::from_secs(300)).assert_success();
}

/// Whether the first `[build] cargo …` step was served from cache.
fn cargo_step_cached(progress: &str) -> bool {
    vertices(progress)
        .into_iter()
        .find(|v| v.name.starts_with("[build] cargo"))
        .unwrap_or_else(|| panic!("no cargo step in:\n{progress}"))
        .cached
}

#[test]
fn cache_from_serves_a_wiped_builder() {
    on_each_engine(|engine| {
        let env = Env::get();
        let project = project(&format!("import-{engine}"));
        let file = project.path().join("Cachet.toml");
        let cache_ref = format!("{}/cachet-test/cache:{}", env.registry(), fixtures::nonce());

        match engine {
            Engine::Buildx => {
                engine
                    .build(project.path())
                    .file(&file)
                    .arg(format!("--cache-to=type=registry,ref={cache_ref},mode=max"))
                    .run()
                    .assert_success();
                engine.wipe_build_cache().unwrap();
            }
            Engine::Dockerd => {
                // dockerd 20.10 exports only inline cache, carried by the pushed image.
                engine
                    .build(project.path())
                    .file(&file)
                    .tag(cache_ref.clone())
                    .build_arg("BUILDKIT_INLINE_CACHE", "1")
                    .run()
                    .assert_success();
                docker(&["push", &cache_ref]);
                docker(&["image", "rm", "-f", &cache_ref]);
                engine.wipe_build_cache().unwrap();
                // As a dockerd CI job would: pull the cache image first. dockerd 20.10 can
                // fail to export layers it only knows from inline-cache metadata ("failed to
                // get layer … layer does not exist", moby/moby#41595). The build below without
                // --cache-from shows the pulled image alone gives no cache hits.
                docker(&["pull", &cache_ref]);
            }
        }

        let without = engine
            .build(project.path())
            .file(&file)
            .tag(unique_tag("no-import", engine))
            .run()
            .assert_success();
        assert!(
            !cargo_step_cached(without.progress()),
            "{engine}: the wipe did not clear the cache"
        );
        engine.wipe_build_cache().unwrap();

        let import = match engine {
            Engine::Buildx => format!("--cache-from=type=registry,ref={cache_ref}"),
            Engine::Dockerd => format!("--cache-from={cache_ref}"),
        };
        let result = engine
            .build(project.path())
            .file(&file)
            .tag(unique_tag("import", engine))
            .arg(import)
            .run()
            .assert_success();
        assert!(
            cargo_step_cached(result.progress()),
            "{engine}: the cargo step was not served from the imported cache:\n{}",
            result.progress()
        );
        assert_eq!(
            result.image().run(&[]).assert_success().stdout.trim(),
            "Hello from a Cachet build!"
        );
    });
}
