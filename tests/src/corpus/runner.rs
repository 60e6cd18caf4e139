//! Builds each corpus project with Cachet and with host cargo, runs the binaries, records all.
//!
//! One Cachet run of one project, in a fresh copy of the prepared tree, under a fresh `[project]
//! name`: cold (`--no-cache`, which makes BuildKit ignore the fetch and dependency layers an
//! earlier run left, keyed on content rather than on the name, and empties the target cache; the
//! new name keeps the run's target cache its own) → no-op → a comment line appended
//! to the main source file (unique to the run: BuildKit leaves cache mount ids out of an exec's
//! cache key, so a repeated edit would be served from an earlier run's cache). Every build is
//! `--target build` exported with `--output type=local`, and the last export's binaries run their
//! checks. A spec with a scratch image also exports the image's filesystem and runs its binary in
//! it with `chroot`, which proves it needs nothing else (no loader, no libc). Host cargo then does
//! cold (a fresh target directory), no-op and the same edit with the spec's cargo arguments,
//! profile and flags, and its binaries run the same checks, so a failing check on both sides is the
//! corpus's mistake and on Cachet's side alone is Cachet's.
//!
//! Why the builder is never wiped: other builds share it, and a wiped builder is the bench
//! suite's business. What stays warm across runs is therefore said in the report: base images
//! pulled and unpacked, and the fetch step's download cache (crates already downloaded are not
//! downloaded again). A failure never stops the corpus: it is recorded with its first error
//! line and the next project runs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::prepare::{self, Prepared};
use super::report::{self, CheckResult, Failure, ProjectResult, Results, Sample, Scenario, Side};
use super::{
    ca, Check, Project, BUILD_TARGET, DIR_PLACEHOLDER, IMAGE_TARGET, INPUT_FILE, INPUT_TEXT,
};
use crate::bench::runner::{copy_tree, machine, tail, toolchain};
use crate::{elf, fixtures, process, progress, Build, Engine, Env};

/// Limit for one build (the largest project builds from scratch in about three minutes).
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);
/// Limit for one check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);
/// Log lines kept with a failure.
const TAIL_LINES: usize = 40;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub projects: Vec<&'static Project>,
    pub engine: Engine,
    pub runs: u32,
    /// Also measure host cargo.
    pub host: bool,
    /// Scratch space for working copies and outputs (each project's is cleared per run).
    pub work: PathBuf,
    /// Where prepared trees are kept.
    pub cache: PathBuf,
    /// The command line, for the report.
    pub command: String,
}

/// `${CACHET_STATE_DIR:-~/.cache/cachet}/corpus`: prepared trees, work copies, results.
pub fn default_dir() -> PathBuf {
    Env::default_state_dir().join("corpus")
}

/// Runs every project; `progress` gets the results so far after each one (the caller saves
/// them). Failures are recorded, never returned.
pub fn run(options: &Options, mut progress: impl FnMut(&Results)) -> Results {
    let env = Env::get();
    let started = Instant::now();
    let mut results = Results {
        command: options.command.clone(),
        engine: options.engine.name().to_string(),
        frontend: frontend_digest(env),
        machine: machine(),
        toolchain: toolchain(),
        runs: options.runs,
        started_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        ..Results::default()
    };
    for &project in &options.projects {
        log(&format!(
            "{}: {} {}",
            project.name, project.krate, project.version
        ));
        let mut result = ProjectResult {
            name: project.name.to_string(),
            krate: project.krate.to_string(),
            version: project.version.to_string(),
            shapes: project
                .shapes
                .iter()
                .map(|s| s.label().to_string())
                .collect(),
            spec: project.spec(project.name),
            ..ProjectResult::default()
        };
        match prepare::prepare(project, &options.cache) {
            Ok(prepared) => {
                result.lockfile = prepared.lockfile.clone();
                result.lock_packages = prepared.lock_packages;
                for run in 1..=options.runs {
                    let mut sequence = Sequence::new(options, project, &prepared, run);
                    sequence.cachet(&mut result);
                    if options.host {
                        sequence.host(&mut result);
                    }
                }
            }
            Err(why) => {
                log(&format!("  {}: {why}", project.name));
                result.prepare_error = Some(why);
            }
        }
        log(&format!("  {}: {}", project.name, result.first_try_text()));
        results.projects.push(result);
        results.total_seconds = started.elapsed().as_secs_f64();
        progress(&results);
    }
    results.total_seconds = started.elapsed().as_secs_f64();
    results
}

fn log(message: &str) {
    eprintln!("[corpus] {message}");
}

/// One run of one project.
struct Sequence<'a> {
    options: &'a Options,
    project: &'a Project,
    prepared: &'a Prepared,
    run: u32,
    /// `<work>/<name>-<version>/run<N>`.
    scratch: PathBuf,
    /// What the edit appends: unique to this run of this invocation. BuildKit keys an exec on
    /// its inputs and leaves cache mount ids out, so an edit that reproduced an earlier run's
    /// sources would be served from that run's cache, whatever the project name.
    edit_mark: String,
}

impl<'a> Sequence<'a> {
    fn new(options: &'a Options, project: &'a Project, prepared: &'a Prepared, run: u32) -> Self {
        let scratch = options.work.join(project.slot()).join(format!("run{run}"));
        Sequence {
            options,
            project,
            prepared,
            run,
            scratch,
            edit_mark: format!("run {run}, {}", fixtures::nonce()),
        }
    }

    /// A fresh copy of the prepared tree at `scratch/<label>/src`.
    fn working_copy(&self, label: &str) -> Result<PathBuf, String> {
        let base = self.scratch.join(label);
        if base.exists() {
            std::fs::remove_dir_all(&base)
                .map_err(|e| format!("cannot clear {}: {e}", base.display()))?;
        }
        std::fs::create_dir_all(&base)
            .map_err(|e| format!("cannot create {}: {e}", base.display()))?;
        let src = base.join("src");
        copy_tree(&self.prepared.dir, &src)
            .map_err(|e| format!("cannot copy the prepared tree to {}: {e}", src.display()))?;
        Ok(src)
    }

    fn fail(&self, result: &mut ProjectResult, side: Side, stage: &str, log: &str) {
        let failure = Failure {
            side,
            run: self.run,
            stage: stage.to_string(),
            first_error: report::first_error(log),
            failed_step: progress::failed_step(log),
            log_tail: tail(log, TAIL_LINES),
        };
        self::log(&format!("  {side} {stage} failed: {}", failure.first_error));
        result.failures.push(failure);
    }

    fn sample(&self, result: &mut ProjectResult, side: Side, scenario: Scenario, seconds: f64) {
        log(&format!("  {side} {}: {seconds:.2} s", scenario.name()));
        result.samples.push(Sample {
            side,
            scenario,
            run: self.run,
            seconds,
        });
    }

    // -------------------------------------------------------------------------------------
    // Cachet

    fn cachet(&mut self, result: &mut ProjectResult) {
        let src = match self.working_copy("cachet") {
            Ok(src) => src,
            Err(why) => return self.fail(result, Side::Cachet, "working copy", &why),
        };
        let name = format!("corpus-{}-{}", self.project.name, fixtures::nonce());
        let spec = src.join("Cachet.toml");
        if let Err(e) = std::fs::write(&spec, self.project.spec(&name)) {
            return self.fail(result, Side::Cachet, "spec", &e.to_string());
        }
        let mut last_out = None;
        for scenario in Scenario::ALL {
            if scenario == Scenario::Edit {
                if let Err(why) = append_comment(&src, self.project.edit, &self.edit_mark) {
                    return self.fail(result, Side::Cachet, "edit", &why);
                }
            }
            let out = src
                .parent()
                .expect("src has a parent")
                .join(format!("out-{}", scenario.name()));
            let mut build = self.build(&src, BUILD_TARGET, &out);
            if scenario == Scenario::Cold {
                build = build.no_cache();
            }
            let built = build.run();
            if !built.success() {
                let stage = format!("{} build", scenario.name());
                return self.fail(result, Side::Cachet, &stage, built.progress());
            }
            self.sample(
                result,
                Side::Cachet,
                scenario,
                built.captured.elapsed.as_secs_f64(),
            );
            last_out = Some(out);
        }
        let out = last_out.expect("three builds ran");
        let missing: Vec<&str> = self
            .project
            .spec
            .artifacts
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !out.join(name).is_file())
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "the build exported no {} in {}",
                missing.join(", "),
                out.display()
            );
            return self.fail(result, Side::Cachet, "artifacts", &why);
        }
        let first = self.project.spec.artifacts[0].0;
        result.linked = linking(&out.join(first));
        let rootfs = match self.project.spec.image {
            None => None,
            Some(_) => {
                let rootfs = out.with_file_name("out-image");
                let built = self.build(&src, IMAGE_TARGET, &rootfs).run();
                if !built.success() {
                    return self.fail(result, Side::Cachet, "image export", built.progress());
                }
                Some(rootfs)
            }
        };
        let binary = |artifact: &str| out.join(artifact);
        self.checks(result, Side::Cachet, &binary, rootfs.as_deref());
    }

    fn build(&self, src: &Path, target: &str, out: &Path) -> Build {
        let mut build = Build::new(self.options.engine, src)
            .file(src.join("Cachet.toml"))
            .target(target)
            .local_output(out)
            .timeout(BUILD_TIMEOUT);
        for arg in ca::build_args() {
            build = build.arg(arg);
        }
        build
    }

    // -------------------------------------------------------------------------------------
    // Host cargo

    fn host(&mut self, result: &mut ProjectResult) {
        let src = match self.working_copy("host") {
            Ok(src) => src,
            Err(why) => return self.fail(result, Side::Host, "working copy", &why),
        };
        let target_dir = src.with_file_name("target");
        let triple = host_triple();
        for scenario in Scenario::ALL {
            if scenario == Scenario::Edit {
                if let Err(why) = append_comment(&src, self.project.edit, &self.edit_mark) {
                    return self.fail(result, Side::Host, "edit", &why);
                }
            }
            let mut cargo = host_cargo(self.project, &triple);
            cargo.current_dir(&src).env("CARGO_TARGET_DIR", &target_dir);
            let built = process::run(&mut cargo, BUILD_TIMEOUT);
            if !built.success() {
                let stage = format!("{} build", scenario.name());
                return self.fail(result, Side::Host, &stage, &built.stderr);
            }
            self.sample(result, Side::Host, scenario, built.elapsed.as_secs_f64());
        }
        let out = target_dir.join(&triple).join("release");
        let project = self.project;
        let binary = |artifact: &str| out.join(project.artifact_path(artifact).unwrap_or(artifact));
        self.checks(result, Side::Host, &binary, None);
    }

    // -------------------------------------------------------------------------------------
    // Checks

    /// Run every check against `binary(artifact)`; in-image checks run in `rootfs` when given.
    fn checks(
        &self,
        result: &mut ProjectResult,
        side: Side,
        binary: &dyn Fn(&str) -> PathBuf,
        rootfs: Option<&Path>,
    ) {
        let dir = self.scratch.join(format!("checks-{}", side_slug(side)));
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join(INPUT_FILE), INPUT_TEXT))
        {
            return self.fail(result, side, "checks", &format!("{}: {e}", dir.display()));
        }
        for check in self.project.checks {
            let image = match (check.in_image, rootfs, self.project.spec.image) {
                (true, Some(rootfs), Some(image)) => Some((rootfs, image.path)),
                _ => None,
            };
            let outcome = run_check(check, &binary(check.artifact), &dir, image);
            log(&format!(
                "  {side} check `{}`: {}",
                outcome.command,
                if outcome.ok { "ok" } else { "FAILED" }
            ));
            result.checks.push(CheckResult {
                side,
                run: self.run,
                ..outcome
            });
        }
    }
}

fn side_slug(side: Side) -> &'static str {
    match side {
        Side::Cachet => "cachet",
        Side::Host => "host",
    }
}

/// Run one check: `binary args…`, or `chroot <rootfs> <path in image> args…` for an in-image
/// check when we may chroot (root); without root it runs the exported file directly and says so.
fn run_check(
    check: &Check,
    binary: &Path,
    dir: &Path,
    image: Option<(&Path, &str)>,
) -> CheckResult {
    let args: Vec<String> = check
        .args
        .iter()
        .map(|arg| arg.replace(DIR_PLACEHOLDER, &dir.to_string_lossy()))
        .collect();
    let mut command = match image {
        Some((rootfs, path)) if is_root() => {
            let mut chroot = Command::new("chroot");
            chroot.arg(rootfs).arg(path);
            chroot
        }
        Some((rootfs, path)) => Command::new(rootfs.join(path.trim_start_matches('/'))),
        None => Command::new(binary),
    };
    command.args(&args).current_dir(dir);
    for (key, value) in check.env {
        command.env(key, value);
    }
    let shown = shown_command(check, image.map(|(_, path)| path));
    let ran = process::run(&mut command, CHECK_TIMEOUT);
    let output = ran.combined();
    let ok = ran.success() && output.contains(check.expect);
    CheckResult {
        side: Side::Cachet,
        run: 0,
        command: shown,
        expect: check.expect.to_string(),
        ok,
        output: (!ok)
            .then(|| report::cut(&format!("{} (exit: {})", output.trim(), ran.status), 400)),
    }
}

/// The check as a reader would type it: `hexyl --version`, `VAR=value fd --version`, or
/// `chroot <image> /usr/local/bin/hexyl --version` (without root: run outside the image).
fn shown_command(check: &Check, image_path: Option<&str>) -> String {
    let mut words: Vec<String> = check
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    match image_path {
        Some(path) if is_root() => words.push(format!("chroot <image> {path}")),
        Some(path) => words.push(format!("<image>{path}")),
        None => words.push(check.artifact.to_string()),
    }
    words.extend(check.args.iter().map(|arg| quote(arg)));
    let mut shown = words.join(" ");
    if image_path.is_some() && !is_root() {
        shown.push_str(" (not root: run outside the image)");
    }
    shown
}

/// `arg` quoted for a shell when it needs it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// `static`, or `dynamic (<loader>)`, from the ELF program headers (`None` if unreadable).
fn linking(binary: &Path) -> Option<String> {
    let read = std::panic::catch_unwind(|| elf::interpreter(binary)).ok()?;
    Some(match read {
        None => "static".to_string(),
        Some(loader) => format!("dynamic ({loader})"),
    })
}

/// Whether this process runs as root (`chroot` needs it).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// `cargo <subcommand> --release --locked --offline --target <triple> <args…>` with the spec's
/// rustflags, and nothing inherited that would change what it builds or where.
pub fn host_cargo(project: &Project, triple: &str) -> Command {
    let (subcommand, args) = project
        .spec
        .cargo
        .split_first()
        .expect("a corpus spec has a cargo command");
    let mut cargo = Command::new("cargo");
    cargo
        .arg(subcommand)
        .args(["--release", "--locked", "--offline", "--target", triple])
        .args(args)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER");
    if !project.spec.rustflags.is_empty() {
        cargo.env(
            "CARGO_ENCODED_RUSTFLAGS",
            project.spec.rustflags.join("\u{1f}"),
        );
    }
    cargo
}

/// The host's target triple (`rustc -vV`), what Cachet passes as `--target` too.
fn host_triple() -> String {
    Command::new("rustc")
        .arg("-vV")
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find_map(|line| line.strip_prefix("host: ").map(str::to_string))
        })
        .unwrap_or_else(|| "x86_64-unknown-linux-gnu".to_string())
}

/// Append `// cachet-corpus edit <mark>` to `file` in `dir` (on a line of its own).
fn append_comment(dir: &Path, file: &str, mark: &str) -> Result<(), String> {
    let path = dir.join(file);
    let mut text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("// cachet-corpus edit {mark}\n"));
    std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The digest `cachet/frontend:dev` has in the loopback registry, or why it is unknown.
fn frontend_digest(env: &Env) -> String {
    let url = format!("http://{}/v2/cachet/frontend/manifests/dev", env.registry());
    let mut curl = Command::new("curl");
    curl.args(["-sfI", "--max-time", "10"]);
    for accept in [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ] {
        curl.arg("-H").arg(format!("Accept: {accept}"));
    }
    curl.arg(url);
    let ran = process::run(&mut curl, Duration::from_secs(20));
    ran.stdout
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case("docker-content-digest")
                .then(|| value.trim().chars().take(19).collect::<String>())
        })
        .map(|digest| format!("`cachet/frontend:dev` = {digest}"))
        .unwrap_or_else(|| "`cachet/frontend:dev`, digest unknown".to_string())
}

/// The arguments of this process, for the report.
pub fn command_line() -> String {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut line = "cachet-corpus".to_string();
    for arg in args {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::find;

    #[test]
    fn host_cargo_mirrors_the_spec() {
        let hexyl = process::describe(&host_cargo(
            find("hexyl").unwrap(),
            "x86_64-unknown-linux-gnu",
        ));
        assert_eq!(
            hexyl,
            "cargo build --release --locked --offline --target x86_64-unknown-linux-gnu --bin hexyl"
        );
        let cmd = host_cargo(find("hexyl").unwrap(), "t");
        let flags = cmd
            .get_envs()
            .find(|(k, _)| *k == "CARGO_ENCODED_RUSTFLAGS")
            .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()));
        assert_eq!(flags.as_deref(), Some("-C\u{1f}target-feature=+crt-static"));
        let zstd = process::describe(&host_cargo(find("zstd").unwrap(), "t"));
        assert!(
            zstd.ends_with("--target t --example zstd --example zstdcat"),
            "{zstd}"
        );
    }

    #[test]
    fn a_comment_is_appended_on_its_own_line() {
        let dir = std::env::temp_dir().join(format!("cachet-corpus-edit-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/main.rs"), "fn main() {}").unwrap();
        append_comment(&dir, "src/main.rs", "run 2").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("src/main.rs")).unwrap(),
            "fn main() {}\n// cachet-corpus edit run 2\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checks_need_their_output_and_a_zero_exit() {
        let dir = std::env::temp_dir().join(format!("cachet-corpus-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(INPUT_FILE), INPUT_TEXT).unwrap();
        let cat = Check {
            artifact: "cat",
            args: &["@DIR@/input.txt"],
            env: &[],
            expect: "round trip",
            in_image: false,
        };
        let ran = run_check(&cat, Path::new("cat"), &dir, None);
        assert!(ran.ok, "{ran:?}");
        let missing = Check {
            args: &["@DIR@/missing.txt"],
            ..cat
        };
        let ran = run_check(&missing, Path::new("cat"), &dir, None);
        assert!(!ran.ok && ran.output.is_some(), "{ran:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
