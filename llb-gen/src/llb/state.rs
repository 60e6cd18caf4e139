//! [`State`]: an immutable handle to a filesystem plus the defaults that
//! execs built on it inherit.

use super::exec::Exec;
use super::file::FileOp;
use super::node::Output;
use super::{path, Digest, LlbError, Platform, Result};
use std::fmt;
use std::sync::Arc;

/// Values an exec inherits from the state it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Defaults {
    pub(crate) dir: String,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) user: String,
    pub(crate) platform: Option<Platform>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            dir: "/".to_owned(),
            env: Vec::new(),
            user: String::new(),
            platform: None,
        }
    }
}

/// A filesystem in the build graph (or scratch), with exec defaults.
///
/// States are immutable: every method returns a new value and leaves the
/// receiver untouched. Cloning is cheap (reference counted).
#[derive(Clone, Default)]
pub struct State {
    pub(crate) output: Option<Output>,
    pub(crate) defaults: Arc<Defaults>,
}

impl State {
    /// The empty filesystem. Not an op: it marshals to an empty Definition
    /// and is `-1` wherever it is used as an input.
    pub fn scratch() -> Self {
        State::default()
    }

    pub(crate) fn from_output(output: Output, defaults: Arc<Defaults>) -> Self {
        State {
            output: Some(output),
            defaults,
        }
    }

    /// True for [`State::scratch`] (and states derived from it by changing
    /// only defaults).
    pub fn is_scratch(&self) -> bool {
        self.output.is_none()
    }

    /// The op output this state refers to, or `None` for scratch.
    pub fn output(&self) -> Option<&Output> {
        self.output.as_ref()
    }

    /// Digest of the op producing this state, or `None` for scratch.
    pub fn digest(&self) -> Option<&Digest> {
        self.output.as_ref().map(Output::digest)
    }

    fn with_defaults(&self, f: impl FnOnce(&mut Defaults)) -> State {
        let mut d = (*self.defaults).clone();
        f(&mut d);
        State {
            output: self.output.clone(),
            defaults: Arc::new(d),
        }
    }

    /// Working directory for execs and base for relative file paths;
    /// a relative `dir` is resolved against the current one.
    pub fn dir(&self, dir: &str) -> State {
        self.with_defaults(|d| d.dir = path::resolve(&d.dir, dir))
    }

    /// The current working directory (`/` unless changed).
    pub fn get_dir(&self) -> &str {
        &self.defaults.dir
    }

    /// Sets an environment variable for execs. Like BuildKit's Go client, an
    /// existing key is removed and the new pair appended, so order reflects
    /// the latest change.
    pub fn env(&self, key: impl Into<String>, value: impl Into<String>) -> State {
        let (key, value) = (key.into(), value.into());
        self.with_defaults(|d| {
            d.env.retain(|(k, _)| *k != key);
            d.env.push((key, value));
        })
    }

    /// Removes an environment variable.
    pub fn unset_env(&self, key: &str) -> State {
        self.with_defaults(|d| d.env.retain(|(k, _)| k != key))
    }

    /// Value of an environment variable, if set.
    pub fn get_env(&self, key: &str) -> Option<&str> {
        self.defaults
            .env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All environment variables, in order.
    pub fn env_list(&self) -> &[(String, String)] {
        &self.defaults.env
    }

    /// User (name, uid, or `user:group`) execs run as; empty means root.
    pub fn user(&self, user: impl Into<String>) -> State {
        let user = user.into();
        self.with_defaults(|d| d.user = user)
    }

    /// The current user (empty for the image default, i.e. root).
    pub fn get_user(&self) -> &str {
        &self.defaults.user
    }

    /// Platform for exec and file ops built on this state.
    pub fn platform(&self, platform: Platform) -> State {
        self.with_defaults(|d| d.platform = Some(platform))
    }

    /// The platform execs and file ops on this state will target, if set.
    pub fn get_platform(&self) -> Option<&Platform> {
        self.defaults.platform.as_ref()
    }

    /// Applies an OCI image config (the JSON returned by
    /// `ResolveImageConfig`): `Env`, `WorkingDir` and `User`. BuildKit does
    /// not apply these by itself.
    pub fn with_image_config(&self, config_json: &[u8]) -> Result<State> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Cfg {
            #[serde(rename = "Env")]
            env: Option<Vec<String>>,
            #[serde(rename = "WorkingDir")]
            working_dir: Option<String>,
            #[serde(rename = "User")]
            user: Option<String>,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Image {
            config: Cfg,
        }
        let img: Image = serde_json::from_slice(config_json)
            .map_err(|e| LlbError::InvalidImageConfig(e.to_string()))?;
        let mut st = self.clone();
        for kv in img.config.env.unwrap_or_default() {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            st = st.env(k, v);
        }
        if let Some(wd) = img.config.working_dir.filter(|w| !w.is_empty()) {
            st = st.dir(&wd);
        }
        if let Some(user) = img.config.user.filter(|u| !u.is_empty()) {
            st = st.user(user);
        }
        Ok(st)
    }

    /// Starts an exec that runs `args` on this state's filesystem (mounted
    /// at `/`), inheriting its dir, env, user and platform.
    pub fn run<I, S>(&self, args: I) -> Exec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec::new(self.clone(), args.into_iter().map(Into::into).collect())
    }

    /// Starts a file op (copy/mkdir/mkfile/rm actions) on this state.
    pub fn file(&self) -> FileOp {
        FileOp::new(self.clone())
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.output {
            Some(o) => write!(f, "State({o:?}, dir={:?})", self.defaults.dir),
            None => write!(f, "State(scratch, dir={:?})", self.defaults.dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_immutable_and_ordered() {
        let a = State::scratch().env("A", "1").env("B", "2");
        let b = a.env("A", "3").dir("sub").dir("../x");
        assert_eq!(a.get_env("A"), Some("1"));
        assert_eq!(a.get_dir(), "/");
        assert_eq!(
            b.env_list(),
            &[("B".into(), "2".into()), ("A".into(), "3".into())]
        );
        assert_eq!(b.get_dir(), "/x");
        assert!(b.unset_env("A").get_env("A").is_none());
    }

    #[test]
    fn image_config_sets_env_dir_user() {
        let cfg = br#"{"architecture":"amd64","config":{"Env":["PATH=/usr/bin","X=a=b"],"WorkingDir":"/app","User":"1000"}}"#;
        let st = State::scratch().with_image_config(cfg).expect("valid");
        assert_eq!(st.get_env("PATH"), Some("/usr/bin"));
        assert_eq!(st.get_env("X"), Some("a=b"));
        assert_eq!(st.get_dir(), "/app");
        assert_eq!(st.get_user(), "1000");
        assert!(State::scratch().with_image_config(b"{not json").is_err());
        let empty = State::scratch().with_image_config(b"{}").expect("valid");
        assert_eq!(empty.get_dir(), "/");
    }
}
