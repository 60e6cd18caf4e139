//! The SBOM Cachet returns for `--sbom=true` (`attest:sbom`): an SPDX 2.3 JSON document of the
//! Rust crates linked into a target's binaries, the SDK image they were built with and the
//! image's base.
//!
//! Why Cachet writes it rather than BuildKit's scanner: a Rust binary in a `scratch` image
//! shows a scanner no package database, and Syft cannot read crates out of a stripped binary.
//! Cachet knows what cargo built: the crates are `Cargo.lock`'s packages reachable from the
//! workspace packages the cargo steps select (`-p`, `--workspace`, default members, with their
//! path dependencies), following the lockfile's dependency edges.
//!
//! That is an over-approximation, on purpose (an SBOM that omits a linked crate is worse than
//! one that lists an unlinked one): the lockfile is resolved for every platform and feature,
//! so its edges include target-specific dependencies of other platforms, optional
//! dependencies whose feature is off, build dependencies and proc-macros (compiled, run, not
//! linked) and the members' dev-dependencies. Within those limits nothing linked is missing.
//!
//! Pure and deterministic: the same lockfile, roots and images give the same bytes (the
//! document's namespace is a digest of its content; `created` is fixed, see [`CREATED`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{json, Value};

#[cfg(test)]
mod tests;

/// The predicate type BuildKit gives SPDX attestations (its scanner's and ours).
pub const PREDICATE_TYPE: &str = "https://spdx.dev/Document";
/// Where the document lives in the attestation's ref.
pub const SBOM_FILE: &str = "/sbom.spdx.json";
/// SPDX requires a creation time; a fixed one keeps the document byte-identical across builds
/// (BuildKit stamps the attestation itself with the build's time).
pub const CREATED: &str = "1970-01-01T00:00:00Z";
const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";
const CRATES_IO_SPARSE: &str = "sparse+https://index.crates.io/";

/// An image the document names: the SDK or the base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFact {
    /// The reference as written (normalised by the caller if it wants).
    pub reference: String,
    /// `sha256:…` manifest digest, or the image id when the engine reported no digest; empty
    /// when unknown.
    pub digest: String,
}

/// What the document describes.
#[derive(Debug, Clone)]
pub struct SbomInput<'a> {
    pub project: &'a str,
    pub target: &'a str,
    /// `Cargo.lock`; `None` when the context has none (then only the images are listed).
    pub lockfile: Option<&'a [u8]>,
    /// The workspace packages (by name) whose closure is listed; `None`: every package.
    pub roots: Option<&'a BTreeSet<String>>,
    pub sdk: ImageFact,
    /// The image's base; `None` for `scratch` (or a target that is no image).
    pub base: Option<ImageFact>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SbomError {
    #[error("Cargo.lock: {0}; run `cargo generate-lockfile` and build again")]
    Lockfile(String),
}

/// One `[[package]]` of `Cargo.lock`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub checksum: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<String>,
}

#[derive(Deserialize)]
struct Lockfile {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

/// Parses `Cargo.lock`'s packages.
pub fn locked_packages(lockfile: &[u8]) -> Result<Vec<LockedPackage>, SbomError> {
    let text =
        std::str::from_utf8(lockfile).map_err(|_| SbomError::Lockfile("not UTF-8".into()))?;
    let parsed: Lockfile = toml::from_str(text).map_err(|e| SbomError::Lockfile(e.to_string()))?;
    Ok(parsed.package)
}

/// The packages reachable from `roots` (package names; `None`: all) over the lockfile's
/// dependency edges, roots included, sorted by name, version and source.
pub fn reachable(
    packages: &[LockedPackage],
    roots: Option<&BTreeSet<String>>,
) -> Vec<LockedPackage> {
    let Some(roots) = roots else {
        let mut all = packages.to_vec();
        all.sort();
        return all;
    };
    let mut queue: Vec<usize> = packages
        .iter()
        .enumerate()
        // Roots are workspace packages: path packages, which have no source.
        .filter(|(_, p)| p.source.is_none() && roots.contains(&p.name))
        .map(|(i, _)| i)
        .collect();
    let mut seen: BTreeSet<usize> = queue.iter().copied().collect();
    while let Some(i) = queue.pop() {
        for dep in &packages[i].dependencies {
            for j in resolve(packages, dep) {
                if seen.insert(j) {
                    queue.push(j);
                }
            }
        }
    }
    let mut out: Vec<LockedPackage> = seen.into_iter().map(|i| packages[i].clone()).collect();
    out.sort();
    out
}

/// The packages a `dependencies` entry names: `name` (the only version), `name version`, or
/// `name version (source)`. An entry cargo would reject matches nothing.
fn resolve(packages: &[LockedPackage], entry: &str) -> Vec<usize> {
    let mut parts = entry.splitn(3, ' ');
    let name = parts.next().unwrap_or_default();
    let version = parts.next();
    let source = parts
        .next()
        .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
    packages
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name == name)
        .filter(|(_, p)| version.is_none_or(|v| p.version == v))
        .filter(|(_, p)| source.is_none_or(|s| p.source.as_deref() == Some(s)))
        .map(|(i, _)| i)
        .collect()
}

/// The SPDX 2.3 JSON document for `input`.
pub fn spdx_document(input: &SbomInput<'_>) -> Result<Vec<u8>, SbomError> {
    let crates = match input.lockfile {
        Some(lockfile) => reachable(&locked_packages(lockfile)?, input.roots),
        None => Vec::new(),
    };
    let subject = "SPDXRef-target";
    let mut packages = vec![json!({
        "SPDXID": subject,
        "name": format!("{}/{}", input.project, input.target),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "comment": "what the Cachet target produced; its crates are the Cargo.lock packages \
                    reachable from the workspace packages its cargo steps build (an \
                    over-approximation: every platform and feature, build and dev dependencies)",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": subject,
    })];
    let mut ids = BTreeMap::new();
    for package in &crates {
        let id = unique_id(
            &mut ids,
            &format!("crate-{}-{}", package.name, package.version),
        );
        packages.push(crate_package(&id, package));
        relationships.push(json!({
            "spdxElementId": subject,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    packages.push(image_package(
        "SPDXRef-sdk",
        &input.sdk,
        "the SDK image cargo ran in",
    ));
    relationships.push(json!({
        "spdxElementId": "SPDXRef-sdk",
        "relationshipType": "BUILD_TOOL_OF",
        "relatedSpdxElement": subject,
    }));
    if let Some(base) = &input.base {
        packages.push(image_package("SPDXRef-base", base, "the image's base"));
        relationships.push(json!({
            "spdxElementId": subject,
            "relationshipType": "DESCENDANT_OF",
            "relatedSpdxElement": "SPDXRef-base",
        }));
    }
    let body = json!({
        "packages": packages,
        "relationships": relationships,
    });
    // The namespace must be unique per document: a digest of everything else makes it so and
    // keeps it stable.
    let namespace = crate::llb::Digest::of(body.to_string().as_bytes()).into_string();
    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("cachet {}/{}", input.project, input.target),
        "documentNamespace": format!(
            "https://cachet.invalid/spdx/{}/{}/{}",
            input.project,
            input.target,
            namespace.trim_start_matches("sha256:")
        ),
        "creationInfo": {
            "created": CREATED,
            "creators": [format!("Tool: cachet-{}", env!("CARGO_PKG_VERSION"))],
        },
    });
    if let (Value::Object(doc), Value::Object(body)) = (&mut document, body) {
        doc.extend(body);
    }
    // A `Value`'s pretty `Display` is `to_string_pretty` and cannot fail: never an empty document.
    Ok(format!("{document:#}\n").into_bytes())
}

/// An SPDX id from `seed`: letters, digits, `.` and `-` only, unique within the document.
fn unique_id(used: &mut BTreeMap<String, usize>, seed: &str) -> String {
    let clean: String = seed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let n = used.entry(clean.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        format!("SPDXRef-{clean}")
    } else {
        format!("SPDXRef-{clean}-{n}")
    }
}

fn crate_package(id: &str, p: &LockedPackage) -> Value {
    let source = p.source.as_deref();
    let from_crates_io = matches!(source, Some(CRATES_IO) | Some(CRATES_IO_SPARSE));
    let download = match source {
        _ if from_crates_io => format!(
            "https://crates.io/api/v1/crates/{}/{}/download",
            p.name, p.version
        ),
        Some(s) if s.starts_with("git+") => s.trim_start_matches("git+").to_string(),
        _ => "NOASSERTION".to_string(),
    };
    let mut purl = format!("pkg:cargo/{}@{}", p.name, p.version);
    match source {
        Some(s) if from_crates_io || s.is_empty() => {}
        Some(s) if s.starts_with("git+") => {
            purl.push_str(&format!("?vcs_url={}", s.trim_start_matches("git+")));
        }
        Some(s) => {
            let url = s.split_once('+').map_or(s, |(_, url)| url);
            purl.push_str(&format!("?repository_url={url}"));
        }
        None => {}
    }
    let mut checksums = Vec::new();
    if let Some(sum) = &p.checksum {
        checksums.push(json!({"algorithm": "SHA256", "checksumValue": sum}));
    } else if let Some(commit) = source
        .filter(|s| s.starts_with("git+"))
        .and_then(|s| s.rsplit_once('#'))
        .map(|(_, c)| c)
        .filter(|c| c.len() == 40 && c.chars().all(|c| c.is_ascii_hexdigit()))
    {
        checksums.push(json!({"algorithm": "SHA1", "checksumValue": commit}));
    }
    let mut package = json!({
        "SPDXID": id,
        "name": p.name,
        "versionInfo": p.version,
        "downloadLocation": download,
        "filesAnalyzed": false,
        "primaryPackagePurpose": "LIBRARY",
        "sourceInfo": match source {
            Some(s) => format!("cargo source {s}"),
            None => "cargo path package (in the build context)".to_string(),
        },
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl,
        }],
    });
    if !checksums.is_empty() {
        package["checksums"] = json!(checksums);
    }
    package
}

fn image_package(id: &str, image: &ImageFact, comment: &str) -> Value {
    let mut package = json!({
        "SPDXID": id,
        "name": image.reference,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "comment": comment,
    });
    if let Some(hex) = image.digest.strip_prefix("sha256:") {
        package["versionInfo"] = json!(image.digest);
        package["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": hex}]);
        let name = image.reference.split('@').next().unwrap_or_default();
        let (repo, tag) = match name.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((repo, tag)) => (repo, Some(tag)),
            None => (name, None),
        };
        let mut purl = format!("pkg:docker/{repo}@{}", image.digest);
        if let Some(tag) = tag {
            purl.push_str(&format!("?tag={tag}"));
        }
        package["externalRefs"] = json!([{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl,
        }]);
    }
    package
}
