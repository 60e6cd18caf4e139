//! Gathers the seed inputs at build time, so the harness (and its tests) run from the binary
//! alone:
//!
//! * every example project (`examples/*`): its `Cachet.toml` and the metadata files the
//!   frontend reads (`Cargo.toml` at any depth, `Cargo.lock`, `.cargo/config(.toml)`,
//!   `rust-toolchain(.toml)`);
//! * the string literals of the repository's Rust tests and sources that hold a spec (`[sdk]`)
//!   or a manifest or lockfile (`[package]`, `[workspace]`, `[[package]]`), un-escaped and with
//!   `format!` placeholders filled;
//! * the files under `fuzz/seeds/<target>/` (hand-written seeds and saved reproducers).
//!
//! Everything lands in `$OUT_DIR/seeds.rs` as static data.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let mut out = String::new();

    // Examples.
    let examples = root.join("examples");
    println!("cargo:rerun-if-changed={}", examples.display());
    out.push_str("pub type Files = &'static [(&'static str, &'static [u8])];\n");
    out.push_str("pub static EXAMPLES: &[(&str, Files)] = &[\n");
    for dir in sorted_dir(&examples) {
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files = Vec::new();
        collect_metadata(&dir, &dir, &mut files);
        files.sort();
        let _ = writeln!(out, "    ({name:?}, &[");
        for (rel, path) in files {
            let _ = writeln!(
                out,
                "        ({rel:?}, include_bytes!({:?})),",
                path.display()
            );
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");

    // String literals of the tests and sources.
    let mut specs = Vec::new();
    let mut manifests = Vec::new();
    for dir in [
        "llb-gen/src",
        "llb-gen/tests",
        "tests/src",
        "tests/tests",
        "frontend/src",
    ] {
        let dir = root.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut rs = Vec::new();
        collect_rust(&dir, &mut rs);
        rs.sort();
        for file in rs {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let origin = file.strip_prefix(&root).unwrap().display().to_string();
            for literal in string_literals(&text) {
                let literal = fill_placeholders(&literal);
                if literal.contains("[sdk]") {
                    specs.push((origin.clone(), literal));
                } else if ["[package]", "[workspace]", "[[package]]", "[dependencies]"]
                    .iter()
                    .any(|m| literal.contains(m))
                {
                    manifests.push((origin.clone(), literal));
                }
            }
        }
    }
    specs.dedup_by(|a, b| a.1 == b.1);
    manifests.dedup_by(|a, b| a.1 == b.1);
    let _ = writeln!(out, "pub static SPEC_TEXTS: &[(&str, &str)] = &{specs:?};");
    let _ = writeln!(
        out,
        "pub static MANIFEST_TEXTS: &[(&str, &str)] = &{manifests:?};"
    );

    // Seeds kept in the repository.
    let seeds = manifest.join("seeds");
    println!("cargo:rerun-if-changed={}", seeds.display());
    out.push_str("pub static REPO_SEEDS: &[(&str, &str, &[u8])] = &[\n");
    for dir in sorted_dir(&seeds) {
        if !dir.is_dir() {
            continue;
        }
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in sorted_dir(&dir) {
            if file.is_file() {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                let _ = writeln!(
                    out,
                    "    ({target:?}, {name:?}, include_bytes!({:?})),",
                    file.display()
                );
            }
        }
    }
    out.push_str("];\n");

    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("seeds.rs");
    std::fs::write(dest, out).unwrap();
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

/// The metadata files the frontend reads, relative to `root`, skipping build output.
fn collect_metadata(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for path in sorted_dir(dir) {
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && name != ".git" {
                collect_metadata(root, &path, out);
            }
        } else if matches!(
            name.as_str(),
            "Cargo.toml" | "Cachet.toml" | "rust-toolchain" | "rust-toolchain.toml"
        ) || rel == "Cargo.lock"
            || rel == ".cargo/config"
            || rel == ".cargo/config.toml"
        {
            out.push((rel, path));
        }
    }
}

fn collect_rust(dir: &Path, out: &mut Vec<PathBuf>) {
    for path in sorted_dir(dir) {
        if path.is_dir() {
            collect_rust(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The contents of the string literals in Rust source `text` (normal, raw and byte strings),
/// with escapes resolved. Comments and char literals are skipped; it is a seed harvester, so a
/// construct it misreads costs a seed, nothing more.
fn string_literals(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let prev_ident = i > 0 && ident(chars[i - 1]);
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1f}') or a lifetime ('a).
            if chars.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if !prev_ident && (c == 'r' || (c == 'b' && chars.get(i + 1) == Some(&'r'))) && {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            chars.get(j) == Some(&'"')
        } {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while chars[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            let start = j;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    break;
                }
                j += 1;
            }
            out.push(chars[start..j.min(chars.len())].iter().collect());
            i = j + 1 + hashes;
        } else if c == '"' {
            let mut s = String::new();
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                    match chars.get(j) {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('r') => s.push('\r'),
                        Some('0') => s.push('\0'),
                        Some('\n') => {
                            // A line continuation: the newline and leading whitespace go.
                            while chars.get(j + 1).is_some_and(|c| c.is_whitespace()) {
                                j += 1;
                            }
                        }
                        Some('x') => {
                            let hex: String =
                                chars[j + 1..(j + 3).min(chars.len())].iter().collect();
                            if let Ok(v) = u8::from_str_radix(&hex, 16) {
                                s.push(v as char);
                            }
                            j += 2;
                        }
                        Some('u') => {
                            let end = chars[j..].iter().position(|&c| c == '}').map(|p| j + p);
                            if let Some(end) = end {
                                let hex: String = chars[j + 2..end].iter().collect();
                                if let Some(c) =
                                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                                {
                                    s.push(c);
                                }
                                j = end;
                            }
                        }
                        Some(&other) => s.push(other),
                        None => {}
                    }
                } else {
                    s.push(chars[j]);
                }
                j += 1;
            }
            out.push(s);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// A `format!` string made literal: `{{`/`}}` become braces and `{name}`, `{}`, `{x:?}`
/// placeholders a plausible word (only when the text has `{{`, the mark of a format string,
/// or a placeholder not preceded by `$`, which would be a spec's `${ARG}`).
fn fill_placeholders(s: &str) -> String {
    let is_format = s.contains("{{") || s.contains("}}");
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_format && c == '{' && chars.get(i + 1) == Some(&'{') {
            out.push('{');
            i += 2;
        } else if is_format && c == '}' && chars.get(i + 1) == Some(&'}') {
            out.push('}');
            i += 2;
        } else if c == '{' && (i == 0 || chars[i - 1] != '$') {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '}')
                .map(|p| i + 1 + p);
            let placeholder = end.filter(|&e| {
                let body: String = chars[i + 1..e].iter().collect();
                (is_format && body.is_empty())
                    || (!body.is_empty()
                        && body
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '?')
                        && body.starts_with(|c: char| c.is_alphabetic() || c == '_'))
            });
            match placeholder {
                Some(e) => {
                    out.push_str("app");
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}
