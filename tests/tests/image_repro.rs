//! Complete image configs and reproducible outputs on both engines:
//! - an image target on a real base (`cachet-sdk:debian`, through a `+target` base) with every
//!   config field set, loaded into dockerd and inspected field by field (buildx also sends the
//!   context's git remote and commit, which become `org.opencontainers.image.*` labels);
//! - with `[cargo] reproducible = true` and `SOURCE_DATE_EPOCH`, the same sources built in two
//!   context directories, and once more on a wiped builder, give byte-identical binaries with
//!   no builder path in them, and (buildx: dockerd 20.10 stamps the directories a copy
//!   creates with the build time) two image builds give the same image digest.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cachet_tests::exported::run_binary;
use cachet_tests::wipe::{exclusive, wipe};
use cachet_tests::{fixtures, on_each_engine, process, unique_tag, Engine, Image, TempProject};
use serde_json::{json, Value};

const EPOCH: &str = "1700000000";
const EPOCH_RFC3339: &str = "2023-11-14T22:13:20Z";

/// A binary that prints its arguments, `APP_MODE`, its working directory, its uid and the
/// `SOURCE_DATE_EPOCH` its build script saw; `--health` exits 0.
fn app_sources(project: &TempProject, release_debug: bool) {
    let debug = if release_debug {
        "\n[profile.release]\ndebug = true\n"
    } else {
        ""
    };
    project.write(
        "Cargo.toml",
        format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\n\n[workspace]\n{debug}"
        ),
    );
    project.write(
        "Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n",
    );
    project.write(
        "build.rs",
        "fn main() {\n    println!(\"cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH\");\n    \
         let at = std::env::var(\"SOURCE_DATE_EPOCH\").unwrap_or_else(|_| \"unset\".into());\n    \
         println!(\"cargo:rustc-env=APP_BUILT_AT={at}\");\n}\n",
    );
    project.write(
        "src/main.rs",
        r#"fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--health") {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("Uid: ?");
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    let mode = std::env::var("APP_MODE").unwrap_or_default();
    println!("args={} mode={mode} cwd={cwd} {uid}", args.join(","));
    println!("built at {}", env!("APP_BUILT_AT"));
    // A panic location and an unwrap in the binary, as real programs have.
    if args.first().map(String::as_str) == Some("--panic") {
        panic!("asked to");
    }
}
"#,
    );
    project.write(".dockerignore", "target/\nout*/\n*.tar\n");
}

fn inspect_json(image: &Image, format: &str) -> Value {
    let text = image.inspect(format);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("`{format}` is not JSON ({e}): {text}"))
}

/// Make `dir` a git work tree with a remote and one commit, as a CI checkout is.
fn git_checkout(dir: &Path, remote: &str) {
    let git = |args: &[&str]| {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args);
        process::run(&mut cmd, Duration::from_secs(60)).assert_success()
    };
    git(&["init", "-q"]);
    git(&["remote", "add", "origin", remote]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "test"]);
}

#[test]
fn an_image_on_a_real_base_carries_every_config_field() {
    on_each_engine(|engine| {
        let project = TempProject::new(&format!("config-{engine}"));
        app_sources(&project, false);
        project.write(
            "Cachet.toml",
            format!(
                r#"# syntax=cachet/frontend:dev
[project]
name = "config-{engine}-{nonce}"
[sdk]
image = "cachet-sdk:rustup"
[target.build]
cargo = ["build", "--bin", "app"]
artifacts = {{ app = "app" }}
[target.base]
from = "cachet-sdk:debian"
env = {{ FROM_BASE_TARGET = "1" }}
[target.image]
from = "+base"
copy = [{{ from = "+build", artifact = "app", to = "/usr/local/bin/app" }}]
entrypoint = ["/usr/local/bin/app"]
cmd = ["serve"]
user = "1000:1000"
workdir = "/srv"
env = {{ APP_MODE = "test" }}
labels = {{ "org.example.team" = "cachet", "org.opencontainers.image.revision" = "from-the-spec" }}
expose = ["8080", "53/udp"]
volumes = ["/data"]
stop-signal = "SIGINT"
healthcheck = {{ test = ["CMD", "/usr/local/bin/app", "--health"], interval = "10s", timeout = "2s", start-period = "1s", retries = 2 }}
"#,
                nonce = fixtures::nonce()
            ),
        );
        git_checkout(project.path(), "https://example.invalid/cachet/app.git");
        let base = Image::existing("cachet-sdk:debian");
        let base_env = inspect_json(&base, "{{json .Config.Env}}");
        let result = engine
            .build(project.path())
            .file(project.path().join("Cachet.toml"))
            .target("image")
            .build_arg("SOURCE_DATE_EPOCH", EPOCH)
            .tag(unique_tag("config", engine))
            .run()
            .assert_success();
        let image = result.image();
        let config = inspect_json(&image, "{{json .Config}}");

        assert_eq!(
            config["Entrypoint"],
            json!(["/usr/local/bin/app"]),
            "{engine}"
        );
        assert_eq!(config["Cmd"], json!(["serve"]), "{engine}");
        assert_eq!(config["User"], "1000:1000", "{engine}");
        assert_eq!(config["WorkingDir"], "/srv", "{engine}");
        let env: Vec<&str> = config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for inherited in base_env.as_array().unwrap() {
            let name = inherited.as_str().unwrap().split('=').next().unwrap();
            assert!(
                env.iter().any(|e| e.split('=').next() == Some(name)),
                "{engine}: the base's {name} is inherited: {env:?}"
            );
        }
        assert!(env.contains(&"FROM_BASE_TARGET=1"), "{engine}: {env:?}");
        assert!(env.contains(&"APP_MODE=test"), "{engine}: {env:?}");
        assert_eq!(
            config["ExposedPorts"],
            json!({"53/udp": {}, "8080/tcp": {}}),
            "{engine}"
        );
        assert_eq!(config["Volumes"], json!({"/data": {}}), "{engine}");
        assert_eq!(config["StopSignal"], "SIGINT", "{engine}");
        assert_eq!(
            config["Healthcheck"],
            json!({
                "Test": ["CMD", "/usr/local/bin/app", "--health"],
                "Interval": 10_000_000_000u64,
                "Timeout": 2_000_000_000u64,
                "StartPeriod": 1_000_000_000u64,
                "Retries": 2,
            }),
            "{engine}"
        );
        let labels = &config["Labels"];
        assert_eq!(labels["org.example.team"], "cachet", "{engine}");
        assert_eq!(
            labels["org.opencontainers.image.revision"], "from-the-spec",
            "{engine}: a spec label wins over the derived one"
        );
        assert_eq!(
            labels["org.opencontainers.image.created"], EPOCH_RFC3339,
            "{engine}"
        );
        assert_eq!(image.inspect("{{.Created}}"), EPOCH_RFC3339, "{engine}");
        if engine == Engine::Buildx {
            // buildx sends the git remote and commit of the context (`vcs:*`).
            assert_eq!(
                labels["org.opencontainers.image.source"], "https://example.invalid/cachet/app.git",
                "{engine}: {labels}"
            );
        }

        // The config is the one the container runs under.
        let out = image.run(&[]).assert_success().stdout;
        assert!(
            out.contains("args=serve mode=test cwd=/srv Uid:\t1000"),
            "{engine}: {out}"
        );
        assert!(
            out.contains(&format!("built at {EPOCH}")),
            "{engine}: {out}"
        );
    });
}

/// The same project (name included) in a fresh directory.
fn repro_project(name: &str) -> TempProject {
    let project = TempProject::new(name);
    app_sources(&project, true);
    project.write(
        "Cachet.toml",
        format!(
            r#"# syntax=cachet/frontend:dev
[project]
name = "{name}"
[sdk]
image = "cachet-sdk:rustup"
[cargo]
reproducible = true
rustflags = ["-C", "target-feature=+crt-static"]
[target.build]
cargo = ["build", "--bin", "app"]
artifacts = {{ app = "app" }}
[target.image]
from = "scratch"
copy = [{{ from = "+build", artifact = "app", to = "/usr/local/bin/app" }}]
entrypoint = ["/usr/local/bin/app"]
"#
        ),
    );
    project
}

fn export_binary(engine: Engine, project: &TempProject, out: &str, fresh: bool) -> Vec<u8> {
    let dir = project.path().join(out);
    let mut build = engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .target("build")
        .build_arg("SOURCE_DATE_EPOCH", EPOCH)
        .local_output(&dir);
    if fresh {
        build = build.no_cache();
    }
    build.run().assert_success();
    let app = dir.join("app");
    let printed = run_binary(&app);
    assert!(
        printed.contains(&format!("built at {EPOCH}")),
        "{engine}: {printed}"
    );
    std::fs::read(&app).unwrap()
}

/// The image's digest: the manifest digest of an OCI export on buildx (no attestations), the
/// image id (the config's digest, which names every layer's content) on dockerd.
fn image_digest(engine: Engine, project: &TempProject, fresh: bool) -> String {
    let mut build = engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .target("image")
        .build_arg("SOURCE_DATE_EPOCH", EPOCH);
    if fresh {
        build = build.no_cache();
    }
    match engine {
        Engine::Buildx => {
            let tar = project.path().join("image.tar");
            let mut spec = std::ffi::OsString::from("type=oci,dest=");
            spec.push(&tar);
            build
                .arg("--provenance=false")
                .arg("--output")
                .arg(spec)
                .run()
                .assert_success();
            let mut cmd = Command::new("tar");
            cmd.arg("-xOf").arg(&tar).arg("index.json");
            let index: Value = serde_json::from_str(
                &process::run(&mut cmd, Duration::from_secs(60))
                    .assert_success()
                    .stdout,
            )
            .unwrap();
            std::fs::remove_file(&tar).unwrap();
            index["manifests"][0]["digest"]
                .as_str()
                .unwrap()
                .to_string()
        }
        Engine::Dockerd => {
            let result = build
                .tag(unique_tag("repro", engine))
                .run()
                .assert_success();
            result.image().inspect("{{.Id}}")
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn reproducible_builds_are_byte_identical_across_directories_and_builders() {
    on_each_engine(|engine| {
        let name = format!("repro-{engine}-{}", fixtures::nonce());
        let first = repro_project(&name);
        let second = repro_project(&name);

        let a = export_binary(engine, &first, "out-a", false);
        // `--no-cache` empties the target cache: a real compile, in another directory.
        let b = export_binary(engine, &second, "out-b", true);
        assert!(
            a == b,
            "{engine}: the binaries differ between two context directories"
        );
        for path in ["/cachet/", "/usr/local/cargo", "/root/.cargo"] {
            assert!(
                !contains(&a, path.as_bytes()),
                "{engine}: the binary holds the builder path {path} (debug info or panic \
                 locations not remapped)"
            );
        }

        // dockerd 20.10's BuildKit (v0.8) stamps the directories a copy creates with the time
        // of the build, whatever the copy's timestamp, so only current BuildKit can give the
        // same layer twice.
        if engine == Engine::Buildx {
            let d1 = image_digest(engine, &first, false);
            let d2 = image_digest(engine, &second, true);
            assert_eq!(
                d1, d2,
                "{engine}: SOURCE_DATE_EPOCH builds gave different images"
            );
        }

        // A builder with no cache at all.
        let _wiping = exclusive(engine);
        wipe(engine);
        let c = export_binary(engine, &second, "out-c", false);
        assert!(a == c, "{engine}: the binary differs on a wiped builder");
    });
}
