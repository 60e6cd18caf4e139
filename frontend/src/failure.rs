//! Why a build failed, as the user will see it: the message, and for a spec error the place in
//! the spec, so the client prints the line the message names.
//!
//! Without a source location the client shows the `# syntax=` line: the forwarding dockerfile
//! frontend attaches that line to any error that carries no location of its own. With one,
//! buildx prints the spec's lines around the error (`>>> imgae = "…"`).

use llb_gen::proto::errdefs;
use llb_gen::proto::pb;
use llb_gen::spec::SpecError;

/// A failed build.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    /// Where in the spec, when the failure is about the spec's text.
    pub source: Option<errdefs::Source>,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure {
            message,
            source: None,
        }
    }
}

impl Failure {
    /// A spec error, located in `text` (the spec as read, shown by the client).
    pub fn in_spec(error: &SpecError, text: &str) -> Self {
        let source = error.position.map(|at| {
            let position = pb::Position {
                line: i32::try_from(at.line).unwrap_or(i32::MAX),
                character: i32::try_from(at.column).unwrap_or(i32::MAX),
            };
            errdefs::Source {
                info: Some(pb::SourceInfo {
                    filename: error.file.clone(),
                    data: text.as_bytes().to_vec(),
                    definition: None,
                    language: "TOML".to_string(),
                }),
                ranges: vec![pb::Range {
                    start: Some(position),
                    end: Some(position),
                }],
            }
        });
        Failure {
            message: error.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_spec_error_carries_the_line_it_names() {
        let text = "[project]\nname = \"x\"\n[sdk]\nimgae = \"a\"\n";
        let error = llb_gen::spec::load("Cachet.toml", text, &BTreeMap::new()).unwrap_err();
        let failure = Failure::in_spec(&error, text);
        assert!(
            failure.message.starts_with("Cachet.toml:4:1: "),
            "{}",
            failure.message
        );
        let source = failure.source.expect("a located error");
        let info = source.info.unwrap();
        assert_eq!(info.filename, "Cachet.toml");
        assert_eq!(info.data, text.as_bytes());
        assert_eq!(source.ranges[0].start.unwrap().line, 4);
    }
}
