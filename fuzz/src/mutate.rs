//! Text mutations at three grains — bytes, tokens, lines — plus splicing from other inputs.
//!
//! Byte mutations find what a parser does with broken encodings and stray characters; token
//! mutations (swap a key, a quoted string or a number for another seen in the seeds or in the
//! target's vocabulary) keep TOML and JSON mostly well-formed, so inputs get past the parser
//! into validation and compilation; line mutations and splices move whole settings and
//! sections between specs and manifests.

use std::collections::BTreeSet;
use std::ops::Range;

/// Tokens and lines to insert, gathered from the seeds and the target's vocabulary.
#[derive(Debug, Default, Clone)]
pub struct Dictionary {
    pub tokens: Vec<Vec<u8>>,
    pub lines: Vec<Vec<u8>>,
}

impl Dictionary {
    /// Every distinct token and line of `texts`, and the `words` given.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a [u8]>, words: &[&str]) -> Dictionary {
        let mut tokens: BTreeSet<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let mut lines = BTreeSet::new();
        for text in texts {
            for r in tokenize(text) {
                let t = &text[r];
                if !t.iter().all(u8::is_ascii_whitespace) && t.len() <= 200 {
                    tokens.insert(t.to_vec());
                }
            }
            for line in text.split(|&b| b == b'\n') {
                if !line.is_empty() && line.len() <= 300 {
                    lines.insert(line.to_vec());
                }
            }
        }
        Dictionary {
            tokens: tokens.into_iter().collect(),
            lines: lines.into_iter().collect(),
        }
    }
}

/// Bytes that mean something to TOML, JSON, paths, globs, interpolation or UTF-8.
const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"'",
    b"[",
    b"]",
    b"{",
    b"}",
    b"=",
    b",",
    b".",
    b"\n",
    b"\\",
    b"#",
    b"$",
    b"${",
    b"$${",
    b"+",
    b"-",
    b"/",
    b"*",
    b"**",
    b"?",
    b":",
    b"@",
    b" ",
    b"\t",
    b"\r",
    b"\0",
    b"\x7f",
    b"\xff",
    b"\xc3",
    b"\xc3\xa9",
    b"\xe2\x86\x92",
    b"\xef\xbb\xbf",
    b"\xf0\x9f\x92\xa9",
    b"..",
    b"../",
    b"./",
    b"//",
    b"\"\"\"",
    b"'''",
    b"[[",
    b"]]",
    b"=\"\"",
    b"\\u0000",
    b"\\U0010FFFF",
    b"\\x",
    b"inf",
    b"nan",
    b"-0",
    b"1e400",
    b"9223372036854775808",
    b"18446744073709551616",
    b"2024-01-01T00:00:00Z",
    b"true",
    b"false",
];

/// Start and end of each token of `text`: a quoted string (to the end of its line), a run of
/// word characters, a run of whitespace, or one other byte.
pub fn tokenize(text: &[u8]) -> Vec<Range<usize>> {
    let word = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b':');
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start = i;
        let b = text[i];
        if b == b'"' || b == b'\'' {
            i += 1;
            while i < text.len() && text[i] != b && text[i] != b'\n' {
                if text[i] == b'\\' && b == b'"' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(text.len());
        } else if word(b) || b >= 0x80 {
            while i < text.len() && (word(text[i]) || text[i] >= 0x80) {
                i += 1;
            }
        } else if b == b' ' || b == b'\t' {
            while i < text.len() && (text[i] == b' ' || text[i] == b'\t') {
                i += 1;
            }
        } else {
            i += 1;
        }
        out.push(start..i.min(text.len()));
    }
    out
}

fn line_ranges(text: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

/// The random source and the material mutations draw on.
pub struct Mutator<'a> {
    pub rng: fastrand::Rng,
    pub dict: &'a Dictionary,
    /// Other inputs' texts to splice from (set per mutation by the target).
    pub donors: Vec<Vec<u8>>,
    pub max_len: usize,
}

impl Mutator<'_> {
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    pub fn pick<'t, T>(&mut self, items: &'t [T]) -> Option<&'t T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.rng.usize(..items.len())])
        }
    }

    fn token(&mut self) -> Vec<u8> {
        if self.chance(0.15) || self.dict.tokens.is_empty() {
            return self
                .pick(INTERESTING)
                .map(|b| b.to_vec())
                .unwrap_or_default();
        }
        {
            let dict = self.dict;
            self.pick(&dict.tokens).cloned().unwrap_or_default()
        }
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| match self.rng.u8(..4) {
                0 => self.rng.u8(..),
                1 => self.rng.u8(0x20..0x7f),
                _ => *self.pick(b"abcxyz019_-.\"'[]{}=,\n $/*").unwrap_or(&b'a'),
            })
            .collect()
    }

    /// A random span of `len` bytes: short usually, sometimes long.
    fn span(&mut self, len: usize) -> Range<usize> {
        if len == 0 {
            return 0..0;
        }
        let start = self.rng.usize(..len);
        let max = if self.chance(0.8) { 8 } else { len };
        let n = self.rng.usize(1..=max.min(len - start));
        start..start + n
    }

    /// One random mutation of `data`, in place.
    pub fn mutate(&mut self, data: &mut Vec<u8>) {
        let len = data.len();
        match self.rng.u8(..22) {
            // Bytes.
            0 if len > 0 => {
                let i = self.rng.usize(..len);
                data[i] ^= 1 << self.rng.u8(..8);
            }
            1 if len > 0 => {
                let i = self.rng.usize(..len);
                data[i] = self.rng.u8(..);
            }
            2 => {
                let at = self.rng.usize(..=len);
                let n = self.rng.usize(1..=8);
                let bytes = self.random_bytes(n);
                data.splice(at..at, bytes);
            }
            3 => {
                let at = self.rng.usize(..=len);
                let b = self
                    .pick(INTERESTING)
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                data.splice(at..at, b);
            }
            4 if len > 0 => {
                let r = self.span(len);
                data.drain(r);
            }
            5 if len > 0 => {
                let r = self.span(len);
                let copy = data[r.clone()].to_vec();
                let at = self.rng.usize(..=len);
                data.splice(at..at, copy);
            }
            6 if len > 0 => {
                // Repeat a chunk many times: deep nesting, long lines, many entries.
                let r = self.span(len.min(64));
                let copy = data[r.clone()].to_vec();
                let times = self.rng.usize(2..=200);
                let at = r.end;
                let chunk: Vec<u8> = copy
                    .iter()
                    .copied()
                    .cycle()
                    .take(copy.len() * times)
                    .collect();
                data.splice(at..at, chunk);
            }
            7 if len > 0 => {
                let cut = self.rng.usize(..len);
                data.truncate(cut);
            }
            // Tokens.
            8..=10 => {
                let tokens = tokenize(data);
                let new = self.token();
                match self.pick(&tokens).cloned() {
                    Some(r) => {
                        data.splice(r, new);
                    }
                    None => data.extend(new),
                }
            }
            11 | 12 => {
                let tokens = tokenize(data);
                let at = self.pick(&tokens).map(|r| r.start).unwrap_or(len);
                let new = self.token();
                data.splice(at..at, new);
            }
            13 => {
                let tokens = tokenize(data);
                if let Some(r) = self.pick(&tokens).cloned() {
                    data.drain(r);
                }
            }
            14 => {
                let tokens = tokenize(data);
                if tokens.len() >= 2 {
                    let mut a = self.rng.usize(..tokens.len());
                    let mut b = self.rng.usize(..tokens.len());
                    if a > b {
                        std::mem::swap(&mut a, &mut b);
                    }
                    if a != b {
                        let (ra, rb) = (tokens[a].clone(), tokens[b].clone());
                        let ta = data[ra.clone()].to_vec();
                        let tb = data[rb.clone()].to_vec();
                        data.splice(rb, ta);
                        data.splice(ra, tb);
                    }
                }
            }
            15 => {
                // A number for an edge-case number.
                let tokens = tokenize(data);
                let numbers: Vec<Range<usize>> = tokens
                    .into_iter()
                    .filter(|r| data[r.clone()].iter().all(u8::is_ascii_digit))
                    .collect();
                if let Some(r) = self.pick(&numbers).cloned() {
                    let n = *self
                        .pick(&[
                            "0",
                            "1",
                            "-1",
                            "2",
                            "3",
                            "4",
                            "255",
                            "65536",
                            "4294967296",
                            "99999999999999999999",
                        ])
                        .unwrap_or(&"0");
                    data.splice(r, n.bytes());
                }
            }
            // Lines.
            16 => {
                let lines = line_ranges(data);
                if let Some(r) = self.pick(&lines).cloned() {
                    data.drain(r);
                }
            }
            17 => {
                let lines = line_ranges(data);
                if let Some(r) = self.pick(&lines).cloned() {
                    let copy = data[r.clone()].to_vec();
                    let at = self.pick(&lines).map(|l| l.start).unwrap_or(r.start);
                    data.splice(at..at, copy);
                }
            }
            18 => {
                let lines = line_ranges(data);
                let at = self.pick(&lines).map(|l| l.start).unwrap_or(len);
                let dict = self.dict;
                let mut line = self.pick(&dict.lines).cloned().unwrap_or_default();
                line.push(b'\n');
                data.splice(at..at, line);
            }
            19 | 20 => {
                // Splice: a run of lines from another input, inserted or replacing a run.
                let donor = match self.donors.len() {
                    0 => return self.mutate(data),
                    n => self.donors[self.rng.usize(..n)].clone(),
                };
                let from = line_ranges(&donor);
                if from.is_empty() {
                    return;
                }
                let a = self.rng.usize(..from.len());
                let b = self.rng.usize(a..from.len().min(a + 12));
                let chunk = donor[from[a].start..from[b].end].to_vec();
                let lines = line_ranges(data);
                if lines.is_empty() || self.chance(0.5) {
                    let at = self.pick(&lines).map(|l| l.start).unwrap_or(len);
                    data.splice(at..at, chunk);
                } else {
                    let x = self.rng.usize(..lines.len());
                    let y = self.rng.usize(x..lines.len().min(x + 6));
                    data.splice(lines[x].start..lines[y].end, chunk);
                }
            }
            21 => {
                let lines = line_ranges(data);
                if lines.len() >= 2 {
                    let a = self.rng.usize(..lines.len() - 1);
                    let (ra, rb) = (lines[a].clone(), lines[a + 1].clone());
                    let mut swapped = data[rb.clone()].to_vec();
                    if !swapped.ends_with(b"\n") {
                        swapped.push(b'\n');
                    }
                    swapped.extend_from_slice(&data[ra.clone()]);
                    data.splice(ra.start..rb.end, swapped);
                }
            }
            _ => {
                let at = self.rng.usize(..=len);
                let t = self.token();
                data.splice(at..at, t);
            }
        }
        data.truncate(self.max_len);
    }

    /// `1 + k` mutations, `k` geometric: mostly one, sometimes a handful stacked.
    pub fn mutate_some(&mut self, data: &mut Vec<u8>) {
        self.mutate(data);
        while self.chance(0.4) {
            self.mutate(data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_text() {
        let text = b"[target.build]\ncargo = [\"build\", \"--bin\"] # x\n";
        let tokens = tokenize(text);
        let joined: Vec<u8> = tokens
            .iter()
            .flat_map(|r| text[r.clone()].to_vec())
            .collect();
        assert_eq!(joined, text);
        assert!(tokens.iter().any(|r| &text[r.clone()] == b"\"--bin\""));
        assert!(tokens.iter().any(|r| &text[r.clone()] == b"target.build"));
    }

    #[test]
    fn mutations_stay_within_bounds() {
        let dict = Dictionary::build([&b"[sdk]\nimage = \"x\"\n"[..]], &["cargo"]);
        let mut m = Mutator {
            rng: fastrand::Rng::with_seed(7),
            dict: &dict,
            donors: vec![b"a\nb\nc\n".to_vec()],
            max_len: 300,
        };
        let mut data = b"[sdk]\nimage = \"x\"\n".to_vec();
        for _ in 0..20_000 {
            m.mutate_some(&mut data);
            assert!(data.len() <= 300);
            if data.is_empty() {
                data = b"x = 1\n".to_vec();
            }
        }
    }
}
