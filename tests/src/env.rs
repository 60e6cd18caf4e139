//! The facts `scripts/env/up` wrote to `$CACHET_STATE_DIR/env`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::process;

/// Keys every consumer may rely on; loading fails if one is missing.
pub const REQUIRED_KEYS: &[&str] = &[
    "CACHET_STATE_DIR",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "CACHET_BUILDX_BUILDER",
    "CACHET_REGISTRY",
    "BUILDKIT_HOST",
    "CACHET_SDK_DEBIAN_IMAGE",
    "CACHET_SDK_RUSTUP_IMAGE",
];

const RUN_UP: &str = "run `scripts/env/up` first (it starts dockerd, buildkitd and the \
                      registry and writes this file); set CACHET_STATE_DIR if you used another state dir";

/// Why the environment could not be loaded. Every message says what to do.
#[derive(Debug)]
pub enum EnvError {
    /// The env file does not exist: `scripts/env/up` never ran (here).
    Missing { path: PathBuf },
    /// The env file exists but cannot be read.
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A line is not `KEY=VALUE`.
    Malformed {
        path: PathBuf,
        line: usize,
        text: String,
    },
    /// A required key is absent (the file comes from an older `up`).
    MissingKey { path: PathBuf, key: String },
    /// The file is there but an engine does not answer (daemons stopped).
    EngineDown { what: String, detail: String },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Missing { path } => {
                write!(f, "no test environment: {} does not exist; {RUN_UP}", path.display())
            }
            EnvError::Unreadable { path, error } => {
                write!(f, "cannot read {}: {error}; {RUN_UP}", path.display())
            }
            EnvError::Malformed { path, line, text } => write!(
                f,
                "{}:{line}: expected KEY=VALUE, found {text:?}; rerun `scripts/env/up`",
                path.display()
            ),
            EnvError::MissingKey { path, key } => write!(
                f,
                "{} has no {key}; it was written by an older scripts/env/up, rerun `scripts/env/up`",
                path.display()
            ),
            EnvError::EngineDown { what, detail } => write!(
                f,
                "{what} does not answer ({detail}); run `scripts/env/up` (the daemons may have been stopped)"
            ),
        }
    }
}

impl std::error::Error for EnvError {}

/// The loaded environment: an ordered `KEY -> VALUE` map plus where it came from.
#[derive(Clone, Debug)]
pub struct Env {
    path: PathBuf,
    vars: BTreeMap<String, String>,
}

impl Env {
    /// `$CACHET_STATE_DIR`, else `$HOME/.cache/cachet` (what `scripts/env/up` uses).
    pub fn default_state_dir() -> PathBuf {
        match std::env::var_os("CACHET_STATE_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => {
                let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
                Path::new(&home).join(".cache").join("cachet")
            }
        }
    }

    /// The env file `scripts/env/up` writes.
    pub fn default_env_file() -> PathBuf {
        Self::default_state_dir().join("env")
    }

    /// Parse env-file text (`KEY=VALUE` lines, `#` comments, blank lines).
    pub fn parse(path: &Path, text: &str) -> Result<Env, EnvError> {
        let mut vars = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = || EnvError::Malformed {
                path: path.to_owned(),
                line: i + 1,
                text: raw.to_owned(),
            };
            let (key, value) = line.split_once('=').ok_or_else(malformed)?;
            let key_ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !key_ok {
                return Err(malformed());
            }
            vars.insert(key.to_owned(), value.to_owned());
        }
        for key in REQUIRED_KEYS {
            if !vars.contains_key(*key) {
                return Err(EnvError::MissingKey {
                    path: path.to_owned(),
                    key: (*key).to_owned(),
                });
            }
        }
        Ok(Env {
            path: path.to_owned(),
            vars,
        })
    }

    /// Load and validate an env file.
    pub fn load_from(path: &Path) -> Result<Env, EnvError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(EnvError::Missing {
                path: path.to_owned(),
            }),
            Err(error) => Err(EnvError::Unreadable {
                path: path.to_owned(),
                error,
            }),
        }
    }

    /// Load the default env file.
    pub fn load() -> Result<Env, EnvError> {
        Self::load_from(&Self::default_env_file())
    }

    /// The process-wide environment, loaded and checked once (the engines
    /// must answer). Panics with instructions if anything is missing, so a
    /// test never passes or skips silently without real engines.
    pub fn get() -> &'static Env {
        static ENV: OnceLock<Result<Env, String>> = OnceLock::new();
        let loaded = ENV.get_or_init(|| {
            let env = Env::load().map_err(|e| e.to_string())?;
            env.check_engines().map_err(|e| e.to_string())?;
            Ok(env)
        });
        match loaded {
            Ok(env) => env,
            Err(message) => panic!("cachet-tests: {message}"),
        }
    }

    /// Cheap liveness checks: dockerd answers, buildkitd's socket exists.
    pub fn check_engines(&self) -> Result<(), EnvError> {
        let mut version = crate::Engine::docker(self);
        version.args(["version", "--format", "{{.Server.Version}}"]);
        let out = process::run(&mut version, Duration::from_secs(20));
        if !out.success() {
            return Err(EnvError::EngineDown {
                what: format!("dockerd at DOCKER_HOST={}", self.docker_host()),
                detail: out.stderr.trim().lines().last().unwrap_or("").to_owned(),
            });
        }
        if let Some(sock) = self.buildkit_host().strip_prefix("unix://") {
            if !Path::new(sock).exists() {
                return Err(EnvError::EngineDown {
                    what: format!("buildkitd at BUILDKIT_HOST={}", self.buildkit_host()),
                    detail: format!("no socket at {sock}"),
                });
            }
        }
        Ok(())
    }

    /// Where this environment was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A value, if present.
    pub fn try_var(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// A value; panics (naming the key and file) if absent.
    pub fn var(&self, key: &str) -> &str {
        self.try_var(key).unwrap_or_else(|| {
            panic!(
                "cachet-tests: {} has no {key}; rerun `scripts/env/up`",
                self.path.display()
            )
        })
    }

    /// All `KEY=VALUE` pairs, sorted by key.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The state dir `scripts/env/up` used.
    pub fn state_dir(&self) -> &Path {
        Path::new(self.var("CACHET_STATE_DIR"))
    }

    /// The docker client to use: Debian's 20.10 (`/usr/bin/docker`). The
    /// 28.x client in /usr/local/bin has no buildx and refuses BuildKit builds.
    pub fn docker_bin(&self) -> &str {
        self.try_var("CACHET_DOCKER").unwrap_or("/usr/bin/docker")
    }

    /// dockerd's endpoint (`unix://…`).
    pub fn docker_host(&self) -> &str {
        self.var("DOCKER_HOST")
    }

    /// Directory holding `cli-plugins/docker-buildx` and buildx's builder state.
    pub fn docker_config(&self) -> &str {
        self.var("DOCKER_CONFIG")
    }

    /// buildkitd's endpoint, for `buildctl --addr`.
    pub fn buildkit_host(&self) -> &str {
        self.var("BUILDKIT_HOST")
    }

    /// The buildx builder (remote driver) pointing at buildkitd.
    pub fn builder(&self) -> &str {
        self.var("CACHET_BUILDX_BUILDER")
    }

    /// The loopback registry, `host:port` (buildkitd's docker.io mirror).
    pub fn registry(&self) -> &str {
        self.var("CACHET_REGISTRY")
    }

    /// `cachet-sdk:rustup`: bookworm + the host's stable rustup toolchain.
    pub fn sdk_rustup_image(&self) -> &str {
        self.var("CACHET_SDK_RUSTUP_IMAGE")
    }

    /// `cachet-sdk:debian`: bookworm + Debian's rustc/cargo.
    pub fn sdk_debian_image(&self) -> &str {
        self.var("CACHET_SDK_DEBIAN_IMAGE")
    }

    /// `cachet-sdk:cross`: amd64 SDK that cross-compiles to
    /// `aarch64-unknown-linux-gnu` (Debian's multiarch `libstd-rust-dev:arm64`,
    /// `gcc-aarch64-linux-gnu`); link with `aarch64-linux-gnu-gcc`.
    pub fn sdk_cross_image(&self) -> &str {
        self.var("CACHET_SDK_CROSS")
    }

    /// `cachet-sdk:multi`: an image index (registry only, so buildkitd) with
    /// linux/amd64 = `cachet-sdk:debian` and linux/arm64 = the same packages
    /// for arm64. `None` without arm64 emulation (see [`Env::arm64_runs`]).
    pub fn sdk_multi_image(&self) -> Option<&str> {
        self.try_var("CACHET_SDK_MULTI")
            .filter(|_| self.arm64_runs())
    }

    /// `cachet-sdk:multi-arm64`: the arm64 SDK alone; dockerd 20.10 holds it
    /// as a linux/arm64 image (its store cannot hold an index).
    pub fn sdk_multi_arm64_image(&self) -> Option<&str> {
        self.try_var("CACHET_SDK_MULTI_ARM64")
            .filter(|_| self.arm64_runs())
    }

    /// Whether arm64 programs run here (binfmt_misc + qemu-aarch64 with the
    /// F flag, so also inside containers and BuildKit steps). When false,
    /// `scripts/env/up` printed why the kernel refused.
    pub fn arm64_runs(&self) -> bool {
        self.try_var("CACHET_BINFMT_ARM64") == Some("1")
    }

    /// `buildctl` built by `scripts/env/up`, if recorded.
    pub fn buildctl(&self) -> Option<&str> {
        self.try_var("BUILDCTL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> String {
        REQUIRED_KEYS
            .iter()
            .map(|k| format!("{k}=v-{k}\n"))
            .collect::<String>()
    }

    #[test]
    fn parses_keys_comments_and_blank_lines() {
        let text = format!("# header\n\n{}EXTRA=a=b\n", full());
        let env = Env::parse(Path::new("/x/env"), &text).unwrap();
        assert_eq!(env.docker_host(), "v-DOCKER_HOST");
        assert_eq!(env.var("EXTRA"), "a=b");
        assert_eq!(env.try_var("NOPE"), None);
        assert_eq!(env.docker_bin(), "/usr/bin/docker");
    }

    #[test]
    fn arm64_images_need_binfmt() {
        let images = "CACHET_SDK_MULTI=m\nCACHET_SDK_MULTI_ARM64=a\n";
        let on = Env::parse(
            Path::new("/x/env"),
            &format!("{}{images}CACHET_BINFMT_ARM64=1\n", full()),
        )
        .unwrap();
        assert!(on.arm64_runs());
        assert_eq!(on.sdk_multi_image(), Some("m"));
        assert_eq!(on.sdk_multi_arm64_image(), Some("a"));
        let off = Env::parse(
            Path::new("/x/env"),
            &format!("{}{images}CACHET_BINFMT_ARM64=0\n", full()),
        )
        .unwrap();
        assert!(!off.arm64_runs());
        assert_eq!(off.sdk_multi_image(), None);
        let old = Env::parse(Path::new("/x/env"), &full()).unwrap();
        assert!(!old.arm64_runs());
        assert_eq!(old.sdk_multi_arm64_image(), None);
    }

    #[test]
    fn missing_file_says_run_up() {
        let err = Env::load_from(Path::new("/nonexistent/cachet/env")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, EnvError::Missing { .. }));
        assert!(msg.contains("scripts/env/up"), "{msg}");
        assert!(msg.contains("/nonexistent/cachet/env"), "{msg}");
    }

    #[test]
    fn missing_key_is_named() {
        let text = full().replace("BUILDKIT_HOST=", "# BUILDKIT_HOST=");
        let err = Env::parse(Path::new("/x/env"), &text).unwrap_err();
        assert!(err.to_string().contains("BUILDKIT_HOST"), "{err}");
    }

    #[test]
    fn malformed_line_is_located() {
        let text = format!("{}not a pair\n", full());
        let err = Env::parse(Path::new("/x/env"), &text).unwrap_err();
        let line = REQUIRED_KEYS.len() + 1;
        assert!(err.to_string().contains(&format!("/x/env:{line}")), "{err}");
    }
}
