//! The fetch step on both engines, against a local sparse registry this test serves on the host
//! (`cachet_tests::registry`; no internet, no crates.io).
//!
//! - A binary that depends on a registry crate builds and runs; the `[fetch] cargo vendor` step
//!   ran and the registry was hit.
//! - A source edit leaves the fetch step CACHED and the registry untouched while the compile
//!   step reruns: compile steps never reach the registry.
//! - A dependency bump (new version published, requirement and lockfile changed) reruns the fetch
//!   step, and the new version is what gets compiled.
//! - The package's own version bump and a new description (manifest and lockfile changed) keep
//!   the fetch step CACHED: it sees masked manifests; the binary prints the new version.
//! - A private registry (token required) is reached through a BuildKit secret, and the token
//!   never appears in the progress output, the image or the LLB; without the secret the build
//!   fails.
//! - What a token downloads never lands in the shared download cache, where any other build on
//!   the builder could read it.
//! - A registry whose certificate comes from a CA the test made (as behind a TLS-intercepting
//!   proxy) is refused until `[fetch] ca-bundle` names a secret holding that CA; the CA's PEM
//!   reaches no key (another bundle keeps the fetch CACHED), the image or the LLB.
//! - `HTTPS_PROXY` (a build argument) carries the fetch through a proxy the test serves, which
//!   records the tunnel; another proxy value keeps the fetch CACHED (not in a key), and the value
//!   is in no layer and in the LLB only as the fetch step's proxy env. `ALL_PROXY` alone works
//!   too, on dockerd 20.10 as well (whose BuildKit drops that field).
//! - A registry whose name cannot resolve fails with a last line that says so and suggests
//!   `--network=host`.
//! - A crates.io crate patched with a local path crate, beside a registry dependency, builds
//!   with dependency layers; an edit to it reruns the layer (never the fetch) and is what the
//!   binary prints.
//!
//! Every project has a `[project] name` of its own and every registry a URL of its own, so no
//! run sees an earlier run's caches.

use std::process::Command;
use std::time::Duration;

use cachet_tests::progress::{only_step, Vertex};
use cachet_tests::proxy::Proxy;
use cachet_tests::registry::Registry;
use cachet_tests::registry_app::{
    app_project, build_and_run, ca_secret, dep_source, open_setup, paths, private_setup,
    spec_build, tls_setup, write_main, CA_SECRET_ID, DEP, SECRET_ID, TOKEN_ENV,
};
use cachet_tests::tls::TestCa;
use cachet_tests::{bytes_contain, fixtures, on_each_engine, process, Engine, Env, TempProject};

/// The fetch step, `[fetch] cargo vendor --locked · <tag>`: `(name, cached)`.
#[track_caller]
fn fetch_step(progress: &str) -> (String, bool) {
    let Vertex { name, cached, .. } = only_step(progress, "[fetch] cargo vendor --locked · ");
    let tag = name.rsplit(' ').next().unwrap_or_default();
    assert!(
        tag.len() == 6 && tag.chars().all(|c| c.is_ascii_hexdigit()),
        "the fetch step's name ends in a 6-hex tag: `{name}`"
    );
    (name, cached)
}

/// The compile step of target `build`: `(name, cached)`.
#[track_caller]
fn build_step(progress: &str) -> (String, bool) {
    let Vertex { name, cached, .. } = only_step(progress, "[build] cargo build ");
    (name, cached)
}

fn timed<T>(engine: Engine, what: &str, test: impl FnOnce() -> T) -> T {
    cachet_tests::timed("fetch", engine, what, test)
}

#[test]
fn host_cargo_resolves_against_the_local_registries() {
    // Not an engine test: the harness itself works (a failure below is never the frontend's).
    let registry = Registry::start("host-open");
    registry.publish(DEP, "1.0.0", &dep_source("host"));
    let project = app_project("host-open", "\"1\"", "m", "");
    registry.replace_crates_io(&project);
    registry.generate_lockfile(&project);
    let lock = std::fs::read_to_string(project.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("source = \"registry+https://github.com/rust-lang/crates.io-index\""),
        "a replaced crates.io keeps its id in the lockfile:\n{lock}"
    );
    assert!(
        registry
            .requests()
            .iter()
            .any(|r| r.path == "index/ca/ch/cachet-dep-a" && r.status == 200),
        "{:?}",
        paths(&registry.requests())
    );

    let token = format!("cachet-host-token-{}", fixtures::nonce());
    let private = Registry::start_private("host-private", &token);
    private.publish(DEP, "1.0.0", &dep_source("host private"));
    let project = app_project(
        "host-private",
        "{ version = \"1\", registry = \"corp\" }",
        "m",
        "",
    );
    private.declare_as(&project, "corp");
    private.generate_lockfile(&project);
    let lock = std::fs::read_to_string(project.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains(&format!("source = \"{}\"", private.index_url())),
        "{lock}"
    );
    assert!(!lock.contains(&token), "{lock}");
    let log = private.requests();
    assert!(
        log.iter().any(|r| r.status == 200 && r.sent_authorization),
        "cargo sent the token: {:?}",
        paths(&log)
    );
}

#[test]
fn a_registry_dependency_is_fetched_and_the_binary_runs() {
    on_each_engine(|engine| {
        timed(engine, "registry dependency build", || {
            let label = format!("fetch-dep-{engine}");
            let (registry, project, line) = open_setup(&label, "first");
            let (out, progress, during) =
                build_and_run(spec_build(engine, &project, "fetch-dep"), &registry);
            assert_eq!(out, format!("{line} | first"), "{engine}:\n{progress}");
            let (name, cached) = fetch_step(&progress);
            assert!(!cached, "{engine}: `{name}` ran:\n{progress}");
            assert!(
                progress.contains(&format!("Vendoring {DEP} v1.0.0")),
                "{engine}: cargo vendor vendored the dependency:\n{progress}"
            );
            assert!(
                during
                    .iter()
                    .any(|r| r.path == format!("dl/{DEP}/1.0.0/download") && r.status == 200),
                "{engine}: the fetch step downloaded the crate from the registry: {:?}",
                paths(&during)
            );
            let (name, cached) = build_step(&progress);
            assert!(!cached, "{engine}: `{name}` ran:\n{progress}");
        });
    });
}

#[test]
fn a_source_edit_keeps_the_fetch_cached_and_compiles_offline() {
    on_each_engine(|engine| {
        let label = format!("fetch-edit-{engine}");
        let (registry, project, line) = open_setup(&label, "before");
        let (out, first, during) = timed(engine, "first build", || {
            build_and_run(spec_build(engine, &project, "fetch-edit"), &registry)
        });
        assert_eq!(out, format!("{line} | before"), "{engine}:\n{first}");
        assert!(
            !fetch_step(&first).1,
            "{engine}: the first build fetches:\n{first}"
        );
        assert!(
            !during.is_empty(),
            "{engine}: the first build hit the registry"
        );

        write_main(&project, "after");
        let (out, second, during) = timed(engine, "rebuild after a main.rs edit", || {
            build_and_run(spec_build(engine, &project, "fetch-edit"), &registry)
        });
        assert_eq!(
            out,
            format!("{line} | after"),
            "{engine}: the edit is in the output:\n{second}"
        );
        let (name, cached) = fetch_step(&second);
        assert!(
            cached,
            "{engine}: `{name}` reran after a source-only edit:\n{second}"
        );
        // The compile step ran during this build, and nothing in the build reached the
        // registry: the compile step is offline, with the vendored sources.
        let (name, cached) = build_step(&second);
        assert!(!cached, "{engine}: `{name}` ran after the edit:\n{second}");
        assert!(
            second.contains("Compiling app"),
            "{engine}: cargo compiled the edit:\n{second}"
        );
        assert!(
            during.is_empty(),
            "{engine}: the registry was hit by a build whose fetch step was cached: {:?}\n{second}",
            paths(&during)
        );
    });
}

#[test]
fn a_dependency_bump_refetches() {
    on_each_engine(|engine| {
        let label = format!("fetch-bump-{engine}");
        let (registry, project, line) = open_setup(&label, "bump");
        let (out, first, _) = timed(engine, "build at 1.0.0", || {
            build_and_run(spec_build(engine, &project, "fetch-bump"), &registry)
        });
        assert_eq!(out, format!("{line} | bump"), "{engine}:\n{first}");
        let (_, cached) = fetch_step(&first);
        assert!(!cached, "{engine}:\n{first}");

        let new_line = format!("{DEP} 1.1.0 ({})", fixtures::nonce());
        registry.publish(DEP, "1.1.0", &dep_source(&new_line));
        let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
        let bumped = manifest.replace(&format!("{DEP} = \"1.0.0\""), &format!("{DEP} = \"1.1\""));
        assert_ne!(manifest, bumped, "the manifest names {DEP} = \"1.0.0\"");
        project.write("Cargo.toml", bumped);
        registry.generate_lockfile(&project);
        let lock = std::fs::read_to_string(project.path().join("Cargo.lock")).unwrap();
        assert!(
            lock.contains(&format!("name = \"{DEP}\"\nversion = \"1.1.0\"")),
            "the lockfile pins {DEP} 1.1.0:\n{lock}"
        );

        let (out, second, during) = timed(engine, "build at 1.1.0", || {
            build_and_run(spec_build(engine, &project, "fetch-bump"), &registry)
        });
        assert_eq!(
            out,
            format!("{new_line} | bump"),
            "{engine}: the new version is compiled in:\n{second}"
        );
        let (name, cached) = fetch_step(&second);
        assert!(
            !cached,
            "{engine}: `{name}` was CACHED after the lockfile changed:\n{second}"
        );
        assert!(
            during
                .iter()
                .any(|r| r.path == format!("dl/{DEP}/1.1.0/download") && r.status == 200),
            "{engine}: the fetch step downloaded 1.1.0: {:?}",
            paths(&during)
        );
        assert!(
            second.contains(&format!("Vendoring {DEP} v1.1.0")),
            "{engine}:\n{second}"
        );
    });
}

/// The fetch step sees masked manifests (`project::masked`): a version bump and a description
/// of the package itself leave it CACHED, and the registry untouched, while the compile step
/// sees the real manifest (the binary prints the new version).
#[test]
fn a_version_bump_and_a_description_keep_the_fetch_cached() {
    on_each_engine(|engine| {
        let label = format!("fetch-masked-{engine}");
        let (registry, project, line) = open_setup(&label, "unused");
        let print_version = "fn main() {\n    println!(\"{} | {}\", cachet_dep_a::line(), env!(\"CARGO_PKG_VERSION\"));\n}\n";
        project.write("src/main.rs", print_version);
        let (out, first, _) = timed(engine, "build at 0.1.0", || {
            build_and_run(spec_build(engine, &project, "fetch-masked"), &registry)
        });
        assert_eq!(out, format!("{line} | 0.1.0"), "{engine}:\n{first}");
        assert!(
            !fetch_step(&first).1,
            "{engine}: the first build fetches:\n{first}"
        );

        let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
        let edited = manifest.replace(
            "version = \"0.1.0\"\n",
            "version = \"0.2.0\"\ndescription = \"now described\" # and commented\n",
        );
        assert_ne!(manifest, edited, "the manifest names version 0.1.0");
        project.write("Cargo.toml", edited);
        registry.generate_lockfile(&project);
        let (out, second, during) = timed(engine, "build at 0.2.0", || {
            build_and_run(spec_build(engine, &project, "fetch-masked"), &registry)
        });
        assert_eq!(
            out,
            format!("{line} | 0.2.0"),
            "{engine}: the compile step sees the real manifest:\n{second}"
        );
        let (name, cached) = fetch_step(&second);
        assert!(
            cached,
            "{engine}: `{name}` reran after a version bump and a description:\n{second}"
        );
        assert!(
            during.is_empty(),
            "{engine}: the registry was hit: {:?}",
            paths(&during)
        );
    });
}

/// `llb-gen spec <project>/Cachet.toml --format json`, built from this workspace.
fn llb_json(project: &TempProject) -> String {
    llb_json_with(project, &[])
}

/// [`llb_json`] with further arguments (`--build-arg K=V` …).
fn llb_json_with(project: &TempProject, args: &[&str]) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("run")
        .arg("-q")
        .arg("--manifest-path")
        .arg(fixtures::repo_root().join("Cargo.toml"))
        .args(["-p", "llb-gen", "--", "spec"])
        .arg(project.path().join("Cachet.toml"))
        .args(["--format", "json"])
        .args(args);
    process::run(&mut cmd, Duration::from_secs(600))
        .assert_success()
        .stdout
}

#[test]
fn a_private_registry_is_reached_through_a_secret_that_leaks_nowhere() {
    on_each_engine(|engine| {
        let label = format!("fetch-private-{engine}");
        let token = format!("cachet-token-{}", fixtures::nonce());
        let (registry, project, line) = private_setup(&label, &token);
        let secrets = TempProject::new(&format!("{label}-secret"));
        let secret_file = secrets.write("corp-token", &token);

        // The frontend logs the Definition it sends (checked below).
        let build = spec_build(engine, &project, "fetch-private")
            .arg("--secret")
            .arg(format!("id={SECRET_ID},src={}", secret_file.display()))
            .arg("--build-arg")
            .arg("CACHET_DEBUG=definition");
        let before = registry.request_count();
        let result = timed(engine, "private registry build", || build.run());
        let during = registry.requests()[before..].to_vec();
        let result = result.assert_success();
        let progress = result.progress().to_string();
        let image = result.image();
        let out = image.run(&[]).assert_success().stdout;
        assert_eq!(
            out.trim(),
            format!("{line} | private"),
            "{engine}:\n{progress}"
        );
        assert!(!fetch_step(&progress).1, "{engine}:\n{progress}");
        assert!(
            during
                .iter()
                .any(|r| r.path == format!("dl/{DEP}/1.0.0/download")
                    && r.status == 200
                    && r.sent_authorization),
            "{engine}: the fetch step downloaded with the token: {:?}",
            paths(&during)
        );

        assert!(
            !progress.contains(&token),
            "{engine}: the token is in the progress output:\n{progress}"
        );
        let saved = image.saved_bytes(secrets.path());
        assert!(
            bytes_contain(&saved, &line),
            "{engine}: the saved image is searchable (the dependency's line is in the binary)"
        );
        assert!(
            !bytes_contain(&saved, &token),
            "{engine}: the token is in the image"
        );
        // What the frontend actually sent this build, not what the CLI would make.
        let llb = sent_definition(engine, &project);
        assert!(
            llb.contains(SECRET_ID) && llb.contains(TOKEN_ENV),
            "{engine}: the LLB names the secret and the variable:\n{llb}"
        );
        assert!(
            !llb.contains(&token),
            "{engine}: the token is in the LLB:\n{llb}"
        );
    });
}

/// The Definition the frontend compiled for `project`'s last build, as it logged it (readable
/// JSON, one line) into the engine's daemon log under `--build-arg CACHET_DEBUG=definition`.
#[track_caller]
fn sent_definition(engine: Engine, project: &TempProject) -> String {
    let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
    let name = spec
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("the spec names its project");
    let log = engine.daemon_log();
    let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    text.lines()
        .rfind(|l| l.contains("cachet definition") && l.contains(&format!("project=\"{name}\"")))
        .unwrap_or_else(|| {
            panic!(
                "{engine}: no Definition of {name} logged in {}",
                log.display()
            )
        })
        .to_string()
}

#[test]
fn a_private_registry_build_without_the_secret_fails() {
    on_each_engine(|engine| {
        let label = format!("fetch-nosecret-{engine}");
        let token = format!("cachet-token-{}", fixtures::nonce());
        let (registry, project, _) = private_setup(&label, &token);
        let result = timed(engine, "private registry build without the secret", || {
            spec_build(engine, &project, "fetch-nosecret").run()
        });
        let result = result.assert_failure();
        let progress = result.progress();
        assert!(
            progress.contains(&format!("secret {SECRET_ID}")) || progress.contains("401"),
            "{engine}: the error names the missing secret or the registry's 401:\n{progress}"
        );
        assert!(
            !registry
                .requests()
                .iter()
                .any(|r| r.path.starts_with("dl/") && r.status == 200),
            "{engine}: nothing was downloaded without the token: {:?}",
            paths(&registry.requests())
        );
    });
}

/// A neighbour on the same builder: raw LLB (as any `buildctl` client or custom frontend may
/// send) that mounts the shared download cache by its id and dumps every crate source it finds
/// there (`.crate` archives unpacked, extracted sources read). A nonce in its script makes it
/// run afresh (`--no-cache` would not do: current BuildKit then mounts an empty cache). (A Dockerfile cannot name the id: its frontend prefixes every cache id
/// with `/`; dockerd 20.10 takes no raw LLB from a client, so this runs on buildkitd only.)
fn download_cache_dump(label: &str) -> String {
    use llb_gen::llb::{definition_bytes, CacheSharing, Image, Mount, State};
    use std::io::Write;
    use std::process::Stdio;

    let env = Env::get();
    let buildctl = env.buildctl().expect("BUILDCTL in the environment file");
    // Only the test crate's lines: the shared cache also holds every crate other builds on
    // this builder fetched (hundreds of MB of them).
    let dump = format!(
        ": {}; {{ find /dl -name '*.crate' -exec sh -c 'tar -xzOf \"$1\"' _ {{}} \\; ; \
         find /dl -type f -name '*.rs' -exec cat {{}} + ; }} 2>/dev/null \
         | grep -a -o '{DEP} 1.0.0[^\"]*' > /seen/all || true",
        fixtures::nonce()
    );
    let probe = Image::new("docker.io/library/cachet-sdk:rustup")
        .unwrap()
        .into_state()
        .run(["/bin/sh".to_string(), "-c".to_string(), dump])
        .mount(
            Mount::cache(
                "/dl",
                format!("{}/registry", llb_gen::keys::CARGO_DOWNLOAD_CACHE_ID),
            )
            .sharing(CacheSharing::Locked),
        )
        .mount(Mount::bind("/seen", &State::scratch()))
        .build()
        .unwrap()
        .get_mount("/seen")
        .unwrap();
    let out = TempProject::new(label).path().join("out");
    let mut child = Command::new(buildctl)
        .args(["--addr", env.buildkit_host(), "build"])
        .arg(format!("--output=type=local,dest={}", out.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let definition = definition_bytes(&probe.marshal());
    child.stdin.take().unwrap().write_all(&definition).unwrap();
    let result = child.wait_with_output().unwrap();
    assert!(
        result.status.success(),
        "the probe ran:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    String::from_utf8_lossy(&std::fs::read(out.join("all")).expect("the probe's output"))
        .into_owned()
}

#[test]
fn a_private_crate_never_reaches_the_shared_download_cache() {
    let engine = Engine::Buildx;
    // A public project's fetch fills the shared download cache: the probe can see into it.
    let (_open, public, public_line) = open_setup("fetch-shared", "pub");
    spec_build(engine, &public, "fetch-shared")
        .run()
        .assert_success();

    let label = "fetch-isolated";
    let token = format!("cachet-token-{}", fixtures::nonce());
    let (_private, project, private_line) = private_setup(label, &token);
    let secrets = TempProject::new(&format!("{label}-secret"));
    let secret_file = secrets.write("corp-token", &token);
    let result = spec_build(engine, &project, label)
        .arg("--secret")
        .arg(format!("id={SECRET_ID},src={}", secret_file.display()))
        .run()
        .assert_success();
    let out = result.image().run(&[]).assert_success().stdout;
    assert_eq!(out.trim(), format!("{private_line} | private"));

    let seen = download_cache_dump(&format!("{label}-probe"));
    assert!(
        seen.contains(&public_line),
        "the probe sees the public crate in the shared cache (so it can see at all):\n{seen}"
    );
    assert!(
        !seen.contains(&private_line),
        "a build without the token read the private crate from the shared download cache"
    );
}

/// How deep the test's path-dependency chain goes: deeper than the 16 rounds of discovery the
/// frontend once stopped at (then silently dropping the layout and the fetch step).
const CHAIN: usize = 20;

#[test]
fn a_twenty_deep_path_dependency_chain_still_gets_its_fetch_step() {
    on_each_engine(|engine| {
        let label = format!("fetch-chain-{engine}");
        let registry = Registry::start(&label);
        let line = format!("{DEP} 1.0.0 deep ({})", fixtures::nonce());
        registry.publish(DEP, "1.0.0", &dep_source(&line));
        // app -> link0 -> link1 -> … -> link19 -> the registry crate.
        let project = app_project(&label, "\"1.0.0\"", "deep", "");
        let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
        project.write(
            "Cargo.toml",
            manifest.replace(
                &format!("{DEP} = \"1.0.0\""),
                "link0 = { path = \"links/link0\" }",
            ),
        );
        project.write(
            "src/main.rs",
            "fn main() {\n    println!(\"{} | deep\", link0::line());\n}\n",
        );
        for i in 0..CHAIN {
            let (dep, call) = if i + 1 == CHAIN {
                (
                    format!("{DEP} = \"1.0.0\""),
                    "cachet_dep_a::line()".to_string(),
                )
            } else {
                (
                    format!("link{} = {{ path = \"../link{}\" }}", i + 1, i + 1),
                    format!("link{}::line()", i + 1),
                )
            };
            project.write(
                format!("links/link{i}/Cargo.toml"),
                format!(
                    "[package]\nname = \"link{i}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                     [dependencies]\n{dep}\n"
                ),
            );
            project.write(
                format!("links/link{i}/src/lib.rs"),
                format!("pub fn line() -> &'static str {{\n    {call}\n}}\n"),
            );
        }
        registry.replace_crates_io(&project);
        registry.generate_lockfile(&project);
        let (out, progress, _) =
            build_and_run(spec_build(engine, &project, "fetch-chain"), &registry);
        assert_eq!(out, format!("{line} | deep"), "{engine}:\n{progress}");
        let (name, cached) = fetch_step(&progress);
        assert!(!cached, "{engine}: `{name}` ran:\n{progress}");
    });
}

/// A line from the middle of a PEM certificate: base64 of its DER, unique to it.
fn pem_body_line(pem: &str) -> String {
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(
        body.len() > 2,
        "a PEM certificate has several lines:\n{pem}"
    );
    body[body.len() / 2].to_string()
}

#[test]
fn a_private_ca_is_trusted_through_the_ca_bundle_secret_and_leaks_nowhere() {
    on_each_engine(|engine| {
        let label = format!("fetch-ca-{engine}");
        let ca = TestCa::new(&label);
        let (registry, project, line) = tls_setup(&label, &ca);

        // No secret: cargo refuses the certificate, and the last line says what to pass.
        let before = registry.request_count();
        let result = timed(engine, "TLS registry build without the CA", || {
            spec_build(engine, &project, "fetch-ca").run()
        });
        let result = result.assert_failure();
        let progress = result.progress();
        assert!(
            progress.contains("SSL certificate problem"),
            "{engine}: cargo refused the certificate:\n{progress}"
        );
        assert!(
            progress.contains(&format!(
                "no secret `{CA_SECRET_ID}` was given for [fetch] ca-bundle"
            )),
            "{engine}: the fetch step says which secret is missing:\n{progress}"
        );
        assert_eq!(
            registry.request_count(),
            before,
            "{engine}: nothing passed the TLS handshake: {:?}",
            paths(&registry.requests()[before..])
        );

        // With the CA as a secret, the fetch trusts it.
        let secrets = TempProject::new(&format!("{label}-secret"));
        let pem = secrets.write("ca.pem", ca.pem());
        let build = ca_secret(spec_build(engine, &project, "fetch-ca"), &pem);
        let result = timed(engine, "TLS registry build with the CA", || build.run());
        let result = result.assert_success();
        let progress = result.progress().to_string();
        let image = result.image();
        let out = image.run(&[]).assert_success().stdout;
        assert_eq!(out.trim(), format!("{line} | tls"), "{engine}:\n{progress}");
        assert!(
            !fetch_step(&progress).1,
            "{engine}: the fetch ran:\n{progress}"
        );
        assert!(
            registry
                .requests()
                .iter()
                .any(|r| r.path == format!("dl/{DEP}/1.0.0/download") && r.status == 200),
            "{engine}: the crate was downloaded over TLS: {:?}",
            paths(&registry.requests())
        );

        // The bundle's content is in no key: another one (the CA and a second, unrelated CA)
        // keeps the fetch CACHED.
        let other = TestCa::new(&format!("{label}-other"));
        let bigger = secrets.write("bigger.pem", format!("{}\n{}", ca.pem(), other.pem()));
        let build = ca_secret(spec_build(engine, &project, "fetch-ca"), &bigger);
        let again = build.run().assert_success();
        let (name, cached) = fetch_step(again.progress());
        assert!(
            cached,
            "{engine}: `{name}` reran for another CA bundle:\n{}",
            again.progress()
        );

        // Neither the progress, the image nor the LLB holds the certificate.
        let body = pem_body_line(ca.pem());
        assert!(
            !progress.contains(&body),
            "{engine}: the CA is in the progress output"
        );
        let saved = image.saved_bytes(secrets.path());
        assert!(
            bytes_contain(&saved, &line),
            "{engine}: the saved image is searchable (the dependency's line is in the binary)"
        );
        assert!(
            !bytes_contain(&saved, &body),
            "{engine}: the CA is in the image"
        );
        let llb = llb_json(&project);
        assert!(
            llb.contains(CA_SECRET_ID) && llb.contains("/run/cachet/ca-bundle.pem"),
            "the LLB names the secret and where it is mounted:\n{llb}"
        );
        assert!(!llb.contains(&body), "the CA is in the LLB:\n{llb}");
    });
}

/// The paths (`/a/0/b`) of every string in `value` (a JSON tree) that contains `needle`.
fn strings_holding(value: &serde_json::Value, needle: &str, path: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if s.contains(needle) => out.push(path.to_string()),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings_holding(item, needle, &format!("{path}/{i}"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                strings_holding(item, needle, &format!("{path}/{key}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_fetch_step_tunnels_through_the_proxy_build_arg_which_no_key_holds() {
    on_each_engine(|engine| {
        let label = format!("fetch-proxy-{engine}");
        let ca = TestCa::new(&label);
        let (registry, project, line) = tls_setup(&label, &ca);
        let secrets = TempProject::new(&format!("{label}-secret"));
        let pem = secrets.write("ca.pem", ca.pem());
        let (first_proxy, second_proxy) =
            (Proxy::to_registry(&registry), Proxy::to_registry(&registry));
        let through = |proxy: &Proxy| {
            ca_secret(spec_build(engine, &project, "fetch-proxy"), &pem)
                .build_arg("HTTPS_PROXY", proxy.url())
        };

        let result = timed(engine, "build through a proxy", || {
            through(&first_proxy).run()
        });
        let result = result.assert_success();
        let progress = result.progress().to_string();
        let image = result.image();
        let out = image.run(&[]).assert_success().stdout;
        assert_eq!(out.trim(), format!("{line} | tls"), "{engine}:\n{progress}");
        assert!(
            !fetch_step(&progress).1,
            "{engine}: the fetch ran:\n{progress}"
        );
        let tunnels = first_proxy.requests();
        assert!(
            !tunnels.is_empty()
                && tunnels.iter().all(|r| r.method == "CONNECT"
                    && r.target == registry.authority()
                    && r.status == 200),
            "{engine}: the fetch went through the proxy's tunnel: {tunnels:?}"
        );
        assert!(
            registry
                .requests()
                .iter()
                .any(|r| r.path == format!("dl/{DEP}/1.0.0/download") && r.status == 200),
            "{engine}: {:?}",
            paths(&registry.requests())
        );

        // Another proxy: same key, so the fetch is CACHED and nothing goes through it.
        let before = registry.request_count();
        let again = through(&second_proxy).run().assert_success();
        let (name, cached) = fetch_step(again.progress());
        assert!(
            cached,
            "{engine}: `{name}` reran for another HTTPS_PROXY:\n{}",
            again.progress()
        );
        assert!(
            second_proxy.requests().is_empty(),
            "{engine}: {:?}",
            second_proxy.requests()
        );
        assert_eq!(registry.request_count(), before, "{engine}");

        // The value is in no layer, and in the LLB only as the fetch step's proxy env.
        let url = first_proxy.url();
        let saved = image.saved_bytes(secrets.path());
        assert!(
            bytes_contain(&saved, &line),
            "{engine}: the saved image is searchable"
        );
        assert!(
            !bytes_contain(&saved, &url),
            "{engine}: the proxy is in the image"
        );
        let llb = llb_json_with(&project, &["--build-arg", &format!("HTTPS_PROXY={url}")]);
        let json: serde_json::Value = serde_json::from_str(&llb).unwrap();
        let mut holders = Vec::new();
        strings_holding(&json, &url, "", &mut holders);
        assert_eq!(
            holders.len(),
            1,
            "the proxy appears once in the LLB: {holders:?}\n{llb}"
        );
        assert!(
            holders[0].ends_with("/exec/meta/proxy_env/https_proxy"),
            "only as the fetch step's proxy env: {holders:?}"
        );
    });
}

#[test]
fn all_proxy_alone_carries_the_fetch_on_both_engines() {
    on_each_engine(|engine| {
        let label = format!("fetch-allproxy-{engine}");
        let (registry, project, line) = open_setup(&label, "all");
        let proxy = Proxy::to_registry(&registry);
        let build =
            spec_build(engine, &project, "fetch-allproxy").build_arg("ALL_PROXY", proxy.url());
        let (out, progress, during) = timed(engine, "build through ALL_PROXY", || {
            build_and_run(build, &registry)
        });
        assert_eq!(out, format!("{line} | all"), "{engine}:\n{progress}");
        assert!(
            !fetch_step(&progress).1,
            "{engine}: the fetch ran:\n{progress}"
        );
        let forwarded = proxy.requests();
        let download = format!(
            "{}dl/{DEP}/1.0.0/download",
            registry.http_index_url().trim_end_matches("index/")
        );
        assert!(
            forwarded
                .iter()
                .any(|r| r.method == "GET" && r.target == download && r.status == 200),
            "{engine}: the download went through the proxy: {forwarded:?}"
        );
        assert!(
            !during.is_empty(),
            "{engine}: the registry answered the proxy"
        );
    });
}

/// A name no resolver answers, and none is asked: its first label is longer than DNS allows
/// (63 bytes), so the C library refuses it before sending a query. Nothing leaves the machine,
/// on either engine, and cargo reports it as any failed lookup (`Could not resolve host`).
fn unresolvable_host() -> String {
    format!("cachet-{}.invalid", "x".repeat(70))
}

#[test]
fn an_unresolvable_registry_says_so_and_suggests_the_host_network() {
    on_each_engine(|engine| {
        let label = format!("fetch-dns-{engine}");
        let (registry, project, _) = open_setup(&label, "dns");
        let before = registry.request_count();
        let host = unresolvable_host();
        // The lockfile was made against the local registry; the build now looks for it
        // elsewhere.
        project.write(
            ".cargo/config.toml",
            format!(
                "[source.crates-io]\nreplace-with = \"local\"\n\n\
                 [source.local]\nregistry = \"sparse+http://{host}/index/\"\n"
            ),
        );
        let result = timed(engine, "build against an unresolvable registry", || {
            spec_build(engine, &project, "fetch-dns").run()
        });
        let result = result.assert_failure();
        let progress = result.progress();
        let cargo_said = progress
            .find(&format!("Could not resolve host: {host}"))
            .unwrap_or_else(|| panic!("{engine}: cargo's own error:\n{progress}"));
        let hint = progress
            .find(&format!(
                "cachet: the fetch step could not resolve {host}. "
            ))
            .unwrap_or_else(|| panic!("{engine}: the fetch step names the host:\n{progress}"));
        assert!(
            hint > cargo_said,
            "{engine}: the hint comes last:\n{progress}"
        );
        assert!(
            progress.contains("Retry with --network=host"),
            "{engine}: it suggests the host network:\n{progress}"
        );
        assert_eq!(registry.request_count(), before, "{engine}");
    });
}

/// `src/main.rs` printing `<cachet-dep-a's line> | <other crate's line>`.
fn print_two_lines(project: &TempProject, other_crate: &str) {
    project.write(
        "src/main.rs",
        format!(
            "fn main() {{\n    println!(\"{{}} | {{}}\", cachet_dep_a::line(), \
             {other_crate}::line());\n}}\n"
        ),
    );
}

/// `[cache] layers = "always"`: dependency layers on every build, as a CI build has them.
fn layers_always(project: &TempProject) {
    let spec = std::fs::read_to_string(project.path().join("Cachet.toml")).unwrap();
    project.write(
        "Cachet.toml",
        spec.replace(
            "[target.build]",
            "[cache]\nlayers = \"always\"\n\n[target.build]",
        ),
    );
}

/// Issue 14: a crates.io crate patched with a local path crate (`[patch.crates-io]`) beside a
/// registry dependency, with dependency layers (`[cache] layers = "always"`, as a CI build has
/// them). The layer compiles the patched crate from its sources with the registry crate, the
/// step builds and runs, and an edit to the patched crate reruns both and is what the binary
/// prints; the fetch step sees only its manifest, so it stays CACHED.
#[test]
fn a_patched_crate_builds_from_its_sources_in_the_layer_and_the_step() {
    on_each_engine(|engine| {
        timed(engine, "patched crate build", || {
            let label = format!("fetch-patch-{engine}");
            let (registry, project, line) = open_setup(&label, "first");
            let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
            project.write(
                "Cargo.toml",
                manifest.replace(
                    "[workspace]\n",
                    "cachet-patched = \"0.1\"\n\n[workspace]\n\n\
                     [patch.crates-io]\ncachet-patched = { path = \"patches/patched\" }\n",
                ),
            );
            project.write(
                "patches/patched/Cargo.toml",
                "[package]\nname = \"cachet-patched\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            );
            let patched = |line: &str| {
                project.write("patches/patched/src/lib.rs", dep_source(line));
            };
            patched("patched one");
            print_two_lines(&project, "cachet_patched");
            layers_always(&project);
            registry.generate_lockfile(&project);

            let (out, progress, _) =
                build_and_run(spec_build(engine, &project, "fetch-patch"), &registry);
            assert_eq!(
                out,
                format!("{line} | patched one"),
                "{engine}:\n{progress}"
            );
            let Vertex { name, cached, .. } = only_step(&progress, "[build] prebuild dependencies");
            assert!(!cached, "{engine}: `{name}` ran:\n{progress}");
            assert!(
                progress.contains("Compiling cachet-patched v0.1.0"),
                "{engine}: the patched crate is compiled:\n{progress}"
            );

            patched("patched two");
            let (out, progress, _) =
                build_and_run(spec_build(engine, &project, "fetch-patch"), &registry);
            assert_eq!(
                out,
                format!("{line} | patched two"),
                "{engine}:\n{progress}"
            );
            let (name, cached) = fetch_step(&progress);
            assert!(
                cached,
                "{engine}: `{name}` sees manifests only:\n{progress}"
            );
            let Vertex { name, cached, .. } = only_step(&progress, "[build] prebuild dependencies");
            assert!(
                !cached,
                "{engine}: `{name}` sees the patched sources:\n{progress}"
            );
        });
    });
}

/// Issue 16: a lockfile bump on a build with dependency layers (`[cache] layers = "always"`,
/// as a CI build on a persistent runner has them) re-runs the third-party layer, which starts
/// from its dependency cache: it compiles the bumped crate and nothing else, and the binary
/// prints the new version.
#[test]
fn a_lockfile_bump_recompiles_only_the_bumped_crate_in_the_dependency_layer() {
    on_each_engine(|engine| {
        timed(engine, "layer lockfile bump", || {
            let label = format!("fetch-layer-bump-{engine}");
            let (registry, project, line) = open_setup(&label, "unused");
            registry.publish("cachet-dep-b", "1.0.0", &dep_source("dep b"));
            let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
            project.write(
                "Cargo.toml",
                manifest.replace("[workspace]\n", "cachet-dep-b = \"1\"\n\n[workspace]\n"),
            );
            print_two_lines(&project, "cachet_dep_b");
            layers_always(&project);
            registry.generate_lockfile(&project);
            let (out, progress, _) =
                build_and_run(spec_build(engine, &project, "fetch-layer-bump"), &registry);
            assert_eq!(out, format!("{line} | dep b"), "{engine}:\n{progress}");
            // The stand-in for `app` is compiled too (and deleted): third-party crates only.
            let third_party = |layer: &Vertex| -> Vec<String> {
                layer
                    .compiled()
                    .into_iter()
                    .filter(|c| c != "app")
                    .collect()
            };
            let layer = only_step(&progress, "[build] prebuild dependencies");
            assert_eq!(
                third_party(&layer),
                [DEP, "cachet-dep-b"],
                "{engine}: the first layer compiles both:\n{progress}"
            );

            let new_line = format!("{DEP} 1.1.0 ({})", fixtures::nonce());
            registry.publish(DEP, "1.1.0", &dep_source(&new_line));
            let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
            project.write(
                "Cargo.toml",
                manifest.replace(&format!("{DEP} = \"1.0.0\""), &format!("{DEP} = \"1.1\"")),
            );
            registry.generate_lockfile(&project);
            let (out, progress, _) =
                build_and_run(spec_build(engine, &project, "fetch-layer-bump"), &registry);
            assert_eq!(out, format!("{new_line} | dep b"), "{engine}:\n{progress}");
            let layer = only_step(&progress, "[build] prebuild dependencies");
            assert!(!layer.cached, "{engine}: the layer re-ran:\n{progress}");
            assert_eq!(
                third_party(&layer),
                [DEP],
                "{engine}: the warm layer recompiles only the bumped crate:\n{progress}"
            );
        });
    });
}
