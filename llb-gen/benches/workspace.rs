//! Spec → LLB on a generated 200-member cargo workspace (target: under 50 ms end to end).
//!
//! The workspace is generated in memory, as the metadata files the frontend reads from the
//! context: a virtual root manifest with `members = ["crates/*"]` (or, for the scale table of
//! `benches/workspace_table.rs`, every member listed: [`Listing`]) and
//! `[workspace.dependencies]`, member manifests with path dependencies on lower-numbered
//! members (a few shared "core" crates plus neighbours in the same group of twenty), explicit
//! build scripts, dev- and build-dependencies and some `[[bin]]` targets, a `Cargo.lock` with
//! the path packages and 300 crates.io packages (so the fetch step is planned), a
//! `rust-toolchain.toml` and a `.cargo/config.toml`.
//!
//! Measured separately: `spec::load`, `project::analyze` and `compile::compile`; together:
//! load + compile + encoding the Definition bytes, for a five-target spec (`build --workspace`
//! with artifacts, `test`, `lint`, `build -p m150`, and the default image target that copies
//! artifacts from two of them) and for a one-target spec. Generation is outside every timed
//! closure. `benches/workspace_table.rs` reuses this module and prints markdown tables,
//! including the metadata discovery ([`discover`]) and larger workspaces.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use llb_gen::compile::{compile, BuildRequest, NoCache, ResolvedImage};
use llb_gen::llb::{definition_bytes, Platform, ResolveMode};
use llb_gen::project::{self, Discovery, ProjectFiles};
use llb_gen::spec;

/// Workspace members generated for the criterion bench and the first table.
pub const MEMBERS: usize = 200;

/// How the root manifest names its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// `members = ["crates/*"]`.
    Glob,
    /// `members = ["crates/m000", "crates/m001", …]`.
    Explicit,
}
/// crates.io packages in the generated `Cargo.lock`.
pub const REGISTRY_PACKAGES: usize = 300;
/// Members `m000`..`m009` that most others depend on.
const CORE: usize = 10;
/// Members depend on lower-numbered neighbours within groups of this size.
const GROUP: usize = 20;
/// Every member whose number is a multiple of this has a `[[bin]]` target.
const BIN_EVERY: usize = 10;

const SDK_IMAGE: &str = "cachet-sdk:rustup";
const SDK_DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SDK_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","CARGO_HOME=/usr/local/cargo","RUSTUP_HOME=/usr/local/rustup"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[]}}"#;
const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// Registry crates the workspace depends on directly, with the version locked.
const DIRECT: &[(&str, &str)] = &[
    ("anyhow", "1.0.89"),
    ("bytes", "1.7.2"),
    ("cc", "1.1.30"),
    ("clap", "4.5.20"),
    ("futures", "0.3.31"),
    ("hex", "0.4.3"),
    ("indexmap", "2.6.0"),
    ("once_cell", "1.20.2"),
    ("proptest", "1.5.0"),
    ("rand", "0.8.5"),
    ("regex", "1.11.0"),
    ("serde", "1.0.210"),
    ("serde_json", "1.0.128"),
    ("sha2", "0.10.8"),
    ("thiserror", "1.0.64"),
    ("tokio", "1.40.0"),
    ("tracing", "0.1.40"),
    ("url", "2.5.2"),
];

/// Deterministic pseudo-random numbers (splitmix64), so every run benches the same workspace.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn member(i: usize) -> String {
    format!("m{i:03}")
}

fn bin_name(i: usize) -> String {
    format!("{}-cli", member(i))
}

fn has_bin(i: usize) -> bool {
    i.is_multiple_of(BIN_EVERY)
}

/// The path dependencies of member `i` (all lower-numbered), and its path dev-dependencies.
fn member_deps(i: usize) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng(i as u64 + 1);
    let mut deps: Vec<usize> = Vec::new();
    let add = |deps: &mut Vec<usize>, d: usize| {
        if d < i && !deps.contains(&d) {
            deps.push(d);
        }
    };
    if i > 0 {
        // One or two core crates.
        for _ in 0..1 + rng.below(2) {
            add(&mut deps, rng.below(i.min(CORE)));
        }
        // One to three neighbours earlier in the same group.
        let group_start = i - i % GROUP;
        if i > group_start {
            for _ in 0..1 + rng.below(3) {
                add(&mut deps, group_start + rng.below(i - group_start));
            }
        }
    }
    deps.sort_unstable();
    // Tests use a core crate as a fixture library.
    let dev = if i > 1 { vec![1] } else { Vec::new() };
    let dev = dev.into_iter().filter(|d| !deps.contains(d)).collect();
    (deps, dev)
}

/// Registry crates member `i` depends on (by index into [`DIRECT`]).
fn member_registry_deps(i: usize) -> Vec<usize> {
    let mut rng = Rng(0x5eed + i as u64);
    let mut picked: Vec<usize> = Vec::new();
    for _ in 0..2 + rng.below(3) {
        let d = rng.below(DIRECT.len());
        // `cc` is a build dependency, `proptest` a dev-dependency.
        if !picked.contains(&d) && !matches!(DIRECT[d].0, "cc" | "proptest") {
            picked.push(d);
        }
    }
    picked.sort_unstable();
    picked
}

fn member_manifest(i: usize) -> String {
    let name = member(i);
    let (deps, dev) = member_deps(i);
    let mut s = String::new();
    let _ = writeln!(s, "[package]");
    let _ = writeln!(s, "name = \"{name}\"");
    let _ = writeln!(s, "version.workspace = true");
    let _ = writeln!(s, "edition.workspace = true");
    let _ = writeln!(s, "license.workspace = true");
    let _ = writeln!(s, "publish = false");
    let _ = writeln!(s, "build = \"build.rs\"");
    let _ = writeln!(s, "description = \"Generated workspace member {i}\"");
    let _ = writeln!(s, "\n[lib]\npath = \"src/lib.rs\"");
    if has_bin(i) {
        let _ = writeln!(
            s,
            "\n[[bin]]\nname = \"{}\"\npath = \"src/bin/cli.rs\"",
            bin_name(i)
        );
    }
    let _ = writeln!(s, "\n[dependencies]");
    for d in &deps {
        let _ = writeln!(
            s,
            "{} = {{ path = \"../{}\", version = \"0.1.0\" }}",
            member(*d),
            member(*d)
        );
    }
    for r in member_registry_deps(i) {
        let _ = writeln!(s, "{} = {{ workspace = true }}", DIRECT[r].0);
    }
    let _ = writeln!(s, "\n[dev-dependencies]");
    for d in &dev {
        let _ = writeln!(s, "{} = {{ path = \"../{}\" }}", member(*d), member(*d));
    }
    let _ = writeln!(s, "proptest = {{ workspace = true }}");
    let _ = writeln!(s, "\n[build-dependencies]\ncc = {{ workspace = true }}");
    let _ = writeln!(s, "\n[features]\ndefault = []");
    let extra: Vec<String> = deps
        .iter()
        .map(|d| format!("\"{}/extra\"", member(*d)))
        .collect();
    let _ = writeln!(s, "extra = [{}]", extra.join(", "));
    s
}

fn root_manifest(members: usize, listing: Listing) -> String {
    let list = match listing {
        Listing::Glob => "\"crates/*\"".to_string(),
        Listing::Explicit => {
            (0..members)
                .map(|i| format!("\n  \"crates/{}\",", member(i)))
                .collect::<String>()
                + "\n"
        }
    };
    let mut s = format!("[workspace]\nresolver = \"2\"\nmembers = [{list}]\n\n");
    s.push_str(
        "[workspace.package]\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT OR Apache-2.0\"\n\n\
         [workspace.dependencies]\n",
    );
    for (name, version) in DIRECT {
        match *name {
            "serde" => {
                let _ = writeln!(
                    s,
                    "{name} = {{ version = \"{version}\", features = [\"derive\"] }}"
                );
            }
            "tokio" => {
                let _ = writeln!(
                    s,
                    "{name} = {{ version = \"{version}\", features = [\"rt-multi-thread\", \"macros\"] }}"
                );
            }
            _ => {
                let _ = writeln!(s, "{name} = \"{version}\"");
            }
        }
    }
    s.push_str("\n[profile.release]\nlto = \"thin\"\ncodegen-units = 16\n");
    s
}

/// Name and version of registry package `k`: the direct dependencies first, then transitive
/// ones.
fn registry_package(k: usize) -> (String, String) {
    match DIRECT.get(k) {
        Some((name, version)) => (name.to_string(), version.to_string()),
        None => (format!("dep-{k:03}"), format!("0.{}.{}", k % 7, k % 13)),
    }
}

fn checksum(name: &str, version: &str) -> String {
    let mut rng = Rng(name
        .bytes()
        .chain(version.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }));
    (0..4).map(|_| format!("{:016x}", rng.next())).collect()
}

fn lockfile(members: usize) -> String {
    // name → (version, checksum of a registry package, dependencies)
    type Entry = (String, Option<String>, Vec<String>);
    let mut packages: BTreeMap<String, Entry> = BTreeMap::new();
    for k in 0..REGISTRY_PACKAGES {
        let (name, version) = registry_package(k);
        // Registry packages depend on higher-numbered (transitive) ones.
        let mut rng = Rng(0xdead_beef + k as u64);
        let mut deps: Vec<String> = Vec::new();
        let first = DIRECT.len().max(k + 1);
        if first < REGISTRY_PACKAGES {
            for _ in 0..rng.below(5) {
                let d = first + rng.below(REGISTRY_PACKAGES - first);
                let (n, _) = registry_package(d);
                if !deps.contains(&n) {
                    deps.push(n);
                }
            }
        }
        deps.sort();
        let sum = checksum(&name, &version);
        packages.insert(name, (version, Some(sum), deps));
    }
    for i in 0..members {
        let (deps, dev) = member_deps(i);
        let mut names: Vec<String> = deps.iter().chain(&dev).map(|d| member(*d)).collect();
        names.extend(
            member_registry_deps(i)
                .iter()
                .map(|r| DIRECT[*r].0.to_string()),
        );
        names.extend(["cc".to_string(), "proptest".to_string()]);
        names.sort();
        names.dedup();
        packages.insert(member(i), ("0.1.0".to_string(), None, names));
    }
    let mut s = String::from(
        "# This file is automatically @generated by Cargo.\n\
         # It is not intended for manual editing.\nversion = 4\n",
    );
    for (name, (version, sum, deps)) in &packages {
        let _ = write!(
            s,
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n"
        );
        if let Some(sum) = sum {
            let _ = write!(s, "source = \"{CRATES_IO}\"\nchecksum = \"{sum}\"\n");
        }
        if !deps.is_empty() {
            s.push_str("dependencies = [\n");
            for d in deps {
                let _ = writeln!(s, " \"{d}\",");
            }
            s.push_str("]\n");
        }
    }
    s
}

/// A `Cargo.lock` of at least `bytes` bytes in cargo's own format: registry packages with
/// checksums and dependency lists, a git package every 50th and a path package every 10th.
/// Returns it with the number of packages that have a source (what a fetch downloads).
pub fn large_lockfile(bytes: usize) -> (String, usize) {
    let mut s = String::with_capacity(bytes + 4096);
    s.push_str(
        "# This file is automatically @generated by Cargo.\n\
         # It is not intended for manual editing.\nversion = 4\n",
    );
    let mut remote = 0;
    let mut rng = Rng(0x10c4);
    let mut k = 0usize;
    while s.len() < bytes {
        let name = format!("dep-{k:07}");
        let version = format!("{}.{}.{}", k % 3, k % 17, k % 31);
        let _ = write!(
            s,
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n"
        );
        if k.is_multiple_of(50) {
            let _ = writeln!(
                s,
                "source = \"git+https://example.com/{name}?branch=main#{:016x}{:016x}\"",
                rng.next(),
                rng.next()
            );
            remote += 1;
        } else if !k.is_multiple_of(10) {
            let _ = write!(
                s,
                "source = \"{CRATES_IO}\"\nchecksum = \"{}\"\n",
                checksum(&name, &version)
            );
            remote += 1;
        }
        let deps = rng.below(6);
        if deps > 0 {
            s.push_str("dependencies = [\n");
            for _ in 0..deps {
                let _ = writeln!(s, " \"dep-{:07}\",", k + 1 + rng.below(1000));
            }
            s.push_str("]\n");
        }
        k += 1;
    }
    (s, remote)
}

/// The generated 200-member workspace (`crates/*`), as the metadata files the frontend reads
/// from the context.
pub fn project() -> ProjectFiles {
    project_with(MEMBERS, Listing::Glob)
}

/// A generated workspace of `members` members (at least 200: the specs name `m150`).
pub fn project_with(members: usize, listing: Listing) -> ProjectFiles {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut add = |path: String, text: String| {
        files.insert(path, text.into_bytes());
    };
    add("Cargo.toml".into(), root_manifest(members, listing));
    for i in 0..members {
        add(
            format!("crates/{}/Cargo.toml", member(i)),
            member_manifest(i),
        );
    }
    add("Cargo.lock".into(), lockfile(members));
    add(
        "rust-toolchain.toml".into(),
        "[toolchain]\nchannel = \"1.82.0\"\ncomponents = [\"clippy\", \"rustfmt\"]\nprofile = \"minimal\"\n"
            .into(),
    );
    add(
        ".cargo/config.toml".into(),
        "[build]\nrustflags = [\"-C\", \"force-frame-pointers=yes\"]\n\n\
         [net]\ngit-fetch-with-cli = true\n\n\
         [alias]\nxtask = \"run -p m199 --\"\n\n\
         [env]\nAPP_ENV = \"ci\"\n"
            .into(),
    );
    ProjectFiles { files }
}

/// Five targets: `build --workspace` with every binary as an artifact, `test`, `lint`, a
/// `-p m150` build, and the default image target copying artifacts from two of them.
pub fn multi_target_spec() -> String {
    multi_target_spec_for(MEMBERS)
}

/// [`multi_target_spec`] over a workspace of `members` members.
pub fn multi_target_spec_for(members: usize) -> String {
    let artifacts: Vec<String> = (0..members)
        .filter(|i| has_bin(*i))
        .map(|i| format!("{0} = \"{0}\"", bin_name(i)))
        .collect();
    let copies: Vec<String> = [0, 10, 20, 100]
        .iter()
        .map(|i| {
            format!(
                "  {{ from = \"+build\", artifact = \"{0}\", to = \"/usr/local/bin/{0}\" }},",
                bin_name(*i)
            )
        })
        .chain([format!(
            "  {{ from = \"+m150\", artifact = \"{0}\", to = \"/usr/local/bin/{0}\" }},",
            bin_name(150)
        )])
        .collect();
    format!(
        r#"# syntax=cachet/frontend:dev
# A generated {members}-member workspace: every binary, tests, lints, one package, one image.

[project]
name = "bigws"
include = ["assets", "proto/*.proto"]

[sdk]
image = "{SDK_IMAGE}"

[args]
OPT = "2"

[cargo]
profile = "release"
rustflags = ["-C", "target-feature=+crt-static"]
env = {{ CFLAGS = "-O${{OPT}}", RUST_BACKTRACE = "1" }}

[target.build]
cargo = ["build", "--workspace"]
artifacts = {{ {artifacts} }}

[target.test]
cargo = ["test", "--workspace"]
env = {{ RUST_TEST_THREADS = "4" }}

[target.lint]
cargo = ["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]

[target.m150]
cargo = ["build", "-p", "m150"]
artifacts = {{ {m150} = "{m150}" }}

[target.image]
from = "scratch"
copy = [
{copies}
]
entrypoint = ["/usr/local/bin/{entrypoint}"]
workdir = "/srv"
labels = {{ "org.opencontainers.image.title" = "bigws" }}
"#,
        artifacts = artifacts.join(", "),
        m150 = bin_name(150),
        copies = copies.join("\n"),
        entrypoint = bin_name(0),
    )
}

/// One target over the same workspace: `build --workspace` with every binary as an artifact.
pub fn one_target_spec() -> String {
    one_target_spec_for(MEMBERS)
}

/// [`one_target_spec`] over a workspace of `members` members.
pub fn one_target_spec_for(members: usize) -> String {
    let artifacts: Vec<String> = (0..members)
        .filter(|i| has_bin(*i))
        .map(|i| format!("{0} = \"{0}\"", bin_name(i)))
        .collect();
    format!(
        r#"# syntax=cachet/frontend:dev
[project]
name = "bigws"

[sdk]
image = "{SDK_IMAGE}"

[cargo]
rustflags = ["-C", "target-feature=+crt-static"]

[target.build]
cargo = ["build", "--workspace"]
artifacts = {{ {} }}
"#,
        artifacts.join(", ")
    )
}

/// What the frontend would hand to `compile` for `target` with the generated context.
pub fn request(target: &str, project: &ProjectFiles) -> BuildRequest {
    BuildRequest {
        target: target.into(),
        platform: Platform::linux_amd64(),
        build_platform: Platform::linux_amd64(),
        build_images: BTreeMap::new(),
        session_id: "session-bench".into(),
        context_local: "context".into(),
        images: BTreeMap::from([(
            SDK_IMAGE.to_string(),
            ResolvedImage {
                digest: SDK_DIGEST.into(),
                config: SDK_CONFIG.as_bytes().to_vec(),
            },
        )]),
        no_cache: NoCache::Off,
        network_override: None,
        resolve_mode: ResolveMode::Default,
        labels: BTreeMap::new(),
        cache_travels: false,
        proxy: Default::default(),
        helper: llb_gen::compile::HelperImage::unpinned(llb_gen::compile::DEFAULT_HELPER_IMAGE),
        spec_file: "Cachet.toml".into(),
        named_images: BTreeMap::new(),
        named_locals: BTreeMap::new(),
        project: project.clone(),
        sbom: false,
        rustc_version: None,
        source_date_epoch: None,
        vcs_source: None,
        vcs_revision: None,
    }
}

pub fn load(text: &str) -> spec::Spec {
    match spec::load("Cachet.toml", text, &BTreeMap::new()) {
        Ok(s) => s,
        Err(e) => panic!("generated spec: {e}"),
    }
}

pub fn compiled(spec: &spec::Spec, request: &BuildRequest) -> llb_gen::compile::Compiled {
    match compile(spec, request) {
        Ok(c) => c,
        Err(e) => panic!("compile `{}`: {e}", request.target),
    }
}

/// What the frontend does per build: load the spec, compile the target, encode the bytes.
pub fn end_to_end(text: &str, request: &BuildRequest) -> Vec<u8> {
    definition_bytes(&compiled(&load(text), request).definition)
}

/// The analyzed layout, checked to be what the generator meant.
pub fn checked_layout(files: &ProjectFiles) -> project::ProjectLayout {
    checked_layout_for(files, MEMBERS)
}

/// [`checked_layout`] for a workspace of `expected` members.
pub fn checked_layout_for(files: &ProjectFiles, expected: usize) -> project::ProjectLayout {
    let layout = project::analyze(files);
    let members = layout.workspace.as_ref().map_or(0, |ws| ws.members.len());
    assert_eq!(members, expected, "every generated member is found");
    assert_eq!(layout.remote_packages, REGISTRY_PACKAGES);
    assert!(layout.needs_fetch(), "the fetch step is planned");
    layout
}

/// What the frontend does before compiling: a [`Discovery`] driven over the context, each
/// round offering it every metadata file of the context (more than BuildKit would transfer for
/// the round) and reading those it wants. Returns the files read and the number of rounds.
pub fn discover(context: &ProjectFiles) -> (ProjectFiles, usize) {
    let mut discovery = Discovery::new();
    while discovery.next_patterns().is_some() {
        let mut read = Vec::new();
        for (path, bytes) in &context.files {
            match discovery.wants(path, bytes.len() as u64) {
                Ok(true) => read.push((path.clone(), bytes.clone())),
                Ok(false) => {}
                Err(e) => panic!("generated context: {e}"),
            }
        }
        if let Err(e) = discovery.feed(read) {
            panic!("generated context: {e}");
        }
    }
    let rounds = discovery.rounds();
    (discovery.into_files(), rounds)
}

fn bench(c: &mut Criterion) {
    let files = project();
    checked_layout(&files);
    let multi = multi_target_spec();
    let one = one_target_spec();
    let multi_spec = load(&multi);
    let one_spec = load(&one);
    let image = request("image", &files);
    let m150 = request("m150", &files);
    let build = request("build", &files);
    let all: Vec<BuildRequest> = multi_spec
        .targets
        .keys()
        .map(|t| request(t, &files))
        .collect();

    let mut g = c.benchmark_group(format!("workspace {MEMBERS} members"));
    g.sample_size(30).measurement_time(Duration::from_secs(10));
    g.bench_function("spec::load (5 targets)", |b| {
        b.iter(|| load(black_box(&multi)))
    });
    g.bench_function("project::analyze", |b| {
        b.iter(|| project::analyze(black_box(&files)))
    });
    g.bench_function("compile image (default target)", |b| {
        b.iter(|| compiled(black_box(&multi_spec), black_box(&image)))
    });
    g.bench_function("compile m150 (-p, others stubbed)", |b| {
        b.iter(|| compiled(black_box(&multi_spec), black_box(&m150)))
    });
    g.bench_function("compile every target (5 builds)", |b| {
        b.iter(|| {
            for r in &all {
                black_box(compiled(&multi_spec, r));
            }
        })
    });
    g.bench_function("compile one-target spec", |b| {
        b.iter(|| compiled(black_box(&one_spec), black_box(&build)))
    });
    g.bench_function("load + compile + encode image (5 targets)", |b| {
        b.iter(|| end_to_end(black_box(&multi), black_box(&image)))
    });
    g.bench_function("load + compile + encode (one-target spec)", |b| {
        b.iter(|| end_to_end(black_box(&one), black_box(&build)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
