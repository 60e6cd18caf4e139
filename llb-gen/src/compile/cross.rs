//! Build platform vs target platform: where a build's SDK steps run, and what a cross build
//! adds to cargo's environment.
//!
//! By default every SDK step (sdk setup, fetch, cargo, dependency layers, why) runs on the
//! *build* platform, the worker's own (as the dockerfile frontend's `BUILDPLATFORM`), with the
//! SDK resolved for it, and cargo cross-compiles with `--target <triple of the target
//! platform>`: no emulation, and the fetch step is one vertex for every target platform.
//! `[cross] emulate = true` (or `emulate` in a `[cross.<triple>]` table) runs the steps on the
//! target platform instead, with the SDK resolved for it (under emulation when the worker's
//! platform differs). A build whose target triple is the build platform's is native: no cross
//! environment, exactly as before cross builds existed.
//!
//! The cross environment is Debian's cross toolchain naming (`gcc-aarch64-linux-gnu` and
//! friends) for the target triple, overridden name by name by `[cross.<triple>] env`; it
//! reaches cargo like the spec's `[cargo] env` and keys the target cache the same way.

use std::collections::BTreeMap;

use crate::llb::Platform;
use crate::spec::Spec;

use super::triple::rust_triple;
use super::CompileError;

/// Where a build's SDK steps run, for one target platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlatform {
    /// The platform the SDK is resolved for and every SDK step runs on.
    pub platform: Platform,
    /// Cargo cross-compiles: the steps run on the build platform for another triple.
    pub cross: bool,
    /// The spec opted in to emulation and the target triple is not the build platform's.
    pub emulated: bool,
}

/// Where the SDK steps of a build for `target` run when the worker is `build`.
pub fn step_platform(
    spec: &Spec,
    build: &Platform,
    target: &Platform,
) -> Result<StepPlatform, CompileError> {
    let target_triple = rust_triple(target).map_err(CompileError::Platform)?;
    // A build platform Cachet has no triple for cannot host a cross build; run on the target.
    let native = rust_triple(build)
        .map(|t| t == target_triple)
        .unwrap_or(true);
    if native {
        return Ok(StepPlatform {
            platform: target.clone(),
            cross: false,
            emulated: false,
        });
    }
    if spec.cross.emulates(target_triple) {
        return Ok(StepPlatform {
            platform: target.clone(),
            cross: false,
            emulated: true,
        });
    }
    Ok(StepPlatform {
        platform: build.clone(),
        cross: true,
        emulated: false,
    })
}

/// The GNU toolchain prefix Debian's cross packages use for a triple (`aarch64-linux-gnu-gcc`).
pub fn debian_prefix(triple: &str) -> &'static str {
    match triple {
        "x86_64-unknown-linux-gnu" => "x86_64-linux-gnu",
        "aarch64-unknown-linux-gnu" => "aarch64-linux-gnu",
        "armv7-unknown-linux-gnueabihf" | "arm-unknown-linux-gnueabihf" => "arm-linux-gnueabihf",
        "i686-unknown-linux-gnu" => "i686-linux-gnu",
        "powerpc64le-unknown-linux-gnu" => "powerpc64le-linux-gnu",
        "s390x-unknown-linux-gnu" => "s390x-linux-gnu",
        "riscv64gc-unknown-linux-gnu" => "riscv64-linux-gnu",
        _ => "",
    }
}

/// Debian's architecture name for a triple (`libstd-rust-dev:arm64`).
pub fn debian_arch(triple: &str) -> &'static str {
    match triple {
        "x86_64-unknown-linux-gnu" => "amd64",
        "aarch64-unknown-linux-gnu" => "arm64",
        "armv7-unknown-linux-gnueabihf" => "armhf",
        "arm-unknown-linux-gnueabihf" => "armel",
        "i686-unknown-linux-gnu" => "i386",
        "powerpc64le-unknown-linux-gnu" => "ppc64el",
        "s390x-unknown-linux-gnu" => "s390x",
        "riscv64gc-unknown-linux-gnu" => "riscv64",
        _ => "",
    }
}

/// The cross environment for `triple`: the Debian defaults, then `[cross.<triple>] env`.
pub fn cross_env(spec: &Spec, triple: &str) -> BTreeMap<String, String> {
    let prefix = debian_prefix(triple);
    let lower = triple.replace('-', "_");
    let upper = lower.to_ascii_uppercase();
    let mut env = BTreeMap::from([
        (
            format!("CARGO_TARGET_{upper}_LINKER"),
            format!("{prefix}-gcc"),
        ),
        (format!("CC_{lower}"), format!("{prefix}-gcc")),
        (format!("CXX_{lower}"), format!("{prefix}-g++")),
        (format!("AR_{lower}"), format!("{prefix}-ar")),
        ("PKG_CONFIG_ALLOW_CROSS".to_string(), "1".to_string()),
        (
            format!("PKG_CONFIG_LIBDIR_{lower}"),
            format!("/usr/lib/{prefix}/pkgconfig:/usr/share/pkgconfig"),
        ),
    ]);
    if let Some(own) = spec.cross.targets.get(triple) {
        env.extend(own.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    env
}

/// Shell lines that stop a cross step before cargo when the SDK has no standard library for
/// `triple`, saying what to install (cargo's own error, "can't find crate for `std`", names
/// neither the package nor the way out).
pub fn std_check_script(triple: &str, step: &str) -> Vec<String> {
    let arch = debian_arch(triple);
    let message = format!(
        "{step} the SDK has no Rust standard library for {triple} (no \
         lib/rustlib/{triple}/lib/libstd-*.rlib under `rustc --print sysroot`), so it cannot \
         cross-compile for it. Install it in the SDK: on Debian `libstd-rust-dev:{arch}` (with \
         `dpkg --add-architecture {arch}`, plus `gcc-{prefix}` and `libc6-dev-{arch}-cross` for \
         linking), with rustup `rustup target add {triple}`; or set `[cross] emulate = true` (or \
         `emulate = true` under [cross.{triple}]) to run the step on the target platform with an \
         SDK image for it",
        prefix = debian_prefix(triple).replace('_', "-"),
    );
    vec![
        "cachet_sysroot=$(rustc --print sysroot)".to_string(),
        format!(
            "if ! ls \"$cachet_sysroot/lib/rustlib/{triple}/lib/\"libstd-*.rlib >/dev/null 2>&1; \
             then echo {} >&2; exit 1; fi",
            super::shell::quote(&message)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> Spec {
        let text = format!(
            "[sdk]\nimage = \"cachet-sdk:cross\"\n{extra}\n[target.build]\ncargo = [\"build\"]\n"
        );
        crate::spec::load("Cachet.toml", &text, &BTreeMap::new()).unwrap()
    }

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn a_foreign_target_cross_compiles_on_the_build_platform() {
        let s = step_platform(&spec(""), &p("linux/amd64"), &p("linux/arm64")).unwrap();
        assert_eq!(s.platform, p("linux/amd64"));
        assert!(s.cross && !s.emulated);
    }

    #[test]
    fn the_native_target_and_cpu_levels_are_not_cross() {
        for target in ["linux/amd64", "linux/amd64/v3"] {
            let s = step_platform(&spec(""), &p("linux/amd64"), &p(target)).unwrap();
            assert_eq!(s.platform, p(target));
            assert!(!s.cross && !s.emulated);
        }
    }

    #[test]
    fn emulation_runs_on_the_target_platform_globally_or_per_triple() {
        let all = spec("[cross]\nemulate = true\n");
        let s = step_platform(&all, &p("linux/amd64"), &p("linux/arm64")).unwrap();
        assert_eq!(s.platform, p("linux/arm64"));
        assert!(s.emulated && !s.cross);
        let one =
            spec("[cross]\nemulate = true\n[cross.aarch64-unknown-linux-gnu]\nemulate = false\n");
        assert!(
            step_platform(&one, &p("linux/amd64"), &p("linux/arm64"))
                .unwrap()
                .cross
        );
        let per = spec("[cross.aarch64-unknown-linux-gnu]\nemulate = true\n");
        assert!(
            step_platform(&per, &p("linux/amd64"), &p("linux/arm64"))
                .unwrap()
                .emulated
        );
    }

    #[test]
    fn debian_defaults_are_overridden_name_by_name() {
        let s = spec(
            "[cross.aarch64-unknown-linux-gnu]\nenv = { CC_aarch64_unknown_linux_gnu = \"clang\" }\n",
        );
        let env = cross_env(&s, "aarch64-unknown-linux-gnu");
        assert_eq!(
            env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"],
            "aarch64-linux-gnu-gcc"
        );
        assert_eq!(env["CC_aarch64_unknown_linux_gnu"], "clang");
        assert_eq!(env["AR_aarch64_unknown_linux_gnu"], "aarch64-linux-gnu-ar");
        assert_eq!(env["PKG_CONFIG_ALLOW_CROSS"], "1");
        assert_eq!(
            env["PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu"],
            "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig"
        );
    }

    #[test]
    fn an_unknown_triple_table_is_a_positioned_error() {
        let text = "[sdk]\nimage = \"x\"\n[cross.aarch64-linux]\nenv = {}\n[target.b]\ncargo = [\"build\"]\n";
        let e = crate::spec::load("Cachet.toml", text, &BTreeMap::new()).unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("Cachet.toml:3:"), "{shown}");
        assert!(shown.contains("aarch64-unknown-linux-gnu"), "{shown}");
    }

    #[test]
    fn the_std_check_names_the_package_rustup_and_emulation() {
        let lines = std_check_script("aarch64-unknown-linux-gnu", "[build]").join("\n");
        assert!(lines.contains("libstd-rust-dev:arm64"), "{lines}");
        assert!(
            lines.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{lines}"
        );
        assert!(lines.contains("emulate = true"), "{lines}");
        assert!(
            lines.contains("lib/rustlib/aarch64-unknown-linux-gnu/lib/"),
            "{lines}"
        );
    }
}
