//! Reading BuildKit's `--progress=plain` output: every named step (vertex), whether BuildKit
//! served it from cache, its log lines, which crates cargo compiled in it and whether it
//! failed. The one reader every test, the matrix, the corpus and the bench use.
//!
//! A plain log interleaves the vertices' lines, each `#<id> <text>`: the first line of a vertex
//! is its name (`#7 [build] cargo build … · 1a2b3c`), then come its status (`#7 CACHED`,
//! `#7 DONE 2.3s`, `#7 ERROR: …`) and its output, `#7 <seconds> <text>`. Vertices whose name does
//! not start with `[` (BuildKit's own bookkeeping, like `resolve image config for …`) are left
//! out of [`vertices`]; [`every_vertex`] keeps them (the bench times them too).

use std::collections::BTreeSet;
use std::time::Duration;

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
    /// How long it ran: the sum of its `#N DONE 1.6s` times (a vertex whose output resumes
    /// later, like a pulled image's, prints one `DONE` per stretch); `None` when it never
    /// printed one (served from cache, failed, canceled).
    pub duration: Option<Duration>,
    /// Its output lines without the `#N <seconds> ` prefix (`ERROR` lines included), each
    /// ending in a newline; not its status lines, (dockerd) its digest or its name repeated when
    /// its output resumes.
    pub log: String,
    /// The index (0-based, in the whole log) of the vertex's first `#N ERROR…` line.
    pub error_line: Option<usize>,
}

impl Vertex {
    /// The crates cargo compiled in this vertex (`Compiling <crate> v…` lines), sorted, each
    /// once.
    pub fn compiled(&self) -> Vec<String> {
        let crates: BTreeSet<String> = self.log.lines().filter_map(compiled_crate).collect();
        crates.into_iter().collect()
    }

    /// The step did not run: BuildKit printed CACHED, or (current BuildKit, for a result in an
    /// imported cache) only downloaded and unpacked its layer (`sha256:… done`,
    /// `extracting sha256:… done`) and printed nothing else.
    pub fn served_from_cache(&self) -> bool {
        let lines: Vec<&str> = self.log.lines().filter(|l| !l.trim().is_empty()).collect();
        self.cached
            || (lines.iter().any(|l| l.starts_with("extracting sha256:"))
                && lines
                    .iter()
                    .all(|l| l.starts_with("extracting sha256:") || l.starts_with("sha256:")))
    }
}

/// The named vertices of a log, in order of first appearance: the steps of the build, without
/// BuildKit's own bookkeeping (whose names do not start with `[`).
pub fn vertices(progress: &str) -> Vec<Vertex> {
    let mut all = every_vertex(progress);
    all.retain(|v| v.name.starts_with('['));
    all
}

/// Every vertex of a log, in order of first appearance, BuildKit's bookkeeping included
/// (`resolve image config for …`, `exporting to client directory`, `importing cache manifest
/// from …`), and the `#0 building with … instance` banner of newer clients.
pub fn every_vertex(progress: &str) -> Vec<Vertex> {
    let mut out: Vec<Vertex> = Vec::new();
    for (number, line) in progress.lines().enumerate() {
        let Some((id, text)) = split_line(line) else {
            continue;
        };
        let Some(vertex) = out.iter_mut().find(|v| v.id == id) else {
            out.push(Vertex {
                id: id.to_string(),
                name: text.trim_end().to_string(),
                cached: false,
                done: false,
                duration: None,
                log: String::new(),
                error_line: None,
            });
            continue;
        };
        let status = text.trim();
        if status == "CACHED" {
            vertex.cached = true;
        } else if let Some(after) = status.strip_prefix("DONE") {
            vertex.done = true;
            if let Some(took) = done_time(after) {
                vertex.duration = Some(vertex.duration.unwrap_or_default() + took);
            }
        } else if (status.starts_with("sha256:") && !status.contains(' '))
            || text.trim_end() == vertex.name
        {
            // (dockerd) the vertex digest, and the name repeated when the output resumes.
        } else {
            let text = without_time(text);
            if text.starts_with("ERROR") && vertex.error_line.is_none() {
                vertex.error_line = Some(number);
            }
            vertex.log.push_str(text);
            vertex.log.push('\n');
        }
    }
    out
}

/// ` 1.6s` (after `DONE`) → 1.6 s; `None` for anything else.
fn done_time(after: &str) -> Option<Duration> {
    let seconds: f64 = after.trim().strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// The one named step whose name starts with `prefix`; panics (naming what was found) unless
/// there is exactly one.
#[track_caller]
pub fn only_step(progress: &str, prefix: &str) -> Vertex {
    let mut found: Vec<Vertex> = vertices(progress)
        .into_iter()
        .filter(|v| v.name.starts_with(prefix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one `{prefix}…` step, found {:?} in:\n{progress}",
        found.iter().map(|v| &v.name).collect::<Vec<_>>()
    );
    found.remove(0)
}

/// Every crate compiled anywhere in the build.
pub fn compiled(vertices: &[Vertex]) -> BTreeSet<String> {
    vertices.iter().flat_map(Vertex::compiled).collect()
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

/// The name of the step whose `ERROR` line comes first in the log.
pub fn failed_step(progress: &str) -> Option<String> {
    vertices(progress)
        .into_iter()
        .filter_map(|v| Some((v.error_line?, v.name)))
        .min()
        .map(|(_, name)| name)
}

/// `#12 3.456 text` → `text`; `#12 text` → `text`; other lines unchanged.
pub fn line_text(line: &str) -> &str {
    match split_line(line) {
        Some((_, text)) => without_time(text),
        None => line,
    }
}

/// `#12 text` → `("12", "text")`; `None` for a line that is not a vertex's.
fn split_line(line: &str) -> Option<(&str, &str)> {
    let (id, text) = line.strip_prefix('#')?.split_once(' ')?;
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then_some((id, text))
}

/// `3.456 text` → `text`; anything else unchanged.
fn without_time(text: &str) -> &str {
    match text.split_once(' ') {
        Some((time, rest)) if time.parse::<f64>().is_ok() => rest,
        _ => text,
    }
}

/// `   Compiling factlib v0.1.0 (/cachet/src/crates/factlib)` → `factlib`.
fn compiled_crate(line: &str) -> Option<String> {
    let mut words = line.trim().strip_prefix("Compiling ")?.split_whitespace();
    let name = words.next()?;
    words.next()?.starts_with('v').then(|| name.to_string())
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
#7 sha256:0123abcd
#7 0.512    Compiling factlib v0.1.0 (/cachet/src/crates/factlib)
#8 [build] record provenance
#8 CACHED
#7 [build] cargo build --profile release --target x86_64-unknown-linux-gnu --workspace · 1a2b3c
#7 0.900    Compiling facts v0.1.0 (/cachet/src/crates/facts)
#7 2.100     Finished `release` profile [optimized] target(s) in 1.98s
#7 DONE 2.3s
#9 resolve image config for docker.io/library/x
#9 DONE 0.1s
#10 [cachet] resolve image docker.io/library/cachet-sdk:rustup
#10 DONE 0.0s
#x [not a vertex]
";

    #[test]
    fn parses_names_cache_hits_logs_and_compiles() {
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
        assert!(v[1].cached && !v[1].done);
        assert!(!v[2].cached && v[2].done);
        assert_eq!(
            v[2].log,
            "   Compiling factlib v0.1.0 (/cachet/src/crates/factlib)\n   \
             Compiling facts v0.1.0 (/cachet/src/crates/facts)\n    \
             Finished `release` profile [optimized] target(s) in 1.98s\n"
        );
        assert_eq!(
            compiled(&v).into_iter().collect::<Vec<_>>(),
            ["factlib", "facts"]
        );
        assert_eq!(cargo_steps(&v).len(), 1);
        assert_eq!(counted_steps(&v).len(), 2);
        assert_eq!(failed_step(LOG), None);
    }

    /// Captured from `docker build --progress=plain` on dockerd 20.10 (BuildKit v0.8).
    const DOCKERD_LOG: &str = "\
#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 108B done
#1 DONE 0.1s

#4 [1/3] FROM docker.io/library/cachet-sdk:debian
#4 DONE 0.0s

#5 [2/3] RUN sleep 1.2 && echo hi
#5 1.504 hi
#5 DONE 2.5s

#6 [3/3] RUN echo cached-or-not
#6 CACHED

#7 exporting to client
#7 copying files 4.54MB 0.1s
#7 copying files 779.33MB 6.0s done
#7 DONE 6.7s
";

    /// Captured from `docker buildx build --progress=plain` on buildkitd v0.33: the image's
    /// vertex prints `DONE` twice, once resolved, once pulled and unpacked.
    const BUILDX_LOG: &str = "\
#0 building with \"cachet\" instance using remote driver

#4 [1/3] FROM docker.io/library/cachet-sdk:debian@sha256:5e009abf1a8a
#4 resolve docker.io/library/cachet-sdk:debian@sha256:5e009abf1a8a 0.1s done
#4 DONE 0.2s

#4 [1/3] FROM docker.io/library/cachet-sdk:debian@sha256:5e009abf1a8a
#4 sha256:4084d40f6c77 265.14MB / 265.14MB 1.2s done
#4 extracting sha256:4084d40f6c77 8.2s done
#4 DONE 9.6s

#5 [2/3] RUN sleep 1.2 && echo hi
#5 1.304 hi
#5 DONE 1.7s

#6 [3/3] RUN echo cached-or-not
#6 CACHED

#7 exporting to client directory
#7 copying files 779.33MB 6.5s done
#7 DONE 6.7s
";

    fn timings(vertices: &[Vertex]) -> Vec<(&str, bool, Option<u128>)> {
        vertices
            .iter()
            .map(|v| (v.name.as_str(), v.cached, v.duration.map(|d| d.as_millis())))
            .collect()
    }

    #[test]
    fn reads_each_vertex_duration_on_both_engines() {
        assert_eq!(
            timings(&every_vertex(DOCKERD_LOG)),
            [
                (
                    "[internal] load build definition from Dockerfile",
                    false,
                    Some(100)
                ),
                (
                    "[1/3] FROM docker.io/library/cachet-sdk:debian",
                    false,
                    Some(0)
                ),
                ("[2/3] RUN sleep 1.2 && echo hi", false, Some(2500)),
                ("[3/3] RUN echo cached-or-not", true, None),
                ("exporting to client", false, Some(6700)),
            ]
        );
        assert_eq!(
            timings(&every_vertex(BUILDX_LOG)),
            [
                (
                    "building with \"cachet\" instance using remote driver",
                    false,
                    None
                ),
                (
                    "[1/3] FROM docker.io/library/cachet-sdk:debian@sha256:5e009abf1a8a",
                    false,
                    Some(9800)
                ),
                ("[2/3] RUN sleep 1.2 && echo hi", false, Some(1700)),
                ("[3/3] RUN echo cached-or-not", true, None),
                ("exporting to client directory", false, Some(6700)),
            ]
        );
        let steps: Vec<String> = vertices(BUILDX_LOG).into_iter().map(|v| v.name).collect();
        assert_eq!(
            steps.len(),
            3,
            "bookkeeping stays out of the steps: {steps:?}"
        );
        assert_eq!(vertices(DOCKERD_LOG)[2].log, "hi\n");
    }

    #[test]
    fn finds_the_one_step_with_a_prefix() {
        let step = only_step(LOG, "[build] record");
        assert_eq!(
            (step.name.as_str(), step.cached),
            ("[build] record provenance", true)
        );
        let result = std::panic::catch_unwind(|| only_step(LOG, "[build] "));
        assert!(result.is_err(), "two `[build]` steps");
    }

    #[test]
    fn finds_the_reference_run_step() {
        let log = "#9 [build 4/4] RUN --mount=type=cache,target=/app/target     CFLAGS=\"x\" cargo build --profile release --workspace  && cp a /out/\n#9 CACHED\n";
        let v = vertices(log);
        assert_eq!(cargo_steps(&v).len(), 1);
        assert!(cargo_steps(&v)[0].cached);
    }

    #[test]
    fn an_imported_layer_counts_as_served_from_cache() {
        let log = "#5 [build] prebuild dependencies · 12ab34\n\
                   #5 sha256:aa 1.2MB / 3.4MB 0.2s\n#5 sha256:aa 3.4MB / 3.4MB 0.4s done\n\
                   #5 extracting sha256:aa 0.1s done\n#5 DONE 0.5s\n\
                   #6 [build] cargo build --bin app · 56cd78\n#6 0.1 extracting sha256:bb\n\
                   #6 0.2    Compiling app v0.1.0 (/cachet/src)\n#6 DONE 1.0s\n";
        let v = vertices(log);
        assert!(v[0].served_from_cache() && !v[0].cached);
        assert!(!v[1].served_from_cache());
        assert_eq!(v[1].compiled(), ["app"]);
    }

    #[test]
    fn names_the_step_that_failed_first() {
        let log = "#4 [cachet] load spec\n#4 DONE 0.0s\n#9 [build] cargo build\n\
                   #10 [test] cargo test\n#9 0.412 error[E0583]: file not found\n\
                   #9 ERROR: process did not complete successfully\n#10 ERROR: canceled\n";
        assert_eq!(failed_step(log).as_deref(), Some("[build] cargo build"));
        assert_eq!(failed_step("no steps\n"), None);
    }

    #[test]
    fn line_text_drops_the_vertex_and_time() {
        assert_eq!(line_text("#12 3.456 error: x"), "error: x");
        assert_eq!(line_text("#12 ERROR: y"), "ERROR: y");
        assert_eq!(line_text("#12 3.4    Compiling a"), "   Compiling a");
        assert_eq!(
            line_text("ERROR: failed to solve"),
            "ERROR: failed to solve"
        );
        assert_eq!(line_text("#ab c"), "#ab c");
    }
}
