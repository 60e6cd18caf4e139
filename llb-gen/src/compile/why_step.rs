//! "Why did this rebuild": a tiny step after every cargo step that prints, as a progress step
//! of its own (`[cachet] why +<target> rebuilt`), what changed since the last build of that
//! target on this builder. It never decides or changes what is built.
//!
//! How it is wired:
//! * The cargo step writes a few small files to an extra, empty output mount at [`RUN_DIR`]
//!   (never part of its artifacts): the state its target cache was in before cargo ran
//!   ([`CACHE_STATE_FILE`]: `warm`, `empty`, or `emptied` under `--no-cache`), the list of
//!   sources it saw ([`SOURCES_FILE`]: `hash<TAB>path`, written by the freshness pass itself,
//!   `cachet-helper freshness --list`, see [`sources_file`]), and the time it ran ([`RUN_FILE`]), so
//!   the why step's input is new whenever cargo ran, and only then.
//! * The why step runs on the SDK (it needs only `sh`, coreutils and awk) with that output
//!   read-only, the record of what the cargo step was built from (its key inputs and other
//!   inputs, as `name<TAB>JSON value` lines, written into its script by the compiler) and a
//!   small cache mount of its own, [`crate::keys::why_mount_id`]
//!   (`cachet/<project>/why/<target>`), where the previous build of the target left its
//!   record and sources list. It prints the inputs that differ (`env.CFLAGS: "-O2" → "-O3"`),
//!   `sources changed: N files: …` with the first few paths, which target cache the build used
//!   and whether it was warm, or "first build of +<target> on this builder"; then it stores
//!   the new record.
//! * It is reachable from the result, so BuildKit runs it, through a copy of nothing from its
//!   (empty) output into the cargo step's artifacts: a wildcard that matches nothing, with
//!   `allowEmptyWildcard`. BuildKit keys that copy on the content it selects, which is always
//!   nothing, so no output byte and no downstream cache key depends on the why step.
//!
//! Cost: on a no-op build the cargo step is cached, so its why output is too and the why step
//! is served from cache like everything else. It runs only after cargo really ran, and then it
//! is one short shell script. Comparisons are with the last build of the target that *ran* on
//! this builder: a build served from BuildKit's cache records nothing (nothing was rebuilt).
//! The why step is never marked `ignore-cache`, not even under `--no-cache`: BuildKit empties
//! the cache mounts of every op it must not cache, and that would lose the record to compare
//! with (its input is new anyway when cargo ran).

use std::collections::BTreeMap;

use crate::llb::{Copy, Mount, NetMode, State};

use super::step_script::StepScript;
use super::{shell, CompileError, Context};

/// Where the cargo step writes what the why step reads (an empty output mount of its own).
pub const RUN_DIR: &str = "/cachet/why";
/// The state of the target cache before cargo ran: `warm`, `empty` or `emptied`.
pub const CACHE_STATE_FILE: &str = "target-cache";
/// `hash<TAB>path` of every source file the cargo step saw, in the freshness manifest's order.
pub const SOURCES_FILE: &str = "sources.tsv";
/// When the cargo step ran: makes its why output new on every run.
pub const RUN_FILE: &str = "ran-at";
/// Where the why step mounts its cache mount (`keys::why_mount_id`).
pub const STATE_DIR: &str = "/cachet/why-state";
/// The why step's own output: always empty, copied from (nothing) to make it reachable.
const OUT_DIR: &str = "/cachet/why-out";
/// Matches nothing in the why step's empty output.
const NOTHING: &str = "/cachet-why-nothing-*";
/// How many changed paths the report names.
const SHOWN_PATHS: usize = 5;

/// The lines the cargo step runs first, before anything touches its target cache: record the
/// cache's state and, under `--no-cache` (`fresh`), empty it so cargo builds from nothing.
pub(super) fn before_lines(target_dir: &str, fresh: bool) -> Vec<String> {
    let run = shell::quote(RUN_DIR);
    let target = shell::quote(target_dir);
    let mut lines = vec![format!("date +%s.%N > {run}/{RUN_FILE}")];
    if fresh {
        lines.push(format!("echo emptied > {run}/{CACHE_STATE_FILE}"));
        // Everything, hidden entries and Cachet's own state included; the mount is locked, so
        // no other build is using it.
        lines.push(format!(
            "find {target} -mindepth 1 -maxdepth 1 -exec rm -rf -- {{}} +"
        ));
    } else {
        lines.push(format!(
            "if [ -n \"$(ls -A {target})\" ]; then echo warm; else echo empty; fi \
             > {run}/{CACHE_STATE_FILE}"
        ));
    }
    lines
}

/// Where the freshness pass writes the sources it saw (`hash<TAB>path`), for the why step.
pub(super) fn sources_file() -> String {
    format!("{RUN_DIR}/{SOURCES_FILE}")
}

/// What the why step compares: everything a cargo step was built from, by name.
pub(super) struct Why<'a> {
    pub target: &'a str,
    /// The cargo step's inputs (its explain record); object values are flattened one level
    /// (`env.CFLAGS`).
    pub inputs: &'a BTreeMap<String, serde_json::Value>,
    pub target_cache: &'a str,
    /// The cargo step seeds an empty target cache from a dependency layer.
    pub seeded: bool,
}

/// `name<TAB>JSON value` lines, sorted by name: one line each, whatever the values hold.
pub(super) fn record_lines(why: &Why<'_>) -> Vec<String> {
    let mut flat: BTreeMap<String, String> = BTreeMap::new();
    let json = |v: &serde_json::Value| v.to_string();
    for (name, value) in why.inputs {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    flat.insert(format!("{name}.{k}"), json(v));
                }
            }
            other => {
                flat.insert(name.clone(), json(other));
            }
        }
    }
    flat.insert(
        "target_cache".into(),
        json(&serde_json::Value::from(why.target_cache)),
    );
    flat.into_iter()
        // A name is JSON-escaped too (minus its quotes), so neither part holds a tab or newline.
        .map(|(k, v)| {
            let k = json(&serde_json::Value::from(k));
            format!("{}\t{v}", &k[1..k.len() - 1])
        })
        .collect()
}

/// The why step's script.
pub(super) fn script(why: &Why<'_>) -> Vec<String> {
    let run = shell::quote(RUN_DIR);
    let state = shell::quote(STATE_DIR);
    let target = format!("+{}", why.target);
    let mut lines = vec![
        "set -eu".to_string(),
        // The why step only prints: whatever goes wrong in it, the build goes on.
        // (Target names are letters, digits, `-` and `_`: safe inside these quotes.)
        format!(
            "trap 'rc=$?; [ \"$rc\" -eq 0 ] || echo \"  (could not compare with the last \
             build of {target}: exit status $rc)\"; exit 0' EXIT"
        ),
        "t=$(mktemp -d)".to_string(),
        "cat > \"$t/record\" <<'CACHET_WHY_RECORD'".to_string(),
    ];
    lines.extend(record_lines(why));
    lines.push("CACHET_WHY_RECORD".to_string());
    lines.push(format!(
        "echo {}",
        shell::quote(&format!(
            "why {target} rebuilt (since its last build on this builder):"
        ))
    ));
    lines.extend([
        format!("if [ -f {state}/record.tsv ] && [ -f {state}/{SOURCES_FILE} ]; then"),
        // Inputs: changed, added, removed; sorted by name.
        format!(
            "  awk -F '\\t' 'FILENAME == ARGV[1] {{ old[$1] = $2; next }} \
             {{ seen[$1] = 1; if (!($1 in old)) print \"  \" $1 \": (none) → \" $2; \
             else if (old[$1] != $2) print \"  \" $1 \": \" old[$1] \" → \" $2 }} \
             END {{ for (k in old) if (!(k in seen)) print \"  \" k \": \" old[k] \" → (none)\" }}' \
             {state}/record.tsv \"$t/record\" | LC_ALL=C sort > \"$t/inputs\""
        ),
        // Sources: edited, new, deleted; by path.
        format!(
            "  awk -F '\\t' 'FILENAME == ARGV[1] {{ old[$2] = $1; next }} \
             {{ seen[$2] = 1; if (!($2 in old)) print $2 \" (new)\"; else if (old[$2] != $1) print $2 }} \
             END {{ for (p in old) if (!(p in seen)) print p \" (deleted)\" }}' \
             {state}/{SOURCES_FILE} {run}/{SOURCES_FILE} | sed 's|^\\./||' | LC_ALL=C sort > \"$t/sources\""
        ),
        "  cat \"$t/inputs\"".to_string(),
        format!(
            "  awk 'NR <= {SHOWN_PATHS} {{ s = s (NR > 1 ? \", \" : \"\") $0 }} \
             END {{ if (NR > 0) print \"  sources changed: \" NR \" file\" (NR > 1 ? \"s\" : \"\") \": \" s \
             (NR > {SHOWN_PATHS} ? \", …\" : \"\") }}' \"$t/sources\""
        ),
        format!(
            "  if [ ! -s \"$t/inputs\" ] && [ ! -s \"$t/sources\" ]; then echo {}; fi",
            shell::quote(
                "  no input or source Cachet records changed (BuildKit no longer had this \
                 step cached: pruned, --no-cache, or a cache import without it)"
            )
        ),
        "else".to_string(),
        format!(
            "  echo {}",
            shell::quote(&format!("  first build of {target} on this builder"))
        ),
        "fi".to_string(),
    ]);
    let seeded = if why.seeded {
        ", seeded from the dependency layer"
    } else {
        ""
    };
    lines.push(format!("case $(cat {run}/{CACHE_STATE_FILE}) in"));
    lines.push(format!(
        "  emptied) echo {};;",
        shell::quote(&format!(
            "  --no-cache: target cache {} was emptied first{seeded}; {target} compiled from \
             nothing",
            why.target_cache
        ))
    ));
    lines.push(format!(
        "  empty) echo {};;",
        shell::quote(&format!(
            "  target cache {} started empty{seeded} (first build under these keys on this \
             builder, or pruned)",
            why.target_cache
        ))
    ));
    lines.push(format!(
        "  *) echo {};;",
        shell::quote(&format!(
            "  target cache {} was warm: cargo rebuilt what changed",
            why.target_cache
        ))
    ));
    lines.push("esac".to_string());
    // Store this build's record for the next one (renames, so a killed step leaves the old
    // record whole).
    lines.extend([
        format!("cp \"$t/record\" {state}/record.tsv.new"),
        format!("cp {run}/{SOURCES_FILE} {state}/{SOURCES_FILE}.new"),
        format!("mv {state}/record.tsv.new {state}/record.tsv"),
        format!("mv {state}/{SOURCES_FILE}.new {state}/{SOURCES_FILE}"),
        "rm -rf \"$t\"".to_string(),
    ]);
    lines
}

/// The why step's name in progress output.
pub fn progress_name(target: &str) -> String {
    format!("[cachet] why +{target} rebuilt")
}

/// Plans the why step for the cargo step whose why output is `run`; returns its (empty)
/// output, which [`reach`] makes part of the result.
pub(super) fn step(
    ctx: &mut Context<'_>,
    run: &State,
    why: &Why<'_>,
) -> Result<State, CompileError> {
    let sdk = ctx.sdk_state()?;
    let script = StepScript::new(
        "why.sh",
        &script(why),
        &ctx.step_platform(),
        &format!("why +{}", why.target),
    )?;
    let exec = sdk
        .run(script.argv(&[]))
        .mount(script.mount())
        .env("CACHET_SDK", ctx.sdk.clone())
        .mount(Mount::bind(RUN_DIR, run).readonly())
        .mount(
            Mount::cache(
                STATE_DIR,
                crate::keys::why_mount_id(&ctx.spec.project, why.target),
            )
            .sharing(crate::llb::CacheSharing::Locked),
        )
        .mount(Mount::bind(OUT_DIR, &State::scratch()))
        .mount(Mount::tmpfs("/tmp"))
        .network(NetMode::None)
        .platform(ctx.step_platform())
        .custom_name(progress_name(why.target))
        .build()?;
    Ok(exec.get_mount(OUT_DIR)?)
}

/// The copy that makes the why step part of a result without adding a byte to it.
pub(super) fn reach(why_out: &State) -> Copy {
    Copy::new(why_out, NOTHING, "/")
        .allow_wildcard(true)
        .allow_empty_wildcard(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn inputs(cflags: &str) -> BTreeMap<String, serde_json::Value> {
        BTreeMap::from([
            ("env".to_string(), json!({ "CFLAGS": cflags, "CC": "cc" })),
            ("sdk".to_string(), json!("sha256:1111")),
            ("features".to_string(), json!(["tls"])),
        ])
    }

    /// The cargo step's side (its why lines, with the manifest the freshness pass would leave)
    /// and then the why step, with their fixed paths moved under `dir`; returns what the why
    /// step printed.
    fn build(dir: &Path, why: &Why<'_>, sources: &[(&str, &str)], fresh: bool) -> String {
        let (run, state, target) = (dir.join("run"), dir.join("state"), dir.join("target"));
        for d in [&run, &state, &target] {
            fs::create_dir_all(d).unwrap();
        }
        let _ = fs::remove_file(run.join(SOURCES_FILE));
        // What the freshness pass lists (`cachet-helper freshness --list`).
        let listing: String = sources
            .iter()
            .map(|(path, hash)| format!("{hash}\t{path}\n"))
            .collect();
        let mut cargo = before_lines("/cachet/target", fresh);
        // The freshness pass keeps its manifest in the target cache and lists the sources.
        cargo.push(
            "mkdir -p /cachet/target/.cachet && : > /cachet/target/.cachet/freshness-v2".into(),
        );
        cargo.push(format!("printf '%s' '{listing}' > {}", sources_file()));
        let moved = |lines: Vec<String>| {
            lines
                .join("\n")
                .replace(STATE_DIR, state.to_str().unwrap())
                .replace(RUN_DIR, run.to_str().unwrap())
                .replace("/cachet/target", target.to_str().unwrap())
        };
        let sh = |text: String| {
            let out = Command::new("sh").arg("-c").arg(text).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        sh(format!("set -eu\n{}", moved(cargo)));
        sh(moved(script(why)))
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cachet-why-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_report_names_what_changed_since_the_last_build() {
        let dir = tempdir("report");
        let o2 = inputs("-O2");
        let why = |inputs| Why {
            target: "build",
            inputs,
            target_cache: "cachet/p/x86_64-unknown-linux-gnu/release/aaaa",
            seeded: false,
        };
        let first = build(&dir, &why(&o2), &[("src/main.rs", "a1")], false);
        assert!(
            first.contains("first build of +build on this builder"),
            "{first}"
        );
        assert!(first.contains("started empty"), "{first}");

        // A new CFLAGS value, one file edited, one new, one deleted.
        let mut o3 = inputs("-O3");
        o3.insert("features".into(), json!([]));
        o3.insert("sdk".into(), json!("sha256:2222"));
        let second = build(
            &dir,
            &why(&o3),
            &[("build.rs", "b1"), ("src/lib.rs", "c1")],
            false,
        );
        assert!(
            second.contains("  env.CFLAGS: \"-O2\" → \"-O3\"\n"),
            "{second}"
        );
        assert!(second.contains("  features: [\"tls\"] → []\n"), "{second}");
        assert!(
            second.contains("  sdk: \"sha256:1111\" → \"sha256:2222\"\n"),
            "a new SDK is named: {second}"
        );
        assert!(
            !second.contains("env.CC"),
            "unchanged inputs stay quiet: {second}"
        );
        assert!(
            second.contains("  sources changed: 3 files: build.rs (new), src/lib.rs (new), src/main.rs (deleted)\n"),
            "{second}"
        );
        assert!(second.contains("was warm"), "{second}");
        assert!(!second.contains("first build"), "{second}");

        // Nothing recorded changed: said so, not left blank.
        let third = build(
            &dir,
            &why(&o3),
            &[("build.rs", "b1"), ("src/lib.rs", "c2")],
            false,
        );
        assert!(
            third.contains("  sources changed: 1 file: src/lib.rs\n"),
            "{third}"
        );
        let fourth = build(
            &dir,
            &why(&o3),
            &[("build.rs", "b1"), ("src/lib.rs", "c2")],
            false,
        );
        assert!(
            fourth.contains("no input or source Cachet records changed"),
            "{fourth}"
        );

        // Many files: the first few are named.
        let many: Vec<(String, String)> = (0..12)
            .map(|i| (format!("src/m{i:02}.rs"), format!("h{i}")))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(p, h)| (p.as_str(), h.as_str())).collect();
        let fifth = build(&dir, &why(&o3), &many, false);
        assert!(
            fifth.contains(
                "  sources changed: 14 files: build.rs (deleted), src/lib.rs (deleted), \
                 src/m00.rs (new), src/m01.rs (new), src/m02.rs (new), …\n"
            ),
            "{fifth}"
        );
    }

    #[test]
    fn no_cache_empties_the_target_cache_and_says_so() {
        let dir = tempdir("fresh");
        let target = dir.join("target");
        fs::create_dir_all(target.join(".cachet")).unwrap();
        fs::create_dir_all(target.join("release/deps")).unwrap();
        fs::write(target.join("release/deps/libold.rlib"), "old").unwrap();
        fs::write(target.join(".hidden"), "old").unwrap();
        let i = inputs("-O2");
        let why = Why {
            target: "build",
            inputs: &i,
            target_cache: "cachet/p/t/release/aaaa",
            seeded: false,
        };
        let out = build(&dir, &why, &[("src/main.rs", "a1")], true);
        assert!(
            out.contains("--no-cache: target cache cachet/p/t/release/aaaa was emptied first"),
            "{out}"
        );
        let left: Vec<_> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        // Only what the (simulated) freshness pass wrote after the emptying.
        assert_eq!(left, [".cachet"], "{left:?}");
    }

    #[test]
    fn a_failing_comparison_never_fails_the_build() {
        let dir = tempdir("broken");
        // The state "directory" is a file: nothing can be stored there.
        fs::write(dir.join("state"), "not a directory").unwrap();
        let i = inputs("-O2");
        let why = Why {
            target: "build",
            inputs: &i,
            target_cache: "cachet/p/t/release/aaaa",
            seeded: false,
        };
        let run = dir.join("run");
        fs::create_dir_all(&run).unwrap();
        fs::write(run.join(CACHE_STATE_FILE), "warm\n").unwrap();
        // An empty listing (a context with no files).
        fs::write(run.join(SOURCES_FILE), "").unwrap();
        let text = script(&why)
            .join("\n")
            .replace(STATE_DIR, dir.join("state").to_str().unwrap())
            .replace(RUN_DIR, run.to_str().unwrap());
        let out = Command::new("sh").arg("-c").arg(text).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("(could not compare with the last build of +build: exit status 1)"),
            "{stdout}"
        );
    }

    #[test]
    fn record_lines_are_one_line_each_and_sorted() {
        let mut i = inputs("-O2 -DX=\"a\tb\"\n");
        i.insert("command".into(), json!(["cargo", "build"]));
        let why = Why {
            target: "build",
            inputs: &i,
            target_cache: "cachet/p/t/release/aaaa",
            seeded: false,
        };
        let lines = record_lines(&why);
        let names: Vec<&str> = lines
            .iter()
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "command",
                "env.CC",
                "env.CFLAGS",
                "features",
                "sdk",
                "target_cache"
            ]
        );
        assert!(lines
            .iter()
            .all(|l| l.matches('\t').count() == 1 && !l.contains('\n')));
        assert!(lines.contains(&"env.CFLAGS\t\"-O2 -DX=\\\"a\\tb\\\"\\n\"".to_string()));
    }
}
