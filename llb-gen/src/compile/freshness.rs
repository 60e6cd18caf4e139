//! Timestamp-proof freshness: the script that runs before cargo in every cargo step.
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

/// Shell commands (POSIX sh, coreutils, findutils, awk) that set every file under the current
/// directory to its virtual mtime, keeping the manifest in `state_dir`.
pub fn script(state_dir: &str, new_content: NewContent) -> Vec<String> {
    let state = super::shell::quote(state_dir);
    vec![
        format!("cachet_state={state}"),
        "cachet_tmp=$(mktemp -d)".into(),
        "mkdir -p \"$cachet_state\" \"$cachet_tmp/mtimes\"".into(),
        match new_content {
            NewContent::Now => "cachet_now=$(date +%s.%N)".into(),
            NewContent::PreviousWholeSecond => "cachet_now=$(( $(date +%s) - 1 ))".into(),
        },
        // hash<TAB>path for every file, in a stable order.
        "find . -type f ! -name '*\t*' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum \
         | sed 's/^\\([0-9a-f]*\\)  /\\1\\t/' > \"$cachet_tmp/current\""
            .into(),
        "[ -f \"$cachet_state/sources.tsv\" ] || : > \"$cachet_state/sources.tsv\"".into(),
        // Old manifest: hash<TAB>mtime<TAB>path. Same hash keeps its mtime, else now. Files are
        // grouped by mtime so one `touch` sets each group.
        "awk -F '\\t' -v OFS='\\t' -v now=\"$cachet_now\" -v dir=\"$cachet_tmp/mtimes\" \
         'FILENAME == ARGV[1] { hash[$3] = $1; time[$3] = $2; next } \
         { t = (hash[$2] == $1) ? time[$2] : now; print $1, t, $2; f = dir \"/\" t; print $2 >> f; close(f) }' \
         \"$cachet_state/sources.tsv\" \"$cachet_tmp/current\" > \"$cachet_tmp/sources.tsv\""
            .into(),
        "for cachet_group in \"$cachet_tmp\"/mtimes/*; do [ -f \"$cachet_group\" ] || continue; \
         tr '\\n' '\\0' < \"$cachet_group\" | xargs -0 -r touch -c -m -d \"@${cachet_group##*/}\" --; done"
            .into(),
        "mv \"$cachet_tmp/sources.tsv\" \"$cachet_state/sources.tsv\"".into(),
        "rm -rf \"$cachet_tmp\"".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;
    use std::process::Command;
    use std::time::{Duration, SystemTime};

    fn run(src: &Path, state: &Path) {
        run_with(src, state, NewContent::Now)
    }

    fn run_with(src: &Path, state: &Path, new_content: NewContent) {
        let script = script(state.to_str().unwrap(), new_content).join("\n");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("set -eu\n{script}"))
            .current_dir(src)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn mtime(p: &Path) -> SystemTime {
        fs::metadata(p).unwrap().modified().unwrap()
    }

    fn set_mtime(p: &Path, t: SystemTime) {
        fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    #[test]
    fn edits_get_a_later_time_whatever_timestamp_they_arrive_with() {
        let dir = tempdir("edits");
        let (src, state) = (dir.join("src"), dir.join("state"));
        fs::create_dir_all(src.join("sub dir")).unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for name in ["a.rs", "sub dir/b.rs"] {
            fs::write(src.join(name), name).unwrap();
            set_mtime(&src.join(name), old);
        }
        run(&src, &state);
        let first = mtime(&src.join("a.rs"));
        assert!(
            first > old,
            "a file never seen before gets the current time"
        );

        // Unchanged content keeps its virtual time, even if it arrives with another timestamp.
        set_mtime(&src.join("a.rs"), old);
        run(&src, &state);
        assert_eq!(mtime(&src.join("a.rs")), first);

        // An edit that arrives with an old timestamp (clamped, or older than the last build).
        std::thread::sleep(Duration::from_millis(20));
        fs::write(src.join("sub dir/b.rs"), "edited").unwrap();
        set_mtime(&src.join("sub dir/b.rs"), old);
        run(&src, &state);
        assert!(
            mtime(&src.join("sub dir/b.rs")) > first,
            "an edit is newer than anything built before it"
        );
        assert_eq!(
            mtime(&src.join("a.rs")),
            first,
            "untouched files keep their time"
        );

        // A timestamp from the future does not make a file look changed forever.
        let future = SystemTime::now() + Duration::from_secs(86_400 * 365);
        let b_time = mtime(&src.join("sub dir/b.rs"));
        set_mtime(&src.join("sub dir/b.rs"), future);
        run(&src, &state);
        assert_eq!(mtime(&src.join("sub dir/b.rs")), b_time);
    }

    #[test]
    fn reverting_content_is_a_change_too() {
        let dir = tempdir("revert");
        let (src, state) = (dir.join("src"), dir.join("state"));
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("a.rs"), "one").unwrap();
        run(&src, &state);
        let t1 = mtime(&src.join("a.rs"));
        std::thread::sleep(Duration::from_millis(20));
        fs::write(src.join("a.rs"), "two").unwrap();
        run(&src, &state);
        let t2 = mtime(&src.join("a.rs"));
        assert!(t2 > t1);
        std::thread::sleep(Duration::from_millis(20));
        fs::write(src.join("a.rs"), "one").unwrap();
        run(&src, &state);
        assert!(
            mtime(&src.join("a.rs")) > t2,
            "going back to old content is newer than the build of the new one"
        );
    }

    #[test]
    fn a_layer_gives_new_content_a_whole_second_before_anything_it_builds() {
        let dir = tempdir("layer");
        let (src, state) = (dir.join("src"), dir.join("state"));
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("a.rs"), "one").unwrap();
        let before = SystemTime::now();
        run_with(&src, &state, NewContent::PreviousWholeSecond);
        let stamped = mtime(&src.join("a.rs"));
        let since_epoch = stamped.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            since_epoch.subsec_nanos(),
            0,
            "whole seconds survive a layer export"
        );
        // Anything written from now on, truncated to its second, is still newer.
        let truncated_before = SystemTime::UNIX_EPOCH
            + Duration::from_secs(
                before
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
            );
        assert!(
            stamped < truncated_before,
            "{stamped:?} vs {truncated_before:?}"
        );
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cachet-freshness-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
