//! The helper on temp directories: no Docker.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::freshness::{self, NewContent, Stamp, LEGACY_STATE_FILE, STATE_FILE};
use crate::watches::{package_of_run_dir, watched_paths, Problem, Watches};

struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!(
            "cachet-helper-{name}-{}-{:?}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(dir.join("src")).unwrap();
        Temp(dir)
    }
    fn src(&self) -> PathBuf {
        self.0.join("src")
    }
    fn state(&self) -> PathBuf {
        self.0.join("state")
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.src().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    /// One freshness pass with "now" = `t` seconds.
    fn pass(&self, t: i64) -> freshness::Report {
        freshness::run(&self.src(), &self.state(), at(t)).unwrap()
    }
    /// mtime of `rel` itself (links not followed), in seconds.
    fn lmtime(&self, rel: &str) -> i64 {
        secs(
            fs::symlink_metadata(self.src().join(rel))
                .unwrap()
                .modified()
                .unwrap(),
        )
    }
    /// mtime of what `rel` reaches (as cargo's `stat` sees it), in seconds.
    fn mtime(&self, rel: &str) -> i64 {
        secs(
            fs::metadata(self.src().join(rel))
                .unwrap()
                .modified()
                .unwrap(),
        )
    }
    /// Every entry (not following links) set to an old time, as a clamping checkout does.
    fn clamp(&self) {
        clamp(&self.src());
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn clamp(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            clamp(&entry.path());
        }
        if kind.is_file() {
            fs::File::options()
                .write(true)
                .open(entry.path())
                .unwrap()
                .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(CLAMP as u64))
                .unwrap();
        }
    }
}

const CLAMP: i64 = 978_307_200;
const T1: i64 = 2_000_000_000;
const T2: i64 = 2_000_000_100;
const T3: i64 = 2_000_000_200;

fn at(secs: i64) -> Stamp {
    Stamp { secs, nanos: 0 }
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn unchanged_files_keep_their_time_and_edits_get_now_whatever_mtime_they_arrive_with() {
    let d = Temp::new("files");
    d.write("a.rs", "a");
    d.write("nested/deep/b.rs", "b");
    d.clamp();
    let first = d.pass(T1);
    assert_eq!(first.new, first.entries, "everything is new the first time");
    assert_eq!(d.mtime("a.rs"), T1);
    assert_eq!(d.mtime("nested/deep/b.rs"), T1);

    d.clamp();
    assert_eq!(d.pass(T2).new, 0);
    assert_eq!(
        d.mtime("a.rs"),
        T1,
        "unchanged content keeps its virtual time"
    );

    // An edit deep in nested directories, arriving with the clamped time.
    d.write("nested/deep/b.rs", "B");
    d.clamp();
    assert_eq!(d.pass(T3).new, 1);
    assert_eq!(d.mtime("nested/deep/b.rs"), T3);
    assert_eq!(
        d.mtime("nested/deep"),
        T1,
        "an edit does not change a listing"
    );
    assert_eq!(d.mtime("a.rs"), T1);

    // A timestamp from the future does not stick.
    fs::File::options()
        .write(true)
        .open(d.src().join("a.rs"))
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(86_400 * 3650))
        .unwrap();
    d.pass(T3 + 1);
    assert_eq!(d.mtime("a.rs"), T1);
}

#[test]
fn reverting_content_is_a_change_too() {
    let d = Temp::new("revert");
    d.write("a.rs", "one");
    d.pass(T1);
    d.write("a.rs", "two");
    d.pass(T2);
    d.write("a.rs", "one");
    d.pass(T3);
    assert_eq!(d.mtime("a.rs"), T3);
}

#[test]
fn a_directory_whose_listing_changes_gets_now() {
    let d = Temp::new("dirs");
    d.write("data/one.txt", "1");
    d.write("data/sub/two.txt", "2");
    d.pass(T1);
    assert_eq!(d.mtime("data"), T1);

    d.write("data/three.txt", "3");
    d.clamp();
    d.pass(T2);
    assert_eq!(d.mtime("data"), T2, "a file added");
    assert_eq!(d.mtime("data/sub"), T1);
    assert_eq!(d.mtime("data/one.txt"), T1);

    fs::remove_file(d.src().join("data/sub/two.txt")).unwrap();
    d.pass(T3);
    assert_eq!(d.mtime("data/sub"), T3, "a file removed");
    assert_eq!(d.mtime("data"), T2, "a nested listing is not the parent's");

    // A file replaced by a directory of the same name changes the listing (kinds count).
    fs::remove_file(d.src().join("data/one.txt")).unwrap();
    fs::create_dir(d.src().join("data/one.txt")).unwrap();
    d.pass(T3 + 1);
    assert_eq!(d.mtime("data"), T3 + 1);
}

#[test]
fn names_with_any_bytes_are_tracked() {
    let d = Temp::new("names");
    let names = [
        "back\\slash.rs",
        "tab\there.rs",
        "new\nline.rs",
        "sp ace.rs",
    ];
    for n in names {
        d.write(n, "one");
    }
    // Not UTF-8 either.
    let raw = std::ffi::OsStr::from_bytes_for_test(b"latin\xe9.rs");
    fs::write(d.src().join(raw), "one").unwrap();
    d.pass(T1);
    for n in names {
        d.write(n, "two");
    }
    fs::write(d.src().join(raw), "two").unwrap();
    d.clamp();
    assert_eq!(d.pass(T2).new, names.len() + 1);
    for n in names {
        assert_eq!(d.mtime(n), T2, "{n:?}");
    }
    assert_eq!(
        secs(fs::metadata(d.src().join(raw)).unwrap().modified().unwrap()),
        T2
    );
}

trait FromBytes {
    fn from_bytes_for_test(b: &[u8]) -> &std::ffi::OsStr;
}
impl FromBytes for std::ffi::OsStr {
    fn from_bytes_for_test(b: &[u8]) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b)
    }
}

#[test]
fn a_repointed_symlink_to_a_file_is_newer_itself_and_through_it() {
    let d = Temp::new("filelink");
    d.write("one.txt", "1");
    d.write("two.txt", "2");
    symlink("one.txt", d.src().join("current.txt")).unwrap();
    d.pass(T1);
    assert_eq!(d.lmtime("current.txt"), T1);

    fs::remove_file(d.src().join("current.txt")).unwrap();
    symlink("two.txt", d.src().join("current.txt")).unwrap();
    d.pass(T2);
    assert_eq!(d.lmtime("current.txt"), T2, "the link itself (lutimes)");
    assert_eq!(
        d.mtime("current.txt"),
        T2,
        "what cargo stats through the link"
    );
    assert_eq!(
        d.mtime("one.txt"),
        T2,
        "the old target too: rustc's dep-info names it, not the link"
    );
    assert_eq!(d.mtime("two.txt"), T2);

    d.pass(T3);
    assert_eq!(d.mtime("one.txt"), T2, "stable once seen");
    assert_eq!(d.mtime("current.txt"), T2, "stable once seen");
}

#[test]
fn a_repointed_symlink_to_a_directory_makes_everything_seen_through_it_newer() {
    let d = Temp::new("dirlink");
    d.write("v1/mod.rs", "one");
    d.write("v2/mod.rs", "two");
    d.write("v2/deep/x.rs", "x");
    symlink("v1", d.src().join("current")).unwrap();
    d.pass(T1);
    d.pass(T2);
    assert_eq!(d.mtime("current/mod.rs"), T1);

    fs::remove_file(d.src().join("current")).unwrap();
    symlink("v2", d.src().join("current")).unwrap();
    d.pass(T3);
    assert_eq!(d.mtime("current/mod.rs"), T3);
    assert_eq!(d.mtime("current/deep/x.rs"), T3);
    assert_eq!(d.mtime("current/deep"), T3);
    assert_eq!(
        d.mtime("v1/mod.rs"),
        T3,
        "the old target, named by rustc's dep-info"
    );
    d.pass(T3 + 1);
    assert_eq!(d.mtime("v2/mod.rs"), T3, "stable once seen");
    assert_eq!(d.mtime("v1/mod.rs"), T3);

    // A chain: a link to the link. Re-pointing the inner one counts for the outer path.
    symlink("current", d.src().join("alias")).unwrap();
    d.pass(T3 + 2);
    assert_eq!(
        d.mtime("alias/mod.rs"),
        T3 + 2,
        "a new link: what it reaches is as new"
    );
    fs::remove_file(d.src().join("current")).unwrap();
    symlink("v1", d.src().join("current")).unwrap();
    d.pass(T3 + 3);
    assert_eq!(d.mtime("alias/mod.rs"), T3 + 3);
    assert_eq!(d.mtime("v2/mod.rs"), T3 + 3, "the old target of both links");
}

#[test]
fn an_inode_under_two_paths_gets_the_newer_time() {
    let d = Temp::new("hardlink");
    d.write("a.rs", "one");
    d.pass(T1);
    fs::hard_link(d.src().join("a.rs"), d.src().join("b.rs")).unwrap();
    d.pass(T2);
    assert_eq!(
        d.mtime("a.rs"),
        T2,
        "b.rs is new, and a.rs is the same inode"
    );
    assert_eq!(d.mtime("b.rs"), T2);
}

#[test]
fn symlink_loops_and_dangling_links_end() {
    let d = Temp::new("loops");
    symlink(".", d.src().join("self")).unwrap();
    symlink("b", d.src().join("a")).unwrap();
    symlink("a", d.src().join("b")).unwrap();
    symlink("nowhere", d.src().join("dangling")).unwrap();
    symlink("/etc", d.src().join("outside")).unwrap();
    let r = d.pass(T1);
    assert_eq!(r.entries, 6);
    assert_eq!(d.lmtime("self"), T1);
    assert_eq!(d.lmtime("dangling"), T1);
}

#[test]
fn an_old_or_unknown_state_format_makes_everything_new() {
    let d = Temp::new("upgrade");
    d.write("a.rs", "one");
    d.pass(T1);
    assert_eq!(d.pass(T2).new, 0);

    fs::write(d.state().join(STATE_FILE), b"cachet-freshness v0\nrubbish").unwrap();
    let r = d.pass(T3);
    assert_eq!(r.new, r.entries);
    assert!(r.fresh_state.is_some());
    assert_eq!(d.mtime("a.rs"), T3);

    // Truncated.
    let mut bytes = fs::read(d.state().join(STATE_FILE)).unwrap();
    bytes.truncate(bytes.len() - 3);
    fs::write(d.state().join(STATE_FILE), bytes).unwrap();
    assert_eq!(d.pass(T3 + 1).new, 2);

    // The shell pass's manifest is not ours: everything new, and it is removed.
    let e = Temp::new("legacy");
    e.write("a.rs", "one");
    fs::create_dir_all(e.state()).unwrap();
    fs::write(e.state().join(LEGACY_STATE_FILE), "x\t1\t./a.rs\n").unwrap();
    assert_eq!(e.pass(T1).new, 2);
    assert!(!e.state().join(LEGACY_STATE_FILE).exists());
}

#[test]
fn a_layer_gives_new_content_a_whole_second_before_now() {
    let now = Stamp::now(NewContent::Now);
    let layer = Stamp::now(NewContent::PreviousWholeSecond);
    assert_eq!(layer.nanos, 0);
    assert!(layer.secs < now.secs || (layer.secs == now.secs - 1));
}

fn watches(d: &Temp, include: &[&str], exclude: &[&str]) -> Watches {
    Watches {
        spec: "Cachet.toml".into(),
        src: d.src(),
        target_dir: d.0.join("target"),
        packages: BTreeMap::from([("facts".to_string(), "crates/facts".to_string())]),
        include: include.iter().map(|s| s.to_string()).collect(),
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
    }
}

fn build_output(d: &Temp, dir: &str, text: &str) {
    let p = d.0.join("target").join(dir);
    fs::create_dir_all(&p).unwrap();
    fs::write(p.join("output"), text).unwrap();
}

#[test]
fn watched_paths_outside_the_snapshot_are_problems() {
    let d = Temp::new("watches");
    d.write("crates/facts/build.rs", "");
    build_output(
        &d,
        "x86_64-unknown-linux-gnu/release/build/facts-0123456789abcdef",
        "cargo:rustc-env=X=1\n\
         cargo:rerun-if-changed=build.rs\n\
         cargo:rerun-if-changed=../../shared/data.txt\n\
         cargo::rerun-if-changed=../../other/also.txt\n\
         cargo:rerun-if-changed=../../ignored/x\n\
         cargo:rerun-if-changed=/usr/include/stdio.h\n\
         cargo:rerun-if-changed=../../../outside\n\
         cargo:rerun-if-changed=../../extra/inc/a.h\n\
         cargo:rerun-if-changed=../../stub.rs\n",
    );
    d.write("stub.rs", "");
    // Another package's output (a vendored crate of the same shape) is not checked.
    build_output(
        &d,
        "release/build/serde-0123456789abcdef",
        "cargo:rerun-if-changed=../../x\n",
    );
    let w = watches(
        &d,
        &["Cargo.toml", "crates/facts/**", "extra"],
        &["ignored", "target"],
    );
    let problems = w.check().unwrap();
    assert_eq!(
        problems,
        [
            Problem {
                package: "facts".into(),
                path: "shared/data.txt".into()
            },
            Problem {
                package: "facts".into(),
                path: "other/also.txt".into()
            },
        ]
    );
    assert_eq!(
        problems[0].message("Cachet.toml"),
        "Cachet.toml: build script of facts watches shared/data.txt, which is not in the \
         sources Cachet gave the step; add `include = [\"shared/data.txt\"]` under [project]"
    );
    // With the include the issue asks for, and for a whole-context snapshot, nothing.
    let fixed = watches(
        &d,
        &["crates/facts/**", "extra", "shared/data.txt", "other"],
        &["ignored"],
    );
    assert_eq!(fixed.check().unwrap(), []);
    assert_eq!(watches(&d, &[], &[]).check().unwrap(), []);
    // A `!` exception brings the path back into the context, so it is a problem again.
    let reincluded = watches(
        &d,
        &["crates/facts/**", "extra", "shared", "other"],
        &["ignored", "!ignored/x"],
    );
    assert_eq!(
        reincluded.check().unwrap(),
        [Problem {
            package: "facts".into(),
            path: "ignored/x".into()
        }]
    );
}

#[test]
fn only_the_newest_run_directory_of_a_package_counts() {
    let d = Temp::new("newest");
    let old = "x86_64-unknown-linux-gnu/release/build/facts-00000000000000aa";
    let new = "x86_64-unknown-linux-gnu/release/build/facts-00000000000000bb";
    build_output(&d, old, "cargo:rerun-if-changed=../../gone.txt\n");
    fs::File::options()
        .write(true)
        .open(d.0.join("target").join(old).join("output"))
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(CLAMP as u64))
        .unwrap();
    build_output(&d, new, "cargo:rerun-if-changed=build.rs\n");
    assert_eq!(watches(&d, &["crates/facts"], &[]).check().unwrap(), []);
}

#[test]
fn run_directories_and_directives_parse() {
    assert_eq!(
        package_of_run_dir("proc-macro2-0123456789abcdef"),
        Some("proc-macro2")
    );
    assert_eq!(package_of_run_dir("facts-xyz"), None);
    assert_eq!(
        watched_paths(
            b"cargo:rerun-if-changed=a b\r\ncargo::rerun-if-changed=c\ncargo:warning=d\n"
        ),
        [PathBuf::from("a b"), PathBuf::from("c")]
    );
}

#[test]
fn a_vendored_crate_edited_in_place_loses_its_fingerprints() {
    let d = Temp::new("vendored");
    d.write(
        "vendor/tiny/Cargo.toml",
        "[package]\nedition = \"2021\"\nname = \"tiny\"\nversion = \"0.1.0\"\n\n[dependencies]\nname = \"x\"\n",
    );
    d.write("vendor/tiny/src/lib.rs", "pub fn one() {}");
    d.write("vendor/other/Cargo.toml", "[package]\nname = 'other'\n");
    d.write("vendor/other/src/lib.rs", "");
    let target = d.0.join("target");
    let state = target.join(".cachet");
    let vendor = [PathBuf::from("vendor")];
    let pass = |t| freshness::run_vendored(&d.src(), &state, at(t), &vendor).unwrap();
    pass(T1);
    let units = [
        "release/.fingerprint/tiny-0123456789abcdef",
        "x86_64-unknown-linux-gnu/release/.fingerprint/tiny-fedcba9876543210",
        "x86_64-unknown-linux-gnu/release/.fingerprint/tiny-extra-0123456789abcdef",
        "x86_64-unknown-linux-gnu/release/.fingerprint/other-0123456789abcdef",
    ];
    for u in units {
        fs::create_dir_all(target.join(u)).unwrap();
    }
    assert_eq!(pass(T2).vendored_rebuilt, Vec::<String>::new());
    d.write("vendor/tiny/src/lib.rs", "pub fn two() {}");
    d.clamp();
    assert_eq!(pass(T3).vendored_rebuilt, ["tiny"]);
    let left: Vec<bool> = units.iter().map(|u| target.join(u).exists()).collect();
    assert_eq!(left, [false, false, true, true], "only tiny's units");
    assert_eq!(
        crate::freshness::package_name("[package]\nname = 'x'\n"),
        Some("x".into())
    );
    assert_eq!(
        crate::freshness::package_name("[lib]\nname = \"y\"\n"),
        None
    );
}

#[test]
fn the_listing_for_the_why_step_has_one_line_per_file_or_link_whatever_its_name() {
    let d = Temp::new("listing");
    d.write("a.rs", "one");
    d.write("dir/tab\there.rs", "two");
    symlink("a.rs", d.src().join("link")).unwrap();
    let report = d.pass(T1);
    let mut out = Vec::new();
    freshness::write_listing(&report.sources, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let paths: Vec<&str> = text
        .lines()
        .map(|l| {
            let (hash, path) = l.split_once('\t').unwrap();
            assert_eq!(hash.len(), 64, "{l}");
            path
        })
        .collect();
    assert_eq!(
        paths,
        ["a.rs", "dir/tab\\there.rs", "link"],
        "no directories, escaped names"
    );
    d.write("a.rs", "changed");
    let again = d.pass(T2);
    assert_ne!(
        again.sources[0].1, report.sources[0].1,
        "an edit moves its fingerprint"
    );
}

/// A vendor directory inside `d`'s sources (as the read-only mount puts it there): `tiny`,
/// and `other` whose checksum file lists its one file.
fn vendor_tree(d: &Temp) {
    d.write("Cargo.toml", "[package]\nname = 'app'\n");
    d.write("src/main.rs", "fn main() {}");
    d.write("vendor/tiny/Cargo.toml", "[package]\nname = \"tiny\"\n");
    d.write("vendor/tiny/src/lib.rs", "pub fn one() {}");
    d.write("vendor/tiny/.cargo-checksum.json", "{\"files\":{}}");
    d.write("vendor/other/src/lib.rs", "// other\n");
    let sum = sha256_hex(b"// other\n");
    d.write(
        "vendor/other/.cargo-checksum.json",
        &format!("{{\"files\":{{\"src/lib.rs\":\"{sum}\"}},\"package\":\"x\"}}"),
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_premade_vendored_tree_counts_like_a_walked_one_and_keeps_its_mtimes() {
    let d = Temp::new("premade");
    vendor_tree(&d);
    d.clamp();
    let premade_file = d.0.join("premade-0");
    let target = d.0.join("target");
    let state = target.join(".cachet");
    let vendor = [PathBuf::from("vendor")];
    let premade = [(PathBuf::from("vendor"), premade_file.clone())];
    let pass = |t| {
        freshness::write_premade(&d.src().join("vendor"), &premade_file).unwrap();
        freshness::run_premade(&d.src(), &state, at(t), &vendor, &premade).unwrap()
    };
    let first = pass(T1);
    // The same tree walked: the same entries and fingerprints.
    let walked_state = d.0.join("walked");
    let walked = freshness::run_vendored(&d.src(), &walked_state, at(T1), &vendor).unwrap();
    assert_eq!(first.entries, walked.entries);
    assert_eq!(first.sources, walked.sources);
    d.clamp();
    let old = d.lmtime("vendor/tiny/src/lib.rs");
    let unit = target.join("release/.fingerprint/tiny-0123456789abcdef");
    fs::create_dir_all(&unit).unwrap();
    let again = pass(T2);
    assert_eq!((again.new, again.vendored_rebuilt.len()), (0, 0));
    assert_eq!(
        d.lmtime("src/main.rs"),
        T1,
        "walked entries get their virtual time"
    );
    assert_eq!(
        d.lmtime("vendor/tiny/src/lib.rs"),
        old,
        "premade ones keep theirs"
    );
    // Same size, clamped mtime: the premade fingerprints see it, the crate is rebuilt.
    d.write("vendor/tiny/src/lib.rs", "pub fn two() {}");
    d.clamp();
    let edited = pass(T3);
    assert_eq!(edited.vendored_rebuilt, ["tiny"]);
    assert!(!unit.exists(), "tiny's fingerprints are gone");
    assert!(edited.new >= 1);
}

#[test]
fn the_vendored_check_accepts_listed_files_and_names_every_other_one() {
    let d = Temp::new("vendored-check");
    vendor_tree(&d);
    let out = d.0.join("out");
    fs::create_dir_all(&out).unwrap();
    let check = || crate::vendored::check(&d.src(), &["vendor".to_string()], &out).unwrap();
    assert_eq!(check(), Vec::<String>::new());
    assert!(out.join("0").exists(), "the fingerprints are written");
    // Anything goes in a crate that lists no files.
    d.write("vendor/tiny/src/extra.rs", "");
    assert_eq!(check(), Vec::<String>::new());
    // A listed file that does not match its sum.
    d.write("vendor/other/src/lib.rs", "// OTHER\n");
    let problems = check();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("vendor/other/src/lib.rs does not match the sha256")
            && problems[0].contains("`touch` it"),
        "{problems:?}"
    );
    d.write("vendor/other/src/lib.rs", "// other\n");
    // A file the list does not name, and a listed one gone.
    d.write("vendor/other/src/new.rs", "");
    let problems = check();
    assert!(
        problems.len() == 1 && problems[0].starts_with("vendor/other/src/new.rs is not listed"),
        "{problems:?}"
    );
    fs::remove_file(d.src().join("vendor/other/src/new.rs")).unwrap();
    fs::remove_file(d.src().join("vendor/other/src/lib.rs")).unwrap();
    let problems = check();
    assert!(
        problems.len() == 1 && problems[0].contains("src/lib.rs is listed in"),
        "{problems:?}"
    );
}
