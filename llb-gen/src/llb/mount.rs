//! Mounts an exec can use besides its root filesystem.

use super::State;

/// How concurrent builds share one cache mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CacheSharing {
    /// Concurrent writers share one directory (BuildKit's default).
    #[default]
    Shared,
    /// A concurrent writer gets its own fresh directory.
    Private,
    /// A concurrent writer waits for the first one to finish.
    Locked,
}

/// A writable or read-only bind of another state's filesystem.
#[derive(Debug, Clone)]
pub struct BindMount {
    pub(crate) dest: String,
    pub(crate) source: State,
    pub(crate) selector: String,
    pub(crate) readonly: bool,
    pub(crate) no_output: bool,
}

impl BindMount {
    /// Mounts only `path` of the source (a sub-directory or file).
    pub fn source_path(mut self, path: impl Into<String>) -> Self {
        self.selector = path.into();
        self
    }

    /// Mounts read-only; such a mount produces no output.
    pub fn readonly(mut self) -> Self {
        self.readonly = true;
        self
    }

    /// Writable, but its changes are thrown away (no output index).
    pub fn no_output(mut self) -> Self {
        self.no_output = true;
        self
    }

    pub(crate) fn has_output(&self) -> bool {
        !self.readonly && !self.no_output
    }
}

/// A persistent cache directory, kept by the daemon between builds and
/// never part of any result or cache key.
#[derive(Debug, Clone)]
pub struct CacheMount {
    pub(crate) dest: String,
    pub(crate) id: String,
    pub(crate) sharing: CacheSharing,
    pub(crate) seed: Option<State>,
    pub(crate) selector: String,
}

impl CacheMount {
    /// Sets the sharing mode (default [`CacheSharing::Shared`]).
    pub fn sharing(mut self, sharing: CacheSharing) -> Self {
        self.sharing = sharing;
        self
    }

    /// Initialises a new cache directory from `state` (its `path` part if
    /// [`CacheMount::source_path`] is set).
    pub fn seed(mut self, state: &State) -> Self {
        self.seed = if state.is_scratch() {
            None
        } else {
            Some(state.clone())
        };
        self
    }

    /// Sub-path of the seed state to use.
    pub fn source_path(mut self, path: impl Into<String>) -> Self {
        self.selector = path.into();
        self
    }
}

/// An empty in-memory filesystem.
#[derive(Debug, Clone)]
pub struct TmpfsMount {
    pub(crate) dest: String,
}

/// A secret file provided by the client session (`--secret id=…`).
#[derive(Debug, Clone)]
pub struct SecretMount {
    pub(crate) dest: String,
    pub(crate) id: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mode: u32,
    pub(crate) optional: bool,
}

impl SecretMount {
    /// Owner uid of the file (default 0).
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = uid;
        self
    }

    /// Owner gid of the file (default 0).
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = gid;
        self
    }

    /// Permission bits (default `0o400`).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o7777;
        self
    }

    /// Don't fail the build if the client does not provide the secret.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// An SSH agent socket forwarded from the client (`--ssh default`).
#[derive(Debug, Clone)]
pub struct SshMount {
    pub(crate) dest: Option<String>,
    pub(crate) id: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mode: u32,
    pub(crate) optional: bool,
}

impl SshMount {
    /// Which forwarded agent to use (default `"default"`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Socket path (default `/run/buildkit/ssh_agent.<n>`, `n` counting ssh
    /// mounts of the exec from 0).
    pub fn dest(mut self, dest: impl Into<String>) -> Self {
        self.dest = Some(dest.into());
        self
    }

    /// Owner uid of the socket (default 0).
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = uid;
        self
    }

    /// Owner gid of the socket (default 0).
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = gid;
        self
    }

    /// Permission bits (default `0o600`).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o7777;
        self
    }

    /// Don't fail the build if the client forwards no agent.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// Any extra mount of an exec. Build one with the constructors below and
/// pass it (or the specific mount type) to [`super::Exec::mount`].
#[derive(Debug, Clone)]
pub enum Mount {
    /// See [`BindMount`].
    Bind(BindMount),
    /// See [`CacheMount`].
    Cache(CacheMount),
    /// See [`TmpfsMount`].
    Tmpfs(TmpfsMount),
    /// See [`SecretMount`].
    Secret(SecretMount),
    /// See [`SshMount`].
    Ssh(SshMount),
}

impl Mount {
    /// Binds `source` at `dest` (writable, with its own output, unless
    /// changed).
    pub fn bind(dest: impl Into<String>, source: &State) -> BindMount {
        BindMount {
            dest: dest.into(),
            source: source.clone(),
            selector: String::new(),
            readonly: false,
            no_output: false,
        }
    }

    /// A persistent cache directory named `id` at `dest`.
    pub fn cache(dest: impl Into<String>, id: impl Into<String>) -> CacheMount {
        CacheMount {
            dest: dest.into(),
            id: id.into(),
            sharing: CacheSharing::Shared,
            seed: None,
            selector: String::new(),
        }
    }

    /// An empty tmpfs at `dest`.
    pub fn tmpfs(dest: impl Into<String>) -> TmpfsMount {
        TmpfsMount { dest: dest.into() }
    }

    /// The session secret `id` as a file at `dest` (mode `0o400`, root).
    pub fn secret(dest: impl Into<String>, id: impl Into<String>) -> SecretMount {
        SecretMount {
            dest: dest.into(),
            id: id.into(),
            uid: 0,
            gid: 0,
            mode: 0o400,
            optional: false,
        }
    }

    /// The `default` SSH agent socket (mode `0o600`, root).
    pub fn ssh() -> SshMount {
        SshMount {
            dest: None,
            id: "default".to_owned(),
            uid: 0,
            gid: 0,
            mode: 0o600,
            optional: false,
        }
    }
}

impl From<BindMount> for Mount {
    fn from(m: BindMount) -> Self {
        Mount::Bind(m)
    }
}

impl From<CacheMount> for Mount {
    fn from(m: CacheMount) -> Self {
        Mount::Cache(m)
    }
}

impl From<TmpfsMount> for Mount {
    fn from(m: TmpfsMount) -> Self {
        Mount::Tmpfs(m)
    }
}

impl From<SecretMount> for Mount {
    fn from(m: SecretMount) -> Self {
        Mount::Secret(m)
    }
}

impl From<SshMount> for Mount {
    fn from(m: SshMount) -> Self {
        Mount::Ssh(m)
    }
}
