//! The corpus file format: one input made of named members (a spec text, frontend options,
//! context files…), readable and editable by hand.
//!
//! ```text
//! #cachet-fuzz
//! -- @spec 42
//! <42 bytes>
//! -- Cargo.toml 17
//! <17 bytes>
//! ```
//!
//! Each member is a header line `-- <name> <length>`, exactly `length` bytes and a newline, so
//! any bytes round-trip. A file that does not start with the magic line is one member, the
//! target's primary one (a plain `Cachet.toml` is a seed for the spec target as it is), and a
//! bundle holding only its primary member is written back the same way.

use std::collections::BTreeMap;

pub const MAGIC: &[u8] = b"#cachet-fuzz\n";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    pub members: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    pub fn single(name: &str, data: impl Into<Vec<u8>>) -> Bundle {
        let mut b = Bundle::default();
        b.set(name, data);
        b
    }

    /// Reads a corpus file; `primary` names the member of a file without the magic line.
    /// A malformed tail is dropped: a corpus file never fails to load.
    pub fn parse(bytes: &[u8], primary: &str) -> Bundle {
        let Some(mut rest) = bytes.strip_prefix(MAGIC) else {
            return Bundle::single(primary, bytes);
        };
        let mut bundle = Bundle::default();
        while let Some(header_end) = rest.iter().position(|&b| b == b'\n') {
            let header = &rest[..header_end];
            let Some(header) = header.strip_prefix(b"-- ") else {
                break;
            };
            let Some(space) = header.iter().rposition(|&b| b == b' ') else {
                break;
            };
            let name = String::from_utf8_lossy(&header[..space]).into_owned();
            let Some(len) = std::str::from_utf8(&header[space + 1..])
                .ok()
                .and_then(|l| l.parse::<usize>().ok())
            else {
                break;
            };
            let body = &rest[header_end + 1..];
            if body.len() < len {
                break;
            }
            bundle.members.insert(name, body[..len].to_vec());
            rest = body[len..].strip_prefix(b"\n").unwrap_or(&body[len..]);
        }
        bundle
    }

    pub fn to_bytes(&self, primary: &str) -> Vec<u8> {
        if self.members.len() == 1 {
            if let Some(data) = self.members.get(primary) {
                if !data.starts_with(MAGIC) {
                    return data.clone();
                }
            }
        }
        let mut out = MAGIC.to_vec();
        for (name, data) in &self.members {
            out.extend_from_slice(format!("-- {name} {}\n", data.len()).as_bytes());
            out.extend_from_slice(data);
            out.push(b'\n');
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.members.get(name).map(Vec::as_slice)
    }

    /// The member as text (lossy: targets that take `&str` see every input).
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    pub fn set(&mut self, name: &str, data: impl Into<Vec<u8>>) {
        self.members.insert(name.to_string(), data.into());
    }

    /// The member's lines (without their `\n`); a final newline ends the last line.
    pub fn lines(&self, name: &str) -> Vec<&[u8]> {
        match self.get(name) {
            Some(data) if !data.is_empty() => {
                let data = data.strip_suffix(b"\n").unwrap_or(data);
                data.split(|&b| b == b'\n').collect()
            }
            _ => Vec::new(),
        }
    }

    /// Members whose name is a context path (meta members start with `@`).
    pub fn files(&self) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.members.iter().filter(|(n, _)| !n.starts_with('@'))
    }

    pub fn total_len(&self) -> usize {
        self.members.iter().map(|(n, d)| n.len() + d.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_round_trip() {
        let mut b = Bundle::default();
        b.set("@spec", b"-- @x 3\nabc\n\n".to_vec());
        b.set("a b/Cargo.toml", vec![0, 255, b'\n']);
        b.set("@empty", Vec::new());
        let bytes = b.to_bytes("@spec");
        assert_eq!(Bundle::parse(&bytes, "@spec"), b);
    }

    #[test]
    fn a_plain_file_is_the_primary_member() {
        let b = Bundle::parse(b"[sdk]\n", "@spec");
        assert_eq!(b.get("@spec"), Some(&b"[sdk]\n"[..]));
        assert_eq!(b.to_bytes("@spec"), b"[sdk]\n");
        let lines = Bundle::single("@opts", "a=1\nb=2\n");
        assert_eq!(lines.lines("@opts"), vec![&b"a=1"[..], b"b=2"]);
    }

    #[test]
    fn a_truncated_file_keeps_what_is_whole() {
        let b = Bundle::parse(b"#cachet-fuzz\n-- a 1\nx\n-- b 10\nshort", "a");
        assert_eq!(b.members.len(), 1);
        assert_eq!(b.get("a"), Some(&b"x"[..]));
    }
}
