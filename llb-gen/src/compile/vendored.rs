//! Vendored crates out of the hot path: the crates of a `directory` source whose checksum
//! files list their files travel incrementally, are checked and fingerprinted once per
//! content, and are mounted read-only (see [`crate::project::vendored`] for which crates).
//!
//! * **Transfer.** The listed crates come through a context local whose shared key is the
//!   digest of every checksum file of the build ([`VendorPlan::key`]): BuildKit re-uses its
//!   previous copy and sends only files whose size or mtime changed. A same-size, same-mtime
//!   edit goes unseen by that transfer, so the key moves with any checksum file: an edit that
//!   `cargo vendor` (or a hand update of the sums) records makes the whole directory travel
//!   afresh. The checksum files, the crates' manifests and every unlisted crate travel afresh
//!   on every build, with the workspace's sources.
//! * **Tree.** Both are copied into one tree, every entry stamped [`VENDORED_MTIME`]: cargo
//!   fingerprints vendored crates by version, not mtime, and a vendored build script's
//!   `rerun-if-changed` must never see a time newer than its last run. Content changes reach
//!   cargo through the freshness pass instead, which drops a changed crate's fingerprints.
//! * **Check.** `cachet-helper vendored`, an exec keyed on the tree alone, checks every listed
//!   file's sha256 (a mismatch fails the build naming the file and the fix) and writes the
//!   tree's fingerprints, which every cargo step's freshness pass reads instead of hashing the
//!   tree itself (`premade` of `freshness::script`).
//! * **Mount.** Cargo and dependency-layer steps mount the tree read-only at the directory's
//!   place in the sources (`/cachet/src/<dir>`), and the check's output at [`PREMADE_DIR`].

use crate::llb::{Copy, Local, Mkfile, Mount, NetMode, State};
use crate::project::vendored::VendorPlan;

use std::collections::BTreeMap;

use serde_json::json;

use super::freshness::HELPER;
use super::sources::SDK_MARKER;
use super::{plan, CompileError, Context, StepKind, StepRecord};

/// Where the check's fingerprints of the vendored tree are mounted in cargo steps.
pub const PREMADE_DIR: &str = "/cachet/vendored";
/// Where the check step sees the tree.
const CHECK_ROOT: &str = "/cachet/vendored-tree";
/// The mtime of every entry of the vendored tree: 1980-01-01T00:00:00Z, in nanoseconds (the
/// earliest time every archive format can hold, should a build script pack its sources).
pub const VENDORED_MTIME: i64 = 315_532_800 * 1_000_000_000;

/// The vendored tree of a build, its check and what cargo steps mount.
#[derive(Clone)]
pub(super) struct Vendored {
    pub plan: VendorPlan,
    tree: State,
    premade: State,
}

impl Vendored {
    /// The mounts of a step that runs cargo under [`super::cargo_step::SRC_DIR`]: each
    /// directory's tree read-only at its place, and the check's fingerprints.
    pub fn mounts(&self, src_dir: &str) -> Vec<Mount> {
        let mut mounts: Vec<Mount> = self
            .plan
            .dirs
            .iter()
            .map(|d| {
                Mount::bind(format!("{src_dir}/{}", d.dir), &self.tree)
                    .source_path(format!("/{}", d.dir))
                    .readonly()
                    .into()
            })
            .collect();
        mounts.push(Mount::bind(PREMADE_DIR, &self.premade).readonly().into());
        mounts
    }

    /// The freshness pass's `premade` pairs: directory → its fingerprints file.
    pub fn premade(&self) -> Vec<(String, String)> {
        self.plan
            .dirs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.dir.clone(), format!("{PREMADE_DIR}/{i}")))
            .collect()
    }
}

impl Context<'_> {
    /// The build's vendored tree, planned once; `None` when no vendored crate lists its files
    /// (then the vendor directories travel with the sources, as every file does).
    pub(super) fn vendored(&mut self) -> Result<Option<Vendored>, CompileError> {
        if let Some(v) = &self.vendored {
            return Ok(v.clone());
        }
        let planned = self
            .plan
            .has(plan::VENDORED_TARGET, StepKind::VendoredCheck);
        let Some(plan) = self.layout.vendor.clone().filter(|_| planned) else {
            self.vendored = Some(None);
            return Ok(None);
        };
        let local = &self.request.context_local;
        let incremental = Local::new(local)?
            .session(self.request.session_id.clone())
            .exclude_patterns(self.excluded.iter().cloned())
            .include_patterns(plan.listed_patterns())
            // No session in the key: the previous transfer is re-used while no checksum file
            // changes (see the module docs).
            .shared_key_hint(format!("cachet-{local}-vendored-{}", plan.key))
            .custom_name("[cachet] load vendored crates (incremental)")
            .into_state();
        let fresh = Local::new(local)?
            .session(self.request.session_id.clone())
            .exclude_patterns(self.excluded.iter().cloned())
            .include_patterns(plan.fresh_patterns())
            .shared_key_hint(format!("cachet-{local}-{}", self.request.session_id))
            .custom_name("[cachet] load vendored checksums and unlisted crates")
            .into_state();
        let copy = |from: &State| {
            Copy::new(from, "/", "/")
                .dir_contents_only(true)
                .follow_symlinks(false)
                .timestamp(VENDORED_MTIME)
        };
        let tree = State::scratch()
            .file()
            .mkfile(
                Mkfile::new(SDK_MARKER, 0o644, format!("{}\n", self.sdk)).timestamp(VENDORED_MTIME),
            )
            .copy(copy(&incremental))
            // Last, so the checksum files and manifests of this build win.
            .copy(copy(&fresh))
            .custom_name("[cachet] snapshot vendored crates")
            .platform(self.step_platform())
            .build()?;
        let mut words = vec![
            HELPER.to_string(),
            "vendored".to_string(),
            "--root".to_string(),
            CHECK_ROOT.to_string(),
            "--out".to_string(),
            PREMADE_DIR.to_string(),
        ];
        for d in &plan.dirs {
            words.extend(["--dir".to_string(), d.dir.clone()]);
        }
        let sdk = self.sdk_state()?;
        let name = format!(
            "[cachet] check vendored crates ({})",
            plan.dirs
                .iter()
                .map(|d| d.dir.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let check = sdk
            .run(words)
            .mount(self.helper_mount()?)
            .mount(Mount::bind(CHECK_ROOT, &tree).readonly())
            .mount(Mount::bind(PREMADE_DIR, &State::scratch()))
            .network(NetMode::None)
            .platform(self.step_platform())
            .custom_name(name.clone())
            .build()?;
        self.steps.push(StepRecord {
            target: plan::VENDORED_TARGET.to_string(),
            kind: StepKind::VendoredCheck,
            name,
            digest: check.digest().to_string(),
            inputs: BTreeMap::from([
                (
                    "dirs".to_string(),
                    json!(plan.dirs.iter().map(|d| &d.dir).collect::<Vec<_>>()),
                ),
                ("checksums".to_string(), json!(plan.key)),
                (
                    "listed_crates".to_string(),
                    json!(plan.dirs.iter().map(|d| d.listed.len()).sum::<usize>()),
                ),
            ]),
            keys: None,
        });
        let vendored = Vendored {
            premade: check.get_mount(PREMADE_DIR)?,
            tree,
            plan,
        };
        self.vendored = Some(Some(vendored.clone()));
        Ok(Some(vendored))
    }
}
