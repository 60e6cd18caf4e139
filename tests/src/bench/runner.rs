//! Runs the scenarios for every contender on the engines and collects the samples.
//!
//! One run of one engine contender, in a fresh copy of the fixture:
//! wipe the builder → warm-up (base images in, nothing of the project) → cold → no-op →
//! leaf edit → core edit → RUSTFLAGS change → RUSTFLAGS revert → lockfile bump → export the
//! cache, wipe, warm-up, one more leaf edit → fresh builder importing the cache.
//! The host floor runs the same sequence (up to the lockfile bump) with cargo in a directory.
//!
//! Wiping a builder disturbs every other build on it: nothing else may build on the engines
//! while the suite runs (dockerd 20.10 can even crash when a prune races an image pull).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::contenders::{self, CHEF_VERSION};
use super::fixture::{self, Fixture};
use super::report::{self, steps, FrontendSample, Results, Sample, Step};
use super::{rustflags, Contender, Scenario, BASE_TARGET_CPU, CHANGED_TARGET_CPU};
use crate::{fixtures, process, Build, Engine, Env};

/// Limit for one build (a cold ripgrep build takes about a minute on two cores).
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);
/// Limit for one docker command (push, pull, prune, rm).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    pub fixture: Fixture,
    pub engines: Vec<Engine>,
    pub contenders: Vec<Contender>,
    pub runs: u32,
    /// Scratch space for working copies and outputs (wiped per run).
    pub work: PathBuf,
    /// Where cargo-chef is installed (`<tools>/bin/cargo-chef`).
    pub tools: PathBuf,
}

impl Options {
    /// This run measures cargo-chef on an engine: only then is its image built (and warmed up,
    /// so every contender's builder starts from the same pulled images).
    fn uses_chef_image(&self) -> bool {
        !self.engines.is_empty() && self.contenders.contains(&Contender::Chef)
    }
}

/// Runs the suite. `progress` is called with the results so far after every sample (the
/// caller saves them, so a long run that dies keeps what it measured).
pub fn run(options: &Options, mut progress: impl FnMut(&Results)) -> Result<Results, String> {
    let env = Env::get();
    let mut results = Results {
        fixture: options.fixture.name.clone(),
        bump: options.fixture.bump.clone(),
        runs: options.runs,
        machine: machine(),
        toolchain: toolchain(),
        started_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        engines: options
            .engines
            .iter()
            .map(|e| e.name().to_string())
            .collect(),
        ..Results::default()
    };
    let on_engines: Vec<Contender> = options
        .contenders
        .iter()
        .copied()
        .filter(|c| c.on_engine())
        .collect();
    if options.uses_chef_image() {
        chef_image(env, &options.tools)?;
    }
    for run in 1..=options.runs {
        for &engine in &options.engines {
            for &contender in &on_engines {
                log(&format!("run {run}/{}: {engine} {contender}", options.runs));
                let mut sequence = Sequence::new(options, run, Some(engine), contender)?;
                sequence.on_engine(env, &mut results, &mut progress)?;
            }
        }
        if options.contenders.contains(&Contender::Host) {
            log(&format!("run {run}/{}: host cargo", options.runs));
            let mut sequence = Sequence::new(options, run, None, Contender::Host)?;
            sequence.on_host(&mut results, &mut progress)?;
        }
    }
    Ok(results)
}

fn log(message: &str) {
    eprintln!("[bench] {message}");
}

/// One contender's pass through the scenarios in one run.
struct Sequence<'a> {
    options: &'a Options,
    run: u32,
    engine: Option<Engine>,
    contender: Contender,
    /// The working copy (the build context).
    dir: PathBuf,
    /// Outputs and build files live beside it, outside the context.
    scratch: PathBuf,
    /// Counter for unique one-line edits.
    edits: u32,
    /// Inline-cache images pulled into dockerd's store, removed when the sequence ends.
    pulled: std::cell::RefCell<Vec<String>>,
}

impl Drop for Sequence<'_> {
    fn drop(&mut self) {
        let pulled = self.pulled.take();
        if !pulled.is_empty() {
            let mut rm = vec!["image", "rm", "-f"];
            rm.extend(pulled.iter().map(String::as_str));
            if let Err(e) = docker(&rm) {
                log(&format!("(could not remove the pulled images: {e})"));
            }
        }
    }
}

impl<'a> Sequence<'a> {
    fn new(
        options: &'a Options,
        run: u32,
        engine: Option<Engine>,
        contender: Contender,
    ) -> Result<Self, String> {
        let engine_name = engine.map(Engine::name).unwrap_or("host");
        let scratch = options
            .work
            .join(format!("{engine_name}-{contender}-run{run}"));
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .map_err(|e| format!("cannot clear {}: {e}", scratch.display()))?;
        }
        std::fs::create_dir_all(&scratch)
            .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
        let dir = scratch.join("src");
        copy_tree(&options.fixture.dir, &dir)
            .map_err(|e| format!("cannot copy the fixture to {}: {e}", dir.display()))?;
        Ok(Sequence {
            options,
            run,
            engine,
            contender,
            dir,
            scratch,
            edits: 0,
            pulled: Default::default(),
        })
    }

    fn fixture(&self) -> &Fixture {
        &self.options.fixture
    }

    fn record(
        &self,
        results: &mut Results,
        progress: &mut impl FnMut(&Results),
        scenario: Scenario,
        (seconds, steps): (f64, Vec<Step>),
    ) {
        log(&format!(
            "  {scenario}: {seconds:.2} s ({} {})",
            self.engine.map(Engine::name).unwrap_or("host"),
            self.contender
        ));
        results.samples.push(Sample {
            engine: self.engine.map(|e| e.name().to_string()),
            contender: self.contender,
            scenario,
            run: self.run,
            seconds,
            steps,
        });
        progress(results);
    }

    /// A one-line edit of `file`, different every time.
    fn edit(&mut self, file: &Path) -> Result<(), String> {
        self.edits += 1;
        let n = self.run * 100 + self.edits;
        fixture::one_line_edit(&self.dir, file, n)
            .map_err(|e| format!("cannot edit {}: {e}", file.display()))
    }

    fn bump_lockfile(&self) -> Result<(), String> {
        std::fs::copy(&self.fixture().bumped_lock, self.dir.join("Cargo.lock"))
            .map(|_| ())
            .map_err(|e| format!("cannot swap in the bumped lockfile: {e}"))
    }

    // ---------------------------------------------------------------------------------------
    // Engine contenders

    fn on_engine(
        &mut self,
        env: &Env,
        results: &mut Results,
        progress: &mut impl FnMut(&Results),
    ) -> Result<(), String> {
        let engine = self.engine.expect("an engine sequence");
        let (file_name, text) = contenders::build_file(self.contender, self.fixture())
            .expect("engine contenders have a build file");
        let file = self.scratch.join(file_name);
        std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;

        engine.wipe_build_cache()?;
        warm_up(engine, &self.scratch, self.options.uses_chef_image())?;
        let leaf = self.fixture().leaf_file.clone();
        let core = self.fixture().core_file.clone();
        for scenario in Scenario::ALL {
            let measured = match scenario {
                Scenario::Cold | Scenario::NoOp => {
                    self.build(&file, scenario, BASE_TARGET_CPU, &[], results)?
                }
                Scenario::LeafEdit => {
                    self.edit(&leaf)?;
                    self.build(&file, scenario, BASE_TARGET_CPU, &[], results)?
                }
                Scenario::CoreEdit => {
                    self.edit(&core)?;
                    self.build(&file, scenario, BASE_TARGET_CPU, &[], results)?
                }
                Scenario::RustflagsChange => {
                    self.build(&file, scenario, CHANGED_TARGET_CPU, &[], results)?
                }
                Scenario::RustflagsRevert => {
                    self.build(&file, scenario, BASE_TARGET_CPU, &[], results)?
                }
                Scenario::LockfileBump => {
                    self.bump_lockfile()?;
                    self.build(&file, scenario, BASE_TARGET_CPU, &[], results)?
                }
                Scenario::FreshBuilder => {
                    let imports = self.export_and_wipe(env, &file)?;
                    self.edit(&leaf)?;
                    self.build(&file, scenario, BASE_TARGET_CPU, &imports, results)?
                }
            };
            self.record(results, progress, scenario, measured);
        }
        Ok(())
    }

    fn engine_build(&self, file: &Path, target_cpu: &str) -> Build {
        let engine = self.engine.expect("an engine sequence");
        let (arg, value) = contenders::flags_arg(self.contender, target_cpu);
        let mut build = Build::new(engine, &self.dir)
            .file(file)
            .build_arg(arg, value)
            .timeout(BUILD_TIMEOUT);
        if let Some(target) = contenders::measured_target(self.contender) {
            build = build.target(target);
        }
        build
    }

    /// One measured build, exported to a fresh directory; the binary must be there. Returns
    /// its wall time and the steps of its progress log.
    fn build(
        &self,
        file: &Path,
        scenario: Scenario,
        target_cpu: &str,
        extra: &[String],
        results: &mut Results,
    ) -> Result<(f64, Vec<Step>), String> {
        let out = self.scratch.join(format!("out-{}", slug(scenario.name())));
        let _ = std::fs::remove_dir_all(&out);
        let mut build = self.engine_build(file, target_cpu).local_output(&out);
        for arg in extra {
            build = build.arg(arg);
        }
        let log_at = daemon_log_len(self.engine);
        let result = build.run();
        if !result.success() {
            return Err(format!(
                "{} {} {scenario}: build failed:\n{}",
                self.engine.map(Engine::name).unwrap_or("host"),
                self.contender,
                tail(result.progress(), 60)
            ));
        }
        let binary = out.join(&self.fixture().binary);
        if !binary.is_file() {
            return Err(format!(
                "{} {scenario}: the build succeeded but exported no {}",
                self.contender,
                binary.display()
            ));
        }
        if self.contender == Contender::Cachet {
            // The frontend logs to its stderr, which the daemon writes to its own log.
            if let Some((to_solve_ms, peak_rss_kib)) =
                report::frontend_numbers(&daemon_log_since(self.engine, log_at))
            {
                results.frontend.push(FrontendSample {
                    engine: self
                        .engine
                        .map(Engine::name)
                        .unwrap_or_default()
                        .to_string(),
                    scenario,
                    run: self.run,
                    to_solve_ms,
                    peak_rss_kib,
                });
            }
        }
        Ok((
            result.captured.elapsed.as_secs_f64(),
            steps::of_log(result.progress()),
        ))
    }

    /// Export this state's cache the way a CI job would, then wipe the builder and warm it up
    /// again. Returns the arguments that import the cache.
    fn export_and_wipe(&self, env: &Env, file: &Path) -> Result<Vec<String>, String> {
        let engine = self.engine.expect("an engine sequence");
        let repo = format!(
            "{}/cachet-bench/{}-{}",
            env.registry(),
            slug(&self.fixture().name),
            self.contender
        );
        let nonce = fixtures::nonce();
        let started = Instant::now();
        let imports = match engine {
            Engine::Buildx => {
                let cache_ref = format!("{repo}:cache-{nonce}");
                // A CI job imports the cache it exports (nothing there yet on its first run).
                let result = self
                    .engine_build(file, BASE_TARGET_CPU)
                    .arg(format!("--cache-from=type=registry,ref={cache_ref}"))
                    .arg(format!("--cache-to=type=registry,ref={cache_ref},mode=max"))
                    .run();
                if !result.success() {
                    return Err(format!(
                        "{} cache export failed:\n{}",
                        self.contender,
                        tail(result.progress(), 60)
                    ));
                }
                engine.wipe_build_cache()?;
                vec![format!("--cache-from=type=registry,ref={cache_ref}")]
            }
            Engine::Dockerd => {
                let mut refs = Vec::new();
                for target in contenders::inline_cache_targets(self.contender) {
                    let reference = format!(
                        "{repo}-{}:{nonce}",
                        target.unwrap_or("final").replace('.', "-")
                    );
                    let mut build = self
                        .engine_build(file, BASE_TARGET_CPU)
                        .tag(&reference)
                        .build_arg("BUILDKIT_INLINE_CACHE", "1");
                    if let Some(target) = target {
                        build = build.target(target);
                    }
                    let result = build.run();
                    if !result.success() {
                        return Err(format!(
                            "{} inline-cache image {reference} failed:\n{}",
                            self.contender,
                            tail(result.progress(), 60)
                        ));
                    }
                    docker(&["push", &reference])?;
                    refs.push(reference);
                }
                let mut rm = vec!["image", "rm", "-f"];
                rm.extend(refs.iter().map(String::as_str));
                docker(&rm)?;
                engine.wipe_build_cache()?;
                // dockerd 20.10 only uses --cache-from images that are in its store.
                for reference in &refs {
                    docker(&["pull", reference])?;
                }
                let imports = refs.iter().map(|r| format!("--cache-from={r}")).collect();
                self.pulled.borrow_mut().extend(refs);
                imports
            }
        };
        warm_up(engine, &self.scratch, self.options.uses_chef_image())?;
        log(&format!(
            "  (cache exported, builder wiped and warmed up in {:.1} s)",
            started.elapsed().as_secs_f64()
        ));
        Ok(imports)
    }

    // ---------------------------------------------------------------------------------------
    // Host floor

    fn on_host(
        &mut self,
        results: &mut Results,
        progress: &mut impl FnMut(&Results),
    ) -> Result<(), String> {
        let leaf = self.fixture().leaf_file.clone();
        let core = self.fixture().core_file.clone();
        for scenario in Scenario::ALL {
            let target_cpu = match scenario {
                Scenario::RustflagsChange => CHANGED_TARGET_CPU,
                _ => BASE_TARGET_CPU,
            };
            match scenario {
                Scenario::LeafEdit => self.edit(&leaf)?,
                Scenario::CoreEdit => self.edit(&core)?,
                Scenario::LockfileBump => self.bump_lockfile()?,
                Scenario::FreshBuilder => continue,
                _ => {}
            }
            let seconds = self.cargo_on_host(target_cpu)?;
            self.record(results, progress, scenario, (seconds, Vec::new()));
        }
        Ok(())
    }

    fn cargo_on_host(&self, target_cpu: &str) -> Result<f64, String> {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&self.dir)
            .args(["build", "--release", "--offline", "--locked", "--bin"])
            .arg(&self.fixture().binary)
            .env("RUSTFLAGS", rustflags(target_cpu))
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .env_remove("RUSTC_WRAPPER");
        let result = process::run(&mut cmd, BUILD_TIMEOUT);
        if !result.success() {
            return Err(format!("host cargo failed:\n{}", tail(&result.stderr, 60)));
        }
        Ok(result.elapsed.as_secs_f64())
    }
}

// -------------------------------------------------------------------------------------------
// Engine chores

fn docker(args: &[&str]) -> Result<String, String> {
    let result = Engine::run_docker(args, COMMAND_TIMEOUT);
    if result.success() {
        Ok(result.stdout)
    } else {
        Err(format!(
            "`docker {}` failed: {}",
            args.join(" "),
            result.stderr.trim()
        ))
    }
}

/// Bring the base images (the SDK, the cargo-chef image when cargo-chef is measured in this
/// run — it is only built then — and the frontend) into the engine's cache, pulled and unpacked
/// (each runs a command in them, the way Cachet does too), so no measured build pulls or
/// extracts them.
fn warm_up(engine: Engine, scratch: &Path, chef: bool) -> Result<(), String> {
    let dir = scratch.join("warm-up");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dockerfile = dir.join("Dockerfile");
    let spec = dir.join("Cachet.toml");
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let sdk = format!("FROM {}\nRUN true\n", contenders::SDK_IMAGE);
    write(
        &dockerfile,
        if chef {
            format!(
                "FROM {chef} AS chef\nRUN true\n{sdk}COPY --from=chef {path} /tmp/cargo-chef\n",
                chef = contenders::chef_image(),
                path = contenders::CHEF_PATH_IN_IMAGE,
            )
        } else {
            sdk
        },
    )?;
    write(
        &spec,
        format!(
            "# syntax={}\n[project]\nname = \"bench-warm-up\"\n[sdk]\nimage = \"{sdk}\"\n\
             [target.warm]\ncargo = [\"version\"]\n",
            contenders::FRONTEND_IMAGE,
            sdk = contenders::SDK_IMAGE
        ),
    )?;
    for file in [&dockerfile, &spec] {
        let result = Build::new(engine, &dir)
            .file(file)
            .timeout(COMMAND_TIMEOUT)
            .run();
        if !result.success() {
            return Err(format!(
                "warm-up on {engine} failed:\n{}",
                tail(result.progress(), 40)
            ));
        }
    }
    Ok(())
}

/// cargo-chef, installed on the host with cargo, copied into an SDK-derived image in dockerd's
/// store and in the loopback registry (for buildkitd).
fn chef_image(env: &Env, tools: &Path) -> Result<(), String> {
    let binary = tools.join("bin/cargo-chef");
    let installed = Command::new(&binary)
        .args(["chef", "--version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(CHEF_VERSION))
        .unwrap_or(false);
    if !installed {
        log(&format!(
            "installing cargo-chef {CHEF_VERSION} (cargo install, about a minute)"
        ));
        let mut cmd = Command::new("cargo");
        cmd.args([
            "install",
            "cargo-chef",
            "--locked",
            "--version",
            CHEF_VERSION,
            "--root",
        ])
        .arg(tools);
        let result = process::run(&mut cmd, BUILD_TIMEOUT);
        if !result.success() {
            return Err(format!(
                "cargo install cargo-chef failed:\n{}",
                tail(&result.stderr, 40)
            ));
        }
    }
    let image = contenders::chef_image();
    if docker(&["image", "inspect", "--format", "{{.Id}}", &image]).is_err() {
        let context = tools.join("chef-image");
        let _ = std::fs::remove_dir_all(&context);
        std::fs::create_dir_all(&context).map_err(|e| e.to_string())?;
        std::fs::copy(&binary, context.join("cargo-chef")).map_err(|e| e.to_string())?;
        std::fs::write(
            context.join("Dockerfile"),
            contenders::chef_image_dockerfile(),
        )
        .map_err(|e| e.to_string())?;
        let result = Build::new(Engine::Dockerd, &context)
            .tag(&image)
            .timeout(COMMAND_TIMEOUT)
            .run();
        if !result.success() {
            return Err(format!(
                "building {image} failed:\n{}",
                tail(result.progress(), 40)
            ));
        }
    }
    let push = fixtures::repo_root().join("scripts/env/push-image");
    let mut cmd = Command::new(push);
    cmd.arg(&image).env("CACHET_STATE_DIR", env.state_dir());
    let result = process::run(&mut cmd, COMMAND_TIMEOUT);
    if !result.success() {
        return Err(format!(
            "pushing {image} to the loopback registry failed: {result}"
        ));
    }
    Ok(())
}

/// The daemon log a frontend's stderr lands in (written by `scripts/env/up`).
fn daemon_log(engine: Option<Engine>) -> Option<PathBuf> {
    let name = match engine? {
        Engine::Dockerd => "dockerd.log",
        Engine::Buildx => "buildkitd.log",
    };
    Some(Env::get().state_dir().join("logs").join(name))
}

fn daemon_log_len(engine: Option<Engine>) -> u64 {
    daemon_log(engine)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .unwrap_or(0)
}

/// What the daemon logged since it was `offset` bytes long.
fn daemon_log_since(engine: Option<Engine>, offset: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Some(path) = daemon_log(engine) else {
        return String::new();
    };
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_end(&mut text);
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

// -------------------------------------------------------------------------------------------
// Small helpers

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

pub(crate) fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    // `cp -a` keeps modes and times (the working copy looks like a checkout), and is much
    // faster than walking a vendored tree file by file from here.
    let status = Command::new("cp").arg("-a").arg(src).arg(dst).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("cp -a exited with {status}")))
    }
}

/// CPU model and count, memory and kernel, for the report.
pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} × {model}, {:.0} GiB, Linux {}",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim()
    )
}

pub(crate) fn toolchain() -> String {
    Command::new("rustc")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}
