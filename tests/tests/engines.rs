//! The test environment itself: both engines answer, the SDK images resolve
//! on both, and a plain Dockerfile Rust build runs on each engine.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use cachet_tests::{
    fixtures, on_each_engine, process, unique_tag, Engine, Env, Image, TempProject,
};

/// GET a registry API path on the loopback registry; (status line, body).
fn registry_get(env: &Env, path: &str) -> (String, String) {
    let mut conn = TcpStream::connect(env.registry())
        .unwrap_or_else(|e| panic!("registry {} unreachable: {e}", env.registry()));
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
        env.registry()
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

#[test]
fn both_engines_answer_with_the_expected_versions() {
    let env = Env::get();

    let mut version = Engine::docker(env);
    version.args(["version", "--format", "{{.Server.Version}}"]);
    let server = process::run(&mut version, Duration::from_secs(30)).assert_success();
    assert!(
        server.stdout.starts_with("20.10."),
        "dockerd should be Debian's 20.10 (BuildKit v0.8 line), got {:?}",
        server.stdout
    );

    let mut inspect = Engine::docker(env);
    inspect.args(["buildx", "inspect", "--bootstrap", env.builder()]);
    let out = process::run(&mut inspect, Duration::from_secs(60)).assert_success();
    assert!(
        out.stdout.contains("Status:") && out.stdout.contains("running"),
        "builder not running:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(env.buildkit_host()),
        "builder does not point at BUILDKIT_HOST:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("BuildKit version: v0.33."),
        "buildkitd should be v0.33.x:\n{}",
        out.stdout
    );
}

#[test]
fn sdk_images_are_in_dockerd_and_in_the_mirror() {
    let env = Env::get();
    for sdk in [env.sdk_rustup_image(), env.sdk_debian_image()] {
        let id = Image::existing(sdk).inspect("{{.Id}}");
        assert!(id.starts_with("sha256:"), "{sdk}: {id}");

        // buildkitd resolves docker.io/library/<name> through the mirror.
        let (name, tag) = sdk.split_once(':').expect("SDK image has a tag");
        let (status, body) = registry_get(env, &format!("/v2/library/{name}/tags/list"));
        assert!(
            status.contains(" 200 "),
            "{sdk} not in the registry: {status} {body}"
        );
        assert!(body.contains(&format!("\"{tag}\"")), "{sdk}: tags {body}");
    }
}

#[test]
fn plain_dockerfile_rust_build_runs_on_both_engines() {
    let env = Env::get();
    on_each_engine(|engine| {
        // A fresh line each run: the build cannot be a pure cache hit, so
        // cargo really runs on this engine.
        let line = format!("hello from {engine} {}", fixtures::nonce());
        let project = TempProject::new(&format!("plain-{engine}"));
        fixtures::hello_crate(&project, "hello", &line);
        project.write(
            "Dockerfile",
            fixtures::plain_dockerfile(env.sdk_rustup_image(), "hello"),
        );

        let build = engine
            .build(project.path())
            .tag(unique_tag("plain", engine))
            .run()
            .assert_success();
        assert!(
            build.progress().contains("cargo build --release --offline"),
            "expected the RUN step in the progress log:\n{}",
            build.progress()
        );
        let image = build.image();
        let run = image.run(&[]).assert_success();
        assert_eq!(run.stdout, format!("{line}\n"), "{run}");
    });
}

#[test]
fn example_plain_dockerfile_builds_and_runs_on_both_engines() {
    let example = fixtures::repo_root().join("examples/plain-dockerfile");
    on_each_engine(|engine| {
        let image = engine
            .build(&example)
            .tag(unique_tag("example-plain", engine))
            .run()
            .assert_success()
            .image();
        let run = image.run(&[]).assert_success();
        assert_eq!(
            run.stdout, "Hello from a plain Dockerfile build!\n",
            "{run}"
        );
    });
}

#[test]
fn push_image_makes_a_dockerd_image_resolve_on_buildkitd() {
    // The frontend image reaches buildkitd this way: built into dockerd's
    // store, pushed by scripts/env/push-image under its docker.io mirror path.
    let env = Env::get();
    let marker = fixtures::nonce();
    let base = TempProject::new("pushed-base");
    base.write("marker", &marker);
    base.write("Dockerfile", "FROM scratch\nCOPY marker /marker\n");
    let tag = unique_tag("pushed", Engine::Dockerd);
    let _base_image = Engine::Dockerd
        .build(base.path())
        .tag(&tag)
        .run()
        .assert_success()
        .image();

    let mut push = Command::new(fixtures::repo_root().join("scripts/env/push-image"));
    push.arg(&tag).env("CACHET_STATE_DIR", env.state_dir());
    process::run(&mut push, process::default_timeout()).assert_success();
    // `cachet-test/…` has a namespace, so no `library/` prefix.
    let _mirror_tag = Image::adopt(format!("{}/{tag}", env.registry()));

    let user = TempProject::new("pushed-user");
    user.write(
        "Dockerfile",
        format!("FROM {tag} AS base\nFROM scratch\nCOPY --from=base /marker /seen\n"),
    );
    let out = user.path().join("out");
    Engine::Buildx
        .build(user.path())
        .local_output(&out)
        .run()
        .assert_success();
    let seen = std::fs::read_to_string(out.join("seen")).expect("exported /seen");
    assert_eq!(seen, marker);
}
