//! `--sbom=true --provenance=mode=max` on current BuildKit (buildx; dockerd 20.10 has no
//! attestations), pushed to the loopback registry and read back from it:
//!
//! - the SBOM is Cachet's SPDX document (BuildKit's scanner did not run): it lists the binary's
//!   locked crates with their versions and the lockfile's checksums, and the SDK by the digest
//!   BuildKit's provenance resolved;
//! - the provenance (mode=max) carries Cachet's record: `rustc -vV` of the SDK, the lockfile's
//!   digest and the exact cargo command; the image labels carry `rustc -vV` and the digest too;
//! - the token of the private registry the fetch step reached through `--secret` is in none of
//!   the SBOM, the provenance or the image;
//! - `rustc -vV` is read once per SDK: another project's build on the same SDK finds the probe
//!   CACHED.

use std::time::Duration;

use cachet_tests::attestations::{inspect, provenance_mkfiles};
use cachet_tests::progress::only_step;
use cachet_tests::registry::sha256_hex;
use cachet_tests::registry_app::{private_setup, DEP, SECRET_ID};
use cachet_tests::{bytes_contain, fixtures, Engine, Env, Image, TempProject};
use serde_json::Value;

const PROBE: &str = "[cachet] rustc -vV of the SDK";

/// Limit for `docker pull` of the pushed image.
const PULL_TIMEOUT: Duration = Duration::from_secs(300);

/// The SPDX package named `name`.
fn package<'a>(sbom: &'a Value, name: &str) -> &'a Value {
    sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no package `{name}` in the SBOM:\n{sbom:#}"))
}

#[test]
fn sbom_and_provenance_carry_cachets_facts_and_no_secret() {
    let engine = Engine::Buildx;
    let env = Env::get();
    let label = "attest";
    let token = format!("cachet-token-{}", fixtures::nonce());
    // A binary `app` using the private registry's crate through `[fetch] secrets`.
    let (_registry, project, line) = private_setup(label, &token);
    let secrets = TempProject::new("attest-secret");
    let secret_file = secrets.write("corp-token", &token);
    let reference = format!(
        "{}/cachet-test/attest:{}",
        env.registry(),
        fixtures::nonce()
    );

    let result = engine
        .build(project.path())
        .file(project.path().join("Cachet.toml"))
        .arg("--secret")
        .arg(format!("id={SECRET_ID},src={}", secret_file.display()))
        .arg("--sbom=true")
        .arg("--provenance=mode=max")
        .arg("--push")
        .arg("-t")
        .arg(&reference)
        .run()
        .assert_success();
    let progress = result.progress();
    assert!(
        !progress.contains("generating sbom using"),
        "BuildKit's scanner ran although Cachet returned an SBOM:\n{progress}"
    );

    let lock_text = std::fs::read_to_string(project.path().join("Cargo.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&lock_text).unwrap();
    let locked_dep = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some(DEP))
        .expect("the lockfile pins the registry crate");

    // The SBOM: Cachet's document, the locked crates with versions and checksums.
    let sbom_json = inspect(&reference, "SBOM");
    let sbom = &sbom_json["SPDX"];
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3", "{sbom_json:#}");
    assert!(
        sbom["creationInfo"]["creators"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("Tool: cachet-"),
        "{sbom:#}"
    );
    let app = package(sbom, "app");
    assert_eq!(app["versionInfo"], "0.1.0");
    let dep = package(sbom, DEP);
    assert_eq!(dep["versionInfo"], "1.0.0");
    assert_eq!(dep["versionInfo"], locked_dep["version"].as_str().unwrap());
    assert_eq!(
        dep["checksums"][0]["checksumValue"],
        locked_dep["checksum"].as_str().unwrap(),
        "the lockfile's checksum"
    );
    let crates: Vec<&str> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(crates, ["app", DEP], "exactly the binary's locked crates");

    // The provenance: BuildKit's record of the SDK, and Cachet's record in mode=max.
    let provenance = inspect(&reference, "Provenance");
    let sdk_dep = provenance["SLSA"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["uri"].as_str().unwrap_or_default().contains("cachet-sdk"))
        .unwrap_or_else(|| panic!("the SDK is a resolved dependency:\n{provenance:#}"))
        .clone();
    let sdk_hex = sdk_dep["digest"]["sha256"].as_str().unwrap();
    let sdk_pkg = package(sbom, "cachet-sdk:rustup");
    assert_eq!(
        sdk_pkg["checksums"][0]["checksumValue"], sdk_hex,
        "{sbom:#}"
    );
    assert_eq!(sdk_pkg["versionInfo"], format!("sha256:{sdk_hex}"));

    let records = provenance_mkfiles(&provenance, "/cachet-provenance.json");
    assert_eq!(records.len(), 1, "{provenance:#}");
    let record: Value = serde_json::from_slice(&records[0]).unwrap();
    let rustc = record["rustc_version"].as_str().unwrap_or_default();
    let version = env.var("CACHET_SDK_RUST_VERSION");
    assert!(
        rustc.starts_with(&format!("rustc {version}")) && rustc.contains("\nhost: "),
        "`rustc -vV` of the SDK: {record:#}"
    );
    let lock_digest = format!("sha256:{}", sha256_hex(lock_text.as_bytes()));
    assert_eq!(record["cargo_lock"], lock_digest.as_str());
    let command: Vec<&str> = record["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        &command[..3],
        ["cargo", "--locked", "--offline"],
        "{record:#}"
    );
    assert!(
        command.contains(&"--config"),
        "the vendored sources' config: {record:#}"
    );
    assert!(record["strict_key"].is_string() && record["fast_key"].is_string());

    // The image: labels carry the same facts; the token is nowhere.
    Engine::run_docker(&["pull", &reference], PULL_TIMEOUT).assert_success();
    let image = Image::adopt(reference.clone());
    let labels: Value = serde_json::from_str(&image.inspect("{{json .Config.Labels}}")).unwrap();
    assert_eq!(labels["dev.cachet.cargo-lock"], lock_digest.as_str());
    assert_eq!(labels["dev.cachet.rustc"], rustc.trim_end());
    let saved = image.saved_bytes(secrets.path());
    assert!(
        bytes_contain(&saved, &line),
        "the saved image is searchable (the crate's line is in the binary)"
    );
    for (what, text) in [
        ("SBOM", sbom_json.to_string()),
        ("provenance", provenance.to_string()),
        ("progress", progress.to_string()),
    ] {
        assert!(!text.contains(&token), "the token is in the {what}");
    }
    assert!(!bytes_contain(&saved, &token), "the token is in the image");
    assert!(
        provenance.to_string().contains(SECRET_ID),
        "mode=max names the secret's id"
    );

    // Once per SDK: another project on the same SDK finds the probe cached.
    let other = TempProject::new("attest-other");
    fixtures::hello_crate(&other, "hello", "hi");
    other.write(
        "Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n",
    );
    other.write(
        "Cachet.toml",
        format!(
            "# syntax=cachet/frontend:dev\n[project]\nname = \"attest-other-{}\"\n\
             [sdk]\nimage = \"cachet-sdk:rustup\"\n\
             [target.build]\ncargo = [\"build\"]\n",
            fixtures::nonce()
        ),
    );
    let again = engine
        .build(other.path())
        .file(other.path().join("Cachet.toml"))
        .run()
        .assert_success();
    assert!(
        only_step(again.progress(), PROBE).cached,
        "a second build on the same SDK reads `rustc -vV` from cache:\n{}",
        again.progress()
    );
}
