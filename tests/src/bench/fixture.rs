//! The projects the benchmark builds: a real-world one (ripgrep) and a tiny one for smoke runs.
//!
//! Why ripgrep 14.1.1, laid out as its repository: a benchmark of a build tool only means
//! something on a project people actually build. ripgrep is a workspace of ten crates wired
//! together by path dependencies, with ~50 third-party crates and a build script, and it builds
//! from scratch in about half a minute on two cores, so a run of every scenario stays
//! affordable. Its published package is not that layout (the members are registry dependencies
//! there), so the recipe rebuilds the repository's layout from the published `.crate` files: the
//! root and every member get their original `Cargo.toml.orig` back, and the lockfile is re-locked
//! minimally so the members become path packages while every third-party version stays what
//! ripgrep 14.1.1 shipped with (the members' dev-dependencies are added, pinned).
//!
//! Why prepared into a cache directory and never committed: the vendored sources are over
//! 100 MB, and they are a pure function of the recipe below. A fixture is prepared once per
//! machine into `<cache>/<name>/` and reused as long as `<cache>/<name>.ready` names the current
//! recipe. Preparation happens in `<cache>/<name>.staging/` and is renamed into place at the end
//! (the marker last), so an interrupted preparation never leaves a fixture that looks ready. One
//! preparation at a time per cache directory: a second one would remove the first one's staging.
//!
//! Why offline: every contender must build the same bytes, and none may be timed downloading.
//! The fixture carries `vendor/` and a `.cargo/config.toml` that replaces crates-io with it, so
//! `cargo build --release --offline --locked` works with no network and no cargo home. Only
//! preparing ripgrep uses the network (through cargo, with the user's own registry settings);
//! the tiny fixture is generated from text in this file.
//!
//! The bump: a lockfile outside the tree ([`Fixture::bumped_lock`]) differs from the tree's
//! `Cargo.lock` in exactly one third-party version, and `vendor/` holds both versions, so
//! swapping it in is the "dependency bump" scenario -- still offline.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A project the bench builds, prepared once into a cache directory, never committed.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Short name for tables/JSON, e.g. "ripgrep-14.1.1" or "tiny".
    pub name: String,
    /// The pristine tree. Contenders copy it; nothing ever edits it. Contains a vendored
    /// `vendor/` directory and `.cargo/config.toml` that replaces crates-io with it, so
    /// `cargo build --release --offline --locked` works with no network.
    pub dir: PathBuf,
    /// A Cargo.lock (outside `dir`) identical to `dir/Cargo.lock` except that one third-party
    /// dependency is bumped; the bumped crate version is also vendored in `dir/vendor`, so
    /// swapping this file in builds offline.
    pub bumped_lock: PathBuf,
    /// What the bump is, e.g. "serde_json 1.0.128 -> 1.0.132".
    pub bump: String,
    /// Relative path (in `dir`) of a source file of the top-level binary crate only (a "leaf" edit).
    pub leaf_file: PathBuf,
    /// Relative path of a source file (lib.rs) in a workspace library crate that many other
    /// workspace crates depend on (a "core" edit).
    pub core_file: PathBuf,
    /// Package name of that core crate, e.g. "grep-matcher".
    pub core_crate: String,
    /// The root package's name (e.g. "ripgrep") and the binary target name (e.g. "rg").
    pub package: String,
    pub binary: String,
}

/// Append one line to `file` (relative to `dir`) that changes the compiled crate, unique for `n`:
/// a private constant, which compiles at the end of any Rust module file (even under
/// `#![deny(missing_docs)]`). Used for leaf/core edits.
pub fn one_line_edit(dir: &Path, file: &Path, n: u32) -> io::Result<()> {
    let path = dir.join(file);
    let current = fs::read(&path)?;
    let mut out = OpenOptions::new().append(true).open(&path)?;
    if !current.is_empty() && !current.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.write_all(edit_line(n).as_bytes())
}

/// The line [`one_line_edit`] appends.
fn edit_line(n: u32) -> String {
    format!("#[allow(dead_code)] const CACHET_BENCH_EDIT_{n}: u32 = {n};\n")
}

// ---------------------------------------------------------------------------------------------
// ripgrep

const RIPGREP_VERSION: &str = "14.1.1";

/// Bump this when the recipe changes what a prepared ripgrep fixture contains.
const RIPGREP_RECIPE: &str = "cachet-bench fixture recipe: ripgrep 14.1.1, v1";

/// ripgrep's workspace members (package, directory), as its root `Cargo.toml.orig` lists them.
const RIPGREP_MEMBERS: [(&str, &str); 9] = [
    ("globset", "crates/globset"),
    ("grep", "crates/grep"),
    ("grep-cli", "crates/cli"),
    ("grep-matcher", "crates/matcher"),
    ("grep-pcre2", "crates/pcre2"),
    ("grep-printer", "crates/printer"),
    ("grep-regex", "crates/regex"),
    ("grep-searcher", "crates/searcher"),
    ("ignore", "crates/ignore"),
];

fn ripgrep_member_names() -> Vec<&'static str> {
    RIPGREP_MEMBERS
        .iter()
        .map(|(package, _)| *package)
        .collect()
}

/// The published lockfile only covers what the packaged `ripgrep` needs; as workspace members,
/// the grep-* crates bring their dev-dependencies into the lock too. These are the only packages
/// re-locking adds (no build of `rg` uses them); they are pinned to what cargo picked when this
/// recipe was written, so the fixture does not drift with new releases.
const RIPGREP_DEV_ONLY_PINS: [(&str, &str); 3] = [
    ("crossbeam-channel", "0.5.17"),
    ("glob", "0.3.4"),
    ("regex", "1.10.6"),
];

/// The bumped dependency: serde_json, which `grep-printer` and `rg` use, so a bump rebuilds it,
/// `grep-printer`, `grep` and `rg` but not the rest of the workspace.
const RIPGREP_BUMP_CRATE: &str = "serde_json";

/// Versions to try, best first; the first one that changes nothing but serde_json wins
/// (1.0.132 does, from the locked 1.0.128).
const RIPGREP_BUMP_CANDIDATES: [&str; 6] = [
    "1.0.132", "1.0.131", "1.0.130", "1.0.129", "1.0.133", "1.0.134",
];

/// Prepare (or reuse) ripgrep 14.1.1 as its real repository lays it out.
///
/// Preparing takes about a minute (mostly the two verification builds) and needs the network
/// unless cargo's download cache already has the crates.
pub fn ripgrep(cache: &Path) -> Result<Fixture, String> {
    let slot = Slot::new(cache, &format!("ripgrep-{RIPGREP_VERSION}"));
    let bump = slot.prepare_once(RIPGREP_RECIPE, prepare_ripgrep)?;
    Ok(Fixture {
        name: slot.name.clone(),
        dir: slot.dir(),
        bumped_lock: slot.bumped_lock(),
        bump,
        leaf_file: PathBuf::from("crates/core/main.rs"),
        core_file: PathBuf::from("crates/matcher/src/lib.rs"),
        core_crate: "grep-matcher".to_string(),
        package: "ripgrep".to_string(),
        binary: "rg".to_string(),
    })
}

fn prepare_ripgrep(staging: &Staging) -> Result<String, String> {
    let tree = staging.tree();
    let published = fetch_published_crate(&staging.work(), "ripgrep", RIPGREP_VERSION)?;
    extract_crate(&published, &tree)?;
    run(
        &mut cargo(&tree, &["fetch", "--locked"]),
        "downloading the crates ripgrep's published Cargo.lock names",
    )?;
    let published_lock = read_lock(&tree.join("Cargo.lock"))?;
    assemble_ripgrep_workspace(&tree, &published_lock)?;
    lock_members_as_path_packages(&tree, &published_lock)?;
    let bump = bump_and_vendor(
        &tree,
        RIPGREP_BUMP_CRATE,
        &RIPGREP_BUMP_CANDIDATES,
        &staging.bumped_lock(),
    )?;
    append_vendored_source(&tree)?;
    let mut packages = ripgrep_member_names();
    packages.push("ripgrep");
    check_workspace_members(&tree, &packages)?;
    let smoke = SmokeRun {
        binary: "rg",
        args: &["--version"],
        base: "ripgrep 14.1.1",
        bumped: "ripgrep 14.1.1",
    };
    verify_offline_builds(&tree, &staging.bumped_lock(), &staging.target(), &smoke)?;
    Ok(bump)
}

/// The repository layout: the root and each member get their original manifests (with the
/// `path = "../matcher"`-style dependencies), each member at the version the published lock
/// names, in the directory the root manifest's `members` lists.
///
/// All nine `.orig` manifests are usable as they are: no fix-ups needed.
fn assemble_ripgrep_workspace(tree: &Path, published_lock: &[LockedPackage]) -> Result<(), String> {
    use_original_manifest(tree)?;
    for (package, dir) in RIPGREP_MEMBERS {
        let version = locked_version(published_lock, package)?;
        let crate_file = find_downloaded_crate(package, &version)?;
        let member = tree.join(dir);
        extract_crate(&crate_file, &member)?;
        use_original_manifest(&member)?;
        remove_file_if_exists(&member.join("Cargo.lock"))?;
    }
    Ok(())
}

/// Re-lock so the members are path packages, adding only what the members' own
/// dev-dependencies need, and prove that no third-party version ripgrep shipped with moved.
fn lock_members_as_path_packages(tree: &Path, published: &[LockedPackage]) -> Result<(), String> {
    let members = ripgrep_member_names();
    let lock_path = tree.join("Cargo.lock");
    run(
        &mut cargo(tree, &["metadata", "--format-version", "1"]),
        "re-locking ripgrep with its workspace members as path packages",
    )?;
    check_versions_kept(published, &read_lock(&lock_path)?, &members)?;
    for (name, version) in RIPGREP_DEV_ONLY_PINS {
        let relocked = read_lock(&lock_path)?;
        let needs_pin = relocked
            .iter()
            .any(|package| package.name == name && package.version != version);
        if needs_pin {
            run(
                &mut cargo(tree, &["update", "-p", name, "--precise", version]),
                &format!("pinning the dev-only dependency {name} to {version}"),
            )?;
        }
    }
    check_versions_kept(published, &read_lock(&lock_path)?, &members)
}

/// `dir`'s `Cargo.toml` becomes its `Cargo.toml.orig` (the manifest as written in the
/// repository, not cargo's normalized copy), and the packaging's VCS note goes.
fn use_original_manifest(dir: &Path) -> Result<(), String> {
    let original = dir.join("Cargo.toml.orig");
    if !original.is_file() {
        return Err(format!(
            "{} is missing: the published crate should carry its original manifest",
            original.display()
        ));
    }
    rename_path(&original, &dir.join("Cargo.toml"))?;
    remove_file_if_exists(&dir.join(".cargo_vcs_info.json"))
}

/// Bump `krate` to the first candidate version that changes nothing else, then vendor both
/// lockfiles' crates into `tree/vendor` (relative, so no host path lands in the tree). Leaves
/// the bumped lockfile at `bumped_out` and the base one in the tree.
fn bump_and_vendor(
    tree: &Path,
    krate: &str,
    candidates: &[&str],
    bumped_out: &Path,
) -> Result<String, String> {
    let lock_path = tree.join("Cargo.lock");
    let base_text = read_text(&lock_path)?;
    let bump = bump_one_crate(tree, &base_text, krate, candidates)?;
    run(
        &mut cargo(tree, &["vendor", "--locked", "--versioned-dirs", "vendor"]),
        "vendoring the bumped lockfile's crates",
    )?;
    copy_file(&lock_path, bumped_out)?;
    write_file(&lock_path, &base_text)?;
    run(
        &mut cargo(
            tree,
            &[
                "vendor",
                "--locked",
                "--versioned-dirs",
                "--no-delete",
                "vendor",
            ],
        ),
        "vendoring the base lockfile's crates next to the bumped ones",
    )?;
    Ok(bump)
}

/// Try `cargo update -p krate --precise <candidate>` until one changes exactly one version;
/// that lockfile stays in place. A failed attempt restores `base_text`.
fn bump_one_crate(
    tree: &Path,
    base_text: &str,
    krate: &str,
    candidates: &[&str],
) -> Result<String, String> {
    let lock_path = tree.join("Cargo.lock");
    let base = parse_lock(base_text);
    let mut failures = Vec::new();
    for &version in candidates {
        let attempt = run(
            &mut cargo(tree, &["update", "-p", krate, "--precise", version]),
            &format!("bumping {krate} to {version}"),
        )
        .and_then(|_| read_lock(&lock_path))
        .and_then(|bumped| describe_bump(&base, &bumped));
        match attempt {
            Ok(bump) => return Ok(bump),
            Err(why) => {
                failures.push(format!("{krate} {version}: {why}"));
                write_file(&lock_path, base_text)?;
            }
        }
    }
    Err(format!(
        "no candidate version of {krate} changes only {krate}:\n{}",
        failures.join("\n")
    ))
}

// ---------------------------------------------------------------------------------------------
// tiny

/// Bump this when the generated tiny workspace changes.
const TINY_RECIPE: &str = "cachet-bench fixture recipe: tiny, v1";

/// A version of the stand-in third-party crate `tinydep`, as the fixture vendors it.
struct Tinydep {
    version: &'static str,
    /// What its `.cargo-checksum.json` claims as the package checksum (the lockfile repeats
    /// it): the sha256 of `cachet-bench tinydep <version>`. Cargo only compares the two, so any
    /// stable 64-hex string per version works.
    checksum: &'static str,
}

const TINYDEP_BASE: Tinydep = Tinydep {
    version: "1.0.0",
    checksum: "f77734b583516b5f6b461c1d3a720945be887321905bde58e605634eda0a9d2d",
};

const TINYDEP_BUMPED: Tinydep = Tinydep {
    version: "1.0.1",
    checksum: "abba9896ffe9527d466c3ba0d10ca81e3c9e07b24e9d6441fae509b6b71f57b3",
};

/// Prepare (or reuse) a tiny generated workspace of the same shape, for a quick smoke run: the
/// binary package `app` depends on the path members `tiny-core` (which `tiny-mid` depends on
/// too) and `tiny-mid`, and on the vendored third-party crate `tinydep` (1.0.0, bumped to 1.0.1).
/// No network; a few seconds, mostly the two verification builds.
pub fn tiny(cache: &Path) -> Result<Fixture, String> {
    let slot = Slot::new(cache, "tiny");
    let bump = slot.prepare_once(TINY_RECIPE, prepare_tiny)?;
    Ok(Fixture {
        name: slot.name.clone(),
        dir: slot.dir(),
        bumped_lock: slot.bumped_lock(),
        bump,
        leaf_file: PathBuf::from("src/main.rs"),
        core_file: PathBuf::from("crates/core/src/lib.rs"),
        core_crate: "tiny-core".to_string(),
        package: "app".to_string(),
        binary: "app".to_string(),
    })
}

fn prepare_tiny(staging: &Staging) -> Result<String, String> {
    let tree = staging.tree();
    let lock_path = tree.join("Cargo.lock");
    write_files(&tree, tiny_workspace_files())?;
    write_files(&tree, tinydep_files(&TINYDEP_BASE))?;
    // `cargo update --precise` does not move a package within a directory source (it exits 0
    // and leaves the lock as it was), so lock while only the base tinydep is vendored, then
    // vendor the bumped one and let a plain update pick it.
    run(
        &mut cargo(&tree, &["generate-lockfile", "--offline"]),
        "locking the tiny workspace against the vendored tinydep",
    )?;
    let base_lock = read_text(&lock_path)?;
    write_files(&tree, tinydep_files(&TINYDEP_BUMPED))?;
    run(
        &mut cargo(&tree, &["update", "-p", "tinydep", "--offline"]),
        "bumping tinydep to the newest vendored version",
    )?;
    copy_file(&lock_path, &staging.bumped_lock())?;
    write_file(&lock_path, &base_lock)?;
    let bump = describe_bump(&parse_lock(&base_lock), &read_lock(&staging.bumped_lock())?)?;
    check_workspace_members(&tree, &["app", "tiny-core", "tiny-mid"])?;
    let base = format!("tinydep {}", TINYDEP_BASE.version);
    let bumped = format!("tinydep {}", TINYDEP_BUMPED.version);
    let smoke = SmokeRun {
        binary: "app",
        args: &[],
        base: &base,
        bumped: &bumped,
    };
    verify_offline_builds(&tree, &staging.bumped_lock(), &staging.target(), &smoke)?;
    Ok(bump)
}

/// The tiny workspace's own files (path, contents), without the vendored tinydep.
fn tiny_workspace_files() -> Vec<(String, String)> {
    let sources = [
        ("Cargo.toml", TINY_ROOT_MANIFEST),
        ("src/main.rs", TINY_MAIN),
        ("crates/core/Cargo.toml", TINY_CORE_MANIFEST),
        ("crates/core/src/lib.rs", TINY_CORE_LIB),
        ("crates/mid/Cargo.toml", TINY_MID_MANIFEST),
        ("crates/mid/src/lib.rs", TINY_MID_LIB),
    ];
    let mut files: Vec<(String, String)> = sources
        .iter()
        .map(|(path, contents)| (path.to_string(), contents.to_string()))
        .collect();
    files.push((".cargo/config.toml".to_string(), vendored_source_config("")));
    files
}

/// One vendored tinydep: `vendor/tinydep-<version>/` as `cargo vendor --versioned-dirs` lays
/// out a crate (path, contents).
fn tinydep_files(tinydep: &Tinydep) -> Vec<(String, String)> {
    let dir = format!("vendor/tinydep-{}", tinydep.version);
    vec![
        (
            format!("{dir}/Cargo.toml"),
            TINYDEP_MANIFEST.replace("@VERSION@", tinydep.version),
        ),
        (
            format!("{dir}/src/lib.rs"),
            TINYDEP_LIB.replace("@VERSION@", tinydep.version),
        ),
        (
            format!("{dir}/.cargo-checksum.json"),
            format!("{{\"files\":{{}},\"package\":\"{}\"}}", tinydep.checksum),
        ),
    ]
}

fn write_files(root: &Path, files: Vec<(String, String)>) -> Result<(), String> {
    for (path, contents) in files {
        write_file(&root.join(path), contents)?;
    }
    Ok(())
}

const TINY_ROOT_MANIFEST: &str = r#"[package]
name = "app"
version = "0.1.0"
edition = "2021"
publish = false

[[bin]]
name = "app"
path = "src/main.rs"

[dependencies]
tiny-core = { path = "crates/core" }
tiny-mid = { path = "crates/mid" }
tinydep = "1"

[workspace]
members = ["crates/core", "crates/mid"]
"#;

const TINY_MAIN: &str = r#"//! The tiny fixture's binary: what it prints depends on every crate, so every edit matters.

fn main() {
    let text = "the quick brown fox jumps over the lazy dog while the cat naps";
    println!("{}", tiny_mid::describe(text));
    println!("app {}", tiny_core::signature(&["app", env!("CARGO_PKG_VERSION")]));
    println!("tinydep {}", tinydep::VERSION);
}
"#;

const TINY_CORE_MANIFEST: &str = r#"[package]
name = "tiny-core"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
tinydep = "1"
"#;

const TINY_CORE_LIB: &str = r#"//! The tiny fixture's core crate: `tiny-mid` and `app` depend on it (the "core" edit).

use std::collections::BTreeMap;
use std::fmt::Display;

/// How often each key occurs.
#[derive(Debug)]
pub struct Tally<K> {
    counts: BTreeMap<K, usize>,
}

impl<K: Ord + Clone + Display> Tally<K> {
    /// Count `items`.
    pub fn from_items<I: IntoIterator<Item = K>>(items: I) -> Self {
        let mut counts = BTreeMap::new();
        for item in items {
            *counts.entry(item).or_insert(0) += 1;
        }
        Tally { counts }
    }

    /// How many different keys there are.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// A most frequent key and its count.
    pub fn top(&self) -> Option<(K, usize)> {
        let entries: Vec<(&K, usize)> = self.counts.iter().map(|(k, n)| (k, *n)).collect();
        tinydep::max_by_key(&entries, |(_, n)| *n).map(|(k, n)| ((*k).clone(), *n))
    }

    /// One line: every key with its count, in order.
    pub fn render(&self) -> String {
        let parts: Vec<String> = self.counts.iter().map(|(k, n)| format!("{k}={n}")).collect();
        parts.join(" ")
    }
}

/// A short fingerprint of `parts`, tagged with the tinydep release that computed it.
pub fn signature<T: AsRef<[u8]>>(parts: &[T]) -> String {
    format!("{:016x} (tinydep {})", tinydep::fingerprint(parts), tinydep::VERSION)
}
"#;

const TINY_MID_MANIFEST: &str = r#"[package]
name = "tiny-mid"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
tiny-core = { path = "../core" }
"#;

const TINY_MID_LIB: &str = r#"//! The tiny fixture's middle crate: depends on `tiny-core`, and `app` depends on it.

use tiny_core::{signature, Tally};

/// Word statistics for `text`, in one line.
pub fn describe(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let tally = Tally::from_items(words.iter().copied());
    let top = match tally.top() {
        Some((word, count)) => format!("{word} x{count}"),
        None => "nothing".to_string(),
    };
    let lengths = Tally::from_items(words.iter().map(|word| word.len()));
    format!(
        "{} words, {} distinct, top {top}, lengths [{}], {}",
        words.len(),
        tally.distinct(),
        lengths.render(),
        signature(&words)
    )
}
"#;

const TINYDEP_MANIFEST: &str = r#"[package]
name = "tinydep"
version = "@VERSION@"
edition = "2021"
description = "A stand-in third-party crate for the Cachet bench's tiny fixture"
license = "Apache-2.0"

[lib]
path = "src/lib.rs"
"#;

const TINYDEP_LIB: &str = r#"//! A stand-in third-party crate, served from the fixture's vendored directory source.

/// This release, so the binary shows which one it was built against.
pub const VERSION: &str = "@VERSION@";

/// FNV-1a over anything byte-like.
pub fn fingerprint<T: AsRef<[u8]>>(items: &[T]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for item in items {
        for byte in item.as_ref() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The (last) element with the largest key.
pub fn max_by_key<T, K: Ord, F: Fn(&T) -> K>(items: &[T], key: F) -> Option<&T> {
    items.iter().max_by_key(|item| key(item))
}
"#;

// ---------------------------------------------------------------------------------------------
// Preparing once, atomically

/// Where one fixture lives in the cache directory.
struct Slot {
    cache: PathBuf,
    name: String,
}

impl Slot {
    fn new(cache: &Path, name: &str) -> Slot {
        Slot {
            cache: cache.to_path_buf(),
            name: name.to_string(),
        }
    }

    fn dir(&self) -> PathBuf {
        self.cache.join(&self.name)
    }

    fn bumped_lock(&self) -> PathBuf {
        self.cache.join(format!("{}.bumped.lock", self.name))
    }

    fn marker(&self) -> PathBuf {
        self.cache.join(format!("{}.ready", self.name))
    }

    fn staging(&self) -> Staging {
        Staging {
            root: self.cache.join(format!("{}.staging", self.name)),
        }
    }

    /// The bump string of a fixture already prepared by `recipe`, else prepare it now.
    fn prepare_once(
        &self,
        recipe: &str,
        prepare: fn(&Staging) -> Result<String, String>,
    ) -> Result<String, String> {
        if let Some(bump) = self.reusable(recipe) {
            return Ok(bump);
        }
        let started = Instant::now();
        eprintln!(
            "fixture {}: preparing {} (once; later runs reuse it)",
            self.name,
            self.dir().display()
        );
        let staging = self.staging();
        staging.create()?;
        let prepared = prepare(&staging);
        // The verification builds' target directory is large and never part of the fixture.
        remove_dir_if_exists(&staging.target())?;
        let bump = prepared.map_err(|why| {
            format!(
                "preparing fixture {}: {why}\n\
                 (the partial work is in {}; the next preparation removes it)",
                self.name,
                staging.root.display()
            )
        })?;
        self.commit(&staging, recipe, &bump)?;
        eprintln!(
            "fixture {}: ready in {:.1} s ({})",
            self.name,
            started.elapsed().as_secs_f64(),
            bump
        );
        Ok(bump)
    }

    /// The recorded bump, if the marker names `recipe` and the prepared files are there.
    fn reusable(&self, recipe: &str) -> Option<String> {
        let marker = fs::read_to_string(self.marker()).ok()?;
        let bump = parse_marker(&marker, recipe)?;
        let complete = self.dir().is_dir() && self.bumped_lock().is_file();
        complete.then_some(bump)
    }

    /// Move the staged tree and lockfile into place; the marker goes last.
    fn commit(&self, staging: &Staging, recipe: &str, bump: &str) -> Result<(), String> {
        remove_file_if_exists(&self.marker())?;
        remove_dir_if_exists(&self.dir())?;
        rename_path(&staging.tree(), &self.dir())?;
        rename_path(&staging.bumped_lock(), &self.bumped_lock())?;
        let marker_tmp = self.cache.join(format!("{}.ready.tmp", self.name));
        write_file(&marker_tmp, marker_text(recipe, bump))?;
        rename_path(&marker_tmp, &self.marker())?;
        remove_dir_if_exists(&staging.root)
    }
}

/// The scratch area of one preparation: `tree/` becomes the fixture, `bumped.lock` its bumped
/// lockfile; `work/` (probe projects) and `target/` (verification builds) are thrown away.
struct Staging {
    root: PathBuf,
}

impl Staging {
    fn tree(&self) -> PathBuf {
        self.root.join("tree")
    }

    fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    fn target(&self) -> PathBuf {
        self.root.join("target")
    }

    fn bumped_lock(&self) -> PathBuf {
        self.root.join("bumped.lock")
    }

    /// Start from nothing: a previous, interrupted preparation's leftovers go.
    fn create(&self) -> Result<(), String> {
        remove_dir_if_exists(&self.root)?;
        create_dir(&self.tree())?;
        create_dir(&self.work())
    }
}

/// The ready marker: the recipe on the first line, then the bump.
fn marker_text(recipe: &str, bump: &str) -> String {
    format!("{recipe}\nbump = {bump}\n")
}

/// The bump a marker records, if it was written by `recipe`.
fn parse_marker(text: &str, recipe: &str) -> Option<String> {
    let mut lines = text.lines();
    if lines.next()? != recipe {
        return None;
    }
    let bump = lines.next()?.strip_prefix("bump = ")?.trim();
    (!bump.is_empty()).then(|| bump.to_string())
}

// ---------------------------------------------------------------------------------------------
// Verifying

/// How to tell a built binary works: run it with `args`; its stdout must contain `base` (built
/// with the base lockfile) or `bumped` (with the bumped one).
struct SmokeRun<'a> {
    binary: &'a str,
    args: &'a [&'a str],
    base: &'a str,
    bumped: &'a str,
}

/// Both lockfiles resolve and build offline (the target directory outside the tree), and the
/// binary runs. The tree ends as it started: base lockfile, no `target/`.
fn verify_offline_builds(
    tree: &Path,
    bumped_lock: &Path,
    target: &Path,
    smoke: &SmokeRun,
) -> Result<(), String> {
    run(
        &mut cargo(
            tree,
            &["metadata", "--offline", "--locked", "--format-version", "1"],
        ),
        "resolving the fixture offline",
    )?;
    build_offline_and_run(tree, target, smoke, smoke.base, "the base Cargo.lock")?;
    let lock_path = tree.join("Cargo.lock");
    let base_lock = read_text(&lock_path)?;
    copy_file(bumped_lock, &lock_path)?;
    let bumped = build_offline_and_run(tree, target, smoke, smoke.bumped, "the bumped Cargo.lock");
    write_file(&lock_path, &base_lock)?;
    bumped?;
    if tree.join("target").exists() {
        return Err(format!(
            "{} appeared although every build used a target directory outside the fixture",
            tree.join("target").display()
        ));
    }
    Ok(())
}

fn build_offline_and_run(
    tree: &Path,
    target: &Path,
    smoke: &SmokeRun,
    expect: &str,
    lockfile: &str,
) -> Result<(), String> {
    let mut build = cargo(tree, &["build", "--release", "--offline", "--locked"]);
    build.env("CARGO_TARGET_DIR", target);
    run(&mut build, &format!("building offline with {lockfile}"))?;
    let binary = target.join("release").join(smoke.binary);
    let stdout = run(
        Command::new(&binary).args(smoke.args).current_dir(tree),
        &format!("running the binary built with {lockfile}"),
    )?;
    if !stdout.contains(expect) {
        return Err(format!(
            "{} built with {lockfile} printed no {expect:?}; it printed:\n{stdout}",
            binary.display()
        ));
    }
    Ok(())
}

/// The workspace cargo sees has exactly the `expected` packages.
fn check_workspace_members(tree: &Path, expected: &[&str]) -> Result<(), String> {
    let listing = run(
        &mut cargo(
            tree,
            &[
                "tree",
                "--workspace",
                "--depth",
                "0",
                "--prefix",
                "none",
                "--offline",
                "--locked",
            ],
        ),
        "listing the workspace members",
    )?;
    let found = first_words(&listing);
    let expected: BTreeSet<&str> = expected.iter().copied().collect();
    if found != expected {
        return Err(format!(
            "the assembled workspace has the packages {found:?}, expected {expected:?}"
        ));
    }
    Ok(())
}

/// The first word of every non-empty line (`cargo tree --depth 0` prints `name vX.Y.Z (path)`).
fn first_words(listing: &str) -> BTreeSet<&str> {
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Lockfiles

/// One `[[package]]` of a Cargo.lock; `source` is `None` for path (workspace) packages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LockedPackage {
    name: String,
    version: String,
    source: Option<String>,
}

fn read_lock(path: &Path) -> Result<Vec<LockedPackage>, String> {
    let packages = parse_lock(&read_text(path)?);
    if packages.is_empty() {
        return Err(format!("{} has no [[package]] entries", path.display()));
    }
    Ok(packages)
}

/// The packages of a Cargo.lock (any version; only the top-level keys of each `[[package]]`).
fn parse_lock(text: &str) -> Vec<LockedPackage> {
    let mut packages = Vec::new();
    let mut current: Option<PackageFields> = None;
    for line in text.lines().map(str::trim_end) {
        if line.starts_with('[') {
            packages.extend(current.take().and_then(PackageFields::finish));
            if line == "[[package]]" {
                current = Some(PackageFields::default());
            }
            continue;
        }
        let Some(fields) = current.as_mut() else {
            continue;
        };
        if let Some(name) = string_value(line, "name") {
            fields.name = Some(name.to_string());
        } else if let Some(version) = string_value(line, "version") {
            fields.version = Some(version.to_string());
        } else if let Some(source) = string_value(line, "source") {
            fields.source = Some(source.to_string());
        }
    }
    packages.extend(current.and_then(PackageFields::finish));
    packages
}

/// A `[[package]]` being read.
#[derive(Default)]
struct PackageFields {
    name: Option<String>,
    version: Option<String>,
    source: Option<String>,
}

impl PackageFields {
    fn finish(self) -> Option<LockedPackage> {
        Some(LockedPackage {
            name: self.name?,
            version: self.version?,
            source: self.source,
        })
    }
}

/// `value` of a `key = "value"` line.
fn string_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim()
        .strip_prefix('"')?
        .strip_suffix('"')
}

/// The (name, version) pairs of the third-party (registry or git) packages.
fn third_party(packages: &[LockedPackage]) -> BTreeSet<(&str, &str)> {
    packages
        .iter()
        .filter(|package| package.source.is_some())
        .map(|package| (package.name.as_str(), package.version.as_str()))
        .collect()
}

/// The version of the one package called `name`.
fn locked_version(packages: &[LockedPackage], name: &str) -> Result<String, String> {
    let versions: Vec<&str> = packages
        .iter()
        .filter(|package| package.name == name)
        .map(|package| package.version.as_str())
        .collect();
    match versions.as_slice() {
        [version] => Ok(version.to_string()),
        _ => Err(format!(
            "expected one locked version of {name}, the lockfile has {versions:?}"
        )),
    }
}

/// After re-locking a published lockfile with `members` as path packages: every third-party
/// version it had is still there, nothing gained a second version, and the members are path
/// packages. New packages (the members' dev-dependencies) are allowed.
fn check_versions_kept(
    published: &[LockedPackage],
    relocked: &[LockedPackage],
    members: &[&str],
) -> Result<(), String> {
    let before: BTreeSet<(&str, &str)> = third_party(published)
        .into_iter()
        .filter(|(name, _)| !members.contains(name))
        .collect();
    let after = third_party(relocked);
    let lost: Vec<String> = before.difference(&after).map(pair).collect();
    if !lost.is_empty() {
        return Err(format!(
            "re-locking changed third-party versions: no longer locked: {}",
            lost.join(", ")
        ));
    }
    let before_names: BTreeSet<&str> = before.iter().map(|(name, _)| *name).collect();
    let doubled: Vec<String> = after
        .difference(&before)
        .filter(|(name, _)| before_names.contains(name))
        .map(pair)
        .collect();
    if !doubled.is_empty() {
        return Err(format!(
            "re-locking added second versions of third-party crates: {}",
            doubled.join(", ")
        ));
    }
    let still_registry: Vec<&str> = members
        .iter()
        .copied()
        .filter(|member| !is_path_package(relocked, member))
        .collect();
    if !still_registry.is_empty() {
        return Err(format!(
            "re-locking left these members without a path package: {}",
            still_registry.join(", ")
        ));
    }
    Ok(())
}

fn is_path_package(packages: &[LockedPackage], name: &str) -> bool {
    packages
        .iter()
        .any(|package| package.name == name && package.source.is_none())
}

fn pair((name, version): &(&str, &str)) -> String {
    format!("{name} {version}")
}

/// "name old -> new" when exactly one third-party package changed version between the two
/// lockfiles, an error naming every difference otherwise.
fn describe_bump(base: &[LockedPackage], bumped: &[LockedPackage]) -> Result<String, String> {
    let before: BTreeSet<&LockedPackage> = base.iter().collect();
    let after: BTreeSet<&LockedPackage> = bumped.iter().collect();
    let gone: Vec<&LockedPackage> = before.difference(&after).copied().collect();
    let came: Vec<&LockedPackage> = after.difference(&before).copied().collect();
    match (gone.as_slice(), came.as_slice()) {
        ([old], [new]) if old.name == new.name && old.source.is_some() => {
            Ok(format!("{} {} -> {}", old.name, old.version, new.version))
        }
        _ => {
            let list = |packages: &[&LockedPackage]| {
                let pairs: Vec<String> = packages
                    .iter()
                    .map(|p| format!("{} {}", p.name, p.version))
                    .collect();
                pairs.join(", ")
            };
            Err(format!(
                "expected exactly one third-party version to change; removed: [{}], added: [{}]",
                list(&gone),
                list(&came)
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cargo, crates and files

/// The vendored-source replacement, appended to `existing` config text.
fn vendored_source_config(existing: &str) -> String {
    let mut config = existing.trim_end().to_string();
    if !config.is_empty() {
        config.push_str("\n\n");
    }
    config.push_str(
        "# cachet-bench: build offline from vendor/, which holds the crates of both the base\n\
         # and the bumped lockfile.\n\
         [source.crates-io]\n\
         replace-with = \"vendored-sources\"\n\
         \n\
         [source.vendored-sources]\n\
         directory = \"vendor\"\n",
    );
    config
}

/// Keep `tree/.cargo/config.toml` (ripgrep's has target rustflags) and add the replacement.
fn append_vendored_source(tree: &Path) -> Result<(), String> {
    let path = tree.join(".cargo").join("config.toml");
    let existing = if path.exists() {
        read_text(&path)?
    } else {
        String::new()
    };
    if existing.contains("[source.") {
        return Err(format!(
            "{} already configures sources; refusing to guess how to merge",
            path.display()
        ));
    }
    write_file(&path, vendored_source_config(&existing))
}

/// Download `name`'s published `.crate` at `version` through a throwaway project depending on
/// it (cargo's own client and registry settings), and find it in cargo's download cache.
pub(crate) fn fetch_published_crate(
    work: &Path,
    name: &str,
    version: &str,
) -> Result<PathBuf, String> {
    let probe = work.join(format!("probe-{name}"));
    write_file(
        &probe.join("Cargo.toml"),
        format!(
            "[package]\nname = \"cachet-bench-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\n{name} = \"={version}\"\n\n[workspace]\n"
        ),
    )?;
    write_file(&probe.join("src").join("main.rs"), "fn main() {}\n")?;
    run(
        &mut cargo(&probe, &["fetch"]),
        &format!("downloading {name} {version} through a probe project"),
    )?;
    find_downloaded_crate(name, version)
}

/// `$CARGO_HOME/registry/cache/<registry>/<name>-<version>.crate`.
fn find_downloaded_crate(name: &str, version: &str) -> Result<PathBuf, String> {
    let cache = cargo_home()?.join("registry").join("cache");
    let file_name = format!("{name}-{version}.crate");
    let registries = fs::read_dir(&cache).map_err(io_error("listing", &cache))?;
    let mut found: Vec<PathBuf> = registries
        .filter_map(Result::ok)
        .map(|registry| registry.path().join(&file_name))
        .filter(|path| path.is_file())
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| {
        format!(
            "{file_name} is not in cargo's download cache {}/*/ after a successful fetch \
             (is CARGO_HOME the one cargo uses?)",
            cache.display()
        )
    })
}

/// Cargo's home as cargo finds it: `CARGO_HOME`, else `~/.cargo`.
fn cargo_home() -> Result<PathBuf, String> {
    if let Some(home) = std::env::var_os("CARGO_HOME").filter(|home| !home.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cargo"))
        .ok_or_else(|| "neither CARGO_HOME nor HOME is set: cannot find cargo's cache".to_string())
}

/// Unpack a `.crate` (a gzipped tar of `<name>-<version>/...`) into `dest`, without that
/// top-level directory.
pub(crate) fn extract_crate(crate_file: &Path, dest: &Path) -> Result<(), String> {
    create_dir(dest)?;
    let mut tar = Command::new("tar");
    tar.arg("-xzf")
        .arg(crate_file)
        .arg("-C")
        .arg(dest)
        .arg("--strip-components=1");
    run(&mut tar, &format!("unpacking {}", crate_file.display())).map(drop)
}

/// `cargo <args>` in `dir`, never inheriting a target directory from the caller.
pub(crate) fn cargo(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR");
    command
}

/// Run `command` (`what` says why, for the error); its stdout if it succeeds, else an error
/// with the command line and its stderr.
pub(crate) fn run(command: &mut Command, what: &str) -> Result<String, String> {
    let line = command_line(command);
    let output = command
        .output()
        .map_err(|e| format!("{what}: could not start `{line}`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{what}: `{line}` failed ({}); its stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `program arg...` and, if set, the directory, for messages.
fn command_line(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    if let Some(dir) = command.get_current_dir() {
        line.push_str(&format!(" (in {})", dir.display()));
    }
    line
}

fn io_error<'a>(action: &'a str, path: &'a Path) -> impl FnOnce(io::Error) -> String + 'a {
    move |e| format!("{action} {}: {e}", path.display())
}

pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(io_error("reading", path))
}

/// Write `contents` to `path`, creating its parent directories.
pub(crate) fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    fs::write(path, contents).map_err(io_error("writing", path))
}

fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

pub(crate) fn rename_path(from: &Path, to: &Path) -> Result<(), String> {
    fs::rename(from, to)
        .map_err(|e| format!("renaming {} to {}: {e}", from.display(), to.display()))
}

pub(crate) fn create_dir(path: &Path) -> Result<(), String> {
    fs::create_dir_all(path).map_err(io_error("creating", path))
}

pub(crate) fn remove_file_if_exists(path: &Path) -> Result<(), String> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("removing", path)(e)),
        _ => Ok(()),
    }
}

pub(crate) fn remove_dir_if_exists(path: &Path) -> Result<(), String> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("removing", path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "registry+https://example.invalid/index";

    fn lock(packages: &[(&str, &str, bool)]) -> String {
        let mut text = "# generated\nversion = 3\n".to_string();
        for (name, version, registry) in packages {
            text.push_str(&format!(
                "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n"
            ));
            if *registry {
                text.push_str(&format!("source = \"{SOURCE}\"\nchecksum = \"00\"\n"));
            }
            text.push_str("dependencies = [\n \"memchr\",\n \"serde 1.0.0\",\n]\n");
        }
        text
    }

    fn scratch_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cachet-fixture-test-{}-{label}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn parse_lock_reads_name_version_source_and_skips_dependency_lists() {
        let text = lock(&[("app", "0.1.0", false), ("memchr", "2.7.4", true)]);
        assert_eq!(
            parse_lock(&text),
            vec![
                LockedPackage {
                    name: "app".into(),
                    version: "0.1.0".into(),
                    source: None,
                },
                LockedPackage {
                    name: "memchr".into(),
                    version: "2.7.4".into(),
                    source: Some(SOURCE.into()),
                },
            ]
        );
    }

    #[test]
    fn parse_lock_stops_a_package_at_the_next_table() {
        let text = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n\n[metadata]\nname = \"x\"\n";
        let packages = parse_lock(text);
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].name, "a");
    }

    #[test]
    fn third_party_leaves_out_path_packages() {
        let packages = parse_lock(&lock(&[("app", "0.1.0", false), ("log", "0.4.22", true)]));
        assert_eq!(third_party(&packages), BTreeSet::from([("log", "0.4.22")]));
    }

    #[test]
    fn locked_version_wants_exactly_one() {
        let packages = parse_lock(&lock(&[
            ("log", "0.4.22", true),
            ("regex", "1.0.0", true),
            ("regex", "1.1.0", true),
        ]));
        assert_eq!(locked_version(&packages, "log").unwrap(), "0.4.22");
        assert!(locked_version(&packages, "regex").is_err());
        assert!(locked_version(&packages, "missing").is_err());
    }

    #[test]
    fn describe_bump_names_the_one_changed_version() {
        let base = parse_lock(&lock(&[
            ("app", "0.1.0", false),
            ("serde_json", "1.0.128", true),
        ]));
        let bumped = parse_lock(&lock(&[
            ("app", "0.1.0", false),
            ("serde_json", "1.0.132", true),
        ]));
        assert_eq!(
            describe_bump(&base, &bumped).unwrap(),
            "serde_json 1.0.128 -> 1.0.132"
        );
    }

    #[test]
    fn describe_bump_refuses_collateral_changes_and_no_change() {
        let base = parse_lock(&lock(&[
            ("itoa", "1.0.0", true),
            ("serde_json", "1.0.128", true),
        ]));
        let bumped = parse_lock(&lock(&[
            ("itoa", "1.0.1", true),
            ("serde_json", "1.0.132", true),
        ]));
        let why = describe_bump(&base, &bumped).unwrap_err();
        assert!(
            why.contains("itoa 1.0.0") && why.contains("serde_json 1.0.132"),
            "{why}"
        );
        assert!(describe_bump(&base, &base).is_err());
    }

    #[test]
    fn check_versions_kept_allows_members_turning_path_and_new_dev_deps() {
        let published = parse_lock(&lock(&[
            ("rg", "1.0.0", false),
            ("grep-matcher", "0.1.7", true),
            ("memchr", "2.7.4", true),
        ]));
        let relocked = parse_lock(&lock(&[
            ("rg", "1.0.0", false),
            ("grep-matcher", "0.1.7", false),
            ("memchr", "2.7.4", true),
            ("glob", "0.3.4", true),
        ]));
        check_versions_kept(&published, &relocked, &["grep-matcher"]).unwrap();
    }

    #[test]
    fn check_versions_kept_refuses_moved_or_doubled_versions_and_registry_members() {
        let published = parse_lock(&lock(&[
            ("grep-matcher", "0.1.7", true),
            ("memchr", "2.7.4", true),
        ]));
        let moved = parse_lock(&lock(&[
            ("grep-matcher", "0.1.7", false),
            ("memchr", "2.7.5", true),
        ]));
        let doubled = parse_lock(&lock(&[
            ("grep-matcher", "0.1.7", false),
            ("memchr", "2.7.4", true),
            ("memchr", "2.7.5", true),
        ]));
        let registry_member = parse_lock(&lock(&[
            ("grep-matcher", "0.1.7", true),
            ("memchr", "2.7.4", true),
        ]));
        let members = ["grep-matcher"];
        let why = check_versions_kept(&published, &moved, &members).unwrap_err();
        assert!(why.contains("memchr 2.7.4"), "{why}");
        let why = check_versions_kept(&published, &doubled, &members).unwrap_err();
        assert!(why.contains("memchr 2.7.5"), "{why}");
        let why = check_versions_kept(&published, &registry_member, &members).unwrap_err();
        assert!(why.contains("grep-matcher"), "{why}");
    }

    #[test]
    fn marker_round_trips_and_rejects_other_recipes() {
        let text = marker_text("recipe v1", "serde_json 1.0.128 -> 1.0.132");
        assert_eq!(
            parse_marker(&text, "recipe v1").as_deref(),
            Some("serde_json 1.0.128 -> 1.0.132")
        );
        assert_eq!(parse_marker(&text, "recipe v2"), None);
        assert_eq!(parse_marker("recipe v1\n", "recipe v1"), None);
        assert_eq!(parse_marker("", "recipe v1"), None);
    }

    #[test]
    fn first_words_reads_cargo_tree_roots() {
        let listing = "ripgrep v14.1.1 (/x)\n\nglobset v0.4.15 (/x/crates/globset)\n\n";
        assert_eq!(first_words(listing), BTreeSet::from(["ripgrep", "globset"]));
    }

    #[test]
    fn vendored_source_config_keeps_existing_settings() {
        let config = vendored_source_config("[target.x]\nrustflags = []\n\n");
        assert!(config.starts_with("[target.x]\nrustflags = []\n\n# cachet-bench"));
        assert!(config.contains("[source.crates-io]\nreplace-with = \"vendored-sources\"\n"));
        assert!(config.ends_with("[source.vendored-sources]\ndirectory = \"vendor\"\n"));
        assert!(vendored_source_config("").starts_with("# cachet-bench"));
    }

    #[test]
    fn one_line_edit_appends_one_unique_line() {
        let dir = scratch_dir("edit");
        fs::write(dir.join("lib.rs"), "pub fn f() {}\n").unwrap();
        fs::write(dir.join("main.rs"), "fn main() {}").unwrap();
        one_line_edit(&dir, Path::new("lib.rs"), 7).unwrap();
        one_line_edit(&dir, Path::new("lib.rs"), 8).unwrap();
        one_line_edit(&dir, Path::new("main.rs"), 1).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("lib.rs")).unwrap(),
            "pub fn f() {}\n\
             #[allow(dead_code)] const CACHET_BENCH_EDIT_7: u32 = 7;\n\
             #[allow(dead_code)] const CACHET_BENCH_EDIT_8: u32 = 8;\n"
        );
        assert_eq!(
            fs::read_to_string(dir.join("main.rs")).unwrap(),
            "fn main() {}\n#[allow(dead_code)] const CACHET_BENCH_EDIT_1: u32 = 1;\n"
        );
        assert!(one_line_edit(&dir, Path::new("missing.rs"), 1).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tinydep_files_carry_version_and_checksum() {
        for tinydep in [TINYDEP_BASE, TINYDEP_BUMPED] {
            let files = tinydep_files(&tinydep);
            let dir = format!("vendor/tinydep-{}", tinydep.version);
            let paths: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
            assert_eq!(
                paths,
                [
                    format!("{dir}/Cargo.toml"),
                    format!("{dir}/src/lib.rs"),
                    format!("{dir}/.cargo-checksum.json"),
                ]
            );
            let version = format!("\"{}\"", tinydep.version);
            assert!(files[0].1.contains(&format!("version = {version}")));
            assert!(files[1].1.contains(&format!("VERSION: &str = {version}")));
            assert_eq!(
                files[2].1,
                format!("{{\"files\":{{}},\"package\":\"{}\"}}", tinydep.checksum)
            );
            assert_eq!(tinydep.checksum.len(), 64);
        }
    }

    #[test]
    fn tiny_workspace_replaces_crates_io_with_vendor() {
        let files = tiny_workspace_files();
        let config = files
            .iter()
            .find(|(path, _)| path == ".cargo/config.toml")
            .map(|(_, contents)| contents.as_str());
        assert!(config.is_some_and(|config| config.contains("directory = \"vendor\"")));
    }

    #[test]
    fn tiny_prepares_builds_offline_and_is_reused() {
        let cache = scratch_dir("tiny");
        let fixture = tiny(&cache).unwrap();
        assert_eq!(fixture.bump, "tinydep 1.0.0 -> 1.0.1");
        assert!(fixture.dir.join("vendor/tinydep-1.0.1").is_dir());
        assert!(fixture.dir.join(&fixture.core_file).is_file());
        assert!(fixture.dir.join(&fixture.leaf_file).is_file());
        assert!(!fixture.dir.join("target").exists());
        assert!(!cache.join("tiny.staging").exists());
        let base = read_lock(&fixture.dir.join("Cargo.lock")).unwrap();
        let bumped = read_lock(&fixture.bumped_lock).unwrap();
        assert_eq!(locked_version(&base, "tinydep").unwrap(), "1.0.0");
        assert_eq!(locked_version(&bumped, "tinydep").unwrap(), "1.0.1");
        // Reuse must not touch the tree: a planted file survives.
        fs::write(fixture.dir.join("planted"), "x").unwrap();
        let again = tiny(&cache).unwrap();
        assert!(again.dir.join("planted").exists());
        assert_eq!(again.bump, fixture.bump);
        fs::remove_dir_all(&cache).unwrap();
    }
}
