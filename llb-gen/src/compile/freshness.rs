//! Timestamp-proof freshness: the pass that runs before cargo in every cargo step and
//! dependency-layer step, and the check of build-script watches after a cargo step.
//!
//! Cargo decides what to rebuild by comparing source mtimes with the mtimes of its own
//! fingerprints. Source mtimes cannot be trusted in a container build: COPY may reset or clamp
//! them, archives carry old ones, an edit may land with a time older than the last build, or in
//! the future. Any of these makes cargo skip a real edit (stale output) or rebuild forever.
//!
//! So cargo never sees the snapshot's mtimes. Beside the target directory (in the same keyed
//! cache mount) we keep a manifest: for every source file, its content hash and a *virtual
//! mtime* — the time this target directory first saw that content. Before cargo runs, each
//! file's mtime is set to its virtual mtime: unchanged content keeps the time it had, and new or
//! changed content gets "now", which is later than every fingerprint in the target directory.
//! A compiled unit is therefore fresh exactly when it was built after the last content change
//! of each of its inputs, whatever timestamps the sources arrived with.
//!
//! The manifest is written before cargo starts, so a failed or killed cargo leaves a manifest
//! whose times are still later than anything it did not finish building. The mtimes are changed
//! only in the step's private view of the sources (a writable mount without output): the
//! snapshot and every output keep the timestamps the user gave them. Concurrent builds on one
//! mount are serialized (the mount is `locked`), so no two manifests race.

/// Directory inside the target cache mount where Cachet keeps its own state.
pub const STATE_DIR_NAME: &str = ".cachet";

/// The virtual mtime new or changed content gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewContent {
    /// Now, to the nanosecond: later than every fingerprint already in the target cache (a
    /// whole-second "now" can be older than a fingerprint written earlier in the same second,
    /// and the edit would be missed). For cargo steps, whose target cache never leaves the
    /// builder.
    Now,
    /// The whole second before now. For dependency layers: exporting a layer (registry cache,
    /// inline cache, images) truncates every mtime to whole seconds, so a fingerprint written a
    /// moment after a nanosecond "now" can come back *older* than the sources it was built
    /// from, and cargo would rebuild everything seeded from the layer. Every fingerprint the
    /// layer's cargo writes is at least a second later than this, truncated or not; nothing
    /// in the layer is older and stale, since the layer starts empty or from a layer below
    /// that holds none of the units whose sources are new here.
    PreviousWholeSecond,
}

/// Where the helper's directory of the frontend image is mounted in a step.
pub const HELPER_DIR: &str = "/cachet/helper";
/// The directory of the frontend image that holds the helper (the mount's selector).
pub const HELPER_SELECTOR: &str = "/helper";
/// The helper binary inside a step.
pub const HELPER: &str = "/cachet/helper/cachet-helper";

/// The shell line that sets every entry under the current directory to its virtual time,
/// keeping the manifest in `state_dir` (inside the target directory). `vendor_dirs` are the
/// context's directory sources (`.cargo/config`): cargo never re-checks a vendored crate's
/// files, so when one changes in place the helper removes that crate's fingerprints and cargo
/// rebuilds it (see the helper's `freshness::run_vendored`).
/// `premade` are (directory, fingerprints file) pairs: vendored trees mounted read-only, whose
/// fingerprints a check step wrote once per content (see `vendored.rs`); the pass reads them
/// instead of walking the directory, and leaves their mtimes as they are.
/// `list`, when given, is a file the pass writes `fingerprint<TAB>path` of every file and link
/// into (what the why step compares, see `why_step`).
pub fn script(
    state_dir: &str,
    new_content: NewContent,
    vendor_dirs: &[String],
    premade: &[(String, String)],
    list: Option<&str>,
) -> Vec<String> {
    let mut words = vec![
        HELPER.to_string(),
        "freshness".to_string(),
        "--state".to_string(),
        state_dir.to_string(),
    ];
    if new_content == NewContent::PreviousWholeSecond {
        words.push("--layer".to_string());
    }
    for dir in vendor_dirs {
        words.extend(["--vendor".to_string(), dir.clone()]);
    }
    for (dir, file) in premade {
        words.extend(["--premade".to_string(), format!("{dir}={file}")]);
    }
    if let Some(list) = list {
        words.extend(["--list".to_string(), list.to_string()]);
    }
    vec![super::shell::join(&words)]
}

/// What the watch check after a cargo step needs (see the module docs).
pub struct WatchCheck<'a> {
    /// The spec file's name, for the message.
    pub spec_file: &'a str,
    pub src_dir: &'a str,
    pub target_dir: &'a str,
    /// The step's workspace packages: (name, directory).
    pub packages: Vec<(String, String)>,
    /// The snapshot's include patterns (empty: the whole context).
    pub include: &'a [String],
    /// The context's exclude patterns (`target`, `.git`, `.dockerignore`).
    pub exclude: &'a [String],
}

impl WatchCheck<'_> {
    /// The shell line that runs it.
    pub fn script(&self) -> String {
        let mut words: Vec<String> = [
            HELPER,
            "watches",
            "--spec",
            self.spec_file,
            "--src",
            self.src_dir,
            "--target-dir",
            self.target_dir,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (name, dir) in &self.packages {
            words.extend(["--package".to_string(), format!("{name}={dir}")]);
        }
        for p in self.include {
            words.extend(["--include".to_string(), p.clone()]);
        }
        for p in self.exclude {
            words.extend(["--exclude".to_string(), p.clone()]);
        }
        super::shell::join(&words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pass_is_the_helper_with_the_layer_mode_when_asked() {
        assert_eq!(
            script("/cachet/target/.cachet", NewContent::Now, &[], &[], None),
            ["/cachet/helper/cachet-helper freshness --state /cachet/target/.cachet"]
        );
        assert_eq!(
            script(
                "/cachet/target/.cachet",
                NewContent::PreviousWholeSecond,
                &["third party/vendor".to_string()],
                &[(
                    "third party/vendor".to_string(),
                    "/cachet/vendored/0".to_string()
                )],
                None
            ),
            [
                "/cachet/helper/cachet-helper freshness --state /cachet/target/.cachet --layer \
              --vendor 'third party/vendor' --premade 'third party/vendor=/cachet/vendored/0'"
            ]
        );
    }

    #[test]
    fn the_watch_check_quotes_every_pattern() {
        let include = vec!["crates/a/**".to_string(), "it's".to_string()];
        let exclude = vec!["target".to_string()];
        let line = WatchCheck {
            spec_file: "Cachet.toml",
            src_dir: "/cachet/src",
            target_dir: "/cachet/target",
            packages: vec![("a".into(), "crates/a".into())],
            include: &include,
            exclude: &exclude,
        }
        .script();
        assert_eq!(
            line,
            "/cachet/helper/cachet-helper watches --spec Cachet.toml --src /cachet/src \
             --target-dir /cachet/target --package a=crates/a --include 'crates/a/**' \
             --include 'it'\\''s' --exclude target"
        );
    }
}
