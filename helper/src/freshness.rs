//! Timestamp-proof freshness for every entry of a directory tree (see
//! `llb-gen/src/compile/freshness.rs` for why cargo steps need it).
//!
//! [`run`] walks the step's private view of the sources without following symlinks and keeps,
//! beside the target directory, a manifest of **every** entry, whatever bytes its name holds:
//!
//! * a regular file by the SHA-256 of its content;
//! * a symlink by its target text (the link itself is stamped, with `utimensat` and
//!   `AT_SYMLINK_NOFOLLOW`);
//! * a directory by its listing (names and kinds), so a directory a build script watches with
//!   `rerun-if-changed=<dir>` gets "now" when a file is added to it or removed from it: cargo
//!   compares the newest mtime of everything under a watched directory, the directory itself
//!   included, with the build script's last run (cargo-util's `mtime_recursive`);
//! * anything else (fifo, socket, device) by its kind.
//!
//! Each entry's *virtual time* is the time this manifest first saw its current fingerprint:
//! unchanged entries keep it, new or changed ones get [`NewContent`]'s "now". What cargo sees
//! through a symlink (`link/x.rs` when `link` points at a directory) is the target's inode, so
//! a symlink's virtual time is carried to everything it reaches inside the tree, and an inode
//! reachable under several paths (hard links, links) gets the newest of their times: never
//! older than any path through which cargo may have seen it change. And rustc records in its
//! dep-info what a path through a link *resolves to*, not the link, so after a link is
//! re-pointed cargo checks the old target: whenever a link resolves elsewhere than the
//! manifest says it did, everything under its old target counts as changed.
//!
//! The manifest format is versioned ([`STATE_FILE`] and a magic line). A missing, older or
//! unreadable manifest makes every entry new: one full rebuild, never a stale one.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// The manifest inside the state directory.
pub const STATE_FILE: &str = "freshness-v2";
/// The manifest of the shell freshness pass this helper replaces (removed when seen).
pub const LEGACY_STATE_FILE: &str = "sources.tsv";
const MAGIC: &[u8] = b"cachet-freshness v2\n";

/// The virtual time new or changed entries get (the reasons are in the compiler's module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewContent {
    /// Now, to the nanosecond.
    Now,
    /// The whole second before now.
    PreviousWholeSecond,
}

/// A point in time as `utimensat` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Stamp {
    /// "Now" for `mode`, from the system clock.
    pub fn now(mode: NewContent) -> Stamp {
        let since = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
        match mode {
            NewContent::Now => Stamp {
                secs,
                nanos: since.subsec_nanos(),
            },
            NewContent::PreviousWholeSecond => Stamp {
                secs: secs - 1,
                nanos: 0,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    File,
    Dir,
    Link,
    Other,
}

impl Kind {
    fn tag(self) -> u8 {
        match self {
            Kind::File => b'f',
            Kind::Dir => b'd',
            Kind::Link => b'l',
            Kind::Other => b'o',
        }
    }

    fn of(file_type: std::fs::FileType) -> Kind {
        if file_type.is_symlink() {
            Kind::Link
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

struct Entry {
    /// Relative to the root, `/`-separated raw bytes; empty for the root itself.
    rel: Vec<u8>,
    kind: Kind,
    dev: u64,
    ino: u64,
    /// For directories: the hash of the listing; for links: the target text; for files: filled
    /// in by the hashing pass.
    content: Vec<u8>,
    /// From a premade fingerprints file ([`write_premade`]): a read-only tree whose mtimes the
    /// pass leaves alone.
    premade: bool,
}

/// What one run did, for tests and the log line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub entries: usize,
    /// Entries whose fingerprint was new (or whose manifest could not be read).
    pub new: usize,
    /// Why the old manifest was not used, when it was not.
    pub fresh_state: Option<String>,
    /// Vendored crates whose fingerprints were removed because their files changed.
    pub vendored_rebuilt: Vec<String>,
    /// Every file and symlink seen, with its fingerprint, sorted by path: what the why step
    /// compares between builds ([`write_listing`]).
    pub sources: Vec<(Vec<u8>, [u8; 32])>,
}

/// `hex fingerprint<TAB>path` per line for `sources`, the form the why step reads. A path's
/// backslashes, tabs and newlines are written `\\`, `\t` and `\n`, so every entry is one
/// line whatever its name (the listing is for people; the manifest keeps the raw bytes).
pub fn write_listing(
    sources: &[(Vec<u8>, [u8; 32])],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    for (path, fp) in sources {
        let mut line = Vec::with_capacity(path.len() + 66);
        for b in fp {
            line.extend_from_slice(format!("{b:02x}").as_bytes());
        }
        line.push(b'\t');
        for &b in path {
            match b {
                b'\\' => line.extend_from_slice(b"\\\\"),
                b'\t' => line.extend_from_slice(b"\\t"),
                b'\n' => line.extend_from_slice(b"\\n"),
                _ => line.push(b),
            }
        }
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// Removes the target directory's fingerprints of every vendored crate (a directory with a
/// `Cargo.toml` right under one of `vendor_dirs`) with a new or changed entry; returns their
/// names.
fn invalidate_vendored(
    root: &Path,
    target_dir: &Path,
    vendor_dirs: &[PathBuf],
    entries: &[Entry],
    own: &[Stamp],
    now: Stamp,
) -> Result<Vec<String>, String> {
    let mut crates: Vec<Vec<u8>> = Vec::new();
    for dir in vendor_dirs {
        let mut prefix = dir.as_os_str().as_bytes().to_vec();
        prefix.push(b'/');
        for (e, t) in entries.iter().zip(own) {
            let Some(rest) = e.rel.strip_prefix(prefix.as_slice()) else {
                continue;
            };
            if *t != now {
                continue;
            }
            let name = rest.split(|b| *b == b'/').next().unwrap_or_default();
            let mut crate_dir = prefix.clone();
            crate_dir.extend_from_slice(name);
            if !name.is_empty() && !crates.contains(&crate_dir) {
                crates.push(crate_dir);
            }
        }
    }
    let mut names = Vec::new();
    for crate_dir in crates {
        let manifest = root.join(OsStr::from_bytes(&crate_dir)).join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let Some(name) = package_name(&text) else {
            continue;
        };
        remove_fingerprints(target_dir, &name)?;
        names.push(name);
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// `[package] name` of a manifest (cargo vendor writes them normalised: one `name = "…"`).
pub fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        let Some(rest) = line.strip_prefix("name") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &value[1..];
        return inner.find(quote).map(|end| inner[..end].to_string());
    }
    None
}

/// Removes `<target>/<dir>/.fingerprint/<name>-<16 hex>` and
/// `<target>/<dir>/<dir>/.fingerprint/<name>-<16 hex>` (host and `--target` profiles).
fn remove_fingerprints(target_dir: &Path, name: &str) -> Result<(), String> {
    let subdirs = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            .collect()
    };
    let mut fingerprint_dirs = Vec::new();
    for first in subdirs(target_dir) {
        fingerprint_dirs.push(first.join(".fingerprint"));
        for second in subdirs(&first) {
            fingerprint_dirs.push(second.join(".fingerprint"));
        }
    }
    for dir in fingerprint_dirs {
        for unit in subdirs(&dir) {
            let Some(file) = unit.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if crate::watches::package_of_run_dir(file) == Some(name) {
                std::fs::remove_dir_all(&unit)
                    .map_err(|e| format!("cannot remove {}: {e}", unit.display()))?;
            }
        }
    }
    Ok(())
}

/// Sets every entry under `root` to its virtual time, keeping the manifest in `state_dir`.
/// `now` is the time new entries get.
pub fn run(root: &Path, state_dir: &Path, now: Stamp) -> Result<Report, String> {
    run_vendored(root, state_dir, now, &[])
}

/// The magic line of a premade fingerprints file.
const PREMADE_MAGIC: &[u8] = b"cachet-vendored v1\n";

/// Walks and hashes the tree at `dir` once and writes what the freshness pass needs of every
/// entry to `out`, so a pass over a tree that holds `dir` (mounted read-only) reads this
/// instead of hashing it again ([`run_premade`]). Returns the entries, for checks.
pub fn write_premade(dir: &Path, out: &Path) -> Result<Vec<PremadeEntry>, String> {
    let mut entries = walk(dir, &[])?;
    hash_files(dir, &mut entries)?;
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    let mut bytes = PREMADE_MAGIC.to_vec();
    let too_long = || "an entry longer than 4 GiB".to_string();
    for e in &entries {
        for part in [&e.rel, &e.content] {
            let len = u32::try_from(part.len()).map_err(|_| too_long())?;
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(part);
        }
        bytes.push(e.kind.tag());
    }
    std::fs::write(out, bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(entries
        .into_iter()
        .map(|e| PremadeEntry {
            rel: e.rel,
            is_file: e.kind == Kind::File,
            is_link: e.kind == Kind::Link,
            sha256: if e.kind == Kind::File {
                e.content
            } else {
                Vec::new()
            },
        })
        .collect())
}

/// One entry of a premade tree, as the vendored check looks at it.
#[derive(Debug, Clone)]
pub struct PremadeEntry {
    pub rel: Vec<u8>,
    pub is_file: bool,
    pub is_link: bool,
    /// A regular file's SHA-256 (empty for anything else).
    pub sha256: Vec<u8>,
}

/// The entries of a premade file, their paths under `prefix`.
fn read_premade(path: &Path, prefix: &[u8]) -> Result<Vec<Entry>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let r = bytes
        .strip_prefix(PREMADE_MAGIC)
        .ok_or_else(|| format!("{}: not a premade fingerprints file", path.display()))?;
    let corrupt = || format!("{}: a truncated premade fingerprints file", path.display());
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let part = r
            .get(*at..at.checked_add(n).ok_or_else(corrupt)?)
            .ok_or_else(corrupt)?;
        *at += n;
        Ok(part)
    };
    let mut entries = Vec::new();
    let mut index = 0u64;
    while at < r.len() {
        let len = take(&mut at, 4)?;
        let len = u32::from_le_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
        let within = take(&mut at, len)?.to_vec();
        let len = u32::from_le_bytes(take(&mut at, 4)?.try_into().map_err(|_| corrupt())?);
        let content = take(&mut at, len as usize)?.to_vec();
        let kind = match take(&mut at, 1)?[0] {
            b'f' => Kind::File,
            b'd' => Kind::Dir,
            b'l' => Kind::Link,
            _ => Kind::Other,
        };
        let mut rel = prefix.to_vec();
        if !within.is_empty() {
            rel.push(b'/');
            rel.extend_from_slice(&within);
        }
        // An inode of its own: a premade entry's time is never shared with the walked tree's.
        entries.push(Entry {
            rel,
            kind,
            dev: u64::MAX,
            ino: index,
            content,
            premade: true,
        });
        index += 1;
    }
    Ok(entries)
}

/// [`run`], where `vendor_dirs` (relative to `root`) are directory sources: cargo never checks
/// the files of a crate in one unless its `.cargo-checksum.json` lists them, so a vendored
/// crate edited in place would be served from the target directory stale. Whenever an entry
/// under a vendored crate's directory is new or changed, that crate's fingerprint directories
/// are removed from the target directory (the state directory's parent): cargo rebuilds it,
/// and everything that depends on it, since a rebuilt dependency is newer than its dependents.
pub fn run_vendored(
    root: &Path,
    state_dir: &Path,
    now: Stamp,
    vendor_dirs: &[PathBuf],
) -> Result<Report, String> {
    run_premade(root, state_dir, now, vendor_dirs, &[])
}

/// [`run_vendored`], where each `premade` (directory relative to `root`, fingerprints file
/// written by [`write_premade`]) is a tree mounted read-only: its entries come from the file,
/// not from walking and hashing it, and their mtimes are left as they are (the tree's own
/// are fixed, see `llb-gen/src/compile/vendored.rs`). Everything else is as if it were walked:
/// a changed entry is new, and a changed vendored crate loses its fingerprints.
pub fn run_premade(
    root: &Path,
    state_dir: &Path,
    now: Stamp,
    vendor_dirs: &[PathBuf],
    premade: &[(PathBuf, PathBuf)],
) -> Result<Report, String> {
    let skip: Vec<Vec<u8>> = premade
        .iter()
        .map(|(dir, _)| dir.as_os_str().as_bytes().to_vec())
        .collect();
    let mut entries = walk(root, &skip)?;
    hash_files(root, &mut entries)?;
    for (dir, file) in premade {
        entries.extend(read_premade(file, dir.as_os_str().as_bytes())?);
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    let fingerprints: Vec<[u8; 32]> = entries.iter().map(fingerprint).collect();

    std::fs::create_dir_all(state_dir)
        .map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
    let (old, fresh_state) = match read_state(&state_dir.join(STATE_FILE)) {
        Ok(old) => (old, None),
        Err(why) => (HashMap::new(), Some(why)),
    };
    let mut report = Report {
        entries: entries.len(),
        fresh_state,
        ..Report::default()
    };
    let canonical_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let resolved: Vec<Option<Vec<u8>>> = entries
        .iter()
        .map(|e| resolve(root, &canonical_root, e))
        .collect();
    let mut own: Vec<Stamp> = entries
        .iter()
        .zip(&fingerprints)
        .map(|(e, fp)| match old.get(&e.rel) {
            Some(o) if o.fingerprint == *fp => o.time,
            _ => {
                report.new += 1;
                now
            }
        })
        .collect();
    // rustc records what an `include_str!`/`mod` path through a symlink resolves to, not the
    // link: after a link is re-pointed, cargo checks the *old* target, whose content did not
    // change. So whenever a link resolves elsewhere than before, what it reached before counts
    // as changed (what it reaches now is at least as new as the link: see `effective_times`).
    let mut bumped: Vec<&[u8]> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.kind != Kind::Link {
            continue;
        }
        let before = old.get(&e.rel).and_then(|o| o.resolved.as_deref());
        let after = resolved[i].as_deref();
        if before.is_some() && before != after {
            bumped.extend(before);
        }
    }
    for target in bumped {
        for j in subtree(&entries, target) {
            if own[j] != now {
                own[j] = now;
                report.new += 1;
            }
        }
    }
    if !vendor_dirs.is_empty() {
        let target_dir = state_dir.parent().unwrap_or(state_dir);
        report.vendored_rebuilt =
            invalidate_vendored(root, target_dir, vendor_dirs, &entries, &own, now)?;
    }
    let effective = effective_times(root, &canonical_root, &entries, &resolved, &own);
    for (entry, t) in entries.iter().zip(&effective) {
        if !entry.premade {
            set_mtime(&root.join(OsStr::from_bytes(&entry.rel)), *t)?;
        }
    }
    write_state(state_dir, &entries, &fingerprints, &own, &resolved)?;
    let _ = std::fs::remove_file(state_dir.join(LEGACY_STATE_FILE));
    report.sources = entries
        .iter()
        .zip(&fingerprints)
        .filter(|(e, _)| matches!(e.kind, Kind::File | Kind::Link))
        .map(|(e, fp)| (e.rel.clone(), *fp))
        .collect();
    Ok(report)
}

/// Every entry under `root` (the root included), never following a symlink.
/// `skip` (relative paths) are left out, with everything under them (a directory's listing
/// still names them).
fn walk(root: &Path, skip: &[Vec<u8>]) -> Result<Vec<Entry>, String> {
    let meta = std::fs::symlink_metadata(root)
        .map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    let mut entries = Vec::new();
    let mut pending = vec![(Vec::new(), meta)];
    while let Some((rel, meta)) = pending.pop() {
        let path = root.join(OsStr::from_bytes(&rel));
        let kind = Kind::of(meta.file_type());
        let content = match kind {
            Kind::Dir => {
                let mut listing: Vec<(Vec<u8>, Kind)> = Vec::new();
                let read = std::fs::read_dir(&path)
                    .map_err(|e| format!("cannot list {}: {e}", path.display()))?;
                for child in read {
                    let child =
                        child.map_err(|e| format!("cannot list {}: {e}", path.display()))?;
                    let name = child.file_name().as_bytes().to_vec();
                    let child_meta = std::fs::symlink_metadata(child.path())
                        .map_err(|e| format!("cannot read {}: {e}", child.path().display()))?;
                    listing.push((name.clone(), Kind::of(child_meta.file_type())));
                    let mut child_rel = rel.clone();
                    if !child_rel.is_empty() {
                        child_rel.push(b'/');
                    }
                    child_rel.extend_from_slice(&name);
                    if !skip.contains(&child_rel) {
                        pending.push((child_rel, child_meta));
                    }
                }
                listing.sort();
                let mut h = Sha256::new();
                for (name, kind) in &listing {
                    h.update((name.len() as u64).to_le_bytes());
                    h.update(name);
                    h.update([kind.tag()]);
                }
                h.finalize().to_vec()
            }
            Kind::Link => std::fs::read_link(&path)
                .map_err(|e| format!("cannot read the link {}: {e}", path.display()))?
                .as_os_str()
                .as_bytes()
                .to_vec(),
            Kind::File | Kind::Other => Vec::new(),
        };
        entries.push(Entry {
            rel,
            kind,
            dev: meta.dev(),
            ino: meta.ino(),
            content,
            premade: false,
        });
    }
    Ok(entries)
}

/// Hashes the regular files' content, on as many threads as there are cores (at most 8).
fn hash_files(root: &Path, entries: &mut [Entry]) -> Result<(), String> {
    let files: Vec<usize> = (0..entries.len())
        .filter(|i| entries[*i].kind == Kind::File)
        .collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let shared: &[Entry] = entries;
    type Hashed = Result<Vec<(usize, Vec<u8>)>, String>;
    let results: Vec<Hashed> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = files.get(k) else {
                            return Ok(done);
                        };
                        let path = root.join(OsStr::from_bytes(&shared[i].rel));
                        done.push((i, hash_file(&path)?));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a hashing thread panicked".to_string()))
            })
            .collect()
    });
    for result in results {
        for (i, hash) in result? {
            entries[i].content = hash;
        }
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<Vec<u8>, String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            return Ok(h.finalize().to_vec());
        }
        h.update(&buf[..n]);
    }
}

fn fingerprint(entry: &Entry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([entry.kind.tag()]);
    h.update(&entry.content);
    h.finalize().into()
}

/// Each entry's time as cargo must see it: its own, raised to the time of every symlink
/// through which it is reachable, and per inode the newest of all its paths.
fn effective_times(
    root: &Path,
    canonical_root: &Path,
    entries: &[Entry],
    resolved: &[Option<Vec<u8>>],
    own: &[Stamp],
) -> Vec<Stamp> {
    let mut times = own.to_vec();
    // Where each link ends up inside the tree (a chain of links resolved), if it does.
    let targets: Vec<(usize, Vec<u8>)> = resolved
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.clone().map(|r| (i, r)))
        .collect();
    // The links a link passes through on its way (so re-pointing a link in the middle of a
    // chain counts for the first one too).
    let chains: Vec<Vec<usize>> = targets
        .iter()
        .map(|(i, _)| chain(root, canonical_root, entries, *i))
        .collect();
    // A link's time reaches its whole target subtree, links in it included: repeat until
    // nothing moves (at most once per link, plus one).
    for _ in 0..=targets.len() {
        let mut moved = false;
        for ((_, target), via) in targets.iter().zip(&chains) {
            let t = via.iter().map(|i| times[*i]).max().unwrap_or(Stamp {
                secs: i64::MIN,
                nanos: 0,
            });
            for j in subtree(entries, target) {
                if times[j] < t {
                    times[j] = t;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    // One inode, one mtime: the newest of its paths.
    let mut by_inode: HashMap<(u64, u64), Stamp> = HashMap::new();
    for (e, t) in entries.iter().zip(&times) {
        let slot = by_inode.entry((e.dev, e.ino)).or_insert(*t);
        if *slot < *t {
            *slot = *t;
        }
    }
    entries.iter().map(|e| by_inode[&(e.dev, e.ino)]).collect()
}

/// Where a link ends up inside the tree (its chain resolved), as a path relative to the root;
/// `None` for anything else, and for a link that dangles, loops or leaves the tree.
fn resolve(root: &Path, canonical_root: &Path, entry: &Entry) -> Option<Vec<u8>> {
    if entry.kind != Kind::Link {
        return None;
    }
    let resolved = std::fs::canonicalize(root.join(OsStr::from_bytes(&entry.rel))).ok()?;
    let rel = resolved.strip_prefix(canonical_root).ok()?;
    Some(rel.as_os_str().as_bytes().to_vec())
}

/// The links (indices) passed through when resolving link `start`, itself first.
fn chain(root: &Path, canonical_root: &Path, entries: &[Entry], start: usize) -> Vec<usize> {
    let index = |rel: &[u8]| entries.binary_search_by(|e| e.rel.as_slice().cmp(rel)).ok();
    let mut via = vec![start];
    let mut current = start;
    while via.len() <= entries.len() {
        let link = root.join(OsStr::from_bytes(&entries[current].rel));
        let Ok(target) = std::fs::read_link(&link) else {
            break;
        };
        let base = link.parent().unwrap_or(root);
        // The next hop's own path: its parent canonical, its last component as written.
        let next = base.join(&target);
        let (Some(parent), Some(name)) = (next.parent(), next.file_name()) else {
            break;
        };
        let Ok(parent) = std::fs::canonicalize(parent) else {
            break;
        };
        let Ok(rel) = parent
            .join(name)
            .strip_prefix(canonical_root)
            .map(PathBuf::from)
        else {
            break;
        };
        match index(rel.as_os_str().as_bytes()) {
            Some(j) if entries[j].kind == Kind::Link && !via.contains(&j) => {
                via.push(j);
                current = j;
            }
            _ => break,
        }
    }
    via
}

/// Indices of `target` and everything under it (entries are sorted by path).
fn subtree<'a>(entries: &'a [Entry], target: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let exact = entries
        .binary_search_by(|e| e.rel.as_slice().cmp(target))
        .ok();
    let (start, prefix) = if target.is_empty() {
        (0, Vec::new())
    } else {
        let mut prefix = target.to_vec();
        prefix.push(b'/');
        (entries.partition_point(|e| e.rel < prefix), prefix)
    };
    let below = entries[start..]
        .iter()
        .enumerate()
        .take_while(move |(_, e)| e.rel.starts_with(&prefix))
        .map(move |(k, _)| start + k)
        .filter(move |i| Some(*i) != exact);
    exact.into_iter().chain(below)
}

/// Sets the mtime of `path` itself (a symlink is not followed); the access time is left alone.
fn set_mtime(path: &Path, t: Stamp) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: a NUL byte in a path", path.display()))?;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: t.secs as libc::time_t,
            tv_nsec: t.nanos as libc::c_long,
        },
    ];
    // SAFETY: a valid NUL-terminated path and a two-element timespec array, as utimensat takes.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(format!(
            "cannot set the mtime of {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// What the manifest keeps of one entry.
struct Seen {
    fingerprint: [u8; 32],
    time: Stamp,
    /// For a symlink: where it resolved inside the tree.
    resolved: Option<Vec<u8>>,
}

type State = HashMap<Vec<u8>, Seen>;

/// The old manifest, or why there is none to use (then every entry is new).
fn read_state(path: &Path) -> Result<State, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no manifest yet".to_string())
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| "a manifest of another format".to_string())?;
    let mut state = HashMap::new();
    let mut r = rest;
    let corrupt = || "a truncated manifest".to_string();
    let take = |r: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
        if r.len() < n {
            return Err(corrupt());
        }
        let (a, b) = r.split_at(n);
        *r = b;
        Ok(a.to_vec())
    };
    let u32_of = |r: &mut &[u8]| -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            take(r, 4)?.try_into().map_err(|_| corrupt())?,
        ))
    };
    while !r.is_empty() {
        let len = u32_of(&mut r)?;
        let rel = take(&mut r, len as usize)?;
        let fingerprint: [u8; 32] = take(&mut r, 32)?.try_into().map_err(|_| corrupt())?;
        let secs = i64::from_le_bytes(take(&mut r, 8)?.try_into().map_err(|_| corrupt())?);
        let nanos = u32_of(&mut r)?;
        if nanos >= 1_000_000_000 {
            return Err(corrupt());
        }
        let resolved = match u32_of(&mut r)? {
            NO_TARGET => None,
            n => Some(take(&mut r, n as usize)?),
        };
        state.insert(
            rel,
            Seen {
                fingerprint,
                time: Stamp { secs, nanos },
                resolved,
            },
        );
    }
    Ok(state)
}

/// The length written for "no resolved target".
const NO_TARGET: u32 = u32::MAX;

fn write_state(
    dir: &Path,
    entries: &[Entry],
    fingerprints: &[[u8; 32]],
    own: &[Stamp],
    resolved: &[Option<Vec<u8>>],
) -> Result<(), String> {
    let too_long = || "a path longer than 4 GiB".to_string();
    let mut out = MAGIC.to_vec();
    for (((e, fp), t), r) in entries.iter().zip(fingerprints).zip(own).zip(resolved) {
        let len = u32::try_from(e.rel.len()).map_err(|_| too_long())?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&e.rel);
        out.extend_from_slice(fp);
        out.extend_from_slice(&t.secs.to_le_bytes());
        out.extend_from_slice(&t.nanos.to_le_bytes());
        match r {
            Some(r) => {
                let len = u32::try_from(r.len())
                    .ok()
                    .filter(|n| *n != NO_TARGET)
                    .ok_or_else(too_long)?;
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(r);
            }
            None => out.extend_from_slice(&NO_TARGET.to_le_bytes()),
        }
    }
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(STATE_FILE))
    };
    write().map_err(|e| format!("cannot write the manifest in {}: {e}", dir.display()))
}
