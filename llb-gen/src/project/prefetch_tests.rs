//! The first round's prefetch: one round where the level-by-level discovery needs several, and
//! exactly the files it reads.

use super::tests::files;
use super::*;

/// Drives `discovery` over `context` the way the frontend drives it over BuildKit: each round
/// transfers what the round's patterns match, minus what the round excludes (`target` and
/// `.git`, the ignore file that applies, which the first round knows only when it is the
/// spec's own, and [`Discovery::next_excludes`]). Exclude patterns match as BuildKit matches
/// them: the path or one of its ancestors. Returns the files and the rounds.
fn drive(
    mut discovery: Discovery,
    context: &ProjectFiles,
    spec_ignore: Option<&str>,
) -> (ProjectFiles, usize) {
    let mut ignore: Option<String> = spec_ignore.map(str::to_string);
    while discovery.next_patterns().is_some() {
        let mut excluded: Vec<String> = ALWAYS_EXCLUDED.iter().map(|s| s.to_string()).collect();
        if let Some(text) = &ignore {
            excluded.extend(dockerignore::patterns(text));
        }
        excluded.extend(discovery.next_excludes().iter().map(|s| s.to_string()));
        let excluded = PatternSet::new(&excluded);
        let hidden = |path: &str| {
            std::iter::successors(Some(path), |p| p.rsplit_once('/').map(|(d, _)| d))
                .any(|p| excluded.is_match(p))
        };
        let mut read = Vec::new();
        for (path, bytes) in &context.files {
            if !hidden(path) && discovery.wants(path, bytes.len() as u64).unwrap() {
                read.push((path.clone(), bytes.clone()));
            }
        }
        if ignore.is_none() {
            ignore = read
                .iter()
                .find(|(p, _)| p == dockerignore::DOCKERIGNORE)
                .map(|(_, t)| String::from_utf8(t.clone()).unwrap());
        }
        discovery.feed(read).unwrap();
    }
    let rounds = discovery.rounds();
    (discovery.into_files(), rounds)
}

/// Both ways; asserts they read the same files, returns them with the prefetch's rounds.
fn both(context: &ProjectFiles, spec_ignore: Option<&str>) -> (ProjectFiles, usize, usize) {
    let (levels, level_rounds) = drive(Discovery::without_prefetch(), context, spec_ignore);
    let mut prefetching = Discovery::new();
    if let Some(text) = spec_ignore {
        prefetching = prefetching.ignoring(text.as_bytes().to_vec());
    }
    let (prefetched, rounds) = drive(prefetching, context, spec_ignore);
    assert_eq!(
        prefetched.files.keys().collect::<Vec<_>>(),
        levels.files.keys().collect::<Vec<_>>(),
        "the prefetch hands on what the level-by-level discovery reads, not what it holds"
    );
    assert_eq!(prefetched, levels);
    (prefetched, rounds, level_rounds)
}

const RIPGREP_MEMBERS: [&str; 9] = [
    "globset", "grep", "cli", "matcher", "pcre2", "printer", "regex", "searcher", "ignore",
];

/// ripgrep as its repository lays it out: a root package naming its members one by one and
/// depending on some by path, members depending on each other (`../matcher`), a vendor
/// directory the cargo config points crates.io at, and fixtures nothing names.
fn ripgrep() -> ProjectFiles {
    let mut entries: Vec<(String, String)> = Vec::new();
    let members: Vec<String> = RIPGREP_MEMBERS
        .iter()
        .map(|m| format!("\"crates/{m}\""))
        .collect();
    entries.push((
        "Cargo.toml".into(),
        format!(
            "[package]\nname = \"ripgrep\"\n[[bin]]\nname = \"rg\"\npath = \"crates/core/main.rs\"\n\
             [workspace]\nmembers = [{}]\n[dependencies]\ngrep = {{ path = \"crates/grep\" }}\n\
             ignore = {{ path = \"crates/ignore\" }}\nserde_json = \"1\"\n",
            members.join(", ")
        ),
    ));
    for member in RIPGREP_MEMBERS {
        let deps = match member {
            "grep" => "grep-cli = { path = \"../cli\" }\ngrep-matcher = { path = \"../matcher\" }\n\
                       grep-printer = { path = \"../printer\" }\ngrep-searcher = { path = \"../searcher\" }\n\
                       grep-regex = { path = \"../regex\" }\ngrep-pcre2 = { path = \"../pcre2\", optional = true }\n",
            "ignore" => "globset = { path = \"../globset\" }\n",
            "printer" | "searcher" | "regex" | "pcre2" => "grep-matcher = { path = \"../matcher\" }\n",
            _ => "",
        };
        entries.push((
            format!("crates/{member}/Cargo.toml"),
            format!("[package]\nname = \"{member}\"\n[dependencies]\n{deps}serde = \"1\"\n"),
        ));
    }
    entries.push((
        "Cargo.lock".into(),
        "version = 3\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
            .into(),
    ));
    entries.push((
        ".cargo/config.toml".into(),
        "[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"vendor\"\n"
            .into(),
    ));
    for i in 0..58 {
        entries.push((
            format!("vendor/crate{i}-1.0.{i}/Cargo.toml"),
            format!("[package]\nname = \"crate{i}\"\n"),
        ));
    }
    entries.push((
        "crates/ignore/tests/data/Cargo.toml".into(),
        "[package]\nname = \"fixture\"\n".into(),
    ));
    entries.push(("crates/core/main.rs".into(), "fn main() {}\n".into()));
    let refs: Vec<(&str, &str)> = entries
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    files(&refs)
}

#[test]
fn a_ripgrep_shaped_workspace_needs_one_round() {
    let context = ripgrep();
    let (read, rounds, level_rounds) = both(&context, None);
    assert_eq!(rounds, 1);
    assert_eq!(
        level_rounds, 2,
        "root, then the members (their path deps are members)"
    );
    assert_eq!(read.files.len(), 12, "{:?}", read.files.keys());
    assert!(read.files.keys().all(|p| !p.starts_with("vendor/")));
    assert!(!read
        .files
        .contains_key("crates/ignore/tests/data/Cargo.toml"));
    assert_eq!(analyze(&read), analyze(&context));
}

#[test]
fn the_prefetch_leaves_out_the_vendor_directory_and_holds_only_what_it_was_sent() {
    let discovery = Discovery::new();
    assert_eq!(
        discovery.next_excludes(),
        ["vendor/*/Cargo.toml", "vendor/*/*/Cargo.toml"]
    );
    assert_eq!(
        discovery.wants("vendor/a-1.0.0/.cargo-checksum.json", 1),
        Ok(true),
        "the checksum files a vendoring config asks for"
    );
    assert_eq!(discovery.wants("vendor/a-1.0.0/Cargo.toml", 1), Ok(false));
    assert_eq!(discovery.wants("crates/a/Cargo.toml", 1), Ok(true));
    assert_eq!(discovery.wants("a/b/c/Cargo.toml", 1), Ok(true));
    assert_eq!(
        discovery.wants("a/b/c/d/Cargo.toml", 1),
        Ok(false),
        "deeper than the prefetch"
    );
    assert_eq!(discovery.wants("crates/a/src/lib.rs", 1), Ok(false));
    assert!(Discovery::without_prefetch().next_excludes().is_empty());
}

#[test]
fn a_path_dependency_where_the_first_round_did_not_look_costs_one_round() {
    let mut context = ripgrep();
    // A member depending on a crate four levels deep, and the root patching a vendored crate.
    context.files.insert(
        "crates/cli/Cargo.toml".into(),
        b"[package]\nname = \"cli\"\n[dependencies]\ndeep = { path = \"../../third/party/rust/deep\" }\n"
            .to_vec(),
    );
    context.files.insert(
        "third/party/rust/deep/Cargo.toml".into(),
        b"[package]\nname = \"deep\"\n[dependencies]\nnear = { path = \"../../../../near\" }\n"
            .to_vec(),
    );
    // What the deep crate names is back where the prefetch looked: no third round.
    context.files.insert(
        "near/Cargo.toml".into(),
        b"[package]\nname = \"near\"\n".to_vec(),
    );
    let (read, rounds, level_rounds) = both(&context, None);
    assert_eq!(rounds, 2);
    assert_eq!(level_rounds, 4);
    assert!(read.files.contains_key("third/party/rust/deep/Cargo.toml"));
    assert!(read.files.contains_key("near/Cargo.toml"));

    let mut patched = ripgrep();
    let root = String::from_utf8(patched.files["Cargo.toml"].clone()).unwrap();
    patched.files.insert(
        "Cargo.toml".into(),
        format!("{root}[patch.crates-io]\ncrate3 = {{ path = \"vendor/crate3-1.0.3\" }}\n")
            .into_bytes(),
    );
    let (read, rounds, _) = both(&patched, None);
    assert_eq!(
        rounds, 2,
        "the vendor directory was left out of the first round"
    );
    assert!(read.files.contains_key("vendor/crate3-1.0.3/Cargo.toml"));
}

#[test]
fn what_the_ignore_file_may_hide_is_asked_for_again() {
    let mut context = ripgrep();
    context
        .files
        .insert(".dockerignore".into(), b"crates/pcre2\n".to_vec());
    let (read, rounds, _) = both(&context, None);
    assert!(
        !read.files.contains_key("crates/pcre2/Cargo.toml"),
        "excluded"
    );
    assert_eq!(rounds, 2, "the member list names the ignored member");

    // The spec's own ignore file, applied from the first round on: nothing to ask again.
    let (read, rounds, _) = both(&ripgrep(), Some("crates/pcre2\n"));
    assert!(!read.files.contains_key("crates/pcre2/Cargo.toml"));
    assert_eq!(rounds, 1);

    // An ignore file that hides nothing the build names costs nothing.
    let mut context = ripgrep();
    context
        .files
        .insert(".dockerignore".into(), b"docs\n*.md\n!README.md\n".to_vec());
    let (_, rounds, _) = both(&context, None);
    assert_eq!(rounds, 1);
}

#[test]
fn a_member_glob_spelled_like_the_prefetch_is_answered_by_it() {
    let context = files(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"*\"]\n"),
        ("a/Cargo.toml", "[package]\nname = \"a\"\n"),
        ("b/Cargo.toml", "[package]\nname = \"b\"\n"),
        ("b/c/Cargo.toml", "[package]\nname = \"c\"\n"),
    ]);
    let (read, rounds, _) = both(&context, None);
    assert_eq!(
        read.files.keys().collect::<Vec<_>>(),
        ["Cargo.toml", "a/Cargo.toml", "b/Cargo.toml"]
    );
    // `*` may match `vendor`, which the prefetch left out.
    assert_eq!(rounds, 2);
}

#[test]
fn coverage_is_judged_from_the_spelling_conservatively() {
    let mut discovery = Discovery::new();
    assert!(
        !discovery.covers("crates/a/Cargo.toml"),
        "nothing before the first round"
    );
    discovery.feed(Vec::new()).unwrap();
    for covered in [
        "crates/a/Cargo.toml",
        "crates/*/Cargo.toml",
        "a/b/c/Cargo.toml",
        "c?/x*/Cargo.toml",
        ".hidden/Cargo.toml",
    ] {
        assert!(discovery.covers(covered), "{covered}");
    }
    for not in [
        "Cargo.toml",
        "a/b/c/d/Cargo.toml",
        "**/Cargo.toml",
        "crates/**/Cargo.toml",
        "crates/{a,b}/Cargo.toml",
        "crates/[ab]/Cargo.toml",
        "vendor/x/Cargo.toml",
        "*/x/Cargo.toml",
        "v*/Cargo.toml",
        "crates/a/Cargo.lock",
        "crates//Cargo.toml",
    ] {
        assert!(!discovery.covers(not), "{not}");
    }
    let mut levels = Discovery::without_prefetch();
    levels.feed(Vec::new()).unwrap();
    assert!(!levels.covers("crates/a/Cargo.toml"));
}

#[test]
fn maybe_ignored_errs_towards_excluding() {
    let maybe = MaybeIgnored::new(Some(b"crates/x\n*.md\n**/gen\n!crates/x/keep\n"));
    for path in [
        "crates/x/Cargo.toml",
        "crates/x/keep/Cargo.toml",
        "a/b/README.md",
        "deep/er/gen/Cargo.toml",
    ] {
        assert!(maybe.may_exclude(path), "{path}");
    }
    assert!(!maybe.may_exclude("crates/y/Cargo.toml"));
    assert!(!MaybeIgnored::new(None).may_exclude("anything"));
    assert!(MaybeIgnored::new(Some(b"crates/[xy]\n")).may_exclude("other/Cargo.toml"));
}
