//! The frontend and the `llb-gen` CLI make the same `Definition` for the same spec, context and
//! resolved images: `llb-gen spec`/`explain` show what a real build does only if this holds.
//!
//! The frontend side is the frontend's own code from its options on (`FrontendOpts::parse`,
//! then the front door `llb_gen::front` as `build::load`/`build::plan` use it, with
//! `build::build_request` filling in the facts), with the context's metadata found by the same
//! `project::Discovery` the frontend drives through the gateway, here fed from the directory.
//! The CLI side is the built `llb-gen` binary, which goes through the same front door with the
//! facts from its command line. Their bytes must be equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cachet_frontend::build::build_request;
use cachet_frontend::opts::FrontendOpts;
use llb_gen::compile::{HelperImage, ResolvedImage};
use llb_gen::front;
use llb_gen::llb::{decode_definition, definition_bytes, ImageRef, Platform, ReadableDefinition};
use llb_gen::project::{discover_listed, Discovery, ProjectFiles, ALWAYS_EXCLUDED};
use llb_gen::spec;

const SDK_DIGEST: &str = "sha256:7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e";
const SDK_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/cargo/bin:/usr/bin:/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[]}}"#;
const SESSION: &str = "agreement-session";
/// The frontend's own image (opt `source`), which cargo steps mount `cachet-helper` from.
const FRONTEND_IMAGE: &str = "cachet/frontend:dev";
const HELPER_DIGEST: &str =
    "sha256:4848484848484848484848484848484848484848484848484848484848484848";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// Every regular file under `root` but the always-excluded directories, with its size.
fn listing(root: &Path) -> Vec<(String, u64)> {
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&dir)).expect("read context") {
            let entry = entry.expect("entry");
            let relative = dir.join(entry.file_name());
            let name = relative.to_str().expect("UTF-8 name").to_string();
            if ALWAYS_EXCLUDED.contains(&name.as_str()) {
                continue;
            }
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                dirs.push(relative);
            } else if kind.is_file() {
                files.push((name, entry.metadata().expect("metadata").len()));
            }
        }
    }
    files
}

/// The metadata files, found by the discovery the frontend drives (prefetch included).
fn discover(root: &Path) -> ProjectFiles {
    let read = |name: &str| std::fs::read(root.join(name)).map_err(|e| e.to_string());
    discover_listed(Discovery::new(), &listing(root), read)
        .expect("discovery")
        .0
}

/// What the frontend sends for `opts` (the keys buildx sends) on the example `dir`.
fn frontend_definition(dir: &Path, opts: &[String]) -> Vec<u8> {
    let opts = FrontendOpts::parse(opts.iter().cloned()).expect("frontend options");
    let text = std::fs::read_to_string(dir.join(&opts.filename)).expect("spec");
    // The front door, as `build::load` and `build::plan` go through it.
    let project = front::load(
        &opts.filename,
        &text,
        &opts.build_args,
        opts.target.as_deref(),
    )
    .expect("spec loads");
    let platform = opts
        .platforms
        .first()
        .cloned()
        .unwrap_or_else(Platform::linux_amd64);
    let images: BTreeMap<String, ResolvedImage> = project
        .images()
        .into_iter()
        .map(|image| {
            let resolved = ResolvedImage {
                digest: SDK_DIGEST.into(),
                config: SDK_CONFIG.as_bytes().to_vec(),
            };
            (image, resolved)
        })
        .collect();
    // What `resolve_helper` makes of opt `source` and BuildKit's answer.
    let source = opts.source.clone().expect("opt source");
    let helper = HelperImage {
        reference: ImageRef::parse(&source).expect("source").to_string(),
        resolved: ResolvedImage {
            digest: HELPER_DIGEST.into(),
            config: b"{}".to_vec(),
        },
    };
    let request = build_request(
        &opts,
        &project.target,
        platform,
        SESSION.into(),
        SESSION,
        images,
        discover(dir),
        helper,
    );
    let compiled = project.compile(&request).expect("compiles");
    definition_bytes(&compiled.definition)
}

/// What `llb-gen spec --format binary` prints for the same facts.
fn cli_definition(dir: &Path, target: &str, build_args: &[(&str, &str)]) -> Vec<u8> {
    let spec_path = dir.join("Cachet.toml");
    let text = std::fs::read_to_string(&spec_path).expect("spec");
    let spec = spec::load("Cachet.toml", &text, &BTreeMap::new()).expect("spec loads");
    let config =
        std::env::temp_dir().join(format!("cachet-agree-config-{}.json", std::process::id()));
    std::fs::write(&config, SDK_CONFIG).expect("write config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llb-gen"));
    cmd.current_dir(dir)
        .args([
            "spec",
            "Cachet.toml",
            "--format",
            "binary",
            "--session",
            SESSION,
        ])
        .args(["--target", target, "--platform", "linux/amd64"])
        .args([
            "--helper-image",
            FRONTEND_IMAGE,
            "--helper-digest",
            HELPER_DIGEST,
        ]);
    for (k, v) in build_args {
        cmd.arg("--build-arg").arg(format!("{k}={v}"));
    }
    let mut seen = Vec::new();
    for image in spec.targets.keys().flat_map(|t| spec.images_for(t)) {
        let normalized = ImageRef::parse(&image).expect("image").to_string();
        if !seen.contains(&normalized) {
            cmd.arg("--image")
                .arg(format!("{image}={SDK_DIGEST},config={}", config.display()));
            seen.push(normalized);
        }
    }
    let out = cmd.output().expect("run llb-gen");
    assert!(
        out.status.success(),
        "llb-gen spec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_frontend_and_the_cli_compile_the_same_definition() {
    for (example_name, target, build_args) in [
        ("hello", "image", vec![]),
        ("workspace", "image", vec![]),
        ("workspace", "test", vec![]),
        ("cflags", "build", vec![("LEVEL", "3")]),
        ("dynamic", "image", vec![]),
    ] {
        let dir = example(example_name);
        let mut opts = vec![
            "filename=Cachet.toml".to_string(),
            format!("target={target}"),
            "platform=linux/amd64".to_string(),
            format!("source={FRONTEND_IMAGE}"),
        ];
        opts.extend(build_args.iter().map(|(k, v)| format!("build-arg:{k}={v}")));
        let frontend = frontend_definition(&dir, &opts);
        let cli = cli_definition(&dir, target, &build_args);
        if frontend != cli {
            let readable = |bytes: &[u8]| {
                let def = decode_definition(bytes).expect("decodes");
                ReadableDefinition::from_definition(&def)
                    .expect("readable")
                    .to_json_pretty()
            };
            let (f, c) = (readable(&frontend), readable(&cli));
            if let Ok(dir) = std::env::var("CACHET_AGREE_DUMP") {
                let _ = std::fs::write(format!("{dir}/frontend.json"), &f);
                let _ = std::fs::write(format!("{dir}/cli.json"), &c);
            }
            // The first difference that is not a digest (digests differ wherever inputs do).
            let first = f
                .lines()
                .zip(c.lines())
                .position(|(a, b)| a != b && !a.contains("sha256:"))
                .unwrap_or(0);
            let context = |text: &str| {
                text.lines()
                    .skip(first.saturating_sub(3))
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "examples/{example_name} --target {target}: the frontend's Definition differs \
                 from the CLI's at line {first} of their readable form:\n--- frontend\n{}\n--- \
                 cli\n{}",
                context(&f),
                context(&c)
            );
        }
    }
}
