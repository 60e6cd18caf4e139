//! The two BuildKit engines every test runs against.

use std::ffi::OsString;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::image::Image;
use crate::process::{self, Captured};
use crate::Env;

/// A BuildKit engine. Both are driven with Debian's docker 20.10 client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// dockerd 20.10's embedded BuildKit (the v0.8 line):
    /// `DOCKER_BUILDKIT=1 docker build`. Images land in dockerd's store.
    Dockerd,
    /// Standalone buildkitd (current BuildKit) through the buildx builder
    /// `cachet` (remote driver): `docker buildx build --builder cachet`.
    /// Images reach dockerd with `--load`.
    Buildx,
}

impl Engine {
    /// The engine's daemon log (`scripts/env/up` writes it), where a frontend's stderr lands.
    pub fn daemon_log(self) -> std::path::PathBuf {
        let name = match self {
            Engine::Dockerd => "dockerd.log",
            Engine::Buildx => "buildkitd.log",
        };
        crate::Env::default_state_dir().join("logs").join(name)
    }

    /// Every engine, in a stable order: loop over this in tests.
    pub const ALL: [Engine; 2] = [Engine::Dockerd, Engine::Buildx];

    /// Short name, usable in tags and file names.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Dockerd => "dockerd",
            Engine::Buildx => "buildx",
        }
    }

    /// The docker CLI aimed at our dockerd, with BuildKit on and buildx
    /// found in our DOCKER_CONFIG. Inherited settings that could point it
    /// elsewhere are removed.
    pub fn docker(env: &Env) -> Command {
        let mut cmd = Command::new(env.docker_bin());
        cmd.env("DOCKER_HOST", env.docker_host())
            .env("DOCKER_CONFIG", env.docker_config())
            .env("DOCKER_BUILDKIT", "1")
            .env("BUILDKIT_PROGRESS", "plain")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("BUILDX_BUILDER")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        cmd
    }

    /// Runs `docker <args>` (the CLI of [`Engine::docker`]) within `timeout`.
    pub fn run_docker(args: &[&str], timeout: Duration) -> Captured {
        let mut cmd = Self::docker(Env::get());
        cmd.args(args);
        process::run(&mut cmd, timeout)
    }

    /// `docker build` / `docker buildx build --builder cachet`, with
    /// `--progress=plain`, and no further arguments.
    pub fn build_command(self, env: &Env) -> Command {
        let mut cmd = Self::docker(env);
        match self {
            Engine::Dockerd => cmd.arg("build"),
            Engine::Buildx => cmd.args(["buildx", "build", "--builder", env.builder()]),
        };
        cmd.arg("--progress=plain");
        cmd
    }

    /// Remove every build cache record of this engine, cache mounts included
    /// (`docker buildx prune --all` / `docker builder prune --all`). Every other build on the
    /// engine loses its cache too: callers make sure nothing else builds meanwhile.
    pub fn wipe_build_cache(self) -> Result<(), String> {
        let env = Env::get();
        let mut cmd = Self::docker(env);
        match self {
            Engine::Buildx => cmd.args([
                "buildx",
                "prune",
                "--all",
                "--force",
                "--builder",
                env.builder(),
            ]),
            Engine::Dockerd => cmd.args(["builder", "prune", "--all", "--force"]),
        };
        let result = process::run(&mut cmd, Duration::from_secs(600));
        if result.success() {
            Ok(())
        } else {
            Err(format!("wiping {self}'s build cache failed: {result}"))
        }
    }

    /// Start describing a build of `context` on this engine.
    pub fn build(self, context: impl Into<PathBuf>) -> Build {
        Build::new(self, context)
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Run `test` once per engine. Every engine runs even if an earlier one
/// fails; then this panics naming the engines that failed.
#[track_caller]
pub fn on_each_engine(mut test: impl FnMut(Engine)) {
    let mut failed = Vec::new();
    for engine in Engine::ALL {
        eprintln!("=== engine {engine}");
        if panic::catch_unwind(AssertUnwindSafe(|| test(engine))).is_err() {
            failed.push(engine.name());
        }
    }
    if !failed.is_empty() {
        panic!(
            "failed on engine(s): {} (see the panic messages above)",
            failed.join(", ")
        );
    }
}

/// Where a build's result goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Into dockerd's image store under `tag` (buildx: `--load`).
    Image,
    /// Only the build cache (no `-t`, no `--load`).
    CacheOnly,
    /// The final filesystem into a host directory (`type=local`).
    Local(PathBuf),
}

/// One build: engine, context, options. `run` executes it.
#[derive(Clone, Debug)]
pub struct Build {
    engine: Engine,
    context: PathBuf,
    file: Option<PathBuf>,
    tag: Option<String>,
    target: Option<String>,
    build_args: Vec<(String, String)>,
    extra: Vec<OsString>,
    output: Output,
    timeout: Duration,
}

impl Build {
    pub fn new(engine: Engine, context: impl Into<PathBuf>) -> Self {
        Build {
            engine,
            context: context.into(),
            file: None,
            tag: None,
            target: None,
            build_args: Vec::new(),
            extra: Vec::new(),
            output: Output::CacheOnly,
            timeout: process::default_timeout(),
        }
    }

    /// `-f`: the Dockerfile (or spec) to build.
    pub fn file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Name the result in dockerd's image store (buildx: adds `--load`).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self.output = Output::Image;
        self
    }

    /// `--target`.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// `--build-arg KEY=VALUE`.
    pub fn build_arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.build_args.push((key.into(), value.into()));
        self
    }

    /// Any further argument, passed before the context.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra.push(arg.into());
        self
    }

    /// `--no-cache`.
    pub fn no_cache(self) -> Self {
        self.arg("--no-cache")
    }

    /// Export the result's filesystem to `dir` instead of an image.
    pub fn local_output(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output = Output::Local(dir.into());
        self
    }

    /// Limit for this build (default: [`process::default_timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn context(&self) -> &Path {
        &self.context
    }

    /// The full command line this build runs.
    pub fn command(&self, env: &Env) -> Command {
        let mut cmd = self.engine.build_command(env);
        if let Some(file) = &self.file {
            cmd.arg("-f").arg(file);
        }
        if let Some(target) = &self.target {
            cmd.args(["--target", target]);
        }
        for (k, v) in &self.build_args {
            cmd.arg("--build-arg").arg(format!("{k}={v}"));
        }
        match &self.output {
            Output::Image => {
                let tag = self.tag.as_deref().expect("Output::Image has a tag");
                cmd.args(["-t", tag]);
                if self.engine == Engine::Buildx {
                    cmd.arg("--load");
                }
            }
            Output::CacheOnly => {}
            Output::Local(dir) => {
                let mut spec = OsString::from("type=local,dest=");
                spec.push(dir);
                cmd.arg("--output").arg(spec);
            }
        }
        cmd.args(&self.extra);
        cmd.arg(&self.context);
        cmd
    }

    /// Run the build (in the shared [`Env`]) and capture its plain progress.
    #[track_caller]
    pub fn run(&self) -> BuildResult {
        let env = Env::get();
        let captured = process::run(&mut self.command(env), self.timeout);
        BuildResult {
            engine: self.engine,
            tag: match self.output {
                Output::Image => self.tag.clone(),
                _ => None,
            },
            captured,
        }
    }
}

/// A finished build.
#[derive(Debug)]
pub struct BuildResult {
    pub engine: Engine,
    /// The image in dockerd's store, if the build made one.
    pub tag: Option<String>,
    pub captured: Captured,
}

impl BuildResult {
    pub fn success(&self) -> bool {
        self.captured.success()
    }

    /// The `--progress=plain` log (BuildKit writes it to stderr).
    pub fn progress(&self) -> &str {
        &self.captured.stderr
    }

    /// Panic with the whole log unless the build succeeded.
    #[track_caller]
    pub fn assert_success(self) -> Self {
        if !self.success() {
            panic!("build on {} failed: {}", self.engine, self.captured);
        }
        self
    }

    /// Panic unless the build failed; returns its log for checking the error.
    #[track_caller]
    pub fn assert_failure(self) -> Self {
        if self.success() {
            panic!(
                "build on {} unexpectedly succeeded: {}",
                self.engine, self.captured
            );
        }
        self
    }

    /// The built image (removed from dockerd when the handle drops).
    #[track_caller]
    pub fn image(&self) -> Image {
        let tag = self
            .tag
            .clone()
            .expect("this build did not produce an image (use Build::tag)");
        Image::adopt(tag)
    }
}
