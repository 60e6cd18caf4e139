//! `cachet-bench`: Cachet against a plain Dockerfile, the cache-mount Dockerfile, cargo-chef and
//! host-native cargo, on ripgrep, on both engines. Writes a markdown table and the raw numbers.
//!
//! ```sh
//! scripts/bench            # the full suite: ripgrep 14.1.1, 3 runs, both engines (~2 h)
//! scripts/bench --smoke    # one run on the tiny fixture (a few minutes; part of .ci/run)
//! scripts/bench --cross    # tiny: arm64 cross vs arm64 emulated vs native amd64 (buildkitd)
//! ```
//!
//! `--cross` (issue 20) runs only the multi-platform comparison of `cachet_tests::bench::cross`
//! on the tiny fixture and writes `DIR/cross.md`; `scripts/test` does not run it (the emulated
//! builds run the SDK under qemu).
//!
//! Options: `--smoke`, `--runs N` (default 3), `--engine dockerd|buildx` (default both),
//! `--contender NAME` (repeatable: plain, cache-mount, cargo-chef, cachet, host; default all),
//! `--results DIR` (default `bench/results` in the repository); `--render FILE.json` prints the
//! table of saved results without measuring anything. Results go to
//! `DIR/<fixture>.json` (rewritten after every sample) and `DIR/<fixture>.md`; the table is also
//! printed on stdout, progress on stderr. The suite wipes the engines' build caches: nothing else
//! may build on them meanwhile. It exits non-zero if a build fails; it never judges speed.

use std::path::PathBuf;
use std::process::ExitCode;

use cachet_tests::bench::report::Results;
use cachet_tests::bench::runner::{self, Options};
use cachet_tests::bench::{fixture, Contender};
use cachet_tests::{fixtures, Engine, Env};

const USAGE: &str = "usage: cachet-bench [--smoke | --cross] [--runs N] [--engine dockerd|buildx] \
                     [--contender NAME]... [--results DIR] | --render RESULTS.json";

fn usage(message: &str) -> ExitCode {
    eprintln!("cachet-bench: {message}\n{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut smoke = false;
    let mut cross = false;
    let mut runs: Option<u32> = None;
    let mut engines = Engine::ALL.to_vec();
    let mut contenders: Vec<Contender> = Vec::new();
    let mut results_dir = fixtures::repo_root().join("bench/results");
    let mut render: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--cross" => cross = true,
            "--runs" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => runs = Some(n),
                _ => return usage("--runs needs a positive number"),
            },
            "--engine" => match args.next().as_deref() {
                Some("dockerd") => engines = vec![Engine::Dockerd],
                Some("buildx") => engines = vec![Engine::Buildx],
                other => return usage(&format!("--engine {other:?}: expected dockerd or buildx")),
            },
            "--contender" => match args.next().as_deref().and_then(Contender::parse) {
                Some(c) => contenders.push(c),
                None => {
                    return usage(
                        "--contender needs one of plain, cache-mount, cargo-chef, cachet, host",
                    )
                }
            },
            "--render" => match args.next() {
                Some(path) => render = Some(PathBuf::from(path)),
                None => return usage("--render needs a results JSON file"),
            },
            "--results" => match args.next() {
                Some(dir) => results_dir = PathBuf::from(dir),
                None => return usage("--results needs a directory"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    if contenders.is_empty() {
        contenders = Contender::ALL.to_vec();
    }
    contenders.sort();
    contenders.dedup();
    if let Some(json) = render {
        return render_saved(&json);
    }
    let bench_dir = Env::get().state_dir().join("bench");
    if cross {
        return run_cross(&bench_dir, &results_dir);
    }
    let prepared = if smoke {
        fixture::tiny(&bench_dir)
    } else {
        eprintln!("[bench] preparing ripgrep (downloads and vendors crates the first time)");
        fixture::ripgrep(&bench_dir)
    };
    let fixture = match prepared {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cachet-bench: cannot prepare the fixture: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        runs: runs.unwrap_or(if smoke { 1 } else { 3 }),
        engines,
        contenders,
        work: bench_dir.join("work"),
        tools: bench_dir.join("tools"),
        fixture,
    };
    if let Err(e) = std::fs::create_dir_all(&results_dir) {
        eprintln!("cachet-bench: cannot create {}: {e}", results_dir.display());
        return ExitCode::FAILURE;
    }
    let json_path = results_dir.join(format!("{}.json", options.fixture.name));
    let md_path = results_dir.join(format!("{}.md", options.fixture.name));
    let save = |results: &Results| {
        if let Ok(text) = serde_json::to_string_pretty(results) {
            let _ = std::fs::write(&json_path, text + "\n");
        }
    };
    match runner::run(&options, save) {
        Ok(results) => {
            save(&results);
            let table = results.markdown();
            if let Err(e) = std::fs::write(&md_path, &table) {
                eprintln!("cachet-bench: cannot write {}: {e}", md_path.display());
                return ExitCode::FAILURE;
            }
            println!("{table}");
            eprintln!(
                "[bench] wrote {} and {}",
                md_path.display(),
                json_path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cachet-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--cross`: the multi-platform comparison on the tiny fixture, written to `cross.md`.
fn run_cross(bench_dir: &std::path::Path, results_dir: &std::path::Path) -> ExitCode {
    use cachet_tests::bench::cross;
    let fixture = match fixture::tiny(bench_dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cachet-bench: cannot prepare the fixture: {e}");
            return ExitCode::FAILURE;
        }
    };
    let samples = match cross::run(&fixture, &bench_dir.join("work-cross")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cachet-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let table = cross::markdown(&fixture.name, &samples, &date);
    let md = results_dir.join("cross.md");
    if let Err(e) = std::fs::create_dir_all(results_dir).and_then(|_| std::fs::write(&md, &table)) {
        eprintln!("cachet-bench: cannot write {}: {e}", md.display());
        return ExitCode::FAILURE;
    }
    println!("{table}");
    eprintln!("[bench] wrote {}", md.display());
    ExitCode::SUCCESS
}

/// Print the markdown table of results saved by an earlier run.
fn render_saved(path: &std::path::Path) -> ExitCode {
    cachet_tests::saved::render("cachet-bench", path, Results::markdown)
}
