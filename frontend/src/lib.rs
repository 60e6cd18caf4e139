//! The frontend's modules as a library, so that code other than the `cachet-frontend` binary
//! can reach the pure parts the binary runs (the fuzz harness in `fuzz/` drives
//! [`opts::FrontendOpts`] exactly as [`build`] does). The binary (`main.rs`) only sets up
//! logging and the runtime and calls into these.

pub mod attest;
pub mod build;
pub mod caps;
pub mod failure;
pub mod gateway;
pub mod opts;
pub mod panics;
pub mod result;
pub mod subrequest;
pub mod transport;
