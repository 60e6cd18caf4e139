//! BuildKit capability ids.
//!
//! A daemon advertises the caps it supports in `Ping` (`LLBCaps` for LLB
//! features, `FrontendAPICaps` for gateway RPCs). Ops may also *list* caps
//! they rely on in `OpMetadata.caps`; a v0.8 daemon rejects an op whose list
//! contains an id it does not know, so the builder only ever records ids
//! from [`LLB_CAPS_V0_8`] (see [`record`]).

use std::collections::BTreeSet;

/// Every LLB cap id a BuildKit v0.8 daemon knows (moby 20.10's vendored
/// BuildKit). Spelling is upstream's, including the `soruce` typo.
pub const LLB_CAPS_V0_8: &[&str] = &[
    "source.image",
    "source.image.resolvemode",
    "source.local",
    "source.local.unique",
    "source.local.sessionid",
    "source.local.includepatterns",
    "source.local.followpaths",
    "source.local.excludepatterns",
    "source.local.sharedkeyhint",
    "source.git",
    "source.git.keepgitdir",
    "source.git.fullurl",
    "source.git.httpauth",
    "source.git.knownsshhosts",
    "source.git.mountsshsock",
    "source.http",
    "source.http.checksum",
    "source.http.perm",
    "soruce.http.uidgid",
    "source.buildop.llbfilename",
    "exec.meta.base",
    "exec.meta.proxyenv",
    "exec.meta.network",
    "exec.meta.security",
    "exec.meta.setsdefaultpath",
    "exec.mount.bind",
    "exec.mount.bind.readwrite-nooutput",
    "exec.mount.cache",
    "exec.mount.cache.sharing",
    "exec.mount.selector",
    "exec.mount.tmpfs",
    "exec.mount.secret",
    "exec.mount.ssh",
    "exec.cgroup",
    "file.base",
    "file.rm.wildcard",
    "constraints",
    "platform",
    "meta.ignorecache",
    "meta.description",
    "meta.exportcache",
];

/// LLB caps added after v0.8, with the release that introduced them. Use
/// these to gate features on what `Ping` reports; never record them in op
/// metadata.
pub const LLB_CAPS_LATER: &[(&str, &str)] = &[
    ("file.copy.includeexcludepatterns", "v0.9"),
    ("source.git.subdir", "v0.9"),
    ("source.local.differ", "v0.9"),
    ("exec.mount.tmpfs.size", "v0.10"),
    ("exec.secretenv", "v0.10"),
    ("exec.meta.ulimit", "v0.10"),
    ("exec.meta.cgroup.parent", "v0.10"),
    ("file.rm.nofollowsymlink", "v0.10"),
    ("mergeop", "v0.10"),
    ("diffop", "v0.10"),
    ("exec.mount.cache.content", "v0.13"),
    ("exec.validexitcode", "v0.17"),
    ("file.symlink.create", "v0.19"),
];

/// Gateway (frontend API) cap ids a v0.8 daemon advertises.
pub const GATEWAY_CAPS_V0_8: &[&str] = &[
    "solve.base",
    "solve.inlinereturn",
    "resolveimage",
    "resolveimage.resolvemode",
    "readfile",
    "return",
    "returnmap",
    "readdir",
    "statfile",
    "importcaches",
    "proto.refarray",
    "reference.output",
    "frontend.inputs",
    "gateway.solve.metadata",
    "gateway.exec",
    "frontend.caps",
    "gateway.solve.evaluate",
];

/// Gateway caps added after v0.8, with the release that introduced them.
pub const GATEWAY_CAPS_LATER: &[(&str, &str)] = &[
    ("gateway.exec.extrahosts", "v0.10"),
    ("gateway.exec.signals", "v0.10"),
    ("gateway.warnings", "v0.10"),
    ("gateway.evaluate", "v0.11"),
    ("reference.attestations", "v0.11"),
    ("source.metaresolver", "v0.13"),
    ("gateway.exec.filesystem", "v0.27"),
];

/// The oldest BuildKit release that knows a cap id, LLB or gateway: `v0.8` for every id of the
/// v0.8 tables (the oldest BuildKit Cachet supports), the release from the later tables
/// otherwise, `None` for an id neither table holds.
pub fn since(id: &str) -> Option<&'static str> {
    if LLB_CAPS_V0_8.contains(&id) || GATEWAY_CAPS_V0_8.contains(&id) {
        return Some("v0.8");
    }
    LLB_CAPS_LATER
        .iter()
        .chain(GATEWAY_CAPS_LATER)
        .find(|(cap, _)| *cap == id)
        .map(|(_, version)| *version)
}

/// True if a BuildKit v0.8 daemon knows this LLB cap id.
pub fn is_v0_8_llb_cap(id: &str) -> bool {
    LLB_CAPS_V0_8.contains(&id)
}

/// Adds `id` to an op's cap list if, and only if, v0.8 knows it.
///
/// Returns whether it was recorded. Listing caps is optional for the
/// daemon, so dropping a newer id loses nothing but an early error message.
pub fn record(caps: &mut BTreeSet<String>, id: &str) -> bool {
    if is_v0_8_llb_cap(id) {
        caps.insert(id.to_owned());
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_do_not_overlap() {
        for (id, _) in LLB_CAPS_LATER {
            assert!(!is_v0_8_llb_cap(id), "{id}");
        }
        for (id, _) in GATEWAY_CAPS_LATER {
            assert!(!GATEWAY_CAPS_V0_8.contains(id), "{id}");
        }
    }

    #[test]
    fn since_names_the_release_of_each_table() {
        assert_eq!(since("exec.mount.cache"), Some("v0.8"));
        assert_eq!(since("readfile"), Some("v0.8"));
        assert_eq!(since("exec.mount.tmpfs.size"), Some("v0.10"));
        assert_eq!(since("source.metaresolver"), Some("v0.13"));
        assert_eq!(since("no.such.cap"), None);
    }

    #[test]
    fn record_drops_later_caps() {
        let mut caps = BTreeSet::new();
        assert!(record(&mut caps, "exec.mount.cache"));
        assert!(!record(&mut caps, "exec.mount.tmpfs.size"));
        assert!(!record(&mut caps, "no.such.cap"));
        assert_eq!(caps.into_iter().collect::<Vec<_>>(), ["exec.mount.cache"]);
    }
}
