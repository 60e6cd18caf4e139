use std::collections::BTreeSet;

use super::*;

const LOCK: &str = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["serde", "log 0.4.22", "helper"]

[[package]]
name = "helper"
version = "0.1.0"
dependencies = ["itoa 1.0.11 (git+https://example.com/itoa#0123456789abcdef0123456789abcdef01234567)"]

[[package]]
name = "other"
version = "0.1.0"
dependencies = ["unused"]

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"

[[package]]
name = "log"
version = "0.4.22"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bbbb"

[[package]]
name = "log"
version = "0.3.9"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "cccc"

[[package]]
name = "itoa"
version = "1.0.11"
source = "git+https://example.com/itoa#0123456789abcdef0123456789abcdef01234567"

[[package]]
name = "unused"
version = "2.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "dddd"
"#;

fn input<'a>(roots: Option<&'a BTreeSet<String>>) -> SbomInput<'a> {
    SbomInput {
        project: "demo",
        target: "image",
        lockfile: Some(LOCK.as_bytes()),
        roots,
        sdk: ImageFact {
            reference: "docker.io/library/cachet-sdk:rustup".into(),
            digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"
                .into(),
        },
        base: None,
    }
}

fn names(doc: &serde_json::Value) -> Vec<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
        .map(|p| {
            format!(
                "{}@{}",
                p["name"].as_str().unwrap(),
                p["versionInfo"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn lists_what_the_selected_members_reach_and_nothing_else() {
    let roots = BTreeSet::from(["app".to_string()]);
    let doc: serde_json::Value =
        serde_json::from_slice(&spdx_document(&input(Some(&roots))).unwrap()).unwrap();
    assert_eq!(
        names(&doc),
        [
            "app@0.1.0",
            "helper@0.1.0",
            "itoa@1.0.11",
            "log@0.4.22",
            "serde@1.0.200"
        ],
        "the other member, its dependency and the other log version are not linked"
    );
    let all = spdx_document(&input(None)).unwrap();
    let all: serde_json::Value = serde_json::from_slice(&all).unwrap();
    assert_eq!(names(&all).len(), 8, "no roots known: every locked package");
}

#[test]
fn crates_carry_source_checksum_and_purl() {
    let roots = BTreeSet::from(["app".to_string()]);
    let doc: serde_json::Value =
        serde_json::from_slice(&spdx_document(&input(Some(&roots))).unwrap()).unwrap();
    let find = |name: &str| {
        doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let serde = find("serde");
    assert_eq!(serde["checksums"][0]["checksumValue"], "aaaa");
    assert_eq!(
        serde["externalRefs"][0]["referenceLocator"],
        "pkg:cargo/serde@1.0.200"
    );
    assert_eq!(
        serde["downloadLocation"],
        "https://crates.io/api/v1/crates/serde/1.0.200/download"
    );
    let itoa = find("itoa");
    assert_eq!(itoa["checksums"][0]["algorithm"], "SHA1");
    assert!(itoa["externalRefs"][0]["referenceLocator"]
        .as_str()
        .unwrap()
        .contains("vcs_url=https://example.com/itoa"));
    assert!(find("app")["sourceInfo"].as_str().unwrap().contains("path"));
    assert!(find("app").get("checksums").is_none());
    let sdk = find("docker.io/library/cachet-sdk:rustup");
    assert_eq!(sdk["checksums"][0]["checksumValue"], "1".repeat(64));
    assert_eq!(
        sdk["externalRefs"][0]["referenceLocator"],
        format!(
            "pkg:docker/docker.io/library/cachet-sdk@sha256:{}?tag=rustup",
            "1".repeat(64)
        )
    );
}

#[test]
fn the_document_is_spdx_2_3_and_deterministic() {
    let roots = BTreeSet::from(["app".to_string()]);
    let a = spdx_document(&input(Some(&roots))).unwrap();
    assert_eq!(a, spdx_document(&input(Some(&roots))).unwrap());
    let doc: serde_json::Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
    let mut other = input(Some(&roots));
    other.base = Some(ImageFact {
        reference: "debian:bookworm".into(),
        digest: String::new(),
    });
    let b: serde_json::Value = serde_json::from_slice(&spdx_document(&other).unwrap()).unwrap();
    assert_ne!(
        doc["documentNamespace"], b["documentNamespace"],
        "namespace follows content"
    );
    assert!(b["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["relationshipType"] == "DESCENDANT_OF"));
}

#[test]
fn a_broken_lockfile_is_a_clear_error() {
    let mut bad = input(None);
    bad.lockfile = Some(b"[[package]\nname=");
    let err = spdx_document(&bad).unwrap_err().to_string();
    assert!(err.starts_with("Cargo.lock:"), "{err}");
    assert!(err.contains("generate-lockfile"), "{err}");
}
