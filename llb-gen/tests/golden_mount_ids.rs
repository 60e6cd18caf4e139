//! Pins the target cache mount ids (strict and fast) of every cargo target of every example.
//!
//! A mount id names *which warm `target/`* a build runs against (`keys.rs`); it moves only when
//! a key input or the key model changes, and then every user's next build starts that target
//! cold. Such a change must be deliberate: regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p llb-gen --test golden_mount_ids` and review the diff of
//! `tests/golden/examples.mount-ids` (and bump `KEY_SCHEMA` if an input changed meaning).
//!
//! The ids come from `llb-gen explain --format json`, which compiles through the same entry
//! point the frontend uses, with a fixed SDK digest: the facts BuildKit would report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SDK_DIGEST: &str = "sha256:5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// `target` → (strict, fast) mount id of every cargo step an explanation of the spec lists,
/// built with `extra` arguments (a platform).
fn mount_ids(spec: &Path, target: &str, extra: &[&str]) -> Vec<(String, String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .args([
            "explain",
            "--format",
            "json",
            "--sdk-digest",
            SDK_DIGEST,
            "--target",
            target,
        ])
        .args(extra)
        .arg(spec)
        .output()
        .expect("run llb-gen");
    assert!(
        out.status.success(),
        "llb-gen explain {} --target {target}: {}",
        spec.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let explanation: Value = serde_json::from_slice(&out.stdout).expect("explain JSON");
    let steps = explanation["steps"].as_array().expect("steps");
    steps
        .iter()
        .filter(|s| s["kind"] == "cargo")
        .map(|s| {
            let id = |mode: &str| {
                s["keys"][mode]["mount_id"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string()
            };
            (
                s["target"].as_str().unwrap_or("?").to_string(),
                id("strict"),
                id("fast"),
            )
        })
        .collect()
}

/// The cargo targets of a spec, in file order (`[target.NAME]` tables with `cargo = …`).
fn cargo_targets(text: &str) -> Vec<String> {
    let doc: toml::Table = text.parse().expect("example spec parses");
    doc.get("target")
        .and_then(|t| t.as_table())
        .map(|targets| {
            targets
                .iter()
                .filter(|(_, t)| t.get("cargo").is_some())
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn render() -> String {
    let mut out = String::from(
        "# Target cache mount ids (strict, fast) of the examples' cargo targets.\n\
         # Regenerate: UPDATE_GOLDEN=1 cargo test -p llb-gen --test golden_mount_ids\n",
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples())
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("Cachet.toml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let spec = dir.join("Cachet.toml");
        let text = std::fs::read_to_string(&spec).expect("read spec");
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        writeln!(out, "\n[{name}]").expect("write");
        // The cross example also for arm64, cross-compiled on an amd64 worker.
        let platforms: &[(&str, &[&str])] = match name {
            "cross" => &[
                ("", &[]),
                (
                    " (arm64 on amd64)",
                    &[
                        "--platform",
                        "linux/arm64",
                        "--build-platform",
                        "linux/amd64",
                    ],
                ),
            ],
            _ => &[("", &[])],
        };
        for (label, extra) in platforms {
            for target in cargo_targets(&text) {
                for (step, strict, fast) in mount_ids(&spec, &target, extra) {
                    if step == target {
                        writeln!(
                            out,
                            "{target}{label} strict {strict}\n{target}{label} fast   {fast}"
                        )
                        .expect("write");
                    }
                }
            }
        }
    }
    out
}

#[test]
fn example_mount_ids_match_golden_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/examples.mount-ids");
    let actual = render();
    assert!(actual.matches(" strict cachet/").count() >= 4, "{actual}");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "target cache mount ids of the examples changed: every user's next build of them \
         starts cold. If intended, run UPDATE_GOLDEN=1 cargo test -p llb-gen --test \
         golden_mount_ids, review, and say why in the commit.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}
