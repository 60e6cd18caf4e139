//! File ops: copy, mkdir, mkfile and rm actions applied in sequence.

use super::node::{InputSet, Node, Output};
use super::options::op_options;
use super::{path, Constraints, LlbError, OpMeta, Result, State};
use crate::proto::pb;

/// A user or group, by numeric id or by name (resolved through the base
/// filesystem's `/etc/passwd` / `/etc/group`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserOpt {
    /// Numeric id.
    Id(u32),
    /// Name looked up in the base state.
    Name(String),
}

impl UserOpt {
    /// A number becomes [`UserOpt::Id`], anything else [`UserOpt::Name`].
    pub fn parse(s: &str) -> Self {
        s.parse::<u32>()
            .map(UserOpt::Id)
            .unwrap_or_else(|_| UserOpt::Name(s.to_owned()))
    }

    fn to_pb(&self, base: i64) -> pb::UserOpt {
        let user = match self {
            UserOpt::Id(id) => pb::user_opt::User::ById(*id),
            UserOpt::Name(name) => pb::user_opt::User::ByName(pb::NamedUserOpt {
                name: name.clone(),
                input: base,
            }),
        };
        pb::UserOpt { user: Some(user) }
    }
}

/// Ownership applied to created or copied files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ChownOpt {
    /// Owning user; `None` keeps the default (root / source owner).
    pub user: Option<UserOpt>,
    /// Owning group; `None` keeps the default.
    pub group: Option<UserOpt>,
}

impl ChownOpt {
    /// Numeric owner and group.
    pub fn ids(uid: u32, gid: u32) -> Self {
        ChownOpt {
            user: Some(UserOpt::Id(uid)),
            group: Some(UserOpt::Id(gid)),
        }
    }

    /// Parses docker's `--chown` form: `user`, `user:group`, names or ids.
    pub fn parse(s: &str) -> Self {
        let (u, g) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        ChownOpt {
            user: (!u.is_empty()).then(|| UserOpt::parse(u)),
            group: g.filter(|g| !g.is_empty()).map(UserOpt::parse),
        }
    }

    fn to_pb(&self, base: i64) -> pb::ChownOpt {
        pb::ChownOpt {
            user: self.user.as_ref().map(|u| u.to_pb(base)),
            group: self.group.as_ref().map(|g| g.to_pb(base)),
        }
    }
}

/// Copy `src` from another state to `dest` in the base state.
///
/// Named after BuildKit's `llb.Copy`. Note that a glob import of
/// `llb::*` shadows the prelude's `Copy` trait in that module; import
/// items by name instead.
#[derive(Debug, Clone)]
pub struct Copy {
    source: State,
    src: String,
    dest: String,
    owner: Option<ChownOpt>,
    mode: Option<u32>,
    follow_symlinks: bool,
    dir_contents_only: bool,
    attempt_unpack: bool,
    create_dest_path: bool,
    allow_wildcard: bool,
    allow_empty_wildcard: bool,
    timestamp: Option<i64>,
}

impl Copy {
    /// Copies `src` (relative to `source`'s dir) to `dest` (relative to the
    /// base state's dir; a trailing `/` means "into this directory").
    /// Every option starts off; mode and timestamps are kept from the source.
    pub fn new(source: &State, src: impl Into<String>, dest: impl Into<String>) -> Self {
        Copy {
            source: source.clone(),
            src: src.into(),
            dest: dest.into(),
            owner: None,
            mode: None,
            follow_symlinks: false,
            dir_contents_only: false,
            attempt_unpack: false,
            create_dest_path: false,
            allow_wildcard: false,
            allow_empty_wildcard: false,
            timestamp: None,
        }
    }

    /// Owner of the copied files.
    pub fn owner(mut self, owner: ChownOpt) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Permission bits for the copied files (default: keep the source's).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode & 0o7777);
        self
    }

    /// Resolve a symlink given as `src` instead of copying the link.
    pub fn follow_symlinks(mut self, yes: bool) -> Self {
        self.follow_symlinks = yes;
        self
    }

    /// If `src` is a directory, copy its contents rather than the directory.
    pub fn dir_contents_only(mut self, yes: bool) -> Self {
        self.dir_contents_only = yes;
        self
    }

    /// Unpack a source archive (Dockerfile `ADD` behaviour).
    pub fn attempt_unpack(mut self, yes: bool) -> Self {
        self.attempt_unpack = yes;
        self
    }

    /// Create missing parent directories of `dest`.
    pub fn create_dest_path(mut self, yes: bool) -> Self {
        self.create_dest_path = yes;
        self
    }

    /// Treat `src` as a glob pattern.
    pub fn allow_wildcard(mut self, yes: bool) -> Self {
        self.allow_wildcard = yes;
        self
    }

    /// Don't fail when a glob matches nothing.
    pub fn allow_empty_wildcard(mut self, yes: bool) -> Self {
        self.allow_empty_wildcard = yes;
        self
    }

    /// Modification time of the copied files, in Unix nanoseconds
    /// (default: keep the source's).
    pub fn timestamp(mut self, unix_nanos: i64) -> Self {
        self.timestamp = Some(unix_nanos);
        self
    }
}

/// Create a directory.
#[derive(Debug, Clone)]
pub struct Mkdir {
    path: String,
    mode: u32,
    make_parents: bool,
    owner: Option<ChownOpt>,
    timestamp: Option<i64>,
}

impl Mkdir {
    /// A directory at `path` (relative to the base state's dir) with
    /// permission bits `mode` (masked to `0o777`).
    pub fn new(path: impl Into<String>, mode: u32) -> Self {
        Mkdir {
            path: path.into(),
            mode: mode & 0o777,
            make_parents: false,
            owner: None,
            timestamp: None,
        }
    }

    /// Create missing parents too (`mkdir -p`).
    pub fn make_parents(mut self, yes: bool) -> Self {
        self.make_parents = yes;
        self
    }

    /// Owner of the new directory.
    pub fn owner(mut self, owner: ChownOpt) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Modification time in Unix nanoseconds (default: now).
    pub fn timestamp(mut self, unix_nanos: i64) -> Self {
        self.timestamp = Some(unix_nanos);
        self
    }
}

/// Create (or overwrite) a file with given contents.
#[derive(Debug, Clone)]
pub struct Mkfile {
    path: String,
    mode: u32,
    data: Vec<u8>,
    owner: Option<ChownOpt>,
    timestamp: Option<i64>,
}

impl Mkfile {
    /// A file at `path` with permission bits `mode` (masked to `0o777`).
    pub fn new(path: impl Into<String>, mode: u32, data: impl Into<Vec<u8>>) -> Self {
        Mkfile {
            path: path.into(),
            mode: mode & 0o777,
            data: data.into(),
            owner: None,
            timestamp: None,
        }
    }

    /// Owner of the new file.
    pub fn owner(mut self, owner: ChownOpt) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Modification time in Unix nanoseconds (default: now).
    pub fn timestamp(mut self, unix_nanos: i64) -> Self {
        self.timestamp = Some(unix_nanos);
        self
    }
}

/// Remove a path.
#[derive(Debug, Clone)]
pub struct Rm {
    path: String,
    allow_not_found: bool,
    allow_wildcard: bool,
}

impl Rm {
    /// Removes `path` (relative to the base state's dir), recursively.
    pub fn new(path: impl Into<String>) -> Self {
        Rm {
            path: path.into(),
            allow_not_found: false,
            allow_wildcard: false,
        }
    }

    /// Succeed if the path does not exist.
    pub fn allow_not_found(mut self, yes: bool) -> Self {
        self.allow_not_found = yes;
        self
    }

    /// Treat the path as a glob pattern.
    pub fn allow_wildcard(mut self, yes: bool) -> Self {
        self.allow_wildcard = yes;
        self
    }
}

/// One action of a [`FileOp`].
#[derive(Debug, Clone)]
pub enum FileAction {
    /// See [`Copy`](struct@Copy).
    Copy(Copy),
    /// See [`Mkdir`].
    Mkdir(Mkdir),
    /// See [`Mkfile`].
    Mkfile(Mkfile),
    /// See [`Rm`].
    Rm(Rm),
}

/// Builder for a file op: actions applied one after another on a base
/// state, producing a single output. Start one with [`State::file`].
#[derive(Debug, Clone)]
pub struct FileOp {
    base: State,
    actions: Vec<FileAction>,
    constraints: Constraints,
    meta: OpMeta,
}

op_options!(FileOp);

impl FileOp {
    pub(crate) fn new(base: State) -> Self {
        FileOp {
            base,
            actions: Vec::new(),
            constraints: Constraints::default(),
            meta: OpMeta::default(),
        }
    }

    /// Appends any action.
    pub fn action(mut self, action: FileAction) -> Self {
        self.actions.push(action);
        self
    }

    /// Appends a copy.
    pub fn copy(self, copy: Copy) -> Self {
        self.action(FileAction::Copy(copy))
    }

    /// Appends a mkdir.
    pub fn mkdir(self, mkdir: Mkdir) -> Self {
        self.action(FileAction::Mkdir(mkdir))
    }

    /// Appends a mkfile.
    pub fn mkfile(self, mkfile: Mkfile) -> Self {
        self.action(FileAction::Mkfile(mkfile))
    }

    /// Appends an rm.
    pub fn rm(self, rm: Rm) -> Self {
        self.action(FileAction::Rm(rm))
    }

    /// Encodes the op and returns its result, with the base state's
    /// defaults.
    ///
    /// Index scheme (as BuildKit's Go client): the first action works on
    /// the base state's input (`-1` for scratch), action `k > 0` on
    /// `len(inputs) + k - 1`, the result of the previous action. Copy
    /// sources are inputs too (`-1` for scratch); non-copy actions have
    /// `secondaryInput = -1`. Only the last action has output 0.
    pub fn build(self) -> Result<State> {
        if self.actions.is_empty() {
            return Err(LlbError::EmptyFileOp);
        }
        let mut meta = self.meta;
        meta.add_cap("file.base");

        let mut inputs = InputSet::default();
        let base_idx = inputs.add(self.base.output());
        let secondaries: Vec<i64> = self
            .actions
            .iter()
            .map(|a| match a {
                FileAction::Copy(c) => inputs.add(c.source.output()),
                _ => -1,
            })
            .collect();
        let n_inputs = inputs.len();
        let dir = self.base.get_dir();
        let last = self.actions.len() - 1;

        let mut actions = Vec::with_capacity(self.actions.len());
        for (k, (action, secondary)) in self.actions.iter().zip(secondaries).enumerate() {
            let input = if k == 0 {
                base_idx
            } else {
                n_inputs + super::node::index_i64(k - 1)
            };
            let owner = |o: &Option<ChownOpt>| o.as_ref().map(|c| c.to_pb(base_idx));
            let body = match action {
                FileAction::Copy(c) => {
                    if c.src.is_empty() || c.dest.is_empty() {
                        return Err(LlbError::EmptyPath("copy"));
                    }
                    pb::file_action::Action::Copy(pb::FileActionCopy {
                        src: path::resolve(c.source.get_dir(), &c.src),
                        dest: path::resolve_keep_slash(dir, &c.dest),
                        owner: owner(&c.owner),
                        mode: c.mode.map_or(-1, |m| m as i32),
                        follow_symlink: c.follow_symlinks,
                        dir_copy_contents: c.dir_contents_only,
                        attempt_unpack_docker_compatibility: c.attempt_unpack,
                        create_dest_path: c.create_dest_path,
                        allow_wildcard: c.allow_wildcard,
                        allow_empty_wildcard: c.allow_empty_wildcard,
                        timestamp: c.timestamp.unwrap_or(-1),
                    })
                }
                FileAction::Mkdir(m) => {
                    if m.path.is_empty() {
                        return Err(LlbError::EmptyPath("mkdir"));
                    }
                    pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                        path: path::resolve(dir, &m.path),
                        mode: m.mode as i32,
                        make_parents: m.make_parents,
                        owner: owner(&m.owner),
                        timestamp: m.timestamp.unwrap_or(-1),
                    })
                }
                FileAction::Mkfile(m) => {
                    if m.path.is_empty() {
                        return Err(LlbError::EmptyPath("mkfile"));
                    }
                    pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                        path: path::resolve(dir, &m.path),
                        mode: m.mode as i32,
                        data: m.data.clone(),
                        owner: owner(&m.owner),
                        timestamp: m.timestamp.unwrap_or(-1),
                    })
                }
                FileAction::Rm(r) => {
                    if r.path.is_empty() {
                        return Err(LlbError::EmptyPath("rm"));
                    }
                    if r.allow_wildcard {
                        meta.add_cap("file.rm.wildcard");
                    }
                    pb::file_action::Action::Rm(pb::FileActionRm {
                        path: path::resolve(dir, &r.path),
                        allow_not_found: r.allow_not_found,
                        allow_wildcard: r.allow_wildcard,
                    })
                }
            };
            actions.push(pb::FileAction {
                input,
                secondary_input: secondary,
                output: if k == last { 0 } else { -1 },
                action: Some(body),
            });
        }

        let mut op = pb::Op {
            op: Some(pb::op::Op::File(pb::FileOp { actions })),
            ..Default::default()
        };
        self.constraints
            .apply(&mut op, self.base.defaults.platform.as_ref());
        let node = Node::new(op, inputs.inputs, meta);
        Ok(State::from_output(
            Output { node, index: 0 },
            self.base.defaults.clone(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_parsing() {
        assert_eq!(ChownOpt::parse("1000:1000"), ChownOpt::ids(1000, 1000));
        let c = ChownOpt::parse("app");
        assert_eq!(c.user, Some(UserOpt::Name("app".into())));
        assert_eq!(c.group, None);
        let c = ChownOpt::parse(":staff");
        assert_eq!(c.user, None);
        assert_eq!(c.group, Some(UserOpt::Name("staff".into())));
    }
}
