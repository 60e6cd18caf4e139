//! The fixture workspace, made at runtime: a state ([`State`]) rendered into a directory.
//!
//! - `crates/factlib`: a library; `line()` and its package version are baked into `facts`.
//! - `crates/facts`: a binary that prints facts fixed at build time. Its build script reads
//!   `CACHET_FACT` (from the spec env) and `CACHET_CONFIG_FACT` (from `.cargo/config.toml`'s
//!   `[env]`) and `/etc/cachet-sdk-stamp` (in a re-tagged SDK) **without** declaring them, runs
//!   `$RUSTC -V`, sees `CARGO_ENCODED_RUSTFLAGS`, `PROFILE`, `OPT_LEVEL` and `TARGET`, and
//!   compiles `csrc/fact.c` with `$CC` and `$CFLAGS` (which it declares, as the `cc` crate
//!   does). The binary also prints its enabled features and the modules in its `src/`. With
//!   `FACTS_SLEEP_SECS` set (only the kill case sets it) the build script sleeps that long.
//! - `crates/other`: an independent binary.
//!
//! The code compiles with Debian's rustc 1.63, and `Cargo.lock` is version 3 (Debian's cargo
//! 1.65 cannot read version 4).
//!
//! Every file a state renders is rewritten only when its content changes, so untouched files
//! keep their timestamps exactly as a real checkout would; [`State::clamp`] and
//! [`State::mtimes`] then apply hostile timestamps on purpose.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

/// Everything that decides a build: the files of the context, and the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// `[project] name`: the target cache mount is keyed on it.
    pub project: String,
    /// `[sdk] image`.
    pub sdk: String,
    /// Bumped whenever the image behind `sdk` is re-tagged, so a state names the image it
    /// resolves to, not only its tag.
    pub sdk_epoch: u32,
    /// `[args]`: declared build arguments and their defaults.
    pub args: BTreeMap<String, String>,
    /// `[cargo] rustflags` (may use `${ARG}`).
    pub rustflags: Vec<String>,
    /// `[cargo] env` (may use `${ARG}`).
    pub env: BTreeMap<String, String>,
    /// `[cargo] volatile-env`: env names whose values stay out of the target cache key.
    pub volatile_env: Vec<String>,
    /// `[cargo] features`.
    pub features: Vec<String>,
    /// `[cargo] profile`.
    pub profile: String,
    /// Every other file of the context, by relative path.
    pub files: BTreeMap<String, String>,
    /// Every file's mtime is set to this after every write, when set (a clamping checkout).
    pub clamp: Option<SystemTime>,
    /// Files whose mtime is set to this after every write.
    pub mtimes: BTreeMap<String, SystemTime>,
    /// Symlinks of the context: path → target text.
    pub symlinks: BTreeMap<String, String>,
    /// With [`State::clamp`], directories are clamped too (as a checkout that clamps every
    /// entry does), so adding or removing a file leaves its directory's mtime unchanged.
    pub clamp_dirs: bool,
    /// `--build-arg`s.
    pub build_args: BTreeMap<String, String>,
    /// `--platform`, when given.
    pub platform: Option<String>,
    /// The target built (`build`: the workspace; `other`: only the independent binary).
    pub target: Target,
    /// Extra cargo arguments of a target, after its own; [`Target::Alt`] is in the spec only
    /// when it has some.
    pub cargo_args: BTreeMap<Target, Vec<String>>,
    /// `[cross.<triple>] env`, by triple: what a cross build adds to cargo's environment.
    pub cross_env: BTreeMap<String, BTreeMap<String, String>>,
}

/// The targets of the fixture's spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `cargo build --workspace`: both binaries.
    Build,
    /// `cargo build -p other`: the independent binary only.
    Other,
    /// `cargo build --workspace` again, as a second target that differs from `build` only in
    /// its extra arguments ([`State::cargo_args`]).
    Alt,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Build => "build",
            Target::Other => "other",
            Target::Alt => "alt",
        }
    }

    /// The cargo arguments of the target (after `cargo build`).
    pub fn cargo_args(self) -> &'static [&'static str] {
        match self {
            Target::Build | Target::Alt => &["--workspace"],
            Target::Other => &["-p", "other"],
        }
    }

    /// The binaries the target produces; the first is the one whose output is compared.
    pub fn binaries(self) -> &'static [&'static str] {
        match self {
            Target::Build | Target::Alt => &["facts", "other"],
            Target::Other => &["other"],
        }
    }
}

/// The crates of the fixture, as cargo names them in `Compiling <crate>`.
pub const CRATES: &[&str] = &["factlib", "facts", "other"];

/// The default line of the library.
pub const LIB_LINE: &str = "factlib line one";

/// The library's source file.
const LIB_RS: &str = "crates/factlib/src/lib.rs";

impl State {
    /// The starting state: the rustup SDK, release profile, no features, the default args.
    pub fn initial(project: &str, nonce: &str, sdk: &str) -> State {
        let args = BTreeMap::from([
            ("FACT".to_string(), "one".to_string()),
            ("CFLAGS".to_string(), "-O2 -DFACT_LEVEL=1".to_string()),
            ("RUSTFLAG".to_string(), "-Cdebuginfo=0".to_string()),
        ]);
        let env = BTreeMap::from([
            ("CACHET_FACT".to_string(), "${FACT}".to_string()),
            ("CFLAGS".to_string(), "${CFLAGS}".to_string()),
        ]);
        let mut files = BTreeMap::new();
        let mut put = |path: &str, text: String| {
            files.insert(path.to_string(), text);
        };
        put(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/factlib\", \"crates/facts\", \"crates/other\"]\n\
             resolver = \"2\"\n"
                .into(),
        );
        put("Cargo.lock", lockfile("0.1.0"));
        put(".dockerignore", "target\n".into());
        put(
            "README.md",
            "# facts\n\nA fixture of the Cachet correctness matrix.\n".into(),
        );
        put(
            "docs/guide.md",
            "# Guide\n\nRun `facts` to see what it was built with.\n".into(),
        );
        put(
            ".github/workflows/ci.yml",
            "name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo build\n".into(),
        );
        put(
            ".cargo/config.toml",
            "[env]\nCACHET_CONFIG_FACT = \"alpha\"\n".into(),
        );
        put(
            "crates/factlib/Cargo.toml",
            package_manifest("factlib", "0.1.0", ""),
        );
        put("crates/factlib/src/lib.rs", lib_rs(LIB_LINE, nonce));
        put(
            "crates/facts/Cargo.toml",
            package_manifest(
                "facts",
                "0.1.0",
                "build = \"build.rs\"\n\n[dependencies]\nfactlib = { path = \"../factlib\" }\n\n\
                 [features]\nloud = []\nextra = []\n",
            ),
        );
        put("crates/facts/build.rs", BUILD_RS.into());
        put("crates/facts/csrc/fact.c", FACT_C.into());
        put("crates/facts/src/main.rs", main_rs(&["extra"]));
        put("crates/facts/src/extra.rs", module_rs());
        put(
            "crates/other/Cargo.toml",
            package_manifest("other", "0.1.0", ""),
        );
        put(
            "crates/other/src/main.rs",
            format!(
                "fn main() {{\n    println!(\"other: an independent binary\");\n}}\n// run {nonce}\n"
            ),
        );
        State {
            project: project.to_string(),
            sdk: sdk.to_string(),
            sdk_epoch: 0,
            args,
            rustflags: vec!["${RUSTFLAG}".to_string()],
            env,
            volatile_env: Vec::new(),
            features: Vec::new(),
            profile: "release".to_string(),
            files,
            clamp: None,
            mtimes: BTreeMap::new(),
            symlinks: BTreeMap::new(),
            clamp_dirs: false,
            build_args: BTreeMap::new(),
            platform: None,
            target: Target::Build,
            cargo_args: BTreeMap::new(),
            cross_env: BTreeMap::new(),
        }
    }

    /// A file's text (panics if the state has no such file: a case-definition bug).
    #[track_caller]
    pub fn file(&self, path: &str) -> &str {
        self.files
            .get(path)
            .unwrap_or_else(|| panic!("the fixture has no {path}"))
    }

    /// Replace `from` by `to` in a file (panics unless `from` occurs: a case-definition bug).
    #[track_caller]
    pub fn edit(&mut self, path: &str, from: &str, to: &str) {
        let text = self.file(path);
        assert!(text.contains(from), "{path} has no {from:?}:\n{text}");
        let edited = text.replacen(from, to, 1);
        self.files.insert(path.to_string(), edited);
    }

    /// The library's line.
    pub fn lib_line(&self) -> &str {
        let (start, end) = self.lib_line_span();
        &self.file(LIB_RS)[start..end]
    }

    /// Set the library's line.
    pub fn set_lib_line(&mut self, line: &str) {
        let (start, end) = self.lib_line_span();
        let text = self.file(LIB_RS);
        let edited = format!("{}{}{}", &text[..start], line, &text[end..]);
        self.files.insert(LIB_RS.to_string(), edited);
    }

    fn lib_line_span(&self) -> (usize, usize) {
        let text = self.file(LIB_RS);
        let start = text.find("    \"").expect("lib.rs has its line") + 5;
        let end = start + text[start..].find('"').expect("line ends");
        (start, end)
    }

    /// Set the line the independent binary `other` prints.
    pub fn set_other_line(&mut self, line: &str) {
        let path = "crates/other/src/main.rs";
        let text = self.file(path);
        let start = text.find("println!(\"").expect("other prints a line") + 10;
        let end = start + text[start..].find('"').expect("line ends");
        let edited = format!("{}{}{}", &text[..start], line, &text[end..]);
        self.files.insert(path.to_string(), edited);
    }

    /// Bump factlib's version in its manifest and in `Cargo.lock`.
    pub fn set_lib_version(&mut self, version: &str) {
        self.files.insert(
            "crates/factlib/Cargo.toml".into(),
            package_manifest("factlib", version, ""),
        );
        self.files.insert("Cargo.lock".into(), lockfile(version));
    }

    /// Rewrite `facts`' main.rs to declare exactly `modules`.
    pub fn set_main_modules(&mut self, modules: &[&str]) {
        self.files
            .insert("crates/facts/src/main.rs".into(), main_rs(modules));
    }

    /// The text of a module file of `facts`.
    pub fn module_text() -> String {
        module_rs()
    }

    /// Every file of the context, spec and reference Dockerfile included.
    pub fn render(&self) -> BTreeMap<String, String> {
        let mut files = self.files.clone();
        files.insert("Cachet.toml".into(), self.spec());
        files.insert("Dockerfile".into(), self.reference_dockerfile());
        files
    }

    /// `Cachet.toml`.
    pub fn spec(&self) -> String {
        let mut s = String::from("# syntax=cachet/frontend:dev\n");
        let _ = writeln!(s, "[project]\nname = {}", toml_str(&self.project));
        s.push_str("include = [\"crates/facts/csrc\"]\n\n");
        let _ = writeln!(s, "[sdk]\nimage = {}\n", toml_str(&self.sdk));
        s.push_str("[args]\n");
        for (k, v) in &self.args {
            let _ = writeln!(s, "{k} = {}", toml_str(v));
        }
        let _ = writeln!(s, "\n[cargo]\nprofile = {}", toml_str(&self.profile));
        let _ = writeln!(s, "features = [{}]", toml_list(&self.features));
        let _ = writeln!(s, "rustflags = [{}]", toml_list(&self.rustflags));
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k} = {}", toml_str(v)))
            .collect();
        let _ = writeln!(s, "env = {{ {} }}", env.join(", "));
        if !self.volatile_env.is_empty() {
            let _ = writeln!(s, "volatile-env = [{}]", toml_list(&self.volatile_env));
        }
        s.push('\n');
        for (triple, env) in &self.cross_env {
            let env: Vec<String> = env
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_str(v)))
                .collect();
            let _ = writeln!(s, "[cross.{triple}]\nenv = {{ {} }}\n", env.join(", "));
        }
        for target in [Target::Build, Target::Other, Target::Alt] {
            if target == Target::Alt && !self.cargo_args.contains_key(&target) {
                continue;
            }
            let mut cargo = vec!["build"];
            cargo.extend(target.cargo_args());
            let mut cargo: Vec<String> = cargo.iter().map(|a| a.to_string()).collect();
            cargo.extend(self.cargo_args.get(&target).into_iter().flatten().cloned());
            let artifacts: Vec<String> = target
                .binaries()
                .iter()
                .map(|b| format!("{b} = \"{b}\""))
                .collect();
            let _ = writeln!(
                s,
                "[target.{}]\ncargo = [{}]\nartifacts = {{ {} }}\n",
                target.name(),
                toml_list(&cargo),
                artifacts.join(", ")
            );
        }
        s
    }

    /// The same build in the pattern Docker documents for Rust: one `RUN` with cache mounts
    /// on `target/` and the registry, after `COPY . .`; the spec's args become `ARG`s and its
    /// env, flags, profile and features the `RUN`'s environment and arguments.
    pub fn reference_dockerfile(&self) -> String {
        let mut s = format!("FROM {} AS build\n", self.sdk);
        for (k, v) in &self.args {
            let _ = writeln!(s, "ARG {k}={}", shell_word(v));
        }
        s.push_str("WORKDIR /app\nCOPY . .\n");
        let mut env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_word(v)))
            .collect();
        if !self.rustflags.is_empty() {
            env.push(format!(
                "RUSTFLAGS={}",
                shell_word(&self.rustflags.join(" "))
            ));
        }
        let mut cargo = format!("cargo build --profile {}", self.profile);
        if !self.features.is_empty() {
            let _ = write!(cargo, " --features {}", self.features.join(","));
        }
        for a in self.target.cargo_args() {
            let _ = write!(cargo, " {a}");
        }
        for a in self.cargo_args.get(&self.target).into_iter().flatten() {
            let _ = write!(cargo, " {}", shell_word(a));
        }
        let dir = profile_dir(&self.profile);
        let bins: Vec<String> = self
            .target
            .binaries()
            .iter()
            .map(|b| format!("target/{dir}/{b}"))
            .collect();
        let _ = write!(
            s,
            "RUN --mount=type=cache,target=/app/target \\\n    \
             --mount=type=cache,target=/usr/local/cargo/registry \\\n    \
             {} {cargo} \\\n \
             && mkdir -p /out && cp {} /out/\n\n\
             FROM scratch\nCOPY --from=build /out/ /\n",
            env.join(" "),
            bins.join(" ")
        );
        s
    }

    /// Everything that can change what a clean build produces, the project name excepted (it
    /// only names the target cache), as one string: equal keys, equal clean outputs.
    pub fn input_key(&self) -> String {
        let mut other = self.clone();
        other.project = String::new();
        let mut key = String::new();
        for (path, text) in other.render() {
            let _ = write!(key, "{path}\0{}\0{text}\0", text.len());
        }
        let _ = write!(
            key,
            "{}\0{:?}\0{:?}\0{:?}\0{:?}\0",
            other.sdk_epoch, other.build_args, other.platform, other.target, other.symlinks
        );
        key
    }

    /// Make `dir` hold exactly this state's files: write only what changed, remove what is
    /// gone, then apply the timestamp rules.
    pub fn materialize(&self, dir: &Path) -> std::io::Result<()> {
        let files = self.render();
        remove_unlisted(dir, dir, &files, &self.symlinks)?;
        for (rel, text) in &files {
            let path = dir.join(rel);
            if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, text)?;
            }
        }
        for (rel, target) in &self.symlinks {
            let path = dir.join(rel);
            if std::fs::read_link(&path).ok().as_deref() != Some(Path::new(target)) {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let _ = std::fs::remove_file(&path);
                std::os::unix::fs::symlink(target, &path)?;
            }
        }
        if let Some(t) = self.clamp {
            for rel in files.keys() {
                set_mtime(&dir.join(rel), t)?;
            }
            if self.clamp_dirs {
                clamp_dirs(dir, t)?;
            }
        }
        for (rel, t) in &self.mtimes {
            if files.contains_key(rel) {
                set_mtime(&dir.join(rel), *t)?;
            }
        }
        Ok(())
    }
}

/// Set a file's modification time.
pub fn set_mtime(path: &Path, t: SystemTime) -> std::io::Result<()> {
    std::fs::File::options()
        .write(true)
        .open(path)?
        .set_modified(t)
}

/// A file's modification time.
pub fn mtime(path: &Path) -> std::io::Result<SystemTime> {
    std::fs::metadata(path)?.modified()
}

/// Set the mtime of `dir` and every directory under it (symlinks are not followed).
fn clamp_dirs(dir: &Path, t: SystemTime) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            clamp_dirs(&entry.path(), t)?;
        }
    }
    std::fs::File::open(dir)?.set_modified(t)
}

fn remove_unlisted(
    root: &Path,
    dir: &Path,
    keep: &BTreeMap<String, String>,
    links: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .expect("below root")
            .to_string_lossy()
            .into_owned();
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            if !links.contains_key(&rel) {
                std::fs::remove_file(&path)?;
            }
        } else if kind.is_dir() {
            remove_unlisted(root, &path, keep, links)?;
            if std::fs::read_dir(&path)?.next().is_none() {
                std::fs::remove_dir(&path)?;
            }
        } else if !keep.contains_key(&rel) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// The directory under `target/` where a profile's binaries land.
pub fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

fn package_manifest(name: &str, version: &str, rest: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n{rest}")
}

/// `Cargo.lock` as cargo writes it for this workspace, in version 3.
pub fn lockfile(factlib_version: &str) -> String {
    format!(
        "# This file is automatically @generated by Cargo.\n\
         # It is not intended for manual editing.\n\
         version = 3\n\n\
         [[package]]\nname = \"factlib\"\nversion = \"{factlib_version}\"\n\n\
         [[package]]\nname = \"facts\"\nversion = \"0.1.0\"\ndependencies = [\n \"factlib\",\n]\n\n\
         [[package]]\nname = \"other\"\nversion = \"0.1.0\"\n"
    )
}

fn lib_rs(line: &str, nonce: &str) -> String {
    format!(
        "//! The library whose line and version the facts binary prints.\n\n\
         pub const VERSION: &str = env!(\"CARGO_PKG_VERSION\");\n\n\
         pub fn line() -> &'static str {{\n    \"{line}\"\n}}\n// run {nonce}\n"
    )
}

fn main_rs(modules: &[&str]) -> String {
    let mut s = String::from("//! Prints what it was built with.\n\n");
    for m in modules {
        let _ = writeln!(s, "mod {m};");
    }
    s.push_str(MAIN_BODY);
    let names: Vec<String> = modules.iter().map(|m| format!("{m}::name()")).collect();
    let list = if names.is_empty() {
        "String::new()".to_string()
    } else {
        format!("[{}].join(\",\")", names.join(", "))
    };
    let _ = write!(s, "    println!(\"modules={{}}\", {list});\n}}\n");
    s
}

fn module_rs() -> String {
    "pub fn name() -> &'static str {\n    module_path!()\n}\n".to_string()
}

const MAIN_BODY: &str = r#"
extern "C" {
    fn fact_c_level() -> std::os::raw::c_int;
}

fn main() {
    // SAFETY: a C function without arguments or state that returns an int.
    let c_level = unsafe { fact_c_level() };
    println!("fact={}", env!("FACTS_FACT"));
    println!("config_fact={}", env!("FACTS_CONFIG_FACT"));
    println!("cc={}", env!("FACTS_CC"));
    println!("cflags={}", env!("FACTS_CFLAGS"));
    println!("c_level={}", c_level);
    println!("rustc={}", env!("FACTS_RUSTC"));
    println!("rustflags={}", env!("FACTS_RUSTFLAGS"));
    println!("sdk_stamp={}", env!("FACTS_SDK_STAMP"));
    println!("lib={} v{}", factlib::line(), factlib::VERSION);
    println!("features=loud:{} extra:{}", cfg!(feature = "loud"), cfg!(feature = "extra"));
    println!(
        "profile={} opt_level={} debug_assertions={}",
        env!("FACTS_PROFILE"),
        env!("FACTS_OPT_LEVEL"),
        cfg!(debug_assertions)
    );
    println!("target={}", env!("FACTS_TARGET"));
"#;

const BUILD_RS: &str = r#"//! Bakes facts about the build into the binary and compiles csrc/fact.c.
//!
//! It declares CC, CFLAGS and its own files, as the cc crate does, and deliberately NOT the
//! other things it reads: CACHET_FACT, CACHET_CONFIG_FACT and /etc/cachet-sdk-stamp. Cargo
//! re-runs it only when something declared changes.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn var(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| "unset".to_string())
}

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {}", cmd, e));
    assert!(status.success(), "{:?} failed: {}", cmd, status);
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc/fact.c");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=CFLAGS");

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(&rustc).arg("-V").output().expect("rustc -V");
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let stamp = std::fs::read_to_string("/etc/cachet-sdk-stamp")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "none".to_string());
    let facts = [
        ("FACT", var("CACHET_FACT")),
        ("CONFIG_FACT", var("CACHET_CONFIG_FACT")),
        ("CC", var("CC")),
        ("CFLAGS", var("CFLAGS")),
        ("RUSTC", version),
        ("RUSTFLAGS", var("CARGO_ENCODED_RUSTFLAGS").replace('\u{1f}', " ")),
        ("SDK_STAMP", stamp),
        ("PROFILE", var("PROFILE")),
        ("OPT_LEVEL", var("OPT_LEVEL")),
        ("TARGET", var("TARGET")),
    ];
    for (name, value) in facts.iter() {
        println!("cargo:rustc-env=FACTS_{}={}", name, value);
    }

    // A slow build script, for killing a build while cargo runs (also undeclared).
    if let Ok(secs) = env::var("FACTS_SLEEP_SECS") {
        std::thread::sleep(std::time::Duration::from_secs(secs.parse().unwrap_or(0)));
    }

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let cflags = env::var("CFLAGS").unwrap_or_default();
    let object = out.join("fact.o");
    run(Command::new(&cc)
        .args(cflags.split_whitespace())
        .args(["-fPIC", "-c", "csrc/fact.c", "-o"])
        .arg(&object));
    let archive = out.join("libfact.a");
    let _ = std::fs::remove_file(&archive);
    run(Command::new("ar").arg("crs").arg(&archive).arg(&object));
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=fact");
}
"#;

const FACT_C: &str =
    "/* Compiled by build.rs with $CC $CFLAGS: the level is set with -DFACT_LEVEL=N. */\n\n\
#ifndef FACT_LEVEL\n#define FACT_LEVEL 0\n#endif\n\n\
int fact_c_level(void) { return FACT_LEVEL; }\n";

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| toml_str(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A double-quoted shell word in which `${NAME}` still expands (as in the spec).
fn shell_word(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn tempdir(label: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cachet-matrix-fixture-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The hand-written lockfile is what cargo generates for the workspace (version forced to 3),
    /// and the workspace builds and prints its facts with the host toolchain.
    #[test]
    fn lockfile_matches_cargo_and_the_binary_prints_its_facts() {
        let dir = tempdir("lock");
        let state = State::initial("fixture", "n0", "cachet-sdk:rustup");
        state.materialize(&dir).unwrap();
        std::fs::remove_file(dir.join("Cargo.lock")).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(&cargo)
            .args(["generate-lockfile", "--offline"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let generated = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
        let generated = generated.replace("version = 4", "version = 3");
        assert_eq!(generated, lockfile("0.1.0"));

        let out = Command::new(&cargo)
            .args(["run", "--quiet", "--locked", "--offline", "-p", "facts"])
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env("CACHET_FACT", "host")
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in [
            "fact=host",
            "config_fact=alpha",
            "c_level=0",
            "lib=factlib line one v0.1.0",
            "features=loud:false extra:false",
            "modules=facts::extra",
        ] {
            assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn materialize_writes_only_changes_and_applies_timestamps() {
        let dir = tempdir("write");
        let mut state = State::initial("fixture", "n0", "cachet-sdk:rustup");
        state.materialize(&dir).unwrap();
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        set_mtime(&dir.join("README.md"), old).unwrap();
        state.set_lib_line("edited");
        state.set_main_modules(&[]);
        state.files.remove("crates/facts/src/extra.rs");
        state.materialize(&dir).unwrap();
        assert_eq!(mtime(&dir.join("README.md")).unwrap(), old);
        assert!(!dir.join("crates/facts/src/extra.rs").exists());
        assert!(
            std::fs::read_to_string(dir.join("crates/factlib/src/lib.rs"))
                .unwrap()
                .contains("\"edited\"")
        );
        state.clamp = Some(old);
        state.materialize(&dir).unwrap();
        assert_eq!(mtime(&dir.join("Cargo.toml")).unwrap(), old);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn input_key_ignores_only_the_project_name() {
        let a = State::initial("a", "n0", "cachet-sdk:rustup");
        let mut b = a.clone();
        b.project = "b".into();
        assert_eq!(a.input_key(), b.input_key());
        b.build_args.insert("UNUSED".into(), "x".into());
        assert_ne!(a.input_key(), b.input_key());
    }
}
