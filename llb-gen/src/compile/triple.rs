//! Target platform → Rust target triple.
//!
//! Cargo steps build with `--target <triple of the target platform>`, whether they run on the
//! build platform (cross-compiling, see `cross.rs`) or on the target platform itself. The
//! triple names the target cache mount, so objects of two architectures never share a
//! directory.

use crate::llb::Platform;

/// Every triple [`rust_triple`] can give (the names `[cross.<triple>]` tables may use).
pub const KNOWN_TRIPLES: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "armv7-unknown-linux-gnueabihf",
    "arm-unknown-linux-gnueabihf",
    "i686-unknown-linux-gnu",
    "powerpc64le-unknown-linux-gnu",
    "s390x-unknown-linux-gnu",
    "riscv64gc-unknown-linux-gnu",
];

pub fn rust_triple(platform: &Platform) -> Result<&'static str, String> {
    if platform.os != "linux" {
        return Err(format!(
            "platform {platform}: Cachet builds Linux images only"
        ));
    }
    let triple = match (platform.architecture.as_str(), platform.variant.as_deref()) {
        ("amd64", _) => "x86_64-unknown-linux-gnu",
        ("arm64", _) => "aarch64-unknown-linux-gnu",
        ("arm", Some("v7") | None) => "armv7-unknown-linux-gnueabihf",
        ("arm", Some("v6")) => "arm-unknown-linux-gnueabihf",
        ("386", _) => "i686-unknown-linux-gnu",
        ("ppc64le", _) => "powerpc64le-unknown-linux-gnu",
        ("s390x", _) => "s390x-unknown-linux-gnu",
        ("riscv64", _) => "riscv64gc-unknown-linux-gnu",
        _ => {
            return Err(format!(
                "platform {platform}: no Rust target triple is known for it"
            ))
        }
    };
    Ok(triple)
}

/// Codegen flags a platform implies: the x86-64 micro-architecture levels of `linux/amd64/v2`,
/// `v3` and `v4` become `-C target-cpu=x86-64-vN`, so an image for a level really uses it (and
/// its objects never share a target cache with another level's).
pub fn platform_rustflags(platform: &Platform) -> Vec<String> {
    match (platform.architecture.as_str(), platform.variant.as_deref()) {
        ("amd64", Some(level @ ("v2" | "v3" | "v4"))) => {
            vec!["-C".to_string(), format!("target-cpu=x86-64-{level}")]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amd64_levels_become_target_cpu_flags() {
        let f = |s: &str| platform_rustflags(&Platform::parse(s).unwrap());
        assert_eq!(f("linux/amd64/v2"), ["-C", "target-cpu=x86-64-v2"]);
        assert_eq!(f("linux/amd64/v3"), ["-C", "target-cpu=x86-64-v3"]);
        assert!(f("linux/amd64").is_empty());
        assert!(f("linux/arm64").is_empty());
    }

    #[test]
    fn common_platforms_map_to_their_triples() {
        let t = |s: &str| rust_triple(&Platform::parse(s).unwrap());
        assert_eq!(t("linux/amd64").unwrap(), "x86_64-unknown-linux-gnu");
        assert_eq!(t("linux/arm64").unwrap(), "aarch64-unknown-linux-gnu");
        assert_eq!(t("linux/arm/v7").unwrap(), "armv7-unknown-linux-gnueabihf");
        assert!(t("windows/amd64").is_err());
        assert!(t("linux/mips").is_err());
    }
}
