//! Writing a Definition to stdout in the requested format.

use llb_gen::llb::{definition_bytes, ReadableDefinition};
use llb_gen::proto::pb;
use std::io::Write;

/// How a Definition is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Protobuf-encoded `pb.Definition`, as `buildctl build` reads on stdin.
    #[default]
    Binary,
    /// Each op decoded, with its digest and metadata, as pretty JSON.
    Json,
}

/// Writes `def` to stdout.
pub fn write_definition(def: &pb::Definition, format: Format) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Binary => out.write_all(&definition_bytes(def))?,
        Format::Json => {
            let view = ReadableDefinition::from_definition(def)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            out.write_all(view.to_json_pretty().as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

/// Writes `text` and a newline to stdout.
pub fn write_text(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}
