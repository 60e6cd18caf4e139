//! BuildKit capability ids: the one table of every cap Cachet knows, LLB and gateway, with the
//! release that introduced it and what it lets a client do.
//!
//! A daemon advertises the caps it supports in `Ping` (`LLBCaps` for LLB features,
//! `FrontendAPICaps` for gateway RPCs). Ops may also *list* the LLB caps they rely on in
//! `OpMetadata.caps`; a v0.8 daemon rejects an op whose list contains an id it does not know,
//! so the builder only ever records LLB ids a v0.8 daemon knows (see [`record`]). Caps added
//! later are in the table too, so a feature can be gated on what `Ping` reports and a missing
//! cap can name the release that has it; they are never recorded in op metadata.

use std::collections::BTreeSet;

/// Which list of `Ping` a cap is advertised in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapKind {
    /// `LLBCaps`: a feature of the LLB graph.
    Llb,
    /// `FrontendAPICaps`: a gateway call or field.
    Gateway,
}

impl CapKind {
    /// How messages name the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            CapKind::Llb => "LLB",
            CapKind::Gateway => "gateway",
        }
    }
}

/// One capability of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    /// The id, spelled as upstream spells it (including the `soruce` typo).
    pub id: &'static str,
    pub kind: CapKind,
    /// The oldest BuildKit release that knows it: `v0.8` (moby 20.10's vendored BuildKit, the
    /// oldest Cachet supports) or a later one.
    pub since: &'static str,
    /// What it lets a client do, as a missing-cap message says it.
    pub what: &'static str,
}

/// The oldest release Cachet supports: its caps are the ones ops may record.
pub const OLDEST: &str = "v0.8";

const fn llb(id: &'static str, since: &'static str, what: &'static str) -> Cap {
    Cap {
        id,
        kind: CapKind::Llb,
        since,
        what,
    }
}

const fn gateway(id: &'static str, since: &'static str, what: &'static str) -> Cap {
    Cap {
        id,
        kind: CapKind::Gateway,
        since,
        what,
    }
}

/// Every cap id Cachet knows of, LLB and gateway: one line each.
#[rustfmt::skip]
pub const CAPS: &[Cap] = &[
    llb("source.image", "v0.8", "image sources"),
    llb("source.image.resolvemode", "v0.8", "an image source's resolve mode (`--pull`)"),
    llb("source.local", "v0.8", "local directory sources (the build context)"),
    llb("source.local.unique", "v0.8", "a unique id per local transfer"),
    llb("source.local.sessionid", "v0.8", "a local transfer from a named session"),
    llb("source.local.includepatterns", "v0.8", "include patterns of a local transfer"),
    llb("source.local.followpaths", "v0.8", "follow paths of a local transfer"),
    llb("source.local.excludepatterns", "v0.8", "exclude patterns of a local transfer (`.dockerignore`)"),
    llb("source.local.sharedkeyhint", "v0.8", "a shared key hint of a local transfer"),
    llb("source.git", "v0.8", "git sources"),
    llb("source.git.keepgitdir", "v0.8", "keeping `.git` of a git source"),
    llb("source.git.fullurl", "v0.8", "full URLs for git sources"),
    llb("source.git.httpauth", "v0.8", "HTTP authentication for git sources"),
    llb("source.git.knownsshhosts", "v0.8", "known SSH hosts for git sources"),
    llb("source.git.mountsshsock", "v0.8", "an SSH agent for git sources"),
    llb("source.http", "v0.8", "HTTP sources"),
    llb("source.http.checksum", "v0.8", "a checksum for HTTP sources"),
    llb("source.http.perm", "v0.8", "file permissions of HTTP sources"),
    llb("soruce.http.uidgid", "v0.8", "file ownership of HTTP sources"),
    llb("source.buildop.llbfilename", "v0.8", "build ops"),
    llb("exec.meta.base", "v0.8", "running commands"),
    llb("exec.meta.proxyenv", "v0.8", "proxy settings of a command (the `HTTP_PROXY` build arguments)"),
    llb("exec.meta.network", "v0.8", "a command's network mode (`--network`, or none for hermetic steps)"),
    llb("exec.meta.security", "v0.8", "a command's security mode"),
    llb("exec.meta.setsdefaultpath", "v0.8", "a default `PATH` for commands"),
    llb("exec.mount.bind", "v0.8", "bind mounts"),
    llb("exec.mount.bind.readwrite-nooutput", "v0.8", "writable bind mounts without an output"),
    llb("exec.mount.cache", "v0.8", "cache mounts (warm `target/` directories)"),
    llb("exec.mount.cache.sharing", "v0.8", "the sharing mode of cache mounts"),
    llb("exec.mount.selector", "v0.8", "mounting a subdirectory of a state"),
    llb("exec.mount.tmpfs", "v0.8", "tmpfs mounts"),
    llb("exec.mount.secret", "v0.8", "secret mounts (`--secret`, registry tokens)"),
    llb("exec.mount.ssh", "v0.8", "SSH agent mounts (`--ssh`)"),
    llb("exec.cgroup", "v0.8", "cgroup settings of a command"),
    llb("file.base", "v0.8", "file operations (copy, mkdir, mkfile, rm)"),
    llb("file.rm.wildcard", "v0.8", "wildcards in file removals"),
    llb("constraints", "v0.8", "op constraints"),
    llb("platform", "v0.8", "per-op platforms"),
    llb("meta.ignorecache", "v0.8", "ignoring the cache for an op (`--no-cache`)"),
    llb("meta.description", "v0.8", "progress names of ops"),
    llb("meta.exportcache", "v0.8", "per-op cache export"),
    llb("file.copy.includeexcludepatterns", "v0.9", "include and exclude patterns of a copy"),
    llb("source.git.subdir", "v0.9", "a subdirectory of a git source"),
    llb("source.local.differ", "v0.9", "choosing how a local transfer detects changes"),
    llb("exec.mount.tmpfs.size", "v0.10", "the size of tmpfs mounts"),
    llb("exec.secretenv", "v0.10", "secrets as environment variables"),
    llb("exec.meta.ulimit", "v0.10", "ulimits of a command"),
    llb("exec.meta.cgroup.parent", "v0.10", "the parent cgroup of a command"),
    llb("file.rm.nofollowsymlink", "v0.10", "removals that do not follow symlinks"),
    llb("mergeop", "v0.10", "merge ops"),
    llb("diffop", "v0.10", "diff ops"),
    llb("exec.mount.cache.content", "v0.13", "cache mounts seeded from a state"),
    llb("exec.validexitcode", "v0.17", "accepted exit codes of a command"),
    llb("file.symlink.create", "v0.19", "creating symlinks"),
    gateway("solve.base", "v0.8", "solving LLB"),
    gateway("solve.inlinereturn", "v0.8", "solving without a separate return"),
    gateway("resolveimage", "v0.8", "resolving image configs"),
    gateway("resolveimage.resolvemode", "v0.8", "a resolve mode when resolving images (`--pull`)"),
    gateway("readfile", "v0.8", "reading files of a solved result (the spec, the manifests)"),
    gateway("return", "v0.8", "returning a result"),
    gateway("returnmap", "v0.8", "returning a map of results"),
    gateway("readdir", "v0.8", "listing directories of a solved result"),
    gateway("statfile", "v0.8", "reading file metadata of a solved result"),
    gateway("importcaches", "v0.8", "importing a build cache (`--cache-from`)"),
    gateway("proto.refarray", "v0.8", "results as reference arrays"),
    gateway("reference.output", "v0.8", "solved references as outputs"),
    gateway("frontend.inputs", "v0.8", "frontend inputs"),
    gateway("gateway.solve.metadata", "v0.8", "solve metadata"),
    gateway("gateway.exec", "v0.8", "running containers from the gateway"),
    gateway("frontend.caps", "v0.8", "frontend caps"),
    gateway("gateway.solve.evaluate", "v0.8", "evaluating a solve"),
    gateway("gateway.exec.extrahosts", "v0.10", "extra hosts of gateway containers"),
    gateway("gateway.exec.signals", "v0.10", "signals to gateway containers"),
    gateway("gateway.warnings", "v0.10", "build warnings"),
    gateway("gateway.evaluate", "v0.11", "evaluating a result"),
    gateway("reference.attestations", "v0.11", "attestations returned with a result (`--sbom`)"),
    gateway("source.metaresolver", "v0.13", "resolving source metadata"),
    gateway("gateway.exec.filesystem", "v0.27", "filesystem access of gateway containers"),
];

/// The table's entry for `id`, LLB or gateway (no id is both).
pub fn find(id: &str) -> Option<&'static Cap> {
    CAPS.iter().find(|cap| cap.id == id)
}

/// The caps of `kind` a daemon of the oldest supported release ([`OLDEST`]) advertises.
pub fn oldest(kind: CapKind) -> impl Iterator<Item = &'static str> {
    CAPS.iter()
        .filter(move |cap| cap.kind == kind && cap.since == OLDEST)
        .map(|cap| cap.id)
}

/// The oldest BuildKit release that knows a cap id, LLB or gateway; `None` for an id the
/// table does not hold.
pub fn since(id: &str) -> Option<&'static str> {
    find(id).map(|cap| cap.since)
}

/// True if a BuildKit v0.8 daemon knows this LLB cap id.
pub fn is_v0_8_llb_cap(id: &str) -> bool {
    find(id).is_some_and(|cap| cap.kind == CapKind::Llb && cap.since == OLDEST)
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
    fn every_id_is_in_the_table_once() {
        let mut seen = BTreeSet::new();
        for cap in CAPS {
            assert!(seen.insert(cap.id), "{} twice", cap.id);
            assert!(cap.since.starts_with("v0."), "{}: {}", cap.id, cap.since);
            assert!(!cap.what.is_empty(), "{}", cap.id);
        }
    }

    #[test]
    fn the_oldest_release_has_buildkit_v0_8s_lists() {
        // The counts of moby 20.10's vendored BuildKit (`solver/pb/caps.go`,
        // `frontend/gateway/pb/caps.go`).
        assert_eq!(oldest(CapKind::Llb).count(), 41);
        assert_eq!(oldest(CapKind::Gateway).count(), 17);
        assert!(oldest(CapKind::Llb).any(|id| id == "soruce.http.uidgid"));
        assert!(oldest(CapKind::Gateway).all(|id| !is_v0_8_llb_cap(id)));
    }

    #[test]
    fn since_names_the_release_of_each_cap() {
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
        assert!(!record(&mut caps, "readfile"), "a gateway cap is no op cap");
        assert!(!record(&mut caps, "no.such.cap"));
        assert_eq!(caps.into_iter().collect::<Vec<_>>(), ["exec.mount.cache"]);
    }
}
