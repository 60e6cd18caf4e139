//! `[cargo] volatile-env`: values that change every build (a commit id, a build number) without
//! a cold target cache every build.
//!
//! A volatile variable's *value* stays out of the target cache mount id (`keys.rs` says so;
//! its *name* stays in), but it is in the cargo step's environment, so BuildKit runs the step
//! again whenever it changes, on the same warm `target/`. Cargo then rebuilds exactly the code
//! that declared the read: `env!`/`option_env!` (rustc writes `# env-dep:` lines into dep-info,
//! and cargo compares the value) and build scripts that print `rerun-if-env-changed`.
//!
//! What cargo cannot see is an *undeclared* read: a build script calling `std::env::var`
//! without `rerun-if-env-changed`, or a proc macro (which has no way to declare on stable
//! Rust). Those are the only code that runs during a build with the variable in its
//! environment, so after cargo the step looks for them: a build-script executable or
//! proc-macro library whose bytes hold the variable's name, when no build-script output of
//! that package declares the variable. Every package found is recorded beside the target
//! directory, and a message names it.
//!
//! Before cargo, when the value differs from the one the recorded scan was made under (or
//! there is no record: a fresh, seeded or interrupted `target/`), the fingerprints of the
//! recorded packages are removed, so cargo rebuilds them (and, their outputs being newer,
//! everything that depends on them). After cargo, a package found for the first time while
//! the value was new or unknown may have been served fresh from a build under another value,
//! so its fingerprints are removed and cargo runs once more. The record is written only after
//! cargo succeeded, so a failed build leaves the previous record, which is the conservative
//! side: the next build treats the value as changed.
//!
//! The proof is by the variable's name appearing in the code that runs: a reader that builds
//! the name at run time (`format!`), walks the whole environment, or hands it to a child
//! process (a Makefile) is not found. `volatile-env` is for values the user names on purpose;
//! README says so.

use super::shell;

/// Where a cargo step keeps what this pass reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct Dirs<'a> {
    /// The target directory (the keyed cache mount).
    pub target: &'a str,
    /// Where cargo builds build scripts and proc macros for the step's profile.
    pub host: &'a str,
    /// Where the scans are recorded, beside the freshness manifest (inside `target`).
    pub state: &'a str,
}

/// A cargo unit directory's name: the package, `-`, and cargo's 16-hex-digit metadata hash.
const UNIT_HASH: &str = "????????????????";

/// Script lines that run before cargo (after any seeding): invalidate the recorded undeclared
/// readers of every variable whose value changed since their scan. `names` are shell names
/// (the loader checks).
pub fn before_cargo(names: &[String], dirs: Dirs<'_>) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let target = shell::quote(dirs.target);
    let mut lines = vec![
        format!("cachet_volatile={}", shell::quote(dirs.state)),
        "mkdir -p \"$cachet_volatile\"".to_string(),
        // `cachet_forget PKG...`: drop every fingerprint of these packages, host and target.
        format!(
            "cachet_forget() {{ for cachet_pkg do \
             find {target} -path '*/.fingerprint/*' -prune -o -type d -name .fingerprint -print \
             | while IFS= read -r cachet_fp; do \
             rm -rf \"$cachet_fp/$cachet_pkg\"-{UNIT_HASH} \"$cachet_fp/$(printf %s \"$cachet_pkg\" | tr _ -)\"-{UNIT_HASH}; \
             done; done; }}"
        ),
        // A target directory without any fingerprint builds everything under the current values.
        "cachet_fresh=".to_string(),
        format!("[ -n \"$(find {target} -type d -name .fingerprint -print | head -n 1)\" ] || cachet_fresh=1"),
        "cachet_rescan=".to_string(),
    ];
    for name in names {
        lines.push(format!(
            "if [ ! -f \"$cachet_volatile/{name}.value\" ] || [ \"$(cat \"$cachet_volatile/{name}.value\")\" != \"${{{name}-}}\" ]; then \
             cachet_rescan=\"$cachet_rescan {name}\"; \
             if [ -s \"$cachet_volatile/{name}.readers\" ]; then \
             echo \"[cachet] {name} changed: rebuilding what reads it without declaring it: $(tr '\\n' ' ' < \"$cachet_volatile/{name}.readers\")\"; \
             cachet_forget $(cat \"$cachet_volatile/{name}.readers\"); fi; fi"
        ));
    }
    lines
}

/// Script lines that run after cargo (`"$@"` runs it again): find the undeclared readers of
/// every variable, rebuild the ones found for the first time under a new value, record.
pub fn after_cargo(names: &[String], dirs: Dirs<'_>) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let target = shell::quote(dirs.target);
    let host = shell::quote(dirs.host);
    let mut lines = vec![
        // `cachet_readers NAME`: the packages whose build script or proc macro holds NAME and
        // whose build-script outputs never declare it, one per line, sorted.
        format!(
            "cachet_readers() {{ \
             {{ [ ! -d {host}/build ] || find {host}/build -type f -path '*/build/*/build-script-*' ! -name '*.d'; \
             [ ! -d {host}/deps ] || find {host}/deps -type f -name 'lib*.so'; }} \
             | while IFS= read -r cachet_bin; do \
             grep -a -q -F -e \"$1\" \"$cachet_bin\" || continue; \
             case \"$cachet_bin\" in \
             */build/*) cachet_pkg=${{cachet_bin%/*}}; cachet_pkg=${{cachet_pkg##*/}}; cachet_pkg=${{cachet_pkg%-*}}; \
             cachet_declared=$(find {target} -type f -path \"*/build/$cachet_pkg-{UNIT_HASH}/output\" \
             -exec grep -l -x -e \"cargo::\\{{0,1\\}}rerun-if-env-changed=$1\" {{}} + 2>/dev/null || true); \
             [ -z \"$cachet_declared\" ] || continue;; \
             *) cachet_pkg=${{cachet_bin##*/lib}}; cachet_pkg=${{cachet_pkg%-*}};; \
             esac; echo \"$cachet_pkg\"; done | LC_ALL=C sort -u; }}"
        ),
        "cachet_again=".to_string(),
    ];
    for name in names {
        lines.push(format!(
            "cachet_readers {name} > \"$cachet_volatile/{name}.found\"; \
             [ -f \"$cachet_volatile/{name}.readers\" ] || : > \"$cachet_volatile/{name}.readers\"; \
             cachet_new=$(LC_ALL=C comm -13 \"$cachet_volatile/{name}.readers\" \"$cachet_volatile/{name}.found\"); \
             if [ -s \"$cachet_volatile/{name}.found\" ]; then \
             echo \"[cachet] {name} is read without declaring it (cargo:rerun-if-env-changed={name}) by: $(tr '\\n' ' ' < \"$cachet_volatile/{name}.found\")- Cachet rebuilds them whenever it changes\"; fi; \
             case \" $cachet_rescan \" in *\" {name} \"*) \
             if [ -n \"$cachet_new\" ] && [ -z \"$cachet_fresh\" ]; then cachet_forget $cachet_new; cachet_again=1; fi;; esac"
        ));
    }
    lines.push("if [ -n \"$cachet_again\" ]; then \"$@\"; fi".to_string());
    for name in names {
        lines.push(format!(
            "mv \"$cachet_volatile/{name}.found\" \"$cachet_volatile/{name}.readers\"; \
             printf %s \"${{{name}-}}\" > \"$cachet_volatile/{name}.value\""
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const NAME: &str = "CACHET_COMMIT";

    /// A stand-in for cargo, run as `"$@"`: "builds" each package named in `$CACHET_PLAN`
    /// (`pkg:kind`, kind `declared`, `undeclared`, `macro` or `plain`) whose fingerprint is
    /// missing, logging it to `$CACHET_LOG`.
    const FAKE_CARGO: &str = r#"
t="$1"; h="$t/release"; o="$t/x86_64-unknown-linux-gnu/release"
for entry in $CACHET_PLAN; do
  pkg=${entry%%:*}; kind=${entry#*:}; hash=0123456789abcdef
  fp="$o/.fingerprint/$pkg-$hash"
  [ -d "$fp" ] && continue
  mkdir -p "$fp" "$h/build/$pkg-fedcba9876543210" "$o/build/$pkg-$hash" "$h/deps"
  echo "$pkg" >> "$CACHET_LOG"
  case $kind in
    declared) printf 'bin reads CACHET_COMMIT\n' > "$h/build/$pkg-fedcba9876543210/build-script-build"
              printf 'cargo:rerun-if-env-changed=CACHET_COMMIT\n' > "$o/build/$pkg-$hash/output";;
    undeclared) printf 'bin reads CACHET_COMMIT\n' > "$h/build/$pkg-fedcba9876543210/build-script-build"
              : > "$o/build/$pkg-$hash/output";;
    macro) printf 'so reads CACHET_COMMIT\n' > "$h/deps/lib$pkg-$hash.so";;
    plain) printf 'bin\n' > "$h/build/$pkg-fedcba9876543210/build-script-build";;
  esac
done
"#;

    struct Sandbox {
        dir: PathBuf,
    }

    impl Sandbox {
        fn new(name: &str) -> Sandbox {
            let dir =
                std::env::temp_dir().join(format!("cachet-volatile-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("target")).unwrap();
            fs::write(dir.join("cargo.sh"), FAKE_CARGO).unwrap();
            Sandbox { dir }
        }

        /// Runs the step's lines around the fake cargo; returns what it built and printed.
        fn build(&self, value: &str, plan: &str) -> (Vec<String>, String) {
            let target = self.dir.join("target");
            let target = target.to_str().unwrap();
            let host = format!("{target}/release");
            let state = format!("{target}/.cachet/volatile-env");
            let dirs = Dirs {
                target,
                host: &host,
                state: &state,
            };
            let names = vec![NAME.to_string()];
            let mut script = vec!["set -eu".to_string()];
            script.extend(before_cargo(&names, dirs));
            script.push("\"$@\"".into());
            script.extend(after_cargo(&names, dirs));
            let log = self.dir.join("log");
            let _ = fs::remove_file(&log);
            let out = Command::new("sh")
                .arg("-c")
                .arg(script.join("\n"))
                .arg("step")
                .arg("sh")
                .arg(self.dir.join("cargo.sh"))
                .arg(target)
                .env(NAME, value)
                .env("CACHET_PLAN", plan)
                .env("CACHET_LOG", &log)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let built = fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect();
            (built, stdout)
        }
    }

    impl Drop for Sandbox {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn exists(p: &Path) -> bool {
        p.exists()
    }

    #[test]
    fn nothing_is_written_without_volatile_variables() {
        let dirs = Dirs {
            target: "/t",
            host: "/t/release",
            state: "/t/.cachet/v",
        };
        assert!(before_cargo(&[], dirs).is_empty() && after_cargo(&[], dirs).is_empty());
    }

    #[test]
    fn declared_readers_are_left_to_cargo_and_undeclared_ones_rebuilt_on_a_change() {
        let sandbox = Sandbox::new("readers");
        let plan = "decl:declared undecl:undeclared mac:macro plain:plain";
        let (built, out) = sandbox.build("a1", plan);
        assert_eq!(
            built,
            ["decl", "undecl", "mac", "plain"],
            "a fresh target builds all"
        );
        assert!(out.contains("by: mac undecl -"), "{out}");
        assert!(exists(
            &sandbox
                .dir
                .join("target/.cachet/volatile-env/CACHET_COMMIT.value")
        ));

        // Same value: nothing to do.
        let (built, _) = sandbox.build("a1", plan);
        assert!(built.is_empty(), "{built:?}");

        // A new value rebuilds exactly the undeclared readers (cargo handles the rest).
        let (built, out) = sandbox.build("b2", plan);
        assert_eq!(built, ["undecl", "mac"], "{out}");
        assert!(out.contains("CACHET_COMMIT changed"), "{out}");
    }

    #[test]
    fn a_reader_first_seen_under_a_new_value_is_rebuilt_at_once() {
        let sandbox = Sandbox::new("first-seen");
        let (built, _) = sandbox.build("a1", "plain:plain");
        assert_eq!(built, ["plain"]);
        // An undeclared reader that was already built (here: planted as if seeded from a
        // layer built under another value), seen only now that the value changes.
        let (built, _) = sandbox.build("a1", "plain:plain late:undeclared");
        assert_eq!(built, ["late"], "built now, under the current value");
        fs::remove_file(
            sandbox
                .dir
                .join("target/.cachet/volatile-env/CACHET_COMMIT.readers"),
        )
        .unwrap();
        let (built, out) = sandbox.build("b2", "plain:plain late:undeclared");
        assert_eq!(
            built,
            ["late"],
            "found after cargo, so rebuilt in a second pass: {out}"
        );
    }
}
