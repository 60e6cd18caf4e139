//! `Cachet.toml`: the user's declarative build spec.
//!
//! [`load`] turns the file's text into a validated [`Spec`] (build arguments applied, targets and
//! references checked) or a [`SpecError`] naming file, line and column. It does no I/O.

pub mod cargo_args;
pub mod contexts;
mod env;
mod error;
mod graph;
mod image_settings;
mod interpolate;
mod load;
pub(crate) mod model;
mod resolved;
mod schema;
mod syntax;

pub use error::{Position, SpecError};
pub use load::load;
pub use resolved::*;
pub use schema::json_schema;

#[cfg(test)]
mod tests;
