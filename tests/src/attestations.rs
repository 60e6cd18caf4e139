//! Reading a pushed image's attestations back from the loopback registry: the SBOM and the
//! SLSA provenance as `docker buildx imagetools inspect` decodes them from the attestation
//! manifest, and the files a mode=max provenance records as `mkfile` steps of the build.

use std::time::Duration;

use serde_json::Value;

use crate::{process, Engine, Env};

/// `{{json .<field>}}` of `reference`'s attestations for its one platform (`SBOM` or
/// `Provenance`), as JSON.
#[track_caller]
pub fn inspect(reference: &str, field: &str) -> Value {
    let env = Env::get();
    let mut cmd = Engine::docker(env);
    cmd.args([
        "buildx",
        "imagetools",
        "inspect",
        "--builder",
        env.builder(),
    ])
    .arg(reference)
    .args(["--format", &format!("{{{{json .{field}}}}}")]);
    let out = process::run(&mut cmd, Duration::from_secs(120)).assert_success();
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{field} of {reference} is not JSON ({e}): {}", out.stdout))
}

/// The data of every `mkfile` at `path` in a SLSA v1 provenance's mode=max build config.
pub fn provenance_mkfiles(provenance: &Value, path: &str) -> Vec<Vec<u8>> {
    let steps = provenance["SLSA"]["buildDefinition"]["internalParameters"]["buildConfig"]
        ["llbDefinition"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    steps
        .iter()
        .filter_map(|s| s["op"]["Op"]["file"]["actions"].as_array().cloned())
        .flatten()
        .filter(|a| a["Action"]["mkfile"]["path"] == path)
        .filter_map(|a| a["Action"]["mkfile"]["data"].as_str().map(base64_decode))
        .collect()
}

/// Standard base64 (with or without padding), as Go's JSON encodes `[]byte`.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {text}"),
        }
    };
    let digits: Vec<u32> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            n |= d << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_go_base64() {
        assert_eq!(super::base64_decode("aGVsbG8="), b"hello");
        assert_eq!(super::base64_decode("aGk"), b"hi");
        assert_eq!(super::base64_decode("YWJj"), b"abc");
    }
}
