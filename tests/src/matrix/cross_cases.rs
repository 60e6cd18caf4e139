//! The `cross` group (issue 20): the fixture cross-compiled for `linux/arm64` on the amd64
//! worker with the cross SDK (`CACHET_SDK_CROSS`: Debian's rustc with the arm64 std and the
//! `aarch64-linux-gnu` GCC), and the toolchain choices cargo cannot see.
//!
//! The cargo step runs on the build platform and passes Cachet's cross environment (the
//! target's linker, `CC_`/`AR_<triple>`, plus `[cross.<triple>] env`) to cargo. Cargo
//! fingerprints none of it, so a changed linker or target `CFLAGS_<triple>` would link stale
//! objects on a warm target cache: Cachet keys the target cache on it (`cross_env` in
//! `keys.rs`). Cases: the linker changed, `CFLAGS_aarch64_unknown_linux_gnu` changed (the
//! build script's C is compiled with it), the SDK re-tagged, and a switch to `linux/amd64` and
//! back (the return is warm: each platform keeps its own target cache).
//!
//! For this group the build script looks up its C compiler, flags and archiver the way the `cc`
//! crate does (`<NAME>_<triple with _>` first, then `<NAME>`), declares them, and bakes in
//! `RUSTC_LINKER` (cargo's resolved linker for the target) so a linker change is visible in
//! the output; every binary is linked statically (`+crt-static`) so the arm64 one runs under
//! binfmt's qemu without the target's loader on the host.
//!
//! Cachet rows only: the reference pattern (one `RUN cargo build` in `FROM <sdk>`) has no
//! build platform and no target triple; with `--platform linux/arm64` it runs the whole SDK
//! under emulation, from an arm64 variant of the SDK, which would be another Dockerfile (the
//! `FROM --platform=$BUILDPLATFORM` + `--target` pattern) than the documented one.

use super::cases::{Case, Group, Setup};
use super::fixture::State;
use super::{Expect, Subject};
use crate::Env;

const TRIPLE: &str = "aarch64-unknown-linux-gnu";
const ARM64: &str = "linux/arm64";
const LINKER_VAR: &str = "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER";
const CFLAGS_VAR: &str = "CFLAGS_aarch64_unknown_linux_gnu";
const BUILD_RS: &str = "crates/facts/build.rs";
const MAIN_RS: &str = "crates/facts/src/main.rs";

/// `cc`'s lookup: the target-suffixed variable first, then the plain one.
const TARGET_VAR_FN: &str = r#"
fn target_var(name: &str) -> Option<String> {
    let target = env::var("TARGET").unwrap_or_default().replace('-', "_");
    env::var(format!("{}_{}", name, target))
        .or_else(|_| env::var(name))
        .ok()
}
"#;

fn set_cross_env(s: &mut State, name: &str, value: &str) {
    s.cross_env
        .entry(TRIPLE.to_string())
        .or_default()
        .insert(name.to_string(), value.to_string());
}

fn setup(s: &mut State, setup: &mut Setup) -> Result<(), String> {
    if setup.subject == Subject::Reference {
        return Err(
            "the reference Dockerfile pattern has no build platform or target triple \
                    (see the `cross` group's docs)"
                .into(),
        );
    }
    let sdk = Env::get()
        .try_var("CACHET_SDK_CROSS")
        .ok_or("no CACHET_SDK_CROSS in the env (rerun scripts/env/up)")?
        .to_string();
    // A tag of this run's own, so the re-tag case never moves the shared cross SDK.
    let tag = setup.retag_name();
    setup.retag_sdk_from(&tag, &format!("a-{}", setup.nonce), &sdk)?;
    s.sdk = tag;
    s.platform = Some(ARM64.into());
    s.rustflags.push("-Ctarget-feature=+crt-static".into());
    target_aware_build_script(s);
    Ok(())
}

/// The build script finds its C compiler, flags and archiver as `cc` does, and the binary
/// prints the linker cargo resolved for the target.
fn target_aware_build_script(s: &mut State) {
    s.edit(
        BUILD_RS,
        "    println!(\"cargo:rerun-if-env-changed=CFLAGS\");\n",
        "    println!(\"cargo:rerun-if-env-changed=CFLAGS\");\n    \
         let triple = var(\"TARGET\").replace('-', \"_\");\n    \
         for name in [\"CC\", \"CFLAGS\", \"AR\"].iter() {\n        \
         println!(\"cargo:rerun-if-env-changed={}_{}\", name, triple);\n    }\n",
    );
    s.edit(
        BUILD_RS,
        "        (\"CC\", var(\"CC\")),\n        (\"CFLAGS\", var(\"CFLAGS\")),\n",
        "        (\"CC\", target_var(\"CC\").unwrap_or_else(|| \"unset\".to_string())),\n        \
         (\"CFLAGS\", target_var(\"CFLAGS\").unwrap_or_else(|| \"unset\".to_string())),\n        \
         (\"LINKER\", var(\"RUSTC_LINKER\")),\n",
    );
    s.edit(
        BUILD_RS,
        "let cc = env::var(\"CC\").unwrap_or_else(|_| \"cc\".to_string());",
        "let cc = target_var(\"CC\").unwrap_or_else(|| \"cc\".to_string());",
    );
    s.edit(
        BUILD_RS,
        "let cflags = env::var(\"CFLAGS\").unwrap_or_default();",
        "let cflags = target_var(\"CFLAGS\").unwrap_or_default();",
    );
    s.edit(
        BUILD_RS,
        "Command::new(\"ar\")",
        "Command::new(target_var(\"AR\").unwrap_or_else(|| \"ar\".to_string()))",
    );
    let build_rs = format!("{}{TARGET_VAR_FN}", s.file(BUILD_RS));
    s.files.insert(BUILD_RS.into(), build_rs);
    s.edit(
        MAIN_RS,
        "    println!(\"target={}\", env!(\"FACTS_TARGET\"));\n",
        "    println!(\"linker={}\", env!(\"FACTS_LINKER\"));\n    \
         println!(\"target={}\", env!(\"FACTS_TARGET\"));\n",
    );
}

/// The group (registered in `cases::groups`).
pub fn group() -> Group {
    let fresh = Expect::Fresh { keep: &[] };
    let case = Case::build;
    Group {
        name: "cross",
        setup,
        cases: vec![
            case(
                "X1",
                "the target's linker changed ([cross.aarch64-unknown-linux-gnu] env CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER)",
                fresh,
                true,
                |s, _| {
                    // Debian's versioned name of the same cross GCC: another linker to cargo.
                    set_cross_env(s, LINKER_VAR, "aarch64-linux-gnu-gcc-12");
                    Ok(())
                },
            ),
            case(
                "X2",
                "CFLAGS_aarch64_unknown_linux_gnu changed ([cross.<triple>] env): the build script's C recompiles",
                fresh,
                true,
                |s, _| {
                    set_cross_env(s, CFLAGS_VAR, "-O2 -DFACT_LEVEL=3");
                    Ok(())
                },
            ),
            case(
                "X3",
                "SDK re-tagged: same tag and rustc, new image digest (cross build)",
                fresh,
                true,
                |s, setup| {
                    let tag = setup.retag_name();
                    let base = Env::get().var("CACHET_SDK_CROSS").to_string();
                    setup.retag_sdk_from(&tag, &format!("b-{}", setup.nonce), &base)?;
                    s.sdk_epoch += 1;
                    Ok(())
                },
            ),
            case(
                "X4",
                "platform switched: linux/arm64 (cross) → linux/amd64 (native)",
                fresh,
                true,
                |s, _| {
                    s.platform = Some("linux/amd64".into());
                    Ok(())
                },
            ),
            case(
                "X5",
                "platform switched back to linux/arm64 (+ edit to other)",
                Expect::Warm,
                true,
                |s, _| {
                    s.platform = Some(ARM64.into());
                    s.set_other_line("other: edited with the switch back to arm64");
                    Ok(())
                },
            ),
            case(
                "X6",
                "nothing changed (cross build)",
                Expect::NoRebuild,
                false,
                super::cases::nothing,
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// With the host toolchain: the edited build script compiles, takes the target-suffixed
    /// `CFLAGS_<triple>` over `CFLAGS`, and the binary prints the linker cargo resolved.
    #[test]
    fn the_build_script_reads_target_suffixed_variables() {
        let dir = std::env::temp_dir().join(format!("cachet-matrix-cross-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut state = State::initial("fixture", "n0", "cachet-sdk:cross");
        target_aware_build_script(&mut state);
        state.materialize(&dir).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let host = "x86_64_unknown_linux_gnu";
        let out = Command::new(&cargo)
            .args(["run", "--quiet", "--locked", "--offline", "-p", "facts"])
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env("CFLAGS", "-DFACT_LEVEL=1")
            .env(format!("CFLAGS_{host}"), "-DFACT_LEVEL=7")
            .env(format!("CARGO_TARGET_{}_LINKER", host.to_uppercase()), "cc")
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in ["c_level=7", "cflags=-DFACT_LEVEL=7", "linker=cc"] {
            assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
