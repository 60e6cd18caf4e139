//! `[cargo] volatile-env`: a value that changes every build (a commit id) recompiles what reads
//! it on the warm target cache — cargo's declared reads by cargo, undeclared build-script reads
//! by Cachet — and never starts a cold target cache.

use super::cases::{nothing, Case, Group, Setup};
use super::fixture::State;
use super::Expect;

/// The variable `other` reads with `option_env!` (a declared read: rustc records it in
/// dep-info), fed by the build argument `COMMIT`.
const COMMIT_VAR: &str = "CACHET_COMMIT";
const OTHER_MAIN: &str = "crates/other/src/main.rs";

/// `other` also prints the commit it was built at; the spec passes `COMMIT` as a volatile env.
fn commit_in_other(s: &mut State, _: &mut Setup) -> Result<(), String> {
    s.args.insert("COMMIT".into(), "c0".into());
    s.env.insert(COMMIT_VAR.into(), "${COMMIT}".into());
    s.volatile_env.push(COMMIT_VAR.into());
    let text = s.file(OTHER_MAIN).to_string();
    let edited = text.replacen(
        "fn main() {\n",
        "fn main() {\n    println!(\"other: commit {}\", option_env!(\"CACHET_COMMIT\").unwrap_or(\"none\"));\n",
        1,
    );
    s.files.insert(OTHER_MAIN.into(), edited);
    Ok(())
}

pub(super) fn volatile() -> Group {
    let case = Case::build;
    Group {
        name: "volatile",
        setup: commit_in_other,
        cases: vec![
            case(
                "V1",
                "a per-build commit id (volatile-env, read by env! in other) changed",
                Expect::Fresh {
                    keep: &["factlib", "facts"],
                },
                true,
                |s, _| {
                    s.build_args.insert("COMMIT".into(), "c1".into());
                    Ok(())
                },
            ),
            case(
                "V2",
                "the commit id changed again",
                Expect::Fresh {
                    keep: &["factlib", "facts"],
                },
                true,
                |s, _| {
                    s.build_args.insert("COMMIT".into(), "c2".into());
                    Ok(())
                },
            ),
            case(
                "V3",
                "an env var build.rs reads undeclared made volatile (a new key)",
                Expect::Fresh { keep: &[] },
                false,
                |s, _| {
                    s.volatile_env.push("CACHET_FACT".into());
                    Ok(())
                },
            ),
            case(
                "V4",
                "that volatile value changed: Cachet rebuilds its undeclared reader",
                Expect::Fresh {
                    keep: &["factlib", "other"],
                },
                true,
                |s, _| {
                    s.build_args.insert("FACT".into(), "two".into());
                    Ok(())
                },
            ),
            case("V5", "nothing changed", Expect::NoRebuild, false, nothing),
        ],
    }
}
