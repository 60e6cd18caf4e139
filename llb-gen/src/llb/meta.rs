//! Per-op metadata: progress names, cache control and cap lists.
//!
//! Metadata travels in `Definition.metadata` next to the op bytes, so it
//! never changes an op's digest or cache key.

use super::caps;
use crate::proto::pb;
use std::collections::{BTreeMap, BTreeSet};

/// Description key BuildKit shows as the vertex name in progress output.
pub const CUSTOM_NAME_KEY: &str = "llb.customname";

/// Metadata attached to one op.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpMeta {
    /// Re-run this op even if a cached result exists.
    pub ignore_cache: bool,
    /// Free-form labels; [`CUSTOM_NAME_KEY`] names the progress vertex.
    pub description: BTreeMap<String, String>,
    /// Force (`Some(true)`) or suppress (`Some(false)`) cache export.
    pub export_cache: Option<bool>,
    /// LLB cap ids the op relies on (only ids v0.8 knows; see
    /// [`caps::record`]).
    pub caps: BTreeSet<String>,
}

impl OpMeta {
    /// Sets the progress name.
    pub fn set_custom_name(&mut self, name: impl Into<String>) {
        self.description
            .insert(CUSTOM_NAME_KEY.to_owned(), name.into());
    }

    /// The progress name, if set.
    pub fn custom_name(&self) -> Option<&str> {
        self.description.get(CUSTOM_NAME_KEY).map(String::as_str)
    }

    /// Records a cap id if v0.8 knows it (see [`caps::record`]).
    pub fn add_cap(&mut self, id: &str) {
        caps::record(&mut self.caps, id);
    }

    /// Folds `other` into `self` the way BuildKit's Go client merges
    /// metadata of identical ops: flags are or-ed, maps are unioned with
    /// `other` winning.
    pub fn merge(&mut self, other: &OpMeta) {
        self.ignore_cache |= other.ignore_cache;
        for (k, v) in &other.description {
            self.description.insert(k.clone(), v.clone());
        }
        if other.export_cache.is_some() {
            self.export_cache = other.export_cache;
        }
        self.caps.extend(other.caps.iter().cloned());
    }

    /// The wire form.
    pub fn to_pb(&self) -> pb::OpMetadata {
        pb::OpMetadata {
            ignore_cache: self.ignore_cache,
            description: self.description.clone(),
            export_cache: self.export_cache.map(|value| pb::ExportCache { value }),
            caps: self.caps.iter().map(|c| (c.clone(), true)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_unions_and_ors() {
        let mut a = OpMeta::default();
        a.set_custom_name("a");
        a.add_cap("source.image");
        let mut b = OpMeta {
            ignore_cache: true,
            ..Default::default()
        };
        b.set_custom_name("b");
        b.add_cap("platform");
        a.merge(&b);
        assert!(a.ignore_cache);
        assert_eq!(a.custom_name(), Some("b"));
        assert_eq!(a.caps.len(), 2);
        let p = a.to_pb();
        assert_eq!(p.caps.get("platform"), Some(&true));
        assert_eq!(p.export_cache, None);
    }
}
