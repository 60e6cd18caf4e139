//! What a build exported to the host (`--output type=local`): running its binaries, listing its
//! files, reading its provenance record.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::process;

/// Limit for one run of an exported binary.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// Run an exported binary on the host (they are static); its stdout, trimmed. Panics (with its
/// output) unless it succeeds.
#[track_caller]
pub fn run_binary(path: &Path) -> String {
    let mut cmd = Command::new(path);
    process::run(&mut cmd, RUN_TIMEOUT)
        .assert_success()
        .stdout
        .trim()
        .to_string()
}

/// Every file under `dir`, as paths relative to it.
pub fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// A string field (`sdk`, `target_cache`, `platform`, …) of the `cachet-provenance.json`
/// exported into `dir`.
#[track_caller]
pub fn provenance_field(dir: &Path, field: &str) -> String {
    let text = std::fs::read_to_string(dir.join("cachet-provenance.json"))
        .unwrap_or_else(|e| panic!("{}: no provenance: {e}", dir.display()));
    let record: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: provenance is not JSON: {e}", dir.display()));
    record[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{field}` in {text}"))
        .to_string()
}

/// The triple the engines build for (they run on this machine): the directory under the target
/// cache where cargo, given `--target`, puts target code.
pub fn triple() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}
