//! Seed material gathered by `build.rs` (see there for what and from where).

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

/// Each example project: its spec (`Cachet.toml`, if any) and its metadata files.
pub fn examples() -> Vec<(
    &'static str,
    Option<&'static [u8]>,
    Vec<(&'static str, &'static [u8])>,
)> {
    EXAMPLES
        .iter()
        .map(|(name, files)| {
            let spec = files
                .iter()
                .find(|(p, _)| *p == "Cachet.toml")
                .map(|(_, b)| *b);
            let context = files
                .iter()
                .filter(|(p, _)| *p != "Cachet.toml")
                .copied()
                .collect();
            (*name, spec, context)
        })
        .collect()
}
