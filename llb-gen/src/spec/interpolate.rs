//! `${NAME}` substitution of declared build arguments into spec values.
//!
//! Only names declared under `[args]` may be used, so a typo is an error, not an empty string.
//! `$${` writes a literal `${`.
//!
//! The output is bounded while it is built: one build argument referenced many times would
//! otherwise multiply into memory (100 KiB × 1,000 references = 100 MB) before any check on the
//! result could run. The caller chooses the bound (`MAX_VALUE_BYTES`, `MAX_INTERPOLATED_BYTES`
//! in `load.rs`).

use std::collections::BTreeMap;

/// Why a value could not be interpolated; `at` is the byte offset (within the value) of the
/// `$` that starts the offending reference, or of the text that crossed the size bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `${` without a closing `}`.
    Unterminated { at: usize },
    /// `${NAME}` where `NAME` is not declared under `[args]`.
    Undeclared { at: usize, name: String },
    /// The output would be longer than the bound the caller gave.
    TooLong { at: usize },
}

impl Failure {
    pub fn at(&self) -> usize {
        match self {
            Failure::Unterminated { at }
            | Failure::Undeclared { at, .. }
            | Failure::TooLong { at } => *at,
        }
    }
}

/// Replaces `${NAME}` in `value`, producing at most `limit` bytes.
pub fn interpolate(
    value: &str,
    args: &BTreeMap<String, String>,
    limit: usize,
) -> Result<String, Failure> {
    let mut out = String::with_capacity(value.len().min(limit));
    // Appends `piece` (which starts at byte `at` of `value`) unless that crosses `limit`.
    let push = |out: &mut String, piece: &str, at: usize| {
        if out.len() + piece.len() > limit {
            Err(Failure::TooLong { at })
        } else {
            out.push_str(piece);
            Ok(())
        }
    };
    let mut rest = value;
    // Bytes of `value` before `rest`.
    let mut consumed = 0;
    // `$` is ASCII, so every offset below is a character boundary.
    while let Some(i) = rest.find('$') {
        push(&mut out, &rest[..i], consumed)?;
        let after = &rest[i + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            push(&mut out, "${", consumed + i)?;
            consumed += i + 3;
            rest = escaped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(Failure::Unterminated { at: consumed + i });
            };
            let name = &body[..end];
            let Some(v) = args.get(name) else {
                return Err(Failure::Undeclared {
                    at: consumed + i,
                    name: name.to_string(),
                });
            };
            push(&mut out, v, consumed + i)?;
            consumed += i + 2 + end + 1;
            rest = &body[end + 1..];
        } else {
            push(&mut out, "$", consumed + i)?;
            consumed += i + 1;
            rest = after;
        }
    }
    push(&mut out, rest, consumed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_LIMIT: usize = usize::MAX;

    fn args() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("CPU".to_string(), "x86-64-v2".to_string()),
            ("É".to_string(), "ü€".to_string()),
        ])
    }

    #[test]
    fn substitutes_declared_names() {
        assert_eq!(
            interpolate("target-cpu=${CPU}", &args(), NO_LIMIT).unwrap(),
            "target-cpu=x86-64-v2"
        );
        assert_eq!(
            interpolate("${CPU}${CPU}", &args(), NO_LIMIT).unwrap(),
            "x86-64-v2x86-64-v2"
        );
    }

    #[test]
    fn leaves_plain_dollars_and_unescapes() {
        assert_eq!(
            interpolate("$HOME $", &args(), NO_LIMIT).unwrap(),
            "$HOME $"
        );
        assert_eq!(interpolate("$${CPU}", &args(), NO_LIMIT).unwrap(), "${CPU}");
    }

    #[test]
    fn rejects_undeclared_and_unterminated() {
        let e = interpolate("a ${NOPE}", &args(), NO_LIMIT).unwrap_err();
        assert_eq!(
            e,
            Failure::Undeclared {
                at: 2,
                name: "NOPE".into()
            }
        );
        let e = interpolate("${CPU} ${CPU", &args(), NO_LIMIT).unwrap_err();
        assert_eq!(e, Failure::Unterminated { at: 7 });
    }

    #[test]
    fn multibyte_text_around_references_keeps_offsets_on_characters() {
        assert_eq!(
            interpolate("ç${É}ç$ç$${É}", &args(), NO_LIMIT).unwrap(),
            "çü€ç$ç${É}"
        );
        let e = interpolate("çç ${ÉÉ}", &args(), NO_LIMIT).unwrap_err();
        assert_eq!(e.at(), "çç ".len());
        let e = interpolate("€${", &args(), NO_LIMIT).unwrap_err();
        assert_eq!(e, Failure::Unterminated { at: "€".len() });
    }

    #[test]
    fn output_is_bounded_while_it_is_built() {
        let v = "x".repeat(10);
        assert_eq!(interpolate(&v, &args(), 10).unwrap(), v);
        assert_eq!(
            interpolate(&"x".repeat(11), &args(), 10).unwrap_err(),
            Failure::TooLong { at: 0 }
        );
        // `x86-64-v2` is 9 bytes: the second reference (at byte 6) crosses a limit of 12.
        assert_eq!(
            interpolate("${CPU}${CPU}", &args(), 12).unwrap_err(),
            Failure::TooLong { at: 6 }
        );
        // Many references to one argument stop at the bound, not after expanding them all.
        let big = BTreeMap::from([("A".to_string(), "a".repeat(1 << 20))]);
        let many = "${A}".repeat(100_000);
        assert!(matches!(
            interpolate(&many, &big, 1 << 22).unwrap_err(),
            Failure::TooLong { at: 16 }
        ));
    }
}
