//! `[contexts]`: directory named contexts (`--build-context NAME=DIR`) and the path where cargo
//! sees each, relative to the project root — typically a path dependency outside the project,
//! `shared = "../shared-lib"` for `shared = { path = "../shared-lib" }`.
//!
//! The project is at `/cachet/src` in every step, so a context's path must leave it by exactly
//! one `..`: it is mounted at `/cachet/<rest>`. Deeper (`../../x` would be `/x`, over the
//! SDK's own files) or inside the project (over the snapshot Cachet plans) is refused, as are
//! Cachet's own directories under `/cachet` and two contexts on one path or one inside another.

use super::error::shown;

/// Directories under `/cachet` that Cachet's steps mount themselves.
const RESERVED: &[&str] = &[
    "src",
    "target",
    "out",
    "why",
    "why-out",
    "why-state",
    "step",
    "helper",
    "vendor",
    "deps",
    "deps-cache",
    "secrets",
];

/// A context name as BuildKit passes it (`context:NAME`): lowercase letters, digits and
/// `.`, `_`, `-`, `/` inside, like an image name (buildx lowercases nothing for us).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "context name `{}`: expected lowercase letters, digits, and `.`, `_`, `-` or `/` \
             between them, as in `--build-context shared=../shared-lib`",
            shown(name)
        ))
    }
}

/// The normalized path (`../shared-lib`) of a context written as `path`, or what is wrong.
pub fn normalize_path(path: &str) -> Result<String, String> {
    let hint = "expected a path relative to the project root one level up, where the path \
                dependency points, e.g. `../shared-lib`";
    if path.contains('\0') || path.starts_with('/') {
        return Err(format!("`{}`: {hint}", shown(path)));
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut ups = 0usize;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.is_empty() => ups += 1,
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if ups != 1 || parts.is_empty() {
        let why = match (ups, parts.is_empty()) {
            (0, true) => "is the project itself",
            (0, false) => {
                "is inside the project (list what cargo reads there under `[project] include`)"
            }
            (1, true) => "is the project's parent directory",
            _ => "leaves `/cachet` (more than one `..`)",
        };
        return Err(format!("`{}` {why}: {hint}", shown(path)));
    }
    if RESERVED.contains(&parts[0]) || parts[0].starts_with('.') {
        return Err(format!(
            "`{}`: `/cachet/{}` is where Cachet mounts its own files; {hint}",
            shown(path),
            parts[0]
        ));
    }
    Ok(format!("../{}", parts.join("/")))
}

/// Where a context's normalized path is mounted in every step that reads the project.
pub fn mount_dir(normalized: &str) -> String {
    format!("/cachet/{}", normalized.trim_start_matches("../"))
}

/// Whether two normalized paths are one, or one holds the other.
pub fn overlap(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
    inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_one_level_up_and_kept_off_cachets_own_dirs() {
        assert_eq!(normalize_path("../shared-lib").unwrap(), "../shared-lib");
        assert_eq!(normalize_path("./../a/./b/").unwrap(), "../a/b");
        assert_eq!(normalize_path("x/../../a").unwrap(), "../a");
        assert_eq!(mount_dir("../a/b"), "/cachet/a/b");
        for bad in [
            ".",
            "",
            "sub",
            "..",
            "../../x",
            "/abs",
            "../target",
            "../src/x",
            "../.x",
        ] {
            assert!(normalize_path(bad).is_err(), "{bad}");
        }
        assert!(normalize_path("sub")
            .unwrap_err()
            .contains("inside the project"));
    }

    #[test]
    fn names_follow_buildkit_context_names() {
        for ok in ["shared", "proto.v1", "org/lib", "a"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Shared", "-a", "a/", "a b", "a=b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_and_equal_paths_overlap() {
        assert!(overlap("../a", "../a"));
        assert!(overlap("../a", "../a/b"));
        assert!(overlap("../a/b", "../a"));
        assert!(!overlap("../a", "../ab"));
    }
}
