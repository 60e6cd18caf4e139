//! The JSON Schema of `Cachet.toml` (`llb-gen schema`).
//!
//! - The committed copy editors use, `schema/cachet.schema.json`, is exactly what the CLI prints.
//!   Regenerate it with `UPDATE_SCHEMA=1 cargo test -p llb-gen --test schema` and review the diff.
//! - Every `examples/*/Cachet.toml` validates against the schema.
//! - The schema agrees with the loader (`llb_gen::spec::load`, the source of truth) on a table of
//!   specs: the bad ones are refused by both, the tricky good ones accepted by both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use jsonschema::Validator;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `llb-gen schema` and returns its stdout.
fn cli_schema() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .arg("schema")
        .output()
        .expect("llb-gen runs");
    assert!(
        out.status.success(),
        "llb-gen schema failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the schema is UTF-8")
}

/// The schema, checked against the draft-07 meta-schema and compiled.
fn validator() -> Validator {
    let schema = llb_gen::spec::json_schema();
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-07/schema#",
        "editors expect draft-07"
    );
    jsonschema::meta::validate(&schema).expect("the schema is a valid JSON Schema");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// `text` parsed as TOML, as the JSON value a schema validator sees.
fn to_json(file: &str, text: &str) -> Value {
    let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::to_value(table).expect("TOML converts to JSON")
}

/// The schema's complaints about `text`, one per line; empty if it validates.
fn schema_errors(validator: &Validator, file: &str, text: &str) -> String {
    let instance = to_json(file, text);
    validator
        .iter_errors(&instance)
        .map(|e| format!("  {}: {e}\n", e.instance_path()))
        .collect()
}

#[test]
fn cli_output_matches_committed_schema() {
    let path = repo_root().join("schema/cachet.schema.json");
    let actual = cli_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create schema/");
        std::fs::write(&path, &actual).expect("write the schema");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "`llb-gen schema` no longer matches {}.\n\
         If intended, run UPDATE_SCHEMA=1 cargo test -p llb-gen --test schema and review.\n\
         --- committed\n{expected}\n--- llb-gen schema\n{actual}",
        path.display()
    );
    let parsed: Value = serde_json::from_str(&actual).expect("the CLI prints JSON");
    assert_eq!(parsed, llb_gen::spec::json_schema());
}

#[test]
fn every_example_validates() {
    let validator = validator();
    let examples = repo_root().join("examples");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap_or_else(|e| panic!("{}: {e}", examples.display()))
        .map(|entry| entry.expect("read examples/").path().join("Cachet.toml"))
        .filter(|path| path.is_file())
        .collect();
    specs.sort();
    assert!(
        !specs.is_empty(),
        "no examples/*/Cachet.toml under {}",
        examples.display()
    );
    for path in &specs {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let errors = schema_errors(&validator, &file, &text);
        assert!(
            errors.is_empty(),
            "{file} does not match the schema:\n{errors}"
        );
    }
}

/// Valid: one cargo step and one image using its artifact.
const BASE: &str = r#"
[sdk]
image = "cachet-sdk:rustup"

[target.build]
cargo = ["build", "--bin", "app"]
artifacts = { app = "app" }

[target.image]
from = "scratch"
copy = [{ from = "+build", artifact = "app", to = "/usr/local/bin/app" }]
entrypoint = ["/usr/local/bin/app"]
"#;

/// `BASE` with the one occurrence of `from` replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "`{from}` in BASE");
    BASE.replacen(from, to, 1)
}

/// `BASE` with `tables` (whole TOML tables) appended.
fn append(tables: &str) -> String {
    format!("{BASE}\n{tables}\n")
}

/// Specs both the loader and the schema refuse: name, where the schema must object (a JSON
/// pointer into the spec), spec.
fn bad_specs() -> Vec<(&'static str, &'static str, String)> {
    let digest = |d: &str| edit("rustup\"\n", &format!("rustup\"\ndigest = \"{d}\"\n"));
    vec![
        ("unknown key", "/cargo", append("[cargo]\nprofle = \"dev\"")),
        (
            "unknown top-level key",
            "",
            format!("colour = \"red\"\n{BASE}"),
        ),
        ("unknown section", "", append("[cargoo]\nprofile = \"dev\"")),
        (
            "bad mode",
            "/cargo/mode",
            append("[cargo]\nmode = \"quick\""),
        ),
        (
            "bad profile",
            "/cargo/profile",
            append("[cargo]\nprofile = \"Release\""),
        ),
        ("short digest", "/sdk/digest", digest("sha256:abc")),
        (
            "sdk package not a Debian name",
            "/sdk/packages/0",
            edit("rustup\"\n", "rustup\"\npackages = [\"Make\"]\n"),
        ),
        (
            "blank sdk setup command",
            "/sdk/setup/0",
            edit("rustup\"\n", "rustup\"\nsetup = [\" \"]\n"),
        ),
        (
            "digest without algorithm",
            "/sdk/digest",
            digest(&"a".repeat(64)),
        ),
        (
            "relative copy.to",
            "/target/image/copy/0/to",
            edit("to = \"/usr", "to = \"usr"),
        ),
        (
            "copy.from without +",
            "/target/image/copy/0/from",
            edit("from = \"+build\"", "from = \"build\""),
        ),
        (
            "missing sdk",
            "",
            BASE.replace("[sdk]\nimage = \"cachet-sdk:rustup\"\n", ""),
        ),
        (
            "sdk image with a space",
            "/sdk/image",
            edit("cachet-sdk:rustup", "cachet-sdk rustup"),
        ),
        (
            "no targets",
            "",
            "[sdk]\nimage = \"cachet-sdk:rustup\"\n".to_string(),
        ),
        (
            "bad target name",
            "/target",
            edit("[target.image]", "[target.Image]"),
        ),
        (
            "bad artifact name",
            "/target/build/artifacts",
            edit("artifacts = { app = ", "artifacts = { App = "),
        ),
        (
            "artifact path leaves the output directory",
            "/target/build/artifacts/app",
            edit("{ app = \"app\" }", "{ app = \"../app\" }"),
        ),
        (
            "absolute artifact path",
            "/target/build/artifacts/app",
            edit("{ app = \"app\" }", "{ app = \"/app\" }"),
        ),
        (
            "empty cargo step",
            "/target/build/cargo",
            edit("[\"build\", \"--bin\", \"app\"]", "[]"),
        ),
        (
            "cargo step starting with a flag",
            "/target/build/cargo/0",
            edit("[\"build\", \"--bin\"", "[\"-v\", \"build\", \"--bin\""),
        ),
        (
            "cargo step and image at once",
            "/target/build",
            edit("artifacts = { app", "from = \"scratch\"\nartifacts = { app"),
        ),
        (
            "neither cargo step nor image",
            "/target/odd",
            append("[target.odd]\nworkdir = \"/\""),
        ),
        (
            "image key on a cargo step",
            "/target/build/user",
            edit("artifacts = { app", "user = \"app\"\nartifacts = { app"),
        ),
        (
            "artifacts on an image",
            "/target/image/artifacts",
            edit(
                "from = \"scratch\"",
                "from = \"scratch\"\nartifacts = { x = \"x\" }",
            ),
        ),
        (
            "base with whitespace",
            "/target/image/from",
            edit("\"scratch\"", "\"alpine 3.20\""),
        ),
        (
            "default not a target name",
            "/default",
            format!("default = \"Image\"\n{BASE}"),
        ),
        (
            "secret for a lowercase variable",
            "/fetch/secrets",
            append("[fetch]\nsecrets = { token = \"corp-token\" }"),
        ),
        (
            "secret id with a slash",
            "/fetch/secrets/TOKEN",
            append("[fetch]\nsecrets = { TOKEN = \"corp/token\" }"),
        ),
        (
            "ssh not a boolean",
            "/fetch/ssh",
            append("[fetch]\nssh = \"yes\""),
        ),
        (
            "ca-bundle without a secret",
            "/fetch/ca-bundle",
            append("[fetch]\nca-bundle = {}"),
        ),
        (
            "ca-bundle from a context file",
            "/fetch/ca-bundle",
            append("[fetch]\nca-bundle = { secret = \"corp-ca\", file = \"ca.pem\" }"),
        ),
        (
            "ca-bundle secret id with a slash",
            "/fetch/ca-bundle/secret",
            append("[fetch]\nca-bundle = { secret = \"corp/ca\" }"),
        ),
        (
            "absolute include",
            "/project/include/0",
            append("[project]\ninclude = [\"/etc\"]"),
        ),
        (
            "include leaving the context",
            "/project/include/0",
            append("[project]\ninclude = [\"../x\"]"),
        ),
        (
            "include exclusion",
            "/project/include/0",
            append("[project]\ninclude = [\"!x\"]"),
        ),
        (
            "empty include",
            "/project/include/0",
            append("[project]\ninclude = [\"./\"]"),
        ),
        (
            "bad project name",
            "/project/name",
            append("[project]\nname = \"My App\""),
        ),
    ]
}

/// Specs both the loader and the schema accept, near the edges of the rules.
fn good_specs() -> Vec<(&'static str, String)> {
    vec![
        ("base", BASE.to_string()),
        ("fast mode", append("[cargo]\nmode = \"fast\"")),
        (
            "mode from a build argument",
            append("[args]\nMODE = \"fast\"\n\n[cargo]\nmode = \"${MODE}\""),
        ),
        (
            "pinned digest",
            edit(
                "rustup\"\n",
                &format!("rustup\"\ndigest = \"sha256:{}\"\n", "0a".repeat(32)),
            ),
        ),
        (
            "base image from a build argument",
            format!(
                "{}\n[args]\nBASE = \"alpine:3.20\"\n",
                edit("\"scratch\"", "\"${BASE}\"")
            ),
        ),
        (
            "base target from a build argument",
            format!(
                "{}\n[args]\nSTAGE = \"build\"\n",
                edit("\"scratch\"", "\"+${STAGE}\"")
            ),
        ),
        ("image base", edit("\"scratch\"", "\"alpine:3.20\"")),
        (
            "sdk packages and setup",
            format!(
                "{}\n[args]\nV = \"3.25.1-1\"\n",
                edit(
                    "rustup\"\n",
                    "rustup\"\npackages = [\"make\", \"g++\", \"libssl-dev:arm64=3.0.15-1~deb12u1\", \
                     \"cmake=${V}\"]\nsetup = [\"echo $${HOME}\", \"true\"]\n",
                )
            ),
        ),
        (
            "empty image keys on a cargo step",
            edit(
                "artifacts = { app",
                "copy = []\nlabels = {}\nartifacts = { app",
            ),
        ),
        (
            "nested artifact path",
            edit("{ app = \"app\" }", "{ app = \"examples/app\" }"),
        ),
        ("explicit default", format!("default = \"build\"\n{BASE}")),
        (
            "fetch secrets and ssh",
            append(
                "[fetch]\nsecrets = { CARGO_REGISTRIES_CORP_TOKEN = \"corp-token\" }\nssh = true",
            ),
        ),
        (
            "fetch ca-bundle",
            append("[fetch]\nca-bundle = { secret = \"corp-ca\" }"),
        ),
        (
            "include patterns",
            append("[project]\nname = \"app\"\ninclude = [\"csrc\", \"./vendor/**/*.h\"]"),
        ),
        (
            "every cargo setting",
            append(
                "[cargo]\nprofile = \"release-lto\"\nfeatures = [\"simd\"]\n\
                 default-features = false\nrustflags = [\"-C\", \"target-cpu=native\"]\n\
                 env = { CC = \"clang\" }",
            ),
        ),
    ]
}

#[test]
fn schema_refuses_what_the_loader_refuses() {
    let validator = validator();
    let no_args = BTreeMap::new();
    for (name, pointer, text) in bad_specs() {
        let file = format!("{name}.toml");
        assert!(
            llb_gen::spec::load(&file, &text, &no_args).is_err(),
            "{name}: the loader accepts this spec, so it is no bad-spec case:\n{text}"
        );
        let instance = to_json(&file, &text);
        let at: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| e.instance_path().to_string())
            .collect();
        assert!(
            at.iter().any(|p| p == pointer),
            "{name}: the schema should object at `{pointer}`, objects at {at:?}:\n{text}"
        );
    }
}

/// The schema is stricter than the loader where the loader lets through a value no build can
/// use (see `llb-gen/src/spec/schema.rs`).
#[test]
fn schema_refuses_what_no_build_can_use() {
    let validator = validator();
    let cases = [
        (
            "uppercase digest (BuildKit reports lowercase, so the lock never matches)",
            "/sdk/digest",
            edit(
                "rustup\"\n",
                &format!("rustup\"\ndigest = \"sha256:{}\"\n", "0A".repeat(32)),
            ),
        ),
        (
            "copy source with two `+`",
            "/target/image/copy/0/from",
            edit("from = \"+build\"", "from = \"++build\""),
        ),
    ];
    for (name, pointer, text) in cases {
        let instance = to_json(name, &text);
        let at: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| e.instance_path().to_string())
            .collect();
        assert!(
            at.iter().any(|p| p == pointer),
            "{name}: the schema should object at `{pointer}`, objects at {at:?}:\n{text}"
        );
    }
}

#[test]
fn schema_accepts_what_the_loader_accepts() {
    let validator = validator();
    let no_args = BTreeMap::new();
    for (name, text) in good_specs() {
        let file = format!("{name}.toml");
        if let Err(e) = llb_gen::spec::load(&file, &text, &no_args) {
            panic!("{name}: the loader refuses this spec ({e}):\n{text}");
        }
        let errors = schema_errors(&validator, &file, &text);
        assert!(
            errors.is_empty(),
            "{name}: the schema refuses a spec the loader accepts:\n{errors}\n{text}"
        );
    }
}
