//! `cachet-fuzz`: a fuzz harness of our own over the entry points the frontend runs, on
//! stable Rust.
//!
//! # Targets
//!
//! | target    | what one input runs |
//! | --------- | ------------------- |
//! | `opts`    | `FrontendOpts::from_vars` / `parse` over option lines and other env vars, then platform, resolve mode and the spec's local |
//! | `spec`    | `spec::load(file, text, build_args)`, then target selection, images, closures |
//! | `project` | the frontend's discovery rounds (`metadata_patterns`, `matches_any`), `analyze`, every snapshot a cargo step asks for |
//! | `whole`   | opts → spec → discovery → `compile` → encode → explain, as `frontend/src/build.rs` runs them |
//! | `explain` | saved explanations: `Explanation::from_json`, `diff`, `render_diff`, `render_text` |
//!
//! Besides "no panic" the targets check properties the code promises: compiling is
//! deterministic, our Definitions decode back to themselves, explanations survive their JSON
//! and do not differ from themselves, a loaded spec's default target selects, the CLI and the
//! frontend read the same project layout.
//!
//! # Engine, and why these crates
//!
//! There is no nightly toolchain, so no `cargo fuzz` (libFuzzer needs `-Z` sanitizer
//! coverage flags) and no coverage feedback. The loop ([`engine`]) is ours and small: run the
//! seeds, then mutate corpus entries for a time budget; every input runs under
//! `catch_unwind` with a panic hook that records message, location and (first time) a
//! backtrace; every input is timed (over 100 ms twice: recorded as slow; over 10 s: a hang,
//! saved by a watchdog thread before the process exits). In place of coverage, targets report
//! *features* — how far an input got, the class of its error, the shape of its output — and an
//! input with a new one joins the corpus. Panicking inputs are minimised before they are saved.
//!
//! * [`arbitrary`] (the rust-fuzz project's crate, what `cargo fuzz` itself builds on) turns
//!   random bytes into structured inputs ([`gen`]): specs, workspaces, options, image configs
//!   drawn from the vocabulary real builds use. Those reach `compile`, where byte-level
//!   mutation of a spec mostly stops at the TOML parser.
//! * [`fastrand`] (smol-rs; already in the lockfile) is the random source.
//!
//! `arbtest` was the alternative considered: it runs a property for a time budget on
//! `arbitrary` inputs, but has no corpus, no mutation of existing inputs (our seeds are the
//! valuable part: real specs and workspaces) and stops at the first failure, where a harness
//! should count executions and panics and keep going. Bolero's random engine has the same
//! limits off `cargo bolero`.
//!
//! # Inputs
//!
//! A corpus file is a [`bundle::Bundle`]: named members (`@spec`, `@opts`, context paths…) in
//! a readable framing; a plain file is the target's primary member, so a `Cachet.toml` is a
//! spec seed as it is. Mutations work on members: bytes, tokens and lines of one member's text
//! ([`mutate`]), splices from other inputs, generated fragments, and for contexts adding,
//! dropping, renaming and copying files.
//!
//! # Seeds
//!
//! Built in at compile time (`build.rs`): every example project (`examples/*`: `Cachet.toml`
//! and its metadata files), every spec and manifest text in the repository's tests and sources
//! (string literals with `[sdk]`, `[package]`, `[workspace]`…), and `fuzz/seeds/<target>/*`
//! (hand-written seeds and saved reproducers, `regress-*.bin`).
//!
//! # Running
//!
//! `scripts/fuzz [seconds] [target…]` builds the `fuzz` profile (release with `panic =
//! "unwind"`: the workspace's release profile aborts on panic, which `catch_unwind` cannot
//! catch) and runs every target in turn, keeping the corpus, reproducers and slow inputs under
//! `${CACHET_STATE_DIR:-$HOME/.cache/cachet}/fuzz/<target>/`. It prints a table and exits
//! non-zero if anything panicked.

pub mod bundle;
pub mod engine;
pub mod gen;
pub mod mutate;
pub mod seeds;
pub mod targets;

#[cfg(test)]
mod tests;
