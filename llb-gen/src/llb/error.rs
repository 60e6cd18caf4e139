//! Errors raised while building or marshalling an LLB graph.

/// Anything that can go wrong while describing a build graph.
///
/// Every variant is caused by the caller's input (usually derived from a
/// user's spec), so messages name the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LlbError {
    /// An image reference could not be parsed.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A content digest is not `sha256:` followed by 64 lowercase hex digits.
    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex digits>")]
    InvalidDigest(String),
    /// A platform string is not `os/arch[/variant]`.
    #[error("invalid platform {0:?}: expected os/arch[/variant]")]
    InvalidPlatform(String),
    /// An exec was built without a command.
    #[error("exec needs at least one argument")]
    EmptyArgs,
    /// An exec has no working directory.
    #[error("exec needs a working directory")]
    MissingCwd,
    /// A mount destination is empty or not absolute.
    #[error("mount destination {0:?} must be an absolute path")]
    InvalidMountDest(String),
    /// Two mounts of one exec share a destination.
    #[error("more than one mount at {0:?}")]
    DuplicateMount(String),
    /// `get_mount` named a destination the exec does not mount.
    #[error("exec has no mount at {0:?}")]
    UnknownMount(String),
    /// `get_mount` named a mount that produces no output (cache, tmpfs,
    /// secret, ssh or no-output bind).
    #[error("mount at {0:?} produces no output")]
    MountHasNoOutput(String),
    /// A file operation has no actions.
    #[error("file operation has no actions")]
    EmptyFileOp,
    /// A path given to a file action or source is empty.
    #[error("empty path in {0}")]
    EmptyPath(&'static str),
    /// A source name or URL is empty or malformed.
    #[error("invalid {kind} source {value:?}: {reason}")]
    InvalidSource {
        /// `local`, `git` or `http`.
        kind: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An image config blob could not be read.
    #[error("invalid image config: {0}")]
    InvalidImageConfig(String),
    /// A serialized Definition could not be decoded.
    #[error("cannot decode LLB: {0}")]
    Decode(String),
}

/// Shorthand for results in this module.
pub type Result<T, E = LlbError> = std::result::Result<T, E>;
