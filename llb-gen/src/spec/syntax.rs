//! TOML parse errors, positioned and said in the spec's terms.
//!
//! The `toml` crate reports most problems with a span, but not all: a dotted key too deep for
//! its parser (`a.a.a…` with more than [`TOML_DEPTH`] parts, in a key or a table header) comes
//! back as a bare "recursion limit", with no position. That is one hostile line away, so this
//! module finds the key itself and says what is wrong; the nesting limit for arrays and inline
//! tables, which does come with a span, gets the same plain wording.

use std::ops::Range;

/// How deep the `toml` parser nests keys, arrays and inline tables before it gives up (its
/// `LIMIT`); no Cachet.toml setting comes near it.
const TOML_DEPTH: usize = 80;

/// The deepest a valid spec nests: `target.NAME.env.VAR = "…"` is a dotted key of four parts,
/// `copy = [{ … }]` an inline table in an array.
const SPEC_KEY_PARTS: usize = 4;
const SPEC_VALUE_DEPTH: usize = 2;

/// Where and what, for a parse error from `toml`.
pub(super) fn parse_error(text: &str, error: &toml::de::Error) -> (Range<usize>, String) {
    let message = error.message();
    if message.contains("max recursion depth") {
        let span = error.span().unwrap_or(0..0);
        return (
            span,
            format!(
                "arrays and inline tables nest more than {TOML_DEPTH} deep here; no Cachet.toml \
                 setting nests more than {SPEC_VALUE_DEPTH} (`copy = [{{ … }}]`)"
            ),
        );
    }
    if message.contains("recursion limit") {
        let (start, parts) = deep_key(text).unwrap_or((0, TOML_DEPTH + 1));
        return (
            start..start,
            format!(
                "a dotted key of {parts} parts is deeper than TOML parsing goes ({TOML_DEPTH}); \
                 no Cachet.toml key has more than {SPEC_KEY_PARTS} (`target.NAME.env.VAR`)"
            ),
        );
    }
    // Every other error `toml` reports comes with a span; the start of the file stands in
    // should a future version drop one.
    (error.span().unwrap_or(0..0), message.to_string())
}

/// The byte offset and part count of the first dotted key (in a key-value pair or a table
/// header) with more than [`TOML_DEPTH`] parts.
///
/// A lexical scan: quoted strings (basic, literal and multi-line) and comments are skipped, so
/// their dots never count; a run of key parts joined by dots (with optional blanks) is a key.
/// Values outside strings hold few dots (`1.5`, `07:32:00.999`), far from the limit.
fn deep_key(text: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    // The run of dotted parts being read: where it starts and how many parts it has.
    let mut run: Option<(usize, usize)> = None;
    let mut after_dot = false;
    let mut i = 0;
    // Every index where the scan stops is an ASCII byte, hence a character boundary.
    while i < b.len() {
        let part = match b[i] {
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'.' if run.is_some() && !after_dot => {
                after_dot = true;
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                None
            }
            b'"' | b'\'' => {
                let (end, multiline) = skip_string(b, i);
                let start = i;
                i = end;
                (!multiline).then_some(start)
            }
            c if is_bare_key_byte(c) => {
                let start = i;
                while i < b.len() && is_bare_key_byte(b[i]) {
                    i += 1;
                }
                Some(start)
            }
            _ => {
                i += 1;
                None
            }
        };
        match (part, run) {
            (Some(_), Some((start, parts))) if after_dot => run = Some((start, parts + 1)),
            (Some(start), _) => {
                if let Some(found) = run.filter(|(_, parts)| *parts > TOML_DEPTH) {
                    return Some(found);
                }
                run = Some((start, 1));
            }
            (None, _) => {
                if let Some(found) = run.filter(|(_, parts)| *parts > TOML_DEPTH) {
                    return Some(found);
                }
                run = None;
            }
        }
        after_dot = false;
    }
    run.filter(|(_, parts)| *parts > TOML_DEPTH)
}

/// Bytes of a bare key (`A-Za-z0-9_-`), and any non-ASCII byte, so that a key with other
/// characters still reads as one part.
fn is_bare_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || !c.is_ascii()
}

/// The end of the string starting at `start` (a `"` or `'`), and whether it is multi-line.
/// An unterminated string ends at the end of its line (single-line) or of the text.
fn skip_string(b: &[u8], start: usize) -> (usize, bool) {
    let quote = b[start];
    let basic = quote == b'"';
    let triple = b.get(start..start + 3) == Some(&[quote; 3][..]);
    let mut i = start + if triple { 3 } else { 1 };
    while i < b.len() {
        match b[i] {
            b'\\' if basic => i += 2,
            b'\n' if !triple => return (i, false),
            c if c == quote => {
                if !triple {
                    return (i + 1, false);
                }
                if b.get(i..i + 3) == Some(&[quote; 3][..]) {
                    // Up to two more quotes belong to the content (`""""x"""""`).
                    let mut end = i + 3;
                    while end < b.len() && end < i + 5 && b[end] == quote {
                        end += 1;
                    }
                    return (end, true);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    (b.len(), triple)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: usize) -> String {
        vec!["a"; parts].join(".")
    }

    #[test]
    fn finds_the_first_key_past_the_limit() {
        let text = format!("x = 1.5\n{} = 1\n[{}]\n", key(81), key(90));
        assert_eq!(deep_key(&text), Some((8, 81)));
        let text = format!("[{}]\n", key(90));
        assert_eq!(deep_key(&text), Some((1, 90)));
        // Blanks around dots and quoted parts are still one key.
        let text = format!("k = 1\n{} . \"q.q\" . 'x' = 1", key(80));
        assert_eq!(deep_key(&text), Some((6, 82)));
        assert_eq!(deep_key(&format!("{} = 1", key(80))), None);
    }

    #[test]
    fn dots_in_strings_and_comments_do_not_count() {
        let dotted = key(200);
        for text in [
            format!("x = \"{dotted}\"\n"),
            format!("x = '{dotted}'\n"),
            format!("x = \"\"\"\n{dotted}\n\"\"\"\n"),
            format!("x = '''\n{dotted}\n'''\n"),
            format!("x = \"\\\"{dotted}\"\n"),
            format!("# {dotted}\n"),
            format!("x = \"\"\"a\"\"\"\"\"\n# {dotted}\n"),
        ] {
            assert_eq!(deep_key(&text), None, "{text}");
        }
        // After the string, a real key is found again (offsets count bytes, past `é`).
        let text = format!("x = \"é.é\"\n{} = 1\n", key(81));
        assert_eq!(deep_key(&text), Some(("x = \"é.é\"\n".len(), 81)));
    }

    #[test]
    fn unterminated_strings_end_the_scan_without_panicking() {
        for text in ["x = \"", "x = '''", "x = \"\"\"\\", "\"", "'", "a.", ".a"] {
            assert_eq!(deep_key(text), None, "{text:?}");
        }
    }
}
