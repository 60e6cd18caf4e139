//! Re-printing a report from the raw JSON an earlier run saved (`--render FILE.json` of
//! `cachet-bench` and `cachet-corpus`): both tools keep their results as JSON and make the
//! markdown table from it, so a table can be made again without running anything.

use std::path::Path;
use std::process::ExitCode;

use serde::de::DeserializeOwned;

/// Reads the results saved at `path` and prints `markdown` of them; `tool` names the program in
/// the error when the file cannot be read or parsed.
pub fn render<R: DeserializeOwned>(
    tool: &str,
    path: &Path,
    markdown: impl Fn(&R) -> String,
) -> ExitCode {
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<R>(&text).map_err(|e| e.to_string()));
    match parsed {
        Ok(results) => {
            println!("{}", markdown(&results));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{tool}: cannot read {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
