//! `cachet-helper`: the small static program Cachet's cargo steps run beside cargo.
//!
//! It ships in the frontend image under `/helper/` and is mounted read-only into every cargo
//! step and dependency-layer step (see `llb-gen/src/compile/freshness.rs`). Subcommands:
//!
//! * `freshness --state DIR [--layer]` — before cargo, in the sources' root: every entry gets
//!   its virtual time ([`freshness`]);
//! * `watches …` — after cargo: every path a workspace build script watches must be in the
//!   step's sources ([`watches`]);
//! * `vendored --root DIR --out DIR --dir D…` — once per content of a vendored tree: checks
//!   every listed checksum and writes the tree's fingerprints for the freshness pass
//!   ([`vendored`]);
//! * `test-report …` — after `cargo test`: libtest's output as a JSON report, and the failed
//!   tests named ([`test_report`]).
//!
//! It does only local file I/O and never the network.

pub mod freshness;
pub mod test_report;
pub mod vendored;
pub mod watches;

#[cfg(test)]
mod tests;
