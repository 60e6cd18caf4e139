//! The project of the CI cache tests (`tests/ci_cache.rs`): a binary `app` that prints a line
//! from a registry crate (`cachet-dep-ci`, published to a local [`Registry`]), a line from a
//! workspace library (`greeting`, a path dependency), a marker edited between builds and whether
//! the registry crate was compiled with POPCNT (the x86-64 level); and ([`vendored`]) a project
//! that vendors its crates itself. Every project has a `[project] name` and sources of its own
//! (BuildKit keys execs without cache mount ids, so identical inputs would be served across
//! projects).

mod sources;
pub mod vendored;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::registry::Registry;
use crate::{fixtures, Build, Engine, TempProject};
use sources::dep_source;

/// The registry crate, as cargo names it in `Compiling …` lines.
pub const DEP: &str = "cachet-dep-ci";
/// The workspace's path-dependency library.
pub const LIB: &str = "greeting";
/// The binary.
pub const APP: &str = "app";
/// Limit for one build (the slowest here compiles two small crates and pulls the SDK).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// How `app` declares its binary.
#[derive(Clone, Copy, Debug)]
pub enum BinLayout {
    /// `[[bin]] name = "app" path = "src/main.rs"` in the manifest.
    Declared,
    /// Just `src/main.rs`, found by cargo's target auto-discovery (the most common layout).
    Discovered,
}

/// One test's project and the crate registry it resolves against.
pub struct App {
    /// `None` once stopped.
    registry: Option<Registry>,
    pub project: TempProject,
    /// What the registry crate's `line()` returns.
    dep_line: String,
    /// What `greeting::greet()` returns.
    greeting: String,
    /// The marker `main` prints; changes with every edit.
    marker: String,
}

impl App {
    /// A registry with `cachet-dep-ci 1.0.0` and a project using it through a crates.io
    /// replacement, lockfile generated; `[project] name` is `<label>-<nonce>`.
    pub fn new(label: &str, layout: BinLayout) -> App {
        let registry = Registry::start(label);
        let dep_line = format!("{DEP} 1.0.0 ({})", fixtures::nonce());
        registry.publish(DEP, "1.0.0", &dep_source(&dep_line));
        let project = TempProject::new(label);
        let bin = match layout {
            BinLayout::Declared => format!("[[bin]]\nname = \"{APP}\"\npath = \"src/main.rs\"\n\n"),
            BinLayout::Discovered => String::new(),
        };
        project.write(
            "Cargo.toml",
            format!(
                "[package]\nname = \"{APP}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 {bin}[dependencies]\n{DEP} = \"1.0.0\"\n{LIB} = {{ path = \"{LIB}\" }}\n\n\
                 [workspace]\nmembers = [\"{LIB}\"]\n"
            ),
        );
        project.write(
            format!("{LIB}/Cargo.toml"),
            format!(
                "[package]\nname = \"{LIB}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\n"
            ),
        );
        let greeting = format!("{LIB} says hi ({})", fixtures::nonce());
        project.write(
            format!("{LIB}/src/lib.rs"),
            format!("pub fn greet() -> String {{\n    {greeting:?}.to_string()\n}}\n"),
        );
        project.write(".dockerignore", "target/\n");
        write_spec(&project, &format!("{label}-{}", fixtures::nonce()), &[]);
        let mut app = App {
            registry: None,
            project,
            dep_line,
            greeting,
            marker: String::new(),
        };
        app.edit("first");
        registry.replace_crates_io(&app.project);
        registry.generate_lockfile(&app.project);
        let lock = std::fs::read_to_string(app.project.path().join("Cargo.lock")).unwrap();
        assert!(
            lock.contains(&format!("name = \"{DEP}\"\nversion = \"1.0.0\"")),
            "the lockfile pins {DEP} 1.0.0:\n{lock}"
        );
        app.registry = Some(registry);
        app
    }

    /// Rewrite `src/main.rs` to print a new, nonce'd marker.
    pub fn edit(&mut self, what: &str) {
        self.marker = format!("{what} {}", fixtures::nonce());
        self.project.write(
            "src/main.rs",
            format!(
                "fn main() {{\n    println!(\n        \"{{}} | {{}} | {{}} | {{}}\",\n        \
                 {dep}::line(),\n        {LIB}::greet(),\n        {:?},\n        {dep}::level()\n    );\n}}\n",
                self.marker,
                dep = DEP.replace('-', "_"),
            ),
        );
    }

    /// The line the binary built from the current sources for `linux/amd64` prints.
    pub fn expected(&self) -> String {
        self.expected_on("linux/amd64")
    }

    /// The line the binary built from the current sources for `platform` prints: the x86-64
    /// level is the registry crate's `level()`, so it says what the crate was compiled for.
    pub fn expected_on(&self, platform: &str) -> String {
        let level = match platform {
            "linux/amd64" => "no popcnt",
            _ => "popcnt",
        };
        format!(
            "{} | {} | {} | {level}",
            self.dep_line, self.greeting, self.marker
        )
    }

    /// The same sources under another `[project] name`, as a new directory. `note` lands in
    /// `NOTES.txt`, which the spec lists in `[project] include`: the cargo step's sources then
    /// differ from this project's by a file cargo never reads, so BuildKit (which keys execs
    /// without their cache mount ids) cannot serve the copy's cargo step from this project's.
    pub fn copy(&self, label: &str, note: Option<&str>) -> TempProject {
        let copy = TempProject::new(label);
        copy.copy_from(self.project.path());
        let name = format!("{label}-{}", fixtures::nonce());
        match note {
            Some(note) => {
                copy.write("NOTES.txt", note);
                write_spec(&copy, &name, &["NOTES.txt"]);
            }
            None => write_spec(&copy, &name, &[]),
        }
        copy
    }

    pub fn stop_registry(&mut self) {
        drop(self.registry.take());
    }
}

/// `Cachet.toml`: `build` compiles `app` (artifact `app`), `image` is a scratch image with it.
pub fn write_spec(project: &TempProject, name: &str, include: &[&str]) {
    let include = if include.is_empty() {
        String::new()
    } else {
        format!("include = {include:?}\n")
    };
    project.write(
        "Cachet.toml",
        format!(
            "# syntax=cachet/frontend:dev\n\
             [project]\nname = \"{name}\"\n{include}\n\
             [sdk]\nimage = \"cachet-sdk:rustup\"\n\n\
             [args]\nLAYERS = \"auto\"\n\n[cache]\nlayers = \"${{LAYERS}}\"\n\n\
             [cargo]\nrustflags = [\"-C\", \"target-feature=+crt-static\"]\n\n\
             [target.build]\ncargo = [\"build\", \"--bin\", \"{APP}\"]\nartifacts = {{ {APP} = \"{APP}\" }}\n\n\
             [target.image]\nfrom = \"scratch\"\n\
             copy = [{{ from = \"+build\", artifact = \"{APP}\", to = \"/usr/local/bin/{APP}\" }}]\n\
             entrypoint = [\"/usr/local/bin/{APP}\"]\n"
        ),
    );
}

/// A build of `project`'s `Cachet.toml` on `engine`, within [`BUILD_TIMEOUT`].
pub fn build(engine: Engine, project: &Path) -> Build {
    engine
        .build(project)
        .file(project.join("Cachet.toml"))
        .timeout(BUILD_TIMEOUT)
}

/// A local build (no `--cache-from`, no inline cache) that still gets its dependency layers:
/// `[cache] layers = "always"` through the spec's declared `LAYERS` arg. The layers' own
/// behaviour (seeding, what they hold) is what these tests check; a travelling build plans them
/// under the default `auto`, which the round-trip tests use.
pub fn layered_build(engine: Engine, project: &Path) -> Build {
    build(engine, project).build_arg("LAYERS", "always")
}

/// Files of an exported dependency layer (paths relative to its target directory) that were
/// built for the workspace crates `stand_ins` (by package or crate name), or that the layer
/// must not carry at all: incremental state, examples, Cachet's files other than the freshness
/// manifest. Both profile directories count: `<triple>/release/` (target code) and `release/`
/// (host code: build scripts, proc-macros).
pub fn stand_in_leaks<'f>(files: &'f BTreeSet<String>, stand_ins: &[&str]) -> Vec<&'f String> {
    let names: Vec<String> = stand_ins
        .iter()
        .flat_map(|c| [c.to_string(), c.replace('-', "_")])
        .collect();
    files
        .iter()
        .filter(|f| {
            let parts: Vec<&str> = f.split('/').collect();
            let name = parts.last().copied().unwrap_or_default();
            names.iter().any(|c| {
                name == c
                    || name.starts_with(&format!("{c}-"))
                    || name.starts_with(&format!("{c}."))
                    || name.starts_with(&format!("lib{c}-"))
                    || name.starts_with(&format!("lib{c}."))
                    || f.contains(&format!("/{c}-"))
            }) || parts
                .windows(2)
                .any(|w| w[0] == "release" && (w[1] == "incremental" || w[1] == "examples"))
                // The freshness manifest (cachet-helper's `freshness-v2`) belongs in the layer;
                // nothing else of Cachet's.
                || (f.starts_with(".cachet") && *f != ".cachet/freshness-v2")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_in_leaks_name_workspace_artifacts_and_stray_state() {
        let files: BTreeSet<String> = [
            "x86_64-unknown-linux-gnu/release/deps/libapp-0123.rlib",
            "x86_64-unknown-linux-gnu/release/deps/libcachet_dep_ci-4567.rlib",
            "x86_64-unknown-linux-gnu/release/.fingerprint/greeting-89ab/lib-greeting",
            "release/deps/libgreeting_derive-cdef.so",
            "release/build/cachet-dep-ci-0000/output",
            "x86_64-unknown-linux-gnu/release/incremental/x/y",
            ".cachet/freshness-v2",
            ".cachet/stand-ins",
        ]
        .map(String::from)
        .into();
        let leaks: Vec<&str> = stand_in_leaks(&files, &[APP, LIB, "greeting-derive"])
            .into_iter()
            .map(String::as_str)
            .collect();
        assert_eq!(
            leaks,
            [
                ".cachet/stand-ins",
                "release/deps/libgreeting_derive-cdef.so",
                "x86_64-unknown-linux-gnu/release/.fingerprint/greeting-89ab/lib-greeting",
                "x86_64-unknown-linux-gnu/release/deps/libapp-0123.rlib",
                "x86_64-unknown-linux-gnu/release/incremental/x/y",
            ]
        );
    }

    #[test]
    fn the_vendored_project_locks_its_vendored_crates_offline() {
        let app = vendored::VendoredApp::new("unit-ci-vendored");
        let lock = std::fs::read_to_string(app.project.path().join("Cargo.lock")).unwrap();
        for krate in [vendored::VENDORED, vendored::VENDORED_DERIVE] {
            assert!(
                lock.contains(&format!("name = \"{krate}\"\nversion = \"1.0.0\"")),
                "{lock}"
            );
        }
        let main = std::fs::read_to_string(app.project.path().join("src/main.rs")).unwrap();
        assert!(main.contains("| first\""), "{main}");
        assert!(app.expected("first").ends_with(" | first"));
    }
}
