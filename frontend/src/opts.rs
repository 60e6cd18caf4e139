//! The options BuildKit hands the frontend (`BUILDKIT_FRONTEND_OPT_<n>=key=value`), decoded into
//! one typed value.
//!
//! Every key docker or buildx may send falls in one of three groups: handled here, harmless to
//! ignore (said why, next to the key), or not supported yet — which is an error naming the key,
//! because silently dropping, say, `add-hosts` would build something the user did not ask for.

use std::collections::BTreeMap;
use std::ffi::OsString;

use llb_gen::compile::NoCache;
use llb_gen::llb::{NetMode, Platform, ResolveMode};
use serde::Deserialize;

/// Spec file name when neither docker nor buildx sends `filename`.
pub const DEFAULT_SPEC_FILE: &str = "Cachet.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontendOpts {
    /// Spec file name inside the spec local.
    pub filename: String,
    /// Name of the local that holds the spec file (`dockerfile` unless `dockerfilekey`).
    pub spec_local: String,
    /// Name of the build context local (`context` unless `contextkey`).
    pub context_local: String,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Requested target platforms (`--platform a,b`), in order, without repeats; empty for the
    /// worker's own.
    pub platforms: Vec<Platform>,
    /// `multi-platform=true`: the result is a platform map even for one platform (buildx sends
    /// it for a platform list; an exporter then writes an index or per-platform directories).
    pub multi_platform: bool,
    /// `--no-cache` (every target) or `--no-cache-filter a,b`.
    pub no_cache: NoCache,
    pub cache_imports: Vec<CacheImport>,
    /// `--network`, forced on every step when given.
    pub network: Option<NetMode>,
    /// `--pull` / `image-resolve-mode`.
    pub image_resolve_mode: ResolveMode,
    /// A subrequest instead of a build (`requestid`, sent by `docker buildx build --call
    /// NAME` as `frontend.NAME`); answered by `crate::subrequest`.
    pub request: Option<String>,
    /// `local-sessionid:<local>`: the session that serves that local when it is not the
    /// build's own. `docker buildx bake` sends it when several targets read the same
    /// directory, so one session serves it to all of them.
    pub local_sessions: BTreeMap<String, String>,
    /// The frontend's own image reference (opt `source`): cargo steps mount `cachet-helper`
    /// from it.
    pub source: Option<String>,
    /// Named build contexts (`--build-context NAME=docker-image://REF`, bake's `contexts`,
    /// sent as `context:NAME`): NAME → the image reference that replaces the spec's image
    /// NAME (see [`FrontendOpts::named_image`]).
    pub named_images: BTreeMap<String, String>,
    /// `--sbom=true` (`attest:sbom`, or `build-arg:BUILDKIT_ATTEST_SBOM` as BuildKit also
    /// reads it): Cachet returns the SPDX document itself (see `crate::attest`).
    pub sbom: bool,
    /// `build-arg:SOURCE_DATE_EPOCH`, checked (see `compile::source_date_epoch`).
    pub source_date_epoch: Option<i64>,
    /// `vcs:source`: the repository buildx found the context in (`git remote` URL).
    pub vcs_source: Option<String>,
    /// `vcs:revision`: the commit of the context.
    pub vcs_revision: Option<String>,
    /// Directory named contexts (`--build-context NAME=DIR`, sent as `context:NAME=local:LOCAL`):
    /// NAME → the local that holds it (its session: [`FrontendOpts::session_for`]). The spec's
    /// `[contexts]` says where cargo sees each.
    pub named_locals: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CacheImport {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Attrs", default)]
    pub attrs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptsError {
    #[error("malformed frontend option {0:?}: expected key=value")]
    Malformed(String),
    #[error("frontend option {0:?} is not UTF-8 text")]
    NotUtf8(String),
    #[error("frontend option `{key}` is not supported by Cachet yet{hint}")]
    Unsupported { key: String, hint: String },
    #[error("frontend option `{key}={value}`: {problem}")]
    Invalid {
        key: String,
        value: String,
        problem: String,
    },
}

impl FrontendOpts {
    /// Whether the build's layer cache travels between builders: it imports a cache
    /// (`--cache-from`) or writes inline cache (`--build-arg BUILDKIT_INLINE_CACHE=1`, read
    /// the way BuildKit reads it: Go's boolean spellings).
    pub fn cache_travels(&self) -> bool {
        let inline = self
            .build_args
            .get("BUILDKIT_INLINE_CACHE")
            .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"));
        inline || !self.cache_imports.is_empty()
    }

    /// The session serving the local `local`: the one buildx named for it, else `build`'s.
    pub fn session_for(&self, local: &str, build: &str) -> String {
        self.local_sessions
            .get(local)
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| build.to_string())
    }

    /// The image a `docker-image://` named context puts in place of the spec's `image`
    /// ([`llb_gen::compile::named_image`]).
    pub fn named_image(&self, image: &str) -> Option<&str> {
        llb_gen::compile::named_image(&self.named_images, image)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<FrontendOpts, OptsError> {
        FrontendOpts::from_vars(std::env::vars_os())
    }

    /// Decodes the `BUILDKIT_FRONTEND_OPT_<n>` entries of an environment (name, value pairs
    /// in any order); every other variable is ignored, whatever its bytes. Pure, so the fuzz
    /// harness can feed it what a process environment may hold: a value that is not UTF-8
    /// (`--build-arg X=$'\xff'` reaches us as such a variable) is an error naming the
    /// option, where `std::env::vars` would panic.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<FrontendOpts, OptsError> {
        let mut values = Vec::new();
        for (key, value) in vars {
            if !key
                .as_encoded_bytes()
                .starts_with(b"BUILDKIT_FRONTEND_OPT_")
            {
                continue;
            }
            match value.into_string() {
                Ok(v) => values.push(v),
                Err(v) => {
                    return Err(OptsError::NotUtf8(v.to_string_lossy().into_owned()));
                }
            }
        }
        FrontendOpts::parse(values)
    }

    /// Decodes `key=value` strings (split at the first `=`), in any order.
    pub fn parse(values: impl IntoIterator<Item = String>) -> Result<FrontendOpts, OptsError> {
        let mut pairs = BTreeMap::new();
        for v in values {
            let (k, val) = v
                .split_once('=')
                .ok_or_else(|| OptsError::Malformed(v.clone()))?;
            pairs.insert(k.to_string(), val.to_string());
        }
        let mut opts = FrontendOpts {
            filename: DEFAULT_SPEC_FILE.into(),
            spec_local: "dockerfile".into(),
            context_local: "context".into(),
            ..Default::default()
        };
        for (key, value) in pairs {
            opts.apply(&key, value)?;
        }
        Ok(opts)
    }

    fn apply(&mut self, key: &str, value: String) -> Result<(), OptsError> {
        let invalid = |problem: &str| OptsError::Invalid {
            key: key.into(),
            value: value.clone(),
            problem: problem.into(),
        };
        let unsupported = |hint: &str| {
            Err(OptsError::Unsupported {
                key: key.into(),
                hint: if hint.is_empty() {
                    String::new()
                } else {
                    format!(": {hint}")
                },
            })
        };
        if let Some(name) = key.strip_prefix("build-arg:") {
            self.sbom |= name == "BUILDKIT_ATTEST_SBOM";
            if name == llb_gen::compile::SOURCE_DATE_EPOCH {
                let args = BTreeMap::from([(name.to_string(), value.clone())]);
                self.source_date_epoch =
                    llb_gen::compile::source_date_epoch(&args).map_err(|e| invalid(&e))?;
            }
            self.build_args.insert(name.to_string(), value);
            return Ok(());
        }
        if let Some(name) = key.strip_prefix("label:") {
            self.labels.insert(name.to_string(), value);
            return Ok(());
        }
        // The SBOM is Cachet's to return (BuildKit's scanner then skips the result).
        if key == "attest:sbom" {
            self.sbom = true;
            return Ok(());
        }
        // The repository and commit of the context (buildx sends them for a git work tree):
        // they become the image's `org.opencontainers.image.source`/`revision` labels.
        match key {
            "vcs:source" => {
                self.vcs_source = Some(value).filter(|v| !v.is_empty());
                return Ok(());
            }
            "vcs:revision" => {
                self.vcs_revision = Some(value).filter(|v| !v.is_empty());
                return Ok(());
            }
            _ => {}
        }
        // Provenance is produced by the solver from the result, not by the frontend; the other
        // `vcs:*` (`vcs:localdir:<name>`, the context's directory in the repository) only feed
        // it.
        if key.starts_with("attest:") || key.starts_with("vcs:") {
            return Ok(());
        }
        if let Some(local) = key.strip_prefix("local-sessionid:") {
            self.local_sessions.insert(local.to_string(), value);
            return Ok(());
        }
        // buildx's transfer hint for a directory context (its basename): Cachet keys every
        // transfer on the session instead, so an edit is never skipped as unchanged.
        if key.starts_with("sharedkey:localdir:") {
            return Ok(());
        }
        if let Some(name) = key.strip_prefix("context:") {
            if let Some(local) = value.strip_prefix("local:") {
                if local.is_empty() {
                    return Err(invalid(
                        "expected `local:NAME`, the local that holds the directory",
                    ));
                }
                self.named_locals
                    .insert(name.to_string(), local.to_string());
                return Ok(());
            }
            // As moby/buildkit's dockerui reads it: `<scheme>:<rest>`, `//` optional.
            let image = value
                .strip_prefix("docker-image:")
                .map(|r| r.trim_start_matches("//"))
                .filter(|r| !r.is_empty());
            let Some(image) = image else {
                return unsupported(
                    "Cachet takes `docker-image://REF` named contexts (which replace `[sdk] \
                     image` or an image target's `from` of that name) and directories (mapped \
                     by the spec's `[contexts]`); git, http, oci-layout and `target:` contexts \
                     are not supported yet",
                );
            };
            llb_gen::llb::ImageRef::parse(image).map_err(|e| invalid(&e.to_string()))?;
            self.named_images
                .insert(name.to_string(), image.to_string());
            return Ok(());
        }
        if key.starts_with("input:") || key.starts_with("input-metadata:") {
            return unsupported(
                "named contexts from another build's result (bake's `target:` contexts)",
            );
        }
        match key {
            "filename" => {
                // docker sends the basename of -f; buildx may send a path inside the local.
                if value.is_empty() {
                    return Err(invalid("expected a file name"));
                }
                self.filename = value;
            }
            "dockerfilekey" => self.spec_local = value,
            "contextkey" => self.context_local = value,
            "target" => self.target = Some(value).filter(|v| !v.is_empty()),
            "platform" => {
                let platforms: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                self.platforms.clear();
                for one in platforms {
                    let platform = Platform::parse(one).map_err(|e| invalid(&e.to_string()))?;
                    if !self.platforms.contains(&platform) {
                        self.platforms.push(platform);
                    }
                }
            }
            "no-cache" => {
                self.no_cache = if value.is_empty() {
                    NoCache::All
                } else {
                    NoCache::Targets(value.split(',').map(|s| s.trim().to_string()).collect())
                };
            }
            "cache-from" => {
                for r in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    self.cache_imports.push(CacheImport {
                        kind: "registry".into(),
                        attrs: BTreeMap::from([("ref".to_string(), r.to_string())]),
                    });
                }
            }
            "cache-imports" => {
                if !value.trim().is_empty() {
                    let imports: Vec<CacheImport> = serde_json::from_str(&value).map_err(|e| {
                        invalid(&format!("expected a JSON list of cache imports: {e}"))
                    })?;
                    self.cache_imports.extend(imports);
                }
            }
            "force-network-mode" => {
                self.network = match value.as_str() {
                    "" => None,
                    name => Some(
                        NetMode::parse(name)
                            .ok_or_else(|| invalid("expected sandbox, host or none"))?,
                    ),
                };
            }
            "image-resolve-mode" if value.is_empty() => {}
            "image-resolve-mode" => {
                self.image_resolve_mode = ResolveMode::parse(&value)
                    .ok_or_else(|| invalid("expected default, pull or local"))?;
            }
            // The frontend's own reference: the image cargo steps mount `cachet-helper` from.
            "source" => self.source = Some(value).filter(|v| !v.trim().is_empty()),
            // The directive line; the syntax line already chose us.
            "cmdline" => {}
            // Required frontend caps are checked by BuildKit against our image label before we
            // start; nothing is left for us to do.
            "frontend.caps" => {}
            // A platform map result even for one platform (`build::build`).
            "multi-platform" => self.multi_platform = value == "true",
            // dockerd always sends these, usually empty.
            "add-hosts" | "hostname" | "contextsubdir" | "shm-size" | "ulimit"
            | "cgroup-parent"
                if value.is_empty() => {}
            "add-hosts" | "hostname" | "contextsubdir" | "shm-size" | "ulimit"
            | "cgroup-parent" => return unsupported(""),
            // Present only for a remote (git/http/tarball) build context.
            "context" => return unsupported("the build context must be a local directory"),
            "requestid" => self.request = Some(value).filter(|v| !v.is_empty()),
            _ => return unsupported(""),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[&str]) -> Result<FrontendOpts, OptsError> {
        FrontendOpts::parse(pairs.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_match_docker_conventions() {
        let o = parse(&["source=cachet/frontend:dev", "cmdline=cachet/frontend:dev"]).unwrap();
        assert_eq!(o.filename, "Cachet.toml");
        assert_eq!(o.spec_local, "dockerfile");
        assert_eq!(o.context_local, "context");
        assert_eq!(o.no_cache, NoCache::Off);
        assert_eq!(
            o.source.as_deref(),
            Some("cachet/frontend:dev"),
            "the frontend's own image: cargo steps mount cachet-helper from it"
        );
        assert_eq!(parse(&["source="]).unwrap().source, None);
    }

    #[test]
    fn docker_image_named_contexts_replace_images_by_name() {
        let o = parse(&[
            "context:cachet-sdk:rustup=docker-image://cachet-sdk:debian",
            "context:docker.io/library/base:1=docker-image:other:2",
        ])
        .unwrap();
        assert_eq!(
            o.named_image("cachet-sdk:rustup"),
            Some("cachet-sdk:debian")
        );
        assert_eq!(
            o.named_image("docker.io/library/cachet-sdk:rustup"),
            Some("cachet-sdk:debian")
        );
        assert_eq!(o.named_image("base:1"), Some("other:2"));
        assert_eq!(o.named_image("cachet-sdk:debian"), None);
        for other in ["context:x=target:build", "input:x=y"] {
            let e = parse(&[other]).unwrap_err().to_string();
            assert!(e.contains("not supported by Cachet yet"), "{other}: {e}");
        }
    }

    #[test]
    fn directory_named_contexts_are_locals_by_name() {
        let o = parse(&[
            "context:shared=local:shared",
            "context:proto=local:_proto",
            "sharedkey:localdir:shared=shared-lib:node0",
            "local-sessionid:_proto=other",
        ])
        .unwrap();
        assert_eq!(o.named_locals["shared"], "shared");
        assert_eq!(o.named_locals["proto"], "_proto");
        assert_eq!(o.session_for(&o.named_locals["proto"], "own"), "other");
        assert_eq!(o.session_for(&o.named_locals["shared"], "own"), "own");
        assert!(o.named_images.is_empty());
        let e = parse(&["context:shared=local:"]).unwrap_err().to_string();
        assert!(e.contains("expected `local:NAME`"), "{e}");
    }

    #[test]
    fn values_split_at_the_first_equals_sign() {
        let o = parse(&[
            "build-arg:FLAGS=-C opt-level=3",
            "label:a=b=c",
            "vcs:localdir:context=.",
        ])
        .unwrap();
        assert_eq!(o.build_args["FLAGS"], "-C opt-level=3");
        assert_eq!(o.labels["a"], "b=c");
    }

    #[test]
    fn values_are_parsed_once_into_the_compilers_types() {
        let o = parse(&[
            "platform=linux/arm64/v8",
            "image-resolve-mode=pull",
            "force-network-mode=host",
            "no-cache=build, test",
        ])
        .unwrap();
        assert_eq!(o.platforms, [Platform::parse("linux/arm64/v8").unwrap()]);
        assert_eq!(o.image_resolve_mode, ResolveMode::ForcePull);
        assert_eq!(o.network, Some(NetMode::Host));
        assert_eq!(
            o.no_cache,
            NoCache::Targets(["build".to_string(), "test".to_string()].into())
        );
        assert_eq!(parse(&[]).unwrap().image_resolve_mode, ResolveMode::Default);
        let e = parse(&["platform=linux"]).unwrap_err().to_string();
        assert!(e.contains("`platform=linux`"), "{e}");
        assert!(parse(&["force-network-mode=bridge"]).is_err());
    }

    #[test]
    fn vcs_and_source_date_epoch_are_read() {
        let o = parse(&[
            "vcs:source=https://example.invalid/app.git",
            "vcs:revision=0123abcd",
            "vcs:localdir:context=.",
            "build-arg:SOURCE_DATE_EPOCH=1700000000",
        ])
        .unwrap();
        assert_eq!(
            o.vcs_source.as_deref(),
            Some("https://example.invalid/app.git")
        );
        assert_eq!(o.vcs_revision.as_deref(), Some("0123abcd"));
        assert_eq!(o.source_date_epoch, Some(1_700_000_000));
        assert_eq!(o.build_args["SOURCE_DATE_EPOCH"], "1700000000");
        let none = parse(&["build-arg:SOURCE_DATE_EPOCH=", "vcs:source="]).unwrap();
        assert_eq!((none.source_date_epoch, none.vcs_source), (None, None));
        let e = parse(&["build-arg:SOURCE_DATE_EPOCH=yesterday"]).unwrap_err();
        assert!(e.to_string().contains("whole seconds"), "{e}");
    }

    #[test]
    fn dockerd_style_opts() {
        let o = parse(&[
            "filename=Cachet.toml",
            "target=image",
            "no-cache=",
            "cache-from=127.0.0.1:5050/cache:a,127.0.0.1:5050/cache:b",
            "add-hosts=",
            "image-resolve-mode=default",
            "force-network-mode=none",
        ])
        .unwrap();
        assert_eq!(o.target.as_deref(), Some("image"));
        assert_eq!(o.no_cache, NoCache::All);
        assert_eq!(o.cache_imports.len(), 2);
        assert_eq!(o.cache_imports[1].attrs["ref"], "127.0.0.1:5050/cache:b");
        assert_eq!(o.network, Some(NetMode::None));
    }

    #[test]
    fn a_cache_travels_when_imported_or_written_inline() {
        assert!(!parse(&[]).unwrap().cache_travels());
        assert!(!parse(&["cache-from="]).unwrap().cache_travels());
        assert!(parse(&["cache-from=127.0.0.1:5050/cache:a"])
            .unwrap()
            .cache_travels());
        assert!(parse(&["build-arg:BUILDKIT_INLINE_CACHE=1"])
            .unwrap()
            .cache_travels());
        assert!(!parse(&["build-arg:BUILDKIT_INLINE_CACHE=0"])
            .unwrap()
            .cache_travels());
        assert!(
            parse(&[r#"cache-imports=[{"Type":"registry","Attrs":{"ref":"r/c:1"}}]"#])
                .unwrap()
                .cache_travels()
        );
    }

    #[test]
    fn buildx_cache_imports_are_json() {
        let o =
            parse(&[r#"cache-imports=[{"Type":"registry","Attrs":{"ref":"r/c:1","mode":"max"}}]"#])
                .unwrap();
        assert_eq!(o.cache_imports[0].kind, "registry");
        assert_eq!(o.cache_imports[0].attrs["mode"], "max");
        assert!(matches!(
            parse(&["cache-imports=[{"]),
            Err(OptsError::Invalid { .. })
        ));
    }

    #[test]
    fn no_cache_filter_names_targets() {
        let o = parse(&["no-cache=build,test"]).unwrap();
        assert_eq!(
            o.no_cache,
            NoCache::Targets(["build".to_string(), "test".to_string()].into())
        );
    }

    #[test]
    fn only_frontend_opt_variables_are_read_and_bytes_are_no_panic() {
        use std::os::unix::ffi::OsStringExt;
        let var = |k: &str, v: &[u8]| (OsString::from(k), OsString::from_vec(v.to_vec()));
        let o = FrontendOpts::from_vars([
            var("BUILDKIT_FRONTEND_OPT_0", b"target=image"),
            var("HOME", b"/\xff"),
            var("BUILDKIT_FRONTEND_OPT_1", b"build-arg:A=1"),
        ])
        .unwrap();
        assert_eq!(o.target.as_deref(), Some("image"));
        assert_eq!(o.build_args["A"], "1");
        let e = FrontendOpts::from_vars([var("BUILDKIT_FRONTEND_OPT_0", b"build-arg:A=\xff")])
            .unwrap_err();
        assert!(matches!(e, OptsError::NotUtf8(_)), "{e}");
    }

    #[test]
    fn a_requestid_asks_for_a_subrequest_instead_of_a_build() {
        let o = parse(&["requestid=frontend.outline", "target=build"]).unwrap();
        assert_eq!(o.request.as_deref(), Some("frontend.outline"));
        assert_eq!(parse(&["requestid="]).unwrap().request, None);
        assert_eq!(parse(&[]).unwrap().request, None);
    }

    #[test]
    fn a_shared_session_serves_the_local_it_names() {
        let o = parse(&["local-sessionid:context=shared", "local-sessionid:other="]).unwrap();
        assert_eq!(o.session_for("context", "own"), "shared");
        assert_eq!(o.session_for("dockerfile", "own"), "own");
        assert_eq!(o.session_for("other", "own"), "own");
    }

    #[test]
    fn unsupported_opts_are_errors_that_name_the_key() {
        let e = parse(&["add-hosts=db=10.0.0.1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "frontend option `add-hosts` is not supported by Cachet yet"
        );
        let e = parse(&["context=https://example.invalid/repo.git"]).unwrap_err();
        assert!(e.to_string().contains("must be a local directory"), "{e}");
        let e = parse(&["something-new=1"]).unwrap_err();
        assert!(e.to_string().contains("`something-new`"), "{e}");
        let two = parse(&[
            "platform=linux/amd64, linux/arm64,linux/amd64",
            "multi-platform=true",
        ])
        .unwrap();
        assert_eq!(
            two.platforms,
            [Platform::linux_amd64(), Platform::linux_arm64()]
        );
        assert!(two.multi_platform);
        assert!(!parse(&["multi-platform=false"]).unwrap().multi_platform);
        assert!(parse(&["platform=linux/amd64,linux"]).is_err());
        assert!(parse(&["nonsense"]).is_err());
    }
}
