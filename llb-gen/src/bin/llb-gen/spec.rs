//! `llb-gen spec`: the Definition the frontend would send for a `Cachet.toml`.
//!
//! Loads and compiles the spec exactly as `frontend/src/build.rs` does, with BuildKit's part
//! (platform, session, resolved images) taken from the command line and the context's
//! metadata files read from disk (see [`crate::request`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::output::{write_definition, Format};
use crate::request::{plan, BuildArgs};
use crate::CliResult;
use llb_gen::llb::ReadableDefinition;

/// Options of `llb-gen spec`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    build: BuildArgs,
    /// Output format: `binary` is the protobuf Definition (pipe it into `buildctl build`);
    /// `json` is a summary object with the readable Definition (see below).
    #[arg(long, value_enum, default_value_t = Format::Binary)]
    format: Format,
}

const AFTER_HELP: &str = "\
Images: nothing is resolved. An image's digest comes from --image, --sdk-digest, a digest in the
reference itself or, for the SDK, `digest` under [sdk]. Without one it is left unpinned, as
dockerd's local images are (a note on stderr lists them), and the SDK is identified by the
SHA-256 of its config. Configs come from `--image REF=DIGEST,config=FILE` (used byte for byte),
else are `{}` for the SDK and, for a base image, the least compile accepts: architecture,
os (from --platform) and an empty rootfs. The SDK identity is in CACHET_SDK and every
target cache mount id.

JSON output (--format json) is one object:
  target        the target built
  platform      the target platform
  sdk           the SDK identity
  images        {reference as written in the spec: digest pinned, or \"\"}
  cargo_keys    {cargo target: target cache mount id}
  image_config  the result's image config (containerimage.config), or null for a cargo target
  definition    the Definition, op by op (as `llb-gen sample --format json`)

Example:
  llb-gen spec examples/hello/Cachet.toml --sdk-digest sha256:<64 hex> --format json";

/// What `--format json` prints; field order is the output order.
#[derive(Serialize)]
struct JsonOutput<'a> {
    target: String,
    platform: String,
    sdk: &'a str,
    images: BTreeMap<&'a str, &'a str>,
    cargo_keys: BTreeMap<&'a str, &'a str>,
    image_config: Option<serde_json::Value>,
    definition: ReadableDefinition,
}

/// Loads, compiles and prints the spec.
pub fn run(args: &Args) -> CliResult {
    let planned = plan(&args.build)?;
    let compiled = &planned.compiled;
    match args.format {
        Format::Binary => write_definition(&compiled.definition, Format::Binary)?,
        Format::Json => {
            let output = JsonOutput {
                target: planned.target.to_string(),
                platform: args.build.platform.to_string(),
                sdk: &compiled.sdk,
                images: planned
                    .request
                    .images
                    .iter()
                    .map(|(r, i)| (r.as_str(), i.digest.as_str()))
                    .collect(),
                cargo_keys: compiled
                    .cargo_keys
                    .iter()
                    .map(|(t, k)| (t.as_str(), k.selected().mount_id.as_str()))
                    .collect(),
                image_config: compiled.image_config.as_deref().map(|c| {
                    serde_json::from_slice(c).unwrap_or_else(|_| {
                        serde_json::Value::String(String::from_utf8_lossy(c).into_owned())
                    })
                }),
                definition: ReadableDefinition::from_definition(&compiled.definition)?,
            };
            let json = serde_json::to_string_pretty(&output)?;
            crate::output::write_text(&json)?;
        }
    }
    Ok(())
}
