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
use llb_gen::proto::gateway as gw;
use llb_gen::sbom;
use llb_gen::spec::Spec;

use crate::caps::{Caps, CAP_ATTESTATIONS};
use crate::gateway::Gateway;
use crate::opts::FrontendOpts;

/// `rustc -vV` of the build's SDK: solves the probe (cached by BuildKit on the SDK alone) and
/// reads the file it wrote.
pub async fn rustc_version(
    gateway: &mut Gateway,
    spec: &Spec,
    request: &BuildRequest,
    opts: &FrontendOpts,
) -> Result<String, String> {
    let filename = &opts.filename;
    let probe = compile::toolchain_probe(spec, request).map_err(|e| format!("{filename}: {e}"))?;
    // With the build's cache imports, as the build's own solve (see `build::cache_imports`).
    let imports = crate::build::cache_imports(opts);
    let reference = gateway
        .solve(probe, imports, true, "rustc -vV of the SDK")
        .await
        .map_err(|e| format!("reading `rustc -vV` of the SDK `{}`: {e}", spec.sdk.image))?;
    let bytes = gateway
        .read_file(&reference, compile::RUSTC_VERSION_FILE)
        .await
        .map_err(|e| format!("reading `rustc -vV` of the SDK `{}`: {e}", spec.sdk.image))?;
    String::from_utf8(bytes).map_err(|_| "`rustc -vV` of the SDK printed no UTF-8 text".into())
}

/// Solves the SBOM document Cachet planned (a one-file state), for the attestation that
/// references it (see [`crate::result`]); refused on a BuildKit that takes no attestations.
pub async fn solve_sbom(
    gateway: &mut Gateway,
    caps: &Caps,
    sbom: llb_gen::proto::pb::Definition,
) -> Result<String, String> {
    caps.require_gateway(CAP_ATTESTATIONS, "`--sbom`")?;
    gateway
        .solve(sbom, Vec::new(), false, "SBOM")
        .await
        .map_err(|e| e.to_string())
}

/// The in-toto attestation of the SBOM solved as `sbom_ref`.
pub fn sbom_attestation(sbom_ref: String) -> gw::Attestation {
    gw::Attestation {
        kind: gw::AttestationKind::InToto as i32,
        metadata: BTreeMap::from([("reason".to_string(), b"sbom".to_vec())]),
        r#ref: Some(gw::Ref {
            id: sbom_ref,
            def: None,
        }),
        path: sbom::SBOM_FILE.to_string(),
        in_toto_predicate_type: sbom::PREDICATE_TYPE.to_string(),
        in_toto_subjects: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
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
}
