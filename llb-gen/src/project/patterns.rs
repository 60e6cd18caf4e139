//! Matching paths against many patterns at once.
//!
//! A workspace that lists its members one by one yields one include pattern per member, and
//! every file listed from the context is matched against all of them. Compiling each glob again
//! for each file made planning quadratic (a 1,000-member list took a minute before the first
//! solve), so a [`PatternSet`] is built once per set of patterns: patterns without glob syntax
//! are looked up in a hash set, the others are compiled together into one `globset::GlobSet`.
//! Matching a path then costs one hash lookup plus one `GlobSet` match, whatever the number of
//! literal patterns.

use std::collections::HashSet;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Patterns compiled for repeated matching. `*` and `?` stay within one path component, `**`
/// spans any (BuildKit's include semantics and cargo's member globs alike).
#[derive(Debug, Clone)]
pub struct PatternSet {
    literals: HashSet<String>,
    globs: GlobSet,
}

impl Default for PatternSet {
    fn default() -> Self {
        PatternSet {
            literals: HashSet::new(),
            globs: GlobSet::empty(),
        }
    }
}

/// Whether `pattern` uses glob syntax (anything globset reads specially); a pattern without it
/// matches exactly the path it spells.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

fn compile(pattern: &str) -> Result<globset::Glob, globset::Error> {
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
        let mut literals = HashSet::new();
        let mut globs = GlobSetBuilder::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            match is_glob(pattern).then(|| compile(pattern)) {
                Some(Ok(glob)) => {
                    globs.add(glob);
                }
                Some(Err(_)) | None => {
                    literals.insert(pattern.to_string());
                }
            }
        }
        PatternSet {
            literals,
            // Each glob compiled on its own already; a set of valid globs builds.
            globs: globs.build().unwrap_or_else(|_| GlobSet::empty()),
        }
    }

    /// Patterns that must all be valid globs (cargo's `members`, `default-members`): `None`
    /// when one is not, as cargo refuses such a workspace.
    pub fn strict<I, S>(patterns: I) -> Option<PatternSet>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut literals = HashSet::new();
        let mut globs = GlobSetBuilder::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            if is_glob(pattern) {
                globs.add(compile(pattern).ok()?);
            } else {
                literals.insert(pattern.to_string());
            }
        }
        Some(PatternSet {
            literals,
            globs: globs.build().ok()?,
        })
    }

    pub fn is_match(&self, path: &str) -> bool {
        self.literals.contains(path) || (!self.globs.is_empty() && self.globs.is_match(path))
    }

    pub fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.globs.is_empty()
    }
}
