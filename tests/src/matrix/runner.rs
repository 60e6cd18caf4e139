//! Runs a group of cases on one engine and judges every rebuild against a clean build.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::cases::{Action, Case, Group, Setup};
use super::fixture::{State, CRATES};
use super::{Expect, Row, Subject, Verdict, WARM_EDITED};
use crate::progress::{self, Vertex};
use crate::{fixtures, process, Build, BuildResult, Engine, Env, TempProject};

/// Limit for one build of the tiny fixture (they take seconds).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);
/// Limit for running one of its binaries.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after cargo starts on `facts` the killed build is killed (its build script sleeps
/// three seconds, so this lands while it runs).
const KILL_AFTER: Duration = Duration::from_millis(500);

/// What a build gave: its binaries' output, or why it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Built(String),
    Failed(String),
}

impl Outcome {
    fn summary(&self) -> String {
        match self {
            Outcome::Built(_) => "built".into(),
            Outcome::Failed(e) => format!("failed: {e}"),
        }
    }
}

/// Clean builds of one engine, by exact inputs (a state's [`State::input_key`]).
pub struct Truths {
    engine: Engine,
    work: TempProject,
    known: HashMap<String, Outcome>,
    count: u32,
}

impl Truths {
    pub fn new(engine: Engine) -> Truths {
        Truths {
            engine,
            work: TempProject::new(&format!("matrix-clean-{engine}")),
            known: HashMap::new(),
            count: 0,
        }
    }

    /// What a clean build of `state` gives: a Cachet build with `--no-cache`, under a project
    /// name of its own (so its target cache mount is empty: `--no-cache` keeps cache mounts).
    pub fn of(&mut self, state: &State) -> Outcome {
        let key = state.input_key();
        if let Some(known) = self.known.get(&key) {
            return known.clone();
        }
        self.count += 1;
        let mut clean = state.clone();
        clean.project = format!("{}-clean-{}", state.project, self.count);
        let dir = self.work.path().join(format!("ctx-{}", self.count));
        let out = self.work.path().join(format!("out-{}", self.count));
        clean
            .materialize(&dir)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", dir.display()));
        let result = build(self.engine, Subject::Cachet, &clean, &dir, &out, true).run();
        let outcome = outcome(&result, &clean, &out);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&out);
        self.known.insert(key, outcome.clone());
        outcome
    }
}

/// The build of `state` in `dir` on `engine`, its result exported to `out`.
fn build(
    engine: Engine,
    subject: Subject,
    state: &State,
    dir: &Path,
    out: &Path,
    clean: bool,
) -> Build {
    let _ = std::fs::remove_dir_all(out);
    let mut b = engine.build(dir).timeout(BUILD_TIMEOUT).local_output(out);
    b = match subject {
        Subject::Cachet => b.file(dir.join("Cachet.toml")).target(state.target.name()),
        Subject::Reference => b.file(dir.join("Dockerfile")),
    };
    for (k, v) in &state.build_args {
        b = b.build_arg(k, v);
    }
    if let Some(p) = &state.platform {
        b = b.arg("--platform").arg(p);
    }
    if clean {
        b = b.no_cache();
    }
    b
}

/// Run the target's binaries from `out`, or say why the build failed.
fn outcome(result: &BuildResult, state: &State, out: &Path) -> Outcome {
    if !result.success() {
        return Outcome::Failed(error_line(result.progress()));
    }
    let mut text = String::new();
    for bin in state.target.binaries() {
        let path = out.join(bin);
        let mut cmd = Command::new(&path);
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            process::run(&mut cmd, RUN_TIMEOUT)
        }));
        match ran {
            Ok(c) if c.success() => text.push_str(&format!("[{bin}]\n{}", c.stdout)),
            Ok(c) => {
                return Outcome::Failed(format!(
                    "{bin} exited with {}: {}",
                    c.status,
                    c.stderr.trim()
                ))
            }
            Err(_) => return Outcome::Failed(format!("cannot run {}", path.display())),
        }
    }
    Outcome::Built(text)
}

/// The most telling line of a failed build's log.
fn error_line(progress: &str) -> String {
    let lines: Vec<&str> = progress.lines().collect();
    let pick = lines
        .iter()
        .find(|l| l.contains("error[E") || l.contains("error: "))
        .or_else(|| lines.iter().rev().find(|l| l.contains("ERROR")))
        .or_else(|| lines.iter().rev().find(|l| !l.trim().is_empty()));
    let line = pick.map(|l| l.trim()).unwrap_or("(no output)");
    // Drop the `#N 1.234 ` prefix of a step's log line.
    let line = progress::line_text(line).trim_start();
    let mut line = line.to_string();
    if line.len() > 160 {
        let mut cut = 157;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}

/// One judged build: its outcome, what BuildKit and cargo did.
struct Judged {
    verdict: Verdict,
    actual: String,
    cache_hits: String,
}

/// The crates cargo compiled: everywhere, except the workspace's own crates in Cachet's
/// dependency layers, which are empty stand-ins compiled only for their dependencies' sake
/// (and deleted from the layer).
fn compiled_for_real(vertices: &[Vertex]) -> BTreeSet<String> {
    let mut compiled = BTreeSet::new();
    for vertex in vertices {
        let layer = vertex.name.contains("] prebuild ");
        compiled.extend(
            vertex
                .compiled()
                .into_iter()
                .filter(|c| !(layer && CRATES.contains(&c.as_str()))),
        );
    }
    compiled
}

/// What the log says BuildKit and cargo did.
struct Activity {
    compiled: BTreeSet<String>,
    cargo_cached: bool,
    cargo_ran: bool,
    cached: usize,
    counted: usize,
}

impl Activity {
    fn of(progress: &str) -> Activity {
        let vertices: Vec<Vertex> = progress::vertices(progress);
        let cargo = progress::cargo_steps(&vertices);
        let counted = progress::counted_steps(&vertices);
        Activity {
            compiled: compiled_for_real(&vertices),
            cargo_cached: !cargo.is_empty() && cargo.iter().all(|v| v.cached),
            cargo_ran: cargo.iter().any(|v| !v.cached),
            cached: counted.iter().filter(|v| v.cached).count(),
            counted: counted.len(),
        }
    }

    fn describe(&self) -> String {
        let cargo = if self.cargo_cached {
            "cargo step CACHED"
        } else if self.cargo_ran {
            "cargo ran"
        } else {
            "no cargo step"
        };
        if self.compiled.is_empty() {
            format!("{cargo}, compiled nothing")
        } else {
            let list: Vec<&str> = self.compiled.iter().map(String::as_str).collect();
            format!("{cargo}, compiled {}", list.join(", "))
        }
    }

    fn hits(&self) -> String {
        format!("{}/{} steps CACHED", self.cached, self.counted)
    }
}

/// The verdict on one rebuild: `got` against the clean build `truth` of the same inputs and
/// `before`, the clean build of the inputs before the perturbation.
fn judge(
    case: &Case,
    before: &Outcome,
    truth: &Outcome,
    got: &Outcome,
    progress: &str,
    platform: bool,
) -> Judged {
    let activity = Activity::of(progress);
    let cache_hits = activity.hits();
    let done = |verdict, actual: String| Judged {
        verdict,
        actual,
        cache_hits: cache_hits.clone(),
    };
    if platform {
        if let (Outcome::Failed(e), Outcome::Failed(_)) = (got, truth) {
            if e.to_lowercase().contains("platform") {
                return done(
                    Verdict::NotApplicable,
                    format!("not applicable on this engine: {e}"),
                );
            }
        }
    }
    if case.changes_output != (before != truth) {
        let how = match (before, truth) {
            (Outcome::Built(b), Outcome::Built(t)) if b != t => first_difference(t, b)
                .replace("where the clean build prints", "where before it printed"),
            _ => format!("before: {}, after: {}", before.summary(), truth.summary()),
        };
        return done(
            Verdict::Failed,
            format!(
                "case error: the clean output {} by the perturbation ({how})",
                if case.changes_output {
                    "is not changed"
                } else {
                    "is changed"
                },
            ),
        );
    }
    match (got, truth) {
        (Outcome::Built(g), Outcome::Built(t)) if g != t => done(
            Verdict::Stale,
            format!("{}; {}", activity.describe(), first_difference(g, t)),
        ),
        (Outcome::Built(_), Outcome::Failed(e)) => done(
            Verdict::Stale,
            format!(
                "{}; built although the clean build fails ({e})",
                activity.describe()
            ),
        ),
        (Outcome::Failed(e), Outcome::Built(_)) => {
            done(Verdict::Failed, format!("build failed: {e}"))
        }
        (Outcome::Failed(e), Outcome::Failed(_)) => {
            if case.expect == Expect::Fails {
                done(Verdict::Ok, format!("failed like the clean build: {e}"))
            } else {
                done(
                    Verdict::Failed,
                    format!("build failed, and so does the clean build: {e}"),
                )
            }
        }
        (Outcome::Built(_), Outcome::Built(_)) => {
            let actual = format!("{}; output = clean build", activity.describe());
            let needless: Vec<&str> = match case.expect {
                Expect::Fresh { keep } => keep
                    .iter()
                    .copied()
                    .filter(|k| activity.compiled.contains(*k))
                    .collect(),
                Expect::Warm => activity
                    .compiled
                    .iter()
                    .map(String::as_str)
                    .filter(|c| *c != WARM_EDITED)
                    .collect(),
                Expect::NoRebuild => {
                    if activity.cached < activity.counted
                        || !activity.compiled.is_empty()
                        || activity.cargo_ran
                    {
                        vec!["(steps ran)"]
                    } else {
                        Vec::new()
                    }
                }
                Expect::Fails => {
                    return done(
                        Verdict::Failed,
                        "case error: the clean build succeeds".to_string(),
                    )
                }
            };
            if needless.is_empty() {
                done(Verdict::Ok, actual)
            } else {
                done(Verdict::NeedlessRebuild, actual)
            }
        }
    }
}

/// `` `got line` where the clean build prints `clean line` ``.
fn first_difference(got: &str, clean: &str) -> String {
    let mut g = got.lines();
    let mut c = clean.lines();
    loop {
        match (g.next(), c.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => {
                return format!(
                    "prints `{}` where the clean build prints `{}`",
                    a.unwrap_or("(nothing)"),
                    b.unwrap_or("(nothing)")
                )
            }
        }
    }
}

/// The group's directories and the state they are in.
struct Run<'a> {
    engine: Engine,
    subject: Subject,
    work: TempProject,
    ctx: PathBuf,
    state: State,
    last_built: Option<State>,
    builds: u32,
    truths: &'a mut Truths,
}

impl Run<'_> {
    fn out_dir(&mut self) -> PathBuf {
        self.builds += 1;
        self.work.path().join(format!("out-{}", self.builds))
    }

    fn write(&self, state: &State, dir: &Path) {
        state
            .materialize(dir)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", dir.display()));
    }

    /// Build the current state, unjudged (a warm-up); `Err` with the error if it fails.
    fn warm(&mut self) -> Result<(), String> {
        let state = self.state.clone();
        self.write(&state, &self.ctx);
        let out = self.out_dir();
        let result = build(self.engine, self.subject, &state, &self.ctx, &out, false).run();
        self.last_built = Some(state);
        match result.success() {
            true => Ok(()),
            false => Err(error_line(result.progress())),
        }
    }

    /// Build the current state and judge it.
    fn judged_build(&mut self, case: &Case, before: &Outcome) -> Judged {
        let state = self.state.clone();
        self.write(&state, &self.ctx);
        let out = self.out_dir();
        let result = build(self.engine, self.subject, &state, &self.ctx, &out, false).run();
        self.last_built = Some(state.clone());
        if std::env::var_os("CACHET_MATRIX_LOG").is_some() {
            eprintln!("{}", result.progress());
        }
        let got = outcome(&result, &state, &out);
        let truth = self.truths.of(&state);
        judge(
            case,
            before,
            &truth,
            &got,
            result.progress(),
            state.platform.is_some(),
        )
    }

    fn case(&mut self, case: &Case, setup: &mut Setup) -> Judged {
        let na = |reason: String| Judged {
            verdict: Verdict::NotApplicable,
            actual: format!("not applicable on this engine: {reason}"),
            cache_hits: "-".into(),
        };
        let failed = |reason: String| Judged {
            verdict: Verdict::Failed,
            actual: reason,
            cache_hits: "-".into(),
        };
        if let Some(before) = case.before {
            if let Err(reason) = before(&mut self.state, setup) {
                return na(reason);
            }
        }
        if self.last_built.as_ref() != Some(&self.state) {
            if let Err(e) = self.warm() {
                return failed(format!("the build before the perturbation failed: {e}"));
            }
        }
        let pre = self.state.clone();
        let before = self.truths.of(&pre);
        match case.action {
            Action::Build(perturb) => {
                if let Err(reason) = perturb(&mut self.state, setup) {
                    self.state = pre;
                    return na(reason);
                }
                self.judged_build(case, &before)
            }
            Action::Concurrent(a, b) => {
                let mut state_b = pre.clone();
                if let Err(reason) = a(&mut self.state, setup).and_then(|_| b(&mut state_b, setup))
                {
                    self.state = pre;
                    return na(reason);
                }
                self.concurrent(case, &before, state_b)
            }
            Action::KillThenRebuild(perturb) => {
                if let Err(reason) = perturb(&mut self.state, setup) {
                    self.state = pre;
                    return na(reason);
                }
                let state = self.state.clone();
                self.write(&state, &self.ctx);
                let out = self.out_dir();
                let killed = build(self.engine, self.subject, &state, &self.ctx, &out, false);
                let note = match kill_while_compiling(&killed, "Compiling facts") {
                    Ok(note) => note,
                    Err(e) => return failed(e),
                };
                let mut judged = self.judged_build(case, &before);
                judged.actual = format!("{note}; rebuild: {}", judged.actual);
                judged
            }
        }
    }

    /// Build the current state (in `ctx`) and `other` (in a second directory) at once.
    fn concurrent(&mut self, case: &Case, before: &Outcome, other: State) -> Judged {
        let state = self.state.clone();
        let ctx_b = self.work.path().join("ctx-b");
        self.write(&state, &self.ctx);
        self.write(&other, &ctx_b);
        let (out_a, out_b) = (self.out_dir(), self.out_dir());
        let build_a = build(self.engine, self.subject, &state, &self.ctx, &out_a, false);
        let build_b = build(self.engine, self.subject, &other, &ctx_b, &out_b, false);
        let (result_a, result_b) = thread::scope(|s| {
            let a = s.spawn(|| build_a.run());
            let b = s.spawn(|| build_b.run());
            (a.join(), b.join())
        });
        let (Ok(result_a), Ok(result_b)) = (result_a, result_b) else {
            return Judged {
                verdict: Verdict::Failed,
                actual: "a concurrent build panicked (see the log)".into(),
                cache_hits: "-".into(),
            };
        };
        self.last_built = Some(state.clone());
        if std::env::var_os("CACHET_MATRIX_LOG").is_some() {
            eprintln!(
                "--- build A\n{}\n--- build B\n{}",
                result_a.progress(),
                result_b.progress()
            );
        }
        let _ = std::fs::remove_dir_all(&ctx_b);
        let got_a = outcome(&result_a, &state, &out_a);
        let got_b = outcome(&result_b, &other, &out_b);
        let truth_a = self.truths.of(&state);
        let truth_b = self.truths.of(&other);
        let a = judge(case, before, &truth_a, &got_a, result_a.progress(), false);
        let b = judge(case, before, &truth_b, &got_b, result_b.progress(), false);
        Judged {
            verdict: a.verdict.max(b.verdict),
            actual: format!("A: {}; B: {}", a.actual, b.actual),
            cache_hits: format!("A {}, B {}", a.cache_hits, b.cache_hits),
        }
    }
}

/// Start `build`, wait until its log shows `trigger`, then kill the client (its whole
/// process group) while cargo runs. `Ok` says when; `Err` if it finished first.
fn kill_while_compiling(build: &Build, trigger: &str) -> Result<String, String> {
    let mut cmd = build.command(Env::get());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the build to kill: {e}"))?;
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut log = String::new();
    let mut seen = None;
    let finished_first = loop {
        if let Some(t) = seen {
            if Instant::now() >= t {
                break false;
            }
        }
        if start.elapsed() > BUILD_TIMEOUT {
            break false;
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => {
                if seen.is_none() && line.contains(trigger) {
                    seen = Some(Instant::now() + KILL_AFTER);
                }
                log.push_str(&line);
                log.push('\n');
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
        }
    };
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    while let Ok(line) = rx.try_recv() {
        log.push_str(&line);
        log.push('\n');
    }
    if finished_first || seen.is_none() {
        return Err(format!(
            "the build to kill ended before cargo printed `{trigger}`; the case did not run:\n{log}"
        ));
    }
    let vertices = progress::vertices(&log);
    let cargo = progress::cargo_steps(&vertices);
    if cargo.iter().any(|v| v.done || v.cached) {
        return Err(format!(
            "the cargo step finished before the kill landed; the case did not run:\n{log}"
        ));
    }
    // Let the engine notice the client is gone before the rebuild.
    thread::sleep(Duration::from_secs(1));
    Ok(format!(
        "client killed {} ms after `{trigger}`, cargo unfinished",
        KILL_AFTER.as_millis()
    ))
}

/// Run the cases of `group` that `select` picks, in order, on `engine` for `subject`, judging
/// each rebuild against clean builds from `truths` (which must be for the same engine). A case
/// left out is not run at all: the next one starts from the state before it.
pub fn run_group(
    engine: Engine,
    subject: Subject,
    group: &Group,
    select: impl Fn(&Case) -> bool,
    truths: &mut Truths,
) -> Vec<Row> {
    assert_eq!(truths.engine, engine, "truths of another engine");
    let env = Env::get();
    let nonce = fixtures::nonce();
    let label = match subject {
        Subject::Cachet => "cachet",
        Subject::Reference => "reference",
    };
    let work = TempProject::new(&format!("matrix-{}-{engine}-{label}", group.name));
    let ctx = work.path().join("ctx");
    let project = format!("matrix-{}-{label}-{nonce}", group.name);
    let mut setup = Setup::new(engine, subject, nonce.clone(), ctx.clone());
    let state = State::initial(&project, &nonce, env.sdk_rustup_image());
    let mut run = Run {
        engine,
        subject,
        work,
        ctx,
        state,
        last_built: None,
        builds: 0,
        truths,
    };
    let engine_label = format!("{} · {}", engine_title(engine), subject.name());
    let row = |case: &Case, judged: Judged| Row {
        case: case.title(),
        engine: engine_label.clone(),
        subject,
        expected: case.expect.describe(),
        actual: judged.actual,
        cache_hits: judged.cache_hits,
        verdict: judged.verdict,
    };
    let start = Instant::now();
    // A group whose setup the engine or subject cannot express is N/A throughout.
    let setup_result = (group.setup)(&mut run.state, &mut setup);
    let warm = setup_result.clone().and_then(|_| run.warm());
    let mut rows = Vec::new();
    for case in group.cases.iter().filter(|c| select(c)) {
        let judged = match &warm {
            Err(reason) if setup_result.is_err() => Judged {
                verdict: Verdict::NotApplicable,
                actual: format!("not applicable: {reason}"),
                cache_hits: "-".into(),
            },
            Err(e) => Judged {
                verdict: Verdict::Failed,
                actual: format!("the group's first build failed: {e}"),
                cache_hits: "-".into(),
            },
            Ok(()) => {
                let t = Instant::now();
                let judged = run.case(case, &mut setup);
                eprintln!(
                    "[matrix] {engine} {label} {}: {} ({:.1}s)",
                    case.title(),
                    judged.verdict,
                    t.elapsed().as_secs_f64()
                );
                judged
            }
        };
        rows.push(row(case, judged));
    }
    eprintln!(
        "[matrix] {engine} {label} group {} took {:.1}s",
        group.name,
        start.elapsed().as_secs_f64()
    );
    rows
}

/// The engine as the table names it.
pub fn engine_title(engine: Engine) -> &'static str {
    match engine {
        Engine::Dockerd => "dockerd 20.10",
        Engine::Buildx => "buildkitd",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line_prefers_compiler_errors_and_drops_prefixes() {
        let log = "#9 [build] cargo build\n#9 0.412 error[E0583]: file not found for module `added`\n#9 ERROR: process did not complete successfully\n";
        assert_eq!(
            error_line(log),
            "error[E0583]: file not found for module `added`"
        );
    }

    #[test]
    fn first_difference_names_both_lines() {
        assert_eq!(
            first_difference("a\nfact=one\n", "a\nfact=two\n"),
            "prints `fact=one` where the clean build prints `fact=two`"
        );
    }
}
