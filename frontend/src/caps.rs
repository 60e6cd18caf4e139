//! Capability negotiation: what Cachet needs from the BuildKit it talks to.
//!
//! `Ping` lists the gateway and LLB capabilities the daemon has. Two questions, each answered
//! from one source:
//! * the gateway calls this frontend makes are a fixed list ([`GATEWAY_CAPS`]) plus one per
//!   option that needs more (`--cache-from`, `--sbom`), checked before the work that uses
//!   them, so an old daemon fails with the name of the missing cap and what needed it;
//! * the LLB features a build uses are whatever its compiled graph records: every op lists the
//!   caps it relies on in `OpMetadata.caps` (the LLB builder records them as it builds, as
//!   BuildKit's Go client does), so [`Caps::check_definition`] checks exactly those, and a spec
//!   that needs secrets or SSH is checked for them because its ops say so, not because of a
//!   hand-kept special case. The message names the step that needs the cap.
//!
//! What each cap does and the release that introduced it come from llb-gen's one table
//! (`llb::caps::CAPS`); this file only says which gateway caps Cachet calls.

use std::collections::BTreeSet;

use llb_gen::llb::{caps, Digest, CUSTOM_NAME_KEY};
use llb_gen::proto::apicaps::ApiCap;
use llb_gen::proto::gateway::PongResponse;
use llb_gen::proto::pb;

/// Gateway capabilities every build needs.
pub const GATEWAY_CAPS: &[&str] = &[
    "solve.base",
    "solve.inlinereturn",
    "resolveimage",
    "resolveimage.resolvemode",
    "readfile",
    "readdir",
    "return",
];

/// Needed only when the build imports a cache (`--cache-from`).
pub const CAP_IMPORT_CACHES: &str = "importcaches";

/// Needed only to return attestations with the result (`--sbom`, see `crate::attest`).
pub const CAP_ATTESTATIONS: &str = "reference.attestations";

/// The capabilities a daemon reported as enabled.
#[derive(Debug, Clone, Default)]
pub struct Caps {
    pub gateway: BTreeSet<String>,
    pub llb: BTreeSet<String>,
}

impl Caps {
    pub fn from_pong(pong: &PongResponse) -> Caps {
        fn enabled(caps: &[ApiCap]) -> BTreeSet<String> {
            caps.iter()
                .filter(|c| c.enabled)
                .map(|c| c.id.clone())
                .collect()
        }
        Caps {
            gateway: enabled(&pong.frontend_api_caps),
            llb: enabled(&pong.llb_caps),
        }
    }

    /// Checks the gateway calls a build makes; `importing_cache` adds the cache-import one.
    pub fn check_gateway(&self, importing_cache: bool) -> Result<(), String> {
        for id in GATEWAY_CAPS {
            self.require_gateway(id, "every Cachet build")?;
        }
        if importing_cache {
            self.require_gateway(CAP_IMPORT_CACHES, "`--cache-from`")?;
        }
        Ok(())
    }

    /// Checks one gateway cap, which `needed_by` (an option, or "every Cachet build") needs.
    pub fn require_gateway(&self, id: &str, needed_by: &str) -> Result<(), String> {
        if self.gateway.contains(id) {
            Ok(())
        } else {
            Err(missing(caps::CapKind::Gateway, id, needed_by))
        }
    }

    /// Checks every LLB cap the ops of `definition` record; a missing one names the first
    /// step (in graph order) that needs it.
    pub fn check_definition(&self, definition: &pb::Definition) -> Result<(), String> {
        for op in &definition.def {
            let Some(meta) = definition.metadata.get(Digest::of(op).as_str()) else {
                continue;
            };
            let lacking = meta
                .caps
                .iter()
                .find(|(id, on)| **on && !self.llb.contains(id.as_str()));
            if let Some((id, _)) = lacking {
                let step = match meta.description.get(CUSTOM_NAME_KEY) {
                    Some(name) => format!("the step `{name}`"),
                    None => "the build graph".to_string(),
                };
                return Err(missing(caps::CapKind::Llb, id, &step));
            }
        }
        Ok(())
    }
}

/// Which cap is missing, what it does, what needs it, and which release has it.
fn missing(kind: caps::CapKind, id: &str, needed_by: &str) -> String {
    let cap = caps::find(id);
    let what = cap.map(|c| format!(" ({})", c.what)).unwrap_or_default();
    let upgrade = match cap.map(|c| c.since) {
        Some(caps::OLDEST) => {
            format!(
                "BuildKit {} or newer (Docker 20.10+ or a current buildx builder)",
                caps::OLDEST
            )
        }
        Some(since) => format!("BuildKit {since} or newer"),
        None => "a newer BuildKit".to_string(),
    };
    format!(
        "this BuildKit lacks the {} capability `{id}`{what}, which {needed_by} needs; use {upgrade}",
        kind.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use llb_gen::llb::caps::CapKind;
    use llb_gen::llb::{Image, Mount};

    fn cap(id: &str, enabled: bool) -> ApiCap {
        ApiCap {
            id: id.into(),
            enabled,
            ..Default::default()
        }
    }

    /// What a v0.8 daemon reports.
    fn v0_8_pong() -> PongResponse {
        PongResponse {
            frontend_api_caps: caps::oldest(CapKind::Gateway)
                .map(|id| cap(id, true))
                .collect(),
            llb_caps: caps::oldest(CapKind::Llb).map(|id| cap(id, true)).collect(),
            workers: vec![],
        }
    }

    fn debian() -> llb_gen::llb::State {
        Image::new("debian:bookworm").unwrap().into_state()
    }

    /// A graph whose exec mounts a secret, as a fetch step with registry tokens does.
    fn graph_with_a_secret() -> pb::Definition {
        debian()
            .run(["true"])
            .mount(Mount::secret("/run/secrets/token", "token"))
            .custom_name("[cachet] fetch dependencies")
            .build()
            .unwrap()
            .root()
            .marshal()
    }

    #[test]
    fn every_cap_cachet_asks_for_is_in_the_one_table() {
        for id in GATEWAY_CAPS
            .iter()
            .chain([&CAP_IMPORT_CACHES, &CAP_ATTESTATIONS])
        {
            let known = caps::find(id).unwrap_or_else(|| panic!("{id} is not in llb::caps"));
            assert_eq!(known.kind, CapKind::Gateway, "{id}");
        }
    }

    #[test]
    fn a_v0_8_daemon_passes() {
        let caps = Caps::from_pong(&v0_8_pong());
        assert_eq!(caps.check_gateway(true), Ok(()));
        assert_eq!(caps.check_definition(&graph_with_a_secret()), Ok(()));
    }

    #[test]
    fn a_missing_gateway_cap_names_what_needs_it_and_its_release() {
        let mut pong = v0_8_pong();
        pong.frontend_api_caps.retain(|c| c.id != "importcaches");
        pong.frontend_api_caps.push(cap("importcaches", false));
        assert!(
            Caps::from_pong(&pong).check_gateway(false).is_ok(),
            "not needed without --cache-from"
        );
        let e = Caps::from_pong(&pong).check_gateway(true).unwrap_err();
        assert_eq!(
            e,
            "this BuildKit lacks the gateway capability `importcaches` (importing a build \
             cache (`--cache-from`)), which `--cache-from` needs; use BuildKit v0.8 or newer \
             (Docker 20.10+ or a current buildx builder)"
        );
        let e = Caps::from_pong(&v0_8_pong())
            .require_gateway(CAP_ATTESTATIONS, "`--sbom`")
            .unwrap_err();
        assert!(
            e.contains("`reference.attestations`")
                && e.contains("`--sbom` needs")
                && e.ends_with("BuildKit v0.11 or newer"),
            "{e}"
        );
    }

    #[test]
    fn the_graph_decides_which_llb_caps_are_needed_and_names_the_step() {
        let mut pong = v0_8_pong();
        pong.llb_caps.retain(|c| c.id != "exec.mount.secret");
        let caps = Caps::from_pong(&pong);
        let e = caps.check_definition(&graph_with_a_secret()).unwrap_err();
        assert!(
            e.starts_with(
                "this BuildKit lacks the LLB capability `exec.mount.secret` (secret mounts \
                 (`--secret`, registry tokens)), which the step `[cachet] fetch dependencies` \
                 needs"
            ),
            "{e}"
        );
        let plain = debian().run(["true"]).build().unwrap().root().marshal();
        assert_eq!(caps.check_definition(&plain), Ok(()), "no secret, no need");
        // A cap every op's graph records (the terminal op's `platform`) is checked too.
        let mut pong = v0_8_pong();
        pong.llb_caps.retain(|c| c.id != "platform");
        let e = Caps::from_pong(&pong).check_definition(&plain).unwrap_err();
        assert!(e.contains("`platform`"), "{e}");
    }
}
