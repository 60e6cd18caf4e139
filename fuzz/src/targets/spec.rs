//! The spec loader: `spec::load(file, text, build_args)` on a mutated `Cachet.toml` (`@spec`)
//! with build arguments (`@args`, `KEY=VALUE` lines), then what `build` and the CLI ask of a
//! loaded spec: the default and every named target (`X.deps` too), each target's images and
//! closure, and the image references parsed as the frontend parses them. Error messages are
//! rendered (their positions are computed from spans).

use arbitrary::Unstructured;
use std::collections::BTreeSet;

use llb_gen::inspect::{self, lint};
use llb_gen::llb::ImageRef;
use llb_gen::project::ProjectFiles;
use llb_gen::spec::{self, Target as SpecTarget_};

use super::{mutate_member, pairs};
use crate::bundle::Bundle;
use crate::engine::{bucket, Features, Target};
use crate::gen;
use crate::mutate::Mutator;

pub struct SpecTarget;

pub const SPEC: &str = "@spec";
const ARGS: &str = "@args";

/// Keys, sections and values of `Cachet.toml` (from the spec model and the README).
pub const SPEC_WORDS: &[&str] = &[
    "[project]",
    "[sdk]",
    "[cargo]",
    "[args]",
    "[fetch]",
    "[target.build]",
    "[target.image]",
    "[target.test]",
    "[target.lint]",
    "[target.build.env]",
    "[target.image.labels]",
    "[[target.image.copy]]",
    "name",
    "include",
    "image",
    "digest",
    "mode",
    "profile",
    "features",
    "default-features",
    "rustflags",
    "env",
    "secrets",
    "ssh",
    "cargo",
    "artifacts",
    "from",
    "copy",
    "entrypoint",
    "cmd",
    "workdir",
    "user",
    "labels",
    "default",
    "artifact",
    "to",
    "\"strict\"",
    "\"fast\"",
    "\"scratch\"",
    "\"+build\"",
    "\"+image\"",
    "\"${LEVEL}\"",
    "\"$${X}\"",
    "\"release\"",
    "\"dev\"",
    "\"build\"",
    "\"test\"",
    "\"clippy\"",
    "\"--bin\"",
    "\"--workspace\"",
    "\"-p\"",
    "\"--\"",
    "\"--release\"",
    "\"--target\"",
    "\"cachet-sdk:rustup\"",
    "\"alpine:3.20\"",
    "\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"",
    "\"/usr/local/bin/app\"",
    "true",
    "false",
    "[]",
    "{}",
    "{ a = \"b\" }",
    "# syntax=cachet/frontend:dev",
];

impl Target for SpecTarget {
    fn name(&self) -> &'static str {
        "spec"
    }

    fn about(&self) -> &'static str {
        "spec::load, then select_target, images_for, closure, ImageRef::parse, and the \
         --call targets/check results"
    }

    fn primary(&self) -> &'static str {
        SPEC
    }

    fn words(&self) -> &'static [&'static str] {
        SPEC_WORDS
    }

    fn seeds(&self, rng: &mut fastrand::Rng) -> Vec<Bundle> {
        let mut seeds = crate::seeds::repo_seeds(self.name(), SPEC);
        for example in crate::seeds::examples() {
            if let Some(spec) = example.spec {
                seeds.push(Bundle::single(SPEC, spec));
            }
        }
        for (_, text) in crate::seeds::SPEC_TEXTS {
            seeds.push(Bundle::single(SPEC, *text));
        }
        // With the build arguments the tests pass.
        let with_args: Vec<Bundle> = seeds
            .iter()
            .filter(|b| {
                b.get(SPEC)
                    .is_some_and(|s| s.windows(7).any(|w| w == b"[args]\n"))
            })
            .take(8)
            .cloned()
            .map(|mut b| {
                b.set(ARGS, b"LEVEL=3\nCPU=native\nMODE=fast\nUNUSED=x\n".to_vec());
                b
            })
            .collect();
        seeds.extend(with_args);
        for _ in 0..128 {
            let dna = gen::dna(rng);
            if let Ok(text) = gen::spec(&mut Unstructured::new(&dna)) {
                seeds.push(Bundle::single(SPEC, text));
            }
        }
        seeds
    }

    fn mutate(&self, input: &mut Bundle, m: &mut Mutator) {
        match m.rng.u8(..32) {
            0 => {
                // A generated spec's sections spliced in.
                let dna = gen::dna(&mut m.rng);
                if let Ok(text) = gen::spec(&mut Unstructured::new(&dna)) {
                    m.donors.push(text.into_bytes());
                    mutate_member(input, SPEC, m);
                }
            }
            1 => mutate_member(input, ARGS, m),
            2 => input.set(
                ARGS,
                b"LEVEL=3\nCPU=x86-64-v3\nMODE=fast\nBASE=alpine\nFLAGS=-v\n".to_vec(),
            ),
            _ => mutate_member(input, SPEC, m),
        }
    }

    fn run(&self, input: &Bundle, f: &mut Features) {
        let text = input.text(SPEC).unwrap_or_default();
        let args = pairs(&input.lines(ARGS));
        let spec = match spec::load("Cachet.toml", &text, &args) {
            Ok(s) => s,
            Err(e) => {
                let shown = e.to_string();
                if let Some(p) = e.position {
                    assert!(p.line >= 1 && p.column >= 1, "position {p:?} in {shown}");
                    assert!(
                        p.line <= text.matches('\n').count() + 1,
                        "line past the end of the text: {shown}"
                    );
                }
                f.error("load", &e.message);
                return;
            }
        };
        check_spec(&spec, f);
        check_inspect(&text, &spec, f);
    }
}

/// What `--call targets` and `--call check` compute from a loaded spec: every target listed,
/// every warning placed inside the text.
fn check_inspect(text: &str, spec: &spec::Spec, f: &mut Features) {
    let list = inspect::targets(text, spec);
    assert_eq!(
        list.targets.len(),
        spec.targets.len(),
        "every target listed"
    );
    let _ = inspect::render_targets(&list);
    let warnings = lint::lint(&lint::LintInput {
        file: "Cachet.toml",
        text,
        spec,
        project: &ProjectFiles::default(),
        present_includes: &BTreeSet::new(),
    });
    let lines = text.matches('\n').count() + 1;
    for w in &warnings {
        if let Some(p) = w.position {
            assert!(
                p.line >= 1 && p.column >= 1 && p.line <= lines,
                "warning placed outside the text: {w:?}"
            );
        }
        f.add(("lint", w.rule));
    }
    let _ = lint::render(&warnings);
}

/// What the frontend and the CLI ask of a loaded spec, with the invariants `load` promises.
pub fn check_spec(spec: &spec::Spec, f: &mut Features) {
    let default = spec
        .select_target(None)
        .unwrap_or_else(|e| panic!("a loaded spec's default target does not select: {e}"));
    f.add(("targets", bucket(spec.targets.len())));
    f.add((
        "mode",
        spec.cargo.mode.as_str(),
        spec.cargo.default_features,
    ));
    f.add(("fetch", spec.fetch.secrets.len().min(3), spec.fetch.ssh));
    f.add(("include", bucket(spec.include.len())));
    f.add(("args", bucket(spec.args.len())));
    f.add(("digest lock", spec.sdk.digest_lock.is_some()));
    f.add((
        "env",
        bucket(spec.cargo.env.len()),
        bucket(spec.cargo.rustflags.len()),
    ));
    for (name, target) in &spec.targets {
        let closure = spec.closure(name);
        assert_eq!(
            closure.last(),
            Some(name),
            "closure of {name} does not end with it"
        );
        for (i, n) in closure.iter().enumerate() {
            if let Some(t) = spec.targets.get(n) {
                for dep in t.dependencies() {
                    assert!(
                        closure[..i].iter().any(|c| c == dep),
                        "closure of {name}: {dep} comes after {n}, which uses it"
                    );
                }
            }
        }
        let images = spec.images_for(name);
        assert_eq!(images.first(), Some(&spec.sdk.image), "the SDK comes first");
        for image in &images {
            match ImageRef::parse(image) {
                Ok(r) => f.add(("image", r.tag().is_some(), r.digest().is_some())),
                Err(e) => f.error("image", &e.to_string()),
            }
        }
        match target {
            SpecTarget_::Cargo(c) => {
                let sub = c.subcommand();
                let known = [
                    "build", "test", "check", "clippy", "doc", "run", "bench", "rustc",
                ];
                f.add((
                    "cargo",
                    known.contains(&sub).then_some(sub),
                    bucket(c.args.len()),
                    bucket(c.artifacts.len()),
                ));
                match spec.select_target(Some(&format!("{name}.deps"))) {
                    Ok(t) => assert_eq!(t.to_string(), format!("{name}.deps")),
                    Err(e) => f.error("deps", &e),
                }
            }
            SpecTarget_::Image(i) => {
                f.add((
                    "image-target",
                    format!("{:?}", std::mem::discriminant(&i.from)),
                    bucket(i.copies.len()),
                ));
                assert!(spec.select_target(Some(&format!("{name}.deps"))).is_err());
            }
        }
        assert_eq!(
            spec.select_target(Some(name))
                .map(|t| t.to_string())
                .as_ref(),
            Ok(name)
        );
    }
    assert!(!default.layer && spec.targets.contains_key(&default.name));
}
