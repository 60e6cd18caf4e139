//! Reading the metadata files in rounds, as a step machine any reader can drive.
//!
//! Which manifests matter is only known after reading some: the root manifest names the members
//! and `[workspace.dependencies]`, each manifest names its path dependencies. [`Discovery`] says
//! which include patterns to read next ([`Discovery::next_patterns`]), takes what matched
//! ([`Discovery::feed`]) and is done when the files read name nothing new. It does no I/O, so
//! the frontend (reading through the gateway) and the `llb-gen` CLI (reading the file system)
//! share one implementation, and it is tested with files in memory.
//!
//! There is no limit on the number of files or rounds. Earlier limits made the frontend fall back
//! to "no layout" without a word, which drops the fetch step and fails the build later with a
//! cargo error far from the cause. The loop ends anyway: every pattern is derived from the
//! content of a file that was read, the files come from a finite context, and a round only asks
//! for patterns never asked for before, so the set of requested patterns grows strictly each
//! round and is bounded by the finite set of patterns those files can name. Each file is looked
//! at once, when it arrives, so a round costs time in what it brings, not in what came before.
//!
//! One limit is left, on the size of a single file ([`MAX_METADATA_FILE_BYTES`]): every file is
//! held in memory. It is far beyond any real manifest or lockfile, and going over it is an
//! error that names the file ([`DiscoveryError::TooLarge`]), never a silent fallback.

use std::collections::{BTreeMap, BTreeSet};

use super::cargo_config::{checksum_patterns_of, patch_paths_of};
use super::manifest::{keep_pattern, manifest_dir, RootFacts};
use super::patterns::{is_glob, PatternSet};
use super::{ProjectFiles, CARGO_CONFIG_FILES, ROOT_METADATA};

/// Largest metadata file read: 1 GiB, some hundred times the largest real `Cargo.lock`.
pub const MAX_METADATA_FILE_BYTES: u64 = 1 << 30;

/// Why discovery cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "{path} is {size} bytes, over the limit of {limit} bytes ({gib} GiB) for a file Cachet \
         reads to plan the build (manifests, Cargo.lock, cargo config and toolchain files are \
         held in memory); if cargo does not need it, leave it out of the build context \
         (.dockerignore), otherwise make it smaller",
        gib = limit >> 30
    )]
    TooLarge { path: String, size: u64, limit: u64 },
}

/// The discovery of a context's metadata files, one round of reads at a time.
///
/// ```
/// # use llb_gen::project::discovery::Discovery;
/// let context = [("Cargo.toml", "[package]\nname = \"a\"\n"), ("README.md", "hi")];
/// let mut discovery = Discovery::new();
/// while discovery.next_patterns().is_some() {
///     let mut read = Vec::new();
///     for (path, text) in context {
///         if discovery.wants(path, text.len() as u64)? {
///             read.push((path.to_string(), text.as_bytes().to_vec()));
///         }
///     }
///     discovery.feed(read)?;
/// }
/// assert_eq!(discovery.into_files().files.len(), 1);
/// # Ok::<(), llb_gen::project::discovery::DiscoveryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Discovery {
    files: BTreeMap<String, Vec<u8>>,
    /// Every pattern asked for so far (this round's included).
    requested: BTreeSet<String>,
    /// This round's patterns; empty when discovery is done.
    round: BTreeSet<String>,
    /// `round`, compiled.
    matcher: PatternSet,
    /// What the root manifest says, once it has been read.
    root: RootFacts,
    rounds: usize,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery::new()
    }
}

impl Discovery {
    /// Starts with the root files ([`ROOT_METADATA`]).
    pub fn new() -> Discovery {
        let round: BTreeSet<String> = ROOT_METADATA.iter().map(|s| s.to_string()).collect();
        Discovery {
            files: BTreeMap::new(),
            requested: round.clone(),
            matcher: PatternSet::new(&round),
            round,
            root: RootFacts::default(),
            rounds: 0,
        }
    }

    /// The include patterns to read next (only ones not asked for before, and no path of a file
    /// already read); `None` when done.
    pub fn next_patterns(&self) -> Option<&BTreeSet<String>> {
        (!self.round.is_empty()).then_some(&self.round)
    }

    pub fn is_done(&self) -> bool {
        self.round.is_empty()
    }

    /// Whether a file the reader found (path relative to the context root, size in bytes)
    /// should be read and fed this round: it matches this round's patterns and is not read yet.
    /// An error when it should be read but is too large to.
    pub fn wants(&self, path: &str, size: u64) -> Result<bool, DiscoveryError> {
        if self.files.contains_key(path) || !self.matcher.is_match(path) {
            return Ok(false);
        }
        check_size(path, size)?;
        Ok(true)
    }

    /// The files read this round. Files that do not match this round's patterns (older file
    /// syncs send some) or were read before are ignored. Ends the round: the next patterns are
    /// what the new files name that was never asked for.
    pub fn feed<I>(&mut self, files: I) -> Result<(), DiscoveryError>
    where
        I: IntoIterator<Item = (String, Vec<u8>)>,
    {
        let mut named = BTreeSet::new();
        let mut manifests = Vec::new();
        for (path, bytes) in files {
            if self.files.contains_key(&path) || !self.matcher.is_match(&path) {
                continue;
            }
            check_size(&path, bytes.len() as u64)?;
            if path == "Cargo.toml" {
                // Read in the first round, before any other manifest can be named.
                self.root = RootFacts::from_bytes(&bytes);
                named.extend(self.root.patterns.iter().cloned());
            }
            if CARGO_CONFIG_FILES.contains(&path.as_str()) {
                // `[patch]` in cargo config names manifests too (also read in the first round).
                named.extend(
                    patch_paths_of([bytes.as_slice()])
                        .into_iter()
                        .map(|d| super::join(&d, "Cargo.toml")),
                );
                // And the checksum files of the crates it vendors (see `project::vendored`).
                named.extend(checksum_patterns_of(&bytes));
            }
            if manifest_dir(&path).is_some() {
                manifests.push(path.clone());
            }
            self.files.insert(path, bytes);
        }
        for path in &manifests {
            let dir = manifest_dir(path).unwrap_or_default();
            let bytes = self.files.get(path).map(Vec::as_slice).unwrap_or_default();
            named.extend(self.root.manifest_patterns(dir, bytes));
        }
        self.rounds += 1;
        // A path that names a file already read (a path dependency on a member a glob brought)
        // needs no round of its own.
        self.round = named
            .into_iter()
            .filter(|p| keep_pattern(p) && !self.requested.contains(p))
            .filter(|p| is_glob(p) || !self.files.contains_key(p))
            .collect();
        self.requested.extend(self.round.iter().cloned());
        self.matcher = PatternSet::new(&self.round);
        Ok(())
    }

    /// Rounds fed so far.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// Every pattern asked for so far (with the files read, everything the files name).
    pub fn requested(&self) -> &BTreeSet<String> {
        &self.requested
    }

    /// The files read. Complete once [`Discovery::is_done`]; before that, only what the rounds
    /// fed so far brought.
    pub fn into_files(self) -> ProjectFiles {
        ProjectFiles { files: self.files }
    }
}

fn check_size(path: &str, size: u64) -> Result<(), DiscoveryError> {
    if size > MAX_METADATA_FILE_BYTES {
        return Err(DiscoveryError::TooLarge {
            path: path.to_string(),
            size,
            limit: MAX_METADATA_FILE_BYTES,
        });
    }
    Ok(())
}
