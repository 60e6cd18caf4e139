//! `Cargo.lock`: how many packages a fetch would download.
//!
//!
//! Also, for a project that patches crates, which packages depend on which
//! ([`dependency_graph`]).
//!
//! Lockfiles are the largest metadata files (tens of thousands of packages in big monorepos)
//! and are parsed on every build, so only `package[].source` is deserialized: nothing else is
//! built into values. A 100 MB lockfile takes about 2 s and 1.5 GiB (the lockfile table of
//! `benches/workspace_table.rs`); real ones are a few MB.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Deserialize)]
struct Lockfile {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    /// Only whether there is one: cargo writes it for registry and git packages, never for
    /// path packages, and refuses a lockfile whose `source` is not a valid source id.
    source: Option<IgnoredAny>,
}

/// `Cargo.lock` as a graph: package name → the names it depends on, every version of a name
/// merged (an over-approximation, which can only include more sources). Read only when the
/// project patches a crate. `None` when the lockfile is not UTF-8 TOML of that shape.
pub fn dependency_graph(lockfile: &[u8]) -> Option<BTreeMap<String, BTreeSet<String>>> {
    #[derive(Deserialize)]
    struct Graph {
        #[serde(default)]
        package: Vec<Node>,
    }
    #[derive(Deserialize)]
    struct Node {
        name: String,
        /// `name`, `name version` or `name version (source)`.
        #[serde(default)]
        dependencies: Vec<String>,
    }
    let graph: Graph = toml::from_str(std::str::from_utf8(lockfile).ok()?).ok()?;
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in graph.package {
        let deps = edges.entry(node.name).or_default();
        for dep in node.dependencies {
            if let Some(name) = dep.split_whitespace().next() {
                deps.insert(name.to_string());
            }
        }
    }
    Some(edges)
}

/// Packages with a `source` (a registry or a git repository). A lockfile that is not UTF-8 TOML
/// of that shape counts as having some, so the fetch step runs and cargo reports the problem
/// in the build output, naming the file.
pub fn remote_packages(lockfile: &[u8]) -> usize {
    match std::str::from_utf8(lockfile)
        .ok()
        .and_then(|t| toml::from_str::<Lockfile>(t).ok())
    {
        Some(lock) => lock.package.iter().filter(|p| p.source.is_some()).count(),
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::remote_packages;

    #[test]
    fn counts_packages_with_a_source_and_treats_unreadable_lockfiles_as_remote() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\n \"libc\",\n]\n\n[[package]]\nname = \"libc\"\nversion = \"0.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"00\"\n\n[[package]]\nname = \"g\"\nversion = \"0.1.0\"\nsource = \"git+https://example.com/g#0123\"\n\n[metadata]\nx = 1\n";
        assert_eq!(remote_packages(lock.as_bytes()), 2);
        assert_eq!(remote_packages(b"version = 3\n"), 0, "nothing locked");
        assert_eq!(remote_packages(b""), 0);
        for broken in [
            &b"[[package]\nname ="[..],
            b"\xff\xfe",
            b"package = 3\n",
            b"[[package]]\nname = \"a\"\nname = \"b\"\n",
        ] {
            assert_eq!(
                remote_packages(broken),
                1,
                "{:?}",
                String::from_utf8_lossy(broken)
            );
        }
    }
}
