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
//! Each case changes one entry in a way that leaves every mtime old; the rebuild must print
//! what a clean build prints. The last case makes the build script watch a file outside the
//! step's snapshot, which must fail the build (the message is checked in
//! `tests/correctness.rs`).

use super::cases::{Action, Case, Group, Perturb};
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
    Ok(())
}

/// The group (registered in `cases::groups`).
pub fn group() -> Group {
    const FACTS_ONLY: Expect = Expect::Fresh {
        keep: &["factlib", "other"],
    };
    let case = |id, name, expect, perturb: Perturb| Case {
        id,
        name,
        expect,
        changes_output: true,
        before: None,
        action: Action::Build(perturb),
    };
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
