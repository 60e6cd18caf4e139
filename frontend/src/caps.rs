//! Capability negotiation: what Cachet needs from the BuildKit it talks to.
//!
//! `Ping` lists the gateway and LLB capabilities the daemon has. Two questions, each answered
//! from one source:
//! * the gateway calls this frontend makes are a fixed list ([`GATEWAY_CAPS`]), checked before
//!   any work, so an old daemon fails with the name of the missing call;
//! * the LLB features a build uses are whatever its compiled graph records: every op lists the
//!   caps it relies on in `OpMetadata.caps` (the LLB builder records them as it builds), so
//!   [`Caps::check_definition`] checks exactly those, and a spec that needs secrets or SSH is
//!   checked for them because its ops say so, not because of a hand-kept special case.
//!
//! The release that introduced each cap comes from llb-gen's one table (`llb::caps::since`).

use std::collections::BTreeSet;

use llb_gen::llb::caps;
use llb_gen::proto::apicaps::ApiCap;
use llb_gen::proto::gateway::PongResponse;
use llb_gen::proto::pb;

/// Gateway capabilities every build needs.
const GATEWAY_CAPS: &[&str] = &[
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
        let extra = importing_cache.then_some(CAP_IMPORT_CACHES);
        for id in GATEWAY_CAPS.iter().copied().chain(extra) {
            if !self.gateway.contains(id) {
                return Err(missing("gateway", id));
            }
        }
        Ok(())
    }

    /// Checks every LLB cap the ops of `definition` record.
    pub fn check_definition(&self, definition: &pb::Definition) -> Result<(), String> {
        let used: BTreeSet<&str> = definition
            .metadata
            .values()
            .flat_map(|m| {
                m.caps
                    .iter()
                    .filter(|(_, on)| **on)
                    .map(|(id, _)| id.as_str())
            })
            .collect();
        match used.into_iter().find(|id| !self.llb.contains(*id)) {
            Some(id) => Err(missing("LLB", id)),
            None => Ok(()),
        }
    }
}

fn missing(kind: &str, id: &str) -> String {
    let since = caps::since(id).unwrap_or("a newer release");
    format!(
        "this BuildKit lacks the {kind} capability `{id}`, which Cachet needs; \
         use BuildKit {since} or newer (Docker 20.10+ or a current buildx builder)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use llb_gen::llb::{Image, Mount};

    fn cap(id: &str, enabled: bool) -> ApiCap {
        ApiCap {
            id: id.into(),
            enabled,
            ..Default::default()
        }
    }

    fn full_pong() -> PongResponse {
        PongResponse {
            frontend_api_caps: caps::GATEWAY_CAPS_V0_8
                .iter()
                .map(|id| cap(id, true))
                .collect(),
            llb_caps: caps::LLB_CAPS_V0_8.iter().map(|id| cap(id, true)).collect(),
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
            .build()
            .unwrap()
            .root()
            .marshal()
    }

    #[test]
    fn a_complete_daemon_passes() {
        let caps = Caps::from_pong(&full_pong());
        assert_eq!(caps.check_gateway(true), Ok(()));
        assert_eq!(caps.check_definition(&graph_with_a_secret()), Ok(()));
    }

    #[test]
    fn a_missing_gateway_cap_is_named_with_its_version() {
        let mut pong = full_pong();
        pong.frontend_api_caps.retain(|c| c.id != "importcaches");
        pong.frontend_api_caps.push(cap("importcaches", false));
        assert!(
            Caps::from_pong(&pong).check_gateway(false).is_ok(),
            "not needed without --cache-from"
        );
        let e = Caps::from_pong(&pong).check_gateway(true).unwrap_err();
        assert!(e.contains("`importcaches`") && e.contains("v0.8"), "{e}");
    }

    #[test]
    fn the_graph_decides_which_llb_caps_are_needed() {
        let mut pong = full_pong();
        pong.llb_caps.retain(|c| c.id != "exec.mount.secret");
        let caps = Caps::from_pong(&pong);
        let e = caps.check_definition(&graph_with_a_secret()).unwrap_err();
        assert!(e.contains("`exec.mount.secret`"), "{e}");
        let plain = debian().run(["true"]).build().unwrap().root().marshal();
        assert_eq!(caps.check_definition(&plain), Ok(()), "no secret, no need");
    }
}
