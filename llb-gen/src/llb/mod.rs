//! A typed, deterministic builder for BuildKit LLB graphs.
//!
//! Modelled on BuildKit's Go `client/llb`: a [`State`] is an immutable
//! handle to a filesystem (plus the working directory, environment, user and
//! platform that execs on it inherit). Sources create states, execs and file
//! ops derive new ones, and [`State::marshal`] serializes the graph into a
//! [`pb::Definition`](crate::proto::pb::Definition) that `Solve` or
//! `buildctl build` accepts.
//!
//! Each op is encoded once, when built, and named by the SHA-256 of those
//! bytes. Every protobuf map is a `BTreeMap`, so the same graph always
//! produces the same bytes and digests.
//!
//! ```
//! use llb_gen::llb::{CacheSharing, Copy, Image, Local, Mount};
//!
//! # fn main() -> Result<(), llb_gen::llb::LlbError> {
//! let context = Local::new("context")?.exclude_patterns(["target"]).into_state();
//! let base = Image::new("rust:1.80")?.into_state();
//!
//! let src = base
//!     .file()
//!     .copy(Copy::new(&context, ".", "/src/").dir_contents_only(true).create_dest_path(true))
//!     .custom_name("copy sources")
//!     .build()?;
//!
//! let built = src
//!     .dir("/src")
//!     .run(["cargo", "build", "--release"])
//!     .mount(Mount::cache("/usr/local/cargo/registry", "cargo-registry").sharing(CacheSharing::Locked))
//!     .custom_name("cargo build")
//!     .build()?
//!     .root();
//!
//! let def = built.marshal();
//! assert_eq!(def.def.len(), 5); // image, local, file, exec, terminal
//! # Ok(())
//! # }
//! ```

pub mod caps;
mod constraints;
mod digest;
mod error;
mod exec;
mod file;
mod marshal;
mod meta;
mod mount;
mod node;
mod options;
pub mod path;
mod platform;
mod readable;
mod reference;
pub mod sample;
mod source;
mod state;

#[cfg(test)]
mod tests;

pub use constraints::Constraints;
pub(crate) use digest::is_sha256_digest;
pub use digest::Digest;
pub use error::{LlbError, Result};
pub use exec::{Exec, ExecState, NetMode, ProxyEnv, SecurityMode};
pub use file::{ChownOpt, Copy, FileAction, FileOp, Mkdir, Mkfile, Rm, UserOpt};
pub use marshal::{decode_definition, decode_ops, definition_bytes, MarshalOptions};
pub use meta::{OpMeta, CUSTOM_NAME_KEY};
pub use mount::{BindMount, CacheMount, CacheSharing, Mount, SecretMount, SshMount, TmpfsMount};
pub use node::Output;
pub use platform::Platform;
pub use readable::{ReadableDefinition, ReadableOp};
pub use reference::ImageRef;
pub use source::{image, local, Git, Http, Image, Local, ResolveMode};
pub use state::State;
