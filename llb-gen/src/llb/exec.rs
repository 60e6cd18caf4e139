//! Exec ops: run a command in a container assembled from mounts.

use super::mount::{CacheSharing, Mount};
use super::node::{InputSet, Node, Output};
use super::options::op_options;
use super::state::Defaults;
use super::{path, Constraints, Digest, LlbError, OpMeta, Result, State};
use crate::proto::pb;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The network an exec sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum NetMode {
    /// BuildKit's default sandboxed network.
    #[default]
    Sandbox,
    /// The host network (needs the `network.host` entitlement).
    Host,
    /// No network.
    None,
}

impl NetMode {
    /// The one spelling of each mode: BuildKit's `force-network-mode` values, and what keys,
    /// explanations and messages show.
    pub fn as_str(self) -> &'static str {
        match self {
            NetMode::Sandbox => "sandbox",
            NetMode::Host => "host",
            NetMode::None => "none",
        }
    }

    /// `sandbox` (or `default`, as docker spells it), `host` or `none`.
    pub fn parse(s: &str) -> Option<NetMode> {
        match s {
            "sandbox" | "default" => Some(NetMode::Sandbox),
            "host" => Some(NetMode::Host),
            "none" => Some(NetMode::None),
            _ => None,
        }
    }
}

/// Privilege level of an exec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SecurityMode {
    /// Normal, confined container.
    #[default]
    Sandbox,
    /// Privileged (needs the `security.insecure` entitlement).
    Insecure,
}

/// Proxy settings for one exec, BuildKit's `ProxyEnv` (the predefined `HTTP_PROXY` … build
/// arguments of the dockerfile frontend).
///
/// BuildKit hands each non-empty value to the process twice, as `HTTP_PROXY` and `http_proxy`
/// (and so on), but leaves the whole message out of the exec's cache key: the same command behind
/// another proxy reuses its cached result. Unlike [`Exec::env`], changing a value here changes
/// the op's bytes (and digest) but no cache key.
///
/// `all_proxy` only reaches the process on BuildKit v0.9 and later: v0.8 (dockerd 20.10) knows
/// the other four fields and silently drops a field it does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProxyEnv {
    pub http_proxy: String,
    pub https_proxy: String,
    pub ftp_proxy: String,
    pub no_proxy: String,
    pub all_proxy: String,
}

impl ProxyEnv {
    /// True when no field is set (BuildKit then gets no `ProxyEnv` at all).
    pub fn is_empty(&self) -> bool {
        self.set_names().is_empty()
    }

    /// The upper-case names of the fields that are set, in BuildKit's order (`HTTP_PROXY`,
    /// `HTTPS_PROXY`, `FTP_PROXY`, `NO_PROXY`, `ALL_PROXY`).
    pub fn set_names(&self) -> Vec<&'static str> {
        [
            ("HTTP_PROXY", &self.http_proxy),
            ("HTTPS_PROXY", &self.https_proxy),
            ("FTP_PROXY", &self.ftp_proxy),
            ("NO_PROXY", &self.no_proxy),
            ("ALL_PROXY", &self.all_proxy),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, _)| name)
        .collect()
    }

    fn to_pb(&self) -> pb::ProxyEnv {
        pb::ProxyEnv {
            http_proxy: self.http_proxy.clone(),
            https_proxy: self.https_proxy.clone(),
            ftp_proxy: self.ftp_proxy.clone(),
            no_proxy: self.no_proxy.clone(),
            all_proxy: self.all_proxy.clone(),
        }
    }
}

/// Builder for an exec op; start one with [`State::run`].
#[derive(Debug, Clone)]
pub struct Exec {
    base: State,
    args: Vec<String>,
    cwd: String,
    env: Vec<(String, String)>,
    user: String,
    hostname: Option<String>,
    network: NetMode,
    security: SecurityMode,
    extra_hosts: Vec<(String, String)>,
    proxy_env: ProxyEnv,
    readonly_root: bool,
    mounts: Vec<Mount>,
    constraints: Constraints,
    meta: OpMeta,
}

op_options!(Exec);

impl Exec {
    pub(crate) fn new(base: State, args: Vec<String>) -> Self {
        let d = &base.defaults;
        Exec {
            cwd: d.dir.clone(),
            env: d.env.clone(),
            user: d.user.clone(),
            args,
            hostname: None,
            network: NetMode::Sandbox,
            security: SecurityMode::Sandbox,
            extra_hosts: Vec::new(),
            proxy_env: ProxyEnv::default(),
            readonly_root: false,
            mounts: Vec::new(),
            constraints: Constraints::default(),
            meta: OpMeta::default(),
            base,
        }
    }

    /// Working directory (relative paths resolve against the current one).
    pub fn cwd(mut self, dir: &str) -> Self {
        self.cwd = path::resolve(&self.cwd, dir);
        self
    }

    /// Sets an environment variable for this exec only (existing key moves
    /// to the end with the new value).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value));
        self
    }

    /// User to run as (name, uid or `user:group`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Container hostname.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = Some(hostname.into());
        self
    }

    /// Network mode.
    pub fn network(mut self, mode: NetMode) -> Self {
        self.network = mode;
        self
    }

    /// Security mode.
    pub fn security(mut self, mode: SecurityMode) -> Self {
        self.security = mode;
        self
    }

    /// Adds an `/etc/hosts` entry.
    pub fn add_host(mut self, host: impl Into<String>, ip: impl Into<String>) -> Self {
        self.extra_hosts.push((host.into(), ip.into()));
        self
    }

    /// Proxy settings for the process, outside the cache key (see [`ProxyEnv`]). An empty one
    /// sends nothing.
    pub fn proxy_env(mut self, proxy: ProxyEnv) -> Self {
        self.proxy_env = proxy;
        self
    }

    /// Mounts the root filesystem read-only; the exec then produces no root
    /// output (see [`ExecState::root`]).
    pub fn readonly_root(mut self) -> Self {
        self.readonly_root = true;
        self
    }

    /// Adds a mount. A later mount at the same destination is an error at
    /// [`Exec::build`].
    pub fn mount(mut self, mount: impl Into<Mount>) -> Self {
        self.mounts.push(mount.into());
        self
    }

    /// Validates and encodes the op.
    ///
    /// Mounts are laid out as BuildKit's Go client does: the root and every
    /// bind/cache/tmpfs mount sorted by destination, then secrets, then SSH
    /// sockets in the order added. Writable binds (root first) get output
    /// indexes 0, 1, … in that sorted order; everything else has output -1.
    pub fn build(self) -> Result<ExecState> {
        if self.args.is_empty() {
            return Err(LlbError::EmptyArgs);
        }
        if self.cwd.is_empty() {
            return Err(LlbError::MissingCwd);
        }

        let mut meta = self.meta;
        meta.add_cap("exec.meta.base");

        // Regular mounts (root, bind, cache, tmpfs) and session mounts.
        let mut regular: Vec<(String, Mount)> = Vec::new();
        let mut session: Vec<(String, Mount)> = Vec::new();
        let mut ssh_count = 0usize;
        for m in self.mounts {
            let dest = match &m {
                Mount::Bind(b) => b.dest.clone(),
                Mount::Cache(c) => c.dest.clone(),
                Mount::Tmpfs(t) => t.dest.clone(),
                Mount::Secret(s) => s.dest.clone(),
                Mount::Ssh(s) => {
                    let d = s
                        .dest
                        .clone()
                        .unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{ssh_count}"));
                    ssh_count += 1;
                    d
                }
            };
            if !dest.starts_with('/') {
                return Err(LlbError::InvalidMountDest(dest));
            }
            let dest = path::clean(&dest);
            match m {
                Mount::Secret(_) | Mount::Ssh(_) => session.push((dest, m)),
                _ => regular.push((dest, m)),
            }
        }
        let root = Mount::Bind(super::mount::BindMount {
            dest: "/".to_owned(),
            source: self.base.clone(),
            selector: String::new(),
            readonly: self.readonly_root,
            no_output: false,
        });
        regular.push(("/".to_owned(), root));
        regular.sort_by(|a, b| a.0.cmp(&b.0));
        {
            let mut seen = std::collections::BTreeSet::new();
            for (dest, _) in regular.iter().chain(session.iter()) {
                if !seen.insert(dest.as_str()) {
                    return Err(LlbError::DuplicateMount(dest.clone()));
                }
            }
        }

        let mut env = self.env;
        let first_ssh = session.iter().find_map(|(d, m)| match m {
            Mount::Ssh(_) => Some(d.clone()),
            _ => None,
        });
        if let Some(sock) = first_ssh {
            if !env.iter().any(|(k, _)| k == "SSH_AUTH_SOCK") {
                env.push(("SSH_AUTH_SOCK".to_owned(), sock));
            }
        }

        let mut inputs = InputSet::default();
        let mut pb_mounts = Vec::with_capacity(regular.len() + session.len());
        let mut outputs: BTreeMap<String, MountOutput> = BTreeMap::new();
        let mut next_output = 0i64;
        for (dest, m) in &regular {
            let pm = match m {
                Mount::Bind(b) => {
                    if !b.source.is_scratch() {
                        meta.add_cap("exec.mount.bind");
                    }
                    if !b.selector.is_empty() {
                        meta.add_cap("exec.mount.selector");
                    }
                    if b.no_output && !b.readonly {
                        meta.add_cap("exec.mount.bind.readwrite-nooutput");
                    }
                    let output = if b.has_output() {
                        let o = next_output;
                        next_output += 1;
                        outputs.insert(dest.clone(), MountOutput::Index(o));
                        o
                    } else {
                        let out = if b.readonly {
                            MountOutput::Source(b.source.clone())
                        } else {
                            MountOutput::None
                        };
                        outputs.insert(dest.clone(), out);
                        -1
                    };
                    pb::Mount {
                        input: inputs.add(b.source.output()),
                        selector: b.selector.clone(),
                        dest: dest.clone(),
                        output,
                        readonly: b.readonly,
                        mount_type: pb::MountType::Bind as i32,
                        ..Default::default()
                    }
                }
                Mount::Cache(c) => {
                    meta.add_cap("exec.mount.cache");
                    meta.add_cap("exec.mount.cache.sharing");
                    if !c.selector.is_empty() {
                        meta.add_cap("exec.mount.selector");
                    }
                    outputs.insert(dest.clone(), MountOutput::None);
                    pb::Mount {
                        input: inputs.add(c.seed.as_ref().and_then(State::output)),
                        selector: c.selector.clone(),
                        dest: dest.clone(),
                        output: -1,
                        mount_type: pb::MountType::Cache as i32,
                        cache_opt: Some(pb::CacheOpt {
                            id: c.id.clone(),
                            sharing: match c.sharing {
                                CacheSharing::Shared => pb::CacheSharingOpt::Shared,
                                CacheSharing::Private => pb::CacheSharingOpt::Private,
                                CacheSharing::Locked => pb::CacheSharingOpt::Locked,
                            } as i32,
                        }),
                        ..Default::default()
                    }
                }
                Mount::Tmpfs(_) => {
                    meta.add_cap("exec.mount.tmpfs");
                    outputs.insert(dest.clone(), MountOutput::None);
                    pb::Mount {
                        input: -1,
                        dest: dest.clone(),
                        output: -1,
                        mount_type: pb::MountType::Tmpfs as i32,
                        ..Default::default()
                    }
                }
                Mount::Secret(_) | Mount::Ssh(_) => continue,
            };
            pb_mounts.push(pm);
        }
        for (dest, m) in &session {
            outputs.insert(dest.clone(), MountOutput::None);
            let pm = match m {
                Mount::Secret(s) => {
                    meta.add_cap("exec.mount.secret");
                    pb::Mount {
                        input: -1,
                        dest: dest.clone(),
                        output: -1,
                        mount_type: pb::MountType::Secret as i32,
                        secret_opt: Some(pb::SecretOpt {
                            id: s.id.clone(),
                            uid: s.uid,
                            gid: s.gid,
                            mode: s.mode,
                            optional: s.optional,
                        }),
                        ..Default::default()
                    }
                }
                Mount::Ssh(s) => {
                    meta.add_cap("exec.mount.ssh");
                    pb::Mount {
                        input: -1,
                        dest: dest.clone(),
                        output: -1,
                        mount_type: pb::MountType::Ssh as i32,
                        ssh_opt: Some(pb::SshOpt {
                            id: s.id.clone(),
                            uid: s.uid,
                            gid: s.gid,
                            mode: s.mode,
                            optional: s.optional,
                        }),
                        ..Default::default()
                    }
                }
                _ => continue,
            };
            pb_mounts.push(pm);
        }

        let network = match self.network {
            NetMode::Sandbox => pb::NetMode::Unset,
            NetMode::Host => pb::NetMode::Host,
            NetMode::None => pb::NetMode::None,
        };
        if network != pb::NetMode::Unset {
            meta.add_cap("exec.meta.network");
        }
        let security = match self.security {
            SecurityMode::Sandbox => pb::SecurityMode::Sandbox,
            SecurityMode::Insecure => pb::SecurityMode::Insecure,
        };
        if security != pb::SecurityMode::Sandbox {
            meta.add_cap("exec.meta.security");
        }

        let proxy_env = (!self.proxy_env.is_empty()).then(|| {
            meta.add_cap("exec.meta.proxyenv");
            self.proxy_env.to_pb()
        });

        let exec = pb::ExecOp {
            meta: Some(pb::Meta {
                args: self.args,
                env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                cwd: self.cwd,
                user: self.user,
                proxy_env,
                extra_hosts: self
                    .extra_hosts
                    .into_iter()
                    .map(|(host, ip)| pb::HostIp { host, ip })
                    .collect(),
                hostname: self.hostname.unwrap_or_default(),
            }),
            mounts: pb_mounts,
            network: network as i32,
            security: security as i32,
        };
        let mut op = pb::Op {
            op: Some(pb::op::Op::Exec(exec)),
            ..Default::default()
        };
        self.constraints
            .apply(&mut op, self.base.defaults.platform.as_ref());
        let node = Node::new(op, inputs.inputs, meta);
        Ok(ExecState {
            node,
            outputs,
            base: self.base,
        })
    }
}

/// What a mount of a built exec yields as a state.
#[derive(Debug, Clone)]
enum MountOutput {
    /// A real output of the exec op.
    Index(i64),
    /// Read-only bind: the mounted state itself, unchanged.
    Source(State),
    /// Cache, tmpfs, secret, ssh or no-output bind.
    None,
}

/// A built exec op: its root filesystem and other mount outputs as states.
#[derive(Debug, Clone)]
pub struct ExecState {
    node: Arc<Node>,
    outputs: BTreeMap<String, MountOutput>,
    base: State,
}

impl ExecState {
    /// Digest of the exec op.
    pub fn digest(&self) -> &Digest {
        &self.node.digest
    }

    fn defaults(&self) -> Arc<Defaults> {
        self.base.defaults.clone()
    }

    /// The root filesystem after the command ran, with the base state's
    /// defaults. With a read-only root this is the unchanged base state.
    pub fn root(&self) -> State {
        match self.outputs.get("/") {
            Some(MountOutput::Index(i)) => State::from_output(
                Output {
                    node: self.node.clone(),
                    index: *i,
                },
                self.defaults(),
            ),
            _ => self.base.clone(),
        }
    }

    /// The filesystem of the mount at `dest` after the command ran.
    ///
    /// Writable binds yield the exec's output for that mount; read-only
    /// binds yield the mounted state unchanged. Cache, tmpfs, secret, SSH
    /// and no-output mounts have no result and give an error.
    pub fn get_mount(&self, dest: &str) -> Result<State> {
        let key = path::clean(dest);
        match self.outputs.get(&key) {
            Some(MountOutput::Index(i)) => Ok(State::from_output(
                Output {
                    node: self.node.clone(),
                    index: *i,
                },
                self.defaults(),
            )),
            Some(MountOutput::Source(s)) => Ok(s.clone()),
            Some(MountOutput::None) => Err(LlbError::MountHasNoOutput(key)),
            None => Err(LlbError::UnknownMount(key)),
        }
    }
}
