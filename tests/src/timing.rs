//! The suite's timing record: how long each build of an integration test took, on stderr.

use std::time::Instant;

use crate::Engine;

/// Runs `f` and prints `[<suite>] <engine>: <what> took <seconds>s`.
pub fn timed<T>(suite: &str, engine: Engine, what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    eprintln!(
        "[{suite}] {engine}: {what} took {:.1}s",
        start.elapsed().as_secs_f64()
    );
    out
}
