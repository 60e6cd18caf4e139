//! Docker-style image reference normalisation.
//!
//! `foo` becomes `docker.io/library/foo:latest`, `ghcr.io/o/r` becomes
//! `ghcr.io/o/r:latest`, and a digest-pinned `foo@sha256:…` stays pinned
//! without gaining a tag. This is the same normal form BuildKit and docker
//! use, so identical images get identical source ops.

use super::digest::is_sha256_digest;
use super::{Digest, LlbError, Result};
use std::fmt;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A fully qualified image reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses and normalises a reference the way `docker pull` does, adding
    /// `:latest` when neither a tag nor a digest is given.
    pub fn parse(reference: &str) -> Result<Self> {
        let bad = |reason| LlbError::InvalidReference {
            reference: reference.to_owned(),
            reason,
        };
        if reference.is_empty() {
            return Err(bad("empty reference"));
        }
        if reference.len() == 64 && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("a 64-character hex string is an image id, not a name"));
        }

        let (rest, digest) = match reference.split_once('@') {
            Some((rest, d)) => {
                if !is_sha256_digest(d) {
                    return Err(bad("digest must be sha256:<64 lowercase hex digits>"));
                }
                (rest, Some(Digest::parse(d)?))
            }
            None => (reference, None),
        };

        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|s| i > s) => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad("tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
            }
        }
        if name.is_empty() {
            return Err(bad("empty repository name"));
        }

        let (domain, path) = split_domain(name);
        if !valid_domain(&domain) {
            return Err(bad("invalid registry host"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("repository name must be lowercase"));
        }
        if !path.split('/').all(valid_path_component) {
            return Err(bad("repository path components must be lowercase alphanumerics separated by '.', '_', '__' or '-'"));
        }
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(bad("repository name longer than 255 characters"));
        }

        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_owned()),
        };
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The same reference pinned to `digest` (replacing any earlier digest,
    /// keeping the tag for readability), as BuildKit does after resolving an
    /// image config.
    pub fn with_digest(mut self, digest: Digest) -> Self {
        self.digest = Some(digest);
        self
    }

    /// Registry host, e.g. `docker.io`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Repository path, e.g. `library/rust`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The pinned digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = LlbError;
    fn from_str(s: &str) -> Result<Self> {
        ImageRef::parse(s)
    }
}

/// Splits `name` into registry host and repository path, applying docker's
/// defaults (`docker.io`, `library/` for single-component official images).
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_owned();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPO_PREFIX}{path}");
    }
    (domain, path)
}

fn valid_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = t.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        ImageRef::parse(s).expect(s).to_string()
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("foo"), "docker.io/library/foo:latest");
        assert_eq!(norm("foo:1.2"), "docker.io/library/foo:1.2");
        assert_eq!(norm("user/foo"), "docker.io/user/foo:latest");
        assert_eq!(norm("index.docker.io/foo"), "docker.io/library/foo:latest");
        assert_eq!(norm("ghcr.io/o/r:v1"), "ghcr.io/o/r:v1");
        assert_eq!(norm("localhost/x"), "localhost/x:latest");
        assert_eq!(norm("localhost:5000/x/y:t"), "localhost:5000/x/y:t");
        assert_eq!(
            norm(&format!("foo@{D}")),
            format!("docker.io/library/foo@{D}")
        );
        assert_eq!(
            norm(&format!("foo:1@{D}")),
            format!("docker.io/library/foo:1@{D}")
        );
        assert_eq!(
            norm("cachet-sdk:rustup"),
            "docker.io/library/cachet-sdk:rustup"
        );
        assert_eq!(
            norm("reg-1.example:5000/team/app_x"),
            "reg-1.example:5000/team/app_x:latest"
        );
        assert_eq!(
            norm("a__b-c---d/e.f_g"),
            "docker.io/a__b-c---d/e.f_g:latest"
        );
    }

    #[test]
    fn with_digest_keeps_the_tag() {
        let d = Digest::parse(D).expect("digest");
        let r = ImageRef::parse("foo:1").expect("ref").with_digest(d);
        assert_eq!(r.to_string(), format!("docker.io/library/foo:1@{D}"));
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "Foo",
            "foo:",
            "foo@sha256:abc",
            "foo@md5:0123",
            "foo:-x",
            "-foo",
            "foo_",
            "foo/",
            "/foo",
            "foo..bar",
            "foo___bar",
            "host:port/x",
            &"a".repeat(64).replace('a', "0"),
            &format!("x/{}", "a".repeat(300)),
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
