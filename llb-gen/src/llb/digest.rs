//! Content digests of serialized ops.

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A `sha256:<hex>` content digest, as BuildKit uses to name ops.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    /// Digest of `bytes`: `sha256:` followed by the lowercase hex SHA-256.
    pub fn of(bytes: &[u8]) -> Self {
        let sum = Sha256::digest(bytes);
        Digest(format!("sha256:{}", hex::encode(sum)))
    }

    /// Parses and validates a `sha256:<64 lowercase hex>` string.
    pub fn parse(s: &str) -> Result<Self, crate::llb::LlbError> {
        if is_sha256_digest(s) {
            Ok(Digest(s.to_owned()))
        } else {
            Err(crate::llb::LlbError::InvalidDigest(s.to_owned()))
        }
    }

    /// The digest as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lowercase hex SHA-256 alone, without `sha256:`.
    pub fn hex(&self) -> &str {
        self.0.trim_start_matches("sha256:")
    }

    /// The digest as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// True for `sha256:` followed by exactly 64 lowercase hex digits.
pub(crate) fn is_sha256_digest(s: &str) -> bool {
    match s.strip_prefix("sha256:") {
        Some(hex) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_well_known_value() {
        assert_eq!(
            Digest::of(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Digest::of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "the hex alone, as cache keys and step tags use it"
        );
    }

    #[test]
    fn parse_rejects_malformed_digests() {
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(Digest::parse(&format!("sha512:{}", "a".repeat(64))).is_err());
        assert!(Digest::parse(&format!("sha256:{}", "a".repeat(64))).is_ok());
    }
}
