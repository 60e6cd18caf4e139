//! Small projects the tests build.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::TempProject;

/// The repository root (for examples/ and scripts/).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A token that differs on every call, to force a cache miss where a test
/// must really build (e.g. in the line a binary prints).
pub fn nonce() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id(), nanos)
}

/// Write a dependency-free binary crate `bin` whose `main` prints `line`.
/// Standalone (its own `[workspace]`), so cargo never looks further up.
pub fn hello_crate(project: &TempProject, bin: &str, line: &str) {
    project.write(
        "Cargo.toml",
        format!(
            "[package]\nname = \"{bin}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\n\n[workspace]\n"
        ),
    );
    project.write(
        "src/main.rs",
        format!("fn main() {{\n    println!(\"{{}}\", {line:?});\n}}\n"),
    );
    project.write(".dockerignore", "target/\n");
}

/// A plain multi-stage Dockerfile: `cargo build --release --offline` on
/// `sdk_image`, then only the static binary in a `scratch` image (so
/// `--load` moves kilobytes, not the SDK).
pub fn plain_dockerfile(sdk_image: &str, bin: &str) -> String {
    format!(
        r#"FROM {sdk_image} AS build
WORKDIR /src
COPY Cargo.toml ./
COPY src ./src
RUN triple="$(uname -m)-unknown-linux-gnu" \
 && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --offline --target "$triple" \
 && cp "target/$triple/release/{bin}" /{bin}

FROM scratch
COPY --from=build /{bin} /{bin}
ENTRYPOINT ["/{bin}"]
"#
    )
}
