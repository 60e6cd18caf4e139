//! Structured inputs generated from random bytes with [`arbitrary::Unstructured`]: specs,
//! workspaces (manifests, lockfile, cargo config, toolchain file), frontend options and image
//! configs, drawn mostly from vocabularies of what real builds use, with some arbitrary
//! strings mixed in. Rendered as text, they are seeds that reach compilation (most generated
//! specs are valid), and fragments the mutators splice into other inputs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use arbitrary::{Result, Unstructured};

const TARGET_NAMES: &[&str] = &[
    "build", "test", "lint", "image", "check", "doc", "app", "bin-2", "x_y", "runtime", "a",
];
const BAD_NAMES: &[&str] = &["Build", "", "a.b", "-x", "ü", "a b"];
const SUBCOMMANDS: &[&str] = &[
    "build", "build", "build", "test", "test", "check", "clippy", "doc", "run", "bench", "rustc",
    "fmt", "vendor", "nextest", "b",
];
const GOOD_ARGS: &[&str] = &[
    "--bin",
    "app",
    "hello",
    "--workspace",
    "--all",
    "-p",
    "--package",
    "--package=app",
    "-papp",
    "--lib",
    "--bins",
    "--tests",
    "--all-targets",
    "--examples",
    "--",
    "-D",
    "warnings",
    "--locked",
    "-v",
    "-q",
    "--message-format=json",
    "--config=build.jobs=1",
    "build.jobs=1",
    "-j2",
    "greeting",
    "tool",
    "core",
    "app@0.1.0",
    "app:0.1.0",
    "--exclude",
    "-p=core",
    "crates/app/Cargo.toml",
    "${FLAGS}",
    "opt-level=3",
    "--example",
    "ex",
    "--doc",
];
const BAD_ARGS: &[&str] = &[
    "--release",
    "--profile",
    "--features",
    "-F",
    "--target",
    "--target-dir",
    "--offline",
    "--frozen",
    "--no-default-features",
    "--all-features",
    "--profile=dev",
    "--target=x",
    "--manifest-path",
    "-C",
    "-r",
    "-Ftls",
    "--config",
];
const IMAGES: &[&str] = &[
    "cachet-sdk:rustup",
    "cachet-sdk:debian",
    "alpine",
    "alpine:3.20",
    "debian:bookworm-slim",
    "docker.io/library/busybox:latest",
    "127.0.0.1:5050/base:1",
    "ghcr.io/o/r@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "localhost/x",
    "UPPER/case",
    "a:b:c",
    "${BASE}",
    "x@sha256:12",
    "registry.example:99999/a",
];
const ENV_NAMES: &[&str] = &[
    "CFLAGS",
    "CC",
    "CXX",
    "RUSTFLAGS",
    "CARGO_PROFILE_RELEASE_LTO",
    "CARGO_ENCODED_RUSTFLAGS",
    "CFLAGS_x86_64_unknown_linux_gnu",
    "PATH",
    "HOME",
    "CARGO_HOME",
    "CARGO_TARGET_DIR",
    "RUSTC_WRAPPER",
    "CACHET_SDK",
    "SOURCE_DATE_EPOCH",
];
const BAD_ENV_NAMES: &[&str] = &["lower", "A B", "", "X=Y", "1X"];
const VALUES: &[&str] = &[
    "-O2",
    "1",
    "",
    "thin",
    "/usr/bin/cc",
    "${LEVEL}",
    "$${X}",
    "a b",
    "x=y",
    "\u{1f}",
    "ü",
    "$",
    "${CPU}${CPU}",
    "-DCACHET_LEVEL=${LEVEL}",
    "'quoted'",
    "\"",
    "\\",
];
const BAD_VALUES: &[&str] = &["${", "${NOPE}", "${lower}", "${}"];
const PROFILES: &[&str] = &["release", "dev", "test", "bench", "custom-1"];
const BAD_PROFILES: &[&str] = &["Release", "a/b", ""];
const ARG_NAMES: &[&str] = &["LEVEL", "CPU", "MODE", "BASE", "FLAGS", "TARGET_CPU", "X"];
const ARTIFACT_PATHS: &[&str] = &[
    "app",
    "hello",
    "tool",
    "deps/libfoo.so",
    "examples/ex",
    "app.d",
    ".fingerprint",
    "a b",
];
const BAD_ARTIFACT_PATHS: &[&str] = &["../escape", "/abs", "", "a/../../b"];
const IMAGE_PATHS: &[&str] = &[
    "/usr/local/bin/app",
    "/usr/local/bin/tool",
    "/",
    "/app",
    "/a/../b",
    "/usr/local/bin/",
    "/x y",
    "//double",
];
const INCLUDES: &[&str] = &[
    "csrc",
    "README.md",
    "./assets",
    "**/*.c",
    "assets/*.json",
    "src/**",
    "crates/facts/csrc",
    "a/./b",
    "target",
    ".git",
    ".",
];
const BAD_INCLUDES: &[&str] = &["../outside", "/abs", "", "[", "x/../../y"];
const SECRET_IDS: &[&str] = &[
    "corp-token",
    "a",
    "id=x",
    "corp-token",
    "a",
    "",
    "with space",
    "a/b",
];
const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn word<'a>(u: &mut Unstructured, list: &[&'a str]) -> Result<&'a str> {
    Ok(*u.choose(list)?)
}

/// Mostly a word from `good`, sometimes one from `bad` or an arbitrary string.
fn either(u: &mut Unstructured, good: &[&str], bad: &[&str]) -> Result<String> {
    if u.ratio(1, 40)? {
        value(u, bad)
    } else {
        value(u, good)
    }
}

/// Mostly a word from `list`, sometimes an arbitrary string.
fn value(u: &mut Unstructured, list: &[&str]) -> Result<String> {
    if u.ratio(1, 60)? {
        let s: String = u.arbitrary()?;
        Ok(s.chars().take(40).collect())
    } else {
        Ok(word(u, list)?.to_string())
    }
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", quoted.join(", "))
}

fn toml_table(items: &[(String, String)]) -> String {
    let entries: Vec<String> = items
        .iter()
        .map(|(k, v)| format!("{} = {}", toml_str(k), toml_str(v)))
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

fn list(u: &mut Unstructured, max: usize, words: &[&str]) -> Result<Vec<String>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| value(u, words)).collect()
}

/// Up to `max` entries, keys distinct (mostly: a duplicate key is a TOML error).
fn pairs(
    u: &mut Unstructured,
    max: usize,
    keys: &[&str],
    values: &[&str],
) -> Result<Vec<(String, String)>> {
    let n = u.int_in_range(0..=max)?;
    let mut out: Vec<(String, String)> = Vec::new();
    for _ in 0..n {
        let k = value(u, keys)?;
        let v = if u.ratio(1, 40)? {
            value(u, BAD_VALUES)?
        } else {
            value(u, values)?
        };
        if !out.iter().any(|(o, _)| *o == k) || u.ratio(1, 30)? {
            out.push((k, v));
        }
    }
    Ok(out)
}

/// A `Cachet.toml`.
pub fn spec(u: &mut Unstructured) -> Result<String> {
    let mut s = String::new();
    if u.ratio(3, 4)? {
        s.push_str("# syntax=cachet/frontend:dev\n");
    }
    let n_targets = u.int_in_range(1..=5)?;
    let mut names: Vec<String> = Vec::new();
    for _ in 0..n_targets {
        let name = either(u, TARGET_NAMES, BAD_NAMES)?;
        if !names.contains(&name) || u.ratio(1, 30)? {
            names.push(name);
        }
    }
    if u.ratio(1, 6)? {
        let d = if u.ratio(4, 5)? {
            u.choose(&names)?.clone()
        } else {
            value(u, TARGET_NAMES)?
        };
        let _ = writeln!(s, "default = {}", toml_str(&d));
    }
    if u.ratio(3, 4)? {
        s.push_str("[project]\n");
        if u.ratio(4, 5)? {
            let _ = writeln!(
                s,
                "name = {}",
                toml_str(&either(
                    u,
                    &["hello", "app", "workspace", "x-1"],
                    &["Bad", ""]
                )?)
            );
        }
        if u.ratio(1, 4)? {
            let mut include = list(u, 3, INCLUDES)?;
            if u.ratio(1, 30)? {
                include.push(value(u, BAD_INCLUDES)?);
            }
            let _ = writeln!(s, "include = {}", toml_list(&include));
        }
    }
    // Build arguments: usually every name the vocabularies use, so `${…}` resolves.
    let args = if u.ratio(9, 10)? {
        let mut a: Vec<(String, String)> = ARG_NAMES
            .iter()
            .map(|n| (n.to_string(), "x".to_string()))
            .collect();
        for (n, v) in a.iter_mut() {
            *v = match n.as_str() {
                "MODE" => value(u, &["strict", "fast"])?,
                "BASE" => value(u, &["alpine:3.20", "debian:bookworm-slim"])?,
                _ => value(u, &["3", "native", "-v", "x86-64-v2", ""])?,
            };
        }
        a
    } else {
        pairs(u, 3, ARG_NAMES, VALUES)?
    };
    if !u.ratio(1, 100)? {
        s.push_str("[sdk]\n");
        let _ = writeln!(s, "image = {}", toml_str(&value(u, IMAGES)?));
        if u.ratio(1, 8)? {
            let d = if u.ratio(5, 6)? {
                DIGEST
            } else {
                word(u, &["sha256:12", "md5:1", ""])?
            };
            let _ = writeln!(s, "digest = {}", toml_str(d));
        }
    }
    if u.ratio(2, 3)? {
        s.push_str("[cargo]\n");
        if u.ratio(1, 4)? {
            let _ = writeln!(
                s,
                "mode = {}",
                toml_str(&either(u, &["strict", "fast", "${MODE}"], &["Fast", ""])?)
            );
        }
        if u.ratio(1, 3)? {
            let _ = writeln!(
                s,
                "profile = {}",
                toml_str(&either(u, PROFILES, BAD_PROFILES)?)
            );
        }
        if u.ratio(1, 4)? {
            let _ = writeln!(
                s,
                "features = {}",
                toml_list(&list(u, 3, &["tls", "a/b", "dep:x", "${X}", ""])?)
            );
        }
        if u.ratio(1, 5)? {
            let _ = writeln!(s, "default-features = {}", u.arbitrary::<bool>()?);
        }
        if u.ratio(1, 2)? {
            let _ = writeln!(
                s,
                "rustflags = {}",
                toml_list(&list(
                    u,
                    4,
                    &[
                        "-C",
                        "target-feature=+crt-static",
                        "target-cpu=${CPU}",
                        "-Dwarnings",
                        "--cfg",
                        "x"
                    ]
                )?)
            );
        }
        if u.ratio(1, 3)? {
            let _ = writeln!(s, "env = {}", toml_table(&pairs(u, 3, ENV_NAMES, VALUES)?));
        }
    }
    let env_names = |u: &mut Unstructured| -> Result<&[&str]> {
        Ok(if u.ratio(1, 30)? {
            BAD_ENV_NAMES
        } else {
            ENV_NAMES
        })
    };
    if !args.is_empty() {
        s.push_str("[args]\n");
        for (k, v) in &args {
            let _ = writeln!(s, "{} = {}", toml_str(k), toml_str(v));
        }
    }
    if u.ratio(1, 5)? {
        s.push_str("[fetch]\n");
        if u.ratio(1, 2)? {
            let names = env_names(u)?;
            let _ = writeln!(
                s,
                "secrets = {}",
                toml_table(&pairs(u, 2, names, SECRET_IDS)?)
            );
        }
        if u.ratio(1, 2)? {
            let _ = writeln!(s, "ssh = {}", u.arbitrary::<bool>()?);
        }
    }
    // Targets: cargo steps first usually, so images can copy from them.
    let mut cargo_targets: Vec<(String, Vec<String>)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let image = i > 0 && u.ratio(2, 5)?;
        s.push('\n');
        let _ = writeln!(s, "[target.{}]", toml_str(name));
        if !image {
            let mut args = vec![value(u, SUBCOMMANDS)?];
            for _ in 0..u.int_in_range(0..=5)? {
                if u.ratio(1, 50)? {
                    args.push(word(u, BAD_ARGS)?.to_string());
                } else {
                    args.push(value(u, GOOD_ARGS)?);
                }
            }
            let _ = writeln!(s, "cargo = {}", toml_list(&args));
            let paths = if u.ratio(1, 40)? {
                BAD_ARTIFACT_PATHS
            } else {
                ARTIFACT_PATHS
            };
            let names: &[&str] = if u.ratio(1, 40)? {
                &["Bad", ""]
            } else {
                &["app", "hello", "tool", "x-1"]
            };
            let artifacts = pairs(u, 2, names, paths)?;
            if !artifacts.is_empty() {
                let _ = writeln!(s, "artifacts = {}", toml_table(&artifacts));
            }
            if u.ratio(1, 5)? {
                let _ = writeln!(s, "env = {}", toml_table(&pairs(u, 2, ENV_NAMES, VALUES)?));
            }
            if u.ratio(1, 100)? {
                let _ = writeln!(s, "from = \"scratch\"");
            }
            cargo_targets.push((
                name.clone(),
                artifacts.into_iter().map(|(k, _)| k).collect(),
            ));
        } else {
            let from = match u.int_in_range(0..=3)? {
                0 | 1 => "scratch".to_string(),
                2 => value(u, IMAGES)?,
                _ => format!("+{}", u.choose(&names[..i])?),
            };
            let _ = writeln!(s, "from = {}", toml_str(&from));
            let mut copies = Vec::new();
            let with_artifacts: Vec<(String, Vec<String>)> = cargo_targets
                .iter()
                .filter(|(_, a)| !a.is_empty())
                .cloned()
                .collect();
            for _ in 0..u.int_in_range(0..=3)? {
                if with_artifacts.is_empty() && !u.ratio(1, 20)? {
                    break;
                }
                let (from, artifact) = match with_artifacts.is_empty() || u.ratio(1, 40)? {
                    true => (
                        format!("+{}", value(u, TARGET_NAMES)?),
                        value(u, &["app", "x"])?,
                    ),

                    false => {
                        let (t, arts) = u.choose(&with_artifacts)?.clone();
                        let a = match arts.is_empty() {
                            true => "app".to_string(),
                            false => u.choose(&arts)?.clone(),
                        };
                        (format!("+{t}"), a)
                    }
                };
                copies.push(format!(
                    "{{ from = {}, artifact = {}, to = {} }}",
                    toml_str(&from),
                    toml_str(&artifact),
                    toml_str(&either(u, IMAGE_PATHS, &["relative", "", "usr/bin"])?)
                ));
            }
            if !copies.is_empty() {
                let _ = writeln!(s, "copy = [{}]", copies.join(", "));
            }
            if u.ratio(1, 2)? {
                let _ = writeln!(s, "entrypoint = {}", toml_list(&list(u, 2, IMAGE_PATHS)?));
            }
            if u.ratio(1, 4)? {
                let _ = writeln!(
                    s,
                    "cmd = {}",
                    toml_list(&list(u, 2, &["--help", "serve", ""])?)
                );
            }
            if u.ratio(1, 5)? {
                let _ = writeln!(s, "workdir = {}", toml_str(&value(u, IMAGE_PATHS)?));
            }
            if u.ratio(1, 5)? {
                let _ = writeln!(
                    s,
                    "user = {}",
                    toml_str(&value(u, &["1000", "1000:1000", "app", "root", ""])?)
                );
            }
            if u.ratio(1, 4)? {
                let _ = writeln!(s, "env = {}", toml_table(&pairs(u, 2, ENV_NAMES, VALUES)?));
            }
            if u.ratio(1, 4)? {
                let _ = writeln!(
                    s,
                    "labels = {}",
                    toml_table(&pairs(
                        u,
                        2,
                        &[
                            "org.opencontainers.image.title",
                            "dev.cachet.key.build",
                            "a"
                        ],
                        VALUES
                    )?)
                );
            }
            if u.ratio(1, 100)? {
                let _ = writeln!(s, "artifacts = {{ x = \"x\" }}");
            }
        }
    }
    Ok(s)
}

const CRATE_NAMES: &[&str] = &[
    "app", "core", "greeting", "tool", "gen", "shared", "my-lib", "x_y", "hello",
];
const REMOTE_SOURCES: &[&str] = &[
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
    "git+https://github.com/o/r?branch=main#0123456789abcdef",
    "registry+https://corp.example/index",
];

/// A relative path from directory `from` to directory `to` (both from the context root).
fn relative(from: &str, to: &str) -> String {
    let up = if from.is_empty() {
        0
    } else {
        from.split('/').count()
    };
    let mut p = "../".repeat(up);
    p.push_str(to);
    if p.is_empty() {
        ".".to_string()
    } else {
        p.trim_end_matches('/').to_string()
    }
}

/// A project's metadata files: root manifest, members, lockfile, cargo config, toolchain
/// file, and some files the discovery must leave alone.
pub fn workspace(u: &mut Unstructured) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let n = u.int_in_range(0..=5)?;
    let mut members: Vec<(String, String)> = Vec::new(); // (dir, name)
    for _ in 0..n {
        let name = value(u, CRATE_NAMES)?;
        let dir = match u.int_in_range(0..=6)? {
            0..=2 => format!("crates/{name}"),
            3 => name.clone(),
            4 => format!("tools/{name}"),
            5 => format!("nested/deep/{name}"),
            _ => value(
                u,
                &[
                    "crates/a/sub",
                    "target/x",
                    ".git/x",
                    "a b",
                    "./crates/c",
                    "crates//d",
                ],
            )?,
        };
        members.push((dir, name));
    }
    let root_package = u.ratio(1, 2)?;
    let mut root = String::new();
    if root_package {
        let _ = writeln!(
            root,
            "[package]\nname = {}\nversion = \"0.1.0\"\nedition = \"2021\"",
            toml_str(&value(u, CRATE_NAMES)?)
        );
        if u.ratio(1, 6)? {
            let _ = writeln!(
                root,
                "build = {}",
                toml_str(&value(u, &["build.rs", "gen/build.rs", "../b.rs"])?)
            );
        }
    }
    let has_workspace = !root_package || u.ratio(2, 3)?;
    let dirs: Vec<String> = members.iter().map(|(d, _)| d.clone()).collect();
    if has_workspace {
        root.push_str("[workspace]\nresolver = \"2\"\n");
        let mut patterns: Vec<String> = Vec::new();
        match u.int_in_range(0..=3)? {
            0 => patterns.push("crates/*".into()),
            1 => patterns.extend(dirs.iter().cloned()),
            2 => {
                patterns.push("crates/*".into());
                patterns.extend(dirs.iter().filter(|d| !d.starts_with("crates/")).cloned());
            }
            _ => patterns.extend(list(
                u,
                3,
                &[
                    "*",
                    "crates/**",
                    "crates/[ag]*",
                    "tools/gen",
                    "missing",
                    "../outside",
                    "/abs",
                    "{a,b}",
                    "crates/*/",
                ],
            )?),
        }
        let _ = writeln!(root, "members = {}", toml_list(&patterns));
        if u.ratio(1, 4)? && !dirs.is_empty() {
            let _ = writeln!(root, "exclude = {}", toml_list(&[u.choose(&dirs)?.clone()]));
        }
        if u.ratio(1, 4)? && !dirs.is_empty() {
            let mut d = vec![u.choose(&dirs)?.clone()];
            if u.ratio(1, 4)? {
                d.push(value(u, &["crates/*", "nope", ""])?);
            }
            let _ = writeln!(root, "default-members = {}", toml_list(&d));
        }
        if u.ratio(1, 3)? && !members.is_empty() {
            root.push_str("[workspace.dependencies]\n");
            for _ in 0..u.int_in_range(1..=2)? {
                let (d, name) = u.choose(&members)?.clone();
                let _ = writeln!(root, "{} = {{ path = {} }}", toml_str(&name), toml_str(&d));
            }
        }
    }
    if u.ratio(1, 8)? && !members.is_empty() {
        let (d, name) = u.choose(&members)?.clone();
        let _ = writeln!(
            root,
            "[patch.crates-io]\n{} = {{ path = {} }}",
            toml_str(&name),
            toml_str(&d)
        );
    }
    if root_package && u.ratio(1, 3)? && !members.is_empty() {
        let (d, name) = u.choose(&members)?.clone();
        let _ = writeln!(
            root,
            "[dependencies]\n{} = {{ path = {} }}",
            toml_str(&name),
            toml_str(&d)
        );
    }
    if !u.ratio(1, 20)? {
        files.insert("Cargo.toml".into(), root);
    }
    for (i, (dir, name)) in members.iter().enumerate() {
        let mut m = String::new();
        let _ = writeln!(
            m,
            "[package]\nname = {}\nversion = \"0.1.0\"",
            toml_str(name)
        );
        if u.ratio(1, 4)? {
            m.push_str("version.workspace = true\n");
        }
        if u.ratio(1, 6)? {
            let _ = writeln!(
                m,
                "build = {}",
                toml_str(&value(
                    u,
                    &["build.rs", "gen/build.rs", "../shared/build.rs"]
                )?)
            );
        }
        if u.ratio(1, 5)? {
            let _ = writeln!(
                m,
                "[lib]\npath = {}",
                toml_str(&value(
                    u,
                    &["lib/core.rs", "src/lib.rs", "../x.rs", "/abs.rs"]
                )?)
            );
            if u.ratio(1, 2)? {
                let _ = writeln!(m, "name = {}", toml_str(&value(u, &["core_x", "a-b", ""])?));
            }
        }
        for kind in ["bin", "test", "bench", "example"] {
            if u.ratio(1, 6)? {
                let _ = writeln!(
                    m,
                    "[[{kind}]]\nname = {}",
                    toml_str(&value(u, &["extra", "main", "app", ""])?)
                );
                if u.ratio(1, 2)? {
                    let _ = writeln!(
                        m,
                        "path = {}",
                        toml_str(&value(
                            u,
                            &["src/bin/x.rs", "tools/t.rs", "../o.rs", "main.rs"]
                        )?)
                    );
                }
            }
        }
        let table = word(
            u,
            &[
                "dependencies",
                "dependencies",
                "dev-dependencies",
                "build-dependencies",
                "target.'cfg(unix)'.dependencies",
            ],
        )?;
        let _ = writeln!(m, "[{table}]");
        for _ in 0..u.int_in_range(0..=2)? {
            match u.int_in_range(0..=4)? {
                0 | 1 if members.len() > 1 => {
                    let j = u.choose_index(members.len())?;
                    let (to, dep) = &members[j];
                    if j != i || u.ratio(1, 5)? {
                        let _ = writeln!(
                            m,
                            "{} = {{ path = {} }}",
                            toml_str(dep),
                            toml_str(&relative(dir, to))
                        );
                    }
                }
                2 => {
                    let _ = writeln!(
                        m,
                        "{} = {{ workspace = true }}",
                        toml_str(&value(u, CRATE_NAMES)?)
                    );
                }
                3 => {
                    let _ = writeln!(
                        m,
                        "serde = {}",
                        toml_str(&value(u, &["1", "1.0.200", "*"])?)
                    );
                }
                _ => {
                    let _ = writeln!(
                        m,
                        "{} = {{ path = {} }}",
                        toml_str(&value(u, CRATE_NAMES)?),
                        toml_str(&value(
                            u,
                            &["../../outside", "/abs", ".", "..", "vendor/x", "crates/*"]
                        )?)
                    );
                }
            }
        }
        if !u.ratio(1, 15)? {
            files.insert(format!("{dir}/Cargo.toml"), m);
        }
    }
    if u.ratio(3, 4)? {
        let mut lock = format!("version = {}\n", word(u, &["3", "4", "1", "\"x\""])?);
        let mut packages: Vec<(String, Option<&str>)> =
            members.iter().map(|(_, n)| (n.clone(), None)).collect();
        for _ in 0..u.int_in_range(0..=4)? {
            packages.push((
                value(u, &["serde", "libc", "cc", "anyhow", "corp-dep"])?,
                Some(word(u, REMOTE_SOURCES)?),
            ));
        }
        for (name, source) in packages {
            let _ = writeln!(
                lock,
                "\n[[package]]\nname = {}\nversion = \"1.0.0\"",
                toml_str(&name)
            );
            if let Some(source) = source {
                let _ = writeln!(
                    lock,
                    "source = {}\nchecksum = \"{}\"",
                    toml_str(source),
                    "ab".repeat(32)
                );
            }
        }
        if u.ratio(1, 20)? {
            lock.push_str("[[package]\n");
        }
        files.insert("Cargo.lock".into(), lock);
    }
    if u.ratio(1, 4)? {
        let mut config = String::new();
        match u.int_in_range(0..=3)? {
            0 => config.push_str("[source.crates-io]\nreplace-with = \"vendored-sources\"\n[source.vendored-sources]\ndirectory = \"vendor\"\n"),
            1 => config.push_str("[source.crates-io]\nreplace-with = \"local\"\n[source.local]\nlocal-registry = \"registry\"\n"),
            2 => {
                let _ = writeln!(config, "[source.x]\ndirectory = {}", toml_str(&value(u, &["../outside", "/abs", "a/./b", "", "vendor"])?));
            }
            _ => config.push_str("[build]\nrustflags = [\"-C\", \"target-cpu=native\"]\n[net]\noffline = true\n"),
        }
        let name = word(
            u,
            &[
                ".cargo/config.toml",
                ".cargo/config",
                "sub/.cargo/config.toml",
            ],
        )?;
        files.insert(name.into(), config);
    }
    if u.ratio(1, 5)? {
        let (name, text) = if u.ratio(1, 2)? {
            (
                "rust-toolchain.toml",
                "[toolchain]\nchannel = \"1.80\"\ncomponents = [\"clippy\"]\n",
            )
        } else {
            ("rust-toolchain", "stable\n")
        };
        files.insert(name.into(), text.into());
    }
    if u.ratio(1, 6)? {
        let name = word(
            u,
            &[
                "README.md",
                "src/main.rs",
                "target/Cargo.toml",
                ".git/Cargo.toml",
                "target/debug/x",
                "docs/Cargo.toml.orig",
            ],
        )?;
        files.insert(name.into(), "[package]\nname = \"stray\"\n".into());
    }
    Ok(files
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect())
}

const OPT_KEYS: &[&str] = &[
    "filename",
    "dockerfilekey",
    "contextkey",
    "target",
    "platform",
    "no-cache",
    "cache-from",
    "cache-imports",
    "force-network-mode",
    "image-resolve-mode",
    "source",
    "cmdline",
    "frontend.caps",
    "multi-platform",
    "add-hosts",
    "hostname",
    "contextsubdir",
    "shm-size",
    "ulimit",
    "cgroup-parent",
    "context",
    "requestid",
    "unknown-key",
    "",
];
const OPT_PREFIXES: &[&str] = &[
    "build-arg:",
    "label:",
    "attest:",
    "vcs:",
    "context:",
    "input:",
    "local-sessionid:",
];

/// Values for an option key: what docker and buildx send, and near misses.
fn opt_value(u: &mut Unstructured, key: &str) -> Result<String> {
    let values: &[&str] = match key {
        "filename" => &[
            "Cachet.toml",
            "sub/Cachet.toml",
            "",
            "../x",
            "/abs",
            "Dockerfile",
        ],
        "dockerfilekey" | "contextkey" => &["dockerfile", "context", "", "a b", "../x"],
        "target" => &[
            "build",
            "image",
            "build.deps",
            "",
            "nope",
            "image.deps",
            "test",
            "lint",
        ],
        "platform" => &[
            "linux/amd64",
            "linux/arm64",
            "linux/amd64/v3",
            "linux/arm/v7",
            "linux/riscv64",
            "windows/amd64",
            "linux/amd64,linux/arm64",
            " linux/amd64 ",
            "LINUX/AMD64",
            "linux",
            "linux/amd64/v2/x",
            "",
            "darwin/arm64",
            "linux/386",
            "linux/s390x",
            "linux/ppc64le",
        ],
        "no-cache" => &["", "build", "build,test", " a , b "],
        "cache-from" => &["", "r/c:1", "a,b", ",,"],
        "cache-imports" => &[
            r#"[{"Type":"registry","Attrs":{"ref":"r/c:1"}}]"#,
            "[]",
            "",
            "[{",
            "{}",
            r#"[{"Type":1}]"#,
            "null",
            r#"[{"Type":"gha"}]"#,
        ],
        "force-network-mode" => &["sandbox", "host", "none", "default", "", "bridge"],
        "image-resolve-mode" => &["default", "pull", "local", "", "x"],
        "multi-platform" => &["true", "false", ""],
        _ => &["", "1", "x", "a=b", "cachet/frontend:dev"],
    };
    value(u, values)
}

/// Frontend option lines (`key=value`, as BuildKit passes them).
pub fn opts(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let line = match u.int_in_range(0..=9)? {
            0..=5 => {
                let key = word(u, OPT_KEYS)?;
                format!("{key}={}", opt_value(u, key)?)
            }
            6 | 7 => {
                let prefix = word(u, OPT_PREFIXES)?;
                let name = value(
                    u,
                    &[
                        "LEVEL",
                        "CPU",
                        "BUILDKIT_INLINE_CACHE",
                        "a",
                        "",
                        "org.label",
                    ],
                )?;
                let v = value(u, &["1", "0", "true", "", "x=y", "${X}", "native"])?;
                format!("{prefix}{name}={v}")
            }
            8 => value(u, &["nonsense", "=", "==", "filename"])?,
            _ => {
                let bytes: Vec<u8> = u.arbitrary()?;
                out.extend(bytes.into_iter().take(30).filter(|&b| b != b'\n'));
                out.push(b'\n');
                continue;
            }
        };
        out.extend(line.bytes().filter(|&b| b != b'\n'));
        out.push(b'\n');
    }
    Ok(out)
}

/// An image config JSON, as `ResolveImageConfig` returns it (mostly well-formed).
pub fn image_config(u: &mut Unstructured) -> Result<Vec<u8>> {
    if u.ratio(1, 10)? {
        let s = word(
            u,
            &[
                "{}",
                "[]",
                "null",
                "",
                "{",
                r#"{"config":null}"#,
                r#"{"config":{"Env":"x"}}"#,
                r#"{"architecture":1}"#,
            ],
        )?;
        return Ok(s.as_bytes().to_vec());
    }
    let env = list(
        u,
        3,
        &[
            "PATH=/usr/local/rust/bin:/usr/bin:/bin",
            "NOEQUALS",
            "A=",
            "=x",
            "CARGO_HOME=/cargo",
            "LANG=C.UTF-8",
            "PATH=",
        ],
    )?;
    let mut config = serde_json::json!({ "Env": env });
    if u.ratio(1, 2)? {
        config["WorkingDir"] =
            serde_json::json!(value(u, &["/", "/src", "", "relative", "/a/../b"])?);
    }
    if u.ratio(1, 3)? {
        config["User"] =
            serde_json::json!(value(u, &["1000", "root", "", "1000:1000", "app:app"])?);
    }
    if u.ratio(1, 4)? {
        config["Entrypoint"] = serde_json::json!(list(u, 2, &["/bin/sh", "-c", ""])?);
    }
    if u.ratio(1, 4)? {
        config["Labels"] = serde_json::json!({ "a": value(u, &["b", ""])? });
    }
    let mut doc = serde_json::json!({
        "architecture": value(u, &["amd64", "amd64", "arm64", "arm", ""])?,
        "os": value(u, &["linux", "linux", "windows", ""])?,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": []},
    });
    if u.ratio(1, 8)? {
        doc.as_object_mut().map(|o| o.remove("rootfs"));
    }
    if u.ratio(1, 6)? {
        doc["history"] = serde_json::json!([{ "created_by": "x", "empty_layer": true }]);
    }
    Ok(serde_json::to_vec(&doc).unwrap_or_default())
}

/// Random bytes for an [`Unstructured`], from the harness's random source.
pub fn dna(rng: &mut fastrand::Rng) -> Vec<u8> {
    let n = rng.usize(64..2048);
    let mut v = vec![0u8; n];
    rng.fill(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_specs_are_mostly_valid() {
        let mut rng = fastrand::Rng::with_seed(1);
        let (mut ok, mut total) = (0, 0);
        for _ in 0..300 {
            let bytes = dna(&mut rng);
            let text = spec(&mut Unstructured::new(&bytes)).unwrap();
            total += 1;
            if llb_gen::spec::load("Cachet.toml", &text, &BTreeMap::new()).is_ok() {
                ok += 1;
            }
        }
        // A quarter: the generator mixes in hostile image references and env names on
        // purpose, and the loader refuses those at load time.
        assert!(ok * 4 > total, "only {ok} of {total} generated specs load");
    }

    #[test]
    fn relative_paths_climb_out_of_the_member() {
        assert_eq!(relative("crates/app", "crates/core"), "../../crates/core");
        assert_eq!(relative("", "crates/core"), "crates/core");
        assert_eq!(relative("a", ""), "..");
    }
}
