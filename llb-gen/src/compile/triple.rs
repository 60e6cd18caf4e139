//! Target platform → Rust target triple.
//!
//! Steps run natively on the target platform (BuildKit schedules them on a worker of that
//! platform, or under emulation), so the triple is the host triple of that platform. It names
//! the target cache mount, so objects of two architectures never share a directory.

use crate::llb::Platform;

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

#[cfg(test)]
mod tests {
    use super::*;

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
