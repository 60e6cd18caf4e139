//! Matching paths against many patterns at once.
//!
//! A workspace that lists its members one by one yields one include pattern per member, and
//! every file listed from the context is matched against all of them. Compiling each glob again
//! for each file made planning quadratic (a 1,000-member list took a minute before the first
//! solve), so a [`PatternSet`] is built once per set of patterns: patterns without glob syntax
//! are looked up in a hash set, the others are compiled together into one `globset::GlobSet`.
//! Matching a path then costs one hash lookup plus one `GlobSet` match, whatever the number of
//! literal patterns. Should the globs be too many to compile into one set (its regex has a size
//! limit), each is matched on its own: slower, never wrong.

use std::collections::HashSet;

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

/// Patterns compiled for repeated matching. `*` and `?` stay within one path component, `**`
/// spans any (BuildKit's include semantics and cargo's member globs alike).
#[derive(Debug, Clone, Default)]
pub struct PatternSet {
    literals: HashSet<String>,
    globs: Globs,
}

#[derive(Debug, Clone)]
enum Globs {
    Set(GlobSet),
    Each(Vec<GlobMatcher>),
}

impl Default for Globs {
    fn default() -> Self {
        Globs::Set(GlobSet::empty())
    }
}

impl Globs {
    fn new(globs: Vec<Glob>) -> Globs {
        let mut set = GlobSetBuilder::new();
        for glob in &globs {
            set.add(glob.clone());
        }
        match set.build() {
            Ok(set) => Globs::Set(set),
            Err(_) => Globs::Each(globs.iter().map(Glob::compile_matcher).collect()),
        }
    }

    fn is_match(&self, path: &str) -> bool {
        match self {
            Globs::Set(set) => !set.is_empty() && set.is_match(path),
            Globs::Each(each) => each.iter().any(|g| g.is_match(path)),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Globs::Set(set) => set.is_empty(),
            Globs::Each(each) => each.is_empty(),
        }
    }
}

/// Whether `pattern` uses glob syntax (anything globset reads specially); a pattern without it
/// matches exactly the path it spells.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

fn compile(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

impl PatternSet {
    /// Include patterns as BuildKit is given them. A pattern that is not a valid glob matches
    /// only the path spelled exactly like it, as a file sync that cannot parse it would.
    pub fn new<I, S>(patterns: I) -> PatternSet
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        // Never `None` when not strict: an invalid glob becomes a literal.
        Self::build(patterns, false).unwrap_or_default()
    }

    /// Patterns that must all be valid globs (cargo's `members`, `default-members`): `None`
    /// when one is not, as cargo refuses such a workspace.
    pub fn strict<I, S>(patterns: I) -> Option<PatternSet>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::build(patterns, true)
    }

    /// Literal paths in a set, globs compiled once; an invalid glob is `None` when `strict`,
    /// otherwise a literal.
    fn build<I, S>(patterns: I, strict: bool) -> Option<PatternSet>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut literals = HashSet::new();
        let mut globs = Vec::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            match is_glob(pattern).then(|| compile(pattern)) {
                Some(Ok(glob)) => globs.push(glob),
                Some(Err(_)) if strict => return None,
                Some(Err(_)) | None => {
                    literals.insert(pattern.to_string());
                }
            }
        }
        Some(PatternSet {
            literals,
            globs: Globs::new(globs),
        })
    }

    pub fn is_match(&self, path: &str) -> bool {
        self.literals.contains(path) || self.globs.is_match(path)
    }

    pub fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.globs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_matched_one_by_one_agree_with_the_set() {
        let globs: Vec<Glob> = [
            "crates/*/Cargo.toml",
            "c/**/Cargo.toml",
            "d/{x,y}/C?rgo.toml",
        ]
        .iter()
        .map(|p| compile(p).unwrap())
        .collect();
        let set = Globs::new(globs.clone());
        assert!(matches!(set, Globs::Set(_)));
        let each = Globs::Each(globs.iter().map(Glob::compile_matcher).collect());
        for path in [
            "crates/a/Cargo.toml",
            "crates/a/b/Cargo.toml",
            "c/Cargo.toml",
            "c/q/r/Cargo.toml",
            "d/y/Cargo.toml",
            "d/z/Cargo.toml",
            "Cargo.toml",
        ] {
            assert_eq!(each.is_match(path), set.is_match(path), "{path}");
        }
        assert!(!Globs::Each(Vec::new()).is_match("a") && Globs::Each(Vec::new()).is_empty());
    }
}
