//! Images in dockerd's store: unique test tags, running, clean-up.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::process::{self, Captured};
use crate::{Engine, Env};

/// A fresh, valid image name for one test on one engine, unique across
/// concurrently running tests and test binaries:
/// `cachet-test/<label>-<engine>:<pid>-<n>`.
pub fn unique_tag(label: &str, engine: Engine) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let label: String = label
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    format!(
        "cachet-test/{}-{engine}:{}-{}",
        label.trim_matches('-'),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An image in dockerd's store. Test images are removed when the handle
/// drops (set `CACHET_KEEP_IMAGES=1` to keep them for debugging).
#[derive(Debug)]
pub struct Image {
    reference: String,
    remove_on_drop: bool,
}

impl Image {
    /// Take ownership of a test image: removed on drop.
    pub fn adopt(reference: impl Into<String>) -> Image {
        Image {
            reference: reference.into(),
            remove_on_drop: std::env::var_os("CACHET_KEEP_IMAGES").is_none(),
        }
    }

    /// Refer to an image the test does not own (never removed).
    pub fn existing(reference: impl Into<String>) -> Image {
        Image {
            reference: reference.into(),
            remove_on_drop: false,
        }
    }

    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// `docker run --rm <flags…> <image> <args…>`, not yet run.
    pub fn run_command(&self, flags: &[&str], args: &[&str]) -> Command {
        let mut cmd = Engine::docker(Env::get());
        cmd.args(["run", "--rm"])
            .args(flags)
            .arg(&self.reference)
            .args(args);
        cmd
    }

    /// Run the image's entrypoint/command with `args`; output captured.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> Captured {
        process::run(&mut self.run_command(&[], args), process::default_timeout())
    }

    /// Like [`Image::run`] with `docker run` flags (e.g. `--network=none`).
    #[track_caller]
    pub fn run_with(&self, flags: &[&str], args: &[&str]) -> Captured {
        process::run(
            &mut self.run_command(flags, args),
            process::default_timeout(),
        )
    }

    /// `docker image inspect -f <format>`, trimmed.
    #[track_caller]
    pub fn inspect(&self, format: &str) -> String {
        let mut cmd = Engine::docker(Env::get());
        cmd.args(["image", "inspect", "-f", format, &self.reference]);
        let out = process::run(&mut cmd, Duration::from_secs(60)).assert_success();
        out.stdout.trim().to_owned()
    }

    /// `docker save` of the image into `dir`: the raw bytes of every layer and config
    /// (uncompressed tar), for checking what the image holds or never holds.
    #[track_caller]
    pub fn saved_bytes(&self, dir: &Path) -> Vec<u8> {
        let file = dir.join("image.tar");
        let mut cmd = Engine::docker(Env::get());
        cmd.args(["save", "-o"]).arg(&file).arg(&self.reference);
        process::run(&mut cmd, Duration::from_secs(120)).assert_success();
        std::fs::read(&file).unwrap()
    }
}

/// Whether `needle`'s bytes occur in `haystack` (a saved image, a binary).
pub fn bytes_contain(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

impl Drop for Image {
    fn drop(&mut self) {
        if !self.remove_on_drop {
            return;
        }
        let mut cmd = Engine::docker(Env::get());
        cmd.args(["image", "rm", "-f", &self.reference]);
        // Best effort: a leftover test image is harmless.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            process::run(&mut cmd, Duration::from_secs(60))
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_tags_are_valid_and_distinct() {
        let a = unique_tag("Engines: hello_world", Engine::Buildx);
        let b = unique_tag("Engines: hello_world", Engine::Buildx);
        assert_ne!(a, b);
        assert!(
            a.starts_with("cachet-test/engines--hello-world-buildx:"),
            "{a}"
        );
    }
}
