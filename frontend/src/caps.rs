//! Capability negotiation: what Cachet needs from the BuildKit it talks to.
//!
//! `Ping` lists the gateway and LLB capabilities the daemon has. We check them before doing any
//! work, so an old daemon fails with the name of the missing capability and the BuildKit version
//! that brought it, instead of with an obscure solver error halfway through a build.

use std::collections::BTreeSet;

use llb_gen::proto::apicaps::ApiCap;
use llb_gen::proto::gateway::PongResponse;

/// Gateway capabilities every build needs, with the BuildKit version that added them.
const GATEWAY_CAPS: &[(&str, &str)] = &[
    ("solve.base", "v0.5"),
    ("solve.inlinereturn", "v0.5"),
    ("resolveimage", "v0.5"),
    ("resolveimage.resolvemode", "v0.5"),
    ("readfile", "v0.5"),
    ("readdir", "v0.5"),
    ("return", "v0.5"),
];

/// Needed only when the build imports a cache (`--cache-from`).
pub const CAP_IMPORT_CACHES: (&str, &str) = ("importcaches", "v0.6");

/// LLB capabilities the graphs Cachet emits rely on.
const LLB_CAPS: &[(&str, &str)] = &[
    ("source.image", "v0.5"),
    ("source.local", "v0.5"),
    ("source.local.sessionid", "v0.5"),
    ("source.local.followpaths", "v0.5"),
    ("source.local.includepatterns", "v0.5"),
    ("source.local.excludepatterns", "v0.5"),
    ("source.local.sharedkeyhint", "v0.5"),
    ("exec.meta.base", "v0.5"),
    ("exec.meta.network", "v0.5"),
    ("exec.mount.bind", "v0.5"),
    ("exec.mount.selector", "v0.5"),
    ("exec.mount.cache", "v0.5"),
    ("exec.mount.cache.sharing", "v0.5"),
    ("exec.mount.tmpfs", "v0.5"),
    ("file.base", "v0.5"),
    ("constraints", "v0.5"),
    ("platform", "v0.5"),
    ("meta.description", "v0.5"),
    ("meta.ignorecache", "v0.5"),
];

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

    /// Checks everything a build needs; `importing_cache` adds the cache-import capability.
    pub fn check(&self, importing_cache: bool) -> Result<(), String> {
        let extra = importing_cache.then_some(CAP_IMPORT_CACHES);
        for (id, since) in GATEWAY_CAPS.iter().copied().chain(extra) {
            if !self.gateway.contains(id) {
                return Err(missing("gateway", id, since));
            }
        }
        for (id, since) in LLB_CAPS {
            if !self.llb.contains(*id) {
                return Err(missing("LLB", id, since));
            }
        }
        Ok(())
    }
}

/// LLB capabilities only some specs need: fetch secrets and SSH forwarding.
pub const CAP_SECRET_MOUNT: (&str, &str) = ("exec.mount.secret", "v0.5");
pub const CAP_SSH_MOUNT: (&str, &str) = ("exec.mount.ssh", "v0.5");

impl Caps {
    /// Checks one LLB capability a spec's settings need.
    pub fn check_llb(&self, (id, since): (&str, &str)) -> Result<(), String> {
        if self.llb.contains(id) {
            Ok(())
        } else {
            Err(missing("LLB", id, since))
        }
    }
}

fn missing(kind: &str, id: &str, since: &str) -> String {
    format!(
        "this BuildKit lacks the {kind} capability `{id}`, which Cachet needs; \
         use BuildKit {since} or newer (Docker 20.10+ or a current buildx builder)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(id: &str, enabled: bool) -> ApiCap {
        ApiCap {
            id: id.into(),
            enabled,
            ..Default::default()
        }
    }

    fn full_pong() -> PongResponse {
        PongResponse {
            frontend_api_caps: GATEWAY_CAPS
                .iter()
                .chain([&CAP_IMPORT_CACHES])
                .map(|(id, _)| cap(id, true))
                .collect(),
            llb_caps: LLB_CAPS.iter().map(|(id, _)| cap(id, true)).collect(),
            workers: vec![],
        }
    }

    #[test]
    fn a_complete_daemon_passes() {
        assert_eq!(Caps::from_pong(&full_pong()).check(true), Ok(()));
    }

    #[test]
    fn a_missing_or_disabled_cap_is_named_with_its_version() {
        let mut pong = full_pong();
        pong.llb_caps.retain(|c| c.id != "exec.mount.cache");
        let e = Caps::from_pong(&pong).check(false).unwrap_err();
        assert!(
            e.contains("`exec.mount.cache`") && e.contains("v0.5"),
            "{e}"
        );

        let mut pong = full_pong();
        pong.frontend_api_caps.retain(|c| c.id != "importcaches");
        pong.frontend_api_caps.push(cap("importcaches", false));
        assert!(
            Caps::from_pong(&pong).check(false).is_ok(),
            "not needed without --cache-from"
        );
        let e = Caps::from_pong(&pong).check(true).unwrap_err();
        assert!(e.contains("`importcaches`") && e.contains("v0.6"), "{e}");
    }
}
