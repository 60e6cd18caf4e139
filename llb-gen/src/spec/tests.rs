use std::collections::BTreeMap;

use super::load::{MAX_INTERPOLATED_BYTES, MAX_VALUE_BYTES};
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
fn a_missing_section_is_reported_where_it_can_be_added() {
    // At the end of the file, not at 1:1, with what to write.
    let e = err("[target.b]\ncargo = [\"build\"]\n");
    assert_eq!(
        e,
        "Cachet.toml:3:1: missing section [sdk]: add `[sdk]` with `image = \"…\"`, the image \
         every cargo step runs in (e.g. `image = \"cachet-sdk:rustup\"`)"
    );
    let e =
        err("[project]\nname = \"x\"\n\n[sdk]\ndigest = \"x\"\n[target.b]\ncargo = [\"build\"]\n");
    assert!(
        e.starts_with("Cachet.toml:4:1: [sdk] has no `image`: add `image = \"…\"` under [sdk]"),
        "{e}"
    );
    let e = err("[sdk]\nimage = \"s\"\n");
    assert!(
        e.starts_with("Cachet.toml:3:1: no targets: add at least one `[target.NAME]` table"),
        "{e}"
    );
    let text = FULL.replace(", to = \"/usr/local/bin/app\" }", " }");
    let e = err(&text);
    assert!(
        e.starts_with(
            "Cachet.toml:25:9: this copy entry has no `to`: write `{ from = \"+target\", \
             artifact = \"name\", to = \"/path/in/image\" }`"
        ),
        "{e}"
    );
    let e = err(&FULL.replace("from = \"+build\", artifact = \"app\", ", ""));
    assert!(
        e.starts_with("Cachet.toml:25:9: this copy entry has no `from` or `artifact`"),
        "{e}"
    );
}

#[test]
fn image_references_are_checked_where_they_are_written() {
    let sdk = |image: &str| FULL.replace("\"cachet-sdk:rustup\"", image);
    let e = err(&sdk("\"Alpine\""));
    assert_eq!(
        e,
        "Cachet.toml:9:9: [sdk] image `Alpine`: repository name must be lowercase; expected an \
         image reference `[registry/]repository[:tag][@sha256:<64 hex digits>]` with a lowercase \
         repository, such as `cachet-sdk:rustup` or `ghcr.io/org/sdk:1.80`"
    );
    for bad in ["", "a b", "foo@sha256:abc", "foo:-x", "-foo", "host:port/x"] {
        let e = err(&sdk(&format!("\"{bad}\"")));
        assert!(
            e.starts_with("Cachet.toml:9:9: [sdk] image `"),
            "{bad}: {e}"
        );
    }
    // After interpolation, saying where the value came from.
    let text = sdk("\"${SDK}\"").replace("[args]", "[args]\nSDK = \"cachet-sdk:rustup\"");
    assert!(load("Cachet.toml", &text, &no_args()).is_ok());
    let e = err_with(&text, &[("SDK", "Cachet-SDK")]);
    assert!(
        e.starts_with(
            "Cachet.toml:10:9: [sdk] image `Cachet-SDK` (from `${SDK}`): repository name must be \
             lowercase"
        ),
        "{e}"
    );

    let e = err_with(&base_from_arg(""), &[("BASE", "Alpine:3.20")]);
    assert!(
        e.starts_with(
            "Cachet.toml:6:8: image `Alpine:3.20` (from `${BASE}`): repository name must be \
             lowercase; expected `scratch`, `+target` or an image reference"
        ),
        "{e}"
    );
    let e = err_with(&base_from_arg(""), &[("BASE", "")]);
    assert!(
        e.starts_with("Cachet.toml:6:8: image `` (from `${BASE}`): empty reference"),
        "{e}"
    );
    let spec = load(
        "Cachet.toml",
        &base_from_arg(""),
        &BTreeMap::from([("BASE".to_string(), "ghcr.io/o/r:v1".to_string())]),
    )
    .unwrap();
    assert_eq!(spec.images_for("image"), vec!["s", "ghcr.io/o/r:v1"]);
}

#[test]
fn nesting_too_deep_for_the_toml_parser_is_positioned() {
    let key = vec!["a"; 200].join(".");
    let e = err(&format!("[sdk]\nimage = \"s\"\n# a.b\n{key} = 1\n"));
    assert_eq!(
        e,
        "Cachet.toml:4:1: a dotted key of 200 parts is deeper than TOML parsing goes (80); no \
         Cachet.toml key has more than 4 (`target.NAME.env.VAR`)"
    );
    let e = err(&format!("[sdk]\nimage = \"s\"\n[target.x]\n\n[{key}]\n"));
    assert!(
        e.starts_with("Cachet.toml:5:2: a dotted key of 200 parts"),
        "{e}"
    );

    let deep = 100_000;
    let arrays = format!("x = {}{}\n", "[".repeat(deep), "]".repeat(deep));
    let e = err(&format!("[sdk]\nimage = \"s\"\n{arrays}"));
    assert_eq!(
        e,
        "Cachet.toml:3:85: arrays and inline tables nest more than 80 deep here; no Cachet.toml \
         setting nests more than 2 (`copy = [{ … }]`)"
    );
    let tables = format!("x = {}1{}\n", "{a=".repeat(deep), "}".repeat(deep));
    let e = err(&format!("[sdk]\nimage = \"s\"\n{tables}"));
    assert!(
        e.starts_with("Cachet.toml:3:"),
        "{}",
        &e[..200.min(e.len())]
    );
    assert!(
        e.contains("nest more than 80 deep"),
        "{}",
        &e[..200.min(e.len())]
    );
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
    // Every spelling is caught, at the argument that holds it, with the setting to use.
    for (args, at, message) in [
        (
            r#""build", "-r""#,
            "17:19",
            "`-r` is not allowed in a cargo step: set `profile`",
        ),
        (
            r#""build", "-Ftls""#,
            "17:19",
            "`-F` is not allowed in a cargo step: set `features`",
        ),
        (
            r#""build", "-p", "app", "--manifest-path", "app/Cargo.toml""#,
            "17:32",
            "select the package with `-p NAME`",
        ),
        (
            r#""build", "--config", "ci.toml""#,
            "17:19",
            "`--config ci.toml` names a config file",
        ),
        (r#""+nightly", "build""#, "17:10", "rust-toolchain.toml"),
    ] {
        let text = FULL.replace(
            "cargo = [\"build\", \"--bin\", \"app\"]",
            &format!("cargo = [{args}]"),
        );
        let e = err(&text);
        assert!(e.starts_with(&format!("Cachet.toml:{at}:")), "{args}: {e}");
        assert!(e.contains(message), "{args}: {e}");
    }
    // Arguments that are key inputs load, and the compiler keys them.
    let text = FULL.replace(
        "cargo = [\"build\", \"--bin\", \"app\"]",
        "cargo = [\"build\", \"--config\", \"env.X=\\\"1\\\"\", \"-Zbuild-std\"]",
    );
    assert!(load("Cachet.toml", &text, &no_args()).is_ok());
}

#[test]
fn undeclared_interpolation_is_an_error_at_the_reference() {
    let text = FULL.replace("${CPU}\"]", "${CPUS}\"]");
    let e = err(&text);
    assert_eq!(
        e,
        "Cachet.toml:13:32: `${CPUS}` names no build argument; declare it under [args]"
    );
    // Where escapes make the source differ from the value, the value's start stands in.
    let e = err(&FULL.replace("target-cpu=${CPU}", "\\t${CPUS}"));
    assert!(e.starts_with("Cachet.toml:13:20: `${CPUS}`"), "{e}");
    let e = err(&FULL.replace("\"target-cpu=${CPU}\"", "'''${CPUS}'''"));
    assert!(e.starts_with("Cachet.toml:13:20: `${CPUS}`"), "{e}");
    let e = err(&FULL.replace("target-cpu=${CPU}", "é ${CPU"));
    assert!(e.starts_with("Cachet.toml:13:23: unterminated `${`"), "{e}");
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

/// An image target `image` whose `from` comes from the build argument `BASE`, after `more`.
fn base_from_arg(more: &str) -> String {
    format!(
        "[args]\nBASE = \"scratch\"\n[sdk]\nimage = \"s\"\n{more}[target.image]\nfrom = \"${{BASE}}\"\n"
    )
}

fn err_with(text: &str, args: &[(&str, &str)]) -> String {
    let args = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load("Cachet.toml", text, &args).unwrap_err().to_string()
}

#[test]
fn a_build_argument_cannot_make_a_target_its_own_base() {
    let text = base_from_arg("");
    let e = err_with(&text, &[("BASE", "+image")]);
    assert_eq!(
        e,
        "Cachet.toml:6:8: target `image` cannot be built from itself (`+image`) \
         (`${BASE}` is `+image` once build arguments are applied)"
    );
    // The same through the argument's default.
    let e = err(&text.replace("BASE = \"scratch\"", "BASE = \"+image\""));
    assert!(
        e.starts_with("Cachet.toml:6:8: target `image` cannot be built"),
        "{e}"
    );
}

#[test]
fn a_build_argument_cannot_close_a_cycle() {
    let text = base_from_arg("[args.more]\n")
        .replace("[args.more]\n", "[target.a]\nfrom = \"${A}\"\n")
        .replace("BASE = \"scratch\"", "BASE = \"scratch\"\nA = \"scratch\"");
    assert!(load("Cachet.toml", &text, &no_args()).is_ok());
    let e = err_with(&text, &[("A", "+image"), ("BASE", "+a")]);
    assert_eq!(
        e,
        "Cachet.toml:9:8: targets form a cycle: +a → +image → +a \
         (`${BASE}` is `+a` once build arguments are applied)"
    );
}

#[test]
fn a_build_argument_cannot_name_an_unknown_target() {
    let e = err_with(&base_from_arg(""), &[("BASE", "+nosuch")]);
    assert_eq!(
        e,
        "Cachet.toml:6:8: `+nosuch` names no target \
         (`${BASE}` is `+nosuch` once build arguments are applied) (targets: image)"
    );
    for bad in ["+", "++image", "+Image"] {
        let e = err_with(&base_from_arg(""), &[("BASE", bad)]);
        assert!(e.starts_with("Cachet.toml:6:8: "), "{bad}: {e}");
        assert!(e.contains("names no target"), "{bad}: {e}");
    }
}

#[test]
fn a_build_argument_may_name_another_target() {
    let text = base_from_arg("[target.build]\ncargo = [\"build\"]\n");
    let args = BTreeMap::from([("BASE".to_string(), "+build".to_string())]);
    let spec = load("Cachet.toml", &text, &args).unwrap();
    let Target::Image(image) = &spec.targets["image"] else {
        panic!("image target")
    };
    assert_eq!(image.from, BaseRef::Target("build".into()));
    assert_eq!(spec.closure("image"), vec!["build", "image"]);
}

#[test]
fn long_chains_of_targets_are_checked_without_deep_recursion() {
    // Each target builds on the next; the last one closes a cycle back to the first. A
    // recursive walk of this many targets overflows a test thread's stack.
    const N: usize = 20_000;
    let mut text = String::from("[sdk]\nimage = \"s\"\n");
    for i in 0..N {
        text.push_str(&format!("[target.t{i}]\nfrom = \"+t{}\"\n", (i + 1) % N));
    }
    let e = err(&text);
    let listed = (0..10)
        .map(|i| format!("+t{i}"))
        .collect::<Vec<_>>()
        .join(" → ");
    let tail = (19_991..20_000)
        .map(|i| format!("+t{i}"))
        .collect::<Vec<_>>()
        .join(" → ");
    assert_eq!(
        e,
        format!(
            "Cachet.toml:40002:8: targets form a cycle: {listed} → … 19981 more … → {tail} → +t0"
        )
    );

    // Without the cycle it loads, and the closure lists every target once, dependencies first.
    let text = text.replace("from = \"+t0\"\n", "from = \"scratch\"\n");
    let spec = load("Cachet.toml", &text, &no_args()).unwrap();
    let closure = spec.closure("t0");
    assert_eq!(closure.len(), N);
    assert_eq!(closure.first().map(String::as_str), Some("t19999"));
    assert_eq!(closure.last().map(String::as_str), Some("t0"));
}

#[test]
fn the_closure_of_a_hand_built_cycle_terminates() {
    let mut spec = load("Cachet.toml", FULL, &no_args()).unwrap();
    let Some(Target::Image(image)) = spec.targets.get_mut("image") else {
        panic!("image target")
    };
    image.from = BaseRef::Target("image".into());
    image.copies[0].from_target = "nosuch".into();
    assert_eq!(spec.closure("image"), vec!["image"]);
    assert_eq!(spec.closure("nosuch"), Vec::<String>::new());
    assert_eq!(spec.images_for("nosuch"), vec!["cachet-sdk:rustup"]);
}

#[test]
fn env_names_are_checked_at_their_keys() {
    let cargo_env = |env: &str| FULL.replace("env = { CFLAGS = \"-O2\" }", env);
    for (env, column, problem) in [
        (r#"env = { "" = "x" }"#, 9, "needs a name"),
        (r#"env = { "A=B" = "x" }"#, 9, "cannot contain `=`"),
        (r#"env = { "A\u0000B" = "x" }"#, 9, "NUL"),
        (r#"env = { "A\nB" = "x" }"#, 9, "whitespace"),
        (r#"env = { CFLAGS = "-O2", " CC" = "x" }"#, 25, "whitespace"),
    ] {
        let e = err(&cargo_env(env));
        assert!(
            e.starts_with(&format!("Cachet.toml:14:{column}: `")),
            "{env}: {e}"
        );
        assert!(e.contains(problem), "{env}: {e}");
    }
    // The name is shown escaped.
    assert!(err(&cargo_env(r#"env = { "A\nB" = "x" }"#)).contains("`A\\nB`"));
    // Lowercase names and the cc crate's triple-suffixed ones are real.
    let spec = load(
        "Cachet.toml",
        &cargo_env(r#"env = { http_proxy = "p", "CC_x86_64-unknown-linux-gnu" = "clang" }"#),
        &no_args(),
    )
    .unwrap();
    assert_eq!(spec.cargo.env["CC_x86_64-unknown-linux-gnu"], "clang");
}

#[test]
fn variables_cachet_owns_are_refused_with_the_setting_to_use() {
    let cargo_env = |env: &str| FULL.replace("env = { CFLAGS = \"-O2\" }", env);
    let e = err(&cargo_env(
        r#"env = { CFLAGS = "-O2", CARGO_TARGET_DIR = "/out" }"#,
    ));
    assert_eq!(
        e,
        "Cachet.toml:14:25: `CARGO_TARGET_DIR` cannot be set in a spec: Cachet places the target \
         directory on a keyed cache mount and copies `artifacts` out of it; name the outputs \
         under `artifacts`"
    );
    for (name, hint) in [
        ("RUSTFLAGS", "set `rustflags` under [cargo]"),
        ("CARGO_ENCODED_RUSTFLAGS", "set `rustflags` under [cargo]"),
        ("CARGO_BUILD_RUSTFLAGS", "set `rustflags` under [cargo]"),
        (
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "set `rustflags` under [cargo]",
        ),
        (
            "CARGO_BUILD_TARGET",
            "choose the target platform with `--platform`",
        ),
        (
            "CARGO_BUILD_TARGET_DIR",
            "name the outputs under `artifacts`",
        ),
        (
            "CARGO_BUILD_BUILD_DIR",
            "name the outputs under `artifacts`",
        ),
        ("CARGO_HOME", "set it in the SDK image"),
        ("CACHET_SDK", "never reuses another SDK's cache"),
    ] {
        let e = err(&cargo_env(&format!("env = {{ {name} = \"x\" }}")));
        assert!(
            e.starts_with(&format!(
                "Cachet.toml:14:9: `{name}` cannot be set in a spec: "
            )),
            "{name}: {e}"
        );
        assert!(e.contains(hint), "{name}: {e}");
    }
    // A cargo step's own env too.
    let e = err(&FULL.replace(
        "[target.test]\ncargo = [\"test\"]",
        "[target.test]\ncargo = [\"test\"]\nenv = { RUSTFLAGS = \"-Dwarnings\" }",
    ));
    assert!(
        e.starts_with("Cachet.toml:22:9: `RUSTFLAGS` cannot be set in a spec: "),
        "{e}"
    );
    // Profile settings are keyed inputs that do not move outputs; other `CACHET_` names are
    // the user's (the integration matrix's build script reads CACHET_FACT).
    let text = cargo_env(
        r#"env = { CARGO_PROFILE_RELEASE_LTO = "1", CARGO_TERM_COLOR = "always", CACHET_FACT = "x" }"#,
    );
    assert!(load("Cachet.toml", &text, &no_args()).is_ok());
}

#[test]
fn image_env_names_are_checked_but_not_reserved() {
    let image_env = |env: &str| {
        FULL.replace(
            "entrypoint = [\"/usr/local/bin/app\"]",
            &format!("entrypoint = [\"/usr/local/bin/app\"]\n{env}"),
        )
    };
    let spec = load(
        "Cachet.toml",
        &image_env(r#"env = { CARGO_HOME = "/cargo", RUSTFLAGS = "" }"#),
        &no_args(),
    )
    .unwrap();
    let Target::Image(image) = &spec.targets["image"] else {
        panic!("image target")
    };
    assert_eq!(image.env["CARGO_HOME"], "/cargo");
    let e = err(&image_env(r#"env = { "PATH=/x" = "y" }"#));
    assert!(e.starts_with("Cachet.toml:27:9: `PATH=/x`: "), "{e}");
}

#[test]
fn secret_variables_and_ids_are_checked_at_their_place() {
    let with = |secrets: &str| {
        FULL.replace(
            "[target.build]",
            &format!("[fetch]\nsecrets = {secrets}\n[target.build]"),
        )
    };
    let e = err(&with(r#"{ lower = "x" }"#));
    assert!(
        e.starts_with("Cachet.toml:17:13: `lower`: expected an environment variable name"),
        "{e}"
    );
    let e = err(&with(r#"{ CARGO_HOME = "x" }"#));
    assert!(
        e.starts_with("Cachet.toml:17:13: `CARGO_HOME` cannot be set in a spec"),
        "{e}"
    );
    for id in ["", ".", "..", "a/b", "a b", "a\\nb", "a\\u0000b"] {
        let e = err(&with(&format!("{{ TOKEN = \"{id}\" }}")));
        assert!(
            e.starts_with("Cachet.toml:17:21: expected a secret id"),
            "{id}: {e}"
        );
    }
}

#[test]
fn a_ca_bundle_names_a_secret_at_its_place() {
    let with = |bundle: &str| {
        FULL.replace(
            "[target.build]",
            &format!("[fetch]\nca-bundle = {bundle}\n[target.build]"),
        )
    };
    let spec = load(
        "Cachet.toml",
        &with(r#"{ secret = "corp-ca" }"#),
        &no_args(),
    )
    .unwrap();
    assert_eq!(spec.fetch.ca_bundle_secret.as_deref(), Some("corp-ca"));
    assert!(spec.fetch.secrets.is_empty() && !spec.fetch.ssh);
    let spec = load("Cachet.toml", FULL, &no_args()).unwrap();
    assert_eq!(spec.fetch.ca_bundle_secret, None);

    let e = err(&with("{}"));
    assert!(
        e.starts_with("Cachet.toml:17:13: `ca-bundle` needs `secret = \"…\"`"),
        "{e}"
    );
    for id in ["", "..", "a/b", "a b"] {
        let e = err(&with(&format!("{{ secret = \"{id}\" }}")));
        assert!(
            e.starts_with("Cachet.toml:17:24: expected a secret id"),
            "{id}: {e}"
        );
    }
    // A context file would be keyed by its content: not a way to give one.
    let e = err(&with(r#"{ file = "ca.pem" }"#));
    assert!(e.contains("unknown field `file`"), "{e}");
    let e = err(&with(r#""corp-ca""#));
    assert!(e.starts_with("Cachet.toml:17:13: "), "{e}");
}

#[test]
fn values_cannot_hold_nul() {
    let e = err(&FULL.replace("CFLAGS = \"-O2\"", "CFLAGS = \"-O2\\u0000\""));
    assert_eq!(
        e,
        "Cachet.toml:14:18: this value holds a NUL character, which no argument, environment \
         variable or path can carry"
    );
    // Through a build argument, saying so.
    let text = FULL
        .replace("CPU = \"x86-64\"", "CPU = \"x86-64\"\nN = \"\"")
        .replace("CFLAGS = \"-O2\"", "CFLAGS = \"${N}\"");
    let e = err_with(&text, &[("N", "a\0b")]);
    assert!(
        e.starts_with("Cachet.toml:15:18: this value holds a NUL character")
            && e.ends_with("(from `${N}`)"),
        "{e}"
    );
    let e = err_with(FULL, &[("CPU", "\0")]);
    assert!(
        e.starts_with("Cachet.toml:13:20: this value holds a NUL"),
        "{e}"
    );
    // Values taken as written, too.
    let e = err(&FULL.replace("{ app = \"app\" }", "{ app = \"a\\u0000\" }"));
    assert!(
        e.starts_with("Cachet.toml:18:21: this value holds a NUL"),
        "{e}"
    );
    let e = err(&FULL.replace("to = \"/usr/local/bin/app\"", "to = \"/a\\u0000\""));
    assert!(
        e.starts_with("Cachet.toml:25:51: this value holds a NUL"),
        "{e}"
    );
    let e = err(&FULL.replace(
        "entrypoint = [\"/usr/local/bin/app\"]",
        "entrypoint = [\"/app\\u0000\"]",
    ));
    assert!(
        e.starts_with("Cachet.toml:23:1: `entrypoint`: this value holds a NUL"),
        "{e}"
    );
}

/// FULL with `[cargo] env` replaced by `env` and the build argument `BIG` declared.
fn with_big_arg(env: &str) -> String {
    FULL.replace("env = { CFLAGS = \"-O2\" }", env)
        .replace("CPU = \"x86-64\"", "CPU = \"x86-64\"\nBIG = \"\"")
}

#[test]
fn one_value_is_bounded_once_build_arguments_are_applied() {
    let big = "x".repeat(100 * 1024);
    // A thousand references to 100 KiB would be 100 MB; it stops at the second one.
    let text = with_big_arg(&format!("env = {{ X = \"{}\" }}", "${BIG}".repeat(1000)));
    let e = err_with(&text, &[("BIG", &big)]);
    assert_eq!(
        e,
        format!(
            "Cachet.toml:15:20: this value exceeds {MAX_VALUE_BYTES} bytes here once build \
             arguments are applied (Linux passes no longer argument or environment variable to a \
             program); pass large inputs in the build context"
        )
    );
    // Up to the limit is fine.
    let text = with_big_arg("env = { X = \"${BIG}\" }");
    assert!(load(
        "Cachet.toml",
        &text,
        &BTreeMap::from([("BIG".into(), big.clone())])
    )
    .is_ok());
    // A literal value is bounded too.
    let long = "y".repeat(MAX_VALUE_BYTES + 1);
    let e = err(&with_big_arg(&format!("env = {{ X = \"{long}\" }}")));
    assert!(
        e.starts_with("Cachet.toml:15:14: this value exceeds"),
        "{}",
        &e[..100]
    );
}

#[test]
fn all_values_together_are_bounded() {
    // Twenty variables of 100 KiB each: the eleventh crosses 1 MiB.
    let big = "x".repeat(100 * 1024);
    let vars: String = (0..20)
        .map(|i| format!("V{i:02} = \"${{BIG}}\"\n"))
        .collect();
    let text = with_big_arg("").replace(
        "[target.build]",
        &format!("[cargo.env]\n{vars}\n[target.build]"),
    );
    assert!(load("Cachet.toml", &text, &no_args()).is_ok());
    let e = err_with(&text, &[("BIG", &big)]);
    assert_eq!(
        e,
        format!(
            "Cachet.toml:28:8: build arguments make the spec's values exceed \
             {MAX_INTERPOLATED_BYTES} bytes in total here; a build hands them all to its steps, \
             so pass large inputs in the build context"
        )
    );
}

#[test]
fn build_arguments_themselves_are_bounded() {
    let text = with_big_arg("");
    let big = "x".repeat(MAX_VALUE_BYTES + 1);
    let e = err_with(&text, &[("BIG", &big)]);
    assert_eq!(
        e,
        format!(
            "Cachet.toml:7:1: build argument `BIG` is {} bytes (from `--build-arg`); a build \
             argument holds at most {MAX_VALUE_BYTES} bytes (Linux passes no longer argument or \
             environment variable to a program); pass large inputs in the build context",
            MAX_VALUE_BYTES + 1
        )
    );
    // Even when no value uses it, and from the default too.
    let text = FULL.replace(
        "CPU = \"x86-64\"",
        &format!("CPU = \"x86-64\"\nBIG = \"{big}\""),
    );
    let e = err(&text);
    assert!(
        e.starts_with("Cachet.toml:7:1: build argument `BIG` is "),
        "{}",
        &e[..100]
    );
    assert!(e.contains("(from its default)"), "{}", &e[..200]);
    // Undeclared ones never reach the build, so they are not looked at.
    assert!(load(
        "Cachet.toml",
        FULL,
        &BTreeMap::from([("UNUSED".into(), big)])
    )
    .is_ok());
}

#[test]
fn one_environment_string_and_the_rustflags_are_bounded_as_a_whole() {
    // `AB=` and the value: one byte over.
    let value = "v".repeat(MAX_VALUE_BYTES - 2);
    let e = err(&with_big_arg(&format!("env = {{ AB = \"{value}\" }}")));
    assert!(
        e.starts_with(&format!(
            "Cachet.toml:15:9: `AB=…` is {} bytes; an environment variable holds at most",
            MAX_VALUE_BYTES + 1
        )),
        "{}",
        &e[..100]
    );
    let text = with_big_arg(&format!("env = {{ A = \"{value}\" }}"));
    assert!(load("Cachet.toml", &text, &no_args()).is_ok());

    let flag = "f".repeat(70 * 1024);
    let text = FULL.replace(
        "\"-C\", \"target-cpu=${CPU}\"",
        &format!("\"{flag}\", \"{flag}\""),
    );
    let e = err(&text);
    let column = "rustflags = [\"\", ".len() + flag.len() + 1;
    assert!(
        e.starts_with(&format!(
            "Cachet.toml:13:{column}: with this flag, `rustflags` exceed"
        )),
        "{}",
        &e[..100]
    );
}

/// Every target of `spec` compiled against a stand-in SDK and base images, as the frontend
/// would after resolving them.
fn compile_every_target(spec: &Spec) {
    use crate::compile::{compile, BuildRequest, ResolvedImage};
    let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    for target in spec.targets.keys() {
        let images = spec
            .images_for(target)
            .into_iter()
            .map(|image| {
                let resolved = ResolvedImage {
                    digest: format!("sha256:{}", "1".repeat(64)),
                    config: config.to_vec(),
                };
                (image, resolved)
            })
            .collect();
        let request = BuildRequest {
            images,
            ..BuildRequest::new(
                target.as_str().into(),
                crate::llb::Platform::linux_amd64(),
                "session",
            )
        };
        if let Err(e) = compile(spec, &request) {
            panic!("{target}: {e}");
        }
    }
}

#[test]
fn a_base_chosen_by_a_build_argument_compiles() {
    let text =
        base_from_arg("[target.build]\ncargo = [\"build\"]\nartifacts = { app = \"app\" }\n");
    for base in [
        "+build",
        "scratch",
        "alpine:3.20",
        "ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        let args = BTreeMap::from([("BASE".to_string(), base.to_string())]);
        let spec = load("Cachet.toml", &text, &args).unwrap();
        compile_every_target(&spec);
    }
}

/// Fragments that break strings, tables, references and character boundaries.
const HOSTILE: &[&str] = &[
    "${", "}", "$", "+", "\"", "'", "[", "]", "{", "=", ".", "\n", "é", "\\u0000", "${CPU}",
    "+image",
];

#[test]
fn no_edit_of_the_example_makes_load_panic() {
    // Every prefix (an unterminated anything), and fragments at every character boundary, with
    // build arguments that are themselves hostile. Whatever loads also compiles.
    // The example as written, and with its image's base from the argument.
    let from_arg = FULL.replace("from = \"scratch\"", "from = \"${CPU}\"");
    let hostile_args = [
        "+image", "+build", "+nosuch", "${CPU}", "é", "", "Alpine", "a=b", "\n",
    ];
    let mut loaded = 0;
    let mut compiled: Vec<Spec> = Vec::new();
    for base in [FULL, from_arg.as_str()] {
        for (i, _) in base.char_indices() {
            let mut texts = vec![base[..i].to_string()];
            // Three fragments per place, rotating, so every fragment lands all over the file.
            for j in 0..3 {
                let fragment = HOSTILE[(i + j * 5) % HOSTILE.len()];
                texts.push(format!("{}{fragment}{}", &base[..i], &base[i..]));
            }
            for (n, text) in texts.iter().enumerate() {
                let arg = hostile_args[(i + n) % hostile_args.len()];
                let args = BTreeMap::from([("CPU".to_string(), arg.to_string())]);
                if let Ok(spec) = load("Cachet.toml", text, &args) {
                    loaded += 1;
                    // Each spec once (most edits land in comments and change nothing).
                    if !compiled.contains(&spec) {
                        compile_every_target(&spec);
                        compiled.push(spec);
                    }
                }
            }
        }
    }
    assert!(
        loaded > 0,
        "some edits (inside comments and strings) still load"
    );
}

#[test]
fn values_quoted_in_messages_are_escaped_and_short() {
    let text = FULL
        .replace("[cargo]", "[cargo]\nmode = \"${MODE}\"")
        .replace("[args]", "[args]\nMODE = \"fast\"");
    let mode = "quick\n".repeat(10_000);
    let e = err_with(&text, &[("MODE", &mode)]);
    assert!(
        e.starts_with("Cachet.toml:13:8: mode `quick\\nquick\\n"),
        "{}",
        &e[..80]
    );
    assert!(e.len() < 200, "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

/// `FULL` with `lines` added to its `[sdk]` section (from line 10 on).
fn with_sdk(lines: &str) -> String {
    FULL.replace(
        "image = \"cachet-sdk:rustup\"\n",
        &format!("image = \"cachet-sdk:rustup\"\n{lines}\n"),
    )
}

#[test]
fn sdk_packages_and_setup_are_loaded_and_checked_where_they_are_written() {
    let plain = load("Cachet.toml", FULL, &no_args()).unwrap();
    assert!(!plain.sdk.is_extended());
    let empty = load(
        "Cachet.toml",
        &with_sdk("packages = []\nsetup = []"),
        &no_args(),
    )
    .unwrap();
    assert_eq!(empty, plain, "empty lists are no setup at all");

    let text = with_sdk(
        "packages = [\"make\", \"libssl-dev:amd64=3.0.15-1~deb12u1\", \"make\", \"g++\", \
         \"cmake=${CPU}\"]\nsetup = [\"echo $${HOME}\", \"true\"]",
    );
    let args = BTreeMap::from([("CPU".to_string(), "1:3.25.1-1".to_string())]);
    let spec = load("Cachet.toml", &text, &args).unwrap();
    assert!(spec.sdk.is_extended());
    assert_eq!(
        spec.sdk.packages,
        [
            "cmake=1:3.25.1-1",
            "g++",
            "libssl-dev:amd64=3.0.15-1~deb12u1",
            "make"
        ],
        "sorted and deduplicated, build arguments applied"
    );
    assert_eq!(
        spec.sdk.setup,
        ["echo ${HOME}", "true"],
        "in order; `$${{` is the shell's `${{`"
    );

    for bad in [
        "Make",
        "m",
        "make;rm",
        "make=",
        "make:",
        "make=~1",
        "make/bookworm",
        "-make",
    ] {
        let e = err(&with_sdk(&format!("packages = [\"ok\", \"{bad}\"]")));
        assert!(
            e.starts_with(&format!("Cachet.toml:10:19: [sdk] packages: `{bad}`")),
            "{bad}: {e}"
        );
        assert!(e.contains("`make=4.3-4.1`"), "{e}");
    }
    let e = err_with(&with_sdk("packages = [\"${CPU}\"]"), &[("CPU", "x y")]);
    assert!(
        e.starts_with("Cachet.toml:10:13: [sdk] packages: `x y` (from `${CPU}`)"),
        "{e}"
    );
    let e = err(&with_sdk("setup = [\"true\", \"  \"]"));
    assert!(
        e.starts_with("Cachet.toml:10:18: [sdk] setup: an empty command"),
        "{e}"
    );
    let e = err(&with_sdk("setup = [\"echo ${HOME}\"]"));
    assert!(
        e.contains("`${HOME}` names no build argument"),
        "a shell `${{…}}` is written `$${{…}}`: {e}"
    );
    let e = err(&with_sdk("packages = \"make\""));
    assert!(e.starts_with("Cachet.toml:10:"), "{e}");
}

#[test]
fn a_target_reference_is_parsed_once_and_shown_as_written() {
    for (written, name, layer) in [("build", "build", false), ("build.deps", "build", true)] {
        let parsed = TargetRef::parse(written);
        assert_eq!((parsed.name.as_str(), parsed.layer), (name, layer));
        assert_eq!(parsed.to_string(), written);
    }
}

#[test]
fn image_runtime_settings_are_checked_where_they_are_written() {
    let image =
        |line: &str| format!("[sdk]\nimage = \"s\"\n[target.x]\nfrom = \"scratch\"\n{line}\n");
    let e = err(&image("expose = [\"8080/tcp\", \"99999\"]"));
    assert!(e.starts_with("Cachet.toml:5:23:"), "{e}");
    assert!(e.contains("`99999`") && e.contains("1 to 65535"), "{e}");
    let e = err(&image("volumes = [\"data\"]"));
    assert!(
        e.starts_with("Cachet.toml:5:12:") && e.contains("absolute path"),
        "{e}"
    );
    let e = err(&image("stop-signal = \"TERM\""));
    assert!(
        e.starts_with("Cachet.toml:5:15:") && e.contains("SIGTERM"),
        "{e}"
    );
    let e = err(&image(
        "healthcheck = { test = [\"CMD\", \"/a\"], interval = \"10\" }",
    ));
    assert!(
        e.starts_with("Cachet.toml:5:50:") && e.contains("duration"),
        "{e}"
    );
    let e = err(&image("healthcheck = { interval = \"10s\" }"));
    assert!(e.contains("has no `test`"), "{e}");
    let e = err("[sdk]\nimage = \"s\"\n[target.x]\ncargo = [\"build\"]\nexpose = [\"80\"]\n");
    assert!(e.contains("`expose` belongs to an image target"), "{e}");
    let e = err("[sdk]\nimage = \"s\"\n[cargo]\nenv = { SOURCE_DATE_EPOCH = \"1\" }\n[target.x]\ncargo = [\"build\"]\n");
    assert!(e.contains("--build-arg SOURCE_DATE_EPOCH"), "{e}");
    let text =
        image("expose = [\"80\", \"53/udp\"]\nvolumes = [\"/data\"]\nstop-signal = \"SIGINT\"");
    let spec = load("Cachet.toml", &text, &no_args()).unwrap();
    let Target::Image(t) = &spec.targets["x"] else {
        panic!("an image target")
    };
    assert_eq!(
        t.expose,
        ["53/udp".to_string(), "80/tcp".to_string()].into()
    );
    assert_eq!(t.stop_signal.as_deref(), Some("SIGINT"));
}

#[test]
fn named_contexts_are_checked_where_they_are_written() {
    let with = |contexts: &str| format!("{FULL}\n[contexts]\n{contexts}\n");
    let spec = load(
        "Cachet.toml",
        &with("shared = \"../shared-lib\""),
        &no_args(),
    )
    .unwrap();
    assert_eq!(spec.contexts["shared"], "../shared-lib");
    // FULL is 28 lines, then a blank line and `[contexts]`: entries start on line 30.
    for (contexts, at, says) in [
        (
            "shared = \".\"",
            "Cachet.toml:30:10",
            "is the project itself",
        ),
        (
            "shared = \"../target\"",
            "Cachet.toml:30:10",
            "Cachet mounts its own files",
        ),
        (
            "shared = \"../../x\"",
            "Cachet.toml:30:10",
            "more than one `..`",
        ),
        (
            "Shared = \"../x\"",
            "Cachet.toml:30:1",
            "context name `Shared`",
        ),
        (
            "a = \"../x\"\nb = \"../x/./\"",
            "Cachet.toml:31:5",
            "overlaps context `a`",
        ),
        (
            "a = \"../x\"\nb = \"../x/y\"",
            "Cachet.toml:31:5",
            "overlaps",
        ),
    ] {
        let e = err(&with(contexts));
        assert!(e.starts_with(at) && e.contains(says), "{contexts}: {e}");
    }
}
