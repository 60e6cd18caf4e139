//! The corpus: real crates.io projects of different shapes, each built with the smallest spec a
//! user would write, so "does Cachet build real Rust projects?" has an answer measured on real
//! code rather than on fixtures we wrote to suit it.
//!
//! Why these shapes: each one exercises a part of a container build that our own fixtures only
//! imitate — proc-macros next to a static binary, C compiled by `cc`, a `configure && make`
//! build script that needs tools the SDK lacks, assembly, many binaries from one package, a
//! library's example binaries (dev-dependencies vendored too), and a build script that reads a
//! file outside the places Cachet gives a step by default. [`PROJECTS`] says which project
//! stands for which shape and why it was picked.
//!
//! Why fetched at run time and never committed: the sources are other people's code and tens
//! of megabytes with their dependencies; they are a pure function of (crate, version), which
//! [`prepare`] fetches with host cargo (the user's own registry settings) at the pinned
//! version, keeping the `Cargo.lock` the crate was published with. crates.io has no
//! workspaces (a published package is one package), so "several binaries" is one package with
//! many `[[bin]]`s.
//!
//! Why the spec is data rendered to text ([`Project::spec`]): the runner needs the same facts
//! the spec states (the cargo command, flags, artifacts) to run host cargo the same way, and
//! rendering both from one place keeps them from drifting. The rendered text is what a user
//! would write, and the report prints it.
//!
//! [`runner`] builds each project with Cachet (cold, no-op, one-line edit), exports and runs
//! its binaries, and does the same with host cargo; [`report`] turns that into a markdown
//! table and raw JSON. Like the bench suite, it reports and never judges speed.

pub mod prepare;
pub mod report;
pub mod runner;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bench::contenders::{FRONTEND_IMAGE, SDK_IMAGE};

/// The cargo target of every corpus spec: it builds the binaries and names them as artifacts.
pub const BUILD_TARGET: &str = "build";
/// The image target of the specs that ship a scratch image.
pub const IMAGE_TARGET: &str = "image";
/// The file a check's `@DIR@` directory holds, and its contents.
pub const INPUT_FILE: &str = "input.txt";
pub const INPUT_TEXT: &str = "cachet corpus round trip\n";
/// Replaced, in a check's arguments, by a fresh directory holding [`INPUT_FILE`].
pub const DIR_PLACEHOLDER: &str = "@DIR@";

/// What kind of build a project stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// A CLI whose argument parsing is derive macros (clap): proc-macros compiled for the host.
    DeriveCli,
    /// A statically linked binary (`+crt-static`) in a `scratch` image.
    StaticScratch,
    /// C compiled by the `cc` crate in a `-sys` build script.
    CcC,
    /// Assembly compiled by the `cc` crate (ring's pregenerated `.S` files).
    Assembly,
    /// A build script that runs `configure` and `make`, tools the SDK must be given.
    Make,
    /// Several binaries from one package (crates.io has no workspaces).
    ManyBins,
    /// A library's example binaries, which need its dev-dependencies.
    ExampleBins,
    /// A build script that reads a file outside `src/` (it must be listed under `include`).
    BuildRsReadsFiles,
}

impl Shape {
    pub fn label(self) -> &'static str {
        match self {
            Shape::DeriveCli => "derive CLI",
            Shape::StaticScratch => "static on scratch",
            Shape::CcC => "cc C",
            Shape::Assembly => "assembly",
            Shape::Make => "make",
            Shape::ManyBins => "many binaries",
            Shape::ExampleBins => "example binaries",
            Shape::BuildRsReadsFiles => "build.rs reads files",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The spec's project-specific settings; [`Project::spec`] renders them with the shared ones.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// `[project] include`: context paths a build script reads besides the defaults.
    pub include: &'static [&'static str],
    /// `[sdk] packages`: Debian packages the SDK gets in a setup step (tools build scripts run).
    pub sdk_packages: &'static [&'static str],
    /// `[cargo] rustflags`.
    pub rustflags: &'static [&'static str],
    /// `[target.build] cargo`: the cargo subcommand and its arguments.
    pub cargo: &'static [&'static str],
    /// `[target.build] artifacts`: name → path relative to `target/<triple>/<profile>/`.
    pub artifacts: &'static [(&'static str, &'static str)],
    /// A `[target.image]` from `scratch` holding one artifact as its entrypoint.
    pub image: Option<ScratchImage>,
}

/// One artifact copied into a `scratch` image and run as its entrypoint.
#[derive(Clone, Copy, Debug)]
pub struct ScratchImage {
    pub artifact: &'static str,
    /// Absolute path in the image.
    pub path: &'static str,
}

/// How to tell a built binary works: run it, and its output must contain `expect`.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    pub artifact: &'static str,
    /// Arguments; [`DIR_PLACEHOLDER`] becomes a directory holding [`INPUT_FILE`].
    pub args: &'static [&'static str],
    /// Extra environment for the run.
    pub env: &'static [(&'static str, &'static str)],
    /// A fragment of stdout + stderr; the command must also exit 0.
    pub expect: &'static str,
    /// Run inside the exported scratch image's filesystem (`chroot`), proving the binary needs
    /// nothing else; host cargo's binary runs directly.
    pub in_image: bool,
}

/// One real project: what is fetched, the spec, the edit and the checks.
#[derive(Clone, Copy, Debug)]
pub struct Project {
    /// Short name for tables, directories and `--only`.
    pub name: &'static str,
    /// The crates.io package and its pinned version.
    pub krate: &'static str,
    pub version: &'static str,
    pub shapes: &'static [Shape],
    /// Why this project, in a sentence.
    pub why: &'static str,
    pub spec: Spec,
    /// The source file the edit scenario appends a comment line to (package-relative).
    pub edit: &'static str,
    pub checks: &'static [Check],
    /// Part of the `--smoke` subset (CI).
    pub smoke: bool,
}

/// Every project, in table order.
pub const PROJECTS: &[Project] = &[HEXYL, ZSTD, FD, CARGO_BINUTILS, JWT, TOKEI];

const HEXYL: Project = Project {
    name: "hexyl",
    krate: "hexyl",
    version: "0.16.0",
    shapes: &[Shape::DeriveCli, Shape::StaticScratch],
    why: "clap's derive macros are proc-macros, which must be built for the host while the \
          binary links statically (`+crt-static`); the binary then runs on `scratch`. Small \
          (68 crates), so it is the CI smoke project.",
    spec: Spec {
        include: &[],
        sdk_packages: &[],
        rustflags: &["-C", "target-feature=+crt-static"],
        cargo: &["build", "--bin", "hexyl"],
        artifacts: &[("hexyl", "hexyl")],
        image: Some(ScratchImage {
            artifact: "hexyl",
            path: "/usr/local/bin/hexyl",
        }),
    },
    edit: "src/main.rs",
    checks: &[
        Check {
            artifact: "hexyl",
            args: &["--version"],
            env: &[],
            expect: "hexyl 0.16.0",
            in_image: true,
        },
        Check {
            artifact: "hexyl",
            args: &["--color=never", "@DIR@/input.txt"],
            env: &[],
            expect: "63 61 63 68 65 74 20 63",
            in_image: false,
        },
    ],
    smoke: true,
};

const ZSTD: Project = Project {
    name: "zstd",
    krate: "zstd",
    version: "0.13.3",
    shapes: &[Shape::CcC, Shape::ExampleBins],
    why: "zstd-sys compiles libzstd's C sources with `cc`; the binaries are the library's \
          examples, so its dev-dependencies (clap) must be vendored and built too.",
    spec: Spec {
        include: &[],
        sdk_packages: &[],
        rustflags: &[],
        cargo: &["build", "--example", "zstd", "--example", "zstdcat"],
        artifacts: &[("zstd", "examples/zstd"), ("zstdcat", "examples/zstdcat")],
        image: None,
    },
    edit: "src/lib.rs",
    checks: &[
        Check {
            artifact: "zstd",
            args: &["@DIR@/input.txt"],
            env: &[],
            expect: "Compressed",
            in_image: false,
        },
        Check {
            artifact: "zstdcat",
            args: &["@DIR@/input.txt.zst"],
            env: &[],
            expect: INPUT_TEXT,
            in_image: false,
        },
    ],
    smoke: false,
};

const FD: Project = Project {
    name: "fd",
    krate: "fd-find",
    version: "10.2.0",
    shapes: &[Shape::Make, Shape::DeriveCli],
    why: "fd's default features link jemalloc on Linux: jemalloc-sys runs jemalloc's \
          `configure` and `make`, and the SDK has no `make` until the spec asks for it.",
    spec: Spec {
        include: &[],
        sdk_packages: &["make"],
        rustflags: &[],
        cargo: &["build", "--bin", "fd"],
        artifacts: &[("fd", "fd")],
        image: None,
    },
    edit: "src/main.rs",
    checks: &[
        Check {
            artifact: "fd",
            args: &["--version"],
            env: &[],
            expect: "fd 10.2.0",
            in_image: false,
        },
        // jemalloc-sys prefixes its symbols (`_rjem_`), and so its configuration variable:
        // the statistics prove the allocator `make` built is the one linked in.
        Check {
            artifact: "fd",
            args: &["--version"],
            env: &[("_RJEM_MALLOC_CONF", "stats_print:true")],
            expect: "Begin jemalloc statistics",
            in_image: false,
        },
    ],
    smoke: false,
};

const CARGO_BINUTILS: Project = Project {
    name: "cargo-binutils",
    krate: "cargo-binutils",
    version: "0.4.0",
    shapes: &[Shape::ManyBins],
    why: "one package, a library and 20 binaries, all exported as artifacts. (0.3.6, the \
          version first considered, denies warnings, and today's rustc warns on its code.)",
    spec: Spec {
        include: &[],
        sdk_packages: &[],
        rustflags: &[],
        cargo: &["build"],
        artifacts: &[
            ("cargo-cov", "cargo-cov"),
            ("cargo-nm", "cargo-nm"),
            ("cargo-objcopy", "cargo-objcopy"),
            ("cargo-objdump", "cargo-objdump"),
            ("cargo-profdata", "cargo-profdata"),
            ("cargo-readobj", "cargo-readobj"),
            ("cargo-size", "cargo-size"),
            ("cargo-strip", "cargo-strip"),
            ("rust-ar", "rust-ar"),
            ("rust-as", "rust-as"),
            ("rust-cov", "rust-cov"),
            ("rust-ld", "rust-ld"),
            ("rust-lld", "rust-lld"),
            ("rust-nm", "rust-nm"),
            ("rust-objcopy", "rust-objcopy"),
            ("rust-objdump", "rust-objdump"),
            ("rust-profdata", "rust-profdata"),
            ("rust-readobj", "rust-readobj"),
            ("rust-size", "rust-size"),
            ("rust-strip", "rust-strip"),
        ],
        image: None,
    },
    edit: "src/lib.rs",
    checks: &[
        Check {
            artifact: "cargo-size",
            args: &["--version"],
            env: &[],
            expect: "cargo-size 0.4.0",
            in_image: false,
        },
        Check {
            artifact: "cargo-objdump",
            args: &["--version"],
            env: &[],
            expect: "cargo-objdump 0.4.0",
            in_image: false,
        },
    ],
    smoke: false,
};

const JWT: Project = Project {
    name: "jwt",
    krate: "jwt-cli",
    version: "6.2.0",
    shapes: &[Shape::Assembly, Shape::CcC, Shape::DeriveCli],
    why: "jsonwebtoken signs with ring 0.17, whose build script compiles C and pregenerated \
          x86_64 assembly with `cc`; the check signs a token (HMAC-SHA256 in ring).",
    spec: Spec {
        include: &[],
        sdk_packages: &[],
        rustflags: &[],
        cargo: &["build", "--bin", "jwt"],
        artifacts: &[("jwt", "jwt")],
        image: None,
    },
    edit: "src/main.rs",
    checks: &[Check {
        artifact: "jwt",
        args: &[
            "encode",
            "--no-iat",
            "--secret=cachet",
            r#"{"corpus":true}"#,
        ],
        env: &[],
        expect: "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJjb3JwdXMiOnRydWV9.\
                 lJLRL3Pj6ku7KVz1eJAuqUI-2lBb4DucRXkBx6KNqIs",
        in_image: false,
    }],
    smoke: false,
};

const TOKEI: Project = Project {
    name: "tokei",
    krate: "tokei",
    version: "12.1.2",
    shapes: &[Shape::BuildRsReadsFiles],
    why: "its build script reads `languages.json` at the package root and renders Rust code \
          from it; that file is outside what a step sees by default, so the spec lists it.",
    spec: Spec {
        include: &["languages.json"],
        sdk_packages: &[],
        rustflags: &[],
        cargo: &["build", "--bin", "tokei"],
        artifacts: &[("tokei", "tokei")],
        image: None,
    },
    edit: "src/main.rs",
    checks: &[
        Check {
            artifact: "tokei",
            args: &["--version"],
            env: &[],
            expect: "tokei 12.1.2",
            in_image: false,
        },
        // The language list is generated by build.rs from languages.json.
        Check {
            artifact: "tokei",
            args: &["--languages"],
            env: &[],
            expect: "ABNF",
            in_image: false,
        },
    ],
    smoke: false,
};

/// The `--smoke` subset (CI).
pub fn smoke() -> Vec<&'static Project> {
    PROJECTS.iter().filter(|p| p.smoke).collect()
}

/// The project called `name`.
pub fn find(name: &str) -> Option<&'static Project> {
    PROJECTS.iter().find(|p| p.name == name)
}

impl Project {
    /// `<name>-<version>`: the prepared tree's directory name.
    pub fn slot(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// The `Cachet.toml` a user would write for this project, named `project_name`.
    pub fn spec(&self, project_name: &str) -> String {
        let spec = &self.spec;
        let mut out = format!("# syntax={FRONTEND_IMAGE}\n[project]\nname = \"{project_name}\"\n");
        if !spec.include.is_empty() {
            out.push_str(&format!("include = {}\n", toml_list(spec.include)));
        }
        out.push_str(&format!("\n[sdk]\nimage = \"{SDK_IMAGE}\"\n"));
        if !spec.sdk_packages.is_empty() {
            out.push_str(&format!("packages = {}\n", toml_list(spec.sdk_packages)));
        }
        if !spec.rustflags.is_empty() {
            out.push_str(&format!(
                "\n[cargo]\nrustflags = {}\n",
                toml_list(spec.rustflags)
            ));
        }
        out.push('\n');
        out.push_str(&ca::spec_section());
        out.push_str(&format!(
            "\n[target.{BUILD_TARGET}]\ncargo = {}\nartifacts = {{ {} }}\n",
            toml_list(spec.cargo),
            spec.artifacts
                .iter()
                .map(|(name, path)| format!("{name} = {}", toml_string(path)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(image) = spec.image {
            out.push_str(&format!(
                "\n[target.{IMAGE_TARGET}]\nfrom = \"scratch\"\n\
                 copy = [{{ from = \"+{BUILD_TARGET}\", artifact = \"{}\", to = \"{}\" }}]\n\
                 entrypoint = [\"{}\"]\n",
                image.artifact, image.path, image.path
            ));
        }
        out
    }

    /// The artifact's path relative to cargo's `target/<triple>/<profile>/`.
    pub fn artifact_path(&self, artifact: &str) -> Option<&'static str> {
        self.spec
            .artifacts
            .iter()
            .find(|(name, _)| *name == artifact)
            .map(|(_, path)| *path)
    }
}

fn toml_string(text: &str) -> String {
    format!("{text:?}")
}

fn toml_list(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|item| toml_string(item)).collect();
    format!("[{}]", items.join(", "))
}

/// The extra CA bundle the fetch step trusts, in one place: the spec line and the build
/// argument.
///
/// Why: where outbound HTTPS goes through a TLS-intercepting proxy, the proxy's CA is in the
/// host's store but not in the SDK image, and `cargo vendor` in the fetch step fails with
/// "self-signed certificate in certificate chain". Every corpus spec carries `[fetch]
/// ca-bundle`, which is optional at build time: without the secret the fetch step trusts the
/// SDK's certificates only, so the same spec builds where nothing intercepts.
pub mod ca {
    use super::*;

    /// The BuildKit secret id the specs name.
    pub const SECRET_ID: &str = "cachet-ca";
    /// The host's CA store (Debian's), used unless `CACHET_CORPUS_CA_BUNDLE` says otherwise.
    pub const DEFAULT_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

    /// The spec's `[fetch]` table.
    pub fn spec_section() -> String {
        format!("[fetch]\nca-bundle = {{ secret = \"{SECRET_ID}\" }}\n")
    }

    /// The PEM file passed as the secret: `CACHET_CORPUS_CA_BUNDLE`, else [`DEFAULT_BUNDLE`];
    /// `None` if it does not exist (the build then trusts the SDK's certificates only).
    pub fn bundle() -> Option<PathBuf> {
        let path = std::env::var_os("CACHET_CORPUS_CA_BUNDLE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_BUNDLE));
        path.is_file().then_some(path)
    }

    /// `--secret id=…,src=…` for every corpus build (nothing without a bundle).
    pub fn build_args() -> Vec<OsString> {
        bundle().map(|path| secret_args(&path)).unwrap_or_default()
    }

    pub(super) fn secret_args(path: &Path) -> Vec<OsString> {
        let mut value = OsString::from(format!("id={SECRET_ID},src="));
        value.push(path);
        vec![OsString::from("--secret"), value]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_project_has_a_check_per_artifact_it_names() {
        let mut names: Vec<&str> = PROJECTS.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PROJECTS.len());
        for project in PROJECTS {
            assert!(!project.checks.is_empty(), "{}", project.name);
            for check in project.checks {
                assert!(
                    project.artifact_path(check.artifact).is_some(),
                    "{}: check runs unknown artifact {}",
                    project.name,
                    check.artifact
                );
                if check.in_image {
                    let image = project.spec.image.expect("in-image checks need an image");
                    assert_eq!(image.artifact, check.artifact, "{}", project.name);
                    assert!(
                        !check.args.iter().any(|a| a.contains(DIR_PLACEHOLDER)),
                        "{}: the image has no input directory",
                        project.name
                    );
                }
            }
        }
        assert!(!smoke().is_empty());
        assert_eq!(find("hexyl").map(|p| p.krate), Some("hexyl"));
    }

    #[test]
    fn every_shape_the_issue_asks_for_is_covered() {
        for shape in [
            Shape::DeriveCli,
            Shape::StaticScratch,
            Shape::CcC,
            Shape::Assembly,
            Shape::Make,
            Shape::ManyBins,
            Shape::BuildRsReadsFiles,
        ] {
            assert!(
                PROJECTS.iter().any(|p| p.shapes.contains(&shape)),
                "no project stands for {shape}"
            );
        }
        assert!(PROJECTS.len() >= 5);
    }

    #[test]
    fn the_hexyl_spec_is_the_smallest_static_scratch_spec() {
        assert_eq!(
            find("hexyl").unwrap().spec("hexyl"),
            r#"# syntax=cachet/frontend:dev
[project]
name = "hexyl"

[sdk]
image = "cachet-sdk:rustup"

[cargo]
rustflags = ["-C", "target-feature=+crt-static"]

[fetch]
ca-bundle = { secret = "cachet-ca" }

[target.build]
cargo = ["build", "--bin", "hexyl"]
artifacts = { hexyl = "hexyl" }

[target.image]
from = "scratch"
copy = [{ from = "+build", artifact = "hexyl", to = "/usr/local/bin/hexyl" }]
entrypoint = ["/usr/local/bin/hexyl"]
"#
        );
    }

    #[test]
    fn include_and_sdk_packages_are_rendered_where_they_belong() {
        let tokei = find("tokei").unwrap().spec("t");
        assert!(
            tokei.contains("name = \"t\"\ninclude = [\"languages.json\"]\n"),
            "{tokei}"
        );
        let fd = find("fd").unwrap().spec("f");
        assert!(
            fd.contains("image = \"cachet-sdk:rustup\"\npackages = [\"make\"]\n"),
            "{fd}"
        );
        assert!(!fd.contains("[cargo]"), "{fd}");
        let zstd = find("zstd").unwrap().spec("z");
        assert!(
            zstd.contains(
                "artifacts = { zstd = \"examples/zstd\", zstdcat = \"examples/zstdcat\" }"
            ),
            "{zstd}"
        );
    }

    #[test]
    fn the_ca_secret_matches_the_spec() {
        let args = ca::secret_args(Path::new("/x/ca.pem"));
        assert_eq!(args, ["--secret", "id=cachet-ca,src=/x/ca.pem"]);
        assert!(ca::spec_section().contains(&format!("secret = \"{}\"", ca::SECRET_ID)));
    }
}
