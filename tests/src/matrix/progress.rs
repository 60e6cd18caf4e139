//! What a `--progress=plain` log says happened: every named step, whether BuildKit served it
//! from cache, and which crates cargo compiled in it.

use std::collections::BTreeSet;

/// One named vertex of a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vertex {
    /// The vertex number in the log (`#12`).
    pub id: String,
    pub name: String,
    /// `#N CACHED`: served from BuildKit's cache.
    pub cached: bool,
    /// `#N DONE …`: finished.
    pub done: bool,
    /// Crates cargo compiled in this vertex (`Compiling <crate> v…`).
    pub compiled: BTreeSet<String>,
}

/// The named vertices of a log, in order of first appearance. Vertices whose name does not
/// start with `[` (BuildKit's own bookkeeping, like `resolve image config`) are left out.
pub fn vertices(progress: &str) -> Vec<Vertex> {
    let mut out: Vec<Vertex> = Vec::new();
    for line in progress.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((id, text)) = rest.split_once(' ') else {
            continue;
        };
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let index = match out.iter().position(|v| v.id == id) {
            Some(i) => i,
            None if text.starts_with('[') => {
                out.push(Vertex {
                    id: id.to_string(),
                    name: text.trim_end().to_string(),
                    cached: false,
                    done: false,
                    compiled: BTreeSet::new(),
                });
                out.len() - 1
            }
            None => continue,
        };
        let v = &mut out[index];
        let text = text.trim();
        if text == "CACHED" {
            v.cached = true;
        } else if text.starts_with("DONE") {
            v.done = true;
        } else if let Some(krate) = compiled_crate(text) {
            v.compiled.insert(krate);
        }
    }
    out
}

/// `1.234    Compiling factlib v0.1.0 (/cachet/src/crates/factlib)` → `factlib`.
fn compiled_crate(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "Compiling" {
            let name = words.next()?;
            let version = words.next()?;
            if version.starts_with('v') {
                return Some(name.to_string());
            }
            return None;
        }
    }
    None
}

/// Every crate compiled anywhere in the build.
pub fn compiled(vertices: &[Vertex]) -> BTreeSet<String> {
    vertices
        .iter()
        .flat_map(|v| v.compiled.iter().cloned())
        .collect()
}

/// The vertices that run cargo: Cachet's `[<target>] cargo …` steps, or the reference
/// Dockerfile's `RUN … cargo build` step.
pub fn cargo_steps(vertices: &[Vertex]) -> Vec<&Vertex> {
    vertices
        .iter()
        .filter(|v| {
            let after = v.name.split_once("] ").map(|(_, a)| a).unwrap_or("");
            after.starts_with("cargo ") || (after.starts_with("RUN ") && after.contains("cargo "))
        })
        .collect()
}

/// The steps a cache-hit count is over: every named vertex except BuildKit's and the
/// frontend's bookkeeping (loading the definition, metadata and contexts, resolving and
/// pulling images, writing a step's script file: an op without inputs, which BuildKit v0.8
/// re-runs in no time instead of reporting it CACHED).
pub fn counted_steps(vertices: &[Vertex]) -> Vec<&Vertex> {
    vertices
        .iter()
        .filter(|v| {
            !(v.name.starts_with("[internal]")
                || v.name.starts_with("[auth]")
                || v.name.contains(" load ")
                || v.name.contains(" resolve ")
                || v.name.starts_with("[cachet] image ")
                || v.name.starts_with("[cachet] step script ")
                || v.name.contains("FROM "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
#1 [internal] load build definition from Cachet.toml
#1 DONE 0.0s
#4 [cachet] image cachet-sdk:rustup
#4 CACHED
#7 [build] cargo build --profile release --target x86_64-unknown-linux-gnu --workspace · 1a2b3c
#7 0.512    Compiling factlib v0.1.0 (/cachet/src/crates/factlib)
#7 0.900    Compiling facts v0.1.0 (/cachet/src/crates/facts)
#7 2.100     Finished `release` profile [optimized] target(s) in 1.98s
#7 DONE 2.3s
#8 [build] record provenance
#8 CACHED
#9 resolve image config for docker.io/library/x
#9 DONE 0.1s
#10 [cachet] resolve image docker.io/library/cachet-sdk:rustup
#10 DONE 0.0s
";

    #[test]
    fn parses_names_cache_hits_and_compiles() {
        let v = vertices(LOG);
        let names: Vec<&str> = v.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "[internal] load build definition from Cachet.toml",
                "[cachet] image cachet-sdk:rustup",
                "[build] cargo build --profile release --target x86_64-unknown-linux-gnu --workspace · 1a2b3c",
                "[build] record provenance",
                "[cachet] resolve image docker.io/library/cachet-sdk:rustup",
            ]
        );
        assert!(v[1].cached && !v[2].cached && v[2].done);
        assert_eq!(
            compiled(&v).into_iter().collect::<Vec<_>>(),
            ["factlib", "facts"]
        );
        assert_eq!(cargo_steps(&v).len(), 1);
        assert_eq!(counted_steps(&v).len(), 2);
    }

    #[test]
    fn finds_the_reference_run_step() {
        let log = "#9 [build 4/4] RUN --mount=type=cache,target=/app/target     CFLAGS=\"x\" cargo build --profile release --workspace  && cp a /out/\n#9 CACHED\n";
        let v = vertices(log);
        assert_eq!(cargo_steps(&v).len(), 1);
        assert!(cargo_steps(&v)[0].cached);
    }
}
