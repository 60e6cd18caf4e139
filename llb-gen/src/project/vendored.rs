//! Vendored crates (`directory` sources in `.cargo/config`) and how each travels to the
//! builder, decided from the `.cargo-checksum.json` files read as metadata.
//!
//! Cargo identifies a vendored crate by name and version, and checks its files only against
//! the sha256 sums its `.cargo-checksum.json` lists (`"files": {…}`): a crate that lists its
//! files cannot reach the compiler with content other than what its checksum file says, a
//! crate with `"files": {}` can. That splits a vendor directory in two:
//!
//! * **listed** crates travel in a context local whose shared key is the digest of every
//!   checksum file ([`VendorPlan::key`]), so BuildKit keeps the previous transfer and only
//!   re-sends files whose size or mtime changed. A same-size, same-mtime edit would be missed
//!   by that transfer — but `cargo vendor` rewrites the crate's checksum file with every edit,
//!   which moves the key and makes the whole directory travel afresh. An edit without a
//!   checksum update is one cargo refuses on any machine; a verification step
//!   (`cachet-helper vendored`) checks every listed file before any cargo step runs.
//! * **unlisted** crates (`"files": {}`, or a checksum file that does not parse) and the
//!   checksum files themselves travel with the workspace's sources, afresh on every build.
//!
//! Anything not understood keeps today's way (the whole directory afresh): a directory whose
//! crates have no checksum file read, or the build context unknown.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ProjectFiles;
use crate::llb::Digest;

/// The file `cargo vendor` writes in every vendored crate.
pub const CHECKSUM_FILE: &str = ".cargo-checksum.json";

/// How one `directory` source's crates travel.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct VendorDir {
    /// The directory, relative to the context root.
    pub dir: String,
    /// Crate directories (names under `dir`) whose checksum file lists files.
    pub listed: Vec<String>,
    /// Crate directories whose checksum file lists none (or does not parse).
    pub unlisted: Vec<String>,
}

/// The vendored crates of a build, for the directory sources that have listed crates.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct VendorPlan {
    pub dirs: Vec<VendorDir>,
    /// The digest of every checksum file of these directories (paths and contents).
    pub key: String,
}

impl VendorPlan {
    /// Include patterns of the incremental transfer: every listed crate's directory.
    pub fn listed_patterns(&self) -> Vec<String> {
        self.dirs
            .iter()
            .flat_map(|d| d.listed.iter().map(move |c| format!("{}/{c}", d.dir)))
            .collect()
    }

    /// Include patterns of what travels afresh: every checksum file and crate manifest (so a
    /// crate without a checksum file meets cargo's own error), every unlisted crate.
    pub fn fresh_patterns(&self) -> Vec<String> {
        self.dirs
            .iter()
            .flat_map(|d| {
                let checksums = d
                    .listed
                    .iter()
                    .chain(&d.unlisted)
                    .map(move |c| format!("{}/{c}/{CHECKSUM_FILE}", d.dir));
                let manifests = std::iter::once(format!("{}/*/Cargo.toml", d.dir));
                let unlisted = d.unlisted.iter().map(move |c| format!("{}/{c}", d.dir));
                checksums.chain(manifests).chain(unlisted)
            })
            .collect()
    }

    /// Whether `dir` (a config directory) is mounted from this plan.
    pub fn holds(&self, dir: &str) -> bool {
        self.dirs.iter().any(|d| d.dir == dir)
    }
}

/// Whether a checksum file lists files: `"files"` is an object with at least one entry.
/// Anything else (`{}`, not JSON, no `files`) counts as not listing: such a crate travels
/// afresh, which is always correct.
pub fn lists_files(checksum: &[u8]) -> bool {
    serde_json::from_slice::<Value>(checksum)
        .ok()
        .and_then(|v| {
            v.get("files")
                .and_then(Value::as_object)
                .map(|f| !f.is_empty())
        })
        .unwrap_or(false)
}

/// The plan for `directory_sources` from the checksum files in `files`; `None` when no crate
/// of theirs lists files (then nothing changes how they travel).
pub fn plan(files: &ProjectFiles, directory_sources: &[String]) -> Option<VendorPlan> {
    let mut dirs = Vec::new();
    let mut hashed: Vec<u8> = Vec::new();
    for dir in directory_sources {
        if dir.is_empty() {
            // The context root as a vendor directory: every member would be a "crate".
            continue;
        }
        let prefix = format!("{dir}/");
        let mut vendor = VendorDir {
            dir: dir.clone(),
            ..VendorDir::default()
        };
        let mut own: BTreeMap<&str, &[u8]> = BTreeMap::new();
        for (path, bytes) in files.files.range(prefix.clone()..) {
            let Some(rest) = path.strip_prefix(&prefix) else {
                break;
            };
            let Some(name) = rest.strip_suffix(&format!("/{CHECKSUM_FILE}")) else {
                continue;
            };
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                continue;
            }
            own.insert(path, bytes);
            if lists_files(bytes) {
                vendor.listed.push(name.to_string());
            } else {
                vendor.unlisted.push(name.to_string());
            }
        }
        if vendor.listed.is_empty() {
            continue;
        }
        for (path, bytes) in own {
            hashed.extend_from_slice(&(path.len() as u64).to_le_bytes());
            hashed.extend_from_slice(path.as_bytes());
            hashed.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            hashed.extend_from_slice(bytes);
        }
        dirs.push(vendor);
    }
    if dirs.is_empty() {
        return None;
    }
    Some(VendorPlan {
        dirs,
        key: Digest::of(&hashed).into_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::Discovery;

    const CONFIG: &str =
        "[source.crates-io]\nreplace-with = \"v\"\n[source.v]\ndirectory = \"./third/vendor\"\n";

    #[test]
    fn discovery_reads_the_checksum_files_of_the_directory_sources_the_config_names() {
        let context = [
            ("Cargo.toml", "[package]\nname = \"a\"\n"),
            (".cargo/config.toml", CONFIG),
            (
                "third/vendor/x/.cargo-checksum.json",
                "{\"files\":{\"a\":\"b\"}}",
            ),
            ("third/vendor/x/src/lib.rs", ""),
            ("elsewhere/y/.cargo-checksum.json", "{}"),
        ];
        let mut discovery = Discovery::new();
        while discovery.next_patterns().is_some() {
            let mut read = Vec::new();
            for (path, text) in context {
                if discovery.wants(path, text.len() as u64).unwrap() {
                    read.push((path.to_string(), text.as_bytes().to_vec()));
                }
            }
            discovery.feed(read).unwrap();
        }
        let files = discovery.into_files();
        let read: Vec<&str> = files.files.keys().map(String::as_str).collect();
        assert_eq!(
            read,
            [
                ".cargo/config.toml",
                "Cargo.toml",
                "third/vendor/x/.cargo-checksum.json"
            ]
        );
        let plan = plan(&files, &["third/vendor".to_string()]).unwrap();
        assert_eq!(plan.listed_patterns(), ["third/vendor/x"]);
    }

    #[test]
    fn crates_split_by_whether_their_checksum_file_lists_files_and_the_key_follows_them() {
        let files = |listed: &str| ProjectFiles {
            files: [
                ("v/a/.cargo-checksum.json", listed),
                (
                    "v/b/.cargo-checksum.json",
                    "{\"files\":{},\"package\":\"p\"}",
                ),
                ("v/c/.cargo-checksum.json", "not json"),
                (
                    "v/.hidden/.cargo-checksum.json",
                    "{\"files\":{\"x\":\"y\"}}",
                ),
                (
                    "v/d/nested/.cargo-checksum.json",
                    "{\"files\":{\"x\":\"y\"}}",
                ),
                ("w/e/.cargo-checksum.json", "{\"files\":{\"x\":\"y\"}}"),
            ]
            .into_iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect(),
        };
        let dirs = ["v".to_string()];
        let one = plan(&files("{\"files\":{\"src/lib.rs\":\"00\"}}"), &dirs).unwrap();
        assert_eq!(
            one.dirs,
            [VendorDir {
                dir: "v".into(),
                listed: vec!["a".into()],
                unlisted: vec!["b".into(), "c".into()],
            }]
        );
        assert_eq!(one.listed_patterns(), ["v/a"]);
        assert_eq!(
            one.fresh_patterns(),
            [
                "v/a/.cargo-checksum.json",
                "v/b/.cargo-checksum.json",
                "v/c/.cargo-checksum.json",
                "v/*/Cargo.toml",
                "v/b",
                "v/c"
            ]
        );
        let two = plan(&files("{\"files\":{\"src/lib.rs\":\"01\"}}"), &dirs).unwrap();
        assert_ne!(one.key, two.key, "a checksum edit moves the key");
        assert!(
            plan(&files("{\"files\":{}}"), &dirs).is_none(),
            "nothing listed"
        );
    }
}
