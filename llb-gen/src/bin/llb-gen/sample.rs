//! `llb-gen sample`: the built-in representative graph.

use crate::output::{write_definition, Format};
use crate::CliResult;
use llb_gen::llb::{sample, Platform};

/// Options of `llb-gen sample`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Binary)]
    format: Format,
    /// Target platform (`os/arch[/variant]`); default: the daemon's.
    #[arg(long, value_parser = Platform::parse)]
    platform: Option<Platform>,
}

/// Builds the sample graph and prints it.
pub fn run(args: &Args) -> CliResult {
    let def = sample::sample(args.platform.clone())?.marshal();
    write_definition(&def, args.format)?;
    Ok(())
}
