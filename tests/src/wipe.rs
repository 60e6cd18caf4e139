//! Tests that wipe a builder's cache (`docker buildx prune --all`, `docker builder prune --all`)
//! and the builds around them.
//!
//! Wiping a builder disturbs other builds on it, so such tests hold a per-engine lock: shared
//! ([`shared`]) for ordinary builds, exclusive ([`exclusive`]) around a wipe and the builds that
//! rely on it. `cargo test` runs test binaries one at a time, so nothing else of the suite
//! builds during a wipe; builds started by other processes meanwhile can lose their cache, and a
//! dockerd 20.10 image pull racing `docker builder prune` can even crash dockerd (nil
//! dereference in BuildKit's `cacheManager.GetByBlob`).

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::Engine;

static DOCKERD_LOCK: RwLock<()> = RwLock::new(());
static BUILDX_LOCK: RwLock<()> = RwLock::new(());

fn engine_lock(engine: Engine) -> &'static RwLock<()> {
    match engine {
        Engine::Dockerd => &DOCKERD_LOCK,
        Engine::Buildx => &BUILDX_LOCK,
    }
}

/// Held by a test that builds on `engine` without wiping it.
pub fn shared(engine: Engine) -> RwLockReadGuard<'static, ()> {
    engine_lock(engine)
        .read()
        .unwrap_or_else(|e| e.into_inner())
}

/// Held by a test that wipes `engine`'s build cache.
pub fn exclusive(engine: Engine) -> RwLockWriteGuard<'static, ()> {
    engine_lock(engine)
        .write()
        .unwrap_or_else(|e| e.into_inner())
}

/// Remove every build cache record of `engine`, cache mounts included; panics if that fails.
/// The caller holds [`exclusive`] for `engine`, so nothing of this test binary is in use.
#[track_caller]
pub fn wipe(engine: Engine) {
    if let Err(e) = engine.wipe_build_cache() {
        panic!("{e}");
    }
}
