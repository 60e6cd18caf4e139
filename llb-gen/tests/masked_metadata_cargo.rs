//! The masked manifests and lockfile (`project::masked`) must be what cargo itself accepts
//! with `--locked`: cargo compares the lockfile it would write with the one given, line by
//! line, so a masked lockfile that is off by one byte fails the fetch step. Checked here with
//! the host's cargo on a path-only workspace (no registry needed, fully offline).

use std::path::Path;
use std::process::Command;

use llb_gen::project::{analyze, masked::masked_metadata, ProjectFiles};

fn write(root: &Path, path: &str, content: &[u8]) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("cargo runs")
}

#[test]
fn cargo_accepts_the_masked_lockfile_with_locked() {
    let base = std::env::temp_dir().join(format!("cachet-masked-{}", std::process::id()));
    let (real, masked_dir) = (base.join("real"), base.join("masked"));
    let _ = std::fs::remove_dir_all(&base);
    let manifests = [
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"app\", \"core\", \"util\"]\nresolver = \"2\"\n\
             [workspace.package]\nversion = \"2.1.0\"\ndescription = \"d\"\n\
             [workspace.dependencies]\nutil = { path = \"util\", version = \"0.7\" }\n",
        ),
        (
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion.workspace = true\nedition = \"2021\"\n\
             description.workspace = true\n[dependencies]\n\
             core = { path = \"../core\", version = \"=2.1.0\" }\nutil.workspace = true\n",
        ),
        (
            "core/Cargo.toml",
            "[package]\nname = \"core\"\nversion.workspace = true\nedition = \"2021\"\n\
             authors = [\"x\"]\n[dependencies]\nutil = { path = \"../util\", version = \"0.7.3\" }\n",
        ),
        (
            "util/Cargo.toml",
            "# util\n[package]\nname = \"util\"\nversion = \"0.7.3\"\nedition = \"2021\"\n",
        ),
    ];
    for (path, text) in manifests {
        write(&real, path, text.as_bytes());
    }
    for src in ["app/src/main.rs", "core/src/lib.rs", "util/src/lib.rs"] {
        write(&real, src, b"");
        write(&masked_dir, src, b"");
    }
    let generated = cargo(&real, &["generate-lockfile", "--offline"]);
    assert!(generated.status.success(), "{generated:?}");
    let mut files = ProjectFiles::default();
    for path in [
        "Cargo.toml",
        "app/Cargo.toml",
        "core/Cargo.toml",
        "util/Cargo.toml",
        "Cargo.lock",
    ] {
        files
            .files
            .insert(path.to_string(), std::fs::read(real.join(path)).unwrap());
    }
    let masked = masked_metadata(&analyze(&files), &files);
    assert_eq!(masked.len(), 5, "{:?}", masked.keys());
    let lock = String::from_utf8(masked["Cargo.lock"].clone()).unwrap();
    assert!(!lock.contains("2.1.0") && !lock.contains("0.7.3"), "{lock}");
    for (path, bytes) in &masked {
        write(&masked_dir, path, bytes);
    }
    let metadata = cargo(
        &masked_dir,
        &["metadata", "--locked", "--offline", "--format-version", "1"],
    );
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        metadata.status.success(),
        "cargo refused the masked files: {}\n{lock}",
        String::from_utf8_lossy(&metadata.stderr)
    );
}
