//! Project discovery: the frontend's rounds of [`metadata_patterns`] and [`matches_any`] over
//! an in-memory context (every non-`@` member is a file), [`analyze`] on what they read, and
//! every question a cargo step asks of the layout (`select`, `dependency_members`,
//! `source_snapshot`, `manifest_snapshot`, `needs_fetch`) for the cargo commands in `@cargo`
//! and a few defaults.
//!
//! One property is checked besides "no panic": the `llb-gen` CLI reads every metadata file
//! at once ([`METADATA_PATTERNS`]) where the frontend reads in rounds, and the project module
//! promises both give the same layout.
//!
//! [`metadata_patterns`]: llb_gen::project::metadata_patterns
//! [`matches_any`]: llb_gen::project::matches_any
//! [`analyze`]: llb_gen::project::analyze
//! [`METADATA_PATTERNS`]: llb_gen::project::METADATA_PATTERNS

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use llb_gen::project::{self, ProjectFiles, ProjectLayout, ALWAYS_EXCLUDED, METADATA_PATTERNS};

use super::{commands, discover, manifest_contexts, mutate_files, mutate_member};
use crate::bundle::Bundle;
use crate::engine::{bucket, Features, Target};
use crate::gen;
use crate::mutate::Mutator;

pub struct ProjectTarget;

const CARGO: &str = "@cargo";

pub const MANIFEST_WORDS: &[&str] = &[
    "[package]",
    "[workspace]",
    "[lib]",
    "[[bin]]",
    "[[test]]",
    "[[bench]]",
    "[[example]]",
    "[dependencies]",
    "[dev-dependencies]",
    "[build-dependencies]",
    "[workspace.dependencies]",
    "[patch.crates-io]",
    "[replace]",
    "[target.'cfg(unix)'.dependencies]",
    "[[package]]",
    "[source.crates-io]",
    "[source.vendored-sources]",
    "[toolchain]",
    "members",
    "exclude",
    "default-members",
    "path",
    "name",
    "build",
    "workspace",
    "version",
    "source",
    "replace-with",
    "directory",
    "local-registry",
    "\"crates/*\"",
    "\"../core\"",
    "\"..\"",
    "\".\"",
    "{ path = \"../core\" }",
    "{ workspace = true }",
    "true",
    "false",
    "\"registry+https://github.com/rust-lang/crates.io-index\"",
    "\"vendor\"",
];

/// The cargo commands asked about in every run besides those in `@cargo`.
const DEFAULT_COMMANDS: &[&[&str]] = &[
    &["build"],
    &["build", "--workspace"],
    &["test", "-p", "app"],
    &["clippy", "--all", "--", "-p", "x"],
];

impl Target for ProjectTarget {
    fn name(&self) -> &'static str {
        "project"
    }

    fn about(&self) -> &'static str {
        "metadata_patterns/matches_any rounds, analyze, and the layout's snapshots"
    }

    fn primary(&self) -> &'static str {
        "Cargo.toml"
    }

    fn words(&self) -> &'static [&'static str] {
        MANIFEST_WORDS
    }

    fn seeds(&self, rng: &mut fastrand::Rng) -> Vec<Bundle> {
        let mut seeds = crate::seeds::repo_seeds(self.name(), "Cargo.toml");
        let mut contexts: Vec<BTreeMap<String, Vec<u8>>> = crate::seeds::examples()
            .into_iter()
            .map(|e| e.files)
            .collect();
        contexts.extend(manifest_contexts());
        for _ in 0..96 {
            let dna = gen::dna(rng);
            if let Ok(ws) = gen::workspace(&mut Unstructured::new(&dna)) {
                contexts.push(ws);
            }
        }
        for context in contexts {
            let mut b = Bundle::default();
            b.members.extend(context);
            if rng.bool() {
                b.set(CARGO, b"build -p app\ntest --workspace\ncheck --package=core -p tool\nbuild -pgreeting\n".to_vec());
            }
            seeds.push(b);
        }
        seeds
    }

    fn mutate(&self, input: &mut Bundle, m: &mut Mutator) {
        if m.rng.u8(..12) == 0 {
            mutate_member(input, CARGO, m);
        } else {
            mutate_files(input, m);
        }
    }

    fn run(&self, input: &Bundle, f: &mut Features) {
        let context: BTreeMap<String, Vec<u8>> =
            input.files().map(|(k, v)| (k.clone(), v.clone())).collect();
        let (files, rounds) = discover(&context);
        f.add(("rounds", rounds, bucket(files.files.len())));
        let layout = project::analyze(&files);
        describe(&layout, f);

        if rounds.is_some() {
            let everything = read_like_the_cli(&context);
            let cli = project::analyze(&everything);
            assert_eq!(
                cli, layout,
                "the CLI (every metadata file) and the frontend (rounds of metadata_patterns) \
                 see different layouts"
            );
        }

        let mut cmds: Vec<Vec<String>> = DEFAULT_COMMANDS
            .iter()
            .map(|c| c.iter().map(|s| s.to_string()).collect())
            .collect();
        cmds.extend(commands(&input.lines(CARGO)));
        ask(&layout, &cmds, &[], f);
    }
}

/// The context as `llb-gen` reads it: every file matching [`METADATA_PATTERNS`] outside the
/// top-level build output and VCS data (`read_project_files` in its `request.rs`).
fn read_like_the_cli(context: &BTreeMap<String, Vec<u8>>) -> ProjectFiles {
    static SET: std::sync::OnceLock<globset::GlobSet> = std::sync::OnceLock::new();
    let set = SET.get_or_init(|| {
        let mut set = globset::GlobSetBuilder::new();
        for p in METADATA_PATTERNS {
            set.add(globset::Glob::new(p).expect("METADATA_PATTERNS are globs"));
        }
        set.build().expect("METADATA_PATTERNS build")
    });
    let mut files = ProjectFiles::default();
    for (path, bytes) in context {
        let top = path.split('/').next().unwrap_or_default();
        if !ALWAYS_EXCLUDED.contains(&top) && set.is_match(path) {
            files.files.insert(path.clone(), bytes.clone());
        }
    }
    files
}

pub fn describe(layout: &ProjectLayout, f: &mut Features) {
    match &layout.workspace {
        None => f.add("no workspace"),
        Some(ws) => {
            f.add((
                "workspace",
                bucket(ws.packages.len()),
                bucket(ws.members.len()),
                bucket(ws.default_members.len()),
            ));
            for p in ws.packages.values() {
                f.add((
                    "package",
                    p.lib_path.is_some(),
                    p.build_path.is_some(),
                    bucket(p.targets.len()),
                    bucket(p.path_deps.len()),
                    p.dir.is_empty(),
                ));
            }
        }
    }
    f.add((
        "config",
        bucket(layout.config_dirs.len()),
        layout.cargo_config.len(),
        layout.vendored_by_user,
    ));
    f.add(("toolchain", layout.toolchain_files.len()));
    f.add((
        "fetch",
        bucket(layout.remote_packages),
        layout.needs_fetch(),
    ));
}

/// What the cargo steps ask of the layout, for each command.
pub fn ask(layout: &ProjectLayout, cmds: &[Vec<String>], include: &[String], f: &mut Features) {
    let manifest = layout.manifest_snapshot();
    f.add((
        "manifest snapshot",
        bucket(manifest.include.len()),
        bucket(manifest.stubs.len()),
    ));
    for cmd in cmds {
        let selected = layout.select(cmd);
        let deps = layout.dependency_members(cmd);
        let snapshot = layout.source_snapshot(selected.as_ref(), include);
        if let Some(sel) = &selected {
            for d in &deps {
                assert!(
                    sel.contains(d),
                    "dependency member {d} is not among the selected packages"
                );
            }
        }
        for stub in &snapshot.stubs {
            assert!(
                !snapshot.include.contains(stub),
                "stand-in {stub} for a file the snapshot includes"
            );
        }
        f.add((
            "select",
            selected.as_ref().map(|s| bucket(s.len())),
            bucket(deps.len()),
            bucket(snapshot.include.len()),
            bucket(snapshot.stubs.len()),
        ));
    }
}
