//! Test harness: talks to the engines brought up by `scripts/env/up`.
//!
//! `scripts/env/up` writes `$CACHET_STATE_DIR/env` (default
//! `~/.cache/cachet/env`); [`Env::get`] loads it once per test binary and
//! checks the engines answer. Without it every test fails, with a message
//! saying to run `scripts/env/up` -- tests never skip silently.
//!
//! Every engine test loops over [`Engine::ALL`] (or uses [`on_each_engine`]):
//!
//! ```no_run
//! use cachet_tests::{fixtures, on_each_engine, unique_tag, TempProject};
//!
//! on_each_engine(|engine| {
//!     let project = TempProject::new("doc");
//!     fixtures::hello_crate(&project, "hi", "hi there");
//!     project.write("Dockerfile", fixtures::plain_dockerfile("cachet-sdk:rustup", "hi"));
//!     let image = engine
//!         .build(project.path())
//!         .tag(unique_tag("doc", engine))
//!         .run()
//!         .assert_success()
//!         .image();
//!     assert_eq!(image.run(&[]).assert_success().stdout, "hi there\n");
//! });
//! ```
//!
//! Knobs: `CACHET_STATE_DIR` (which environment), `CACHET_TEST_TIMEOUT`
//! (seconds per command, default 600), `CACHET_KEEP_TMP` /
//! `CACHET_KEEP_IMAGES` (keep temp projects / test images).

pub mod attestations;
pub mod bench;
pub mod ci_project;
pub mod corpus;
pub mod elf;
mod engine;
mod env;
pub mod exported;
pub mod fixtures;
mod image;
pub mod matrix;
pub mod process;
pub mod progress;
mod project;
pub mod proxy;
pub mod registry;
pub mod registry_app;
pub mod saved;
mod server;
mod timing;
pub mod tls;
pub mod wipe;

pub use engine::{on_each_engine, Build, BuildResult, Engine, Output};
pub use env::{Env, EnvError, REQUIRED_KEYS};
pub use image::{bytes_contain, unique_tag, Image};
pub use process::Captured;
pub use project::TempProject;
pub use timing::timed;
