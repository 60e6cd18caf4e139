use std::collections::BTreeMap;

use super::*;

const FULL: &str = r#"# syntax=cachet/frontend:dev
[project]
name = "hello"

[args]
CPU = "x86-64"

[sdk]
image = "cachet-sdk:rustup"

[cargo]
features = ["tls"]
rustflags = ["-C", "target-cpu=${CPU}"]
env = { CFLAGS = "-O2" }

[target.build]
cargo = ["build", "--bin", "app"]
artifacts = { app = "app" }

[target.test]
cargo = ["test"]

[target.image]
from = "scratch"
copy = [{ from = "+build", artifact = "app", to = "/usr/local/bin/app" }]
entrypoint = ["/usr/local/bin/app"]
labels = { "org.example.cpu" = "${CPU}" }
"#;

fn no_args() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn err(text: &str) -> String {
    load("Cachet.toml", text, &no_args())
        .unwrap_err()
        .to_string()
}

#[test]
fn loads_the_full_example() {
    let spec = load("Cachet.toml", FULL, &no_args()).unwrap();
    assert_eq!(spec.project, "hello");
    assert_eq!(
        spec.default_target, "image",
        "the last target in the file is the default"
    );
    assert_eq!(spec.cargo.profile, "release");
    assert_eq!(spec.cargo.rustflags, vec!["-C", "target-cpu=x86-64"]);
    assert_eq!(spec.cargo.env["CFLAGS"], "-O2");
    let Target::Image(image) = &spec.targets["image"] else {
        panic!("image target")
    };
    assert_eq!(image.from, BaseRef::Scratch);
    assert_eq!(
        image.copies[0],
        ArtifactCopy {
            from_target: "build".into(),
            artifact: "app".into(),
            to: "/usr/local/bin/app".into()
        }
    );
    assert_eq!(image.labels["org.example.cpu"], "x86-64");
    assert_eq!(spec.closure("image"), vec!["build", "image"]);
    assert_eq!(spec.images_for("image"), vec!["cachet-sdk:rustup"]);
}

#[test]
fn build_args_override_declared_defaults_only() {
    let args = BTreeMap::from([
        ("CPU".to_string(), "native".to_string()),
        ("UNUSED".to_string(), "x".to_string()),
    ]);
    let spec = load("Cachet.toml", FULL, &args).unwrap();
    assert_eq!(spec.cargo.rustflags[1], "target-cpu=native");
    assert_eq!(
        spec.args,
        BTreeMap::from([("CPU".to_string(), "native".to_string())])
    );
}

#[test]
fn syntax_errors_name_line_and_column() {
    let e = err("[sdk]\nimage = \"x\n");
    assert!(e.starts_with("Cachet.toml:2:"), "{e}");
}

#[test]
fn unknown_keys_are_errors_with_position() {
    let e = err("[sdk]\nimage = \"x\"\nimgae = \"y\"\n[target.b]\ncargo = [\"build\"]\n");
    assert!(
        e.starts_with("Cachet.toml:3:1: unknown field `imgae`"),
        "{e}"
    );
}

#[test]
fn missing_sdk_is_an_error() {
    let e = err("[target.b]\ncargo = [\"build\"]\n");
    assert!(e.contains("missing field `sdk`"), "{e}");
}

#[test]
fn bad_references_are_errors() {
    let text = FULL.replace(
        "from = \"+build\", artifact = \"app\"",
        "from = \"+biuld\", artifact = \"app\"",
    );
    let e = err(&text);
    assert!(
        e.contains("`+biuld` names no target (targets: build, image, test)"),
        "{e}"
    );
    assert!(e.starts_with("Cachet.toml:25:"), "{e}");

    let text = FULL.replace("artifact = \"app\"", "artifact = \"ap\"");
    assert!(err(&text).contains("has no artifact `ap` (it has: app)"));
}

#[test]
fn cycles_are_errors() {
    let text = "[sdk]\nimage = \"s\"\n[target.a]\nfrom = \"+b\"\n[target.b]\nfrom = \"+a\"\n";
    let e = err(text);
    assert!(e.contains("cycle: +a → +b → +a"), "{e}");
    assert!(e.starts_with("Cachet.toml:6:"), "{e}");
}

#[test]
fn artifact_paths_stay_inside_the_output_dir() {
    for bad in ["/abs", "../up", "a/../../b", ""] {
        let text = FULL.replace(
            "artifacts = { app = \"app\" }",
            &format!("artifacts = {{ app = \"{bad}\" }}"),
        );
        let e = err(&text);
        assert!(e.starts_with("Cachet.toml:18:"), "{bad}: {e}");
    }
}

#[test]
fn flags_that_are_key_inputs_are_refused_in_steps() {
    let text = FULL.replace(
        "cargo = [\"build\", \"--bin\", \"app\"]",
        "cargo = [\"build\", \"--release\"]",
    );
    let e = err(&text);
    assert!(
        e.contains("`--release` is not allowed in a cargo step: set `profile` under [cargo]"),
        "{e}"
    );
    assert!(e.starts_with("Cachet.toml:17:19:"), "{e}");
    // After `--` the arguments belong to the tool, not to cargo.
    let text = FULL.replace(
        "cargo = [\"test\"]",
        "cargo = [\"test\", \"--\", \"--release\"]",
    );
    assert!(load("Cachet.toml", &text, &no_args()).is_ok());
}

#[test]
fn undeclared_interpolation_is_an_error() {
    let text = FULL.replace("${CPU}\"]", "${CPUS}\"]");
    let e = err(&text);
    assert!(e.contains("`${CPUS}` names no build argument"), "{e}");
}

#[test]
fn explicit_default_target_must_exist() {
    let text = format!("default = \"nope\"\n{FULL}");
    assert!(err(&text).contains("default target `nope` is not defined"));
    let text = format!("default = \"build\"\n{FULL}");
    assert_eq!(
        load("Cachet.toml", &text, &no_args())
            .unwrap()
            .default_target,
        "build"
    );
}

#[test]
fn a_target_is_cargo_or_image() {
    let e = err("[sdk]\nimage = \"s\"\n[target.x]\nentrypoint = [\"/a\"]\n");
    assert!(e.contains("expected `cargo = [...]`"), "{e}");
    let e = err("[sdk]\nimage = \"s\"\n[target.x]\ncargo = [\"build\"]\nentrypoint = [\"/a\"]\n");
    assert!(e.contains("`entrypoint` belongs to an image target"), "{e}");
}

#[test]
fn doubled_plus_and_uppercase_digests_are_refused_with_positions() {
    let doubled = FULL.replace(
        "from = \"+build\", artifact",
        "from = \"++build\", artifact",
    );
    let e = err(&doubled);
    assert!(e.contains("expected a target reference"), "{e}");
    assert!(e.starts_with("Cachet.toml:25:18:"), "{e}");

    let upper = FULL.replace(
        "image = \"cachet-sdk:rustup\"",
        &format!(
            "image = \"cachet-sdk:rustup\"\ndigest = \"sha256:{}\"",
            "A".repeat(64)
        ),
    );
    assert!(err(&upper).contains("expected a digest"), "{}", err(&upper));
}

#[test]
fn mode_include_and_fetch_settings_are_checked() {
    let with =
        |section: &str| FULL.replace("[target.build]", &format!("{section}\n[target.build]"));
    let spec = load(
        "Cachet.toml",
        &with("[fetch]\nsecrets = { CARGO_REGISTRIES_X_TOKEN = \"x-token\" }\nssh = true\n"),
        &no_args(),
    )
    .unwrap();
    assert_eq!(spec.fetch.secrets["CARGO_REGISTRIES_X_TOKEN"], "x-token");
    assert!(spec.fetch.ssh);
    assert_eq!(spec.cargo.mode, KeyMode::Strict);

    let fast = FULL
        .replace("[cargo]", "[cargo]\nmode = \"${MODE}\"")
        .replace("[args]", "[args]\nMODE = \"fast\"");
    assert_eq!(
        load("Cachet.toml", &fast, &no_args()).unwrap().cargo.mode,
        KeyMode::Fast
    );
    let bad = FULL.replace("[cargo]", "[cargo]\nmode = \"quick\"");
    assert!(
        err(&bad).contains("expected `strict` or `fast`"),
        "{}",
        err(&bad)
    );

    let e = err(&with("[fetch]\nsecrets = { lower = \"x\" }\n"));
    assert!(e.contains("environment variable name"), "{e}");
    let e = err(&FULL.replace(
        "name = \"hello\"",
        "name = \"hello\"\ninclude = [\"../outside\"]",
    ));
    assert!(e.contains("leaves the build context"), "{e}");
    let e = err(&FULL.replace("name = \"hello\"", "name = \"hello\"\ninclude = [\"/abs\"]"));
    assert!(e.contains("absolute"), "{e}");
}
