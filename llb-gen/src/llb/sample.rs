//! A small but representative build graph, used by `llb-gen sample`, the
//! golden digest test and the daemon smoke test.
//!
//! It touches every op and mount kind the builder supports: an image and a
//! local source, a chained file op (mkdir, copy, mkfile, rm), an exec with
//! root, read-only bind with selector, writable output bind, cache, tmpfs,
//! optional secret and optional SSH mounts, and a final copy out of the
//! exec's output mount onto scratch.

use super::{
    CacheSharing, ChownOpt, Copy, Image, Local, Mkdir, Mkfile, Mount, Platform, Result, Rm, State,
};

/// The SDK image the sample runs in (a registry mirror maps it to our
/// locally built SDK image).
pub const SAMPLE_IMAGE: &str = "docker.io/library/cachet-sdk:rustup";

/// Name of the local directory the sample reads (`--local context=<dir>`).
pub const SAMPLE_LOCAL: &str = "context";

const SCRIPT: &str = "#!/bin/sh
set -eu
ls -la /context > /out/context-listing.txt
cp /work/build.sh /out/
echo ok > /cache/last-run
";

/// Builds the sample graph. `platform` is applied to the image (and so to
/// every exec and file op built on it); `None` leaves the daemon's default.
pub fn sample(platform: Option<Platform>) -> Result<State> {
    let mut sdk = Image::new(SAMPLE_IMAGE)?.custom_name("cachet sdk image");
    if let Some(p) = platform {
        sdk = sdk.platform(p);
    }
    let sdk = sdk.into_state().env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );

    let context = Local::new(SAMPLE_LOCAL)?
        .shared_key_hint(SAMPLE_LOCAL)
        .exclude_patterns(["target", ".git"])
        .custom_name("load build context")
        .into_state();

    let prepared = sdk
        .file()
        .mkdir(Mkdir::new("/work", 0o755).make_parents(true))
        .copy(
            Copy::new(&context, ".", "/work/src/")
                .dir_contents_only(true)
                .follow_symlinks(true)
                .create_dest_path(true)
                .allow_wildcard(true)
                .allow_empty_wildcard(true),
        )
        .mkfile(Mkfile::new("/work/build.sh", 0o755, SCRIPT).owner(ChownOpt::ids(0, 0)))
        .rm(Rm::new("/work/src/.git").allow_not_found(true))
        .custom_name("prepare workspace")
        .build()?
        .dir("/work");

    let run = prepared
        .run(["/bin/sh", "-c", "./build.sh"])
        .env("CARGO_HOME", "/cache/cargo")
        .mount(
            Mount::bind("/context", &context)
                .source_path("/")
                .readonly(),
        )
        .mount(Mount::bind("/out", &State::scratch()))
        .mount(Mount::cache("/cache", "cachet-sample-cache").sharing(CacheSharing::Locked))
        .mount(Mount::tmpfs("/tmp"))
        .mount(Mount::secret("/run/secrets/token", "token").optional())
        .mount(Mount::ssh().optional())
        .custom_name("run build script")
        .build()?;

    State::scratch()
        .file()
        .copy(
            Copy::new(&run.get_mount("/out")?, "/", "/")
                .dir_contents_only(true)
                .create_dest_path(true),
        )
        .custom_name("collect artifacts")
        .build()
}
