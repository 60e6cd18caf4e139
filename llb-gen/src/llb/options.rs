//! Builder methods shared by every op builder (progress name, cache
//! control, placement).

/// Adds the common per-op builder methods to a type with `constraints:
/// Constraints` and `meta: OpMeta` fields.
macro_rules! op_options {
    ($ty:ty) => {
        impl $ty {
            /// Name shown for this step in build progress (`llb.customname`).
            pub fn custom_name(mut self, name: impl Into<String>) -> Self {
                self.meta.set_custom_name(name);
                self
            }

            /// Adds a free-form description label to the op's metadata.
            pub fn description(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
                self.meta.description.insert(key.into(), value.into());
                self
            }

            /// Re-run the op even when a cached result exists.
            pub fn ignore_cache(mut self, ignore: bool) -> Self {
                self.meta.ignore_cache = ignore;
                self
            }

            /// Force (or suppress) exporting this op's result to the cache.
            pub fn export_cache(mut self, export: bool) -> Self {
                self.meta.export_cache = Some(export);
                self
            }

            /// Target platform of this op, overriding the inherited one.
            pub fn platform(mut self, platform: $crate::llb::Platform) -> Self {
                self.constraints.platform = Some(platform);
                self
            }

            /// Adds a containerd-style worker filter.
            pub fn worker_filter(mut self, filter: impl Into<String>) -> Self {
                self.constraints.worker_filters.push(filter.into());
                self
            }
        }
    };
}

pub(crate) use op_options;
