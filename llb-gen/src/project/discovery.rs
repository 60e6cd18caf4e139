//! Reading the metadata files in rounds, as a step machine any reader can drive.
//!
//! Which manifests matter is only known after reading some: the root manifest names the members
//! and `[workspace.dependencies]`, each manifest names its path dependencies. [`Discovery`] says
//! which include patterns to read next ([`Discovery::next_patterns`], with
//! [`Discovery::next_excludes`]), takes what matched ([`Discovery::feed`]) and is done when the
//! files read name nothing new. It does no I/O, so the frontend (reading through the gateway)
//! and the `llb-gen` CLI (reading the file system) share one implementation, and it is tested
//! with files in memory.
//!
//! # One round in the common case
//!
//! Each round is a file sync round trip for the frontend (0.1–0.3 s on a no-op build), and a
//! workspace whose root names members that name path dependencies needs three when read level
//! by level. So the first round also *prefetches*: besides the root files ([`ROOT_METADATA`])
//! it asks for every `Cargo.toml` up to [`PREFETCH_DEPTH`] directories deep
//! ([`PREFETCH_PATTERNS`], spelled with single `*`s, which every file sync matches exactly:
//! BuildKit v0.8's has no `**`), leaving out the manifests of [`PREFETCH_SKIPPED_DIR`]
//! ([`PREFETCH_EXCLUDED`]), plus every vendored crate's `.cargo-checksum.json` two deep, which
//! a cargo config that vendors asks for next. Those files are held aside, not taken. A pattern asked for later is
//! answered from them without a round when the first round *covered* it: every path it can
//! match lies where the first round looked ([`Discovery::covers`]), so a file the first round
//! did not bring does not exist. Only what is not covered (deeper paths, `**`, braces or
//! classes, a vendor directory, paths the `.dockerignore` may hide) goes out as a next round.
//! The files handed on ([`Discovery::into_files`]) are exactly the ones the round-by-round
//! discovery ([`Discovery::without_prefetch`]) reads, never the prefetched superset, so
//! compiled Definitions do not change.
//!
//! The `.dockerignore` is only known once the first round has read it, so the prefetch cannot
//! exclude what it lists, while later rounds do. A prefetched file the ignore file might
//! exclude ([`MaybeIgnored`], a superset of what BuildKit's matcher excludes) is never taken
//! from the prefetch: a pattern that matches one goes out as a round of its own, which BuildKit
//! answers with the ignore file applied.
//!
//! The trade-off is cost in large contexts. A vendor directory holds one `Cargo.toml` per crate
//! (ripgrep's 111 MB `vendor/`: 57 of them, beside the 12 metadata files the build needs), and a
//! monorepo that vendors can hold thousands; reading them all would cost more than the rounds
//! saved. `cargo vendor`'s default directory's manifests are therefore left out of the prefetch
//! (a path dependency into it costs the round it costs today; its checksum files, small and
//! always needed when it is the source replacement, are read), and the depth limit bounds the walk the
//! client does for the first round to the top [`PREFETCH_DEPTH`] levels of the context.
//! Counted on the ripgrep bench fixture's vendor directory: see [`PREFETCH_DEPTH`].
//!
//! # Termination
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

use globset::{GlobBuilder, GlobMatcher};

use super::cargo_config::{checksum_patterns_of, patch_paths_of};
use super::manifest::{keep_pattern, manifest_dir, RootFacts};
use super::patterns::{is_glob, PatternSet};
use super::vendored::CHECKSUM_FILE;
use super::{dockerignore, ProjectFiles, CARGO_CONFIG_FILES, ROOT_METADATA};

/// Largest metadata file read: 1 GiB, some hundred times the largest real `Cargo.lock`.
pub const MAX_METADATA_FILE_BYTES: u64 = 1 << 30;

/// How many directories deep the first round looks for manifests.
///
/// Three covers the layouts workspaces use (`crates/x`, `libs/x`, `components/group/x`) with
/// their path dependencies, and bounds the client's walk for the first round to the top three
/// levels. Counted on `cargo vendor --versioned-dirs` of ripgrep 14.1.1's lockfile (the
/// bench fixture's `vendor/`, 109 MB, 2,486 files in 670 directories): 57 `Cargo.toml`, all
/// two deep, so without [`PREFETCH_EXCLUDED`] the first round would read 57 manifests nobody
/// needs beside ripgrep's 12 metadata files; with it, none (the unit test
/// `a_ripgrep_shaped_workspace_needs_one_round` pins one round instead of two). The time of
/// the first round on the fixture itself was not measured.
pub const PREFETCH_DEPTH: usize = 3;

/// What the first round asks for besides [`ROOT_METADATA`]: every `Cargo.toml` one to
/// [`PREFETCH_DEPTH`] directories deep, and the checksum file of every crate a top-level
/// directory vendors (`<dir>/<crate>/.cargo-checksum.json`, which the cargo config's source
/// replacement asks for once it is read; see [`super::vendored`]), so a vendoring project
/// also plans after one round.
pub const PREFETCH_PATTERNS: &[&str] = &[
    "*/Cargo.toml",
    "*/*/Cargo.toml",
    "*/*/*/Cargo.toml",
    "*/*/.cargo-checksum.json",
];

/// The top-level directory whose manifests the first round leaves out: `cargo vendor`'s
/// default directory, one manifest per vendored crate, which a build rarely needs. Its
/// checksum files are still read (they decide how the vendored crates travel).
pub const PREFETCH_SKIPPED_DIR: &str = "vendor";

/// The first round's exclude patterns: the manifests below [`PREFETCH_SKIPPED_DIR`] that
/// [`PREFETCH_PATTERNS`] would match.
pub const PREFETCH_EXCLUDED: &[&str] = &["vendor/*/Cargo.toml", "vendor/*/*/Cargo.toml"];

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

/// For readers whose errors are messages.
impl From<DiscoveryError> for String {
    fn from(e: DiscoveryError) -> String {
        e.to_string()
    }
}

/// The discovery of a context's metadata files, one round of reads at a time.
///
/// ```
/// # use llb_gen::project::discovery::Discovery;
/// let context = [
///     ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
///     ("crates/a/Cargo.toml", "[package]\nname = \"a\"\n"),
///     ("README.md", "hi"),
/// ];
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
/// assert_eq!(discovery.rounds(), 1);
/// assert_eq!(discovery.into_files().files.len(), 2);
/// # Ok::<(), llb_gen::project::discovery::DiscoveryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The files taken: what the build needs.
    files: BTreeMap<String, Vec<u8>>,
    /// Manifests the first round prefetched and nothing has asked for (yet).
    prefetched: BTreeMap<String, Vec<u8>>,
    /// Whether the first round prefetches ([`Discovery::without_prefetch`] does not); after it,
    /// whether it did, so that [`Discovery::covers`] may answer yes.
    prefetch: bool,
    /// Prefetched paths the ignore file that applies might exclude: never taken.
    maybe_ignored: BTreeSet<String>,
    /// The ignore file that applies, when the reader knows it before the first round.
    ignore: Option<Vec<u8>>,
    /// Every pattern asked for so far (this round's included, and those the prefetch answered;
    /// not [`PREFETCH_PATTERNS`]).
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
    /// Starts with the root files ([`ROOT_METADATA`]) and the prefetch ([`PREFETCH_PATTERNS`]).
    pub fn new() -> Discovery {
        let root: BTreeSet<String> = ROOT_METADATA.iter().map(|s| s.to_string()).collect();
        let mut round = root.clone();
        round.extend(PREFETCH_PATTERNS.iter().map(|s| s.to_string()));
        Discovery {
            files: BTreeMap::new(),
            prefetched: BTreeMap::new(),
            prefetch: true,
            maybe_ignored: BTreeSet::new(),
            ignore: None,
            // Not the prefetch patterns: a member glob spelled like one is still to be
            // answered (from the prefetch).
            requested: root,
            matcher: PatternSet::new(&round),
            round,
            root: RootFacts::default(),
            rounds: 0,
        }
    }

    /// Level by level, without the prefetch: the first round reads the root files only, each
    /// later one what the last named. Reads the same files as [`Discovery::new`], in more
    /// rounds; the statement of what the prefetch must not change.
    pub fn without_prefetch() -> Discovery {
        let round: BTreeSet<String> = ROOT_METADATA.iter().map(|s| s.to_string()).collect();
        Discovery {
            prefetch: false,
            requested: round.clone(),
            matcher: PatternSet::new(&round),
            round,
            ..Discovery::new()
        }
    }

    /// The ignore file that applies instead of the context's `.dockerignore` (the spec's own,
    /// `<spec>.dockerignore`), which the reader already excludes from the first round.
    pub fn ignoring(mut self, dockerignore: Vec<u8>) -> Discovery {
        self.ignore = Some(dockerignore);
        self
    }

    /// The include patterns to read next (only ones not asked for before, and no path of a file
    /// already read); `None` when done.
    pub fn next_patterns(&self) -> Option<&BTreeSet<String>> {
        (!self.round.is_empty()).then_some(&self.round)
    }

    /// Exclude patterns this round's read may add to the reader's own (`.dockerignore`,
    /// `target`, `.git`): what the prefetch leaves out. Files there are not wanted anyway
    /// ([`Discovery::wants`]); excluding them only spares the transfer.
    pub fn next_excludes(&self) -> &'static [&'static str] {
        if self.prefetching() {
            PREFETCH_EXCLUDED
        } else {
            &[]
        }
    }

    pub fn is_done(&self) -> bool {
        self.round.is_empty()
    }

    /// Whether this is the first round and it prefetches.
    fn prefetching(&self) -> bool {
        self.prefetch && self.rounds == 0
    }

    /// Whether `path` is one of this round's files.
    fn in_round(&self, path: &str) -> bool {
        if !self.matcher.is_match(path) {
            return false;
        }
        !self.prefetching() || ROOT_METADATA.contains(&path) || in_prefetch(path)
    }

    /// Whether a file the reader found (path relative to the context root, size in bytes)
    /// should be read and fed this round: it matches this round's patterns and is not read yet.
    /// An error when it should be read but is too large to.
    pub fn wants(&self, path: &str, size: u64) -> Result<bool, DiscoveryError> {
        if self.files.contains_key(path) || !self.in_round(path) {
            return Ok(false);
        }
        check_size(path, size)?;
        Ok(true)
    }

    /// The files read this round. Files that do not match this round's patterns (older file
    /// syncs send some) or were read before are ignored. Ends the round: the next patterns are
    /// what the new files name that was never asked for and the prefetch does not answer.
    pub fn feed<I>(&mut self, files: I) -> Result<(), DiscoveryError>
    where
        I: IntoIterator<Item = (String, Vec<u8>)>,
    {
        let prefetching = self.prefetching();
        let mut named = BTreeSet::new();
        let mut manifests = Vec::new();
        for (path, bytes) in files {
            if self.files.contains_key(&path) || !self.in_round(&path) {
                continue;
            }
            check_size(&path, bytes.len() as u64)?;
            if prefetching && !ROOT_METADATA.contains(&path.as_str()) {
                // Held aside until a pattern asks for it.
                self.prefetched.insert(path, bytes);
                continue;
            }
            named.extend(self.take(path, bytes, &mut manifests));
        }
        if prefetching {
            let ignore = self.ignore.as_deref().or_else(|| {
                self.files
                    .get(dockerignore::DOCKERIGNORE)
                    .map(Vec::as_slice)
            });
            let maybe = MaybeIgnored::new(ignore);
            self.maybe_ignored = self
                .prefetched
                .keys()
                .filter(|p| maybe.may_exclude(p))
                .cloned()
                .collect();
        }
        named.extend(self.manifest_patterns(&manifests));
        self.rounds += 1;
        // Answer what the prefetch covers, following what those files name, until only
        // patterns a round must ask for are left.
        let mut pending = self.unasked(named);
        let mut next = BTreeSet::new();
        while !pending.is_empty() {
            let (covered, uncovered): (BTreeSet<String>, BTreeSet<String>) =
                pending.into_iter().partition(|p| self.answers(p));
            next.extend(uncovered);
            self.requested.extend(covered.iter().cloned());
            let mut manifests = Vec::new();
            let mut named = BTreeSet::new();
            for (path, bytes) in self.take_prefetched(&covered) {
                named.extend(self.take(path, bytes, &mut manifests));
            }
            named.extend(self.manifest_patterns(&manifests));
            pending = self.unasked(named);
            pending.retain(|p| !next.contains(p));
        }
        self.round = next;
        self.requested.extend(self.round.iter().cloned());
        self.matcher = PatternSet::new(&self.round);
        Ok(())
    }

    /// Takes one file read; returns the patterns it names by itself (the root manifest, cargo
    /// config) and notes a manifest in `manifests`, whose path dependencies are named once the
    /// files taken with it are in (a path dependency on one of them needs no round).
    fn take(&mut self, path: String, bytes: Vec<u8>, manifests: &mut Vec<String>) -> Vec<String> {
        let mut named = Vec::new();
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
        named
    }

    /// The path dependencies the manifests at `paths` (taken) name.
    fn manifest_patterns(&self, paths: &[String]) -> Vec<String> {
        let mut named = Vec::new();
        for path in paths {
            let dir = manifest_dir(path).unwrap_or_default();
            let bytes = self.files.get(path).map(Vec::as_slice).unwrap_or_default();
            named.extend(self.root.manifest_patterns(dir, bytes));
        }
        named
    }

    /// What of `named` is worth asking for: never asked before, and no path of a file already
    /// read (a path dependency on a member a glob brought needs no round of its own).
    fn unasked(&self, named: impl IntoIterator<Item = String>) -> BTreeSet<String> {
        named
            .into_iter()
            .filter(|p| keep_pattern(p) && !self.requested.contains(p))
            .filter(|p| is_glob(p) || !self.files.contains_key(p))
            .collect()
    }

    /// Whether the prefetch answers `pattern` exactly: it covers the pattern and no prefetched
    /// file the ignore file might exclude matches it.
    fn answers(&self, pattern: &str) -> bool {
        if !self.covers(pattern) {
            return false;
        }
        if is_glob(pattern) {
            let set = PatternSet::new([pattern]);
            !self.maybe_ignored.iter().any(|p| set.is_match(p))
        } else {
            !self.maybe_ignored.contains(pattern)
        }
    }

    /// Whether the first round looked everywhere `pattern` can match: the prefetch ran and
    /// every path the pattern matches is a `Cargo.toml` one to [`PREFETCH_DEPTH`] directories
    /// deep outside [`PREFETCH_EXCLUDED`]. Judged from the spelling, conservatively: `**`,
    /// braces, classes and escapes are never covered, `*` and `?` stay within a component.
    pub fn covers(&self, pattern: &str) -> bool {
        if !self.prefetch || self.rounds == 0 {
            return false;
        }
        let parts: Vec<&str> = pattern.split('/').collect();
        let plain = |part: &&str| {
            !part.is_empty() && !part.contains("**") && !part.contains(['[', ']', '{', '}', '\\'])
        };
        if !parts.iter().all(plain) {
            return false;
        }
        if parts.len() == 3 && parts[2] == CHECKSUM_FILE {
            // `*/*/.cargo-checksum.json` was asked for everywhere, vendor included.
            return true;
        }
        if parts.len() < 2
            || parts.len() > PREFETCH_DEPTH + 1
            || parts.last() != Some(&"Cargo.toml")
        {
            return false;
        }
        !PatternSet::new([parts[0]]).is_match(PREFETCH_SKIPPED_DIR)
    }

    /// The prefetched files the `covered` patterns match, removed from the prefetch.
    fn take_prefetched(&mut self, covered: &BTreeSet<String>) -> Vec<(String, Vec<u8>)> {
        let (globs, literals): (Vec<&String>, Vec<&String>) =
            covered.iter().partition(|p| is_glob(p));
        let mut taken = Vec::new();
        for path in literals {
            if self.files.contains_key(path) {
                continue;
            }
            if let Some(bytes) = self.prefetched.remove(path) {
                taken.push((path.clone(), bytes));
            }
        }
        if !globs.is_empty() {
            let set = PatternSet::new(globs);
            let matched: Vec<String> = self
                .prefetched
                .keys()
                .filter(|p| set.is_match(p) && !self.files.contains_key(*p))
                .cloned()
                .collect();
            for path in matched {
                if let Some(bytes) = self.prefetched.remove(&path) {
                    taken.push((path, bytes));
                }
            }
        }
        taken
    }

    /// Rounds fed so far.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// Every pattern asked for so far, whether a round or the prefetch answered it (with the
    /// files read, everything the files name, and the root files; not the prefetch's own).
    pub fn requested(&self) -> &BTreeSet<String> {
        &self.requested
    }

    /// The files read and needed. Complete once [`Discovery::is_done`]; before that, only what
    /// the rounds fed so far brought. Prefetched files nothing asked for are not among them.
    pub fn into_files(self) -> ProjectFiles {
        ProjectFiles { files: self.files }
    }
}

/// Drives `discovery` to its end over a context already listed (paths relative to its root,
/// with sizes; regular files only), reading the files each round wants with `read`: how a
/// reader that sees the whole context at once (the `llb-gen` CLI on a directory, tests on
/// files in memory) runs it. Returns the files and the rounds it took.
pub fn discover_listed<E: From<DiscoveryError>>(
    mut discovery: Discovery,
    listed: &[(String, u64)],
    mut read: impl FnMut(&str) -> Result<Vec<u8>, E>,
) -> Result<(ProjectFiles, usize), E> {
    while discovery.next_patterns().is_some() {
        let mut round = Vec::new();
        for (path, size) in listed {
            if discovery.wants(path, *size)? {
                round.push((path.clone(), read(path)?));
            }
        }
        discovery.feed(round)?;
    }
    let rounds = discovery.rounds();
    Ok((discovery.into_files(), rounds))
}

/// Whether `path` is where the prefetch looks: a `Cargo.toml` one to [`PREFETCH_DEPTH`]
/// directories deep, not under a [`PREFETCH_EXCLUDED`] directory.
fn in_prefetch(path: &str) -> bool {
    // Empty components stay in (`a//Cargo.toml`): the patterns' `*` matches them, and a
    // file they match but the prefetch dropped would be missing from every covered answer.
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() == 3 && parts[2] == CHECKSUM_FILE {
        return true;
    }
    (2..=PREFETCH_DEPTH + 1).contains(&parts.len())
        && parts.last() == Some(&"Cargo.toml")
        && parts[0] != PREFETCH_SKIPPED_DIR
}

/// What a `.dockerignore` might exclude, erring towards "might": its patterns (negations
/// dropped, so nothing is re-included) matched with `*` and `?` crossing `/`, against the path
/// and each of its ancestors, as BuildKit's matcher also excludes what is below an excluded
/// directory. A pattern this cannot read that way (classes, braces, escapes, or one globset
/// refuses) makes every path "might".
#[derive(Debug)]
pub struct MaybeIgnored {
    globs: Vec<GlobMatcher>,
    everything: bool,
}

impl MaybeIgnored {
    /// From the ignore file's text; `None`: nothing is excluded.
    pub fn new(text: Option<&[u8]>) -> MaybeIgnored {
        let mut maybe = MaybeIgnored {
            globs: Vec::new(),
            everything: false,
        };
        let Some(text) = text else {
            return maybe;
        };
        for pattern in dockerignore::patterns(&String::from_utf8_lossy(text)) {
            if pattern.starts_with('!') {
                continue;
            }
            if pattern.contains(['[', ']', '{', '}', '\\']) {
                maybe.everything = true;
                continue;
            }
            match GlobBuilder::new(&pattern).literal_separator(false).build() {
                Ok(glob) => maybe.globs.push(glob.compile_matcher()),
                Err(_) => maybe.everything = true,
            }
        }
        maybe
    }

    pub fn may_exclude(&self, path: &str) -> bool {
        self.everything
            || std::iter::successors(Some(path), |p| p.rsplit_once('/').map(|(parent, _)| parent))
                .any(|p| self.globs.iter().any(|g| g.is_match(p)))
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
