//! A project that vendors its third-party crates itself (`.cargo/config.toml` replaces
//! crates.io with `vendor/`): one vendored crate has a build script watching its own file
//! (`rerun-if-changed=build.rs`), as libc, serde and many more do; another is a derive macro, as
//! serde_derive is; the workspace library uses a derive macro of the workspace's own.

use std::time::Duration;

use super::sources::derive_crate;
use super::{write_spec, APP, LIB};
use crate::registry::sha256_hex;
use crate::{fixtures, process, TempProject};

/// The vendored crate (with a build script).
pub const VENDORED: &str = "cachet-vendored-ci";
/// Its vendored derive macro (a proc-macro: host code).
pub const VENDORED_DERIVE: &str = "cachet-vendored-derive";
/// The workspace's own derive macro, which the workspace library uses.
pub const LIB_DERIVE: &str = "greeting-derive";
/// Limit for `cargo generate-lockfile --offline`.
const LOCKFILE_TIMEOUT: Duration = Duration::from_secs(180);

/// The project and what its vendored crate's build script bakes into it.
pub struct VendoredApp {
    pub project: TempProject,
    /// What the vendored crate's `line()` returns (set by its build script).
    vendored_line: String,
}

impl VendoredApp {
    /// The project with `main` printing the marker `first`, its spec (`[project] name`
    /// `<label>-<nonce>`) and its lockfile.
    pub fn new(label: &str) -> VendoredApp {
        let project = TempProject::new(label);
        let vendored_line = format!(
            "{VENDORED} built by its build script ({})",
            fixtures::nonce()
        );
        project.write(
            "Cargo.toml",
            format!(
                "[package]\nname = \"{APP}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\n{VENDORED} = \"1\"\n{VENDORED_DERIVE} = \"1\"\n\
                 {LIB} = {{ path = \"{LIB}\" }}\n\n\
                 [workspace]\nmembers = [\"{LIB}\", \"{LIB_DERIVE}\"]\n"
            ),
        );
        project.write(
            format!("{LIB}/Cargo.toml"),
            format!(
                "[package]\nname = \"{LIB}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\n{LIB_DERIVE} = {{ path = \"../{LIB_DERIVE}\" }}\n"
            ),
        );
        project.write(
            format!("{LIB}/src/lib.rs"),
            format!(
                "#[derive({}::Workspace)]\nstruct Greeting;\n\n\
                 pub fn greet() -> String {{\n    \
                 format!(\"greeting from the workspace, {{}}\", Greeting::workspace())\n}}\n",
                LIB_DERIVE.replace('-', "_")
            ),
        );
        for (path, text) in derive_crate(LIB_DERIVE, "Workspace", "workspace", "derived there") {
            project.write(format!("{LIB_DERIVE}/{path}"), text);
        }
        let derive_dir = format!("vendor/{VENDORED_DERIVE}");
        for (path, text) in derive_crate(VENDORED_DERIVE, "Vendored", "vendored", VENDORED_DERIVE) {
            project.write(format!("{derive_dir}/{path}"), text);
        }
        project.write(
            format!("{derive_dir}/.cargo-checksum.json"),
            format!(
                "{{\"files\":{{}},\"package\":\"{}\"}}",
                sha256_hex(format!("{VENDORED_DERIVE} {}", fixtures::nonce()).as_bytes())
            ),
        );
        let dir = format!("vendor/{VENDORED}");
        project.write(
            format!("{dir}/Cargo.toml"),
            format!("[package]\nname = \"{VENDORED}\"\nversion = \"1.0.0\"\nedition = \"2021\"\n"),
        );
        project.write(
            format!("{dir}/build.rs"),
            format!(
                "fn main() {{\n    println!(\"cargo:rerun-if-changed=build.rs\");\n    \
                 println!(\"cargo:rustc-env=CACHET_VENDORED_LINE={vendored_line}\");\n}}\n"
            ),
        );
        project.write(
            format!("{dir}/src/lib.rs"),
            "pub fn line() -> &'static str {\n    env!(\"CACHET_VENDORED_LINE\")\n}\n",
        );
        // Cargo compares the lockfile's checksum with this one and, with no files listed, checks
        // nothing else.
        let checksum = sha256_hex(vendored_line.as_bytes());
        project.write(
            format!("{dir}/.cargo-checksum.json"),
            format!("{{\"files\":{{}},\"package\":\"{checksum}\"}}"),
        );
        project.write(
            ".cargo/config.toml",
            "[source.crates-io]\nreplace-with = \"vendored-sources\"\n\n\
             [source.vendored-sources]\ndirectory = \"vendor\"\n",
        );
        project.write(".dockerignore", "target/\n");
        let app = VendoredApp {
            project,
            vendored_line,
        };
        app.edit("first");
        let project = &app.project;
        write_spec(project, &format!("{label}-{}", fixtures::nonce()), &[]);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut lock = std::process::Command::new(cargo);
        lock.current_dir(project.path())
            .args(["generate-lockfile", "--offline"])
            .env("CARGO_TERM_COLOR", "never");
        process::run(&mut lock, LOCKFILE_TIMEOUT).assert_success();
        app
    }

    /// Rewrite `src/main.rs` to print `marker` after the crates' lines.
    pub fn edit(&self, marker: &str) {
        self.project.write(
        "src/main.rs",
        format!(
            "#[derive({derive}::Vendored)]\nstruct Marker;\n\n\
             fn main() {{\n    println!(\n        \"{{}} | {{}} | {{}} | {marker}\",\n        \
             {vendored}::line(),\n        {LIB}::greet(),\n        Marker::vendored()\n    );\n}}\n",
            vendored = VENDORED.replace('-', "_"),
            derive = VENDORED_DERIVE.replace('-', "_"),
        ),
    );
    }

    /// The line the binary built from the current sources prints, `marker` being the last edit.
    pub fn expected(&self, marker: &str) -> String {
        format!(
            "{} | greeting from the workspace, derived there | {VENDORED_DERIVE} \
         | {marker}",
            self.vendored_line
        )
    }
}
