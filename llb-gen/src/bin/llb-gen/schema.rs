//! `llb-gen schema`: the JSON Schema of `Cachet.toml`.
//!
//! The repository keeps a copy in `schema/cachet.schema.json` for editors; the `schema` test
//! checks that it matches this output.

use crate::CliResult;

/// Options of `llb-gen schema` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Prints the schema as pretty JSON.
pub fn run(_args: &Args) -> CliResult {
    let json = serde_json::to_string_pretty(&llb_gen::spec::json_schema())?;
    crate::output::write_text(&json)?;
    Ok(())
}
