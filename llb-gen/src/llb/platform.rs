//! Target platforms (`os/arch[/variant]`).

use super::{LlbError, Result};
use crate::proto::pb;
use std::fmt;
use std::str::FromStr;

/// An OCI platform such as `linux/amd64` or `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture in GOARCH spelling, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// Optional variant, e.g. `v7` for `arm`.
    pub variant: Option<String>,
}

impl Platform {
    /// A platform from its parts.
    pub fn new(os: impl Into<String>, architecture: impl Into<String>) -> Self {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// The same platform with a variant.
    pub fn with_variant(mut self, variant: impl Into<String>) -> Self {
        let v = variant.into();
        self.variant = if v.is_empty() { None } else { Some(v) };
        self
    }

    /// `linux/amd64`.
    pub fn linux_amd64() -> Self {
        Platform::new("linux", "amd64")
    }

    /// `linux/arm64`.
    pub fn linux_arm64() -> Self {
        Platform::new("linux", "arm64")
    }

    /// Parses `os/arch[/variant]` (lowercase letters, digits, `_`, `.`, `-`).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || LlbError::InvalidPlatform(s.to_owned());
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
                })
        };
        if !parts.iter().all(|p| ok(p)) {
            return Err(bad());
        }
        let mut p = Platform::new(parts[0], parts[1]);
        if let Some(v) = parts.get(2) {
            p = p.with_variant(*v);
        }
        Ok(p)
    }

    /// The wire form.
    pub fn to_pb(&self) -> pb::Platform {
        pb::Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone().unwrap_or_default(),
            os_version: String::new(),
            os_features: Vec::new(),
        }
    }

    /// From the wire form (ignores the Windows-only fields).
    pub fn from_pb(p: &pb::Platform) -> Self {
        Platform::new(p.os.clone(), p.architecture.clone()).with_variant(p.variant.clone())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = LlbError;
    fn from_str(s: &str) -> Result<Self> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let p = Platform::parse("linux/arm/v7").expect("valid");
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert_eq!(
            Platform::parse("linux/amd64").expect("valid"),
            Platform::linux_amd64()
        );
        for bad in [
            "",
            "linux",
            "linux/",
            "a/b/c/d",
            "Linux/amd64",
            "linux/amd 64",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wire_round_trip() {
        let p = Platform::linux_arm64().with_variant("v8");
        assert_eq!(Platform::from_pb(&p.to_pb()), p);
    }
}
