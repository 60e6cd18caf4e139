//! `llb-gen`: inspect and emit BuildKit LLB produced by Cachet.
//!
//! Each subcommand lives in its own module; add new ones (`spec`,
//! `explain`, `schema`, …) by writing a module with an `Args` struct and a
//! `run` function, and listing it in [`Command`].

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod explain;
mod output;
mod request;
mod sample;
mod schema;
mod spec;

/// Generate and inspect BuildKit LLB definitions.
#[derive(Debug, Parser)]
#[command(name = "llb-gen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the built-in sample graph (pipe `--format binary` into
    /// `buildctl build --local context=<dir>`).
    Sample(sample::Args),
    /// Print the Definition the frontend would send for a Cachet.toml (images are not
    /// resolved: pin them with `--sdk-digest` / `--image`).
    Spec(spec::Args),
    /// Print the JSON Schema of Cachet.toml (for editors such as taplo / Even Better TOML;
    /// the repository keeps a copy in schema/cachet.schema.json).
    Schema(schema::Args),
    /// Why did this rebuild? Print what every step's cache key depends on (save it with
    /// `--format json`), or name what changed between two saved builds with `--diff`.
    Explain(explain::Args),
}

/// Errors a subcommand reports; printed to stderr, exit status 1.
type CliResult = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: CliResult = match cli.command {
        Command::Sample(args) => sample::run(&args),
        Command::Spec(args) => spec::run(&args),
        Command::Schema(args) => schema::run(&args),
        // Exit status as diff(1): 0 same, 1 different, 2 trouble.
        Command::Explain(args) => return explain::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `file:line:column: message` stays at the start of the line, where editors and CI
        // logs recognise it.
        Err(e) if is_positioned(e.as_ref()) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("llb-gen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `e` is a spec error, whose `file:line:column: message` must stay at the start of the
/// line (as [`llb_gen::spec::SpecError`] or inside [`llb_gen::front::FrontError::Spec`]).
fn is_positioned(e: &(dyn std::error::Error + 'static)) -> bool {
    e.is::<llb_gen::spec::SpecError>()
        || matches!(
            e.downcast_ref::<llb_gen::front::FrontError>(),
            Some(llb_gen::front::FrontError::Spec(_))
        )
}
