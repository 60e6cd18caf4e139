//! The `entries` group: every kind of filesystem entry cargo or a build script can observe,
//! under clamped timestamps (files *and* directories, as a checkout that clamps every entry).
//!
//! The fixture's `facts` grows three observers:
//! - `src/current.txt`, a symlink to a file, and `src/flavor`, a symlink to a directory, both
//!   read with `include_str!` (rustc's dep-info names the link path; cargo `stat`s through it);
//! - `csrc/data/`, a directory its build script watches with `rerun-if-changed=csrc/data`
//!   and lists recursively into the binary (names, with a backslash and a tab among them, and
//!   contents).
//!
//! And it depends on `tiny`, a crate the project vendors itself (a directory source) whose
//! `.cargo-checksum.json` lists no files: cargo never re-checks them, so an in-place edit needs
//! Cachet's freshness pass to drop tiny's fingerprints.
//!
//! Each case changes one entry in a way that leaves every mtime old; the rebuild must print
//! what a clean build prints. The last case makes the build script watch a file outside the
//! step's snapshot, which must fail the build (the message is checked in
//! `tests/correctness.rs`).

use super::cases::{Case, Group, Perturb};
use super::fixture::State;
use super::Expect;

const BUILD_RS: &str = "crates/facts/build.rs";
const MAIN_RS: &str = "crates/facts/src/main.rs";
const DATA: &str = "crates/facts/csrc/data";
const FILE_LINK: &str = "crates/facts/src/current.txt";
const DIR_LINK: &str = "crates/facts/src/flavor";
/// The file the last case watches: in the context, outside every snapshot.
pub const OUTSIDE: &str = "shared/fact.txt";

/// What the build script gains: it lists `csrc/data` into `FACTS_ENTRIES`.
const ENTRIES_FN: &str = r#"
/// `"name"=content` of every file under csrc/data, sorted, `;`-separated (names in Debug form,
/// so a tab or a backslash stays on one line).
fn entries() -> String {
    let mut found = Vec::new();
    collect(std::path::Path::new("csrc/data"), "", &mut found);
    found.sort();
    found.join(";")
}

fn collect(dir: &std::path::Path, prefix: &str, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("csrc/data is there") {
        let entry = entry.expect("a directory entry");
        let rel = format!("{}{}", prefix, entry.file_name().to_string_lossy());
        let path = entry.path();
        if path.is_dir() {
            collect(&path, &format!("{}/", rel), found);
        } else {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            found.push(format!("{:?}={}", rel, text.trim()));
        }
    }
}
"#;

fn data(name: &str) -> String {
    format!("{DATA}/{name}")
}

/// Adds the observers and their first contents, and clamps every entry.
fn setup(s: &mut State, _: &mut super::Setup) -> Result<(), String> {
    s.clamp = Some(super::cases::clamped_time());
    s.clamp_dirs = true;
    s.edit(
        BUILD_RS,
        "    println!(\"cargo:rerun-if-changed=build.rs\");\n",
        "    println!(\"cargo:rerun-if-changed=build.rs\");\n    \
         println!(\"cargo:rerun-if-changed=csrc/data\");\n    \
         println!(\"cargo:rustc-env=FACTS_ENTRIES={}\", entries());\n",
    );
    let build_rs = format!("{}{ENTRIES_FN}", s.file(BUILD_RS));
    s.files.insert(BUILD_RS.into(), build_rs);
    s.edit(
        MAIN_RS,
        "fn main() {\n",
        "fn main() {\n    println!(\"entries={}\", env!(\"FACTS_ENTRIES\"));\n    \
         println!(\"current={}\", include_str!(\"current.txt\").trim());\n    \
         println!(\"flavor={}\", include_str!(\"flavor/name.txt\").trim());\n",
    );
    let mut put = |path: String, text: &str| {
        s.files.insert(path, format!("{text}\n"));
    };
    put("crates/facts/src/one.txt".into(), "one");
    put("crates/facts/src/two.txt".into(), "two");
    put("crates/facts/src/flavors/a/name.txt".into(), "flavor a");
    put("crates/facts/src/flavors/b/name.txt".into(), "flavor b");
    put(data("first.txt"), "first");
    put(data("second.txt"), "second");
    put(data("nested/deep/leaf.txt"), "leaf one");
    put(data("back\\slash.txt"), "backslash one");
    put(data("tab\there.txt"), "tab one");
    put(OUTSIDE.into(), "outside one");
    s.symlinks.insert(FILE_LINK.into(), "one.txt".into());
    s.symlinks.insert(DIR_LINK.into(), "flavors/a".into());
    vendor_tiny(s);
    vendor_listed(s);
    Ok(())
}

const LISTED_LIB: &str = "vendor/listed/src/lib.rs";
const LISTED_MANIFEST: &str =
    "[package]\nname = \"listed\"\nversion = \"0.1.0\"\nedition = \"2018\"\n";

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `listed`'s `.cargo-checksum.json` for its current files, as `cargo vendor` writes it: every
/// file listed with its sha256 (cargo checks each one on every build).
fn listed_checksums(s: &mut State) {
    let files = format!(
        "{{\"Cargo.toml\":\"{}\",\"src/lib.rs\":\"{}\"}}",
        sha256_hex(LISTED_MANIFEST),
        sha256_hex(s.file(LISTED_LIB))
    );
    s.files.insert(
        "vendor/listed/.cargo-checksum.json".into(),
        format!("{{\"files\":{files},\"package\":\"{LISTED_CHECKSUM}\"}}"),
    );
}

const LISTED_CHECKSUM: &str = "1f3e1f3f54bd1c7a4a0a5e7b2e3f7c6a1d8d5c9b0a4e6f2b3c1d7e8f9a0b1c2d";

/// A second vendored crate, whose checksum file lists its files: it reaches the builder through
/// the incremental transfer of vendored crates (see `llb-gen/src/compile/vendored.rs`), and
/// `facts` prints its line.
fn vendor_listed(s: &mut State) {
    s.files
        .insert("vendor/listed/Cargo.toml".into(), LISTED_MANIFEST.into());
    s.files.insert(
        LISTED_LIB.into(),
        "pub fn line() -> &'static str {\n    \"listed one\"\n}\n".into(),
    );
    listed_checksums(s);
    s.edit(
        "crates/facts/Cargo.toml",
        "tiny = \"0.1\"\n",
        "tiny = \"0.1\"\nlisted = \"0.1\"\n",
    );
    s.edit(
        "Cargo.lock",
        "dependencies = [\n \"factlib\",\n \"tiny\",\n]\n",
        "dependencies = [\n \"factlib\",\n \"listed\",\n \"tiny\",\n]\n",
    );
    let lock = s.file("Cargo.lock").replace(
        "[[package]]\nname = \"tiny\"",
        &format!(
            "[[package]]\nname = \"listed\"\nversion = \"0.1.0\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
             checksum = \"{LISTED_CHECKSUM}\"\n\n[[package]]\nname = \"tiny\""
        ),
    );
    s.files.insert("Cargo.lock".into(), lock);
    s.edit(
        MAIN_RS,
        "fn main() {\n",
        "fn main() {\n    println!(\"listed={}\", listed::line());\n",
    );
}

/// A crate the project vendors itself (a directory source replacing crates.io) whose
/// `.cargo-checksum.json` lists no files, so cargo never looks at them: `facts` prints its line.
pub(super) fn vendor_tiny(s: &mut State) {
    const CHECKSUM: &str = "0f3e1f3f54bd1c7a4a0a5e7b2e3f7c6a1d8d5c9b0a4e6f2b3c1d7e8f9a0b1c2d";
    let config = format!(
        "{}\n[source.crates-io]\nreplace-with = \"vendored\"\n\n[source.vendored]\n\
         directory = \"vendor\"\n",
        s.file(".cargo/config.toml")
    );
    s.files.insert(".cargo/config.toml".into(), config);
    s.files.insert(
        "vendor/tiny/Cargo.toml".into(),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2018\"\n".into(),
    );
    s.files.insert(
        TINY_LIB.into(),
        "pub fn line() -> &'static str {\n    \"tiny one\"\n}\n".into(),
    );
    s.files.insert(
        "vendor/tiny/.cargo-checksum.json".into(),
        format!("{{\"files\":{{}},\"package\":\"{CHECKSUM}\"}}"),
    );
    s.edit(
        "crates/facts/Cargo.toml",
        "factlib = { path = \"../factlib\" }\n",
        "factlib = { path = \"../factlib\" }\ntiny = \"0.1\"\n",
    );
    s.edit(
        "Cargo.lock",
        "dependencies = [\n \"factlib\",\n]\n",
        "dependencies = [\n \"factlib\",\n \"tiny\",\n]\n",
    );
    let lock = format!(
        "{}\n[[package]]\nname = \"tiny\"\nversion = \"0.1.0\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
         checksum = \"{CHECKSUM}\"\n",
        s.file("Cargo.lock")
    );
    s.files.insert("Cargo.lock".into(), lock);
    s.edit(
        MAIN_RS,
        "fn main() {\n",
        "fn main() {\n    println!(\"tiny={}\", tiny::line());\n",
    );
}

const TINY_LIB: &str = "vendor/tiny/src/lib.rs";

/// The vendored `tiny` replaced by version 0.1.1, whose line says so (manifest, source and
/// lockfile change; the package checksum stays, as both the lockfile and
/// `.cargo-checksum.json` name it).
pub(super) fn bump_tiny(s: &mut State) {
    s.edit(
        "vendor/tiny/Cargo.toml",
        "version = \"0.1.0\"",
        "version = \"0.1.1\"",
    );
    s.edit(TINY_LIB, "\"tiny one\"", "\"tiny 0.1.1\"");
    s.edit(
        "Cargo.lock",
        "name = \"tiny\"\nversion = \"0.1.0\"",
        "name = \"tiny\"\nversion = \"0.1.1\"",
    );
}

/// The group (registered in `cases::groups`).
pub fn group() -> Group {
    const FACTS_ONLY: Expect = Expect::Fresh {
        keep: &["factlib", "other"],
    };
    let case = |id, name, expect, perturb: Perturb| Case::build(id, name, expect, true, perturb);
    Group {
        name: "entries",
        setup,
        cases: vec![
            case(
                "E1",
                "symlink to a file re-pointed (target seen before, clamped)",
                FACTS_ONLY,
                |s, _| {
                    s.symlinks.insert(FILE_LINK.into(), "two.txt".into());
                    Ok(())
                },
            ),
            case(
                "E2",
                "symlink to a directory re-pointed (target seen before, clamped)",
                FACTS_ONLY,
                |s, _| {
                    s.symlinks.insert(DIR_LINK.into(), "flavors/b".into());
                    Ok(())
                },
            ),
            case(
                "E3",
                "file added to a directory build.rs watches",
                FACTS_ONLY,
                |s, _| {
                    s.files.insert(data("third.txt"), "third\n".into());
                    Ok(())
                },
            ),
            case(
                "E4",
                "file removed from a directory build.rs watches",
                FACTS_ONLY,
                |s, _| {
                    s.files.remove(&data("first.txt"));
                    Ok(())
                },
            ),
            case(
                "E5",
                "file edited in a nested directory of a watched one",
                FACTS_ONLY,
                |s, _| {
                    s.edit(&data("nested/deep/leaf.txt"), "leaf one", "leaf two");
                    Ok(())
                },
            ),
            case(
                "E6",
                "file named with a backslash edited",
                FACTS_ONLY,
                |s, _| {
                    s.edit(&data("back\\slash.txt"), "one", "two");
                    Ok(())
                },
            ),
            case("E7", "file named with a tab edited", FACTS_ONLY, |s, _| {
                s.edit(&data("tab\there.txt"), "one", "two");
                Ok(())
            }),
            case(
                "E9",
                "vendored crate edited in place (same version, no checksums listed)",
                FACTS_ONLY,
                |s, _| {
                    s.edit(TINY_LIB, "tiny one", "tiny two");
                    Ok(())
                },
            ),
            case(
                "E10",
                "vendored crate that lists its files edited in place, checksums updated (same \
                 size, clamped)",
                FACTS_ONLY,
                |s, _| {
                    s.edit(LISTED_LIB, "listed one", "listed two");
                    listed_checksums(s);
                    Ok(())
                },
            ),
            case(
                "E8",
                "build.rs watches a file outside the step's snapshot",
                Expect::Fails,
                |s, _| {
                    s.edit(
                        BUILD_RS,
                        "    println!(\"cargo:rerun-if-changed=csrc/data\");\n",
                        "    println!(\"cargo:rerun-if-changed=csrc/data\");\n    \
                         println!(\"cargo:rerun-if-changed=../../shared/fact.txt\");\n",
                    );
                    Ok(())
                },
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::matrix::{Setup, Subject};
    use crate::Engine;

    /// The group's workspace builds with the host's cargo `--locked --offline` (the vendored
    /// crate's lockfile entry is what cargo expects), prints what it observes, and the
    /// perturbations keep it building.
    #[test]
    fn the_entries_workspace_builds_and_prints_what_it_observes() {
        let dir = std::env::temp_dir().join(format!("cachet-entries-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut state = State::initial("fixture", "n0", "cachet-sdk:rustup");
        let mut setup_ctx = Setup::new(Engine::Dockerd, Subject::Cachet, "n0".into(), dir.clone());
        setup(&mut state, &mut setup_ctx).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let run = |state: &State| {
            state.materialize(&dir).unwrap();
            let out = Command::new(&cargo)
                .args(["run", "--quiet", "--locked", "--offline", "-p", "facts"])
                .env("CARGO_TARGET_DIR", dir.join("target"))
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let first = run(&state);
        for line in [
            "tiny=tiny one",
            "current=one",
            "flavor=flavor a",
            "entries=\"back\\\\slash.txt\"=backslash one;\"first.txt\"=first;\
             \"nested/deep/leaf.txt\"=leaf one;\"second.txt\"=second;\"tab\\there.txt\"=tab one",
        ] {
            assert!(first.lines().any(|l| l == line), "{line} in:\n{first}");
        }
        let group = group();
        for case in group.cases.iter().filter(|c| c.expect != Expect::Fails) {
            if let crate::matrix::Action::Build(perturb) = case.action {
                perturb(&mut state, &mut setup_ctx).unwrap();
            }
        }
        // A fresh target dir: the host build has no Cachet freshness pass.
        let _ = std::fs::remove_dir_all(dir.join("target"));
        let last = run(&state);
        for line in ["tiny=tiny two", "current=two", "flavor=flavor b"] {
            assert!(last.lines().any(|l| l == line), "{line} in:\n{last}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
