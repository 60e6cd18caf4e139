//! Environment variable names in the spec: `[cargo] env`, a target's `env` and the variables
//! of `[fetch] secrets`.
//!
//! Every name ends up as `NAME=value` in an exec's environment or an image config, so it must be
//! a name an environment can hold: not empty, no `=` (the first `=` ends the name, so `A=B`
//! would set `A`), no NUL (it ends the C string the kernel reads), no whitespace or other
//! control characters (they break `env` listings and the shell lines Cachet writes). Anything
//! else is allowed: lowercase `http_proxy` and the cc crate's `CC_x86_64-unknown-linux-gnu` are
//! real names.
//!
//! Some names that reach cargo are Cachet's own: it sets them itself, or they would move
//! cargo's output away from the keyed target cache the cargo step copies `artifacts` from. A
//! spec's env is applied after Cachet's (see `compile/cargo_step.rs`), so allowing them would
//! silently override Cachet. They are refused with the setting to use instead:
//! [`ENV_OWNED_BY_CACHET`] and [`RUSTFLAGS_OWNED_BY_CACHET`] say why, name by name.
//!
//! Deliberately allowed, although they change the build: `CARGO_PROFILE_*`, `CC`, `CFLAGS`,
//! `RUSTC_WRAPPER`, `CARGO_INCREMENTAL` and the like. They are cache-key inputs like the rest of
//! the env (see `keys.rs`) and change what is built, not where it goes. `CARGO_TERM_COLOR` is
//! set by Cachet only to keep logs plain; a spec may want colour. Other `CACHET_*` names are
//! the user's: only `CACHET_SDK` is set by Cachet, and build scripts read names like
//! `CACHET_FACT` (the integration matrix does).

/// Variables Cachet sets or relies on in cargo steps, with why and what to do instead.
pub(super) const ENV_OWNED_BY_CACHET: &[(&str, &str)] = &[
    (
        "CACHET_SDK",
        "Cachet sets it to the SDK image's identity in every step, so that a new SDK never \
         reuses another SDK's cache; a spec that set it could",
    ),
    (
        "CARGO_TARGET_DIR",
        "Cachet places the target directory on a keyed cache mount and copies `artifacts` out of \
         it; name the outputs under `artifacts`",
    ),
    (
        "CARGO_BUILD_TARGET_DIR",
        "Cachet places the target directory on a keyed cache mount and copies `artifacts` out of \
         it; name the outputs under `artifacts`",
    ),
    (
        "CARGO_BUILD_BUILD_DIR",
        "cargo's intermediate files must stay on the keyed target cache, where the dependency \
         layer seeds them; name the outputs under `artifacts`",
    ),
    (
        "CARGO_BUILD_TARGET",
        "Cachet passes `--target` for the platform's triple itself (a cache-key input it \
         derives from `--platform`); choose the target platform with `--platform`",
    ),
    (
        "CARGO_ENCODED_RUSTFLAGS",
        "Cachet sets it from `rustflags` under [cargo] and the platform's CPU level; set \
         `rustflags` under [cargo]",
    ),
    (
        "RUSTFLAGS",
        "cargo ignores it whenever Cachet sets CARGO_ENCODED_RUSTFLAGS (for `rustflags` under \
         [cargo] or the platform's CPU level); set `rustflags` under [cargo]",
    ),
    (
        "CARGO_BUILD_RUSTFLAGS",
        "cargo ignores it whenever Cachet sets CARGO_ENCODED_RUSTFLAGS (for `rustflags` under \
         [cargo] or the platform's CPU level); set `rustflags` under [cargo]",
    ),
    (
        "SOURCE_DATE_EPOCH",
        "Cachet passes BuildKit's SOURCE_DATE_EPOCH build argument to every cargo step; give it \
         as `--build-arg SOURCE_DATE_EPOCH=<seconds>`, so the image's times follow it too",
    ),
    (
        "CARGO_HOME",
        "cargo steps use the SDK image's cargo home, where the fetch step's download cache and \
         the SDK's cargo config live; set it in the SDK image",
    ),
];

/// `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`: like `RUSTFLAGS`, cargo reads it only when no
/// CARGO_ENCODED_RUSTFLAGS is set, so with Cachet's it would be silently ignored.
pub(super) const RUSTFLAGS_OWNED_BY_CACHET: (&str, &str, &str) = (
    "CARGO_TARGET_",
    "_RUSTFLAGS",
    "cargo ignores it whenever Cachet sets CARGO_ENCODED_RUSTFLAGS (for `rustflags` under \
     [cargo] or the platform's CPU level); Cachet builds for one platform per build, so set \
     `rustflags` under [cargo]",
);

/// What is wrong with `name` as the name of an environment variable, if anything.
pub(super) fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("an environment variable needs a name; this key is empty")
    } else if name.contains('=') {
        Some("an environment variable name cannot contain `=`: the first `=` ends the name")
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some(
            "an environment variable name cannot contain whitespace, NUL or other control \
             characters",
        )
    } else {
        None
    }
}

/// Why Cachet owns `name` in the steps it runs, if it does: the reason and what to do instead.
pub(super) fn owned(name: &str) -> Option<&'static str> {
    if let Some((_, why)) = ENV_OWNED_BY_CACHET.iter().find(|(n, _)| *n == name) {
        return Some(why);
    }
    let (prefix, suffix, why) = RUSTFLAGS_OWNED_BY_CACHET;
    (name.len() > prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix))
        .then_some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_an_environment_can_hold() {
        for good in [
            "CFLAGS",
            "http_proxy",
            "CC_x86_64-unknown-linux-gnu",
            "_",
            "1X",
            "ÜBER",
        ] {
            assert_eq!(name_problem(good), None, "{good}");
        }
        for bad in ["", "A=B", "=", "A\0B", "A\nB", "A B", "\t", "A\u{7f}"] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn owned_names_are_exact_and_the_patterns_anchored() {
        for name in [
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET_DIR",
            "CARGO_BUILD_BUILD_DIR",
            "CARGO_BUILD_TARGET",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_HOME",
            "CACHET_SDK",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
        ] {
            assert!(owned(name).is_some(), "{name}");
        }
        for name in [
            "CARGO_TERM_COLOR",
            "CARGO_PROFILE_RELEASE_LTO",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
            "CARGO_TARGET__RUSTFLAGS",
            "RUSTDOCFLAGS",
            "rustflags",
            "cargo_target_dir",
            "CACHET",
            "CACHET_FACT",
            "CACHET_SDK_",
            "MY_RUSTFLAGS",
        ] {
            assert_eq!(owned(name), None, "{name}");
        }
    }
}
