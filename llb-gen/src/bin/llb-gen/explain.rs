//! `llb-gen explain`: what every step of a build is keyed on, and what changed between two
//! builds (see [`llb_gen::explain`]).
//!
//! Exit status follows diff(1): 0 no differences (or an explanation printed), 1 differences,
//! 2 trouble (a spec that does not compile, an unreadable or invalid explanation file).

use std::io::{Read, Write};
use std::process::ExitCode;

use llb_gen::explain::{self, Explanation};

use crate::request::{plan, BuildArgs};

/// Options of `llb-gen explain`.
#[derive(Debug, clap::Args)]
#[command(
    after_long_help = AFTER_HELP,
    override_usage = "llb-gen explain [OPTIONS] <PATH>\n       \
                      llb-gen explain --diff <OLD.json> <NEW.json> [--format <FORMAT>]"
)]
pub struct Args {
    #[command(flatten)]
    build: Option<BuildArgs>,
    /// Compare two saved `--format json` explanations, OLD then NEW, and name what changed
    /// (`-` reads one of them from stdin). Exit status: 0 no differences, 1 differences,
    /// 2 trouble.
    #[arg(long, num_args = 2, value_names = ["OLD.json", "NEW.json"], conflicts_with = "BuildArgs")]
    diff: Option<Vec<String>>,
    /// Output format: `text` to read, `json` to save (an explanation) or to process (a diff).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// How an explanation or a diff is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

const AFTER_HELP: &str = "\
For every step of the build (the fetch step, each cargo step, each image), in build order:
its BuildKit progress name, its op digest (BuildKit's cache key for it), for cargo steps the
target cache mount it runs against with its strict and fast keys, and every input of its keys
(sdk, platform, profile, features, rustflags, env, toolchain_files, cargo_config, command,
sources, …). The spec is compiled exactly as `llb-gen spec` does, so pass the same
--sdk-digest / --image / --build-arg / --context as the build; without a digest the SDK is
identified by its config, as for a dockerd local image.

First comes the build's plan: every step decision, made before any LLB, with its reason
(\"dependency layer: the build's cache travels (--cache-from / inline cache)\", \"no fetch:
Cargo.lock has no registry or git packages\", …), planned or not, and which steps share a
layer. `--format json` has it as `plan` (target, kind, planned, reason, sentence, shared_with).

What an explanation cannot see is content BuildKit keys itself: source files. If two builds
have no differences and a step still ran again, its sources changed or its cache was pruned.

--diff names every difference between two saved explanations: the SDK, steps added or removed,
and per step whether its op changed (BuildKit runs it again), whether its target cache mount
changed (a cold target/, or warm: the same mount as before), and each key input that differs,
down to one entry of a map (env.CFLAGS, toolchain_files.rust-toolchain.toml).

Exit status: 0 no differences (or an explanation printed), 1 differences, 2 trouble.

Workflow: save an explanation with every CI build, diff two when a build was slow.
  # in CI, next to the build:
  llb-gen explain Cachet.toml --sdk-digest \"$SDK_DIGEST\" --build-arg LEVEL=3 \\
      --format json > explain-$BUILD_ID.json
  # later: why did build 42 rebuild when 41 was cached?
  llb-gen explain --diff explain-41.json explain-42.json

Examples:
  llb-gen explain examples/hello/Cachet.toml --target build
  llb-gen explain Cachet.toml --format json | llb-gen explain --diff saved.json -";

/// Prints an explanation or a diff; the exit status follows diff(1).
pub fn run(args: &Args) -> ExitCode {
    match explain(args) {
        Ok(code) => code,
        // `file:line:column: message` stays at the start of the line, where editors and CI
        // logs recognise it.
        Err(e) if super::is_positioned(e.as_ref()) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("llb-gen explain: {e}");
            ExitCode::from(2)
        }
    }
}

fn explain(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match (&args.diff, &args.build) {
        (Some(files), _) => {
            let [old, new] = files.as_slice() else {
                return Err("--diff takes two files: OLD.json NEW.json".into());
            };
            if old == "-" && new == "-" {
                return Err("--diff: only one of the two files can be `-` (stdin)".into());
            }
            let diff = explain::diff(&load(old)?, &load(new)?);
            match args.format {
                Format::Text => print(&explain::render_diff(&diff))?,
                Format::Json => print(&diff.to_json())?,
            }
            Ok(if diff.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        (None, Some(build)) => {
            let planned = plan(build)?;
            let explanation = Explanation::new(&planned.compiled, &planned.target, &build.platform);
            match args.format {
                Format::Text => print(&explain::render_text(&explanation))?,
                Format::Json => print(&explanation.to_json())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        (None, None) => Err("give a spec (PATH) or --diff OLD.json NEW.json".into()),
    }
}

/// A saved explanation; errors name the file.
fn load(path: &str) -> Result<Explanation, String> {
    let mut text = String::new();
    let read = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(drop)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text).map(drop))
    };
    let name = if path == "-" { "<stdin>" } else { path };
    read.map_err(|e| format!("cannot read {name}: {e}"))?;
    Explanation::from_json(&text).map_err(|e| format!("{name}: {e}"))
}

fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}
