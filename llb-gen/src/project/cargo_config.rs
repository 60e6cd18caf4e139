//! `.cargo/config(.toml)` in the context: the directories it makes cargo read, and whether the
//! user vendors their dependencies already.
//!
//! A config file that is not UTF-8 TOML contributes no directories here, on purpose: cargo
//! reads the same file (the snapshots always carry `.cargo`) and refuses it with an error
//! naming it, which is clearer than anything said here. Its digest still keys the target
//! cache, so fixing it rebuilds. Absolute directories and ones outside the context are not the
//! context's to include: cargo finds them in the SDK image or reports them missing.

use toml::{Table, Value};

use super::{normalize, ProjectFiles, CARGO_CONFIG_FILES};

#[derive(Debug, Default)]
pub struct CargoConfigFacts {
    /// Directory sources and local registries inside the context.
    pub dirs: Vec<String>,
    /// The `directory` sources among them (vendored crates, one directory each).
    pub directory_sources: Vec<String>,
    /// `source.crates-io.replace-with` names a `directory` source.
    pub replaces_crates_io_with_directory: bool,
}

/// Directories named by `[patch.<source>]` path entries in the context's cargo config
/// (stable since cargo 1.56): relative to the directory holding `.cargo/`, the context root.
pub fn patch_paths(files: &ProjectFiles) -> Vec<String> {
    patch_paths_of(CARGO_CONFIG_FILES.iter().filter_map(|name| files.get(name)))
}

/// [`patch_paths`] of config files' bytes (unreadable ones name nothing: cargo reports them).
pub fn patch_paths_of<'a>(configs: impl IntoIterator<Item = &'a [u8]>) -> Vec<String> {
    let mut dirs = Vec::new();
    for bytes in configs {
        let Some(table) = std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| t.parse::<Table>().ok())
        else {
            continue;
        };
        for source in table
            .get("patch")
            .and_then(Value::as_table)
            .into_iter()
            .flat_map(|t| t.values())
        {
            dirs.extend(super::manifest::path_deps_of(
                Some(source),
                "",
                &Default::default(),
            ));
        }
    }
    dirs
}

/// The `.cargo-checksum.json` of every crate in the `directory` sources a config file names
/// (`<dir>/*/.cargo-checksum.json`), read as metadata: which vendored crates cargo verifies
/// decides how they travel to the builder (see [`super::vendored`]).
pub fn checksum_patterns_of(config: &[u8]) -> Vec<String> {
    let Some(table) = std::str::from_utf8(config)
        .ok()
        .and_then(|t| t.parse::<Table>().ok())
    else {
        return Vec::new();
    };
    let mut patterns: Vec<String> = table
        .get("source")
        .and_then(Value::as_table)
        .into_iter()
        .flat_map(|sources| sources.values())
        .filter_map(|source| source.get("directory").and_then(Value::as_str))
        .filter_map(normalize)
        .filter(|dir| !dir.is_empty())
        .map(|dir| format!("{dir}/*/{}", super::vendored::CHECKSUM_FILE))
        .collect();
    patterns.sort();
    patterns.dedup();
    patterns
}

pub fn read(files: &ProjectFiles) -> CargoConfigFacts {
    let mut facts = CargoConfigFacts::default();
    for name in CARGO_CONFIG_FILES {
        let Some(table) = files
            .get(name)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.parse::<Table>().ok())
        else {
            continue;
        };
        let Some(sources) = table.get("source").and_then(Value::as_table) else {
            continue;
        };
        for source in sources.values() {
            for key in ["directory", "local-registry"] {
                // Relative paths in config are relative to the directory holding `.cargo/`.
                if let Some(dir) = source.get(key).and_then(Value::as_str).and_then(normalize) {
                    if key == "directory" {
                        facts.directory_sources.push(dir.clone());
                    }
                    facts.dirs.push(dir);
                }
            }
        }
        let replacement = sources
            .get("crates-io")
            .and_then(|c| c.get("replace-with"))
            .and_then(Value::as_str);
        if let Some(name) = replacement {
            if sources
                .get(name)
                .is_some_and(|s| s.get("directory").is_some())
            {
                facts.replaces_crates_io_with_directory = true;
            }
        }
    }
    facts.dirs.sort();
    facts.dirs.dedup();
    facts.directory_sources.sort();
    facts.directory_sources.dedup();
    facts
}
