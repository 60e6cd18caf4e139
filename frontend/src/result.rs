//! The shape of a build's result: one ref, or one ref per platform.
//!
//! A single-platform build without `multi-platform=true` returns one ref and
//! `containerimage.config`, as before platform lists existed. Otherwise the result is a map of
//! refs keyed by platform id (`linux/arm64`), with the metadata BuildKit's exporters read
//! (moby/buildkit `exporter/containerimage/exptypes`): `refs.platforms`, the JSON list of ids
//! and platforms, and `containerimage.config/<id>` per platform. The image exporter turns that
//! into an image index; the local exporter into one directory per platform (`linux_arm64/`).

use std::collections::BTreeMap;

use llb_gen::llb::Platform;
use llb_gen::proto::gateway as gw;

/// `exptypes.ExporterPlatformsKey`.
pub const PLATFORMS_KEY: &str = "refs.platforms";
/// `exptypes.ExporterImageConfigKey`, alone or followed by `/<platform id>`.
pub const IMAGE_CONFIG_KEY: &str = "containerimage.config";

/// What one platform's solve gave.
pub struct Solved {
    pub platform: Platform,
    /// The ref id from the solve.
    pub reference: String,
    /// The image config, for an image target.
    pub image_config: Option<Vec<u8>>,
    /// The solved SBOM document, when `--sbom` asked for one (see `crate::attest`).
    pub sbom: Option<String>,
}

/// The platform id BuildKit keys refs by (`platforms.Format`): `os/arch[/variant]`.
pub fn platform_id(platform: &Platform) -> String {
    platform.to_string()
}

/// The gateway result for the solved platforms (in request order). With an SBOM the result
/// is a platform map even for one platform, so the attestation's key names the platform it
/// belongs to whatever the daemon's default platform is.
pub fn result(solved: Vec<Solved>, multi_platform: bool) -> gw::Result {
    let mut metadata = BTreeMap::new();
    let attested = solved.iter().any(|s| s.sbom.is_some());
    if solved.len() == 1 && !multi_platform && !attested {
        let Some(one) = solved.into_iter().next() else {
            unreachable!("one element")
        };
        if let Some(config) = one.image_config {
            metadata.insert(IMAGE_CONFIG_KEY.to_string(), config);
        }
        return gw::Result {
            metadata,
            result: Some(gw::result::Result::Ref(gw::Ref {
                id: one.reference,
                def: None,
            })),
            attestations: BTreeMap::new(),
        };
    }
    let mut refs = BTreeMap::new();
    let mut attestations = BTreeMap::new();
    let mut platforms = Vec::new();
    for one in solved {
        let id = platform_id(&one.platform);
        let mut platform = serde_json::json!({
            "architecture": one.platform.architecture,
            "os": one.platform.os,
        });
        if let Some(variant) = &one.platform.variant {
            platform["variant"] = serde_json::json!(variant);
        }
        platforms.push(serde_json::json!({ "id": id, "platform": platform }));
        if let Some(config) = one.image_config {
            metadata.insert(format!("{IMAGE_CONFIG_KEY}/{id}"), config);
        }
        // Never an entry without attestations: BuildKit v0.33's Return dereferences the
        // entry's message, and an empty one arrives as nil (the daemon crashes).
        if let Some(sbom) = one.sbom {
            attestations.insert(
                id.clone(),
                gw::Attestations {
                    attestation: vec![crate::attest::sbom_attestation(sbom)],
                },
            );
        }
        refs.insert(
            id,
            gw::Ref {
                id: one.reference,
                def: None,
            },
        );
    }
    let list = serde_json::json!({ "platforms": platforms });
    metadata.insert(PLATFORMS_KEY.to_string(), list.to_string().into_bytes());
    gw::Result {
        metadata,
        result: Some(gw::result::Result::Refs(gw::RefMap { refs })),
        attestations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solved(platform: &str, config: bool) -> Solved {
        Solved {
            platform: Platform::parse(platform).unwrap(),
            reference: format!("ref-{platform}"),
            image_config: config.then(|| format!("{{\"for\":\"{platform}\"}}").into_bytes()),
            sbom: None,
        }
    }

    #[test]
    fn one_platform_keeps_the_single_result() {
        let r = result(vec![solved("linux/amd64", true)], false);
        assert!(
            matches!(r.result, Some(gw::result::Result::Ref(ref x)) if x.id == "ref-linux/amd64")
        );
        assert!(r.metadata.contains_key(IMAGE_CONFIG_KEY));
        assert!(!r.metadata.contains_key(PLATFORMS_KEY));
    }

    #[test]
    fn a_platform_list_gives_refs_by_id_with_platforms_and_configs() {
        let r = result(
            vec![solved("linux/amd64", true), solved("linux/arm/v7", true)],
            false,
        );
        let Some(gw::result::Result::Refs(map)) = &r.result else {
            panic!("expected a ref map: {:?}", r.result)
        };
        assert_eq!(map.refs["linux/amd64"].id, "ref-linux/amd64");
        assert_eq!(map.refs["linux/arm/v7"].id, "ref-linux/arm/v7");
        let list: serde_json::Value = serde_json::from_slice(&r.metadata[PLATFORMS_KEY]).unwrap();
        assert_eq!(
            list,
            serde_json::json!({"platforms": [
                {"id": "linux/amd64", "platform": {"architecture": "amd64", "os": "linux"}},
                {"id": "linux/arm/v7", "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
            ]})
        );
        assert_eq!(
            r.metadata["containerimage.config/linux/arm/v7"],
            b"{\"for\":\"linux/arm/v7\"}"
        );
        assert!(!r.metadata.contains_key(IMAGE_CONFIG_KEY));
    }

    #[test]
    fn multi_platform_true_maps_even_one_platform_and_cargo_targets_have_no_config() {
        let r = result(vec![solved("linux/arm64", false)], true);
        assert!(matches!(r.result, Some(gw::result::Result::Refs(ref m)) if m.refs.len() == 1));
        assert_eq!(r.metadata.len(), 1, "{:?}", r.metadata.keys());
    }

    #[test]
    fn an_sbom_makes_one_platform_a_map_with_one_attestation_per_platform() {
        let mut one = solved("linux/amd64", true);
        one.sbom = Some("sbom-ref".into());
        let r = result(vec![one], false);
        let Some(gw::result::Result::Refs(map)) = &r.result else {
            panic!("expected a ref map: {:?}", r.result)
        };
        assert_eq!(map.refs["linux/amd64"].id, "ref-linux/amd64");
        assert!(r.metadata.contains_key("containerimage.config/linux/amd64"));
        let atts = &r.attestations["linux/amd64"].attestation;
        assert_eq!(atts.len(), 1);
        assert_eq!(atts[0].r#ref.as_ref().unwrap().id, "sbom-ref");
        // Two platforms, one attested: no empty entry for the other (it crashes v0.33).
        let mut arm = solved("linux/arm64", true);
        arm.sbom = Some("sbom-arm".into());
        let r = result(vec![solved("linux/amd64", true), arm], false);
        assert_eq!(r.attestations.keys().collect::<Vec<_>>(), ["linux/arm64"]);
    }
}
