//! Seed material gathered by `build.rs` (see there for what and from where).

use std::collections::BTreeMap;

use crate::bundle::Bundle;

include!(concat!(env!("OUT_DIR"), "/seeds.rs"));

/// The files under `fuzz/seeds/<target>/`, as bundles.
pub fn repo_seeds(target: &str, primary: &str) -> Vec<Bundle> {
    REPO_SEEDS
        .iter()
        .filter(|(t, _, _)| *t == target)
        .map(|(_, _, bytes)| Bundle::parse(bytes, primary))
        .collect()
}

/// An example project: its spec (`Cachet.toml`, if it has one) and its metadata files.
pub struct Example {
    pub name: &'static str,
    pub spec: Option<&'static [u8]>,
    pub files: BTreeMap<String, Vec<u8>>,
}

pub fn examples() -> Vec<Example> {
    EXAMPLES
        .iter()
        .map(|(name, files)| Example {
            name,
            spec: files
                .iter()
                .find(|(p, _)| *p == "Cachet.toml")
                .map(|(_, b)| *b),
            files: files
                .iter()
                .filter(|(p, _)| *p != "Cachet.toml")
                .map(|(p, b)| (p.to_string(), b.to_vec()))
                .collect(),
        })
        .collect()
}
