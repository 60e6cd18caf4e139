//! Errors that point into the spec file.
//!
//! Every problem a user can make in `Cachet.toml` is reported as `file:line:column: message`,
//! the format editors and CI logs turn into links. The frontend sends this text back to
//! BuildKit through `Return`, so it is what `docker build` prints.

use std::fmt;
use std::ops::Range;

/// A 1-based line and column in the spec text (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte offset `offset` in `text` (clamped to the text's end).
    pub fn of_offset(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..offset].chars().count() + 1;
        Position { line, column }
    }
}

/// A spec problem with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    pub file: String,
    /// Always set by the loader (a missing section is reported where it can be added, at the
    /// end of the file); `None` is for callers with a problem not tied to the text.
    pub position: Option<Position>,
    pub message: String,
}

impl SpecError {
    pub fn at(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        SpecError {
            file: file.to_string(),
            position: span.map(|s| Position::of_offset(text, s.start)),
            message: message.into(),
        }
    }
}

/// How many characters of a user's value a message quotes: values can be long (up to the size
/// limits in `load.rs`), and a message should stay readable on one line.
const SHOWN_CHARS: usize = 60;

/// `value` as a message quotes it: control characters (newlines, NUL) escaped, cut after
/// [`SHOWN_CHARS`] characters with `…`.
pub(super) fn shown(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "ab\nçd = 1\n";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 3),
            Position { line: 2, column: 1 }
        );
        // 'd' comes after a two-byte character.
        assert_eq!(
            Position::of_offset(text, 5),
            Position { line: 2, column: 2 }
        );
        assert_eq!(
            Position::of_offset(text, 999),
            Position { line: 3, column: 1 }
        );
    }

    #[test]
    fn shown_values_are_escaped_and_cut() {
        assert_eq!(shown("a\nb\0c"), "a\\nb\\0c");
        assert_eq!(shown("ç\"'"), "ç\"'");
        let long = "é".repeat(100);
        assert_eq!(shown(&long), format!("{}…", "é".repeat(SHOWN_CHARS)));
        assert_eq!(shown(&"é".repeat(SHOWN_CHARS)), "é".repeat(SHOWN_CHARS));
    }

    #[test]
    fn display_names_file_line_and_column() {
        let e = SpecError::at("Cachet.toml", "a\nbc", Some(3..4), "expected a string");
        assert_eq!(e.to_string(), "Cachet.toml:2:2: expected a string");
        let e = SpecError::at("Cachet.toml", "", None, "no targets");
        assert_eq!(e.to_string(), "Cachet.toml: no targets");
    }
}
