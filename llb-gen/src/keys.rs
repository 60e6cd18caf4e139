//! Cache keys: the one place that decides what makes two builds "the same".
//!
//! A change here changes what BuildKit may serve from cache, so every input is listed with the
//! reason it is there, and a key change is a reviewed change (the golden tests pin the ids).
//!
//! # SDK identity — in every exec's environment and in every cache mount id
//! The SDK image's manifest digest for the target platform, as resolved at build time; when
//! dockerd serves the image from its local store it reports no manifest digest, and the image
//! id (the digest of its config) stands in. The identity is
//! * pinned into the image source (`docker-image://…@sha256:…`), so a moved tag is a new graph;
//! * put into every exec's environment as `CACHET_SDK=<identity>`, so every exec — and
//!   everything downstream of it — has a different BuildKit cache key when the SDK changes,
//!   even if the new image has the same rustc (a re-tagged SDK must rebuild);
//! * hashed into every target cache mount id, so a new SDK never starts from another SDK's
//!   `target/` (cargo's fingerprints do not see a changed linker or libc).
//!
//! # Target cache mount id — `cachet/<project>/<triple>/<profile>/<hash>`
//! The hash covers, in this order:
//! * `schema` — bumps invalidate every mount when the key model changes meaning;
//! * `sdk` — the SDK identity above;
//! * `platform` and `triple` — objects for one architecture must never be linked into another;
//! * `profile` — cargo keeps profiles apart, but a separate mount keeps their caches from
//!   evicting each other and makes "switch back" warm;
//! * `features` (sorted) and `default_features` — feature unification changes the compiled
//!   code of shared dependencies;
//! * `rustflags` — cargo does not rebuild everything on a RUSTFLAGS change in every version and
//!   never for flags smuggled through config; a separate mount is correct and makes reverting a
//!   flag a warm build;
//! * `env` — every variable the spec passes to cargo, its build scripts and C compilers
//!   (CFLAGS, CC, CARGO_PROFILE_*, or anything a build script reads without declaring
//!   `rerun-if-env-changed`): cargo cannot see undeclared reads, so the mount must.
//!
//! Distinct inputs give distinct mounts, so flipping an input and flipping it back returns to
//! a warm mount. The readable prefix lets a user find the mount in `docker buildx du`.
//!
//! # Cargo home — `cachet/cargo-home`
//! One shared mount for the registry index and downloaded crates. Its content is verified by
//! cargo against `Cargo.lock` checksums, so sharing it across projects and SDKs is safe.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Bump when the meaning of any key input changes.
pub const KEY_SCHEMA: &str = "cachet-key-v1";

/// Cache mount id of the shared cargo home.
pub const CARGO_HOME_CACHE_ID: &str = "cachet/cargo-home";

/// How many hex digits of a hash appear in ids and progress names.
const SHORT_HASH: usize = 12;

/// Everything a target cache mount is keyed on. See the module docs for why each is here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetKeyInputs {
    pub project: String,
    pub sdk: String,
    pub platform: String,
    pub triple: String,
    pub profile: String,
    pub features: Vec<String>,
    pub default_features: bool,
    pub rustflags: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// A computed target cache key: the full hash and the mount id built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetKey {
    pub hash: String,
    pub mount_id: String,
}

impl TargetKeyInputs {
    pub fn key(&self) -> TargetKey {
        #[derive(Serialize)]
        struct Hashed<'a> {
            schema: &'a str,
            #[serde(flatten)]
            inputs: &'a TargetKeyInputs,
        }
        let mut normalized = self.clone();
        normalized.features.sort();
        normalized.features.dedup();
        let hash = sha256_hex(&canonical_json(&Hashed {
            schema: KEY_SCHEMA,
            inputs: &normalized,
        }));
        let mount_id = format!(
            "cachet/{}/{}/{}/{}",
            self.project,
            self.triple,
            self.profile,
            &hash[..SHORT_HASH]
        );
        TargetKey { hash, mount_id }
    }
}

/// The short hash shown in a step's progress name: the step's own arguments plus the key of
/// the target cache it runs against.
pub fn step_tag(target_key: &TargetKey, args: &[String]) -> String {
    let hash = sha256_hex(&canonical_json(&(&target_key.hash, args)));
    hash[..6].to_string()
}

/// The SDK identity: the manifest digest when the engine reported one, otherwise the image id
/// (digest of the config bytes), which is what dockerd's local store knows the image by.
pub fn sdk_identity(manifest_digest: &str, config: &[u8]) -> String {
    if manifest_digest.is_empty() {
        format!("sha256:{}", sha256_hex(config))
    } else {
        manifest_digest.to_string()
    }
}

fn canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    // serde_json::Value objects are sorted maps; struct fields keep declaration order.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> TargetKeyInputs {
        TargetKeyInputs {
            project: "hello".into(),
            sdk: "sha256:1111".into(),
            platform: "linux/amd64".into(),
            triple: "x86_64-unknown-linux-gnu".into(),
            profile: "release".into(),
            features: vec!["tls".into()],
            default_features: true,
            rustflags: vec!["-C".into(), "target-cpu=x86-64-v2".into()],
            env: BTreeMap::from([("CFLAGS".into(), "-O2".into())]),
        }
    }

    #[test]
    fn mount_id_is_readable_and_stable() {
        let key = inputs().key();
        assert!(
            key.mount_id
                .starts_with("cachet/hello/x86_64-unknown-linux-gnu/release/"),
            "{}",
            key.mount_id
        );
        assert_eq!(key.mount_id.rsplit('/').next().unwrap().len(), SHORT_HASH);
        assert_eq!(key, inputs().key());
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = inputs().key();
        type Change = Box<dyn Fn(&mut TargetKeyInputs)>;
        let changes: Vec<(&str, Change)> = vec![
            ("project", Box::new(|i| i.project = "other".into())),
            ("sdk", Box::new(|i| i.sdk = "sha256:2222".into())),
            ("platform", Box::new(|i| i.platform = "linux/arm64".into())),
            (
                "triple",
                Box::new(|i| i.triple = "aarch64-unknown-linux-gnu".into()),
            ),
            ("profile", Box::new(|i| i.profile = "dev".into())),
            ("features", Box::new(|i| i.features.push("json".into()))),
            ("default_features", Box::new(|i| i.default_features = false)),
            (
                "rustflags",
                Box::new(|i| i.rustflags[1] = "target-cpu=native".into()),
            ),
            (
                "env value",
                Box::new(|i| {
                    i.env
                        .insert("CFLAGS".into(), "-O3".into())
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
            (
                "env name",
                Box::new(|i| {
                    i.env
                        .insert("CC".into(), "clang".into())
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
        ];
        for (what, change) in changes {
            let mut i = inputs();
            change(&mut i);
            assert_ne!(
                i.key().hash,
                base.hash,
                "changing {what} must change the key"
            );
        }
    }

    #[test]
    fn feature_order_and_duplicates_do_not_matter() {
        let mut a = inputs();
        a.features = vec!["b".into(), "a".into(), "a".into()];
        let mut b = inputs();
        b.features = vec!["a".into(), "b".into()];
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn reverting_an_input_returns_to_the_same_mount() {
        let mut i = inputs();
        let before = i.key();
        i.rustflags.push("-Dwarnings".into());
        assert_ne!(i.key(), before);
        i.rustflags.pop();
        assert_eq!(i.key(), before);
    }

    #[test]
    fn sdk_identity_prefers_the_manifest_digest() {
        assert_eq!(sdk_identity("sha256:abc", b"{}"), "sha256:abc");
        assert_eq!(
            sdk_identity("", b"{}"),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
