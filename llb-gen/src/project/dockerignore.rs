//! `.dockerignore`: what the user never wants in a build, honoured for every local Cachet reads.
//!
//! A Dockerfile build never carries a file its `.dockerignore` lists (a `.env`, a local
//! credentials file), so neither may a Cachet build: not into a snapshot, a layer, or a
//! `--cache-to` export. The patterns go to BuildKit as each local's exclude patterns, which the
//! client's file sync applies before anything is sent, with the same matcher (moby's
//! patternmatcher: `*`, `?`, `**`, `[…]`, and `!` exceptions, later lines winning) that the
//! dockerfile frontend uses. This file only turns the text into that list the way Docker reads
//! it: one pattern a line, `#` comments and blank lines dropped, surrounding whitespace trimmed,
//! a leading `/` dropped (patterns are relative to the context root), `.` and `..` segments
//! resolved.
//!
//! As the dockerfile frontend does for `<Dockerfile>.dockerignore`, a `<spec>.dockerignore`
//! beside the spec replaces the context's `.dockerignore`; the frontend and the CLI put the one
//! that applies into [`super::ProjectFiles`] under [`DOCKERIGNORE`].

/// The context's ignore file, as read with the metadata; in [`super::ProjectFiles`] it is the
/// one that applies (the spec's own, when it has one).
pub const DOCKERIGNORE: &str = ".dockerignore";

/// The exclude patterns of a `.dockerignore` text.
pub fn patterns(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(pattern)?;
            Some(if negated {
                format!("!{cleaned}")
            } else {
                cleaned
            })
        })
        .collect()
}

/// `pattern` relative to the context root, with `.`/`..` resolved and no trailing `/`; `None`
/// for a pattern that names the root itself (Docker ignores those too).
fn clean(pattern: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_patterns_as_docker_does() {
        let text =
            "# secrets\n.env\n  /secrets/  \n\n**/*.pem\n!keep.pem\n! spaced\n./a/../b/c\n/\n";
        assert_eq!(
            patterns(text),
            [".env", "secrets", "**/*.pem", "!keep.pem", "!spaced", "b/c"]
        );
    }

    #[test]
    fn an_empty_file_ignores_nothing() {
        assert!(patterns("").is_empty());
        assert!(patterns("# only a comment\n\n").is_empty());
    }
}
