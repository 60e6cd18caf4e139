//! The benchmark suite: Cachet against what users would pick instead, on a real-world project.
//!
//! Contenders ([`Contender`]): a plain `COPY . . && cargo build` Dockerfile, Docker's documented
//! cache-mount Dockerfile, cargo-chef, Cachet, and host-native cargo (the physical floor on the
//! same cores). Every Dockerfile contender runs on `cachet-sdk:rustup`, the image Cachet uses, and
//! all of them build the same vendored project offline with the same flags.
//!
//! Scenarios ([`Scenario`]) are wall times of one build each, in the order a developer (then a CI
//! runner) meets them; every run measures the whole sequence for every contender, so ratios come
//! from the same machine state. A run starts from an empty build cache (`prune`), with the base
//! images already in the engine (a "warm-up" build pulls them; pulling is not what we compare).
//!
//! What a fresh builder means here: a previous build exported its cache (`--cache-to
//! type=registry,mode=max` on the current engine; inline-cache images pushed to the loopback
//! registry on dockerd 20.10), the builder is wiped, the sources gain a one-line edit (a new
//! commit), and the build imports that cache (`--cache-from`). That is what every CI run on an
//! ephemeral runner does.
//!
//! The suite reports; it never asserts a speed (the brief: speed targets are checked by
//! benchmarks, not by timed tests). `cachet-bench` drives it and writes the markdown table and
//! the raw numbers (JSON: every sample, with the steps of its build and their times).

pub mod contenders;
pub mod cross;
pub mod fixture;
pub mod report;
pub mod runner;

use std::fmt;

use serde::{Deserialize, Serialize};

/// What is built, by whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contender {
    /// `COPY . .` then `cargo build`: the layer cache only.
    Plain,
    /// Docker's documented pattern: `RUN --mount=type=cache,target=/src/target cargo build`.
    CacheMount,
    /// cargo-chef: `prepare` a recipe, `cook` the dependencies into a layer, then build.
    Chef,
    /// This project: `-f Cachet.toml`.
    Cachet,
    /// `cargo build` on the host, in a directory of its own: the floor.
    Host,
}

impl Contender {
    /// Table order: the alternatives, Cachet, then the floor.
    pub const ALL: [Contender; 5] = [
        Contender::Plain,
        Contender::CacheMount,
        Contender::Chef,
        Contender::Cachet,
        Contender::Host,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contender::Plain => "plain",
            Contender::CacheMount => "cache-mount",
            Contender::Chef => "cargo-chef",
            Contender::Cachet => "cachet",
            Contender::Host => "host",
        }
    }

    /// Runs inside a BuildKit engine (everything but the host floor).
    pub fn on_engine(self) -> bool {
        self != Contender::Host
    }

    pub fn parse(name: &str) -> Option<Contender> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One measured build, in the order a run performs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Empty build cache (and, for the host, no `target/`).
    Cold,
    /// The same build again, nothing changed.
    NoOp,
    /// One line added to a source file of the top-level binary crate.
    LeafEdit,
    /// One line added to a workspace library many other crates depend on.
    CoreEdit,
    /// `RUSTFLAGS` changes (`-C target-cpu=x86-64` → `x86-64-v2`).
    RustflagsChange,
    /// `RUSTFLAGS` back to what it was.
    RustflagsRevert,
    /// `Cargo.lock` with one dependency bumped.
    LockfileBump,
    /// A wiped builder importing the cache a previous build exported, sources one edit ahead.
    FreshBuilder,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::Cold,
        Scenario::NoOp,
        Scenario::LeafEdit,
        Scenario::CoreEdit,
        Scenario::RustflagsChange,
        Scenario::RustflagsRevert,
        Scenario::LockfileBump,
        Scenario::FreshBuilder,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Cold => "cold",
            Scenario::NoOp => "no-op",
            Scenario::LeafEdit => "leaf edit",
            Scenario::CoreEdit => "core edit",
            Scenario::RustflagsChange => "RUSTFLAGS change",
            Scenario::RustflagsRevert => "RUSTFLAGS revert",
            Scenario::LockfileBump => "lockfile bump",
            Scenario::FreshBuilder => "fresh builder",
        }
    }

    /// Whether `contender` can meet this scenario at all (the host has no builder to wipe).
    pub fn applies_to(self, contender: Contender) -> bool {
        !(self == Scenario::FreshBuilder && contender == Contender::Host)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The codegen flags every contender builds with, and the changed ones.
pub const BASE_TARGET_CPU: &str = "x86-64";
pub const CHANGED_TARGET_CPU: &str = "x86-64-v2";

/// `RUSTFLAGS` for a target CPU, as the Dockerfile contenders and the host receive it.
pub fn rustflags(target_cpu: &str) -> String {
    format!("-C target-cpu={target_cpu}")
}
