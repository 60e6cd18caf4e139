//! The `layers` group: a build whose cache starts to travel and stops again, and a lockfile
//! bump while it travels (issue 16).
//!
//! A build plans its dependency layers only when its cache travels (it imports a cache or
//! writes inline cache; here `--build-arg BUILDKIT_INLINE_CACHE=1`, which the frontend reads
//! the way BuildKit does). Switching changes the LLB of the cargo step (it seeds an empty
//! target cache from the layer) but never what it builds: the warm target cache stays the
//! step's, so nothing recompiles either way. The third-party crate is `tiny`, a crate the
//! project vendors itself (see `entries`); the bump replaces it with 0.1.1, which the layer
//! compiles starting from its dependency cache and the step then links.

use super::cases::{Case, Group};
use super::fixture::State;
use super::Expect;

const INLINE_CACHE: &str = "BUILDKIT_INLINE_CACHE";

fn setup(s: &mut State, _: &mut super::Setup) -> Result<(), String> {
    super::entries::vendor_tiny(s);
    Ok(())
}

/// The group (registered in `cases::groups`).
pub fn group() -> Group {
    const NOTHING: Expect = Expect::Fresh {
        keep: &["factlib", "facts", "other"],
    };
    Group {
        name: "layers",
        setup,
        cases: vec![
            Case::build(
                "L1",
                "the build's cache starts to travel (inline cache): dependency layers planned",
                NOTHING,
                false,
                |s, _| {
                    s.build_args.insert(INLINE_CACHE.into(), "1".into());
                    Ok(())
                },
            ),
            Case::build(
                "L2",
                "a lockfile bump while it travels (vendored tiny 0.1.0 → 0.1.1)",
                Expect::Fresh {
                    keep: &["factlib", "other"],
                },
                true,
                |s, _| {
                    super::entries::bump_tiny(s);
                    Ok(())
                },
            ),
            Case::build(
                "L3",
                "back to a local build (no inline cache)",
                NOTHING,
                false,
                |s, _| {
                    s.build_args.remove(INLINE_CACHE);
                    Ok(())
                },
            ),
        ],
    }
}
