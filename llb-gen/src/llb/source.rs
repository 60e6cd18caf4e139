//! Source ops: images, local directories, git repositories and URLs.

use super::node::{Node, Output};
use super::options::op_options;
use super::state::Defaults;
use super::{Constraints, Digest, ImageRef, LlbError, OpMeta, Platform, Result, State};
use crate::proto::pb;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Encodes a source op and wraps it as a state.
fn source_state(
    identifier: String,
    attrs: BTreeMap<String, String>,
    constraints: &Constraints,
    meta: OpMeta,
    platform_specific: bool,
) -> State {
    let mut op = pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp { identifier, attrs })),
        ..Default::default()
    };
    constraints.apply(&mut op, None);
    if !platform_specific {
        // Only image content depends on the platform; BuildKit's Go client
        // strips it from other sources so their digests stay portable.
        op.platform = None;
    }
    let defaults = Defaults {
        platform: if platform_specific {
            constraints.platform.clone()
        } else {
            None
        },
        ..Defaults::default()
    };
    let node = Node::new(op, Vec::new(), meta);
    State::from_output(Output { node, index: 0 }, Arc::new(defaults))
}

/// When BuildKit should consult the registry versus local images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ResolveMode {
    /// Use a cached/local copy if present, otherwise pull.
    #[default]
    Default,
    /// Always check the registry.
    ForcePull,
    /// Prefer a local image of the same name.
    PreferLocal,
}

impl ResolveMode {
    /// The attr / `ResolveImageConfig` spelling: `default`, `pull`, `local`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveMode::Default => "default",
            ResolveMode::ForcePull => "pull",
            ResolveMode::PreferLocal => "local",
        }
    }

    /// Parses `default`, `pull` or `local`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "default" => Some(ResolveMode::Default),
            "pull" => Some(ResolveMode::ForcePull),
            "local" => Some(ResolveMode::PreferLocal),
            _ => None,
        }
    }
}

/// A container image (`docker-image://…`).
#[derive(Debug, Clone)]
pub struct Image {
    reference: ImageRef,
    resolve_mode: ResolveMode,
    constraints: Constraints,
    meta: OpMeta,
}

op_options!(Image);

impl Image {
    /// An image by reference, normalised like docker (`foo` →
    /// `docker.io/library/foo:latest`).
    pub fn new(reference: &str) -> Result<Self> {
        Ok(Image::from_ref(ImageRef::parse(reference)?))
    }

    /// An image from an already parsed reference.
    pub fn from_ref(reference: ImageRef) -> Self {
        Image {
            reference,
            resolve_mode: ResolveMode::Default,
            constraints: Constraints::default(),
            meta: OpMeta::default(),
        }
    }

    /// Pins the image to a manifest digest (e.g. from
    /// `ResolveImageConfig`); the tag is kept for readability.
    pub fn with_digest(mut self, digest: &str) -> Result<Self> {
        self.reference = self.reference.with_digest(Digest::parse(digest)?);
        Ok(self)
    }

    /// The normalised reference.
    pub fn reference(&self) -> &ImageRef {
        &self.reference
    }

    /// How to resolve the image (attr `image.resolvemode`, omitted for
    /// the default as BuildKit's Go client does).
    pub fn resolve_mode(mut self, mode: ResolveMode) -> Self {
        self.resolve_mode = mode;
        self
    }

    /// Encodes the source op. The state targets the image's platform.
    pub fn into_state(self) -> State {
        let mut meta = self.meta;
        meta.add_cap("source.image");
        let mut attrs = BTreeMap::new();
        if self.resolve_mode != ResolveMode::Default {
            attrs.insert(
                "image.resolvemode".to_owned(),
                self.resolve_mode.as_str().to_owned(),
            );
            if self.resolve_mode == ResolveMode::ForcePull {
                meta.add_cap("source.image.resolvemode");
            }
        }
        source_state(
            format!("docker-image://{}", self.reference),
            attrs,
            &self.constraints,
            meta,
            true,
        )
    }
}

impl From<Image> for State {
    fn from(i: Image) -> State {
        i.into_state()
    }
}

/// A directory from the client session (`local://<name>`, e.g. the
/// `context` or `dockerfile` directories of a build).
#[derive(Debug, Clone)]
pub struct Local {
    name: String,
    session: Option<String>,
    include: Vec<String>,
    exclude: Vec<String>,
    follow: Vec<String>,
    shared_key_hint: Option<String>,
    unique: Option<String>,
    constraints: Constraints,
    meta: OpMeta,
}

op_options!(Local);

impl Local {
    /// The session directory called `name`.
    pub fn new(name: &str) -> Result<Self> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(LlbError::InvalidSource {
                kind: "local",
                value: name.to_owned(),
                reason: "name must be non-empty without whitespace",
            });
        }
        Ok(Local {
            name: name.to_owned(),
            session: None,
            include: Vec::new(),
            exclude: Vec::new(),
            follow: Vec::new(),
            shared_key_hint: None,
            unique: None,
            constraints: Constraints::default(),
            meta: OpMeta::default(),
        })
    }

    /// The client session to read from (`BUILDKIT_SESSION_ID` in a
    /// frontend).
    pub fn session(mut self, id: impl Into<String>) -> Self {
        self.session = Some(id.into());
        self
    }

    /// Only transfer paths matching these patterns.
    pub fn include_patterns<I: IntoIterator<Item = S>, S: Into<String>>(mut self, p: I) -> Self {
        self.include.extend(p.into_iter().map(Into::into));
        self
    }

    /// Never transfer paths matching these (`.dockerignore` syntax).
    pub fn exclude_patterns<I: IntoIterator<Item = S>, S: Into<String>>(mut self, p: I) -> Self {
        self.exclude.extend(p.into_iter().map(Into::into));
        self
    }

    /// Transfer exactly these paths (and symlink targets they need).
    pub fn follow_paths<I: IntoIterator<Item = S>, S: Into<String>>(mut self, p: I) -> Self {
        self.follow.extend(p.into_iter().map(Into::into));
        self
    }

    /// Stable name letting the daemon reuse earlier transfers
    /// incrementally.
    pub fn shared_key_hint(mut self, hint: impl Into<String>) -> Self {
        self.shared_key_hint = Some(hint.into());
        self
    }

    /// Value for `local.unique`, which Go sets randomly when there is no
    /// session. Never added implicitly here, to keep output deterministic.
    pub fn unique(mut self, id: impl Into<String>) -> Self {
        self.unique = Some(id.into());
        self
    }

    /// Encodes the source op.
    pub fn into_state(self) -> State {
        let mut meta = self.meta;
        meta.add_cap("source.local");
        let mut attrs = BTreeMap::new();
        let json = |v: &Vec<String>| serde_json::Value::from(v.clone()).to_string();
        if let Some(s) = &self.session {
            attrs.insert("local.session".to_owned(), s.clone());
            meta.add_cap("source.local.sessionid");
        }
        if !self.include.is_empty() {
            attrs.insert("local.includepattern".to_owned(), json(&self.include));
            meta.add_cap("source.local.includepatterns");
        }
        if !self.follow.is_empty() {
            attrs.insert("local.followpaths".to_owned(), json(&self.follow));
            meta.add_cap("source.local.followpaths");
        }
        if !self.exclude.is_empty() {
            attrs.insert("local.excludepatterns".to_owned(), json(&self.exclude));
            meta.add_cap("source.local.excludepatterns");
        }
        if let Some(h) = &self.shared_key_hint {
            attrs.insert("local.sharedkeyhint".to_owned(), h.clone());
            meta.add_cap("source.local.sharedkeyhint");
        }
        if let Some(u) = &self.unique {
            attrs.insert("local.unique".to_owned(), u.clone());
            meta.add_cap("source.local.unique");
        }
        source_state(
            format!("local://{}", self.name),
            attrs,
            &self.constraints,
            meta,
            false,
        )
    }
}

impl From<Local> for State {
    fn from(l: Local) -> State {
        l.into_state()
    }
}

/// A git repository checkout (`git://host/path#ref`).
#[derive(Debug, Clone)]
pub struct Git {
    identifier: String,
    full_url: String,
    keep_git_dir: bool,
    constraints: Constraints,
    meta: OpMeta,
}

op_options!(Git);

impl Git {
    /// `remote` as `https://host/path`, `http://…`, `git://…` or bare
    /// `host/path`; `reference` is a branch, tag or commit (empty for the
    /// default branch). SSH remotes are not supported here.
    pub fn new(remote: &str, reference: &str) -> Result<Self> {
        let bad = |reason| LlbError::InvalidSource {
            kind: "git",
            value: remote.to_owned(),
            reason,
        };
        let url = remote.split('#').next().unwrap_or_default();
        let (bare, full_url) = ["https://", "http://", "git://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme).map(|b| (b, url.to_owned())))
            .unwrap_or((url, format!("https://{url}")));
        if bare.is_empty() || !bare.contains('/') || bare.starts_with('/') {
            return Err(bad("expected host/path"));
        }
        if bare.contains('@') || bare.chars().any(char::is_whitespace) {
            return Err(bad(
                "credentials, ssh remotes and whitespace are not supported",
            ));
        }
        let mut identifier = format!("git://{bare}");
        if !reference.is_empty() {
            identifier.push('#');
            identifier.push_str(reference);
        }
        Ok(Git {
            identifier,
            full_url,
            keep_git_dir: false,
            constraints: Constraints::default(),
            meta: OpMeta::default(),
        })
    }

    /// Keep the `.git` directory in the checkout.
    pub fn keep_git_dir(mut self, yes: bool) -> Self {
        self.keep_git_dir = yes;
        self
    }

    /// Encodes the source op.
    pub fn into_state(self) -> State {
        let mut meta = self.meta;
        meta.add_cap("source.git");
        let mut attrs = BTreeMap::new();
        if self.keep_git_dir {
            attrs.insert("git.keepgitdir".to_owned(), "true".to_owned());
            meta.add_cap("source.git.keepgitdir");
        }
        attrs.insert("git.fullurl".to_owned(), self.full_url);
        meta.add_cap("source.git.fullurl");
        source_state(self.identifier, attrs, &self.constraints, meta, false)
    }
}

impl From<Git> for State {
    fn from(g: Git) -> State {
        g.into_state()
    }
}

/// A file downloaded over HTTP(S).
#[derive(Debug, Clone)]
pub struct Http {
    url: String,
    checksum: Option<Digest>,
    filename: Option<String>,
    perm: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    constraints: Constraints,
    meta: OpMeta,
}

op_options!(Http);

impl Http {
    /// A `http://` or `https://` URL.
    pub fn new(url: &str) -> Result<Self> {
        let ok = ["http://", "https://"]
            .iter()
            .any(|s| url.strip_prefix(s).is_some_and(|rest| !rest.is_empty()));
        if !ok || url.chars().any(char::is_whitespace) {
            return Err(LlbError::InvalidSource {
                kind: "http",
                value: url.to_owned(),
                reason: "expected an http:// or https:// URL",
            });
        }
        Ok(Http {
            url: url.to_owned(),
            checksum: None,
            filename: None,
            perm: None,
            uid: None,
            gid: None,
            constraints: Constraints::default(),
            meta: OpMeta::default(),
        })
    }

    /// Expected content digest (also makes the cache key content-based).
    pub fn checksum(mut self, digest: &str) -> Result<Self> {
        self.checksum = Some(Digest::parse(digest)?);
        Ok(self)
    }

    /// Name of the downloaded file.
    pub fn filename(mut self, name: impl Into<String>) -> Self {
        self.filename = Some(name.into());
        self
    }

    /// Permission bits of the downloaded file.
    pub fn perm(mut self, mode: u32) -> Self {
        self.perm = Some(mode & 0o7777);
        self
    }

    /// Owner of the downloaded file.
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.uid = Some(uid);
        self.gid = Some(gid);
        self
    }

    /// Encodes the source op.
    pub fn into_state(self) -> State {
        let mut meta = self.meta;
        meta.add_cap("source.http");
        let mut attrs = BTreeMap::new();
        if let Some(c) = &self.checksum {
            attrs.insert("http.checksum".to_owned(), c.to_string());
            meta.add_cap("source.http.checksum");
        }
        if let Some(f) = &self.filename {
            attrs.insert("http.filename".to_owned(), f.clone());
        }
        if let Some(p) = self.perm {
            attrs.insert("http.perm".to_owned(), format!("0{p:o}"));
            meta.add_cap("source.http.perm");
        }
        if let Some(u) = self.uid.filter(|u| *u != 0) {
            attrs.insert("http.uid".to_owned(), u.to_string());
            meta.add_cap("soruce.http.uidgid");
        }
        if let Some(g) = self.gid.filter(|g| *g != 0) {
            attrs.insert("http.gid".to_owned(), g.to_string());
            meta.add_cap("soruce.http.uidgid");
        }
        source_state(self.url, attrs, &self.constraints, meta, false)
    }
}

impl From<Http> for State {
    fn from(h: Http) -> State {
        h.into_state()
    }
}

/// Shorthand for [`Image::new`].
pub fn image(reference: &str) -> Result<Image> {
    Image::new(reference)
}

/// Shorthand for [`Local::new`].
pub fn local(name: &str) -> Result<Local> {
    Local::new(name)
}

/// Platform helper used by [`Image`]: the platform the image is pulled for.
impl Image {
    /// The platform set on this image, if any.
    pub fn get_platform(&self) -> Option<&Platform> {
        self.constraints.platform.as_ref()
    }
}
