//! Throw-away project directories for builds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A temporary directory, removed on drop unless the test is panicking or
/// `CACHET_KEEP_TMP` is set (then its path is printed for inspection).
/// Lives under `$CACHET_TEST_TMP` or the system temp dir.
#[derive(Debug)]
pub struct TempProject {
    dir: PathBuf,
}

impl TempProject {
    #[track_caller]
    pub fn new(label: &str) -> TempProject {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = std::env::var_os("CACHET_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("cachet-tests"));
        let dir = base.join(format!(
            "{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot clear {}: {e}", dir.display()));
        }
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TempProject { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Write `contents` to `rel` (parent directories created); returns the path.
    #[track_caller]
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Copy the tree at `src` into this project (skipping `target/` dirs).
    #[track_caller]
    pub fn copy_from(&self, src: impl AsRef<Path>) {
        copy_tree(src.as_ref(), &self.dir)
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", src.as_ref().display()));
    }
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if kind.is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&entry.path(), &to)?;
            }
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

impl Drop for TempProject {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("CACHET_KEEP_TMP").is_some() {
            eprintln!("cachet-tests: kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
