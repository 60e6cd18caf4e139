//! The frontend's side of attestations and provenance facts: reading `rustc -vV` of the SDK
//! (the toolchain probe, once per SDK thanks to BuildKit's cache) and returning the SBOM
//! Cachet planned as an attestation of the result.
//!
//! BuildKit's SBOM processor runs its scanner image over the result only when the result
//! carries no SPDX attestation (`sbom.HasSBOM`: any attestation whose in-toto predicate type
//! is `https://spdx.dev/Document`). So for `--sbom=true` Cachet returns its own: an `InToto`
//! attestation whose `ref` is the solved one-file state of the document and `path` the file,
//! keyed by platform id. Returning attestations needs the gateway cap
//! `reference.attestations`; no frontend image label is involved (buildx asks for no frontend
//! cap for `--sbom`).

use std::collections::BTreeMap;

use llb_gen::compile::{self, BuildRequest};
use llb_gen::llb::Platform;
use llb_gen::proto::gateway as gw;
use llb_gen::sbom;
use llb_gen::spec::Spec;

use crate::caps::Caps;
use crate::gateway::Gateway;

/// The gateway cap a frontend needs to return attestations with its result (v0.11).
pub const CAP_ATTESTATIONS: &str = "reference.attestations";

/// `rustc -vV` of the build's SDK: solves the probe (cached by BuildKit on the SDK alone) and
/// reads the file it wrote.
pub async fn rustc_version(
    gateway: &mut Gateway,
    spec: &Spec,
    request: &BuildRequest,
    filename: &str,
) -> Result<String, String> {
    let probe = compile::toolchain_probe(spec, request).map_err(|e| format!("{filename}: {e}"))?;
    let reference = gateway
        .solve(probe, Vec::new(), true, "rustc -vV of the SDK")
        .await
        .map_err(|e| format!("reading `rustc -vV` of the SDK `{}`: {e}", spec.sdk.image))?;
    let bytes = gateway
        .read_file(&reference, compile::RUSTC_VERSION_FILE)
        .await
        .map_err(|e| format!("reading `rustc -vV` of the SDK `{}`: {e}", spec.sdk.image))?;
    String::from_utf8(bytes).map_err(|_| "`rustc -vV` of the SDK printed no UTF-8 text".into())
}

/// The build's result: the solved ref and image config, plus the SBOM attestation when one was
/// planned. With an attestation the result is a one-entry platform map (`refs` keyed by
/// platform id, `refs.platforms`, `containerimage.config/<id>`), so the attestation's key
/// names the platform it belongs to whatever the daemon's default platform is.
pub async fn result(
    gateway: &mut Gateway,
    caps: &Caps,
    platform: &Platform,
    reference: String,
    image_config: Option<Vec<u8>>,
    sbom: Option<llb_gen::proto::pb::Definition>,
) -> Result<gw::Result, String> {
    let mut metadata = BTreeMap::new();
    let Some(sbom) = sbom else {
        if let Some(config) = image_config {
            metadata.insert("containerimage.config".to_string(), config);
        }
        return Ok(gw::Result {
            metadata,
            result: Some(gw::result::Result::Ref(gw::Ref {
                id: reference,
                def: None,
            })),
            attestations: BTreeMap::new(),
        });
    };
    if !caps.gateway.contains(CAP_ATTESTATIONS) {
        return Err(format!(
            "--sbom needs a BuildKit that takes attestations from frontends (gateway cap \
             `{CAP_ATTESTATIONS}`, BuildKit v0.11 or later)"
        ));
    }
    let sbom_ref = gateway
        .solve(sbom, Vec::new(), false, "SBOM")
        .await
        .map_err(|e| e.to_string())?;
    let id = platform.to_string();
    if let Some(config) = image_config {
        metadata.insert(format!("containerimage.config/{id}"), config);
    }
    metadata.insert("refs.platforms".to_string(), platforms_json(platform, &id));
    let attestation = gw::Attestation {
        kind: gw::AttestationKind::InToto as i32,
        metadata: BTreeMap::from([("reason".to_string(), b"sbom".to_vec())]),
        r#ref: Some(gw::Ref {
            id: sbom_ref,
            def: None,
        }),
        path: sbom::SBOM_FILE.to_string(),
        in_toto_predicate_type: sbom::PREDICATE_TYPE.to_string(),
        in_toto_subjects: Vec::new(),
    };
    Ok(gw::Result {
        metadata,
        result: Some(gw::result::Result::Refs(gw::RefMap {
            refs: BTreeMap::from([(
                id.clone(),
                gw::Ref {
                    id: reference,
                    def: None,
                },
            )]),
        })),
        // Never an entry without attestations: BuildKit v0.33's Return dereferences the
        // entry's message, and an empty one arrives as nil (the daemon crashes).
        attestations: BTreeMap::from([(
            id,
            gw::Attestations {
                attestation: vec![attestation],
            },
        )]),
    })
}

/// `refs.platforms` as BuildKit's exporters read it (Go field names, no JSON tags).
fn platforms_json(platform: &Platform, id: &str) -> Vec<u8> {
    let mut p = serde_json::json!({"architecture": platform.architecture, "os": platform.os});
    if let Some(v) = &platform.variant {
        p["variant"] = serde_json::json!(v);
    }
    serde_json::to_vec(&serde_json::json!({"Platforms": [{"ID": id, "Platform": p}]}))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::FrontendOpts;

    fn opts(pairs: &[&str]) -> FrontendOpts {
        FrontendOpts::parse(pairs.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn sbom_is_asked_for_as_buildkit_reads_it() {
        assert!(!opts(&["attest:provenance=mode=max"]).sbom);
        assert!(opts(&["attest:sbom="]).sbom);
        assert!(opts(&["attest:sbom=generator=x/y"]).sbom);
        let by_arg = opts(&["build-arg:BUILDKIT_ATTEST_SBOM=true"]);
        assert!(by_arg.sbom);
        assert!(by_arg.build_args.contains_key("BUILDKIT_ATTEST_SBOM"));
    }

    #[test]
    fn refs_platforms_is_what_the_exporter_reads() {
        let p = Platform::linux_amd64().with_variant("v2");
        let json: serde_json::Value =
            serde_json::from_slice(&platforms_json(&p, "linux/amd64/v2")).unwrap();
        assert_eq!(json["Platforms"][0]["ID"], "linux/amd64/v2");
        assert_eq!(json["Platforms"][0]["Platform"]["variant"], "v2");
        assert_eq!(json["Platforms"][0]["Platform"]["architecture"], "amd64");
    }
}
