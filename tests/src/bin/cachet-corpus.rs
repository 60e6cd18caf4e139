//! `cachet-corpus`: builds real crates.io projects with Cachet and with host cargo, runs their
//! binaries, and writes a markdown table and the raw results (see `cachet_tests::corpus`).
//!
//! ```sh
//! scripts/corpus                      # every project on buildx (about half an hour cold)
//! scripts/corpus --smoke              # the CI subset (hexyl, static on scratch; ≤ 3 minutes)
//! scripts/corpus --only fd --only tokei
//! ```
//!
//! Options: `--engine buildx|dockerd` (default buildx), `--only NAME` (repeatable), `--smoke`,
//! `--runs N` (default 1; the table shows medians), `--no-host` (skip host cargo), `--results
//! DIR` (default `$CACHET_STATE_DIR/corpus/results`), `--list`; `--render FILE.json` prints the
//! table of saved results. Results go to `DIR/corpus.json` (rewritten after every project;
//! `corpus-smoke.json` for `--smoke`, `corpus-<names>.json` for `--only`) and the `.md` beside it. It needs the engines up and the frontend
//! image pushed (`scripts/env/up`, `scripts/frontend-image`) and, the first time, the network
//! (host cargo fetches the crates). Never wipes a builder. Exits 1 if any project did not build
//! and run, on either side; it never judges speed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cachet_tests::corpus::report::Results;
use cachet_tests::corpus::runner::{self, Options};
use cachet_tests::corpus::{self, Project, PROJECTS};
use cachet_tests::Engine;

const USAGE: &str = "usage: cachet-corpus [--engine buildx|dockerd] [--only NAME]... [--smoke] \
                     [--runs N] [--no-host] [--results DIR] | --list | --render RESULTS.json";

fn usage(message: &str) -> ExitCode {
    eprintln!("cachet-corpus: {message}\n{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut engine = Engine::Buildx;
    let mut only: Vec<&'static Project> = Vec::new();
    let mut smoke = false;
    let mut runs = 1;
    let mut host = true;
    let mut results_dir = runner::default_dir().join("results");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--engine" => match args.next().as_deref() {
                Some("buildx") => engine = Engine::Buildx,
                Some("dockerd") => engine = Engine::Dockerd,
                other => return usage(&format!("--engine {other:?}: expected buildx or dockerd")),
            },
            "--only" => match args
                .next()
                .as_deref()
                .map(|name| (name, corpus::find(name)))
            {
                Some((_, Some(project))) => only.push(project),
                Some((name, None)) => {
                    return usage(&format!("no project {name:?} (see --list)"));
                }
                None => return usage("--only needs a project name"),
            },
            "--smoke" => smoke = true,
            "--runs" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => runs = n,
                _ => return usage("--runs needs a positive number"),
            },
            "--no-host" => host = false,
            "--results" => match args.next() {
                Some(dir) => results_dir = PathBuf::from(dir),
                None => return usage("--results needs a directory"),
            },
            "--list" => {
                for p in PROJECTS {
                    let shapes: Vec<&str> = p.shapes.iter().map(|s| s.label()).collect();
                    let smoke = if p.smoke { " [smoke]" } else { "" };
                    println!(
                        "{:<15} {} {} ({}){smoke}",
                        p.name,
                        p.krate,
                        p.version,
                        shapes.join(", ")
                    );
                }
                return ExitCode::SUCCESS;
            }
            "--render" => {
                return match args.next() {
                    Some(path) => render_saved(Path::new(&path)),
                    None => usage("--render needs a results JSON file"),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let stem = match (only.is_empty(), smoke) {
        (false, _) => {
            let names: Vec<&str> = only.iter().map(|p| p.name).collect();
            format!("corpus-{}", names.join("-"))
        }
        (true, true) => "corpus-smoke".to_string(),
        (true, false) => "corpus".to_string(),
    };
    let projects = match (only.is_empty(), smoke) {
        (false, _) => only,
        (true, true) => corpus::smoke(),
        (true, false) => PROJECTS.iter().collect(),
    };
    let base = runner::default_dir();
    let options = Options {
        projects,
        engine,
        runs,
        host,
        work: base.join("work"),
        cache: base.clone(),
        command: runner::command_line(),
    };
    if let Err(e) = std::fs::create_dir_all(&results_dir) {
        eprintln!(
            "cachet-corpus: cannot create {}: {e}",
            results_dir.display()
        );
        return ExitCode::FAILURE;
    }
    let json_path = results_dir.join(format!("{stem}.json"));
    let md_path = results_dir.join(format!("{stem}.md"));
    let save = |results: &Results| {
        if let Ok(text) = serde_json::to_string_pretty(results) {
            let _ = std::fs::write(&json_path, text + "\n");
        }
    };
    let results = runner::run(&options, save);
    save(&results);
    let table = results.markdown();
    if let Err(e) = std::fs::write(&md_path, &table) {
        eprintln!("cachet-corpus: cannot write {}: {e}", md_path.display());
        return ExitCode::FAILURE;
    }
    println!("{table}");
    eprintln!(
        "[corpus] wrote {} and {}",
        md_path.display(),
        json_path.display()
    );
    let all_ok = results
        .projects
        .iter()
        .all(|p| p.cachet_ok() && p.host_ok());
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Print the markdown table of results saved by an earlier run.
fn render_saved(path: &Path) -> ExitCode {
    cachet_tests::saved::render("cachet-corpus", path, Results::markdown)
}
