//! Lexical handling of container paths (always `/`-separated, never touching
//! the host filesystem), following the rules of Go's `path.Clean` that
//! BuildKit's Go client applies.

/// Lexically cleans a slash-separated path: collapses repeated slashes,
/// removes `.` elements, resolves `..` against earlier elements (never above
/// the root of an absolute path) and drops a trailing slash. An empty result
/// becomes `.`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Resolves `p` against the directory `dir` (itself treated as absolute),
/// returning a clean absolute path.
pub fn resolve(dir: &str, p: &str) -> String {
    if p.starts_with('/') {
        clean(p)
    } else {
        clean(&format!("/{dir}/{p}"))
    }
}

/// Like [`resolve`], but keeps the caller's intent of a trailing `/` or
/// `/.` (meaning "into this directory"), which copy destinations rely on.
pub fn resolve_keep_slash(dir: &str, p: &str) -> String {
    let mut out = resolve(dir, p);
    if p.ends_with("/.") {
        if out != "/" {
            out.push('/');
        }
        out.push('.');
    } else if p.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go_semantics() {
        let cases = [
            ("", "."),
            ("/", "/"),
            ("//a//b/", "/a/b"),
            ("a/./b/..", "a"),
            ("/../a", "/a"),
            ("../a/..", ".."),
            ("a/../..", ".."),
            ("./", "."),
            ("/a/b/../../..", "/"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn resolve_joins_relative_paths() {
        assert_eq!(resolve("/src", "a/b"), "/src/a/b");
        assert_eq!(resolve("/src", "/abs"), "/abs");
        assert_eq!(resolve("", "x"), "/x");
        assert_eq!(resolve("/", "."), "/");
    }

    #[test]
    fn keep_slash_preserves_directory_intent() {
        assert_eq!(resolve_keep_slash("/", "out/"), "/out/");
        assert_eq!(resolve_keep_slash("/app", "."), "/app");
        assert_eq!(resolve_keep_slash("/app", "./"), "/app/");
        assert_eq!(resolve_keep_slash("/app", "sub/."), "/app/sub/.");
        assert_eq!(resolve_keep_slash("/", "/."), "/.");
    }
}
