//! The one front door from spec text to a compiled build, shared by the frontend
//! (`frontend/src/build.rs`) and the `llb-gen` CLI (`src/bin/llb-gen/request.rs`), so that
//! neither repeats the glue and both compile the same way (`tests/frontend_agrees_with_cli.rs`
//! proves it on the examples).
//!
//! A build goes through it in two steps, because what the caller must find out depends on the
//! spec: [`load`] parses the spec and selects the target, which says which images to resolve
//! ([`Project::images`]); the caller resolves them (BuildKit, or the command line) and reads the
//! context's metadata files (a [`crate::project::Discovery`]), puts those facts into a
//! [`BuildRequest`], and [`Project::compile`] makes the [`Compiled`] build. Every error names
//! the spec file first, as a user's editor and CI log expect.

use std::collections::BTreeMap;

use crate::compile::{self, BuildRequest, Compiled};
use crate::explain::Explanation;
use crate::llb::Platform;
use crate::spec::{self, Spec, SpecError, TargetRef};

/// A spec loaded for one target: what a build compiles from, besides the facts.
#[derive(Debug, Clone)]
pub struct Project {
    /// The spec's file name, as errors name it.
    pub file: String,
    /// The spec's text, as read.
    pub text: String,
    pub spec: Spec,
    /// The target selected (the one asked for, or the spec's default).
    pub target: TargetRef,
}

/// Why a spec cannot be loaded or compiled.
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    /// The spec does not parse or validate (positioned: `file:line:column: …`).
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The target does not exist, or the spec does not compile with these facts.
    #[error("{file}: {message}")]
    Build { file: String, message: String },
}

/// Parses `text` (the spec `file`) with the `--build-arg` values and selects `target` (`None`:
/// the spec's default).
pub fn load(
    file: &str,
    text: &str,
    build_args: &BTreeMap<String, String>,
    target: Option<&str>,
) -> Result<Project, FrontError> {
    let spec = spec::load(file, text, build_args)?;
    let target = spec
        .select_target(target)
        .map_err(|message| FrontError::Build {
            file: file.to_string(),
            message,
        })?;
    Ok(Project {
        file: file.to_string(),
        text: text.to_string(),
        spec,
        target,
    })
}

impl Project {
    /// The images the target needs resolved: the SDK and the bases of its image targets.
    pub fn images(&self) -> Vec<String> {
        self.spec.images_for(&self.target.name)
    }

    /// `--build-arg` names the spec neither declares nor passes on (BuildKit's proxy
    /// arguments reach the fetch step undeclared): ignored, worth a note.
    pub fn undeclared_args<'a>(&self, build_args: &'a BTreeMap<String, String>) -> Vec<&'a str> {
        build_args
            .keys()
            .filter(|k| !self.spec.args.contains_key(*k) && !compile::is_proxy_arg(k))
            .map(String::as_str)
            .collect()
    }

    /// The request for this project's target on `platform` in `session`, every other fact at
    /// its default: what a caller fills in from what BuildKit (or the command line) told it.
    pub fn request(&self, platform: Platform, session: String) -> BuildRequest {
        BuildRequest::new(self.target.clone(), platform, session)
    }

    /// Compiles the build `request` describes. The request's target is this project's.
    pub fn compile(&self, request: &BuildRequest) -> Result<Compiled, FrontError> {
        if request.target != self.target {
            return Err(self.error(format!(
                "the build request is for target `{}`, the spec was loaded for `{}`",
                request.target.name, self.target.name
            )));
        }
        compile::compile(&self.spec, request).map_err(|e| self.error(e.to_string()))
    }

    /// What every step of `compiled` is keyed on (`explain`).
    pub fn explain(&self, compiled: &Compiled, platform: &Platform) -> Explanation {
        Explanation::new(compiled, &self.target, platform)
    }

    /// An error about this spec, named after its file.
    pub fn error(&self, message: impl std::fmt::Display) -> FrontError {
        FrontError::Build {
            file: self.file.clone(),
            message: message.to_string(),
        }
    }
}
